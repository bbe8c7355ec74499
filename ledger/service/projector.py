"""``ledger project``: a process that keeps every view current, woken by each append.

Commands that write already bring the views up to date before they return, so this process
is never needed for a query to see what a command wrote. It catches up whatever nobody else
did (a writer that crashed after committing, a writer run with its views left behind, a view
rebuilt or added by an upgrade), so queries never do the catching up themselves. On PostgreSQL
it listens for the library's notification of every append; on SQLite, which notifies nobody,
it polls. Either way it also looks at least every ``poll`` seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ledger.adapters.event_store import EventStore
from projections.runner import ProjectionRunner

# How long the process waits for a notification before it looks anyway (and, on SQLite, how
# often it polls).
DEFAULT_POLL_SECONDS = 1.0


def keep_views_current(
    runner: ProjectionRunner,
    event_store: EventStore,
    *,
    stop: threading.Event,
    poll: float = DEFAULT_POLL_SECONDS,
    applied: Callable[[int], None] = lambda _: None,
) -> None:
    """Catch the views up, then again after every append (or ``poll`` seconds), until
    ``stop`` is set. ``applied(n)`` is told of each catch-up that read ``n`` events."""
    if poll <= 0:
        raise ValueError("poll must be a positive number of seconds")
    # Listening starts before the first catch-up: an append committed in between still wakes it.
    with event_store.appends() as appends:
        while not stop.is_set():
            count = runner.catch_up()
            if count:
                applied(count)
            appends.wait(poll)
