"""Corrections and typed interventions over HTTP, on SQLite and on PostgreSQL: each returns the
period's view; a refusal is a 400 with the business message, and writes nothing."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from api.app import create_app
from ledger.demo.samples import sample_bm_unit_ids, sample_party_ids, write_settlement_report
from ledger.domain.aggregates import settlement_period_id
from ledger.domain.runs import RunType
from ledger.service.runtime import LedgerRuntime

with warnings.catch_warnings():
    # starlette asks for httpx2; the project pins httpx (constraints.txt) for now.
    warnings.filterwarnings(
        "ignore",
        message=r"Using `httpx` with `starlette\.testclient` is deprecated",
        category=StarletteDeprecationWarning,
    )
    from fastapi.testclient import TestClient

DAY = date(2026, 5, 6)
PARTIES = sample_party_ids(1)
SUBJECT = f"party:{PARTIES[0]}"
PERIOD = 7
URL = f"/tenants/a/periods/{SUBJECT}/{DAY}/{PERIOD}"
WHERE = f"{SUBJECT} on {DAY} period {PERIOD}"
BY = {"reason": "value disputed by the party", "actor": "ops.lead"}


def report(run_type: str, days_later: int) -> bytes:
    out = io.BytesIO()
    write_settlement_report(
        out,
        flow="S0142",
        settlement_date=DAY,
        run_type=RunType(run_type),
        run_number=1,
        parties=PARTIES,
        bm_units={p: sample_bm_unit_ids(p, 1) for p in PARTIES},
        creation_time=datetime(2026, 5, 7, 10, tzinfo=UTC) + timedelta(days=days_later),
        revision=days_later,
    )
    return out.getvalue()


@pytest.fixture
def client(runtime: LedgerRuntime) -> Iterator[TestClient]:
    """Tenant ``a`` holds versions 1 (SF) and 2 (R1, best) of every period."""
    for run_type, days_later in (("SF", 0), ("R1", 30)):
        result = runtime.ingest_bytes(report(run_type, days_later), file_name=run_type, tenant="a")
        assert result.status == "accepted"
    with TestClient(create_app(runtime)) as c:
        yield c


def events_of_period(runtime: LedgerRuntime) -> int:
    return len(runtime.ledger.event_history(settlement_period_id("a", SUBJECT, DAY, PERIOD)))


def without_freshness(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k != "views"}


def test_a_correction_returns_the_period_with_its_new_version(client: TestClient) -> None:
    r = client.post(
        f"{URL}/corrections",
        json={
            "version": 1,
            "values": {"bm_unit_cashflow": "-1234.56", "non_delivery_charge": "0"},
            **BY,
        },
    )
    assert r.status_code == 200, r.text
    view = r.json()
    assert view == client.get(URL).json()
    correction = view["versions"][-1]
    assert (correction["version"], correction["kind"], correction["supersedes"]) == (
        3,
        "correction",
        1,
    )
    # The measures set, over the corrected version's others (which carry over).
    assert (
        correction["values"].items()
        >= {"bm_unit_cashflow": "-1234.56", "non_delivery_charge": "0"}.items()
    )
    assert (correction["actor"], correction["reason"]) == (BY["actor"], BY["reason"])
    # A correction of the SF run ranks below the later R1 run.
    assert view["best"]["version"] == 2


def test_hold_pin_and_release(client: TestClient) -> None:
    held = client.post(f"{URL}/interventions", json={"action": "hold", **BY})
    assert held.status_code == 200, held.text
    view = held.json()
    assert view == client.get(URL).json()
    [hold] = view["interventions"]
    assert (hold["action"], hold["outcome"], hold["pinned_version"]) == (
        "hold",
        "held from billing",
        None,
    )
    assert view["held"] == {**BY, "since": hold["recorded_at"]}

    pinned = client.post(f"{URL}/interventions", json={"action": "pin", "version": 1, **BY})
    assert pinned.status_code == 200, pinned.text
    assert (pinned.json()["pinned_version"], pinned.json()["best"]["version"]) == (1, 1)
    # As of the hold, nothing was pinned yet.
    then = client.get(URL, params={"as_of": hold["recorded_at"]}).json()
    assert (then["pinned_version"], then["best"]["version"], then["held"]) == (
        None,
        2,
        view["held"],
    )

    released = client.post(f"{URL}/interventions", json={"action": "release", **BY}).json()
    assert (released["held"], released["pinned_version"], released["best"]["version"]) == (
        None,
        None,
        2,
    )
    assert [i["action"] for i in released["interventions"]] == ["hold", "pin", "release"]


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (
            "corrections",
            {"version": 1, "values": {"bm_unit_cashflow": "1"}, "reason": "r"},
            "a correction needs the person who made it and a reason",
        ),
        (
            "corrections",
            {"version": 1, "values": {"bm_unit_cashflow": "1"}, "actor": "x", "reason": " "},
            "a correction needs the person who made it and a reason",
        ),
        (
            "corrections",
            {"version": 1, "values": {"bm_unit_cashflow": "abc"}, **BY},
            "the value of bm_unit_cashflow is not a decimal number: 'abc' (write digits with an "
            "optional sign and decimal point, e.g. -1234.56)",
        ),
        (
            "corrections",
            {"values": {"bm_unit_cashflow": "1"}, **BY},
            "a correction needs the version it supersedes",
        ),
        (
            "corrections",
            {"version": 7, "values": {"bm_unit_cashflow": "1"}, **BY},
            f"{WHERE} has no version 7 to correct (versions: 1, 2)",
        ),
        (
            "corrections",
            {"version": 1, "values": {}, **BY},
            f"a correction of {WHERE} version 1 needs at least one value",
        ),
        (
            "corrections",
            {"version": 1, "values": {"energy_imbalance_cashflw": "1"}, **BY},
            f"{WHERE} version 1 has no measure 'energy_imbalance_cashflw' (did you mean "
            "energy_imbalance_cashflow?): a correction sets measures the version has "
            "(bm_unit_cashflow, bssc_limited_cost_allocation, energy_imbalance_cashflow, "
            "information_imbalance_cashflow, non_delivery_charge, "
            "residual_cashflow_reallocation_charge)",
        ),
        (
            "interventions",
            {"action": "freeze", **BY},
            "unknown intervention 'freeze': write hold, pin or release",
        ),
        ("interventions", BY, "unknown intervention '': write hold, pin or release"),
        (
            "interventions",
            {"action": "pin", **BY},
            "a pin needs the version to pin, e.g. version 3",
        ),
        (
            "interventions",
            {"action": "hold", "version": 1, **BY},
            "a hold names no version (only a pin does): leave the version out",
        ),
        (
            "interventions",
            {"action": "pin", "version": 3, **BY},
            f"{WHERE} has no version 3 to pin (versions: 1, 2)",
        ),
        (
            "interventions",
            {"action": "release", **BY},
            f"{WHERE} is neither held nor pinned: there is nothing to release",
        ),
        (
            "interventions",
            {"action": "hold", "reason": "r"},
            "a hold needs the person who made it and a reason",
        ),
    ],
)
def test_a_refusal_is_400_with_the_reason_and_writes_nothing(
    client: TestClient, runtime: LedgerRuntime, path: str, body: dict[str, Any], message: str
) -> None:
    before, events = client.get(URL).json(), events_of_period(runtime)
    r = client.post(f"{URL}/{path}", json=body)
    assert (r.status_code, r.json()) == (400, {"detail": message})
    assert events_of_period(runtime) == events
    assert without_freshness(client.get(URL).json()) == without_freshness(before)


def test_refusals_that_depend_on_what_stands(client: TestClient, runtime: LedgerRuntime) -> None:
    for body in ({"action": "hold", **BY}, {"action": "pin", "version": 2, **BY}):
        assert client.post(f"{URL}/interventions", json=body).status_code == 200
    events = events_of_period(runtime)
    again = client.post(f"{URL}/interventions", json={"action": "hold", **BY, "actor": "x"})
    assert (again.status_code, again.json()["detail"]) == (
        400,
        f"{WHERE} is already held from billing by ops.lead: release it first",
    )
    repin = client.post(f"{URL}/interventions", json={"action": "pin", "version": 2, **BY})
    assert (repin.status_code, repin.json()["detail"]) == (
        400,
        f"{WHERE} already has version 2 pinned",
    )
    assert events_of_period(runtime) == events


def test_what_is_not_there_or_not_the_shape(client: TestClient) -> None:
    # A period the tenant knows nothing of: 404, as for any identity it does not hold.
    other = client.post(
        f"/tenants/b/periods/{SUBJECT}/{DAY}/{PERIOD}/interventions", json={"action": "hold", **BY}
    )
    assert other.status_code == 404
    assert other.json()["detail"].startswith("tenant 'b' has no values for")
    # A date or period that does not exist: 400, as for the period's own route.
    bad_day = client.post(
        f"/tenants/a/periods/{SUBJECT}/2026-02-30/{PERIOD}/interventions",
        json={"action": "hold", **BY},
    )
    assert bad_day.status_code == 400
    bad_period = client.post(
        f"/tenants/a/periods/{SUBJECT}/{DAY}/49/interventions", json={"action": "hold", **BY}
    )
    assert bad_period.status_code == 400 and "period 49" in bad_period.json()["detail"]
    # Decimals travel as strings, never JSON numbers; unknown fields are refused.
    number = client.post(
        f"{URL}/corrections", json={"version": 1, "values": {"bm_unit_cashflow": 1.5}, **BY}
    )
    assert number.status_code == 422
    free_text = client.post(
        f"{URL}/interventions", json={"action": "hold", "outcome": "held", **BY}
    )
    assert free_text.status_code == 422


def test_openapi_documents_both_commands(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    period = "/tenants/{tenant}/periods/{subject}/{settlement_date}/{settlement_period}"
    for path in ("corrections", "interventions"):
        operation = spec["paths"][f"{period}/{path}"]["post"]
        assert operation["responses"]["200"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/PeriodView"
        }
        assert {"400", "404"} <= set(operation["responses"])
    schemas = spec["components"]["schemas"]
    correction = schemas["CorrectionRequest"]
    assert correction["required"] == ["version", "values", "reason", "actor"]
    assert correction["properties"]["values"]["additionalProperties"]["format"] == "decimal"
    intervention = schemas["InterventionRequest"]
    assert intervention["required"] == ["action", "reason", "actor"]
    assert intervention["properties"]["action"]["enum"] == ["hold", "pin", "release"]
    view = schemas["PeriodView"]["properties"]
    assert {"held", "pinned_version"} <= set(view)
    assert {"action", "pinned_version"} <= set(schemas["Intervention"]["properties"])
