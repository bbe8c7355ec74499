"""The ``ledger`` command line, on the database LEDGER_DATABASE_URL names."""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from integration.conftest import (
    DAY,
    PARTY,
    PARTY_SUBJECT,
    S0141_PERIODS,
    S0142_PERIODS,
    Cli,
    edit_lines,
    replace_once,
    write_report,
)
from ledger.cli import READER_GONE, _parser, main
from ledger.service.ingestion import Ingestor, IngestResult
from ledger.service.runtime import LedgerRuntime

RESULT_KEYS = {"file", "flow", "status", "periods", "events", "reasons"}


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
    # The path exactly as given on the command line (it used to be the base name).
    assert [r["file"] for r in results] == [str(ii.path), str(s0141.path)]
    assert [r["flow"] for r in results] == ["S0142", "S0141"]
    assert [r["status"] for r in results] == ["accepted", "accepted"]
    assert [r["periods"] for r in results] == [S0142_PERIODS, S0141_PERIODS]
    # The S0141 also raises one exception (its party's charges move against the S0142's).
    assert [r["events"] for r in results] == [S0142_PERIODS + 5, S0141_PERIODS + 6]
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
    edit_lines(bad.path, replace_once(b"PPC|0|", b"PPC|9|"))
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
    assert rebuilt["rebuilt"] == [
        "period_versions",
        "flows",
        "documents",
        "document_revisions",
        "exceptions",
        "identity_mappings",
        "meter_readings",
        "flow_validation",
    ]
    assert rebuilt["events"] == 2 * (S0142_PERIODS + 5) + 2  # and the exceptions raised
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


def test_the_tenant_may_follow_the_command(cli: Cli, files: Path) -> None:
    ii, _ = ingest_two(cli, files)
    where = (PARTY_SUBJECT, DAY.isoformat(), "3")
    for argv in (
        ("period", *where, "--tenant", "other"),
        ("--tenant", "other", "period", *where),
        ("--tenant", "other", "period", *where, "--tenant", "other"),
    ):
        code, out, err = cli(*argv)
        assert (code, err) == (0, ""), argv
        assert json.loads(out)["tenant"] == "other"
    code, out, _ = cli("ingest", str(ii), "--tenant", "other")
    assert code == 0 and json_lines(out)[0]["status"] == "accepted"
    code, out, _ = cli("exceptions", "--tenant", "other", "--json")
    assert (code, json.loads(out)) == (0, [])
    # A command of a command group takes it after its own arguments.
    code, _, err = cli(
        "exceptions", "acknowledge", "deadbeef", "--actor", "a", "--reason", "r", "--tenant", "x"
    )
    assert code == 2 and "tenant 'x' has no exception 'deadbeef'" in err
    # Two different tenants: refused in one line, nothing done.
    code, out, err = cli("--tenant", "acme", "period", *where, "--tenant", "other")
    assert (code, out) == (2, "")
    assert err == "ledger: --tenant is given twice, as 'acme' and 'other': give one tenant\n"
    code, _, err = cli("exceptions", "--tenant", "a", "acknowledge", "x", "--tenant", "b")
    assert code == 2 and "--tenant is given twice" in err
    code, _, err = cli("recover", "--all-tenants", "--tenant", "other")
    assert code == 2 and "--tenant and --all-tenants exclude each other" in err


