"""``ledger mappings``: add, end, correct, show and list identity mappings; ``ledger period``
names the internal ids. A refusal is one line on standard error, exit status 2, with nothing
written. Both backends."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from integration.conftest import BMU_SUBJECT, DAY, Cli, write_report
from ledger.service.runtime import LedgerRuntime

TENANT = "acme"
MPAN = "mpan:2499999999991"
BY = ("--actor", "ops.lead", "--reason", "supply contract signed")


@pytest.fixture
def cli(cli: Cli) -> Cli:
    """Runs ``ledger --tenant acme ARGS...``: (exit code, stdout, stderr)."""
    return functools.partial(cli, "--tenant", TENANT)


def answer(cli: Cli, *argv: str) -> Any:
    code, out, err = cli(*argv)
    assert (code, err) == (0, ""), err
    return json.loads(out)


def refused(cli: Cli, *argv: str) -> str:
    code, out, err = cli(*argv)
    assert (code, out) == (2, ""), out
    assert err.startswith("ledger: ") and err.count("\n") == 1, err
    return err


def add(cli: Cli, internal: str = "C-100", market: str = MPAN, *more: str) -> dict[str, Any]:
    found: dict[str, Any] = answer(
        cli, "mappings", "add", "--kind", "customer", "--id", internal, "--market", market,
        "--from", "2026-01-01", *more, *BY,
    )  # fmt: skip
    return found


def test_add_end_correct_and_show(cli: Cli) -> None:
    added = add(cli, "C-100", MPAN, "--to", "2026-12-31")
    assert {
        k: added[k] for k in ("kind", "internal_id", "market_id", "valid_from", "valid_to")
    } == {
        "kind": "customer",
        "internal_id": "C-100",
        "market_id": MPAN,
        "valid_from": "2026-01-01",
        "valid_to": "2026-12-31",
    }
    key = added["mapping_id"]
    ended = answer(cli, "mappings", "end", key, "--to", "2026-06-30", *BY)
    assert (ended["valid_to"], ended["status"]) == ("2026-06-30", "ended")
    moved = answer(
        cli, "mappings", "correct", key, "--market", "mpan:1200000000011", "--to", "open", *BY
    )
    assert (moved["market_id"], moved["valid_to"], moved["status"]) == (
        "mpan:1200000000011",
        None,
        "open",
    )
    assert [c["change"] for c in moved["history"]] == ["created", "ended", "corrected"]
    assert answer(cli, "mappings", "show", key) == moved


def test_list_as_a_table_and_as_json(cli: Cli, database_url: str) -> None:
    LedgerRuntime(database_url).close()  # an empty ledger
    assert cli("mappings", "list") == (0, "no mappings\n", "")
    first = add(cli, "C-100", MPAN, "--to", "2026-03-31")
    add(cli, "C-200", "mpan:1200000000011")
    code, out, err = cli("mappings", "list", "--market", MPAN)
    assert (code, err) == (0, "")
    header, line = out.splitlines()
    assert header.split() == ["MAPPING", "ID", "KIND", "ID", "MARKET", "ID", "FROM", "TO", "STATUS"]
    assert line.split() == [
        first["mapping_id"],
        "customer",
        "C-100",
        MPAN,
        "2026-01-01",
        "2026-03-31",
        "ended",
    ]
    listed = answer(cli, "mappings", "list", "--on", "2026-04-01", "--json")
    assert listed["on"] == "2026-04-01"
    assert [m["internal_id"] for m in listed["mappings"]] == ["C-200"]
    assert answer(cli, "mappings", "list", "--id", "C-100", "--json")["mappings"] == [
        {k: v for k, v in first.items() if k != "history"}
    ]


def test_refusals_are_one_line_with_nothing_written(cli: Cli) -> None:
    held = add(cli)
    clash = refused(cli, "mappings", "add", "--kind", "customer", "--id", "C-200",
                    "--market", MPAN, "--from", "2026-02-01", *BY)  # fmt: skip
    assert f"{MPAN} cannot map to customer C-200" in clash and held["mapping_id"] in clash
    assert "no mapping 'nope'" in refused(cli, "mappings", "end", "nope", "--to", "2026-02-01", *BY)
    assert "not a settlement date" in refused(
        cli, "mappings", "end", held["mapping_id"], "--to", "01/02/2026", *BY
    )
    assert "give --from, --to or --market" in refused(
        cli, "mappings", "correct", held["mapping_id"], *BY
    )
    assert "check digit" in refused(cli, "mappings", "list", "--market", "mpan:2499999999990")
    assert [m["mapping_id"] for m in answer(cli, "mappings", "list", "--json")["mappings"]] == [
        held["mapping_id"]
    ]
    code, _, err = cli("mappings", "add", "--kind", "contract", "--id", "X", "--market", MPAN,
                       "--from", "2026-01-01", *BY)  # fmt: skip
    assert code == 2 and "invalid choice: 'contract'" in err


def test_the_period_names_the_internal_ids(cli: Cli, files: Path) -> None:
    code, _, err = cli("ingest", str(write_report(files).path))
    assert code == 0, err
    answer(cli, "mappings", "add", "--kind", "asset", "--id", "A-9", "--market", BMU_SUBJECT,
           "--from", DAY.isoformat(), *BY)  # fmt: skip
    view = answer(cli, "period", BMU_SUBJECT, DAY.isoformat(), "1")
    assert [v["internal_ids"] for v in view["versions"]] == [[{"kind": "asset", "id": "A-9"}]]
    assert view["best"]["internal_ids"] == [{"kind": "asset", "id": "A-9"}]
