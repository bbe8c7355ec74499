"""The event store on PostgreSQL: the library's application recorder, plus the ledger's bulk
append (binary ``COPY``), version look-up and log reading inside the ledger's transactions.

Everything here names the library's own table in the library's own schema
(``POSTGRES_SCHEMA``), takes the library's own table lock and sends the library's own
notification, so appends by the ledger and by the library are ordered alike and wake the same
subscribers.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import Notification, Tracking
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresTrackingRecorder,
)
from psycopg.rows import DictRow, dict_row
from psycopg.sql import SQL, Identifier, Literal

from ledger.adapters.event_store import AppendWaiter, EventRow, EventStore, RunRow, ViewTracking
from ledger.domain.errors import ConfigurationError

if TYPE_CHECKING:
    from ledger.adapters.storage import Tx

# The events table's columns as the library creates them (``notification_id`` is a bigserial).
_COPY_TYPES = ["uuid", "int8", "text", "bytea"]
# The run index's: a run number is an SAA run number or, for values from no settlement run,
# an instant written as YYYYMMDDHHMMSS (schema 6 widened it to bigint).
_RUN_TYPES = ["uuid", "text", "int8", "int4", "text"]


class PostgresEventStore(PostgresApplicationRecorder, EventStore):
    """The library's PostgreSQL application recorder, usable inside the ledger's transactions."""

    def __init__(
        self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events"
    ) -> None:
        if datastore.originator_id_type != "uuid":
            # The bulk append writes, and the version look-up compares, binary UUIDs.
            raise ConfigurationError(
                f"ORIGINATOR_ID_TYPE={datastore.originator_id_type!r}: the ledger's aggregate ids "
                "are UUIDs; unset ORIGINATOR_ID_TYPE or set it to uuid"
            )
        if datastore.enable_db_functions:
            # The library's insert function appends without its table lock: appends would not
            # be numbered in commit order (a reader could skip an event), and a hold made
            # through it could come between a document's reading of the period and its events.
            raise ConfigurationError(
                "POSTGRES_ENABLE_DB_FUNCTIONS is set: the library then appends without its "
                "table lock, which the ledger relies on; unset it"
            )
        super().__init__(datastore, events_table_name=events_table_name)
        # The library qualifies its table with its schema in every statement; so do these.
        self._table = Identifier(datastore.schema, events_table_name)
        self._copy = SQL(
            "COPY {} (originator_id, originator_version, topic, state) FROM STDIN (FORMAT BINARY)"
        ).format(self._table)
        self._versions = SQL(
            "SELECT originator_id, max(originator_version) FROM {}"
            " WHERE originator_id = ANY(%s::uuid[]) GROUP BY originator_id"
        ).format(self._table)
        self._after = SQL(
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {}"
            " WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(self._table)
        self._positions_after = SQL(
            "SELECT notification_id FROM {} WHERE notification_id > %s"
            " ORDER BY notification_id LIMIT %s"
        ).format(self._table)
        # The run index beside the events table, created with it by the library's own
        # create_table (its statements list), in the same schema.
        runs = Identifier(datastore.schema, f"{events_table_name}_runs")
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {} (originator_id uuid NOT NULL,"
                " run_type text NOT NULL, run_number bigint NOT NULL,"
                " originator_version integer NOT NULL, values_digest text NOT NULL,"
                " PRIMARY KEY (originator_id, run_type, run_number, originator_version))"
            ).format(runs)
        )
        # A run index created before schema 6 has integer run numbers: widened once.
        self.sql_create_statements.append(
            SQL(
                "DO $$ BEGIN IF EXISTS (SELECT 1 FROM information_schema.columns"
                " WHERE table_schema = {} AND table_name = {} AND column_name = 'run_number'"
                " AND data_type = 'integer') THEN"
                " ALTER TABLE {} ALTER COLUMN run_number TYPE bigint; END IF; END $$"
            ).format(
                Literal(datastore.schema or "public"), Literal(f"{events_table_name}_runs"), runs
            )
        )
        self._run_versions = SQL(
            "SELECT originator_id, originator_version, values_digest FROM {}"
            " WHERE originator_id = ANY(%s::uuid[]) AND run_type = %s AND run_number = %s"
        ).format(runs)
        self._copy_runs = SQL(
            "COPY {} (originator_id, run_type, run_number, originator_version, values_digest)"
            " FROM STDIN (FORMAT BINARY)"
        ).format(runs)

    @property
    def events_table(self) -> str:
        return self._table.as_string()

    def lock_for_append(self, tx: Tx) -> None:
        with _cursor(tx) as cursor:
            # The library's own statements: its lock timeout (POSTGRES_LOCK_TIMEOUT), then
            # LOCK TABLE ... IN EXCLUSIVE MODE, held until the ledger's transaction ends.
            self._lock_table(cursor)

    def append_rows(self, tx: Tx, rows: Iterable[EventRow]) -> None:
        with _cursor(tx) as cursor:
            # Lock before the sequence numbers the rows, as the library's own append does
            # (free when this transaction holds the lock already).
            self._lock_table(cursor)
            with cursor.copy(self._copy) as copy:
                copy.set_types(_COPY_TYPES)
                for row in rows:
                    copy.write_row(row)
            # Delivered on commit (never on rollback), once however many batches sent it.
            self._notify_channel(cursor)

    def current_versions(self, tx: Tx, ids: Sequence[UUID]) -> dict[UUID, int]:
        with _cursor(tx) as cursor:
            cursor.execute(self._versions, (_uuid_array(ids),))
            return {oid: int(version) for oid, version in cursor.fetchall()}

    def run_versions(
        self, tx: Tx, ids: Sequence[UUID], run_type: str, run_number: int
    ) -> dict[UUID, list[tuple[int, str]]]:
        found: dict[UUID, list[tuple[int, str]]] = {}
        with _cursor(tx) as cursor:
            cursor.execute(self._run_versions, (_uuid_array(ids), run_type, run_number))
            for oid, version, digest in cursor.fetchall():
                found.setdefault(oid, []).append((int(version), str(digest)))
        return found

    def record_runs(self, tx: Tx, rows: Iterable[RunRow]) -> None:
        with _cursor(tx) as cursor, cursor.copy(self._copy_runs) as copy:
            copy.set_types(_RUN_TYPES)
            for row in rows:
                copy.write_row(row)

    def read_after(self, tx: Tx, position: int, limit: int) -> list[Notification]:
        with _cursor(tx) as cursor:
            # Binary results: bytea arrives as it is stored, not as hex text to decode.
            cursor.execute(self._after, (position, limit), binary=True)
            return [
                Notification(
                    id=nid,
                    originator_id=oid,
                    originator_version=version,
                    topic=topic,
                    state=bytes(state),
                )
                for nid, oid, version, topic, state in cursor.fetchall()
            ]

    def positions_after(self, tx: Tx, position: int, limit: int) -> list[int]:
        with _cursor(tx) as cursor:
            cursor.execute(self._positions_after, (position, limit))
            return [int(nid) for (nid,) in cursor.fetchall()]

    def max_position(self, tx: Tx) -> int:
        with _cursor(tx) as cursor:
            cursor.execute(self.max_notification_id_statement)
            row = cursor.fetchone()
        return 0 if row is None or row[0] is None else int(row[0])

    @contextmanager
    def appends(self) -> Iterator[AppendWaiter]:
        # The library's own channel (every append, the library's and the ledger's, notifies
        # it on commit), on a connection of the library's pool (autocommit), as its own
        # subscriptions listen.
        with self.datastore.pool.connection() as conn:
            conn.execute(SQL("LISTEN {}").format(Identifier(self.channel_name)))
            try:
                yield _Notifications(conn)
            finally:
                conn.execute("UNLISTEN *")


class _Notifications:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def wait(self, timeout: float) -> bool:
        return any(True for _ in self._conn.notifies(timeout=timeout, stop_after=1))


class PostgresViewTracking(PostgresTrackingRecorder, ViewTracking):
    """The library's PostgreSQL tracking recorder (its table, ``<application>_tracking`` in
    ``POSTGRES_SCHEMA``, and its statements), usable inside the ledger's transactions."""

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        tracking_table_name: str = "notification_tracking",
        **kwargs: Any,
    ) -> None:
        super().__init__(datastore, tracking_table_name=tracking_table_name, **kwargs)
        table = Identifier(datastore.schema, tracking_table_name)
        self.tracking_table = table.as_string()
        # EXCLUSIVE mode lets plain reads of the positions through (ACCESS SHARE).
        self._serialise = SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(table)
        self._forget = SQL("DELETE FROM {} WHERE application_name = ANY(%s)").format(table)
        self._schema = datastore.schema

    def serialise_views(self, tx: Tx) -> None:
        with _cursor(tx) as cursor:
            cursor.execute(self._serialise)

    def positions(self, tx: Tx, names: Sequence[str]) -> dict[str, int]:
        with _dict_cursor(tx) as cursor:
            return {name: self._max_tracking_id(name, cursor) or 0 for name in names}

    def record(self, tx: Tx, tracking: Tracking) -> None:
        with _dict_cursor(tx) as cursor:
            self._insert_tracking(cursor, tracking)

    def forget(self, tx: Tx, names: Sequence[str]) -> None:
        with _cursor(tx) as cursor:
            cursor.execute(self._forget, (list(names),))

    def shadow(self, tx: Tx, tables: Sequence[str]) -> None:
        # PostgreSQL looks in the session's temporary schema first: the copies shadow the
        # live tables (columns, keys and indexes alike) until dropped.
        with _cursor(tx) as cursor:
            for table in tables:
                cursor.execute(
                    SQL("CREATE TEMPORARY TABLE {} (LIKE {} INCLUDING ALL)").format(
                        Identifier(table), Identifier(self._schema, table)
                    )
                )
            # A statement psycopg prepared earlier on this pooled connection still names the
            # live table when the temporary schema already existed (PostgreSQL re-plans it
            # only when the search path changes): drop them (psycopg clears its cache too).
            cursor.execute("DEALLOCATE ALL")

    def differences(self, tx: Tx, table: str) -> tuple[int, int]:
        scratch, live = Identifier("pg_temp", table), Identifier(self._schema, table)
        found = []
        with _cursor(tx) as cursor:
            for first, second in ((scratch, live), (live, scratch)):
                cursor.execute(
                    SQL(
                        "SELECT count(*) FROM (SELECT * FROM {} EXCEPT ALL SELECT * FROM {}) d"
                    ).format(first, second)
                )
                row = cursor.fetchone()
                found.append(0 if row is None else int(row[0]))
        return found[0], found[1]

    def adopt(self, tx: Tx, table: str) -> None:
        live, scratch = Identifier(self._schema, table), Identifier("pg_temp", table)
        with _cursor(tx) as cursor:
            cursor.execute(SQL("DELETE FROM {}").format(live))
            cursor.execute(SQL("INSERT INTO {} SELECT * FROM {}").format(live, scratch))

    def unshadow(self, tx: Tx, tables: Sequence[str]) -> None:
        with _cursor(tx) as cursor:
            for table in tables:
                cursor.execute(SQL("DROP TABLE {}").format(Identifier("pg_temp", table)))


def _uuid_array(ids: Sequence[UUID]) -> str:
    """``ids`` as a PostgreSQL array literal: written in one join, a batch's 2,000 ids cost a
    tenth of what dumping them element by element as a list does."""
    return "{" + ",".join([key.hex for key in ids]) + "}"


def _dict_cursor(tx: Tx) -> psycopg.Cursor[DictRow]:
    """A cursor giving rows as dicts, as the library's own statements read them."""
    return _cursor(tx).connection.cursor(row_factory=dict_row)


def _cursor(tx: Tx) -> psycopg.Cursor[Any]:
    cursor = tx.cursor()
    assert isinstance(cursor, psycopg.Cursor), "a PostgreSQL event store needs a PostgreSQL Tx"
    return cursor
