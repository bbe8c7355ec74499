"""Properties of the views: arrival order does not matter, and a rebuild equals the live build.

Hypothesis runs many examples inside one test call, so function-scoped fixtures are not reset
between them: each SQLite example makes its own database file, and the PostgreSQL example
uses a fresh tenant (tenants are isolated) on the test's database.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration.conftest import DAY, PARTY, Report, dump_views, edit_lines, write_report
from ledger.adapters.storage import as_date, as_datetime
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


def best_table(runtime: LedgerRuntime, tenant: str) -> list[tuple[Any, ...]]:
    """Every period's best version, without version numbers, in backend-neutral types."""
    with runtime.database.transaction() as tx:
        rows = tx.execute(
            "SELECT b.subject, b.settlement_date, b.settlement_period, b.maturity_rank,"
            " b.run_number, b.file_creation_time, p.run_type, p.run_number, p.values_json,"
            " p.source_sha256"
            " FROM best_versions b JOIN period_versions p ON p.tenant = b.tenant"
            " AND p.subject = b.subject AND p.settlement_date = b.settlement_date"
            " AND p.settlement_period = b.settlement_period AND p.version = b.version"
            " WHERE b.tenant = ?"
            " ORDER BY b.subject, b.settlement_date, b.settlement_period",
            (tenant,),
        ).fetchall()
    return [
        (
            subject,
            as_date(day).isoformat(),
            int(period),
            int(rank),
            int(number),
            as_datetime(created),
            run_type,
            int(run_number),
            json.loads(values),
            sha,
        )
        for subject, day, period, rank, number, created, run_type, run_number, values, sha in rows
    ]


@cache
def in_order_reference(paths: tuple[Path, ...]) -> list[tuple[Any, ...]]:
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
    assert {(row[6], row[7], row[9]) for row in reference} == {("R1", 2, latest.sha256)}

    for i in order:
        assert runtime.ingest(run_files[keys[i]].path, tenant=tenant).status == "accepted"
    assert best_table(runtime, tenant) == reference
    for period in (1, 48):
        best = runtime.period(f"party:{PARTY}", DAY, period, tenant=tenant)["best"]
        assert (best["run_type"], best["run_number"]) == ("R1", 2)
        values = {k: Decimal(v) for k, v in best["values"].items()}
        assert values == sample_party_period_values(DAY, PARTY, period, revision=latest.revision)


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
                if not view["versions"]:
                    continue
                target = view["best"] if of_best else view["versions"][0]
                runtime.correct(
                    f"party:{PARTY}",
                    DAY,
                    period,
                    supersedes=target["version"],
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
