"""The exception queue's use cases: the pipeline raises and resolves problems inside its own
transaction; a person acknowledges, resolves, dismisses, reopens or assigns an exception; and
operations lists the queue. Read models here are served alike by the command line and the API.

The pipeline's part, inside its open transaction ``tx`` (the events commit or roll back with
the file)::

    queue = ExceptionQueue(ledger)
    events = queue.raise_problems(tx, tenant, [Problem(key=..., category=..., ...)])
    events += queue.resolve_by_ledger(tx, tenant, [key], flow=sha256, reason="...")
    views.follow(tx, events)  # the events written, in the order they were appended

Both take the event store's append lock in ``tx`` (free when the pipeline holds it already),
so what they read of an exception cannot change before they append to it. Calling them more
than once in one transaction is safe: the exceptions they wrote are remembered for that
transaction.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from enum import Enum
from typing import Any, cast
from uuid import UUID
from weakref import WeakKeyDictionary

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from pydantic import Field

from ledger.adapters.storage import Tx
from ledger.domain.errors import LedgerBusy, LedgerError
from ledger.domain.exception_queue import (
    Category,
    ExceptionCase,
    Impact,
    Problem,
    Status,
    exception_id,
    raise_problem,
)
from ledger.domain.identifiers import tenant_id
from ledger.domain.plain_text import excerpt
from ledger.service.application import Ledger, NotFound
from ledger.service.read_models import DateString, Instant, ReadModel
from projections.exceptions import (
    ExceptionFilter,
    ExceptionRow,
    HistoryRow,
    exceptions_by_id_prefix,
    find_exception,
    list_exceptions,
)
from projections.runner import ProjectionRunner

# How often a person's command is tried when other writers keep changing the exception.
_COMMAND_ATTEMPTS = 5


class ExceptionStep(ReadModel):
    """One event in an exception's history: what happened, who did it and why."""

    version: int
    event: str = Field(
        description="raised, seen_again, acknowledged, resolved, dismissed, reopened or "
        "owner_assigned"
    )
    at: Instant
    actor: str = Field(description="the person, or ledger for what the ledger did itself")
    reason: str | None
    status: str = Field(description="the exception's status after this event")
    owner: str = Field(description="the exception's owner after this event")
    flow: str | None = Field(
        description="the file (SHA-256) that showed the problem, or that resolved it"
    )
    message: str | None = Field(description="the problem as the file showed it")

    @classmethod
    def of(cls, row: HistoryRow) -> ExceptionStep:
        return cls(**row._asdict())


class ExceptionView(ReadModel):
    """An exception as it stands, with its whole history."""

    id: UUID
    key: str = Field(description="what names the problem: the same problem, the same key")
    category: str
    impact: str = Field(
        description="blocks_billing, threatens_deadline, data_quality or informational"
    )
    status: str = Field(description="open, acknowledged, resolved, dismissed or reopened")
    message: str = Field(description="the problem, as a sentence an analyst can act on")
    flow: str | None = Field(description="the SHA-256 of the file that last showed the problem")
    party: str | None
    subject: str | None
    settlement_date: DateString | None
    periods: list[int]
    owner: str
    raised_at: Instant
    updated_at: Instant
    resolved_by_flow: str | None = Field(
        description="the corrected file (SHA-256) whose arrival resolved the exception"
    )
    history: list[ExceptionStep]

    @classmethod
    def of(cls, row: ExceptionRow) -> ExceptionView:
        return cls(
            id=UUID(row.exception_id),
            key=row.key,
            category=row.category,
            impact=row.impact,
            status=row.status,
            message=row.message,
            flow=row.flow,
            party=row.party,
            subject=row.subject,
            settlement_date=row.settlement_date,
            periods=row.periods,
            owner=row.owner,
            raised_at=row.raised_at,
            updated_at=row.updated_at,
            resolved_by_flow=row.resolved_by_flow,
            history=[ExceptionStep.of(step) for step in row.history],
        )


