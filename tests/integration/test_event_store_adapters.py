"""The event-store and view-tracking adapters: the library's own recorder test cases run
against them, and what the ledger adds (bulk append, version look-up, log reading, positions
inside its own transactions) checked against the library's view.

The library's cases are ``unittest.TestCase`` classes with an abstract ``create_recorder()``.
The bridge: an autouse fixture inside each class hands the test method a fresh database from
the suite's fixtures (``postgres_url``, ``tmp_path``), and ``create_recorder()`` builds the
adapter on it through the library's own factory, from the settings the ledger gives the
library (``Database.eventsourcing_env``), so the wiring is what the ledger runs.

Not run: the library's subscription case (``optional_test_insert_subscribe``) on SQLite, whose
recorder has no subscriptions (``subscribe`` raises ``NotImplementedError`` in the library).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import InfrastructureFactory, IntegrityError, StoredEvent, Tracking
from eventsourcing.tests.persistence import (
    ApplicationRecorderTestCase,
    NonInterleavingNotificationIDsBaseCase,
    TrackingRecorderTestCase,
)
from eventsourcing.utils import Environment
from psycopg.sql import SQL, Identifier

from ledger.adapters.event_store import EventRow
from ledger.adapters.postgres import PostgresEventStore, PostgresViewTracking
from ledger.adapters.sqlite import SQLiteEventStore, SQLiteViewTracking
from ledger.adapters.storage import Database
from ledger.domain.errors import ConfigurationError
from ledger.service.application import Ledger

AnyStore = PostgresEventStore | SQLiteEventStore
AnyTracking = PostgresViewTracking | SQLiteViewTracking


class _Stores:
    """Adapters on one database, built as the ledger has the library build them; closed
    (with their connection pools) before the database fixture drops the database."""

    def __init__(self, url: str) -> None:
        self.database = Database(url)
        self._factories: list[InfrastructureFactory[Any]] = []

    def _factory(self) -> InfrastructureFactory[Any]:
        env = Environment(Ledger.name, self.database.eventsourcing_env())
        factory = InfrastructureFactory.construct(env)
        self._factories.append(factory)
        return factory

    def open(self) -> AnyStore:
        recorder = self._factory().application_recorder()
        assert isinstance(recorder, PostgresEventStore | SQLiteEventStore)
        return recorder

    def open_tracking(self) -> AnyTracking:
        recorder = self._factory().tracking_recorder()
        assert isinstance(recorder, PostgresViewTracking | SQLiteViewTracking)
        return recorder

    def open_postgres(self) -> PostgresEventStore:
        store = self.open()
        assert isinstance(store, PostgresEventStore)
        return store

    def open_sqlite(self) -> SQLiteEventStore:
        store = self.open()
        assert isinstance(store, SQLiteEventStore)
        return store

    def close(self) -> None:
        for factory in self._factories:
            factory.close()
        self.database.close()


def _join_threads_started_since(before: set[threading.Thread]) -> None:
    """The library's concurrency cases signal their reader threads to stop but do not join
    them: closing the stores under a reader still inside SQLite crashes the interpreter
    (a segmentation fault in the sqlite3 module), so wait for them first."""
    # Only the test's own threads: connection pools run daemon workers until closed.
    for thread in set(threading.enumerate()) - before:
        if thread.daemon:
            continue
        thread.join(timeout=60)
        assert not thread.is_alive(), f"{thread.name} did not stop"


@contextmanager
def _stores_for_one_test(url: str) -> Iterator[_Stores]:
    opened = _Stores(url)
    before = set(threading.enumerate())
    try:
        yield opened
    finally:
        _join_threads_started_since(before)
        opened.close()


@pytest.fixture
def stores(database_url: str) -> Iterator[_Stores]:
    opened = _Stores(database_url)
    yield opened
    opened.close()


# --- The library's own test cases ------------------------------------------------------


class _OnPostgres:
    """A fresh PostgreSQL database per test; the test's own threads joined before closing."""

    @pytest.fixture(autouse=True)
    def _fresh_database(self, postgres_url: str) -> Iterator[None]:
        with _stores_for_one_test(postgres_url) as stores:
            self._stores = stores
            yield

    def create_recorder(self) -> PostgresEventStore:
        return self._stores.open_postgres()

    def create_tracking_recorder(self) -> AnyTracking:
        tracking = self._stores.open_tracking()
        assert isinstance(tracking, PostgresViewTracking)
        return tracking


