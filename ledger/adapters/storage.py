"""Where the ledger keeps things: one database (SQLite or PostgreSQL) for events, bytes, views.

``LEDGER_DATABASE_URL`` selects it: ``sqlite:///path`` (the default, a file in the working
directory) or ``postgresql://user:password@host:port/dbname``. On PostgreSQL every table, the
event store's and the ledger's own, is in the eventsourcing library's schema
(``POSTGRES_SCHEMA``, default ``public``).
"""

from __future__ import annotations

import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import unquote, urlparse

import psycopg
from eventsourcing.utils import Environment, get_topic
from psycopg_pool import ConnectionPool, PoolTimeout

from ledger.adapters.postgres import PostgresEventStore, PostgresViewTracking
from ledger.adapters.sqlite import SQLiteEventStore, SQLiteViewTracking
from ledger.domain.errors import ConfigurationError

# The database was interrupted, lost or kept busy: nothing is wrong with what was asked, and
# whatever was committed is kept.
DATABASE_INTERRUPTIONS: tuple[type[Exception], ...] = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sqlite3.OperationalError,
    PoolTimeout,
)


def interruption_summary(exc: Exception) -> str:
    """The first line of a database interruption, for a one-line message."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


DEFAULT_DATABASE_URL = "sqlite:///ledger.db"
# How long a SQLite writer waits for another (seconds); readers never wait (WAL).
SQLITE_WAIT = 60.0
# How long a PostgreSQL writer waits for the event store's lock, held by another writer
# (whole seconds: the library's POSTGRES_LOCK_TIMEOUT, which the ledger's appends use too).
POSTGRES_LOCK_WAIT = 60
# PostgreSQL connections per process: readers and writers never compete for one. Writers
# queue on the event store's lock anyway, so a few suffice.
READ_POOL_SIZE = 8
WRITE_POOL_SIZE = 4
# How long a request waits for a free connection before it is refused as busy (seconds).
POOL_WAIT = 10.0
_SCHEMA_LOCK = 0x1ED6E5  # advisory lock key for schema set-up

# Types that differ between the backends; everything else is portable SQL.
_TYPES = {
    "sqlite": {"DATE": "TEXT", "TS": "TEXT", "BYTES": "BLOB", "BIGINT": "INTEGER"},
    "postgres": {"DATE": "DATE", "TS": "TIMESTAMPTZ", "BYTES": "BYTEA", "BIGINT": "BIGINT"},
}


class DatabaseUrlError(ConfigurationError, ValueError):
    """The database URL is not one the ledger understands."""


class NoLedger(ConfigurationError):
    """A command that only reads was pointed at a SQLite file that does not exist: there is
    no ledger there (and none is created for a read)."""


def database_url_from_env() -> str:
    return os.environ.get("LEDGER_DATABASE_URL") or DEFAULT_DATABASE_URL


# --- Checking the configuration ---------------------------------------------------------
# Messages name the setting (LEDGER_DATABASE_URL) and what to do; they never show a password.

# How long to wait for a PostgreSQL server to answer a new connection, in seconds (libpq's
# connect_timeout, whose minimum is 2): an unreachable server fails fast, not after 30 s.
CONNECT_TIMEOUT = 5
_SETTING = "LEDGER_DATABASE_URL"
_URL_FORMS = "sqlite:///path/to/ledger.db or postgresql://user@host:5432/dbname"


def shown_url(url: str) -> str:
    """``url`` as it may be shown in a message: any password replaced by ``***``."""
    parts = urlparse(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{parts.username or ''}:***@{netloc}").geturl()


def _sqlite_path(url: str, *, create: bool) -> str:
    """The file a ``sqlite:///...`` URL names, checked as far as can be without opening it;
    unless ``create``, it must exist already."""
    if not url.lower().startswith("sqlite:///"):
        rest = url.split(":", 1)[1].lstrip("/")
        raise DatabaseUrlError(
            f"{_SETTING}={url!r} is not a SQLite URL the ledger can use: write three slashes "
            f"after 'sqlite:', e.g. sqlite:///{rest or 'ledger.db'} for a file in the working "
            "directory or sqlite:////var/lib/ledger/ledger.db for an absolute path"
        )
    path = url[len("sqlite:///") :]
    if not path:
        raise DatabaseUrlError(
            f"{_SETTING}={url!r} names no SQLite file: write e.g. sqlite:///ledger.db"
        )
    if path.startswith("file:") or ":memory:" in path:
        raise DatabaseUrlError(
            f"{_SETTING}={url!r}: the ledger keeps its data in a SQLite file, not in memory "
            "or through a file: URI; name a file, e.g. sqlite:///ledger.db"
        )
    _check_sqlite_file(path, url)
    if not create and not os.path.exists(path):
        raise NoLedger(
            f"there is no ledger at {os.path.abspath(path)} ({_SETTING}={url!r}): nothing has "
            "been recorded there; ingest a file to create it (ledger ingest FILE), or point "
            f"{_SETTING} at an existing ledger"
        )
    return path


def _check_sqlite_file(path: str, url: str) -> None:
    """Refuse a SQLite file that could not be opened at all (a missing directory, ...)."""
    directory = os.path.dirname(os.path.abspath(path))
    where = f"{_SETTING}={url!r} names the SQLite file {path}"
    if not os.path.isdir(directory):
        raise ConfigurationError(
            f"{where}, but its directory {directory} does not exist: create the directory "
            f"or correct {_SETTING}"
        )
    if os.path.isdir(path):
        raise ConfigurationError(f"{where}, which is a directory: name a file inside it")
    if not os.path.exists(path) and not os.access(directory, os.W_OK | os.X_OK):
        raise ConfigurationError(
            f"{where}, which does not exist yet, and this user may not create files in "
            f"{directory}: create the database as a user who may, or choose another directory"
        )
    if os.path.exists(path) and not os.access(path, os.R_OK):
        raise ConfigurationError(
            f"{where}, which this user may not read: grant read access (and write access to "
            f"ingest) or point {_SETTING} at another file"
        )


def _pg_settings(url: str) -> dict[str, str]:
    """Connection settings from a ``postgresql://`` URL (``connect_timeout`` included)."""
    parsed = urlparse(url)
    try:
        port = parsed.port or 5432
    except ValueError:  # not a number, or out of range
        raise DatabaseUrlError(
            f"{_SETTING}={shown_url(url)!r} has no valid port: write a number from 1 to "
            "65535 after the host, e.g. postgresql://user@host:5432/dbname"
        ) from None
    return {
        "dbname": unquote(parsed.path.lstrip("/")) or "postgres",
        "host": parsed.hostname or "127.0.0.1",
        "port": str(port),
        "user": unquote(parsed.username or "postgres"),
        "password": unquote(parsed.password or ""),
        "connect_timeout": str(CONNECT_TIMEOUT),
    }


