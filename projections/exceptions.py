"""The exception queue as operations reads it: every exception's current state, and its history.

``exceptions`` holds one row per exception (what it is, what it puts at risk, who owns it,
where it stands), indexed for the queue's two questions: by status and by impact, within a
tenant. ``exception_history`` holds one row per event of an exception: what happened, who did
it and why, the file that caused it, and the status and owner after it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from ledger.adapters.storage import Database, Tx, as_date, as_datetime
from ledger.domain.exception_queue import LEDGER_ACTOR, ExceptionCase, Impact

# What each event of an exception is called in its history.
_EVENT_NAMES: dict[type[Any], str] = {
    ExceptionCase.Raised: "raised",
    ExceptionCase.SeenAgain: "seen_again",
    ExceptionCase.Acknowledged: "acknowledged",
    ExceptionCase.Resolved: "resolved",
    ExceptionCase.Dismissed: "dismissed",
    ExceptionCase.Reopened: "reopened",
    ExceptionCase.OwnerAssigned: "owner_assigned",
}
# Each person's change: the status it leaves the exception in (an assignment leaves it as is).
_STATUS_AFTER: dict[type[Any], str] = {
    ExceptionCase.Acknowledged: "acknowledged",
    ExceptionCase.Resolved: "resolved",
    ExceptionCase.Dismissed: "dismissed",
    ExceptionCase.Reopened: "reopened",
}

_COLUMNS = (
    "exception_id",
    "tenant",
    "problem_key",
    "category",
    "impact",
    "status",
    "message",
    "flow",
    "party",
    "subject",
    "settlement_date",
    "periods_json",
    "owner",
    "raised_at",
    "updated_at",
    "resolved_by_flow",
)
# The queue's order: what puts the most at risk first, then the oldest.
_ORDER = (
    "CASE impact "
    + " ".join(f"WHEN '{impact.value}' THEN {rank}" for rank, impact in enumerate(Impact))
    + f" ELSE {len(Impact)} END, raised_at, exception_id"
)


class HistoryRow(NamedTuple):
    """A row of ``exception_history``: one event of an exception."""

    version: int
    event: str
    at: datetime
    actor: str
    reason: str | None
    status: str
    owner: str
    flow: str | None
    message: str | None


@dataclass(frozen=True)
class ExceptionRow:
    """A row of ``exceptions``, with its history: an exception as the view holds it."""

    exception_id: str
    tenant: str
    key: str
    category: str
    impact: str
    status: str
    message: str
    flow: str | None
    party: str | None
    subject: str | None
    settlement_date: date | None
    periods: list[int]
    owner: str
    raised_at: datetime
    updated_at: datetime
    resolved_by_flow: str | None
    history: list[HistoryRow]


class ExceptionsProjection:
    """Builds ``exceptions`` and ``exception_history`` from exception events."""

    name = "exceptions"
    tables = ("exceptions", "exception_history")

    def create_tables(self, database: Database) -> None:
        t = database.types
        with database.transaction() as tx:
            tx.execute(
                "CREATE TABLE IF NOT EXISTS exceptions ("
                " exception_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, problem_key TEXT NOT NULL,"
                " category TEXT NOT NULL, impact TEXT NOT NULL, status TEXT NOT NULL,"
                " message TEXT NOT NULL, flow TEXT, party TEXT, subject TEXT,"
                f" settlement_date {t['DATE']}, periods_json TEXT NOT NULL, owner TEXT NOT NULL,"
                f" raised_at {t['TS']} NOT NULL, updated_at {t['TS']} NOT NULL,"
                " resolved_by_flow TEXT)"
            )
            tx.execute(
                "CREATE INDEX IF NOT EXISTS exceptions_by_status ON exceptions (tenant, status)"
            )
            tx.execute(
                "CREATE INDEX IF NOT EXISTS exceptions_by_impact ON exceptions (tenant, impact)"
            )
            tx.execute(
                "CREATE TABLE IF NOT EXISTS exception_history ("
                " exception_id TEXT NOT NULL, version INTEGER NOT NULL, tenant TEXT NOT NULL,"
                f" event TEXT NOT NULL, at {t['TS']} NOT NULL, actor TEXT NOT NULL, reason TEXT,"
                " status TEXT NOT NULL, owner TEXT NOT NULL, flow TEXT, message TEXT,"
                " PRIMARY KEY (exception_id, version))"
            )

    def clear(self, tx: Tx) -> None:
        tx.execute("DELETE FROM exceptions")
        tx.execute("DELETE FROM exception_history")

    def apply(self, tx: Tx, events: Sequence[tuple[int, Any]]) -> None:
        for _nid, event in events:
            if isinstance(event, ExceptionCase.Raised):
                self._raised(tx, event)
            elif isinstance(event, ExceptionCase.SeenAgain):
                self._seen_again(tx, event)
            elif isinstance(event, ExceptionCase.PersonChange):
                self._changed(tx, event)

    def _raised(self, tx: Tx, event: ExceptionCase.Raised) -> None:
        tx.execute(
            f"INSERT INTO exceptions ({', '.join(_COLUMNS)})"
            f" VALUES ({', '.join('?' for _ in _COLUMNS)})",
            (
                str(event.originator_id),
                event.tenant,
                event.key,
                event.category,
                event.impact,
                "open",
                event.message,
                event.flow,
                event.party,
                event.subject,
                event.settlement_date,
                json.dumps(event.periods),
                event.owner,
                event.timestamp,
                event.timestamp,
                None,
            ),
        )
        self._history(tx, event, LEDGER_ACTOR, None, event.flow, event.message)

    def _seen_again(self, tx: Tx, event: ExceptionCase.SeenAgain) -> None:
        reopened = ", status = 'reopened', resolved_by_flow = NULL" if event.reopens else ""
        tx.execute(
            "UPDATE exceptions SET impact = ?, message = ?, flow = ?, party = ?, subject = ?,"
            f" settlement_date = ?, periods_json = ?, updated_at = ?{reopened}"
            " WHERE exception_id = ?",
            (
                event.impact,
                event.message,
                event.flow,
                event.party,
                event.subject,
                event.settlement_date,
                json.dumps(event.periods),
                event.timestamp,
                str(event.originator_id),
            ),
        )
        self._history(tx, event, LEDGER_ACTOR, None, event.flow, event.message)

    def _changed(self, tx: Tx, event: ExceptionCase.PersonChange) -> None:
        key = str(event.originator_id)
        flow = None
        if isinstance(event, ExceptionCase.OwnerAssigned):
            tx.execute(
                "UPDATE exceptions SET owner = ?, updated_at = ? WHERE exception_id = ?",
                (event.owner, event.timestamp, key),
            )
        else:
            if isinstance(event, ExceptionCase.Resolved):
                flow = event.resolved_by_flow
            tx.execute(
                "UPDATE exceptions SET status = ?, resolved_by_flow = ?, updated_at = ?"
                " WHERE exception_id = ?",
                (_STATUS_AFTER[type(event)], flow, event.timestamp, key),
            )
        self._history(tx, event, event.actor, event.reason, flow, None)

    @staticmethod
    def _history(
        tx: Tx, event: Any, actor: str, reason: str | None, flow: str | None, message: str | None
    ) -> None:
        """The event's row of history, with the status and owner it left the exception in."""
        key = str(event.originator_id)
        row = tx.execute(
            "SELECT status, owner FROM exceptions WHERE exception_id = ?", (key,)
        ).fetchone()
        assert row is not None, "an exception is raised before anything else happens to it"
        tx.execute(
            "INSERT INTO exception_history (exception_id, version, tenant, event, at, actor,"
            " reason, status, owner, flow, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                key,
                event.originator_version,
                event.tenant,
                _EVENT_NAMES[type(event)],
                event.timestamp,
                actor,
                reason,
                row[0],
                row[1],
                flow,
                message,
            ),
        )


