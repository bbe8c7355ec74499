"""Issuing documents from the ledger, and what finance reads back: a document, the stale ones,
the documents that used a period.

Issuing resolves each line (subject, settlement date, period, measure) to one exact version of
the period by the document's rule, from the period views in one read transaction, and records
it on the document; nothing about the periods changes. A held period is refused, saying who
holds it and why. Read models here are served alike by the command line and the API.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any, Literal, Protocol

from pydantic import Field, dataclasses

from ledger.adapters.storage import Tx
from ledger.domain.documents import (
    GBP,
    KINDS,
    DocumentLine,
    MeasureTotal,
    total_in_gbp,
    totals_by_measure,
)
from ledger.domain.errors import LedgerError
from ledger.domain.plain_text import excerpt
from ledger.domain.selection import Rule
from ledger.flows.formats import measure_unit
from ledger.service.read_models import DecimalString, Instant, ReadModel
from projections.document_revisions import RevisionRow
from projections.documents import DocumentRow, LineRow, StaleLineRow, standing
from projections.period_versions import VersionRow, period_versions

# A line names one period's value: (subject, settlement date, period, measure).
LineKey = tuple[str, date, int, str]
# A page of the documents list: as many by default, at most MAX_DOCUMENTS_PAGE.
DEFAULT_DOCUMENTS_PAGE = 100
MAX_DOCUMENTS_PAGE = 1000
STATUSES = ("issued", "cancelled")


def check_documents_page(status: str | None, kind: str | None, limit: int) -> None:
    """Refuse a status or kind no document has, or a page size outside 1 to 1000."""
    if status is not None and status not in STATUSES:
        raise LedgerError(f"unknown status {excerpt(status)}: use one of {', '.join(STATUSES)}")
    if kind is not None and kind not in KINDS:
        raise LedgerError(f"unknown document kind {excerpt(kind)}: use one of {', '.join(KINDS)}")
    if not 1 <= limit <= MAX_DOCUMENTS_PAGE:
        raise LedgerError(
            f"a page of documents holds 1 to {MAX_DOCUMENTS_PAGE}, not {limit}: use after= "
            "(the page's next_after) to read on"
        )


class LineSource(ReadModel):
    """The file a line's value came from (none for a correction made by a person)."""

    sha256: str


class DocumentLineView(ReadModel):
    """One line of a document: the period value it used, and exactly which version."""

    subject: str
    settlement_date: date
    settlement_period: int
    measure: str
    value: DecimalString
    unit: str | None = Field(
        description="the value's unit (GBP, MWh, GBP/MWh, factor, kWh, ...); null when the "
        "ledger knows no unit for the measure"
    )
    version: int
    kind: str = Field(description="the version's kind: run or correction")
    run_type: str
    run_number: int
    source: LineSource | None


class MeasureTotalView(ReadModel):
    """The lines of one measure, in one unit, added up."""

    measure: str
    unit: str | None = Field(description="the lines' unit; null when the ledger knows none")
    total: DecimalString
    lines: int = Field(description="how many lines it adds up")

    @classmethod
    def of(cls, total: MeasureTotal) -> MeasureTotalView:
        return cls(measure=total.measure, unit=total.unit, total=total.total, lines=total.lines)


class DocumentRevision(ReadModel):
    """One revision of a document: when, who and why, and its GBP total."""

    revision: int
    recorded_at: Instant
    actor: str
    reason: str | None = Field(description="why it was re-issued; null for the first revision")
    total: DecimalString | None = Field(description="its GBP lines added up; null without one")
    total_unit: Literal["GBP"] = GBP
    lines: int = Field(description="how many lines it has")

    @classmethod
    def of(cls, row: RevisionRow) -> DocumentRevision:
        return cls(
            revision=row.revision,
            recorded_at=row.recorded_at,
            actor=row.actor,
            reason=row.reason,
            total=row.total,
            lines=row.lines,
        )