def _pg_problem(exc: psycopg.OperationalError, url: str, pg: dict[str, str]) -> str:
    """What a failed PostgreSQL connection means for the person who configured it."""
    # "connection failed: connection to server at "h", port 1 failed: Connection refused\n..."
    last = str(exc).strip().rsplit(" failed: ", 1)[-1]
    reason = " ".join(last.splitlines()[0].replace("FATAL:", "").split()) or "refused"
    server = f"{pg['host']}:{pg['port']}"
    if "does not exist" in reason and "database" in reason:
        action = f"create it (createdb -h {pg['host']} -p {pg['port']} {pg['dbname']}) or"
        action += f" correct the database name in {_SETTING}"
    elif "authentication" in reason or "role" in reason or "pg_hba" in reason:
        action = f"check the user name and password in {_SETTING}"
    else:
        action = f"check that PostgreSQL is running there and the host and port in {_SETTING}"
    return (
        f"cannot connect to the PostgreSQL database {pg['dbname']!r} on {server} "
        f"({_SETTING}={shown_url(url)!r}): {reason}; {action}"
    )


def _check_postgres(url: str, pg: dict[str, str], schema: PostgresSchema) -> None:
    """Connect once, so that a wrong URL fails now, clearly, and within CONNECT_TIMEOUT; and
    check that the schema the ledger is to use exists."""
    try:
        with psycopg.connect(psycopg.conninfo.make_conninfo(**pg)) as conn:
            # current_schema() is the first schema on the search path that exists, if any.
            row = conn.execute("SELECT current_schema()").fetchone()
    except psycopg.OperationalError as exc:
        raise ConfigurationError(_pg_problem(exc, url, pg)) from exc
    if row is None or row[0] != schema.name:
        where = f"the PostgreSQL database {pg['dbname']!r} on {pg['host']}:{pg['port']}"
        raise ConfigurationError(
            f"{schema.shown()} names a schema that {where} does not have: create it there "
            f"(CREATE SCHEMA {schema.name}) or set {schema.setting} to a schema that exists"
        )


