"""The demo: sample settlement reports as the portal delivers them (gzipped all-parties S0142
files named ``S0142_<date>_<run>_<created>.gz``) over several days (a clock change among them),
runs II to R1 arriving out of order, a re-sent file, the same report re-sent unzipped and a
broken one; then the other flows through the same pipeline (published system prices, a
supplier's half-hourly metered data estimated then actual, a meter reading, an MHHS message,
a flow kept without being read, a file nobody recognises), ingested and summarised."""

from __future__ import annotations

import gzip
import textwrap
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID

from ledger.demo.dtc_samples import (
    SampleReading,
    d0010_file,
    d0036_file,
    other_flow_file,
    sample_mpan,
)
from ledger.demo.json_samples import dip_message, disebsp_day, disebsp_page, mpan_for, to_json
from ledger.demo.samples import (
    sample_bm_unit_ids,
    sample_party_ids,
    write_portal_file,
    write_settlement_report,
)
from ledger.domain.runs import RunType
from ledger.service.runtime import LedgerRuntime

DEMO_DAYS = (date(2026, 3, 29), date(2026, 5, 6), date(2026, 10, 25))
# Run type, SAA run number (it counts every run of the settlement day), working days after.
DEMO_RUNS = ((RunType.II, 1, 5), (RunType.SF, 2, 16), (RunType.R1, 3, 39))


@dataclass(frozen=True)
class SampleFile:
    path: Path
    note: str


