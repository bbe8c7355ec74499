"""Fault campaign: seeded, reproducible trials that kill, restart and race the ``ledger``
command on SQLite and PostgreSQL, then check that no event was lost or duplicated and that
every view equals a rebuild from the event log.

Usage: scripts/faults [--trials N] [--seed S] [--quick] [--json] [--backends LIST] [--trial I]

Every trial runs ``.venv/bin/ledger`` as subprocesses on a fresh database (a SQLite file in a
temporary directory, or a scratch database created and dropped on the PostgreSQL test server:
``LEDGER_TEST_POSTGRES_URL`` or postgresql://postgres@127.0.0.1:5432/postgres). Kinds:

- ``kill-ingest``: ``kill -9`` of ``ledger ingest FILE`` after a random delay, then
  ``ledger recover`` and the same file ingested again;
- ``kill-rebuild``: ``kill -9`` of ``ledger rebuild`` after a random delay;
- ``concurrent``: 8 mixed commands (ingests of different files, one file twice, a damaged
  file, ``period`` and ``flow`` reads, ``rebuild``) on two tenants, started together;
- ``pg-restart``: PostgreSQL restarted (``pg_ctl restart -m immediate``) while an ingest runs,
  then ``ledger recover`` and the file again. Only ever on a throwaway cluster this script
  starts itself (initdb in a temporary directory, a free port), never on the shared server;
- ``slow-reads``: ``ledger period`` and ``ledger flow`` reads timed while a long ingest runs.

After every trial: the settlement-period events citing each file, in the event log and in
``period_versions``, must number exactly the periods it carries (fewer: lost; more:
duplicated); no flow may have two ``Validated`` or ``Interpreted`` events; every view, dumped
in full, must equal itself after ``ledger rebuild``. Every command must exit as expected,
print JSON and never a traceback. The table has one row per kind and backend; the exit
status is 1 when anything failed, with the seed and trial number to reproduce it
(``--trial I`` runs trial I alone: each trial draws from its own generator, seeded by the
campaign seed and its number).

Faults injected: a kill or a restart that hit a running command, an 8-command race, or a
long ingest that at least one timed read overlapped.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import hashlib
import json
import os
import pwd
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import psycopg
from bench import shape
from eventsourcing.utils import get_topic
from psycopg import sql

from ledger.adapters.storage import Database
from ledger.demo.samples import write_settlement_report
from ledger.domain.aggregates import ReceivedFile, SettlementPeriod, received_file_id
from ledger.domain.runs import SETTLEMENT_RUNS, RunType
from ledger.service.application import Ledger
from ledger.service.runtime import LedgerRuntime

ROOT = Path(__file__).resolve().parent.parent
LEDGER = ROOT / ".venv" / "bin" / "ledger"
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SETTLEMENT_DATE = date(2026, 5, 6)  # 48 settlement periods
TENANTS = ("a", "b")
TRACEBACK = "Traceback (most recent call last)"
# Bounds on everything that waits: no command, read loop or server step runs unbounded.
COMMAND_TIMEOUT = 180.0
READ_LOOP_SECONDS = 90.0
# A pause between timed reads, so that a bounded number of them spans the whole long ingest
# (its writing phase and its bringing the views up to date), not just its start.
READ_GAP = 0.2
SERVER_TIMEOUT = 120.0
VALUE_TOPICS = (
    get_topic(SettlementPeriod.FirstValuesRecorded),
    get_topic(SettlementPeriod.ValuesRecorded),
)
FLOW_TOPICS = tuple(
    get_topic(e) for e in (ReceivedFile.Validated, ReceivedFile.Interpreted, ReceivedFile.Rejected)
)


@dataclass(frozen=True)
class Profile:
    """How big and how many: the default campaign, or the short one the test suite runs."""

    kill_size: int  # subject-periods of a file killed mid-ingest (ingest takes about 1-3 s)
    kill_window: float  # ingest kill and restart delays are drawn from [0.3, kill_window) s
    rebuild_window: float  # rebuild kill delays are drawn from [0.3, rebuild_window) s
    race_size: int  # subject-periods of each file the concurrent trial races
    long_size: int  # the long ingest reads are timed against (about 10-20 s)
    max_reads: int  # reads per slow-reads trial, at most
    rounds: int  # default trials: this many per kind and backend


FULL = Profile(
    kill_size=20_000,
    kill_window=2.5,
    rebuild_window=2.5,
    race_size=2_000,
    long_size=150_000,
    max_reads=40,
    rounds=2,
)
QUICK = Profile(
    kill_size=3_000,
    kill_window=0.9,
    rebuild_window=0.6,
    race_size=300,
    long_size=5_000,
    max_reads=4,
    rounds=1,
)
# Kill and restart delays start here: before it the command is still importing Python and
# has touched nothing, which makes for a dull fault.
EARLIEST_FAULT = 0.3


# --- Sample files -------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleFile:
    """A settlement report on disk and what ingesting it must leave behind."""

    path: Path
    sha256: str
    periods: int  # settlement-period events it must end with (0 for a damaged file)
    valid: bool


class Files:
    """Sample files, written once per campaign (they do not depend on the seed)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._made: dict[tuple[int, int, bool], SampleFile] = {}
        self.by_sha: dict[str, SampleFile] = {}

    def get(self, size: int, revision: int) -> SampleFile:
        """An S0142 of about ``size`` subject-periods; each revision is a later run."""
        key = (size, revision, True)
        if key not in self._made:
            parties, bm_units = shape(size)
            path = self.directory / f"S0142_{size}_{revision}.txt"
            with path.open("wb") as out:
                write_settlement_report(
                    out,
                    flow="S0142",
                    settlement_date=SETTLEMENT_DATE,
                    run_type=SETTLEMENT_RUNS[revision % len(SETTLEMENT_RUNS)],
                    run_number=1 + revision // len(RunType),
                    parties=parties,
                    bm_units=bm_units,
                    creation_time=datetime(2026, 5, 12, 3, tzinfo=UTC) + timedelta(days=revision),
                    seed=7,
                    revision=revision,
                )
            subjects = 1 + len(parties) + sum(len(units) for units in bm_units.values())
            self._remember(key, path, 48 * subjects, valid=True)
        return self._made[key]

    def damaged(self, size: int) -> SampleFile:
        """A file whose trailer checksum no longer matches: it must be rejected whole."""
        key = (size, -1, False)
        if key not in self._made:
            lines = self.get(size, 0).path.read_bytes().split(b"\n")
            middle = len(lines) // 2
            # One digit changed in a record: the IDD checksum in the trailer catches it.
            digit = next(i for i, c in enumerate(lines[middle]) if chr(c).isdigit())
            record = bytearray(lines[middle])
            record[digit] = ord(str((int(chr(record[digit])) + 1) % 10))
            lines[middle] = bytes(record)
            path = self.directory / f"S0142_{size}_damaged.txt"
            path.write_bytes(b"\n".join(lines))
            self._remember(key, path, 0, valid=False)
        return self._made[key]

    def _remember(self, key: tuple[int, int, bool], path: Path, periods: int, valid: bool) -> None:
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        sample = SampleFile(path, sha, periods, valid)
        self._made[key] = sample
        self.by_sha[sha] = sample