def every_command(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in dict.fromkeys(action.choices.values()):
                yield command
                yield from every_command(command)


def test_every_command_takes_the_tenant_after_it() -> None:
    commands = list(every_command(_parser()))
    assert len(commands) > 30
    for command in commands:
        assert any("--tenant" in a.option_strings for a in command._actions), command.prog


def test_flow(cli: Cli, files: Path) -> None:
    ii, _ = ingest_two(cli, files)
    code, out, _ = cli("flow", write_sha(ii))
    assert code == 0
    flow = json.loads(out)
    assert (flow["status"], flow["flow"], flow["periods"]) == ("accepted", "S0142", S0142_PERIODS)
    assert [s["stage"] for s in flow["stages"]] == [
        "received",
        "validated",
        "mapped",
        "interpreted",
        "published",
    ]


def test_malformed_tenant_is_refused_and_nothing_is_written(cli: Cli, files: Path) -> None:
    ii, _ = ingest_two(cli, files)
    code, _, err = cli("--tenant", "Acme Corp", "ingest", str(ii))
    assert code == 2
    assert "'Acme Corp' is not a tenant name" in err
    code, _, err = cli("--tenant", "", "period", PARTY_SUBJECT, DAY.isoformat(), "3")
    assert code == 2
    assert "is not a tenant name" in err


# --- ingest: one shape for every outcome ------------------------------------------------------

ALL_KEYS = {f.name for f in dataclasses.fields(IngestResult)}


def one_line_error(err: str) -> str:
    """The single ``ledger: ...`` line a refused command writes on standard error."""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith("ledger: ") and "Traceback" not in err, err
    return err


def test_ingest_reports_every_outcome_with_the_same_keys(
    cli: Cli, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(files)
    good = write_report(files, run_type="II").path.name
    bad = write_report(files, run_type="SF").path
    edit_lines(bad, replace_once(b"PPC|0|", b"PPC|9|"))
    (files / "a directory").mkdir()
    typed = [f"./{good}", good, f"./{bad.name}", "missing.txt", "a directory", f"{files}//{good}"]
    code, out, err = cli("ingest", *typed)
    assert code == 1, err
    results = json_lines(out)
    assert [set(r) for r in results] == [ALL_KEYS] * len(typed)
    assert [r["file"] for r in results] == typed
    assert [r["status"] for r in results] == [
        "accepted",
        "duplicate",
        "rejected",
        "rejected",
        "rejected",
        "duplicate",
    ]
    assert [r["reasons"] for r in results[3:5]] == [
        ["missing.txt: no such file"],
        ["a directory is a directory, not a file"],
    ]
    assert [r["sha256"] for r in results[3:5]] == [None, None]
    assert results[0]["sha256"] == write_sha(files / good) == results[1]["sha256"]
    assert (results[3]["flow"], results[3]["periods"], results[3]["events"]) == (None, 0, 0)


def test_ingest_exits_zero_when_nothing_is_rejected(cli: Cli, files: Path) -> None:
    path = str(write_report(files, run_type="II").path)
    assert cli("ingest", path)[0] == 0
    assert cli("ingest", path)[0] == 0  # a duplicate


def stdin_of(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_ingest_reads_standard_input_once(
    cli: Cli, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = write_report(files, run_type="II")
    stdin_of(monkeypatch, report.data)
    code, out, err = cli("ingest", "-")
    assert code == 0, err
    (result,) = json_lines(out)
    assert set(result) == ALL_KEYS
    assert (result["file"], result["status"], result["sha256"]) == ("-", "accepted", report.sha256)
    assert result["periods"] == S0142_PERIODS
    code, out, _ = cli("flow", report.sha256)
    assert (code, json.loads(out)["file_name"], json.loads(out)["channel"]) == (0, "-", "cli")

    # The same bytes from a file are a duplicate; "-" twice is refused before reading.
    code, out, _ = cli("ingest", str(report.path))
    assert (code, json_lines(out)[0]["status"]) == (0, "duplicate")
    code, out, err = cli("ingest", "-", str(report.path), "-")
    assert (code, out) == (2, "")
    assert "standard input (-) can be ingested once" in one_line_error(err)


def test_ingest_of_empty_standard_input_is_rejected(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    stdin_of(monkeypatch, b"")
    code, out, _ = cli("ingest", "-")
    assert code == 1
    (result,) = json_lines(out)
    assert (result["file"], result["status"]) == ("-", "rejected")
    assert any("empty" in reason for reason in result["reasons"])


# --- recover ----------------------------------------------------------------------------------


def interrupt_processing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the next ingestions stop after the receipt, as a database failure would."""

    def interrupted(*args: Any, **kwargs: Any) -> IngestResult:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(Ingestor, "_process", interrupted)


def test_recover_completes_files_left_received(
    cli: Cli, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = write_report(files, run_type="II")
    bad = write_report(files, run_type="SF")
    edit_lines(bad.path, replace_once(b"PPC|0|", b"PPC|9|"))
    with monkeypatch.context() as patch:
        interrupt_processing(patch)
        code, _, err = cli("ingest", str(good.path))
        assert code == 2 and "interrupted" in one_line_error(err)
        code, _, _ = cli("--tenant", "other", "ingest", str(bad.path))
        assert code == 2
    code, out, _ = cli("flow", good.sha256)
    assert json.loads(out)["status"] == "received"

    # Only the default tenant's file, unless every tenant is asked for.
    code, out, err = cli("recover")
    assert code == 0, err
    (result,) = json_lines(out)
    assert set(result) == ALL_KEYS
    assert (result["file"], result["sha256"], result["status"]) == (
        good.path.name,
        good.sha256,
        "accepted",
    )
    code, out, _ = cli("period", PARTY_SUBJECT, DAY.isoformat(), "3")
    assert [v["run_type"] for v in json.loads(out)["versions"]] == ["II"]

    code, out, _ = cli("recover", "--all-tenants")
    assert code == 1  # the other tenant's file is rejected
    (result,) = json_lines(out)
    assert (result["sha256"], result["status"]) == (bad.sha256, "rejected")
    assert "checksum" in result["reasons"][0]

    # Nothing left: no lines, exit 0.
    assert cli("recover", "--all-tenants") == (0, "", "")
    code, _, err = cli("--tenant", "other", "recover", "--all-tenants")
    assert code == 2 and "exclude each other" in one_line_error(err)


# --- edge values: business errors, never tracebacks -------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["9999-12-31", "1"], "settlement date 9999-12-31 is outside the settlement era"),
        (["0001-01-01", "1"], "settlement date 0001-01-01 is outside the settlement era"),
        (["2001-03-26", "1"], "from 2001-03-27 (NETA go-live) to 2099-12-31"),
        (["2100-01-01", "1"], "settlement date 2100-01-01 is outside the settlement era"),
        (["2026-05-01", "1", "--as-of", "0001-01-01T00:00:00+14:00"], "is out of range"),
        (["2026-05-01", "1", "--as-of", "9999-12-31T23:59:59-14:00"], "is out of range"),
        (["2026-05-01", "1", "--as-of", "-1"], "'-1' is not an ISO 8601 instant"),
        (["2026-05-01", "1", "--as-of", "yesterday"], "is not an ISO 8601 instant"),
        (["2026-05-01", "1", "--as-of", "2026-05-07T12:00:00"], "has no time zone"),
    ],
)
def test_period_edge_values_are_one_line_business_errors(
    cli: Cli, argv: list[str], message: str
) -> None:
    code, out, err = cli("period", "system", *argv)
    assert (code, out) == (2, "")
    assert message in one_line_error(err)


def test_era_boundaries_are_answered(cli: Cli, database_url: str) -> None:
    LedgerRuntime(database_url).close()  # an empty ledger
    for day in ("2001-03-27", "2099-12-31"):
        code, out, err = cli("period", "system", day, "48", "--as-of", "2199-12-31T23:59:59Z")
        assert code == 0, err
        assert json.loads(out)["versions"] == []


@pytest.mark.parametrize("tenant", ["acme\n", "acme\r\n", " acme", "ACME"])
def test_tenant_with_stray_characters_is_refused(
    cli: Cli, files: Path, tenant: str, database_url: str
) -> None:
    LedgerRuntime(database_url).close()  # an empty ledger
    path = str(write_report(files, run_type="II").path)
    code, out, err = cli("--tenant", tenant, "ingest", path)
    assert (code, out) == (2, "")
    assert "is not a tenant name" in one_line_error(err)
    # Nothing was received for any tenant.
    code, _, _ = cli("--tenant", "acme", "flow", write_sha(Path(path)))
    assert code == 1


@pytest.mark.parametrize("port", ["99999", "0", "-1", "http", "８０"])
def test_serve_refuses_a_port_that_is_not_one(cli: Cli, port: str) -> None:
    code, out, err = cli("serve", "--port", port)
    assert (code, out) == (2, "")
    assert f"--port {port} is not a TCP port: give a number from 1 to 65535" in one_line_error(err)


def test_layout_needs_no_database(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.setenv("LEDGER_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    assert main(["layout", "S0141009", "APC"]) == 0
    (apc,) = json.loads(capsys.readouterr().out)["records"]
    assert apc["fields"][6]["name"] == "daily_system_operator_cashflow"
    assert main(["layout", "S0141007"]) == 2
    assert "S0141007 is older than every version of S0141" in capsys.readouterr().err


# --- A reader that goes away ----------------------------------------------------------------


LEDGER = str(Path(sys.executable).with_name("ledger"))


def run_into_closed_pipe(url: str, *argv: str) -> subprocess.CompletedProcess[bytes]:
    """``ledger ARGS...`` writing into a pipe whose reader has gone (as ``| head`` leaves it
    once it has read enough): the first write fails."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [LEDGER, *argv],
            stdout=write_end,
            stderr=subprocess.PIPE,
            env={**os.environ, "LEDGER_DATABASE_URL": url},
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "argv",
    [
        ["exceptions"],
        ["exceptions", "--json"],
        ["period", PARTY_SUBJECT, DAY.isoformat(), "3"],
        ["feed", "--limit", "1000"],
        ["verify"],
    ],
    ids=lambda argv: " ".join(argv[:2]),
)
def test_a_command_whose_reader_goes_away_stops_quietly(
    sqlite_url: str, files: Path, argv: list[str]
) -> None:
    runtime = LedgerRuntime(sqlite_url)
    try:
        report = write_report(files, run_type="II")
        assert runtime.ingest(report.path).status == "accepted"
        # A file nobody recognises: an exception to list.
        unknown = runtime.ingest_bytes(b"hello\n", file_name="note.txt")
        assert unknown.status == "not interpreted"
    finally:
        runtime.close()
    done = run_into_closed_pipe(sqlite_url, *argv)
    assert (done.returncode, done.stderr) == (READER_GONE, b"")


def test_help_whose_reader_goes_away_stops_quietly(sqlite_url: str) -> None:
    # argparse prints help and usage itself, ignoring a failed write, and exits 0 (or 2).
    done = run_into_closed_pipe(sqlite_url, "--help")
    assert (done.returncode, done.stderr) == (0, b"")


def test_an_ingestion_whose_reader_goes_away_keeps_the_file(sqlite_url: str, files: Path) -> None:
    report = write_report(files, run_type="II")
    done = run_into_closed_pipe(sqlite_url, "ingest", str(report.path))
    assert (done.returncode, done.stderr) == (READER_GONE, b"")
    runtime = LedgerRuntime(sqlite_url)
    try:
        found = runtime.flow(report.sha256)
        assert found is not None and found.status == "accepted"
    finally:
        runtime.close()


# --- A subject the tenant has never had values for ------------------------------------------


def test_an_unknown_subject_is_said_plainly_and_a_quiet_date_is_not(cli: Cli, files: Path) -> None:
    ingest_two(cli, files)
    unknown = "party:TYPO"
    for argv in (
        ["period", unknown, DAY.isoformat(), "3"],
        ["day", unknown, DAY.isoformat()],
        ["history", unknown, DAY.isoformat(), "3"],
    ):
        code, out, err = cli(*argv)
        assert (code, err) == (0, ""), err
        assert json.loads(out)["subject_known"] is False
    # Another tenant's subject is unknown to this one.
    code, out, _ = cli("--tenant", "other", "period", PARTY_SUBJECT, DAY.isoformat(), "3")
    assert json.loads(out)["subject_known"] is False
    # A subject with values on other dates, none on this one (or none known yet): an empty,
    # valid answer about a known subject.
    other_day = "2026-05-02"
    for argv in (
        ["period", PARTY_SUBJECT, other_day, "3"],
        ["day", PARTY_SUBJECT, other_day],
        ["history", PARTY_SUBJECT, other_day, "3"],
        ["period", PARTY_SUBJECT, DAY.isoformat(), "3", "--as-of", "2000-01-01T00:00:00Z"],
    ):
        code, out, err = cli(*argv)
        assert (code, err) == (0, ""), err
        answer = json.loads(out)
        assert answer["subject_known"] is True
        assert answer.get("versions", []) == [] and answer.get("steps", []) == []
    code, out, _ = cli("period", PARTY_SUBJECT, DAY.isoformat(), "3")
    assert json.loads(out)["subject_known"] is True and json.loads(out)["versions"]