class DocumentView(ReadModel):
    """A document as issued (its current revision, or the one asked for), with every line's
    version; its totals by measure, and its grand total over its GBP lines only (never
    volumes, prices or factors); and the history of its revisions."""

    reference: str
    kind: str
    rule: str
    status: str = Field(description="issued or cancelled")
    revision: int = Field(description="the revision shown")
    current_revision: int = Field(description="the document's latest revision")
    issued_at: Instant = Field(description="when its first revision was issued")
    revised_at: Instant = Field(description="when the revision shown was issued")
    actor: str = Field(description="who issued the revision shown")
    reason: str | None = Field(
        description="why the revision shown was re-issued; null for the first revision"
    )
    cancelled_by: str | None = Field(description="who cancelled the document, if cancelled")
    cancel_reason: str | None
    lines: list[DocumentLineView]
    totals: list[MeasureTotalView] = Field(
        description="one per measure (and unit), in the order the lines first name them"
    )
    total: DecimalString | None = Field(
        description="the grand total: the GBP lines added up; null when there is none"
    )
    total_unit: Literal["GBP"] = Field(default=GBP, description="the grand total's unit")
    revisions: list[DocumentRevision] | None = Field(
        description="every revision, first to last; null while the views are still taking "
        "in revisions issued before they kept them (after an upgrade, until a catch-up)"
    )

    @classmethod
    def of(
        cls,
        head: DocumentRow,
        lines: Sequence[UsedLine],
        history: Sequence[RevisionRow],
        shown: RevisionRow | None = None,
    ) -> DocumentView:
        """The document as ``head`` says, showing ``lines``: those of revision ``shown``, or
        of its current revision when none is given."""
        totals = totals_by_measure((line.measure, line.unit, line.used_value) for line in lines)
        complete = [r.revision for r in history] == list(range(1, head.revision + 1))
        return cls(
            reference=head.reference,
            kind=head.kind,
            rule=head.rule,
            status=head.status,
            revision=head.revision if shown is None else shown.revision,
            current_revision=head.revision,
            issued_at=head.issued_at,
            revised_at=head.revised_at if shown is None else shown.recorded_at,
            actor=head.actor if shown is None else shown.actor,
            reason=_reason_of(history, head.revision) if shown is None else shown.reason,
            cancelled_by=head.cancelled_by,
            cancel_reason=head.cancel_reason,
            lines=[_line_view(line) for line in lines],
            totals=[MeasureTotalView.of(t) for t in totals],
            total=total_in_gbp(totals),
            revisions=[DocumentRevision.of(r) for r in history] if complete else None,
        )


def _reason_of(history: Sequence[RevisionRow], revision: int) -> str | None:
    return next((r.reason for r in history if r.revision == revision), None)


class DocumentSummary(ReadModel):
    """A document in a list: its current revision, status and GBP total."""

    reference: str
    kind: str
    rule: str
    status: str = Field(description="issued or cancelled")
    revision: int = Field(description="its latest revision")
    issued_at: Instant
    revised_at: Instant
    actor: str = Field(description="who issued its latest revision")
    total: DecimalString | None = Field(
        description="its latest revision's GBP lines added up; null without one"
    )
    total_unit: Literal["GBP"] = GBP

    @classmethod
    def of(cls, row: DocumentRow) -> DocumentSummary:
        return cls(
            reference=row.reference,
            kind=row.kind,
            rule=row.rule,
            status=row.status,
            revision=row.revision,
            issued_at=row.issued_at,
            revised_at=row.revised_at,
            actor=row.actor,
            total=row.total,
        )


class DocumentList(ReadModel):
    """A page of a tenant's documents, by reference, and where the next page starts."""

    tenant: str
    status: str | None = Field(description="only documents with this status, if given")
    kind: str | None = Field(description="only documents of this kind, if given")
    documents: list[DocumentSummary]
    next_after: str | None = Field(
        description="the reference to read on after (as after=...); null on the last page"
    )


