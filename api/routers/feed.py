"""The consumer feed: a tenant's events in commit order, by page or live (server-sent events).

A consumer remembers the last position it was given and asks for what comes after it:
resuming so, it sees every event exactly once, in order. Positions have gaps (other tenants'
events, numbers never used), and a page reads a bounded stretch of the log, so a page may hold
fewer events than asked for, or none, while more are to come: read on from ``next_after``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Header, Query, Request
from pydantic import WithJsonSchema

from api.dependencies import Tenant, runtime_of
from api.schemas import Problem
from api.streams import EventStream, LogHead, StreamGate, stream_gate_of
from ledger.domain.errors import LedgerError
from ledger.domain.identifiers import tenant_id
from ledger.domain.plain_text import excerpt
from ledger.service.feed import MAX_LIMIT, MAX_POSITION, check_page
from ledger.service.read_models import FeedPage
from ledger.service.runtime import LedgerRuntime

router = APIRouter(tags=["feed"])

# How often the streams that have sent every event look at the log's head again (seconds).
POLL_SECONDS = 1.0
# A comment line after this many empty polls, so that idle proxies keep the connection open.
KEEPALIVE_POLLS = 15
# Events read per page by the stream.
STREAM_PAGE = 500

_REFUSED: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "a malformed tenant name or Last-Event-ID"}
}
# The stream's refusals are JSON, not events (named, as its own media type is the stream's).
_PROBLEM = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}

# One server-sent event, as a client's EventSource reads it (Open API 3.1: the schema of an
# event stream's media type describes each event): its position as id, the event as JSON.
_SERVER_SENT_EVENT: dict[str, Any] = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "id": {"type": "string", "pattern": "^[0-9]+$", "description": "the event's position"},
        "event": {"type": "string", "enum": ["message"]},
        "data": {
            "type": "string",
            "contentMediaType": "application/json",
            "contentSchema": {"$ref": "#/components/schemas/FeedEvent"},
        },
    },
}

After = Annotated[
    int,
    Query(
        ge=0,
        le=MAX_POSITION,
        description="the last position already read (0: from the beginning)",
    ),
]


@router.get("/tenants/{tenant}/feed", response_model=FeedPage, responses=_REFUSED)
def get_feed(
    request: Request,
    tenant: Tenant,
    after: After = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="at most this many events")] = 100,
) -> FeedPage:
    """The tenant's events after a position, oldest first (commit order), each with its
    position, type, schema version, recording time and payload (decimals as exact strings).

    Ask for the next page after ``next_after``, even when a page has no events: it is the last
    position read, the tenant's or not. ``caught_up`` says the page reached the end of the log.
    """
    return runtime_of(request).feed(after=after, limit=limit, tenant=tenant)


@router.get(
    "/tenants/{tenant}/feed/stream",
    response_class=EventStream,
    responses={
        200: {
            "content": {"text/event-stream": {"schema": _SERVER_SENT_EVENT}},
            "description": "server-sent events: for each of the tenant's events, `id:` its "
            "position and `data:` the event as JSON (as in a page of the feed); a message "
            "with only an `id:` moves the resume point past other tenants' events",
        },
        400: {"content": _PROBLEM, "description": _REFUSED[400]["description"]},
        503: {
            "content": _PROBLEM,
            "description": "the most streams the ledger serves at once are open, in all "
            "(LEDGER_API_STREAMS) or for the tenant (LEDGER_API_STREAMS_PER_TENANT): try "
            "again after Retry-After seconds",
        },
    },
)
async def stream_feed(
    request: Request,
    tenant: Tenant,
    after: After = 0,
    last_event_id: Annotated[
        str | None,
        Header(description="where to resume (sent by a reconnecting EventSource): wins over after"),
        WithJsonSchema({"type": "string", "pattern": r"^ *[0-9]{1,19} *$"}),
    ] = None,
) -> EventStream:
    """The tenant's events after a position, then each new one as it is recorded, as
    server-sent events, until the client disconnects. A client resumes with the last ``id``
    it received (``Last-Event-ID``), and sees every event exactly once, in order. A client
    that reads nothing for ``LEDGER_API_STREAM_WRITE_TIMEOUT`` seconds has its stream closed."""
    runtime = runtime_of(request)
    gate = stream_gate_of(request)
    start = after if last_event_id is None else _position(last_event_id)
    tenant = tenant_id(tenant)
    slot = gate.admit(tenant)
    try:
        # Read the first page now: a refusal is an error response, not a broken stream.
        first = await to_thread.run_sync(_page, runtime, tenant, start, limiter=gate.readers)
    except BaseException:
        slot.release()
        raise
    stream = _Stream(runtime, gate, gate.head(lambda: _head(runtime)))
    return EventStream(
        stream.messages(first),
        slot=slot,
        write_timeout=gate.settings.write_timeout,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


def _position(text: str) -> int:
    """A ``Last-Event-ID`` as a position of the feed."""
    value = text.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > len(str(MAX_POSITION)):
        raise LedgerError(
            f"Last-Event-ID {excerpt(text)} is not a position of the feed: send the id of the "
            f"last event received, a whole number from 0 to {MAX_POSITION}"
        )
    position = int(value)
    check_page(position, 1)
    return position


def _page(runtime: LedgerRuntime, tenant: str, after: int) -> FeedPage:
    return runtime.feed(after=after, limit=STREAM_PAGE, tenant=tenant)


def _head(runtime: LedgerRuntime) -> int:
    return runtime.views().log_position


class _Stream:
    """One client's stream: its pages read in the streams' own threads, its waits for more
    on the log's head that every stream shares."""

    def __init__(self, runtime: LedgerRuntime, gate: StreamGate, head: LogHead) -> None:
        self._runtime = runtime
        self._gate = gate
        self._head = head

    async def messages(self, page: FeedPage) -> AsyncGenerator[str, None]:
        """Server-sent events from ``page`` on, reading the log again whenever the last page
        was not the end of it, or once the log has grown past it."""
        sent = page.after
        while True:
            for event in page.events:
                yield f"id: {event.position}\ndata: {json.dumps(event.model_dump(mode='json'))}\n\n"
            if page.next_after > sent:
                # An id alone sets the client's resume point without an event (other tenants').
                sent = page.next_after
                if not page.events or page.events[-1].position < sent:
                    yield f"id: {sent}\n\n"
            if page.caught_up:
                idle = 0
                while not await self._head.passed(page.next_after, POLL_SECONDS):
                    idle += 1
                    if idle % KEEPALIVE_POLLS == 0:
                        yield ": waiting for events\n\n"
            page = await to_thread.run_sync(
                _page, self._runtime, page.tenant, page.next_after, limiter=self._gate.readers
            )
