"""What the API answers to a request it refuses: always a JSON answer it could render, never
a 500; a request validation error (422) echoes the input escaped and bounded."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from api.app import create_app
from api.errors import ECHO_CHARACTERS, MAX_ERRORS
from ledger.service.runtime import LedgerRuntime

with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore",
        message=r"Using `httpx` with `starlette\.testclient` is deprecated",
        category=StarletteDeprecationWarning,
    )
    from fastapi.testclient import TestClient

PERIOD = "/tenants/a/periods/system/2026-05-06/3"
# Bodies with a lone surrogate (valid JSON escape syntax, but no UTF-8 can hold it): as a
# value, as a key, as the whole body.
SURROGATES = [
    '{"actor": "\\ud800"}',
    '{"\\ud800": 1}',
    '"\\ud800"',
    '["\\udfff", {"reason": "\\ud800\\ud800"}]',
]
ROUTES = [
    "/tenants/a/mappings",
    "/tenants/a/exceptions/x/acknowledge",
    f"{PERIOD}/corrections",
    f"{PERIOD}/interventions",
]


@pytest.fixture
def client(sqlite_url: str) -> Iterator[TestClient]:
    runtime = LedgerRuntime(sqlite_url)
    try:
        with TestClient(create_app(runtime), raise_server_exceptions=False) as c:
            yield c
    finally:
        runtime.close()


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("body", SURROGATES)
def test_a_lone_surrogate_in_a_body_is_refused_in_an_answer_that_renders(
    client: TestClient, route: str, body: str
) -> None:
    r = client.post(route, content=body, headers={"content-type": "application/json"})
    text = r.content.decode("utf-8")  # valid UTF-8 throughout
    detail = json.loads(text)["detail"]
    if r.status_code in (400, 404):  # the schema took it; the ledger refused it, saying why
        assert isinstance(detail, str) and detail
        return
    assert r.status_code == 422, r.text
    assert "\\\\ud800" in text or "\\\\udfff" in text
    assert detail and all({"loc", "msg", "type"} <= set(error) for error in detail)


def test_a_lone_surrogate_where_the_schema_takes_text_is_refused_by_the_ledger(
    client: TestClient,
) -> None:
    body = {
        "kind": "customer",
        "internal_id": "\ud800",
        "market_id": "mpan:2499999999991",
        "valid_from": "2026-01-01",
        "actor": "a",
        "reason": "r",
    }
    raw = json.dumps(body)  # escapes it: \\ud800
    r = client.post(
        "/tenants/a/mappings", content=raw, headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert "U+D800" in r.json()["detail"]


def test_a_large_refused_body_is_echoed_in_part(client: TestClient) -> None:
    huge = {"actor": "x" * 100_000, "reason": 7, "values": list(range(10_000))}
    r = client.post(f"{PERIOD}/corrections", json=huge)
    assert r.status_code == 422
    assert len(r.content) < 20_000
    for error in r.json()["detail"]:
        assert len(json.dumps(error.get("input"))) < 4 * ECHO_CHARACTERS


def test_at_most_so_many_errors_are_listed(client: TestClient) -> None:
    r = client.post(
        "/tenants/a/documents",
        json={"kind": "invoice", "reference": "R", "actor": "a", "subject": "system",
              "settlement_date": "2026-05-06", "periods": ["x"] * 50},
    )  # fmt: skip
    assert r.status_code == 422
    assert len(r.json()["detail"]) == MAX_ERRORS


def test_a_body_that_is_not_utf8_is_a_400(client: TestClient) -> None:
    r = client.post(
        "/tenants/a/mappings", content=b"\xff\xfe{", headers={"content-type": "application/json"}
    )
    assert r.status_code == 400
    assert r.json() == {"detail": "There was an error parsing the body"}


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/tenants/a/mappings", {"GET", "HEAD", "POST"}),
        ("/tenants/a/flows", {"GET", "HEAD", "POST"}),
        ("/tenants/a/feed", {"GET", "HEAD"}),
    ],
)
def test_a_method_a_path_lacks_is_a_405_naming_every_method_it_has(
    client: TestClient, path: str, methods: set[str]
) -> None:
    for method in ("OPTIONS", "DELETE", "PATCH"):
        r = client.request(method, path)
        assert r.status_code == 405
        assert set(r.headers["Allow"].split(", ")) == methods
        assert r.json() == {"detail": "Method Not Allowed"}


def test_the_stream_is_described_as_server_sent_events(client: TestClient) -> None:
    stream = client.get("/openapi.json").json()["paths"]["/tenants/{tenant}/feed/stream"]["get"]
    content = stream["responses"]["200"]["content"]
    event = content["text/event-stream"]["schema"]
    assert event["properties"]["data"]["contentSchema"] == {
        "$ref": "#/components/schemas/FeedEvent"
    }
    assert set(stream["responses"]["400"]["content"]) == {"application/json"}
    assert set(stream["responses"]["503"]["content"]) == {"application/json"}
