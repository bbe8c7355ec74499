"""Writing a file's period values as events, in batches, whatever run each value belongs to.

An SAA-I014 report's values all belong to the report's run; a page of published prices or a
meter data file gives each value its own (a publication, an estimate or an actual reading).
The writer keeps one bulk encoder per run it meets and writes each batch run by run: one event
per subject-period, new values, a further source of values already held from the same run,
or values conflicting with them (the rule is the domain's, :func:`classify_delivery`).

The database's share of a batch (appending its events, recording its runs, bringing the views
up to date) runs behind, in a thread of its own on the same transaction, while this thread
encodes the next batch: the two overlap instead of taking turns. The thread runs its jobs in
the order they were given. A batch's look-up of the versions already held is given before the
previous batch's writes only when the two batches share no subject-period (so it cannot miss
what they write); otherwise after them. Whatever a job raises is raised again here, and no
later job runs. Leaving the writer's block waits for its thread, so the transaction is never
committed or rolled back while the thread uses it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import Mapper

from ledger.adapters.event_batch import PeriodEventEncoder
from ledger.adapters.event_store import EventStore
from ledger.adapters.storage import Tx
from ledger.domain.aggregates import (
    Delivery,
    SettlementPeriod,
    classify_delivery,
    settlement_period_ids,
    values_digest,
)
from ledger.domain.errors import LedgerError
from ledger.flows.canonical import FileDescription, PeriodValues, Run
from projections.runner import InlineViews

BATCH_SIZE = 8000
# A batch is also written once the records its items keep take this much (kept_size): a real
# S0142's 8,000 periods keep about 2.5 MB, a crafted file's could keep 4 MiB each, so memory
# stays a few batches whatever the file.
BATCH_BYTES = 8 << 20
T = TypeVar("T")


class Deliveries:
    """How a file's subject-periods compare with what the ledger holds of the same run."""

    def __init__(self, run: Run | None) -> None:
        # The file's own run, when all its values belong to one.
        self.run = f"run {run.run_type} {run.run_number}" if run is not None else "this file's runs"
        self.new = 0
        self.same = 0
        self.conflicting = 0
        self.first_conflict: str | None = None

    def conflict(self, item: PeriodValues, run: Run, conflicts_with: int) -> None:
        self.conflicting += 1
        if self.first_conflict is None:
            self.first_conflict = (
                f"{item.subject} {run.settlement_date.isoformat()} period "
                f"{item.settlement_period} of run {run.run_type} {run.run_number} on line "
                f"{item.record_position}, against version {conflicts_with}"
            )

    def warnings(self) -> list[str]:
        if not self.conflicting:
            return []
        return [
            f"{self.conflicting} subject-periods of {self.run} were delivered before "
            f"with other values (first: {self.first_conflict}); they are kept as conflicting "
            "versions, out of the best view until someone decides"
        ]


@dataclass
class _Unit:
    """One run's share of a batch, on its way: looked up, then encoded and written."""

    run: Run
    items: Sequence[PeriodValues]
    keys: list[UUID]
    held: Future[_Held] | None = None

    @cached_property
    def key_set(self) -> frozenset[UUID]:
        return frozenset(self.keys)


# What the ledger holds of a unit's subject-periods: current versions, and the versions of
# the unit's own run with their digests.
_Held = tuple[dict[UUID, int], dict[UUID, list[tuple[int, str]]]]


