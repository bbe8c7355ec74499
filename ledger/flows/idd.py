"""The IDD pipe-file envelope (AAA header, ZZZ trailer, XOR checksum) and its field encoding.

Everything streams: a file is read one line at a time in constant memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import IO, NamedTuple

from ledger.domain.errors import LedgerError
from ledger.domain.plain_text import excerpt
from ledger.flows.canonical import Check

__all__ = [
    "ChecksumAccumulator",
    "EnvelopeError",
    "IddHeader",
    "IddReader",
    "IddRecord",
    "InvalidField",
    "envelope_checks",
    "format_decimal",
    "idd_checksum",
    "is_whole_number",
    "parse_decimal",
    "read_idd",
]

_BOM = b"\xef\xbb\xbf"
# Padding that brings a record to a whole number of 4-byte words, indexed by len(record) % 4.
_PADS = (b"", b"\0\0\0", b"\0\0", b"\0")
# Records are buffered and folded in blocks: one big-int fold per block is far cheaper than a
# Python-level loop over 4-byte words, and the block size bounds memory.
_FOLD_AT = 256 * 1024
_DECIMAL_CHARS = "0123456789.-"
# No IDD record comes near this; a longer line is refused before it can cost memory (a file of
# one gigabyte without a line end must not be read into one string).
MAX_LINE_BYTES = 64 * 1024
# Whole-number fields (counts, run numbers, periods) are short; a longer run of digits is
# refused before int() sees it (Python refuses to convert more than 4,300 digits).
MAX_WHOLE_NUMBER_DIGITS = 18


def is_whole_number(text: str) -> bool:
    """Digits only, and few enough to be a count, a run number or a period."""
    return text.isdigit() and len(text) <= MAX_WHOLE_NUMBER_DIGITS


class EnvelopeError(LedgerError, ValueError):
    """An IDD file's envelope is broken: header, trailer, record count, checksum or encoding."""


class InvalidField(LedgerError, ValueError):
    """A field does not follow the IDD field encoding (e.g. a malformed decimal)."""


@dataclass(frozen=True, slots=True)
class IddHeader:
    """The AAA header record of an IDD file."""

    file_type: str
    flow_id: str
    flow_version: str
    message_role: str
    creation_time: datetime
    from_role: str
    from_participant: str
    to_role: str
    to_participant: str
    sequence: str
    test_flag: str


class IddRecord(NamedTuple):
    """One record between the header and the trailer: line number, record type, fields."""

    position: int
    record_type: str
    fields: list[str]


def _xor_words(buf: bytes | bytearray) -> int:
    """XOR of the big-endian 32-bit words of ``buf`` (its length is a multiple of 4)."""
    words = len(buf) >> 2
    if not words:
        return 0
    value = int.from_bytes(buf, "big")
    # Treat the word count as the next power of two (leading zero words change nothing), then
    # fold the top half onto the bottom half until one word is left: log2(words) big-int steps.
    bits = 32 << (words - 1).bit_length()
    while bits > 32:
        bits >>= 1
        value = (value >> bits) ^ (value & ((1 << bits) - 1))
    return value


class ChecksumAccumulator:
    """Running IDD checksum: XOR of every record's 4-byte words, each record NUL-padded."""

    __slots__ = ("_buf", "_folded")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._folded = 0

    def add(self, record: bytes) -> None:
        """Add one record, without its line end (normally ending with ``|``)."""
        buf = self._buf
        buf += record
        buf += _PADS[len(record) & 3]
        if len(buf) > _FOLD_AT:
            self._folded ^= _xor_words(buf)
            buf.clear()

    @property
    def value(self) -> int:
        """The checksum of every record added so far (unsigned 32-bit)."""
        return self._folded ^ _xor_words(self._buf)


def idd_checksum(records: Iterable[bytes]) -> int:
    """The IDD checksum of records given without line ends (AAA up to, not including, ZZZ)."""
    acc = ChecksumAccumulator()
    for record in records:
        acc.add(record)
    return acc.value


