"""The HTTP API over a real ledger, on SQLite and on PostgreSQL (fixture ``database_url``)."""

from __future__ import annotations

import hashlib
import io
import threading
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Literal

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from api.app import create_app
from ledger.demo.samples import (
    sample_bm_unit_ids,
    sample_party_ids,
    sample_party_period_values,
    write_settlement_report,
)
from ledger.domain.errors import ConfigurationError
from ledger.domain.runs import RunType
from ledger.flows.record_layouts import layout_for
from ledger.service.runtime import LedgerRuntime, scheduled_runs

with warnings.catch_warnings():
    # starlette asks for httpx2; the project pins httpx (constraints.txt) for now.
    warnings.filterwarnings(
        "ignore",
        message=r"Using `httpx` with `starlette\.testclient` is deprecated",
        category=StarletteDeprecationWarning,
    )
    from fastapi.testclient import TestClient

DAY = date(2026, 5, 6)  # a 48-period (BST) day
PARTIES = sample_party_ids(2)
PARTY = PARTIES[0]
CREATED = datetime(2026, 5, 7, 10, 0, tzinfo=UTC)


def report(
    *,
    run_type: RunType | Literal["SF", "R1"] = "SF",
    run_number: int = 1,
    revision: int = 0,
    creation_time: datetime = CREATED,
) -> bytes:
    """A small S0142: 2 parties with 1 BM Unit each, every period of DAY."""
    out = io.BytesIO()
    write_settlement_report(
        out,
        flow="S0142",
        settlement_date=DAY,
        run_type=RunType(run_type),
        run_number=run_number,
        parties=PARTIES,
        bm_units={p: sample_bm_unit_ids(p, 1) for p in PARTIES},
        creation_time=creation_time,
        revision=revision,
    )
    return out.getvalue()


def corrupt(data: bytes) -> bytes:
    """The same report with one digit added to the first PPC value: the checksum breaks."""
    bad = data.replace(b"\nPPC|", b"\nPPC|9", 1)
    assert bad != data
    return bad


