"""Named settlement measures (money, energy, prices) as exact decimals.

Kept as their exact decimal text, so they travel through events and views without ever
passing through binary floating point, and without re-encoding each value one by one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from decimal import Decimal

from eventsourcing.persistence import Transcoding


class Measures(Mapping[str, Decimal]):
    """An immutable mapping of measure name (snake_case) to an exact ``Decimal``."""

    __slots__ = ("_json", "_text")

    def __init__(self, values: Mapping[str, Decimal] | None = None) -> None:
        self._text: dict[str, str] = {k: str(v) for k, v in (values or {}).items()}
        self._json: str | None = None

    @classmethod
    def of(cls, values: Mapping[str, Decimal]) -> Measures:
        """``values`` as measures (themselves, when they already are)."""
        return values if isinstance(values, Measures) else cls(values)

    @classmethod
    def from_text(cls, text: Mapping[str, str]) -> Measures:
        """Measures from their stored decimal text (as written by :meth:`as_text`)."""
        measures = cls.__new__(cls)
        measures._text = dict(text)
        measures._json = None
        return measures

    def as_text(self) -> dict[str, str]:
        """Measure name to exact decimal text, in the order the measures were recorded."""
        return dict(self._text)

    def as_json(self) -> str:
        """The measures as one JSON object of decimal strings (compact, in their order).

        Written directly when every name is a plain ASCII identifier (every IDD field name
        is): a decimal's text needs no escaping, so this is exactly what ``json`` would write,
        at a fraction of the cost, for the hundreds of thousands of periods of one file.
        Written once: the event and the views it feeds share it (measures never change).
        """
        if self._json is None:
            text = self._text
            if text.keys() <= _PLAIN_NAMES or all(map(_plain, text)):
                pairs = [f'"{name}":"{value}"' for name, value in text.items()]
                self._json = "{" + ",".join(pairs) + "}"
            else:
                self._json = _COMPACT(text)
        return self._json

    def __getitem__(self, name: str) -> Decimal:
        return Decimal(self._text[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self._text)

    def __len__(self) -> int:
        return len(self._text)

    def __repr__(self) -> str:
        return f"Measures({self._text!r})"


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
# Names already seen to need no JSON escaping (the layouts' few hundred field names), so the
# check is one set comparison per period; bounded, as names in corrections come from people.
_PLAIN_NAMES: set[str] = set()
_PLAIN_NAMES_LIMIT = 10_000


def _plain(name: str) -> bool:
    """A plain ASCII identifier: written in JSON as it is."""
    if not (name.isidentifier() and name.isascii()):
        return False
    if len(_PLAIN_NAMES) < _PLAIN_NAMES_LIMIT:
        _PLAIN_NAMES.add(name)
    return True


class MeasuresAsText(Transcoding):
    """Stores measures as one JSON object of decimal strings."""

    type = Measures
    name = "measures"

    def encode(self, obj: Measures) -> dict[str, str]:
        return obj.as_text()

    def decode(self, data: dict[str, str]) -> Measures:
        return Measures.from_text(data)
