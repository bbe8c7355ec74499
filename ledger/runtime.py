"""The assembled ledger: write side, read side and the queries the CLI and the API share."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from ledger.application import Ledger
from ledger.errors import LedgerError
from ledger.identifiers import Subject, tenant_id
from ledger.ingestion import Ingestor, IngestResult
from ledger.runs import RunType, scheduled_run_date
from ledger.settlement_time import check_settlement_period, period_start_utc
from ledger.storage import Database
from projections.flows import FlowRow, FlowsProjection, FlowSummary, find_flow, list_flows
from projections.period_versions import (
    PeriodVersionsProjection,
    VersionRow,
    best_of,
    period_interventions,
    period_versions,
)
from projections.runner import ProjectionRunner

DEFAULT_TENANT = "default"


class LedgerRuntime:
    """One database, the application that writes to it and the views read from it."""

    def __init__(self, database_url: str | None = None) -> None:
        self.database = Database(database_url)
        self.ledger = Ledger(self.database)
        self.ingestor = Ingestor(self.ledger)
        self.runner = ProjectionRunner(
            self.database,
            self.ledger.mapper,
            [PeriodVersionsProjection(), FlowsProjection()],
            events_table=self.ledger.events_table,
        )

    def close(self) -> None:
        self.ledger.close()
        self.database.close()

    def ingest(self, path: Path | str, *, tenant: str = DEFAULT_TENANT) -> IngestResult:
        result = self.ingestor.ingest_path(path, tenant=tenant_id(tenant))
        self.runner.catch_up()
        return result

    def ingest_bytes(
        self, data: bytes, *, file_name: str, tenant: str = DEFAULT_TENANT, channel: str = "api"
    ) -> IngestResult:
        result = self.ingestor.ingest_bytes(
            data, file_name=file_name, tenant=tenant_id(tenant), channel=channel
        )
        self.runner.catch_up()
        return result

    def period(
        self,
        subject: str,
        settlement_date: date,
        settlement_period: int,
        *,
        tenant: str = DEFAULT_TENANT,
        as_of: datetime | None = None,
    ) -> dict[str, Any]:
        """Every version of one period and the best available one, optionally as of an instant."""
        tenant = tenant_id(tenant)
        canonical = str(Subject.parse(subject))
        check_settlement_period(settlement_date, settlement_period)
        if as_of is not None and as_of.tzinfo is None:
            raise LedgerError("the as-of instant needs a time zone, e.g. 2026-05-07T12:00:00Z")
        self.runner.catch_up()
        with self.database.transaction(write=False) as tx:
            key = (tx, tenant, canonical, settlement_date, settlement_period)
            versions = period_versions(*key, as_of=as_of)
            interventions = period_interventions(*key, as_of=as_of)
        best = best_of(versions)
        return {
            "tenant": tenant,
            "subject": canonical,
            "settlement_date": settlement_date.isoformat(),
            "settlement_period": settlement_period,
            "period_start": period_start_utc(settlement_date, settlement_period).isoformat(),
            "as_of": as_of.isoformat() if as_of else None,
            "scheduled_runs": scheduled_runs(settlement_date),
            "versions": [version_json(v) for v in versions],
            "best": version_json(best) if best else None,
            "interventions": interventions,
        }

    def flow(self, sha256: str, *, tenant: str = DEFAULT_TENANT) -> FlowRow | None:
        tenant = tenant_id(tenant)
        self.runner.catch_up()
        with self.database.transaction(write=False) as tx:
            return find_flow(tx, tenant, sha256.lower())

    def flows(self, *, tenant: str = DEFAULT_TENANT, limit: int = 100) -> list[FlowSummary]:
        """The tenant's most recently received files, newest first."""
        tenant = tenant_id(tenant)
        self.runner.catch_up()
        with self.database.transaction(write=False) as tx:
            return list_flows(tx, tenant, limit=limit)

    def raw_bytes(self, sha256: str, *, tenant: str = DEFAULT_TENANT) -> bytes | None:
        """The original bytes of a received file, exactly as they arrived."""
        tenant = tenant_id(tenant)
        with self.database.transaction(write=False) as tx:
            if not tx.execute(
                "SELECT 1 FROM raw_payloads WHERE tenant = ? AND sha256 = ?", (tenant, sha256)
            ).fetchone():
                return None
            rows = tx.execute(
                "SELECT data FROM raw_payload_chunks WHERE tenant = ? AND sha256 = ? ORDER BY seq",
                (tenant, sha256),
            ).fetchall()
        return b"".join(bytes(r[0]) for r in rows)


def scheduled_runs(settlement_date: date) -> dict[str, str]:
    """When each run of this settlement day is due under the timetable in force."""
    try:
        due = {run: scheduled_run_date(settlement_date, run) for run in RunType}
    except ValueError:  # a day before any configured timetable
        return {}
    return {str(run): day.isoformat() for run, day in due.items() if day is not None}


def version_json(v: VersionRow) -> dict[str, Any]:
    """A version as JSON: decimals as exact strings, instants in ISO 8601."""
    return {
        "version": v.version,
        "kind": v.kind,
        "run_type": v.run_type,
        "run_number": v.run_number,
        "maturity": v.maturity,
        "file_creation_time": v.file_creation_time.isoformat(),
        "recorded_at": v.recorded_at.isoformat(),
        "values": {k: str(d) for k, d in v.values.items()},
        "attributes": v.attributes,
        "unconfirmed": v.unconfirmed,
        "source": (
            {"sha256": v.source_sha256, "flow": v.flow, "record_position": v.record_position}
            if v.source_sha256
            else None
        ),
        "supersedes": v.supersedes,
        "reason": v.reason,
        "actor": v.actor,
    }
