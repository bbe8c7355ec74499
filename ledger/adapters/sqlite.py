"""The event store on SQLite: the library's application recorder, plus the ledger's bulk
append, version look-up and log reading inside the ledger's transactions.

The library's SQLite recorder keeps aggregate ids as hex text and numbers the log by the
table's ``rowid`` (its notification id); so does everything here.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from typing import TYPE_CHECKING
from uuid import UUID

from eventsourcing.persistence import Notification, Tracking
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteTrackingRecorder,
)

from ledger.adapters.event_store import AppendWaiter, EventRow, EventStore, RunRow, ViewTracking
from ledger.domain.errors import ConfigurationError

if TYPE_CHECKING:
    from ledger.adapters.storage import Tx

# SQLite before 3.32 allows 999 parameters per statement; batches of ids stay well below.
_IN_LIMIT = 500


class SQLiteEventStore(SQLiteApplicationRecorder, EventStore):
    """The library's SQLite application recorder, usable inside the ledger's transactions."""

    def __init__(
        self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"
    ) -> None:
        if datastore.originator_id_type != "uuid":
            # Ids are written as UUID hex and read back as UUIDs.
            raise ConfigurationError(
                f"ORIGINATOR_ID_TYPE={datastore.originator_id_type!r}: the ledger's aggregate ids "
                "are UUIDs; unset ORIGINATOR_ID_TYPE or set it to uuid"
            )
        super().__init__(datastore, events_table_name)
        table = self.events_table_name
        self._after = (
            "SELECT rowid, originator_id, originator_version, topic, state"
            f" FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?"
        )
        self._positions_after = f"SELECT rowid FROM {table} WHERE rowid > ? ORDER BY rowid LIMIT ?"
        self._versions = (
            f"SELECT originator_id, max(originator_version) FROM {table}"
            " WHERE originator_id IN ({marks}) GROUP BY originator_id"
        )
        self._run_versions = (
            f"SELECT originator_id, originator_version, values_digest FROM {self._runs}"
            " WHERE run_type = ? AND run_number = ? AND originator_id IN ({marks})"
        )

    @property
    def _runs(self) -> str:
        """The run index beside the events table (the library names its table first)."""
        return f"{self.events_table_name}_runs"

    def construct_create_table_statements(self) -> list[str]:
        """The library's tables, and the run index beside its events table."""
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {self._runs} (originator_id TEXT NOT NULL,"
            " run_type TEXT NOT NULL, run_number INTEGER NOT NULL,"
            " originator_version INTEGER NOT NULL, values_digest TEXT NOT NULL,"
            " PRIMARY KEY (originator_id, run_type, run_number, originator_version))",
        ]

    @property
    def events_table(self) -> str:
        return self.events_table_name

    def lock_for_append(self, tx: Tx) -> None:
        """Nothing to take: the ledger's writing transactions begin with ``BEGIN IMMEDIATE``,
        SQLite's single write lock, which the library's own writers wait for too."""

    def append_rows(self, tx: Tx, rows: Iterable[EventRow]) -> None:
        with _cursor(tx) as cursor:
            # The library's own INSERT, with ids as hex text as the library writes them.
            cursor.executemany(
                self.insert_events_statement, ((k.hex, v, t, s) for k, v, t, s in rows)
            )

    def current_versions(self, tx: Tx, ids: Sequence[UUID]) -> dict[UUID, int]:
        found: dict[UUID, int] = {}
        with _cursor(tx) as cursor:
            for start in range(0, len(ids), _IN_LIMIT):
                part = ids[start : start + _IN_LIMIT]
                marks = ", ".join("?" for _ in part)
                cursor.execute(self._versions.format(marks=marks), [k.hex for k in part])
                for oid, version in cursor.fetchall():
                    found[UUID(oid)] = int(version)
        return found

    def run_versions(
        self, tx: Tx, ids: Sequence[UUID], run_type: str, run_number: int
    ) -> dict[UUID, list[tuple[int, str]]]:
        found: dict[UUID, list[tuple[int, str]]] = {}
        with _cursor(tx) as cursor:
            for start in range(0, len(ids), _IN_LIMIT):
                part = ids[start : start + _IN_LIMIT]
                marks = ", ".join("?" for _ in part)
                statement = self._run_versions.format(marks=marks)
                cursor.execute(statement, [run_type, run_number, *(k.hex for k in part)])
                for oid, version, digest in cursor.fetchall():
                    found.setdefault(UUID(oid), []).append((int(version), str(digest)))
        return found

    def record_runs(self, tx: Tx, rows: Iterable[RunRow]) -> None:
        with _cursor(tx) as cursor:
            cursor.executemany(
                f"INSERT INTO {self._runs} (originator_id, run_type, run_number,"
                " originator_version, values_digest) VALUES (?, ?, ?, ?, ?)",
                ((k.hex, t, n, v, d) for k, t, n, v, d in rows),
            )

    def read_after(self, tx: Tx, position: int, limit: int) -> list[Notification]:
        with _cursor(tx) as cursor:
            cursor.execute(self._after, (position, limit))
            return [
                Notification(
                    id=nid,
                    originator_id=self.convert_originator_id(oid),
                    originator_version=version,
                    topic=topic,
                    state=state,
                )
                for nid, oid, version, topic, state in cursor.fetchall()
            ]

    def positions_after(self, tx: Tx, position: int, limit: int) -> list[int]:
        with _cursor(tx) as cursor:
            cursor.execute(self._positions_after, (position, limit))
            return [int(nid) for (nid,) in cursor.fetchall()]

    def max_position(self, tx: Tx) -> int:
        with _cursor(tx) as cursor:
            cursor.execute(self.select_max_notification_id_statement)
            row = cursor.fetchone()
        return 0 if row is None or row[0] is None else int(row[0])

    @contextmanager
    def appends(self) -> Iterator[AppendWaiter]:
        # SQLite notifies nobody: a follower polls, waking at each timeout.
        yield _Polling()


