"""Which format a received file is in, decided by its content, never by its name.

Every module of :mod:`ledger.flows` that defines a module-level ``FORMAT`` (a
:class:`ledger.flows.canonical.Format`) takes part: adding a format is adding a module, and
touches no other. A file is decompressed when its bytes are gzip's, a UTF-8 byte-order mark is
skipped, and each format is shown the first :data:`HEAD_BYTES` of what remains: exactly one may
recognise it. A file none recognises is not lost: the pipeline keeps it, raises it as not
interpreted, and says what its first bytes look like.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from functools import lru_cache
from types import MappingProxyType
from typing import IO

from ledger.flows.canonical import Format
from ledger.flows.compression import readable, rejoined

__all__ = ["HEAD_BYTES", "Detected", "detect", "formats", "looks_like", "measure_unit"]

HEAD_BYTES = 4096
_BOM = b"\xef\xbb\xbf"


@lru_cache(maxsize=1)
def formats() -> tuple[Format, ...]:
    """Every format the ledger reads, in module name order."""
    import ledger.flows as package

    found: list[Format] = []
    for module in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        loaded = importlib.import_module(f"{package.__name__}.{module.name}")
        candidate = getattr(loaded, "FORMAT", None)
        if candidate is not None:
            found.append(candidate)
    return tuple(found)


@lru_cache(maxsize=1)
def _measure_units() -> Mapping[str, str]:
    units: dict[str, str] = {}
    for format in formats():
        for measure, unit in format.units.items():
            known = units.setdefault(measure, unit)
            if known != unit:
                raise ValueError(
                    f"measure {measure} is {known} in one format, {unit} in {format.name}"
                )
    return MappingProxyType(units)


def measure_unit(measure: str) -> str | None:
    """The unit of a measure (GBP, MWh, GBP/MWh, factor, kWh, ...) as the formats that record
    it give it; None when none does (the ledger then knows no unit for it)."""
    return _measure_units().get(measure)


class Detected:
    """A received file's content (decompressed) and the format that recognised it, if any."""

    def __init__(self, content: IO[bytes], head: bytes, format: Format | None) -> None:
        self.content = content
        self.head = head
        self.format = format


def detect(stream: IO[bytes], *, label: str = "file") -> Detected:
    """The file's content, ready to read from its first byte, and the format whose envelope
    it carries (None when no format recognises it)."""
    content = readable(stream, label=label)
    head = content.read(HEAD_BYTES)
    content = rejoined(head, content)
    if head.startswith(_BOM):
        head = head[len(_BOM) :]
    matching = [f for f in formats() if f.recognises(head)]
    return Detected(content, head, matching[0] if len(matching) == 1 else None)


def looks_like(head: bytes) -> str:
    """What the start of an unrecognised file looks like, in words an analyst can act on."""
    if not head.strip():
        return "it is empty"
    printable = sum(32 <= b < 127 or b in b"\r\n\t" for b in head[:512])
    if printable < len(head[:512]) * 0.9:
        return "it is not text (binary content)"
    first = head.splitlines()[0][:60].decode("ascii", "replace") if head.splitlines() else ""
    return f"its first line begins {first!r}, which is no envelope the ledger knows"
