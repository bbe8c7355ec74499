"""The eventsourcing library's ``POSTGRES_SCHEMA`` setting moves the whole ledger: the event
store (the library's tables) and the ledger's own tables go to that schema, or the ledger
refuses to start, in one line naming the setting."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from integration.conftest import DAY, PARTY_SUBJECT, write_report
from ledger.cli import main
from ledger.service.runtime import LedgerRuntime

# The library's events table, and the ledger's own tables from first to last set up.
SOME_TABLES = {"ledger_events", "raw_payloads", "ledger_tracking", "ledger_schema"}


def _cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _create_schema(url: str, name: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))


def _tables(url: str) -> dict[str, set[str]]:
    """Every table of the database outside the system's schemas, by schema."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
    found: dict[str, set[str]] = {}
    for schema, table in rows:
        found.setdefault(schema, set()).add(table)
    return found


def test_ingest_works_in_the_schema_the_library_is_given(
    postgres_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _create_schema(postgres_url, "other")
    monkeypatch.setenv("LEDGER_DATABASE_URL", postgres_url)
    monkeypatch.setenv("POSTGRES_SCHEMA", "other")
    report = write_report(tmp_path)

    code, out, err = _cli(["ingest", str(report.path)], capsys)
    assert (code, err) == (0, ""), err
    assert json.loads(out)["status"] == "accepted"
    # A second process finds the schema set up there, and the views answer from it.
    code, out, err = _cli(["period", PARTY_SUBJECT, DAY.isoformat(), "1"], capsys)
    assert (code, err) == (0, ""), err
    assert json.loads(out)["best"]["version"] == 1

    tables = _tables(postgres_url)
    assert set(tables) == {"other"}, tables  # every table there, nothing in public
    assert SOME_TABLES <= tables["other"]
    with psycopg.connect(postgres_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM other.ledger_events WHERE topic LIKE %s", ("%SettlementPeriod%",)
        ).fetchone()
    assert row is not None and row[0] > 0


def test_the_application_named_setting_comes_first_as_in_the_library(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _create_schema(postgres_url, "mine")
    monkeypatch.setenv("LEDGER_POSTGRES_SCHEMA", "mine")
    monkeypatch.setenv("POSTGRES_SCHEMA", "not_this_one")
    runtime = LedgerRuntime(postgres_url)
    try:
        assert runtime.ledger.event_store.events_table == '"mine"."ledger_events"'
        assert runtime.ingest(write_report(tmp_path).path).status == "accepted"
    finally:
        runtime.close()
    assert set(_tables(postgres_url)) == {"mine"}


def test_a_schema_that_does_not_exist_is_refused_at_start_up(
    postgres_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", postgres_url)
    monkeypatch.setenv("POSTGRES_SCHEMA", "missing")
    code, out, err = _cli(["ingest", str(write_report(tmp_path).path)], capsys)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("ledger: POSTGRES_SCHEMA='missing' names a schema that the PostgreSQL")
    assert "create it there (CREATE SCHEMA missing)" in err
    assert _tables(postgres_url) == {}  # nothing was written anywhere


@pytest.mark.parametrize("name", ["Other", "two words", "x" * 64, 'a"b'])
def test_a_schema_name_the_library_cannot_use_is_refused(
    name: str,
    postgres_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The library looks its composite type up by the unquoted name, so "Other" would start
    # and then fail at the first correction.
    monkeypatch.setenv("LEDGER_DATABASE_URL", postgres_url)
    monkeypatch.setenv("POSTGRES_SCHEMA", name)
    code, _, err = _cli(["rebuild"], capsys)
    assert code == 2
    assert err.startswith(f"ledger: POSTGRES_SCHEMA={name!r} is not a schema name the ledger")
    assert _tables(postgres_url) == {}
