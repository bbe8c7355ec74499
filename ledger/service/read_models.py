"""The ledger's answers to queries: one typed result per query, the same for the CLI and the API.

Fields hold Python values (``Decimal``, ``datetime``, ``date``). In JSON (``model_dump(mode=
"json")``, the API's responses and so its OpenAPI schema) a decimal is an exact string, never
a number, and an instant is ISO 8601 with its UTC offset. The views (``projections``) return
named rows; this module maps them to these models, and is the only place a version is shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, PlainSerializer

from ledger.domain import selection
from ledger.domain.aggregates import CONFLICTING_RUN
from ledger.domain.selection import Standing, rank, standing_after
from ledger.flows.record_layouts import layout_for
from ledger.service.application import NotFound
from projections.flows import FlowRow, FlowSummaryRow, StageRow
from projections.period_versions import InterventionRow, SourceRow, VersionRow
from projections.runner import Freshness


def _iso(value: date) -> str:
    """A date or an instant in ISO 8601 (an instant with its UTC offset, ``+00:00``)."""
    return value.isoformat()


# A decimal is never a JSON number (so never rounded): ``str(Decimal)``, exactly as received.
DecimalString = Annotated[
    Decimal,
    PlainSerializer(str, return_type=str, when_used="json"),
    Field(
        description="an exact decimal, as a string (never a JSON number, so never rounded)",
        examples=["-22000.94"],
        json_schema_extra={"format": "decimal"},
    ),
]
Instant = Annotated[
    AwareDatetime,
    PlainSerializer(_iso, return_type=str, when_used="json"),
    Field(
        description="an instant in ISO 8601 with its UTC offset",
        examples=["2026-05-07T10:00:00+00:00"],
        json_schema_extra={"format": "date-time"},
    ),
]
DateString = Annotated[
    date,
    PlainSerializer(_iso, return_type=str, when_used="json"),
    Field(examples=["2026-05-06"], json_schema_extra={"format": "date"}),
]


class ReadModel(BaseModel):
    """An answer: immutable once given."""

    model_config = ConfigDict(frozen=True)


class Source(ReadModel):
    """Where a version came from: the file (by SHA-256 of its bytes) and the record in it."""

    sha256: str
    flow: str | None
    record_position: int | None


class Version(ReadModel):
    """One version of a settlement period's values."""

    version: int
    kind: str = Field(
        description="run (from a settlement run), conflicting run (the same run delivered "
        "again with other values: never best until someone corrects it) or correction"
    )
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
    further_sources: list[Source] = Field(
        default_factory=list,
        description="later deliveries of the same run with the same values (the report "
        "re-sent, or a party's S0141 beside the S0142), in the order they arrived",
    )
    conflicts_with: int | None = Field(
        default=None,
        description="for a conflicting run, the version of the same run it disagrees with",
    )
    supersedes: int | None
    reason: str | None
    actor: str | None

    @classmethod
    def of(
        cls,
        row: VersionRow,
        further: Sequence[SourceRow] = (),
        conflicts_with: int | None = None,
    ) -> Version:
        source = (
            Source(sha256=row.source_sha256, flow=row.flow, record_position=row.record_position)
            if row.source_sha256
            else None
        )
        return cls(
            version=row.version,
            kind=row.kind,
            run_type=row.run_type,
            run_number=row.run_number,
            maturity=row.maturity,
            file_creation_time=row.file_creation_time,
            recorded_at=row.recorded_at,
            values=row.values,
            attributes=row.attributes,
            unconfirmed=row.unconfirmed,
            source=source,
            further_sources=[
                Source(sha256=f.source_sha256, flow=f.flow, record_position=f.record_position)
                for f in further
            ],
            conflicts_with=conflicts_with,
            supersedes=row.supersedes,
            reason=row.reason,
            actor=row.actor,
        )

    def best_key(self) -> tuple[int, int, datetime, int]:
        """How the best view ranks this version (the domain's rule,
        :func:`ledger.domain.selection.rank`)."""
        return rank(self)


def best_of(versions: Sequence[Version], *, pinned: int | None = None) -> Version | None:
    """The best available version among those given (None when there are none): the pinned
    one while a pin stands; otherwise a conflicting run is never best (a correction of it
    can be). The domain's rule, :func:`ledger.domain.selection.best_of`."""
    return selection.best_of(versions, pinned=pinned)


