"""The ledger's aggregates and their domain events: settlement periods and received files."""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

from ledger.domain.errors import (
    InterventionRefused,
    InvalidCorrection,
    MissingAttribution,
    StageRefused,
)
from ledger.domain.measures import Measures
from ledger.domain.plain_text import MAX_NAME_LENGTH, MAX_REASON_LENGTH, excerpt, plain_text
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


def settlement_period_ids(
    tenant: str, settlement_date: date, periods: Sequence[tuple[str, int]]
) -> list[UUID]:
    """:func:`settlement_period_id` of each (subject, period) of one settlement date, alike
    to the bit, at half the cost for a file's hundreds of thousands: the name's common prefix
    is hashed once, and each UUID is made from its integer (version 5, RFC 4122 variant)."""
    prefix = hashlib.sha1(LEDGER_NAMESPACE.bytes + f"settlement-period/{tenant}/".encode())
    day = settlement_date.isoformat()
    ids = []
    for subject, period in periods:
        digest = prefix.copy()
        digest.update(f"{subject}/{day}/{period}".encode())
        ids.append(UUID(int=(int.from_bytes(digest.digest()[:16]) & _UUID5_KEEP) | _UUID5_SET))
    return ids


# The version (5) and variant (RFC 4122) bits of a name-based UUID, as uuid.uuid5 sets them.
_UUID5_KEEP = ~((0xC000 << 48) | (0xF000 << 64))
_UUID5_SET = (0x8000 << 48) | (5 << 76)


def received_file_id(tenant: str, sha256: str) -> UUID:
    """The id of the aggregate for one received file (content-addressed), within a tenant."""
    # "flow/" is the name the aggregate had when the first files were stored: the ids of
    # stored files must not change.
    return uuid5(LEDGER_NAMESPACE, f"flow/{tenant}/{sha256}")


def maturity_of(run_type: str) -> str:
    """The maturity of a value from a settlement run (indicative, settlement or final)."""
    return str(RunType.parse(run_type).maturity)


def _attribution(actor: str, reason: str, what: str) -> tuple[str, str]:
    """The person and reason a change made by hand must name, checked as plain text."""
    if not reason.strip() or not actor.strip():
        raise MissingAttribution(f"{what} needs the person who made it and a reason")
    return (
        plain_text(actor, f"the person making {what}"),
        plain_text(reason, f"the reason for {what}", max_length=MAX_REASON_LENGTH),
    )


# A value as a person writes it: ASCII digits, an optional sign and decimal point (as the
# IDD prints them; no exponent, no NaN or infinity).
_DECIMAL_TEXT = re.compile(r"[+-]?[0-9]{1,30}(?:\.[0-9]{1,30})?")


def correction_values(pairs: Iterable[tuple[str, str]]) -> dict[str, Decimal]:
    """A correction's values as a person writes them, measure name and decimal text (e.g.
    ``bm_unit_cashflow`` and ``-1234.56``), as exact decimals: each measure once, named as
    the ledger names measures (snake_case), each value a plain decimal number."""
    values: dict[str, Decimal] = {}
    for name, text in pairs:
        if len(name) > MAX_NAME_LENGTH or not (name.isascii() and name.isidentifier()):
            raise InvalidCorrection(
                f"{excerpt(name)} is not a measure name: measures are named in snake_case, "
                "e.g. bm_unit_cashflow"
            )
        if name in values:
            raise InvalidCorrection(f"a correction gives {name} twice: give each measure once")
        if not _DECIMAL_TEXT.fullmatch(text.strip()):
            raise InvalidCorrection(
                f"the value of {name} is not a decimal number: {excerpt(text)} (write digits "
                "with an optional sign and decimal point, e.g. -1234.56)"
            )
        values[name] = Decimal(text.strip())
    return values


def values_digest(values: Mapping[str, Decimal]) -> str:
    """What identifies a run's values for a period, whichever file delivered them.

    The IDD prints every decimal one way (no trailing zeros, ``-`` for negatives), so two
    deliveries of the same run give the same text; names are the layout's, so an S0141 and an
    S0142 of the same run name them alike. Attributes are not part of it: an all-parties
    report carries text fields a party's own report has not.
    """
    return Measures.of(values).digest()