@dataclass(frozen=True)
class ExceptionFilter:
    """Which of a tenant's exceptions to list (every one when nothing is set)."""

    status: str | None = None
    impact: str | None = None
    category: str | None = None
    subject: str | None = None

    def where(self, tenant: str, table: str = "") -> tuple[str, list[Any]]:
        """The SQL condition and its parameters, on ``table`` (an alias) if given."""
        prefix = f"{table}." if table else ""
        clauses, params = [f"{prefix}tenant = ?"], [tenant]
        for column in ("status", "impact", "category", "subject"):
            value = getattr(self, column)
            if value is not None:
                clauses.append(f"{prefix}{column} = ?")
                params.append(value)
        return " AND ".join(clauses), params


def list_exceptions(tx: Tx, tenant: str, chosen: ExceptionFilter) -> list[ExceptionRow]:
    """The tenant's exceptions that ``chosen`` selects, most at risk first, then oldest; each
    with its history. Two queries, on the tenant's indexes."""
    where, params = chosen.where(tenant)
    rows = tx.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM exceptions WHERE {where} ORDER BY {_ORDER}", params
    ).fetchall()
    if not rows:
        return []
    joined, params = chosen.where(tenant, "e")
    steps = tx.execute(
        f"SELECT h.exception_id, {', '.join('h.' + c for c in _HISTORY_COLUMNS)}"
        " FROM exception_history h JOIN exceptions e ON e.exception_id = h.exception_id"
        f" WHERE {joined} ORDER BY h.exception_id, h.version",
        params,
    ).fetchall()
    histories: dict[str, list[HistoryRow]] = {}
    for exception, *step in steps:
        histories.setdefault(str(exception), []).append(_history_row(step))
    return [_exception_row(row, histories.get(str(row[0]), [])) for row in rows]


