"""Accepted flows end to end: results, period views, provenance, versions, as-of, duplicates."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from integration.conftest import (
    BM_UNITS,
    BMU_SUBJECT,
    DAY,
    PARTIES,
    PARTY,
    PARTY_SUBJECT,
    S0141_PERIODS,
    S0142_PERIODS,
    Report,
    count_rows,
    line_at,
    period_json,
    write_report,
)
from ledger.demo.samples import (
    sample_bm_unit_period_values,
    sample_party_period_values,
    sample_system_period_values,
)
from ledger.service.runtime import LedgerRuntime


def values(version: dict[str, Any]) -> dict[str, Decimal]:
    return {k: Decimal(v) for k, v in version["values"].items()}


def content(version: dict[str, Any]) -> dict[str, Any]:
    """What a version says, without where it sits in a period's history."""
    return {k: v for k, v in version.items() if k not in ("version", "recorded_at")}


def expected_party(report: Report, party: str, period: int) -> dict[str, Decimal]:
    return sample_party_period_values(
        report.settlement_date, party, period, revision=report.revision
    )


def test_accepted_s0142(runtime: LedgerRuntime, files: Path) -> None:
    report = write_report(files, flow="S0142", run_type="II")
    result = runtime.ingest(report.path)

    assert result.status == "accepted"
    assert result.flow == "S0142"
    assert result.periods == S0142_PERIODS
    # Received, one event per subject-period, Validated, Mapped, Interpreted, Published.
    assert result.events == S0142_PERIODS + 5
    assert result.reasons == []
    assert result.sha256 == report.sha256
    assert (result.settlement_date, result.run_type, result.run_number) == (
        DAY.isoformat(),
        "II",
        1,
    )

    for party in PARTIES:
        for period in (1, 2, 24, 47, 48):
            view = period_json(runtime, f"party:{party}", DAY, period)
            assert [v["version"] for v in view["versions"]] == [1]
            best = view["best"]
            assert best == view["versions"][0]
            assert values(best) == expected_party(report, party, period)
            assert (best["kind"], best["run_type"], best["run_number"]) == ("run", "II", 1)
            assert best["maturity"] == "indicative"
            assert best["source"]["sha256"] == report.sha256
            assert best["source"]["flow"] == "S0142"
            record = line_at(report.path, best["source"]["record_position"])
            assert record == f"SP7|{period}|".encode()

    system = period_json(runtime, "system", DAY, 3)["best"]
    assert values(system) == sample_system_period_values(DAY, 3, revision=report.revision)
    assert line_at(report.path, system["source"]["record_position"]).startswith(b"SPI|3|")

    for party, units in BM_UNITS.items():
        for unit in units:
            bmu = period_json(runtime, f"bmu:{unit}", DAY, 5)["best"]
            assert bmu["attributes"] == {"bsc_party_id": party, "trading_unit_name": unit}
            expected = sample_bm_unit_period_values(DAY, unit, 5, revision=report.revision)
            assert values(bmu) == expected
            assert bmu["source"]["sha256"] == report.sha256
            record = line_at(report.path, bmu["source"]["record_position"])
            assert record.startswith(f"BP7|{unit}|".encode())

    assert count_rows(runtime, "period_versions") == S0142_PERIODS
    flow = runtime.flow(report.sha256)
    assert flow is not None
    assert (flow.status, flow.flow, flow.periods, flow.receipts) == ("accepted", "S0142", 288, 1)
    assert [s.stage for s in flow.stages] == [
        "received",
        "validated",
        "mapped",
        "interpreted",
        "published",
    ]


