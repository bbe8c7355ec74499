"""How much the API takes in: the size of one upload, and how many files it processes at once.

Ingestions of one database are serialised by the event store's lock, so more than a few at
once only makes each wait longer while holding a worker thread and a connection. A file that
finds no place soon is refused with 503 and Retry-After (nothing of it recorded), so a client
learns at once that it should send it again later, and reads keep their own capacity.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from fastapi import Request

from ledger.errors import ConfigurationError, LedgerBusy

DEFAULT_MAX_UPLOAD_BYTES = 1 << 30  # a gzipped all-parties S0142 is well under this
DEFAULT_INGESTS = 2
DEFAULT_INGEST_WAIT = 5.0


@dataclass
class UploadLimits:
    """The API's limits on uploads; one per application."""

    max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    ingests: int = DEFAULT_INGESTS
    wait_seconds: float = DEFAULT_INGEST_WAIT
    gate: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.gate = asyncio.Semaphore(self.ingests)

    @classmethod
    def from_env(cls) -> UploadLimits:
        """``LEDGER_MAX_UPLOAD_BYTES``, ``LEDGER_API_INGESTS``, ``LEDGER_API_INGEST_WAIT``."""
        return cls(
            max_bytes=int(_setting("LEDGER_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES)),
            ingests=int(_setting("LEDGER_API_INGESTS", DEFAULT_INGESTS)),
            wait_seconds=_setting("LEDGER_API_INGEST_WAIT", DEFAULT_INGEST_WAIT),
        )


def _setting(name: str, default: float) -> float:
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value <= 0:
        raise ConfigurationError(f"{name}={text!r} must be a positive number")
    return value


def upload_limits_of(request: Request) -> UploadLimits:
    limits = request.app.state.upload_limits
    assert isinstance(limits, UploadLimits)
    return limits


@asynccontextmanager
async def admitted(limits: UploadLimits, file_name: str) -> AsyncIterator[None]:
    """A place among the files being processed, or LedgerBusy (503) after a short wait."""
    try:
        await asyncio.wait_for(limits.gate.acquire(), timeout=limits.wait_seconds)
    except TimeoutError:
        raise LedgerBusy(
            f"the ledger is processing {limits.ingests} other files; {file_name} was not "
            "recorded: send it again shortly"
        ) from None
    try:
        yield
    finally:
        limits.gate.release()
