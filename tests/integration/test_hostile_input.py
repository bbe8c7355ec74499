"""Hostile and unbounded input: nothing poisons the log, nothing is lost, every verdict is kept.

Each test runs on SQLite and on PostgreSQL (fixture ``database_url``); PostgreSQL is where a
NUL once entered the log and broke every view for every tenant.
"""

from __future__ import annotations

import io
import os
import re
import threading
from pathlib import Path

import pytest

from ledger.demo.samples import sample_bm_unit_ids, sample_party_ids
from ledger.domain.aggregates import ReceivedFile
from ledger.domain.plain_text import InvalidText
from ledger.flows import saa_i014
from ledger.flows.idd import MAX_LINE_BYTES
from ledger.service import ingestion
from ledger.service.application import Ledger
from ledger.service.runtime import LedgerRuntime

from .conftest import (
    PARTY_SUBJECT,
    count_events,
    count_rows,
    line_at,
    with_lines_after,
    write_report,
)

# Batches small enough for a small file to span several.
SMALL_BATCH = 500


def _still_serves_every_tenant(runtime: LedgerRuntime, files: Path) -> None:
    """After an attack, another tenant's file goes in and its views answer."""
    report = write_report(files, name="after-the-attack.txt")
    assert runtime.ingest(report.path, tenant="bystander").status == "accepted"
    view = runtime.period(PARTY_SUBJECT, report.settlement_date, 1, tenant="bystander")
    assert view.best is not None and view.views.up_to_date
    runtime.runner.rebuild()
    assert runtime.period(PARTY_SUBJECT, report.settlement_date, 1, tenant="bystander") == view


@pytest.mark.parametrize("name", ["a\x00b", "line\nbreak", "bell\x07", "x" * 256, " "])
def test_a_file_name_that_a_view_could_not_hold_is_refused_before_anything_is_written(
    runtime: LedgerRuntime, files: Path, name: str
) -> None:
    before = count_events(runtime)
    with pytest.raises(InvalidText, match="the file name"):
        runtime.ingest_bytes(b"AAA|", file_name=name, tenant="attacker")
    assert count_events(runtime) == before
    assert count_rows(runtime, "raw_payloads") == 0
    _still_serves_every_tenant(runtime, files)


def test_the_event_store_refuses_a_nul_whatever_the_caller(runtime: LedgerRuntime) -> None:
    """The last line of defence: no event carrying NUL is ever encoded."""
    ledger: Ledger = runtime.ledger
    received = ReceivedFile.receive("t", "0" * 64, 1, "api", "ok")
    received.duplicate(channel="api", file_name="a\x00b")
    before = count_events(runtime)
    with pytest.raises(InvalidText, match="NUL"):
        ledger.save(received)
    assert count_events(runtime) == before
    # A literal backslash-u-0000 in a name is text, not a NUL.
    ok = ReceivedFile.receive("t", "1" * 64, 1, "api", "a\\u0000b")
    ledger.save(ok)
    assert count_events(runtime) == before + 1


@pytest.mark.parametrize("bad", [b"\x00", b"\x1b[2J", b"\x7f"])
def test_control_characters_in_a_file_reject_it_with_the_line(
    runtime: LedgerRuntime, files: Path, bad: bytes
) -> None:
    report = write_report(files)
    lines = report.data.split(b"\n")
    lines[3] = lines[3][:5] + bad + lines[3][5:]
    report.path.write_bytes(b"\n".join(lines))
    result = runtime.ingest(report.path, tenant="attacker")
    assert result.status == "rejected"
    assert "line 4 has a control character" in result.reasons[0]
    assert runtime.flow(result.sha256, tenant="attacker") is not None
    assert runtime.raw_bytes(result.sha256, tenant="attacker") == report.path.read_bytes()
    _still_serves_every_tenant(runtime, files)


def test_a_line_without_end_is_refused_with_a_short_reason(
    runtime: LedgerRuntime, files: Path
) -> None:
    """Four times the line bound without a newline: refused and recorded, reason short."""
    path = files / "no-newline.txt"
    path.write_bytes(b"AAA" + b"|x" * (2 * MAX_LINE_BYTES))
    result = runtime.ingest(path)
    assert result.status == "rejected"
    [reason] = result.reasons
    assert "line 1 is longer than" in reason
    assert len(reason) < 400
    flow = runtime.flow(result.sha256)
    assert flow is not None and flow.status == "rejected"
    assert max(len(r) for r in flow.reasons) < 400


def test_a_huge_first_field_is_quoted_as_a_short_excerpt(
    runtime: LedgerRuntime, files: Path
) -> None:
    path = files / "huge-field.txt"
    path.write_bytes(b"AAA" + b"Q" * (MAX_LINE_BYTES - 100) + b"|\n")
    result = runtime.ingest(path)
    assert result.status == "rejected"
    assert len(result.reasons[0]) < 400
    assert "characters)" in result.reasons[0]  # the excerpt says how long the text was


