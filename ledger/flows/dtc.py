"""DTC (Data Transfer Catalogue) flows: the ``ZHV``/``ZPT`` envelope of every D-flow, with
D0036 (validated half-hourly advances) and D0010 (meter readings) read into canonical records.

Where the layouts come from (public evidence; no part of the DTC itself was available):

- **Envelope.** ``ZHV|file id|flow and version|from role|from participant|to role|to
  participant|created|||...|test flag|`` and ``ZPT|file id|record count|checksum|group
  count|completed|``, as a public DTC staging walkthrough parses them field by field (its
  "KT Step 1 - MAVIS DTC File Processing" document; the search index that holds it does not
  name its repository) and as the widely shared D0010 sample shows them
  (mxcode1/kraken_d0010_project, ``sample_data/example_d0010 copy.uff``). The record count
  excludes ZHV and ZPT: the sample has 35 records between them and says 35.
- **Groups.** The group count is the number of top-level groups: the walkthrough checks it
  against the number of ``026`` parent groups of a D0010, the sample says 11 for its eleven
  ``026`` groups, and a public D0036 builder (a TypeScript D-flow generator, also unnamed by
  the index) writes the number of ``101`` groups. For a flow the ledger does not interpret its
  top-level record is not known: the first record type of the body is taken as the group
  record, and a count that disagrees is a warning, never a rejection.
- **Checksum.** Every public sample leaves it blank (one writes the record count there); no
  public description of its algorithm was found. A checksum present is therefore recorded as
  unverified in a warning, never a reason to reject the file.
- **D0036** (from the D0036 builder's field mapping; DOMAIN.md's example matches it): per
  MPAN and measurement quantity a ``101|MPAN core|measurement quantity|supplier|``, then per
  settlement date ``102|YYYYMMDD|`` and one ``103|actual or estimated|kWh|`` per period, in
  period order. Measurement quantities AI, AE (active import and export, kWh) and RI, RE
  (reactive, kVArh); the builder also lists UN (unassigned), which the ledger refuses, having
  no unit for it. The indicator is A (actual) or E (estimated); the builder also names C
  ("long day/short day"), whose meaning is not confirmed: refused with a message saying so.
  The builder writes 48 ``103`` per date and no evidence shows a clock-change day: more
  records than the day has periods (46, 48 or 50) are refused, fewer are read as periods 1 to
  n in order with a warning. Where the evidence and DOMAIN.md differ: DOMAIN.md shows one
  ``101`` per file; the evidence has one ``101`` per MPAN and quantity, several ``102`` under
  it, and a group count of ``101`` records.
- **D0010** (sample and walkthrough): ``026|MPAN core|BSC validation status|``, ``028|meter
  serial|reading type|``, ``030|register|YYYYMMDDHHMMSS|reading|MD reset time|MD resets|
  reading flag|reading method|``. Other records (the walkthrough names ``032`` and ``033``
  under ``030``) are kept, with their line, as unplaced records.
- **Times** are UK clock time (the sample's reader localises them to Europe/London); the
  ledger holds them as UTC instants. The evidence is thin here.

Versions follow :mod:`ledger.flows.record_layouts`: a version the ledger knows is read with its
layout; a newer one with the nearest known version below it and a warning; an older one than
every known version is refused. Every other flow (D0150, D0086, ...) is recognised, its
envelope checked, and kept without interpretation.

Everything streams: one line at a time, in time linear in the file. D0036 holds one MPAN's
days until its next MPAN (to merge import and export into one item per period) and remembers
each MPAN-day it has seen (a few dozen bytes each) to refuse one given twice.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import IO, NamedTuple

from ledger.domain.errors import LedgerError
from ledger.domain.identifiers import mpan_core
from ledger.domain.measures import Measures
from ledger.domain.plain_text import excerpt
from ledger.domain.runs import RunType, noted_after_arrival, refused_after_arrival
from ledger.domain.settlement_time import LONDON, check_settlement_date, periods_in_day
from ledger.flows.canonical import (
    Check,
    FileDescription,
    Item,
    KeptRecords,
    MeterReading,
    PeriodValues,
    ReadLimits,
    ReportsWarnings,
    Run,
    Stated,
    UnplacedRecord,
    Warnings,
    instant_number,
    not_applicable,
)
from ledger.flows.compression import readable

__all__ = [
    "FORMAT",
    "KNOWN_VERSIONS",
    "MEASUREMENT_QUANTITIES",
    "DtcError",
    "DtcFile",
    "DtcHeader",
    "read_dtc",
]

# The layouts the ledger reads, by flow: the versions it has, lowest first.
KNOWN_VERSIONS: dict[str, tuple[str, ...]] = {"D0036": ("001",), "D0010": ("002",)}
# The record that opens a top-level group (what the ZPT's group count counts).
GROUP_RECORDS = {"D0036": "101", "D0010": "026"}
# D0036 measurement quantities and the names of their values.
MEASUREMENT_QUANTITIES = {
    "AI": "active_import_kwh",
    "AE": "active_export_kwh",
    "RI": "reactive_import_kvarh",
    "RE": "reactive_export_kvarh",
}
INDICATORS = {"A": RunType.ACT, "E": RunType.EST}

MAX_LINE_BYTES = 64 * 1024
_BOM = b"\xef\xbb\xbf"
_FILE_TYPE = re.compile(r"([A-Z][0-9]{4})([0-9]{3})")
# A plain decimal: the DTC writes e.g. 9.8 (NUM(7,1)); a little wider is read, never exponents.
_DECIMAL = re.compile(r"-?[0-9]{1,12}(?:\.[0-9]{1,6})?")
_DECIMAL_RULE = (
    "digits with an optional '-' and decimal point, at most 12 digits before it and 6 after"
)
_WHOLE = re.compile(r"[0-9]{1,12}")
_EARLIEST_YEAR, _LATEST_YEAR = 1970, 2099


class DtcError(LedgerError, ValueError):
    """A DTC file cannot be accepted; the message says which flow, line and what is wrong."""


@dataclass(frozen=True, slots=True)
class DtcHeader:
    """The ZHV header of a DTC file."""

    file_id: str
    file_type: str  # flow and version, e.g. D0036001
    flow: str
    flow_version: str
    from_role: str
    from_participant: str
    to_role: str
    to_participant: str
    creation_time: datetime  # UTC
    test_flag: str

    @property
    def sender(self) -> str:
        """The sending market participant and its role, e.g. ``SSIL (role C)``."""
        return f"{self.from_participant} (role {self.from_role})"


class DtcRecord(NamedTuple):
    """One record between ZHV and ZPT: line number, record type, fields."""

    position: int
    record_type: str
    fields: list[str]


# --- Field encoding ---------------------------------------------------------------------


def _fields(text: str) -> tuple[str, list[str]]:
    parts = text.split("|")
    return parts[0], parts[1:-1] if len(parts) > 1 and not parts[-1] else parts[1:]


def dtc_instant(text: str) -> datetime | None:
    """A DTC date and time (``YYYYMMDDHHMMSS``, UK clock time) as a UTC instant; None when
    it is not one (or lies outside 1970-2099)."""
    if len(text) != 14 or not (text.isascii() and text.isdigit()):
        return None
    try:
        local = datetime.strptime(text, "%Y%m%d%H%M%S")
    except ValueError:
        return None
    if not _EARLIEST_YEAR <= local.year <= _LATEST_YEAR:
        return None
    return local.replace(tzinfo=LONDON).astimezone(UTC)


def dtc_date(text: str) -> date | None:
    """A DTC date (``YYYYMMDD``); None when it is not a date that exists."""
    if len(text) != 8 or not (text.isascii() and text.isdigit()):
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        return None


def is_plain_decimal(text: str) -> bool:
    """Whether ``text`` is a decimal as the DTC writes one (see :data:`_DECIMAL`)."""
    return _DECIMAL.fullmatch(text) is not None


# --- The envelope -----------------------------------------------------------------------


def _decoded(raw: bytes, position: int, fail: Callable[[str], DtcError]) -> str:
    if len(raw) >= MAX_LINE_BYTES and not raw.endswith(b"\n"):
        raise fail(
            f"line {position} is longer than {MAX_LINE_BYTES:,} bytes; no DTC record is "
            "that long (is this a DTC file?)"
        )
    line = raw.rstrip(b"\r\n")
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError as exc:
        byte = exc.object[exc.start]
        raise fail(
            f"line {position} is not ASCII (byte 0x{byte:02X} at column {exc.start + 1})"
        ) from None
    if not text.isprintable():
        column, char = next((i, c) for i, c in enumerate(text) if not c.isprintable())
        raise fail(
            f"line {position} has a control character 0x{ord(char):02X} at column {column + 1}"
        )
    return text


def _parse_header(fields: list[str], fail: Callable[[str], DtcError]) -> DtcHeader:
    if len(fields) < 7:
        raise fail(
            f"the ZHV header has {len(fields)} fields, expected at least 7 (file id, flow "
            "and version, from role and participant, to role and participant, creation time)"
        )
    file_type = fields[1]
    match = _FILE_TYPE.fullmatch(file_type)
    if match is None:
        raise fail(
            f"the ZHV header's flow {excerpt(file_type)} is not a flow id and 3-digit version "
            "(e.g. D0036001)"
        )
    if not fields[0].strip():
        raise fail("the ZHV header names no file id")
    created = dtc_instant(fields[6])
    if created is None:
        raise fail(
            f"the ZHV header's creation time {excerpt(fields[6])} is not a valid "
            "YYYYMMDDHHMMSS time"
        )
    return DtcHeader(
        file_id=fields[0],
        file_type=file_type,
        flow=match.group(1),
        flow_version=match.group(2),
        from_role=fields[2],
        from_participant=fields[3],
        to_role=fields[4],
        to_participant=fields[5],
        creation_time=created,
        test_flag=fields[10] if len(fields) > 10 else "",
    )


class _Envelope:
    """Reads the ZHV header eagerly; :meth:`records` yields the body and checks the ZPT."""

    def __init__(self, stream: IO[bytes], label: str) -> None:
        self.label = label
        self._stream = stream
        self.body_records = 0
        self.trailer_checked = False
        self.checksum = ""
        self.completed = ""
        self.group_finding: str | None = None  # a group count not confirmed, in words
        self.groups = 0  # the group records counted, once the trailer is checked
        self._guessed_group = "?"
        first = stream.readline(MAX_LINE_BYTES)
        if first.startswith(_BOM):
            first = first[len(_BOM) :]
        if not first.strip():
            if not first and not stream.read(1):
                raise self.fail("the file is empty")
            raise self.fail("line 1 is blank, expected the ZHV header")
        record_type, fields = _fields(_decoded(first, 1, self.fail))
        if record_type != "ZHV":
            raise self.fail(f"first record is {excerpt(record_type)}, expected the ZHV header")
        self.header = _parse_header(fields, self.fail)
        # From here on, errors name the flow and the file as the sender identified it.
        self.label = f"{self.header.flow} file {self.header.file_id}"

    def fail(self, message: str) -> DtcError:
        return DtcError(f"{self.label}: {message}")

    def records(self, group_record: str | None) -> Iterator[DtcRecord]:
        """The records between ZHV and ZPT. ``group_record`` is the flow's top-level record;
        None takes the body's first record type (its count then only warns)."""
        groups, position = 0, 1
        strict = group_record is not None
        readline = self._stream.readline
        while raw := readline(MAX_LINE_BYTES):
            position += 1
            record_type, fields = _fields(_decoded(raw, position, self.fail))
            if record_type == "ZPT":
                self._trailer(fields, position, groups, strict=strict)
                return
            self._check_body_record(raw, record_type, position)
            if group_record is None:
                group_record = record_type
                self._guessed_group = record_type
            groups += record_type == group_record
            self.body_records += 1
            yield DtcRecord(position, record_type, fields)
        raise self.fail(f"the file ends after line {position} without a ZPT trailer (truncated)")

    def _check_body_record(self, raw: bytes, record_type: str, position: int) -> None:
        if not raw.endswith(b"\n"):
            raise self.fail(
                f"the file ends in the middle of line {position}, without a ZPT trailer (truncated)"
            )
        if not record_type:
            raise self.fail(
                f"line {position} is blank"
                if not raw.strip()
                else f"line {position} has no record type"
            )
        if record_type == "ZHV":
            raise self.fail(f"line {position} is a second ZHV header")

    def _trailer(self, fields: list[str], position: int, groups: int, *, strict: bool) -> None:
        padded = fields + [""] * (5 - len(fields))
        file_id, count, checksum, group_count, completed = padded[:5]
        if file_id != self.header.file_id:
            raise self.fail(
                f"the ZPT trailer on line {position} names file id {excerpt(file_id)}, but the "
                f"ZHV header names {excerpt(self.header.file_id)}: they are not one file"
            )
        if not _WHOLE.fullmatch(count):
            raise self.fail(
                f"the ZPT trailer on line {position} must carry a record count, found "
                f"{excerpt(count)}"
            )
        if int(count) != self.body_records:
            raise self.fail(
                f"the ZPT trailer gives a record count of {int(count)}, but the file has "
                f"{self.body_records} records between its ZHV and ZPT (records lost or added)"
            )
        self._group_count(group_count, groups, position, strict)
        self.checksum = checksum
        self.completed = completed
        self._nothing_after(position)
        self.trailer_checked = True

    def _group_count(self, text: str, groups: int, position: int, strict: bool) -> None:
        if not _WHOLE.fullmatch(text):
            raise self.fail(
                f"the ZPT trailer on line {position} must carry a group count, found "
                f"{excerpt(text)}"
            )
        self.groups = groups
        if int(text) == groups:
            return
        if strict:
            raise self.fail(
                f"the ZPT trailer gives a group count of {int(text)}, but the file has "
                f"{groups} groups (groups lost or added)"
            )
        self.group_finding = (
            f"{self.label}: the ZPT trailer gives a group count of {int(text)}; the file has "
            f"{groups} {self._guessed_group} records (its first record type, taken as the "
            "group record of a flow the ledger does not interpret): not confirmed"
        )

    def _nothing_after(self, position: int) -> None:
        while raw := self._stream.readline(MAX_LINE_BYTES):
            position += 1
            if raw.strip():
                raise self.fail(f"records after the ZPT trailer (line {position})")


