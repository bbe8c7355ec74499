"""Keeps the views up to date from the event log, exactly once, and rebuilds them from scratch.

Each view records the last notification it applied with the library's tracking recorder (the
ledger's :class:`~ledger.adapters.event_store.ViewTracking` adapter), under the view's name,
in the same transaction as its rows: a batch is applied whole or not at all, and never twice
(the library refuses to record a position already recorded). The runner pulls the log (SQLite
has no subscription), which works the same on both backends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import Mapper, Tracking

from ledger.adapters.event_store import EventStore, ViewTracking
from ledger.adapters.storage import Database, Tx
from ledger.domain.errors import LedgerError

BATCH_SIZE = 5000

# Where releases before schema version 2 kept the views' positions.
_EARLIER_TRACKING = "projection_tracking"


@dataclass(frozen=True)
class Verification:
    """Views built again from the log compared with the live ones: per view and table, the
    rows only the rebuilt table has and the rows only the live one has."""

    positions: dict[str, int]
    views: dict[str, dict[str, tuple[int, int]]]

    @property
    def equal(self) -> bool:
        return all(d == (0, 0) for tables in self.views.values() for d in tables.values())


@dataclass(frozen=True)
class Freshness:
    """The log position every view has applied, and the newest position in the log.

    Readers answer from the views as they stand: a view behind the log is reported, never
    waited for (a writer brings the views up to date before it returns).
    """

    position: int
    log_position: int

    @property
    def up_to_date(self) -> bool:
        return self.position >= self.log_position


class Projection(Protocol):
    """A view built from events: its tables, how it applies a batch, how it is emptied."""

    name: str

    @property
    def tables(self) -> tuple[str, ...]:
        """Every table the view writes (and only those)."""
        ...

    def create_tables(self, database: Database) -> None: ...

    def apply(self, tx: Tx, events: Sequence[tuple[int, Any]]) -> None: ...

    def clear(self, tx: Tx) -> None: ...


class ProjectionRunner:
    """Applies new events from the log to every view, batch by batch."""

    def __init__(
        self,
        database: Database,
        mapper: Mapper[UUID],
        projections: Sequence[Projection],
        *,
        event_store: EventStore,
        tracking: ViewTracking,
    ) -> None:
        self.database = database
        self.event_store = event_store
        self.tracking = tracking
        self.mapper = mapper
        self.projections = list(projections)

    def create_tables(self) -> None:
        """Every view's tables (part of the ledger's schema set-up; the library creates its
        tracking table), keeping the positions of a database set up by an earlier release."""
        for projection in self.projections:
            projection.create_tables(self.database)
        with self.database.transaction() as tx:
            self._adopt_positions_of_earlier_releases(tx)

    def _adopt_positions_of_earlier_releases(self, tx: Tx) -> None:
        """Releases before schema version 2 kept positions in ``projection_tracking``: move
        them to the library's table, or every view would apply the whole log a second time."""
        if not self.database.has_table(tx, _EARLIER_TRACKING):
            return
        self.tracking.serialise_views(tx)
        rows = tx.execute(f"SELECT projection, notification_id FROM {_EARLIER_TRACKING}").fetchall()
        current = self.positions(tx)
        for name, position in rows:
            if str(name) in current and int(position) > current[str(name)]:
                self.tracking.record(tx, Tracking(str(name), int(position)))
        tx.execute(f"DROP TABLE {_EARLIER_TRACKING}")

    def freshness(self, tx: Tx) -> Freshness:
        """How far the views have read the log, for a reader that must not wait for them."""
        position = min(self.positions(tx).values(), default=0)
        return Freshness(position, self.event_store.max_position(tx))

    def catch_up(self, *, batch_size: int = BATCH_SIZE) -> int:
        """Apply every event not yet applied; returns how many notifications were read."""
        # Look before taking the writer's lock: readers need not queue behind an ingestion
        # that is still writing (its events are invisible until it commits anyway).
        with self.database.transaction(write=False) as tx:
            if not self._behind(tx):
                return 0
        total = 0
        while True:
            with self.database.transaction() as tx:
                count = self._apply_batch(tx, batch_size)
            total += count
            if count < batch_size:
                return total

    def rebuild(self, views: Sequence[str] | None = None, *, batch_size: int = BATCH_SIZE) -> int:
        """Build the named views (every view by default) again from the log, into scratch
        tables, then switch them in. The long part runs on a snapshot without any lock:
        readers keep answering from the live views and writers carry on. The switch catches
        the scratch tables up with what was appended meanwhile and replaces the live rows, in
        one transaction under the runners' lock. Returns how many events were read."""
        chosen = self._chosen(views)
        tables = [table for p in chosen for table in p.tables]
        with self.database.session() as session:
            with session.transaction(write=False) as tx:
                self.tracking.shadow(tx, tables)
            try:
                with session.transaction(write=False, snapshot=True) as tx:
                    end = self.event_store.max_position(tx)
                    built, read = self._build(tx, chosen, 0, end, batch_size)
                with session.transaction() as tx:
                    self.tracking.serialise_views(tx)
                    head = self.event_store.max_position(tx)
                    reached, more = self._build(tx, chosen, built, head, batch_size)
                    self._switch(tx, chosen, reached)
            finally:
                with session.transaction(write=False) as tx:
                    self.tracking.unshadow(tx, tables)
        return read + more

    def _switch(self, tx: Tx, chosen: Sequence[Projection], position: int) -> None:
        """The live views become their scratch builds, at log position ``position``."""
        for projection in chosen:
            for table in projection.tables:
                self.tracking.adopt(tx, table)
        self.tracking.forget(tx, [p.name for p in chosen])
        if position:
            for projection in chosen:
                self.tracking.record(tx, Tracking(projection.name, position))

    def verify(self, *, batch_size: int = BATCH_SIZE) -> Verification:
        """Build every view again from the log into scratch tables and compare them with the
        live views, row for row, at the position the live views have reached (one snapshot;
        writers carry on meanwhile). Nothing live is written."""
        self.catch_up(batch_size=batch_size)
        with self.database.transaction(write=False, snapshot=True) as tx:
            positions = self.positions(tx)
            tables = [table for p in self.projections for table in p.tables]
            self.tracking.shadow(tx, tables)
            try:
                for projection in self.projections:
                    self._build(tx, [projection], 0, positions[projection.name], batch_size)
                views = {
                    p.name: {table: self.tracking.differences(tx, table) for table in p.tables}
                    for p in self.projections
                }
            finally:
                self.tracking.unshadow(tx, tables)
        return Verification(positions, views)

    def _build(
        self, tx: Tx, chosen: Sequence[Projection], start: int, end: int, batch_size: int
    ) -> tuple[int, int]:
        """Apply the log's events after ``start`` up to ``end`` to ``chosen`` (into whatever
        tables ``tx`` sees); the position reached and how many events were applied."""
        done, applied = start, 0
        while done < end:
            notifications = self.event_store.read_after(tx, done, batch_size)
            events = [(n.id, self.mapper.to_domain_event(n)) for n in notifications if n.id <= end]
            if not events:
                break
            for projection in chosen:
                projection.apply(tx, events)
            done, applied = events[-1][0], applied + len(events)
        return done, applied

    def _chosen(self, views: Sequence[str] | None) -> list[Projection]:
        if views is None:
            return self.projections
        known = {p.name: p for p in self.projections}
        unknown = [v for v in views if v not in known]
        if unknown:
            raise LedgerError(
                f"no view named {', '.join(unknown)}: the views are {', '.join(known)}"
            )
        return [known[v] for v in dict.fromkeys(views)]

    def _catch_up_in(self, tx: Tx, batch_size: int = BATCH_SIZE) -> int:
        """Apply every event not yet applied, inside ``tx``; returns how many were read."""
        total = 0
        while (count := self._apply_batch(tx, batch_size)) > 0:
            total += count
        return total

    def positions(self, tx: Tx) -> dict[str, int]:
        """The last log position each view applied, by view name."""
        return self.tracking.positions(tx, [p.name for p in self.projections])

    def _behind(self, tx: Tx) -> bool:
        start = min(self.positions(tx).values(), default=0)
        return self.event_store.max_position(tx) > start

    def _apply_batch(self, tx: Tx, batch_size: int) -> int:
        self.tracking.serialise_views(tx)
        positions = self.positions(tx)
        start = min(positions.values(), default=0)
        notifications = self.event_store.read_after(tx, start, batch_size)
        if not notifications:
            return 0
        to_event = self.mapper.to_domain_event
        events = [(n.id, to_event(n)) for n in notifications]
        last = events[-1][0]
        for projection in self.projections:
            position = positions[projection.name]
            # Usually every view is at the same position: no need to filter.
            todo = events if events[0][0] > position else [e for e in events if e[0] > position]
            if todo:
                projection.apply(tx, todo)
            if last > position:
                self.tracking.record(tx, Tracking(projection.name, last))
        return len(notifications)


