"""Identity mapping: map a tenant's own ids to market ids over settlement dates, end and correct
mappings, read them back; and what the ingestion pipeline and the period view ask of them.

Each command is one write: in one transaction it takes the event store's append lock (so no
other writer appends meanwhile, in this process or another), brings the views up to date
inside it, reads the tenant's mappings that could clash from the view, lets the domain decide
(:mod:`ledger.domain.mappings`) and appends the mapping's event, which the views apply in the
same transaction. Two people mapping the same MPAN at once are thus decided one after the
other, the second against the first's mapping. Read models are served alike by the command
line and the API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from collections.abc import Mapping as AnyMapping
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from pydantic import Field

from ledger.adapters.storage import Tx
from ledger.domain.identifiers import tenant_id
from ledger.domain.mappings import (
    UNCHANGED,
    Mapping,
    Validity,
    internal_id,
    internal_kind,
    mapping_id,
    market_id,
)
from ledger.domain.plain_text import excerpt
from ledger.service.application import Ledger, NotFound
from ledger.service.read_models import DateString, Instant, InternalId, ReadModel, Version
from ledger.service.unit_of_work import UnitOfWork
from projections.mappings import (
    ChangeRow,
    MappingRow,
    find_mapping,
    internal_ids_known,
    internal_ids_on,
    list_mappings,
    mapping_history,
    related_terms,
)
from projections.runner import ProjectionRunner

# A subject no tenant's id maps to: it is never unmapped.
SYSTEM = "system"


class MappingChange(ReadModel):
    """One change to a mapping: what it said after it, who made it and why."""

    version: int
    change: str = Field(description="created, ended or corrected")
    market_id: str
    valid_from: DateString
    valid_to: DateString | None
    actor: str
    reason: str
    recorded_at: Instant = Field(description="when the ledger recorded it")

    @classmethod
    def of(cls, row: ChangeRow) -> MappingChange:
        return cls(
            version=row.version,
            change=row.change,
            market_id=row.market_id,
            valid_from=row.valid_from,
            valid_to=row.valid_to,
            actor=row.actor,
            reason=row.reason,
            recorded_at=row.recorded_at,
        )


class MappingSummary(ReadModel):
    """A mapping as it stands: a tenant's id, the market id it stands for, and when."""

    mapping_id: str
    kind: str = Field(description="customer, site, meter or asset")
    internal_id: str = Field(description="the tenant's own id")
    market_id: str = Field(description="mpan:<core>, bmu:<id> or party:<id>")
    valid_from: DateString = Field(description="the first settlement date it holds on")
    valid_to: DateString | None = Field(
        description="the last settlement date it holds on (inclusive); null: open-ended"
    )
    status: str = Field(description="open (no last date) or ended (a last date is set)")
    last_change: str = Field(description="created, ended or corrected")
    version: int = Field(description="how many changes it has had, its creation included")
    created_at: Instant
    updated_at: Instant

    @classmethod
    def of(cls, row: MappingRow) -> MappingSummary:
        return cls(**_summary_fields(row))


class MappingView(MappingSummary):
    """A mapping as it stands and every change to it, oldest first."""

    history: list[MappingChange]

    @classmethod
    def with_history(cls, row: MappingRow, changes: Sequence[ChangeRow]) -> MappingView:
        return cls(**_summary_fields(row), history=[MappingChange.of(c) for c in changes])