class PeriodWriter:
    """Takes a file's period values one by one and writes them in batches inside ``tx``.

    ``with PeriodWriter(...) as writer:`` then ``add`` each item and ``finish``; the writes
    are complete only once ``finish`` has returned.
    """

    def __init__(
        self,
        tx: Tx,
        event_store: EventStore,
        mapper: Mapper[UUID],
        provenance: tuple[str, str, FileDescription],
        views: InlineViews | None,
        now: datetime,
    ) -> None:
        self._tx = tx
        self._store = event_store
        self._mapper = mapper
        self._tenant, self._sha256, self._description = provenance
        self._views = views
        self._now = now
        self._encoders: dict[Run, PeriodEventEncoder] = {}
        self._batch: list[PeriodValues] = []
        self._batch_bytes = 0
        self.deliveries = Deliveries(self._description.run)
        self.periods = 0
        # The market ids the values are about, by settlement date (for the mapping stage).
        self.subjects: dict[date, set[str]] = defaultdict(set)
        # The database's share, one job at a time in the order given.
        self._behind = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger-write")
        self._failure: BaseException | None = None
        self._looked_up: _Unit | None = None  # the unit whose writes come next
        self._written: Future[None] | None = None  # the last writes given

    def __enter__(self) -> PeriodWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        # Jobs not started are dropped (the transaction is being abandoned when any are left).
        self._behind.shutdown(wait=True, cancel_futures=True)

    def add(self, item: PeriodValues) -> None:
        self._batch.append(item)
        self._batch_bytes += item.kept_size
        if len(self._batch) >= BATCH_SIZE or self._batch_bytes >= BATCH_BYTES:
            self.flush()

    def flush(self) -> None:
        """Pass on the values taken so far, run by run."""
        if not self._batch:
            return
        default = self._description.run
        by_run: dict[Run, list[PeriodValues]] = defaultdict(list)
        for item in self._batch:
            run = item.run or default
            if run is None:
                raise LedgerError(
                    f"the {self._description.flow} values of {item.subject} period "
                    f"{item.settlement_period} (line {item.record_position}) name no run or "
                    "publication, so they cannot be versioned"
                )
            by_run[run].append(item)
        for run, items in by_run.items():
            self.subjects[run.settlement_date].update(item.subject for item in items)
            keys = settlement_period_ids(
                self._tenant, run.settlement_date, [(i.subject, i.settlement_period) for i in items]
            )
            self._take(_Unit(run, items, keys))
        self.periods += len(self._batch)
        self._batch.clear()
        self._batch_bytes = 0

    def finish(self) -> None:
        """Write everything taken, and wait until it is written."""
        self.flush()
        if self._looked_up is not None:
            self._write(self._looked_up)
            self._looked_up = None
        if self._written is not None:
            self._written.result()

    def _take(self, unit: _Unit) -> None:
        """Look ``unit`` up, then write the unit looked up before it: the look-up goes first
        when it cannot depend on those writes, so that it is answered while they run."""
        before = self._looked_up
        if before is not None and not unit.key_set.isdisjoint(before.key_set):
            self._write(before)
            before = None
        unit.held = self._give(lambda: self._held(unit))
        if before is not None:
            self._write(before)
        self._looked_up = unit

    def _give(self, job: Callable[[], T]) -> Future[T]:
        """Run ``job`` behind, after every job given before it; none runs after a failure."""

        def run() -> T:
            if self._failure is not None:
                raise self._failure
            try:
                return job()
            except BaseException as exc:
                self._failure = exc
                raise

        return self._behind.submit(run)

    def _encoder(self, run: Run) -> PeriodEventEncoder:
        encoder = self._encoders.get(run)
        if encoder is None:
            shared: dict[str, Any] = {
                "timestamp": self._now,
                "tenant": self._tenant,
                "settlement_date": run.settlement_date,
                "run_type": str(run.run_type),
                "run_number": run.run_number,
                "maturity": str(run.run_type.maturity),
                "flow": self._description.flow,
                "file_creation_time": run.file_creation_time,
                "source_sha256": self._sha256,
            }
            encoder = self._encoders[run] = PeriodEventEncoder(self._mapper, shared)
        return encoder

    def _held(self, unit: _Unit) -> _Held:
        """(Behind.) The versions held of the unit's subject-periods."""
        store, tx = self._store, self._tx
        current = store.current_versions(tx, unit.keys)
        held = [key for key in unit.keys if key in current]
        run_type, run_number = str(unit.run.run_type), unit.run.run_number
        known = store.run_versions(tx, held, run_type, run_number) if held else {}
        return current, known

    def _write(self, unit: _Unit) -> None:
        """One event per subject-period of one run: encoded here, written behind."""
        assert unit.held is not None, "a unit is looked up before it is written"
        current, known = unit.held.result()
        run = unit.run
        encoder = self._encoder(run)
        run_type, run_number = str(run.run_type), run.run_number
        rows = []
        runs = []
        outcomes: list[tuple[UUID, int, PeriodValues, Delivery, int | None]] = []
        deliveries = self.deliveries
        for key, item in zip(unit.keys, unit.items, strict=True):
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
                deliveries.conflict(item, run, other)
            else:
                deliveries.new += 1
            runs.append((key, run_type, run_number, version, digest))
        events = (
            [encoder.event(*outcome) for outcome in outcomes] if self._views is not None else []
        )
        self._written = self._give(lambda: self._store_rows(rows, runs, events))

    def _store_rows(
        self,
        rows: list[tuple[UUID, int, str, bytes]],
        runs: list[tuple[UUID, str, int, int, str]],
        events: list[SettlementPeriod.PeriodEvent],
    ) -> None:
        """(Behind.) Append the events, record their runs, bring the views up to date."""
        store, tx = self._store, self._tx
        store.append_rows(tx, rows)
        if runs:
            store.record_runs(tx, runs)
        if self._views is not None:
            self._views.follow(tx, events)
