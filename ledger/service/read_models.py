"""The ledger's answers to queries: one typed result per query, the same for the CLI and the API.

Fields hold Python values (``Decimal``, ``datetime``, ``date``). In JSON (``model_dump(mode=
"json")``, the API's responses and so its OpenAPI schema) a decimal is an exact string, never
a number, and an instant is ISO 8601 with its UTC offset. The views (``projections``) return
named rows; this module maps them to these models, and is the only place a version is shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, PlainSerializer

from ledger.domain import selection
from ledger.domain.aggregates import CONFLICTING_RUN
from ledger.domain.selection import Rule, Standing, rank, standing_after
from ledger.domain.settlement_time import settlement_periods
from ledger.flows.record_layouts import layout_for
from ledger.service.application import NotFound
from projections.flow_validation import ValidationRow
from projections.flows import FlowRow, FlowSummaryRow, StageRow
from projections.period_versions import InterventionRow, SourceRow, SourceStep, VersionRow
from projections.runner import Freshness
from projections.runner import Verification as RunnerVerification


def _iso(value: date) -> str:
    """A date or an instant in ISO 8601 (an instant with its UTC offset, ``+00:00``)."""
    return value.isoformat()


def _fixed_point(value: Decimal) -> str:
    """A decimal in plain digits, as the market's files write them: ``0.000000000000000000``
    for a zero published with 18 places (``str`` would give ``0E-18``), ``-22000.94`` as is."""
    return format(value, "f")


# A decimal is never a JSON number (so never rounded): fixed-point text, exactly as received.
DecimalString = Annotated[
    Decimal,
    PlainSerializer(_fixed_point, return_type=str, when_used="json"),
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


class InternalId(ReadModel):
    """A tenant's own id (``ledger mappings``) that a market id stands for on a date."""

    kind: str = Field(description="customer, site, meter or asset")
    id: str


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
    internal_ids: list[InternalId] | None = Field(
        default=None,
        description="in a period's view, the tenant's own ids mapped to the subject on the "
        "settlement date (as the mappings stood at as_of, if given), by kind; empty when none "
        "is; null where not looked up (a period's history)",
        examples=[[{"kind": "customer", "id": "C-100"}]],
    )

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
    subject_known: bool = Field(
        description="whether the tenant has values for this subject on any settlement date: "
        "false says nothing was ever recorded for it (a mistyped id, another tenant's, a file "
        "not yet received), where an empty answer alone would not"
    )
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
        "then highest run number, then latest file creation time (never a conflicting run); "
        "with a run, the version that rule chooses (see selected_by)"
    )
    selected_by: str = Field(
        default="best",
        description="the rule that chose best: best (honouring a pin), as-of:<instant> (as "
        "the ledger knew it then, pins as they stood) or run:<RUN> (the best version no more "
        "mature than that run, pins ignored; among the versions known at as_of, if given)",
        examples=["best", "run:SF", "as-of:2026-05-07T12:00:00Z"],
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


# How many of a file's warnings an answer about the file shows; the rest are read by page.
WARNINGS_SHOWN = 20


def shown_warnings(
    warnings: Sequence[str], count: int, sha256: str, *, listed: int | None = None
) -> list[str]:
    """A file's first warnings and, when more are listed (``listed``, by default as many as
    ``warnings`` holds), a line saying how many and where to read them: an answer about a file
    stays small whatever the file. ``count`` is every warning found, kept or not."""
    listed = len(warnings) if listed is None else listed
    if listed <= WARNINGS_SHOWN:
        return list(warnings[:listed])
    return [
        *warnings[:WARNINGS_SHOWN],
        f"{listed - WARNINGS_SHOWN:,} more warnings are listed ({count:,} were found in all): "
        f"ledger flow {sha256} --warnings, or GET .../flows/{sha256}/warnings, reads them page "
        "by page",
    ]


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
    warnings: list[str] = Field(
        description=f"the first {WARNINGS_SHOWN} warnings, then a line saying how many more are "
        "listed and where to read them"
    )
    warning_count: int = Field(
        description="every warning found in the file, kept or not (GET .../warnings pages them)"
    )
    stages: list[Stage]

    @classmethod
    def of(cls, row: FlowRow, validation: ValidationRow | None = None) -> FlowView:
        """The file as its rows hold it; ``validation`` (None until that view has read the
        file's validation) says how many warnings there are beyond those the row holds."""
        if validation is None:
            validation = ValidationRow(len(row.warnings), len(row.warnings), None)
        count, listed, _ = validation
        shown = shown_warnings(row.warnings, count, row.sha256, listed=listed)
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
            warnings=shown,
            warning_count=count,
            stages=[_shown_stage(stage, shown, validation) for stage in row.stages],
        )