# --- Processes ----------------------------------------------------------------------------

# Every process this campaign started and has not yet reaped: killed on the way out.
_LIVE: set[subprocess.Popen[bytes]] = set()


@dataclass
class Done:
    """A finished command: exit status, what it printed, its wall time."""

    command: str
    rc: int
    out: str
    err: str
    seconds: float
    killed: bool
    timed_out: bool


class Proc:
    """One ``ledger`` command running as a subprocess on a trial's database."""

    def __init__(
        self, args: list[str], *, url: str, cwd: Path, tenant: str | None, stdin: Path | None
    ) -> None:
        argv = [str(LEDGER), *(["--tenant", tenant] if tenant else []), *args]
        self.command = " ".join(["ledger", *argv[1:]]) + (f" < {stdin.name}" if stdin else "")
        # Files rather than pipes: nothing blocks on a full pipe while we wait or kill.
        self._out: IO[bytes] = tempfile.TemporaryFile()
        self._err: IO[bytes] = tempfile.TemporaryFile()
        env = {**os.environ, "LEDGER_DATABASE_URL": url}
        with contextlib.ExitStack() as stack:
            source: Any = stack.enter_context(stdin.open("rb")) if stdin else subprocess.DEVNULL
            self.popen = subprocess.Popen(
                argv, stdin=source, stdout=self._out, stderr=self._err, cwd=cwd, env=env
            )
        _LIVE.add(self.popen)
        self.started = time.monotonic()
        self.ended: float | None = None
        self.killed = False
        self.timed_out = False

    def running(self) -> bool:
        if self.popen.poll() is None:
            return True
        self._ended()
        return False

    def still_running_after(self, delay: float) -> bool:
        try:
            self.popen.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            return True
        self._ended()
        return False

    def kill_after(self, delay: float) -> bool:
        """``kill -9`` after ``delay`` seconds; True when it was still running (a fault)."""
        if not self.still_running_after(delay):
            return False
        self.popen.send_signal(signal.SIGKILL)
        self.killed = True
        return True

    def finish(self, deadline: float | None = None) -> Done:
        limit = deadline if deadline is not None else self.started + COMMAND_TIMEOUT
        try:
            rc = self.popen.wait(timeout=max(0.0, limit - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.timed_out = True
            rc = self.popen.wait()
        self._ended()
        _LIVE.discard(self.popen)
        return Done(
            self.command,
            rc,
            _read(self._out),
            _read(self._err),
            (self.ended or time.monotonic()) - self.started,
            self.killed,
            self.timed_out,
        )

    def _ended(self) -> None:
        if self.ended is None:
            self.ended = time.monotonic()


def _read(stream: IO[bytes]) -> str:
    stream.seek(0)
    text = stream.read().decode("utf-8", "replace")
    stream.close()
    return text


def finish_all(procs: list[Proc]) -> list[Done]:
    """Wait for processes started together; each one's wall time ends when it exits."""
    deadline = time.monotonic() + COMMAND_TIMEOUT
    while time.monotonic() < deadline and any([p.running() for p in procs]):
        time.sleep(0.01)  # poll, so that each end time is known to 10 ms
    return [p.finish(deadline) for p in procs]


def kill_leftovers() -> None:
    for popen in list(_LIVE):
        if popen.poll() is None:
            popen.kill()
            popen.wait()
        _LIVE.discard(popen)


def json_values(text: str) -> list[Any] | None:
    """What a command printed: one JSON document, or one per line; None if not JSON."""
    text = text.strip()
    if not text:
        return None
    try:
        return [json.loads(text)]
    except ValueError:
        pass
    try:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except ValueError:
        return None


def last_line(text: str) -> str:
    """The gist of what a command said on stderr: the exception of a traceback (with the
    lines that follow it, e.g. PostgreSQL's DETAIL), else the last line."""
    if TRACEBACK in text:
        tail = text.rsplit(TRACEBACK, 1)[1].splitlines()
        # Frames are indented; the exception is the first line after them that is not.
        start = next((i for i, line in enumerate(tail[1:], 1) if line[:1] not in " \t"), 0)
        return " / ".join(line.strip() for line in tail[start : start + 3] if line.strip())[:400]
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(nothing on stderr)"


# --- Databases ----------------------------------------------------------------------------


class Server(Protocol):
    """Where a trial's fresh database comes from."""

    def database(self) -> contextlib.AbstractContextManager[str]: ...


class SqliteFiles:
    """A fresh SQLite file per trial, in a directory of its own."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        directory = Path(tempfile.mkdtemp(prefix="sqlite-", dir=self.root))
        try:
            yield f"sqlite:///{directory / 'ledger.db'}"
        finally:
            shutil.rmtree(directory, ignore_errors=True)


def with_database(url: str, dbname: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{dbname}"))


def can_connect(url: str) -> bool:
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.Error:
        return False
    return True


class PostgresServer:
    """Scratch databases (``ledger_faults_*``) created and dropped on a PostgreSQL server."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url

    def _admin(self, statement: sql.Composed) -> None:
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement)

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        dbname = f"ledger_faults_{uuid.uuid4().hex[:12]}"
        name = sql.Identifier(dbname)
        self._admin(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(name))
        try:
            yield with_database(self.admin_url, dbname)
        finally:
            self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))


