"""Which format a received file is in, decided by its content, never by its name.

Every module of :mod:`ledger.flows` that defines a module-level ``FORMAT`` (a
:class:`ledger.flows.canonical.Format`) takes part: adding a format is adding a module, and
touches no other. A file is decompressed when its bytes are gzip's, a UTF-8 byte-order mark and
leading white space (JSON allows any amount before a document, RFC 8259 section 2) are
skipped, and each format is shown the first :data:`HEAD_BYTES` from the first other byte:
exactly one may recognise it. The format still reads the whole content, white space
included. White space is looked past for at most :data:`MAX_LEADING_WHITE_SPACE` bytes,
streaming, so a file of nothing but spaces is never held in memory. A file none recognises is
not lost: the pipeline keeps it, raises it as not interpreted, and says what its first bytes
look like.
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

__all__ = [
    "HEAD_BYTES",
    "MAX_LEADING_WHITE_SPACE",
    "Detected",
    "detect",
    "formats",
    "looks_like",
    "measure_unit",
]

HEAD_BYTES = 4096
# No market file begins with more than a few blank lines; past this the file is not read on.
MAX_LEADING_WHITE_SPACE = 1 << 20
_BOM = b"\xef\xbb\xbf"
_WHITE_SPACE = b" \t\r\n"  # JSON's (RFC 8259 section 2), which covers blank lines
_CHUNK = 64 * 1024


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
    """A received file's content (decompressed) and the format that recognised it, if any.

    ``head`` is what the formats were shown: the first bytes after any byte-order mark and
    leading white space. ``nothing`` says why there is nothing to read (an empty file, only
    white space, or too much of it before the first character), else None."""

    def __init__(
        self, content: IO[bytes], head: bytes, format: Format | None, nothing: str | None = None
    ) -> None:
        self.content = content
        self.head = head
        self.format = format
        self.nothing = nothing


def detect(stream: IO[bytes], *, label: str = "file") -> Detected:
    """The file's content, ready to read from its first byte, and the format whose envelope
    it carries (None when no format recognises it, or there is nothing to read)."""
    content = readable(stream, label=label)
    taken = bytearray(content.read(HEAD_BYTES))
    start = len(_BOM) if taken.startswith(_BOM) else 0
    first = _past_white_space(content, taken, start)
    white = first - start
    if white > MAX_LEADING_WHITE_SPACE or first == len(taken):
        return Detected(rejoined(bytes(taken), content), b"", None, _nothing(white))
    while len(taken) < first + HEAD_BYTES and (
        more := content.read(first + HEAD_BYTES - len(taken))
    ):
        taken += more
    head = bytes(taken[first : first + HEAD_BYTES])
    matching = [f for f in formats() if f.recognises(head)]
    found = matching[0] if len(matching) == 1 else None
    return Detected(rejoined(bytes(taken), content), head, found)


def _past_white_space(content: IO[bytes], taken: bytearray, start: int) -> int:
    """Where the white space from ``start`` ends in ``taken``, reading on into it: at the
    first other byte, at the end of the file, or once more than
    :data:`MAX_LEADING_WHITE_SPACE` bytes of it were seen."""
    looked = start
    while True:
        rest = bytes(taken[looked:])
        looked += len(rest) - len(rest.lstrip(_WHITE_SPACE))
        if looked < len(taken) or looked - start > MAX_LEADING_WHITE_SPACE:
            return looked
        more = content.read(_CHUNK)
        if not more:
            return looked
        taken += more


def _nothing(white: int) -> str:
    """Why a file is not read: no byte but white space (``white`` of them), or too many."""
    if white > MAX_LEADING_WHITE_SPACE:
        return (
            f"the file begins with more than {MAX_LEADING_WHITE_SPACE:,} bytes of white space "
            "before its first character: it was not read further"
        )
    if not white:
        return "the file is empty: there is nothing to read in it"
    return f"the file holds only white space ({white:,} bytes): there is nothing to read in it"


def looks_like(head: bytes) -> str:
    """What the start of an unrecognised file looks like, in words an analyst can act on."""
    if not head.strip():
        return "it is empty"
    printable = sum(32 <= b < 127 or b in b"\r\n\t" for b in head[:512])
    if printable < len(head[:512]) * 0.9:
        return "it is not text (binary content)"
    first = head.splitlines()[0][:60].decode("ascii", "replace") if head.splitlines() else ""
    return f"its first line begins {first!r}, which is no envelope the ledger knows"
