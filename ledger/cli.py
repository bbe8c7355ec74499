"""The ``ledger`` command: ingest flows, query period versions, rebuild views, serve the API."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import date, datetime

from ledger.errors import LedgerError
from ledger.runtime import DEFAULT_TENANT, LedgerRuntime


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a settlement date (YYYY-MM-DD)"
        ) from None


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an ISO 8601 instant (e.g. 2026-05-07T12:00:00Z)"
        ) from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no time zone; add Z or an offset, e.g. 2026-05-07T12:00:00Z"
        )
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ledger",
        description="Event-sourced settlement ledger for the GB electricity market. "
        "Storage comes from LEDGER_DATABASE_URL (default sqlite:///ledger.db).",
    )
    parser.add_argument("--tenant", default=DEFAULT_TENANT, help="tenant (default: default)")
    commands = parser.add_subparsers(dest="command", required=True)

    ingest = commands.add_parser("ingest", help="ingest settlement report files")
    ingest.add_argument("files", nargs="+", metavar="FILE")

    period = commands.add_parser("period", help="every version of one settlement period")
    period.add_argument("subject", help="system, party:<id>, bmu:<id> or mpan:<core>")
    period.add_argument("settlement_date", type=_date, metavar="DATE")
    period.add_argument("settlement_period", type=int, metavar="PERIOD")
    period.add_argument("--as-of", type=_instant, help="only what was known at this instant")

    flow = commands.add_parser("flow", help="a received file's status and stages")
    flow.add_argument("sha256")

    commands.add_parser("rebuild", help="rebuild every view from the event log")

    serve = commands.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)

    demo = commands.add_parser("demo", help="ingest bundled sample files, then serve the API")
    demo.add_argument("--no-serve", action="store_true", help="stop after the summary")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--data-dir", default="demo-data", help="where sample files are written")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        runtime = LedgerRuntime()
    except LedgerError as exc:
        print(f"ledger: {exc}", file=sys.stderr)
        return 2
    try:
        return _run(runtime, args)
    except LedgerError as exc:
        print(f"ledger: {exc}", file=sys.stderr)
        return 2
    finally:
        runtime.close()


def _run(runtime: LedgerRuntime, args: argparse.Namespace) -> int:
    tenant: str = args.tenant
    if args.command == "ingest":
        worst = 0
        for name in args.files:
            try:
                result = runtime.ingest(name, tenant=tenant)
            except OSError as exc:
                print(json.dumps({"file": name, "status": "rejected", "reasons": [str(exc)]}))
                worst = 1
                continue
            print(json.dumps(result.as_dict()))
            if result.status == "rejected":
                worst = 1
        return worst
    if args.command == "period":
        view = runtime.period(
            args.subject,
            args.settlement_date,
            args.settlement_period,
            tenant=tenant,
            as_of=args.as_of,
        )
        print(json.dumps(view, indent=2))
        return 0
    if args.command == "flow":
        found = runtime.flow(args.sha256, tenant=tenant)
        if found is None:
            print(f"ledger: tenant {tenant!r} has received no file {args.sha256}", file=sys.stderr)
            return 1
        print(json.dumps(found.__dict__, indent=2, default=str))
        return 0
    if args.command == "rebuild":
        count = runtime.runner.rebuild()
        print(
            json.dumps({"rebuilt": [p.name for p in runtime.runner.projections], "events": count})
        )
        return 0
    if args.command == "serve":
        _serve(runtime, args.host, args.port)
        return 0
    if args.command == "demo":
        from ledger.demo import run_demo  # noqa: PLC0415 (only the demo needs the samples)

        run_demo(runtime, data_dir=args.data_dir, tenant=tenant)
        if not args.no_serve:
            _serve(runtime, args.host, args.port)
        return 0
    raise AssertionError(args.command)


def _serve(runtime: LedgerRuntime, host: str, port: int) -> None:
    import uvicorn  # noqa: PLC0415

    from api.app import create_app  # noqa: PLC0415

    print(f"Serving the ledger API on http://{host}:{port} (OpenAPI at /docs); Ctrl-C stops.")
    uvicorn.run(create_app(runtime), host=host, port=port, log_level="info")


if __name__ == "__main__":
    sys.exit(main())
