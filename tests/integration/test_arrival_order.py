"""Late and out-of-order data across formats, and damaged files of every format.

- Whatever order settlement runs, published prices and meter advances arrive in (R1 before
  SF, II after RF, a publication after a run, an estimate after an actual), each lands as its
  own version and the best view ends up the same.
- A valid file of any format, damaged at random, is accepted, rejected or kept not
  interpreted: never an unhandled error, and a file that is not accepted leaves no version.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from integration.conftest import DAY, write_report
from ledger.demo.dtc_samples import SampleReading, d0010_file, d0036_file, sample_mpan
from ledger.demo.json_samples import dip_message, disebsp_day, disebsp_page
from ledger.service.runtime import LedgerRuntime

_TENANTS = itertools.count()
MPAN = sample_mpan(7)
SHARED = settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _system_deliveries(files: Path) -> dict[str, Path]:
    """Settlement runs and two publications of system prices for one day."""
    found = {
        run: write_report(files, flow="S0141", run_type=run).path
        for run in ("II", "SF", "R1", "RF")
    }
    for n, hour in enumerate((6, 18)):
        created = datetime(2026, 5, 2, hour, 0, tzinfo=UTC)
        path = files / f"prices-{n}.json"
        path.write_bytes(disebsp_page(disebsp_day(DAY, created, revision=n)))
        found[f"PUB{n}"] = path
    for n, estimated in enumerate(({1, 2}, set())):
        created = datetime(2026, 5, 2, 9, 0, tzinfo=UTC) + timedelta(days=n)
        path = files / f"advances-{n}.d0036"
        path.write_bytes(
            d0036_file(
                mpans=[MPAN],
                settlement_dates=[DAY],
                creation_time=created,
                estimated=estimated,
                file_id=f"F{n}",
            )
        )
        found[f"D0036-{n}"] = path
    return found


@pytest.fixture
def deliveries(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _system_deliveries(tmp_path_factory.mktemp("deliveries"))


@SHARED
@given(order=st.permutations(["II", "SF", "R1", "RF", "PUB0", "PUB1", "D0036-0", "D0036-1"]))
def test_the_best_view_is_right_whatever_the_arrival_order(
    runtime: LedgerRuntime, deliveries: dict[str, Path], order: list[str]
) -> None:
    tenant = f"order{next(_TENANTS)}"
    for name in order:
        result = runtime.ingest(deliveries[name], tenant=tenant)
        assert result.status == "accepted", (name, result.reasons)
    system = runtime.period("system", DAY, 1, tenant=tenant)
    assert sorted(v.run_type for v in system.versions) == sorted(
        ["II", "SF", "R1", "RF", "PUB", "PUB"]
    )
    assert system.best is not None and system.best.run_type == "RF"
    metered = runtime.period(f"mpan:{MPAN}", DAY, 1, tenant=tenant)
    assert sorted(v.run_type for v in metered.versions) == ["ACT", "EST"]
    assert metered.best is not None and metered.best.run_type == "ACT"


def _valid_files(files: Path) -> dict[str, bytes]:
    created = datetime(2026, 5, 2, 9, 0, tzinfo=UTC)
    reading = SampleReading(MPAN, "M1", "01", created, Decimal("10.5"))
    return {
        "S0142": write_report(files, run_type="SF").data,
        "D0036": d0036_file(mpans=[MPAN], settlement_dates=[DAY], creation_time=created),
        "D0010": d0010_file([reading], creation_time=created),
        "DISEBSP": disebsp_page(disebsp_day(DAY, created)),
        "DIP": json.dumps(dip_message(mpan=MPAN)).encode(),
    }


Mutation = Callable[[bytes], bytes]


@st.composite
def mutations(draw: st.DrawFn, size: int) -> Mutation:
    at = draw(st.integers(0, max(size - 1, 0)))
    kind = draw(st.sampled_from(["flip", "delete", "truncate", "insert"]))
    byte = draw(st.integers(0, 255))

    def mutate(data: bytes) -> bytes:
        if kind == "flip":
            return data[:at] + bytes([data[at] ^ (byte or 1)]) + data[at + 1 :]
        if kind == "delete":
            return data[:at] + data[at + 1 :]
        if kind == "truncate":
            return data[:at]
        return data[:at] + bytes([byte]) + data[at:]

    return mutate


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_a_damaged_file_of_any_format_is_judged_whole(
    runtime: LedgerRuntime, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    files = tmp_path_factory.mktemp("damaged")
    valid = _valid_files(files)
    name = data.draw(st.sampled_from(sorted(valid)))
    original = valid[name]
    damaged = data.draw(mutations(len(original)))(original)
    tenant = f"damaged{next(_TENANTS)}"
    path = files / f"{name}.damaged"
    path.write_bytes(damaged)
    result = runtime.ingest(path, tenant=tenant)
    assert result.status in ("accepted", "rejected", "not interpreted")
    if result.status != "accepted":
        assert result.reasons and all(r.strip() for r in result.reasons)
        assert result.new_versions == 0 and result.periods == 0
        with runtime.database.transaction(write=False) as tx:
            row = tx.execute(
                "SELECT count(*) FROM period_versions WHERE tenant = ?", (tenant,)
            ).fetchone()
        assert row is not None and row[0] == 0
        # The bytes are kept as received, and the queue says what happened.
        assert runtime.raw_bytes(result.sha256, tenant=tenant) == damaged
        assert runtime.exceptions.find(tenant=tenant)
