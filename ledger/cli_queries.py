"""``ledger history`` and ``ledger day``: bitemporal queries, answered from the views' indexed
tables (never by replaying the event log). Every answer is JSON on standard output (scripts
depend on it):

    ledger history SUBJECT DATE PERIOD [--from ISO] [--to ISO]
    ledger day SUBJECT DATE [--as-of ISO] [--run RUN]

``ledger period SUBJECT DATE PERIOD [--as-of ISO] [--run RUN]`` shows one period the same way
(its ``--run`` is read here too). Instants are ISO 8601 with a time zone; a run is a settlement
run type (II, SF, R1, R2, R3, RF, DF). A malformed instant, an unknown run, ``--from`` after
``--to`` or a period the day lacks is one line on standard error and exit status 2.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from ledger.domain.identifiers import Subject
from ledger.domain.runs import RunType
from ledger.domain.settlement_time import (
    check_settlement_period,
    parse_as_of,
    parse_settlement_date,
)
from ledger.service.read_models import DayView, PeriodHistory
from ledger.service.runtime import LedgerRuntime, check_window

COMMANDS = ("history", "day")

AS_OF_HELP = "only what was known at this instant (ISO 8601 with a time zone)"
RUN_HELP = (
    "as of a run: the best version no more mature than RUN (II, SF, R1, R2, R3, RF or DF), "
    "pins ignored; with --as-of, among the versions known then"
)


def add_parser(commands: Any) -> None:
    """The ``history`` and ``day`` commands, on the CLI's sub-parsers."""
    history = commands.add_parser(
        "history",
        help="a period's history between two instants: each event recorded, in order, with "
        "the best version after it",
    )
    history.add_argument("subject", help="system, party:<id>, bmu:<id> or mpan:<core>")
    history.add_argument("settlement_date", metavar="DATE", help="YYYY-MM-DD")
    history.add_argument("settlement_period", type=int, metavar="PERIOD")
    history.add_argument(
        "--from",
        dest="recorded_from",
        metavar="ISO",
        help="events recorded at or after this instant (default: from the first)",
    )
    history.add_argument(
        "--to",
        dest="recorded_to",
        metavar="ISO",
        help="events recorded at or before this instant (default: up to now)",
    )

    day = commands.add_parser(
        "day", help="a whole settlement day: every period's best version, now, then or as of a run"
    )
    day.add_argument("subject", help="system, party:<id>, bmu:<id> or mpan:<core>")
    day.add_argument("settlement_date", metavar="DATE", help="YYYY-MM-DD")
    day.add_argument("--as-of", metavar="ISO", help=AS_OF_HELP)
    day.add_argument("--run", metavar="RUN", help=RUN_HELP)


def run_of(text: str | None) -> str | None:
    """A ``--run`` argument as a run type (None when not given); refused when unknown."""
    return None if text is None else str(RunType.parse(text))


def _instant(text: str | None) -> datetime | None:
    return None if text is None else parse_as_of(text)


def check_arguments(args: argparse.Namespace) -> None:
    """Turns argument text into values before the database is opened."""
    Subject.parse(args.subject)
    args.settlement_date = parse_settlement_date(args.settlement_date)
    if args.command == "history":
        check_settlement_period(args.settlement_date, args.settlement_period)
        args.recorded_from = _instant(args.recorded_from)
        args.recorded_to = _instant(args.recorded_to)
        check_window(args.recorded_from, args.recorded_to)
    else:
        args.as_of = _instant(args.as_of)
        args.run = run_of(args.run)


def run(runtime: LedgerRuntime, args: argparse.Namespace) -> int:
    if args.command == "history":
        view: PeriodHistory | DayView = runtime.history(
            args.subject,
            args.settlement_date,
            args.settlement_period,
            tenant=args.tenant,
            recorded_from=args.recorded_from,
            recorded_to=args.recorded_to,
        )
    else:
        view = runtime.day(
            args.subject, args.settlement_date, tenant=args.tenant, as_of=args.as_of, run=args.run
        )
    print(json.dumps(view.model_dump(mode="json"), indent=2))
    return 0
