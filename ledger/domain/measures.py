"""Named settlement measures (money, energy, prices) as exact decimals.

Kept as their exact decimal text, so they travel through events and views without ever
passing through binary floating point, and without re-encoding each value one by one.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from decimal import Decimal

from eventsourcing.persistence import Transcoding


class Measures(Mapping[str, Decimal]):
    """An immutable mapping of measure name (snake_case) to an exact ``Decimal``."""

    # Either the text or the JSON is always there; each is made from the other when first
    # needed, and the digest when first asked for.
    __slots__ = ("_digest", "_json", "_text")

    def __init__(self, values: Mapping[str, Decimal] | None = None) -> None:
        self._text: dict[str, str] | None = {k: str(v) for k, v in (values or {}).items()}
        self._json: str | None = None
        self._digest: str | None = None

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
        measures._digest = None
        return measures

    @classmethod
    def from_json(cls, text: str, digest: str | None = None) -> Measures:
        """Measures from the JSON :meth:`as_json` wrote (and its :meth:`digest`, when known),
        read only when a value is asked for: measures handed over whole, from a parse in
        another process to the events and views that only copy them, are never decoded."""
        measures = cls.__new__(cls)
        measures._text = None
        measures._json = text
        measures._digest = digest
        return measures

    def _texts(self) -> dict[str, str]:
        text = self._text
        if text is None:
            assert self._json is not None
            text = self._text = json.loads(self._json)
        return text

    def as_text(self) -> dict[str, str]:
        """Measure name to exact decimal text, in the order the measures were recorded."""
        return dict(self._texts())

    def digest(self) -> str:
        """What identifies these values whatever their order: a hash of each measure's name
        and exact text, sorted by name (see :func:`ledger.domain.aggregates.values_digest`)."""
        if self._digest is None:
            texts = self._texts()
            text = "\n".join([f"{name}={texts[name]}" for name in sorted(texts)])
            self._digest = hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
        return self._digest

    def as_json(self) -> str:
        """The measures as one JSON object of decimal strings (compact, in their order).

        Written directly when every name is a plain ASCII identifier (every IDD field name
        is): a decimal's text needs no escaping, so this is exactly what ``json`` would write,
        at a fraction of the cost, for the hundreds of thousands of periods of one file.
        Written once: the event and the views it feeds share it (measures never change).
        """
        if self._json is None:
            text = self._texts()
            if text.keys() <= _PLAIN_NAMES or all(map(_plain, text)):
                pairs = [f'"{name}":"{value}"' for name, value in text.items()]
                self._json = "{" + ",".join(pairs) + "}"
            else:
                self._json = _COMPACT(text)
        return self._json

    def __getitem__(self, name: str) -> Decimal:
        return Decimal(self._texts()[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self._texts())

    def __len__(self) -> int:
        return len(self._texts())

    def __repr__(self) -> str:
        return f"Measures({self._texts()!r})"


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
