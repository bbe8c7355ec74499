"""Ingestion benchmark: a synthetic S0142-shaped run of N subject-periods into a scratch
PostgreSQL database, then a later run revising every value, each compared with a raw psycopg
COPY of the same number of event rows in the same process.

With ``--market``: one full-size all-parties S0142 as the portal delivers it (gzipped; 479
parties, 7,650 BM Units, 48 periods: about 1.2 million records), ingested with the views
brought up to date, against a COPY of the same lines into a one-column table, in one run
(``market_ratio``), with the process's peak memory.

With ``--versions N``: N period versions (ten runs of N/10 subject-periods, each a version
of every period) with documents issued part way, then the read side's latencies on
PostgreSQL: a period as known at an instant (``as_of_p50_ms``, ``as_of_p99_ms``) and the
stale documents (``stale_p99_ms``).

Usage: scripts/bench [--size N | --market | --versions N] [--json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from ledger.demo.samples import (
    market_size_ids,
    portal_file_name,
    sample_bm_unit_ids,
    sample_party_ids,
    write_settlement_report,
)
from ledger.domain.runs import RunType
from ledger.service.runtime import LedgerRuntime

SETTLEMENT_DATE = date(2026, 5, 6)  # 48 periods


def admin_url() -> str:
    return os.environ.get("LEDGER_TEST_POSTGRES_URL") or (
        "postgresql://postgres@127.0.0.1:5432/postgres"
    )


def with_dbname(url: str, dbname: str) -> str:
    return psycopg.conninfo.make_conninfo(url, dbname=dbname)


def shape(size: int) -> tuple[list[str], dict[str, list[str]]]:
    """Parties and BM Units giving about ``size`` subject-periods over 48 periods."""
    subjects = max(size // 48, 3)
    parties_n = max(subjects * 4 // 17, 1)  # about 400 parties to 1,700 BM Units
    units_n = max(subjects - 1 - parties_n, 0)
    parties = sample_party_ids(parties_n)
    bm_units: dict[str, list[str]] = {}
    for i, party in enumerate(parties):
        share = units_n // parties_n + (1 if i < units_n % parties_n else 0)
        bm_units[party] = sample_bm_unit_ids(party, share)
    return parties, bm_units


def write_run(
    path: Path, run_type: RunType, revision: int, size: int, *, run_number: int = 1
) -> None:
    parties, bm_units = shape(size)
    with path.open("wb") as out:
        write_settlement_report(
            out,
            flow="S0142",
            settlement_date=SETTLEMENT_DATE,
            run_type=run_type,
            run_number=run_number,
            parties=parties,
            bm_units=bm_units,
            creation_time=datetime(2026, 5, 12, 3, tzinfo=UTC) + timedelta(days=revision * 10),
            seed=7,
            revision=revision,
        )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def copy_baseline(url: str, rows: int, payload_size: int) -> float:
    """Seconds for a raw psycopg COPY of ``rows`` event-shaped rows into an indexed table."""
    payload = b"x" * payload_size
    topic = "ledger.domain.aggregates:SettlementPeriod.ValuesRecorded"
    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE copy_baseline (originator_id uuid NOT NULL,"
            " originator_version bigint NOT NULL, topic text, state bytea,"
            " notification_id bigserial, PRIMARY KEY (originator_id, originator_version))"
        )
        conn.execute("CREATE UNIQUE INDEX ON copy_baseline (notification_id)")
        conn.commit()
        ids = [uuid.uuid4() for _ in range(rows)]
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY copy_baseline (originator_id, originator_version, topic, state)"
                " FROM STDIN (FORMAT BINARY)"
            ) as copy,
        ):
            copy.set_types(["uuid", "int8", "text", "bytea"])
            for oid in ids:
                copy.write_row((oid, 1, topic, payload))
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE copy_baseline")
        conn.commit()
    return elapsed


def scratch_database() -> tuple[str, str, str]:
    """A new database on the server: its name, a psycopg URL and the ledger's URL."""
    dbname = f"ledger_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    url = with_dbname(admin_url(), dbname)
    ledger_url = "postgresql://{user}@{host}:{port}/{dbname}".format(
        **{**psycopg.conninfo.conninfo_to_dict(url), "dbname": dbname}
    )
    return dbname, url, ledger_url


