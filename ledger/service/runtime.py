"""The assembled ledger: write side, read side and the queries the CLI and the API share."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import BinaryIO

from ledger.adapters.raw_payloads import Spool, stream_stored
from ledger.adapters.schema import mark_schema_ready, schema_ready
from ledger.adapters.storage import Database
from ledger.domain.documents import (
    Document,
    DocumentRefused,
    check_line_count,
    check_measures_named,
    check_named_once,
    document_id,
    document_reference,
)
from ledger.domain.errors import InvalidInstant, LedgerBusy, LedgerError
from ledger.domain.identifiers import Subject, tenant_id
from ledger.domain.plain_text import excerpt
from ledger.domain.runs import SETTLEMENT_RUNS, RunType, scheduled_run_date
from ledger.domain.selection import Rule
from ledger.domain.settlement_time import (
    check_as_of,
    check_settlement_date,
    check_settlement_period,
    period_start_utc,
    periods_in_day,
)
from ledger.service.application import Ledger, NotFound
from ledger.service.documents import (
    DEFAULT_DOCUMENTS_PAGE,
    DocumentList,
    DocumentSummary,
    DocumentUse,
    DocumentView,
    StaleDocument,
    check_documents_page,
    measures_of,
    resolve_lines,
    use_of,
)
from ledger.service.exceptions import ExceptionQueue
from ledger.service.feed import check_page, read_feed
from ledger.service.ingestion import Ingestor, IngestResult
from ledger.service.mappings import IdentityMappings, with_internal_ids
from ledger.service.projector import DEFAULT_POLL_SECONDS, keep_views_current
from ledger.service.read_models import (
    DayView,
    FeedPage,
    FlowList,
    FlowSummary,
    FlowView,
    FlowWarnings,
    Hold,
    Intervention,
    NumberedWarning,
    PeriodHistory,
    PeriodView,
    Verification,
    ViewsFreshness,
    day_periods,
    history_steps,
    standing_of,
    versions_of,
)
from ledger.service.settings import max_document_lines
from ledger.service.unit_of_work import UnitOfWork
from projections.document_revisions import (
    DocumentRevisionsProjection,
    RevisionRow,
    revision_lines,
    revisions,
)
from projections.documents import (
    DocumentRow,
    DocumentsProjection,
    lines_using,
    list_documents,
    stale_lines,
)
from projections.documents import document as document_rows
from projections.exceptions import ExceptionsProjection
from projections.flow_validation import FlowValidationProjection, validation_of, warnings_after
from projections.flows import FlowsProjection, find_flow, list_flows, unfinished_flows
from projections.mappings import MappingsProjection
from projections.meter_readings import MeterReadingsProjection
from projections.period_versions import (
    PeriodVersionsProjection,
    day_interventions,
    day_versions,
    period_interventions,
    period_source_steps,
    period_sources,
    period_versions,
    subject_known,
)
from projections.runner import ProjectionRunner

DEFAULT_TENANT = "default"


def _changed(reference: str) -> str:
    return (
        f"document {reference} changed while this command ran: look at it again (ledger "
        "documents show) and try again"
    )


def _issued_already(reference: str) -> DocumentRefused:
    return DocumentRefused(
        f"document {reference} was issued already: re-issue it (ledger documents reissue) "
        "or use another reference"
    )


# The most warnings one page of a file's warnings holds.
MAX_WARNINGS_PAGE = 1000


def _check_warnings_page(after: int, limit: int) -> None:
    """Refuse a page of warnings that cannot be served, in a reader's words."""
    if after < 0:
        raise LedgerError(
            f"a file's warnings are numbered from 1, so there is nothing after {after}: ask for "
            "those after 0 to read from the first"
        )
    if not 1 <= limit <= MAX_WARNINGS_PAGE:
        raise LedgerError(
            f"a page of warnings holds 1 to {MAX_WARNINGS_PAGE} of them, not {limit}: read on "
            "from the page's next_after for more"
        )