# How many of a version's measures a refused correction lists (a system period has about 50).
_MEASURES_LISTED = 20

# The kind of a version that a run delivered again with other values: never best.
CONFLICTING_RUN = "conflicting run"


class Delivery(Enum):
    """What a run's values for a period are, against what the ledger already holds."""

    NEW = "new"  # the first values of this run: a new version
    SAME = "same"  # a further delivery of values already held: a further source
    CONFLICTING = "conflicting"  # the same run with other values: kept out of best


def classify_delivery(
    same_run: Sequence[tuple[int, str]], digest: str
) -> tuple[Delivery, int | None]:
    """One run (type and SAA run number) delivered again, in the same file or another.

    ``same_run`` holds (version, values digest) of the versions this run already gave the
    period. Identical values are the version already held (returned); different values are
    a conflicting version, kept out of the best view until someone decides (the first
    version of the run is returned, the one it conflicts with).
    """
    if not same_run:
        return Delivery.NEW, None
    for version, known in same_run:
        if known == digest:
            return Delivery.SAME, version
    return Delivery.CONFLICTING, min(version for version, _ in same_run)


@dataclass(frozen=True)
class PeriodVersion:
    """One version of a subject's values for a settlement period, as the aggregate holds it."""

    version: int
    kind: str  # "run", CONFLICTING_RUN or "correction"
    run_type: str
    run_number: int
    file_creation_time: datetime
    values: dict[str, Decimal]
    recorded_at: datetime
    source_sha256: str | None
    supersedes: int | None = None
    conflicts_with: int | None = None
    further_sources: list[str] = field(default_factory=list)
    actor: str | None = None  # who made it, for a correction


class InterventionKind(Enum):
    """The typed manual interventions on a settlement period (never free text)."""

    HOLD = "hold"  # documents refuse to use the period, and say why, until it is released
    PIN = "pin"  # the best view uses the pinned version until it is released
    RELEASE = "release"  # lifts the hold and the pin

    @classmethod
    def parse(cls, action: str, version: int | None) -> InterventionKind:
        """An intervention as a person names it: ``hold``, ``pin`` with the version to pin,
        or ``release``; refused otherwise."""
        try:
            kind = cls(action.strip().lower())
        except ValueError:
            raise InterventionRefused(
                f"unknown intervention {excerpt(action)}: write hold, pin or release"
            ) from None
        if kind is cls.PIN and version is None:
            raise InterventionRefused("a pin needs the version to pin, e.g. version 3")
        if kind is not cls.PIN and version is not None:
            raise InterventionRefused(
                f"a {kind.value} names no version (only a pin does): leave the version out"
            )
        return kind


@dataclass(frozen=True)
class StandingHold:
    """A period held from billing: by whom, why and since when."""

    actor: str
    reason: str
    since: datetime


