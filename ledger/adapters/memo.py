"""Encodings of small mappings that repeat across a file's periods, computed once each.

A BM Unit's attributes (its lead party, its trading unit) are the same in all 48 of its periods,
and 7,650 BM Units make 367,200 encodings of a few thousand distinct mappings: encoding each
distinct one once saves most of that. Bounded, so an unusual file cannot grow it without limit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Generic, TypeVar

R = TypeVar("R")

_LIMIT = 50_000


class MappingMemo(Generic[R]):
    """``encode(mapping)``, remembered by the mapping's items (their order included)."""

    __slots__ = ("_done", "_encode")

    def __init__(self, encode: Callable[[Mapping[str, str]], R]) -> None:
        self._encode = encode
        self._done: dict[tuple[tuple[str, str], ...], R] = {}

    def __call__(self, mapping: Mapping[str, str]) -> R:
        key = tuple(mapping.items())
        found = self._done.get(key)
        if found is None:
            if len(self._done) >= _LIMIT:
                self._done.clear()
            found = self._done[key] = self._encode(mapping)
        return found
