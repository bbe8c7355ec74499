"""The assembled ledger: write side, read side and the queries the CLI and the API share."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext, suppress
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

from ledger.adapters.raw_payloads import Spool, stream_stored
from ledger.adapters.schema import mark_schema_ready, schema_ready
from ledger.adapters.storage import Database
from ledger.domain.errors import LedgerError
from ledger.domain.identifiers import Subject, tenant_id
from ledger.domain.runs import RunType, scheduled_run_date
from ledger.domain.settlement_time import check_as_of, check_settlement_period, period_start_utc
from ledger.service.application import Ledger
from ledger.service.ingestion import Ingestor, IngestResult
from ledger.service.read_models import (
    FlowList,
    FlowSummary,
    FlowView,
    Intervention,
    PeriodView,
    ViewsFreshness,
    best_of,
    versions_of,
)
from projections.flows import FlowsProjection, find_flow, list_flows, unfinished_flows
from projections.period_versions import (
    PeriodVersionsProjection,
    period_interventions,
    period_sources,
    period_versions,
)
from projections.runner import ProjectionRunner

DEFAULT_TENANT = "default"


class LedgerRuntime:
    """One database, the application that writes to it and the views read from it.

    Writers (ingestion, corrections, interventions, recovery) bring the views up to date
    before they return, so a query run after them sees what they wrote. Readers never wait
    for a writer: they answer from the views as they stand and say how far those have read
    the log (``views``). Start-up takes no write lock once the schema is in place.
    """

    def __init__(self, database_url: str | None = None) -> None:
        self.database = Database(database_url)
        try:
            self._start()
        except BaseException:
            # Also the library's own connections, if the application was already built.
            self.close()
            raise

    def _start(self) -> None:
        ready = schema_ready(self.database)
        with nullcontext() if ready else self.database.schema_lock():
            # Another process may have finished the set-up while this one waited for it.
            create = not ready and not schema_ready(self.database)
            self.ledger = Ledger(self.database, create_tables=create)
            self.runner = ProjectionRunner(
                self.database,
                self.ledger.mapper,
                [PeriodVersionsProjection(), FlowsProjection()],
                event_store=self.ledger.event_store,
                tracking=self.ledger.view_tracking,
            )
            self.ingestor = Ingestor(self.ledger, views=self.runner)
            if create:
                self.runner.create_tables()
                mark_schema_ready(self.database)

    def close(self) -> None:
        ledger = getattr(self, "ledger", None)
        if ledger is not None:
            ledger.close()
        self.database.close()

    def ingest(self, path: Path | str, *, tenant: str = DEFAULT_TENANT) -> IngestResult:
        with self._writing():
            return self.ingestor.ingest_path(path, tenant=tenant_id(tenant))

    def ingest_stream(
        self,
        stream: BinaryIO,
        *,
        file_name: str,
        tenant: str = DEFAULT_TENANT,
        channel: str = "cli",
    ) -> IngestResult:
        """Ingest a file read once from ``stream`` (standard input, a pipe, a file)."""
        with self._writing():
            return self.ingestor.ingest_stream(
                stream, file_name=file_name, tenant=tenant_id(tenant), channel=channel
            )

    def ingest_spool(
        self, spool: Spool, *, file_name: str, tenant: str = DEFAULT_TENANT, channel: str = "api"
    ) -> IngestResult:
        """Ingest bytes already spooled (an upload read as it arrived)."""
        with self._writing():
            return self.ingestor.ingest_spool(
                spool, file_name=file_name, tenant=tenant_id(tenant), channel=channel
            )

    def ingest_bytes(
        self, data: bytes, *, file_name: str, tenant: str = DEFAULT_TENANT, channel: str = "api"
    ) -> IngestResult:
        with self._writing():
            return self.ingestor.ingest_bytes(
                data, file_name=file_name, tenant=tenant_id(tenant), channel=channel
            )

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Around a write: bring the views up to date before returning, so a query run after
        it sees what it wrote, and also when it failed part way (a receipt it recorded)."""
        try:
            yield
        except BaseException:
            # The write's own error is the one to report; the next writer catches up anyway.
            with suppress(Exception):
                self.runner.catch_up()
            raise
        self.runner.catch_up()

    def recover(self, *, tenant: str | None = None) -> list[IngestResult]:
        """Complete every file left ``received`` (a crash, a timeout, a refusal) from its
        stored bytes, then bring every view up to date."""
        self.runner.catch_up()
        with self.database.transaction(write=False) as tx:
            pending = unfinished_flows(tx, None if tenant is None else tenant_id(tenant))
        results = [
            self.ingestor.complete(f.tenant, f.sha256, f.file_name, f.channel) for f in pending
        ]
        self.runner.catch_up()
        return results

    def correct(
        self,
        subject: str,
        settlement_date: date,
        settlement_period: int,
        *,
        supersedes: int,
        values: dict[str, Decimal],
        reason: str,
        actor: str,
        tenant: str = DEFAULT_TENANT,
    ) -> int:
        """Correct one version's values; returns the new version, already in the views."""
        with self._writing():
            return self.ledger.apply_correction(
                tenant_id(tenant),
                subject,
                settlement_date,
                settlement_period,
                supersedes=supersedes,
                values=values,
                reason=reason,
                actor=actor,
            )

    def intervene(
        self,
        subject: str,
        settlement_date: date,
        settlement_period: int,
        *,
        actor: str,
        reason: str,
        outcome: str,
        tenant: str = DEFAULT_TENANT,
    ) -> int:
        """Record a manual intervention on a period; already in the views when it returns."""
        with self._writing():
            return self.ledger.record_manual_intervention(
                tenant_id(tenant),
                subject,
                settlement_date,
                settlement_period,
                actor=actor,
                reason=reason,
                outcome=outcome,
            )

    def period(
        self,
        subject: str,
        settlement_date: date,
        settlement_period: int,
        *,
        tenant: str = DEFAULT_TENANT,
        as_of: datetime | None = None,
    ) -> PeriodView:
        """Every version of one period and the best available one, optionally as of an instant."""
        tenant = tenant_id(tenant)
        canonical = str(Subject.parse(subject))
        check_settlement_period(settlement_date, settlement_period)
        if as_of is not None:
            if as_of.tzinfo is None:
                raise LedgerError("the as-of instant needs a time zone, e.g. 2026-05-07T12:00:00Z")
            check_as_of(as_of)
        with self.database.transaction(write=False) as tx:
            rows = period_versions(
                tx, tenant, canonical, settlement_date, settlement_period, as_of=as_of
            )
            sources = period_sources(
                tx, tenant, canonical, settlement_date, settlement_period, as_of=as_of
            )
            interventions = period_interventions(
                tx, tenant, canonical, settlement_date, settlement_period, as_of=as_of
            )
            freshness = self.runner.freshness(tx)
        versions = versions_of(rows, sources)
        return PeriodView(
            tenant=tenant,
            subject=canonical,
            settlement_date=settlement_date,
            settlement_period=settlement_period,
            period_start=period_start_utc(settlement_date, settlement_period),
            as_of=as_of,
            scheduled_runs=scheduled_runs(settlement_date),
            versions=versions,
            best=best_of(versions),
            interventions=[Intervention.of(row) for row in interventions],
            views=ViewsFreshness.of(freshness),
        )

    def flow(self, sha256: str, *, tenant: str = DEFAULT_TENANT) -> FlowView | None:
        """A received file's status and every stage it went through (None if the tenant has
        received no such file)."""
        tenant = tenant_id(tenant)
        with self.database.transaction(write=False) as tx:
            found = find_flow(tx, tenant, sha256.lower())
        return None if found is None else FlowView.of(found)

    def flows(self, *, tenant: str = DEFAULT_TENANT, limit: int = 100) -> FlowList:
        """The tenant's most recently received files, newest first."""
        tenant = tenant_id(tenant)
        with self.database.transaction(write=False) as tx:
            rows = list_flows(tx, tenant, limit=limit)
        return FlowList(tenant=tenant, flows=[FlowSummary.of(row) for row in rows])

    def views(self) -> ViewsFreshness:
        """How far the views have read the event log."""
        with self.database.transaction(write=False) as tx:
            return ViewsFreshness.of(self.runner.freshness(tx))

    def raw_stream(self, sha256: str, *, tenant: str = DEFAULT_TENANT) -> Iterator[bytes] | None:
        """The original bytes of a received file, chunk by chunk, exactly as they arrived."""
        return stream_stored(self.database, tenant_id(tenant), sha256.lower())

    def raw_bytes(self, sha256: str, *, tenant: str = DEFAULT_TENANT) -> bytes | None:
        """The original bytes of a received file, whole (small files and tests)."""
        chunks = self.raw_stream(sha256, tenant=tenant)
        return None if chunks is None else b"".join(chunks)


def scheduled_runs(settlement_date: date) -> dict[str, date]:
    """When each run of this settlement day is due under the timetable in force."""
    try:
        due = {run: scheduled_run_date(settlement_date, run) for run in RunType}
    except ValueError:  # a day before any configured timetable
        return {}
    return {str(run): day for run, day in due.items() if day is not None}