class SettlementPeriod(Aggregate):
    """One subject's settlement values for one settlement date and period, within a tenant.

    Its events are its version history: every run's values, every correction and every
    manual intervention, in the order the ledger learned them. A person may hold the period
    from billing (``held``) or pin one of its versions for the best view (``pinned``), until
    a release lifts both.
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
        self.held: StandingHold | None = None
        self.pinned: int | None = None

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
    class ConflictingValuesRecorded(ValuesRecordedFields):
        """A run already recorded for this period was delivered again with other values: kept
        as a version of its own, out of the best view until someone decides."""

        conflicts_with: int

        def apply(self, aggregate: Any) -> None:
            super().apply(aggregate)
            aggregate.versions[-1] = replace(
                aggregate.versions[-1], kind=CONFLICTING_RUN, conflicts_with=self.conflicts_with
            )

    @dataclass(frozen=True)
    class SourceAdded(PeriodEvent):
        """A run already recorded for this period was delivered again with the same values
        (the same report re-sent, or a party's S0141 beside the S0142): one more source of the
        version it names, not a new version."""

        version: int
        flow: str
        source_sha256: str
        record_position: int
        file_creation_time: datetime

        def apply(self, aggregate: Any) -> None:
            held = next(v for v in aggregate.versions if v.version == self.version)
            held.further_sources.append(self.source_sha256)

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
                    actor=self.actor,
                )
            )

    @dataclass(frozen=True)
    class ManualInterventionRecorded(PeriodEvent):
        """A person intervened (e.g. held a value from billing); who, why and the outcome.

        Written as free text before interventions were typed: it is kept so stored events
        still load, and informs only (it neither holds nor pins the period)."""

        actor: str
        reason: str
        outcome: str

        def apply(self, aggregate: Any) -> None:
            aggregate.interventions.append(
                {"actor": self.actor, "reason": self.reason, "outcome": self.outcome}
            )

    @dataclass(frozen=True)
    class InterventionMade(PeriodEvent):
        """A typed manual intervention: who and why; its class says what was done, its
        ``action`` names it (hold, pin or release) and its ``outcome`` says it in words."""

        action: ClassVar[str]

        actor: str
        reason: str

        @property
        def outcome(self) -> str:
            raise NotImplementedError

        def apply(self, aggregate: Any) -> None:
            aggregate.interventions.append(
                {"actor": self.actor, "reason": self.reason, "outcome": self.outcome}
            )

    @dataclass(frozen=True)
    class PeriodHeld(InterventionMade):
        """A person held the period from billing: documents refuse to use it, and say why,
        until it is released."""

        action: ClassVar[str] = InterventionKind.HOLD.value

        @property
        def outcome(self) -> str:
            return "held from billing"

        def apply(self, aggregate: Any) -> None:
            super().apply(aggregate)
            aggregate.held = StandingHold(self.actor, self.reason, self.timestamp)

    @dataclass(frozen=True)
    class VersionPinned(InterventionMade):
        """A person pinned one of the period's versions: the best view uses it until it is
        released (a conflicting version too: this is how someone decides a conflict)."""

        action: ClassVar[str] = InterventionKind.PIN.value

        version: int

        @property
        def outcome(self) -> str:
            return f"pinned version {self.version}"

        def apply(self, aggregate: Any) -> None:
            super().apply(aggregate)
            aggregate.pinned = self.version

    @dataclass(frozen=True)
    class InterventionReleased(InterventionMade):
        """A person released the period: the hold and the pin standing on it are lifted."""

        action: ClassVar[str] = InterventionKind.RELEASE.value

        @property
        def outcome(self) -> str:
            return "released"

        def apply(self, aggregate: Any) -> None:
            super().apply(aggregate)
            aggregate.held = None
            aggregate.pinned = None

    def apply_correction(
        self, supersedes: int, values: Mapping[str, Decimal], reason: str, actor: str
    ) -> None:
        """Correct values of one of this period's versions, naming who did it and why: the
        new version holds the corrected version's values with ``values`` set over them (a
        correction names what it changes; every other measure carries over). Only measures the
        version has can be set, and a version is corrected once (a second change corrects the
        correction, so the first change is never dropped)."""
        actor, reason = _attribution(actor, reason, "a correction")
        corrected = next((v for v in self.versions if v.version == supersedes), None)
        if corrected is None:
            known = ", ".join(str(v.version) for v in self.versions)
            raise InvalidCorrection(
                f"{self._described()} has no version {supersedes} to correct (versions: {known})"
            )
        if not values:
            raise InvalidCorrection(
                f"a correction of {self._described()} version {supersedes} needs at least one value"
            )
        self._refuse_if_corrected(corrected)
        self._refuse_unknown_measures(corrected, values)
        self.trigger_event(
            self.CorrectionApplied,
            **self._identity(),
            supersedes=supersedes,
            values=Measures({**corrected.values, **values}),
            reason=reason,
            actor=actor,
        )

    def _refuse_unknown_measures(
        self, corrected: PeriodVersion, values: Mapping[str, Decimal]
    ) -> None:
        """A correction sets measures the corrected version has: a name it lacks is a typing
        mistake far more often than a new measure (a correction of a run keeps its layout)."""
        unknown = sorted(set(values) - set(corrected.values))
        if not unknown:
            return
        name = unknown[0]
        known = sorted(corrected.values)
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        others = f" (and {len(unknown) - 1} more it lacks)" if len(unknown) > 1 else ""
        listed = ", ".join(known[:_MEASURES_LISTED])
        if len(known) > _MEASURES_LISTED:
            listed += f" and {len(known) - _MEASURES_LISTED} more"
        raise InvalidCorrection(
            f"{self._described()} version {corrected.version} has no measure "
            f"{excerpt(name)}{hint}{others}: a correction sets measures the version has "
            f"({listed or 'none'})"
        )

    def _refuse_if_corrected(self, corrected: PeriodVersion) -> None:
        """A version is corrected once: a second correction of it would start from its
        values and silently drop the first correction's. The correction to correct instead is
        named (the latest of the chain), with who made it and when: its values carry the
        earlier corrections'."""
        later = self._correction_of(corrected.version)
        if later is None:
            return
        chain = [later]
        while (next_one := self._correction_of(chain[-1].version)) is not None:
            chain.append(next_one)
        latest = chain[-1]
        then = "".join(f", and that in turn by version {v.version}" for v in chain[1:])
        raise InvalidCorrection(
            f"{self._described()} version {corrected.version} was already corrected by version "
            f"{later.version}{then} ({latest.actor}, {latest.recorded_at.isoformat()}): correct "
            f"version {latest.version} instead, whose values carry "
            f"{'that correction' if len(chain) == 1 else 'those corrections'}"
        )

    def _correction_of(self, version: int) -> PeriodVersion | None:
        """The latest correction that supersedes ``version`` directly, if any."""
        found = [v for v in self.versions if v.kind == "correction" and v.supersedes == version]
        return found[-1] if found else None

    def intervene(self, action: str, version: int | None, actor: str, reason: str) -> None:
        """A typed intervention as a person names it (:meth:`InterventionKind.parse`): hold,
        pin with the version to pin, or release."""
        kind = InterventionKind.parse(action, version)
        if kind is InterventionKind.HOLD:
            self.hold(actor, reason)
        elif kind is InterventionKind.RELEASE:
            self.release(actor, reason)
        elif version is not None:  # a pin names its version (checked by parse)
            self.pin(version, actor, reason)

    def hold(self, actor: str, reason: str) -> None:
        """Hold the period from billing, naming who and why: documents refuse to use it, and
        say why, until it is released. A period is held once at a time."""
        actor, reason = _attribution(actor, reason, "a hold")
        if self.held is not None:
            raise InterventionRefused(
                f"{self._described()} is already held from billing by {self.held.actor}: "
                "release it first"
            )
        self.trigger_event(self.PeriodHeld, **self._identity(), actor=actor, reason=reason)

    def pin(self, version: int, actor: str, reason: str) -> None:
        """Pin one of the period's versions, naming who and why: the best view uses it until
        it is released. Another version pinned replaces the pin; the same one is refused."""
        actor, reason = _attribution(actor, reason, "a pin")
        if not any(v.version == version for v in self.versions):
            known = ", ".join(str(v.version) for v in self.versions)
            raise InterventionRefused(
                f"{self._described()} has no version {version} to pin (versions: {known})"
            )
        if self.pinned == version:
            raise InterventionRefused(f"{self._described()} already has version {version} pinned")
        self.trigger_event(
            self.VersionPinned, **self._identity(), version=version, actor=actor, reason=reason
        )

    def release(self, actor: str, reason: str) -> None:
        """Lift the hold and the pin standing on the period, naming who and why."""
        actor, reason = _attribution(actor, reason, "a release")
        if self.held is None and self.pinned is None:
            raise InterventionRefused(
                f"{self._described()} is neither held nor pinned: there is nothing to release"
            )
        self.trigger_event(
            self.InterventionReleased, **self._identity(), actor=actor, reason=reason
        )

    def _described(self) -> str:
        return (
            f"{self.subject} on {self.settlement_date.isoformat()} period {self.settlement_period}"
        )

    def _identity(self) -> dict[str, Any]:
        return {
            "tenant": self.tenant,
            "subject": self.subject,
            "settlement_date": self.settlement_date,
            "settlement_period": self.settlement_period,
        }


