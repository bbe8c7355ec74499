"""The exception queue: each problem the ledger finds (a rejected file, an unmapped id, values
that do not add up...) as an aggregate of its own, with its owner, status and full history.

A problem is named by a **key** (e.g. ``rejected:S0142:2026-05-06:R3:BRITGAS``, see
:func:`problem_key`), so the same problem seen again lands on the same exception: a history
entry while it is being worked on, a reopening once it was resolved or dismissed. Statuses:

    open -> acknowledged -> resolved | dismissed -> reopened -> acknowledged ...

A person acknowledges, resolves, dismisses (always with a reason), reopens or assigns an
exception, each naming who and why; the ledger itself raises exceptions and resolves one when a
corrected file arrives, keeping that file (its SHA-256) as the link.

Who owns a new exception by default (:data:`DEFAULT_OWNERS`): **operations** for problems with
a file as it was delivered (rejected, not interpreted, a run delivered twice with other values,
a flow that did not arrive), since they chase the sender; the **data team** for ids the ledger
cannot map to market identity, since they keep the mappings; **settlement analysts** for
values that arrived but look wrong (a movement between runs beyond the threshold, period
charges that do not add up to the daily total), since judging a value is their work.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import Enum
from typing import Any, ClassVar
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from ledger.domain.aggregates import LEDGER_NAMESPACE, _attribution
from ledger.domain.errors import LedgerError
from ledger.domain.plain_text import MAX_REASON_LENGTH, excerpt, plain_text
from ledger.domain.settlement_time import check_settlement_date, check_settlement_period

# Who the ledger's own events name as their actor: it raises exceptions, and resolves them when
# a corrected file arrives.
LEDGER_ACTOR = "ledger"


class ExceptionRefused(LedgerError):
    """A change the exception's status does not allow (acknowledging a resolved exception,
    reopening an open one...), or a problem described wrongly (an empty message, a malformed
    file digest, a period the settlement day lacks)."""


class Category(Enum):
    """What kind of problem an exception is."""

    REJECTED_FILE = "rejected_file"  # a file failed validation: none of it entered the ledger
    NOT_INTERPRETED = "not_interpreted"  # a file (or records of it) the ledger could not read
    UNMAPPED_ID = "unmapped_id"  # an id with no mapping to market identity
    CONFLICTING_DELIVERY = "conflicting_delivery"  # one run delivered again with other values
    SUSPICIOUS_MOVEMENT = "suspicious_movement"  # run-to-run movement beyond the threshold
    TOTALS_MISMATCH = "totals_mismatch"  # period charges that do not add up to the daily total
    MISSING_FLOW = "missing_flow"  # a flow due by the timetable that has not arrived


class Impact(Enum):
    """What an exception puts at risk, most serious first.

    A deadline is, typically, the trading dispute's: a BSC Party must raise a dispute by the
    20th working day after the settlement run it disputes (SVA half-hourly and non-half-hourly
    data: the 70th after RF), or the error stays in settlement (Elexon, "Trading disputes as a
    PAF technique", elexon.co.uk/reference/performance-assurance/performance-assurance-
    techniques/trading-disputes-within-performance-assurance-framework/).
    """

    BLOCKS_BILLING = "blocks_billing"  # a value cannot be billed until this is settled
    THREATENS_DEADLINE = "threatens_deadline"  # a market deadline passes if nobody acts
    DATA_QUALITY = "data_quality"  # a value may be wrong, but billing can go on
    INFORMATIONAL = "informational"  # worth knowing; nothing waits on it


class Status(Enum):
    """Where an exception stands."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    DISMISSED = "dismissed"
    REOPENED = "reopened"

    @property
    def closed(self) -> bool:
        """Resolved or dismissed: only reopening (by a person, or the problem seen again)
        changes it."""
        return self in (Status.RESOLVED, Status.DISMISSED)


OPERATIONS = "operations"
DATA_TEAM = "data-team"
SETTLEMENT_ANALYSTS = "settlement-analysts"

