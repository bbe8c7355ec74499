"""Bounded memory whatever the input: a gzip bomb of records the ledger keeps without reading
them is refused as it streams, and records kept within the bounds are written a bounded
amount at a time. Each ingestion runs in a process of its own, whose peak memory is measured
(``resource.getrusage``) against a generous bound; no timing is asserted.

SQLite only: the memory at stake is the reader's and the writer's, not the database's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ledger.demo.samples import sample_bm_unit_ids, sample_party_ids

from .conftest import with_lines_after, write_report

# The peak memory an ingestion may add to a process that has already ingested a small file.
# Before the bounds, the bomb below took 994 MB.
GROWTH_BOUND_MB = 150
PARTIES = sample_party_ids(2)
UNITS = {p: sample_bm_unit_ids(p, 2) for p in PARTIES}

_MEASURE = """
import json, resource, sys
from ledger.service.runtime import LedgerRuntime
url, warm, attack = sys.argv[1:4]
runtime = LedgerRuntime(url)
assert runtime.ingest(warm).status == "accepted"
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
result = runtime.ingest(attack)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"result": result.as_dict(), "growth_mb": (after - before) / 1024,
                  "child_peak_mb": children / 1024}))
"""

_MEASURE_API = """
import json, resource, sys, warnings
warnings.filterwarnings("ignore")
from fastapi.testclient import TestClient
from api.app import create_app
from ledger.service.runtime import LedgerRuntime
url, warm, attack = sys.argv[1:4]
runtime = LedgerRuntime(url)
with TestClient(create_app(runtime)) as client:
    def upload(path):
        with open(path, "rb") as body:
            return client.post("/tenants/t/flows", params={"file_name": path}, content=body)
    assert upload(warm).status_code == 200
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    response = upload(attack)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"result": response.json(), "growth_mb": (after - before) / 1024,
                  "child_peak_mb": 0}))
"""


def measured(
    files: Path, warm: Path, attack: Path, *, program: str = _MEASURE, **env: str
) -> dict[str, Any]:
    """Ingest ``warm`` then ``attack`` in a process of its own: the outcome and the memory."""
    url = f"sqlite:///{files / 'measured.db'}"
    done = subprocess.run(
        [sys.executable, "-c", program, url, str(warm), str(attack)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **env},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    found: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return found


@pytest.fixture
def warm(files: Path) -> Path:
    return write_report(files, run_type="II", parties=PARTIES, bm_units=UNITS, name="warm.txt").path


@pytest.fixture
def bomb(files: Path) -> Path:
    """A 3,000,000-line gzip bomb of TRA records in one period of the system block."""
    report = write_report(files, run_type="SF", parties=PARTIES, bm_units=UNITS, name="bomb.txt")
    return with_lines_after(
        report.path, files / "bomb.gz", b"SPI|1|", b"TRA|T_BOMB-1|1.5|", 3_000_000
    )


def assert_refused_in_bounded_memory(outcome: dict[str, Any]) -> None:
    result = outcome["result"]
    assert result["status"] == "rejected"
    (reason,) = result["reasons"]
    assert (
        "settlement period 1 of the system keeps more than 10,000 records the ledger does not "
        "interpret (10,001 TRA)" in reason
    )
    assert outcome["growth_mb"] < GROWTH_BOUND_MB, outcome
    assert outcome["child_peak_mb"] < GROWTH_BOUND_MB + 150, outcome


@pytest.mark.parametrize("apart", ["never", "0"], ids=["read here", "read apart"])
def test_a_gzip_bomb_of_kept_records_is_refused_in_bounded_memory(
    files: Path, warm: Path, bomb: Path, apart: str
) -> None:
    assert bomb.stat().st_size < 1 << 20
    outcome = measured(files, warm, bomb, LEDGER_PARSE_APART_BYTES=apart)
    assert_refused_in_bounded_memory(outcome)


def test_a_gzip_bomb_uploaded_to_the_api_is_refused_without_growing_the_server(
    files: Path, warm: Path, bomb: Path
) -> None:
    outcome = measured(files, warm, bomb, program=_MEASURE_API, LEDGER_PARSE_APART_BYTES="never")
    assert_refused_in_bounded_memory(outcome)


def test_records_kept_within_the_bounds_are_written_a_bounded_amount_at_a_time(
    files: Path, warm: Path
) -> None:
    """Every BM Unit period keeps 5,000 records, under the bound per period: the file lands,
    and memory holds a few batches of them, never the file's 960,000."""
    report = write_report(files, run_type="SF", parties=PARTIES, bm_units=UNITS, name="big.txt")
    spread = with_lines_after(report.path, files / "spread.gz", b"BP7|", b"MVR|X|1|", 5_000)
    outcome = measured(files, warm, spread, LEDGER_PARSE_APART_BYTES="never")
    assert outcome["result"]["status"] == "accepted", outcome["result"]["reasons"]
    assert outcome["growth_mb"] < GROWTH_BOUND_MB, outcome