# A stale line and its two versions are frozen dataclasses rather than models: the same JSON
# and schema, but each is one object where a model is three (itself, its fields' dict and the
# set of fields given), and pydantic builds them in under half the time. An answer holds
# thousands of lines, and the garbage collector's full passes over them made its tail: with
# 2,400 lines as models, one answer in three ran a full collection; as these, one in nine.
@dataclasses.dataclass(frozen=True, slots=True)
class VersionValue:
    """A version of a period, its run, and the value of one measure in it (all null when the
    rule now chooses no version)."""

    version: int | None
    value: DecimalString | None
    run_type: str | None = None
    run_number: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class StaleLine:
    """A line whose rule would now choose another version: what it used, what now, the delta."""

    subject: str
    settlement_date: date
    settlement_period: int
    measure: str
    used: VersionValue
    now: VersionValue
    delta: DecimalString | None = Field(description="now minus used (null if now has none)")
    unit: str | None = Field(default=None, description="the values' unit; null when unknown")


class StaleDocument(ReadModel):
    """A document in force with at least one stale line: the lines, their deltas by measure,
    and the GBP lines' deltas added up."""

    reference: str
    kind: str
    rule: str
    revision: int
    total_delta: DecimalString | None = Field(
        description="the GBP lines' deltas added up; null when no stale line is in GBP"
    )
    total_delta_unit: Literal["GBP"] = GBP
    deltas: list[MeasureTotalView] = Field(
        description="the deltas of each measure (and unit) added up (lines: how many)"
    )
    lines: list[StaleLine]

    @classmethod
    def of(cls, head: DocumentRow, lines: Sequence[StaleLineRow]) -> StaleDocument:
        """Given as plain data and validated in one call (pydantic's core builds the lines),
        several times faster for a document's many lines than each line's constructor."""
        return cls.model_validate(_stale_document(head, lines))


class DocumentUse(ReadModel):
    """A document line that used a period: which document, which measure, which version."""

    reference: str
    kind: str
    rule: str
    status: str
    line: int
    measure: str
    version: int
    value: DecimalString
    unit: str | None = Field(description="the value's unit; null when the ledger knows none")
    stale: bool = Field(description="the line's rule would now choose another version")
    run_type: str = Field(description="the run of the version used")
    run_number: int
    now: VersionValue = Field(description="the version its rule would choose now")


def use_of(head: DocumentRow, line: LineRow) -> DocumentUse:
    return DocumentUse(
        reference=head.reference,
        kind=head.kind,
        rule=head.rule,
        status=head.status,
        line=line.line,
        measure=line.measure,
        version=line.used_version,
        value=line.used_value,
        unit=line.unit,
        stale=line.stale,
        run_type=line.run_type,
        run_number=line.run_number,
        now=VersionValue(
            version=line.now_version,
            value=line.now_value,
            run_type=line.now_run_type,
            run_number=line.now_run_number,
        ),
    )


class UsedLine(Protocol):
    """What a line of a revision used, as the views hold it (current or earlier revision)."""

    @property
    def subject(self) -> str: ...
    @property
    def settlement_date(self) -> date: ...
    @property
    def settlement_period(self) -> int: ...
    @property
    def measure(self) -> str: ...
    @property
    def used_value(self) -> Decimal: ...
    @property
    def unit(self) -> str | None: ...
    @property
    def used_version(self) -> int: ...
    @property
    def used_kind(self) -> str: ...
    @property
    def run_type(self) -> str: ...
    @property
    def run_number(self) -> int: ...
    @property
    def source_sha256(self) -> str | None: ...


def _line_view(line: UsedLine) -> DocumentLineView:
    return DocumentLineView(
        subject=line.subject,
        settlement_date=line.settlement_date,
        settlement_period=line.settlement_period,
        measure=line.measure,
        value=line.used_value,
        unit=line.unit,
        version=line.used_version,
        kind=line.used_kind,
        run_type=line.run_type,
        run_number=line.run_number,
        source=LineSource(sha256=line.source_sha256) if line.source_sha256 else None,
    )