def _shown_stage(row: StageRow, warnings: list[str], validation: ValidationRow) -> Stage:
    """A stage as shown: the validated stage with the file's first warnings, how many there
    are, and the checks validation applied (null when they were not recorded)."""
    stage = Stage.of(row)
    if row.stage != "validated":
        return stage
    found = {"warnings": warnings, "warning_count": validation.warning_count}
    return stage.model_copy(update={"detail": {**row.detail, **found, "checks": validation.checks}})


class NumberedWarning(ReadModel):
    """One of a file's warnings, numbered from 1 in the order its reader found them."""

    number: int
    warning: str


class FlowWarnings(ReadModel):
    """A page of a received file's warnings, in the order found; read on after ``next_after``."""

    tenant: str
    sha256: str
    file_name: str
    warning_count: int = Field(
        description="every warning found in the file, kept or not: beyond LEDGER_MAX_WARNINGS "
        "they are counted by kind, one listed line per kind"
    )
    listed: int = Field(description="how many numbered warnings the file has, in all pages")
    after: int = Field(description="the number the page was read after")
    warnings: list[NumberedWarning]
    next_after: int | None = Field(
        description="the number to read the next page after; null when this page is the last"
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


class TableComparison(ReadModel):
    """A view's table built again from the log, against the live one."""

    only_rebuilt: int = Field(description="rows the rebuilt table has and the live one lacks")
    only_live: int = Field(description="rows the live table has and the rebuilt one lacks")


class ViewComparison(ReadModel):
    """One view: equal when every table of it is."""

    equal: bool
    position: int = Field(description="the log position both builds reached")
    tables: dict[str, TableComparison]


class Verification(ReadModel):
    """``ledger verify``: every view built again in scratch tables, compared with the live."""

    equal: bool
    views: dict[str, ViewComparison]

    @classmethod
    def of(cls, found: RunnerVerification) -> Verification:
        views = {
            name: ViewComparison(
                equal=all(d == (0, 0) for d in tables.values()),
                position=found.positions[name],
                tables={
                    table: TableComparison(only_rebuilt=extra, only_live=missing)
                    for table, (extra, missing) in tables.items()
                },
            )
            for name, tables in found.views.items()
        }
        return cls(equal=found.equal, views=views)


# --- bitemporal queries: a period's history, a whole settlement day ----------------------------


class VersionSummary(ReadModel):
    """A version in brief: which it is, its run and its values (``ledger period`` shows the
    rest: provenance, attributes, corrections' reasons)."""

    version: int
    kind: str = Field(description="run, conflicting run or correction")
    run_type: str
    run_number: int
    maturity: str
    recorded_at: Instant = Field(description="when the ledger learned this version")
    values: dict[str, DecimalString] = Field(
        description="measure name to exact decimal string, exactly as received"
    )

    @classmethod
    def of(cls, version: Version | VersionRow | None) -> VersionSummary | None:
        if version is None:
            return None
        return cls(
            version=version.version,
            kind=version.kind,
            run_type=version.run_type,
            run_number=version.run_number,
            maturity=version.maturity,
            recorded_at=version.recorded_at,
            values=version.values,
        )


HistoryKind = Literal["run", "conflicting run", "correction", "further source", "intervention"]


class HistoryStep(ReadModel):
    """One event of a period's history as its views hold it, and the best version after it."""

    version: int = Field(
        description="the event's place in the period's own stream, the order of the steps "
        "(for a version recorded, its number)"
    )
    recorded_at: Instant = Field(description="when the ledger recorded it")
    kind: HistoryKind = Field(
        description="run, conflicting run or correction (a version recorded), further source "
        "(a version's values delivered again) or intervention (hold, pin or release)"
    )
    recorded: Version | None = Field(
        default=None,
        description="for a version recorded: the version (its further sources are later steps)",
    )
    confirms: int | None = Field(
        default=None, description="for a further source: the version whose values it delivered"
    )
    source: Source | None = Field(default=None, description="for a further source: where from")
    intervention: Intervention | None = Field(default=None, description="for an intervention")
    best_after: VersionSummary | None = Field(
        default=None,
        description="the best available version once this step was recorded (pins as they "
        "stood then); null while there is none",
    )


class PeriodHistory(ReadModel):
    """A period's history between two instants: every event its views hold that was recorded
    in [recorded_from, recorded_to], in order, each with the best version after it."""

    tenant: str
    subject: str = Field(description="canonical subject, e.g. party:PTY00001 or system")
    subject_known: bool = Field(
        description="whether the tenant has values for this subject on any settlement date: "
        "false says nothing was ever recorded for it (a mistyped id, another tenant's, a file "
        "not yet received), where an empty answer alone would not"
    )
    settlement_date: DateString
    settlement_period: int
    period_start: Instant
    recorded_from: Instant | None = Field(description="the window's start (inclusive), if any")
    recorded_to: Instant | None = Field(description="the window's end (inclusive), if any")
    best_before: VersionSummary | None = Field(
        description="the best available version just before recorded_from (null without "
        "recorded_from, or when none was known then)"
    )
    steps: list[HistoryStep] = Field(description="oldest first")
    views: ViewsFreshness


def history_steps(
    rows: Sequence[VersionRow],
    sources: Sequence[SourceStep],
    interventions: Sequence[InterventionRow],
    recorded_from: datetime | None,
) -> tuple[VersionSummary | None, list[HistoryStep]]:
    """A period's steps recorded from ``recorded_from`` on, in the order of its stream, each
    with the best version after it, and the best version just before the first of them.
    Every row given counts towards the best, also those recorded before ``recorded_from``."""
    steps = sorted(
        [
            *(_version_step(v) for v in versions_of(rows, ())),
            *(_source_step(s) for s in sources),
            *(_intervention_step(i) for i in interventions),
        ],
        key=lambda step: step.version,
    )
    known: list[Version] = []
    made: list[Intervention] = []
    before: VersionSummary | None = None
    shown: list[HistoryStep] = []
    for step in steps:
        if step.recorded is not None:
            known.append(step.recorded)
        if step.intervention is not None:
            made.append(step.intervention)
        best = VersionSummary.of(best_of(known, pinned=_pinned(made)))
        if recorded_from is not None and step.recorded_at < recorded_from:
            before = best
        else:
            shown.append(step.model_copy(update={"best_after": best}))
    return before, shown


_VERSION_KINDS: dict[str, HistoryKind] = {
    "run": "run",
    CONFLICTING_RUN: "conflicting run",
    "correction": "correction",
}


def _version_step(version: Version) -> HistoryStep:
    return HistoryStep(
        version=version.version,
        recorded_at=version.recorded_at,
        kind=_VERSION_KINDS[version.kind],
        recorded=version,
    )


def _source_step(step: SourceStep) -> HistoryStep:
    found = step.source
    return HistoryStep(
        version=step.version,
        recorded_at=found.recorded_at,
        kind="further source",
        confirms=found.confirms,
        source=Source(
            sha256=found.source_sha256, flow=found.flow, record_position=found.record_position
        ),
    )


def _intervention_step(row: InterventionRow) -> HistoryStep:
    return HistoryStep(
        version=row.version,
        recorded_at=row.recorded_at,
        kind="intervention",
        intervention=Intervention.of(row),
    )


def _pinned(made: Sequence[Intervention]) -> int | None:
    """The version pinned once these interventions, oldest first, were made."""
    return standing_after(
        (i.action, i.pinned_version, i.actor, i.reason, i.recorded_at) for i in made
    ).pinned


class DayPeriod(ReadModel):
    """One period of a settlement day and the version the day's rule chooses for it."""

    settlement_period: int
    period_start: Instant
    versions: int = Field(description="how many versions of the period were known")
    best: VersionSummary | None = Field(
        description="the version the rule (the day's selected_by) chooses; null when none"
    )
    pinned_version: int | None = Field(
        description="the version pinned (as it stood at as_of, if given); a run rule ignores it"
    )
    held: bool = Field(description="whether a hold from billing stood on the period")


class DayView(ReadModel):
    """A subject's whole settlement day, as known now or at an instant, or as of a run: for
    every period, the best version (null when none)."""

    tenant: str
    subject: str = Field(description="canonical subject, e.g. party:PTY00001 or system")
    subject_known: bool = Field(
        description="whether the tenant has values for this subject on any settlement date: "
        "false says nothing was ever recorded for it (a mistyped id, another tenant's, a file "
        "not yet received), where an empty answer alone would not"
    )
    settlement_date: DateString
    as_of: Instant | None = Field(description="the as-of instant asked for, if any")
    selected_by: str = Field(
        description="the rule that chose each period's best: best, as-of:<instant> or "
        "run:<RUN> (among the versions known at as_of, if given)",
        examples=["best", "run:SF", "as-of:2026-05-07T12:00:00Z"],
    )
    periods: list[DayPeriod] = Field(
        description="every period of the day, in order: 46, 48 or 50 of them"
    )
    views: ViewsFreshness


def day_periods(
    settlement_date: date,
    rule: Rule,
    versions: Mapping[int, Sequence[VersionRow]],
    interventions: Mapping[int, Sequence[InterventionRow]],
) -> list[DayPeriod]:
    """Every period of a day with the version ``rule`` chooses among its ``versions`` (as
    known at the rule's instant, when it has one), given its ``interventions`` by then."""
    periods = []
    for period, start, _ in settlement_periods(settlement_date):
        known = versions.get(period, ())
        standing = standing_of(interventions.get(period, ()))
        periods.append(
            DayPeriod(
                settlement_period=period,
                period_start=start,
                versions=len(known),
                best=VersionSummary.of(rule.choose(known, pinned=standing.pinned)),
                pinned_version=standing.pinned,
                held=standing.held,
            )
        )
    return periods
