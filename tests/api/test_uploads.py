"""Uploads under hostile input and load: size limits, overload refused fast, streamed bytes.

On SQLite and on PostgreSQL (fixture ``database_url``).
"""

from __future__ import annotations

import hashlib
import io
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from typing import Any

import pytest
from integration.conftest import bpi_disagreeing
from starlette.exceptions import StarletteDeprecationWarning

from api.app import create_app
from ledger.adapters.raw_payloads import CHUNK_BYTES, Spool
from ledger.demo.samples import sample_bm_unit_ids, sample_party_ids, write_settlement_report
from ledger.domain.runs import RunType
from ledger.flows.idd import idd_checksum
from ledger.service.runtime import LedgerRuntime
from ledger.service.settings import UploadSettings

with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore",
        message=r"Using `httpx` with `starlette\.testclient` is deprecated",
        category=StarletteDeprecationWarning,
    )
    from fastapi.testclient import TestClient

DAY = date(2026, 5, 6)
PARTIES = sample_party_ids(2)


def report(run_type: str = "SF") -> bytes:
    out = io.BytesIO()
    write_settlement_report(
        out,
        flow="S0142",
        settlement_date=DAY,
        run_type=RunType(run_type),
        run_number=1,
        parties=PARTIES,
        bm_units={p: sample_bm_unit_ids(p, 1) for p in PARTIES},
        creation_time=datetime(2026, 5, 7, 10, tzinfo=UTC),
    )
    return out.getvalue()


def client_for(runtime: LedgerRuntime, **limits: Any) -> TestClient:
    return TestClient(create_app(runtime, uploads=UploadSettings(**limits)))


def upload(client: TestClient, data: bytes, name: str = "s0142.txt") -> Any:
    return client.post(
        "/tenants/a/flows",
        params={"file_name": name},
        content=data,
        headers={"content-type": "application/octet-stream"},
    )


def test_an_upload_over_the_limit_is_413_and_records_nothing(runtime: LedgerRuntime) -> None:
    data = report()
    with client_for(runtime, max_bytes=len(data) - 1) as client:
        r = upload(client, data)
        assert r.status_code == 413
        assert "LEDGER_MAX_UPLOAD_BYTES" in r.json()["detail"]
        # Without a declared length (chunked), the limit holds while the body streams in.
        chunked = client.post(
            "/tenants/a/flows",
            params={"file_name": "chunked.txt"},
            content=iter([data[:1000], data[1000:]]),
        )
        assert chunked.status_code == 413
        assert client.get("/tenants/a/flows").json()["flows"] == []
        assert upload(client, data[: len(data) // 2]).status_code == 422  # under the limit


@pytest.mark.parametrize("name", ["a\x00b", "a\nb", "x" * 300])
def test_a_file_name_a_view_could_not_hold_is_400(runtime: LedgerRuntime, name: str) -> None:
    with client_for(runtime) as client:
        r = upload(client, report(), name=name)
        assert r.status_code == 400, r.text
        assert "the file name" in r.json()["detail"]
        assert client.get("/tenants/a/flows").json()["flows"] == []
        # Every tenant is still served: the log holds nothing the views cannot.
        assert upload(client, report(), name="fine.txt").status_code == 200
        assert client.get(f"/tenants/a/periods/party:{PARTIES[0]}/{DAY}/1").status_code == 200


def test_an_upload_finding_no_place_is_503_at_once_and_reads_still_answer(
    runtime: LedgerRuntime,
) -> None:
    release = threading.Event()
    started = threading.Event()
    ingest = runtime.ingest_spool

    def slow_ingest(spool: Spool, **kwargs: Any) -> Any:
        started.set()
        assert release.wait(60)
        return ingest(spool, **kwargs)

    runtime.ingest_spool = slow_ingest  # type: ignore[method-assign]
    with client_for(runtime, ingests=1, wait_seconds=0.2) as client, ThreadPoolExecutor(1) as pool:
        first = pool.submit(upload, client, report("SF"), "first.txt")
        assert started.wait(30)
        second = upload(client, report("R1"), "second.txt")
        assert second.status_code == 503
        assert second.headers["retry-after"]
        assert "send it again" in second.json()["detail"]
        # Reads have their own capacity.
        assert client.get(f"/tenants/a/periods/party:{PARTIES[0]}/{DAY}/1").status_code == 200
        release.set()
        assert first.result(timeout=60).status_code == 200
        names = [f["file_name"] for f in client.get("/tenants/a/flows").json()["flows"]]
        assert names == ["first.txt"]


def test_raw_bytes_stream_back_exactly(runtime: LedgerRuntime) -> None:
    # Several chunks' worth, so the download really streams chunk by chunk.
    data = report() + b"\n" * (2 * CHUNK_BYTES + 17)
    with client_for(runtime) as client:
        r = upload(client, data)
        digest = hashlib.sha256(data).hexdigest()
        assert r.json()["sha256"] == digest
        raw = client.get(f"/tenants/a/flows/{digest}/raw")
        assert raw.status_code == 200
        assert raw.content == data


def test_a_database_lost_mid_request_is_503_with_retry_after(runtime: LedgerRuntime) -> None:
    import psycopg

    def lost(*_: object, **__: object) -> None:
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    runtime.period = lost  # type: ignore[method-assign, assignment]
    with client_for(runtime) as client:
        r = client.get(f"/tenants/a/periods/party:{PARTIES[0]}/{DAY}/1")
    assert r.status_code == 503
    assert r.headers["retry-after"]
    assert "interrupted" in r.json()["detail"]


def with_a_warning_per_bm_unit_period(data: bytes) -> bytes:
    """The report with every BPI line disagreeing with its BM Unit's BP7 (trailer repaired)."""
    records = bpi_disagreeing(data.splitlines()[:-1])
    trailer = f"ZZZ|{len(records) + 1}|{idd_checksum(records)}|".encode()
    return b"\n".join([*records, trailer, b""])


def test_every_warning_and_check_of_an_upload_is_shown(runtime: LedgerRuntime) -> None:
    data = with_a_warning_per_bm_unit_period(report())  # 2 BM Units: 96 warnings
    sha256 = hashlib.sha256(data).hexdigest()
    with client_for(runtime) as client:
        r = upload(client, data)
        assert r.status_code == 200
        assert (r.json()["warning_count"], len(r.json()["warnings"])) == (96, 21)
        flow = client.get(f"/tenants/a/flows/{sha256}").json()
        assert (flow["warning_count"], len(flow["warnings"])) == (96, 21)
        (validated,) = [s for s in flow["stages"] if s["stage"] == "validated"]
        assert [(c["check"], c["outcome"]) for c in validated["detail"]["checks"]] == [
            (check, "passed")
            for check in (
                "envelope",
                "record count",
                "checksum",
                "layout version",
                "day length",
                "duplicates",
            )
        ]
        found, after = [], 0
        while after is not None:
            page = client.get(
                f"/tenants/a/flows/{sha256}/warnings", params={"after": after, "limit": 40}
            )
            assert page.status_code == 200
            body = page.json()
            assert (body["warning_count"], body["listed"]) == (96, 96)
            found += [w["warning"] for w in body["warnings"]]
            after = body["next_after"]
        assert len(found) == 96 and found[:20] == flow["warnings"][:20]
        too_many = client.get(f"/tenants/a/flows/{sha256}/warnings", params={"limit": 1001})
        assert too_many.status_code == 422
        unknown = client.get(f"/tenants/a/flows/{'0' * 64}/warnings")
        assert unknown.status_code == 404
        other_tenant = client.get(f"/tenants/b/flows/{sha256}/warnings")
        assert other_tenant.status_code == 404
