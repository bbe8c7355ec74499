"""The exception queue over HTTP, on SQLite and on PostgreSQL: list it with filters, read one
exception with its history (by id or key), acknowledge, resolve, dismiss, reopen and reassign
it; refusals as 400 with a business message, an unknown exception as 404, an unknown filter
value as 422."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from api.app import create_app
from ledger.domain.exception_queue import Category, Impact, Problem, exception_id
from ledger.service.runtime import LedgerRuntime

with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore",
        message=r"Using `httpx` with `starlette\.testclient` is deprecated",
        category=StarletteDeprecationWarning,
    )
    from fastapi.testclient import TestClient

TENANT = "a"
DAY = date(2026, 5, 6)
REJECTED = "rejected:S0142:2026-05-06:R3:BRITGAS"
UNMAPPED = "unmapped:bmu:T_NEWUNIT-1"
BASE = f"/tenants/{TENANT}/exceptions"


@pytest.fixture
def client(runtime: LedgerRuntime) -> Iterator[TestClient]:
    problems = [
        Problem(
            key=REJECTED,
            category=Category.REJECTED_FILE,
            impact=Impact.BLOCKS_BILLING,
            message="S0142 for BRITGAS on 2026-05-06 run R3 was rejected: its record count "
            "does not match its trailer; ask Elexon to send it again",
            flow="d4" * 32,
            party="BRITGAS",
            subject="party:BRITGAS",
            settlement_date=DAY,
            periods=[1, 2, 3],
        ),
        Problem(
            key=UNMAPPED,
            category=Category.UNMAPPED_ID,
            impact=Impact.DATA_QUALITY,
            message="BM Unit T_NEWUNIT-1 in S0142 for 2026-05-06 run R3 belongs to no party "
            "the ledger knows: add it to the BM Unit register",
            flow="d4" * 32,
            subject="bmu:T_NEWUNIT-1",
        ),
    ]
    with runtime.database.transaction() as tx:
        runtime.exceptions.raise_problems(tx, TENANT, problems)
    runtime.runner.catch_up()
    with TestClient(create_app(runtime)) as c:
        yield c


def change(client: TestClient, key: str, action: str, **body: str) -> Any:
    return client.post(f"{BASE}/{key}/{action}", json=body)


def test_the_queue_over_http(client: TestClient) -> None:
    found = client.get(BASE).json()
    assert [e["key"] for e in found] == [REJECTED, UNMAPPED]  # most at risk first
    first = found[0]
    assert first["id"] == str(exception_id(TENANT, REJECTED))
    assert (first["status"], first["impact"], first["owner"]) == (
        "open",
        "blocks_billing",
        "operations",
    )
    assert (first["settlement_date"], first["periods"]) == ("2026-05-06", [1, 2, 3])
    assert [s["event"] for s in first["history"]] == ["raised"]
    assert client.get(f"{BASE}/{first['id']}").json() == first
    assert client.get(f"{BASE}/{REJECTED}").json() == first

    assert [e["key"] for e in client.get(BASE, params={"impact": "data_quality"}).json()] == [
        UNMAPPED
    ]
    assert client.get(BASE, params={"status": "resolved"}).json() == []
    assert [e["key"] for e in client.get(BASE, params={"category": "rejected_file"}).json()] == [
        REJECTED
    ]
    assert [e["key"] for e in client.get(BASE, params={"subject": "bmu:T_NEWUNIT-1"}).json()] == [
        UNMAPPED
    ]
    assert client.get("/tenants/b/exceptions").json() == []


def test_changes_over_http(client: TestClient) -> None:
    who = {"actor": "o.ops", "reason": "chasing Elexon"}
    r = change(client, REJECTED, "acknowledge", **who)
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "acknowledged"
    assigned = change(client, REJECTED, "assign", owner="j.smith", **who).json()
    assert assigned["owner"] == "j.smith"
    assert change(client, REJECTED, "resolve", **who).json()["status"] == "resolved"
    assert change(client, REJECTED, "reopen", **who).json()["status"] == "reopened"
    dismissed = change(client, REJECTED, "dismiss", actor="j.smith", reason="superseded").json()
    assert [(s["event"], s["actor"]) for s in dismissed["history"]] == [
        ("raised", "ledger"),
        ("acknowledged", "o.ops"),
        ("owner_assigned", "o.ops"),
        ("resolved", "o.ops"),
        ("reopened", "o.ops"),
        ("dismissed", "j.smith"),
    ]
    assert client.get(BASE, params={"status": "dismissed"}).json() == [dismissed]


def test_refusals_over_http(client: TestClient) -> None:
    r = change(client, UNMAPPED, "reopen", actor="o.ops", reason="again")
    assert r.status_code == 400
    assert "only a resolved or dismissed exception can be reopened" in r.json()["detail"]
    r = change(client, UNMAPPED, "dismiss", actor="o.ops", reason=" ")
    assert r.status_code == 400 and "needs the person who made it and a reason" in r.text
    missing = client.get(f"{BASE}/unmapped:nothing")
    assert missing.status_code == 404 and "has no exception" in missing.json()["detail"]
    assert change(client, "unmapped:nothing", "resolve", actor="o", reason="r").status_code == 404
    assert client.get(BASE, params={"status": "closed"}).status_code == 422
    assert change(client, UNMAPPED, "escalate", actor="o", reason="r").status_code == 422
    assert client.get("/tenants/Not A Tenant/exceptions").status_code == 400


def test_an_exception_is_named_by_the_start_of_its_id(client: TestClient) -> None:
    full = str(exception_id(TENANT, REJECTED))
    got = client.get(f"{BASE}/{full[:8]}")
    assert (got.status_code, got.json()["id"]) == (200, full)
    changed = client.post(
        f"{BASE}/{full[:10]}/assign", json={"owner": "ana", "actor": "o.lead", "reason": "hers"}
    )
    assert (changed.status_code, changed.json()["owner"]) == (200, "ana")
    assert client.get(f"{BASE}/{full[:7]}").status_code == 404
