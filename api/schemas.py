"""API response shapes. Decimals travel as exact strings, instants as ISO 8601."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


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
    file_creation_time: str
    recorded_at: str = Field(description="when the ledger learned this version")
    values: dict[str, str] = Field(description="measure name to exact decimal string")
    attributes: dict[str, str]
    unconfirmed: dict[str, list[str]] = Field(
        description="fields whose layout is not confirmed, kept as received"
    )
    source: Source | None
    supersedes: int | None
    reason: str | None
    actor: str | None


class PeriodView(BaseModel):
    """Every version of one subject's settlement period, and the best available one."""

    tenant: str
    subject: str
    settlement_date: str
    settlement_period: int
    period_start: str
    as_of: str | None
    versions: list[Version]
    best: Version | None


class Stage(BaseModel):
    version: int
    stage: str
    at: str
    detail: dict[str, Any]


class FlowView(BaseModel):
    """A received file: its status now and every stage it went through."""

    sha256: str
    file_name: str
    size: int
    channel: str
    status: str
    flow: str | None
    settlement_date: str | None
    run_type: str | None
    run_number: int | None
    bsc_party_id: str | None
    received_at: str
    receipts: int
    periods: int
    reasons: list[str]
    warnings: list[str]
    stages: list[Stage]


class IngestOutcome(BaseModel):
    file: str
    sha256: str
    status: str
    flow: str | None
    periods: int
    events: int
    reasons: list[str]
    warnings: list[str]
    settlement_date: str | None
    run_type: str | None
    run_number: int | None
    bsc_party_id: str | None


class Problem(BaseModel):
    """What went wrong, in business terms."""

    detail: str