# Who owns a new exception of each category, unless the problem names an owner (see the
# module's docstring for why).
DEFAULT_OWNERS: dict[Category, str] = {
    Category.REJECTED_FILE: OPERATIONS,
    Category.NOT_INTERPRETED: OPERATIONS,
    Category.CONFLICTING_DELIVERY: OPERATIONS,
    Category.MISSING_FLOW: OPERATIONS,
    Category.UNMAPPED_ID: DATA_TEAM,
    Category.SUSPICIOUS_MOVEMENT: SETTLEMENT_ANALYSTS,
    Category.TOTALS_MISMATCH: SETTLEMENT_ANALYSTS,
}

_SHA256 = re.compile(r"[0-9a-f]{64}")
# A file's cause of a problem is cut to this length; an exception's message names at most
# this many earlier files' causes, and counts the others (their messages are in its history).
MAX_CAUSE_LENGTH = 300
EARLIER_CAUSES_SHOWN = 5


def exception_id(tenant: str, key: str) -> UUID:
    """The id of a tenant's exception for the problem ``key`` names (one per tenant and key)."""
    return uuid5(LEDGER_NAMESPACE, f"exception/{tenant}/{key}")


def problem_key(kind: str, *parts: object) -> str:
    """A problem's key from its parts, e.g. ``problem_key("rejected", "S0142",
    date(2026, 5, 6), "R3", "BRITGAS")`` is ``rejected:S0142:2026-05-06:R3:BRITGAS``: dates in
    ISO form, a missing part as ``-``. The same parts always give the same key."""
    texts = [
        kind,
        *("-" if p is None else p.isoformat() if isinstance(p, date) else str(p) for p in parts),
    ]
    return ":".join(texts)


@dataclass(frozen=True)
class Problem:
    """A problem to raise, as the pipeline describes it: checked when made.

    ``key`` names the problem (the same problem, the same key); ``message`` is a sentence an
    operations analyst can act on (what is wrong, where, what to do); ``flow`` is the SHA-256
    of the file that showed it, if any; ``owner`` defaults to the category's
    (:data:`DEFAULT_OWNERS`). ``cause`` is this file's own part of the problem in a line (a
    rejected file's name and reason): when several files show one problem, the exception's
    message keeps each earlier file's cause after the latest message (see
    :meth:`ExceptionCase.see_again`).
    """

    key: str
    category: Category
    impact: Impact
    message: str
    flow: str | None = None
    party: str | None = None
    subject: str | None = None
    settlement_date: date | None = None
    periods: Sequence[int] = ()
    owner: str | None = None
    cause: str | None = None

    def __post_init__(self) -> None:
        plain_text(self.key, "an exception's key")
        plain_text(
            self.message, f"the message of exception {self.key}", max_length=MAX_REASON_LENGTH
        )
        if self.cause is not None:
            cause = self.cause
            if len(cause) > MAX_CAUSE_LENGTH:
                cause = cause[: MAX_CAUSE_LENGTH - 1] + "…"
            plain_text(cause, f"the cause of exception {self.key}", max_length=MAX_CAUSE_LENGTH)
            object.__setattr__(self, "cause", cause)
        _check_flow(self.flow, self.key)
        for text, what in ((self.party, "party"), (self.subject, "subject"), (self.owner, "owner")):
            if text is not None:
                plain_text(text, f"the {what} of exception {self.key}")
        object.__setattr__(self, "periods", _periods(self.key, self.settlement_date, self.periods))

    @property
    def owned_by(self) -> str:
        """Who owns the exception when it is raised."""
        return self.owner if self.owner is not None else DEFAULT_OWNERS[self.category]

    def as_event_data(self) -> dict[str, Any]:
        """What a raised or seen-again event records of the problem (plain values: the event
        log's JSON holds no enums or tuples)."""
        return {
            "impact": self.impact.value,
            "message": self.message,
            "flow": self.flow,
            "party": self.party,
            "subject": self.subject,
            "settlement_date": self.settlement_date,
            "periods": list(self.periods),
            "cause": self.cause,
        }


def _check_flow(flow: str | None, key: str) -> None:
    if flow is not None and not _SHA256.fullmatch(flow):
        raise ExceptionRefused(
            f"exception {key} names the file {excerpt(flow)}: a file is named by the SHA-256 "
            "of its bytes, 64 lower-case hexadecimal digits"
        )