def find_pg_bindir() -> Path | None:
    """The newest directory holding initdb and pg_ctl (as scripts/test looks for them)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda d: [int(p) if p.isdigit() else 0 for p in Path(d).parent.name.split(".")],
        reverse=True,
    )
    initdb = shutil.which("initdb")
    candidates = [Path(d) for d in found] + ([Path(initdb).parent] if initdb else [])
    for directory in candidates:
        if os.access(directory / "initdb", os.X_OK) and os.access(directory / "pg_ctl", os.X_OK):
            return directory
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThrowawayCluster:
    """A PostgreSQL cluster of our own (the only one this script ever restarts or stops)."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.directory: Path | None = None
        self.port = 0
        # initdb and postgres refuse to run as root: run them as an unprivileged owner.
        self.owner = "postgres" if _user_exists("postgres") else "nobody"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def data(self) -> Path:
        assert self.directory is not None
        return self.directory / "data"

    def start(self) -> None:
        # /tmp, not $TMPDIR: the owner must be able to reach it.
        self.directory = Path(tempfile.mkdtemp(prefix="ledger-faults-pg.", dir="/tmp"))
        if os.geteuid() == 0:
            entry = pwd.getpwnam(self.owner)
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        self.port = free_port()
        initdb = f"-D {self.data} -U postgres -A trust -E UTF8 --no-locale --no-sync"
        self._pg_tool("initdb", *initdb.split())
        # fsync off is safe for these trials: an immediate restart kills the server, not
        # the machine, so everything written survives in the operating system's cache.
        # Commits stay synchronous: an asynchronous commit is acknowledged before its WAL
        # leaves the server's memory, so a restart would lose transactions the ledger was
        # told were committed (seen: a schema set-up half lost), which no real server does.
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories="
            f"{self.directory} -c fsync=off -c full_page_writes=off"
        )
        self._pg_ctl("start", "-o", options)

    def restart(self) -> None:
        """Crash-stop the server (no clean shutdown) and start it again; waits until it is up."""
        self._pg_ctl("restart", "-m", "immediate")

    def stop(self) -> None:
        if self.directory is None:
            return
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self._pg_ctl("stop", "-m", "immediate")
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory = None

    def _pg_ctl(self, action: str, *options: str) -> None:
        assert self.directory is not None
        log = str(self.directory / "server.log")
        self._pg_tool("pg_ctl", "-D", str(self.data), "-l", log, "-w", "-t", "60", *options, action)

    def _pg_tool(self, tool: str, *args: str) -> None:
        assert self.directory is not None
        as_owner = ["runuser", "-u", self.owner, "--"] if os.geteuid() == 0 else []
        log = self.directory / f"{tool}.log"
        # A file, not a pipe: the server pg_ctl leaves running must not hold our pipe open.
        with log.open("ab") as out:
            done = subprocess.run(
                [*as_owner, str(self.bindir / tool), *args],
                cwd=self.directory,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=SERVER_TIMEOUT,
                check=False,
            )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed: {last_line(log.read_text())}")

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        with PostgresServer(self.admin_url).database() as url:
            yield url


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


# --- Inspection ---------------------------------------------------------------------------


def view_tables() -> list[str]:
    """Every table the projections package builds, found by having each projection create
    its tables in an empty database (so a new view is checked without editing this list)."""
    with tempfile.TemporaryDirectory() as directory:
        runtime = LedgerRuntime(f"sqlite:///{directory}/ledger.db")
        try:
            projections = list(runtime.runner.projections)
        finally:
            runtime.close()
        path = f"{directory}/views.db"
        empty = Database(f"sqlite:///{path}")
        try:
            for projection in projections:
                projection.create_tables(empty)
        finally:
            empty.close()
        with contextlib.closing(sqlite3.connect(path)) as conn:
            rows = conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            ).fetchall()
    return [str(r[0]) for r in rows]


@contextlib.contextmanager
def connect(url: str) -> Iterator[tuple[str, Any]]:
    """A plain connection to a trial's database (the checks do not go through the ledger)."""
    if url.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(url[len("sqlite:///") :], timeout=60)) as conn:
            yield "sqlite", conn
    else:
        with psycopg.connect(url, connect_timeout=10) as conn:
            yield "postgres", conn


def _tables(kind: str, conn: Any) -> set[str]:
    if kind == "sqlite":
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    else:
        rows = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        ).fetchall()
    return {str(r[0]) for r in rows}


