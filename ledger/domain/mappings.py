"""Identity mapping: a tenant's own ids (customer, site, meter, asset) and the market ids they
stand for (MPAN, BM Unit, BSC Party), each over a range of settlement dates.

Mappings change over time (a customer switches supplier, an agent changes, an asset is
commissioned into a BM Unit), so each holds from a first to a last settlement date, both
**inclusive**; a mapping with no last date holds from its first on. That is how the market's
own reference data dates its rows ("Effective From Settlement Date" and "Effective To
Settlement Date", the latter being the last day that holds: repository WessexWater/chellow,
``chellow/e/mdd_importer.py``, reads an Effective To Settlement Date as the last half hour of
that day), so a mapping ending on 2026-03-31 and the next starting on 2026-04-01 meet without
a gap or an overlap.

A mapping is an aggregate of its own, event-sourced: created, ended (its last date set, only
ever earlier), corrected (new dates or market id); never edited in place, its earlier values
kept in its history. Its id is deterministic (:func:`mapping_id`): derived from what it was
created with, so the same command replayed lands on the same aggregate; when a mapping with
those values was created before and has since been ended or corrected, the next free
``sequence`` is used. At any settlement date, an internal id of one kind maps to at most one
market id of each market kind (a meter to one MPAN), and a market id to at most one internal
id of each kind (an MPAN to one customer): :func:`check_no_clash` refuses the rest, naming the
mapping it clashes with. The check needs the tenant's other mappings, which the service reads
under the event store's write lock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger.domain.aggregates import LEDGER_NAMESPACE, _attribution
from ledger.domain.errors import InvalidIdentifier, LedgerError
from ledger.domain.identifiers import Subject
from ledger.domain.plain_text import plain_text
from ledger.domain.settlement_time import check_settlement_date

# A tenant's own kinds of id.
INTERNAL_KINDS = ("customer", "site", "meter", "asset")
# The market ids a mapping can name, as the ledger writes subjects, and their names in words.
MARKET_KINDS = {"mpan": "MPAN", "bmu": "BM Unit", "party": "BSC Party"}
MAX_INTERNAL_ID_LENGTH = 100


class MappingRefused(LedgerError, ValueError):
    """An identity mapping the rules do not allow: dates in the wrong order, a clash with
    another mapping, an end or correction that changes nothing."""


def mapping_id(
    tenant: str,
    kind: str,
    internal_id: str,
    market_id: str,
    valid_from: date,
    sequence: int = 1,
) -> UUID:
    """The id of the mapping created with these values (the ``sequence``-th such creation)."""
    name = f"mapping/{tenant}/{kind}/{internal_id}/{market_id}/{valid_from.isoformat()}"
    return uuid5(LEDGER_NAMESPACE, name if sequence == 1 else f"{name}/{sequence}")


def internal_kind(text: str) -> str:
    """A kind of internal id: customer, site, meter or asset."""
    kind = text.strip().lower()
    if kind not in INTERNAL_KINDS:
        raise MappingRefused(
            f"{text!r} is not a kind of internal id: use one of {', '.join(INTERNAL_KINDS)}"
        )
    return kind


def internal_id(text: str) -> str:
    """A tenant's own id: printable text of at most 100 characters, without outer spaces."""
    return plain_text(text, "an internal id", max_length=MAX_INTERNAL_ID_LENGTH).strip()


def market_id(text: str) -> str:
    """A market id as the ledger writes subjects (``mpan:<core>``, ``bmu:<id>``,
    ``party:<id>``), checked (an MPAN's check digit, a BM Unit's prefix) and canonical."""
    subject = Subject.parse(text)
    if subject.kind == "system":
        raise InvalidIdentifier(
            "system is not a market id a tenant's id can map to: write mpan:<MPAN core>, "
            "bmu:<BM Unit Id> or party:<BSC Party Id>"
        )
    return str(subject)


def market_kind(market: str) -> str:
    """The market kind of a canonical market id: mpan, bmu or party."""
    return market.partition(":")[0]


