"""The views as a process of their own: ``ledger project`` keeps them current, ``ledger
verify`` rebuilds them in scratch tables and compares, ``ledger rebuild VIEW`` rebuilds one.
And no event missed under concurrency: eight writers beside ``ledger project`` and a feed
consumer (PostgreSQL).

Tests taking ``runtime`` run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest

from ledger.cli import main
from ledger.domain.errors import LedgerError
from ledger.service.runtime import LedgerRuntime

from .conftest import DAY, PARTY_SUBJECT, dump_views, without_views, write_report

LEDGER = str(Path(sys.executable).with_name("ledger"))
TENANT = "acme"
WAIT = 60  # seconds a test waits for another thread or process before it fails


def _busy(runtime: LedgerRuntime, files: Path) -> None:
    """Two runs, a correction, a hold and a document: every view has rows."""
    for run in ("II", "SF"):
        report = write_report(files, run_type=run)
        assert runtime.ingest(report.path, tenant=TENANT).status == "accepted"
    runtime.correct(
        PARTY_SUBJECT,
        DAY,
        3,
        supersedes=2,
        values={"bm_unit_cashflow": Decimal("1")},
        reason="restated",
        actor="o.ops",
        tenant=TENANT,
    )
    runtime.issue_document(
        kind="invoice",
        reference="INV-1",
        actor="f.finance",
        rule="best",
        subject=PARTY_SUBJECT,
        settlement_date=DAY,
        periods=[1, 2, 3],
        tenant=TENANT,
    )
    runtime.intervene(
        PARTY_SUBJECT, DAY, 4, action="hold", actor="o.ops", reason="disputed", tenant=TENANT
    )


def test_verify_finds_the_views_equal_and_leaves_nothing_behind(
    runtime: LedgerRuntime, files: Path
) -> None:
    _busy(runtime, files)
    before = dump_views(runtime)
    found = runtime.verify()
    assert found.equal
    assert set(found.views) == {
        "period_versions",
        "flows",
        "documents",
        "document_revisions",
        "exceptions",
        "meter_readings",
        "identity_mappings",
        "flow_validation",
    }
    assert set(found.views["documents"].tables) == {"documents", "document_lines"}
    assert dump_views(runtime) == before
    assert runtime.verify() == found  # the scratch tables are gone: it runs again


def test_verify_reports_a_view_that_differs_from_the_log(
    runtime: LedgerRuntime,
    files: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _busy(runtime, files)
    with runtime.database.transaction() as tx:
        tx.execute(
            "UPDATE document_lines SET used_value = '0' WHERE reference = 'INV-1' AND line = 2"
        )
        tx.execute("DELETE FROM flow_stages WHERE version = 1")
    found = runtime.verify()
    assert not found.equal
    lines = found.views["documents"].tables["document_lines"]
    assert (lines.only_rebuilt, lines.only_live) == (1, 1)
    assert found.views["flows"].tables["flow_stages"].only_rebuilt == 2  # two files received
    assert found.views["period_versions"].equal
    monkeypatch.setenv("LEDGER_DATABASE_URL", runtime.database.url)
    assert main(["verify"]) == 1
    assert json.loads(capsys.readouterr().out)["equal"] is False
    runtime.rebuild(["documents", "flows"])
    assert runtime.verify().equal


def test_rebuild_one_view(runtime: LedgerRuntime, files: Path) -> None:
    _busy(runtime, files)
    before = dump_views(runtime)
    assert runtime.rebuild(["documents"]) > 0
    assert dump_views(runtime) == before
    with pytest.raises(LedgerError, match="no view named prices: the views are period_versions"):
        runtime.rebuild(["prices"])


def test_project_catches_up_what_writers_left_behind(runtime: LedgerRuntime, files: Path) -> None:
    """Before it starts and while it runs, writers leave the views behind (as one that died
    after its commit would): ``project`` catches them up, woken by the append (PostgreSQL)
    or by polling (SQLite)."""
    left = without_views(runtime)
    first = left.ingest_path(write_report(files, run_type="II").path, tenant=TENANT)
    stop, reached = threading.Event(), threading.Event()
    lock = threading.Lock()
    applied: list[int] = []
    target = [first.events]  # its receipt, its periods, its verdict

    def on_applied(count: int) -> None:
        with lock:
            applied.append(count)
            if sum(applied) >= target[0]:
                reached.set()

    worker = threading.Thread(
        target=runtime.project, kwargs={"stop": stop, "poll": 0.05, "applied": on_applied}
    )
    worker.start()
    try:
        assert reached.wait(WAIT), "ledger project did not catch up the first file"
        second = left.ingest_path(write_report(files, run_type="SF").path, tenant=TENANT)
        with lock:
            reached.clear()
            target[0] += second.events
            if sum(applied) >= target[0]:
                reached.set()
        assert reached.wait(WAIT), "ledger project did not catch up the second file"
    finally:
        stop.set()
        worker.join(WAIT)
    assert not worker.is_alive()
    assert runtime.views().up_to_date
    assert runtime.period(PARTY_SUBJECT, DAY, 1, tenant=TENANT).best is not None
    assert runtime.verify().equal


# --- eight writers, ledger project and a feed consumer ---------------------------------------


def _writer(runtime: LedgerRuntime, files: Path, n: int) -> None:
    """One writer's work: a run of its own, a correction and a document."""
    runs = ["II", "SF", "R1", "R2", "R3", "RF", "DF", "SF"]
    report = write_report(
        files, run_type=runs[n], run_number=1 + n // 7, name=f"writer{n}.txt", revision=n
    )
    result = runtime.ingest(report.path, tenant=TENANT)
    assert result.status in ("accepted", "duplicate"), result.reasons
    version = runtime.period(PARTY_SUBJECT, DAY, 1 + n, tenant=TENANT).versions[0].version
    runtime.correct(
        PARTY_SUBJECT,
        DAY,
        1 + n,
        supersedes=version,
        values={"bm_unit_cashflow": Decimal(n)},
        reason=f"writer {n}",
        actor="o.ops",
        tenant=TENANT,
    )
    runtime.issue_document(
        kind="report",
        reference=f"DOC-{n}",
        actor="f.finance",
        rule="best",
        subject=PARTY_SUBJECT,
        settlement_date=DAY,
        periods=[10 + n],
        tenant=TENANT,
    )


