"""API-only response shapes. The answers to queries are the service's read models
(``ledger.service.read_models``), used as they are as response models: decimals travel as exact
strings, instants as ISO 8601 with offset."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ledger.service.ingestion import Status
from ledger.service.read_models import DateString


class IngestOutcome(BaseModel):
    """What happened to an uploaded file."""

    file: str
    sha256: str
    status: Status
    flow: str | None
    periods: int
    events: int
    reasons: list[str] = Field(description="why it was rejected (or is a duplicate)")
    warnings: list[str] = Field(
        description="the first warnings found (and a line saying how to read the rest)"
    )
    warning_count: int = Field(
        default=0, description="every warning found; GET .../flows/{sha256}/warnings pages them"
    )
    settlement_date: DateString | None
    run_type: str | None
    run_number: int | None
    bsc_party_id: str | None


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Problem(BaseModel):
    """What went wrong, in business terms."""

    detail: str
