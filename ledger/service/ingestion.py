"""Staged ingestion of received flows: receive, validate, interpret, publish.

Stage 1 preserves the original bytes (content-addressed) and records the receipt. Stages 2 to 4
stream the file once, in one database transaction: every settlement-period event and the flow's
verdict commit together, or nothing does (a flow lands whole or not at all). A rejection is
recorded afterwards with its reasons; the bytes stay.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO, Literal, cast
from uuid import UUID

import psycopg
from psycopg_pool import PoolTimeout

from ledger.adapters.raw_payloads import (
    Spool,
    open_stored_apart,
    store,
    stored_size,
    stream_stored,
    verify,
)
from ledger.adapters.storage import (
    DATABASE_INTERRUPTIONS,
    Tx,
    interruption_summary,
    translate_connection_errors,
)
from ledger.domain.aggregates import (
    ReceivedFile,
    received_file_id,
)
from ledger.domain.checks import ArrivingRun, PartyTotals, billed_day, movements
from ledger.domain.errors import LedgerBusy, LedgerError, LedgerUnavailable
from ledger.domain.exception_queue import Category, Problem
from ledger.domain.plain_text import plain_text
from ledger.domain.readings import readings_by_meter, record_readings
from ledger.flows.canonical import (
    DailyValues,
    FileDescription,
    MeterReading,
    ParsedFile,
    PeriodValues,
    ReadLimits,
    Run,
    Stated,
    UnplacedRecord,
    weight,
)
from ledger.flows.formats import Detected, detect, looks_like
from ledger.service import file_problems
from ledger.service.application import Ledger
from ledger.service.collection import collection_paused
from ledger.service.exceptions import ExceptionQueue
from ledger.service.file_problems import FileFacts
from ledger.service.mappings import unmapped_by_date
from ledger.service.parse_apart import ParsedApart, could_not_read, possible
from ledger.service.period_writer import BATCH_BYTES, BATCH_SIZE, PeriodWriter
from ledger.service.read_ahead import ReadAhead
from ledger.service.read_models import shown_warnings, standing_of
from ledger.service.settings import movement_threshold, parse_apart_bytes, read_limits
from projections.mappings import mapped_kinds
from projections.period_versions import day_interventions, day_versions
from projections.runner import InlineViews, ProjectionRunner

Status = Literal["accepted", "duplicate", "rejected", "not interpreted"]


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
    warnings: list[str] = field(default_factory=list)  # the first few (see shown_warnings)
    settlement_date: str | None = None
    run_type: str | None = None
    run_number: int | None = None
    bsc_party_id: str | None = None
    format: str | None = None
    readings: int = 0
    unmapped: list[str] = field(default_factory=list)
    new_versions: int = 0
    further_sources: int = 0
    conflicting_versions: int = 0
    warning_count: int = 0  # every warning found; all that were kept are in the flow's view

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


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
    elif received.status == "not interpreted":
        result.status = "not interpreted"
        result.reasons = [
            f"the same bytes were received before and kept without being interpreted: {r}"
            for r in received.reasons
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


def _describe(description: FileDescription, result: IngestResult) -> None:
    result.format = description.format
    result.flow = description.flow
    date = description.settlement_date
    result.settlement_date = date.isoformat() if date is not None else None
    run = description.run
    result.run_type = str(run.run_type) if run is not None else None
    result.run_number = run.run_number if run is not None else None
    result.bsc_party_id = description.bsc_party_id


def _validated_fields(description: FileDescription) -> dict[str, Any]:
    """What the file's Validated event records of its description."""
    run = description.run
    return {
        "format": description.format,
        "flow": description.flow,
        "flow_version": description.flow_version,
        "settlement_date": description.settlement_date,
        "run_type": str(run.run_type) if run is not None else None,
        "run_number": run.run_number if run is not None else None,
        "bsc_party_id": description.bsc_party_id,
        "sender": description.sender,
        "file_creation_time": description.file_creation_time,
    }


def _decided_elsewhere(received: ReceivedFile, result: IngestResult) -> IngestResult:
    """The outcome of recovering a file that another process completed meanwhile."""
    result.flow = received.flow
    result.status = (
        "rejected"
        if received.was_rejected
        else "not interpreted"
        if received.status == "not interpreted"
        else "accepted"
    )
    result.reasons = list(received.reasons)
    result.warnings = ["another process completed this file meanwhile; nothing was added"]
    result.warning_count = 1
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