# --- The PostgreSQL schema ----------------------------------------------------------------
# The eventsourcing library's own setting for the schema of its tables, read as the library
# reads it for the ledger application (named "ledger", as ``Ledger.name``): LEDGER_POSTGRES_SCHEMA
# first, then POSTGRES_SCHEMA. The ledger keeps its own tables in the same schema (it is each
# connection's search_path), so the one setting moves everything.
_SCHEMA_SETTING = "POSTGRES_SCHEMA"
_APPLICATION_NAME = "ledger"
# The library quotes the schema in its DDL but not in every later use (the cast to its
# composite type names it unquoted, so lower-cased): a name that needs quoting would start,
# then fail at the library's first append. Only a plain lower-case identifier works throughout.
_PLAIN_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@dataclass(frozen=True)
class PostgresSchema:
    """The schema of every table of the ledger on PostgreSQL, and the setting that chose it."""

    name: str
    setting: str  # the variable that named it (POSTGRES_SCHEMA when none did)
    given: bool  # whether that variable was set (else the library's default, public)

    def shown(self) -> str:
        if self.given:
            return f"{self.setting}={self.name!r}"
        return f"{self.setting} (unset, so {self.name!r})"


def postgres_schema_from_env() -> PostgresSchema:
    """The library's schema setting, checked: refused when the library could not use it."""
    for key in Environment(_APPLICATION_NAME).create_keys(_SCHEMA_SETTING):
        value = os.environ.get(key)
        if value is not None:
            # As the library reads it: blank means public.
            schema = PostgresSchema(value.strip() or "public", key, given=True)
            break
    else:
        schema = PostgresSchema("public", _SCHEMA_SETTING, given=False)
    if not _PLAIN_SCHEMA.fullmatch(schema.name):
        raise ConfigurationError(
            f"{schema.shown()} is not a schema name the ledger can use: write a lower-case "
            "name of letters, digits and underscores (at most 63), e.g. ledger"
        )
    return schema


def _sqlite_problem(exc: BaseException, url: str) -> str | None:
    """What a SQLite failure means for the person who configured it, if it is theirs to fix."""
    path = url[len("sqlite:///") :]
    text = str(exc)
    if "readonly database" in text or "read-only" in text:
        return (
            f"the SQLite database {path} ({_SETTING}) is read-only for this user, so nothing "
            "can be written to it: run this as a user who may write the file and its "
            f"directory, or point {_SETTING} at a writable copy"
        )
    if "unable to open database file" in text:
        return (
            f"cannot open the SQLite database {path} ({_SETTING}={url!r}): check that its "
            "directory exists and that this user may read and write the file and its directory"
        )
    if "file is not a database" in text:
        return (
            f"{path} ({_SETTING}={url!r}) is not a SQLite database: point {_SETTING} at the "
            "ledger's database file, or at a new file to start an empty ledger"
        )
    return None


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions it was raised from, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


@contextmanager
def translate_connection_errors(url: str | None = None) -> Iterator[None]:
    """Turns failures that a wrong configuration causes into :class:`ConfigurationError`.

    SQLite: a read-only file, one that cannot be opened, one that is not a database, even
    when wrapped (the eventsourcing library's errors, the ledger's own ``LedgerUnavailable``).
    PostgreSQL: a connection refused at connect (server, database, user); a connection lost
    later is not a configuration problem and passes through unchanged.
    """
    url = url or database_url_from_env()
    try:
        yield
    except ConfigurationError:
        raise
    except Exception as exc:
        for cause in _causes(exc):
            problem = None
            if isinstance(cause, sqlite3.Error) and url.lower().startswith("sqlite:"):
                problem = _sqlite_problem(cause, url)
            elif isinstance(cause, psycopg.OperationalError) and _at_connect(cause):
                problem = _pg_problem(cause, url, _pg_settings(url))
            if problem is not None:
                raise ConfigurationError(problem) from exc
        raise


def _at_connect(exc: psycopg.OperationalError) -> bool:
    """Whether a PostgreSQL error is a connection being refused (not a lost connection)."""
    text = str(exc)
    return "connection failed" in text or "failed to resolve host" in text


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

    def cursor(self) -> Any:
        """A new cursor of the driver's own in this transaction, for the event-store adapters
        (``ledger.adapters.postgres``, ``ledger.adapters.sqlite``), which run the library's
        own statements."""
        return self._conn.cursor()

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