def find_exception(tx: Tx, tenant: str, exception_id: str) -> ExceptionRow | None:
    """One of the tenant's exceptions with its history (another tenant's are invisible)."""
    row = tx.execute(
        f"SELECT {', '.join(_COLUMNS)} FROM exceptions WHERE tenant = ? AND exception_id = ?",
        (tenant, exception_id),
    ).fetchone()
    if row is None:
        return None
    steps = tx.execute(
        f"SELECT {', '.join(_HISTORY_COLUMNS)} FROM exception_history"
        " WHERE exception_id = ? ORDER BY version",
        (exception_id,),
    ).fetchall()
    return _exception_row(row, [_history_row(step) for step in steps])


def exceptions_by_id_prefix(
    tx: Tx, tenant: str, prefix: str, *, limit: int
) -> list[tuple[str, str]]:
    """The ids and keys of at most ``limit`` of the tenant's exceptions whose id starts with
    ``prefix`` (lower-case hexadecimal digits and hyphens, as ids are written), by id."""
    if not set(prefix) <= set("0123456789abcdef-"):
        raise ValueError(f"{prefix!r} is not the start of an exception id")
    rows = tx.execute(
        "SELECT exception_id, problem_key FROM exceptions WHERE tenant = ? AND exception_id"
        " LIKE ? ORDER BY exception_id LIMIT ?",
        (tenant, f"{prefix}%", limit),
    ).fetchall()
    return [(str(row[0]), str(row[1])) for row in rows]


_HISTORY_COLUMNS = (
    "version",
    "event",
    "at",
    "actor",
    "reason",
    "status",
    "owner",
    "flow",
    "message",
)


def _history_row(step: Sequence[Any]) -> HistoryRow:
    version, event, at, actor, reason, status, owner, flow, message = step
    return HistoryRow(
        int(version), event, as_datetime(at), actor, reason, status, owner, flow, message
    )


def _exception_row(row: Sequence[Any], history: list[HistoryRow]) -> ExceptionRow:
    r = dict(zip(_COLUMNS, row, strict=True))
    return ExceptionRow(
        exception_id=r["exception_id"],
        tenant=r["tenant"],
        key=r["problem_key"],
        category=r["category"],
        impact=r["impact"],
        status=r["status"],
        message=r["message"],
        flow=r["flow"],
        party=r["party"],
        subject=r["subject"],
        settlement_date=as_date(r["settlement_date"]) if r["settlement_date"] else None,
        periods=[int(p) for p in json.loads(r["periods_json"])],
        owner=r["owner"],
        raised_at=as_datetime(r["raised_at"]),
        updated_at=as_datetime(r["updated_at"]),
        resolved_by_flow=r["resolved_by_flow"],
        history=history,
    )
