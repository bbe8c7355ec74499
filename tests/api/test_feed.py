"""The consumer feed over HTTP: pages (``/tenants/{tenant}/feed``) and the live stream of
server-sent events (``/tenants/{tenant}/feed/stream``), on SQLite and on PostgreSQL."""

from __future__ import annotations

import io
import json
import warnings
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from api.app import create_app
from api.routers import feed as feed_router
from ledger.demo.samples import sample_bm_unit_ids, sample_party_ids, write_settlement_report
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

TENANT = "a"
OTHER = "b"
DAY = date(2026, 5, 6)
PARTY = sample_party_ids(1)[0]
PARTY_SUBJECT = f"party:{PARTY}"
PERIOD = 7
EVENTS_PER_FILE = 48 * 3 + 5  # system, the party and its BM Unit; the file's own five


def report(run_type: str) -> bytes:
    """A party's S0141 for DAY: every period of the system, the party and its BM Unit."""
    out = io.BytesIO()
    run = RunType(run_type)
    write_settlement_report(
        out,
        flow="S0141",
        settlement_date=DAY,
        run_type=run,
        run_number=1,
        parties=[PARTY],
        bm_units={PARTY: sample_bm_unit_ids(PARTY, 1)},
        creation_time=datetime(2026, 5, 7, tzinfo=UTC) + timedelta(days=list(RunType).index(run)),
        revision=list(RunType).index(run),
    )
    return out.getvalue()


