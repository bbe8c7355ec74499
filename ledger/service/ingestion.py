"""Staged ingestion of received flows: receive, validate, interpret, publish.

Stage 1 preserves the original bytes (content-addressed) and records the receipt. Stages 2 to 4
stream the file once, in one database transaction: every settlement-period event and the flow's
verdict commit together, or nothing does (a flow lands whole or not at all). A rejection is
recorded afterwards with its reasons; the bytes stay.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Literal, cast
from uuid import UUID

import psycopg
from psycopg_pool import PoolTimeout

from ledger.adapters.event_batch import PeriodEventEncoder
from ledger.adapters.raw_payloads import Spool, open_stored_apart, store, verify
from ledger.adapters.storage import (
    DATABASE_INTERRUPTIONS,
    Tx,
    interruption_summary,
    translate_connection_errors,
)
from ledger.domain.aggregates import (
    Delivery,
    ReceivedFile,
    classify_delivery,
    received_file_id,
    settlement_period_ids,
    values_digest,
)
from ledger.domain.errors import LedgerBusy, LedgerError, LedgerUnavailable
from ledger.domain.plain_text import plain_text
from ledger.flows.saa_i014 import (
    DailyValues,
    PeriodValues,
    SettlementReport,
    SettlementReportHeader,
    UnplacedRecord,
    parse_settlement_report,
)
from ledger.service.application import Ledger
from ledger.service.read_ahead import ReadAhead
from projections.runner import InlineViews, ProjectionRunner

BATCH_SIZE = 8000

Status = Literal["accepted", "duplicate", "rejected"]


@dataclass
class IngestResult:
    """What happened to one received file, as the CLI and API report it."""

    file: str
    sha256: str
    status: Status
    flow: str | None = None
    periods: int = 0
    events: int = 0
    reasons: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    settlement_date: str | None = None
    run_type: str | None = None
    run_number: int | None = None
    bsc_party_id: str | None = None
    new_versions: int = 0
    further_sources: int = 0
    conflicting_versions: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Deliveries:
    """How a file's subject-periods compare with what the ledger holds of the same run."""

    run: str
    new: int = 0
    same: int = 0
    conflicting: int = 0
    first_conflict: str | None = None

    def conflict(self, item: PeriodValues, conflicts_with: int) -> None:
        self.conflicting += 1
        if self.first_conflict is None:
            self.first_conflict = (
                f"{item.subject} period {item.settlement_period} on line "
                f"{item.record_position}, against version {conflicts_with}"
            )

    def warnings(self) -> list[str]:
        if not self.conflicting:
            return []
        return [
            f"{self.conflicting} subject-periods of run {self.run} were delivered before with "
            f"other values (first: {self.first_conflict}); they are kept as conflicting "
            "versions, out of the best view until someone decides"
        ]


@dataclass(frozen=True)
class _Receipt:
    key: UUID
    tenant: str
    sha256: str
    size: int
    channel: str
    file_name: str


def _as_duplicate(received: ReceivedFile, result: IngestResult) -> IngestResult:
    """The outcome of a receipt whose bytes already had a verdict: no new versions."""
    result.flow = received.flow
    if received.was_rejected:
        result.status = "rejected"
        result.reasons = [
            f"the same bytes were received before and rejected: {r}" for r in received.reasons
        ]
    else:
        result.status = "duplicate"
        result.reasons = [
            f"the same bytes (sha256 {received.sha256}) were already received and accepted; "
            "recorded as a duplicate receipt, no new versions"
        ]
    return result


def _busy_as_error(url: str, file_name: str, stages: Callable[[], IngestResult]) -> IngestResult:
    # A read-only or unopenable database is a setting to fix, not an interruption to retry.
    with translate_connection_errors(url):
        return _busy_or_interrupted(file_name, stages)


def _busy_or_interrupted(file_name: str, stages: Callable[[], IngestResult]) -> IngestResult:
    try:
        return stages()
    except (psycopg.errors.LockNotAvailable, PoolTimeout) as exc:
        raise LedgerBusy(_busy_message(file_name)) from exc
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc):
            raise LedgerBusy(_busy_message(file_name)) from exc
        raise LedgerUnavailable(_interrupted_message(file_name, exc)) from exc
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        raise LedgerUnavailable(_interrupted_message(file_name, exc)) from exc


def _busy_message(file_name: str) -> str:
    return (
        f"the ledger was busy writing another file and {file_name} waited too long; "
        "whatever was recorded of it is kept, send it again (or run ledger recover) to finish"
    )