def _columns(kind: str, conn: Any, table: str) -> list[str]:
    if kind == "sqlite":
        return [str(r[1]) for r in conn.execute(f"PRAGMA table_info({table})").fetchall()]
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return [str(r[0]) for r in rows]


def dump_views(url: str, tables: list[str]) -> dict[str, tuple[int, str]]:
    """Each view's row count and a digest of all its rows, ordered by all columns."""
    dump: dict[str, tuple[int, str]] = {}
    with connect(url) as (kind, conn):
        present = _tables(kind, conn)
        for table in tables:
            if table not in present:
                dump[table] = (-1, "missing")
                continue
            columns = ", ".join(_columns(kind, conn, table))
            query = f"SELECT {columns} FROM {table} ORDER BY {columns}"
            # A server-side cursor on PostgreSQL: a big view is streamed, not held in memory.
            cursor = conn.cursor(name="dump") if kind == "postgres" else conn.cursor()
            cursor.execute(query)
            digest = hashlib.sha256()
            count = 0
            while rows := cursor.fetchmany(5000):
                for row in rows:
                    digest.update(repr(tuple(row)).encode())
                count += len(rows)
            cursor.close()
            dump[table] = (count, digest.hexdigest())
        if kind == "postgres":
            conn.rollback()
    return dump


@dataclass
class Snapshot:
    """What the database holds, counted independently of the ledger's code."""

    log: Counter[tuple[str, str]]  # (tenant, sha256) -> period value events in the log
    view: Counter[tuple[str, str]]  # (tenant, sha256) -> rows in period_versions
    flow_events: dict[str, Counter[str]]  # flow id -> events by name
    flow_status: dict[str, str]  # flow id -> status in the flows view


def snapshot(url: str) -> Snapshot:
    with connect(url) as (kind, conn):
        tables = _tables(kind, conn)
        # The event store's table as the eventsourcing library names it on each backend
        # (SQLite: its default; PostgreSQL: after the application, Ledger).
        events = "stored_events" if kind == "sqlite" else f"{Ledger.name}_events"

        def rows(table: str, query: str, params: tuple[str, ...] = ()) -> list[Any]:
            # A table the ledger never got to create holds nothing.
            if table not in tables:
                return []
            return list(conn.execute(query.format(table=table), params).fetchall())

        mark = "?" if kind == "sqlite" else "%s"
        if kind == "sqlite":
            state = "CAST(state AS TEXT)"
            fields = f"json_extract({state}, '$.tenant'), json_extract({state}, '$.source_sha256')"
        else:
            state = "convert_from(state, 'UTF8')::json"
            fields = f"{state} ->> 'tenant', {state} ->> 'source_sha256'"
        log_rows = rows(
            events,
            f"SELECT {fields}, count(*) FROM {{table}} WHERE topic IN ({mark}, {mark})"
            " GROUP BY 1, 2",
            VALUE_TOPICS,
        )
        view_rows = rows(
            "period_versions",
            "SELECT tenant, source_sha256, count(*) FROM {table}"
            " WHERE source_sha256 IS NOT NULL GROUP BY 1, 2",
        )
        flow_rows = rows(
            events,
            f"SELECT originator_id, topic, count(*) FROM {{table}}"
            f" WHERE topic IN ({mark}, {mark}, {mark}) GROUP BY 1, 2",
            FLOW_TOPICS,
        )
        status_rows = rows("flows", "SELECT flow_id, status FROM {table}")
        if kind == "postgres":
            conn.rollback()
    flow_events: dict[str, Counter[str]] = {}
    for oid, topic, count in flow_rows:
        key = str(oid if isinstance(oid, uuid.UUID) else uuid.UUID(str(oid)))
        flow_events.setdefault(key, Counter())[str(topic).rsplit(".", 1)[1]] = int(count)
    return Snapshot(
        Counter({(str(t), str(s)): int(n) for t, s, n in log_rows if s is not None}),
        Counter({(str(t), str(s)): int(n) for t, s, n in view_rows}),
        flow_events,
        {str(fid): str(status) for fid, status in status_rows},
    )


# --- Trials -------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one trial found."""

    index: int
    kind: str
    backend: str
    faults: int = 0
    lost: int = 0
    duplicated: int = 0
    unequal: int = 0
    recovered: int = 0  # files `ledger recover` completed
    reads: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    skipped: str | None = None
    seconds: float = 0.0


@dataclass
class Context:
    """What every trial shares: sizes, sample files, the views to compare."""

    profile: Profile
    files: Files
    views: list[str]
    cluster: ThrowawayCluster | None = None