# --- The file ---------------------------------------------------------------------------


def _layout_version(header: DtcHeader, fail: Callable[[str], DtcError]) -> tuple[str, str | None]:
    """The layout version to read a known flow with, and a warning when it is not the file's."""
    known = KNOWN_VERSIONS[header.flow]
    version = header.flow_version
    if version in known:
        return version, None
    below = [v for v in known if v < version]
    if not below:
        raise fail(
            f"{header.flow} version {version} is older than every {header.flow} layout the "
            f"ledger knows ({', '.join(known)}): it cannot be read by guesswork; ask for the "
            "flow in a current version"
        )
    nearest = below[-1]
    return nearest, (
        f"{header.flow} version {version} is newer than the layouts the ledger knows; it was "
        f"read with version {nearest}'s layout: check what the new version changed"
    )


class DtcFile(ReportsWarnings):
    """A DTC file being read: ``header`` at once, ``items()`` for the rest.

    Envelope errors (counts, truncation) surface only when ``items()`` is exhausted: commit
    only after that, without an error. ``warnings``, ``record_count`` and, for a D0036 of one
    settlement date, ``description.settlement_date`` are complete once it is exhausted.
    """

    def __init__(
        self,
        envelope: _Envelope,
        stated: Stated | None = None,
        limits: ReadLimits | None = None,
    ) -> None:
        self._envelope = envelope
        self.limits = limits or ReadLimits()
        self.header = header = envelope.header
        self.flow = header.flow
        # What the file named so far: its flow, its MPANs and settlement dates.
        self.stated = stated if stated is not None else Stated()
        self.stated.flow = header.flow
        self.found = Warnings(self.limits.max_warnings)
        self.kept = KeptRecords(self.limits)  # records kept unplaced, bounded as they stream
        self.short_days = 0  # D0036 MPAN-days with fewer periods than the day has
        self._settlement_dates: set[date] = set()
        self._read = False
        self.layout_version: str | None = None
        if header.flow in KNOWN_VERSIONS:
            self.layout_version, note = _layout_version(header, envelope.fail)
            if note is not None:
                self.warn("a newer layout version read with an older one", note)
        self._check_creation_time()
        if header.test_flag not in ("", "OPER"):
            self.warn(
                "a test file",
                f"{envelope.label}: the ZHV header marks the file as a test file (test flag "
                f"{excerpt(header.test_flag)}), not an operational one",
            )

    def _check_creation_time(self) -> None:
        """The ZHV's creation time is a D0036's run number (it orders estimates and actuals
        of one type): one after the file's arrival is refused; elsewhere it is a warning."""
        limits, created = self.limits, self.header.creation_time
        what = "the ZHV header's creation time"
        if self.flow == "D0036" and self.layout_version is not None:
            future = refused_after_arrival(what, created, limits.arrival, limits.future_tolerance)
            if future is not None:
                raise self.fail(1, future)
            return
        noted = noted_after_arrival(what, created, limits.arrival, limits.future_tolerance)
        if noted is not None:
            self.warn(
                "a creation time after the file's arrival", f"{self._envelope.label}: {noted}"
            )

    @property
    def description(self) -> FileDescription:
        header = self.header
        dates = self._settlement_dates
        return FileDescription(
            format=FORMAT.name,
            flow=header.flow,
            flow_version=header.flow_version,
            file_creation_time=header.creation_time,
            settlement_date=next(iter(dates)) if len(dates) == 1 else None,
            sender=header.sender,
            not_interpreted=self.not_interpreted,
        )

    @property
    def not_interpreted(self) -> str | None:
        if self.layout_version is not None:
            return None
        return (
            f"{self.flow} (version {self.header.flow_version}) is a DTC flow the ledger keeps "
            "but does not interpret"
        )

    @property
    def record_count(self) -> int:
        """Records in the file including ZHV and ZPT, once ``items()`` has been exhausted."""
        if not self._envelope.trailer_checked:
            raise RuntimeError("the record count is known only once items() is exhausted")
        return self._envelope.body_records + 2

    def warn(self, kind: str, message: str) -> None:
        self.found.add(kind, message)

    @property
    def checks(self) -> list[Check]:
        """What validation applied to the file, once ``items()`` has been exhausted: a defect
        in any of them refuses the file, so each passed unless it says otherwise."""
        envelope = self._envelope
        header = self.header
        return [
            Check(
                "envelope",
                "passed",
                f"ZHV header ({header.file_type} file {header.file_id} from "
                f"{header.sender}) first, a ZPT trailer naming the same file last",
            ),
            Check(
                "record count",
                "passed",
                f"{envelope.body_records:,} records between ZHV and ZPT, as the trailer says",
            ),
            self._group_check(),
            self._checksum_check(),
            self._layout_check(),
            *self._content_checks(),
        ]

    def _group_check(self) -> Check:
        envelope = self._envelope
        if envelope.group_finding is not None:
            return Check("group count", "warning", envelope.group_finding)
        return Check("group count", "passed", f"{envelope.groups:,} groups, as the trailer says")

    def _checksum_check(self) -> Check:
        checksum = self._envelope.checksum
        if not checksum:
            return not_applicable(
                "checksum", "the ZPT trailer carries none (public samples leave it blank)"
            )
        return Check(
            "checksum",
            "warning",
            f"the ZPT trailer carries {excerpt(checksum)}, not verified: no public description "
            "of the DTC checksum was found",
        )

    def _layout_check(self) -> Check:
        version, file_type = self.layout_version, self.header.file_type
        if version is None:
            return not_applicable("layout version", f"{self.flow} is kept, not interpreted")
        if version != self.header.flow_version:
            return Check(
                "layout version",
                "warning",
                f"{file_type} is newer than the layouts the ledger knows: read with version "
                f"{version}'s",
            )
        return Check("layout version", "passed", f"{file_type} is read with its own layout")

    def _content_checks(self) -> list[Check]:
        if self.flow != "D0036" or self.layout_version is None:
            why = (
                "readings are not by settlement period"
                if self.flow == "D0010" and self.layout_version is not None
                else f"{self.flow} is kept, not interpreted"
            )
            return [not_applicable("day length", why), not_applicable("duplicates", why)]
        length = (
            Check(
                "day length",
                "warning",
                f"{self.short_days:,} MPAN-days give fewer periods than their day has (46, 48 "
                "or 50); none gives more",
            )
            if self.short_days
            else Check(
                "day length",
                "passed",
                "every MPAN-day gives the periods its day has (46, 48 or 50)",
            )
        )
        once = "each MPAN, measurement quantity and settlement date is given once"
        return [length, Check("duplicates", "passed", once)]

    def fail(self, position: int, message: str, *context: str) -> DtcError:
        where = f" ({', '.join(context)})" if context else ""
        return DtcError(f"{self.flow} line {position}{where}: {message}")

    def beyond_layout(self, rec: DtcRecord, known: int) -> None:
        """Fields after the ``known`` ones of a record's layout: blank ones are padding (some
        files carry them); others are not read, which a warning says."""
        extra = [text for text in rec.fields[known:] if text.strip()]
        if extra:
            self.warn(
                "fields beyond a record's layout",
                f"{self.flow} line {rec.position}: the {rec.record_type} record has "
                f"{len(rec.fields)} fields, {known} in its layout; the others "
                f"({excerpt('|'.join(rec.fields[known:]))}) were not read",
            )

    def settlement_date_seen(self, settlement_date: date) -> None:
        self._settlement_dates.add(settlement_date)
        self.stated.saw_date(settlement_date)

    def items(self) -> Iterator[Item]:
        """Yield the file's items in file order (once: the stream is consumed)."""
        if self._read:
            raise RuntimeError("a DTC file's items can be read only once")
        self._read = True
        return self._items()

    def _items(self) -> Iterator[Item]:
        envelope = self._envelope
        records = envelope.records(GROUP_RECORDS.get(self.flow))
        if self.flow == "D0036" and self.layout_version is not None:
            yield from _D0036(self).read(records)
        elif self.flow == "D0010" and self.layout_version is not None:
            yield from _D0010(self).read(records)
        else:
            for _ in records:
                pass
        self._after_trailer()

    def _after_trailer(self) -> None:
        envelope = self._envelope
        if envelope.group_finding is not None:
            self.warn("a group count not confirmed", envelope.group_finding)
        if envelope.checksum:
            self.warn(
                "an unverified checksum",
                f"{envelope.label}: the ZPT trailer carries checksum "
                f"{excerpt(envelope.checksum)}, which the "
                "ledger does not verify (no public description of the DTC checksum was found)",
            )
        if envelope.completed and dtc_instant(envelope.completed) is None:
            self.warn(
                "a completion time that is not a time",
                f"{envelope.label}: the ZPT trailer's completion time "
                f"{excerpt(envelope.completed)} is not a "
                "valid YYYYMMDDHHMMSS time",
            )


