"""``ledger documents``: issue, re-issue and cancel documents; show one, the stale ones, and the
documents that used a period. Every answer is JSON on standard output (scripts depend on it).

    ledger documents issue --kind invoice --reference INV-1 --actor NAME [--rule best]
        --subject party:X --date 2026-05-06 [--periods N-M] [--measure NAME ...]
    ledger documents list [--status issued|cancelled] [--kind KIND] [--after REF] [--limit N]
    ledger documents show REF [--revision N]
    ledger documents stale
    ledger documents using SUBJECT DATE PERIOD
    ledger documents reissue REF --actor NAME --reason TEXT
    ledger documents cancel REF --actor NAME --reason TEXT
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from ledger.domain.documents import KINDS, check_measures_named
from ledger.domain.errors import ConfigurationError, InvalidSettlementPeriod
from ledger.domain.plain_text import excerpt
from ledger.domain.settlement_time import (
    parse_settlement_date,
    parse_settlement_period,
    parse_settlement_periods,
)
from ledger.service.documents import DEFAULT_DOCUMENTS_PAGE, MAX_DOCUMENTS_PAGE, STATUSES
from ledger.service.runtime import LedgerRuntime


def add_parser(commands: Any) -> None:
    """The ``documents`` command and its sub-commands, on the CLI's sub-parsers."""
    documents = commands.add_parser(
        "documents", help="documents issued from the ledger and the versions they used"
    )
    actions = documents.add_subparsers(dest="action", required=True)

    issue = actions.add_parser("issue", help="issue a document; prints it as JSON")
    issue.add_argument("--kind", required=True, choices=KINDS)
    issue.add_argument("--reference", required=True, help="the document's own reference")
    issue.add_argument("--actor", required=True, help="who issues it")
    issue.add_argument(
        "--rule",
        default="best",
        help="best (default), run:<RUN> (e.g. run:SF) or as-of:<ISO instant with a zone>",
    )
    issue.add_argument("--subject", required=True, help="system, party:<id> or bmu:<id>")
    issue.add_argument("--date", required=True, help="settlement date, YYYY-MM-DD")
    issue.add_argument(
        "--periods",
        help="N or N-M (default: every period of that settlement day, 46, 48 or 50)",
    )
    issue.add_argument(
        "--measure",
        action="append",
        default=[],
        help="a measure to bill (repeat for more; default: every measure of each version)",
    )

    listed = actions.add_parser("list", help="the tenant's documents by reference, a page")
    listed.add_argument("--status", choices=STATUSES)
    listed.add_argument("--kind", choices=KINDS)
    listed.add_argument("--after", metavar="REF", help="the page after this reference")
    listed.add_argument(
        "--limit",
        default=str(DEFAULT_DOCUMENTS_PAGE),
        help=f"documents on the page, 1 to {MAX_DOCUMENTS_PAGE} (default {DEFAULT_DOCUMENTS_PAGE})",
    )

    show = actions.add_parser("show", help="a document as issued, and its revisions")
    show.add_argument("reference")
    show.add_argument("--revision", help="an earlier revision (default: the latest)")

    actions.add_parser("stale", help="documents whose rule would now choose other versions")

    using = actions.add_parser("using", help="the documents that used one period")
    using.add_argument("subject")
    using.add_argument("settlement_date", metavar="DATE")
    using.add_argument("settlement_period", metavar="PERIOD")

    for name, help_text in (
        ("reissue", "issue a document again under its rule (a new revision)"),
        ("cancel", "cancel a document (its lines stay on record)"),
    ):
        change = actions.add_parser(name, help=help_text)
        change.add_argument("reference")
        change.add_argument("--actor", required=True)
        change.add_argument("--reason", required=True)


def check_arguments(args: argparse.Namespace) -> None:
    """Turns argument text into values before the database is opened: periods checked against
    their settlement day before any is listed, measures named at most ``MAX_MEASURES_NAMED``
    times."""
    if args.action == "issue":
        args.date = parse_settlement_date(args.date)
        if args.periods is not None:
            try:
                args.periods = parse_settlement_periods(args.periods, args.date)
            except InvalidSettlementPeriod as exc:
                raise InvalidSettlementPeriod(f"--periods: {exc}") from None
        check_measures_named(args.measure)
    elif args.action == "list":
        args.limit = _whole_number("--limit", args.limit)
    elif args.action == "show" and args.revision is not None:
        args.revision = _whole_number("--revision", args.revision)
    elif args.action == "using":
        args.settlement_date = parse_settlement_date(args.settlement_date)
        args.settlement_period = parse_settlement_period(
            args.settlement_period, args.settlement_date
        )


def _whole_number(option: str, text: str) -> int:
    """A count or number typed in ASCII digits (at most 9: no page or revision has more)."""
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 9):
        raise ConfigurationError(f"{option} {excerpt(text)}: write a whole number, e.g. 2")
    return int(digits)


def run(runtime: LedgerRuntime, args: argparse.Namespace) -> int:
    answer = _ACTIONS[args.action](runtime, args)
    print(json.dumps(answer, indent=2))
    return 0


def _issue(runtime: LedgerRuntime, args: argparse.Namespace) -> Any:
    view = runtime.issue_document(
        kind=args.kind,
        reference=args.reference,
        actor=args.actor,
        rule=args.rule,
        subject=args.subject,
        settlement_date=args.date,
        periods=args.periods,
        measures=args.measure,
        tenant=args.tenant,
    )
    return view.model_dump(mode="json")


def _list(runtime: LedgerRuntime, args: argparse.Namespace) -> Any:
    page = runtime.documents(
        tenant=args.tenant, status=args.status, kind=args.kind, after=args.after, limit=args.limit
    )
    return page.model_dump(mode="json")


def _show(runtime: LedgerRuntime, args: argparse.Namespace) -> Any:
    view = runtime.document(args.reference, tenant=args.tenant, revision=args.revision)
    return view.model_dump(mode="json")


def _stale(runtime: LedgerRuntime, args: argparse.Namespace) -> Any:
    return [d.model_dump(mode="json") for d in runtime.stale_documents(tenant=args.tenant)]


def _using(runtime: LedgerRuntime, args: argparse.Namespace) -> Any:
    uses = runtime.documents_using(
        args.subject, args.settlement_date, args.settlement_period, tenant=args.tenant
    )
    return [u.model_dump(mode="json") for u in uses]


def _reissue(runtime: LedgerRuntime, args: argparse.Namespace) -> Any:
    view = runtime.reissue_document(
        args.reference, actor=args.actor, reason=args.reason, tenant=args.tenant
    )
    return view.model_dump(mode="json")


def _cancel(runtime: LedgerRuntime, args: argparse.Namespace) -> Any:
    view = runtime.cancel_document(
        args.reference, actor=args.actor, reason=args.reason, tenant=args.tenant
    )
    return view.model_dump(mode="json")


_ACTIONS: dict[str, Callable[[LedgerRuntime, argparse.Namespace], Any]] = {
    "issue": _issue,
    "list": _list,
    "show": _show,
    "stale": _stale,
    "using": _using,
    "reissue": _reissue,
    "cancel": _cancel,
}
