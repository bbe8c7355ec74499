"""``ledger correct`` and ``ledger intervene``: each prints the period as ``ledger period`` does,
and a refusal is one line on standard error, exit status 2, with nothing written. Both
backends."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from integration.conftest import DAY, PARTY_SUBJECT, Cli, count_events, write_report
from ledger.service.runtime import LedgerRuntime

TENANT = "acme"
PERIOD = "7"
WHERE = (PARTY_SUBJECT, DAY.isoformat(), PERIOD)
BY = ("--reason", "value disputed by the party", "--actor", "ops.lead")


@pytest.fixture
def cli(cli: Cli) -> Cli:
    """Runs ``ledger --tenant acme ARGS...``: (exit code, stdout, stderr)."""
    return functools.partial(cli, "--tenant", TENANT)


@pytest.fixture
def two_runs(cli: Cli, files: Path) -> Cli:
    """II then SF ingested for tenant ``acme``: versions 1 (II) and 2 (SF, best)."""
    paths = [str(write_report(files, run_type=run).path) for run in ("II", "SF")]
    code, _, err = cli("ingest", *paths)
    assert code == 0, err
    return cli


def shown(cli: Cli, *argv: str) -> dict[str, Any]:
    """What a command that succeeded printed: the period, the same as ``ledger period``."""
    code, out, err = cli(*argv)
    assert (code, err) == (0, ""), err
    view: dict[str, Any] = json.loads(out)
    assert view == json.loads(cli("period", *WHERE)[1])
    return view


def test_correct_prints_the_period_with_the_new_version(two_runs: Cli) -> None:
    view = shown(
        two_runs,
        "correct",
        *WHERE,
        "--version",
        "2",
        "--set",
        "bm_unit_cashflow=-1234.56",
        "--set",
        "non_delivery_charge=0.00",
        "--reason",
        "BSCCo query 123: cashflow restated",
        "--actor",
        "j.smith",
    )
    correction = view["versions"][-1]
    assert (correction["version"], correction["kind"], correction["supersedes"]) == (
        3,
        "correction",
        2,
    )
    # The measures set, over the corrected version's others (which carry over).
    assert (
        correction["values"].items()
        >= {"bm_unit_cashflow": "-1234.56", "non_delivery_charge": "0.00"}.items()
    )
    assert (correction["reason"], correction["actor"]) == (
        "BSCCo query 123: cashflow restated",
        "j.smith",
    )
    assert view["best"] == correction


def test_intervene_holds_pins_and_releases(two_runs: Cli) -> None:
    held = shown(two_runs, "intervene", *WHERE, "hold", *BY)
    assert held["held"] == {
        "actor": "ops.lead",
        "reason": "value disputed by the party",
        "since": held["interventions"][0]["recorded_at"],
    }
    assert (held["pinned_version"], held["best"]["version"]) == (None, 2)

    pinned = shown(two_runs, "intervene", *WHERE, "pin", "--version", "1", *BY)
    assert (pinned["pinned_version"], pinned["best"]["version"]) == (1, 1)
    assert pinned["held"] == held["held"]

    released = shown(two_runs, "intervene", *WHERE, "release", *BY)
    assert (released["held"], released["pinned_version"], released["best"]["version"]) == (
        None,
        None,
        2,
    )
    assert [
        (i["action"], i["pinned_version"], i["outcome"]) for i in released["interventions"]
    ] == [
        ("hold", None, "held from billing"),
        ("pin", 1, "pinned version 1"),
        ("release", None, "released"),
    ]


_WHERE_TEXT = f"{PARTY_SUBJECT} on {DAY.isoformat()} period {PERIOD}"
_SET = ("--set", "bm_unit_cashflow=1")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ("correct", *WHERE, "--version", "2", *_SET, "--actor", "j.smith"),
            "a correction needs the person who made it and a reason",
        ),
        (
            ("correct", *WHERE, "--version", "2", *_SET, "--reason", "r"),
            "a correction needs the person who made it and a reason",
        ),
        (
            ("correct", *WHERE, "--version", "2", "--set", "bm_unit_cashflow=abc", *BY),
            "the value of bm_unit_cashflow is not a decimal number: 'abc' (write digits with an "
            "optional sign and decimal point, e.g. -1234.56)",
        ),
        (
            ("correct", *WHERE, "--version", "2", "--set", "bm_unit_cashflow=1e3", *BY),
            "the value of bm_unit_cashflow is not a decimal number: '1e3'",
        ),
        (
            ("correct", *WHERE, "--version", "2", "--set", "bm_unit_cashflow", *BY),
            "--set 'bm_unit_cashflow' is not MEASURE=VALUE: write e.g. "
            "--set bm_unit_cashflow=-1234.56",
        ),
        (
            ("correct", *WHERE, "--version", "2", *_SET, "--set", "bm_unit_cashflow=2", *BY),
            "a correction gives bm_unit_cashflow twice",
        ),
        (
            ("correct", *WHERE, *_SET, *BY),
            "ledger correct needs --version N: the version the correction supersedes",
        ),
        (
            ("correct", *WHERE, "--version", "9", *_SET, *BY),
            f"{_WHERE_TEXT} has no version 9 to correct (versions: 1, 2)",
        ),
        (
            ("correct", *WHERE, "--version", "2", *BY),
            f"a correction of {_WHERE_TEXT} version 2 needs at least one value",
        ),
        (
            ("correct", *WHERE, "--version", "2", "--set", "energy_imbalance_cashflw=1", *BY),
            f"{_WHERE_TEXT} version 2 has no measure 'energy_imbalance_cashflw' (did you mean "
            "energy_imbalance_cashflow?): a correction sets measures the version has "
            "(bm_unit_cashflow, bssc_limited_cost_allocation, energy_imbalance_cashflow,",
        ),
        (
            ("intervene", *WHERE, "park", *BY),
            "unknown intervention 'park': write hold, pin or release",
        ),
        (
            ("intervene", *WHERE, "hold", "--version", "1", *BY),
            "a hold names no version (only a pin does): leave the version out",
        ),
        (
            ("intervene", *WHERE, "release", "--version", "1", *BY),
            "a release names no version (only a pin does): leave the version out",
        ),
        (("intervene", *WHERE, "pin", *BY), "a pin needs the version to pin, e.g. version 3"),
        (
            ("intervene", *WHERE, "pin", "--version", "5", *BY),
            f"{_WHERE_TEXT} has no version 5 to pin (versions: 1, 2)",
        ),
        (
            ("intervene", *WHERE, "release", *BY),
            f"{_WHERE_TEXT} is neither held nor pinned: there is nothing to release",
        ),
        (
            ("intervene", *WHERE, "hold", "--actor", "ops.lead"),
            "a hold needs the person who made it and a reason",
        ),
        (
            ("intervene", "party:PTY00099", DAY.isoformat(), PERIOD, "hold", *BY),
            "tenant 'acme' has no values for party:PTY00099",
        ),
        (
            ("intervene", *WHERE[:2], "49", "hold", *BY),
            "period 49",
        ),
    ],
)
def test_a_refusal_is_one_line_and_writes_nothing(
    two_runs: Cli,
    open_runtime: Callable[[], LedgerRuntime],
    argv: tuple[str, ...],
    message: str,
) -> None:
    before = count_events(open_runtime())
    period = json.loads(two_runs("period", *WHERE)[1])
    code, out, err = two_runs(*argv)
    assert code == 2
    assert out == ""
    assert err.startswith("ledger: ") and message in err, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert count_events(open_runtime()) == before
    after = json.loads(two_runs("period", *WHERE)[1])
    assert {k: v for k, v in after.items() if k != "views"} == {
        k: v for k, v in period.items() if k != "views"
    }


def test_a_second_hold_is_refused_naming_who_holds_it(two_runs: Cli) -> None:
    shown(two_runs, "intervene", *WHERE, "hold", *BY)
    code, out, err = two_runs("intervene", *WHERE, "hold", "--reason", "r", "--actor", "x")
    assert (code, out) == (2, "")
    assert err == (
        f"ledger: {_WHERE_TEXT} is already held from billing by ops.lead: release it first\n"
    )
    code, _, err = two_runs("intervene", *WHERE, "pin", "--version", "1", *BY)
    assert code == 0, err
    code, _, err = two_runs("intervene", *WHERE, "pin", "--version", "1", *BY)
    assert (code, err) == (2, f"ledger: {_WHERE_TEXT} already has version 1 pinned\n")
