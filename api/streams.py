"""The API's live streams of the feed (server-sent events): how many are open, the log's head
they wait on, and the response that writes them.

Streams never cost ordinary requests their capacity. A stream is admitted within limits
(:class:`~ledger.service.settings.StreamSettings`: in all and per tenant, 503 beyond); it reads
the log in threads of its own (:attr:`StreamGate.readers`), never the worker threads that
serve requests; once it has sent everything it waits on one shared look at the log's head
(:class:`LogHead`: one read per poll whatever the number of streams waiting); and a write that
waits longer than the write timeout for a client that does not read closes the stream.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from dataclasses import dataclass, field
from weakref import WeakKeyDictionary

import anyio
from fastapi import Request
from starlette.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from ledger.domain.errors import LedgerBusy
from ledger.service.settings import StreamSettings

_log = logging.getLogger("ledger.api")

# Threads the streams read the log in, all streams together (each read is short: a page).
STREAM_READERS = 2


@dataclass
class StreamSlot:
    """One admitted stream's place, given back once (when its response ends)."""

    gate: StreamGate
    tenant: str
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.gate.closed(self.tenant)


@dataclass
class StreamGate:
    """The streams open, by tenant, within the settings' limits; one per application."""

    settings: StreamSettings = field(default_factory=StreamSettings)
    readers: anyio.CapacityLimiter = field(init=False)
    _open: Counter[str] = field(default_factory=Counter, init=False)
    _changed: threading.Condition = field(default_factory=threading.Condition, init=False)
    _heads: WeakKeyDictionary[asyncio.AbstractEventLoop, LogHead] = field(
        default_factory=WeakKeyDictionary, init=False
    )

    def __post_init__(self) -> None:
        self.readers = anyio.CapacityLimiter(STREAM_READERS)

    def admit(self, tenant: str) -> StreamSlot:
        """A place for a stream of ``tenant``, or LedgerBusy (503) when none is free."""
        limits = self.settings
        with self._changed:
            if sum(self._open.values()) >= limits.streams:
                raise LedgerBusy(
                    f"the ledger is serving {limits.streams} streams of the feed, the most it "
                    "serves at once: try again later, or read pages of the feed meanwhile"
                )
            if self._open[tenant] >= limits.per_tenant:
                raise LedgerBusy(
                    f"tenant {tenant!r} has {limits.per_tenant} streams of the feed open, the "
                    "most a tenant may: close one, or try again later"
                )
            self._open[tenant] += 1
            self._changed.notify_all()
        return StreamSlot(self, tenant)

    def closed(self, tenant: str) -> None:
        with self._changed:
            self._open[tenant] -= 1
            self._changed.notify_all()

    def open_streams(self, tenant: str | None = None) -> int:
        """How many streams are open (of one tenant, or in all)."""
        with self._changed:
            return self._open[tenant] if tenant is not None else sum(self._open.values())

    def wait_for(self, condition: Callable[[int], bool], timeout: float) -> bool:
        """Wait (from any thread) until the number of open streams meets ``condition``;
        whether it did within ``timeout`` seconds."""
        with self._changed:
            return self._changed.wait_for(
                lambda: condition(sum(self._open.values())), timeout=timeout
            )

    def head(self, read_head: Callable[[], int]) -> LogHead:
        """The log's head as this event loop's streams see it (asyncio locks belong to a
        loop; a server has one)."""
        loop = asyncio.get_running_loop()
        found = self._heads.get(loop)
        if found is None:
            found = self._heads[loop] = LogHead(read_head, self.readers)
        return found


class LogHead:
    """The newest position of the log, as the streams that have sent everything wait on it:
    looked at again at most once per poll, whichever stream asks, the others waiting for that
    look (so a thousand idle streams read the log's head once a poll, not a thousand times)."""

    def __init__(self, read_head: Callable[[], int], readers: anyio.CapacityLimiter) -> None:
        self._read_head = read_head
        self._readers = readers
        self._head = 0
        self._looks = 0
        self._due = 0.0
        self._lock = asyncio.Lock()

    async def passed(self, position: int, poll: float) -> bool:
        """Whether the log reaches past ``position``: at once when last seen so, else after
        the next look (waiting up to ``poll`` seconds for it)."""
        if self._head > position:
            return True
        seen = self._looks
        async with self._lock:
            if self._looks == seen:  # nobody looked while this stream waited: look now
                loop = asyncio.get_running_loop()
                delay = self._due - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                self._head = await anyio.to_thread.run_sync(self._read_head, limiter=self._readers)
                self._looks += 1
                self._due = loop.time() + poll
        return self._head > position


class EventStream(StreamingResponse):
    """Server-sent events, each write bounded in time: a client that does not read within
    ``write_timeout`` seconds has its stream closed (the server then closes the connection).
    The stream also ends as soon as the client disconnects, and gives back its place."""

    media_type = "text/event-stream"

    def __init__(
        self,
        content: AsyncGenerator[str, None],
        status_code: int = 200,
        *,
        slot: StreamSlot,
        write_timeout: float,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(content, status_code, headers=headers)
        self._events = content
        self._slot = slot
        self._write_timeout = write_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def stream() -> None:
                    await self._write(send)
                    group.cancel_scope.cancel()

                group.start_soon(stream)
                # Whatever the server's ASGI version, a client gone ends the stream now, not
                # at its next write (which may be a keep-alive many seconds away).
                await self.listen_for_disconnect(receive)
                group.cancel_scope.cancel()
        finally:
            self._slot.release()

    async def _write(self, send: Send) -> None:
        start: Message = {
            "type": "http.response.start",
            "status": self.status_code,
            "headers": self.raw_headers,
        }
        try:
            await self._send(send, start)
            async with aclosing(self._events) as events:
                async for text in events:
                    body = text.encode("utf-8")
                    await self._send(
                        send, {"type": "http.response.body", "body": body, "more_body": True}
                    )
            await self._send(send, {"type": "http.response.body", "body": b"", "more_body": False})
        except TimeoutError:
            _log.warning(
                "a stream of tenant %r was closed: its client read nothing for %g s",
                self._slot.tenant,
                self._write_timeout,
            )
        except OSError:
            pass  # the client went away (an ASGI 2.4 server says so on writing)

    async def _send(self, send: Send, message: Message) -> None:
        with anyio.fail_after(self._write_timeout):
            await send(message)


def stream_gate_of(request: Request) -> StreamGate:
    gate = request.app.state.stream_gate
    assert isinstance(gate, StreamGate)
    return gate