def ppc_texts(data: bytes, party: str, period: int) -> dict[str, str]:
    """The PPC values of a party's period exactly as written in the file."""
    current_party = current_period = None
    for line in data.decode("ascii").splitlines():
        fields = line.split("|")
        if fields[0] == "BPH":
            current_party = fields[-2]
        elif fields[0] == "SP7":
            current_period = int(fields[1])
        elif fields[0] == "PPC" and (current_party, current_period) == (party, period):
            names = layout_for("S0142013")[0].records["PPC"].names
            texts = fields[1 : 1 + len(names)]
            return {name: text for name, text in zip(names, texts, strict=True) if text}
    raise AssertionError(f"no PPC for {party} period {period}")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def client(runtime: LedgerRuntime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as c:
        yield c


def upload(client: TestClient, data: bytes, name: str, tenant: str = "a") -> Any:
    return client.post(
        f"/tenants/{tenant}/flows",
        params={"file_name": name},
        content=data,
        headers={"content-type": "application/octet-stream"},
    )


def period_url(subject: str, day: date | str, period: int | str, tenant: str = "a") -> str:
    return f"/tenants/{tenant}/periods/{subject}/{day}/{period}"


def stages(client: TestClient, digest: str, tenant: str = "a") -> list[str]:
    r = client.get(f"/tenants/{tenant}/flows/{digest}")
    assert r.status_code == 200, r.text
    return [s["stage"] for s in r.json()["stages"]]


# --- uploads, flow status, raw bytes ----------------------------------------------------


def test_upload_accepted_then_duplicate(client: TestClient) -> None:
    data = report()
    r = upload(client, data, "s0142_sf1.txt")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "accepted"
    assert body["sha256"] == sha(data)
    assert body["flow"] == "S0142"
    assert body["settlement_date"] == DAY.isoformat()
    assert (body["run_type"], body["run_number"]) == ("SF", 1)
    assert body["periods"] > 0 and body["reasons"] == []
    assert stages(client, sha(data)) == [
        "received",
        "validated",
        "mapped",
        "interpreted",
        "published",
    ]

    again = upload(client, data, "s0142_sf1_again.txt")
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "duplicate"
    assert again.json()["sha256"] == sha(data)

    flow = client.get(f"/tenants/a/flows/{sha(data)}").json()
    assert flow["status"] == "accepted"
    assert flow["receipts"] == 2
    assert flow["file_name"] == "s0142_sf1.txt"
    assert flow["size"] == len(data)
    assert flow["channel"] == "api"
    assert [s["stage"] for s in flow["stages"]] == [
        "received",
        "validated",
        "mapped",
        "interpreted",
        "published",
        "duplicate_received",
    ]
    assert flow["stages"][-1]["detail"]["file_name"] == "s0142_sf1_again.txt"
    assert [s["version"] for s in flow["stages"]] == [1, 2, 3, 4, 5, 6]
    # The hash is matched case-insensitively.
    assert client.get(f"/tenants/a/flows/{sha(data).upper()}").json()["sha256"] == sha(data)

    raw = client.get(f"/tenants/a/flows/{sha(data)}/raw")
    assert raw.status_code == 200
    assert raw.headers["content-type"] == "application/octet-stream"
    assert raw.content == data


def test_corrupted_upload_is_rejected_and_kept(client: TestClient) -> None:
    bad = corrupt(report())
    r = upload(client, bad, "s0142_bad.txt")
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["status"] == "rejected"
    assert body["sha256"] == sha(bad)
    assert body["periods"] == 0
    assert body["reasons"] and any("checksum" in reason for reason in body["reasons"])

    flow = client.get(f"/tenants/a/flows/{sha(bad)}").json()
    assert flow["status"] == "rejected"
    assert any("checksum" in reason for reason in flow["reasons"])
    assert [s["stage"] for s in flow["stages"]] == ["received", "rejected"]

    raw = client.get(f"/tenants/a/flows/{sha(bad)}/raw")
    assert raw.status_code == 200
    assert raw.content == bad  # byte-exact, though rejected

    # Nothing of it reached the period views.
    assert client.get(period_url(f"party:{PARTY}", DAY, 1)).json()["versions"] == []

    # The same bad bytes again: still rejected, recorded as another receipt.
    again = upload(client, bad, "s0142_bad.txt")
    assert again.status_code == 422
    assert any("checksum" in reason for reason in again.json()["reasons"])
    assert stages(client, sha(bad)) == ["received", "rejected", "duplicate_received"]


def test_empty_upload_is_rejected(client: TestClient) -> None:
    r = upload(client, b"", "empty.txt")
    assert r.status_code == 422
    assert r.json()["status"] == "rejected"
    assert any("empty" in reason for reason in r.json()["reasons"])


def test_flow_list_newest_first(client: TestClient) -> None:
    assert client.get("/tenants/a/flows").json() == {"tenant": "a", "flows": []}
    good, bad = report(), corrupt(report())
    upload(client, good, "good.txt")
    upload(client, bad, "bad.txt")
    r = client.get("/tenants/a/flows")
    assert r.status_code == 200
    assert r.json()["flows"] == [
        {"sha256": sha(bad), "file_name": "bad.txt", "status": "rejected", "flow": "S0142"},
        {"sha256": sha(good), "file_name": "good.txt", "status": "accepted", "flow": "S0142"},
    ]
    assert [f["sha256"] for f in client.get("/tenants/a/flows?limit=1").json()["flows"]] == [
        sha(bad)
    ]
    assert client.get("/tenants/a/flows?limit=0").status_code == 422


def test_unknown_flow_is_404(client: TestClient) -> None:
    missing = "0" * 64
    for url in (f"/tenants/a/flows/{missing}", f"/tenants/a/flows/{missing}/raw"):
        r = client.get(url)
        assert r.status_code == 404
        assert r.json() == {"detail": f"tenant 'a' has received no file with sha256 {missing}"}


# --- periods ------------------------------------------------------------------------------


def test_period_values_are_exact_strings(client: TestClient) -> None:
    data = report()
    assert upload(client, data, "sf1.txt").status_code == 200
    for party in PARTIES:
        for period in (1, 3, 48):
            r = client.get(period_url(f"party:{party}", DAY, period))
            assert r.status_code == 200, r.text
            view = r.json()
            assert view["tenant"] == "a"
            assert view["subject"] == f"party:{party}"
            assert (view["settlement_date"], view["settlement_period"]) == ("2026-05-06", period)
            assert view["as_of"] is None
            # Passed through from the runtime (when each run of the day is due).
            assert view["scheduled_runs"] == {
                run: day.isoformat() for run, day in scheduled_runs(DAY).items()
            }
            assert "SF" in view["scheduled_runs"]
            (version,) = view["versions"]
            expected = ppc_texts(data, party, period)
            # Strings, exactly as written in the file: no float, no re-formatting.
            assert version["values"] == expected
            assert all(isinstance(v, str) for v in version["values"].values())
            assert {k: Decimal(v) for k, v in version["values"].items()} == (
                sample_party_period_values(DAY, party, period)
            )
            assert version["kind"] == "run"
            assert (version["run_type"], version["run_number"]) == ("SF", 1)
            assert version["file_creation_time"] == CREATED.isoformat()
            assert version["source"]["sha256"] == sha(data)
            assert version["source"]["flow"] == "S0142"
            assert view["best"] == version
    # 00:00 local on a BST day is 23:00 UTC the day before; period 3 starts at 00:00 UTC.
    assert client.get(period_url("party:" + PARTY, DAY, 1)).json()["period_start"] == (
        "2026-05-05T23:00:00+00:00"
    )
    assert client.get(period_url("party:" + PARTY, DAY, 3)).json()["period_start"] == (
        "2026-05-06T00:00:00+00:00"
    )


def test_best_and_as_of(client: TestClient) -> None:
    first = report()
    second = report(run_type="R1", revision=1, creation_time=CREATED + timedelta(days=30))
    r1 = upload(client, first, "sf1.txt")
    r2 = upload(client, second, "r1.txt")
    assert (r1.status_code, r2.status_code) == (200, 200)

    url = period_url(f"party:{PARTY}", DAY, 7)
    now = client.get(url).json()
    sf, r1v = now["versions"]
    assert (sf["run_type"], r1v["run_type"]) == ("SF", "R1")
    assert sf["values"] == ppc_texts(first, PARTY, 7)
    assert r1v["values"] == ppc_texts(second, PARTY, 7)
    assert sf["values"] != r1v["values"]
    assert now["best"] == r1v

    known_1 = datetime.fromisoformat(sf["recorded_at"])
    known_2 = datetime.fromisoformat(r1v["recorded_at"])
    assert known_1 < known_2
    between = known_1 + (known_2 - known_1) / 2
    assert known_1 <= between < known_2

    then = client.get(url, params={"as_of": between.isoformat()})
    assert then.status_code == 200, then.text
    assert then.json()["versions"] == [sf]
    assert then.json()["best"] == sf
    assert then.json()["as_of"] == between.isoformat()

    # The same instant in another offset means the same thing.
    elsewhere = between.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert client.get(url, params={"as_of": elsewhere.isoformat()}).json()["versions"] == [sf]
    assert client.get(url, params={"as_of": between.strftime("%Y-%m-%dT%H:%M:%S.%fZ")}).json()[
        "versions"
    ] == [sf]

    # A version counts as known from the instant it was recorded.
    assert client.get(url, params={"as_of": sf["recorded_at"]}).json()["versions"] == [sf]
    assert client.get(url, params={"as_of": r1v["recorded_at"]}).json()["versions"] == [sf, r1v]

    before = client.get(url, params={"as_of": (known_1 - timedelta(microseconds=1)).isoformat()})
    assert before.json()["versions"] == []
    assert before.json()["best"] is None


def test_as_of_without_time_zone_is_400(client: TestClient) -> None:
    r = client.get(period_url("system", DAY, 1), params={"as_of": "2026-05-07T12:00:00"})
    assert r.status_code == 400
    assert "time zone" in r.json()["detail"]


def test_malformed_as_of_is_400(client: TestClient) -> None:
    # A business error like any other malformed value (it was FastAPI's 422 until as_of was
    # parsed by the ledger's own parser, shared with the command line).
    r = client.get(period_url("system", DAY, 1), params={"as_of": "yesterday"})
    assert r.status_code == 400
    assert r.json() == {
        "detail": "'yesterday' is not an ISO 8601 instant; write a date, a time and a time "
        "zone, e.g. 2026-05-07T12:00:00Z or 2026-05-07T13:00:00+01:00"
    }
    # An unencoded "+" offset arrives as a space: the reason the docs say to write %2B.
    r = client.get(period_url("system", DAY, 1) + "?as_of=2026-05-07T12:00:00+01:00")
    assert r.status_code == 400
    assert "in a URL, write a + offset as %2B" in r.json()["detail"]
    assert (
        client.get(period_url("system", DAY, 1) + "?as_of=2026-05-07T12:00:00%2B01:00").status_code
        == 200
    )


def test_invalid_subject_is_400(client: TestClient) -> None:
    r = client.get(period_url("nonsense", DAY, 1))
    assert r.status_code == 400
    assert set(r.json()) == {"detail"}
    assert "'nonsense' is not a subject" in r.json()["detail"]

    r = client.get(period_url("party:not-a-party!", DAY, 1))
    assert r.status_code == 400
    assert "not-a-party!" in r.json()["detail"]


def test_period_out_of_range_is_400(client: TestClient) -> None:
    for day, period, count in [
        ("2026-05-06", 49, 48),
        ("2026-05-06", 0, 48),
        ("2026-03-29", 47, 46),
    ]:
        r = client.get(period_url(f"party:{PARTY}", day, period))
        assert r.status_code == 400
        assert r.json() == {
            "detail": f"settlement period {period} does not exist on {day}, "
            f"which has {count} periods"
        }


def test_long_day_has_50_periods(client: TestClient) -> None:
    r = client.get(period_url(f"party:{PARTY}", "2026-10-25", 50))
    assert r.status_code == 200, r.text
    assert r.json()["versions"] == []
    assert r.json()["best"] is None
    # The long day starts at 23:00 UTC (BST) and ends at 00:00 UTC (GMT).
    assert r.json()["period_start"] == "2026-10-25T23:30:00+00:00"


def test_bad_settlement_date_is_400(client: TestClient) -> None:
    for day in ["2026-02-30", "2026-13-01", "06-05-2026", "20260506", "today"]:
        r = client.get(period_url(f"party:{PARTY}", day, 1))
        assert r.status_code == 400
        assert set(r.json()) == {"detail"}
        assert f"'{day}' is not a settlement date" in r.json()["detail"]


def test_non_integer_period_is_fastapi_422(client: TestClient) -> None:
    r = client.get(period_url(f"party:{PARTY}", DAY, "first"))
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["path", "settlement_period"]


# --- tenants --------------------------------------------------------------------------------


def test_tenant_wall(client: TestClient) -> None:
    data, bad = report(), corrupt(report())
    assert upload(client, data, "sf1.txt", tenant="a").status_code == 200
    assert upload(client, bad, "bad.txt", tenant="a").status_code == 422
    assert client.get(period_url(f"party:{PARTY}", DAY, 1, tenant="a")).json()["versions"]

    seen_by_b = client.get(period_url(f"party:{PARTY}", DAY, 1, tenant="b"))
    assert seen_by_b.status_code == 200
    assert seen_by_b.json()["tenant"] == "b"
    assert seen_by_b.json()["versions"] == []
    assert seen_by_b.json()["best"] is None
    assert seen_by_b.json()["subject_known"] is False
    day_seen_by_b = client.get(f"/tenants/b/days/party:{PARTY}/{DAY.isoformat()}")
    assert day_seen_by_b.status_code == 200 and day_seen_by_b.json()["subject_known"] is False
    assert client.get(period_url(f"party:{PARTY}", DAY, 1, tenant="a")).json()["subject_known"]
    for digest in (sha(data), sha(bad)):
        assert client.get(f"/tenants/b/flows/{digest}").status_code == 404
        assert client.get(f"/tenants/b/flows/{digest}/raw").status_code == 404
    assert client.get("/tenants/b/flows").json() == {"tenant": "b", "flows": []}

    # The same bytes sent by b are new to b (not a duplicate of a's), and a is unaffected.
    r = upload(client, data, "b_copy.txt", tenant="b")
    assert r.status_code == 200
    assert r.json()["status"] == "accepted"
    assert client.get(f"/tenants/b/flows/{sha(data)}").json()["receipts"] == 1
    assert client.get(f"/tenants/a/flows/{sha(data)}").json()["receipts"] == 1
    assert client.get(f"/tenants/a/flows/{sha(data)}").json()["file_name"] == "sf1.txt"
    assert len(client.get(period_url(f"party:{PARTY}", DAY, 1, tenant="a")).json()["versions"]) == 1


# --- service --------------------------------------------------------------------------------


def test_health(client: TestClient) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


def test_layouts_say_what_each_field_is(client: TestClient) -> None:
    r = client.get("/layouts/S0142013", params={"record": "APC"})
    assert r.status_code == 200
    (apc,) = r.json()["records"]
    by_position = {f["position"]: f for f in apc["fields"]}
    assert by_position[2]["name"] == "bm_unit_cashflow"
    assert (by_position[2]["unit"], by_position[2]["decimal_places"]) == ("GBP", 2)
    assert (by_position[11]["item"], by_position[11]["sign"]) == ("N0653", "debit")
    assert by_position[12]["sign"] == "credit"
    newer = client.get("/layouts/S0142014").json()
    assert newer["read_as"] == "S0142013" and "S0142014" in newer["note"]
    assert client.get("/layouts/S0141007").status_code == 400
    missing = client.get("/layouts/S0142013", params={"record": "XYZ"})
    assert missing.status_code == 404 and "no record XYZ" in missing.json()["detail"]


# Corrections and interventions: commands on a period.
PERIOD_COMMANDS = {
    f"/tenants/{{tenant}}/periods/{{subject}}/{{settlement_date}}/{{settlement_period}}/{c}"
    for c in ("corrections", "interventions")
}


def test_openapi(client: TestClient) -> None:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    assert set(spec["paths"]) == {
        "/health",
        "/tenants/{tenant}/periods/{subject}/{settlement_date}/{settlement_period}",
        "/tenants/{tenant}/flows",
        "/tenants/{tenant}/flows/{sha256}",
        "/tenants/{tenant}/flows/{sha256}/raw",
        "/tenants/{tenant}/flows/{sha256}/warnings",
        "/layouts/{file_type}",
        "/tenants/{tenant}/feed",
        "/tenants/{tenant}/feed/stream",
        "/tenants/{tenant}/documents",
        "/tenants/{tenant}/documents/stale",
        "/tenants/{tenant}/documents/{reference}",
        "/tenants/{tenant}/documents/{reference}/{change}",
        "/tenants/{tenant}/exceptions",
        "/tenants/{tenant}/exceptions/{exception}",
        "/tenants/{tenant}/exceptions/{exception}/assign",
        "/tenants/{tenant}/exceptions/{exception}/{change}",
        "/tenants/{tenant}/mappings",
        "/tenants/{tenant}/mappings/{mapping_id}",
        "/tenants/{tenant}/mappings/{mapping_id}/end",
        "/tenants/{tenant}/mappings/{mapping_id}/correct",
        "/tenants/{tenant}/periods/{subject}/{settlement_date}/{settlement_period}/documents",
        "/tenants/{tenant}/periods/{subject}/{settlement_date}/{settlement_period}/history",
        "/tenants/{tenant}/days/{subject}/{settlement_date}",
        *PERIOD_COMMANDS,
    }
    assert set(spec["paths"]["/tenants/{tenant}/flows"]) == {"get", "post"}
    schemas = spec["components"]["schemas"]
    values = schemas["Version"]["properties"]["values"]["additionalProperties"]
    assert values["type"] == "string"
    assert values["format"] == "decimal"
    body = spec["paths"]["/tenants/{tenant}/flows"]["post"]["requestBody"]
    assert "application/octet-stream" in body["content"]
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


# --- concurrent receipts of the same bytes ------------------------------------------------------


def test_same_bytes_while_first_receipt_is_in_progress(
    runtime: LedgerRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = report()
    first_in_process, second_done = threading.Event(), threading.Event()
    real_process = runtime.ingestor._process
    calls: list[int] = []

    def process(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:  # hold the first receipt between "received" and "validated"
            first_in_process.set()
            second_done.wait(timeout=10)
        return real_process(*args, **kwargs)

    monkeypatch.setattr(runtime.ingestor, "_process", process)
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(upload, client, data, "first.txt")
            assert first_in_process.wait(timeout=30)
            second = upload(client, data, "retry.txt")
            second_done.set()
            first_response = first.result(timeout=60)
        responses = [first_response, second]
        assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
        assert sorted(r.json()["status"] for r in responses) == ["accepted", "duplicate"]
        names = stages(client, sha(data))
        assert (names.count("validated"), names.count("interpreted")) == (1, 1)
        assert len(client.get(period_url(f"party:{PARTY}", DAY, 1)).json()["versions"]) == 1


class _PausingTx:
    """A transaction that pauses right after checking whether raw bytes are stored."""

    def __init__(self, tx: Any, pause: Callable[[], None]) -> None:
        self._tx = tx
        self._pause = pause

    def execute(self, sql: str, params: Any = (), **options: Any) -> Any:
        result = self._tx.execute(sql, params, **options)
        if sql.startswith("SELECT 1 FROM raw_payloads"):
            self._pause()
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tx, name)


def test_same_bytes_received_twice_at_once_on_postgres(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = LedgerRuntime(postgres_url)
    try:
        both_checked = threading.Barrier(2)
        pauses: list[int] = []

        def pause() -> None:
            pauses.append(1)
            if len(pauses) <= 2:  # the two uploads' checks, then no more
                try:
                    both_checked.wait(timeout=5)
                except threading.BrokenBarrierError:
                    pass  # serialised by a fix: carry on

        real_transaction = runtime.database.transaction

        @contextmanager
        def transaction(**options: Any) -> Iterator[Any]:
            with real_transaction(**options) as tx:
                yield _PausingTx(tx, pause)

        monkeypatch.setattr(runtime.database, "transaction", transaction)
        data = report()
        with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
            with ThreadPoolExecutor(2) as pool:
                futures = [pool.submit(upload, client, data, f"copy{i}.txt") for i in (1, 2)]
                responses = [f.result(timeout=60) for f in futures]
        assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
        assert sorted(r.json()["status"] for r in responses) == ["accepted", "duplicate"]
    finally:
        runtime.close()


def test_malformed_tenant_is_a_bad_request(client: TestClient) -> None:
    r = client.get("/tenants/Acme%20Corp/periods/system/2026-05-06/1")
    assert r.status_code == 400
    assert "is not a tenant name" in r.json()["detail"]
    r = client.post("/tenants/ACME/flows", content=report(), params={"file_name": "x.txt"})
    assert r.status_code == 400
    assert client.get("/tenants/acme/flows").json()["flows"] == []


# --- edge values: 400 with a business message, never a 500 ----------------------------------------


@pytest.mark.parametrize(
    ("day", "message"),
    [
        ("9999-12-31", "settlement date 9999-12-31 is outside the settlement era"),
        ("0001-01-01", "settlement date 0001-01-01 is outside the settlement era"),
        ("2001-03-26", "from 2001-03-27 (NETA go-live) to 2099-12-31"),
        ("2100-01-01", "settlement date 2100-01-01 is outside the settlement era"),
    ],
)
def test_settlement_date_outside_the_era_is_400(client: TestClient, day: str, message: str) -> None:
    r = client.get(period_url(f"party:{PARTY}", day, 1))
    assert r.status_code == 400, r.text
    assert set(r.json()) == {"detail"}
    assert message in r.json()["detail"]


def test_era_boundaries_are_answered(client: TestClient) -> None:
    for day in ("2001-03-27", "2099-12-31"):
        r = client.get(period_url("system", day, 48))
        assert r.status_code == 200, r.text
        assert r.json()["versions"] == []


@pytest.mark.parametrize(
    ("as_of", "message"),
    [
        ("-1", "'-1' is not an ISO 8601 instant"),  # pydantic read it as a Unix timestamp
        ("0", "'0' is not an ISO 8601 instant"),
        ("", "'' is not an ISO 8601 instant"),
        ("0001-01-01T00:00:00+14:00", "as-of instant 0001-01-01T00:00:00+14:00 is out of range"),
        ("9999-12-31T23:59:59-14:00", "is out of range"),
        ("1999-12-31T23:59:59Z", "is out of range"),
        ("2026-05-07", "'2026-05-07' has no time zone"),
    ],
)
def test_edge_as_of_is_400(client: TestClient, as_of: str, message: str) -> None:
    r = client.get(period_url("system", DAY, 1), params={"as_of": as_of})
    assert r.status_code == 400, r.text
    assert set(r.json()) == {"detail"}
    assert message in r.json()["detail"]


def test_as_of_range_ends_are_answered(client: TestClient) -> None:
    for as_of in ("2000-01-01T00:00:00Z", "2199-12-31T23:59:59.999999+00:00"):
        r = client.get(period_url("system", DAY, 1), params={"as_of": as_of})
        assert r.status_code == 200, r.text
        assert r.json()["as_of"] == datetime.fromisoformat(as_of).isoformat()


def test_as_of_is_documented_as_a_date_time(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    path = "/tenants/{tenant}/periods/{subject}/{settlement_date}/{settlement_period}"
    (param,) = [p for p in spec["paths"][path]["get"]["parameters"] if p["name"] == "as_of"]
    assert param["in"] == "query" and not param.get("required", False)
    assert {"type": "string", "format": "date-time"}.items() <= param["schema"]["anyOf"][0].items()


@pytest.mark.parametrize("tenant", ["a%0A", "a%0D%0A", "%20a"])
def test_tenant_with_stray_characters_is_400(client: TestClient, tenant: str) -> None:
    data = report()
    assert upload(client, data, "sf1.txt", tenant="a").status_code == 200
    r = client.get(f"/tenants/{tenant}/periods/party:{PARTY}/{DAY}/1")
    assert r.status_code == 400, r.text
    assert "is not a tenant name" in r.json()["detail"]
    r = client.get(f"/tenants/{tenant}/flows/{sha(data)}")
    assert r.status_code == 400, r.text
    r = client.post(f"/tenants/{tenant}/flows", content=data, params={"file_name": "x.txt"})
    assert r.status_code == 400, r.text
    assert client.get(f"/tenants/a/flows/{sha(data)}").json()["receipts"] == 1


def test_configuration_error_is_503_without_details(
    runtime: LedgerRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    def misconfigured(*args: Any, **kwargs: Any) -> Any:
        raise ConfigurationError("the SQLite database /secret/path/ledger.db is read-only")

    monkeypatch.setattr(runtime, "period", misconfigured)
    with TestClient(create_app(runtime)) as client:
        r = client.get(period_url("system", DAY, 1))
    assert r.status_code == 503
    assert set(r.json()) == {"detail"}
    assert "/secret/path" not in r.text
    assert "configured" in r.json()["detail"]
