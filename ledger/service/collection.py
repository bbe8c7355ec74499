"""Python's cycle collector, paused while a file's items are written.

A market-size file makes millions of objects that each live for one batch (items, events,
rows): enough to set off a full collection every few batches, and each full collection scans
every object alive. For an all-parties S0142 that was 56 full collections and 7.5 s of the
ingesting process's 15 s of CPU, in a process whose pace that CPU sets. Nothing the
ingestion makes refers to itself (every object is freed by its reference count: a test
checks that a file leaves nothing for the collector), so pausing the collector while a file
is written frees no less memory, and memory stays flat.

The collector is one per process: ingestions running at once (the API's threads) share one
pause, and it ends with the last of them; a collector already disabled stays disabled.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager


class _Pause:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._resume = False

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            if self._holders == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._holders += 1
        try:
            yield
        finally:
            with self._lock:
                self._holders -= 1
                if self._holders == 0 and self._resume:
                    gc.enable()


_PAUSE = _Pause()


def collection_paused() -> AbstractContextManager[None]:
    """``with collection_paused():`` the cycle collector does not run (see the module)."""
    return _PAUSE.held()
