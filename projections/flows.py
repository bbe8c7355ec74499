"""Every received flow: its status now and each stage it went through, with reasons."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from ledger.adapters.storage import Database, Tx, as_date, as_datetime
from ledger.domain.aggregates import ReceivedFile


class StageRow(NamedTuple):
    """A row of ``flow_stages``: one step a received file went through."""

    version: int
    stage: str
    at: datetime
    detail: dict[str, Any]


@dataclass(frozen=True)
class FlowRow:
    """A row of ``flows``, with its stages: a received file as the view holds it."""

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
    stages: list[StageRow]


_OUTCOMES = (ReceivedFile.Rejected, ReceivedFile.DuplicateReceived, ReceivedFile.NotInterpreted)
# The warnings a file's row and its validated stage hold: the first few, enough for an answer
# about the file; every one is in flow_warnings (projections.flow_validation). Releases before
# schema 7 kept at most 23 per file, so a rebuild leaves their rows as they were.
ROW_WARNINGS = 25


class FlowsProjection:
    """Builds ``flows`` and ``flow_stages`` from flow events."""

    name = "flows"
    tables = ("flows", "flow_stages")

    def create_tables(self, database: Database) -> None:
        t = database.types
        with database.transaction() as tx:
            tx.execute(
                "CREATE TABLE IF NOT EXISTS flows ("
                " flow_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, sha256 TEXT NOT NULL,"
                f" file_name TEXT NOT NULL, size {t['BIGINT']} NOT NULL, channel TEXT NOT NULL,"
                " status TEXT NOT NULL, flow TEXT, settlement_date TEXT, run_type TEXT,"
                f" run_number {t['BIGINT']}, bsc_party_id TEXT, received_at {t['TS']} NOT NULL,"
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
            # Run numbers of values from no settlement run are instants (schema 6).
            database.widen_to_bigint(tx, "flows", "run_number")

    def clear(self, tx: Tx) -> None:
        tx.execute("DELETE FROM flows")
        tx.execute("DELETE FROM flow_stages")

    def apply(self, tx: Tx, events: Sequence[tuple[int, Any]]) -> None:
        for _nid, event in events:
            if isinstance(
                event, ReceivedFile.Received | ReceivedFile.Validated | ReceivedFile.Interpreted
            ):
                self._apply_progress(tx, event)
            elif isinstance(event, ReceivedFile.Mapped | ReceivedFile.Published):
                self._apply_step(tx, event)
            elif isinstance(
                event,
                ReceivedFile.Rejected
                | ReceivedFile.DuplicateReceived
                | ReceivedFile.NotInterpreted,
            ):
                self._apply_outcome(tx, event)

    def _apply_progress(self, tx: Tx, event: Any) -> None:
        key = str(event.originator_id)
        if isinstance(event, ReceivedFile.Received):
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
        elif isinstance(event, ReceivedFile.Validated):
            tx.execute(
                "UPDATE flows SET status = 'validated', flow = ?, settlement_date = ?,"
                " run_type = ?, run_number = ?, bsc_party_id = ?, warnings_json = ?"
                " WHERE flow_id = ?",
                (
                    event.flow,
                    _iso(event.settlement_date),
                    event.run_type,
                    event.run_number,
                    event.bsc_party_id,
                    json.dumps(event.warnings[:ROW_WARNINGS]),
                    key,
                ),
            )
            detail = {
                "format": event.format,
                "flow": event.flow,
                "flow_version": event.flow_version,
                "settlement_date": _iso(event.settlement_date),
                "run_type": event.run_type,
                "run_number": event.run_number,
                "bsc_party_id": event.bsc_party_id,
                "sender": event.sender,
                "file_creation_time": _iso(event.file_creation_time),
                "record_count": event.record_count,
                "warnings": event.warnings[:ROW_WARNINGS],
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

    def _apply_step(self, tx: Tx, event: Any) -> None:
        """A stage that changes no column of the flow: mapped, published."""
        if isinstance(event, ReceivedFile.Mapped):
            detail: dict[str, Any] = {
                "market_ids": event.market_ids,
                "unmapped": event.unmapped,
            }
            self._stage(tx, event, "mapped", detail)
        else:
            detail = {
                "new_versions": event.new_versions,
                "further_sources": event.further_sources,
                "conflicting_versions": event.conflicting_versions,
                "readings": event.readings,
            }
            self._stage(tx, event, "published", detail)

    def _apply_outcome(self, tx: Tx, event: Any) -> None:
        key = str(event.originator_id)
        if isinstance(event, ReceivedFile.NotInterpreted):
            tx.execute(
                "UPDATE flows SET status = 'not interpreted', flow = ?, reasons_json = ?"
                " WHERE flow_id = ?",
                (event.flow, json.dumps([event.reason]), key),
            )
            detail = {"format": event.format, "reason": event.reason}
            self._stage(tx, event, "not_interpreted", detail)
        elif isinstance(event, ReceivedFile.Rejected):
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


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


_FLOW_COLUMNS = (
    "flow_id",
    "tenant",
    "sha256",
    "file_name",
    "size",
    "channel",
    "status",
    "flow",
    "settlement_date",
    "run_type",
    "run_number",
    "bsc_party_id",
    "received_at",
    "receipts",
    "periods",
    "reasons_json",
    "warnings_json",
)


def find_flow(tx: Tx, tenant: str, sha256: str) -> FlowRow | None:
    """A tenant's flow by the SHA-256 of its bytes (another tenant's flows are invisible)."""
    found = tx.execute(
        f"SELECT {', '.join(_FLOW_COLUMNS)} FROM flows WHERE tenant = ? AND sha256 = ?",
        (tenant, sha256),
    ).fetchone()
    if found is None:
        return None
    r = dict(zip(_FLOW_COLUMNS, found, strict=True))
    stages = tx.execute(
        "SELECT version, stage, at, detail_json FROM flow_stages WHERE flow_id = ?"
        " ORDER BY version",
        (r["flow_id"],),
    ).fetchall()
    return FlowRow(
        flow_id=r["flow_id"],
        tenant=r["tenant"],
        sha256=r["sha256"],
        file_name=r["file_name"],
        size=int(r["size"]),
        channel=r["channel"],
        status=r["status"],
        flow=r["flow"],
        settlement_date=as_date(r["settlement_date"]) if r["settlement_date"] else None,
        run_type=r["run_type"],
        run_number=r["run_number"],
        bsc_party_id=r["bsc_party_id"],
        received_at=as_datetime(r["received_at"]),
        receipts=int(r["receipts"]),
        periods=int(r["periods"]),
        reasons=json.loads(r["reasons_json"]),
        warnings=json.loads(r["warnings_json"]),
        stages=[
            StageRow(version=int(v), stage=s, at=as_datetime(at), detail=json.loads(d))
            for v, s, at, d in stages
        ],
    )


class FlowSummaryRow(NamedTuple):
    """One line of a tenant's list of received files."""

    sha256: str
    file_name: str
    status: str
    flow: str | None  # None when the file was not recognised


def list_flows(tx: Tx, tenant: str, *, limit: int = 100) -> list[FlowSummaryRow]:
    """The tenant's most recent flows, newest first."""
    rows = tx.execute(
        "SELECT sha256, file_name, status, flow FROM flows WHERE tenant = ?"
        " ORDER BY received_at DESC, flow_id LIMIT ?",
        (tenant, limit),
    ).fetchall()
    return [
        FlowSummaryRow(sha256=sha256, file_name=file_name, status=status, flow=flow or None)
        for sha256, file_name, status, flow in rows
    ]


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
