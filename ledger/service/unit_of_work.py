"""One write to the ledger: one transaction, under the event store's append lock, with the
views brought current inside it; what the command decides is appended and applied to the views
in that same transaction.

Under the lock no other writer, in this process or another, appends until the transaction ends
(the ledger's writers and the library's own ``Application.save`` take the same lock: on
PostgreSQL ``LOCK TABLE ... IN EXCLUSIVE MODE`` on the events table, on SQLite the single
write lock), so what a command reads from the views in it (a hold on a period, a clashing
mapping) is still so when its events commit. Appends under the lock are numbered in commit
order, so the log says which came first.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast
from uuid import UUID

import psycopg
from eventsourcing.domain import Aggregate

from ledger.adapters.storage import Tx
from ledger.domain.errors import LedgerBusy
from ledger.service.application import Ledger
from projections.runner import InlineViews, ProjectionRunner

# What the database says when an aggregate's version is appended twice: never expected under
# the append lock (every writer takes it), so reported as a busy ledger if it happens.
_APPENDED_ALREADY = (sqlite3.IntegrityError, psycopg.errors.UniqueViolation)


class Write:
    """A write in progress: its transaction (reads in it see the views current) and the
    appending of what the command decided."""

    def __init__(self, ledger: Ledger, tx: Tx, views: InlineViews) -> None:
        self._ledger = ledger
        self.tx = tx
        self._views = views

    def record(self, *aggregates: Aggregate) -> list[Any]:
        """Append the aggregates' new events and apply them to the views, in this transaction;
        the events, in the order appended."""
        events = [event for aggregate in aggregates for event in aggregate.collect_events()]
        to_stored = self._ledger.mapper.to_stored_event
        self._ledger.event_store.append_rows(
            self.tx,
            (
                (cast(UUID, s.originator_id), s.originator_version, s.topic, s.state)
                for s in map(to_stored, events)
            ),
        )
        self._views.follow(self.tx, events)
        return events


class UnitOfWork:
    """Opens writes on the ledger's database, keeping the views current inside each."""

    def __init__(self, ledger: Ledger, views: ProjectionRunner) -> None:
        self._ledger = ledger
        self._views = views

    @contextmanager
    def write(self, *, busy: str) -> Iterator[Write]:
        """A write: commits when the block ends normally, rolls back (nothing recorded)
        otherwise. ``busy`` says what to do should an append clash all the same."""
        try:
            with self._ledger.database.transaction() as tx:
                self._ledger.event_store.lock_for_append(tx)
                yield Write(self._ledger, tx, InlineViews(self._views, tx))
        except _APPENDED_ALREADY:
            raise LedgerBusy(busy) from None
