"""What the pipeline raises in the exception queue, with its impact, and how a corrected file
resolves what its predecessor caused (both backends)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from integration.conftest import (
    DAY,
    PARTIES,
    PARTY,
    edit_lines,
    replace_in_record,
    replace_once,
    rewrite,
    write_report,
)
from ledger.demo.dtc_samples import d0036_file, other_flow_file, sample_mpan
from ledger.demo.samples import sample_party_period_values
from ledger.service import ingestion
from ledger.service.exceptions import ExceptionView
from ledger.service.parse_apart import ParsedApart
from ledger.service.runtime import LedgerRuntime

CREATED = datetime(2026, 5, 2, 9, 0, tzinfo=UTC)


def queue(runtime: LedgerRuntime, **filters: str) -> list[ExceptionView]:
    return runtime.exceptions.find(tenant="default", **filters)


def test_a_rejected_file_blocks_billing_until_the_corrected_file_resolves_it(
    runtime: LedgerRuntime, files: Path
) -> None:
    report = write_report(files, run_type="SF")
    good = report.path.read_bytes()
    broken = edit_lines(report.path, replace_once(b"ZZZ|", b"ZZZ|9"))
    result = runtime.ingest(broken)
    assert result.status == "rejected"
    [raised] = queue(runtime)
    assert (raised.category, raised.impact, raised.status) == (
        "rejected_file",
        "blocks_billing",
        "open",
    )
    assert raised.flow == result.sha256
    assert raised.settlement_date == DAY
    assert "was rejected and none of its values entered the ledger" in raised.message
    assert "corrected file" in raised.message

    fixed = files / "fixed.txt"
    fixed.write_bytes(good)
    accepted = runtime.ingest(fixed)
    assert accepted.status == "accepted"
    [resolved] = queue(runtime)
    assert resolved.status == "resolved"
    assert resolved.resolved_by_flow == accepted.sha256
    assert [step.actor for step in resolved.history][-1] == "ledger"


def test_files_kept_not_interpreted_are_raised_by_what_they_are(
    runtime: LedgerRuntime, files: Path
) -> None:
    other = files / "d0012.txt"
    other.write_bytes(other_flow_file(mpans=[sample_mpan(1)], creation_time=CREATED))
    garbage = files / "garbage.bin"
    garbage.write_bytes(bytes(range(256)))
    assert runtime.ingest(other).status == "not interpreted"
    assert runtime.ingest(garbage).status == "not interpreted"
    by_impact = {e.impact: e for e in queue(runtime, category="not_interpreted")}
    assert set(by_impact) == {"informational", "data_quality"}
    assert "D0012" in by_impact["informational"].message
    assert "damaged or misdirected" in by_impact["data_quality"].message


def test_a_run_delivered_again_with_other_values_blocks_billing(
    runtime: LedgerRuntime, files: Path
) -> None:
    first = write_report(files, run_type="SF", run_number=2, revision=0)
    other = write_report(files, run_type="SF", run_number=2, revision=5, name="again.txt")
    assert runtime.ingest(first.path).status == "accepted"
    result = runtime.ingest(other.path)
    assert result.conflicting_versions > 0
    [raised] = queue(runtime, category="conflicting_delivery")
    assert raised.impact == "blocks_billing"
    assert "ledger intervene pin" in raised.message


def test_unmapped_metering_systems_are_raised_once_the_tenant_maps_mpans(
    runtime: LedgerRuntime, files: Path
) -> None:
    mapped, unmapped = sample_mpan(1), sample_mpan(2)
    d0036 = d0036_file(mpans=[mapped, unmapped], settlement_dates=[DAY], creation_time=CREATED)
    path = files / "advances.d0036"
    path.write_bytes(d0036)
    runtime.mappings.add(
        kind="customer",
        internal="C-100",
        market=f"mpan:{mapped}",
        valid_from=date(2026, 1, 1),
        actor="ana",
        reason="new customer",
        tenant="default",
    )
    result = runtime.ingest(path)
    assert result.status == "accepted"
    assert result.unmapped == [f"mpan:{unmapped}"]
    [raised] = queue(runtime, category="unmapped_id")
    assert (raised.subject, raised.impact) == (f"mpan:{unmapped}", "blocks_billing")
    flow = runtime.flow(result.sha256)
    assert flow is not None
    mapped_stage = next(s for s in flow.stages if s.stage == "mapped")
    assert mapped_stage.detail == {"market_ids": 2, "unmapped": [f"mpan:{unmapped}"]}
    # The data landed all the same.
    assert runtime.period(f"mpan:{unmapped}", DAY, 1).best is not None


def test_period_charges_that_do_not_add_up_to_the_daily_total_are_raised(
    runtime: LedgerRuntime, files: Path
) -> None:
    report = write_report(files, flow="S0141", run_type="SF")

    def inflate_daily(lines: list[bytes]) -> list[bytes]:
        out = []
        for line in lines:
            if line.startswith(b"APC|"):
                fields = line.split(b"|")
                fields[2] = str(Decimal(fields[2].decode() or "0") + 1000).encode()
                line = b"|".join(fields)
            out.append(line)
        return out

    edited = rewrite(report.path, inflate_daily)
    result = runtime.ingest(edited)
    assert result.status == "accepted", result.reasons
    [raised] = queue(runtime, category="totals_mismatch")
    assert (raised.impact, raised.party) == ("data_quality", PARTY)
    assert "daily total" in raised.message


def test_a_big_move_from_one_run_to_the_next_is_raised(runtime: LedgerRuntime, files: Path) -> None:
    sf = write_report(files, run_type="SF")
    r1 = write_report(files, run_type="R1")
    assert runtime.ingest(sf.path).status == "accepted"
    assert queue(runtime, category="suspicious_movement") == []
    assert runtime.ingest(r1.path).status == "accepted"
    moved = queue(runtime, category="suspicious_movement")
    assert moved, "sample runs move each party's charges by more than 5%"
    assert all(e.impact == "data_quality" for e in moved)
    assert "run R1" in moved[0].message


def movements_raised(runtime: LedgerRuntime) -> list[ExceptionView]:
    return queue(runtime, category="suspicious_movement")


def test_a_less_mature_run_arriving_late_moves_nothing_billed_and_raises_nothing(
    runtime: LedgerRuntime, files: Path
) -> None:
    assert runtime.ingest(write_report(files, run_type="R1").path).status == "accepted"
    late = runtime.ingest(write_report(files, run_type="II").path)
    assert late.status == "accepted" and late.new_versions > 0
    assert movements_raised(runtime) == []
    # The billed value did not move: R1 is still best.
    assert runtime.period(f"party:{PARTY}", DAY, 1).best.run_type == "R1"  # type: ignore[union-attr]


def test_a_later_run_that_moves_what_is_billed_still_raises(
    runtime: LedgerRuntime, files: Path
) -> None:
    reports = [write_report(files, run_type=run) for run in ("R1", "II", "R2")]
    for report in reports:
        assert runtime.ingest(report.path).status == "accepted"
    moved = movements_raised(runtime)
    assert moved, "sample runs move each party's charges by more than 5%"
    assert {e.party for e in moved} == set(PARTIES)
    assert all("with run R2 1" in e.message for e in moved)
    # Measured from what was billed (R1) to what is billed now (R2), not from the late II.
    [mine] = [e for e in moved if e.party == PARTY]
    found = re.search(r"'s (\w+) for the day moved from (\S+) to (\S+) with", mine.message)
    assert found is not None, mine.message
    measure, was, now = found.groups()
    r1, _, r2 = (
        sum(
            sample_party_period_values(DAY, PARTY, period, revision=r.revision)[measure]
            for period in range(1, 49)
        )
        for r in reports
    )
    assert (Decimal(was), Decimal(now)) == (r1, r2)


def test_a_run_delivered_again_with_other_values_moves_nothing_billed(
    runtime: LedgerRuntime, files: Path
) -> None:
    first = write_report(files, run_type="R1", revision=0)
    other = write_report(files, run_type="R1", revision=5, name="again.txt")
    assert runtime.ingest(first.path).status == "accepted"
    assert runtime.ingest(other.path).conflicting_versions > 0
    assert queue(runtime, category="conflicting_delivery")
    assert movements_raised(runtime) == []


def drop_party_period(period: int) -> Callable[[list[bytes]], list[bytes]]:
    """An edit: the first party's records for one settlement period, removed."""

    def edit(records: list[bytes]) -> list[bytes]:
        start = records.index(next(r for r in records if r.startswith(b"BPH|")))
        first = next(
            i for i in range(start, len(records)) if records[i].startswith(b"SP7|%d|" % period)
        )
        end = next(
            i for i in range(first + 1, len(records)) if records[i].startswith((b"SP7|", b"BPH|"))
        )
        return records[:first] + records[end:]

    return edit


