"""The API's admission of uploads: how many files it processes at once.

A file that finds no place soon is refused with 503 and Retry-After (nothing of it recorded),
so a client learns at once that it should send it again later, and reads keep their own
capacity. The limits themselves are :class:`UploadSettings`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import Request

from ledger.domain.errors import LedgerBusy
from ledger.service.settings import UploadSettings


@dataclass
class UploadGate:
    """The settings and the places for files being processed; one per application."""

    settings: UploadSettings = field(default_factory=UploadSettings)
    places: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.places = asyncio.Semaphore(self.settings.ingests)

    @asynccontextmanager
    async def admitted(self, file_name: str) -> AsyncIterator[None]:
        """A place among the files being processed, or LedgerBusy (503) after a short wait."""
        try:
            await asyncio.wait_for(self.places.acquire(), timeout=self.settings.wait_seconds)
        except TimeoutError:
            raise LedgerBusy(
                f"the ledger is processing {self.settings.ingests} other files; {file_name} "
                "was not recorded: send it again shortly"
            ) from None
        try:
            yield
        finally:
            self.places.release()


def upload_gate_of(request: Request) -> UploadGate:
    gate = request.app.state.upload_gate
    assert isinstance(gate, UploadGate)
    return gate
