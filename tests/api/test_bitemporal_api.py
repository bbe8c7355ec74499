"""Bitemporal queries over HTTP, on SQLite and on PostgreSQL: a period as of a run, a period's
history between two instants, a whole settlement day as known at an instant or as of a run;
refusals as 400 with a business message."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning
from test_api import DAY, PARTY, period_url, report, upload

from api.app import create_app
from ledger.service.runtime import LedgerRuntime

with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore",
        message=r"Using `httpx` with `starlette\.testclient` is deprecated",
        category=StarletteDeprecationWarning,
    )
    from fastapi.testclient import TestClient

SUBJECT = f"party:{PARTY}"
SHORT_DAY = date(2026, 3, 29)  # spring clock change: 46 periods


@pytest.fixture
def client(runtime: LedgerRuntime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as c:
        yield c


def ok(client: TestClient, url: str, **params: str) -> Any:
    r = client.get(url, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def refused(client: TestClient, url: str, **params: str) -> str:
    r = client.get(url, params=params)
    assert r.status_code == 400, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str)
    return detail


def day_url(subject: str, day: date | str, tenant: str = "a") -> str:
    return f"/tenants/{tenant}/days/{subject}/{day}"


@pytest.fixture
def sf_then_r1(client: TestClient) -> str:
    """SF (version 1) then R1 (version 2) of DAY for tenant a: the instant SF was recorded."""
    assert upload(client, report(run_type="SF"), "sf.txt").json()["status"] == "accepted"
    sf_at = ok(client, period_url(SUBJECT, DAY, 3))["versions"][0]["recorded_at"]
    r1 = report(run_type="R1", revision=1)
    assert upload(client, r1, "r1.txt").json()["status"] == "accepted"
    return str(sf_at)


def test_period_as_of_a_run(client: TestClient, sf_then_r1: str) -> None:
    now = ok(client, period_url(SUBJECT, DAY, 3))
    assert (now["best"]["version"], now["selected_by"]) == (2, "best")
    sf = ok(client, period_url(SUBJECT, DAY, 3), run="SF")
    assert (sf["best"]["version"], sf["best"]["run_type"], sf["selected_by"]) == (1, "SF", "run:SF")
    assert [v["version"] for v in sf["versions"]] == [1, 2]
    both = ok(client, period_url(SUBJECT, DAY, 3), run="R1", as_of=sf_then_r1)
    assert ([v["version"] for v in both["versions"]], both["best"]["version"]) == ([1], 1)
    assert "unknown settlement run type" in refused(client, period_url(SUBJECT, DAY, 3), run="Z")


def test_history_between_two_instants(client: TestClient, sf_then_r1: str) -> None:
    url = f"{period_url(SUBJECT, DAY, 3)}/history"
    whole = ok(client, url)
    assert [(s["version"], s["kind"], s["best_after"]["version"]) for s in whole["steps"]] == [
        (1, "run", 1),
        (2, "run", 2),
    ]
    r1_at = whole["steps"][1]["recorded_at"]
    later = ok(client, url, **{"from": r1_at})
    assert [s["version"] for s in later["steps"]] == [2]
    assert (later["best_before"]["version"], later["recorded_from"]) == (1, r1_at)
    earlier = ok(client, url, to=sf_then_r1)
    assert [s["version"] for s in earlier["steps"]] == [1]
    assert earlier["best_before"] is None
    assert "is after to" in refused(client, url, **{"from": r1_at, "to": sf_then_r1})
    assert "time zone" in refused(client, url, to="2026-05-08T00:00:00")
    missing = f"{period_url(SUBJECT, DAY, 49)}/history"
    assert "period 49 does not exist" in refused(client, missing)


def test_a_whole_day(client: TestClient, sf_then_r1: str) -> None:
    now = ok(client, day_url(SUBJECT, DAY))
    assert (now["selected_by"], len(now["periods"])) == ("best", 48)
    assert {p["best"]["version"] for p in now["periods"]} == {2}
    then = ok(client, day_url(SUBJECT, DAY), as_of=sf_then_r1)
    assert {(p["best"]["version"], p["versions"]) for p in then["periods"]} == {(1, 1)}
    by_run = ok(client, day_url(SUBJECT, DAY), run="sf")
    assert by_run["selected_by"] == "run:SF"
    assert {p["best"]["run_type"] for p in by_run["periods"]} == {"SF"}
    period = ok(client, period_url(SUBJECT, DAY, 3), run="SF")["best"]
    assert by_run["periods"][2]["best"] == {
        k: period[k]
        for k in ("version", "kind", "run_type", "run_number", "maturity", "recorded_at", "values")
    }
    short = ok(client, day_url("system", SHORT_DAY))
    assert [p["settlement_period"] for p in short["periods"]] == list(range(1, 47))
    assert {p["best"] for p in short["periods"]} == {None}
    assert "unknown settlement run type" in refused(client, day_url(SUBJECT, DAY), run="RX")
    assert "time zone" in refused(client, day_url(SUBJECT, DAY), as_of="2026-05-08T00:00")
    assert "settlement date" in refused(client, day_url(SUBJECT, "2026-02-30"))
