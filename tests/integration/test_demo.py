"""The demo, as the README's first command runs it (without serving): every sample file gets
the verdict its note promises, and the summary shows what each flow made (both backends)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from integration.conftest import Cli
from ledger.service.runtime import LedgerRuntime


def verdicts(out: str) -> dict[str, str]:
    """Each ingested file's verdict, by file name, from the demo's list."""
    found: dict[str, str] = {}
    for line in out.splitlines():
        match = re.match(r"  (accepted|duplicate|rejected|not interpreted) +(\S+) ", line)
        if match:
            found.setdefault(match.group(2), match.group(1))
    return found


def test_the_demo_ingests_every_flow_and_says_what_each_made(cli: Cli, tmp_path: Path) -> None:
    code, out, err = cli("demo", "--no-serve", "--data-dir", str(tmp_path / "demo-data"))
    assert (code, err) == (0, "")
    seen = verdicts(out)
    assert seen["S0142_20260506_R1_20260614220000.gz"] == "accepted"
    assert seen["S0142_20260329_II_20260403220000"] == "accepted"  # the same run, unzipped
    assert seen["S0141_20260506_SF_broken.txt"] == "rejected"
    for name in ("DISEBSP_20260506.json", "D0036_estimated.txt", "D0036_actual.txt", "D0010.txt"):
        assert seen[name] == "accepted", name
    for name in ("IF-021.json", "D0012.txt", "notes.txt"):
        assert seen[name] == "not interpreted", name
    assert "598 already held (the same run again)" in out
    assert "1 meter readings" in out
    assert re.search(r"system on 2026-05-06 period 14: .*v4 PUB; best available: R1", out)
    assert re.search(r"period 1: v1 estimated, v2 actual; best available: actual", out)
    assert re.search(r"blocks_billing +rejected_file", out)
    assert "has period 50" in out


def test_the_demo_s_own_suggestions_run_and_its_messages_are_whole(
    cli: Cli, tmp_path: Path, runtime: LedgerRuntime
) -> None:
    code, out, err = cli("demo", "--no-serve", "--data-dir", str(tmp_path / "demo-data"))
    assert (code, err) == (0, "")
    # Every exception shown is shown whole, wrapped between words (never mid-date or mid-word).
    section = out.split("most at risk first:\n")[1].split("\n\n")[0]
    shown = " ".join(section.split())
    raised = runtime.exceptions.find(tenant="default")[:5]
    for view in raised:
        assert " ".join(view.message.split()) in shown, view.message
    assert all(len(line) <= 80 for line in section.splitlines())
    # Every "Try:" suggestion of the ledger's own runs as printed.
    tried = [
        line.strip().removeprefix(".venv/bin/ledger ")
        for line in out.split("\nTry:\n")[1].splitlines()
        if line.strip().startswith(".venv/bin/ledger ")
    ]
    assert tried[0] == "exceptions --tenant default"
    for suggestion in tried:
        code, _, err = cli(*shlex.split(suggestion))
        assert (code, err) == (0, ""), suggestion
