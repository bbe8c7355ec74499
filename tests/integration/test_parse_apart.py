"""A large file read in a process of its own: the same items, the same verdicts, nothing lost.

The child process is real (spawned, fed through a pipe); files are split into small chunks
so that a feeder failure or a killed child falls half way through a file.
"""

from __future__ import annotations

import errno
import gzip
import io
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest

from integration.conftest import DAY, Report, bpi_disagreeing, rewrite, write_report
from ledger.adapters import raw_payloads
from ledger.demo.dtc_samples import SampleReading, d0010_file, d0036_file, sample_mpan
from ledger.demo.json_samples import dip_message, disebsp_day, disebsp_page, to_json
from ledger.demo.samples import sample_bm_unit_ids, sample_party_ids
from ledger.domain.errors import LedgerError, LedgerUnavailable
from ledger.flows.canonical import ParsedFile, ReadLimits
from ledger.flows.formats import detect
from ledger.service import ingestion
from ledger.service.parse_apart import ParsedApart
from ledger.service.runtime import LedgerRuntime

CREATED = datetime(2026, 5, 2, 9, 0, tzinfo=UTC)
MPAN = sample_mpan(1)


def chunked(data: bytes, size: int = 4096) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def outcome(parsed: ParsedFile, items: list[Any]) -> dict[str, Any]:
    """Everything a read gives, once its items (collected into ``items``) are exhausted."""
    items.extend(parsed.items())
    return {
        "description": parsed.description,
        "items": items,
        "warnings": parsed.warnings,
        "warning_count": parsed.warning_count,
        "checks": parsed.checks,
        "records": parsed.record_count,
    }


def read_here(data: bytes, items: list[Any] | None = None) -> dict[str, Any]:
    """What the format reads of ``data`` in this process."""
    detected = detect(io.BytesIO(data), label="sample")
    assert detected.format is not None
    parsed = detected.format.read(detected.content, file_name="sample")
    return outcome(parsed, items if items is not None else [])


def read_apart(data: bytes, items: list[Any] | None = None) -> dict[str, Any]:
    """What a child process reads of ``data``, fed in small chunks."""
    with ParsedApart(chunked(data), file_name="sample") as parsed:
        return outcome(parsed, items if items is not None else [])


def report_bytes(tmp_path: Path, **options: Any) -> bytes:
    return write_report(tmp_path, **options).data


def samples(tmp_path: Path) -> dict[str, bytes]:
    reading = SampleReading(MPAN, "M1", "01", datetime(2026, 5, 1, tzinfo=UTC), Decimal("1234.5"))
    return {
        "S0142": report_bytes(tmp_path, name="a.s0142"),
        "S0142 gzipped": gzip.compress(report_bytes(tmp_path, name="b.s0142")),
        "S0141": report_bytes(tmp_path, flow="S0141", name="c.s0141"),
        "S0142 with a warning per BM Unit period": rewrite(
            write_report(tmp_path, name="d.s0142").path, bpi_disagreeing
        ).read_bytes(),
        "D0036": d0036_file(mpans=[MPAN], settlement_dates=[DAY], creation_time=CREATED),
        "D0010": d0010_file([reading], creation_time=CREATED),
        "DISEBSP": disebsp_page(disebsp_day(DAY, CREATED)),
        "MHHS DIP": to_json(dip_message()).encode(),
    }


def test_every_format_reads_alike_in_a_process_of_its_own(tmp_path: Path) -> None:
    for name, data in samples(tmp_path).items():
        assert read_apart(data) == read_here(data), name


def test_the_reader_apart_keeps_every_warning_up_to_the_same_bound(tmp_path: Path) -> None:
    data = samples(tmp_path)["S0142 with a warning per BM Unit period"]
    here, apart = read_here(data), read_apart(data)
    assert here["warning_count"] == apart["warning_count"] == 3 * 48
    assert apart["warnings"] == here["warnings"] and len(here["warnings"]) == 3 * 48
    bounded = ReadLimits(max_warnings=10)
    with ParsedApart(chunked(data), file_name="sample", limits=bounded) as parsed:
        counted = outcome(parsed, [])
    assert (counted["warning_count"], len(counted["warnings"])) == (3 * 48, 11)


