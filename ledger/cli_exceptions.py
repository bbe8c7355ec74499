"""``ledger exceptions``: the exception queue, and what a person does with an exception.

    ledger exceptions [--status S] [--impact I] [--json]
    ledger exceptions acknowledge|resolve|dismiss|reopen ID --actor NAME --reason TEXT [--json]
    ledger exceptions assign ID --owner NAME --actor NAME --reason TEXT [--json]

Without ``--json``, one readable line per exception. With it, one JSON array (scripts depend on
it): each exception has exactly ``id``, ``category``, ``impact``, ``status``, ``message``,
``flow`` (the SHA-256 of the file that showed the problem), ``subject``, ``settlement_date``,
``periods``, ``owner`` and ``history`` (every event: what, when, who, why, the status and owner
after it, the file). A change prints the exception afterwards, a line or (``--json``) one
object. ID is the exception's id, the start of it (at least 8 hexadecimal digits, naming one
exception: a start several ids share is refused, naming them), or its key. A refusal (no person
or reason, a resolved exception acknowledged, an unknown id...) is one line on standard error,
exit status 2.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from enum import Enum
from typing import Any

from ledger.domain.errors import ConfigurationError
from ledger.domain.exception_queue import Impact, Status
from ledger.domain.plain_text import excerpt
from ledger.service.exceptions import ExceptionView
from ledger.service.runtime import LedgerRuntime

# The keys of each exception in ``--json``, in this order: the interface scripts depend on.
JSON_FIELDS = (
    "id",
    "category",
    "impact",
    "status",
    "message",
    "flow",
    "subject",
    "settlement_date",
    "periods",
    "owner",
    "history",
)
CHANGES = {
    "acknowledge": "take an exception on: you know of it and are working on it",
    "resolve": "say the problem was put right",
    "dismiss": "decide the problem needs no action (say why)",
    "reopen": "reopen a resolved or dismissed exception",
    "assign": "give an exception to another owner (a team or a person)",
}


def add_parser(commands: Any) -> None:
    """The ``exceptions`` command and its changes, on the CLI's sub-parsers."""
    exceptions = commands.add_parser(
        "exceptions",
        help="the exception queue (most at risk first), and acknowledging, resolving, "
        "dismissing, reopening or assigning an exception",
    )
    exceptions.add_argument("--status", help=f"only this status: {_values(Status)}")
    exceptions.add_argument("--impact", help=f"only this impact: {_values(Impact)}")
    exceptions.add_argument("--json", action="store_true", help="one JSON array")
    actions = exceptions.add_subparsers(dest="action", metavar="|".join(CHANGES))
    for name, help_text in CHANGES.items():
        change = actions.add_parser(name, help=help_text)
        change.add_argument(
            "exception",
            metavar="ID",
            help="the exception's id, its first 8 or more characters, or its key",
        )
        if name == "assign":
            change.add_argument(
                "--owner", default="", metavar="NAME", help="the new owner (required)"
            )
        # Not required by the parser: the ledger refuses a change without them, in one line.
        change.add_argument("--actor", default="", metavar="NAME", help="who (required)")
        change.add_argument("--reason", default="", metavar="TEXT", help="why (required)")
        change.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help="one JSON object"
        )


def check_arguments(args: argparse.Namespace) -> None:
    """Checks the filters before the database is opened."""
    _check(Status, args.status, "--status")
    _check(Impact, args.impact, "--impact")


def run(runtime: LedgerRuntime, args: argparse.Namespace) -> int:
    queue = runtime.exceptions
    if args.action is None:
        found = queue.find(tenant=args.tenant, status=args.status, impact=args.impact)
        if args.json:
            print(json.dumps([as_json(view) for view in found], indent=2))
        else:
            for view in found:
                print(as_line(view))
        return 0
    if args.action == "assign":
        view = queue.assign(
            args.exception,
            tenant=args.tenant,
            owner=args.owner,
            actor=args.actor,
            reason=args.reason,
        )
    else:
        view = queue.change(
            args.action, args.exception, tenant=args.tenant, actor=args.actor, reason=args.reason
        )
    print(json.dumps(as_json(view), indent=2) if args.json else as_line(view))
    return 0


def as_json(view: ExceptionView) -> dict[str, Any]:
    """An exception as ``--json`` shows it: exactly :data:`JSON_FIELDS`, in that order."""
    data = view.model_dump(mode="json")
    return {name: data[name] for name in JSON_FIELDS}


def as_line(view: ExceptionView) -> str:
    """An exception on one line: id, status, impact, category, owner, where, the message."""
    where = " ".join(
        part
        for part in (
            view.subject or view.party,
            view.settlement_date.isoformat() if view.settlement_date else None,
            f"periods {period_ranges(view.periods)}" if view.periods else None,
        )
        if part
    )
    fields = [str(view.id), view.status, view.impact, view.category, f"owner {view.owner}"]
    return " | ".join([*fields, where or "-", view.message])


def period_ranges(periods: Sequence[int]) -> str:
    """Periods in short: ``1-3, 7`` for 1, 2, 3 and 7."""
    ranges: list[list[int]] = []
    for period in sorted(periods):
        if ranges and period == ranges[-1][1] + 1:
            ranges[-1][1] = period
        else:
            ranges.append([period, period])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in ranges)


def _values(kind: type[Enum]) -> str:
    return ", ".join(str(member.value) for member in kind)


def _check(kind: type[Enum], value: str | None, option: str) -> None:
    if value is not None and value not in {member.value for member in kind}:
        raise ConfigurationError(f"{option} {excerpt(value)}: use one of {_values(kind)}")