def test_accepted_s0141(runtime: LedgerRuntime, files: Path) -> None:
    report = write_report(files, flow="S0141", run_type="SF")
    result = runtime.ingest(report.path)

    assert result.status == "accepted"
    assert result.flow == "S0141"
    assert result.periods == S0141_PERIODS
    assert result.events == S0141_PERIODS + 5
    assert result.reasons == []
    assert result.bsc_party_id == PARTY

    for period in range(1, 49):
        view = period_json(runtime, PARTY_SUBJECT, DAY, period)
        (only,) = view["versions"]
        assert view["best"] == only
        assert values(only) == expected_party(report, PARTY, period)
        assert (only["run_type"], only["maturity"]) == ("SF", "settlement")
        assert only["source"]["sha256"] == report.sha256
        assert only["source"]["flow"] == "S0141"
        assert line_at(report.path, only["source"]["record_position"]) == f"SPH|{period}|".encode()

    system = period_json(runtime, "system", DAY, 30)["best"]
    assert values(system) == sample_system_period_values(DAY, 30, revision=report.revision)
    assert line_at(report.path, system["source"]["record_position"]).startswith(b"SSD|")
    # The party's BPD records belong to its BM Unit; the other party is not in the file.
    unit = period_json(runtime, BMU_SUBJECT, DAY, 30)["best"]
    assert values(unit) == sample_bm_unit_period_values(
        DAY, BM_UNITS[PARTY][0], 30, revision=report.revision
    )
    assert line_at(report.path, unit["source"]["record_position"]).startswith(b"BPD|")
    assert period_json(runtime, f"party:{PARTIES[1]}", DAY, 30)["versions"] == []


def test_versions_across_runs(runtime: LedgerRuntime, files: Path) -> None:
    reports = [write_report(files, run_type=run) for run in ("II", "SF", "R1")]
    for report in reports:
        assert runtime.ingest(report.path).status == "accepted"

    view = period_json(runtime, PARTY_SUBJECT, DAY, 17)
    versions = view["versions"]
    assert [v["version"] for v in versions] == [1, 2, 3]
    assert [v["run_type"] for v in versions] == ["II", "SF", "R1"]
    assert [v["maturity"] for v in versions] == ["indicative", "settlement", "settlement"]
    assert [v["source"]["sha256"] for v in versions] == [r.sha256 for r in reports]
    for version, report in zip(versions, reports, strict=True):
        assert values(version) == expected_party(report, PARTY, 17)
    assert len({tuple(v["values"].items()) for v in versions}) == 3, "runs give new values"
    assert view["best"] == versions[2]
    assert view["best"]["run_type"] == "R1"
    assert count_rows(runtime, "period_versions") == 3 * S0142_PERIODS


def test_the_period_view_is_typed_and_printed_exactly(runtime: LedgerRuntime, files: Path) -> None:
    report = write_report(files, run_type="II")
    assert runtime.ingest(report.path).status == "accepted"
    view = runtime.period(PARTY_SUBJECT, DAY, 5)
    best = view.best
    assert best is not None and view.versions == [best]
    assert best.values == expected_party(report, PARTY, 5)
    assert all(isinstance(v, Decimal) for v in best.values.values())
    assert best.recorded_at.utcoffset() is not None
    assert (view.settlement_date, view.views.up_to_date) == (DAY, True)
    # What the CLI and the API print: exact decimal strings, ISO 8601 instants and dates.
    shown = view.model_dump(mode="json")
    assert shown["best"]["values"] == {k: str(v) for k, v in best.values.items()}
    assert shown["best"]["recorded_at"] == best.recorded_at.isoformat()
    assert (shown["settlement_date"], shown["as_of"]) == (DAY.isoformat(), None)
    assert shown["scheduled_runs"]["II"] == view.scheduled_runs["II"].isoformat()


def test_out_of_order_arrival_gives_the_same_best(runtime: LedgerRuntime, files: Path) -> None:
    reports = {run: write_report(files, run_type=run) for run in ("II", "SF", "R1")}
    for run in ("II", "SF", "R1"):
        assert runtime.ingest(reports[run].path, tenant="in-order").status == "accepted"
    for run in ("R1", "II", "SF"):
        assert runtime.ingest(reports[run].path, tenant="shuffled").status == "accepted"

    for subject in (PARTY_SUBJECT, "system", BMU_SUBJECT):
        for period in (1, 30, 48):
            in_order = period_json(runtime, subject, DAY, period, tenant="in-order")
            shuffled = period_json(runtime, subject, DAY, period, tenant="shuffled")
            assert shuffled["best"]["run_type"] == "R1"
            assert shuffled["best"]["version"] == 1
            assert content(shuffled["best"]) == content(in_order["best"])
            assert [v["run_type"] for v in shuffled["versions"]] == ["R1", "II", "SF"]