# --- D0036: validated half-hourly advances -----------------------------------------------


@dataclass(slots=True)
class _Quantity:
    """One measurement quantity of an MPAN-day: its periods as (indicator, text, line)."""

    supplier: str
    periods: list[tuple[str, str, int]]


@dataclass(frozen=True, slots=True)
class _OpenDay:
    """The settlement date (102) whose periods (103) are being read."""

    settlement_date: date
    quantity: _Quantity
    position: int
    periods: int  # how many the day has: 46, 48 or 50


class _D0036:
    """101 (MPAN, quantity, supplier), 102 (settlement date), 103 per period."""

    def __init__(self, file: DtcFile) -> None:
        self.file = file
        self.mpan: str | None = None
        self.quantity: str | None = None
        self.supplier = ""
        self.open_day: _OpenDay | None = None
        self.days: dict[date, dict[str, _Quantity]] = {}  # the open MPAN's days
        self.seen: dict[tuple[str, date], int] = {}  # every MPAN-day: its first line
        self.run_number = instant_number(file.header.creation_time)

    def read(self, records: Iterator[DtcRecord]) -> Iterator[Item]:
        for rec in records:
            if rec.record_type == "103":
                self._period(rec)
            elif rec.record_type == "102":
                self._day(rec)
            elif rec.record_type == "101":
                yield from self._mpan(rec)
            else:
                raise self.file.fail(
                    rec.position,
                    f"record type {excerpt(rec.record_type)} is not part of the D0036 layout "
                    "(101, 102, 103)",
                )
        yield from self._flush()

    def _context(self, settlement_date: date | None = None, period: int | None = None) -> list[str]:
        where = [f"MPAN {self.mpan}"] if self.mpan else []
        if self.quantity:
            where.append(f"measurement quantity {self.quantity}")
        if settlement_date is not None:
            where.append(f"settlement date {settlement_date.isoformat()}")
        if period is not None:
            where.append(f"period {period}")
        return where

    def _mpan(self, rec: DtcRecord) -> Iterator[PeriodValues]:
        self._close_day()
        fields = rec.fields + [""] * (3 - len(rec.fields))
        try:
            mpan = mpan_core(fields[0])
        except LedgerError as exc:
            raise self.file.fail(rec.position, str(exc)) from None
        self.file.stated.saw_subject(f"mpan:{mpan}")
        if mpan != self.mpan:
            yield from self._flush()
        self.mpan, self.quantity = mpan, None
        quantity = fields[1]
        if quantity not in MEASUREMENT_QUANTITIES:
            raise self.file.fail(
                rec.position,
                f"measurement quantity {excerpt(quantity)} is not one the ledger reads "
                f"({', '.join(MEASUREMENT_QUANTITIES)})",
                *self._context(),
            )
        self.quantity, self.supplier = quantity, fields[2]
        self.file.beyond_layout(rec, 3)

    def _day(self, rec: DtcRecord) -> None:
        self._close_day()
        if self.mpan is None or self.quantity is None:
            raise self.file.fail(rec.position, "a 102 settlement date before any 101 MPAN record")
        text = rec.fields[0] if rec.fields else ""
        settlement_date = dtc_date(text)
        if settlement_date is None:
            raise self.file.fail(
                rec.position,
                f"settlement date {excerpt(text)} is not a date that exists (YYYYMMDD)",
                *self._context(),
            )
        try:
            check_settlement_date(settlement_date)
        except LedgerError as exc:
            raise self.file.fail(rec.position, str(exc), *self._context()) from None
        self.file.stated.saw_date(settlement_date)
        quantities = self.days.setdefault(settlement_date, {})
        first = self.seen.setdefault((self.mpan, settlement_date), rec.position)
        if self.quantity in quantities or (first != rec.position and not quantities):
            raise self.file.fail(
                rec.position,
                f"this MPAN-day was already given on line {first}; a file gives each MPAN, "
                "measurement quantity and settlement date once (and an MPAN's quantities "
                "together)",
                *self._context(settlement_date),
            )
        quantity = _Quantity(self.supplier, [])
        quantities[self.quantity] = quantity
        periods = periods_in_day(settlement_date)
        self.open_day = _OpenDay(settlement_date, quantity, rec.position, periods)
        self.file.settlement_date_seen(settlement_date)
        self.file.beyond_layout(rec, 1)

    def _period(self, rec: DtcRecord) -> None:
        if self.open_day is None:
            raise self.file.fail(rec.position, "a 103 period value outside a 102 settlement date")
        day = self.open_day
        settlement_date, quantity = day.settlement_date, day.quantity
        period = len(quantity.periods) + 1
        fields = rec.fields + [""] * (2 - len(rec.fields))
        indicator, value = fields[0], fields[1]
        if period > day.periods:
            raise self.file.fail(
                rec.position,
                f"settlement date {settlement_date.isoformat()} has {day.periods} periods; "
                f"this 103 record would be period {period}",
                *self._context(settlement_date),
            )
        context = self._context(settlement_date, period)
        if indicator not in INDICATORS:
            raise self.file.fail(rec.position, _indicator_problem(indicator), *context)
        if not is_plain_decimal(value):
            raise self.file.fail(
                rec.position,
                f"the period's value {excerpt(value)} is not a plain decimal number "
                f"({_DECIMAL_RULE}; the DTC writes e.g. 9.8)",
                *context,
            )
        quantity.periods.append((indicator, value, rec.position))
        if len(rec.fields) > 2:
            self.file.beyond_layout(rec, 2)

    def _close_day(self) -> None:
        """The open settlement date ends: fewer periods than the day has is a warning."""
        if self.open_day is None:
            return
        day, self.open_day = self.open_day, None
        found = len(day.quantity.periods)
        if found < day.periods:
            self.file.short_days += 1
            self.file.warn(
                "days with fewer periods than the day has",
                f"D0036 line {day.position}: MPAN {self.mpan} {self.quantity} on "
                f"{day.settlement_date.isoformat()} has {found} of the day's {day.periods} "
                f"periods; they were read as periods 1 to {found} in file order",
            )

    def _flush(self) -> Iterator[PeriodValues]:
        """Every period of the MPAN's days, its quantities merged into one item each."""
        self._close_day()
        mpan, days = self.mpan, self.days
        self.days = {}
        if mpan is None:
            return
        for settlement_date, quantities in days.items():
            longest = max((len(q.periods) for q in quantities.values()), default=0)
            for period in range(1, longest + 1):
                yield self._item(mpan, settlement_date, period, quantities)

    def _item(
        self, mpan: str, settlement_date: date, period: int, quantities: dict[str, _Quantity]
    ) -> PeriodValues:
        values: dict[str, str] = {}
        attributes: dict[str, str] = {}
        suppliers: dict[str, None] = {}
        positions: list[int] = []
        for code, quantity in quantities.items():
            if period > len(quantity.periods):
                continue
            indicator, text, position = quantity.periods[period - 1]
            name = MEASUREMENT_QUANTITIES[code]
            values[name] = text
            attributes[f"{name}_actual_estimated"] = indicator
            suppliers[quantity.supplier] = None
            positions.append(position)
        run_type = RunType.ACT if "E" not in attributes.values() else RunType.EST
        attributes["supplier_id"] = " ".join(s for s in suppliers if s)
        attributes["measurement_quantities"] = " ".join(
            code for code, q in quantities.items() if period <= len(q.periods)
        )
        header = self.file.header
        return PeriodValues(
            subject=f"mpan:{mpan}",
            settlement_period=period,
            values=Measures.from_text(values),
            attributes=attributes,
            unconfirmed={},
            record_position=min(positions),
            run=Run(settlement_date, run_type, self.run_number, header.creation_time),
        )