@dataclass(frozen=True, slots=True)
class Validity:
    """The settlement dates a mapping holds on: from ``valid_from`` to ``valid_to``, both
    inclusive (no ``valid_to``: from ``valid_from`` on)."""

    valid_from: date
    valid_to: date | None = None

    def __post_init__(self) -> None:
        check_settlement_date(self.valid_from)
        if self.valid_to is not None:
            check_settlement_date(self.valid_to)
            if self.valid_to < self.valid_from:
                raise MappingRefused(
                    f"a mapping cannot end ({self.valid_to.isoformat()}) before it starts "
                    f"({self.valid_from.isoformat()}): its last settlement date is on or "
                    "after its first"
                )

    def holds_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)

    def overlaps(self, other: Validity) -> bool:
        """Whether some settlement date is in both."""
        return (other.valid_to is None or self.valid_from <= other.valid_to) and (
            self.valid_to is None or other.valid_from <= self.valid_to
        )

    def __str__(self) -> str:
        start = f"from {self.valid_from.isoformat()}"
        return f"{start} on" if self.valid_to is None else f"{start} to {self.valid_to.isoformat()}"


@dataclass(frozen=True, slots=True)
class MappingTerms:
    """What a mapping says, as it stands: which internal id maps to which market id, when."""

    mapping_id: UUID
    kind: str
    internal_id: str
    market_id: str
    validity: Validity

    def describe(self) -> str:
        return (
            f"{self.kind} {self.internal_id} maps to {self.market_id} {self.validity} "
            f"(mapping {self.mapping_id})"
        )


def check_no_clash(candidate: MappingTerms, others: Iterable[MappingTerms]) -> None:
    """Refuse ``candidate`` if, on some settlement date, it would map its internal id to a
    second market id of the same market kind, or its market id to a second internal id of the
    same kind, beside one of ``others`` (the tenant's mappings; the candidate's own earlier
    terms, same mapping id, are ignored). The message names the mapping it clashes with."""
    for other in others:
        if other.mapping_id == candidate.mapping_id or other.kind != candidate.kind:
            continue
        if not candidate.validity.overlaps(other.validity):
            continue
        same_internal = other.internal_id == candidate.internal_id
        if same_internal and other.market_id == candidate.market_id:
            raise MappingRefused(
                f"{candidate.kind} {candidate.internal_id} cannot map to "
                f"{candidate.market_id} {candidate.validity}: {other.describe()} already, on "
                "some of those dates; correct that mapping rather than adding another"
            )
        if same_internal and market_kind(other.market_id) == market_kind(candidate.market_id):
            market = MARKET_KINDS[market_kind(candidate.market_id)]
            raise MappingRefused(
                f"{candidate.kind} {candidate.internal_id} cannot map to "
                f"{candidate.market_id} {candidate.validity}: {other.describe()}, and a "
                f"{candidate.kind} id maps to one {market} at a time; end or correct that "
                "mapping first"
            )
        if other.market_id == candidate.market_id:
            raise MappingRefused(
                f"{candidate.market_id} cannot map to {candidate.kind} "
                f"{candidate.internal_id} {candidate.validity}: {other.describe()}, and a "
                f"market id maps to one {candidate.kind} id at a time; end or correct that "
                "mapping first"
            )


# Written in a correction for "leave the last date as it is" (None there means "open-ended").
UNCHANGED: Any = object()