class ExceptionQueue:
    """Raises, resolves and changes exceptions, and answers from the exceptions view.

    ``views``, when given, are brought up to date after a person's command, so the answer it
    returns shows the change (the pipeline keeps them current itself).
    """

    def __init__(self, ledger: Ledger, *, views: ProjectionRunner | None = None) -> None:
        self.ledger = ledger
        self.views = views
        # The exceptions written in each open transaction, as they stand in it: the library's
        # repository reads committed events only.
        self._written: WeakKeyDictionary[Tx, dict[UUID, ExceptionCase]] = WeakKeyDictionary()

    # --- the pipeline's part, inside its transaction ------------------------------------------

    def raise_problems(self, tx: Tx, tenant: str, problems: Sequence[Problem]) -> list[Any]:
        """Raise each problem in ``tx``: a new exception, the same one seen again (reopened if
        it was resolved or dismissed), or nothing new. Returns the events appended, in order."""
        tenant = tenant_id(tenant)
        if not problems:
            return []
        cases = self._in_tx(tx, tenant, [p.key for p in problems])
        for problem in problems:
            key = exception_id(tenant, problem.key)
            cases[key] = raise_problem(cases.get(key), tenant, problem)
        return self._append(tx, cases)

    def resolve_by_ledger(
        self, tx: Tx, tenant: str, keys: Iterable[str], *, flow: str, reason: str
    ) -> list[Any]:
        """The corrected file ``flow`` (its SHA-256) arrived: resolve, in ``tx``, each of the
        problems ``keys`` name that is still being worked on, linked to that file. A key with
        no exception, or one already resolved or dismissed, records nothing. Returns the
        events appended, in order."""
        tenant = tenant_id(tenant)
        cases = self._in_tx(tx, tenant, list(keys))
        for case in cases.values():
            case.resolve_by_ledger(flow, reason)
        return self._append(tx, cases)

    def _in_tx(self, tx: Tx, tenant: str, keys: Sequence[str]) -> dict[UUID, ExceptionCase]:
        """The exceptions ``keys`` name as they stand in ``tx`` (those that exist), under the
        append lock: the committed ones, or the ones this queue wrote in ``tx``."""
        store = self.ledger.event_store
        store.lock_for_append(tx)
        ids = list(dict.fromkeys(exception_id(tenant, key) for key in keys))
        current = store.current_versions(tx, ids)
        written = self._written.get(tx, {})
        cases = {}
        for key in ids:
            if key not in current:
                continue
            case = written.get(key)
            if case is None or case.version != current[key]:
                case = self._committed(key)
            if case is None or case.version != current[key]:
                raise LedgerError(
                    "an exception was written in this transaction other than through the "
                    "exception queue: raise and resolve exceptions through one ExceptionQueue"
                )
            cases[key] = case
        return cases

    def _append(self, tx: Tx, cases: dict[UUID, ExceptionCase]) -> list[Any]:
        events = [event for case in cases.values() for event in case.collect_events()]
        if events:
            mapper = self.ledger.mapper
            self.ledger.event_store.append_rows(
                tx,
                (
                    (cast(UUID, s.originator_id), s.originator_version, s.topic, s.state)
                    for s in map(mapper.to_stored_event, events)
                ),
            )
            self._written.setdefault(tx, {}).update(cases)
        return events

    # --- a person's commands, each in its own write -------------------------------------------

    def acknowledge(self, exception: str, *, tenant: str, actor: str, reason: str) -> ExceptionView:
        """A person takes the exception on, naming who and why."""
        return self._command(tenant, exception, lambda case: case.acknowledge(actor, reason))

    def resolve(self, exception: str, *, tenant: str, actor: str, reason: str) -> ExceptionView:
        """A person says the problem was put right, naming who and why."""
        return self._command(tenant, exception, lambda case: case.resolve(actor, reason))

    def dismiss(self, exception: str, *, tenant: str, actor: str, reason: str) -> ExceptionView:
        """A person decides the problem needs no action; the reason is required."""
        return self._command(tenant, exception, lambda case: case.dismiss(actor, reason))

    def reopen(self, exception: str, *, tenant: str, actor: str, reason: str) -> ExceptionView:
        """A person reopens a resolved or dismissed exception, naming who and why."""
        return self._command(tenant, exception, lambda case: case.reopen(actor, reason))

    def assign(
        self, exception: str, *, tenant: str, owner: str, actor: str, reason: str
    ) -> ExceptionView:
        """A person gives the exception to another owner, naming who and why."""
        return self._command(tenant, exception, lambda case: case.assign(owner, actor, reason))

    def change(
        self, action: str, exception: str, *, tenant: str, actor: str, reason: str
    ) -> ExceptionView:
        """One of the person's changes by name: acknowledge, resolve, dismiss or reopen."""
        changes = {
            "acknowledge": self.acknowledge,
            "resolve": self.resolve,
            "dismiss": self.dismiss,
            "reopen": self.reopen,
        }
        if action not in changes:
            raise LedgerError(
                f"unknown change {action!r} to an exception: use one of {', '.join(changes)}"
            )
        return changes[action](exception, tenant=tenant, actor=actor, reason=reason)

    def _command(
        self, tenant: str, exception: str, command: Callable[[ExceptionCase], None]
    ) -> ExceptionView:
        """Run a person's command on an exception and save what it decided; another writer
        appending meanwhile (the pipeline seeing the problem again) makes the library refuse
        the save, and the command runs again on the exception as it now stands."""
        tenant = tenant_id(tenant)
        key = self._id_of(tenant, exception)
        for _ in range(_COMMAND_ATTEMPTS):
            case = self._committed(key)
            if case is None:
                raise _not_found(tenant, exception)
            command(case)
            try:
                self.ledger.save(case)
            except IntegrityError:
                continue
            if self.views is not None:
                self.views.catch_up()
            return self.get(str(key), tenant=tenant)
        raise LedgerBusy(
            f"exception {excerpt(exception)} kept changing while the command ran: look at it again "
            "(ledger exceptions) and try again"
        )

    def _committed(self, key: UUID) -> ExceptionCase | None:
        try:
            case: ExceptionCase = self.ledger.repository.get(key)
        except AggregateNotFoundError:
            return None
        assert isinstance(case, ExceptionCase)
        return case

    # --- queries, from the view ---------------------------------------------------------------

    def find(
        self,
        *,
        tenant: str,
        status: str | None = None,
        impact: str | None = None,
        category: str | None = None,
        subject: str | None = None,
    ) -> list[ExceptionView]:
        """The tenant's exceptions, those with the status, impact, category and subject given
        (each optional): what puts the most at risk first, then the oldest."""
        tenant = tenant_id(tenant)
        chosen = ExceptionFilter(
            status=_one_of(Status, status, "status"),
            impact=_one_of(Impact, impact, "impact"),
            category=_one_of(Category, category, "category"),
            subject=subject,
        )
        with self.ledger.database.transaction(write=False) as tx:
            rows = list_exceptions(tx, tenant, chosen)
        return [ExceptionView.of(row) for row in rows]

    def get(self, exception: str, *, tenant: str) -> ExceptionView:
        """One of the tenant's exceptions with its history, by id or by key."""
        tenant = tenant_id(tenant)
        key = self._id_of(tenant, exception)
        with self.ledger.database.transaction(write=False) as tx:
            row = find_exception(tx, tenant, str(key))
        if row is None:
            raise _not_found(tenant, exception)
        return ExceptionView.of(row)

    def _id_of(self, tenant: str, exception: str) -> UUID:
        """An exception named by its id, by the start of its id (at least
        :data:`MIN_ID_PREFIX` hexadecimal digits, naming one of the tenant's exceptions), or by
        its key (the id is made from the key). A start shared by several is refused, naming
        some of them."""
        text = exception.strip()
        try:
            return UUID(text)
        except ValueError:
            pass
        prefix = text.lower()
        if _ID_PREFIX.fullmatch(prefix) and sum(c != "-" for c in prefix) >= MIN_ID_PREFIX:
            with self.ledger.database.transaction(write=False) as tx:
                found = exceptions_by_id_prefix(tx, tenant, prefix, limit=_CANDIDATES + 1)
            if len(found) == 1:
                return UUID(found[0][0])
            if found:
                raise _ambiguous(tenant, text, found)
        return exception_id(tenant, text)


