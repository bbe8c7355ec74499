"""Concurrency and crashes: processes starting together, readers beside a long ingestion,
overload refused fast, and files left ``received`` completed later.

Each test taking ``database_url`` runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psycopg
import pytest

from ledger.adapters import storage
from ledger.adapters.postgres import PostgresViewTracking
from ledger.domain.errors import LedgerBusy, LedgerUnavailable
from ledger.service.ingestion import Ingestor
from ledger.service.read_models import FlowList, PeriodView
from ledger.service.runtime import LedgerRuntime

from .conftest import DAY, PARTY_SUBJECT, S0142_PERIODS, Report, without_views, write_report

LEDGER = str(Path(sys.executable).with_name("ledger"))


def _run_in_time(action: Callable[[], object], seconds: float = 30) -> object:
    """Run ``action`` in a thread; fail (rather than hang) if it is still waiting after
    ``seconds``, which only a reader queueing behind the writer would be."""
    outcome: list[object] = []
    failure: list[BaseException] = []

    def target() -> None:
        try:
            outcome.append(action())
        except BaseException as exc:  # reported to the test below
            failure.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the reader waited for the writer"
    if failure:
        raise failure[0]
    return outcome[0]


@contextmanager
def _writer_holding_the_lock(runtime: LedgerRuntime) -> Iterator[None]:
    """Another process in the middle of a long ingestion: it holds the writers' lock."""
    if runtime.database.kind == "sqlite":
        import sqlite3

        conn = sqlite3.connect(runtime.database.sqlite_path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.rollback()
            conn.close()
        return
    with psycopg.connect(runtime.database.url) as pg, pg.transaction():
        pg.execute(f"LOCK TABLE {runtime.ledger.event_store.events_table} IN EXCLUSIVE MODE")
        pg.execute(_runners_lock(runtime))  # the views' runner too
        yield


def test_readers_never_wait_for_a_writer(
    open_runtime: Callable[[], LedgerRuntime],
    database_url: str,
    files: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A reader that needed the write lock would now fail within a second instead of waiting.
    monkeypatch.setattr(storage, "SQLITE_WAIT", 1.0)
    runtime = open_runtime()
    report = write_report(files)
    accepted = runtime.ingest(report.path)
    with _writer_holding_the_lock(runtime):
        # Start-up of a new process, and every read, while the writer holds its lock.
        reader = _run_in_time(lambda: LedgerRuntime(database_url))
        assert isinstance(reader, LedgerRuntime)
        try:
            view = _run_in_time(lambda: reader.period(PARTY_SUBJECT, DAY, 1))
            flow = _run_in_time(lambda: reader.flow(accepted.sha256))
            listed = _run_in_time(lambda: reader.flows())
        finally:
            reader.close()
    assert isinstance(view, PeriodView) and view.best is not None
    assert view.views.up_to_date is True
    assert flow is not None and isinstance(listed, FlowList) and listed.flows


def test_a_reader_says_when_the_views_are_behind_the_log(
    runtime: LedgerRuntime, files: Path
) -> None:
    report = write_report(files)
    # Events committed by a writer that died before it brought the views up to date.
    without_views(runtime).ingest_path(report.path, tenant="default")
    behind = runtime.period(PARTY_SUBJECT, DAY, 1)
    assert behind.versions == []
    assert behind.views.up_to_date is False
    assert behind.views.log_position > behind.views.position
    runtime.recover()
    caught_up = runtime.period(PARTY_SUBJECT, DAY, 1)
    assert caught_up.views.up_to_date is True and caught_up.best is not None


def _interrupted(*_: object, **__: object) -> None:
    raise psycopg.OperationalError("server closed the connection unexpectedly")


def _interrupted_ingestion(
    runtime: LedgerRuntime, files: Path, monkeypatch: pytest.MonkeyPatch
) -> Report:
    """A file whose ingestion the database interrupted after its receipt was recorded."""
    report = write_report(files)
    with monkeypatch.context() as patch:
        patch.setattr(Ingestor, "_publish", _interrupted)
        with pytest.raises(LedgerUnavailable, match="ledger recover"):
            runtime.ingest(report.path)
    return report


def test_a_file_interrupted_mid_ingestion_is_completed_by_recover(
    runtime: LedgerRuntime, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = _interrupted_ingestion(runtime, files, monkeypatch)
    flow = runtime.flow(report.sha256)
    assert flow is not None and flow.status == "received"

    [result] = runtime.recover()
    assert (result.status, result.sha256, result.periods) == (
        "accepted",
        report.sha256,
        S0142_PERIODS,
    )
    flow = runtime.flow(report.sha256)
    assert flow is not None and flow.status == "accepted"
    assert runtime.recover() == []  # nothing left to complete
    assert runtime.ingest(report.path).status == "duplicate"


def test_a_file_interrupted_mid_ingestion_is_completed_by_its_next_receipt(
    runtime: LedgerRuntime, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = _interrupted_ingestion(runtime, files, monkeypatch)
    again = runtime.ingest(report.path)
    assert (again.status, again.periods) == ("accepted", S0142_PERIODS)
    flow = runtime.flow(report.sha256)
    assert flow is not None and (flow.status, flow.receipts) == ("accepted", 2)


def test_recover_from_the_command_line(
    runtime: LedgerRuntime, database_url: str, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = _interrupted_ingestion(runtime, files, monkeypatch)
    done = subprocess.run(
        [LEDGER, "recover"],
        env={**os.environ, "LEDGER_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    assert json.loads(line)["status"] == "accepted"
    assert json.loads(line)["sha256"] == report.sha256


def test_processes_starting_together_on_a_fresh_database_all_work(
    postgres_url: str, files: Path
) -> None:
    """Eight processes set up the schema at once: none fails, each prints its answer."""
    env = {**os.environ, "LEDGER_DATABASE_URL": postgres_url}
    reports = [write_report(files, run_type=run, name=f"{run}.txt") for run in ("II", "SF", "R1")]
    commands = [["ingest", str(r.path)] for r in reports] + [
        ["period", PARTY_SUBJECT, DAY.isoformat(), "1"] for _ in range(5)
    ]
    processes = [
        subprocess.Popen(
            [LEDGER, *c], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for c in commands
    ]
    for command, process in zip(commands, processes, strict=True):
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, (command, err)
        assert "Traceback" not in err
        assert out.strip(), command
    final = LedgerRuntime(postgres_url)
    try:
        view = final.period(PARTY_SUBJECT, DAY, 1)
    finally:
        final.close()
    assert [v.run_type for v in view.versions].count("R1") == 1


def test_a_reader_has_capacity_when_every_writer_connection_is_taken(
    postgres_url: str, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage, "POOL_WAIT", 0.5)
    runtime = LedgerRuntime(postgres_url)
    try:
        report = write_report(files)
        runtime.ingest(report.path)
        with ExitStack() as writers:
            for _ in range(storage.WRITE_POOL_SIZE):
                writers.enter_context(runtime.database.transaction())
            assert runtime.period(PARTY_SUBJECT, DAY, 1).best is not None
            # One writer too many is refused fast as busy, and records nothing.
            other = write_report(files, run_type="R1")
            with pytest.raises(LedgerBusy):
                runtime.ingest(other.path)
        assert runtime.flow(other.sha256) is None
    finally:
        runtime.close()


def _runners_lock(runtime: LedgerRuntime) -> str:
    """The statement by which a runner keeps others out: a lock on the library's tracking table."""
    tracking = runtime.ledger.view_tracking
    assert isinstance(tracking, PostgresViewTracking)
    return f"LOCK TABLE {tracking.tracking_table} IN EXCLUSIVE MODE"


def _until_waiting_for_the_runners_lock(url: str) -> None:
    """Returns once another session waits for the runners' lock (bounded)."""
    with psycopg.connect(url, autocommit=True) as watcher:
        for _ in range(600):
            row = watcher.execute(
                "SELECT count(*) FROM pg_locks WHERE NOT granted"
                " AND relation = 'ledger_tracking'::regclass"
            ).fetchone()
            if row and row[0]:
                return
            time.sleep(0.05)  # polling another session's state, not a timed assertion
    raise AssertionError("the rebuild never waited for the runners' lock")


def test_a_rebuild_beside_a_runner_catching_up_does_not_deadlock(
    postgres_url: str, files: Path
) -> None:
    """Found by scripts/faults: a rebuild emptied the views, then waited for the runners'
    lock, held by a runner that waited for the rows the rebuild had deleted."""
    runtime = LedgerRuntime(postgres_url)
    try:
        runtime.ingest(write_report(files).path)
        with psycopg.connect(postgres_url) as runner, runner.transaction():
            # A runner in the middle of catching up: it holds the lock and writes view rows.
            runner.execute("SET LOCAL lock_timeout = '10s'")
            runner.execute(_runners_lock(runtime))
            rebuild = threading.Thread(target=runtime.runner.rebuild, daemon=True)
            rebuild.start()
            _until_waiting_for_the_runners_lock(postgres_url)
            # The rebuild waits for the lock before touching a row, so this never waits.
            runner.execute("UPDATE period_versions SET version = version WHERE version = 1")
        rebuild.join(60)
        assert not rebuild.is_alive()
        assert runtime.period(PARTY_SUBJECT, DAY, 1).best is not None
    finally:
        runtime.close()


def test_a_database_lost_mid_command_is_one_line_not_a_traceback(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ledger.cli import main

    def lost(*_: object, **__: object) -> None:
        raise psycopg.OperationalError("consuming input failed: server closed the connection")

    monkeypatch.setenv("LEDGER_DATABASE_URL", database_url)
    LedgerRuntime(database_url).close()  # a ledger there (a read never creates one)
    monkeypatch.setattr(LedgerRuntime, "period", lost)
    assert main(["period", PARTY_SUBJECT, DAY.isoformat(), "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("ledger: the database was interrupted (consuming input failed")
    assert "ledger recover" in err


def test_recover_refuses_stored_bytes_that_no_longer_match_their_hash(
    runtime: LedgerRuntime, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = _interrupted_ingestion(runtime, files, monkeypatch)
    with runtime.database.transaction() as tx:
        tx.execute(
            "UPDATE raw_payload_chunks SET data = ? WHERE tenant = ? AND sha256 = ? AND seq = 0",
            (b"AAA|damaged in the store|\n", "default", report.sha256),
        )
    [result] = runtime.recover()
    assert result.status == "rejected"
    assert f"no longer hash to {report.sha256}" in result.reasons[0]
    flow = runtime.flow(report.sha256)
    assert flow is not None and flow.status == "rejected"
    assert runtime.period(PARTY_SUBJECT, DAY, 1).versions == []