class _ChangingSource(io.RawIOBase):
    """A source that would give other bytes if read twice (a FIFO serving two files)."""

    def __init__(self, first: bytes, second: bytes) -> None:
        self._served = [first, second]
        self._current = io.BytesIO(first)
        self.reads = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        n = self._current.readinto(buffer)
        if n == 0 and self.reads == 0:
            self.reads = 1
            self._current = io.BytesIO(self._served[1])
        return n


def test_a_stream_is_read_once_and_versions_cite_the_kept_bytes(
    runtime: LedgerRuntime, files: Path
) -> None:
    a = write_report(files, run_type="SF")
    b = write_report(files, run_type="R1")
    source = _ChangingSource(a.data, b.data)
    result = runtime.ingest_stream(source, file_name="fifo", tenant="t")  # type: ignore[arg-type]
    assert result.status == "accepted"
    assert result.sha256 == a.sha256
    assert runtime.raw_bytes(a.sha256, tenant="t") == a.data
    view = runtime.period(PARTY_SUBJECT, a.settlement_date, 1, tenant="t")
    assert [v.run_type for v in view.versions] == ["SF"]
    assert {v.source.sha256 for v in view.versions if v.source} == {a.sha256}


def test_a_fifo_is_ingested_as_the_file_it_serves(runtime: LedgerRuntime, files: Path) -> None:
    report = write_report(files)
    fifo = files / "pipe"
    os.mkfifo(fifo)

    def serve() -> None:
        with fifo.open("wb") as out:
            out.write(report.data)

    writer = threading.Thread(target=serve)
    writer.start()
    try:
        result = runtime.ingest(fifo)
    finally:
        writer.join(timeout=30)
    assert (result.status, result.sha256) == ("accepted", report.sha256)
    # The real file afterwards is the same bytes: a duplicate, not "rejected before".
    assert runtime.ingest(report.path).status == "duplicate"


def test_an_unexpected_failure_still_records_a_verdict(
    runtime: LedgerRuntime, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = write_report(files)

    def broken(*_: object, **__: object) -> None:
        raise ZeroDivisionError("a defect in the ledger")

    monkeypatch.setattr(saa_i014.FORMAT, "read", broken)
    result = runtime.ingest(report.path)
    assert result.status == "rejected"
    assert "could not read it (ZeroDivisionError)" in result.reasons[0]
    flow = runtime.flow(result.sha256)
    assert flow is not None and flow.status == "rejected"


def test_a_subject_period_repeated_anywhere_in_a_file_rejects_it(
    runtime: LedgerRuntime, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same party at the start and the end of a 50-party S0142: further apart than one
    batch of period events, so the check cannot rest on a batch's unique index."""
    monkeypatch.setattr(ingestion, "BATCH_SIZE", SMALL_BATCH)
    parties = sample_party_ids(50)
    report = write_report(
        files,
        parties=[*parties, parties[0]],
        # The repeated party has no BM Units: its units would repeat in the system block
        # first (refused too, on the BPI lines).
        bm_units={p: sample_bm_unit_ids(p, 1) for p in parties[1:]},
    )
    result = runtime.ingest(report.path)
    assert result.status == "rejected"
    [reason] = result.reasons
    match = re.search(
        rf"carries party:{parties[0]} daily charges twice, on line (\d+) "
        r"and again on line (\d+)",
        reason,
    )
    assert match, reason
    first, again = (int(n) for n in match.groups())
    # The party's day (APC) is its first record to repeat.
    assert line_at(report.path, first).startswith(b"APC|")
    assert line_at(report.path, again).startswith(b"APC|")
    assert again - first > SMALL_BATCH
    assert count_rows(runtime, "period_versions") == 0


def test_a_valid_file_keeping_300000_records_in_one_period_is_refused(
    runtime: LedgerRuntime, files: Path
) -> None:
    """Every line of it is valid and its trailer right, but one period would keep 300,000
    records (its view answered 44.8 MB): refused by the bound per period, nothing written."""
    report = write_report(files, run_type="SF")
    crafted = with_lines_after(
        report.path, files / "crafted.gz", b"SPI|2|", b"TRA|T_CRAFT-1|2.5|", 300_000
    )
    result = runtime.ingest(crafted)
    assert result.status == "rejected"
    (reason,) = result.reasons
    assert reason.endswith(
        "(TRA, settlement date 2026-05-01, period 2): settlement period 2 of the system keeps "
        "more than 10,000 records the ledger does not interpret (10,001 TRA); no real file keeps "
        "that many there (LEDGER_MAX_KEPT_PER_PERIOD): the file was not read further"
    )
    assert count_rows(runtime, "period_versions") == 0
    assert runtime.raw_bytes(result.sha256) == crafted.read_bytes()
    assert [e.status for e in runtime.exceptions.find(tenant="default")] == ["open"]
    _still_serves_every_tenant(runtime, files)
