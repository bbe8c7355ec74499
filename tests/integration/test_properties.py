"""Properties of the views: arrival order does not matter, and a rebuild equals the live build.

Hypothesis runs many examples inside one test call, so function-scoped fixtures are not reset
between them: each SQLite example makes its own database file, and the PostgreSQL example
uses a fresh tenant (tenants are isolated) on the test's database.
"""

from __future__ import annotations

import tempfile
import uuid
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration.conftest import DAY, PARTY, Report, dump_views, edit_lines, write_report
from ledger.adapters.storage import as_date
from ledger.demo.samples import sample_bm_unit_ids, sample_party_period_values
from ledger.service.runtime import LedgerRuntime

UNITS = {PARTY: sample_bm_unit_ids(PARTY, 1)}
PERIODS = 48 * 3  # system, the party and its BM Unit
RUNS = (("II", 1), ("SF", 1), ("R1", 1), ("R1", 2))


@pytest.fixture(scope="module")
def run_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Report]:
    """II, SF, R1 and R1 republished as run 2; an S0141; and a file failing its checksum."""
    directory = tmp_path_factory.mktemp("runs")
    reports = {
        f"{run}{number}": write_report(
            directory, run_type=run, run_number=number, parties=[PARTY], bm_units=UNITS
        )
        for run, number in RUNS
    }
    reports["S0141"] = write_report(directory, flow="S0141", run_type="R2")
    bad = write_report(directory, run_type="R3", parties=[PARTY], bm_units=UNITS)
    edit_lines(bad.path, lambda lines: [line.replace(b"ZZZ|", b"ZZZ|9", 1) for line in lines])
    reports["bad"] = bad
    return reports


class Best(NamedTuple):
    """A period's best version as its view gives it, without its version number."""

    subject: str
    settlement_date: date
    settlement_period: int
    run_type: str
    run_number: int
    file_creation_time: datetime
    values: dict[str, Decimal]
    source_sha256: str | None


def best_table(runtime: LedgerRuntime, tenant: str) -> list[Best]:
    """Every period's best version, in order of subject, date and period."""
    with runtime.database.transaction(write=False) as tx:
        periods = tx.execute(
            "SELECT DISTINCT subject, settlement_date, settlement_period FROM period_versions"
            " WHERE tenant = ? ORDER BY subject, settlement_date, settlement_period",
            (tenant,),
        ).fetchall()
    table = []
    for subject, day, period in periods:
        settlement_date, settlement_period = as_date(day), int(period)
        best = runtime.period(subject, settlement_date, settlement_period, tenant=tenant).best
        assert best is not None
        table.append(
            Best(
                subject=subject,
                settlement_date=settlement_date,
                settlement_period=settlement_period,
                run_type=best.run_type,
                run_number=best.run_number,
                file_creation_time=best.file_creation_time,
                values=best.values,
                source_sha256=best.source.sha256 if best.source else None,
            )
        )
    return table


@cache
def in_order_reference(paths: tuple[Path, ...]) -> list[Best]:
    with tempfile.TemporaryDirectory() as directory:
        runtime = LedgerRuntime(f"sqlite:///{directory}/reference.db")
        try:
            for path in paths:
                assert runtime.ingest(path).status == "accepted"
            return best_table(runtime, "default")
        finally:
            runtime.close()


def check_any_order(
    runtime: LedgerRuntime, tenant: str, run_files: dict[str, Report], order: list[int]
) -> None:
    keys = [f"{run}{number}" for run, number in RUNS]
    reference = in_order_reference(tuple(run_files[k].path for k in keys))
    assert len(reference) == PERIODS
    latest = run_files["R12"]
    assert {(b.run_type, b.run_number, b.source_sha256) for b in reference} == {
        ("R1", 2, latest.sha256)
    }

    for i in order:
        assert runtime.ingest(run_files[keys[i]].path, tenant=tenant).status == "accepted"
    assert best_table(runtime, tenant) == reference
    for period in (1, 48):
        best = runtime.period(f"party:{PARTY}", DAY, period, tenant=tenant).best
        assert best is not None and (best.run_type, best.run_number) == ("R1", 2)
        assert best.values == sample_party_period_values(
            DAY, PARTY, period, revision=latest.revision
        )


@settings(max_examples=15, deadline=None)
@given(order=st.permutations(range(len(RUNS))))
def test_any_arrival_order_gives_the_same_best_sqlite(
    run_files: dict[str, Report], order: list[int]
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        runtime = LedgerRuntime(f"sqlite:///{directory}/ledger.db")
        try:
            check_any_order(runtime, "default", run_files, order)
        finally:
            runtime.close()


def test_any_arrival_order_gives_the_same_best_postgres(
    postgres_url: str, run_files: dict[str, Report]
) -> None:
    runtime = LedgerRuntime(postgres_url)
    try:

        @settings(max_examples=5, deadline=None)
        @given(order=st.permutations(range(len(RUNS))))
        def check(order: list[int]) -> None:
            check_any_order(runtime, f"t-{uuid.uuid4().hex}", run_files, order)

        check()
    finally:
        runtime.close()


STEPS = st.lists(
    st.one_of(
        st.sampled_from(["II1", "SF1", "R11", "R12", "S0141", "bad"]),
        st.tuples(st.just("correct"), st.integers(1, 48), st.booleans()),
    ),
    min_size=1,
    max_size=7,
)


@settings(max_examples=15, deadline=None)
@given(steps=STEPS)
def test_a_rebuilt_view_equals_the_incremental_one(
    run_files: dict[str, Report], steps: list[Any]
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        runtime = LedgerRuntime(f"sqlite:///{directory}/ledger.db")
        try:
            for step in steps:
                if isinstance(step, str):
                    runtime.ingest(run_files[step].path)
                    continue
                _, period, of_best = step
                view = runtime.period(f"party:{PARTY}", DAY, period)
                target = view.best if of_best else next(iter(view.versions), None)
                if target is None:
                    continue
                runtime.correct(
                    f"party:{PARTY}",
                    DAY,
                    period,
                    supersedes=target.version,
                    values={"bm_unit_cashflow": Decimal(period)},
                    reason="restated",
                    actor="tester",
                    tenant="default",
                )
            runtime.runner.catch_up()
            incremental = dump_views(runtime)
            runtime.runner.rebuild()
            assert dump_views(runtime) == incremental
        finally:
            runtime.close()