def _summary_fields(row: MappingRow) -> dict[str, Any]:
    return {
        "mapping_id": row.mapping_id,
        "kind": row.kind,
        "internal_id": row.internal_id,
        "market_id": row.market_id,
        "valid_from": row.valid_from,
        "valid_to": row.valid_to,
        "status": row.status,
        "last_change": row.last_change,
        "version": row.version,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


class MappingList(ReadModel):
    """A tenant's mappings as they stand, by kind, internal id and first date."""

    tenant: str
    on: DateString | None = Field(description="only those holding on this date, if given")
    mappings: list[MappingSummary]


# --- what the pipeline and the period view ask ----------------------------------------------


def internal_ids(
    tx: Tx, tenant: str, market_ids: Iterable[str], settlement_date: date
) -> dict[str, list[InternalId]]:
    """The tenant's own ids each market id stands for on a settlement date, by kind (market
    ids written as the ledger writes subjects; those with none are left out). One query."""
    found = internal_ids_on(tx, tenant, market_ids, settlement_date)
    return {m: [InternalId(kind=k, id=i) for k, i in ids] for m, ids in found.items()}


def unmapped(tx: Tx, tenant: str, market_ids: Iterable[str], settlement_date: date) -> set[str]:
    """The market ids among ``market_ids`` (as the ledger writes subjects) that no mapping of
    the tenant's names on ``settlement_date``: read inside the caller's transaction, in one
    query. ``system`` is never unmapped (no tenant's id stands for it)."""
    wanted = {m for m in market_ids if m != SYSTEM}
    return wanted - set(internal_ids_on(tx, tenant, wanted, settlement_date))


def unmapped_by_date(
    tx: Tx, tenant: str, market_ids: AnyMapping[date, Iterable[str]]
) -> dict[date, set[str]]:
    """:func:`unmapped` for each settlement date (one query per date); dates where every
    market id is mapped are left out."""
    found = {day: unmapped(tx, tenant, ids, day) for day, ids in market_ids.items()}
    return {day: ids for day, ids in found.items() if ids}


def with_internal_ids(
    tx: Tx,
    tenant: str,
    subject: str,
    settlement_date: date,
    versions: Sequence[Version],
    *,
    as_of: datetime | None = None,
) -> list[Version]:
    """A period's versions, each naming the tenant's own ids its subject stands for on the
    settlement date (as the mappings stood at ``as_of``, if given): one query for them all."""
    if subject == SYSTEM or not versions:
        ids: list[InternalId] = []
    elif as_of is None:
        ids = internal_ids(tx, tenant, [subject], settlement_date).get(subject, [])
    else:
        known = internal_ids_known(tx, tenant, subject, settlement_date, as_of)
        ids = [InternalId(kind=kind, id=internal) for kind, internal in known]
    return [version.model_copy(update={"internal_ids": ids}) for version in versions]


# --- commands and queries -------------------------------------------------------------------


class IdentityMappings:
    """A tenant's identity mappings: add, end and correct them (each one write, attributed to
    a person with a reason), and read them back."""

    def __init__(self, ledger: Ledger, views: ProjectionRunner) -> None:
        self.ledger = ledger
        self.views = views
        self.database = ledger.database
        self.event_store = ledger.event_store
        self.unit_of_work = UnitOfWork(ledger, views)

    def add(
        self,
        *,
        kind: str,
        internal: str,
        market: str,
        valid_from: date,
        valid_to: date | None = None,
        actor: str,
        reason: str,
        tenant: str,
    ) -> MappingView:
        """Map a tenant's id to a market id from ``valid_from`` (to ``valid_to``, inclusive,
        if given); refused when it clashes with another of the tenant's mappings."""
        tenant = tenant_id(tenant)
        kind, internal, market = internal_kind(kind), internal_id(internal), market_id(market)
        validity = Validity(valid_from, valid_to)

        def decide(tx: Tx) -> Mapping:
            return Mapping.create(
                tenant,
                kind,
                internal,
                market,
                validity,
                actor,
                reason,
                others=related_terms(tx, tenant, kind, internal, market),
                sequence=self._free_sequence(tx, tenant, kind, internal, market, valid_from),
            )

        return self._write(tenant, decide)

    def end(self, key: str, *, valid_to: date, actor: str, reason: str, tenant: str) -> MappingView:
        """Set the last settlement date a mapping holds on (only ever earlier)."""
        tenant = tenant_id(tenant)

        def decide(_: Tx) -> Mapping:
            mapping = self._mapping(tenant, key)
            mapping.end(valid_to, actor, reason)
            return mapping

        return self._write(tenant, decide)

    def correct(
        self,
        key: str,
        *,
        actor: str,
        reason: str,
        tenant: str,
        market: str | None = None,
        valid_from: date | None = None,
        valid_to: date | None = UNCHANGED,
    ) -> MappingView:
        """Correct a mapping's market id or dates (``valid_to=None``: open-ended); refused
        when nothing changes or the new terms clash with another of the tenant's mappings."""
        tenant = tenant_id(tenant)

        def decide(tx: Tx) -> Mapping:
            mapping = self._mapping(tenant, key)
            new_market = mapping.market_id if market is None else market_id(market)
            others = related_terms(tx, tenant, mapping.kind, mapping.internal_id, new_market)
            mapping.correct(
                actor,
                reason,
                market=new_market,
                valid_from=valid_from,
                valid_to=valid_to,
                others=others,
            )
            return mapping

        return self._write(tenant, decide)

    def get(self, key: str, *, tenant: str) -> MappingView:
        """A mapping as it stands, with every change to it."""
        tenant = tenant_id(tenant)
        with self.database.transaction(write=False) as tx:
            found = find_mapping(tx, tenant, _key_text(tenant, key))
            if found is None:
                raise _not_found(tenant, key)
            return MappingView.with_history(found, mapping_history(tx, found.mapping_id))

    def list(
        self,
        *,
        tenant: str,
        market: str | None = None,
        internal: str | None = None,
        kind: str | None = None,
        on: date | None = None,
    ) -> MappingList:
        """A tenant's mappings as they stand; each filter given narrows them (``on``: those
        holding on that settlement date)."""
        tenant = tenant_id(tenant)
        with self.database.transaction(write=False) as tx:
            rows = list_mappings(
                tx,
                tenant,
                market_id=None if market is None else market_id(market),
                internal_id=None if internal is None else internal_id(internal),
                kind=None if kind is None else internal_kind(kind),
                on=on,
            )
        return MappingList(tenant=tenant, on=on, mappings=[MappingSummary.of(r) for r in rows])

    def _write(self, tenant: str, decide: Callable[[Tx], Mapping]) -> MappingView:
        """Run ``decide`` in one write (:mod:`ledger.service.unit_of_work`: under the append
        lock, with the views current) and record the mapping's new events; the mapping as it
        then stands."""
        busy = (
            "the mapping changed while this command ran: look at it again (ledger mappings "
            "list) and try again"
        )
        with self.unit_of_work.write(busy=busy) as write:
            mapping = decide(write.tx)
            write.record(mapping)
            row = find_mapping(write.tx, tenant, str(mapping.id))
            assert row is not None, "the views applied the mapping's events"
            changes = mapping_history(write.tx, row.mapping_id)
        return MappingView.with_history(row, changes)

    def _mapping(self, tenant: str, key: str) -> Mapping:
        """A tenant's mapping, rebuilt from its events (read under the caller's lock)."""
        try:
            found: object = self.ledger.repository.get(UUID(_key_text(tenant, key)))
        except AggregateNotFoundError:
            raise _not_found(tenant, key) from None
        if not isinstance(found, Mapping) or found.tenant != tenant:
            raise _not_found(tenant, key)
        return found

    def _free_sequence(
        self, tx: Tx, tenant: str, kind: str, internal: str, market: str, valid_from: date
    ) -> int:
        """The first sequence whose id no mapping has: 1 unless a mapping was created with the
        same values before (and, not clashing now, has since been ended or corrected)."""
        sequence = 1
        while True:
            key = mapping_id(tenant, kind, internal, market, valid_from, sequence)
            if not self.event_store.current_versions(tx, [key]):
                return sequence
            sequence += 1


def _key_text(tenant: str, key: str) -> str:
    """A mapping id as the views hold it; refused (not found) when it is not an id at all."""
    try:
        return str(UUID(key.strip()))
    except ValueError:
        raise _not_found(tenant, key) from None


def _not_found(tenant: str, key: str) -> NotFound:
    return NotFound(
        f"tenant {tenant!r} has no mapping {excerpt(key)}: ledger mappings list shows each "
        "mapping's id"
    )