def _interrupted_message(file_name: str, exc: Exception) -> str:
    return (
        f"the database was interrupted while {file_name} was processed "
        f"({interruption_summary(exc)}); "
        "whatever was recorded of it is kept, send it again (or run ledger recover) to finish"
    )


def _describe(report: SettlementReport, result: IngestResult) -> None:
    srh = report.srh
    result.flow = report.header.flow_id
    result.settlement_date = srh.settlement_date.isoformat()
    result.run_type = str(srh.run_type)
    result.run_number = srh.saa_run_number
    result.bsc_party_id = srh.bsc_party_id


def _decided_elsewhere(received: ReceivedFile, result: IngestResult) -> IngestResult:
    """The outcome of recovering a file that another process completed meanwhile."""
    result.flow = received.flow
    result.status = "rejected" if received.was_rejected else "accepted"
    result.reasons = list(received.reasons)
    result.warnings = ["another process completed this file meanwhile; nothing was added"]
    return result


def _other_item(
    item: DailyValues | UnplacedRecord, daily: list[dict[str, Any]], unplaced: list[dict[str, Any]]
) -> None:
    """A report's daily values or a record it could not place, recorded with the file."""
    if isinstance(item, DailyValues):
        daily.append(
            {
                "subject": item.subject,
                "values": {k: str(v) for k, v in item.values.items()},
                "unconfirmed": item.unconfirmed,
                "record_position": item.record_position,
            }
        )
    else:
        unplaced.append(
            {
                "record_position": item.record_position,
                "record_type": item.record_type,
                "fields": list(item.fields),
            }
        )


def _context(report: SettlementReport | None, file_name: str) -> str:
    if report is None:
        return f"file {file_name}"
    srh = report.srh
    party = srh.bsc_party_id or "all parties"
    return (
        f"{report.header.flow_id} file {file_name} (BSC Party {party}, settlement date "
        f"{srh.settlement_date.isoformat()}, run {srh.run_type} {srh.saa_run_number})"
    )


