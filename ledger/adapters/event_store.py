"""The event store as the ledger uses it: the library's application recorder, plus what bulk
ingestion and the views need inside the ledger's own transactions.

The eventsourcing library's recorder opens a transaction per call on connections of its own.
The ledger also writes whole files of events, and reads the log for its views, inside its own
transactions (:class:`~ledger.adapters.storage.Tx`), together with its own tables. One adapter
per backend (``ledger.adapters.postgres``, ``ledger.adapters.sqlite``) subclasses the library's
recorder and adds those operations, built from the recorder's own table name, lock and
notification, so the library and the ledger always agree on where events are and how appends
are ordered. The library constructs the adapter itself (its ``APPLICATION_RECORDER_TOPIC``
setting), so the application's recorder *is* the adapter.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol
from uuid import UUID

from eventsourcing.persistence import Notification, Tracking

if TYPE_CHECKING:
    # Annotations only: the storage module imports the adapters to name them to the library.
    from ledger.adapters.storage import Tx

# A stored event as the ledger appends it in bulk: aggregate id, version, topic, state.
EventRow = tuple[UUID, int, str, bytes]
# A run's version of a period, as the run index keeps it: aggregate id, run type, SAA run
# number, the version, and the digest of its values.
RunRow = tuple[UUID, str, int, int, str]


class AppendWaiter(Protocol):
    """Wakes a process that keeps the views current when events are appended."""

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for an append; whether one was signalled (a False
        means "look anyway": a backend without notifications only polls)."""
        ...


class EventStore(ABC):
    """What the ledger does with the event log inside its own open transaction."""

    @property
    @abstractmethod
    def events_table(self) -> str:
        """The events table as SQL names it (schema-qualified and quoted on PostgreSQL)."""

    @abstractmethod
    def lock_for_append(self, tx: Tx) -> None:
        """Take the library's append lock in ``tx``, held until it ends: appends are then
        numbered in commit order, so a reader following the log never skips an event."""

    @abstractmethod
    def append_rows(self, tx: Tx, rows: Iterable[EventRow]) -> None:
        """Append stored-event rows in ``tx`` (taking the append lock if not yet held) and
        wake the library's subscribers when it commits."""

    @abstractmethod
    def current_versions(self, tx: Tx, ids: Sequence[UUID]) -> dict[UUID, int]:
        """The latest version of each aggregate in ``ids`` that has any event."""

    @abstractmethod
    def run_versions(
        self, tx: Tx, ids: Sequence[UUID], run_type: str, run_number: int
    ) -> dict[UUID, list[tuple[int, str]]]:
        """The versions (and values digests) that one run already gave each aggregate in
        ``ids``: the run index, kept beside the events, in the same transactions."""

    @abstractmethod
    def record_runs(self, tx: Tx, rows: Iterable[RunRow]) -> None:
        """Add versions to the run index, in ``tx`` (with the events that make them)."""

    @abstractmethod
    def read_after(self, tx: Tx, position: int, limit: int) -> list[Notification]:
        """Up to ``limit`` events after log position ``position``, in log order."""

    @abstractmethod
    def positions_after(self, tx: Tx, position: int, limit: int) -> list[int]:
        """The positions of up to ``limit`` events after ``position``, ascending (positions
        have gaps: a number an append took is lost when its transaction rolls back)."""

    @abstractmethod
    def max_position(self, tx: Tx) -> int:
        """The position of the newest event in the log (0 when it is empty)."""

    @abstractmethod
    def appends(self) -> AbstractContextManager[AppendWaiter]:
        """Listen for appends (by any process) while the block lasts."""


class ViewTracking(ABC):
    """Where each view records the last log position it applied: the library's tracking
    recorder, used inside the ledger's transaction that writes the view's rows, so a batch is
    applied and tracked together or not at all (the library's own ``Tracking`` objects, its
    table and its statements, which refuse to record a position twice or go backwards)."""

    @abstractmethod
    def serialise_views(self, tx: Tx) -> None:
        """Hold, until ``tx`` ends, the lock that keeps two runners (catch-up or rebuild, in any
        process) from applying the same batch; readers of the positions never wait for it."""

    @abstractmethod
    def positions(self, tx: Tx, names: Sequence[str]) -> dict[str, int]:
        """The last position each named view applied (0 for one that has applied nothing)."""

    @abstractmethod
    def record(self, tx: Tx, tracking: Tracking) -> None:
        """Record in ``tx`` that a view has applied the log up to a position; raises the
        library's ``IntegrityError`` if it had already recorded that position or a later one."""

    @abstractmethod
    def forget(self, tx: Tx, names: Sequence[str]) -> None:
        """Forget the named views' positions (a rebuild applies the whole log again)."""

    @abstractmethod
    def shadow(self, tx: Tx, tables: Sequence[str]) -> None:
        """Scratch copies of the views' ``tables``, empty, with the same columns and indexes,
        private to ``tx`` and shadowing the live tables for it: statements in ``tx`` naming
        a table reach the copy, so a view is built by its own code into scratch tables."""

    @abstractmethod
    def differences(self, tx: Tx, table: str) -> tuple[int, int]:
        """Rows of the scratch copy of ``table`` that the live table lacks, and rows of the
        live table that the copy lacks."""

    @abstractmethod
    def adopt(self, tx: Tx, table: str) -> None:
        """Make the live ``table`` hold exactly the rows of its scratch copy (in ``tx``)."""

    @abstractmethod
    def unshadow(self, tx: Tx, tables: Sequence[str]) -> None:
        """Drop the scratch copies: ``tables`` name the live tables again."""
