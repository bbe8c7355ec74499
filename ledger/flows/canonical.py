"""What every market format yields: the canonical records the pipeline stores, whatever the
file looked like.

A format (one module of :mod:`ledger.flows` with a module-level ``FORMAT``, see
:mod:`ledger.flows.formats`) recognises its files by their envelope, validates them and yields
these records:

- :class:`PeriodValues`: one subject's values for one settlement period (``system``,
  ``party:X``, ``bmu:X``, ``mpan:<core>``), versioned by the :class:`Run` that produced them;
- :class:`DailyValues`: a subject's values for a whole settlement day (a party's daily charges);
- :class:`MeterReading`: a register reading of one meter of one metering system;
- :class:`UnplacedRecord`: a record the format keeps as evidence without interpreting it.

The file as a whole is described by a :class:`FileDescription` (its flow, version, sender and,
when the file has one, the settlement date and run every value in it belongs to). What a reader
finds suspicious but not fatal goes to its :class:`Warnings`, and how much it keeps is bounded
by the :class:`ReadLimits` it is given.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Literal, Protocol

from ledger.domain.runs import RunType

__all__ = [
    "DEFAULT_MAX_WARNINGS",
    "Check",
    "DailyValues",
    "FileDescription",
    "Format",
    "Item",
    "MeterReading",
    "ParsedFile",
    "PeriodValues",
    "ReadLimits",
    "ReportsWarnings",
    "not_applicable",
    "Run",
    "UnplacedRecord",
    "Warnings",
]

# A real file gives a handful of warnings, an odd one a few hundred (one per BM Unit whose
# values differ from the system block); past this many they are counted, not kept.
DEFAULT_MAX_WARNINGS = 10_000


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """How much a reader keeps of one file, whatever the file holds (the service sets these
    from its settings; readers used on their own take the defaults)."""

    max_warnings: int = DEFAULT_MAX_WARNINGS


class Warnings:
    """A file's warnings as its reader finds them: every one kept, in the order found, up to
    ``limit``; beyond it each is counted by its kind (a short phrase naming what was found),
    and :meth:`listed` says how many of each kind were not kept. Nothing is silently lost,
    and memory stays bounded whatever the file."""

    __slots__ = ("beyond", "kept", "limit")

    def __init__(self, limit: int = DEFAULT_MAX_WARNINGS) -> None:
        self.limit = limit
        self.kept: list[str] = []
        self.beyond: dict[str, int] = {}

    def add(self, kind: str, message: str) -> None:
        """One warning, of ``kind`` (e.g. ``"system data differing from its first copy"``)."""
        if len(self.kept) < self.limit:
            self.kept.append(message)
        else:
            self.beyond[kind] = self.beyond.get(kind, 0) + 1

    @property
    def total(self) -> int:
        """How many warnings were found, kept or not."""
        return len(self.kept) + sum(self.beyond.values())

    def listed(self) -> list[str]:
        """Every warning kept, then a line per kind of those found beyond the limit."""
        return self.kept + [
            f"{count:,} further warning{'s were' if count > 1 else ' was'} found of {kind}, "
            f"not kept: a file keeps its first {self.limit:,} warnings (LEDGER_MAX_WARNINGS)"
            for kind, count in self.beyond.items()
        ]


Outcome = Literal["passed", "failed", "warning", "not applicable"]


@dataclass(frozen=True, slots=True)
class Check:
    """One check a format applied to a file, its outcome and what it found, in words.

    The checks are named alike in every format: ``envelope``, ``record count``, ``checksum``,
    ``layout version``, ``day length``, ``duplicates`` (and ``group count`` for DTC flows).
    A file with a failed check is refused, so a validated file's checks passed, warned, or
    did not apply to its format."""

    check: str
    outcome: Outcome
    detail: str

    def as_dict(self) -> dict[str, str]:
        return {"check": self.check, "outcome": self.outcome, "detail": self.detail}


def not_applicable(check: str, why: str) -> Check:
    """A check a format cannot apply, saying why (e.g. a JSON page carries no checksum)."""
    return Check(check, "not applicable", why)


class ReportsWarnings:
    """A reader's ``warnings`` and ``warning_count`` (as :class:`ParsedFile` gives them), from
    the :class:`Warnings` it found (``found``)."""

    found: Warnings

    @property
    def warnings(self) -> list[str]:
        """Every warning kept, then how many of each kind were found beyond the limit."""
        return self.found.listed()

    @property
    def warning_count(self) -> int:
        """How many warnings were found, kept or not."""
        return self.found.total


@dataclass(frozen=True, slots=True)
class Run:
    """What versions a value: the settlement date, the run that produced it and when.

    ``run_type`` orders versions by maturity (a publication, an estimate, an actual reading,
    then the settlement runs II to DF); ``run_number`` tells two runs of one type apart: the
    SAA run number for a settlement run, the publication or file creation instant written as
    the number ``YYYYMMDDHHMMSS`` for values that have no run of their own.
    """

    settlement_date: date
    run_type: RunType
    run_number: int
    file_creation_time: datetime


def instant_number(instant: datetime) -> int:
    """An instant as the run number of values that have no run of their own: the number
    ``YYYYMMDDHHMMSS`` (UTC), which reads as the instant and orders as it does."""
    return int(instant.strftime("%Y%m%d%H%M%S"))


@dataclass(frozen=True, slots=True)
class PeriodValues:
    """Values of one subject (``system``, ``party:X``, ``bmu:X``, ``mpan:<core>``) for one
    settlement period.

    ``unconfirmed`` keeps the records of the item that the ledger does not interpret (and
    fields beyond a record's layout), keyed by record type and line (``"MVR@1234"``), with
    their fields as received: preserved, never dropped. ``run`` is the run the values belong to
    when it is not the file's own (:attr:`FileDescription.run`), e.g. each publication of a
    page of published prices, or each estimated or actual value of a meter data file.
    """

    subject: str
    settlement_period: int
    values: Mapping[str, Decimal]  # a Measures, as read: each value's text as the file wrote it
    attributes: dict[str, str]
    unconfirmed: dict[str, list[str]]
    record_position: int
    run: Run | None = None


@dataclass(frozen=True, slots=True)
class DailyValues:
    """Daily (account period) values of one subject, from an APC record."""

    subject: str
    values: Mapping[str, Decimal]  # a Measures, as read
    unconfirmed: dict[str, list[str]]
    record_position: int


@dataclass(frozen=True, slots=True)
class UnplacedRecord:
    """A record that belongs to no item (an unknown type, or a known one outside the context
    the format gives it, e.g. an MD1 before any SPI), kept as it was with its line."""

    record_position: int
    record_type: str
    fields: list[str]


@dataclass(frozen=True, slots=True)
class MeterReading:
    """One register reading of one meter of a metering system (a D0010 ``030`` record with the
    ``026`` and ``028`` records it sits under), as the file wrote it.

    ``register`` names the register (the meter register id when the flow gives one);
    ``attributes`` keeps the record's other fields by their names in the flow's layout.
    """

    mpan: str
    meter: str
    register: str
    read_at: datetime
    reading: Decimal
    reading_type: str
    attributes: dict[str, str]
    record_position: int


Item = PeriodValues | DailyValues | UnplacedRecord | MeterReading


@dataclass(frozen=True, slots=True)
class FileDescription:
    """What validation says a file is, before its content is interpreted.

    ``flow`` is the market's name for the message (``S0142``, ``D0036``, ``DISEBSP``,
    ``IF-021``) and ``flow_version`` its version as the file gives it. ``settlement_date`` and
    ``run`` are set when the whole file belongs to one (an SAA-I014 report does). A format
    that recognises a file but does not interpret its content (a D-flow the ledger has no
    reader for) says why in ``not_interpreted``; its envelope is still validated and its bytes
    kept.
    """

    format: str  # the format module that read it, e.g. "saa-i014", "dtc"
    flow: str
    flow_version: str
    file_creation_time: datetime | None = None
    settlement_date: date | None = None
    run: Run | None = None
    bsc_party_id: str | None = None
    sender: str | None = None  # the sending market participant or role, when the file says
    subject: str | None = None  # the market id a whole message is about (``mpan:<core>``)
    not_interpreted: str | None = None


class ParsedFile(Protocol):
    """A file being read: ``description`` once the envelope is read, ``items()`` for the rest.

    Envelope errors (counts, checksums, truncation) may surface only when ``items()`` is
    exhausted, so the pipeline commits only after that, without an error. ``warnings`` (not
    fatal findings, as :meth:`Warnings.listed` gives them), ``warning_count`` (how many were
    found, kept or not), ``checks`` (what validation applied, :class:`Check`) and
    ``record_count`` are complete once ``items()`` is exhausted.
    """

    @property
    def description(self) -> FileDescription: ...

    @property
    def warnings(self) -> list[str]: ...

    @property
    def warning_count(self) -> int: ...

    @property
    def checks(self) -> list[Check]: ...

    @property
    def record_count(self) -> int: ...

    def items(self) -> Iterator[Item]: ...


class Format(Protocol):
    """One market format: which files it recognises and how it reads them.

    ``recognises`` looks only at the start of the file's content (decompressed, byte-order
    mark and leading white space removed, at most :data:`ledger.flows.formats.HEAD_BYTES`):
    the envelope, never the file's name. ``read`` raises
    :class:`ledger.domain.errors.LedgerError` (with a message in business terms) for a file it
    recognised but cannot accept, and keeps no more than ``limits`` allow.
    """

    @property
    def name(self) -> str: ...

    def recognises(self, head: bytes) -> bool: ...

    def read(
        self, stream: IO[bytes], *, file_name: str | None = None, limits: ReadLimits | None = None
    ) -> ParsedFile: ...