class Mapping(Aggregate):
    """One mapping of a tenant's id to a market id over settlement dates, and its history."""

    def __init__(
        self,
        tenant: str,
        kind: str,
        internal_id: str,
        market_id: str,
        valid_from: date,
        valid_to: date | None,
    ) -> None:
        self.tenant = tenant
        self.kind = kind
        self.internal_id = internal_id
        self.market_id = market_id
        self.valid_from = valid_from
        self.valid_to = valid_to

    @dataclass(frozen=True)
    class MappingEvent(Aggregate.Event):
        """Every event of a mapping carries the mapping as it stands after it, who and why, so
        each is self-describing in the feed and a view needs no other event to apply it."""

        tenant: str
        kind: str
        internal_id: str
        market_id: str
        valid_from: date
        valid_to: date | None
        actor: str
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.market_id = self.market_id
            aggregate.valid_from = self.valid_from
            aggregate.valid_to = self.valid_to

    @dataclass(frozen=True)
    class Created(MappingEvent, Aggregate.Created):
        """A tenant's id was mapped to a market id from a settlement date (to another, if
        given): who mapped it and why."""

    @dataclass(frozen=True)
    class Ended(MappingEvent):
        """The mapping's last settlement date was set (or brought earlier): who and why."""

    @dataclass(frozen=True)
    class Corrected(MappingEvent):
        """The mapping's dates or market id were corrected (the earlier ones stay in its
        history): who and why."""

    @classmethod
    def create(
        cls,
        tenant: str,
        kind: str,
        internal: str,
        market: str,
        validity: Validity,
        actor: str,
        reason: str,
        *,
        others: Iterable[MappingTerms] = (),
        sequence: int = 1,
    ) -> Mapping:
        """A new mapping; refused without a person and a reason, with a kind, internal id or
        market id that is not one, or when it clashes with one of ``others`` (the tenant's
        mappings, :func:`check_no_clash`)."""
        kind, internal, market = internal_kind(kind), internal_id(internal), market_id(market)
        actor, reason = _attribution(actor, reason, f"mapping {kind} {internal} to {market}")
        key = mapping_id(tenant, kind, internal, market, validity.valid_from, sequence)
        check_no_clash(MappingTerms(key, kind, internal, market, validity), others)
        mapping: Mapping = cls._create(
            cls.Created,
            id=key,
            tenant=tenant,
            kind=kind,
            internal_id=internal,
            market_id=market,
            valid_from=validity.valid_from,
            valid_to=validity.valid_to,
            actor=actor,
            reason=reason,
        )
        return mapping

    @property
    def validity(self) -> Validity:
        return Validity(self.valid_from, self.valid_to)

    @property
    def terms(self) -> MappingTerms:
        return MappingTerms(self.id, self.kind, self.internal_id, self.market_id, self.validity)

    def end(self, valid_to: date, actor: str, reason: str) -> None:
        """Set the last settlement date the mapping holds on. Only ever brings it earlier: a
        later last date is a correction (it could clash with another mapping)."""
        actor, reason = _attribution(actor, reason, f"ending mapping {self.id}")
        if self.valid_to is not None and valid_to >= self.valid_to:
            raise MappingRefused(
                f"mapping {self.id} already ends on {self.valid_to.isoformat()}: ending it on "
                f"{valid_to.isoformat()} would not end it sooner; to move its end later, "
                "correct it"
            )
        validity = Validity(self.valid_from, valid_to)
        self._record(self.Ended, self.market_id, validity, actor, reason)

    def correct(
        self,
        actor: str,
        reason: str,
        *,
        market: str | None = None,
        valid_from: date | None = None,
        valid_to: date | None = UNCHANGED,
        others: Iterable[MappingTerms] = (),
    ) -> None:
        """Correct the market id or the dates (``valid_to=None`` makes it open-ended); refused
        when nothing would change or the new terms clash with one of ``others`` (the tenant's
        mappings). The earlier terms stay in the mapping's history."""
        actor, reason = _attribution(actor, reason, f"correcting mapping {self.id}")
        new_market = self.market_id if market is None else market_id(market)
        validity = Validity(
            self.valid_from if valid_from is None else valid_from,
            self.valid_to if valid_to is UNCHANGED else valid_to,
        )
        if (new_market, validity) == (self.market_id, self.validity):
            raise MappingRefused(
                f"the correction of mapping {self.id} changes nothing: it already maps "
                f"{self.kind} {self.internal_id} to {self.market_id} {self.validity}"
            )
        terms = MappingTerms(self.id, self.kind, self.internal_id, new_market, validity)
        check_no_clash(terms, others)
        self._record(self.Corrected, new_market, validity, actor, reason)

    def _record(
        self,
        event: type[MappingEvent],
        market: str,
        validity: Validity,
        actor: str,
        reason: str,
    ) -> None:
        self.trigger_event(
            event,
            tenant=self.tenant,
            kind=self.kind,
            internal_id=self.internal_id,
            market_id=market,
            valid_from=validity.valid_from,
            valid_to=validity.valid_to,
            actor=actor,
            reason=reason,
        )
