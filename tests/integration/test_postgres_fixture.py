"""The database fixtures in tests/conftest.py do what they promise."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg.rows import TupleRow


def _database_exists(admin_url: str, name: str) -> bool:
    with psycopg.connect(admin_url) as conn:
        row = conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,))
        return row.fetchone() == (1,)


class Tracker:
    def __init__(self) -> None:
        self.names: list[str] = []
        self.connections: list[psycopg.Connection[TupleRow]] = []

    def track(self, url: str) -> str:
        name = urlsplit(url).path.lstrip("/")
        self.names.append(name)
        return name


@pytest.fixture
def dropped_check(postgres_admin_url: str) -> Iterator[Tracker]:
    """Requested *before* postgres_url, so its teardown runs *after* postgres_url's: the
    databases a test tracks must be gone by then, even with connections left open."""
    tracker = Tracker()
    yield tracker
    try:
        assert tracker.names, "the test did not track its database"
        for name in tracker.names:
            assert not _database_exists(postgres_admin_url, name), f"{name} was not dropped"
    finally:
        for conn in tracker.connections:
            conn.close()


def test_postgres_url_is_a_fresh_empty_database_dropped_afterwards(
    dropped_check: Tracker, postgres_url: str, postgres_admin_url: str
) -> None:
    name = dropped_check.track(postgres_url)
    assert name.startswith("ledger_test_")
    assert _database_exists(postgres_admin_url, name)

    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == (name,)
        user_relations = conn.execute(
            """
            SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
              AND n.nspname NOT LIKE 'pg_toast%'
            """
        ).fetchone()
        assert user_relations == (0,)
        # Usable: we may create things in it (and this must not leak to other tests).
        conn.execute("CREATE TABLE t (x int)")
        conn.commit()


def test_postgres_url_is_unique_per_test(dropped_check: Tracker, postgres_url: str) -> None:
    dropped_check.track(postgres_url)
    with psycopg.connect(postgres_url) as conn:
        # The table created by the previous test is not here.
        assert conn.execute("SELECT to_regclass('public.t')").fetchone() == (None,)


def test_open_connections_do_not_prevent_the_drop(
    dropped_check: Tracker, postgres_url: str
) -> None:
    dropped_check.track(postgres_url)
    # Still open when postgres_url is torn down (closed by dropped_check afterwards):
    # DROP DATABASE ... WITH (FORCE) copes with sessions a test forgot to close.
    conn = psycopg.connect(postgres_url)
    dropped_check.connections.append(conn)
    conn.execute("SELECT 1")


def test_sqlite_url(sqlite_url: str, tmp_path: Path) -> None:
    assert sqlite_url == f"sqlite:///{tmp_path / 'ledger.db'}"
    assert not (tmp_path / "ledger.db").exists()


def test_database_url_cases(database_url: str, request: pytest.FixtureRequest) -> None:
    backend = request.node.callspec.params["database_url"]
    if backend == "sqlite":
        assert database_url.startswith("sqlite:///")
        assert "postgres_admin_url" not in request.fixturenames
    else:
        assert backend == "postgres"
        assert database_url.startswith("postgresql://")
        with psycopg.connect(database_url) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)


def test_database_url_has_one_sqlite_and_one_postgres_case(request: pytest.FixtureRequest) -> None:
    # Look at everything collected, including items deselected by -m/-k (e.g. -m "not
    # postgres"), which the terminal reporter keeps.
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    deselected = reporter.stats.get("deselected", []) if reporter is not None else []
    items = {
        item.callspec.id: item
        for item in [*request.session.items, *deselected]
        if isinstance(item, pytest.Function) and item.originalname == "test_database_url_cases"
    }
    if not items:
        pytest.skip("test_database_url_cases was not collected in this run")
    assert sorted(items) == ["postgres", "sqlite"]
    assert items["postgres"].get_closest_marker("postgres") is not None
    assert items["sqlite"].get_closest_marker("postgres") is None
