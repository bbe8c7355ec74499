"""Gaps in the log's positions are normal on PostgreSQL (a number taken by an append that
rolled back is never used): every command that keeps the views current inside its own
transaction numbers its events by the positions they really got, and works after a gap.

PostgreSQL only: SQLite numbers events by ``rowid``, which a rollback gives back.
"""

from __future__ import annotations

import json
import threading
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from api.app import create_app
from integration.conftest import DAY, PARTY_SUBJECT, count_events, write_report
from ledger.cli import main
from ledger.domain.documents import DocumentRefused
from ledger.domain.errors import LedgerUnavailable
from ledger.service.ingestion import Ingestor, IngestResult
from ledger.service.runtime import LedgerRuntime

with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore",
        message=r"Using `httpx` with `starlette\.testclient` is deprecated",
        category=StarletteDeprecationWarning,
    )
    from fastapi.testclient import TestClient

TENANT = "acme"
BY = {"actor": "ops.lead", "reason": "supply contract signed"}


@pytest.fixture
def runtime(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[LedgerRuntime]:
    monkeypatch.setenv("LEDGER_DATABASE_URL", postgres_url)
    opened = LedgerRuntime(postgres_url)
    try:
        yield opened
    finally:
        opened.close()


def head(runtime: LedgerRuntime) -> int:
    with runtime.database.transaction(write=False) as tx:
        return runtime.ledger.event_store.max_position(tx)


def rolled_back_append(runtime: LedgerRuntime) -> None:
    """An append that rolls back: the position it took is never used, so the next append
    starts after a gap."""
    before = head(runtime)
    with pytest.raises(RuntimeError), runtime.database.transaction() as tx:
        runtime.ledger.event_store.append_rows(tx, [(uuid.uuid4(), 1, "no.such:Event", b"{}")])
        raise RuntimeError("rolled back")
    assert head(runtime) == before


def issued_twice_at_once(postgres_url: str) -> list[BaseException | None]:
    """Two ``documents issue`` of one reference started together, each on its own runtime.
    Each is one write under the append lock (``ledger.service.unit_of_work``): the second
    waits for the first and is refused before it appends anything."""
    both = threading.Barrier(2, timeout=30)
    outcomes: list[BaseException | None] = []

    def issue() -> None:
        rt = LedgerRuntime(postgres_url)
        try:
            both.wait()
            rt.issue_document(
                kind="invoice",
                reference="INV-1",
                actor="f.finance",
                rule="best",
                subject=PARTY_SUBJECT,
                settlement_date=DAY,
                periods=[1, 2],
                tenant=TENANT,
            )
            outcomes.append(None)
        except BaseException as exc:  # noqa: BLE001 (reported to the test below)
            outcomes.append(exc)
        finally:
            rt.close()

    threads = [threading.Thread(target=issue) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def verified(capsys: pytest.CaptureFixture[str]) -> bool:
    """``ledger verify``: every view equals a rebuild from the log."""
    capsys.readouterr()
    code = main(["verify"])
    return code == 0 and json.loads(capsys.readouterr().out)["equal"] is True


def test_a_mapping_added_after_two_concurrent_issues_of_one_reference(
    runtime: LedgerRuntime, postgres_url: str, files: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = write_report(files, run_type="SF")
    assert runtime.ingest(report.path, tenant=TENANT).status == "accepted"
    # The issue's own recipe: two concurrent issues of one reference, then a mapping. The
    # second issue is now refused before it appends (it used to roll an append back, which
    # left the gap): the gap is made here as such a rollback made it.
    outcomes = issued_twice_at_once(postgres_url)
    assert len(outcomes) == 2 and outcomes.count(None) == 1, outcomes
    refused = next(o for o in outcomes if o is not None)
    assert isinstance(refused, DocumentRefused) and "was issued already" in str(refused)
    rolled_back_append(runtime)
    capsys.readouterr()
    added = [
        "--tenant", TENANT, "mappings", "add", "--kind", "customer", "--id", "C-100",
        "--market", "mpan:2499999999991", "--from", "2026-01-01",
        "--actor", BY["actor"], "--reason", BY["reason"],
    ]  # fmt: skip
    assert main(added) == 0, capsys.readouterr().err
    assert json.loads(capsys.readouterr().out)["internal_id"] == "C-100"
    # The refused issue's append took a position no event has: the mapping's came after it.
    assert head(runtime) > count_events(runtime)
    assert verified(capsys)


def test_a_mapping_added_over_http_after_a_rolled_back_append(
    runtime: LedgerRuntime, capsys: pytest.CaptureFixture[str]
) -> None:
    rolled_back_append(runtime)
    with TestClient(create_app(runtime)) as client:
        body = {"kind": "site", "internal_id": "S-1", "market_id": PARTY_SUBJECT}
        r = client.post(
            f"/tenants/{TENANT}/mappings", json={**body, "valid_from": "2026-01-01", **BY}
        )
        assert r.status_code == 201, r.text
        assert r.json()["internal_id"] == "S-1"
        # Again, and ended, each after a gap.
        rolled_back_append(runtime)
        r = client.post(
            f"/tenants/{TENANT}/mappings/{r.json()['mapping_id']}/end",
            json={"valid_to": "2026-06-30", **BY},
        )
        assert r.status_code == 200, r.text
    assert head(runtime) == count_events(runtime) + 2
    assert verified(capsys)


def test_an_ingestion_keeps_the_views_current_itself_after_a_gap(
    runtime: LedgerRuntime,
    files: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = write_report(files, run_type="SF")
    # A file left received: its processing was interrupted after its receipt committed...
    with monkeypatch.context() as patch:
        patch.setattr(Ingestor, "_process", interrupted)
        with pytest.raises(LedgerUnavailable):
            runtime.ingest(report.path, tenant=TENANT)
    # ... and its appends rolled back (as a kill -9 or a restart leaves them).
    rolled_back_append(runtime)
    # Completing it (as ledger recover does), without the catch-up after its commit: the
    # views it kept inside its own transaction are all there is.
    done = runtime.ingestor.complete(TENANT, report.sha256, report.path.name, "cli")
    assert done.status == "accepted"
    assert runtime.views().up_to_date
    assert head(runtime) == count_events(runtime) + 1
    assert verified(capsys)


def interrupted(*_: object, **__: object) -> IngestResult:
    raise psycopg.OperationalError("the server closed the connection unexpectedly")