def _context(description: FileDescription | None, file_name: str) -> str:
    if description is None:
        return f"file {file_name}"
    what = f"{description.flow} file {file_name}"
    facts = []
    if description.bsc_party_id is not None or description.run is not None:
        facts.append(f"BSC Party {description.bsc_party_id or 'all parties'}")
    if description.settlement_date is not None:
        facts.append(f"settlement date {description.settlement_date.isoformat()}")
    if description.run is not None:
        facts.append(f"run {description.run.run_type} {description.run.run_number}")
    return f"{what} ({', '.join(facts)})" if facts else what


def _read_items(
    parsed: ParsedFile, writer: PeriodWriter, totals: PartyTotals
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[MeterReading]]:
    """Stream the file's items to the writer; keep its daily values, unplaced records and
    readings. The parse runs ahead in a thread while the database takes each batch."""
    daily: list[dict[str, Any]] = []
    unplaced: list[dict[str, Any]] = []
    readings: list[MeterReading] = []
    chunks_of = ReadAhead(
        parsed.items(),
        batch=BATCH_SIZE // 4,
        depth=8,
        weigh=weight,
        max_weight=BATCH_BYTES // 8,  # the queue holds at most about one batch's worth
    )
    with chunks_of as chunks:
        for items in chunks:
            for item in items:
                if isinstance(item, PeriodValues):
                    writer.add(item)
                    totals.period(item.subject, item.settlement_period, item.values)
                elif isinstance(item, MeterReading):
                    readings.append(item)
                else:
                    if isinstance(item, DailyValues):
                        totals.daily(item.subject, item.values)
                    _other_item(item, daily, unplaced)
    writer.finish()
    return daily, unplaced, readings


def _billed(
    tx: Tx, tenant: str, run: Run, totals: PartyTotals, now: datetime
) -> tuple[dict[str, dict[str, Decimal]], dict[str, dict[str, Decimal]]]:
    """Each party's charges over the file's periods as billed before the file (the best
    versions and pins the ledger held) and after it (:func:`billed_day`): two view queries per
    party."""
    before = now - timedelta(microseconds=1)
    arriving = ArrivingRun(str(run.run_type), run.run_number, run.file_creation_time, now)
    was: dict[str, dict[str, Decimal]] = {}
    after: dict[str, dict[str, Decimal]] = {}
    for subject, periods in totals.period_values().items():
        held = day_versions(tx, tenant, subject, run.settlement_date, as_of=before)
        made = day_interventions(tx, tenant, subject, run.settlement_date, as_of=before)
        pinned = {period: standing_of(made.get(period, [])).pinned for period in periods}
        billed_before, billed_after = billed_day(periods, held, pinned, arriving)
        if billed_before:
            was[subject], after[subject] = billed_before, billed_after
    return was, after