class Ingestor:
    """Runs received files through the stages and records every outcome as events."""

    def __init__(self, ledger: Ledger, *, views: ProjectionRunner | None = None) -> None:
        self.ledger = ledger
        # The views, kept current inside the ingestion's own transaction (see InlineViews);
        # without them, the views catch up from the log after the file commits.
        self.views = views
        self.database = ledger.database
        # How long a file waits for another file's ingestion is the event store's lock
        # timeout (storage.POSTGRES_LOCK_WAIT, storage.SQLITE_WAIT).
        self.event_store = ledger.event_store

    def ingest_path(self, path: Path | str, *, tenant: str, channel: str = "cli") -> IngestResult:
        with Path(path).open("rb") as stream:
            return self.ingest_stream(
                stream, file_name=Path(path).name, tenant=tenant, channel=channel
            )

    def ingest_stream(
        self, stream: BinaryIO, *, file_name: str, tenant: str, channel: str = "cli"
    ) -> IngestResult:
        """Receive a file from a stream (a file, a pipe, standard input), reading it once."""
        file_name = plain_text(file_name, "the file name")
        with Spool.read(stream, name=file_name) as spool:
            return self.ingest_spool(spool, file_name=file_name, tenant=tenant, channel=channel)

    def ingest_bytes(
        self, data: bytes, *, file_name: str, tenant: str, channel: str = "api"
    ) -> IngestResult:
        with Spool(name=file_name) as spool:
            spool.write(data)
            return self.ingest_spool(spool, file_name=file_name, tenant=tenant, channel=channel)

    def ingest_spool(
        self, spool: Spool, *, file_name: str, tenant: str, channel: str
    ) -> IngestResult:
        """Receive spooled bytes: preserve them, record the receipt, process the stored copy."""
        file_name = plain_text(file_name, "the file name")
        channel = plain_text(channel, "the channel")
        return _busy_as_error(
            self.database.url, file_name, lambda: self._stages(spool, file_name, tenant, channel)
        )

    def complete(self, tenant: str, sha256: str, file_name: str, channel: str) -> IngestResult:
        """Process a file left ``received`` (by a crash, a timeout or a refusal) from its
        stored bytes, recording no new receipt."""
        receipt = _Receipt(received_file_id(tenant, sha256), tenant, sha256, 0, channel, file_name)
        result = IngestResult(file=file_name, sha256=sha256, status="accepted")
        return _busy_as_error(self.database.url, file_name, lambda: self._complete(receipt, result))

    def _complete(self, receipt: _Receipt, result: IngestResult) -> IngestResult:
        # The bytes were stored by an earlier process, perhaps long ago: check they are still
        # the bytes their address names before any version cites them.
        with self.database.transaction(write=False) as tx:
            intact = verify(tx, receipt.tenant, receipt.sha256)
        if not intact:
            reason = (
                f"file {receipt.file_name}: its stored bytes no longer hash to {receipt.sha256} "
                "(damaged or missing in the store), so it cannot be completed; send the "
                "original file again"
            )
            return self._reject(receipt, result, [reason])
        return self._process(receipt, result, decided=_decided_elsewhere)

    # Stage 1: receive and preserve the bytes, record the receipt.
    def _stages(self, spool: Spool, file_name: str, tenant: str, channel: str) -> IngestResult:
        with self.database.transaction() as tx:
            store(tx, tenant, spool)
        sha256 = spool.sha256
        key = received_file_id(tenant, sha256)
        receipt = _Receipt(key, tenant, sha256, spool.size, channel, file_name)
        result = IngestResult(file=file_name, sha256=sha256, status="accepted")
        # Whether this receipt is the one that processes the file is decided under the
        # events lock, so a second receipt of the same bytes waits and then sees the verdict.
        with self.database.transaction() as tx:
            self._lock_events(tx)
            received = self._receive(tx, receipt, result)
        if received.has_verdict:
            return _as_duplicate(received, result)
        return self._process(receipt, result)

    def _process(
        self,
        receipt: _Receipt,
        result: IngestResult,
        *,
        decided: Callable[[ReceivedFile, IngestResult], IngestResult] = _as_duplicate,
    ) -> IngestResult:
        """Stages 2 to 4 on the stored copy: validate, interpret and publish, whole or not at
        all. Every verdict on the file is recorded; only an interrupted database leaves the
        file ``received``, for its next receipt or ``ledger recover`` to complete."""
        report: SettlementReport | None = None
        try:
            with self.database.transaction() as tx:
                self._lock_events(tx)
                received = self._received_file(receipt.key)
                if received.has_verdict:
                    # Another receipt of the same bytes got its verdict meanwhile.
                    return decided(received, result)
                # Read apart from ``tx``, so that the parse can run ahead in its own thread.
                stream = open_stored_apart(self.database, receipt.tenant, receipt.sha256)
                if stream is None:
                    raise LedgerError("its original bytes were not kept, so it cannot be read")
                report = parse_settlement_report(stream, file_name=receipt.file_name)
                _describe(report, result)
                views = InlineViews(self.views, tx) if self.views is not None else None
                self._publish(tx, received, report, result, views)
        except (LedgerError, UnicodeDecodeError) as exc:
            reason = str(exc)
        except (sqlite3.IntegrityError, psycopg.errors.UniqueViolation):
            reason = "the file carries the same subject and settlement period more than once"
        except DATABASE_INTERRUPTIONS:
            # Nothing is wrong with the file: it stays received for its next receipt or
            # ledger recover to complete.
            raise
        except Exception as exc:  # a verdict must be recorded whatever went wrong
            reason = (
                f"the ledger could not read it ({type(exc).__name__}); the file is kept "
                "unchanged: report this to the ledger's maintainers"
            )
        else:
            return result
        return self._reject(receipt, result, [f"{_context(report, receipt.file_name)}: {reason}"])

    def _received_file(self, key: UUID) -> ReceivedFile:
        received = self.ledger.received_file(key)
        assert received is not None, "the receipt is recorded before processing starts"
        return received

    def _receive(self, tx: Tx, receipt: _Receipt, result: IngestResult) -> ReceivedFile:
        """Record the receipt: the first one opens the file's history, later ones are
        duplicates."""
        received = self.ledger.received_file(receipt.key)
        if received is None:
            received = ReceivedFile.receive(
                receipt.tenant, receipt.sha256, receipt.size, receipt.channel, receipt.file_name
            )
        else:
            received.duplicate(receipt.channel, receipt.file_name)
        pending = received.collect_events()
        self._insert_events(tx, pending)
        result.events += len(pending)
        return received

    def _reject(self, receipt: _Receipt, result: IngestResult, reasons: list[str]) -> IngestResult:
        with self.database.transaction() as tx:
            self._lock_events(tx)
            received = self._received_file(receipt.key)
            if received.has_verdict:
                return _as_duplicate(received, result)
            received.reject(reasons, flow=result.flow)
            self._insert_events(tx, received.collect_events())
        result.status = "rejected"
        result.reasons = reasons
        result.periods = 0
        result.events += 1
        return result

    def _lock_events(self, tx: Tx) -> None:
        # The library's own append lock, held until ``tx`` ends: what is decided under it
        # (whether this receipt processes the file) cannot race another writer.
        self.event_store.lock_for_append(tx)

    def _publish(
        self,
        tx: Tx,
        flow: ReceivedFile,
        report: SettlementReport,
        result: IngestResult,
        views: InlineViews | None,
    ) -> None:
        now = datetime.now(UTC)
        srh = report.srh
        header = report.header
        encoder = PeriodEventEncoder(
            self.ledger.mapper,
            {
                "timestamp": now,
                "tenant": flow.tenant,
                "settlement_date": srh.settlement_date,
                "run_type": str(srh.run_type),
                "run_number": srh.saa_run_number,
                "maturity": str(srh.run_type.maturity),
                "flow": header.flow_id,
                "file_creation_time": header.creation_time,
                "source_sha256": flow.sha256,
            },
        )
        daily: list[dict[str, Any]] = []
        unplaced: list[dict[str, Any]] = []
        periods = 0
        batch: list[PeriodValues] = []
        deliveries = _Deliveries(f"{srh.run_type} {srh.saa_run_number}")

        def flush() -> None:
            nonlocal periods
            self._write_period_events(tx, flow.tenant, srh, batch, encoder, deliveries, views)
            periods += len(batch)
            batch.clear()

        # The parse runs ahead in a thread while the database takes each batch.
        with ReadAhead(report.items(), batch=BATCH_SIZE // 4, depth=8) as parsed:
            for items in parsed:
                for item in items:
                    if isinstance(item, PeriodValues):
                        batch.append(item)
                        if len(batch) >= BATCH_SIZE:
                            flush()
                    else:
                        _other_item(item, daily, unplaced)
        flush()

        flow.validate(
            flow=header.flow_id,
            flow_version=header.flow_version,
            settlement_date=srh.settlement_date,
            run_type=str(srh.run_type),
            run_number=srh.saa_run_number,
            bsc_party_id=srh.bsc_party_id,
            file_creation_time=header.creation_time,
            record_count=report.record_count,
            warnings=[*report.warnings, *deliveries.warnings()],
        )
        # One event per period, then the file's own two: validated and interpreted.
        flow.interpret(
            periods=periods, events=periods + 2, daily_values=daily, unplaced_records=unplaced
        )
        pending = flow.collect_events()
        self._insert_events(tx, pending)
        if views is not None:
            views.follow(tx, pending)
        result.periods = periods
        result.events += periods + 2
        result.warnings = [*report.warnings, *deliveries.warnings()]
        result.new_versions = deliveries.new
        result.further_sources = deliveries.same
        result.conflicting_versions = deliveries.conflicting

    def _write_period_events(
        self,
        tx: Tx,
        tenant: str,
        srh: SettlementReportHeader,
        items: Sequence[PeriodValues],
        encoder: PeriodEventEncoder,
        deliveries: _Deliveries,
        views: InlineViews | None,
    ) -> None:
        """One event per subject-period: new values, a further source of values already held
        from the same run, or values conflicting with them (the rule is the domain's)."""
        if not items:
            return
        store = self.event_store
        run_type, run_number = str(srh.run_type), srh.saa_run_number
        keys = settlement_period_ids(
            tenant, srh.settlement_date, [(i.subject, i.settlement_period) for i in items]
        )
        current = store.current_versions(tx, keys)
        held = [key for key in keys if key in current]
        known = store.run_versions(tx, held, run_type, run_number) if held else {}
        rows = []
        runs = []
        outcomes: list[tuple[UUID, int, PeriodValues, Delivery, int | None]] = []
        for key, item in zip(keys, items, strict=True):
            version = current.get(key, 0) + 1
            digest = values_digest(item.values)
            outcome, other = classify_delivery(known.get(key, ()), digest)
            rows.append(encoder.encoded(key, version, item, outcome, other))
            outcomes.append((key, version, item, outcome, other))
            if outcome is Delivery.SAME:
                deliveries.same += 1
                continue
            if outcome is Delivery.CONFLICTING:
                assert other is not None
                deliveries.conflict(item, other)
            else:
                deliveries.new += 1
            runs.append((key, run_type, run_number, version, digest))
        store.append_rows(tx, rows)
        if runs:
            store.record_runs(tx, runs)
        if views is not None:
            views.follow(tx, [encoder.event(*outcome) for outcome in outcomes])

    def _insert_events(self, tx: Tx, events: Sequence[Any]) -> None:
        """Append domain events to the event store, inside the open transaction."""
        self.event_store.append_rows(
            tx,
            (
                (cast(UUID, s.originator_id), s.originator_version, s.topic, s.state)
                for s in map(self.ledger.mapper.to_stored_event, events)
            ),
        )