def test_a_file_refused_half_way_is_refused_with_the_same_words_after_the_same_items(
    tmp_path: Path,
) -> None:
    parties = sample_party_ids(3)
    data = report_bytes(
        tmp_path,
        parties=[*parties, parties[0]],  # a party repeated at the end
        bm_units={p: sample_bm_unit_ids(p, 1) for p in parties[1:]},
    )
    outcomes = []
    for read in (read_here, read_apart):
        seen: list[Any] = []
        with pytest.raises(LedgerError) as refused:
            read(data, seen)
        outcomes.append((str(refused.value), seen))
    assert outcomes[0] == outcomes[1]
    assert "daily charges twice" in outcomes[0][0]
    assert len(outcomes[0][1]) > 48 * 3


def test_a_truncated_gzip_is_refused_as_in_process(tmp_path: Path) -> None:
    data = gzip.compress(report_bytes(tmp_path, name="cut.s0142"))[:-40]
    with pytest.raises(LedgerError) as here:
        read_here(data)
    with pytest.raises(LedgerError) as apart:
        read_apart(data)
    assert str(apart.value) == str(here.value)


def test_bytes_that_could_not_be_read_raise_the_reading_error_not_a_verdict(
    tmp_path: Path,
) -> None:
    data = report_bytes(tmp_path, name="interrupted.s0142")

    def interrupted() -> Iterator[bytes]:
        yield data[:4096]
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    with (
        pytest.raises(psycopg.OperationalError, match="server closed"),
        ParsedApart(interrupted(), file_name="sample") as parsed,
    ):
        list(parsed.items())


def kill_the_reader() -> None:
    """Kill this process's child reading a file apart, found as an operator would find it:
    by its command line."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        if parent == os.getpid() and b"ledger.service.parse_apart" in command:
            os.kill(int(entry.name), signal.SIGKILL)


def kill_the_reader_after_the_first_chunk(chunks: Iterator[bytes]) -> Iterator[bytes]:
    for n, chunk in enumerate(chunks):
        if n == 1:
            kill_the_reader()
        yield chunk


def kill_the_reader_first(chunks: Iterator[bytes]) -> Iterator[bytes]:
    kill_the_reader()
    yield from chunks


def test_a_reader_that_dies_gives_no_verdict(tmp_path: Path) -> None:
    data = report_bytes(tmp_path, name="killed.s0142")
    with (
        pytest.raises(LedgerUnavailable, match="ended without a verdict"),
        ParsedApart(kill_the_reader_after_the_first_chunk(iter(chunked(data))), file_name="x") as p,
    ):
        list(p.items())


def test_leaving_early_stops_the_reader(tmp_path: Path) -> None:
    data = report_bytes(tmp_path, name="early.s0142")
    with ParsedApart(chunked(data), file_name="sample") as parsed:
        next(parsed.items())
        process = parsed.process
    assert process is not None and process.poll() is not None


# --- Through the pipeline, on both backends ---------------------------------------------------

MARKET_PARTIES = sample_party_ids(12)
MARKET_UNITS = {p: sample_bm_unit_ids(p, 3) for p in MARKET_PARTIES}
VERSION_COLUMNS = (
    "subject, settlement_period, version, kind, run_type, run_number, values_json,"
    " attributes_json, unconfirmed_json, flow, source_sha256, record_position"
)


def versions(runtime: LedgerRuntime, tenant: str) -> list[tuple[Any, ...]]:
    with runtime.database.transaction(write=False) as tx:
        return tx.execute(
            f"SELECT {VERSION_COLUMNS} FROM period_versions WHERE tenant = ?"
            " ORDER BY subject, settlement_period, version",
            (tenant,),
        ).fetchall()


@pytest.fixture
def reads_apart(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files read in a process of their own (every file, from the first byte, by the
    runtimes opened after this fixture)."""
    monkeypatch.setenv("LEDGER_PARSE_APART_BYTES", "0")
    started: list[str] = []
    enter = ParsedApart.__enter__

    def counted(self: ParsedApart) -> ParsedApart:
        started.append(self.file_name)
        return enter(self)

    monkeypatch.setattr(ParsedApart, "__enter__", counted)
    return started


def test_a_file_read_apart_lands_as_one_read_here(
    open_runtime: Callable[[], LedgerRuntime],
    monkeypatch: pytest.MonkeyPatch,
    reads_apart: list[str],
    tmp_path: Path,
) -> None:
    report = write_report(
        tmp_path, run_type="R3", run_number=5, parties=MARKET_PARTIES, bm_units=MARKET_UNITS
    )
    apart = open_runtime()
    monkeypatch.setenv("LEDGER_PARSE_APART_BYTES", "never")
    here = open_runtime()
    landed = here.ingest(report.path, tenant="here").as_dict()
    assert reads_apart == []
    assert apart.ingest(report.path, tenant="apart").as_dict() == landed
    assert reads_apart == [report.path.name]
    assert landed["status"] == "accepted"
    assert versions(apart, "apart") == versions(here, "here")
    assert len(versions(here, "here")) == landed["periods"]


