"""Documents issued from the ledger (invoices, reports, statements) and the versions they used.

A document is an aggregate of its own: issuing it records, per line, exactly which version of
which period's value it used (version number, run, value and its unit, source file), chosen by
its rule (:mod:`ledger.domain.selection`). Issuing never touches a period. Re-issuing records a
new set of lines under the same rule (a new revision); cancelling records who and why. The
lines of a revision never change: staleness is worked out beside them, by a view.

Totals never add values of different units: one total per measure, and a document's grand
total over its lines in GBP only (a BM Unit's cashflows, never its volumes or loss factors).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Final
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger.domain.aggregates import LEDGER_NAMESPACE, _attribution
from ledger.domain.errors import LedgerError
from ledger.domain.plain_text import excerpt, plain_text
from ledger.domain.selection import Rule

KINDS = ("invoice", "report", "statement")
MAX_REFERENCE_LENGTH = 100
# Words the API's routes use where a reference goes (GET /tenants/{tenant}/documents/stale).
ROUTE_WORDS = ("stale",)
_REFERENCE_START, _REFERENCE_REST = "[A-Za-z0-9]", "[A-Za-z0-9._-]"
_REFERENCE = re.compile(f"{_REFERENCE_START}{_REFERENCE_REST}{{0,{MAX_REFERENCE_LENGTH - 1}}}")
# The same rule as a JSON Schema pattern (ECMA-262: anchored, the route words excluded by a
# look-ahead, case by case as it has no flag for case), for the API's schema.
REFERENCE_PATTERN = (
    "^(?!(?:"
    + "|".join("".join(f"[{c.upper()}{c.lower()}]" for c in word) for word in ROUTE_WORDS)
    + f")$){_REFERENCE_START}{_REFERENCE_REST}{{0,{MAX_REFERENCE_LENGTH - 1}}}$"
)
# Measures one document may name: a version has at most about 80 (a system's SPI and SSD
# values); naming none bills every measure of each version.
MAX_MEASURES_NAMED = 100
# The unit of money: a document's grand total adds these lines only.
GBP: Final = "GBP"


class DocumentRefused(LedgerError):
    """A document command the document's state does not allow."""


def document_id(tenant: str, reference: str) -> UUID:
    """The id of a tenant's document with this reference (one document per reference)."""
    return uuid5(LEDGER_NAMESPACE, f"document/{tenant}/{reference}")


@dataclass(frozen=True)
class DocumentLine:
    """One value a document used: which period, which measure, and the exact version."""

    subject: str
    settlement_date: date
    settlement_period: int
    measure: str
    value: Decimal
    version: int
    kind: str  # the version's kind: run or correction
    run_type: str
    run_number: int
    source_sha256: str | None
    unit: str | None  # GBP, MWh, GBP/MWh, factor, ...; None: the ledger knows no unit for it

    def as_event_data(self) -> dict[str, Any]:
        """As stored in the document's events: plain JSON, the value as exact decimal text."""
        return {
            "subject": self.subject,
            "settlement_date": self.settlement_date.isoformat(),
            "settlement_period": self.settlement_period,
            "measure": self.measure,
            "value": str(self.value),
            "version": self.version,
            "kind": self.kind,
            "run_type": self.run_type,
            "run_number": self.run_number,
            "source_sha256": self.source_sha256,
            "unit": self.unit,
        }

    @classmethod
    def from_event_data(cls, data: dict[str, Any]) -> DocumentLine:
        return cls(
            subject=data["subject"],
            settlement_date=date.fromisoformat(data["settlement_date"]),
            settlement_period=int(data["settlement_period"]),
            measure=data["measure"],
            value=Decimal(data["value"]),
            version=int(data["version"]),
            kind=data["kind"],
            run_type=data["run_type"],
            run_number=int(data["run_number"]),
            source_sha256=data["source_sha256"],
            # Lines issued before schema version 2 of the document's events name no unit.
            unit=data.get("unit"),
        )


@dataclass(frozen=True)
class MeasureTotal:
    """The lines of one measure, in one unit, added up."""

    measure: str
    unit: str | None
    total: Decimal
    lines: int


def totals_by_measure(values: Iterable[tuple[str, str | None, Decimal]]) -> list[MeasureTotal]:
    """One total per measure and unit of ``values`` (measure, unit, value), in the order each
    first appears. Values in different units are never added: a measure whose lines name two
    units (a document issued across a change of the layouts) gets a total for each."""
    sums: dict[tuple[str, str | None], tuple[Decimal, int]] = {}
    for measure, unit, value in values:
        total, count = sums.get((measure, unit), (Decimal(0), 0))
        sums[(measure, unit)] = (total + value, count + 1)
    return [MeasureTotal(m, u, total, count) for (m, u), (total, count) in sums.items()]


