"""``ledger correct`` and ``ledger intervene``: what a person changes on a settlement period by
hand, each naming who and why. Each prints the period's view afterwards, the JSON object
``ledger period`` prints (scripts depend on it):

    ledger correct SUBJECT DATE PERIOD --version N --set MEASURE=VALUE [--set ...]
        --reason TEXT --actor NAME
    ledger intervene SUBJECT DATE PERIOD hold|release|pin [--version N]
        --reason TEXT --actor NAME

A refusal (no person or reason, a version the period lacks or one already corrected, a measure
the version lacks, a period already held, a value that is not a decimal...) is one line on
standard error and exit status 2; nothing is written.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ledger.domain.aggregates import InterventionKind, correction_values
from ledger.domain.errors import ConfigurationError
from ledger.domain.plain_text import excerpt
from ledger.domain.settlement_time import parse_settlement_date
from ledger.service.runtime import LedgerRuntime

COMMANDS = ("correct", "intervene")


def add_parsers(commands: Any) -> None:
    """The ``correct`` and ``intervene`` commands, on the CLI's sub-parsers."""
    correct = commands.add_parser(
        "correct",
        help="correct one version's values: a new version naming who and why; prints the period",
    )
    _period_arguments(correct)
    correct.add_argument(
        "--version",
        type=int,
        metavar="N",
        help="the version the correction supersedes (a version already corrected is refused: "
        "correct its latest correction instead)",
    )
    correct.add_argument(
        "--set",
        action="append",
        default=[],
        dest="values",
        metavar="MEASURE=VALUE",
        help="a measure and its corrected value, an exact decimal, e.g. "
        "bm_unit_cashflow=-1234.56 (once per measure)",
    )
    _attribution_arguments(correct, "a correction")

    intervene = commands.add_parser(
        "intervene",
        help="hold the period from billing, pin a version for the best view, or release "
        "both; prints the period",
    )
    _period_arguments(intervene)
    intervene.add_argument(
        "action",
        metavar="hold|release|pin",
        help="hold: documents refuse the period until released; pin: the best view uses "
        "--version N until released; release: lifts the hold and the pin",
    )
    intervene.add_argument("--version", type=int, metavar="N", help="the version to pin (pin only)")
    _attribution_arguments(intervene, "an intervention")


def _period_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("subject", help="system, party:<id>, bmu:<id> or mpan:<core>")
    parser.add_argument("settlement_date", metavar="DATE", help="YYYY-MM-DD")
    parser.add_argument("settlement_period", type=int, metavar="PERIOD")


def _attribution_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    # Not required by the parser: the ledger refuses a change without them, in one line.
    parser.add_argument("--reason", default="", help=f"why ({what} without one is refused)")
    parser.add_argument(
        "--actor", default="", metavar="NAME", help=f"who ({what} without one is refused)"
    )


def check_arguments(args: argparse.Namespace) -> None:
    """Turns the arguments' text into values, refusing what is malformed before the database
    is opened."""
    args.settlement_date = parse_settlement_date(args.settlement_date)
    if args.command == "correct":
        if args.version is None:
            raise ConfigurationError(
                "ledger correct needs --version N: the version the correction supersedes"
            )
        args.values = correction_values(_measure_value(text) for text in args.values)
    else:
        InterventionKind.parse(args.action, args.version)


def _measure_value(text: str) -> tuple[str, str]:
    """``MEASURE=VALUE`` as the measure's name and the value's text."""
    name, equals, value = text.partition("=")
    if not equals:
        raise ConfigurationError(
            f"--set {excerpt(text)} is not MEASURE=VALUE: write e.g. "
            "--set bm_unit_cashflow=-1234.56"
        )
    return name.strip(), value


def correct(runtime: LedgerRuntime, args: argparse.Namespace) -> int:
    runtime.correct(
        args.subject,
        args.settlement_date,
        args.settlement_period,
        supersedes=args.version,
        values=args.values,
        reason=args.reason,
        actor=args.actor,
        tenant=args.tenant,
    )
    return _print_period(runtime, args)


def intervene(runtime: LedgerRuntime, args: argparse.Namespace) -> int:
    runtime.intervene(
        args.subject,
        args.settlement_date,
        args.settlement_period,
        action=args.action,
        version=args.version,
        reason=args.reason,
        actor=args.actor,
        tenant=args.tenant,
    )
    return _print_period(runtime, args)


def _print_period(runtime: LedgerRuntime, args: argparse.Namespace) -> int:
    """The period's view after the change, as ``ledger period`` prints it."""
    view = runtime.period(
        args.subject, args.settlement_date, args.settlement_period, tenant=args.tenant
    )
    print(json.dumps(view.model_dump(mode="json"), indent=2))
    return 0
