"""The views: rebuilt from the log they are identical, and every event is applied exactly once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from integration.conftest import (
    DAY,
    PARTY_SUBJECT,
    S0141_PERIODS,
    S0142_PERIODS,
    count_rows,
    creation_time,
    dump_views,
    edit_lines,
    without_views,
    write_report,
)
from ledger.adapters.postgres import PostgresEventStore
from ledger.adapters.sqlite import SQLiteEventStore
from ledger.service.runtime import LedgerRuntime

NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)


def _corrupt_trailer(lines: list[bytes]) -> list[bytes]:
    i = next(i for i, line in enumerate(lines) if line.startswith(b"ZZZ|"))
    lines[i] = lines[i].replace(b"ZZZ|", b"ZZZ|9", 1)
    return lines


def _history(runtime: LedgerRuntime, files: Path, *, catch_up: bool = True) -> None:
    """A mix of what happens to a ledger: runs, a republication, duplicates, a rejection,
    corrections and an intervention, under two tenants."""
    ingest = runtime.ingest if catch_up else without_views(runtime).ingest_path
    for run, number in (("II", 1), ("SF", 1), ("R1", 1), ("R1", 2)):
        ingest(write_report(files, run_type=run, run_number=number).path, tenant="a")
    ingest(write_report(files, flow="S0141", run_type="SF").path, tenant="b")
    ingest(write_report(files, run_type="II").path, tenant="b")
    ingest(write_report(files, run_type="II").path, tenant="b")  # duplicate
    again = write_report(files, run_type="II", name="II-again.txt", created=creation_time("II", 2))
    ingest(again.path, tenant="b")  # the same run in other bytes: further sources
    bad = write_report(files, run_type="R2")
    edit_lines(bad.path, _corrupt_trailer)
    ingest(bad.path, tenant="a")  # rejected
    runtime.ledger.apply_correction(
        "a",
        PARTY_SUBJECT,
        DAY,
        3,
        supersedes=4,
        values={"bm_unit_cashflow": Decimal("1")},
        reason="r",
        actor="p",
    )
    runtime.ledger.apply_correction(
        "a",
        PARTY_SUBJECT,
        DAY,
        3,
        supersedes=1,
        values={"bm_unit_cashflow": Decimal("2")},
        reason="r",
        actor="p",
    )
    runtime.ledger.apply_correction(
        "b",
        "system",
        DAY,
        48,
        supersedes=2,
        values={"system_buy_price": Decimal("3")},
        reason="r",
        actor="q",
    )
    runtime.ledger.intervene(
        "b", "system", DAY, 48, action="hold", version=None, actor="q", reason="disputed"
    )


EXPECTED_VERSIONS = 4 * S0142_PERIODS + S0141_PERIODS + S0142_PERIODS + 3


def test_rebuild_gives_identical_views(runtime: LedgerRuntime, files: Path) -> None:
    _history(runtime, files)
    runtime.runner.catch_up()
    before = dump_views(runtime)
    assert len(before["period_versions"]) == EXPECTED_VERSIONS
    assert len(before["flows"]) == 8
    assert len(before["period_interventions"]) == 1
    assert len(before["period_sources"]) == S0142_PERIODS  # the II run delivered twice to b

    events = runtime.runner.rebuild()
    assert events > EXPECTED_VERSIONS
    assert dump_views(runtime) == before
    # Rebuilding in small batches gives the same too.
    assert runtime.runner.rebuild(batch_size=97) == events
    assert dump_views(runtime) == before
    best = runtime.period(PARTY_SUBJECT, DAY, 3, tenant="a").best
    assert best is not None
    assert (best.kind, best.supersedes, best.run_number) == ("correction", 4, 2)


def test_a_fresh_runtime_catching_up_builds_the_same_views(
    open_runtime: Callable[[], LedgerRuntime], files: Path
) -> None:
    writer = open_runtime()
    _history(writer, files)
    writer.runner.catch_up()
    expected = dump_views(writer)

    # Events written without catching up, then read by a runtime opened afterwards.
    more = write_report(files, run_type="R3")
    without_views(writer).ingest_path(more.path, tenant="a")
    reader = open_runtime()
    assert (
        reader.runner.catch_up() == S0142_PERIODS + 5 + 2
    )  # and the exceptions its movement raised
    assert writer.runner.catch_up() == 0  # progress is kept in the database, shared
    incremental = dump_views(reader)
    assert len(incremental["period_versions"]) == len(expected["period_versions"]) + S0142_PERIODS
    assert dump_views(writer) == incremental

    reader.runner.rebuild()
    assert dump_views(reader) == incremental
    assert dump_views(writer) == incremental


def test_positions_kept_by_an_earlier_release_are_adopted(
    open_runtime: Callable[[], LedgerRuntime], files: Path
) -> None:
    # Schema version 1 kept the views' positions in a table of the ledger's own.
    earlier = open_runtime()
    _history(earlier, files)
    earlier.runner.catch_up()
    expected = dump_views(earlier)
    with earlier.database.transaction() as tx:
        positions = earlier.runner.positions(tx)
        tx.execute("CREATE TABLE projection_tracking (projection TEXT, notification_id BIGINT)")
        tx.executemany("INSERT INTO projection_tracking VALUES (?, ?)", positions.items())
        earlier.ledger.view_tracking.forget(tx, list(positions))
        # Nor had it the run index beside the events table (schema version 3).
        store = earlier.ledger.event_store
        assert isinstance(store, PostgresEventStore | SQLiteEventStore)
        tx.execute(f"DROP TABLE {store.events_table_name}_runs")
        tx.execute("UPDATE ledger_schema SET version = 1")
    earlier.close()

    upgraded = open_runtime()
    with upgraded.database.transaction(write=False) as tx:
        assert upgraded.runner.positions(tx) == positions
        assert not upgraded.database.has_table(tx, "projection_tracking")
    assert upgraded.runner.catch_up() == 0  # nothing applied a second time
    assert dump_views(upgraded) == expected
    # The run index is back: a run delivered twice after the upgrade adds no version.
    first = write_report(files, run_type="R3", run_number=5)
    again = write_report(files, run_type="R3", run_number=5, name="again.txt", created=NOW)
    assert upgraded.ingest(first.path, tenant="a").new_versions == S0142_PERIODS
    assert upgraded.ingest(again.path, tenant="a").further_sources == S0142_PERIODS


def test_catching_up_in_small_batches_equals_a_rebuild(runtime: LedgerRuntime, files: Path) -> None:
    _history(runtime, files, catch_up=False)
    assert count_rows(runtime, "flows") == 0
    runtime.runner.catch_up(batch_size=50)
    incremental = dump_views(runtime)
    assert len(incremental["period_versions"]) == EXPECTED_VERSIONS
    runtime.runner.rebuild()
    assert dump_views(runtime) == incremental


def test_catch_up_is_idempotent(runtime: LedgerRuntime, files: Path) -> None:
    _history(runtime, files)
    runtime.runner.catch_up()
    before = dump_views(runtime)
    for _ in range(3):
        assert runtime.runner.catch_up() == 0
        assert runtime.runner.catch_up(batch_size=1) == 0
    assert dump_views(runtime) == before
    with runtime.database.transaction() as tx:
        positions = runtime.runner.positions(tx)
    assert set(positions) == {
        "period_versions",
        "flows",
        "documents",
        "document_revisions",
        "exceptions",
        "identity_mappings",
        "meter_readings",
        "flow_validation",
    }
    assert len(set(positions.values())) == 1


def test_two_runtimes_catching_up_at_once_apply_each_event_once(
    open_runtime: Callable[[], LedgerRuntime], files: Path
) -> None:
    first, second = open_runtime(), open_runtime()
    _history(first, files, catch_up=False)
    assert count_rows(first, "period_versions") == 0

    barrier = threading.Barrier(2)
    read: list[int] = []
    errors: list[BaseException] = []

    def run(runtime: LedgerRuntime) -> None:
        try:
            barrier.wait(timeout=10)
            read.append(runtime.runner.catch_up(batch_size=200))
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(r,)) for r in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(read) == 2

    assert count_rows(first, "period_versions") == EXPECTED_VERSIONS
    both = dump_views(first)
    assert dump_views(second) == both
    # Every notification was read by one runtime or the other, never by both.
    first.runner.rebuild()
    with first.database.transaction() as tx:
        (total,) = tx.execute(
            f"SELECT count(*) FROM {first.ledger.event_store.events_table}"
        ).fetchone() or (0,)
    assert sum(read) == total
    assert dump_views(first) == both


def test_readers_do_not_queue_behind_a_writer_on_sqlite(sqlite_url: str, files: Path) -> None:
    """While an ingestion holds SQLite's write lock, queries still answer from the views."""
    import sqlite3

    runtime = LedgerRuntime(sqlite_url)
    try:
        runtime.ingest(write_report(files).path)
        writer = sqlite3.connect(runtime.database.sqlite_path, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
        answers: list[int] = []
        reader = threading.Thread(
            target=lambda: answers.append(len(runtime.period(PARTY_SUBJECT, DAY, 1).versions)),
            daemon=True,
        )
        reader.start()
        reader.join(timeout=10)
        writer.rollback()
        writer.close()
        assert answers == [1], "the query waited for the writer"
    finally:
        runtime.close()


def test_an_ingestion_keeps_the_views_current_in_its_own_transaction(
    runtime: LedgerRuntime, files: Path
) -> None:
    # Views left behind by an earlier writer: the ingestion first brings them to the head.
    without_views(runtime).ingest_path(write_report(files, run_type="II").path, tenant="a")
    runtime.ingestor.ingest_path(write_report(files, run_type="SF").path, tenant="a")
    runtime.ingestor.ingest_path(
        write_report(files, run_type="SF", name="again.txt", created=NOW).path, tenant="a"
    )  # further sources
    with runtime.database.transaction(write=False) as tx:
        assert runtime.runner.freshness(tx).up_to_date
    assert runtime.runner.catch_up() == 0  # nothing left to read back and decode
    built = dump_views(runtime)
    assert len(built["period_versions"]) == 2 * S0142_PERIODS
    assert len(built["period_sources"]) == S0142_PERIODS
    runtime.runner.rebuild()
    assert dump_views(runtime) == built
