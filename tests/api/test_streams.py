"""Live streams of the feed on a real server (uvicorn, in a thread, on SQLite): bounded in
number (503 beyond, in all and per tenant), a client that never reads has its stream closed
after the write timeout, and open streams never hold up ordinary requests."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from test_api import DAY, report

from api.app import create_app
from api.streams import StreamGate
from ledger.domain.runs import RunType
from ledger.service.runtime import LedgerRuntime
from ledger.service.settings import StreamSettings

# Generous: how long a test waits for what must happen (never a measure of speed).
PATIENCE = 60.0


@pytest.fixture
def runtime(sqlite_url: str) -> Iterator[LedgerRuntime]:
    opened = LedgerRuntime(sqlite_url)
    try:
        yield opened
    finally:
        opened.close()


class Served:
    """The API on a real server, on a port of its own."""

    def __init__(self, app: FastAPI, sock: socket.socket) -> None:
        self.app = app
        host, port = sock.getsockname()[:2]
        self.address = (host, port)
        self.url = f"http://{host}:{port}"

    @property
    def gate(self) -> StreamGate:
        gate = self.app.state.stream_gate
        assert isinstance(gate, StreamGate)
        return gate

    def wait_for_streams(self, condition: Callable[[int], bool]) -> None:
        assert self.gate.wait_for(condition, PATIENCE), self.gate.open_streams()


@contextmanager
def serving(runtime: LedgerRuntime, settings: StreamSettings) -> Iterator[Served]:
    app = create_app(runtime, streams=settings)
    # Bound and listening before the server starts: clients may connect at once.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A small send buffer (every accepted connection inherits it, and the kernel then leaves
    # it so): a client that does not read backs the server's writes up after a few pages.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    config = uvicorn.Config(app, log_level="error", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield Served(app, sock)
    finally:
        server.should_exit = True
        thread.join(timeout=PATIENCE)
        sock.close()
        assert not thread.is_alive(), "the server did not stop"


def stream_request(tenant: str) -> bytes:
    return f"GET /tenants/{tenant}/feed/stream HTTP/1.1\r\nHost: ledger\r\n\r\n".encode()


@contextmanager
def never_reading(served: Served, tenant: str) -> Iterator[socket.socket]:
    """A client that asks for a stream and then never reads a byte (a small receive buffer,
    so the server's writes back up soon)."""
    client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    try:
        client.connect(served.address)
        client.sendall(stream_request(tenant))
        yield client
    finally:
        client.close()


def period(served: Served) -> httpx.Response:
    """An ordinary query, on a connection of its own."""
    return httpx.get(f"{served.url}/tenants/a/periods/system/{DAY.isoformat()}/3", timeout=PATIENCE)


def refusal(served: Served, tenant: str) -> httpx.Response:
    """A stream asked for, its answer read only if it is not a stream (which never ends)."""
    with httpx.stream("GET", f"{served.url}/tenants/{tenant}/feed/stream", timeout=PATIENCE) as r:
        if r.status_code != 200:
            r.read()
        return r


def test_streams_are_bounded_in_all_and_per_tenant(runtime: LedgerRuntime) -> None:
    settings = StreamSettings(streams=3, per_tenant=2, write_timeout=PATIENCE)
    with serving(runtime, settings) as served, ExitStack() as streams:
        client = streams.enter_context(httpx.Client(base_url=served.url, timeout=PATIENCE))

        def open_stream(tenant: str) -> httpx.Response:
            return streams.enter_context(client.stream("GET", f"/tenants/{tenant}/feed/stream"))

        assert [open_stream("a").status_code for _ in range(2)] == [200, 200]
        refused = refusal(served, "a")
        assert refused.status_code == 503 and refused.headers["Retry-After"]
        assert "tenant 'a' has 2 streams of the feed open" in refused.json()["detail"]
        assert open_stream("b").status_code == 200
        refused = refusal(served, "c")
        assert refused.status_code == 503
        assert "serving 3 streams of the feed" in refused.json()["detail"]
        assert served.gate.open_streams() == 3
        # Ordinary requests are not counted.
        assert period(served).status_code == 200
    # A stream closed gives its place back.
    assert served.gate.open_streams() == 0


def test_a_client_that_never_reads_has_its_stream_closed(
    runtime: LedgerRuntime, caplog: pytest.LogCaptureFixture
) -> None:
    # Enough events that the server's writes back up behind a client that reads nothing.
    for run in ("SF", "R1"):
        ingested = runtime.ingest_bytes(
            report(run_type=RunType(run)), file_name=f"{run}.txt", tenant="a"
        )
        assert ingested.status == "accepted"
    settings = StreamSettings(streams=5, per_tenant=5, write_timeout=0.5)
    with serving(runtime, settings) as served, never_reading(served, "a"):
        served.wait_for_streams(lambda n: n == 1)
        # The write timed out: the stream was closed and its place given back.
        served.wait_for_streams(lambda n: n == 0)
        assert "a stream of tenant 'a' was closed: its client read nothing for 0.5 s" in (
            caplog.text
        )
        assert period(served).status_code == 200


def test_a_client_that_reads_is_not_cut_off(runtime: LedgerRuntime) -> None:
    assert runtime.ingest_bytes(report(), file_name="SF.txt", tenant="a").status == "accepted"
    settings = StreamSettings(streams=5, per_tenant=5, write_timeout=0.5)
    with serving(runtime, settings) as served:
        events = 0
        with httpx.stream("GET", f"{served.url}/tenants/a/feed/stream", timeout=PATIENCE) as r:
            lines = r.iter_lines()
            # Every period of the file: the system, each party, each BM Unit.
            while events < 48 * (1 + 2 + 2):
                events += next(lines).startswith("id: ")
        served.wait_for_streams(lambda n: n == 0)


def test_open_streams_take_no_worker_thread_from_ordinary_requests(
    runtime: LedgerRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More streams than the server has worker threads, each stuck reading the log (as on a
    log of other tenants' events, or a database slowed down): a period query still answers."""

    async def worker_threads() -> int:
        return int(anyio.to_thread.current_default_thread_limiter().total_tokens)

    count = anyio.run(worker_threads) + 5
    release = threading.Event()
    feed = runtime.feed

    def stuck_feed(**kwargs: Any) -> Any:
        # Longer than the query is given: only the query's answer releases the streams.
        release.wait(3 * PATIENCE)
        return feed(**kwargs)

    monkeypatch.setattr(runtime, "feed", stuck_feed)
    settings = StreamSettings(streams=count, per_tenant=count, write_timeout=PATIENCE)
    with serving(runtime, settings) as served, ExitStack() as clients:
        for _ in range(count):
            clients.enter_context(never_reading(served, "a"))
        served.wait_for_streams(lambda n: n == count)
        try:
            answer = period(served)
        finally:
            release.set()
        assert answer.status_code == 200
        assert answer.json()["subject"] == "system"