def write_demo_files(data_dir: Path) -> list[SampleFile]:
    """Write the demo's sample files (deterministic: the same bytes every time)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    parties = sample_party_ids(4)
    bm_units = {p: sample_bm_unit_ids(p, 2) for p in parties}
    files: list[SampleFile] = []
    for day in DEMO_DAYS:
        runs = list(DEMO_RUNS)
        if day == DEMO_DAYS[1]:
            # R1 arrives before SF: the best available view must not care.
            runs = [runs[0], runs[2], runs[1]]
        for run_type, run_number, days_after in runs:
            # Each run revises the values of the one before it in maturity.
            revision = [run for run, _, _ in DEMO_RUNS].index(run_type)
            created = datetime(day.year, day.month, day.day, 22, tzinfo=UTC) + timedelta(
                days=days_after
            )
            path = write_portal_file(
                data_dir,
                flow="S0142",
                settlement_date=day,
                run_type=run_type,
                run_number=run_number,
                parties=parties,
                bm_units=bm_units,
                creation_time=created,
                seed=1,
                revision=revision,
            )
            files.append(SampleFile(path, f"{run_type} run for {day.isoformat()}, gzipped"))
    # The same bytes again: a harmless duplicate.
    files.append(SampleFile(files[0].path, "the first file, re-sent"))
    # The same report unzipped: other bytes, the same run.
    unzipped = data_dir / files[0].path.name.removesuffix(".gz")
    unzipped.write_bytes(gzip.decompress(files[0].path.read_bytes()))
    files.append(SampleFile(unzipped, "the first report again, unzipped"))
    # One value altered in transit: the checksum no longer matches.
    broken = data_dir / "S0141_20260506_SF_broken.txt"
    with broken.open("wb") as out:
        write_settlement_report(
            out,
            flow="S0141",
            settlement_date=DEMO_DAYS[1],
            run_type=RunType.SF,
            run_number=2,
            parties=parties[:1],
            bm_units=bm_units,
            creation_time=datetime(2026, 5, 22, 9, tzinfo=UTC),
            seed=2,
        )
    lines = broken.read_bytes().split(b"\n")
    at = next(i for i, line in enumerate(lines) if line.startswith(b"PPC|"))
    lines[at] = lines[at].replace(b"PPC|0|", b"PPC|7|", 1)
    broken.write_bytes(b"\n".join(lines))
    files.append(SampleFile(broken, "an S0141 altered in transit"))
    return files + _other_flows(data_dir)


# A metering system of the demo (a valid MPAN core) and the day its half hours are metered.
DEMO_MPAN = sample_mpan(1)
_PUBLISHED = datetime(2026, 5, 6, 23, 44, tzinfo=UTC)
_READ = datetime(2026, 5, 7, 9, 0, tzinfo=UTC)


def _other_flows(data_dir: Path) -> list[SampleFile]:
    """One file of every other format the ledger reads, and two it only keeps."""
    day = DEMO_DAYS[1]
    written = [
        (
            "DISEBSP_20260506.json",
            disebsp_page(disebsp_day(day, _PUBLISHED)),
            "system prices published before any run: ranked below them",
        ),
        (
            "D0036_estimated.txt",
            d0036_file(
                mpans=[DEMO_MPAN], settlement_dates=[day], creation_time=_READ, estimated={1, 2}
            ),
            "a supplier's half hours, the first two estimated",
        ),
        (
            "D0036_actual.txt",
            d0036_file(
                mpans=[DEMO_MPAN],
                settlement_dates=[day],
                creation_time=_READ + timedelta(days=2),
                file_id="DTC0000002",
            ),
            "the same half hours, all actual: they replace the estimates",
        ),
        (
            "D0010.txt",
            d0010_file(
                [SampleReading(DEMO_MPAN, "M1", "01", _READ, Decimal("12345.6"))],
                creation_time=_READ,
            ),
            "a meter reading",
        ),
        (
            "IF-021.json",
            to_json(dip_message(mpan=mpan_for("_A"))).encode(),
            "an MHHS message: validated, kept, not interpreted",
        ),
        (
            "D0012.txt",
            other_flow_file(mpans=[DEMO_MPAN], creation_time=_READ),
            "a flow the ledger keeps without reading",
        ),
        ("notes.txt", b"meeting notes, sent by mistake\n", "a file nobody recognises"),
    ]
    files = []
    for name, data, note in written:
        path = data_dir / name
        path.write_bytes(data)
        files.append(SampleFile(path, note))
    return files


def _show_other_flows(runtime: LedgerRuntime, tenant: str) -> UUID | None:
    """What the other flows made: ranks below the runs, an actual over an estimate, and the
    exception queue (the id of the exception most at risk, if any)."""
    day = DEMO_DAYS[1]
    system = runtime.period("system", day, 14, tenant=tenant)
    runs = ", ".join(f"v{v.version} {v.run_type}" for v in system.versions)
    best = system.best.run_type if system.best else "none"
    print(f"\nsystem on {day} period 14: {runs}; best available: {best}")
    metered = runtime.period(f"mpan:{DEMO_MPAN}", day, 1, tenant=tenant)
    steps = ", ".join(f"v{v.version} {v.maturity}" for v in metered.versions)
    kept = metered.best.maturity if metered.best else "none"
    print(f"mpan:{DEMO_MPAN} on {day} period 1: {steps}; best available: {kept}")
    raised = runtime.exceptions.find(tenant=tenant, status=None, impact=None)
    print(f"\nThe exception queue holds {len(raised)} exceptions, most at risk first:")
    for view in raised[:5]:
        print(f"  {str(view.id)[:8]}  {view.impact:<16} {view.category}")
        # Whole words only: a date, an instant or a file name is never cut.
        for line in textwrap.wrap(
            view.message, width=_WIDTH, break_long_words=False, break_on_hyphens=False
        ):
            print(f"      {line}")
    return raised[0].id if raised else None


# The width the demo's wrapped messages keep to (a terminal's 80 columns, less the indent).
_WIDTH = 74


def run_demo(runtime: LedgerRuntime, *, data_dir: str | Path, tenant: str) -> None:
    """Ingest the sample files and print what the ledger now knows."""
    files = write_demo_files(Path(data_dir))
    print(f"Ingesting {len(files)} sample files from {data_dir}/ into {runtime.database.url}\n")
    for sample in files:
        result = runtime.ingest(sample.path, tenant=tenant)
        line = f"  {result.status:<15} {sample.path.name:<38} {result.periods:>5} periods"
        if result.readings:
            line += f", {result.readings} meter readings"
        if result.further_sources:
            line += f", {result.further_sources} already held (the same run again)"
        line += f"  ({sample.note})"
        print(line)
        for reason in result.reasons:
            print(f"                  {reason}")
    subject = f"party:{sample_party_ids(1)[0]}"
    view = runtime.period(subject, DEMO_DAYS[1], 14, tenant=tenant)
    print(f"\n{subject} on {DEMO_DAYS[1]} period 14, every version the ledger holds:")
    for v in view.versions:
        cashflow = v.values.get("energy_imbalance_cashflow")
        print(
            f"  v{v.version}: {v.run_type} run {v.run_number}, recorded "
            f"{v.recorded_at.isoformat()}, energy_imbalance_cashflow {cashflow}"
        )
    best = view.best
    if best:
        print(f"  best available: v{best.version} ({best.run_type})")
    first_exception = _show_other_flows(runtime, tenant)
    autumn = runtime.period("system", DEMO_DAYS[2], 50, tenant=tenant)
    print(
        f"\nThe autumn clock-change day {DEMO_DAYS[2]} has period 50 "
        f"(starts {autumn.period_start.isoformat()}): {len(autumn.versions)} versions."
    )
    print("\nTry:")
    print(f"  .venv/bin/ledger exceptions --tenant {tenant}")
    if first_exception is not None:
        print(
            f"  .venv/bin/ledger exceptions acknowledge {str(first_exception)[:8]} --tenant "
            f'{tenant} --actor you --reason "looking into it"'
        )
    print(f"  .venv/bin/ledger period mpan:{DEMO_MPAN} {DEMO_DAYS[1]} 1")
    print(f"  .venv/bin/ledger period {subject} {DEMO_DAYS[1]} 14")
    if best:
        print(
            f"  .venv/bin/ledger period {subject} {DEMO_DAYS[1]} 14 --as-of "
            f"{best.recorded_at.isoformat()}"
        )
    print(f"  curl http://127.0.0.1:8000/tenants/{tenant}/periods/{subject}/{DEMO_DAYS[1]}/14")
