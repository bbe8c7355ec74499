"""The parse runs ahead of the writer in a thread: the same items in the same batches and
order, the source's own error at the point it would have come, and nothing read once the
consumer has left."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.errors import LedgerError
from ledger.service.read_ahead import ReadAhead


@given(items=st.lists(st.integers(), max_size=60), batch=st.integers(1, 7), depth=st.integers(1, 3))
def test_every_item_arrives_once_in_order_in_batches(
    items: list[int], batch: int, depth: int
) -> None:
    with ReadAhead(items, batch=batch, depth=depth) as batches:
        received = list(batches)
    assert [item for b in received for item in b] == items
    assert all(len(b) == batch for b in received[:-1])
    assert all(received)


def test_the_sources_error_comes_after_the_items_before_it() -> None:
    def source() -> Iterator[int]:
        yield from range(5)
        raise LedgerError("line 6: not a decimal")

    seen: list[int] = []
    with pytest.raises(LedgerError, match="line 6: not a decimal"):  # noqa: PT012
        with ReadAhead(source(), batch=2) as batches:
            for b in batches:
                seen.extend(b)
    assert seen == [0, 1, 2, 3]  # the batch holding item 4 never completed


def test_leaving_early_stops_the_reading() -> None:
    produced: list[int] = []

    def source() -> Iterator[int]:
        for n in range(10_000):
            produced.append(n)
            yield n

    with ReadAhead(source(), batch=10, depth=1) as batches:
        first = next(batches)
    after = len(produced)
    assert first == list(range(10))
    # At most the batch taken, the one queued and the one being offered were read.
    assert after <= 40
    assert len(produced) == after  # and nothing more once the block was left
    assert not any(t.name == "ledger-read-ahead" for t in threading.enumerate())


def test_batches_and_depth_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ReadAhead([1], batch=0)
