"""The ledger's aggregates and their domain events: settlement periods and received flows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

from ledger.domain.measures import Measures
from ledger.domain.runs import RunType

# Every aggregate id is a UUIDv5 under this namespace, so the same market identity
# always lands on the same aggregate (principle 2: deterministic ids).
LEDGER_NAMESPACE = uuid5(NAMESPACE_URL, "https://github.com/settlement-ledger/ids")


def settlement_period_id(
    tenant: str, subject: str, settlement_date: date, settlement_period: int
) -> UUID:
    """The id of the aggregate for one subject, settlement date and period, within a tenant."""
    return uuid5(
        LEDGER_NAMESPACE,
        f"settlement-period/{tenant}/{subject}/{settlement_date.isoformat()}/{settlement_period}",
    )


def flow_id(tenant: str, sha256: str) -> UUID:
    """The id of the aggregate for one received file (content-addressed), within a tenant."""
    return uuid5(LEDGER_NAMESPACE, f"flow/{tenant}/{sha256}")


def maturity_of(run_type: str) -> str:
    """The maturity of a value from a settlement run (indicative, settlement or final)."""
    return str(RunType.parse(run_type).maturity)


@dataclass(frozen=True)
class PeriodVersion:
    """One version of a subject's values for a settlement period, as the aggregate holds it."""

    version: int
    kind: str  # "run" or "correction"
    run_type: str
    run_number: int
    file_creation_time: datetime
    values: dict[str, Decimal]
    recorded_at: datetime
    source_sha256: str | None
    supersedes: int | None = None


class SettlementPeriod(Aggregate):
    """One subject's settlement values for one settlement date and period, within a tenant.

    Its events are its version history: every run's values, every correction and every
    manual intervention, in the order the ledger learned them.
    """

    def __init__(
        self, tenant: str, subject: str, settlement_date: date, settlement_period: int
    ) -> None:
        self.tenant = tenant
        self.subject = subject
        self.settlement_date = settlement_date
        self.settlement_period = settlement_period
        self.versions: list[PeriodVersion] = []
        self.interventions: list[dict[str, str]] = []

    @dataclass(frozen=True)
    class PeriodEvent(Aggregate.Event):
        """Every event of a settlement period names it, so the feed is self-describing."""

        tenant: str
        subject: str
        settlement_date: date
        settlement_period: int

    @dataclass(frozen=True)
    class ValuesRecordedFields(PeriodEvent):
        """Values a settlement run gave this period, with their provenance.

        Schema version 2 added ``maturity``, ``attributes`` and ``unconfirmed``, and keeps
        ``values`` as one :class:`Measures` object.
        """

        class_version: ClassVar[int] = 2

        run_type: str
        run_number: int
        maturity: str
        flow: str
        file_creation_time: datetime
        values: Measures
        attributes: dict[str, str]
        unconfirmed: dict[str, list[str]]
        source_sha256: str
        record_position: int

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["maturity"] = maturity_of(state["run_type"])
            # Version 1 stored each value as its own tagged decimal.
            state["values"] = Measures(state["values"])
            state.setdefault("attributes", {})
            state.setdefault("unconfirmed", {})

        def apply(self, aggregate: Any) -> None:
            aggregate.versions.append(
                PeriodVersion(
                    version=self.originator_version,
                    kind="run",
                    run_type=self.run_type,
                    run_number=self.run_number,
                    file_creation_time=self.file_creation_time,
                    values=dict(self.values),
                    recorded_at=self.timestamp,
                    source_sha256=self.source_sha256,
                )
            )

    @dataclass(frozen=True)
    class FirstValuesRecorded(ValuesRecordedFields, Aggregate.Created):
        """The first values the ledger learned for this period; opens the aggregate."""

    @dataclass(frozen=True)
    class ValuesRecorded(ValuesRecordedFields):
        """A later run (or a republished run) gave this period new values."""

    @dataclass(frozen=True)
    class CorrectionApplied(PeriodEvent):
        """A person corrected the values of an earlier version; names what it supersedes."""

        supersedes: int
        values: Measures
        reason: str
        actor: str

        def apply(self, aggregate: Any) -> None:
            old = next(v for v in aggregate.versions if v.version == self.supersedes)
            aggregate.versions.append(
                PeriodVersion(
                    version=self.originator_version,
                    kind="correction",
                    run_type=old.run_type,
                    run_number=old.run_number,
                    file_creation_time=old.file_creation_time,
                    values=dict(self.values),
                    recorded_at=self.timestamp,
                    source_sha256=None,
                    supersedes=self.supersedes,
                )
            )

    @dataclass(frozen=True)
    class ManualInterventionRecorded(PeriodEvent):
        """A person intervened (e.g. held a value from billing); who, why and the outcome."""

        actor: str
        reason: str
        outcome: str

        def apply(self, aggregate: Any) -> None:
            aggregate.interventions.append(
                {"actor": self.actor, "reason": self.reason, "outcome": self.outcome}
            )

    def apply_correction(
        self, supersedes: int, values: Mapping[str, Decimal], reason: str, actor: str
    ) -> None:
        self.trigger_event(
            self.CorrectionApplied,
            **self._identity(),
            supersedes=supersedes,
            values=Measures(values),
            reason=reason,
            actor=actor,
        )

    def record_manual_intervention(self, actor: str, reason: str, outcome: str) -> None:
        self.trigger_event(
            self.ManualInterventionRecorded,
            **self._identity(),
            actor=actor,
            reason=reason,
            outcome=outcome,
        )

    def _identity(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "subject": self.subject,
            "settlement_date": self.settlement_date,
            "settlement_period": self.settlement_period,
        }