def total_in_gbp(totals: Iterable[MeasureTotal]) -> Decimal | None:
    """The grand total of a document: its GBP lines added up; None when it has none. Volumes,
    prices, factors and values of no known unit are never added into money."""
    money = [t.total for t in totals if t.unit == GBP]
    return sum(money, Decimal(0)) if money else None


def total_of(lines: Sequence[DocumentLine]) -> Decimal | None:
    """The GBP total of a revision's lines (:func:`total_in_gbp`)."""
    return total_in_gbp(totals_by_measure((x.measure, x.unit, x.value) for x in lines))


class Document(Aggregate):
    """A tenant's document: its kind, rule, and each revision's lines."""

    def __init__(
        self,
        tenant: str,
        reference: str,
        kind: str,
        rule: str,
        revision: int,
        actor: str,
        lines: list[dict[str, Any]],
        total: Decimal | None,
    ) -> None:
        self.tenant = tenant
        self.reference = reference
        self.kind = kind
        self.rule = rule
        self.revision = revision
        self.issued_by = actor
        self.lines = [DocumentLine.from_event_data(d) for d in lines]
        self.total = total
        self.cancelled = False

    @staticmethod
    def create_id(tenant: str, reference: str) -> UUID:
        """One document per tenant and reference."""
        return document_id(tenant, reference)

    @dataclass(frozen=True)
    class Issued(Aggregate.Created):
        """The document was issued: its first revision, who issued it, and every line with
        its version and unit (``lines`` hold plain JSON, values as decimal text); ``total``
        adds its GBP lines (None when it has none).

        Schema version 2 added each line's ``unit`` and made ``total`` the GBP lines' only.
        Version 1 lines name no unit, and its total added every line whatever its unit (cash,
        volumes, loss factors): upcast, the total is None (unknown here); the views work each
        line's unit out from its measure, and the totals from those."""

        class_version: ClassVar[int] = 2

        tenant: str
        reference: str
        kind: str
        rule: str
        revision: int
        actor: str
        lines: list[dict[str, Any]]
        total: Decimal | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["total"] = None

    @dataclass(frozen=True)
    class Reissued(Aggregate.Event):
        """The document was issued again under its rule: a new revision, who and why, its
        lines and their GBP total; schema version 2 as :class:`Issued`'s."""

        class_version: ClassVar[int] = 2

        tenant: str
        reference: str
        revision: int
        actor: str
        reason: str
        lines: list[dict[str, Any]]
        total: Decimal | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["total"] = None

        def apply(self, aggregate: Any) -> None:
            aggregate.revision = self.revision
            aggregate.lines = [DocumentLine.from_event_data(d) for d in self.lines]
            aggregate.total = self.total

    @dataclass(frozen=True)
    class Cancelled(Aggregate.Event):
        """The document was cancelled: who and why. Its revisions stay on record."""

        tenant: str
        reference: str
        actor: str
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.cancelled = True

    @classmethod
    def issue(
        cls,
        tenant: str,
        reference: str,
        kind: str,
        rule: Rule,
        actor: str,
        lines: Sequence[DocumentLine],
    ) -> Document:
        """A new document with its first revision; refused without a person or lines, or with
        an unknown kind or a reference that is not plain text."""
        reference = document_reference(reference)
        if kind not in KINDS:
            raise DocumentRefused(f"unknown document kind {kind!r}: use one of {', '.join(KINDS)}")
        actor = _actor(actor, "issuing a document")
        _check_lines(reference, lines)
        return cls(
            tenant=tenant,
            reference=reference,
            kind=kind,
            rule=str(rule),
            revision=1,
            actor=actor,
            lines=[line.as_event_data() for line in lines],
            total=total_of(lines),
        )

    def reissue(self, actor: str, reason: str, lines: Sequence[DocumentLine]) -> None:
        """A new revision of the lines under the same rule, naming who and why."""
        self._refuse_if_cancelled("re-issued")
        actor, reason = _attribution(actor, reason, f"re-issuing document {self.reference}")
        _check_lines(self.reference, lines)
        self.trigger_event(
            self.Reissued,
            tenant=self.tenant,
            reference=self.reference,
            revision=self.revision + 1,
            actor=actor,
            reason=reason,
            lines=[line.as_event_data() for line in lines],
            total=total_of(lines),
        )

    def cancel(self, actor: str, reason: str) -> None:
        """Cancel the document, naming who and why."""
        self._refuse_if_cancelled("cancelled again")
        actor, reason = _attribution(actor, reason, f"cancelling document {self.reference}")
        self.trigger_event(
            self.Cancelled, tenant=self.tenant, reference=self.reference, actor=actor, reason=reason
        )

    @property
    def selection_rule(self) -> Rule:
        return Rule.recorded(self.rule)

    def _refuse_if_cancelled(self, what: str) -> None:
        if self.cancelled:
            raise DocumentRefused(f"document {self.reference} is cancelled: it cannot be {what}")


