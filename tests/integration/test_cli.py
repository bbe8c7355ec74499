"""The ``ledger`` command line, on the database LEDGER_DATABASE_URL names."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from integration.conftest import DAY, PARTY, PARTY_SUBJECT, S0142_PERIODS, edit_lines, write_report
from ledger.cli import main

Cli = Callable[..., tuple[int, str, str]]
RESULT_KEYS = {"file", "flow", "status", "periods", "events", "reasons"}


@pytest.fixture
def cli(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Cli:
    """Runs ``ledger ARGS...``: (exit code, stdout, stderr)."""
    monkeypatch.setenv("LEDGER_DATABASE_URL", database_url)
    capsys.readouterr()

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse rejects the command line
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err

    return run


def write_sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def json_lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def ingest_two(cli: Cli, files: Path) -> tuple[Path, Path]:
    ii = write_report(files, run_type="II").path
    sf = write_report(files, run_type="SF").path
    code, _, _ = cli("ingest", str(ii), str(sf))
    assert code == 0
    return ii, sf


def test_ingest_prints_one_json_object_per_file(cli: Cli, files: Path) -> None:
    ii = write_report(files, run_type="II")
    s0141 = write_report(files, flow="S0141", run_type="SF")
    code, out, err = cli("ingest", str(ii.path), str(s0141.path))
    assert code == 0, err
    results = json_lines(out)
    assert len(results) == 2 == len(out.splitlines())
    for result in results:
        assert RESULT_KEYS <= result.keys()
    assert [r["file"] for r in results] == [ii.path.name, s0141.path.name]
    assert [r["flow"] for r in results] == ["S0142", "S0141"]
    assert [r["status"] for r in results] == ["accepted", "accepted"]
    assert [r["periods"] for r in results] == [S0142_PERIODS, 96]
    assert [r["events"] for r in results] == [S0142_PERIODS + 3, 96 + 3]
    assert [r["reasons"] for r in results] == [[], []]
    assert results[0]["sha256"] == ii.sha256


def test_ingest_duplicates_exit_zero(cli: Cli, files: Path) -> None:
    ii, _ = ingest_two(cli, files)
    code, out, _ = cli("ingest", str(ii))
    assert code == 0
    (result,) = json_lines(out)
    assert (result["status"], result["periods"]) == ("duplicate", 0)


def test_ingest_exits_one_when_any_file_is_rejected(cli: Cli, files: Path) -> None:
    good = write_report(files, run_type="II")
    bad = write_report(files, run_type="SF")
    edit_lines(bad.path, lambda lines: [line.replace(b"PPC|1", b"PPC|2", 1) for line in lines])
    missing = files / "missing.txt"
    code, out, _ = cli("ingest", str(good.path), str(bad.path), str(missing))
    assert code == 1
    results = json_lines(out)
    assert [r["status"] for r in results] == ["accepted", "rejected", "rejected"]
    assert "checksum" in results[1]["reasons"][0]
    assert "S0142" in results[1]["reasons"][0] and DAY.isoformat() in results[1]["reasons"][0]
    assert results[2]["file"] == str(missing)
    assert results[2]["reasons"]


def test_period(cli: Cli, files: Path) -> None:
    ii, sf = ingest_two(cli, files)
    code, out, err = cli("period", f"party:{PARTY.lower()}", DAY.isoformat(), "3")
    assert code == 0, err
    view = json.loads(out)
    assert view["subject"] == PARTY_SUBJECT
    assert view["settlement_date"] == DAY.isoformat()
    assert view["settlement_period"] == 3
    versions = view["versions"]
    assert [v["version"] for v in versions] == [1, 2]
    assert [(v["run_type"], v["run_number"]) for v in versions] == [("II", 1), ("SF", 1)]
    for version, path in zip(versions, (ii, sf), strict=True):
        assert {"version", "run_type", "run_number", "recorded_at", "values", "source"} <= set(
            version
        )
        assert version["source"]["sha256"] == write_sha(path)
        datetime.fromisoformat(version["recorded_at"])
        assert all(isinstance(v, str) for v in version["values"].values())
    assert view["best"] == versions[1]


def test_period_as_of(cli: Cli, files: Path) -> None:
    ingest_two(cli, files)
    _, out, _ = cli("period", PARTY_SUBJECT, DAY.isoformat(), "3")
    first, second = json.loads(out)["versions"]
    t1 = datetime.fromisoformat(first["recorded_at"])
    t2 = datetime.fromisoformat(second["recorded_at"])
    between = t1 + (t2 - t1) / 2

    code, out, _ = cli(
        "period", PARTY_SUBJECT, DAY.isoformat(), "3", "--as-of", between.isoformat()
    )
    assert code == 0
    view = json.loads(out)
    assert [v["version"] for v in view["versions"]] == [1]
    assert view["best"]["run_type"] == "II"

    zulu = between.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    code, out, _ = cli("period", PARTY_SUBJECT, DAY.isoformat(), "3", "--as-of", zulu)
    assert code == 0
    assert [v["version"] for v in json.loads(out)["versions"]] == [1]

    code, out, _ = cli(
        "period", PARTY_SUBJECT, DAY.isoformat(), "3", "--as-of", "2000-01-01T00:00:00Z"
    )
    assert code == 0
    assert json.loads(out)["versions"] == [] and json.loads(out)["best"] is None

    code, out, err = cli("period", PARTY_SUBJECT, DAY.isoformat(), "3", "--as-of", "2026-05-07")
    assert code == 2
    assert "has no time zone" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["party:not a party!", "2026-05-01", "3"], "is not a BSC Party Id"),
        (["nonsense", "2026-05-01", "3"], "is not a subject"),
        ([PARTY_SUBJECT, "2026-05-01", "49"], "settlement period 49 does not exist on 2026-05-01"),
        ([PARTY_SUBJECT, "2026-03-29", "47"], "which has 46 periods"),
        ([PARTY_SUBJECT, "2026-02-30", "3"], "'2026-02-30' is not a settlement date (YYYY-MM-DD)"),
        ([PARTY_SUBJECT, "yesterday", "3"], "is not a settlement date"),
        ([PARTY_SUBJECT, "2026-05-01", "three"], "invalid int value: 'three'"),
    ],
)
def test_period_errors(cli: Cli, argv: list[str], message: str) -> None:
    code, out, err = cli("period", *argv)
    assert code == 2
    assert out == ""
    assert message in err


def test_rebuild(cli: Cli, files: Path) -> None:
    ingest_two(cli, files)
    _, before, _ = cli("period", PARTY_SUBJECT, DAY.isoformat(), "48")
    code, out, err = cli("rebuild")
    assert code == 0, err
    rebuilt = json.loads(out)
    assert rebuilt["rebuilt"] == ["period_versions", "flows"]
    assert rebuilt["events"] == 2 * (S0142_PERIODS + 3)
    _, after, _ = cli("period", PARTY_SUBJECT, DAY.isoformat(), "48")
    assert after == before


def test_other_tenant_sees_nothing(cli: Cli, files: Path) -> None:
    ii, _ = ingest_two(cli, files)
    code, out, _ = cli("--tenant", "other", "period", PARTY_SUBJECT, DAY.isoformat(), "3")
    assert code == 0
    view = json.loads(out)
    assert (view["tenant"], view["versions"], view["best"]) == ("other", [], None)
    code, _, err = cli("--tenant", "other", "flow", write_sha(ii))
    assert code == 1
    assert "tenant 'other' has received no file" in err

    # Its own receipt of the same bytes is a first receipt, not a duplicate.
    code, out, _ = cli("--tenant", "other", "ingest", str(ii))
    assert code == 0
    assert json_lines(out)[0]["status"] == "accepted"


def test_flow(cli: Cli, files: Path) -> None:
    ii, _ = ingest_two(cli, files)
    code, out, _ = cli("flow", write_sha(ii))
    assert code == 0
    flow = json.loads(out)
    assert (flow["status"], flow["flow"], flow["periods"]) == ("accepted", "S0142", S0142_PERIODS)
    assert [s["stage"] for s in flow["stages"]] == ["received", "validated", "interpreted"]


def test_malformed_tenant_is_refused_and_nothing_is_written(cli: Cli, files: Path) -> None:
    ii, _ = ingest_two(cli, files)
    code, _, err = cli("--tenant", "Acme Corp", "ingest", str(ii))
    assert code == 2
    assert "'Acme Corp' is not a tenant name" in err
    code, _, err = cli("--tenant", "", "period", PARTY_SUBJECT, DAY.isoformat(), "3")
    assert code == 2
    assert "is not a tenant name" in err
