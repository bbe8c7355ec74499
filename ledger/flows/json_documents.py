"""JSON documents as the market's web services deliver them (Elexon Insights pages, MHHS DIP
messages): bounded in size, UTF-8, numbers read as exact decimals, never as floats.

RFC 8259 JSON is UTF-8; a UTF-8 byte-order mark, which some tools write, is skipped. Every
number is read as a :class:`~decimal.Decimal` (integers too, so that no digit count can make
``int()`` refuse it), ``NaN`` and ``Infinity`` (which Python's reader accepts but JSON does not)
are refused, and an object that names a key twice is refused: which of the two values counts
would otherwise depend on the reader. A number written as an integer (RFC 8259 section 6: no
fraction, no exponent) is a :class:`JsonInteger`, so that a field that must be a whole number
can refuse ``1.0`` and ``1e0`` alike, whose decimals cannot tell them from ``1``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO, Any

from ledger.domain.errors import LedgerError
from ledger.domain.plain_text import excerpt
from ledger.domain.settlement_time import parse_as_of

__all__ = [
    "MAX_JSON_BYTES",
    "JsonDocumentError",
    "JsonInteger",
    "dump_json",
    "json_kind",
    "load_json",
    "read_instant",
    "starts_as_json",
]

# A day of system prices is about 45 kB and a DIP message a few kB; a page of three months of
# prices stays far below this. A larger document is refused before it is parsed, so that no
# upload can make the reader hold gigabytes.
MAX_JSON_BYTES = 4 * 1024 * 1024
_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"


class JsonDocumentError(LedgerError, ValueError):
    """A JSON document cannot be read: too large, not UTF-8, not JSON, or ambiguous."""


class JsonInteger(Decimal):
    """A JSON number written as an integer (digits only, no fraction or exponent)."""

    __slots__ = ()


def starts_as_json(head: bytes) -> bool:
    """Whether the start of a file (byte-order mark removed) opens a JSON object or array."""
    return head.lstrip(_WHITESPACE)[:1] in (b"{", b"[")


def json_kind(value: object) -> str:
    """What a JSON value is, in words (for messages): ``a text``, ``a number``, ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return f"the number {excerpt(str(value))}"
    if isinstance(value, str):
        return f"the text {excerpt(value)}"
    if isinstance(value, list):
        return "a list"
    return "an object"


def read_instant(value: object) -> datetime | None:
    """A JSON text that is an ISO 8601 date and time with its time zone (``Z`` or an offset),
    as a UTC instant; None when it is anything else, names a day that does not exist, or lies
    outside the instants the ledger answers for (2000 to 2199)."""
    if not isinstance(value, str):
        return None
    try:
        return parse_as_of(value).astimezone(UTC)
    except LedgerError:
        return None


def dump_json(value: object) -> str:
    """A value read by :func:`load_json` written back as compact JSON, numbers exactly as
    decimals (kept evidence of fields the ledger does not interpret)."""
    try:
        return _dump(value)
    except RecursionError:
        return '"(nested too deeply to keep here; see the stored file)"'


def _dump(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)  # exact, and valid JSON (an exponent where the decimal has one)
    if isinstance(value, list):
        return "[" + ",".join(_dump(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{_dump(v)}" for k, v in value.items()) + "}"
    return json.dumps(value)


def load_json(stream: IO[bytes], *, label: str, max_bytes: int = MAX_JSON_BYTES) -> Any:
    """The JSON value of a whole document; ``label`` names the document in error messages."""
    data = stream.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise JsonDocumentError(
            f"{label} is larger than {max_bytes // (1024 * 1024)} MiB, far beyond any such "
            "document; it was not read (split the download into smaller pages)"
        )
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    if not data.strip(_WHITESPACE):
        raise JsonDocumentError(f"{label} is empty; there is nothing to read")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonDocumentError(
            f"{label}: byte {exc.start + 1} (0x{data[exc.start]:02X}) is not UTF-8 text, which "
            "JSON must be; the file is damaged or is not JSON"
        ) from None
    try:
        return json.loads(
            text,
            parse_float=Decimal,
            parse_int=JsonInteger,
            parse_constant=_refuse_constant(label),
            object_pairs_hook=_object_without_repeated_keys(label),
        )
    except json.JSONDecodeError as exc:
        raise JsonDocumentError(_decode_error(label, text, exc)) from None
    except RecursionError:
        raise JsonDocumentError(
            f"{label} nests lists or objects too deeply to be a market document; it was not read"
        ) from None


def _decode_error(label: str, text: str, exc: json.JSONDecodeError) -> str:
    # Only the end of the text leaves a string open or a value unfinished.
    if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
        return (
            f"{label} ends before its JSON does (line {exc.lineno}): the file was cut short "
            "(truncated in transit); fetch or send the whole document again"
        )
    return f"{label} is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"


def _refuse_constant(label: str) -> Callable[[str], Any]:
    def refuse(name: str) -> Any:
        raise JsonDocumentError(
            f"{label} writes {name}, which is not a number JSON allows; the document is refused"
        )

    return refuse


def _object_without_repeated_keys(label: str) -> Callable[[list[tuple[str, Any]]], dict[str, Any]]:
    def build(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        found = dict(pairs)
        if len(found) != len(pairs):
            raise JsonDocumentError(
                f"{label} names {excerpt(_first_repeated(pairs))} twice in one object; which "
                "value counts would be a guess, so the document is refused"
            )
        return found

    return build


def _first_repeated(pairs: list[tuple[str, Any]]) -> str:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            return key
        seen.add(key)
    raise AssertionError("no repeated key")