@pytest.mark.parametrize("order", ["run 1 first", "run 2 first"])
def test_republished_run_with_higher_run_number_wins(
    runtime: LedgerRuntime, files: Path, order: str
) -> None:
    first = write_report(files, run_type="R1", run_number=1)
    second = write_report(files, run_type="R1", run_number=2)
    sequence = [first, second] if order == "run 1 first" else [second, first]
    for report in sequence:
        assert runtime.ingest(report.path).status == "accepted"

    view = period_json(runtime, PARTY_SUBJECT, DAY, 9)
    assert len(view["versions"]) == 2
    best = view["best"]
    assert (best["run_type"], best["run_number"]) == ("R1", 2)
    assert best["source"]["sha256"] == second.sha256
    assert values(best) == expected_party(second, PARTY, 9)


@pytest.mark.parametrize("order", ["earlier file first", "later file first"])
def test_the_same_run_with_other_values_never_displaces_what_is_held(
    runtime: LedgerRuntime, files: Path, order: str
) -> None:
    """A republication carries a higher SAA run number; the same run number with other
    values is a conflict for someone to decide, whichever file was created later."""
    earlier = write_report(files, run_type="R1", revision=20)
    later = write_report(
        files, run_type="R1", revision=21, created=earlier.creation_time + timedelta(hours=3)
    )
    first, second = [earlier, later] if order == "earlier file first" else [later, earlier]
    for report in (first, second):
        assert runtime.ingest(report.path).status == "accepted"

    view = period_json(runtime, PARTY_SUBJECT, DAY, 40)
    held, conflicting = view["versions"]
    assert view["best"] == held
    assert held["source"]["sha256"] == first.sha256
    assert values(held) == expected_party(first, PARTY, 40)
    assert (conflicting["kind"], conflicting["conflicts_with"]) == ("conflicting run", 1)
    assert conflicting["source"]["sha256"] == second.sha256


def test_as_of(runtime: LedgerRuntime, files: Path) -> None:
    ii = write_report(files, run_type="II")
    sf = write_report(files, run_type="SF")
    runtime.ingest(ii.path)
    runtime.ingest(sf.path)

    now = period_json(runtime, PARTY_SUBJECT, DAY, 12)
    first, second = now["versions"]
    first_at = datetime.fromisoformat(first["recorded_at"])
    second_at = datetime.fromisoformat(second["recorded_at"])
    assert first_at < second_at
    assert now["best"]["run_type"] == "SF"

    between = first_at + (second_at - first_at) / 2
    then = period_json(runtime, PARTY_SUBJECT, DAY, 12, as_of=between)
    assert then["as_of"] == between.isoformat()
    assert [v["version"] for v in then["versions"]] == [1]
    assert then["best"] == first
    assert then["best"]["run_type"] == "II"

    # At exactly the instant a version was recorded, it is known.
    assert len(period_json(runtime, PARTY_SUBJECT, DAY, 12, as_of=first_at)["versions"]) == 1
    assert period_json(runtime, PARTY_SUBJECT, DAY, 12, as_of=second_at)["versions"] == [
        first,
        second,
    ]

    # The same instant written in another time zone means the same.
    elsewhere = between.astimezone(timezone(timedelta(hours=-5)))
    assert period_json(runtime, PARTY_SUBJECT, DAY, 12, as_of=elsewhere)["versions"] == [first]

    before = period_json(
        runtime, PARTY_SUBJECT, DAY, 12, as_of=first_at - timedelta(microseconds=1)
    )
    assert before["versions"] == []
    assert before["best"] is None


def test_duplicate_bytes_add_a_receipt_not_a_version(runtime: LedgerRuntime, files: Path) -> None:
    report = write_report(files)
    first = runtime.ingest(report.path)
    assert first.status == "accepted"
    versions = count_rows(runtime, "period_versions")
    view = period_json(runtime, PARTY_SUBJECT, DAY, 1)

    copy = files / "same-bytes-other-name.txt"
    copy.write_bytes(report.data)
    second = runtime.ingest(copy)
    assert second.status == "duplicate"
    assert second.sha256 == first.sha256
    assert second.flow == "S0142"
    assert second.periods == 0
    assert any("already received" in r for r in second.reasons)

    assert count_rows(runtime, "period_versions") == versions
    again = period_json(runtime, PARTY_SUBJECT, DAY, 1)
    assert again.pop("views")["up_to_date"] and view.pop("views")["up_to_date"]
    assert again == view
    flow = runtime.flow(report.sha256)
    assert flow is not None
    assert flow.status == "accepted"
    assert flow.receipts == 2
    assert [s.stage for s in flow.stages] == [
        "received",
        "validated",
        "mapped",
        "interpreted",
        "published",
        "duplicate_received",
    ]
    assert flow.stages[-1].detail["file_name"] == copy.name


