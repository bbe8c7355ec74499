"""Where the ledger keeps things: one database (SQLite or PostgreSQL) for events, bytes, views.

``LEDGER_DATABASE_URL`` selects it: ``sqlite:///path`` (the default, a file in the working
directory) or ``postgresql://user:password@host:port/dbname``.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import unquote, urlparse

import psycopg
from psycopg_pool import ConnectionPool

DEFAULT_DATABASE_URL = "sqlite:///ledger.db"

# Types that differ between the backends; everything else is portable SQL.
_TYPES = {
    "sqlite": {"DATE": "TEXT", "TS": "TEXT", "BYTES": "BLOB", "BIGINT": "INTEGER"},
    "postgres": {"DATE": "DATE", "TS": "TIMESTAMPTZ", "BYTES": "BYTEA", "BIGINT": "BIGINT"},
}


class DatabaseUrlError(ValueError):
    """The database URL is not one the ledger understands."""


def database_url_from_env() -> str:
    return os.environ.get("LEDGER_DATABASE_URL") or DEFAULT_DATABASE_URL


@lru_cache(maxsize=512)
def _pg_sql(sql: str) -> str:
    # The ledger writes SQL with qmark placeholders; psycopg wants %s.
    return sql.replace("?", "%s")


def utc_text(instant: datetime) -> str:
    """A fixed-width UTC text form that sorts in time order (SQLite stores instants so)."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")


def as_datetime(value: datetime | str) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def as_date(value: date | str) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


class Tx:
    """One open transaction: the small surface the ledger needs from either backend."""

    def __init__(self, kind: Literal["sqlite", "postgres"], conn: Any) -> None:
        self.kind = kind
        self._conn = conn
        self._cur = conn.cursor()

    def _sql(self, sql: str) -> str:
        return _pg_sql(sql) if self.kind == "postgres" else sql

    def _params(self, params: Sequence[Any]) -> Sequence[Any]:
        if self.kind == "postgres":
            return params
        return [_sqlite_value(p) for p in params]

    def execute(self, sql: str, params: Sequence[Any] = (), *, binary: bool = False) -> Tx:
        """Run one statement; ``binary`` asks PostgreSQL for binary results (cheaper bytea)."""
        if self.kind == "postgres":
            self._cur.execute(_pg_sql(sql), params, binary=binary)
        else:
            self._cur.execute(sql, self._params(params))
        return self

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        if self.kind == "postgres":
            self._cur.executemany(self._sql(sql), rows)
        else:
            self._cur.executemany(sql, (self._params(r) for r in rows))

    def fetchall(self) -> list[tuple[Any, ...]]:
        return list(self._cur.fetchall())

    def fetchone(self) -> tuple[Any, ...] | None:
        row = self._cur.fetchone()
        return None if row is None else tuple(row)

    def insert_rows(
        self,
        table: str,
        columns: Sequence[str],
        rows: Iterable[Sequence[Any]],
        *,
        pg_types: Sequence[str] | None = None,
    ) -> None:
        """Bulk insert: PostgreSQL's COPY (binary when the column types are given),
        SQLite's executemany."""
        cols = ", ".join(columns)
        if self.kind == "postgres":
            binary = " (FORMAT BINARY)" if pg_types else ""
            with self._cur.copy(f"COPY {table} ({cols}) FROM STDIN{binary}") as copy:
                if pg_types:
                    copy.set_types(list(pg_types))
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join("?" for _ in columns)
            self.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


class Database:
    """A connection factory for one ledger database, with the ledger's own tables."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or database_url_from_env()
        parsed = urlparse(self.url)
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None
        self._lock = threading.Lock()
        if parsed.scheme == "sqlite":
            # sqlite:///relative.db or sqlite:////absolute/path.db
            path = self.url[len("sqlite:///") :]
            if not path:
                raise DatabaseUrlError(f"{self.url!r} names no SQLite file")
            self.kind: Literal["sqlite", "postgres"] = "sqlite"
            self.sqlite_path = path
        elif parsed.scheme in ("postgresql", "postgres"):
            self.kind = "postgres"
            self.pg = {
                "dbname": unquote(parsed.path.lstrip("/")) or "postgres",
                "host": parsed.hostname or "127.0.0.1",
                "port": str(parsed.port or 5432),
                "user": unquote(parsed.username or "postgres"),
                "password": unquote(parsed.password or ""),
            }
        else:
            raise DatabaseUrlError(
                f"unsupported database URL {self.url!r}: use sqlite:///path or postgresql://..."
            )

    @property
    def types(self) -> dict[str, str]:
        return _TYPES[self.kind]

    def eventsourcing_env(self) -> dict[str, str]:
        """Settings for the eventsourcing library's infrastructure factory."""
        if self.kind == "sqlite":
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": self.sqlite_path,
                # Wait for a long ingestion as long as the ledger's own transactions do.
                "SQLITE_LOCK_TIMEOUT": "60",
            }
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": self.pg["dbname"],
            "POSTGRES_HOST": self.pg["host"],
            "POSTGRES_PORT": self.pg["port"],
            "POSTGRES_USER": self.pg["user"],
            "POSTGRES_PASSWORD": self.pg["password"],
            "POSTGRES_LOCK_TIMEOUT": "30",
        }

    def _pg_conninfo(self) -> str:
        return psycopg.conninfo.make_conninfo(**self.pg)

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Tx]:
        """A transaction that commits when the block ends normally and rolls back otherwise.

        SQLite writing transactions start with ``BEGIN IMMEDIATE`` so that writers queue up
        front rather than failing half way; reading ones do not wait for writers (WAL).
        """
        if self.kind == "sqlite":
            conn = sqlite3.connect(self.sqlite_path, isolation_level=None, timeout=60)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield Tx("sqlite", conn)
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
            finally:
                conn.close()
        else:
            with self._pg_pool().connection() as pg_conn, pg_conn.transaction():
                yield Tx("postgres", pg_conn)

    def _pg_pool(self) -> ConnectionPool[psycopg.Connection[Any]]:
        with self._lock:
            if self._pool is None:
                self._pool = ConnectionPool(
                    self._pg_conninfo(), min_size=1, max_size=8, open=True, timeout=30
                )
            return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