def format_decimal(d: Decimal) -> str:
    """IDD decimal encoding: ``-`` for negatives, no exponent, no trailing zeros."""
    if not d.is_finite():
        raise InvalidField(f"{d} cannot be written to an IDD file")
    text = format(d, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def parse_decimal(text: str, what: str) -> Decimal:
    """Read an IDD decimal field; ``what`` names the field in the error message."""
    # Decimal() also accepts exponents, NaN, Infinity, '+', '_' and spaces; none of them is IDD.
    # strip() leaves something behind exactly when a character outside [0-9.-] is present.
    if not text.strip(_DECIMAL_CHARS):
        try:
            return Decimal(text)
        except InvalidOperation:
            pass
    raise InvalidField(f"{what} {excerpt(text)} is not a decimal number")


def _parse_creation_time(text: str, label: str) -> datetime:
    try:
        if len(text) != 14 or not text.isdigit():
            raise ValueError
        return datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=UTC)
    except ValueError:
        raise EnvelopeError(
            f"{label}: AAA header creation time {excerpt(text)} is not a valid YYYYMMDDHHMMSS time"
        ) from None


def _parse_header(fields: list[str], label: str) -> IddHeader:
    if len(fields) < 8:
        raise EnvelopeError(
            f"{label}: AAA header has {len(fields)} fields, expected at least 8 "
            "(file type, role, creation time, from role and participant, to role and "
            "participant, sequence)"
        )
    file_type = fields[0]
    if len(file_type) != 8 or not file_type[5:].isdigit():
        raise EnvelopeError(
            f"{label}: AAA header file type {excerpt(file_type)} is not a flow id and "
            "3-digit version"
        )
    return IddHeader(
        file_type=file_type,
        flow_id=file_type[:5],
        flow_version=file_type[5:],
        message_role=fields[1],
        creation_time=_parse_creation_time(fields[2], label),
        from_role=fields[3],
        from_participant=fields[4],
        to_role=fields[5],
        to_participant=fields[6],
        sequence=fields[7],
        test_flag=fields[8] if len(fields) > 8 else "",
    )


def _split(record: bytes, position: int, label: str) -> tuple[str, list[str]]:
    """Record type and fields of one record (slow path, used for the header only)."""
    try:
        text = record.decode("ascii")
    except UnicodeDecodeError as exc:
        raise EnvelopeError(f"{label}: {_not_ascii(position, exc)}") from None
    if not text.isprintable():
        raise EnvelopeError(f"{label}: line {position} has a {_not_printable(text)}")
    parts = text.split("|")
    return parts[0], parts[1:-1] if not parts[-1] else parts[1:]


def _check_length(line: bytes, position: int, label: str) -> None:
    if len(line) == MAX_LINE_BYTES and not line.endswith(b"\n"):
        raise EnvelopeError(
            f"{label}: line {position} is longer than {MAX_LINE_BYTES:,} bytes; no IDD record "
            "is that long (is this a settlement report?)"
        )


def _not_printable(text: str) -> str:
    column, char = next((i, c) for i, c in enumerate(text) if not c.isprintable())
    return f"control character 0x{ord(char):02X} at column {column + 1}"


def _not_ascii(position: int, exc: UnicodeDecodeError) -> str:
    byte = exc.object[exc.start]
    return f"line {position} is not ASCII (byte 0x{byte:02X} at column {exc.start + 1})"