def _periods(key: str, settlement_date: date | None, periods: Iterable[int]) -> tuple[int, ...]:
    """The periods in order, each once; each must exist on the settlement date."""
    chosen = tuple(sorted(set(periods)))
    if chosen and settlement_date is None:
        raise ExceptionRefused(
            f"exception {key} names settlement periods without a settlement date: name the date"
        )
    if settlement_date is not None:
        check_settlement_date(settlement_date)
        for period in chosen:
            check_settlement_period(settlement_date, period)
    return chosen


@dataclass(frozen=True)
class Change:
    """A change a person (or the ledger) made to an exception: who, why, and the file that
    caused it (a corrected file resolving it)."""

    actor: str
    reason: str
    flow: str | None = None


class ExceptionCase(Aggregate):
    """One problem of one tenant: what it is, what it puts at risk, who owns it, where it
    stands, and every file that showed it. Its events are its history."""

    def __init__(
        self,
        tenant: str,
        key: str,
        category: str,
        impact: str,
        message: str,
        flow: str | None,
        party: str | None,
        subject: str | None,
        settlement_date: date | None,
        periods: list[int],
        owner: str,
        cause: str | None = None,
    ) -> None:
        self.tenant = tenant
        self.key = key
        self.category = Category(category)
        self.owner = owner
        self.status = Status.OPEN
        self.flows: list[str] = []
        self.last_change: Change | None = None
        self.resolved_by_flow: str | None = None
        # The causes of the files that showed the problem since it was raised or last
        # reopened by being seen again, latest last (at most EARLIER_CAUSES_SHOWN + 1 kept),
        # and how many there were.
        self.causes: list[str] = []
        self.cause_count = 0
        self._describe(impact, message, flow, party, subject, settlement_date, periods)
        self._add_cause(cause)

    def _add_cause(self, cause: str | None) -> None:
        if cause is None:
            return
        self.causes = [*self.causes, cause][-(EARLIER_CAUSES_SHOWN + 1) :]
        self.cause_count += 1

    def _describe(
        self,
        impact: str,
        message: str,
        flow: str | None,
        party: str | None,
        subject: str | None,
        settlement_date: date | None,
        periods: list[int],
    ) -> None:
        """The problem as last seen."""
        self.impact = Impact(impact)
        self.message = message
        self.flow = flow
        self.party = party
        self.subject = subject
        self.settlement_date = settlement_date
        self.periods = list(periods)
        if flow is not None and flow not in self.flows:
            self.flows.append(flow)

    @staticmethod
    def create_id(tenant: str, key: str) -> UUID:
        """The same problem of the same tenant always lands on the same exception."""
        return exception_id(tenant, key)

    @dataclass(frozen=True)
    class Raised(Aggregate.Created):
        """The ledger found a problem: what it is, what it puts at risk, where, and who owns
        it. Opens the exception.

        Schema version 2 added ``cause``: the file's own part of the problem (None when the
        problem has none, and for events stored before)."""

        class_version: ClassVar[int] = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["cause"] = None

        tenant: str
        key: str
        category: str
        impact: str
        message: str
        flow: str | None
        party: str | None
        subject: str | None
        settlement_date: date | None
        periods: list[int]
        owner: str
        cause: str | None

    @dataclass(frozen=True)
    class CaseEvent(Aggregate.Event):
        """Every later event of an exception names its tenant and key (a self-describing feed)."""

        tenant: str
        key: str

    @dataclass(frozen=True)
    class SeenAgain(CaseEvent):
        """The same problem was found again (another file showed it): the exception now
        describes it as last seen; ``reopens`` when it had been resolved or dismissed.

        Schema version 2 added ``cause`` (see :class:`Raised`); ``message`` is then the
        latest message with the earlier files' causes after it."""

        class_version: ClassVar[int] = 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["cause"] = None

        impact: str
        message: str
        flow: str | None
        party: str | None
        subject: str | None
        settlement_date: date | None
        periods: list[int]
        reopens: bool
        cause: str | None

        def apply(self, aggregate: Any) -> None:
            aggregate._describe(
                self.impact,
                self.message,
                self.flow,
                self.party,
                self.subject,
                self.settlement_date,
                self.periods,
            )
            if self.reopens:
                # What was shown before was dealt with: the causes start again.
                aggregate.causes, aggregate.cause_count = [], 0
            aggregate._add_cause(self.cause)
            if self.reopens:
                aggregate.status = Status.REOPENED
                aggregate.resolved_by_flow = None
                aggregate.last_change = Change(
                    LEDGER_ACTOR, "the problem was seen again", self.flow
                )

    @dataclass(frozen=True)
    class PersonChange(CaseEvent):
        """A change someone made, naming who and why."""

        actor: str
        reason: str

    @dataclass(frozen=True)
    class Acknowledged(PersonChange):
        """A person took the exception on: they know of it and are working on it."""

        def apply(self, aggregate: Any) -> None:
            aggregate.status = Status.ACKNOWLEDGED
            aggregate.last_change = Change(self.actor, self.reason)

    @dataclass(frozen=True)
    class Resolved(PersonChange):
        """The problem was put right: by a person, or by the ledger when a corrected file
        arrived (``resolved_by_flow``, that file's SHA-256: the link to what resolved it)."""

        resolved_by_flow: str | None

        def apply(self, aggregate: Any) -> None:
            aggregate.status = Status.RESOLVED
            aggregate.resolved_by_flow = self.resolved_by_flow
            aggregate.last_change = Change(self.actor, self.reason, self.resolved_by_flow)

    @dataclass(frozen=True)
    class Dismissed(PersonChange):
        """A person decided the problem needs no action, and said why."""

        def apply(self, aggregate: Any) -> None:
            aggregate.status = Status.DISMISSED
            aggregate.last_change = Change(self.actor, self.reason)

    @dataclass(frozen=True)
    class Reopened(PersonChange):
        """A person reopened a resolved or dismissed exception."""

        def apply(self, aggregate: Any) -> None:
            aggregate.status = Status.REOPENED
            aggregate.resolved_by_flow = None
            aggregate.last_change = Change(self.actor, self.reason)

    @dataclass(frozen=True)
    class OwnerAssigned(PersonChange):
        """A person gave the exception to another owner (a team or a person)."""

        owner: str

        def apply(self, aggregate: Any) -> None:
            aggregate.owner = self.owner

    @classmethod
    def raised(cls, tenant: str, problem: Problem) -> ExceptionCase:
        """A new exception for a problem found for the first time."""
        return cls(
            tenant=tenant,
            key=problem.key,
            category=problem.category.value,
            owner=problem.owned_by,
            **problem.as_event_data(),
        )

    def see_again(self, problem: Problem) -> bool:
        """The same problem found again; whether anything was recorded.

        A file already recorded as showing it records nothing (it was considered when the
        exception was raised, resolved or dismissed), nor does a problem without a file while
        the exception is being worked on. Otherwise a history entry, which reopens a resolved
        or dismissed exception.
        """
        self._check_same_problem(problem)
        if problem.flow in self.flows or (problem.flow is None and not self.status.closed):
            return False
        reopens = self.status.closed
        data = problem.as_event_data()
        if problem.cause is not None and not reopens:
            data["message"] = with_earlier_causes(problem.message, self.causes, self.cause_count)
        self.trigger_event(self.SeenAgain, **self._identity(), **data, reopens=reopens)
        return True

    def acknowledge(self, actor: str, reason: str) -> None:
        """A person takes the exception on, naming who and why."""
        actor, reason = _attribution(actor, reason, f"acknowledging exception {self.key}")
        if self.status is Status.ACKNOWLEDGED:
            raise ExceptionRefused(f"exception {self.key} was already acknowledged{self._by()}")
        self._refuse_if_closed("acknowledged")
        self.trigger_event(self.Acknowledged, **self._identity(), actor=actor, reason=reason)

    def resolve(self, actor: str, reason: str) -> None:
        """A person says the problem was put right, naming who and why."""
        actor, reason = _attribution(actor, reason, f"resolving exception {self.key}")
        self._refuse_if_closed("resolved")
        self.trigger_event(
            self.Resolved, **self._identity(), actor=actor, reason=reason, resolved_by_flow=None
        )

    def resolve_by_ledger(self, flow: str, reason: str) -> bool:
        """The ledger received the corrected file ``flow`` (its SHA-256), which puts the
        problem right: resolved, linked to that file. Whether anything was recorded: an
        exception already resolved or dismissed stays as it is."""
        _check_flow(flow, self.key)
        reason = plain_text(
            reason, f"the reason for resolving exception {self.key}", max_length=MAX_REASON_LENGTH
        )
        if self.status.closed:
            return False
        self.trigger_event(
            self.Resolved,
            **self._identity(),
            actor=LEDGER_ACTOR,
            reason=reason,
            resolved_by_flow=flow,
        )
        return True

    def dismiss(self, actor: str, reason: str) -> None:
        """A person decides the problem needs no action; the reason is required."""
        actor, reason = _attribution(actor, reason, f"dismissing exception {self.key}")
        self._refuse_if_closed("dismissed")
        self.trigger_event(self.Dismissed, **self._identity(), actor=actor, reason=reason)

    def reopen(self, actor: str, reason: str) -> None:
        """A person reopens a resolved or dismissed exception, naming who and why."""
        actor, reason = _attribution(actor, reason, f"reopening exception {self.key}")
        if not self.status.closed:
            raise ExceptionRefused(
                f"exception {self.key} is {self.status.value}: only a resolved or dismissed "
                "exception can be reopened"
            )
        self.trigger_event(self.Reopened, **self._identity(), actor=actor, reason=reason)

    def assign(self, owner: str, actor: str, reason: str) -> None:
        """A person gives the exception to another owner, naming who and why."""
        actor, reason = _attribution(actor, reason, f"assigning exception {self.key}")
        if not owner.strip():
            raise ExceptionRefused(f"assigning exception {self.key} needs the new owner")
        owner = plain_text(owner.strip(), f"the owner of exception {self.key}")
        if owner == self.owner:
            raise ExceptionRefused(f"exception {self.key} is already owned by {owner}")
        self.trigger_event(
            self.OwnerAssigned, **self._identity(), actor=actor, reason=reason, owner=owner
        )

    def _refuse_if_closed(self, what: str) -> None:
        if self.status is Status.RESOLVED:
            raise ExceptionRefused(
                f"exception {self.key} was resolved{self._by()}: a resolved exception cannot "
                f"be {what}; reopen it first if the problem is back"
            )
        if self.status is Status.DISMISSED:
            raise ExceptionRefused(
                f"exception {self.key} was dismissed{self._by()}: a dismissed exception "
                f"cannot be {what}; reopen it first if it needs action"
            )

    def _by(self) -> str:
        change = self.last_change
        if change is None:
            return ""
        return f" by {change.actor} ({change.reason})"

    def _check_same_problem(self, problem: Problem) -> None:
        if problem.key != self.key or problem.category is not self.category:
            raise ExceptionRefused(
                f"exception {self.key} ({self.category.value}) cannot take problem "
                f"{problem.key} ({problem.category.value}): one key names one kind of problem"
            )

    def _identity(self) -> dict[str, Any]:
        return {"tenant": self.tenant, "key": self.key}