def _stale_document(head: DocumentRow, lines: Sequence[StaleLineRow]) -> dict[str, Any]:
    """A :class:`StaleDocument` as plain data."""
    stale = [_stale_line(line) for line in lines]
    deltas = totals_by_measure(
        (s["measure"], s["unit"], s["delta"]) for s in stale if s["delta"] is not None
    )
    return {
        "reference": head.reference,
        "kind": head.kind,
        "rule": head.rule,
        "revision": head.revision,
        "total_delta": total_in_gbp(deltas),
        "deltas": [
            {"measure": d.measure, "unit": d.unit, "total": d.total, "lines": d.lines}
            for d in deltas
        ],
        "lines": stale,
    }


def _stale_line(line: StaleLineRow) -> dict[str, Any]:
    """A :class:`StaleLine` as plain data."""
    now = line.now_value
    return {
        "subject": line.subject,
        "settlement_date": line.settlement_date,
        "settlement_period": line.settlement_period,
        "measure": line.measure,
        "used": {
            "version": line.used_version,
            "value": line.used_value,
            "run_type": line.run_type,
            "run_number": line.run_number,
        },
        "now": {
            "version": line.now_version,
            "value": now,
            "run_type": line.now_run_type,
            "run_number": line.now_run_number,
        },
        "delta": None if now is None else now - line.used_value,
        "unit": line.unit,
    }


def resolve_lines(tx: Tx, tenant: str, rule: Rule, keys: Sequence[LineKey]) -> list[DocumentLine]:
    """Each line's exact version by ``rule``, in the order given; refused (nothing issued) for
    a held period, a period with no version to choose, or a measure the version lacks."""
    chosen: dict[tuple[str, date, int], VersionRow] = {}
    lines = []
    for subject, day, period, measure in keys:
        version = chosen.get((subject, day, period))
        if version is None:
            version = chosen[(subject, day, period)] = _choose(
                tx, tenant, rule, subject, day, period
            )
        if measure not in version.values:
            raise LedgerError(
                f"{_period(subject, day, period)} version {version.version} has no measure "
                f"{measure!r}; it has: {', '.join(version.values) or 'none'}"
            )
        lines.append(
            DocumentLine(
                subject=subject,
                settlement_date=day,
                settlement_period=period,
                measure=measure,
                value=version.values[measure],
                version=version.version,
                kind=version.kind,
                run_type=version.run_type,
                run_number=version.run_number,
                source_sha256=version.source_sha256,
                unit=measure_unit(measure),
            )
        )
    return lines


def measures_of(tx: Tx, tenant: str, rule: Rule, subject: str, day: date, period: int) -> list[str]:
    """Every measure of the version ``rule`` chooses for a period (a line per measure)."""
    return list(_choose(tx, tenant, rule, subject, day, period).values)


def _choose(tx: Tx, tenant: str, rule: Rule, subject: str, day: date, period: int) -> VersionRow:
    now = standing(tx, tenant, subject, day, period)
    if now.held:
        raise LedgerError(
            f"{_period(subject, day, period)} is held from billing by {now.held_by} "
            f"({now.held_reason}): a document cannot use it until it is released"
        )
    as_of = rule.as_of
    versions = period_versions(tx, tenant, subject, day, period, as_of=as_of)
    pinned = now.pinned
    if as_of is not None:
        pinned = standing(tx, tenant, subject, day, period, as_of=as_of).pinned
    version = rule.choose(versions, pinned=pinned)
    if version is None:
        known = "as known then" if as_of is not None else "yet"
        raise LedgerError(
            f"{_period(subject, day, period)} has no version under rule {rule} {known}"
        )
    return version


def _period(subject: str, day: date, period: int) -> str:
    return f"{subject} on {day.isoformat()} period {period}"