def test_a_file_refused_apart_is_refused_alike_and_leaves_no_version(
    reads_apart: list[str], runtime: LedgerRuntime, tmp_path: Path
) -> None:
    parties = sample_party_ids(3)
    report = write_report(
        tmp_path,
        parties=[*parties, parties[0]],
        bm_units={p: sample_bm_unit_ids(p, 1) for p in parties[1:]},
    )
    result = runtime.ingest(report.path)
    assert reads_apart == [report.path.name]
    assert result.status == "rejected"
    assert "daily charges twice" in result.reasons[0]
    assert versions(runtime, "default") == []
    flow = runtime.flow(result.sha256)
    assert flow is not None and flow.status == "rejected"


def ingested_without_a_verdict(runtime: LedgerRuntime, report: Report, match: str) -> None:
    """The ingestion is interrupted (``match``): the file stays received, with no version."""
    with pytest.raises(LedgerUnavailable, match=match):
        runtime.ingest(report.path)
    flow = runtime.flow(report.sha256)
    assert flow is not None and flow.status == "received"
    assert versions(runtime, "default") == []


def test_a_reader_killed_mid_file_leaves_it_received_for_the_next_receipt(
    reads_apart: list[str],
    runtime: LedgerRuntime,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    report = write_report(tmp_path, parties=MARKET_PARTIES, bm_units=MARKET_UNITS)
    stored = raw_payloads.stream_stored

    def killing(*args: Any) -> Iterator[bytes] | None:
        chunks = stored(*args)
        return None if chunks is None else kill_the_reader_first(chunks)

    monkeypatch.setattr(ingestion, "stream_stored", killing)
    ingested_without_a_verdict(runtime, report, "ended without a verdict")

    monkeypatch.setattr(ingestion, "stream_stored", stored)
    again = runtime.ingest(report.path)
    assert again.status == "accepted"
    assert len(versions(runtime, "default")) == again.periods > 0


def test_a_program_without_a_main_guard_runs_once_and_its_large_file_lands(
    tmp_path: Path,
) -> None:
    """The reader is a program of its own: nothing of the ingesting program (a user's script
    with no ``if __name__ == "__main__"``) runs again in it."""
    report = write_report(tmp_path, parties=MARKET_PARTIES[:3])
    ran = tmp_path / "ran"
    script = tmp_path / "ingest_all.py"
    script.write_text(
        "from pathlib import Path\n"
        "from ledger.service.parse_apart import ParsedApart\n"
        "from ledger.service.runtime import LedgerRuntime\n"
        f"with Path({str(ran)!r}).open('a') as runs:\n"
        "    runs.write('ran\\n')\n"
        "apart, enter = [], ParsedApart.__enter__\n"
        "ParsedApart.__enter__ = lambda self: apart.append(1) or enter(self)\n"
        f"runtime = LedgerRuntime('sqlite:///{tmp_path}/ledger.db')\n"
        f"print(runtime.ingest({str(report.path)!r}).status, len(apart))\n"
        "runtime.close()\n"
    )
    done = subprocess.run(
        [sys.executable, str(script)],
        env={**os.environ, "LEDGER_PARSE_APART_BYTES": "0"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "accepted 1"), done.stderr
    assert ran.read_text() == "ran\n"


def test_a_reader_that_cannot_start_leaves_the_file_received(
    reads_apart: list[str],
    runtime: LedgerRuntime,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """The machine refuses a new process (too many, out of memory): nothing is wrong with the
    file, which stays received for its next receipt."""
    report = write_report(tmp_path, parties=MARKET_PARTIES[:3])

    def refused(*args: Any, **kwargs: Any) -> None:
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    started = subprocess.Popen
    monkeypatch.setattr(subprocess, "Popen", refused)
    ingested_without_a_verdict(runtime, report, "no process could be started to read .*")

    monkeypatch.setattr(subprocess, "Popen", started)
    assert runtime.ingest(report.path).status == "accepted"
    assert reads_apart == [report.path.name, report.path.name]