def _indicator_problem(indicator: str) -> str:
    if indicator == "C":
        return (
            "actual/estimated indicator 'C' (public descriptions tie it to clock-change days) "
            "is not confirmed, so the ledger does not read it: expected A (actual) or E "
            "(estimated)"
        )
    return f"actual/estimated indicator {excerpt(indicator)} is not A (actual) or E (estimated)"


# --- D0010: meter readings ---------------------------------------------------------------

# 030 fields after the register, date-time and reading, by their names in the walkthrough.
_READING_ATTRIBUTES = ("md_reset_at", "md_resets", "meter_reading_flag", "reading_method")


class _D0010:
    """026 (MPAN), 028 (meter), 030 (register reading); anything else kept unplaced."""

    def __init__(self, file: DtcFile) -> None:
        self.file = file
        self.mpan: str | None = None
        self.validation_status = ""
        self.meter: str | None = None
        self.reading_type = ""
        self.unplaced = 0

    def read(self, records: Iterator[DtcRecord]) -> Iterator[Item]:
        for rec in records:
            if rec.record_type == "030":
                yield self._reading(rec)
            elif rec.record_type == "028":
                self._meter(rec)
            elif rec.record_type == "026":
                self._mpan(rec)
            else:
                self.unplaced += 1
                if self.file.kept.on_its_own(rec.record_type, rec.fields):
                    raise self.file.fail(rec.position, self.file.kept.refusal_on_its_own())
                yield UnplacedRecord(rec.position, rec.record_type, rec.fields)
        if self.unplaced:
            self.file.warn(
                "records kept unplaced",
                f"D0010: {self.unplaced} records of types the ledger does not read were kept "
                "as unplaced records",
            )

    def _mpan(self, rec: DtcRecord) -> None:
        fields = rec.fields + [""] * (2 - len(rec.fields))
        try:
            self.mpan = mpan_core(fields[0])
        except LedgerError as exc:
            raise self.file.fail(rec.position, str(exc)) from None
        self.file.stated.saw_subject(f"mpan:{self.mpan}")
        self.validation_status = fields[1]
        self.meter = None
        self.file.beyond_layout(rec, 2)

    def _meter(self, rec: DtcRecord) -> None:
        if self.mpan is None:
            raise self.file.fail(rec.position, "a 028 meter record before any 026 MPAN record")
        fields = rec.fields + [""] * (2 - len(rec.fields))
        if not fields[0].strip():
            raise self.file.fail(rec.position, "the 028 meter record names no meter serial number")
        self.meter, self.reading_type = fields[0], fields[1]
        self.file.beyond_layout(rec, 2)

    def _reading(self, rec: DtcRecord) -> MeterReading:
        mpan, meter = self.mpan, self.meter
        if mpan is None or meter is None:
            raise self.file.fail(rec.position, "a 030 reading outside a 026 MPAN and 028 meter")
        context = (f"MPAN {mpan}", f"meter {meter}")
        fields = rec.fields + [""] * (7 - len(rec.fields))
        register, when, value = fields[0], fields[1], fields[2]
        if not register.strip():
            raise self.file.fail(rec.position, "the reading names no register", *context)
        read_at = dtc_instant(when)
        if read_at is None:
            raise self.file.fail(
                rec.position,
                f"reading date and time {excerpt(when)} is not a valid YYYYMMDDHHMMSS time",
                *context,
            )
        if not is_plain_decimal(value):
            raise self.file.fail(
                rec.position,
                f"register {register}'s reading {excerpt(value)} is not a plain decimal number "
                f"({_DECIMAL_RULE}; the DTC writes e.g. 56311.0)",
                *context,
            )
        attributes = {"bsc_validation_status": self.validation_status} | {
            name: text for name, text in zip(_READING_ATTRIBUTES, fields[3:7], strict=True) if text
        }
        self.file.beyond_layout(rec, 7)
        return MeterReading(
            mpan=mpan,
            meter=meter,
            register=register,
            read_at=read_at,
            reading=Decimal(value),
            reading_type=self.reading_type,
            attributes=attributes,
            record_position=rec.position,
        )