def versions_of(rows: Sequence[VersionRow], sources: Sequence[SourceRow]) -> list[Version]:
    """A period's versions with their further sources, and each conflicting run with the
    first version of the same run it disagrees with."""
    further: dict[int, list[SourceRow]] = {}
    for source in sources:
        further.setdefault(source.confirms, []).append(source)
    first_of_run: dict[tuple[str, int], int] = {}
    versions = []
    for row in rows:
        run = (row.run_type, row.run_number)
        conflicts_with = first_of_run.get(run) if row.kind == CONFLICTING_RUN else None
        if row.kind == "run":
            first_of_run.setdefault(run, row.version)
        versions.append(Version.of(row, further.get(row.version, ()), conflicts_with))
    return versions


class Intervention(ReadModel):
    """A person's manual intervention on a settlement period: who, why and the outcome."""

    version: int
    recorded_at: Instant
    actor: str
    reason: str
    outcome: str = Field(
        description="what happened, in words: held from billing, pinned version N, released",
        examples=["held from billing"],
    )
    action: str | None = Field(
        default=None,
        description="hold, pin or release; null for a free-text intervention recorded "
        "before interventions were typed (it holds and pins nothing)",
        examples=["hold"],
    )
    pinned_version: int | None = Field(default=None, description="for a pin, the version it pins")

    @classmethod
    def of(cls, row: InterventionRow) -> Intervention:
        return cls(
            version=row.version,
            recorded_at=row.recorded_at,
            actor=row.actor,
            reason=row.reason,
            outcome=row.outcome,
            action=row.action,
            pinned_version=row.pinned_version,
        )


def standing_of(interventions: Sequence[InterventionRow]) -> Standing:
    """The hold and the pin standing after a period's interventions, oldest first (the
    domain's rule, :func:`ledger.domain.selection.standing_after`)."""
    return standing_after(
        (row.action, row.pinned_version, row.actor, row.reason, row.recorded_at)
        for row in interventions
    )


class Hold(ReadModel):
    """A period held from billing: documents refuse to use it, and say why, until released."""

    actor: str = Field(description="the person who held it")
    reason: str
    since: Instant = Field(description="when it was held")

    @classmethod
    def of(cls, standing: Standing) -> Hold | None:
        """The hold standing, if any."""
        if standing.held_by is None or standing.held_since is None:
            return None
        return cls(
            actor=standing.held_by, reason=standing.held_reason or "", since=standing.held_since
        )


class ViewsFreshness(ReadModel):
    """How far the views have read the event log when the answer was given.

    Reads never wait for a writer: during a long ingestion they answer from the views as they
    stand. A writer's own request returns only once the views include what it wrote.
    """

    position: int = Field(description="the last event every view has applied")
    log_position: int = Field(description="the newest event in the log")
    up_to_date: bool = Field(description="whether the views include every event in the log")

    @classmethod
    def of(cls, freshness: Freshness) -> ViewsFreshness:
        return cls(
            position=freshness.position,
            log_position=freshness.log_position,
            up_to_date=freshness.up_to_date,
        )


class PeriodView(ReadModel):
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
        description="the pinned version while a pin stands; otherwise the most mature run, "
        "then highest run number, then latest file creation time (never a conflicting run)"
    )
    interventions: list[Intervention] = Field(
        default_factory=list, description="manual interventions on the period, oldest first"
    )
    held: Hold | None = Field(
        default=None,
        description="the hold from billing standing on the period (as of the as-of instant, "
        "if any), until a release; null when none stands",
    )
    pinned_version: int | None = Field(
        default=None,
        description="the version pinned for the best view (as of the as-of instant, if "
        "any), until a release; null when none is pinned",
    )
    views: ViewsFreshness


class Stage(ReadModel):
    """One step a received file went through."""

    version: int
    stage: str = Field(
        description="received, validated, interpreted, rejected or duplicate_received"
    )
    at: Instant
    detail: dict[str, Any]

    @classmethod
    def of(cls, row: StageRow) -> Stage:
        return cls(version=row.version, stage=row.stage, at=row.at, detail=row.detail)


class FlowView(ReadModel):
    """A received file: its status now and every stage it went through."""

    flow_id: str = Field(description="the file's stream in the event log (from tenant, sha256)")
    tenant: str
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

    @classmethod
    def of(cls, row: FlowRow) -> FlowView:
        return cls(
            flow_id=row.flow_id,
            tenant=row.tenant,
            sha256=row.sha256,
            file_name=row.file_name,
            size=row.size,
            channel=row.channel,
            status=row.status,
            flow=row.flow,
            settlement_date=row.settlement_date,
            run_type=row.run_type,
            run_number=row.run_number,
            bsc_party_id=row.bsc_party_id,
            received_at=row.received_at,
            receipts=row.receipts,
            periods=row.periods,
            reasons=row.reasons,
            warnings=row.warnings,
            stages=[Stage.of(stage) for stage in row.stages],
        )