class ReceivedFile(Aggregate):
    """One received file, identified by its content: every stage it went through.

    Its status goes ``received`` -> ``validated`` -> ``mapped`` -> ``accepted`` (interpreted,
    then published), or to ``rejected`` from ``received``, ``validated`` or ``mapped``, or to
    ``not interpreted`` when no format reads it or its format keeps it without interpreting
    it. ``accepted``, ``rejected`` and ``not interpreted`` are verdicts: final, one per file.
    Another receipt of the same bytes is recorded as a duplicate whatever the status.
    """

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

    @staticmethod
    def create_id(tenant: str, sha256: str) -> UUID:
        """The same bytes received by the same tenant always land on the same aggregate."""
        return received_file_id(tenant, sha256)

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
        """The file's envelope and content passed validation; what it is.

        Version 2 added ``format`` (the format module that read it) and ``sender``; the
        settlement date and run are None when the file has no single one (a page of published
        prices, a meter data file whose values each have their own). Version 3 keeps every
        warning the reader kept (up to its bound, then a line per kind counted beyond it),
        ``warning_count``, how many it found, kept or not (before, at most 20 were kept), and
        ``checks``, what validation applied and their outcomes (``check``, ``outcome``,
        ``detail``; None for a file validated before they were recorded)."""

        class_version: ClassVar[int] = 3

        format: str
        flow: str
        flow_version: str
        settlement_date: date | None
        run_type: str | None
        run_number: int | None
        bsc_party_id: str | None
        sender: str | None
        file_creation_time: datetime | None
        record_count: int
        warnings: list[str]
        warning_count: int
        checks: list[dict[str, str]] | None = None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["format"] = "saa-i014"
            state["sender"] = None

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            # What was found beyond the 20 listed is no longer known: the list is the count;
            # which checks were applied was not recorded.
            state["warning_count"] = len(state["warnings"])
            state["checks"] = None

        def apply(self, aggregate: Any) -> None:
            aggregate.status = "validated"
            aggregate.flow = self.flow

    @dataclass(frozen=True)
    class Mapped(Aggregate.Event):
        """The market ids the file's values are about, against the tenant's own ids: how many
        it carries, and those with no mapping on their settlement date (their data lands all
        the same; each is raised as an exception)."""

        market_ids: int
        unmapped: list[str]

        def apply(self, aggregate: Any) -> None:
            aggregate.status = "mapped"

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
    class Published(Aggregate.Event):
        """What the accepted file changed, now visible to the views and the feed: new
        versions, further sources of versions already held, conflicting versions, readings."""

        new_versions: int
        further_sources: int
        conflicting_versions: int
        readings: int

    @dataclass(frozen=True)
    class NotInterpreted(Aggregate.Event):
        """The file is kept, but the ledger does not interpret it: no format recognises it, or
        its format (a flow the ledger has no reader for) keeps it as it is. ``format`` and
        ``flow`` are what was recognised, if anything."""

        format: str | None
        flow: str | None
        reason: str

        def apply(self, aggregate: Any) -> None:
            aggregate.status = "not interpreted"
            aggregate.flow = self.flow
            aggregate.reasons = [self.reason]

    @dataclass(frozen=True)
    class DuplicateReceived(Aggregate.Event):
        """The same bytes arrived again: a harmless duplicate, never a second version."""

        channel: str
        file_name: str

        def apply(self, aggregate: Any) -> None:
            aggregate.receipts += 1

    @classmethod
    def receive(
        cls, tenant: str, sha256: str, size: int, channel: str, file_name: str
    ) -> ReceivedFile:
        """The first receipt of these bytes: opens the file's history."""
        return cls(tenant=tenant, sha256=sha256, size=size, channel=channel, file_name=file_name)

    @property
    def has_verdict(self) -> bool:
        """Whether the file was accepted, rejected or kept not interpreted: nothing more can
        happen to it but duplicate receipts."""
        return self.status in ("accepted", "rejected", "not interpreted")

    @property
    def was_rejected(self) -> bool:
        return self.status == "rejected"

    def duplicate(self, channel: str, file_name: str) -> None:
        """The same bytes arrived again, at whatever stage: recorded, never a second version."""
        self.trigger_event(self.DuplicateReceived, channel=channel, file_name=file_name)

    def validate(
        self,
        *,
        format: str = "saa-i014",
        flow: str,
        flow_version: str,
        settlement_date: date | None,
        run_type: str | None,
        run_number: int | None,
        bsc_party_id: str | None,
        sender: str | None = None,
        file_creation_time: datetime | None,
        record_count: int,
        warnings: Sequence[str] = (),
        warning_count: int | None = None,
        checks: Sequence[dict[str, str]] | None = None,
    ) -> None:
        """The file's envelope and content passed validation: record what it is, what its
        reader warned of (``warning_count``: how many it found, by default as many as
        ``warnings`` lists) and the checks it applied."""
        self._require("validated", "received")
        self.trigger_event(
            self.Validated,
            format=format,
            flow=flow,
            flow_version=flow_version,
            settlement_date=settlement_date,
            run_type=run_type,
            run_number=run_number,
            bsc_party_id=bsc_party_id,
            sender=sender,
            file_creation_time=file_creation_time,
            record_count=record_count,
            warnings=list(warnings),
            warning_count=len(warnings) if warning_count is None else warning_count,
            checks=None if checks is None else [dict(check) for check in checks],
        )

    def map(self, market_ids: int, unmapped: Sequence[str]) -> None:
        """Record how the file's market ids map to the tenant's own ids."""
        self._require("mapped", "validated")
        self.trigger_event(self.Mapped, market_ids=market_ids, unmapped=list(unmapped))

    def interpret(
        self,
        *,
        periods: int,
        events: int,
        daily_values: Sequence[dict[str, Any]],
        unplaced_records: Sequence[dict[str, Any]],
    ) -> None:
        """Record what the validated (and mapped) file produced: the file is accepted."""
        self._require("interpreted", "validated", "mapped")
        self.trigger_event(
            self.Interpreted,
            periods=periods,
            events=events,
            daily_values=list(daily_values),
            unplaced_records=list(unplaced_records),
        )

    def publish(
        self, *, new_versions: int, further_sources: int, conflicting_versions: int, readings: int
    ) -> None:
        """Record what the accepted file changed, as its events are published."""
        self._require("published", "accepted")
        self.trigger_event(
            self.Published,
            new_versions=new_versions,
            further_sources=further_sources,
            conflicting_versions=conflicting_versions,
            readings=readings,
        )

    def keep_uninterpreted(self, reason: str, *, format: str | None, flow: str | None) -> None:
        """Keep the file without interpreting it, saying why (a verdict)."""
        self._require("kept not interpreted", "received", "validated")
        self.trigger_event(self.NotInterpreted, format=format, flow=flow, reason=reason)

    def reject(self, reasons: Sequence[str], *, flow: str | None = None) -> None:
        """The file cannot enter the ledger, for these reasons; ``flow`` is its message type
        when known. The stage named is the one the file failed: the next one it was due."""
        self._require("rejected", "received", "validated", "mapped")
        if not reasons:
            raise StageRefused(f"{self._described()} cannot be rejected without a reason")
        self.trigger_event(
            self.Rejected,
            flow=flow if flow is not None else self.flow,
            stage=_FAILED_STAGE[self.status],
            reasons=list(reasons),
        )

    def _require(self, stage: str, *statuses: str) -> None:
        if self.status not in statuses:
            raise StageRefused(
                f"{self._described()} cannot be {stage}: {_WHY_REFUSED[self.status]}"
            )

    def _described(self) -> str:
        return f"file {self.file_name} (sha256 {self.sha256})"


# What a refused stage says of the received file's status, in a user's words.
_WHY_REFUSED = {
    "received": "it has not been validated",
    "validated": "it was already validated",
    "mapped": "it was already mapped",
    "accepted": "it was already accepted",
    "rejected": "it was already rejected",
    "not interpreted": "it was kept without being interpreted",
}
# The stage a file failed, by the status it had: the next one it was due.
_FAILED_STAGE = {"received": "validation", "validated": "mapping", "mapped": "interpretation"}


# Stored events name their classes by topic. Before the domain became a package these classes
# lived in ``ledger.domain``, and ``ReceivedFile`` was called ``Flow`` (a name the market gives
# to message types such as S0142): those topics stay resolvable, so databases written then
# still load.
register_topic("ledger.domain:SettlementPeriod", SettlementPeriod)
register_topic("ledger.domain:Flow", ReceivedFile)
register_topic("ledger.domain.aggregates:Flow", ReceivedFile)