# --- The format ---------------------------------------------------------------------------


def read_dtc(
    stream: IO[bytes],
    *,
    file_name: str | None = None,
    stated: Stated | None = None,
    limits: ReadLimits | None = None,
) -> DtcFile:
    """Read a DTC file from a binary stream (gzipped or not): the ZHV header at once, the rest
    as ``items()`` is iterated; ``stated`` is kept up with the flow, MPANs and settlement dates
    the file names as it is read."""
    label = f"DTC file {file_name}" if file_name else "DTC file"
    return DtcFile(_Envelope(readable(stream, label=label), label), stated, limits)


class DtcFormat:
    """DTC flows: a ``ZHV`` envelope."""

    name = "dtc"
    # D0036's measurement quantities: active energy in kWh, reactive in kVArh (the module's
    # docstring gives the evidence); the measure names say so too.
    units: Mapping[str, str] = MappingProxyType(
        {
            "active_import_kwh": "kWh",
            "active_export_kwh": "kWh",
            "reactive_import_kvarh": "kVArh",
            "reactive_export_kvarh": "kVArh",
        }
    )

    def recognises(self, head: bytes) -> bool:
        return head.startswith(b"ZHV|")

    def read(
        self,
        stream: IO[bytes],
        *,
        file_name: str | None = None,
        stated: Stated | None = None,
        limits: ReadLimits | None = None,
    ) -> DtcFile:
        return read_dtc(stream, file_name=file_name, stated=stated, limits=limits)


FORMAT = DtcFormat()