class FlowSummary(ReadModel):
    """A received file, in a list."""

    sha256: str
    file_name: str
    status: str = Field(description="received, validated, accepted or rejected")
    flow: str | None = Field(description="e.g. S0142; null when the file was not recognised")

    @classmethod
    def of(cls, row: FlowSummaryRow) -> FlowSummary:
        return cls(sha256=row.sha256, file_name=row.file_name, status=row.status, flow=row.flow)


class FlowList(ReadModel):
    """A tenant's most recently received files, newest first."""

    tenant: str
    flows: list[FlowSummary]


class FieldDescription(ReadModel):
    """One field of a record, as the IDD tables give it."""

    position: int = Field(description="1-based, after the record id")
    name: str = Field(description="the name values and attributes carry in the ledger")
    item: str | None = Field(description="the IDD data item id, e.g. N0212")
    type: str = Field(description="as the IDD prints it, e.g. decimal(10,5)")
    required: bool
    unit: str | None = Field(description="GBP, MWh, GBP/MWh, MW, factor or percent")
    decimal_places: int | None
    sign: str | None = Field(
        description="debit or credit when positive, where a source states it (else unstated)"
    )
    evidence: str | None = Field(
        description="S0142 only: C confirmed, N named by a weak source, L inferred from the "
        "layout, P inferred from profiles of real files, ? unidentified"
    )


class RecordDescription(ReadModel):
    """One record type of a flow version and its fields."""

    record_type: str
    title: str
    parent: str | None
    cardinality: str | None
    fields: list[FieldDescription]


class LayoutView(ReadModel):
    """The field layout the ledger reads a flow version with (a version without a table of
    its own is read with the nearest earlier one: ``read_as`` and ``note`` say so)."""

    file_type: str
    read_as: str
    note: str | None
    records: list[RecordDescription]

    @classmethod
    def of(cls, file_type: str, record_type: str | None = None) -> LayoutView:
        layout, note = layout_for(file_type)
        records = [r for r in layout.records.values() if record_type in (None, r.record_type)]
        if not records:
            known = ", ".join(layout.records)
            raise NotFound(f"{layout.file_type} has no record {record_type} (records: {known})")
        return cls(
            file_type=file_type,
            read_as=layout.file_type,
            note=note,
            records=[
                RecordDescription(
                    record_type=r.record_type,
                    title=r.title,
                    parent=r.parent,
                    cardinality=r.cardinality,
                    fields=[
                        FieldDescription(
                            position=f.position,
                            name=f.name,
                            item=f.item,
                            type=f.type,
                            required=f.required,
                            unit=f.unit,
                            decimal_places=f.scale,
                            sign=f.sign,
                            evidence=f.status,
                        )
                        for f in r.fields
                    ],
                )
                for r in records
            ],
        )


class FeedEvent(ReadModel):
    """One event of a tenant's feed, as a consumer receives it."""

    position: int = Field(
        description="the event's place in the log (its notification id): increasing in commit "
        "order, with gaps (other tenants' events, numbers never used); resume after it"
    )
    type: str = Field(
        description="the event's class as the domain names it, aggregate then event, e.g. "
        "SettlementPeriod.ValuesRecorded or ReceivedFile.Validated",
        examples=["SettlementPeriod.ValuesRecorded"],
    )
    schema_version: int = Field(
        description="the version of this type's payload schema (older stored events are "
        "upgraded to it before they are served)"
    )
    recorded_at: Instant = Field(description="when the ledger recorded the event")
    aggregate_id: UUID = Field(description="the stream (aggregate) the event belongs to")
    aggregate_version: int = Field(description="the event's version within its stream")
    payload: dict[str, JsonValue] = Field(
        description="the event's fields: decimals (and measures' values) as exact decimal "
        "strings, dates and instants in ISO 8601 (instants with their offset), ids as strings"
    )


class FeedPage(ReadModel):
    """A page of a tenant's feed: its events after a position, oldest first, and where the
    next page starts. Resuming from ``next_after`` gives every event exactly once, in order."""

    tenant: str
    after: int = Field(description="the position the page was read after")
    events: list[FeedEvent] = Field(description="the tenant's events, in commit order")
    next_after: int = Field(
        description="the last position this page read, the tenant's or not: ask for the next "
        "page after it (it moves on even when a page has no events of the tenant's)"
    )
    caught_up: bool = Field(
        description="whether the page reached the end of the log as it stood: wait before "
        "asking again (otherwise ask again at once)"
    )