class Trial:
    """One trial on one fresh database: runs commands, remembers what must be there."""

    def __init__(
        self, ctx: Context, out: Outcome, url: str, work: Path, rng: random.Random
    ) -> None:
        self.ctx = ctx
        self.out = out
        self.url = url
        self.work = work
        self.rng = rng
        # (tenant, sha256) -> the file that must end accepted (or rejected, if damaged).
        self.expected: dict[tuple[str, str], SampleFile] = {}
        self.tenants: set[str] = set()

    def fail(self, message: str) -> None:
        self.out.failures.append(message)

    def start(self, args: list[str], tenant: str | None = None, stdin: Path | None = None) -> Proc:
        if tenant:
            self.tenants.add(tenant)
        return Proc(args, url=self.url, cwd=self.work, tenant=tenant, stdin=stdin)

    def run(self, args: list[str], tenant: str | None = None, stdin: Path | None = None) -> Done:
        return self.start(args, tenant, stdin).finish()

    def exited(self, done: Done, allowed: set[int]) -> bool:
        """Did the command end on its own, with an allowed status and no traceback?"""
        if done.timed_out:
            self.fail(f"`{done.command}` still ran after {COMMAND_TIMEOUT:.0f} s and was killed")
            return False
        problems = []
        if TRACEBACK in done.err:
            problems.append("printed a traceback")
        if done.rc not in allowed:
            problems.append(f"exited {done.rc} (expected {' or '.join(map(str, sorted(allowed)))})")
        if problems:
            # What it said: stderr, else what it printed (an ingest's reasons are in its JSON).
            said = last_line(done.err) if done.err.strip() else done.out.strip()[:400]
            self.fail(f"`{done.command}` {' and '.join(problems)}: {said or '(nothing)'}")
        return not problems

    def expect(self, sample: SampleFile, tenant: str) -> None:
        self.expected[(tenant, sample.sha256)] = sample

    def ingest(self, sample: SampleFile, tenant: str) -> str | None:
        return self.ingested(self.run(["ingest", str(sample.path)], tenant), sample, tenant)

    def ingested(self, done: Done, sample: SampleFile, tenant: str) -> str | None:
        """Check what an ingest that ran to its end said; returns the status it printed. A
        file whose ingest said accepted, duplicate or rejected is held to that from then on."""
        if not self.exited(done, {0} if sample.valid else {1}):
            return None
        results = json_values(done.out)
        if not results or not isinstance(results[-1], dict):
            self.fail(f"`{done.command}` printed no JSON result: {done.out[:200]!r}")
            return None
        result: dict[str, Any] = results[-1]
        status = result.get("status")
        allowed = ("accepted", "duplicate") if sample.valid else ("rejected",)
        if status not in allowed:
            reasons = "; ".join(map(str, result.get("reasons", [])))[:300]
            self.fail(f"`{done.command}` said {status!r}, not {' or '.join(allowed)}: {reasons}")
            return str(status)
        self.expect(sample, tenant)
        if status == "accepted" and result.get("periods") != sample.periods:
            periods = result.get("periods")
            self.fail(f"`{done.command}` reported {periods} periods of {sample.periods}")
        return str(status)

    def read(self, args: list[str], tenant: str) -> None:
        self.judge_read(self.run(args, tenant))

    def judge_read(self, done: Done) -> None:
        """A read must exit 0 and print JSON; its wall time is recorded."""
        if self.exited(done, {0}):
            if json_values(done.out) is None:
                self.fail(f"`{done.command}` printed no JSON: {done.out[:200]!r}")
            self.out.reads.append(done.seconds)

    def recover(self) -> None:
        """``ledger recover`` for every tenant the trial used; each completed file must be
        accepted with all its periods."""
        for tenant in sorted(self.tenants):
            done = self.run(["recover"], tenant)
            if not self.exited(done, {0}):
                continue
            for result in json_values(done.out) or []:
                self._check_recovered(done, result, tenant)

    def _check_recovered(self, done: Done, result: Any, tenant: str) -> None:
        if not isinstance(result, dict) or "status" not in result:
            return
        self.out.recovered += 1
        sample = self.ctx.files.by_sha.get(str(result.get("sha256")))
        if result["status"] != "accepted":
            self.fail(f"`{done.command}` said {result['status']!r} for {result.get('file')}")
            return
        if sample is None:
            return
        self.expect(sample, tenant)  # recovered: held to all its periods from now on
        if result.get("periods") != sample.periods:
            periods = result.get("periods")
            self.fail(f"`{done.command}` reported {periods} periods of {sample.periods}")


def check(t: Trial) -> None:
    """The invariants, after every trial: nothing lost, nothing twice, views = a rebuild."""
    snap = snapshot(t.url)
    _count_events(t, snap)
    _check_flows(t, snap)
    _compare_with_rebuild(t)


def _count_events(t: Trial, snap: Snapshot) -> None:
    # Only files held to an outcome count: one whose ingest crashed is reported as a crash.
    for key, sample in sorted(t.expected.items()):
        want = sample.periods
        in_log, in_view = snap.log[key], snap.view[key]
        lost = max(0, want - min(in_log, in_view))
        duplicated = max(0, max(in_log, in_view) - want)
        t.out.lost += lost
        t.out.duplicated += duplicated
        if lost or duplicated:
            tenant, sha = key
            counts = f"{in_log} in the event log, {in_view} in period_versions"
            t.fail(f"tenant {tenant} file {sha[:12]}: {want} period events expected, {counts}")


def _check_flows(t: Trial, snap: Snapshot) -> None:
    for fid, events in sorted(snap.flow_events.items()):
        for name in ("Validated", "Interpreted"):
            if events[name] > 1:
                t.out.duplicated += events[name] - 1
                t.fail(f"flow {fid} has {events[name]} {name} events")
    for (tenant, sha), sample in sorted(t.expected.items()):
        fid = str(received_file_id(tenant, sha))
        events = snap.flow_events.get(fid, Counter())
        want = "accepted" if sample.valid else "rejected"
        status = snap.flow_status.get(fid)
        done = events["Interpreted"] == 1 if sample.valid else events["Rejected"] >= 1
        if status != want or not done:
            seen = f"{status!r} in the flows view, events {dict(events)}"
            t.fail(f"tenant {tenant} file {sha[:12]} should be {want}: {seen}")
    for fid, status in sorted(snap.flow_status.items()):
        if status not in ("accepted", "rejected"):
            t.fail(f"flow {fid} was left in status {status!r}")


