"""Named settlement measures (money, energy, prices) as exact decimals.

Kept as their exact decimal text, so they travel through events and views without ever
passing through binary floating point, and without re-encoding each value one by one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal

from eventsourcing.persistence import Transcoding


class Measures(Mapping[str, Decimal]):
    """An immutable mapping of measure name (snake_case) to an exact ``Decimal``."""

    __slots__ = ("_text",)

    def __init__(self, values: Mapping[str, Decimal] | None = None) -> None:
        self._text: dict[str, str] = {k: str(v) for k, v in (values or {}).items()}

    @classmethod
    def from_text(cls, text: Mapping[str, str]) -> Measures:
        """Measures from their stored decimal text (as written by :meth:`as_text`)."""
        measures = cls()
        measures._text = dict(text)
        return measures

    def as_text(self) -> dict[str, str]:
        """Measure name to exact decimal text, in the order the measures were recorded."""
        return dict(self._text)

    def __getitem__(self, name: str) -> Decimal:
        return Decimal(self._text[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self._text)

    def __len__(self) -> int:
        return len(self._text)

    def __repr__(self) -> str:
        return f"Measures({self._text!r})"


class MeasuresAsText(Transcoding):
    """Stores measures as one JSON object of decimal strings."""

    type = Measures
    name = "measures"

    def encode(self, obj: Measures) -> dict[str, str]:
        return obj.as_text()

    def decode(self, data: dict[str, str]) -> Measures:
        return Measures.from_text(data)
