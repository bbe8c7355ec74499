"""The consumer feed: one tenant's events in commit order, page by page, resumable.

A *position* is an event's notification id in the log. Positions increase in commit order
(every append takes the event store's lock, so an event committed later never gets a smaller
position than one already visible), but they have gaps: other tenants' events are between a
tenant's own, and a number taken by an append that rolled back is never used. A consumer
remembers the last position it was given and asks for what comes after it; it never assumes
that the next position is one more.

A page reads the log from ``after`` onwards, decodes each event and keeps it only if it is the
tenant's (every settlement-period event and a received file's first event name their tenant;
a received file's later events belong to the tenant of its first event), never another's. The
scan is bounded (:func:`scan_budget`), so one request never reads the whole log: a page may
hold fewer events than asked for, or none, while more are to come. Its ``next_after`` is the
last position it read, so a consumer resuming from it moves past a stretch of other tenants'
events instead of reading it again; ``caught_up`` says whether the page reached the end of the
log.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import fields
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from functools import singledispatch
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification
from pydantic import JsonValue

from ledger.adapters.event_store import EventStore
from ledger.adapters.storage import Tx
from ledger.domain.errors import LedgerError
from ledger.domain.measures import Measures
from ledger.service.application import Ledger
from ledger.service.read_models import FeedEvent, FeedPage

# The most events one page holds.
MAX_LIMIT = 1000
# The largest position the log can give (both backends number events by a signed 64-bit
# integer: SQLite's rowid, PostgreSQL's bigserial).
MAX_POSITION = 2**63 - 1
# A page reads at most this many times its limit of events from the log (and at least
# MIN_SCAN), whoever they belong to.
SCAN_MULTIPLE = 10
MIN_SCAN = 500
# How many events of the log are read at once.
_CHUNK = 200

# The library's envelope of every event: served as position, aggregate and time, not payload.
_ENVELOPE = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})


def check_page(after: int, limit: int) -> None:
    """Refuse a position or page size the feed cannot serve, in a consumer's words."""
    if after < 0:
        raise LedgerError(
            f"the feed has no position {after}: positions start at 1; ask for the events after "
            "0 to read from the beginning, or after the last position you were given"
        )
    if after > MAX_POSITION:
        raise LedgerError(
            f"the feed has no position {after}: positions run up to {MAX_POSITION}; ask for "
            "the events after the last position you were given"
        )
    if not 1 <= limit <= MAX_LIMIT:
        raise LedgerError(
            f"a page of the feed holds 1 to {MAX_LIMIT} events, not {limit}: ask for a number "
            "in that range, and for more by reading on from the page's next_after"
        )


def scan_budget(limit: int) -> int:
    """How many events of the log (any tenant's) a page of ``limit`` events reads at most."""
    return max(SCAN_MULTIPLE * limit, MIN_SCAN)


def read_feed(tx: Tx, ledger: Ledger, tenant: str, after: int, limit: int) -> FeedPage:
    """Up to ``limit`` of ``tenant``'s events after position ``after``, in commit order, read
    in ``tx`` (``after`` and ``limit`` already checked, :func:`check_page`)."""
    scan = _Scan(tx, ledger.event_store, after, scan_budget(limit))
    owners = _Owners(ledger)
    events: list[FeedEvent] = []
    next_after = after
    for notification in scan:
        next_after = notification.id
        event = ledger.mapper.to_domain_event(notification)
        if owners.tenant_of(event) == tenant:
            events.append(feed_event(notification.id, event))
            if len(events) == limit:
                break
    return FeedPage(
        tenant=tenant,
        after=after,
        events=events,
        next_after=next_after,
        caught_up=scan.reached_end,
    )


class _Scan:
    """The log after a position, read a chunk at a time, at most ``budget`` events."""

    def __init__(self, tx: Tx, store: EventStore, after: int, budget: int) -> None:
        self._tx = tx
        self._store = store
        self._after = after
        self._budget = budget
        # Set once a chunk came back short: every event then in the log was read.
        self.reached_end = False

    def __iter__(self) -> Iterator[Notification]:
        position, budget = self._after, self._budget
        while budget > 0:
            size = min(budget, _CHUNK)
            chunk = self._store.read_after(self._tx, position, size)
            yield from chunk
            if len(chunk) < size:
                self.reached_end = True
                return
            budget -= size
            position = chunk[-1].id


class _Owners:
    """Which tenant each event belongs to: the tenant it names, or for an event that names
    none (a received file's stages after the first), the tenant its aggregate's first event
    names (looked up once per aggregate and page)."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._known: dict[UUID, str | None] = {}

    def tenant_of(self, event: Any) -> str | None:
        tenant = getattr(event, "tenant", None)
        if isinstance(tenant, str):
            self._known[event.originator_id] = tenant
            return tenant
        key: UUID = event.originator_id
        if key not in self._known:
            self._known[key] = self._first_tenant(key)
        return self._known[key]

    def _first_tenant(self, key: UUID) -> str | None:
        # The first event was committed no later than the one being served: any connection
        # sees it (the library's own, here).
        first = self._ledger.recorder.select_events(key, lte=1, limit=1)
        if not first:
            return None
        tenant = getattr(self._ledger.mapper.to_domain_event(first[0]), "tenant", None)
        return tenant if isinstance(tenant, str) else None


def feed_event(position: int, event: Any) -> FeedEvent:
    """A decoded domain event as the feed serves it."""
    cls = type(event)
    return FeedEvent(
        position=position,
        type=cls.__qualname__,
        schema_version=int(getattr(cls, "class_version", 1)),
        recorded_at=event.timestamp,
        aggregate_id=event.originator_id,
        aggregate_version=event.originator_version,
        payload=payload_of(event),
    )


def payload_of(event: Any) -> dict[str, JsonValue]:
    """An event's own fields (its dataclass fields but the library's envelope) as JSON."""
    return {
        f.name: json_value(getattr(event, f.name)) for f in fields(event) if f.name not in _ENVELOPE
    }


@singledispatch
def json_value(value: object) -> JsonValue:
    """A value of an event's field as JSON that loses nothing: never a binary float."""
    raise TypeError(f"the feed cannot serve a {type(value).__name__} in an event's payload")


@json_value.register(type(None))
@json_value.register(str)
@json_value.register(bool)
@json_value.register(int)
def _as_is(value: str | bool | int | None) -> JsonValue:
    return value


@json_value.register(Decimal)
@json_value.register(float)
def _decimal(value: Decimal | float) -> JsonValue:
    # A float (never written by the ledger) as its shortest exact-round-trip text.
    return str(value)


@json_value.register(Measures)
def _measures(value: Measures) -> JsonValue:
    return {name: text for name, text in value.as_text().items()}


@json_value.register(date)
def _date(value: date) -> JsonValue:
    return value.isoformat()


@json_value.register(datetime)
def _instant(value: datetime) -> JsonValue:
    # The ledger keeps every instant in UTC; one without a zone is read as UTC.
    return (value if value.tzinfo is not None else value.replace(tzinfo=UTC)).isoformat()


@json_value.register(UUID)
def _uuid(value: UUID) -> JsonValue:
    return str(value)


@json_value.register(Enum)
def _enum(value: Enum) -> JsonValue:
    return json_value(value.value)


@json_value.register(Mapping)
def _mapping(value: Mapping[Any, Any]) -> JsonValue:
    return {str(key): json_value(item) for key, item in value.items()}


@json_value.register(list)
@json_value.register(tuple)
def _sequence(value: list[Any] | tuple[Any, ...]) -> JsonValue:
    return [json_value(item) for item in value]