def _consume(runtime: LedgerRuntime, seen: list[int], done: threading.Event) -> None:
    """A consumer that reads the feed page by page until told the writers are done and it
    has read to the end."""
    after = 0
    while True:
        finishing = done.is_set()
        page = runtime.feed(after=after, limit=50, tenant=TENANT)
        seen.extend(event.position for event in page.events)
        after = page.next_after
        if page.caught_up and finishing:
            return


@pytest.mark.postgres
def test_no_event_is_missed_under_concurrency(postgres_url: str, files: Path) -> None:
    runtimes: list[LedgerRuntime] = []

    def opened() -> LedgerRuntime:
        runtimes.append(LedgerRuntime(postgres_url))
        return runtimes[-1]

    try:
        _eight_writers(opened, postgres_url, files)
    finally:
        for runtime in runtimes:
            runtime.close()


def _eight_writers(opened: Callable[[], LedgerRuntime], url: str, files: Path) -> None:
    setup = opened()  # the schema, once
    env = {**os.environ, "LEDGER_DATABASE_URL": url}
    project = subprocess.Popen(
        [LEDGER, "project", "--poll", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[int] = []
    done = threading.Event()
    consumer = threading.Thread(target=_consume, args=(opened(), seen, done))
    consumer.start()
    failures: list[BaseException] = []

    def write(runtime: LedgerRuntime, n: int) -> None:
        try:
            _writer(runtime, files, n)
        except BaseException as exc:  # reported below
            failures.append(exc)

    # Eight writers on two runtimes (each a process's pools): concurrent commands without
    # more connections than a test server allows.
    shared = [opened(), opened()]
    writers = [threading.Thread(target=write, args=(shared[n % 2], n)) for n in range(8)]
    try:
        for thread in writers:
            thread.start()
        for thread in writers:
            thread.join(WAIT * 3)
        done.set()
        consumer.join(WAIT)
    finally:
        project.send_signal(signal.SIGTERM)
        out, err = project.communicate(timeout=WAIT)
    assert not failures, failures
    assert not consumer.is_alive()
    assert project.returncode == 0, err
    assert all(json.loads(line)["applied"] > 0 for line in out.splitlines())

    verified = subprocess.run(
        [LEDGER, "verify"], env=env, capture_output=True, text=True, check=False
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert json.loads(verified.stdout)["equal"] is True
    # Every event exactly once, in commit order (one tenant wrote everything).
    with setup.database.transaction() as tx:
        row = tx.execute(f"SELECT count(*) FROM {setup.ledger.event_store.events_table}").fetchone()
    assert row is not None and len(seen) == int(row[0])
    assert seen == sorted(set(seen))
    assert len(setup.stale_documents(tenant=TENANT)) <= 8


def test_a_command_racing_a_run_is_applied_to_the_period_as_it_now_stands(
    runtime: LedgerRuntime, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run lands between a correction loading the period and saving it: the library
    refuses the save, and the correction is made again on the period as it now stands."""
    for run in ("II", "SF"):
        assert runtime.ingest(write_report(files, run_type=run).path).status == "accepted"
    load = runtime.ledger.settlement_period
    raced: list[int] = []

    def load_then_race(*key: object) -> object:
        period = load(*key)  # type: ignore[arg-type]
        if not raced:
            raced.append(period.version)
            late = write_report(files, run_type="R1")
            assert without_views(runtime).ingest_path(late.path, tenant="default").status == (
                "accepted"
            )
        return period

    monkeypatch.setattr(runtime.ledger, "settlement_period", load_then_race)
    version = runtime.correct(
        PARTY_SUBJECT,
        DAY,
        5,
        supersedes=2,
        values={"bm_unit_cashflow": Decimal("9")},
        reason="restated",
        actor="o.ops",
    )
    assert raced == [2]
    assert version == 4  # after the R1 version (3) that landed meanwhile
    versions = runtime.period(PARTY_SUBJECT, DAY, 5).versions
    assert [(v.version, v.kind, v.supersedes) for v in versions] == [
        (1, "run", None),
        (2, "run", None),
        (3, "run", None),
        (4, "correction", 2),
    ]


def test_readers_and_writers_carry_on_while_a_view_is_rebuilt(
    runtime: LedgerRuntime, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rebuild's long part (building into scratch tables) holds no lock: a query answers
    from the live views and an ingestion lands meanwhile; the switch then includes it."""
    _busy(runtime, files)
    live = runtime.period(PARTY_SUBJECT, DAY, 1, tenant=TENANT)
    [documents] = [p for p in runtime.runner.projections if p.name == "documents"]
    building, proceed = threading.Event(), threading.Event()
    apply = documents.apply

    def slow_apply(tx: object, events: object) -> None:
        if not building.is_set():
            building.set()
            assert proceed.wait(WAIT), "the test never let the rebuild go on"
        apply(tx, events)  # type: ignore[arg-type]

    monkeypatch.setattr(documents, "apply", slow_apply)
    failures: list[BaseException] = []

    def rebuild() -> None:
        try:
            runtime.rebuild(["documents"])
        except BaseException as exc:  # reported below
            failures.append(exc)

    worker = threading.Thread(target=rebuild)
    worker.start()
    try:
        assert building.wait(WAIT)
        assert runtime.period(PARTY_SUBJECT, DAY, 1, tenant=TENANT) == live  # readers answer
        late = write_report(files, run_type="R1")
        assert runtime.ingest(late.path, tenant=TENANT).status == "accepted"  # writers too
    finally:
        proceed.set()
        worker.join(WAIT)
    assert not worker.is_alive() and not failures, failures
    # The R1 run landed during the rebuild: the switch caught the document's staleness up.
    assert [d.reference for d in runtime.stale_documents(tenant=TENANT)] == ["INV-1"]
    assert runtime.verify().equal
