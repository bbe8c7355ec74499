"""Every received flow: its status now and each stage it went through, with reasons."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from ledger.adapters.storage import Database, Tx, as_date, as_datetime
from ledger.domain.aggregates import Flow


@dataclass(frozen=True)
class FlowRow:
    """A received flow as the view holds it."""

    flow_id: str
    tenant: str
    sha256: str
    file_name: str
    size: int
    channel: str
    status: str
    flow: str | None
    settlement_date: date | None
    run_type: str | None
    run_number: int | None
    bsc_party_id: str | None
    received_at: datetime
    receipts: int
    periods: int
    reasons: list[str]
    warnings: list[str]
    stages: list[dict[str, Any]]


class FlowsProjection:
    """Builds ``flows`` and ``flow_stages`` from flow events."""

    name = "flows"

    def create_tables(self, database: Database) -> None:
        t = database.types
        with database.transaction() as tx:
            tx.execute(
                "CREATE TABLE IF NOT EXISTS flows ("
                " flow_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, sha256 TEXT NOT NULL,"
                f" file_name TEXT NOT NULL, size {t['BIGINT']} NOT NULL, channel TEXT NOT NULL,"
                " status TEXT NOT NULL, flow TEXT, settlement_date TEXT, run_type TEXT,"
                f" run_number INTEGER, bsc_party_id TEXT, received_at {t['TS']} NOT NULL,"
                " receipts INTEGER NOT NULL, periods INTEGER NOT NULL,"
                " reasons_json TEXT NOT NULL, warnings_json TEXT NOT NULL)"
            )
            tx.execute("CREATE INDEX IF NOT EXISTS flows_by_tenant ON flows (tenant, sha256)")
            tx.execute(
                "CREATE TABLE IF NOT EXISTS flow_stages ("
                " flow_id TEXT NOT NULL, version INTEGER NOT NULL, stage TEXT NOT NULL,"
                f" at {t['TS']} NOT NULL, detail_json TEXT NOT NULL,"
                " PRIMARY KEY (flow_id, version))"
            )

    def clear(self, tx: Tx) -> None:
        tx.execute("DELETE FROM flows")
        tx.execute("DELETE FROM flow_stages")

    def apply(self, tx: Tx, events: Sequence[tuple[int, Any]]) -> None:
        for _nid, event in events:
            if isinstance(event, Flow.Received | Flow.Validated | Flow.Interpreted):
                self._apply_progress(tx, event)
            elif isinstance(event, Flow.Rejected | Flow.DuplicateReceived):
                self._apply_outcome(tx, event)

    def _apply_progress(self, tx: Tx, event: Any) -> None:
        key = str(event.originator_id)
        if isinstance(event, Flow.Received):
            tx.execute(
                "INSERT INTO flows (flow_id, tenant, sha256, file_name, size, channel, status,"
                " received_at, receipts, periods, reasons_json, warnings_json)"
                " VALUES (?, ?, ?, ?, ?, ?, 'received', ?, 1, 0, '[]', '[]')",
                (
                    key,
                    event.tenant,
                    event.sha256,
                    event.file_name,
                    event.size,
                    event.channel,
                    event.timestamp,
                ),
            )
            detail: dict[str, Any] = {
                "file_name": event.file_name,
                "size": event.size,
                "channel": event.channel,
            }
            self._stage(tx, event, "received", detail)
        elif isinstance(event, Flow.Validated):
            tx.execute(
                "UPDATE flows SET status = 'validated', flow = ?, settlement_date = ?,"
                " run_type = ?, run_number = ?, bsc_party_id = ?, warnings_json = ?"
                " WHERE flow_id = ?",
                (
                    event.flow,
                    event.settlement_date.isoformat(),
                    event.run_type,
                    event.run_number,
                    event.bsc_party_id,
                    json.dumps(event.warnings),
                    key,
                ),
            )
            detail = {
                "flow": event.flow,
                "flow_version": event.flow_version,
                "settlement_date": event.settlement_date.isoformat(),
                "run_type": event.run_type,
                "run_number": event.run_number,
                "bsc_party_id": event.bsc_party_id,
                "file_creation_time": event.file_creation_time.isoformat(),
                "record_count": event.record_count,
                "warnings": event.warnings,
            }
            self._stage(tx, event, "validated", detail)
        else:
            tx.execute(
                "UPDATE flows SET status = 'accepted', periods = ? WHERE flow_id = ?",
                (event.periods, key),
            )
            detail = {
                "periods": event.periods,
                "events": event.events,
                "daily_values": len(event.daily_values),
                "unplaced_records": len(event.unplaced_records),
            }
            self._stage(tx, event, "interpreted", detail)

    def _apply_outcome(self, tx: Tx, event: Any) -> None:
        key = str(event.originator_id)
        if isinstance(event, Flow.Rejected):
            tx.execute(
                "UPDATE flows SET status = 'rejected', flow = ?, reasons_json = ?"
                " WHERE flow_id = ?",
                (event.flow, json.dumps(event.reasons), key),
            )
            self._stage(tx, event, "rejected", {"stage": event.stage, "reasons": event.reasons})
        else:
            tx.execute("UPDATE flows SET receipts = receipts + 1 WHERE flow_id = ?", (key,))
            detail = {"channel": event.channel, "file_name": event.file_name}
            self._stage(tx, event, "duplicate_received", detail)

    @staticmethod
    def _stage(tx: Tx, event: Any, stage: str, detail: dict[str, Any]) -> None:
        tx.execute(
            "INSERT INTO flow_stages (flow_id, version, stage, at, detail_json)"
            " VALUES (?, ?, ?, ?, ?)",
            (
                str(event.originator_id),
                event.originator_version,
                stage,
                event.timestamp,
                json.dumps(detail),
            ),
        )


_FLOW_COLUMNS = (
    "flow_id, tenant, sha256, file_name, size, channel, status, flow, settlement_date,"
    " run_type, run_number, bsc_party_id, received_at, receipts, periods, reasons_json,"
    " warnings_json"
)


def find_flow(tx: Tx, tenant: str, sha256: str) -> FlowRow | None:
    """A tenant's flow by the SHA-256 of its bytes (another tenant's flows are invisible)."""
    row = tx.execute(
        f"SELECT {_FLOW_COLUMNS} FROM flows WHERE tenant = ? AND sha256 = ?", (tenant, sha256)
    ).fetchone()
    if row is None:
        return None
    stages = tx.execute(
        "SELECT version, stage, at, detail_json FROM flow_stages WHERE flow_id = ?"
        " ORDER BY version",
        (row[0],),
    ).fetchall()
    return FlowRow(
        flow_id=row[0],
        tenant=row[1],
        sha256=row[2],
        file_name=row[3],
        size=int(row[4]),
        channel=row[5],
        status=row[6],
        flow=row[7],
        settlement_date=as_date(row[8]) if row[8] else None,
        run_type=row[9],
        run_number=row[10],
        bsc_party_id=row[11],
        received_at=as_datetime(row[12]),
        receipts=int(row[13]),
        periods=int(row[14]),
        reasons=json.loads(row[15]),
        warnings=json.loads(row[16]),
        stages=[
            {
                "version": int(v),
                "stage": s,
                "at": as_datetime(at).isoformat(),
                "detail": json.loads(d),
            }
            for v, s, at, d in stages
        ],
    )


class FlowSummary(NamedTuple):
    """One line of a tenant's list of received files."""

    sha256: str
    file_name: str
    status: str
    flow: str


def list_flows(tx: Tx, tenant: str, *, limit: int = 100) -> list[FlowSummary]:
    """The tenant's most recent flows, newest first."""
    rows = tx.execute(
        "SELECT sha256, file_name, status, flow FROM flows WHERE tenant = ?"
        " ORDER BY received_at DESC, flow_id LIMIT ?",
        (tenant, limit),
    ).fetchall()
    return [FlowSummary(r[0], r[1], r[2], r[3] or "") for r in rows]


class UnfinishedFlow(NamedTuple):
    """A file whose receipt is recorded but which has no verdict yet."""

    tenant: str
    sha256: str
    file_name: str
    channel: str


def unfinished_flows(tx: Tx, tenant: str | None) -> list[UnfinishedFlow]:
    """Files left ``received`` (by a crash, a timeout or a refusal), oldest first."""
    where, params = (
        ("status = 'received'", ())
        if tenant is None
        else (
            "status = 'received' AND tenant = ?",
            (tenant,),
        )
    )
    rows = tx.execute(
        f"SELECT tenant, sha256, file_name, channel FROM flows WHERE {where}"
        " ORDER BY received_at, flow_id",
        params,
    ).fetchall()
    return [UnfinishedFlow(*r) for r in rows]