def _compare_with_rebuild(t: Trial) -> None:
    before = dump_views(t.url, t.ctx.views)
    done = t.run(["rebuild"])
    if not t.exited(done, {0}):
        return
    after = dump_views(t.url, t.ctx.views)
    differ = [name for name in t.ctx.views if before[name] != after[name]]
    if differ:
        t.out.unequal += 1
        tables = [f"{n} ({before[n][0]} rows, {after[n][0]} after rebuild)" for n in differ]
        t.fail("views unequal to a rebuild: " + ", ".join(tables))


def kill_ingest(t: Trial) -> None:
    """kill -9 of an ingest at a random point, recover, ingest the same file again."""
    p = t.ctx.profile
    tenant = t.rng.choice(TENANTS)
    if t.rng.random() < 0.5:
        # An earlier run first, so that the killed file revises periods already there.
        t.ingest(t.ctx.files.get(p.race_size, 0), tenant)
    sample = t.ctx.files.get(p.kill_size, t.rng.randint(1, 6))
    delay = t.rng.uniform(EARLIEST_FAULT, p.kill_window)
    proc = t.start(["ingest", str(sample.path)], tenant)
    if proc.kill_after(delay):
        t.out.faults += 1
        proc.finish()
    else:
        t.ingested(proc.finish(), sample, tenant)
    t.recover()
    t.ingest(sample, tenant)
    check(t)


def kill_rebuild(t: Trial) -> None:
    """kill -9 of a rebuild at a random point: the views must be as they were."""
    p = t.ctx.profile
    tenant = t.rng.choice(TENANTS)
    for revision in t.rng.sample(range(len(RunType)), t.rng.randint(1, 2)):
        t.ingest(t.ctx.files.get(p.kill_size, revision), tenant)
    delay = t.rng.uniform(EARLIEST_FAULT, p.rebuild_window)
    proc = t.start(["rebuild"], tenant)
    if proc.kill_after(delay):
        t.out.faults += 1
        proc.finish()
    else:
        t.exited(proc.finish(), {0})
    check(t)


@dataclass(frozen=True)
class Command:
    """One of the commands the concurrent trial starts together."""

    role: str  # "ingest", "read" or "rebuild"
    args: tuple[str, ...]
    tenant: str
    sample: SampleFile | None = None
    stdin: bool = False


def race_commands(t: Trial, seeds: dict[str, SampleFile]) -> list[Command]:
    """Eight commands: the same file twice, a rebuild, two reads, three drawn at random."""
    p, files, rng = t.ctx.profile, t.ctx.files, t.rng
    same, other, piped, more = (files.get(p.race_size, r) for r in rng.sample(range(1, 7), 4))
    tenant = rng.choice(TENANTS)

    def ingest(sample: SampleFile, tenant: str, stdin: bool = False) -> Command:
        args = ("ingest", "-" if stdin else str(sample.path))
        return Command("ingest", args, tenant, sample, stdin)

    def period(tenant: str) -> Command:
        subject = rng.choice(("system", "party:PTY00001", "bmu:T_PTY00001-1"))
        args = ("period", subject, SETTLEMENT_DATE.isoformat(), str(rng.randint(1, 48)))
        return Command("read", args, tenant)

    def flow(tenant: str) -> Command:
        return Command("read", ("flow", seeds[tenant].sha256), tenant)

    commands = [
        ingest(same, tenant),
        ingest(same, tenant),
        Command("rebuild", ("rebuild",), rng.choice(TENANTS)),
        period(rng.choice(TENANTS)),
        flow(rng.choice(TENANTS)),
    ]
    optional = [
        ingest(other, rng.choice(TENANTS)),
        ingest(more, rng.choice(TENANTS)),
        ingest(files.damaged(p.race_size), rng.choice(TENANTS)),
        ingest(piped, rng.choice(TENANTS), stdin=True),
        period(rng.choice(TENANTS)),
        flow(rng.choice(TENANTS)),
    ]
    commands += rng.sample(optional, 3)
    rng.shuffle(commands)
    return commands


def concurrent(t: Trial) -> None:
    """Eight mixed commands on two tenants, all started together."""
    seeds = {tenant: t.ctx.files.get(t.ctx.profile.race_size, 0) for tenant in TENANTS}
    for tenant, seed in seeds.items():
        t.ingest(seed, tenant)  # so that every flow read finds its file
    commands = race_commands(t, seeds)
    procs = [
        t.start(list(c.args), c.tenant, c.sample.path if c.stdin and c.sample else None)
        for c in commands
    ]
    t.out.faults += 1
    statuses: dict[tuple[str, str], list[str | None]] = {}
    for command, done in zip(commands, finish_all(procs), strict=True):
        if command.role == "ingest" and command.sample is not None:
            status = t.ingested(done, command.sample, command.tenant)
            statuses.setdefault((command.tenant, command.sample.sha256), []).append(status)
        elif command.role == "read":
            t.judge_read(done)
        elif t.exited(done, {0}) and json_values(done.out) is None:
            t.fail(f"`{done.command}` printed no JSON: {done.out[:200]!r}")
    for (tenant, sha), seen in statuses.items():
        if len(seen) == 2 and sorted(map(str, seen)) != ["accepted", "duplicate"]:
            said = " and ".join(map(str, seen))
            t.fail(f"tenant {tenant} file {sha[:12]}, ingested twice at once, said {said}")
    check(t)