def drop_database(dbname: str) -> None:
    with psycopg.connect(admin_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


def copy_lines_baseline(url: str, path: Path, *, by_row: bool = False) -> float:
    """Seconds for COPY of a report's lines (decompressed) into a one-column table: streamed
    as COPY's own text (the fastest a client can go), or ``by_row``, a row per line as a
    client reading the file line by line writes them."""
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE copy_lines (line text NOT NULL)")
        conn.commit()
        started = time.perf_counter()
        with (
            gzip.open(path, "rb") as lines,
            conn.cursor() as cur,
            cur.copy("COPY copy_lines (line) FROM STDIN") as copy,
        ):
            if by_row:
                for line in lines:
                    copy.write_row((line.rstrip(b"\n").decode("ascii"),))
            else:
                # COPY's text format: a line per row; a backslash would start an escape.
                while chunk := lines.read(1 << 20):
                    copy.write(chunk.replace(b"\\", b"\\\\"))
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE copy_lines")
        conn.commit()
    return elapsed


def run_market() -> dict[str, Any]:
    """The full-size report, ingested with the views, against a COPY of its lines."""
    dbname, url, ledger_url = scratch_database()
    report: dict[str, Any] = {"market": True}
    created = datetime(2026, 9, 22, 22, 44, 32, tzinfo=UTC)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / portal_file_name("S0142", SETTLEMENT_DATE, RunType.R3, created)
            parties, bm_units = market_size_ids()
            with path.open("wb") as out:
                report["records"] = write_settlement_report(
                    out,
                    flow="S0142",
                    settlement_date=SETTLEMENT_DATE,
                    run_type=RunType.R3,
                    run_number=5,
                    parties=parties,
                    bm_units=bm_units,
                    creation_time=created,
                    gzip=True,
                )
            report["file_mb"] = round(path.stat().st_size / 2**20, 1)
            runtime = LedgerRuntime(ledger_url)
            try:
                started = time.perf_counter()
                result = runtime.ingestor.ingest_path(path, tenant="bench")
                report["ingest_seconds"] = round(time.perf_counter() - started, 3)
                if result.status != "accepted":
                    raise SystemExit(f"bench file was not accepted: {result.reasons}")
                started = time.perf_counter()
                runtime.runner.catch_up()
                report["views_seconds"] = round(time.perf_counter() - started, 3)
                report["subject_periods"] = result.periods
            finally:
                runtime.close()
            report["peak_rss_mb"] = round(peak_rss_mb(), 1)
            copy_s = min(copy_lines_baseline(url, path) for _ in range(3))
            rows_s = min(copy_lines_baseline(url, path, by_row=True) for _ in range(3))
        report["copy_lines_seconds"] = round(copy_s, 3)
        report["copy_rows_seconds"] = round(rows_s, 3)
        total = report["ingest_seconds"] + report["views_seconds"]
        report["market_seconds"] = round(total, 3)
        report["market_ratio"] = round(total / copy_s, 2)
        report["market_ratio_by_row"] = round(total / rows_s, 2)
    finally:
        drop_database(dbname)
    return report


def run(size: int) -> dict[str, Any]:
    dbname, url, ledger_url = scratch_database()
    report: dict[str, Any] = {"size": size}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            first = Path(tmp) / "first.s0142"
            revised = Path(tmp) / "revised.s0142"
            write_run(first, RunType.II, 0, size)
            write_run(revised, RunType.SF, 1, size)
            report["file_mb"] = round(first.stat().st_size / 2**20, 1)
            runtime = LedgerRuntime(ledger_url)
            try:
                for phase, path in (("first_run", first), ("revision", revised)):
                    started = time.perf_counter()
                    result = runtime.ingestor.ingest_path(path, tenant="bench")
                    ingest_s = time.perf_counter() - started
                    if result.status != "accepted":
                        raise SystemExit(f"bench file was not accepted: {result.reasons}")
                    started = time.perf_counter()
                    runtime.runner.catch_up()
                    views_s = time.perf_counter() - started
                    report[f"{phase}_events"] = result.events
                    report[f"{phase}_ingest_seconds"] = round(ingest_s, 3)
                    report[f"{phase}_views_seconds"] = round(views_s, 3)
                events = runtime.ledger.event_store.events_table
                with runtime.database.transaction() as tx:
                    row = tx.execute(f"SELECT avg(length(state))::int FROM {events}").fetchone()
                    payload_size = int(row[0]) if row else 600
            finally:
                runtime.close()
        # Peak memory of the ledger's work, read before the baseline (which holds its ids).
        report["peak_rss_mb"] = round(peak_rss_mb(), 1)
        report["payload_bytes"] = payload_size
        # The best of three COPYs: the baseline errs on the fast side, so ratios are not flattered.
        copy_s = min(copy_baseline(url, report["first_run_events"], payload_size) for _ in range(3))
        report["copy_seconds"] = round(copy_s, 3)
        for phase in ("first_run", "revision"):
            ingest_s = report[f"{phase}_ingest_seconds"]
            views_s = report[f"{phase}_views_seconds"]
            report[f"{phase}_ratio"] = round(ingest_s / copy_s, 2)
            report[f"{phase}_with_views_ratio"] = round((ingest_s + views_s) / copy_s, 2)
    finally:
        drop_database(dbname)
    return report


# Ten runs, in the order they arrive: every one a new version of every period.
_RUNS = [
    (RunType.II, 1),
    (RunType.SF, 1),
    (RunType.SF, 2),
    (RunType.R1, 3),
    (RunType.R2, 4),
    (RunType.R3, 5),
    (RunType.R3, 6),
    (RunType.RF, 7),
    (RunType.RF, 8),
    (RunType.DF, 9),
]
_DOCUMENTS = 100  # issued after the first eight runs: half by best (stale after), half run:R3
_SAMPLES = 1000


def run_versions(versions: int) -> dict[str, Any]:
    """``versions`` period versions on PostgreSQL; then as-of and stale-documents latencies."""
    dbname, _url, ledger_url = scratch_database()
    size = max(versions // len(_RUNS), 48 * 3)
    report: dict[str, Any] = {"versions": size * len(_RUNS)}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            runtime = LedgerRuntime(ledger_url)
            try:
                started = time.perf_counter()
                instants = _load_runs(runtime, Path(tmp), size)
                report["load_seconds"] = round(time.perf_counter() - started, 1)
                report.update(_latencies(runtime, size, instants))
            finally:
                runtime.close()
    finally:
        drop_database(dbname)
    return report


def _load_runs(runtime: LedgerRuntime, tmp: Path, size: int) -> list[datetime]:
    """Ingest the runs (documents issued before the last two); the instant after each."""
    instants = []
    for revision, (run_type, run_number) in enumerate(_RUNS):
        if revision == len(_RUNS) - 2:
            _issue_documents(runtime, size)
        path = tmp / f"run{revision}.s0142"
        write_run(path, run_type, revision, size, run_number=run_number)
        result = runtime.ingest(path, tenant="bench")
        path.unlink()
        if result.status != "accepted":
            raise SystemExit(f"bench file was not accepted: {result.reasons}")
        instants.append(datetime.now(UTC))
    return instants


def _subjects(size: int) -> list[str]:
    parties, bm_units = shape(size)
    units = [unit for party in parties for unit in bm_units[party]]
    return ["system", *(f"party:{p}" for p in parties), *(f"bmu:{u}" for u in units)]


def _issue_documents(runtime: LedgerRuntime, size: int) -> None:
    parties = [s for s in _subjects(size) if s.startswith("party:")]
    for n in range(_DOCUMENTS):
        runtime.issue_document(
            kind="invoice",
            reference=f"INV-{n:04d}",
            actor="bench",
            rule="best" if n % 2 == 0 else "run:R3",
            subject=parties[n % len(parties)],
            settlement_date=SETTLEMENT_DATE,
            periods=range(1, 49),
            measures=["bm_unit_cashflow"],
            tenant="bench",
        )


def _latencies(runtime: LedgerRuntime, size: int, instants: list[datetime]) -> dict[str, Any]:
    rng = random.Random(7)
    subjects = _subjects(size)
    as_of_ms = []
    for _ in range(_SAMPLES):
        subject, period = rng.choice(subjects), rng.randint(1, 48)
        instant = rng.choice(instants)
        started = time.perf_counter()
        runtime.period(subject, SETTLEMENT_DATE, period, tenant="bench", as_of=instant)
        as_of_ms.append((time.perf_counter() - started) * 1000)
    stale_ms = []
    stale = []
    for _ in range(_SAMPLES // 10):
        started = time.perf_counter()
        stale = runtime.stale_documents(tenant="bench")
        stale_ms.append((time.perf_counter() - started) * 1000)
    # And the whole answer as the API sends it: the stale documents, then their JSON body.
    from pydantic import TypeAdapter

    from ledger.service.documents import StaleDocument

    body = TypeAdapter(list[StaleDocument])
    served_ms = []
    for _ in range(_SAMPLES // 10):
        started = time.perf_counter()
        body.dump_json(runtime.stale_documents(tenant="bench"))
        served_ms.append((time.perf_counter() - started) * 1000)
    return {
        "as_of_p50_ms": round(_percentile(as_of_ms, 50), 2),
        "as_of_p99_ms": round(_percentile(as_of_ms, 99), 2),
        "stale_documents": len(stale),
        "stale_lines": sum(len(d.lines) for d in stale),
        "stale_p50_ms": round(_percentile(stale_ms, 50), 2),
        "stale_p99_ms": round(_percentile(stale_ms, 99), 2),
        "stale_json_p50_ms": round(_percentile(served_ms, 50), 2),
        "stale_json_p99_ms": round(_percentile(served_ms, 99), 2),
    }


def _percentile(samples: list[float], pct: int) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, len(ordered) * pct // 100)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="subject-periods per run")
    parser.add_argument(
        "--market", action="store_true", help="one full-size all-parties S0142, gzipped"
    )
    parser.add_argument(
        "--versions",
        type=int,
        nargs="?",
        const=1_000_000,
        help="load N period versions (default 1,000,000), then time as-of and stale reads",
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    if args.versions:
        report = run_versions(args.versions)
    else:
        report = run_market() if args.market else run(args.size)
    if not args.json:
        for key, value in report.items():
            print(f"{key:>32}: {value}")
    else:
        print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