def test_a_late_run_for_a_period_the_billed_run_lacks_is_no_movement(
    runtime: LedgerRuntime, files: Path
) -> None:
    r1 = write_report(files, run_type="R1")
    rewrite(r1.path, drop_party_period(5))
    assert runtime.ingest(r1.path).status == "accepted"
    assert runtime.period(f"party:{PARTY}", DAY, 5).versions == []
    # The II is billed for period 5 (nothing was before), nowhere else: nothing moved.
    assert runtime.ingest(write_report(files, run_type="II").path).status == "accepted"
    assert runtime.period(f"party:{PARTY}", DAY, 5).best.run_type == "II"  # type: ignore[union-attr]
    assert movements_raised(runtime) == []
    # A later run is compared with what was billed in every period, period 5's II included.
    assert runtime.ingest(write_report(files, run_type="R2").path).status == "accepted"
    assert PARTY in {e.party for e in movements_raised(runtime)}


def rejected_exception(runtime: LedgerRuntime, path: Path) -> ExceptionView:
    result = runtime.ingest(path)
    assert result.status == "rejected", result
    [raised] = [e for e in queue(runtime, category="rejected_file") if e.flow == result.sha256]
    return raised


def test_a_rejected_party_report_names_its_party_and_date_whatever_failed(
    runtime: LedgerRuntime, files: Path
) -> None:
    # Its trailer: the whole header was read.
    report = write_report(files, flow="S0141", run_type="SF")
    broken = edit_lines(report.path, replace_once(b"ZZZ|", b"ZZZ|9"))
    raised = rejected_exception(runtime, broken)
    assert (raised.subject, raised.party, raised.settlement_date) == (
        f"party:{PARTY}",
        PARTY,
        DAY,
    )
    # Its header's run type: the date and party are in the header all the same.
    other = write_report(files, flow="S0141", run_type="R1", name="unknown-run.txt")
    rewrite(other.path, replace_in_record(b"SRH|", b"|R1|", b"|X9|"))
    raised = rejected_exception(runtime, other.path)
    assert "X9" in raised.message
    assert (raised.subject, raised.party, raised.settlement_date) == (
        f"party:{PARTY}",
        PARTY,
        DAY,
    )