def test_tenants_are_walls(runtime: LedgerRuntime, files: Path) -> None:
    a_only = write_report(files, run_type="II")
    shared = write_report(files, run_type="SF")
    assert runtime.ingest(a_only.path, tenant="a").status == "accepted"
    assert runtime.ingest(shared.path, tenant="a").status == "accepted"
    # The same bytes under another tenant are a first receipt there, not a duplicate.
    b_result = runtime.ingest(shared.path, tenant="b")
    assert b_result.status == "accepted"
    assert b_result.periods == S0142_PERIODS

    a_view = period_json(runtime, PARTY_SUBJECT, DAY, 6, tenant="a")
    b_view = period_json(runtime, PARTY_SUBJECT, DAY, 6, tenant="b")
    assert [v["run_type"] for v in a_view["versions"]] == ["II", "SF"]
    assert [v["run_type"] for v in b_view["versions"]] == ["SF"]
    assert b_view["versions"][0]["version"] == 1
    assert period_json(runtime, PARTY_SUBJECT, DAY, 6, tenant="c")["versions"] == []
    assert period_json(runtime, PARTY_SUBJECT, DAY, 6)["best"] is None  # the default tenant

    # Flows are per tenant too: b never received the II file, and c received nothing.
    assert runtime.flow(a_only.sha256, tenant="b") is None
    assert runtime.flow(shared.sha256, tenant="c") is None
    a_flow = runtime.flow(shared.sha256, tenant="a")
    b_flow = runtime.flow(shared.sha256, tenant="b")
    assert a_flow is not None and b_flow is not None
    assert a_flow.flow_id != b_flow.flow_id
    assert (a_flow.tenant, b_flow.tenant) == ("a", "b")
    assert a_flow.receipts == b_flow.receipts == 1
    assert runtime.raw_bytes(shared.sha256, tenant="b") == shared.data
    assert runtime.raw_bytes(a_only.sha256, tenant="b") is None
    assert count_rows(runtime, "period_versions", tenant="a") == 2 * S0142_PERIODS
    assert count_rows(runtime, "period_versions", tenant="b") == S0142_PERIODS


def test_bom_and_crlf_are_accepted(runtime: LedgerRuntime, files: Path) -> None:
    report = write_report(files, run_type="SF", bom=True, line_end=b"\r\n")
    data = report.data
    assert data.startswith(b"\xef\xbb\xbfAAA|") and b"|\r\n" in data

    result = runtime.ingest(report.path)
    assert result.status == "accepted", result.reasons
    assert result.periods == S0142_PERIODS
    best = period_json(runtime, PARTY_SUBJECT, DAY, 20)["best"]
    assert values(best) == expected_party(report, PARTY, 20)
    assert line_at(report.path, best["source"]["record_position"]) == b"SP7|20|"
    assert runtime.raw_bytes(report.sha256) == data


def test_ingest_bytes_matches_ingest_path(runtime: LedgerRuntime, files: Path) -> None:
    report = write_report(files, run_type="II")
    result = runtime.ingest_bytes(report.data, file_name="upload.txt", tenant="api")
    assert (result.status, result.periods, result.sha256) == (
        "accepted",
        S0142_PERIODS,
        report.sha256,
    )
    flow = runtime.flow(report.sha256, tenant="api")
    assert flow is not None and (flow.channel, flow.file_name) == ("api", "upload.txt")
    best = period_json(runtime, PARTY_SUBJECT, DAY, 2, tenant="api")["best"]
    assert values(best) == expected_party(report, PARTY, 2)


def test_the_autumn_clock_change_day_has_50_periods(runtime: LedgerRuntime, files: Path) -> None:
    long_day = date(2026, 10, 25)
    report = write_report(files, settlement_date=long_day)
    result = runtime.ingest(report.path)
    assert result.status == "accepted", result.reasons
    assert result.periods == S0142_PERIODS // 48 * 50
    view = period_json(runtime, PARTY_SUBJECT, long_day, 50)
    assert values(view["best"]) == expected_party(report, PARTY, 50)
    assert view["period_start"] == "2026-10-25T23:30:00+00:00"
    assert line_at(report.path, view["best"]["source"]["record_position"]) == b"SP7|50|"
