"""The ``ledger`` command: ingest flows, query period versions, rebuild views, serve the API.

Errors are one line on standard error, ``ledger: <what is wrong and what to do>``, with exit
status 2: a malformed argument, a wrong configuration (``LEDGER_DATABASE_URL``), a database
that cannot be reached. ``ingest`` and ``recover`` exit 1 when any file was rejected. A
command whose output's reader goes away (``| head``) stops quietly with status 141.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ledger import cli_documents, cli_exceptions, cli_interventions, cli_mappings, cli_queries
from ledger.adapters.storage import (
    DATABASE_INTERRUPTIONS,
    interruption_summary,
    translate_connection_errors,
)
from ledger.domain.errors import ConfigurationError, LedgerError
from ledger.domain.identifiers import Subject, tenant_id
from ledger.domain.settlement_time import (
    check_settlement_period,
    parse_as_of,
    parse_settlement_date,
)
from ledger.service.feed import MAX_LIMIT, check_page
from ledger.service.ingestion import IngestResult
from ledger.service.projector import DEFAULT_POLL_SECONDS
from ledger.service.read_models import FeedPage, FlowView, FlowWarnings, LayoutView
from ledger.service.runtime import DEFAULT_TENANT, MAX_WARNINGS_PAGE, LedgerRuntime
from ledger.service.settings import StreamSettings, UploadSettings

STDIN = "-"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ledger",
        description="Event-sourced settlement ledger for the GB electricity market. "
        "Storage comes from LEDGER_DATABASE_URL (default sqlite:///ledger.db).",
    )
    parser.add_argument("--tenant", help=f"tenant (default: {DEFAULT_TENANT})")
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="ingest settlement report files")
    ingest.add_argument("files", nargs="+", metavar="FILE", help="a file, or - for standard input")

    period = commands.add_parser("period", help="every version of one settlement period")
    period.add_argument("subject", help="system, party:<id>, bmu:<id> or mpan:<core>")
    period.add_argument("settlement_date", metavar="DATE", help="YYYY-MM-DD")
    period.add_argument("settlement_period", type=int, metavar="PERIOD")
    period.add_argument(
        "--as-of", help="only what was known at this instant (ISO 8601 with a time zone)"
    )
    period.add_argument("--run", metavar="RUN", help=cli_queries.RUN_HELP)

    flow = commands.add_parser("flow", help="a received file's status and stages")
    flow.add_argument("sha256")
    flow.add_argument(
        "--warnings",
        action="store_true",
        help="every warning found in the file, a page at a time, instead of its stages",
    )
    flow.add_argument(
        "--after",
        type=int,
        metavar="N",
        help="with --warnings: those numbered after N (default 0: from the first)",
    )
    flow.add_argument(
        "--limit",
        type=int,
        help=f"with --warnings: at most this many, 1 to {MAX_WARNINGS_PAGE} (default 100)",
    )

    rebuild = commands.add_parser("rebuild", help="rebuild views from the event log")
    rebuild.add_argument(
        "views",
        nargs="*",
        metavar="VIEW",
        help="period_versions, flows, documents, exceptions, identity_mappings, meter_readings, "
        "flow_validation (default: all)",
    )
    commands.add_parser(
        "verify",
        help="build every view again in scratch tables and compare it with the live one "
        "(JSON; exit 1 when any differs)",
    )
    project = commands.add_parser(
        "project", help="keep every view current as its own process, until interrupted"
    )
    project.add_argument(
        "--poll",
        type=float,
        default=DEFAULT_POLL_SECONDS,
        metavar="SECONDS",
        help=f"look at least this often (default {DEFAULT_POLL_SECONDS:g}; SQLite polls)",
    )

    feed = commands.add_parser(
        "feed", help="the tenant's events in commit order, one JSON object per line"
    )
    feed.add_argument(
        "--after",
        type=int,
        default=0,
        metavar="POSITION",
        help="the last position already read (default 0: from the beginning)",
    )
    feed.add_argument(
        "--limit", type=int, default=100, help=f"at most this many events, 1 to {MAX_LIMIT}"
    )
    feed.add_argument(
        "--follow",
        action="store_true",
        help="keep printing events as they are recorded (--limit per read) until interrupted",
    )

    cli_interventions.add_parsers(commands)
    cli_documents.add_parser(commands)
    cli_exceptions.add_parser(commands)
    cli_mappings.add_parser(commands)
    cli_queries.add_parser(commands)

    layout = commands.add_parser(
        "layout",
        help="the fields the ledger reads a flow version with: names, IDD items, units, signs",
    )
    layout.add_argument("file_type", metavar="FILE_TYPE", help="e.g. S0142013, S0141013")
    layout.add_argument("record_type", nargs="?", metavar="RECORD", help="e.g. BP7 (default: all)")

    recover = commands.add_parser(
        "recover",
        help="complete every file left in status received from its stored bytes, and bring "
        "the views up to date",
    )
    recover.add_argument(
        "--all-tenants", action="store_true", help="every tenant's files, not one tenant's"
    )

    serve = commands.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", default="8000", help="TCP port, 1 to 65535 (default 8000)")

    demo = commands.add_parser("demo", help="ingest bundled sample files, then serve the API")
    demo.add_argument("--no-serve", action="store_true", help="stop after the summary")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", default="8000", help="TCP port, 1 to 65535 (default 8000)")
    demo.add_argument("--data-dir", default="demo-data", help="where sample files are written")
    _tenant_after_commands(parser)
    return parser


_TENANT_AFTER = "tenant@"


def _tenant_after_commands(parser: argparse.ArgumentParser) -> None:
    """``--tenant`` after any command too (``ledger exceptions --tenant acme``), as well as
    before it: each command's parser, and each of its own commands', takes it under a name of
    its own, so that :func:`_tenant_of` can refuse two different tenants."""
    for action in parser._actions:
        if not isinstance(action, argparse._SubParsersAction):
            continue
        for command in dict.fromkeys(action.choices.values()):
            command.add_argument(
                "--tenant",
                dest=f"{_TENANT_AFTER}{command.prog}",
                default=argparse.SUPPRESS,
                metavar="TENANT",
                help=f"tenant (default: {DEFAULT_TENANT}); also before the command",
            )
            _tenant_after_commands(command)


def _tenant_of(args: argparse.Namespace) -> str | None:
    """The tenant given before the command or after it (None when neither); refused when
    given twice with two different names."""
    given = [args.tenant] if args.tenant is not None else []
    given += [value for name, value in vars(args).items() if name.startswith(_TENANT_AFTER)]
    tenants = list(dict.fromkeys(given))
    if len(tenants) > 1:
        raise ConfigurationError(
            f"--tenant is given twice, as {tenants[0]!r} and {tenants[1]!r}: give one tenant"
        )
    return tenants[0] if tenants else None


def main(argv: Sequence[str] | None = None) -> int:
    try:
        try:
            return _run(argv)
        finally:
            # Written now, not at exit: a reader gone is seen here, whatever ends the command
            # (argparse's --help and refusals end it by SystemExit).
            sys.stdout.flush()
    except BrokenPipeError:
        return _reader_gone()


# The exit status of a Unix tool whose reader went away (killed by SIGPIPE: 128 + 13).
READER_GONE = 128 + signal.SIGPIPE


def _reader_gone() -> int:
    """Output's reader went away (``ledger exceptions | head``): stop quietly, as Unix tools
    do, with the status a shell reports for them (141), so that a pipeline under ``set -o
    pipefail`` knows the output was cut short. Everything printed was already committed."""
    # Python flushes its streams at exit: into the closed pipe, that would be another error.
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (AttributeError, OSError, ValueError):  # not a file (a test's capture)
            continue
    os.close(devnull)
    return READER_GONE


def _run(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    try:
        _check_arguments(args)
        if args.command == "layout":  # needs no database
            view = LayoutView.of(args.file_type, args.record_type)
            print(json.dumps(view.model_dump(mode="json"), indent=2))
            return 0
        with translate_connection_errors():
            runtime = LedgerRuntime(create=_records(args))
            try:
                return _COMMANDS[args.command](runtime, args)
            finally:
                runtime.close()
    except LedgerError as exc:
        print(f"ledger: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except DATABASE_INTERRUPTIONS as exc:
        # A restart or a lost connection: one line, never a traceback; nothing committed is lost.
        print(
            f"ledger: the database was interrupted ({interruption_summary(exc)}); whatever "
            "was recorded is kept: run the command again (ledger recover completes files "
            "left received)",
            file=sys.stderr,
        )
        return 2


def _check_arguments(args: argparse.Namespace) -> None:
    """Turns argument text into values, before the database is opened: a malformed argument
    is reported whatever the state of the database."""
    args.tenant = _tenant_of(args)
    if args.tenant is None:
        args.tenant = DEFAULT_TENANT
    elif getattr(args, "all_tenants", False):
        raise ConfigurationError("--tenant and --all-tenants exclude each other: give one")
    tenant_id(args.tenant)
    if args.command == "period":
        Subject.parse(args.subject)
        args.settlement_date = parse_settlement_date(args.settlement_date)
        check_settlement_period(args.settlement_date, args.settlement_period)
        args.as_of = None if args.as_of is None else parse_as_of(args.as_of)
        args.run = cli_queries.run_of(args.run)
    elif args.command in ("serve", "demo"):
        args.port = _port(args.port)
    elif args.command == "feed":
        check_page(args.after, args.limit)
    elif args.command == "project" and not args.poll > 0:
        raise ConfigurationError(f"--poll {args.poll}: give a positive number of seconds")
    elif args.command in _GROUP_CHECKS:
        _GROUP_CHECKS[args.command](args)
    elif args.command in cli_queries.COMMANDS:
        cli_queries.check_arguments(args)
    elif args.command in cli_interventions.COMMANDS:
        cli_interventions.check_arguments(args)
    elif args.command == "ingest" and args.files.count(STDIN) > 1:
        raise ConfigurationError("standard input (-) can be ingested once per command only")


# The commands that may record something: on a SQLite file that does not exist yet they create
# the ledger. Any other command only reads, and is told there is no ledger there.
_RECORDING = frozenset({"ingest", "recover", "correct", "intervene", "serve", "demo"})
# Of the command groups, the actions that record something.
_RECORDING_ACTIONS: dict[str, frozenset[str | None]] = {
    "documents": frozenset({"issue", "reissue", "cancel"}),
    "exceptions": frozenset(cli_exceptions.CHANGES),
    "mappings": frozenset({"add", "end", "correct"}),
}


def _records(args: argparse.Namespace) -> bool:
    """Whether the command may record something (so may create the ledger)."""
    if args.command in _RECORDING:
        return True
    return getattr(args, "action", None) in _RECORDING_ACTIONS.get(args.command, frozenset())


# The command groups that check their own arguments (each ``ledger <group> <action> ...``).
_GROUP_CHECKS: dict[str, Callable[[argparse.Namespace], None]] = {
    "documents": cli_documents.check_arguments,
    "exceptions": cli_exceptions.check_arguments,
    "mappings": cli_mappings.check_arguments,
}


def _port(text: str) -> int:
    port = int(text) if text.isascii() and text.isdigit() else 0
    if not 1 <= port <= 65535:
        raise ConfigurationError(
            f"--port {text} is not a TCP port: give a number from 1 to 65535, e.g. --port 8000"
        )
    return port


# --- ingest ---------------------------------------------------------------------------------


def _ingest(runtime: LedgerRuntime, args: argparse.Namespace) -> int:
    """One JSON line per file, with the same keys whatever happened to it."""
    worst = 0
    for name in args.files:
        result = _ingest_one(runtime, name, args.tenant)
        print(json.dumps(result), flush=True)
        if result["status"] == "rejected":
            worst = 1
    return worst


def _ingest_one(runtime: LedgerRuntime, name: str, tenant: str) -> dict[str, Any]:
    if name == STDIN:
        if sys.stdin is None or sys.stdin.isatty():  # None: closed (ledger ingest - <&-)
            raise LedgerError(
                "standard input is a terminal or closed: pipe a file into it, e.g. "
                "ledger ingest - < FILE"
            )
        result = runtime.ingest_stream(sys.stdin.buffer, file_name=STDIN, tenant=tenant)
    else:
        try:
            result = runtime.ingest(name, tenant=tenant)
        except OSError as exc:
            if not _about(exc, name):
                raise
            return _unreadable(name, exc)
    # The file as the user named it, whatever name the ledger keeps with it.
    return {**result.as_dict(), "file": name}


def _about(exc: OSError, name: str) -> bool:
    """Whether an error is about the file the user named (not, say, the database's)."""
    return exc.filename is not None and os.fspath(exc.filename) == os.fspath(Path(name))


def _unreadable(name: str, exc: OSError) -> dict[str, Any]:
    """The result for a path that could not be read: rejected, with no bytes (sha256 null)."""
    if isinstance(exc, FileNotFoundError):
        reason = f"{name}: no such file"
    elif isinstance(exc, IsADirectoryError):
        reason = f"{name} is a directory, not a file"
    elif isinstance(exc, PermissionError):
        reason = f"{name}: this user may not read it (permission denied)"
    else:
        reason = f"{name}: cannot be read ({exc.strerror or exc})"
    result = IngestResult(file=name, sha256="", status="rejected", reasons=[reason]).as_dict()
    return {**result, "sha256": None}


def _recover(runtime: LedgerRuntime, args: argparse.Namespace) -> int:
    results = runtime.recover(tenant=None if args.all_tenants else args.tenant)
    for result in results:
        print(json.dumps(result.as_dict()), flush=True)
    return 1 if any(r.status == "rejected" for r in results) else 0


# --- queries and operations -------------------------------------------------------------------


def _period(runtime: LedgerRuntime, args: argparse.Namespace) -> int:
    view = runtime.period(
        args.subject,
        args.settlement_date,
        args.settlement_period,
        tenant=args.tenant,
        as_of=args.as_of,
        run=args.run,
    )
    print(json.dumps(view.model_dump(mode="json"), indent=2))
    return 0


def _flow(runtime: LedgerRuntime, args: argparse.Namespace) -> int:
    found: FlowView | FlowWarnings | None
    if args.warnings:
        after = 0 if args.after is None else args.after
        limit = 100 if args.limit is None else args.limit
        found = runtime.flow_warnings(args.sha256, tenant=args.tenant, after=after, limit=limit)
    elif args.after is not None or args.limit is not None:
        raise LedgerError("--after and --limit page a file's warnings: give them with --warnings")
    else:
        found = runtime.flow(args.sha256, tenant=args.tenant)
    if found is None:
        print(f"ledger: tenant {args.tenant!r} has received no file {args.sha256}", file=sys.stderr)
        return 1
    print(json.dumps(found.model_dump(mode="json"), indent=2))
    return 0


def _rebuild(runtime: LedgerRuntime, args: argparse.Namespace) -> int:
    count = runtime.rebuild(args.views or None)
    names = args.views or [p.name for p in runtime.runner.projections]
    print(json.dumps({"rebuilt": list(dict.fromkeys(names)), "events": count}))
    return 0


def _verify(runtime: LedgerRuntime, _: argparse.Namespace) -> int:
    found = runtime.verify()
    print(json.dumps(found.model_dump(mode="json"), indent=2))
    return 0 if found.equal else 1


def _project(runtime: LedgerRuntime, args: argparse.Namespace) -> int:
    """Until interrupted (Ctrl-C or SIGTERM, both a normal end): a JSON line per catch-up."""
    stop = threading.Event()

    def applied(count: int) -> None:
        print(json.dumps({"applied": count, "views": runtime.views().model_dump()}), flush=True)

    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        runtime.project(stop=stop, poll=args.poll, applied=applied)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


# How long ``feed --follow`` waits, once it has read every event, before reading again.
FOLLOW_POLL_SECONDS = 1.0


def _feed(runtime: LedgerRuntime, args: argparse.Namespace) -> int:
    """The tenant's next events after ``--after``, up to ``--limit`` of them: read on past
    stretches of other tenants' events until there are that many or the log ends."""
    if args.follow:
        return _follow(runtime, args)
    after, left = args.after, args.limit
    while left > 0:
        page = runtime.feed(after=after, limit=left, tenant=args.tenant)
        _print_events(page)
        after, left = page.next_after, left - len(page.events)
        if page.caught_up:
            break
    return 0


def _follow(runtime: LedgerRuntime, args: argparse.Namespace) -> int:
    """Every event after ``--after`` and each new one as it is recorded, until interrupted
    (Ctrl-C, which ends it normally)."""
    after = args.after
    try:
        while True:
            page = runtime.feed(after=after, limit=args.limit, tenant=args.tenant)
            _print_events(page)
            after = page.next_after
            if page.caught_up:
                _wait_for_more()
    except KeyboardInterrupt:
        return 0


def _print_events(page: FeedPage) -> None:
    for event in page.events:
        print(json.dumps(event.model_dump(mode="json")), flush=True)


def _wait_for_more() -> None:
    time.sleep(FOLLOW_POLL_SECONDS)


def _serve_command(runtime: LedgerRuntime, args: argparse.Namespace) -> int:
    _serve(args.host, args.port)
    return 0


def _demo(runtime: LedgerRuntime, args: argparse.Namespace) -> int:
    from ledger.demo.tour import run_demo  # noqa: PLC0415 (only the demo needs the samples)

    run_demo(runtime, data_dir=args.data_dir, tenant=args.tenant)
    if not args.no_serve:
        _serve(args.host, args.port)
    return 0


API_FACTORY = "api.app:create_app"


def _serve(host: str, port: int) -> None:
    import uvicorn  # noqa: PLC0415

    # Checked here, so a wrong setting is one line, not a traceback from inside the server.
    UploadSettings.from_env()
    streams = StreamSettings.from_env()
    print(f"Serving the ledger API on http://{host}:{port} (OpenAPI at /docs); Ctrl-C stops.")
    # The API is an entry point of its own (it sits beside the CLI, not below it): the
    # server loads it by name and it opens its own runtime on the same database.
    config = uvicorn.Config(API_FACTORY, factory=True, host=host, port=port, log_level="info")
    uvicorn.Server(config).run(sockets=[listening_socket(config, streams.write_timeout)])


def listening_socket(config: Any, write_timeout: float) -> socket.socket:
    """The server's socket (``config`` a ``uvicorn.Config``): a connection whose client reads
    nothing for ``write_timeout`` seconds is dropped by the kernel (Linux's TCP_USER_TIMEOUT,
    which every accepted connection inherits). The API closes such a client's stream itself,
    but the server only closes its connection gracefully, after the buffered data: to a client
    that never reads, never, so without this the connection would stay open for good."""
    sock: socket.socket = config.bind_socket()
    if hasattr(socket, "TCP_USER_TIMEOUT") and math.isfinite(write_timeout):
        milliseconds = min(max(1, round(write_timeout * 1000)), 2**31 - 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, milliseconds)
    return sock


_COMMANDS: dict[str, Callable[[LedgerRuntime, argparse.Namespace], int]] = {
    "ingest": _ingest,
    "recover": _recover,
    "period": _period,
    "flow": _flow,
    "rebuild": _rebuild,
    "verify": _verify,
    "project": _project,
    "feed": _feed,
    "correct": cli_interventions.correct,
    "intervene": cli_interventions.intervene,
    "documents": cli_documents.run,
    "exceptions": cli_exceptions.run,
    "mappings": cli_mappings.run,
    "history": cli_queries.run,
    "day": cli_queries.run,
    "serve": _serve_command,
    "demo": _demo,
}


if __name__ == "__main__":
    sys.exit(main())