class _OnSQLite:
    """A fresh SQLite file per test; the test's own threads joined before closing."""

    @pytest.fixture(autouse=True)
    def _fresh_database(self, tmp_path: Path) -> Iterator[None]:
        with _stores_for_one_test(f"sqlite:///{tmp_path / 'events.db'}") as stores:
            self._stores = stores
            yield

    def create_recorder(self) -> SQLiteEventStore:
        return self._stores.open_sqlite()

    def create_tracking_recorder(self) -> AnyTracking:
        tracking = self._stores.open_tracking()
        assert isinstance(tracking, SQLiteViewTracking)
        return tracking


class TestPostgresEventStoreAsLibraryRecorder(
    _OnPostgres, ApplicationRecorderTestCase[PostgresEventStore]
):
    """Insert/select, notifications, conflicts, concurrent writers and readers, throughput."""

    def test_insert_subscribe(self) -> None:
        # The library runs this case for recorders that have subscriptions (LISTEN/NOTIFY).
        self.optional_test_insert_subscribe()


class TestPostgresEventStoreNonInterleaving(_OnPostgres, NonInterleavingNotificationIDsBaseCase):
    """Two concurrent appends get two unbroken runs of notification ids (the table lock)."""


class TestSQLiteEventStoreAsLibraryRecorder(
    _OnSQLite, ApplicationRecorderTestCase[SQLiteEventStore]
):
    """As above, on a SQLite file (no subscription case: see the module docstring)."""


class TestSQLiteEventStoreNonInterleaving(_OnSQLite, NonInterleavingNotificationIDsBaseCase):
    """As above, on a SQLite file (the writer's BEGIN IMMEDIATE is the lock)."""


class TestPostgresViewTrackingAsLibraryRecorder(_OnPostgres, TrackingRecorderTestCase):
    """Positions recorded once, never twice or backwards; the largest read back; waiting."""

    def create_recorder(self) -> AnyTracking:  # type: ignore[override]
        return self.create_tracking_recorder()


class TestSQLiteViewTrackingAsLibraryRecorder(_OnSQLite, TrackingRecorderTestCase):
    """As above, on a SQLite file."""

    def create_recorder(self) -> AnyTracking:  # type: ignore[override]
        return self.create_tracking_recorder()


# --- What the ledger adds, against the library's view of the same log ----------------------


def _rows(*keys: UUID, start: int = 1) -> list[EventRow]:
    return [(key, start, "topic", b'{"n": 1}') for key in keys]


def test_the_ledger_s_recorder_is_its_adapter(database_url: str) -> None:
    ledger = Ledger(Database(database_url))
    try:
        # The very object the library uses (``is`` would need the two types to overlap).
        assert id(ledger.event_store) == id(ledger.recorder)
        expected = PostgresEventStore if database_url.startswith("postgres") else SQLiteEventStore
        assert isinstance(ledger.recorder, expected)
    finally:
        ledger.close()
        ledger.database.close()