def with_earlier_causes(message: str, earlier: Sequence[str], count: int) -> str:
    """The latest ``message`` of a problem, followed by the causes of the files that showed it
    before (``earlier``, oldest first, the last of ``count`` files): the latest first, at most
    :data:`EARLIER_CAUSES_SHOWN` of them, the others counted, within
    :data:`MAX_REASON_LENGTH`."""
    if not earlier:
        return message
    shown = list(reversed(earlier))[:EARLIER_CAUSES_SHOWN]
    while True:
        more = count - len(shown)
        beyond = f"; and {more} earlier file{'s' if more != 1 else ''}" if more else ""
        files = f"{count} file{'s' if count != 1 else ''}"
        text = f"{message} Before it, {files} showed this: {'; '.join(shown)}{beyond}."
        if len(text) <= MAX_REASON_LENGTH or not shown:
            return text if len(text) <= MAX_REASON_LENGTH else message
        shown.pop()


def raise_problem(existing: ExceptionCase | None, tenant: str, problem: Problem) -> ExceptionCase:
    """The exception for ``problem`` with its new pending events: raised when ``existing`` is
    None, else seen again (perhaps reopened, perhaps nothing new: see
    :meth:`ExceptionCase.see_again`)."""
    if existing is None:
        return ExceptionCase.raised(tenant, problem)
    existing.see_again(problem)
    return existing
