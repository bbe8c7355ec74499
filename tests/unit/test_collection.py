"""The cycle collector's pause: shared by ingestions at once, ended by the last, and never
turning on a collector someone else turned off."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from ledger.service.collection import collection_paused


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def test_the_collector_is_paused_inside_and_resumed_after() -> None:
    gc.enable()
    with collection_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_the_collector_resumes_after_a_failure() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), collection_paused():
        raise RuntimeError("the file was refused")
    assert gc.isenabled()


def test_overlapping_pauses_end_with_the_last() -> None:
    gc.enable()
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with collection_paused():
            first_in.set()
            second_in.wait()
        first_out.set()

    worker = threading.Thread(target=first)
    worker.start()
    first_in.wait()
    with collection_paused():
        second_in.set()
        first_out.wait()
        seen.append(gc.isenabled())  # the first has ended, this one has not
    worker.join()
    assert seen == [False]
    assert gc.isenabled()


def test_a_collector_turned_off_by_someone_else_stays_off() -> None:
    gc.disable()
    with collection_paused():
        pass
    assert not gc.isenabled()
