"""Identity mappings over HTTP, on SQLite and on PostgreSQL: add, list, read, end and correct
them; clashes and malformed input refused with a business message; the period route names
the internal ids."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning
from test_api import DAY, PARTY, report, upload

from api.app import create_app
from ledger.service.runtime import LedgerRuntime

with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore",
        message=r"Using `httpx` with `starlette\.testclient` is deprecated",
        category=StarletteDeprecationWarning,
    )
    from fastapi.testclient import TestClient

MAPPINGS = "/tenants/a/mappings"
MPAN = "mpan:2499999999991"
BY = {"actor": "ops.lead", "reason": "supply contract signed"}


@pytest.fixture
def client(runtime: LedgerRuntime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as c:
        yield c


def add(client: TestClient, **overrides: Any) -> Any:
    body: dict[str, Any] = {
        "kind": "customer",
        "internal_id": "C-100",
        "market_id": MPAN,
        "valid_from": "2026-01-01",
        **BY,
    }
    body.update(overrides)
    return client.post(MAPPINGS, json=body)


def test_mappings_over_http(client: TestClient) -> None:
    r = add(client, valid_to="2026-12-31")
    assert r.status_code == 201, r.text
    added = r.json()
    key = added["mapping_id"]
    assert (added["market_id"], added["valid_from"], added["valid_to"]) == (
        MPAN,
        "2026-01-01",
        "2026-12-31",
    )
    assert client.get(f"{MAPPINGS}/{key}").json() == added

    ended = client.post(f"{MAPPINGS}/{key}/end", json={"valid_to": "2026-06-30", **BY}).json()
    assert (ended["valid_to"], ended["status"]) == ("2026-06-30", "ended")
    # A field left out stays as it is; valid_to given as null makes the mapping open-ended.
    kept = client.post(f"{MAPPINGS}/{key}/correct", json={"valid_from": "2026-02-01", **BY})
    assert (kept.json()["valid_from"], kept.json()["valid_to"]) == ("2026-02-01", "2026-06-30")
    opened = client.post(f"{MAPPINGS}/{key}/correct", json={"valid_to": None, **BY}).json()
    assert (opened["valid_to"], opened["status"], opened["version"]) == (None, "open", 4)
    assert [c["change"] for c in opened["history"]] == ["created", "ended", "corrected"] + [
        "corrected"
    ]

    add(client, internal_id="S-1", kind="site")
    listed = client.get(MAPPINGS, params={"market": MPAN, "kind": "site"}).json()
    assert [m["internal_id"] for m in listed["mappings"]] == ["S-1"]
    assert "history" not in listed["mappings"][0]
    on_day = client.get(MAPPINGS, params={"on": "2026-01-15"}).json()
    assert (on_day["on"], [m["internal_id"] for m in on_day["mappings"]]) == (
        "2026-01-15",
        ["S-1"],
    )
    assert client.get(MAPPINGS, params={"id": "C-100"}).json()["mappings"][0]["mapping_id"] == key
    assert client.get("/tenants/b/mappings").json()["mappings"] == []


def test_refusals_over_http(client: TestClient) -> None:
    key = add(client).json()["mapping_id"]
    clash = add(client, internal_id="C-200", valid_from="2026-03-01")
    assert clash.status_code == 400
    assert f"{MPAN} cannot map to customer C-200" in clash.json()["detail"]
    assert key in clash.json()["detail"]
    bad_date = add(client, internal_id="C-300", market_id="mpan:1200000000011", valid_from="x")
    assert bad_date.status_code == 400 and "not a settlement date" in bad_date.json()["detail"]
    assert add(client, kind="contract").status_code == 422
    no_change = client.post(f"{MAPPINGS}/{key}/correct", json={"market_id": MPAN, **BY})
    assert no_change.status_code == 400 and "changes nothing" in no_change.json()["detail"]
    missing = client.post(f"{MAPPINGS}/nope/end", json={"valid_to": "2026-02-01", **BY})
    assert missing.status_code == 404 and "has no mapping" in missing.json()["detail"]
    assert client.get(f"/tenants/b/mappings/{key}").status_code == 404


def test_the_period_route_names_the_internal_ids(client: TestClient) -> None:
    assert upload(client, report(run_type="SF"), "sf.txt").json()["status"] == "accepted"
    subject = f"party:{PARTY}"
    assert add(client, market_id=subject, valid_from=DAY.isoformat()).status_code == 201
    view = client.get(f"/tenants/a/periods/{subject}/{DAY.isoformat()}/1").json()
    assert view["best"]["internal_ids"] == [{"kind": "customer", "id": "C-100"}]
    assert [v["internal_ids"] for v in view["versions"]] == [[{"kind": "customer", "id": "C-100"}]]