@pytest.mark.parametrize(
    ("setting", "library_own"),
    [
        ("APPLICATION_RECORDER_TOPIC", "eventsourcing.sqlite:SQLiteApplicationRecorder"),
        ("TRACKING_RECORDER_TOPIC", "eventsourcing.sqlite:SQLiteTrackingRecorder"),
    ],
)
def test_settings_that_would_bypass_an_adapter_are_refused(
    setting: str, library_own: str, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The library lets a setting prefixed with the application's name outrank the ledger's.
    monkeypatch.setenv(f"LEDGER_{setting}", library_own)
    database = Database(sqlite_url)
    try:
        with pytest.raises(ConfigurationError, match=f"unset LEDGER_{setting}"):
            Ledger(database)
    finally:
        database.close()


def test_view_positions_inside_the_ledger_s_transactions_are_the_library_s(
    stores: _Stores,
) -> None:
    tracking = stores.open_tracking()
    with stores.database.transaction() as tx:
        tracking.serialise_views(tx)
        assert tracking.positions(tx, ["a", "b"]) == {"a": 0, "b": 0}
        tracking.record(tx, Tracking("a", 5))
        tracking.record(tx, Tracking("a", 7))
        tracking.record(tx, Tracking("b", 3))
    # Committed with the ledger's transaction, read by the library on its own connection.
    assert tracking.max_tracking_id("a") == 7
    assert tracking.max_tracking_id("b") == 3
    with pytest.raises(IntegrityError), stores.database.transaction() as tx:
        tracking.record(tx, Tracking("b", 9))
        tracking.record(tx, Tracking("a", 7))  # already recorded: the whole batch rolls back
    assert tracking.max_tracking_id("b") == 3
    with stores.database.transaction() as tx:
        tracking.forget(tx, ["a"])
        assert tracking.positions(tx, ["a", "b"]) == {"a": 0, "b": 3}
        tracking.record(tx, Tracking("a", 1))  # a rebuild starts again from the beginning
    assert tracking.max_tracking_id("a") == 1


def _refused_at_start(url: str, message: str) -> None:
    database = Database(url)
    try:
        with pytest.raises(ConfigurationError, match=message):
            Ledger(database)
    finally:
        database.close()


def test_text_aggregate_ids_are_refused(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # The bulk append and the version look-up work on UUIDs.
    monkeypatch.setenv("ORIGINATOR_ID_TYPE", "text")
    _refused_at_start(database_url, "ORIGINATOR_ID_TYPE='text'")


def test_bulk_append_is_what_the_library_reads(stores: _Stores) -> None:
    store = stores.open()
    first, second = uuid4(), uuid4()
    with stores.database.transaction() as tx:
        assert store.max_position(tx) == 0
        store.lock_for_append(tx)
        store.append_rows(tx, [*_rows(first, second), (first, 2, "topic", b"{}")])
    # The library reads the ledger's rows: ids (hex text on SQLite), versions, positions.
    assert [e.originator_version for e in store.select_events(first)] == [1, 2]
    library = store.select_notifications(start=None, limit=10)
    assert [(n.id, n.originator_id) for n in library] == [(1, first), (2, second), (3, first)]
    # And the ledger reads what the library appends.
    store.insert_events([StoredEvent(second, 2, "topic", b"{}")])
    with stores.database.transaction(write=False) as tx:
        assert store.read_after(tx, 0, 10) == store.select_notifications(start=None, limit=10)
        assert [n.id for n in store.read_after(tx, 1, 2)] == [2, 3]
        assert store.read_after(tx, 4, 10) == []
        assert store.max_position(tx) == store.max_notification_id() == 4
        assert store.current_versions(tx, [first, second, uuid4()]) == {first: 2, second: 2}


def test_positions_after_are_those_events_got_gaps_and_all(stores: _Stores) -> None:
    store = stores.open()
    first, second, third = uuid4(), uuid4(), uuid4()
    with stores.database.transaction() as tx:
        store.append_rows(tx, _rows(first))
    # An append that rolls back: PostgreSQL never uses the position it took (SQLite does).
    with pytest.raises(RuntimeError), stores.database.transaction() as tx:
        store.append_rows(tx, _rows(second))
        raise RuntimeError("rolled back")
    with stores.database.transaction() as tx:
        store.lock_for_append(tx)
        store.append_rows(tx, _rows(second, third))
        # Its own appends, seen inside the appending transaction, as the log reads them.
        expected = [n.id for n in store.read_after(tx, 0, 10)]
        assert store.positions_after(tx, 0, 10) == expected
        assert store.positions_after(tx, expected[0], 1) == expected[1:2]
        assert store.positions_after(tx, expected[-1], 10) == []
    gap = 1 if stores.database.kind == "postgres" else 0
    assert expected == [1, 2 + gap, 3 + gap]


def test_version_look_up_takes_large_batches(stores: _Stores) -> None:
    store = stores.open()
    keys = [uuid4() for _ in range(1234)]  # more than SQLite takes in one statement
    with stores.database.transaction() as tx:
        store.append_rows(tx, _rows(*keys))
        assert store.current_versions(tx, keys) == dict.fromkeys(keys, 1)


def test_bulk_append_on_postgres_notifies_the_library_s_subscribers(postgres_url: str) -> None:
    stores = _Stores(postgres_url)
    try:
        store = stores.open_postgres()
        with psycopg.connect(postgres_url, autocommit=True) as listener:
            listener.execute(SQL("LISTEN {}").format(Identifier(store.channel_name)))
            with stores.database.transaction() as tx:
                store.append_rows(tx, _rows(uuid4()))
                store.append_rows(tx, _rows(uuid4()))
                # Nothing before the commit: a subscriber must not look too early.
                assert list(listener.notifies(timeout=0.2, stop_after=1)) == []
            received = list(listener.notifies(timeout=10, stop_after=1))
            # One per transaction, however many appends sent it.
            received += listener.notifies(timeout=0.5, stop_after=1)
        assert [n.channel for n in received] == [store.channel_name]
    finally:
        stores.close()


def test_bulk_append_on_postgres_takes_the_library_s_lock(postgres_url: str) -> None:
    stores = _Stores(postgres_url)
    try:
        store = stores.open_postgres()
        ours = uuid4()
        done = threading.Event()
        failure: list[BaseException] = []

        def library_append() -> None:
            try:
                store.insert_events([StoredEvent(uuid4(), 1, "topic", b"{}")])
            except BaseException as exc:  # reported below
                failure.append(exc)
            done.set()

        writer = threading.Thread(target=library_append, daemon=True)
        with stores.database.transaction() as tx:
            store.append_rows(tx, _rows(ours))  # no lock_for_append: the append locks itself
            # The library's EXCLUSIVE table lock (COPY alone takes ROW EXCLUSIVE, which would
            # not keep another ledger append from interleaving).
            held = tx.execute(
                "SELECT mode FROM pg_locks WHERE pid = pg_backend_pid() AND granted"
                f" AND relation = '{store.events_table}'::regclass"
            ).fetchall()
            assert ("ExclusiveLock",) in held
            writer.start()
            _wait_for(lambda: _waiting_for_a_lock(postgres_url), "the library's append to wait")
            assert not done.is_set()
        writer.join(timeout=30)
        assert done.is_set() and failure == []
        # The library's append was numbered after the ledger's, which committed first.
        assert [n.originator_id for n in store.select_notifications(None, 10)][0] == ours
    finally:
        stores.close()


def _waiting_for_a_lock(url: str) -> bool:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            " AND query LIKE 'LOCK TABLE%'"
        ).fetchone()
    return row is not None and row[0] > 0


def _wait_for(condition: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_appends_without_the_table_lock_are_refused(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The library's insert function takes no table lock: every append (the library's own, as
    # a hold's, too) must, so that a document and a hold are recorded one after the other.
    monkeypatch.setenv("POSTGRES_ENABLE_DB_FUNCTIONS", "yes")
    _refused_at_start(postgres_url, "POSTGRES_ENABLE_DB_FUNCTIONS is set")