class Session:
    """Transactions in turn on one connection (:meth:`Database.session`)."""

    def __init__(self, kind: Literal["sqlite", "postgres"], conn: Any) -> None:
        self.kind = kind
        self._conn = conn

    @contextmanager
    def transaction(self, *, write: bool = True, snapshot: bool = False) -> Iterator[Tx]:
        """As :meth:`Database.transaction`, on this session's connection."""
        if self.kind == "sqlite":
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            try:
                yield Tx("sqlite", conn)
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        else:
            with self._conn.transaction():
                if snapshot:
                    self._conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                yield Tx("postgres", self._conn)


class Database:
    """A connection factory for one ledger database, with the ledger's own tables."""

    def __init__(self, url: str | None = None, *, create: bool = True) -> None:
        """Checks the URL, and that the database can be reached, before anything is written.
        Unless ``create``, a SQLite file that does not exist is refused (:class:`NoLedger`)
        rather than created: a command that only reads never leaves an empty ledger behind.

        Raises :class:`~ledger.errors.ConfigurationError` (one line naming
        ``LEDGER_DATABASE_URL`` and what to do) for a URL the ledger cannot use, a SQLite
        file that cannot be opened, or a PostgreSQL server, database or user that refuses
        the connection (within ``CONNECT_TIMEOUT`` seconds); likewise (naming
        ``POSTGRES_SCHEMA``) for a PostgreSQL schema that is malformed or does not exist.
        """
        self.url = url or database_url_from_env()
        scheme = urlparse(self.url).scheme
        self._pools: dict[str, ConnectionPool[psycopg.Connection[Any]]] = {}
        self._lock = threading.Lock()
        if scheme == "sqlite":
            # sqlite:///relative.db or sqlite:////absolute/path.db
            self.kind: Literal["sqlite", "postgres"] = "sqlite"
            self.sqlite_path = _sqlite_path(self.url, create=create)
        elif scheme in ("postgresql", "postgres"):
            self.kind = "postgres"
            self.schema = postgres_schema_from_env()
            # The ledger's own tables go where the library's go (the name is a plain
            # identifier, checked, so it needs no quoting here).
            self.pg = _pg_settings(self.url) | {"options": f"-c search_path={self.schema.name}"}
            _check_postgres(self.url, self.pg, self.schema)
        else:
            raise DatabaseUrlError(
                f"{_SETTING}={shown_url(self.url)!r} is not a database the ledger can use: "
                f"write {_URL_FORMS}"
            )

    @property
    def types(self) -> dict[str, str]:
        return _TYPES[self.kind]

    def has_table(self, tx: Tx, name: str) -> bool:
        """Whether the ledger's schema (``POSTGRES_SCHEMA`` on PostgreSQL) has table ``name``."""
        if self.kind == "sqlite":
            found = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
        else:
            found = (
                "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema AND tablename = ?"
            )
        row = tx.execute(found, (name,)).fetchone()
        return row is not None and int(row[0]) > 0

    def has_column(self, tx: Tx, table: str, column: str) -> bool:
        """Whether table ``table`` of the ledger's schema has column ``column`` (a table set
        up by an earlier release may lack a column added since)."""
        if self.kind == "sqlite":
            # PRAGMA takes no parameters: the table's name is the ledger's own, never input.
            rows = tx.execute(f"PRAGMA table_info({table})").fetchall()
            return any(row[1] == column for row in rows)
        row = tx.execute(
            "SELECT count(*) FROM information_schema.columns WHERE table_schema = current_schema"
            " AND table_name = ? AND column_name = ?",
            (table, column),
        ).fetchone()
        return row is not None and int(row[0]) > 0

    def widen_to_bigint(self, tx: Tx, table: str, column: str) -> None:
        """Make an integer column of a table set up by an earlier release a 64-bit one (on
        PostgreSQL; SQLite's integers are 64-bit already). A no-op once done."""
        if self.kind == "sqlite":
            return
        row = tx.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema"
            " AND table_name = ? AND column_name = ?",
            (table, column),
        ).fetchone()
        if row is not None and row[0] == "integer":
            # The names are the ledger's own, never input.
            tx.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE bigint")

    def eventsourcing_env(self) -> dict[str, str]:
        """Settings for the eventsourcing library's infrastructure factory."""
        if self.kind == "sqlite":
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                # The library constructs the ledger's adapter as the application's recorder.
                "APPLICATION_RECORDER_TOPIC": get_topic(SQLiteEventStore),
                # And the views' positions are kept by the ledger's tracking adapter.
                "TRACKING_RECORDER_TOPIC": get_topic(SQLiteViewTracking),
                "SQLITE_DBNAME": self.sqlite_path,
                # Wait for a long ingestion as long as the ledger's own transactions do.
                "SQLITE_LOCK_TIMEOUT": "60",
            }
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "APPLICATION_RECORDER_TOPIC": get_topic(PostgresEventStore),
            "TRACKING_RECORDER_TOPIC": get_topic(PostgresViewTracking),
            "POSTGRES_DBNAME": self.pg["dbname"],
            "POSTGRES_HOST": self.pg["host"],
            "POSTGRES_PORT": self.pg["port"],
            "POSTGRES_USER": self.pg["user"],
            "POSTGRES_PASSWORD": self.pg["password"],
            "POSTGRES_SCHEMA": self.schema.name,
            "POSTGRES_LOCK_TIMEOUT": str(POSTGRES_LOCK_WAIT),
            # The library's own connections fail as fast as the ledger's (its default is 30 s).
            "POSTGRES_CONNECT_TIMEOUT": str(CONNECT_TIMEOUT),
        }

    def _pg_conninfo(self) -> str:
        return psycopg.conninfo.make_conninfo(**self.pg)

    @contextmanager
    def transaction(self, *, write: bool = True, snapshot: bool = False) -> Iterator[Tx]:
        """A transaction that commits when the block ends normally and rolls back otherwise.

        SQLite writing transactions start with ``BEGIN IMMEDIATE`` so that writers queue up
        front rather than failing half way; reading ones never wait for writers (WAL). On
        PostgreSQL, readers and writers draw from separate pools, so a queue of large
        ingestions never leaves a reader without a connection. ``snapshot``: every statement
        sees the same committed state (PostgreSQL's REPEATABLE READ; a SQLite transaction
        always reads one snapshot).
        """
        with (
            self.session(write=write) as session,
            session.transaction(write=write, snapshot=snapshot) as tx,
        ):
            yield tx

    @contextmanager
    def session(self, *, write: bool = True) -> Iterator[Session]:
        """One connection for several transactions in turn (what one leaves in the
        connection's temporary tables, the next sees); closed or returned to its pool after."""
        if self.kind == "sqlite":
            # A session is used by one thread at a time, though not always the one that
            # opened it (a writer's database work runs behind it in a thread of its own).
            conn = sqlite3.connect(
                self.sqlite_path,
                isolation_level=None,
                timeout=SQLITE_WAIT,
                check_same_thread=False,
            )
            try:
                yield Session("sqlite", conn)
            finally:
                conn.close()
        else:
            with self._pg_pool("write" if write else "read").connection() as pg_conn:
                yield Session("postgres", pg_conn)

    @contextmanager
    def schema_lock(self) -> Iterator[None]:
        """Serialises schema set-up between processes starting together.

        PostgreSQL: a session advisory lock on a connection of its own (DDL such as the event
        store's ``CREATE OR REPLACE FUNCTION`` fails when run concurrently). SQLite: each
        ``CREATE ... IF NOT EXISTS`` is atomic under the database's own write lock, and the
        library's set-up uses connections of its own, so no lock is held here; the journal
        mode is set once, here, rather than by every connection.
        """
        if self.kind == "sqlite":
            lite = sqlite3.connect(self.sqlite_path, isolation_level=None, timeout=SQLITE_WAIT)
            try:
                lite.execute("PRAGMA journal_mode=WAL")
            finally:
                lite.close()
            yield
            return
        with psycopg.connect(self._pg_conninfo(), autocommit=True) as pg:
            pg.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK,))
            try:
                yield
            finally:
                pg.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))

    def _pg_pool(
        self, purpose: Literal["read", "write"]
    ) -> ConnectionPool[psycopg.Connection[Any]]:
        with self._lock:
            pool = self._pools.get(purpose)
            if pool is None:
                size = READ_POOL_SIZE if purpose == "read" else WRITE_POOL_SIZE
                pool = ConnectionPool(
                    self._pg_conninfo(),
                    min_size=1,
                    max_size=size,
                    open=True,
                    timeout=POOL_WAIT,
                    name=f"ledger-{purpose}",
                )
                self._pools[purpose] = pool
            return pool

    def close(self) -> None:
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            pool.close()