class LedgerRuntime:
    """One database, the application that writes to it and the views read from it.

    Writers (ingestion, corrections, interventions, recovery) bring the views up to date
    before they return, so a query run after them sees what they wrote. Readers never wait
    for a writer: they answer from the views as they stand and say how far those have read
    the log (``views``). Start-up takes no write lock once the schema is in place.
    """

    def __init__(self, database_url: str | None = None, *, create: bool = True) -> None:
        """The ledger at ``database_url`` (default: LEDGER_DATABASE_URL); unless ``create``,
        a SQLite file that does not exist is refused, not created (a command that only
        reads)."""
        self.database = Database(database_url, create=create)
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
                # Documents after periods: a document's staleness reads the periods' views.
                [
                    PeriodVersionsProjection(),
                    FlowsProjection(),
                    DocumentsProjection(),
                    DocumentRevisionsProjection(),
                    ExceptionsProjection(),
                    MappingsProjection(),
                    MeterReadingsProjection(),
                    FlowValidationProjection(),
                ],
                event_store=self.ledger.event_store,
                tracking=self.ledger.view_tracking,
            )
            self.ingestor = Ingestor(self.ledger, views=self.runner)
            self.unit_of_work = UnitOfWork(self.ledger, self.runner)
            self.max_document_lines = max_document_lines()
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
        action: str,
        version: int | None = None,
        actor: str,
        reason: str,
        tenant: str = DEFAULT_TENANT,
    ) -> int:
        """A typed manual intervention on a period: ``hold``, ``pin`` (``version``) or
        ``release``; returns the new aggregate version, already in the views."""
        with self._writing():
            return self.ledger.intervene(
                tenant_id(tenant),
                subject,
                settlement_date,
                settlement_period,
                action=action,
                version=version,
                actor=actor,
                reason=reason,
            )

    def period(
        self,
        subject: str,
        settlement_date: date,
        settlement_period: int,
        *,
        tenant: str = DEFAULT_TENANT,
        as_of: datetime | None = None,
        run: str | None = None,
    ) -> PeriodView:
        """Every version of one period and the best available one, optionally as of an instant;
        with ``run``, ``best`` is the ``run:RUN`` rule's choice (among those known then)."""
        tenant = tenant_id(tenant)
        canonical = str(Subject.parse(subject))
        check_settlement_period(settlement_date, settlement_period)
        if as_of is not None:
            if as_of.tzinfo is None:
                raise LedgerError("the as-of instant needs a time zone, e.g. 2026-05-07T12:00:00Z")
            check_as_of(as_of)
        rule = selection_rule(as_of, run)
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
            known = bool(rows) or subject_known(tx, tenant, canonical)
            versions = with_internal_ids(
                tx, tenant, canonical, settlement_date, versions_of(rows, sources), as_of=as_of
            )
        # The hold and the pin as they stand now, or as they stood at the as-of instant.
        standing = standing_of(interventions)
        return PeriodView(
            tenant=tenant,
            subject=canonical,
            subject_known=known,
            settlement_date=settlement_date,
            settlement_period=settlement_period,
            period_start=period_start_utc(settlement_date, settlement_period),
            as_of=as_of,
            scheduled_runs=scheduled_runs(settlement_date),
            versions=versions,
            best=rule.choose(versions, pinned=standing.pinned),
            selected_by=str(rule),
            interventions=[Intervention.of(row) for row in interventions],
            held=Hold.of(standing),
            pinned_version=standing.pinned,
            views=ViewsFreshness.of(freshness),
        )

    def history(
        self,
        subject: str,
        settlement_date: date,
        settlement_period: int,
        *,
        tenant: str = DEFAULT_TENANT,
        recorded_from: datetime | None = None,
        recorded_to: datetime | None = None,
    ) -> PeriodHistory:
        """A period's history: every event its views hold recorded in [``recorded_from``,
        ``recorded_to``] (either end open when not given), in order, each with the best
        version after it. From the views' rows of the period (by key, up to ``recorded_to``),
        never from the event log."""
        tenant = tenant_id(tenant)
        canonical = str(Subject.parse(subject))
        check_settlement_period(settlement_date, settlement_period)
        check_window(recorded_from, recorded_to)
        key = (tenant, canonical, settlement_date, settlement_period)
        with self.database.transaction(write=False) as tx:
            rows = period_versions(tx, *key, as_of=recorded_to)
            sources = period_source_steps(tx, *key, as_of=recorded_to)
            interventions = period_interventions(tx, *key, as_of=recorded_to)
            freshness = self.runner.freshness(tx)
            known = bool(rows) or subject_known(tx, tenant, canonical)
        before, steps = history_steps(rows, sources, interventions, recorded_from)
        return PeriodHistory(
            tenant=tenant,
            subject=canonical,
            subject_known=known,
            settlement_date=settlement_date,
            settlement_period=settlement_period,
            period_start=period_start_utc(settlement_date, settlement_period),
            recorded_from=recorded_from,
            recorded_to=recorded_to,
            best_before=before,
            steps=steps,
            views=ViewsFreshness.of(freshness),
        )

    def day(
        self,
        subject: str,
        settlement_date: date,
        *,
        tenant: str = DEFAULT_TENANT,
        as_of: datetime | None = None,
        run: str | None = None,
    ) -> DayView:
        """A subject's whole settlement day: every period's best version (None when none),
        now, as known at ``as_of``, or as the ``run:RUN`` rule chooses (among the versions
        known at ``as_of``, if given). Two queries for the whole day, on the views' keys."""
        tenant = tenant_id(tenant)
        canonical = str(Subject.parse(subject))
        check_settlement_date(settlement_date)
        check_window(as_of, None)
        rule = selection_rule(as_of, run)
        with self.database.transaction(write=False) as tx:
            versions = day_versions(tx, tenant, canonical, settlement_date, as_of=as_of)
            made = day_interventions(tx, tenant, canonical, settlement_date, as_of=as_of)
            freshness = self.runner.freshness(tx)
            known = bool(versions) or subject_known(tx, tenant, canonical)
        return DayView(
            tenant=tenant,
            subject=canonical,
            subject_known=known,
            settlement_date=settlement_date,
            as_of=as_of,
            selected_by=str(rule),
            periods=day_periods(settlement_date, rule, versions, made),
            views=ViewsFreshness.of(freshness),
        )

    def issue_document(
        self,
        *,
        kind: str,
        reference: str,
        actor: str,
        rule: str,
        subject: str,
        settlement_date: date,
        periods: Sequence[int] | None = None,
        measures: Sequence[str] = (),
        tenant: str = DEFAULT_TENANT,
    ) -> DocumentView:
        """Issue a document: each line resolved to an exact version by ``rule``; a line per
        period (every period of the settlement day when none is named) and measure (every
        measure of the chosen version when none is named).

        One write (:mod:`ledger.service.unit_of_work`): the lines are resolved from the views
        and the holds checked under the append lock, in the transaction that records the
        document, so no hold can come between them: no document ever uses a held period."""
        tenant = tenant_id(tenant)
        reference = document_reference(reference)
        chosen_rule = Rule.parse(rule)
        canonical = str(Subject.parse(subject))
        if periods is None:
            periods = range(1, periods_in_day(settlement_date) + 1)
        check_named_once(periods, measures)
        check_measures_named(measures)
        for period in periods:
            check_settlement_period(settlement_date, period)
        busy = str(_issued_already(reference))
        with self._writing(), self.unit_of_work.write(busy=busy) as write:
            tx = write.tx
            chosen_rule.check_reached(datetime.now(UTC))  # the clock once the lock is held
            if self.ledger.event_store.current_versions(tx, [document_id(tenant, reference)]):
                raise _issued_already(reference)
            keys = [
                (canonical, settlement_date, period, measure)
                for period in periods
                for measure in measures
                or measures_of(tx, tenant, chosen_rule, canonical, settlement_date, period)
            ]
            check_line_count(len(keys), self.max_document_lines)
            lines = resolve_lines(tx, tenant, chosen_rule, keys)
            issued = Document.issue(tenant, reference, kind, chosen_rule, actor, lines)
            write.record(issued)
        return self.document(issued.reference, tenant=tenant)

    def reissue_document(
        self, reference: str, *, actor: str, reason: str, tenant: str = DEFAULT_TENANT
    ) -> DocumentView:
        """Issue a document again under its rule: the same lines, each resolved anew, in one
        write as :meth:`issue_document` (a hold never comes between resolving and recording)."""
        tenant = tenant_id(tenant)
        with self._writing(), self.unit_of_work.write(busy=_changed(reference)) as write:
            found = self._document(tenant, reference)  # under the lock: as it now stands
            keys = [
                (line.subject, line.settlement_date, line.settlement_period, line.measure)
                for line in found.lines
            ]
            lines = resolve_lines(write.tx, tenant, found.selection_rule, keys)
            found.reissue(actor, reason, lines)
            write.record(found)
        return self.document(reference, tenant=tenant)

    def cancel_document(
        self, reference: str, *, actor: str, reason: str, tenant: str = DEFAULT_TENANT
    ) -> DocumentView:
        """Cancel a document, naming who and why; its lines stay on record."""
        tenant = tenant_id(tenant)
        with self._writing(), self.unit_of_work.write(busy=_changed(reference)) as write:
            found = self._document(tenant, reference)
            found.cancel(actor, reason)
            write.record(found)
        return self.document(reference, tenant=tenant)

    def _document(self, tenant: str, reference: str) -> Document:
        found = self.ledger.document(tenant, reference)
        if found is None:
            raise NotFound(f"tenant {tenant!r} has no document {reference!r}")
        return found

    def document(
        self, reference: str, *, tenant: str = DEFAULT_TENANT, revision: int | None = None
    ) -> DocumentView:
        """A document as issued: every line of its current revision (or of ``revision``) with
        the version it used, and the history of its revisions. From the views, by key."""
        tenant = tenant_id(tenant)
        with self.database.transaction(write=False) as tx:
            found = document_rows(tx, tenant, reference)
            if found is None:
                raise NotFound(f"tenant {tenant!r} has no document {excerpt(reference)}")
            head, current = found
            history = revisions(tx, tenant, reference)
            if revision is None or revision == head.revision:
                return DocumentView.of(head, current, history)
            shown = _revision_in(head, history, revision)
            lines = revision_lines(tx, tenant, reference, revision)
        return DocumentView.of(head, lines, history, shown)

    def documents(
        self,
        *,
        tenant: str = DEFAULT_TENANT,
        status: str | None = None,
        kind: str | None = None,
        after: str | None = None,
        limit: int = DEFAULT_DOCUMENTS_PAGE,
    ) -> DocumentList:
        """A page of the tenant's documents by reference (after ``after``, at most ``limit``,
        1 to 1000), those with the status and kind given; and where the next page starts."""
        tenant = tenant_id(tenant)
        check_documents_page(status, kind, limit)
        with self.database.transaction(write=False) as tx:
            rows = list_documents(  # one more than asked: whether there is a next page
                tx, tenant, status=status, kind=kind, after=after, limit=limit + 1
            )
        more = len(rows) > limit
        rows = rows[:limit]
        return DocumentList(
            tenant=tenant,
            status=status,
            kind=kind,
            documents=[DocumentSummary.of(row) for row in rows],
            next_after=rows[-1].reference if more else None,
        )

    def stale_documents(self, *, tenant: str = DEFAULT_TENANT) -> list[StaleDocument]:
        """Documents in force whose rule would now choose another version for some line."""
        tenant = tenant_id(tenant)
        with self.database.transaction(write=False) as tx:
            found = stale_lines(tx, tenant)
        return [StaleDocument.of(head, lines) for head, lines in found]

    def documents_using(
        self,
        subject: str,
        settlement_date: date,
        settlement_period: int,
        *,
        tenant: str = DEFAULT_TENANT,
    ) -> list[DocumentUse]:
        """Every document line that used one period, with the version it used."""
        tenant = tenant_id(tenant)
        canonical = str(Subject.parse(subject))
        check_settlement_period(settlement_date, settlement_period)
        with self.database.transaction(write=False) as tx:
            found = lines_using(tx, tenant, canonical, settlement_date, settlement_period)
        return [use_of(head, line) for head, line in found]

    def flow(self, sha256: str, *, tenant: str = DEFAULT_TENANT) -> FlowView | None:
        """A received file's status and every stage it went through (None if the tenant has
        received no such file)."""
        tenant = tenant_id(tenant)
        with self.database.transaction(write=False) as tx:
            found = find_flow(tx, tenant, sha256.lower())
            validation = validation_of(tx, found.flow_id) if found is not None else None
        return None if found is None else FlowView.of(found, validation)

    def flow_warnings(
        self, sha256: str, *, tenant: str = DEFAULT_TENANT, after: int = 0, limit: int = 100
    ) -> FlowWarnings | None:
        """A page of a received file's warnings: up to ``limit`` (1 to 1000) of those numbered
        after ``after``, in the order found (None if the tenant has received no such file)."""
        tenant = tenant_id(tenant)
        _check_warnings_page(after, limit)
        with self.database.transaction(write=False) as tx:
            found = find_flow(tx, tenant, sha256.lower())
            if found is None:
                return None
            validation = validation_of(tx, found.flow_id)
            page = warnings_after(tx, found.flow_id, after, limit)
        count, listed = (validation.warning_count, validation.listed) if validation else (0, 0)
        last = page[-1][0] if page else after
        return FlowWarnings(
            tenant=tenant,
            sha256=found.sha256,
            file_name=found.file_name,
            warning_count=count,
            listed=listed,
            after=after,
            warnings=[NumberedWarning(number=n, warning=text) for n, text in page],
            next_after=last if last < listed else None,
        )

    def flows(self, *, tenant: str = DEFAULT_TENANT, limit: int = 100) -> FlowList:
        """The tenant's most recently received files, newest first."""
        tenant = tenant_id(tenant)
        with self.database.transaction(write=False) as tx:
            rows = list_flows(tx, tenant, limit=limit)
        return FlowList(tenant=tenant, flows=[FlowSummary.of(row) for row in rows])

    def feed(self, *, after: int = 0, limit: int = 100, tenant: str = DEFAULT_TENANT) -> FeedPage:
        """Up to ``limit`` (1 to 1000) of the tenant's events after log position ``after``, in
        commit order, and the position to read on from (``ledger.service.feed``: positions
        have gaps, and a page reads a bounded stretch of the log, so it may hold fewer events
        than asked for while more are to come). Read from the log itself, never the views."""
        tenant = tenant_id(tenant)
        check_page(after, limit)
        with self.database.transaction(write=False) as tx:
            return read_feed(tx, self.ledger, tenant, after, limit)

    def rebuild(self, views: Sequence[str] | None = None) -> int:
        """Rebuild the named views (every view by default) from the log; events read."""
        return self.runner.rebuild(views)

    def verify(self) -> Verification:
        """Every view built again from the log in scratch tables, compared with the live one."""
        return Verification.of(self.runner.verify())

    def project(
        self,
        *,
        stop: threading.Event,
        poll: float = DEFAULT_POLL_SECONDS,
        applied: Callable[[int], None] = lambda _: None,
    ) -> None:
        """Keep every view current until ``stop`` is set (``ledger project``)."""
        keep_views_current(
            self.runner, self.ledger.event_store, stop=stop, poll=poll, applied=applied
        )

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

    @property
    def exceptions(self) -> ExceptionQueue:
        """The exception queue: a person's commands (each brings the views up to date before
        it returns) and the queries, by tenant."""
        return ExceptionQueue(self.ledger, views=self.runner)

    @property
    def mappings(self) -> IdentityMappings:
        """Identity mappings: a tenant's own ids to market ids over settlement dates; each
        command applies its event to the views before it returns."""
        return IdentityMappings(self.ledger, self.runner)