class Flow(Aggregate):
    """One received file, identified by its content: every stage it went through."""

    def __init__(self, tenant: str, sha256: str, size: int, channel: str, file_name: str) -> None:
        self.tenant = tenant
        self.sha256 = sha256
        self.size = size
        self.channel = channel
        self.file_name = file_name
        self.status = "received"
        self.reasons: list[str] = []
        self.flow: str | None = None
        self.receipts = 1

    @dataclass(frozen=True)
    class Received(Aggregate.Created):
        """The ledger received a file and preserved its bytes."""

        tenant: str
        sha256: str
        size: int
        channel: str
        file_name: str

    @dataclass(frozen=True)
    class Validated(Aggregate.Event):
        """The file's envelope and content passed validation; what it is."""

        flow: str
        flow_version: str
        settlement_date: date
        run_type: str
        run_number: int
        bsc_party_id: str | None
        file_creation_time: datetime
        record_count: int
        warnings: list[str]

        def apply(self, aggregate: Any) -> None:
            aggregate.status = "validated"
            aggregate.flow = self.flow

    @dataclass(frozen=True)
    class Interpreted(Aggregate.Event):
        """What the file produced: settlement-period versions, daily values, unplaced records."""

        periods: int
        events: int
        daily_values: list[dict[str, Any]]
        unplaced_records: list[dict[str, Any]]

        def apply(self, aggregate: Any) -> None:
            aggregate.status = "accepted"

    @dataclass(frozen=True)
    class Rejected(Aggregate.Event):
        """The file failed validation; nothing it carries entered the ledger."""

        flow: str | None
        stage: str
        reasons: list[str]

        def apply(self, aggregate: Any) -> None:
            aggregate.status = "rejected"
            aggregate.flow = self.flow
            aggregate.reasons = list(self.reasons)

    @dataclass(frozen=True)
    class DuplicateReceived(Aggregate.Event):
        """The same bytes arrived again: a harmless duplicate, never a second version."""

        channel: str
        file_name: str

        def apply(self, aggregate: Any) -> None:
            aggregate.receipts += 1


# Stored events name their classes by topic. Before the domain became a package these classes
# lived in ``ledger.domain``: those topics stay resolvable, so databases written then still load.
register_topic("ledger.domain:SettlementPeriod", SettlementPeriod)
register_topic("ledger.domain:Flow", Flow)
