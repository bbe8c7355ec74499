"""Helpers for the integration suite: sample files, file surgery, runtimes and view dumps.

Every test here that takes ``database_url`` runs twice, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pytest

from ledger.cli import main
from ledger.demo.samples import sample_bm_unit_ids, sample_party_ids, write_settlement_report
from ledger.domain.runs import RunType
from ledger.flows.idd import idd_checksum
from ledger.service.ingestion import Ingestor
from ledger.service.runtime import DEFAULT_TENANT, LedgerRuntime

# --- Sample files -------------------------------------------------------------------------

DAY = date(2026, 5, 1)
SHORT_DAY = date(2026, 3, 29)  # spring clock change: 46 periods
PARTIES = sample_party_ids(2)
BM_UNITS = {
    PARTIES[0]: sample_bm_unit_ids(PARTIES[0], 1),
    PARTIES[1]: sample_bm_unit_ids(PARTIES[1], 2),
}
PARTY = PARTIES[0]
PARTY_SUBJECT = f"party:{PARTY}"
BMU_SUBJECT = f"bmu:{BM_UNITS[PARTY][0]}"
# Subject-periods of a full S0142 on a 48-period day: system, each party, each BM Unit.
S0142_PERIODS = 48 * (1 + len(PARTIES) + sum(len(u) for u in BM_UNITS.values()))
S0141_PERIODS = 48 * (2 + len(BM_UNITS[PARTY]))  # system, the one party and its BM Units

BOM = b"\xef\xbb\xbf"


def creation_time(run_type: str, run_number: int = 1, settlement_date: date = DAY) -> datetime:
    """A file creation time, later for more mature runs and higher run numbers. Closer to the
    settlement date than the real timetable (RF is about 28 months after it): a file created
    after it arrived is refused, so the samples' days (2026) must be in the past already."""
    days = {"II": 1, "SF": 5, "R1": 10, "R2": 15, "R3": 20, "RF": 25, "DF": 30}[run_type]
    base = datetime(settlement_date.year, settlement_date.month, settlement_date.day, tzinfo=UTC)
    return base + timedelta(days=days, hours=run_number)


@dataclass(frozen=True)
class Report:
    """A sample settlement report written to disk, with what it should contain."""

    path: Path
    flow: str
    settlement_date: date
    run_type: str
    run_number: int
    revision: int
    creation_time: datetime
    parties: tuple[str, ...]
    records: int

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def write_report(
    directory: Path,
    *,
    flow: Literal["S0141", "S0142"] = "S0142",
    run_type: str = "II",
    run_number: int = 1,
    revision: int | None = None,
    created: datetime | None = None,
    settlement_date: date = DAY,
    parties: Sequence[str] | None = None,
    bm_units: dict[str, list[str]] | None = None,
    name: str | None = None,
    **options: Any,
) -> Report:
    """Write a sample report; by default each (run type, run number) has its own values."""
    if parties is None:
        parties = [PARTY] if flow == "S0141" else PARTIES
    if bm_units is None:
        bm_units = BM_UNITS
    if revision is None:
        revision = list(RunType).index(RunType(run_type)) * 10 + run_number - 1
    if created is None:
        created = creation_time(run_type, run_number, settlement_date)
    if name is None:
        name = f"{flow}_{settlement_date:%Y%m%d}_{run_type}{run_number}_{revision}.txt"
    path = directory / name
    with path.open("wb") as out:
        records = write_settlement_report(
            out,
            flow=flow,
            settlement_date=settlement_date,
            run_type=RunType(run_type),
            run_number=run_number,
            parties=list(parties),
            bm_units=bm_units,
            creation_time=created,
            revision=revision,
            **options,
        )
    return Report(
        path,
        flow,
        settlement_date,
        run_type,
        run_number,
        revision,
        created,
        tuple(parties),
        records,
    )


Edit = Callable[[list[bytes]], list[bytes]]


def rewrite(path: Path, edit: Edit) -> Path:
    """Apply ``edit`` to the records between AAA and ZZZ (inclusive of AAA), then write a ZZZ
    trailer whose record count and checksum are right, so only the intended defect remains.

    Keeps a leading BOM and the line ends of the original.
    """
    data = path.read_bytes()
    bom = BOM if data.startswith(BOM) else b""
    data = data[len(bom) :]
    line_end = b"\r\n" if b"\r\n" in data else b"\n"
    records = data.split(line_end)
    if records and records[-1] == b"":
        records.pop()
    assert records[-1].startswith(b"ZZZ|"), "rewrite needs a file with a ZZZ trailer"
    body = edit(records[:-1])
    trailer = f"ZZZ|{len(body) + 1}|{idd_checksum(body)}|".encode("ascii")
    path.write_bytes(bom + line_end.join([*body, trailer, b""]))
    return path


def replace_in_record(prefix: bytes, old: bytes, new: bytes, *, nth: int = 0) -> Edit:
    """An edit: in the ``nth`` record starting with ``prefix``, replace ``old`` once by ``new``."""

    def edit(records: list[bytes]) -> list[bytes]:
        seen = 0
        for i, record in enumerate(records):
            if record.startswith(prefix):
                if seen == nth:
                    assert old in record, (record, old)
                    records[i] = record.replace(old, new, 1)
                    return records
                seen += 1
        raise AssertionError(f"no record #{nth} starting with {prefix!r}")

    return edit


def bpi_disagreeing(records: list[bytes]) -> list[bytes]:
    """An edit: every BPI line of the system block gives another metered volume than its BM
    Unit's own BP7 line, one warning per BM Unit period."""
    for i, record in enumerate(records):
        if record.startswith(b"BPI|"):
            parts = record.split(b"|")
            parts[4] = b"12345.678"
            records[i] = b"|".join(parts)
    return records