def _revision_in(head: DocumentRow, history: Sequence[RevisionRow], revision: int) -> RevisionRow:
    """Revision ``revision`` of a document from its history; refused when the document has
    none such, busy while the views are still taking in revisions issued before they kept
    them (after an upgrade)."""
    if not 1 <= revision <= head.revision:
        raise NotFound(
            f"document {head.reference} has revisions 1 to {head.revision}: it has no revision "
            f"{revision}"
        )
    for row in history:
        if row.revision == revision:
            return row
    raise LedgerBusy(
        f"revision {revision} of document {head.reference} is not in the views yet (they are "
        "taking in the revisions issued before they kept them): try again shortly, or run "
        "ledger project"
    )


def scheduled_runs(settlement_date: date) -> dict[str, date]:
    """When each run of this settlement day is due under the timetable in force."""
    try:
        due = {run: scheduled_run_date(settlement_date, run) for run in SETTLEMENT_RUNS}
    except ValueError:  # a day before any configured timetable
        return {}
    return {str(run): day for run, day in due.items() if day is not None}


def selection_rule(as_of: datetime | None, run: str | None) -> Rule:
    """The rule a query's best version is chosen by (``ledger.domain.selection``): ``run:RUN``
    when a run is named (applied to the versions known at ``as_of``, if given), else
    ``as-of`` at ``as_of``, else ``best``. An unknown run type is refused."""
    if run is not None:
        return Rule("run", run=RunType.parse(run))
    if as_of is not None:
        return Rule("as-of", as_of=as_of)
    return Rule("best")


def check_window(start: datetime | None, end: datetime | None) -> None:
    """Each instant given has a time zone and is in the range answered for, and ``start`` is
    not after ``end``."""
    for instant in (start, end):
        if instant is not None:
            if instant.tzinfo is None:
                raise InvalidInstant(
                    f"instant {instant.isoformat()} needs a time zone, e.g. 2026-05-07T12:00:00Z"
                )
            check_as_of(instant)
    if start is not None and end is not None and start > end:
        raise InvalidInstant(
            f"from {start.isoformat()} is after to {end.isoformat()}: a history runs from an "
            "instant to the same or a later one"
        )