class InlineViews:
    """The views kept current by a writer inside its own transaction, as it appends.

    A writer holding the append lock takes the runners' lock, brings the views to the head of
    the log (a normal catch-up, in its transaction), then hands over each group of events it
    appends, as the objects it encoded: they are applied and tracked without being read back
    and decoded. Under the lock every event after the head known at the start is this
    writer's, in the order it appended them; but their positions need not be consecutive (on
    PostgreSQL a number taken by an append that rolled back is never used, and a restart
    skips the sequence's cached numbers), so each event is numbered by the position it really
    got: by counting when the group spans exactly as many positions as it has events, else
    by reading its positions back from the log. If the log holds other than that group after
    the known head (checked, never assumed), following stops and the events are left to the
    ordinary catch-up after commit. Everything commits or rolls back with the writer's own
    transaction, so an event is still applied exactly once.
    """

    def __init__(self, runner: ProjectionRunner, tx: Tx) -> None:
        self._runner = runner
        runner.tracking.serialise_views(tx)
        runner._catch_up_in(tx)
        self._position: int | None = runner.event_store.max_position(tx)

    def follow(self, tx: Tx, events: Sequence[Any]) -> None:
        """Apply ``events``, just appended in ``tx`` in this order, to every view."""
        if self._position is None or not events:
            return
        positions = self._positions(tx, self._position, len(events))
        if positions is None:
            self._position = None  # not this group alone: leave it to the catch-up
            return
        runner = self._runner
        numbered = list(zip(positions, events, strict=True))
        end = positions[-1]
        for projection in runner.projections:
            projection.apply(tx, numbered)
            runner.tracking.record(tx, Tracking(projection.name, end))
        self._position = end

    def _positions(self, tx: Tx, head: int, count: int) -> Sequence[int] | None:
        """The positions of the ``count`` events appended after ``head``, in append order;
        None when the log holds more or fewer events than that after ``head``."""
        store = self._runner.event_store
        end = store.max_position(tx)
        if end - head == count:
            # As many positions as events, each taken once: they are consecutive.
            return range(head + 1, end + 1)
        # One more than expected, to see a surprise rather than miss it.
        found = store.positions_after(tx, head, count + 1)
        return found if len(found) == count else None