class IddReader:
    """Reads an IDD pipe file: the AAA header eagerly, then the records as an iterator.

    The record count and checksum are verified only when the ZZZ trailer is reached, so a
    consumer writing records in a transaction must commit only after the iterator is exhausted
    without an error (and roll back on :class:`EnvelopeError`).
    """

    def __init__(self, stream: IO[bytes], *, flow_label: str = "file") -> None:
        self.flow_label = flow_label
        self._stream = stream
        self._started = False
        self.record_count: int | None = None
        """Records in the file including AAA and ZZZ, set once the trailer has been verified."""
        self.checksum: int | None = None
        """The verified checksum, set once the trailer has been verified."""
        first = stream.readline(MAX_LINE_BYTES)
        _check_length(first, 1, flow_label)
        if not first.strip():
            if not first and not stream.read(1):
                raise EnvelopeError(f"{flow_label}: the file is empty")
            raise EnvelopeError(f"{flow_label}: line 1 is blank, expected the AAA header")
        if first.startswith(_BOM):
            first = first[3:]
        self._aaa = first.rstrip(b"\r\n")
        record_type, fields = _split(self._aaa, 1, flow_label)
        if record_type != "AAA":
            raise EnvelopeError(
                f"{flow_label}: first record is {excerpt(record_type)}, expected the AAA header"
            )
        self.header = _parse_header(fields, flow_label)

    def __iter__(self) -> Iterator[IddRecord]:
        if self._started:
            raise RuntimeError("an IDD file can be read only once")
        self._started = True
        return self._records()

    def _fail(self, message: str) -> EnvelopeError:
        return EnvelopeError(f"{self.flow_label}: {message}")

    def _records(self) -> Iterator[IddRecord]:
        # The hot loop: everything is a local, one decode and one split per record, and the
        # checksum is a bytearray append with a big-int fold every _FOLD_AT bytes.
        buf = bytearray(self._aaa)
        buf += _PADS[len(self._aaa) & 3]
        folded = 0
        position = 1
        record = IddRecord
        pads = _PADS
        fold_at = _FOLD_AT
        readline = self._stream.readline
        limit = MAX_LINE_BYTES
        while line := readline(limit):
            position += 1
            if len(line) == limit:
                _check_length(line, position, self.flow_label)
            rec = line.rstrip(b"\r\n")
            try:
                text = rec.decode("ascii")
            except UnicodeDecodeError as exc:
                raise self._fail(_not_ascii(position, exc)) from None
            if not text.isprintable():
                raise self._fail(f"line {position} has a {_not_printable(text)}")
            parts = text.split("|")
            record_type = parts[0]
            if record_type == "ZZZ":
                self._trailer(parts, position, folded ^ _xor_words(buf))
                return
            if not record_type or record_type == "AAA":
                if not rec.strip():
                    raise self._fail(f"line {position} is blank")
                if record_type == "AAA":
                    raise self._fail(f"line {position} is a second AAA header")
                raise self._fail(f"line {position} has no record type")
            buf += rec
            buf += pads[len(rec) & 3]
            if len(buf) > fold_at:
                folded ^= _xor_words(buf)
                buf.clear()
            yield record(position, record_type, parts[1:-1] if not parts[-1] else parts[1:])
        raise self._fail(f"file ends after line {position} without a ZZZ trailer (truncated)")

    def _trailer(self, parts: list[str], position: int, checksum: int) -> None:
        fields = parts[1:-1] if not parts[-1] else parts[1:]
        if len(fields) < 2 or not is_whole_number(fields[0]) or not is_whole_number(fields[1]):
            raise self._fail(
                f"ZZZ trailer on line {position} must carry a record count and a checksum, "
                f"found {excerpt('|'.join(fields))}"
            )
        expected_count, expected_checksum = int(fields[0]), int(fields[1])
        if expected_count != position:
            raise self._fail(
                f"record count in trailer is {expected_count} but the file has {position} records"
            )
        if expected_checksum != checksum:
            raise self._fail(
                f"checksum mismatch: trailer says {expected_checksum}, records give {checksum} "
                "(the file was altered or truncated in transit)"
            )
        while line := self._stream.readline(MAX_LINE_BYTES):
            position += 1
            if line.strip():
                raise self._fail(f"records after the ZZZ trailer (line {position})")
        self.record_count = expected_count
        self.checksum = checksum


def envelope_checks(reader: IddReader) -> list[Check]:
    """What reading an IDD file checked of its envelope, once its trailer was read."""
    count, checksum = reader.record_count, reader.checksum
    if count is None or checksum is None:
        raise RuntimeError("the envelope is checked only once the records have been read")
    header = reader.header
    return [
        Check(
            "envelope",
            "passed",
            f"AAA header ({header.file_type} from {header.from_role} "
            f"{header.from_participant}, created {header.creation_time:%Y-%m-%dT%H:%M:%SZ}) "
            "first, ZZZ trailer last, every record ASCII text",
        ),
        Check("record count", "passed", f"{count:,} records with AAA and ZZZ, as the trailer says"),
        Check("checksum", "passed", f"the records' XOR checksum is the trailer's, {checksum}"),
    ]


def read_idd(stream: IO[bytes], *, flow_label: str = "file") -> Iterator[IddRecord]:
    """Yield every record between the AAA header and the ZZZ trailer of an IDD file.

    The count and checksum are verified at the end: commit only once the iterator is exhausted
    without an :class:`EnvelopeError`. Use :class:`IddReader` to see the header as well.
    """
    yield from IddReader(stream, flow_label=flow_label)