def document_reference(text: str) -> str:
    """A new document's reference, as written without the spaces around it: letters, digits,
    ``.``, ``_`` and ``-``, starting with a letter or a digit, at most 100 characters, and
    not a word the API's routes use in its place (``stale``, in any case). Every such
    reference is one path segment of a URL as it is, so every document can be read, re-issued
    and cancelled over HTTP. (Documents issued before this rule keep their references: the
    command line reads them.)"""
    if not text.strip():
        raise DocumentRefused("a document needs a reference (--reference)")
    reference = text.strip()
    if not _REFERENCE.fullmatch(reference):
        raise DocumentRefused(
            f"document reference {excerpt(reference)} is not one the ledger takes: write "
            f"letters, digits, '.', '_' or '-', starting with a letter or a digit, at most "
            f"{MAX_REFERENCE_LENGTH} characters (e.g. INV-2026-001)"
        )
    if reference.lower() in ROUTE_WORDS:
        raise DocumentRefused(
            f"document reference {reference!r} is a word the API's routes use "
            f"(/tenants/{{tenant}}/documents/{reference.lower()}): choose another reference"
        )
    return reference


def _actor(actor: str, what: str) -> str:
    if not actor.strip():
        raise DocumentRefused(f"{what} needs the person doing it (--actor)")
    return plain_text(actor, f"the person {what}")


def check_named_once(periods: Sequence[int], measures: Sequence[str]) -> None:
    """Refuse a period or a measure named more than once: each would be billed again (a line
    repeated, the total doubled), and which the caller meant cannot be guessed."""
    _refuse_repeats("period", periods, str)
    _refuse_repeats("measure", measures, excerpt)


def check_measures_named(measures: Sequence[str]) -> None:
    """Refuse more measures than :data:`MAX_MEASURES_NAMED` (more than any version has)."""
    if len(measures) > MAX_MEASURES_NAMED:
        raise DocumentRefused(
            f"{len(measures)} measures named: a document names at most {MAX_MEASURES_NAMED} "
            "(name none to bill every measure of each version)"
        )


def check_line_count(lines: int, limit: int) -> None:
    """Refuse a document of more than ``limit`` lines (``LEDGER_MAX_DOCUMENT_LINES``)."""
    if lines > limit:
        raise DocumentRefused(
            f"the document would have {lines} lines, more than the {limit} a document may "
            "have (LEDGER_MAX_DOCUMENT_LINES): issue it as several, fewer periods or measures "
            "each"
        )


_REPEATS_NAMED = 3  # in a refusal: the first few repeats, then how many more


def _refuse_repeats(what: str, names: Sequence[Hashable], shown: Callable[[Any], str]) -> None:
    repeated = [(name, count) for name, count in Counter(names).items() if count > 1]
    if not repeated:
        return
    said = "; ".join(
        f"{what} {shown(name)} is named {count} times" for name, count in repeated[:_REPEATS_NAMED]
    )
    if len(repeated) > _REPEATS_NAMED:
        said += f" (and {len(repeated) - _REPEATS_NAMED} more {what}s)"
    raise DocumentRefused(f"{said}: name each {what} once")


def _check_lines(reference: str, lines: Sequence[DocumentLine]) -> None:
    if not lines:
        raise DocumentRefused(f"document {reference} would have no lines: nothing to issue")
    keys = Counter(
        (line.subject, line.settlement_date, line.settlement_period, line.measure) for line in lines
    )
    for (subject, day, period, measure), count in keys.items():
        if count > 1:
            raise DocumentRefused(
                f"document {reference} would bill {measure} of {subject} on {day.isoformat()} "
                f"period {period} {count} times: each value is a line once"
            )
