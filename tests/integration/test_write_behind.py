"""The writer's database work runs behind it: the same versions whatever the batches, a
look-up never misses what the batch before it writes, and a failure behind stops the file
(both backends)."""

from __future__ import annotations

import gc
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from integration.conftest import DAY, write_report
from ledger.demo.json_samples import disebsp_day, disebsp_page
from ledger.demo.samples import sample_bm_unit_ids, sample_party_ids
from ledger.domain.errors import LedgerUnavailable
from ledger.service import period_writer
from ledger.service.runtime import LedgerRuntime

FIRST = datetime(2026, 5, 1, 12, tzinfo=UTC)
SECOND = datetime(2026, 5, 2, 12, tzinfo=UTC)


def versions(runtime: LedgerRuntime, tenant: str = "default") -> list[tuple[Any, ...]]:
    with runtime.database.transaction(write=False) as tx:
        return tx.execute(
            "SELECT subject, settlement_period, version, run_type, run_number, values_json,"
            " attributes_json, unconfirmed_json, record_position FROM period_versions"
            " WHERE tenant = ? ORDER BY subject, settlement_period, version",
            (tenant,),
        ).fetchall()


def lost_connection(runtime: LedgerRuntime) -> Exception:
    """What the backend's driver raises when the database goes away mid-transaction."""
    if runtime.database.kind == "sqlite":
        return sqlite3.OperationalError("disk I/O error")
    return psycopg.OperationalError("server closed the connection unexpectedly")


@pytest.mark.parametrize("batch", [48, 50, 7])
def test_the_same_periods_in_the_next_batch_see_the_versions_it_writes(
    runtime: LedgerRuntime, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, batch: int
) -> None:
    """Two publications of one day in one page: with 48 a batch, the second publication's
    batch is all periods the first batch writes; with 50 and 7, batches straddle the two."""
    monkeypatch.setattr(period_writer, "BATCH_SIZE", batch)
    page = tmp_path / "two-publications.json"
    page.write_bytes(disebsp_page(disebsp_day(DAY, FIRST) + disebsp_day(DAY, SECOND, revision=1)))
    result = runtime.ingest(page)
    assert (result.status, result.reasons) == ("accepted", [])
    assert result.new_versions == 96
    for period in (1, 24, 48):
        view = runtime.period("system", DAY, period)
        assert [v.version for v in view.versions] == [1, 2]
        assert view.best is not None and view.best.run_number == 20260502120000


def test_small_batches_write_what_one_batch_writes(
    runtime: LedgerRuntime, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    parties = sample_party_ids(6)
    report = write_report(
        tmp_path, parties=parties, bm_units={p: sample_bm_unit_ids(p, 2) for p in parties}
    )
    whole = runtime.ingest(report.path, tenant="whole")
    monkeypatch.setattr(period_writer, "BATCH_SIZE", 7)
    small = runtime.ingest(report.path, tenant="small")
    assert whole.status == small.status == "accepted"
    assert whole.periods == small.periods > 7 * 100
    assert versions(runtime, "small") == versions(runtime, "whole")


def test_a_failure_behind_the_writer_stops_the_file_and_nothing_runs_after_it(
    runtime: LedgerRuntime, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The connection is lost while the runs of the third batch are recorded: the file stays
    received (nothing is wrong with it), no version is kept, and no batch is appended after."""
    monkeypatch.setattr(period_writer, "BATCH_SIZE", 48)
    parties = sample_party_ids(3)
    report = write_report(
        tmp_path, parties=parties, bm_units={p: sample_bm_unit_ids(p, 1) for p in parties}
    )
    store = runtime.ledger.event_store
    record_runs, append_rows = store.record_runs, store.append_rows
    calls: list[str] = []

    def failing_record_runs(*args: Any) -> None:
        calls.append("record_runs")
        if calls.count("record_runs") == 3:
            raise lost_connection(runtime)
        record_runs(*args)

    def counted_append_rows(*args: Any) -> None:
        calls.append("append_rows")
        append_rows(*args)

    monkeypatch.setattr(store, "record_runs", failing_record_runs)
    monkeypatch.setattr(store, "append_rows", counted_append_rows)
    with pytest.raises(LedgerUnavailable, match="interrupted"):
        runtime.ingest(report.path)
    # The receipt's own event was appended before; then three batches, the third failing.
    assert calls[-2:] == ["append_rows", "record_runs"]
    assert calls.count("record_runs") == 3
    flow = runtime.flow(report.sha256)
    assert flow is not None and flow.status == "received"
    assert versions(runtime) == []

    monkeypatch.setattr(store, "record_runs", record_runs)
    assert runtime.ingest(report.path).status == "accepted"
    assert len(versions(runtime)) == 48 * (1 + 3 + 3)


def left_for_the_collector(runtime: LedgerRuntime, path: Path, tenant: str) -> int:
    """How many objects an ingestion leaves in reference cycles (with the collector off)."""
    gc.collect()
    gc.disable()
    try:
        result = runtime.ingest(path, tenant=tenant)
        assert result.status == "accepted"
        return gc.collect()
    finally:
        gc.enable()


def test_a_file_is_written_with_the_collector_paused_and_leaves_it_nothing_per_period(
    runtime: LedgerRuntime, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Every object made per period is freed by its reference count: pausing the cycle
    collector while a file is written keeps nothing from being freed. (A reader leaves a few
    hundred objects in cycles per file, whatever the file's size.)"""
    collector_on: list[bool] = []
    flush = period_writer.PeriodWriter.flush

    def observed(self: period_writer.PeriodWriter) -> None:
        collector_on.append(gc.isenabled())
        flush(self)

    monkeypatch.setattr(period_writer.PeriodWriter, "flush", observed)
    left = []
    for n in (12, 48):
        parties = sample_party_ids(n)
        units = {p: sample_bm_unit_ids(p, 2) for p in parties}
        report = write_report(tmp_path, parties=parties, bm_units=units, name=f"{n}.s0142")
        left.append(left_for_the_collector(runtime, report.path, f"t{n}"))
    assert collector_on and not any(collector_on)
    assert left[1] <= left[0] + 20, left  # four times the periods, no more cycles
    assert gc.isenabled()
