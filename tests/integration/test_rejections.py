"""Rejected flows: business reasons, nothing half-ingested, the original bytes kept."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Literal

import psycopg
import pytest

from integration.conftest import (
    DAY,
    PARTIES,
    PARTY_SUBJECT,
    SHORT_DAY,
    Report,
    count_rows,
    edit_lines,
    replace_in_record,
    rewrite,
    write_report,
)
from ledger.adapters import storage
from ledger.demo.samples import sample_bm_unit_ids, sample_party_ids
from ledger.domain.errors import LedgerBusy
from ledger.service import period_writer
from ledger.service.runtime import LedgerRuntime


def _alter_digit(prefix: bytes, *, last: bool = False) -> Callable[[list[bytes]], list[bytes]]:
    """An edit (no repair): change one digit of the first (or last) record with ``prefix``."""

    def edit(lines: list[bytes]) -> list[bytes]:
        indexes = [i for i, line in enumerate(lines) if line.startswith(prefix)]
        i = indexes[-1] if last else indexes[0]
        line = lines[i]
        at = next(j for j in range(len(prefix), len(line)) if line[j : j + 1].isdigit())
        digit = (int(line[at : at + 1]) + 1) % 10
        lines[i] = line[:at] + str(digit).encode() + line[at + 1 :]
        return lines

    return edit


def _wrong_count(lines: list[bytes]) -> list[bytes]:
    i = next(i for i, line in enumerate(lines) if line.startswith(b"ZZZ|"))
    _, count, checksum, *rest = lines[i].split(b"|")
    lines[i] = b"|".join([b"ZZZ", str(int(count) + 1).encode(), checksum, *rest])
    return lines


def _malformed_decimal(records: list[bytes]) -> list[bytes]:
    i = [n for n, r in enumerate(records) if r.startswith(b"PPC|")][5]
    fields = records[i].split(b"|")
    fields[2] = b"12.x5"
    records[i] = b"|".join(fields)
    return records


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    cut = data.rindex(b"\n", 0, len(data) // 2) + 1  # at a line end: only truncation is wrong
    path.write_bytes(data[:cut])


@dataclass(frozen=True)
class Case:
    defect: Callable[[Path], object]
    words: tuple[str, ...]
    settlement_date: date = DAY
    flow: Literal["S0141", "S0142"] = "S0142"


CASES = {
    "bad checksum": Case(lambda p: edit_lines(p, _alter_digit(b"PPC|")), ("checksum",)),
    "bad checksum S0141": Case(
        lambda p: edit_lines(p, _alter_digit(b"SSD|")), ("checksum",), flow="S0141"
    ),
    "wrong record count": Case(lambda p: edit_lines(p, _wrong_count), ("record count",)),
    "unknown run type": Case(
        lambda p: rewrite(p, replace_in_record(b"SRH|", b"|II|", b"|R9|")),
        ("run type", "'R9'"),
    ),
    "period 49 on a 48-period day": Case(
        lambda p: rewrite(p, replace_in_record(b"SP7|48|", b"SP7|48|", b"SP7|49|")),
        ("period 49", "48 periods"),
    ),
    "period 47 on the spring clock-change day": Case(
        lambda p: rewrite(p, replace_in_record(b"SP7|46|", b"SP7|46|", b"SP7|47|")),
        ("period 47", "46 periods"),
        settlement_date=SHORT_DAY,
    ),
    "malformed decimal": Case(lambda p: rewrite(p, _malformed_decimal), ("not a decimal", "12.x5")),
    "truncated": Case(_truncate, ("truncated",)),
}


def _assert_rejected_cleanly(
    runtime: LedgerRuntime,
    report: Report,
    data: bytes,
    reasons: list[str],
    *,
    tenant: str = "default",
    versions_before: int = 0,
) -> None:
    sha256 = report.sha256
    assert count_rows(runtime, "period_versions", tenant) == versions_before
    for period in (1, 2, 46):
        view = runtime.period(PARTY_SUBJECT, report.settlement_date, period, tenant=tenant)
        assert len(view.versions) == (1 if versions_before else 0)
    assert runtime.raw_bytes(sha256, tenant=tenant) == data
    flow = runtime.flow(sha256, tenant=tenant)
    assert flow is not None
    assert flow.status == "rejected"
    assert flow.reasons == reasons
    assert flow.periods == 0
    assert [s.stage for s in flow.stages] == ["received", "rejected"]
    assert flow.stages[-1].detail["reasons"] == reasons


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_rejected(runtime: LedgerRuntime, files: Path, case: Case) -> None:
    report = write_report(files, flow=case.flow, settlement_date=case.settlement_date)
    case.defect(report.path)
    data = report.data
    result = runtime.ingest(report.path)

    assert result.status == "rejected"
    assert result.periods == 0
    assert len(result.reasons) == 1
    reason = result.reasons[0]
    assert case.flow in reason
    assert case.settlement_date.isoformat() in reason
    for word in case.words:
        assert word in reason, reason
    assert result.sha256 == report.sha256
    _assert_rejected_cleanly(runtime, report, data, result.reasons)


def test_rejection_leaves_earlier_versions_alone(runtime: LedgerRuntime, files: Path) -> None:
    good = write_report(files, run_type="II")
    assert runtime.ingest(good.path, tenant="t").status == "accepted"
    before = count_rows(runtime, "period_versions", "t")
    best_before = runtime.period(PARTY_SUBJECT, DAY, 2, tenant="t").best

    bad = write_report(files, run_type="SF")
    edit_lines(bad.path, _alter_digit(b"PPC|"))
    result = runtime.ingest(bad.path, tenant="t")
    assert result.status == "rejected"
    assert "run SF 1" in result.reasons[0]
    _assert_rejected_cleanly(
        runtime, bad, bad.data, result.reasons, tenant="t", versions_before=before
    )
    assert runtime.period(PARTY_SUBJECT, DAY, 2, tenant="t").best == best_before


def test_rejected_bytes_received_again_stay_rejected(runtime: LedgerRuntime, files: Path) -> None:
    bad = write_report(files)
    edit_lines(bad.path, _wrong_count)
    first = runtime.ingest(bad.path)
    second = runtime.ingest(bad.path)
    assert second.status == "rejected"
    assert second.reasons == [
        f"the same bytes were received before and rejected: {first.reasons[0]}"
    ]
    assert count_rows(runtime, "period_versions") == 0
    flow = runtime.flow(bad.sha256)
    assert flow is not None
    assert flow.receipts == 2
    assert [s.stage for s in flow.stages] == ["received", "rejected", "duplicate_received"]

    # The sender's corrected file is a different flow and is accepted.
    fixed = write_report(files, name="fixed.txt")
    assert runtime.ingest(fixed.path).status == "accepted"


def test_a_file_lands_whole_or_not_at_all(
    runtime: LedgerRuntime, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # More subject-periods than one write batch, so some were written before the trailer.
    monkeypatch.setattr(period_writer, "BATCH_SIZE", 500)
    parties = sample_party_ids(21)
    units = {p: sample_bm_unit_ids(p, 1) for p in parties}
    periods = 48 * (1 + 2 * len(parties))
    assert periods > period_writer.BATCH_SIZE

    bad = write_report(files, parties=parties, bm_units=units, name="bad.txt")
    good = write_report(files, parties=parties, bm_units=units, name="good.txt")
    last = bad.data.split(b"\n")[-3]  # the last record before ZZZ
    edit_lines(bad.path, _alter_digit(last.split(b"|")[0] + b"|", last=True))
    assert bad.data.split(b"\n")[-3] != last

    result = runtime.ingest(bad.path)
    assert result.status == "rejected"
    assert "checksum" in result.reasons[0]
    _assert_rejected_cleanly(runtime, bad, bad.data, result.reasons)
    assert runtime.period(f"party:{parties[-1]}", DAY, 48).versions == []

    accepted = runtime.ingest(good.path)
    assert accepted.status == "accepted"
    assert accepted.periods == periods
    assert count_rows(runtime, "period_versions") == periods
    best = runtime.period(f"party:{PARTIES[0]}", DAY, 48).best
    assert best is not None and best.version == 1


def test_busy_ledger_says_so_and_loses_nothing(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file that waits too long for another writer is refused as busy, not as bad."""
    # The event store's lock timeout, in the library's whole seconds.
    monkeypatch.setattr(storage, "POSTGRES_LOCK_WAIT", 1)
    runtime = LedgerRuntime(postgres_url)
    try:
        path = write_report(tmp_path).path
        with psycopg.connect(postgres_url) as other:
            events = runtime.ledger.event_store.events_table
            other.execute(f"LOCK TABLE {events} IN EXCLUSIVE MODE")
            with pytest.raises(LedgerBusy, match="busy writing another file"):
                runtime.ingest(path)
        data = path.read_bytes()
        assert runtime.raw_bytes(hashlib.sha256(data).hexdigest()) == data
        assert runtime.ingest(path).status == "accepted"
    finally:
        runtime.close()
