"""Fixtures shared by the whole suite.

Databases:

- ``sqlite_url``: a fresh SQLite file under ``tmp_path``.
- ``postgres_url``: a fresh, uniquely named PostgreSQL database, dropped afterwards.
- ``database_url``: parametrised over both (ids ``sqlite`` and ``postgres``).

PostgreSQL is found through ``LEDGER_TEST_POSTGRES_URL`` (an admin URL; ``scripts/test``
sets it), else ``postgresql://postgres@127.0.0.1:5432/postgres`` if that accepts
connections. ``LEDGER_TEST_POSTGRES=skip`` skips the PostgreSQL tests. With ``CI=true``
an unavailable PostgreSQL fails the tests instead of skipping them.

Tests that use PostgreSQL get the ``postgres`` marker automatically, so
``pytest -m "not postgres"`` runs the SQLite half only.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from hypothesis import HealthCheck, settings
from psycopg import sql
from psycopg.rows import TupleRow

from ledger.service.runtime import LedgerRuntime

DEFAULT_POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_FIXTURES = frozenset({"postgres_admin_url", "postgres_admin", "postgres_url"})


def _is_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"true", "1"}


# --- Hypothesis -------------------------------------------------------------------------

# Explicit parent: Hypothesis itself switches its defaults when it sees CI-ish variables
# (even an empty CI=), which would otherwise leak into "dev".
_hypothesis_defaults = settings.get_profile("default")
settings.register_profile(
    "ci",
    parent=_hypothesis_defaults,
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", parent=_hypothesis_defaults, max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if _is_ci() else "dev"))


# --- Markers ----------------------------------------------------------------------------


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that (statically) depends on PostgreSQL with ``postgres``."""
    for item in items:
        if POSTGRES_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.postgres)


# --- PostgreSQL -------------------------------------------------------------------------


def _unavailable(reason: str) -> NoReturn:
    if _is_ci():
        pytest.fail(f"PostgreSQL is required when CI=true: {reason}", pytrace=False)
    pytest.skip(f"PostgreSQL not available: {reason}")


def _connect_admin(url: str) -> psycopg.Connection[TupleRow]:
    return psycopg.connect(url, autocommit=True, connect_timeout=5)


class PostgresAdmin:
    """An autocommit admin connection, shared by the session, reopened if it breaks."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: psycopg.Connection[TupleRow] | None = None

    def execute(
        self, query: sql.SQL | sql.Composed, params: tuple[object, ...] = ()
    ) -> list[TupleRow]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = _connect_admin(self.url)
        cur = self._conn.execute(query, params)
        return cur.fetchall() if cur.description is not None else []

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def _with_database(url: str, dbname: str) -> str:
    """``url`` with its database name replaced by ``dbname``."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgresql", "postgres"}:
        raise ValueError(f"expected a postgresql://... URL, got {url!r}")
    return urlunsplit(parts._replace(path=f"/{dbname}"))


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """URL of a PostgreSQL database on a server where we may create databases."""
    if os.environ.get("LEDGER_TEST_POSTGRES") == "skip":
        _unavailable("LEDGER_TEST_POSTGRES=skip (set by scripts/test when it finds none)")
    url = os.environ.get("LEDGER_TEST_POSTGRES_URL")
    if url:
        try:
            _connect_admin(url).close()
        except psycopg.Error as e:
            # Explicitly configured but broken: that is an error, not a reason to skip.
            pytest.fail(f"cannot connect to LEDGER_TEST_POSTGRES_URL={url}: {e}", pytrace=False)
        return url
    try:
        _connect_admin(DEFAULT_POSTGRES_ADMIN_URL).close()
    except psycopg.Error as e:
        _unavailable(
            f"LEDGER_TEST_POSTGRES_URL is not set and {DEFAULT_POSTGRES_ADMIN_URL} "
            f"is not reachable ({str(e).strip()}); use ./scripts/test"
        )
    return DEFAULT_POSTGRES_ADMIN_URL


@pytest.fixture(scope="session")
def postgres_admin(postgres_admin_url: str) -> Iterator[PostgresAdmin]:
    """Admin connection to the test server (CREATE/DROP DATABASE, catalogue queries)."""
    admin = PostgresAdmin(postgres_admin_url)
    try:
        yield admin
    finally:
        admin.close()


@pytest.fixture
def postgres_url(postgres_admin: PostgresAdmin) -> Iterator[str]:
    """URL of a fresh, empty database (``ledger_test_<hex>``), dropped afterwards."""
    name = f"ledger_test_{uuid.uuid4().hex[:12]}"
    # template0 is pristine and never has connections (template1 might, which would make
    # CREATE DATABASE fail); the default strategy (WAL_LOG on PostgreSQL 15+) is the
    # fastest for such a small template: ~20 ms create + ~10 ms drop.
    postgres_admin.execute(
        sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name))
    )
    try:
        yield _with_database(postgres_admin.url, name)
    finally:
        postgres_admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


# --- SQLite -----------------------------------------------------------------------------


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a (not yet existing) SQLite database file in a fresh temporary directory."""
    return f"sqlite:///{tmp_path / 'ledger.db'}"


# --- Both -------------------------------------------------------------------------------


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh database URL: once on SQLite, once on PostgreSQL."""
    # getfixturevalue, so that the sqlite case never touches PostgreSQL.
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def runtime(database_url: str) -> Iterator[LedgerRuntime]:
    """A runtime on a fresh database (SQLite, then PostgreSQL), closed after the test.

    The integration suite has its own, which may open several runtimes on one database.
    """
    rt = LedgerRuntime(database_url)
    try:
        yield rt
    finally:
        rt.close()