# The start of an exception id a person may give for it: at least this many hexadecimal
# digits (8 name one exception among tens of thousands but for a chance in tens of thousands).
MIN_ID_PREFIX = 8
_ID_PREFIX = re.compile(r"[0-9a-f][0-9a-f-]{0,35}")
# How many exceptions sharing a start an ambiguous one names.
_CANDIDATES = 5


def _ambiguous(tenant: str, text: str, found: Sequence[tuple[str, str]]) -> LedgerError:
    named = ", ".join(f"{key} ({excerpt(problem, 80)})" for key, problem in found[:_CANDIDATES])
    more = " and more" if len(found) > _CANDIDATES else ""
    return LedgerError(
        f"{excerpt(text)} starts the id of several exceptions of tenant {tenant!r}: "
        f"{named}{more}; give more of the id"
    )


def _not_found(tenant: str, exception: str) -> NotFound:
    return NotFound(
        f"tenant {tenant!r} has no exception {excerpt(exception)}: list the tenant's exceptions "
        "(ledger exceptions) for their ids"
    )


def _one_of(kind: type[Enum], value: str | None, what: str) -> str | None:
    """A filter's value, checked against the values the ledger knows."""
    if value is None:
        return None
    known = [member.value for member in kind]
    if value not in known:
        raise LedgerError(f"unknown {what} {value!r}: use one of {', '.join(known)}")
    return value
