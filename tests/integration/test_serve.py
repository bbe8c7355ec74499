"""``ledger serve`` runs the API as its own entry point, on the database the CLI is set to."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import uvicorn

from ledger.cli import API_FACTORY, listening_socket

from .conftest import DAY, PARTY_SUBJECT, write_report

LEDGER = str(Path(sys.executable).with_name("ledger"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> dict[str, object] | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body: dict[str, object] = json.load(response)
            return body
    except OSError:
        return None


def test_serve_answers_from_the_ledger_the_cli_wrote(database_url: str, files: Path) -> None:
    env = {**os.environ, "LEDGER_DATABASE_URL": database_url}
    report = write_report(files)
    ingest = subprocess.run(
        [LEDGER, "ingest", str(report.path)], env=env, capture_output=True, timeout=120
    )
    assert ingest.returncode == 0, ingest.stderr
    port = _free_port()
    server = subprocess.Popen(
        [LEDGER, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while _get(f"{base}/health") is None:
            assert server.poll() is None, "the server stopped"
            assert time.monotonic() < deadline, "the server did not answer within a minute"
            time.sleep(0.1)  # polling for readiness, not a timed assertion
        view = _get(f"{base}/tenants/default/periods/{PARTY_SUBJECT}/{DAY}/1")
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert view is not None
    best = view["best"]
    assert isinstance(best, dict) and best["source"]["sha256"] == report.sha256


@pytest.mark.skipif(not hasattr(socket, "TCP_USER_TIMEOUT"), reason="Linux's TCP_USER_TIMEOUT")
def test_a_connection_whose_client_reads_nothing_is_dropped_after_the_write_timeout() -> None:
    """Every connection ``ledger serve`` accepts carries the kernel's user timeout: one whose
    client reads nothing (data unacknowledged, or a window left shut) for the streams' write
    timeout is dropped, rather than kept open for good once the API has closed its stream."""
    config = uvicorn.Config(API_FACTORY, factory=True, host="127.0.0.1", port=0)
    listening = listening_socket(config, 0.25)
    try:
        listening.listen(1)
        with socket.create_connection(listening.getsockname()[:2], timeout=30):
            accepted, _ = listening.accept()
            with accepted:
                option = accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)
        assert option == 250
    finally:
        listening.close()
