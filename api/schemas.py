"""API response shapes. Decimals travel as exact strings, instants as ISO 8601 with offset."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from ledger.service.ingestion import Status

# Not enforced with a pattern: the strings are exactly what the ledger holds (str(Decimal)),
# and a response must never fail because a value is spelt unexpectedly. Documented only.
DecimalString = Annotated[
    str,
    Field(
        description="an exact decimal, as a string (never a JSON number, so never rounded)",
        examples=["-22000.94"],
        json_schema_extra={"format": "decimal"},
    ),
]
Instant = Annotated[
    str,
    Field(
        description="an instant in ISO 8601 with its UTC offset",
        examples=["2026-05-07T10:00:00+00:00"],
        json_schema_extra={"format": "date-time"},
    ),
]
DateString = Annotated[str, Field(examples=["2026-05-06"], json_schema_extra={"format": "date"})]


class Source(BaseModel):
    """Where a version came from: the file (by SHA-256 of its bytes) and the record in it."""

    sha256: str
    flow: str | None
    record_position: int | None


class Version(BaseModel):
    """One version of a settlement period's values."""

    version: int
    kind: str = Field(description="run (from a settlement run) or correction")
    run_type: str
    run_number: int
    maturity: str
    file_creation_time: Instant
    recorded_at: Instant = Field(description="when the ledger learned this version")
    values: dict[str, DecimalString] = Field(
        description="measure name to exact decimal string, exactly as received"
    )
    attributes: dict[str, str]
    unconfirmed: dict[str, list[str]] = Field(
        description="fields whose layout is not confirmed, kept as received"
    )
    source: Source | None
    supersedes: int | None
    reason: str | None
    actor: str | None


class Intervention(BaseModel):
    """A person's manual intervention on a settlement period: who, why and the outcome."""

    version: int
    recorded_at: Instant
    actor: str
    reason: str
    outcome: str


class ViewsFreshness(BaseModel):
    """How far the views have read the event log when the answer was given.

    Reads never wait for a writer: during a long ingestion they answer from the views as they
    stand. A writer's own request returns only once the views include what it wrote.
    """

    position: int = Field(description="the last event every view has applied")
    log_position: int = Field(description="the newest event in the log")
    up_to_date: bool = Field(description="whether the views include every event in the log")


class PeriodView(BaseModel):
    """Every version of one subject's settlement period, and the best available one."""

    tenant: str
    subject: str = Field(description="canonical subject, e.g. party:PTY00001 or system")
    settlement_date: DateString
    settlement_period: int
    period_start: Instant
    as_of: Instant | None = Field(description="the as-of instant asked for, if any")
    scheduled_runs: dict[str, DateString] = Field(
        default_factory=dict,
        description="run type to the day it is due for this settlement date, under the "
        "timetable in force (empty before any configured timetable)",
    )
    versions: list[Version] = Field(description="oldest first; empty when none is known")
    best: Version | None = Field(
        description="most mature run, then highest run number, then latest file creation time"
    )
    interventions: list[Intervention] = Field(
        default_factory=list, description="manual interventions on the period, oldest first"
    )
    views: ViewsFreshness


class Stage(BaseModel):
    """One step a received file went through."""

    version: int
    stage: str = Field(
        description="received, validated, interpreted, rejected or duplicate_received"
    )
    at: Instant
    detail: dict[str, Any]


class FlowView(BaseModel):
    """A received file: its status now and every stage it went through."""

    sha256: str
    file_name: str
    size: int
    channel: str
    status: str = Field(description="received, validated, accepted or rejected")
    flow: str | None
    settlement_date: DateString | None
    run_type: str | None
    run_number: int | None
    bsc_party_id: str | None
    received_at: Instant
    receipts: int = Field(description="how many times these exact bytes were received")
    periods: int
    reasons: list[str]
    warnings: list[str]
    stages: list[Stage]


class FlowSummary(BaseModel):
    """A received file, in a list."""

    sha256: str
    file_name: str
    status: str = Field(description="received, validated, accepted or rejected")
    flow: str | None = Field(description="e.g. S0142; null when the file was not recognised")


class FlowList(BaseModel):
    """A tenant's most recently received files, newest first."""

    tenant: str
    flows: list[FlowSummary]


class IngestOutcome(BaseModel):
    """What happened to an uploaded file."""

    file: str
    sha256: str
    status: Status
    flow: str | None
    periods: int
    events: int
    reasons: list[str] = Field(description="why it was rejected (or is a duplicate)")
    warnings: list[str]
    settlement_date: DateString | None
    run_type: str | None
    run_number: int | None
    bsc_party_id: str | None


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Problem(BaseModel):
    """What went wrong, in business terms."""

    detail: str
