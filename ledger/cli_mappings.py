"""``ledger mappings``: map a tenant's own ids (customer, site, meter, asset) to market ids over
settlement dates, end and correct mappings, list them. Commands answer with JSON on standard
output (scripts depend on it); ``list`` prints a table unless ``--json`` is given.

    ledger mappings add --kind customer --id C-100 --market mpan:<core> --from 2026-01-01
        [--to 2026-12-31] --actor NAME --reason TEXT
    ledger mappings end MAPPING_ID --to DATE --actor NAME --reason TEXT
    ledger mappings correct MAPPING_ID [--from DATE] [--to DATE|open] [--market ID]
        --actor NAME --reason TEXT
    ledger mappings show MAPPING_ID
    ledger mappings list [--market ID] [--id ID] [--kind KIND] [--on DATE] [--json]

Dates are settlement dates, both ends inclusive: ``--to`` is the last day the mapping holds.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from typing import Any

from ledger.domain.errors import ConfigurationError
from ledger.domain.mappings import INTERNAL_KINDS, UNCHANGED
from ledger.domain.settlement_time import parse_settlement_date
from ledger.service.mappings import MappingSummary
from ledger.service.runtime import LedgerRuntime

OPEN = "open"
_MARKET_HELP = "mpan:<MPAN core>, bmu:<BM Unit Id> or party:<BSC Party Id>"


def add_parser(commands: Any) -> None:
    """The ``mappings`` command and its sub-commands, on the CLI's sub-parsers."""
    mappings = commands.add_parser(
        "mappings", help="a tenant's own ids mapped to market ids over settlement dates"
    )
    actions = mappings.add_subparsers(dest="action", required=True)

    add = actions.add_parser("add", help="map an id to a market id; prints the mapping as JSON")
    add.add_argument("--kind", required=True, choices=INTERNAL_KINDS)
    add.add_argument("--id", dest="internal", required=True, help="the tenant's own id")
    add.add_argument("--market", required=True, help=_MARKET_HELP)
    add.add_argument("--from", dest="valid_from", required=True, help="first settlement date")
    add.add_argument("--to", dest="valid_to", help="last settlement date (default: open-ended)")
    _attribution(add)

    end = actions.add_parser("end", help="set the last settlement date a mapping holds on")
    end.add_argument("mapping_id", metavar="MAPPING_ID")
    end.add_argument("--to", dest="valid_to", required=True, help="last settlement date")
    _attribution(end)

    correct = actions.add_parser(
        "correct", help="correct a mapping's dates or market id (the old ones stay in history)"
    )
    correct.add_argument("mapping_id", metavar="MAPPING_ID")
    correct.add_argument("--from", dest="valid_from", help="first settlement date")
    correct.add_argument(
        "--to", dest="valid_to", help=f"last settlement date, or {OPEN} to remove the end"
    )
    correct.add_argument("--market", help=_MARKET_HELP)
    _attribution(correct)

    show = actions.add_parser("show", help="a mapping and every change to it")
    show.add_argument("mapping_id", metavar="MAPPING_ID")

    listing = actions.add_parser("list", help="the tenant's mappings as they stand")
    listing.add_argument("--market", help=_MARKET_HELP)
    listing.add_argument("--id", dest="internal", help="the tenant's own id")
    listing.add_argument("--kind", choices=INTERNAL_KINDS)
    listing.add_argument("--on", help="only those holding on this settlement date")
    listing.add_argument("--json", action="store_true", help="JSON instead of a table")


def _attribution(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--actor", required=True, help="who makes the change")
    parser.add_argument("--reason", required=True, help="why")


def check_arguments(args: argparse.Namespace) -> None:
    """Turns argument text into values before the database is opened."""
    if args.action in ("add", "correct"):
        args.valid_from = _date(args.valid_from)
    if args.action == "list":
        args.on = _date(args.on)
    elif args.action == "correct":
        if args.valid_from is None and args.valid_to is None and args.market is None:
            raise ConfigurationError(
                "a correction needs what to correct: give --from, --to or --market"
            )
        args.valid_to = _new_end(args.valid_to)
    elif args.action in ("add", "end"):
        args.valid_to = _date(args.valid_to)


def _date(text: str | None) -> Any:
    return None if text is None else parse_settlement_date(text)


def _new_end(text: str | None) -> Any:
    """A correction's ``--to``: unchanged when not given, none for ``open``, else a date."""
    if text is None:
        return UNCHANGED
    if text.strip().lower() == OPEN:
        return None
    return parse_settlement_date(text)


def run(runtime: LedgerRuntime, args: argparse.Namespace) -> int:
    if args.action == "list" and not args.json:
        found = _list(runtime, args)
        print(table(found.mappings) if found.mappings else "no mappings")
        return 0
    answer = _ACTIONS[args.action](runtime, args)
    print(json.dumps(answer.model_dump(mode="json"), indent=2))
    return 0


def _add(runtime: LedgerRuntime, args: argparse.Namespace) -> Any:
    return runtime.mappings.add(
        kind=args.kind,
        internal=args.internal,
        market=args.market,
        valid_from=args.valid_from,
        valid_to=args.valid_to,
        actor=args.actor,
        reason=args.reason,
        tenant=args.tenant,
    )


def _end(runtime: LedgerRuntime, args: argparse.Namespace) -> Any:
    return runtime.mappings.end(
        args.mapping_id,
        valid_to=args.valid_to,
        actor=args.actor,
        reason=args.reason,
        tenant=args.tenant,
    )


def _correct(runtime: LedgerRuntime, args: argparse.Namespace) -> Any:
    return runtime.mappings.correct(
        args.mapping_id,
        market=args.market,
        valid_from=args.valid_from,
        valid_to=args.valid_to,
        actor=args.actor,
        reason=args.reason,
        tenant=args.tenant,
    )


def _show(runtime: LedgerRuntime, args: argparse.Namespace) -> Any:
    return runtime.mappings.get(args.mapping_id, tenant=args.tenant)


def _list(runtime: LedgerRuntime, args: argparse.Namespace) -> Any:
    return runtime.mappings.list(
        tenant=args.tenant, market=args.market, internal=args.internal, kind=args.kind, on=args.on
    )


_ACTIONS: dict[str, Callable[[LedgerRuntime, argparse.Namespace], Any]] = {
    "add": _add,
    "end": _end,
    "correct": _correct,
    "show": _show,
    "list": _list,
}
_COLUMNS = ("MAPPING ID", "KIND", "ID", "MARKET ID", "FROM", "TO", "STATUS")


def table(mappings: Sequence[MappingSummary]) -> str:
    """Mappings as a table with a header, one line each, columns padded to line up."""
    rows = [_COLUMNS] + [
        (
            m.mapping_id,
            m.kind,
            m.internal_id,
            m.market_id,
            m.valid_from.isoformat(),
            "" if m.valid_to is None else m.valid_to.isoformat(),
            m.status,
        )
        for m in mappings
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
