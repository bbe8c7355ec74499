"""Writing a file's period values as events, in batches, whatever run each value belongs to.

An SAA-I014 report's values all belong to the report's run; a page of published prices or a
meter data file gives each value its own (a publication, an estimate or an actual reading).
The writer keeps one bulk encoder per run it meets and writes each batch run by run: one event
per subject-period, new values, a further source of values already held from the same run,
or values conflicting with them (the rule is the domain's, :func:`classify_delivery`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper

from ledger.adapters.event_batch import PeriodEventEncoder
from ledger.adapters.event_store import EventStore
from ledger.adapters.storage import Tx
from ledger.domain.aggregates import (
    Delivery,
    classify_delivery,
    settlement_period_ids,
    values_digest,
)
from ledger.domain.errors import LedgerError
from ledger.flows.canonical import FileDescription, PeriodValues, Run
from projections.runner import InlineViews

BATCH_SIZE = 8000


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


class PeriodWriter:
    """Takes a file's period values one by one and writes them in batches inside ``tx``."""

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
        self.deliveries = Deliveries(self._description.run)
        self.periods = 0
        # The market ids the values are about, by settlement date (for the mapping stage).
        self.subjects: dict[date, set[str]] = defaultdict(set)

    def add(self, item: PeriodValues) -> None:
        self._batch.append(item)
        if len(self._batch) >= BATCH_SIZE:
            self.flush()

    def flush(self) -> None:
        """Write the values taken so far, run by run."""
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
            self._write(run, items)
        self.periods += len(self._batch)
        self._batch.clear()

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

    def _write(self, run: Run, items: Sequence[PeriodValues]) -> None:
        """One event per subject-period of one run."""
        store, tx = self._store, self._tx
        encoder = self._encoder(run)
        run_type, run_number = str(run.run_type), run.run_number
        keys = settlement_period_ids(
            self._tenant, run.settlement_date, [(i.subject, i.settlement_period) for i in items]
        )
        current = store.current_versions(tx, keys)
        held = [key for key in keys if key in current]
        known = store.run_versions(tx, held, run_type, run_number) if held else {}
        rows = []
        runs = []
        outcomes: list[tuple[UUID, int, PeriodValues, Delivery, int | None]] = []
        deliveries = self.deliveries
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
                deliveries.conflict(item, run, other)
            else:
                deliveries.new += 1
            runs.append((key, run_type, run_number, version, digest))
        store.append_rows(tx, rows)
        if runs:
            store.record_runs(tx, runs)
        if self._views is not None:
            self._views.follow(tx, [encoder.event(*outcome) for outcome in outcomes])