def test_a_rejected_all_parties_report_names_its_date_and_no_one_subject(
    runtime: LedgerRuntime, files: Path
) -> None:
    report = write_report(files, run_type="R1")
    rewrite(report.path, replace_in_record(b"SRH|", b"|R1|", b"|X9|"))
    raised = rejected_exception(runtime, report.path)
    assert (raised.subject, raised.settlement_date) == (None, DAY)
    assert DAY.isoformat() in raised.message


def test_a_rejected_d0036_names_its_metering_system_and_date(
    runtime: LedgerRuntime, files: Path
) -> None:
    mpan = sample_mpan(1)
    one = files / "one.d0036"
    one.write_bytes(
        d0036_file(mpans=[mpan], settlement_dates=[DAY], creation_time=CREATED).replace(
            b"103|A|16.3|", b"103|A|many|", 1
        )
    )
    raised = rejected_exception(runtime, one)
    assert (raised.subject, raised.settlement_date) == (f"mpan:{mpan}", DAY)
    # Two metering systems: about no one of them, on one date all the same.
    two = files / "two.d0036"
    data = d0036_file(mpans=[mpan, sample_mpan(2)], settlement_dates=[DAY], creation_time=CREATED)
    lines = data.split(b"\n")
    lines[-3] = lines[-3].replace(b"103|A|", b"103|Q|", 1)  # the second MPAN's last period
    two.write_bytes(b"\n".join(lines))
    raised = rejected_exception(runtime, two)
    assert (raised.subject, raised.settlement_date) == (None, DAY)


def test_what_a_file_stated_crosses_from_a_reading_process(
    open_runtime: Callable[[], LedgerRuntime], files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_PARSE_APART_BYTES", "0")
    monkeypatch.setattr("ledger.service.ingestion.possible", lambda: True)
    started: list[str] = []
    apart = ParsedApart

    def reading_apart(*args: Any, **kwargs: Any) -> ParsedApart:
        started.append(kwargs["file_name"])
        return apart(*args, **kwargs)

    monkeypatch.setattr(ingestion, "ParsedApart", reading_apart)
    runtime = open_runtime()
    report = write_report(files, flow="S0141", run_type="R1")
    rewrite(report.path, replace_in_record(b"SRH|", b"|R1|", b"|X9|"))
    raised = rejected_exception(runtime, report.path)
    assert started == [report.path.name]
    assert (raised.subject, raised.settlement_date) == (f"party:{PARTY}", DAY)


def test_several_files_of_one_run_rejected_keep_each_file_s_reason(
    runtime: LedgerRuntime, files: Path
) -> None:
    report = write_report(files, run_type="SF")
    good = report.data
    defects = {
        "first.txt": replace_once(b"ZZZ|", b"ZZZ|9"),
        "second.txt": replace_once(b"PPC|", b"PPC|x"),
        "third.txt": replace_once(b"SP7|3|", b"SP7|3x|"),
    }
    shas = []
    for name, defect in defects.items():
        path = files / name
        path.write_bytes(good)
        edit_lines(path, defect)
        result = runtime.ingest(path)
        assert result.status == "rejected"
        shas.append(result.sha256)
    [raised] = queue(runtime, category="rejected_file")
    assert raised.flow == shas[-1]
    for name in defects:
        assert name in raised.message, (name, raised.message)
    assert "Before it, 2 files showed this: " in raised.message
    assert [step.flow for step in raised.history] == shas
    # The corrected file resolves it, and a later rejection starts afresh.
    fixed = files / "fixed.txt"
    fixed.write_bytes(good)
    assert runtime.ingest(fixed).status == "accepted"
    again = files / "again.txt"
    again.write_bytes(good.replace(b"ZZZ|", b"ZZZ|8", 1))
    assert runtime.ingest(again).status == "rejected"
    [reopened] = queue(runtime, category="rejected_file")
    assert reopened.status == "reopened"
    assert "again.txt" in reopened.message and "Before it" not in reopened.message