def pg_restart(t: Trial) -> None:
    """PostgreSQL restarted (immediate mode) mid-ingest, then recover and ingest again."""
    cluster = t.ctx.cluster
    assert cluster is not None
    p = t.ctx.profile
    tenant = t.rng.choice(TENANTS)
    sample = t.ctx.files.get(p.kill_size, t.rng.randint(1, 6))
    delay = t.rng.uniform(EARLIEST_FAULT, p.kill_window)
    proc = t.start(["ingest", str(sample.path)], tenant)
    if proc.still_running_after(delay):
        cluster.restart()
        t.out.faults += 1
    done = proc.finish()
    if done.rc == 0:
        t.ingested(done, sample, tenant)
    elif TRACEBACK in done.err:
        # A failed ingest is allowed here; a traceback instead of a clear error is not.
        error = last_line(done.err)
        t.fail(f"`{done.command}` printed a traceback when PostgreSQL restarted: {error}")
    t.recover()
    t.ingest(sample, tenant)
    check(t)


def slow_reads(t: Trial) -> None:
    """Reads timed while a long ingest runs: the slowest one is reported."""
    p = t.ctx.profile
    tenant = t.rng.choice(TENANTS)
    seed = t.ctx.files.get(p.race_size, 0)
    t.ingest(seed, tenant)
    big = t.ctx.files.get(p.long_size, t.rng.randint(1, 6))
    proc = t.start(["ingest", str(big.path)], tenant)
    deadline = time.monotonic() + READ_LOOP_SECONDS
    overlapped = False
    for _ in range(p.max_reads):
        if not proc.running() or time.monotonic() > deadline:
            break
        if t.rng.random() < 0.5:
            subject = t.rng.choice(("system", "party:PTY00001", "bmu:T_PTY00001-1"))
            period = str(t.rng.randint(1, 48))
            t.read(["period", subject, SETTLEMENT_DATE.isoformat(), period], tenant)
        else:
            t.read(["flow", seed.sha256], tenant)
        overlapped = True
        time.sleep(READ_GAP)
    t.out.faults += int(overlapped)
    t.ingested(proc.finish(), big, tenant)
    check(t)


KINDS: dict[str, Callable[[Trial], None]] = {
    "kill-ingest": kill_ingest,
    "kill-rebuild": kill_rebuild,
    "concurrent": concurrent,
    "pg-restart": pg_restart,
    "slow-reads": slow_reads,
}
OWN_CLUSTER = "postgres (own cluster)"


# --- Campaign -----------------------------------------------------------------------------


def plan(backends: list[str]) -> list[tuple[str, str]]:
    """(kind, backend) in the order trials cycle through them."""
    combos: list[tuple[str, str]] = []
    for kind in KINDS:
        if kind == "pg-restart":
            if "postgres" in backends:
                combos.append((kind, OWN_CLUSTER))
            continue
        combos += [(kind, backend) for backend in backends]
    return combos


class Campaign:
    """The servers, the sample files, and every trial's outcome."""

    def __init__(self, args: argparse.Namespace, tmp: Path) -> None:
        self.args = args
        self.tmp = tmp
        self.ctx = Context(QUICK if args.quick else FULL, Files(tmp), view_tables())
        self.servers: dict[str, Server | None] = {"sqlite": SqliteFiles(tmp)}
        self.notes: list[str] = []
        self.outcomes: list[Outcome] = []
        self._cluster_tried = False

    def close(self) -> None:
        kill_leftovers()
        if self.ctx.cluster is not None:
            self.ctx.cluster.stop()

    def server(self, backend: str) -> Server | None:
        if backend not in self.servers:
            self.servers[backend] = self._find_server(backend)
        return self.servers[backend]

    def _find_server(self, backend: str) -> Server | None:
        if backend == OWN_CLUSTER:
            cluster = self._own_cluster()
            if cluster is None:
                self.notes.append("pg-restart skipped: no throwaway PostgreSQL cluster")
            return cluster
        admin = os.environ.get("LEDGER_TEST_POSTGRES_URL") or DEFAULT_ADMIN_URL
        if can_connect(admin):
            return PostgresServer(admin)
        # No test server: a cluster of our own serves as one (scripts/test does the same).
        cluster = self._own_cluster()
        outcome = "ran on a throwaway cluster" if cluster else "were skipped"
        self.notes.append(f"{admin} is not reachable: the postgres trials {outcome}")
        return cluster

    def _own_cluster(self) -> ThrowawayCluster | None:
        """The cluster this script owns, started on first use (None if it cannot be)."""
        if self.ctx.cluster is not None or self._cluster_tried:
            return self.ctx.cluster
        self._cluster_tried = True
        bindir = find_pg_bindir()
        if bindir is None:
            self.notes.append("no PostgreSQL server binaries (initdb, pg_ctl) were found")
            return None
        cluster = ThrowawayCluster(bindir)
        try:
            cluster.start()
        except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
            cluster.stop()
            self.notes.append(f"could not start a throwaway PostgreSQL cluster: {exc}")
            return None
        self.ctx.cluster = cluster
        return cluster

    def run(self, indices: list[int]) -> None:
        combos = plan(self.args.backends)
        for index in indices:
            kind, backend = combos[index % len(combos)]
            outcome = self.trial(index, kind, backend)
            self.outcomes.append(outcome)
            print(progress(outcome), file=sys.stderr, flush=True)

    def trial(self, index: int, kind: str, backend: str) -> Outcome:
        out = Outcome(index, kind, backend)
        server = self.server(backend)
        if server is None:
            out.skipped = "no PostgreSQL available"
            return out
        # Its own generator per trial: trial I replays alone with --seed S --trial I.
        rng = random.Random(f"{self.args.seed}/{index}")
        started = time.monotonic()
        try:
            with server.database() as url, tempfile.TemporaryDirectory(dir=self.tmp) as work:
                KINDS[kind](Trial(self.ctx, out, url, Path(work), rng))
        except (psycopg.Error, sqlite3.Error, OSError, RuntimeError) as exc:
            out.failures.append(f"the trial could not go on: {type(exc).__name__}: {exc}")
        finally:
            kill_leftovers()
        out.seconds = time.monotonic() - started
        return out

    def reproduce(self, index: int) -> str:
        extra = " --quick" if self.args.quick else ""
        if self.args.backends != ["sqlite", "postgres"]:
            extra += " --backends " + ",".join(self.args.backends)
        return f"scripts/faults --seed {self.args.seed} --trial {index}{extra}"


