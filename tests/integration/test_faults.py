"""The fault campaign's short run passes: ``scripts/faults.py --quick --seed 1``.

It kills ingests and rebuilds at random points, races commands, restarts a throwaway
PostgreSQL cluster mid-ingest and times reads during a long ingest, then checks that no
event was lost or duplicated and that the views equal a rebuild (see scripts/faults.py).
The SQLite half needs no PostgreSQL; the PostgreSQL half gets the test server through
``LEDGER_TEST_POSTGRES_URL`` (so it carries the ``postgres`` marker).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "faults.py"


def run_campaign(backend: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--seed", "1", "--backends", backend],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        # A bound on waiting for the subprocess, not a timing assertion.
        timeout=600,
        check=False,
    )


def test_fault_campaign_on_sqlite(tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    done = run_campaign("sqlite", env)
    assert done.returncode == 0, done.stdout + done.stderr


def test_fault_campaign_on_postgres(postgres_admin_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "TMPDIR": str(tmp_path), "LEDGER_TEST_POSTGRES_URL": postgres_admin_url}
    done = run_campaign("postgres", env)
    assert done.returncode == 0, done.stdout + done.stderr
