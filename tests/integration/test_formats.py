"""Every format through one pipeline: settlement reports, DTC flows, published prices, MHHS
messages and files no format reads, each visibly through the same stages (both backends)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from integration.conftest import period_json, write_report
from ledger.demo.dtc_samples import (
    SampleReading,
    d0010_file,
    d0036_file,
    d0036_value,
    other_flow_file,
    sample_mpan,
)
from ledger.demo.json_samples import dip_message, disebsp_day, disebsp_page, mpan_for
from ledger.flows.formats import MAX_LEADING_WHITE_SPACE
from ledger.service.runtime import LedgerRuntime
from projections.meter_readings import meter_readings

DAY = date(2026, 5, 1)
MPAN = sample_mpan(1)
CREATED = datetime(2026, 5, 2, 9, 0, tzinfo=UTC)
ACCEPTED_STAGES = ["received", "validated", "mapped", "interpreted", "published"]


def stages(runtime: LedgerRuntime, sha256: str) -> list[str]:
    flow = runtime.flow(sha256)
    assert flow is not None
    return [s.stage for s in flow.stages]


def ingest(runtime: LedgerRuntime, files: Path, name: str, data: bytes) -> dict[str, object]:
    path = files / name
    path.write_bytes(data)
    return runtime.ingest(path).as_dict()


def test_d0036_lands_as_mpan_versions_and_an_actual_replaces_an_estimate(
    runtime: LedgerRuntime, files: Path
) -> None:
    estimated = d0036_file(
        mpans=[MPAN], settlement_dates=[DAY], creation_time=CREATED, estimated={1, 2}
    )
    first = ingest(runtime, files, "estimated.d0036", estimated)
    assert (first["status"], first["format"], first["flow"]) == ("accepted", "dtc", "D0036")
    assert first["settlement_date"] == DAY.isoformat()
    assert stages(runtime, str(first["sha256"])) == ACCEPTED_STAGES

    view = runtime.period(f"mpan:{MPAN}", DAY, 1)
    assert view.best is not None
    assert (view.best.run_type, view.best.maturity) == ("EST", "estimated")
    expected = d0036_value(MPAN, "AI", DAY, 1)
    assert [Decimal(v) for v in view.best.values.values()] == [expected]
    assert runtime.period(f"mpan:{MPAN}", DAY, 3).best.maturity == "actual"  # type: ignore[union-attr]

    later = datetime(2026, 5, 3, 9, 0, tzinfo=UTC)
    actual = d0036_file(mpans=[MPAN], settlement_dates=[DAY], creation_time=later, file_id="F2")
    second = ingest(runtime, files, "actual.d0036", actual)
    assert second["status"] == "accepted"
    view = runtime.period(f"mpan:{MPAN}", DAY, 1)
    assert [v.run_type for v in view.versions] == ["EST", "ACT"]
    assert view.best is not None and view.best.run_type == "ACT"
    # Period 3 was actual in both files with the same values: each file is its own delivery.
    assert len(runtime.period(f"mpan:{MPAN}", DAY, 3).versions) == 2

    # An estimate arriving after the actual never takes its place.
    latest = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
    again = d0036_file(
        mpans=[MPAN], settlement_dates=[DAY], creation_time=latest, estimated={1}, file_id="F3"
    )
    assert ingest(runtime, files, "late-estimate.d0036", again)["status"] == "accepted"
    best = runtime.period(f"mpan:{MPAN}", DAY, 1).best
    assert best is not None and best.run_type == "ACT"


def test_d0010_readings_are_kept_per_mpan_and_meter(runtime: LedgerRuntime, files: Path) -> None:
    read_at = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    readings = [
        SampleReading(MPAN, "M1", "01", read_at, Decimal("56311.0")),
        SampleReading(MPAN, "M2", "01", read_at, Decimal("120.5")),
    ]
    result = ingest(runtime, files, "reads.d0010", d0010_file(readings, creation_time=CREATED))
    assert (result["status"], result["flow"], result["readings"]) == ("accepted", "D0010", 2)
    assert stages(runtime, str(result["sha256"])) == ACCEPTED_STAGES
    with runtime.database.transaction(write=False) as tx:
        kept = meter_readings(tx, "default", MPAN)
        only_m2 = meter_readings(tx, "default", MPAN, "M2")
    assert sorted((r.meter, r.reading) for r in kept) == [
        ("M1", Decimal("56311.0")),
        ("M2", Decimal("120.5")),
    ]
    assert [r.reading for r in only_m2] == [Decimal("120.5")]


def test_another_d_flow_is_kept_not_interpreted_with_its_envelope_checked(
    runtime: LedgerRuntime, files: Path
) -> None:
    result = ingest(
        runtime, files, "d0012.txt", other_flow_file(mpans=[MPAN], creation_time=CREATED)
    )
    assert result["status"] == "not interpreted"
    assert "does not interpret" in str(result["reasons"])
    assert stages(runtime, str(result["sha256"])) == ["received", "validated", "not_interpreted"]
    assert runtime.raw_bytes(str(result["sha256"])) == other_flow_file(
        mpans=[MPAN], creation_time=CREATED
    )


def test_published_prices_rank_below_any_settlement_run_whatever_the_order(
    runtime: LedgerRuntime, files: Path
) -> None:
    report = write_report(files, run_type="SF")
    assert runtime.ingest(report.path).status == "accepted"
    published = datetime(2026, 5, 1, 23, 44, tzinfo=UTC)
    page = disebsp_page(disebsp_day(DAY, published))
    result = ingest(runtime, files, "prices.json", page)
    assert (result["status"], result["format"], result["flow"]) == (
        "accepted",
        "insights-disebsp",
        "DISEBSP",
    )
    assert stages(runtime, str(result["sha256"])) == ACCEPTED_STAGES
    view = runtime.period("system", DAY, 1)
    assert sorted(v.run_type for v in view.versions) == ["PUB", "SF"]
    assert view.best is not None and view.best.run_type == "SF"

    # A later publication is a new version, still below the run; the same one again is not.
    later = disebsp_page(disebsp_day(DAY, datetime(2026, 5, 2, 6, 0, tzinfo=UTC), revision=1))
    assert ingest(runtime, files, "prices-later.json", later)["status"] == "accepted"
    again = ingest(runtime, files, "prices-again.json", page.replace(b"\n", b"\r\n"))
    assert (again["status"], again["new_versions"], again["further_sources"]) == (
        "accepted",
        0,
        48,
    )
    view = runtime.period("system", DAY, 1)
    assert sorted(v.run_type for v in view.versions) == ["PUB", "PUB", "SF"]
    assert view.best is not None and view.best.run_type == "SF"


def test_an_mhhs_message_is_kept_and_mapped_to_its_metering_system(
    runtime: LedgerRuntime, files: Path
) -> None:
    mpan = mpan_for("_A")
    message = json.dumps(dip_message(mpan=mpan)).encode()
    result = ingest(runtime, files, "if021.json", message)
    assert (result["status"], result["format"], result["flow"]) == (
        "not interpreted",
        "mhhs-dip",
        "IF-021",
    )
    assert stages(runtime, str(result["sha256"])) == ["received", "validated", "not_interpreted"]
    flow = runtime.flow(str(result["sha256"]))
    assert flow is not None
    assert flow.stages[1].detail["format"] == "mhhs-dip"


def test_a_file_no_format_reads_is_kept_and_said_so(runtime: LedgerRuntime, files: Path) -> None:
    garbage = bytes(range(256)) * 4
    result = ingest(runtime, files, "mystery.bin", garbage)
    assert result["status"] == "not interpreted"
    assert "no format the ledger reads recognises it (it is not text" in str(result["reasons"])
    assert stages(runtime, str(result["sha256"])) == ["received", "not_interpreted"]
    assert runtime.raw_bytes(str(result["sha256"])) == garbage
    # The same bytes again: a duplicate receipt of a file kept, no second verdict.
    again = ingest(runtime, files, "mystery-again.bin", garbage)
    assert again["status"] == "not interpreted"
    assert "received before and kept" in str(again["reasons"])


def test_published_values_show_as_written_in_plain_digits(
    runtime: LedgerRuntime, files: Path
) -> None:
    """The live API writes 18 decimal places: a zero shows as those 18 zeros, not 0E-18."""
    record = disebsp_day(DAY, datetime(2026, 5, 1, 23, 44, tzinfo=UTC))[0]
    record["reserveScarcityPrice"] = Decimal("0.000000000000000000")
    record["systemSellPrice"] = Decimal("344.249492314814801830")
    assert ingest(runtime, files, "prices.json", disebsp_page([record]))["status"] == "accepted"
    shown = period_json(runtime, "system", DAY, record["settlementPeriod"])
    values = shown["best"]["values"]
    assert values["reserve_scarcity_price"] == "0.000000000000000000"
    assert values["system_sell_price"] == "344.249492314814801830"


def test_json_after_much_white_space_is_read_as_json(runtime: LedgerRuntime, files: Path) -> None:
    """Detection looks past leading white space (JSON allows any), bounded and streaming."""
    page = disebsp_page(disebsp_day(DAY, CREATED))
    for name, padding in (("spaced.json", b" " * 8192), ("lines.json", b"\r\n\t " * 50_000)):
        result = ingest(runtime, files, name, padding + page)
        assert (result["status"], result["format"], result["periods"]) == (
            "accepted",
            "insights-disebsp",
            48,
        ), name


def test_a_file_of_white_space_says_so_exactly(runtime: LedgerRuntime, files: Path) -> None:
    cases = {
        "empty.json": (b"", "the file is empty: there is nothing to read in it"),
        "blank.json": (
            b"\xef\xbb\xbf" + b" \n" * 6000,
            "the file holds only white space (12,000 bytes): there is nothing to read in it",
        ),
        "flood.json": (
            b" " * (MAX_LEADING_WHITE_SPACE + 1) + b"{}",
            f"the file begins with more than {MAX_LEADING_WHITE_SPACE:,} bytes of white space "
            "before its first character: it was not read further",
        ),
    }
    for name, (data, reason) in cases.items():
        result = ingest(runtime, files, name, data)
        assert (result["status"], result["reasons"]) == ("rejected", [f"file {name}: {reason}"])
        assert runtime.raw_bytes(str(result["sha256"])) == data  # kept as received


def test_a_publication_from_the_future_is_refused_and_a_real_later_one_is_best(
    runtime: LedgerRuntime, files: Path
) -> None:
    first = datetime(2026, 5, 1, 23, 44, tzinfo=UTC)
    assert (
        ingest(runtime, files, "first.json", disebsp_page(disebsp_day(DAY, first)))["status"]
        == "accepted"
    )
    future = datetime(2150, 1, 1, 0, 0, tzinfo=UTC)
    refused = ingest(
        runtime, files, "future.json", disebsp_page(disebsp_day(DAY, future, revision=1))
    )
    assert refused["status"] == "rejected"
    reasons = refused["reasons"]
    assert isinstance(reasons, list) and len(reasons) == 1
    reason = str(reasons[0])
    assert reason.startswith(
        "file future.json: DISEBSP page 'future.json' record 1 (settlement date 2026-05-01, "
        "period 1): createdDateTime 2150-01-01T00:00:00Z is later than the file's arrival ("
    )
    assert reason.endswith(
        "so the file is refused; check the sender's clock and send the file again"
    )
    assert runtime.raw_bytes(str(refused["sha256"])) is not None  # kept, as every rejection
    # A real publication, later than the first, arriving after the refused one: it is best.
    later = datetime(2026, 5, 2, 6, 0, tzinfo=UTC)
    page = disebsp_page(disebsp_day(DAY, later, revision=2))
    assert ingest(runtime, files, "later.json", page)["status"] == "accepted"
    view = runtime.period("system", DAY, 1)
    assert [v.file_creation_time for v in view.versions] == [first, later]
    assert view.best is not None and view.best.file_creation_time == later


def test_a_report_created_after_it_arrived_is_refused_read_here_or_apart(
    open_runtime: Callable[[], LedgerRuntime], files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    future = datetime.now(UTC) + timedelta(hours=1)
    report = write_report(files, run_type="SF", created=future)
    reasons = []
    for apart in ("never", "0"):
        monkeypatch.setenv("LEDGER_PARSE_APART_BYTES", apart)
        result = open_runtime().ingest(report.path, tenant=f"t{apart}")
        assert result.status == "rejected"
        reasons.append(result.reasons[0])
    assert reasons[0] == reasons[1]
    assert f"the AAA header's creation time {future:%Y-%m-%dT%H:%M:%SZ} is later than" in reasons[0]
    monkeypatch.setenv("LEDGER_FUTURE_TOLERANCE_SECONDS", "7200")
    assert open_runtime().ingest(report.path, tenant="skewed").status == "accepted"