def progress(o: Outcome) -> str:
    if o.skipped:
        return f"trial {o.index:3d} {o.kind:<12} {o.backend:<22} skipped: {o.skipped}"
    verdict = "ok" if not o.failures else f"{len(o.failures)} failure(s)"
    slowest = f", slowest read {max(o.reads):.2f} s" if o.reads else ""
    recovered = f", {o.recovered} file(s) recovered" if o.recovered else ""
    return (
        f"trial {o.index:3d} {o.kind:<12} {o.backend:<22} {o.seconds:5.1f} s, "
        f"{o.faults} fault(s){recovered}{slowest}: {verdict}"
    )


def rows(outcomes: list[Outcome], combos: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """One row per kind and backend, in plan order."""
    table = []
    for kind, backend in combos:
        group = [o for o in outcomes if (o.kind, o.backend) == (kind, backend) and not o.skipped]
        skipped = [o for o in outcomes if (o.kind, o.backend) == (kind, backend) and o.skipped]
        if not group and not skipped:
            continue
        reads = [r for o in group for r in o.reads]
        table.append(
            {
                "kind": kind,
                "backend": backend,
                "trials": len(group),
                "skipped": len(skipped),
                "faults": sum(o.faults for o in group),
                "lost": sum(o.lost for o in group),
                "duplicated": sum(o.duplicated for o in group),
                "unequal": sum(o.unequal for o in group),
                "slowest_read": round(max(reads), 3) if reads else None,
                "failed_trials": sum(1 for o in group if o.failures),
            }
        )
    return table


HEADERS = (
    ("kind", "trial kind"),
    ("backend", "backend"),
    ("trials", "trials"),
    ("faults", "faults injected"),
    ("lost", "events lost"),
    ("duplicated", "duplicated"),
    ("unequal", "views unequal to a rebuild"),
    ("slowest_read", "slowest read"),
    ("failed_trials", "failed trials"),
)


def render(table: list[dict[str, Any]]) -> str:
    def cell(row: dict[str, Any], key: str) -> str:
        value = row[key]
        if key == "slowest_read":
            return "-" if value is None else f"{value:.2f} s"
        if key == "trials" and row["skipped"]:
            return f"{value} ({row['skipped']} skipped)"
        return str(value)

    cells = [[title for _, title in HEADERS]] + [[cell(r, k) for k, _ in HEADERS] for r in table]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADERS))]
    lines = [
        " | ".join(
            c.ljust(w) if i < 2 else c.rjust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in cells
    ]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def report(campaign: Campaign, seconds: float, as_json: bool) -> int:
    table = rows(campaign.outcomes, plan(campaign.args.backends))
    failures = [
        {
            "trial": o.index,
            "kind": o.kind,
            "backend": o.backend,
            "message": message,
            "reproduce": campaign.reproduce(o.index),
        }
        for o in campaign.outcomes
        for message in o.failures
    ]
    print()
    print(render(table))
    skipped = sum(1 for o in campaign.outcomes if o.skipped)
    ran = f"{len(campaign.outcomes) - skipped} trial(s)" + (
        f", {skipped} skipped" if skipped else ""
    )
    print(f"\n{ran}, seed {campaign.args.seed}, {seconds:.0f} s")
    for note in campaign.notes:
        print(f"note: {note}")
    for f in failures:
        where = f"trial {f['trial']} ({f['kind']} on {f['backend']}, seed {campaign.args.seed})"
        print(f"FAILED {where}: {f['message']}\n    reproduce: {f['reproduce']}")
    if as_json:
        summary = {
            "seed": campaign.args.seed,
            "quick": campaign.args.quick,
            "trials": len(campaign.outcomes),
            "seconds": round(seconds, 1),
            "rows": table,
            "failures": failures,
            "notes": campaign.notes,
            "ok": not failures,
        }
        print(json.dumps(summary))
    return 1 if failures else 0


def _backends(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names or set(names) - {"sqlite", "postgres"}:
        raise argparse.ArgumentTypeError("a comma-separated list of sqlite, postgres")
    return [b for b in ("sqlite", "postgres") if b in names]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--trials", type=int, help="how many trials (default: a few minutes)")
    parser.add_argument("--seed", type=int, default=0, help="campaign seed (default 0)")
    parser.add_argument("--quick", action="store_true", help="short run (small files)")
    parser.add_argument("--json", action="store_true", help="also print the summary as JSON")
    parser.add_argument(
        "--backends", type=_backends, default=["sqlite", "postgres"], help="default both"
    )
    parser.add_argument("--trial", type=int, help="run this trial number alone (to reproduce)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    profile = QUICK if args.quick else FULL
    combos = plan(args.backends)
    count = args.trials if args.trials is not None else profile.rounds * len(combos)
    indices = [args.trial] if args.trial is not None else list(range(count))
    # SIGTERM ends the campaign the way Ctrl-C does: children killed, cluster and files gone.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ledger-faults.") as tmp:
        campaign = Campaign(args, Path(tmp))
        try:
            campaign.run(indices)
        finally:
            campaign.close()
        return report(campaign, time.monotonic() - started, args.json)


if __name__ == "__main__":
    sys.exit(main())
