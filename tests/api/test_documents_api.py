"""Documents over HTTP, on SQLite and on PostgreSQL: issue, read, stale after a later run,
re-issue, cancel, the documents using a period, and refusals as 400 with a business message."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning
from test_api import DAY, PARTY, report, upload

from api.app import create_app
from ledger.demo.samples import sample_bm_unit_ids, write_settlement_report
from ledger.domain.documents import REFERENCE_PATTERN
from ledger.domain.runs import RunType
from ledger.service.runtime import LedgerRuntime

with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore",
        message=r"Using `httpx` with `starlette\.testclient` is deprecated",
        category=StarletteDeprecationWarning,
    )
    from fastapi.testclient import TestClient

SUBJECT = f"party:{PARTY}"
MEASURE = "bm_unit_cashflow"


@pytest.fixture
def client(runtime: LedgerRuntime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as c:
        yield c


def issue(client: TestClient, reference: str = "INV-1", **overrides: object) -> object:
    body: dict[str, object] = {
        "kind": "invoice",
        "reference": reference,
        "actor": "f.finance",
        "subject": SUBJECT,
        "settlement_date": DAY.isoformat(),
        "periods": [1, 2],
        "measures": [MEASURE],
    }
    body.update(overrides)
    return client.post("/tenants/a/documents", json=body)


def test_documents_over_http(client: TestClient) -> None:
    assert upload(client, report(run_type="SF"), "sf.txt").json()["status"] == "accepted"
    r = issue(client)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    document = r.json()  # type: ignore[attr-defined]
    assert [line["version"] for line in document["lines"]] == [1, 1]
    assert client.get("/tenants/a/documents/INV-1").json() == document
    assert client.get("/tenants/a/documents/stale").json() == []

    later = report(run_type="R1", revision=1)
    assert upload(client, later, "r1.txt").json()["status"] == "accepted"
    [stale] = client.get("/tenants/a/documents/stale").json()
    assert stale["reference"] == "INV-1"
    assert [(x["used"]["version"], x["now"]["version"]) for x in stale["lines"]] == [(1, 2), (1, 2)]
    # Decimals as exact strings; the total is the lines' deltas added up.
    deltas = [Decimal(x["now"]["value"]) - Decimal(x["used"]["value"]) for x in stale["lines"]]
    assert [x["delta"] for x in stale["lines"]] == [str(d) for d in deltas]
    assert stale["total_delta"] == str(sum(deltas, Decimal(0)))

    uses = client.get(f"/tenants/a/periods/{SUBJECT}/{DAY}/2/documents").json()
    assert [(u["reference"], u["version"], u["stale"]) for u in uses] == [("INV-1", 1, True)]

    change = {"actor": "f.finance", "reason": "R1 arrived"}
    again = client.post("/tenants/a/documents/INV-1/reissue", json=change).json()
    assert (again["revision"], [x["version"] for x in again["lines"]]) == (2, [2, 2])
    gone = client.post("/tenants/a/documents/INV-1/cancel", json=change).json()
    assert gone["status"] == "cancelled"


def test_refusals_over_http(client: TestClient) -> None:
    assert upload(client, report(run_type="SF"), "sf.txt").json()["status"] == "accepted"
    assert issue(client, rule="newest").status_code == 422  # type: ignore[attr-defined]
    r = issue(client, rule="run:XX")  # a rule by its form, naming no run the ledger knows
    assert r.status_code == 400  # type: ignore[attr-defined]
    assert "unknown settlement run type 'XX'" in r.json()["detail"]  # type: ignore[attr-defined]
    missing = client.get("/tenants/a/documents/NOPE")
    assert missing.status_code == 404 and "has no document" in missing.json()["detail"]
    assert issue(client, kind="receipt").status_code == 422  # type: ignore[attr-defined]


def test_no_periods_is_every_period_of_the_day(client: TestClient) -> None:
    long_day = date(2026, 10, 25)  # autumn clock change: 50 periods
    out = io.BytesIO()
    write_settlement_report(
        out,
        flow="S0142",
        settlement_date=long_day,
        run_type=RunType.SF,
        run_number=1,
        parties=[PARTY],
        bm_units={PARTY: sample_bm_unit_ids(PARTY, 1)},
        creation_time=datetime(2026, 11, 12, tzinfo=UTC),
        revision=0,
    )
    assert upload(client, out.getvalue(), "long.txt").json()["status"] == "accepted"
    for reference, periods in (("INV-ABSENT", {}), ("INV-NULL", {"periods": None})):
        body = {
            "kind": "invoice",
            "reference": reference,
            "actor": "f.finance",
            "subject": SUBJECT,
            "settlement_date": long_day.isoformat(),
            "measures": [MEASURE],
            **periods,
        }
        r = client.post("/tenants/a/documents", json=body)
        assert r.status_code == 201, r.text
        lines = r.json()["lines"]
        assert [line["settlement_period"] for line in lines] == list(range(1, 51))


def test_repeats_are_refused_over_http(client: TestClient) -> None:
    assert upload(client, report(run_type="SF"), "sf.txt").json()["status"] == "accepted"
    for overrides, message in (
        ({"periods": [14, 14, 14]}, "period 14 is named 3 times: name each period once"),
        ({"measures": [MEASURE, MEASURE]}, f"measure '{MEASURE}' is named 2 times"),
    ):
        r = issue(client, **overrides)
        assert r.status_code == 400, r.text  # type: ignore[attr-defined]
        assert message in r.json()["detail"]  # type: ignore[attr-defined]
    assert client.get("/tenants/a/documents/INV-1").status_code == 404


def test_lines_name_their_units_and_totals_are_by_measure(client: TestClient) -> None:
    assert upload(client, report(run_type="SF"), "sf.txt").json()["status"] == "accepted"
    unit = sample_bm_unit_ids(PARTY, 1)[0]
    measures = ["bm_unit_metered_volume", "information_imbalance_cashflow"]
    r = issue(client, "BMU-1", subject=f"bmu:{unit}", measures=measures)
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    document = r.json()  # type: ignore[attr-defined]
    assert [(x["measure"], x["unit"]) for x in document["lines"]] == [
        ("bm_unit_metered_volume", "MWh"),
        ("information_imbalance_cashflow", "GBP"),
    ] * 2
    values = {
        m: [Decimal(x["value"]) for x in document["lines"] if x["measure"] == m] for m in measures
    }
    assert document["totals"] == [
        {"measure": m, "unit": u, "total": str(sum(values[m], Decimal(0))), "lines": 2}
        for m, u in zip(measures, ("MWh", "GBP"), strict=True)
    ]
    cash = sum(values["information_imbalance_cashflow"], Decimal(0))
    assert (document["total"], document["total_unit"]) == (str(cash), "GBP")


def test_as_of_instants_are_checked_over_http(client: TestClient) -> None:
    assert upload(client, report(run_type="SF"), "sf.txt").json()["status"] == "accepted"
    for instant, message in (
        ("0001-01-01T00:00:00+14:00", "is out of range"),
        ("2199-01-01T00:00:00Z", "is later than now"),
    ):
        r = issue(client, rule=f"as-of:{instant}")
        assert r.status_code == 400, r.text  # type: ignore[attr-defined]
        assert message in r.json()["detail"]  # type: ignore[attr-defined]


def test_lists_are_bounded_by_the_schema(client: TestClient) -> None:
    assert upload(client, report(run_type="SF"), "sf.txt").json()["status"] == "accepted"
    for overrides in (
        {"periods": [14] * 100_000},
        {"periods": [1] * 51},
        {"periods": [0]},
        {"periods": [51]},
        {"periods": [1.0]},
        {"periods": ["3"]},
        {"measures": [f"m{n}" for n in range(101)]},
        {"measures": ["Not a measure"]},
    ):
        r = issue(client, **overrides)
        assert r.status_code == 422, (overrides, r.text)  # type: ignore[attr-defined]
    schema = client.get("/openapi.json").json()["components"]["schemas"]["IssueRequest"]
    periods = schema["properties"]["periods"]["anyOf"][0]
    assert (periods["maxItems"], periods["items"]["minimum"], periods["items"]["maximum"]) == (
        50,
        1,
        50,
    )
    assert schema["properties"]["measures"]["maxItems"] == 100


def test_every_reference_the_schema_takes_is_reachable(client: TestClient) -> None:
    assert upload(client, report(run_type="SF"), "sf.txt").json()["status"] == "accepted"
    for reference in ("INV/1", "stale", "STALE", "..", "INV 1", "-1"):
        r = issue(client, reference)
        assert r.status_code == 422, (reference, r.text)  # type: ignore[attr-defined]
    for reference in ("INV-2026.001_a", "stale-1", "9", "x" * 100):
        r = issue(client, reference)
        assert r.status_code == 201, r.text  # type: ignore[attr-defined]
        assert client.get(f"/tenants/a/documents/{reference}").json()["reference"] == reference
        change = {"actor": "f.finance", "reason": "void"}
        cancelled = client.post(f"/tenants/a/documents/{reference}/cancel", json=change)
        assert cancelled.json()["status"] == "cancelled"
    schema = client.get("/openapi.json").json()["components"]["schemas"]["IssueRequest"]
    assert schema["properties"]["reference"]["pattern"] == REFERENCE_PATTERN


def test_documents_listed_and_revisions_read_over_http(client: TestClient) -> None:
    assert upload(client, report(run_type="SF"), "sf.txt").json()["status"] == "accepted"
    for reference in ("INV-2", "INV-1", "INV-3"):
        assert issue(client, reference).status_code == 201  # type: ignore[attr-defined]
    page = client.get("/tenants/a/documents", params={"limit": 2}).json()
    assert ([d["reference"] for d in page["documents"]], page["next_after"]) == (
        ["INV-1", "INV-2"],
        "INV-2",
    )
    rest = client.get("/tenants/a/documents", params={"after": "INV-2"}).json()
    assert ([d["reference"] for d in rest["documents"]], rest["next_after"]) == (["INV-3"], None)
    for params in ({"limit": 0}, {"limit": 1001}, {"status": "paid"}, {"kind": "receipt"}):
        assert client.get("/tenants/a/documents", params=params).status_code == 422

    later = report(run_type="R1", revision=1)
    assert upload(client, later, "r1.txt").json()["status"] == "accepted"
    change = {"actor": "f.finance", "reason": "R1 arrived"}
    again = client.post("/tenants/a/documents/INV-1/reissue", json=change).json()
    first = client.get("/tenants/a/documents/INV-1", params={"revision": 1}).json()
    assert (first["revision"], first["current_revision"]) == (1, 2)
    assert [x["version"] for x in first["lines"]] == [1, 1]
    assert [x["version"] for x in again["lines"]] == [2, 2]
    assert [(r["revision"], r["reason"]) for r in again["revisions"]] == [
        (1, None),
        (2, "R1 arrived"),
    ]
    missing = client.get("/tenants/a/documents/INV-1", params={"revision": 3})
    assert missing.status_code == 404 and "has no revision 3" in missing.json()["detail"]
    assert client.get("/tenants/a/documents/INV-1", params={"revision": 0}).status_code == 422

    stale = client.get("/tenants/a/documents/stale").json()
    assert [s["reference"] for s in stale] == ["INV-2", "INV-3"]
    runs = {(x["used"]["run_type"], x["now"]["run_type"]) for s in stale for x in s["lines"]}
    assert runs == {("SF", "R1")}
    uses = client.get(f"/tenants/a/periods/{SUBJECT}/{DAY}/1/documents").json()
    assert {(u["reference"], u["run_type"], u["now"]["run_type"]) for u in uses} == {
        ("INV-1", "R1", "R1"),
        ("INV-2", "SF", "R1"),
        ("INV-3", "SF", "R1"),
    }


def declared(client: TestClient, method: str, path: str) -> set[int]:
    """The statuses the OpenAPI schema declares for a route (FastAPI adds 422 itself)."""
    operation = client.get("/openapi.json").json()["paths"][path][method]
    return {int(status) for status in operation["responses"]}


def test_every_refusal_of_the_documents_routes_is_declared(client: TestClient) -> None:
    assert upload(client, report(run_type="SF"), "sf.txt").json()["status"] == "accepted"
    assert issue(client, "INV-1").status_code == 201  # type: ignore[attr-defined]
    change = {"actor": "f.finance", "reason": "void"}
    assert client.post("/tenants/a/documents/INV-1/cancel", json=change).status_code == 200
    base = "/tenants/{tenant}"
    using = f"{base}/periods/{{subject}}/{{settlement_date}}/{{settlement_period}}/documents"
    probes: list[tuple[str, str, str, dict[str, Any] | None, int]] = [
        ("post", f"{base}/documents", "/tenants/a/documents", {"subject": "party:X Y"}, 400),
        (
            "post",
            f"{base}/documents",
            "/tenants/a/documents",
            {"settlement_date": "2000-01-01"},
            400,
        ),
        ("post", f"{base}/documents", "/tenants/a/documents", {"periods": [49]}, 400),
        ("post", f"{base}/documents", "/tenants/a/documents", {"actor": " "}, 400),
        ("post", f"{base}/documents", "/tenants/a/documents", {"reference": "INV-1"}, 400),
        ("post", f"{base}/documents", "/tenants/a/documents", {"measures": ["nope"]}, 400),
        ("post", f"{base}/documents", "/tenants/A/documents", {}, 422),
        ("get", f"{base}/documents", "/tenants/a/documents", None, 200),
        ("get", f"{base}/documents/stale", "/tenants/a/documents/stale", None, 200),
        ("get", f"{base}/documents/{{reference}}", "/tenants/a/documents/NOPE", None, 404),
        (
            "get",
            f"{base}/documents/{{reference}}",
            "/tenants/a/documents/INV-1?revision=2",
            None,
            404,
        ),
        (
            "post",
            f"{base}/documents/{{reference}}/{{change}}",
            "/tenants/a/documents/INV-1/reissue",
            change,
            400,
        ),
        (
            "post",
            f"{base}/documents/{{reference}}/{{change}}",
            "/tenants/a/documents/NO/cancel",
            change,
            404,
        ),
        ("get", using, f"/tenants/a/periods/party:X Y/{DAY}/1/documents", None, 400),
        ("get", using, f"/tenants/a/periods/{SUBJECT}/2000-01-01/1/documents", None, 400),
        ("get", using, f"/tenants/a/periods/{SUBJECT}/{DAY}/49/documents", None, 400),
        ("get", using, f"/tenants/a/periods/{SUBJECT}/{DAY}/51/documents", None, 422),
    ]
    for method, route, url, body, expected in probes:
        if method == "post" and route == f"{base}/documents":
            sent = {
                "kind": "invoice",
                "reference": "INV-2",
                "actor": "f.finance",
                "subject": SUBJECT,
                "settlement_date": DAY.isoformat(),
                "periods": [1],
                **(body or {}),
            }
            r = client.post(url, json=sent)
        else:
            r = client.request(method, url, json=body)
        assert r.status_code == expected, (url, body, r.text)
        assert expected in declared(client, method, route), (route, expected)
        if expected == 400:
            assert set(r.json()) == {"detail"}


def test_the_schema_states_what_the_documents_routes_check(client: TestClient) -> None:
    openapi = client.get("/openapi.json").json()
    body = openapi["components"]["schemas"]["IssueRequest"]["properties"]
    assert body["settlement_date"]["format"] == "date"
    assert body["settlement_date"]["pattern"] == "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
    assert "2001-03-27" in body["settlement_date"]["description"]
    assert body["measures"]["items"]["pattern"] == "^[a-z][a-z0-9_]*$"
    assert body["rule"]["pattern"].startswith("^")
    assert (body["actor"]["minLength"], body["actor"]["maxLength"]) == (1, 255)
    [change] = [
        schema["properties"]
        for name, schema in openapi["components"]["schemas"].items()
        if name.endswith("documents__ChangeRequest") or name == "ChangeRequest"
    ]
    assert change["reason"]["maxLength"] == 2000
    for path, operations in openapi["paths"].items():
        if "/documents" not in path:
            continue
        for operation in operations.values():
            parameters = {p["name"]: p["schema"] for p in operation.get("parameters", [])}
            assert parameters["tenant"]["pattern"] == "^[a-z0-9][a-z0-9_.\\-]{0,62}$", path
            assert {"400", "503"} <= set(operation["responses"]), path
            if "settlement_period" in parameters:
                assert (
                    parameters["settlement_period"]["minimum"],
                    parameters["settlement_period"]["maximum"],
                ) == (1, 50)