def _facts(
    sha256: str, file_name: str, result: IngestResult, stated: Stated | None = None
) -> FileFacts:
    """What a problem about the file says of it: what it is, as far as it was read (its
    description, and what it stated before it was refused)."""
    run = f"{result.run_type} {result.run_number}" if result.run_type else None
    day = date.fromisoformat(result.settlement_date) if result.settlement_date else None
    stated = stated if stated is not None else Stated()
    return FileFacts(
        sha256=sha256,
        file_name=file_name,
        flow=result.flow,
        settlement_date=day or stated.settlement_date,
        run=run,
        party=result.bsc_party_id or stated.bsc_party_id,
        subject=stated.subject,
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
        # What the pipeline finds wrong or suspicious goes to the exception queue, in the
        # same transaction as what it records of the file.
        self.exceptions = ExceptionQueue(ledger)
        self.movement_threshold = movement_threshold()
        # From what size a file is read in a process of its own (None: never, as on a machine
        # with one core, where the two processes would only take turns).
        self.parse_apart_bytes = parse_apart_bytes() if possible() else None
        # How much a reader keeps of one file (warnings, records kept without being read),
        # and how far after its arrival its instants may lie.
        self.limits = read_limits()

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
        description: FileDescription | None = None
        stated = Stated()  # what the file says of itself, however far it is read
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
                detected = detect(stream, label=receipt.file_name)
                if detected.nothing is not None:
                    raise LedgerError(detected.nothing)
                views = InlineViews(self.views, tx) if self.views is not None else None
                if detected.format is None:
                    reason = (
                        f"file {receipt.file_name}: no format the ledger reads recognises it "
                        f"({looks_like(detected.head)}); its bytes are kept as received"
                    )
                    self._keep(tx, received, result, reason, views)
                    return result
                limits = self.limits.arrived(received.created_on)
                with self._read(tx, receipt, detected, stated, limits) as parsed:
                    description = parsed.description
                    _describe(description, result)
                    self._publish(tx, received, parsed, result, views)
        except (LedgerBusy, LedgerUnavailable):
            raise  # nothing is wrong with the file: it stays received
        except (LedgerError, UnicodeDecodeError) as exc:
            reason = str(exc)
        except (sqlite3.IntegrityError, psycopg.errors.UniqueViolation):
            reason = "the file carries the same subject and settlement period more than once"
        except DATABASE_INTERRUPTIONS:
            # Nothing is wrong with the file: it stays received for its next receipt or
            # ledger recover to complete.
            raise
        except Exception as exc:  # a verdict must be recorded whatever went wrong
            reason = could_not_read(type(exc).__name__)
        else:
            return result
        context = _context(description, receipt.file_name)
        return self._reject(receipt, result, [f"{context}: {reason}"], stated)

    @contextmanager
    def _read(
        self, tx: Tx, receipt: _Receipt, detected: Detected, stated: Stated, limits: ReadLimits
    ) -> Iterator[ParsedFile]:
        """The file as its format reads it, within ``limits`` (``stated`` kept up with what it
        says of itself): in this process, or in a process of its own when it is large and a
        core is free to read it while this one writes (see parse_apart)."""
        assert detected.format is not None
        threshold = self.parse_apart_bytes
        if threshold is None or (stored_size(tx, receipt.tenant, receipt.sha256) or 0) < threshold:
            yield detected.format.read(
                detected.content, file_name=receipt.file_name, stated=stated, limits=limits
            )
            return
        chunks = stream_stored(self.database, receipt.tenant, receipt.sha256)
        assert chunks is not None, "the bytes were found above"
        with ParsedApart(
            chunks, file_name=receipt.file_name, stated=stated, limits=limits
        ) as parsed:
            yield parsed

    def _keep(
        self,
        tx: Tx,
        received: ReceivedFile,
        result: IngestResult,
        reason: str,
        views: InlineViews | None,
        description: FileDescription | None = None,
    ) -> None:
        """Keep the file without interpreting it (a verdict), saying why."""
        received.keep_uninterpreted(
            reason,
            format=description.format if description is not None else None,
            flow=description.flow if description is not None else None,
        )
        pending: list[Any] = list(received.collect_events())
        self._insert_events(tx, pending)
        facts = _facts(received.sha256, received.file_name, result)
        problem = file_problems.not_interpreted(facts, reason, recognised=description is not None)
        pending += self.exceptions.raise_problems(tx, received.tenant, [problem])
        if views is not None:
            views.follow(tx, pending)
        result.status = "not interpreted"
        result.reasons = [reason]
        result.events += len(pending)

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

    def _reject(
        self,
        receipt: _Receipt,
        result: IngestResult,
        reasons: list[str],
        stated: Stated | None = None,
    ) -> IngestResult:
        with self.database.transaction() as tx:
            self._lock_events(tx)
            received = self._received_file(receipt.key)
            if received.has_verdict:
                return _as_duplicate(received, result)
            received.reject(reasons, flow=result.flow)
            self._insert_events(tx, received.collect_events())
            facts = _facts(receipt.sha256, receipt.file_name, result, stated)
            problem = file_problems.rejected(facts, reasons)
            self.exceptions.raise_problems(tx, receipt.tenant, [problem])
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
        parsed: ParsedFile,
        result: IngestResult,
        views: InlineViews | None,
    ) -> None:
        now = datetime.now(UTC)
        provenance = (flow.tenant, flow.sha256, parsed.description)
        totals = PartyTotals()
        writer = PeriodWriter(tx, self.event_store, self.ledger.mapper, provenance, views, now)
        with collection_paused(), writer:
            daily, unplaced, readings = _read_items(parsed, writer, totals)
        # Some of the description is known only once the whole file is read (the one
        # settlement date of a meter data file).
        description = parsed.description
        _describe(description, result)
        result.events += self._record_readings(tx, flow, description.flow, readings, views)
        deliveries_found = writer.deliveries.warnings()
        warnings = [*parsed.warnings, *deliveries_found]
        warning_count = parsed.warning_count + len(deliveries_found)
        flow.validate(
            **_validated_fields(description),
            record_count=parsed.record_count,
            warnings=warnings,
            warning_count=warning_count,
            checks=[check.as_dict() for check in parsed.checks],
        )
        result.warnings = shown_warnings(warnings, warning_count, flow.sha256)
        result.warning_count = warning_count
        if description.not_interpreted is not None:
            self._keep(tx, flow, result, description.not_interpreted, views, description)
            return
        facts = _facts(flow.sha256, flow.file_name, result)
        unmapped = self._unmapped(tx, flow.tenant, writer.subjects)
        unmapped_ids = sorted(set().union(*unmapped.values()))
        flow.map(sum(len(ids) for ids in writer.subjects.values()), unmapped_ids)
        # One event per period, then the file's own: validated, mapped, interpreted, published.
        flow.interpret(
            periods=writer.periods,
            events=writer.periods + 4,
            daily_values=daily,
            unplaced_records=unplaced,
        )
        deliveries = writer.deliveries
        flow.publish(
            new_versions=deliveries.new,
            further_sources=deliveries.same,
            conflicting_versions=deliveries.conflicting,
            readings=len(readings),
        )
        pending: list[Any] = list(flow.collect_events())
        self._insert_events(tx, pending)
        problems = file_problems.unmapped(facts, unmapped)
        problems += self._suspicious(tx, flow.tenant, facts, writer, (totals, description.run), now)
        pending += self.exceptions.resolve_by_ledger(
            tx,
            flow.tenant,
            file_problems.identity_keys(facts),
            flow=flow.sha256,
            reason=f"{facts.described} was accepted in its place",
        )
        pending += self.exceptions.raise_problems(tx, flow.tenant, problems)
        if views is not None:
            views.follow(tx, pending)
        result.periods = writer.periods
        result.events += writer.periods + len(pending)
        result.readings = len(readings)
        result.unmapped = unmapped_ids
        result.new_versions = deliveries.new
        result.further_sources = deliveries.same
        result.conflicting_versions = deliveries.conflicting

    def _unmapped(
        self, tx: Tx, tenant: str, subjects: Mapping[date, set[str]]
    ) -> dict[date, set[str]]:
        """The market ids, by settlement date, of the kinds the tenant maps that have no
        mapping on that date (a tenant mapping no id of a kind expects none)."""
        kinds = mapped_kinds(tx, tenant)
        if not kinds:
            return {}
        wanted = {
            day: {s for s in ids if s.partition(":")[0] in kinds} for day, ids in subjects.items()
        }
        return unmapped_by_date(tx, tenant, {day: ids for day, ids in wanted.items() if ids})

    def _suspicious(
        self,
        tx: Tx,
        tenant: str,
        facts: FileFacts,
        writer: PeriodWriter,
        read: tuple[PartyTotals, Run | None],
        now: datetime,
    ) -> list[Problem]:
        """Conflicting deliveries, totals that do not add up, movements of what is billed
        (``read``: the parties' values the file gave, and its run when it has one)."""
        totals, run = read
        deliveries = writer.deliveries
        problems = []
        if deliveries.conflicting:
            first = deliveries.first_conflict or ""
            problems.append(file_problems.conflicts(facts, deliveries.conflicting, first))
        flow = facts.flow or "file"
        found = totals.findings(flow)
        problems += file_problems.findings(facts, "totals", Category.TOTALS_MISMATCH, found)
        if run is not None and totals.sums():
            before, after = _billed(tx, tenant, run, totals, now)
            moved = movements(before, after, self.movement_threshold, f"run {facts.run}")
            problems += file_problems.findings(
                facts, "movement", Category.SUSPICIOUS_MOVEMENT, moved
            )
        return problems

    def _record_readings(
        self,
        tx: Tx,
        received: ReceivedFile,
        flow: str,
        readings: Sequence[MeterReading],
        views: InlineViews | None,
    ) -> int:
        """Each meter's readings from the file, one event on the meter's own history; how
        many events that made."""
        tenant, sha256 = received.tenant, received.sha256
        events = 0
        for (mpan, meter), group in readings_by_meter(readings).items():
            existing = self.ledger.meter_readings(tenant, mpan, meter)
            meter_readings = record_readings(tenant, sha256, flow, group, existing)
            if meter_readings is None:
                continue
            pending = meter_readings.collect_events()
            self._insert_events(tx, pending)
            if views is not None:
                views.follow(tx, pending)
            events += len(pending)
        return events

    def _insert_events(self, tx: Tx, events: Sequence[Any]) -> None:
        """Append domain events to the event store, inside the open transaction."""
        self.event_store.append_rows(
            tx,
            (
                (cast(UUID, s.originator_id), s.originator_version, s.topic, s.state)
                for s in map(self.ledger.mapper.to_stored_event, events)
            ),
        )
