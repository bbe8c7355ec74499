"""Reading ahead: a file's items parsed by a worker thread, a few batches ahead of the writer.

An ingestion alternates between parsing (Python) and waiting for the database to take a batch;
with the parse running ahead in a thread, each wait is spent parsing the next batch instead of
idling (the database call releases the interpreter while it waits). The queue between them is
bounded, so memory stays a few batches whatever the file's size.

Whatever the source raises is raised again, unchanged, to the consumer at the point it would
have been raised without the thread: after every batch before it, and never later. Leaving the
block stops the worker and waits for it, so nothing reads the source once the block is left.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")

# How long the worker waits on a full queue before checking whether the consumer has left.
_PATIENCE_SECONDS = 0.05


class _Failure:
    """What the source raised, carried to the consumer."""

    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


class ReadAhead(Generic[T]):
    """``with ReadAhead(items, batch=N) as batches: for batch in batches: ...``

    A batch holds ``batch`` items, or fewer once their ``weigh`` (e.g. the memory an item
    takes) reaches ``max_weight``: the queue then holds ``depth`` batches of bounded size,
    whatever the items."""

    def __init__(
        self,
        items: Iterable[T],
        *,
        batch: int,
        depth: int = 2,
        weigh: Callable[[T], int] | None = None,
        max_weight: int = 0,
    ) -> None:
        if batch < 1 or depth < 1:
            raise ValueError("batch and depth must be at least 1")
        self._items = items
        self._batch = batch
        self._weigh = weigh
        self._max_weight = max_weight
        self._queue: queue.Queue[list[T] | _Failure | None] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._produce, name="ledger-read-ahead", daemon=True)

    def __enter__(self) -> Iterator[list[T]]:
        self._worker.start()
        return self._consume()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._worker.join()

    def _consume(self) -> Iterator[list[T]]:
        while (entry := self._queue.get()) is not None:
            if isinstance(entry, _Failure):
                raise entry.error
            yield entry

    def _produce(self) -> None:
        weigh, most = self._weigh, self._max_weight
        try:
            batch: list[T] = []
            weight = 0
            for item in self._items:
                batch.append(item)
                if weigh is not None:
                    weight += weigh(item)
                if len(batch) >= self._batch or (weigh is not None and weight >= most):
                    if not self._offer(batch):
                        return
                    batch = []
                    weight = 0
            if batch and not self._offer(batch):
                return
        except BaseException as exc:  # carried to the consumer, raised there
            self._offer(_Failure(exc))
            return
        self._offer(None)

    def _offer(self, entry: list[T] | _Failure | None) -> bool:
        """Queue ``entry``; False once the consumer has left (nobody will take it)."""
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=_PATIENCE_SECONDS)
            except queue.Full:
                continue
            return True
        return False
