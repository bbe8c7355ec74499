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

BATCH_SIZE = 5000

# Where releases before schema version 2 kept the views' positions.
_EARLIER_TRACKING = "projection_tracking"


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

    def rebuild(self, *, batch_size: int = BATCH_SIZE) -> int:
        """Empty every view and apply the whole log again, in one transaction."""
        with self.database.transaction() as tx:
            # Take the runners' lock before emptying the views: a runner catching up holds it
            # while it waits for rows this transaction deletes, which would deadlock.
            self.tracking.serialise_views(tx)
            for projection in self.projections:
                projection.clear(tx)
            self.tracking.forget(tx, [p.name for p in self.projections])
            return self._catch_up_in(tx, batch_size)

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
    and decoded. Appends under the lock are numbered consecutively after the head; if a group's
    numbers are not exactly that (checked, never assumed), following stops and the events are
    left to the ordinary catch-up after commit. Everything commits or rolls back with the
    writer's own transaction, so an event is still applied exactly once.
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
        runner = self._runner
        end = runner.event_store.max_position(tx)
        if end - self._position != len(events):
            self._position = None  # not the numbers expected: leave them to the catch-up
            return
        numbered = list(zip(range(self._position + 1, end + 1), events, strict=True))
        for projection in runner.projections:
            projection.apply(tx, numbered)
            runner.tracking.record(tx, Tracking(projection.name, end))
        self._position = end