class _Polling:
    def __init__(self) -> None:
        self._never = threading.Event()

    def wait(self, timeout: float) -> bool:
        self._never.wait(timeout)
        return False


class SQLiteViewTracking(SQLiteTrackingRecorder, ViewTracking):
    """The library's SQLite tracking recorder (its ``tracking`` table and its statements),
    usable inside the ledger's transactions."""

    def serialise_views(self, tx: Tx) -> None:
        """Nothing to take: the ledger's writing transactions begin with ``BEGIN IMMEDIATE``,
        which already admits one runner at a time."""

    def positions(self, tx: Tx, names: Sequence[str]) -> dict[str, int]:
        with _cursor(tx) as cursor:
            library = SQLiteCursor(cursor)
            return {name: self._max_tracking_id(name, library) or 0 for name in names}

    def record(self, tx: Tx, tracking: Tracking) -> None:
        with _cursor(tx) as cursor:
            self._insert_tracking(SQLiteCursor(cursor), tracking)

    def forget(self, tx: Tx, names: Sequence[str]) -> None:
        marks = ", ".join("?" for _ in names)
        with _cursor(tx) as cursor:
            cursor.execute(f"DELETE FROM tracking WHERE application_name IN ({marks})", names)

    def shadow(self, tx: Tx, tables: Sequence[str]) -> None:
        # SQLite looks in the connection's temp schema first: copies made there from each
        # table's and index's own CREATE statement shadow the live tables until dropped.
        with _cursor(tx) as cursor:
            for table in tables:
                cursor.execute(
                    "SELECT type, sql FROM main.sqlite_master WHERE tbl_name = ?"
                    " AND sql IS NOT NULL ORDER BY type = 'index'",
                    (table,),
                )
                for kind, sql in cursor.fetchall():
                    cursor.execute(_temporary(kind, sql))

    def differences(self, tx: Tx, table: str) -> tuple[int, int]:
        found = []
        with _cursor(tx) as cursor:
            for first, second in (("temp", "main"), ("main", "temp")):
                cursor.execute(
                    f"SELECT count(*) FROM (SELECT * FROM {first}.{table}"
                    f" EXCEPT SELECT * FROM {second}.{table})"
                )
                found.append(int(cursor.fetchone()[0]))
        return found[0], found[1]

    def adopt(self, tx: Tx, table: str) -> None:
        with _cursor(tx) as cursor:
            cursor.execute(f"DELETE FROM main.{table}")
            cursor.execute(f"INSERT INTO main.{table} SELECT * FROM temp.{table}")

    def unshadow(self, tx: Tx, tables: Sequence[str]) -> None:
        with _cursor(tx) as cursor:
            for table in tables:
                cursor.execute(f"DROP TABLE temp.{table}")


# The head of a table's or index's CREATE statement as SQLite keeps it.
_CREATE = re.compile(
    r"^\s*CREATE\s+(UNIQUE\s+)?(TABLE|INDEX)\s+(IF\s+NOT\s+EXISTS\s+)?", re.IGNORECASE
)


def _temporary(kind: str, sql: str) -> str:
    """A table's or index's CREATE statement, made to create it in the temp schema."""
    match = _CREATE.match(sql)
    assert match is not None, f"unexpected schema statement: {sql[:60]}"
    rest = sql[match.end() :]
    if kind == "table":
        return f"CREATE TEMP TABLE {rest}"
    return f"CREATE {match.group(1) or ''}INDEX temp.{rest}"


@contextmanager
def _cursor(tx: Tx) -> Iterator[sqlite3.Cursor]:
    cursor = tx.cursor()
    assert isinstance(cursor, sqlite3.Cursor), "a SQLite event store needs a SQLite Tx"
    with closing(cursor):
        yield cursor