@pytest.fixture
def client(runtime: LedgerRuntime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as c:
        yield c


def upload(client: TestClient, data: bytes, tenant: str) -> None:
    r = client.post(
        f"/tenants/{tenant}/flows",
        params={"file_name": "s0141.txt"},
        content=data,
        headers={"content-type": "application/octet-stream"},
    )
    assert r.status_code == 200 and r.json()["status"] == "accepted", r.text


@pytest.fixture
def two_files(client: TestClient, runtime: LedgerRuntime) -> TestClient:
    """Tenant a's II and SF files, tenant b's copy of the II file between them, then a
    correction of one of a's periods."""
    ii = report("II")
    upload(client, ii, TENANT)
    upload(client, ii, OTHER)
    upload(client, report("SF"), TENANT)
    runtime.correct(
        PARTY_SUBJECT,
        DAY,
        PERIOD,
        supersedes=2,
        values={"bm_unit_cashflow": Decimal("-1234.560")},
        reason="BSCCo query 123",
        actor="j.smith",
        tenant=TENANT,
    )
    return client


def page(client: TestClient, tenant: str = TENANT, **params: Any) -> dict[str, Any]:
    r = client.get(f"/tenants/{tenant}/feed", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def read_all(client: TestClient, sizes: Sequence[int], tenant: str = TENANT) -> list[Any]:
    """Every event, page after page, each page asked for after the last one's next_after."""
    events: list[Any] = []
    after = 0
    for count in range(10_000):
        limit = sizes[count % len(sizes)]
        body = page(client, tenant, after=after, limit=limit)
        assert body["after"] == after and len(body["events"]) <= limit
        events.extend(body["events"])
        after = body["next_after"]
        if body["caught_up"]:
            return events
    raise AssertionError("the feed never caught up")


def test_pages_resumed_from_next_after_give_every_event_once_in_order(
    two_files: TestClient, runtime: LedgerRuntime
) -> None:
    reference = [e.model_dump(mode="json") for e in runtime.feed(limit=1000, tenant=TENANT).events]
    assert len(reference) == 2 * EVENTS_PER_FILE + 1
    for sizes in ([1000], [7], [3, 90, 1, 250]):
        assert read_all(two_files, sizes) == reference
    positions = [e["position"] for e in reference]
    assert positions == sorted(set(positions))


def test_another_tenants_events_never_appear(two_files: TestClient) -> None:
    ours = read_all(two_files, [50])
    theirs = read_all(two_files, [50], tenant=OTHER)
    assert len(theirs) == EVENTS_PER_FILE
    assert not {e["position"] for e in ours} & {e["position"] for e in theirs}
    assert {e["payload"]["tenant"] for e in ours if "tenant" in e["payload"]} == {TENANT}
    # The file's later stages name no tenant; they are still the receiving tenant's alone.
    assert [e["type"] for e in theirs][-4:] == [
        "ReceivedFile.Validated",
        "ReceivedFile.Mapped",
        "ReceivedFile.Interpreted",
        "ReceivedFile.Published",
    ]
    assert page(two_files, "nobody")["events"] == []


def test_values_are_decimal_strings_and_a_correction_appears(two_files: TestClient) -> None:
    events = read_all(two_files, [1000])
    recorded = [e for e in events if e["type"].startswith("SettlementPeriod.")]
    for event in recorded[:-1]:
        values = event["payload"]["values"]
        assert values and all(isinstance(v, str) for v in values.values())
        assert all(str(Decimal(v)) == v for v in values.values())
        assert event["schema_version"] == 2
        assert event["recorded_at"].endswith("+00:00")
    correction = events[-1]
    assert correction["type"] == "SettlementPeriod.CorrectionApplied"
    assert correction["aggregate_version"] == 3
    # The measure set, over the corrected version's others (which carry over).
    assert correction["payload"]["values"]["bm_unit_cashflow"] == "-1234.560"
    assert correction["payload"]["supersedes"] == 2
    assert correction["payload"]["actor"] == "j.smith"


@pytest.mark.parametrize(
    "params",
    [{"after": -1}, {"after": 2**63}, {"limit": 0}, {"limit": 1001}, {"after": "last"}],
)
def test_a_bad_position_or_page_size_is_422(client: TestClient, params: dict[str, Any]) -> None:
    r = client.get(f"/tenants/{TENANT}/feed", params=params)
    assert r.status_code == 422
    (problem,) = r.json()["detail"]
    assert problem["loc"] == ["query", next(iter(params))]


def test_a_malformed_tenant_is_400(client: TestClient) -> None:
    for url in ("/tenants/Not%20A%20Tenant/feed", "/tenants/Not%20A%20Tenant/feed/stream"):
        r = client.get(url)
        assert r.status_code == 400
        assert "is not a tenant name" in r.json()["detail"]


# --- The live stream ------------------------------------------------------------------------


def sse_messages(response: httpx.Response, count: int) -> Iterator[dict[str, str]]:
    """The stream's first ``count`` messages (comments skipped), each as its fields."""
    fields: dict[str, str] = {}
    lines = response.iter_lines()
    while count:
        line = next(lines)
        if line.startswith(":"):
            continue
        if line:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
        elif fields:
            yield fields
            fields, count = {}, count - 1


def stream_url(tenant: str = TENANT) -> str:
    return f"/tenants/{tenant}/feed/stream"


def test_the_stream_sends_each_event_with_its_position_as_id(two_files: TestClient) -> None:
    events = read_all(two_files, [1000])
    with two_files.stream("GET", stream_url(), params={"after": events[99]["position"]}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        got = list(sse_messages(r, 20))
    assert [int(m["id"]) for m in got] == [e["position"] for e in events[100:120]]
    assert [json.loads(m["data"]) for m in got] == events[100:120]


def test_the_stream_resumes_after_last_event_id(two_files: TestClient) -> None:
    events = read_all(two_files, [1000])
    with two_files.stream("GET", stream_url()) as r:
        first = list(sse_messages(r, 10))
    assert [json.loads(m["data"]) for m in first] == events[:10]
    # A reconnecting EventSource sends the last id it received; it wins over ?after=.
    headers = {"Last-Event-ID": first[-1]["id"]}
    with two_files.stream("GET", stream_url(), params={"after": 0}, headers=headers) as r:
        rest = list(sse_messages(r, len(events) - 10))
    assert [json.loads(m["data"]) for m in rest] == events[10:]


def test_the_stream_moves_the_resume_point_past_other_tenants_events(
    two_files: TestClient,
) -> None:
    """After its last event, the other tenant's stream sends an id alone: the end of what it
    read, so a reconnecting client does not read a's events again."""
    theirs = read_all(two_files, [1000], tenant=OTHER)
    end = page(two_files, "nobody")["next_after"]
    assert theirs[-1]["position"] < end
    with two_files.stream("GET", stream_url(OTHER)) as r:
        got = list(sse_messages(r, len(theirs) + 1))
    assert [json.loads(m["data"]) for m in got[:-1]] == theirs
    assert got[-1] == {"id": str(end)}


def test_the_stream_tails_new_events(
    two_files: TestClient, runtime: LedgerRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client that has every event receives the next ones as they are recorded."""
    monkeypatch.setattr(feed_router, "POLL_SECONDS", 0.01)  # the server's pause, not a test's
    events = read_all(two_files, [1000])
    headers = {"Last-Event-ID": str(events[-1]["position"])}
    with two_files.stream("GET", stream_url(), headers=headers) as r:
        result = runtime.ingest_bytes(report("R1"), file_name="r1.txt", tenant=TENANT)
        assert result.status == "accepted"
        recorded = read_all(two_files, [1000])[len(events) :]
        # The file's events, and the exceptions its run-to-run movement raised.
        assert len(recorded) >= EVENTS_PER_FILE
        new = list(sse_messages(r, len(recorded)))
    assert [json.loads(m["data"]) for m in new] == recorded


def test_a_malformed_last_event_id_is_400_and_a_negative_after_422(client: TestClient) -> None:
    r = client.get(stream_url(), headers={"Last-Event-ID": "yesterday"})
    assert r.status_code == 400
    assert "Last-Event-ID 'yesterday' is not a position of the feed" in r.json()["detail"]
    assert client.get(stream_url(), params={"after": -3}).status_code == 422


@pytest.mark.parametrize("last", [str(2**63), "9" * 5000])
def test_a_last_event_id_beyond_the_log_s_positions_is_400(client: TestClient, last: str) -> None:
    r = client.get(stream_url(), headers={"Last-Event-ID": last})
    assert r.status_code == 400
    assert str(2**63 - 1) in r.json()["detail"] and len(r.json()["detail"]) < 300


def test_the_largest_position_is_an_empty_page(client: TestClient) -> None:
    body = page(client, after=2**63 - 1)
    assert body["events"] == [] and body["caught_up"]


def test_the_feed_is_documented(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    listed = paths["/tenants/{tenant}/feed"]["get"]
    assert {p["name"] for p in listed["parameters"]} == {"tenant", "after", "limit"}
    assert listed["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/FeedPage"
    }
    stream = paths["/tenants/{tenant}/feed/stream"]["get"]
    assert "text/event-stream" in stream["responses"]["200"]["content"]
    assert {p["name"] for p in stream["parameters"]} == {"tenant", "after", "last-event-id"}
    event = spec["components"]["schemas"]["FeedEvent"]["properties"]
    assert event["recorded_at"]["format"] == "date-time"
    assert set(event) >= {"position", "type", "schema_version", "aggregate_id", "payload"}