def with_lines_after(source: Path, target: Path, where: bytes, line: bytes, count: int) -> Path:
    """``source`` gzipped to ``target`` with ``count`` copies of ``line`` after every record
    starting with ``where``, and a trailer that counts them: an even number of copies leaves
    the XOR checksum as it was, so the file is valid."""
    assert count % 2 == 0
    records = source.read_bytes().splitlines()
    body = records[:-1]
    inserted = sum(r.startswith(where) for r in body) * count
    trailer = f"ZZZ|{len(body) + inserted + 1}|{idd_checksum(body)}|\n".encode()

    def lines() -> Iterator[bytes]:
        block = (line + b"\n") * min(count, 10_000)
        for record in body:
            yield record + b"\n"
            if record.startswith(where):
                for start in range(0, count, 10_000):
                    yield block if count - start >= 10_000 else (line + b"\n") * (count - start)
        yield trailer

    with gzip.open(target, "wb", compresslevel=9) as out:
        for chunk in lines():
            out.write(chunk)
    return target


def edit_lines(path: Path, edit: Callable[[list[bytes]], list[bytes]]) -> Path:
    """Edit the lines of a file (trailer included) with no repair of count or checksum."""
    lines = path.read_bytes().split(b"\n")
    path.write_bytes(b"\n".join(edit(lines)))
    return path


def replace_once(old: bytes, new: bytes) -> Callable[[list[bytes]], list[bytes]]:
    """An edit (no repair) of the first line containing ``old``: one changed record, which
    the checksum must catch (the same change on an even number of records would cancel out)."""

    def edit(lines: list[bytes]) -> list[bytes]:
        i = next(i for i, line in enumerate(lines) if old in line)
        lines[i] = lines[i].replace(old, new, 1)
        return lines

    return edit


def without_views(runtime: LedgerRuntime) -> Ingestor:
    """An ingestor that leaves the views behind the log (as a writer that died after its
    commit, or any writer of the log other than the ledger's ingestion, would)."""
    return Ingestor(runtime.ledger)


def line_at(path: Path, position: int) -> bytes:
    """The record on a 1-based line of a file, without its line end (and without a BOM)."""
    lines = path.read_bytes().removeprefix(BOM).splitlines()
    return lines[position - 1]


# --- Runtimes and views -------------------------------------------------------------------


@pytest.fixture
def open_runtime(database_url: str) -> Iterator[Callable[[], LedgerRuntime]]:
    """Opens runtimes on the test's database; every one is closed at the end of the test."""
    opened: list[LedgerRuntime] = []

    def factory() -> LedgerRuntime:
        runtime = LedgerRuntime(database_url)
        opened.append(runtime)
        return runtime

    yield factory
    for runtime in reversed(opened):
        runtime.close()


@pytest.fixture
def runtime(open_runtime: Callable[[], LedgerRuntime]) -> LedgerRuntime:
    """A runtime on a fresh database (SQLite, then PostgreSQL), closed after the test."""
    return open_runtime()


# ``ledger ARGS...`` run in-process on the test's database: (exit code, stdout, stderr).
Cli = Callable[..., tuple[int, str, str]]


@pytest.fixture
def cli(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Cli:
    """Runs ``ledger ARGS...``: (exit code, stdout, stderr)."""
    monkeypatch.setenv("LEDGER_DATABASE_URL", database_url)
    capsys.readouterr()

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse rejects the command line
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def files(tmp_path: Path) -> Path:
    directory = tmp_path / "files"
    directory.mkdir()
    return directory


def count_rows(runtime: LedgerRuntime, table: str, tenant: str | None = None) -> int:
    with runtime.database.transaction() as tx:
        if tenant is None:
            row = tx.execute(f"SELECT count(*) FROM {table}").fetchone()
        else:
            row = tx.execute(f"SELECT count(*) FROM {table} WHERE tenant = ?", (tenant,)).fetchone()
    assert row is not None
    return int(row[0])


def count_events(runtime: LedgerRuntime) -> int:
    """Every event in the log, whatever its aggregate."""
    with runtime.database.transaction(write=False) as tx:
        row = tx.execute(
            f"SELECT count(*) FROM {runtime.ledger.event_store.events_table}"
        ).fetchone()
    assert row is not None
    return int(row[0])


def period_json(
    runtime: LedgerRuntime,
    subject: str,
    settlement_date: date,
    settlement_period: int,
    *,
    tenant: str = DEFAULT_TENANT,
    as_of: datetime | None = None,
) -> dict[str, Any]:
    """A period's view as the CLI and the API show it: decimals as exact strings, instants in
    ISO 8601."""
    view = runtime.period(subject, settlement_date, settlement_period, tenant=tenant, as_of=as_of)
    return view.model_dump(mode="json")


VIEW_TABLES = {
    "period_versions": "tenant, subject, settlement_date, settlement_period, version",
    "period_interventions": "tenant, subject, settlement_date, settlement_period, version",
    "period_sources": "tenant, subject, settlement_date, settlement_period, version",
    "flows": "flow_id",
    "flow_stages": "flow_id, version",
    "documents": "tenant, reference",
    "document_lines": "tenant, reference, line",
    "document_revisions": "tenant, reference, revision",
    "document_revision_lines": "tenant, reference, revision, line",
    "exceptions": "exception_id",
    "exception_history": "exception_id, version",
    "meter_readings": "readings_id, version, line",
    "flow_validations": "flow_id",
    "flow_warnings": "flow_id, number",
}


def dump_views(runtime: LedgerRuntime) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every view, ordered by key (to compare builds)."""
    with runtime.database.transaction() as tx:
        return {
            table: tx.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchall()
            for table, key in VIEW_TABLES.items()
        }
