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
when the file has one, the settlement date and run every value in it belongs to).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Protocol

from ledger.domain.runs import RunType

__all__ = [
    "DailyValues",
    "FileDescription",
    "Format",
    "Item",
    "MeterReading",
    "ParsedFile",
    "PeriodValues",
    "Run",
    "Stated",
    "UnplacedRecord",
]


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


class Stated:
    """What a file said of itself as far as it was read: kept up as a format reads it, so that
    a file refused part way (its header, or a record of its body) can still be described by
    what it named: its flow, BSC Party, settlement date and the one subject it is about.

    A settlement date or subject is kept while the file names only one (a D0036 of two MPANs
    is about no one MPAN): two values take it back to None, and it stays so. Small and
    picklable: it crosses from a reading process with the refusal.
    """

    def __init__(self) -> None:
        self.flow: str | None = None
        self.bsc_party_id: str | None = None
        self._dates: tuple[date, ...] = ()
        self._subjects: tuple[str, ...] = ()

    @property
    def settlement_date(self) -> date | None:
        """The one settlement date the file named so far (None for none, or several)."""
        return self._dates[0] if len(self._dates) == 1 else None

    @property
    def subject(self) -> str | None:
        """The one subject (``party:X``, ``mpan:<core>``, ``system``) the file is about so far
        (None for none, or several)."""
        return self._subjects[0] if len(self._subjects) == 1 else None

    def saw_date(self, settlement_date: date) -> None:
        """The file named this settlement date (at most two are kept: one, or several)."""
        if settlement_date not in self._dates and len(self._dates) < 2:
            self._dates += (settlement_date,)

    def saw_subject(self, subject: str) -> None:
        """The file named this subject (at most two are kept: one, or several)."""
        if subject not in self._subjects and len(self._subjects) < 2:
            self._subjects += (subject,)

    def take(self, other: Stated) -> None:
        """Take over what another reading of the file stated (a reading process's)."""
        self.flow, self.bsc_party_id = other.flow, other.bsc_party_id
        self._dates, self._subjects = other._dates, other._subjects


class ParsedFile(Protocol):
    """A file being read: ``description`` once the envelope is read, ``items()`` for the rest.

    Envelope errors (counts, checksums, truncation) may surface only when ``items()`` is
    exhausted, so the pipeline commits only after that, without an error. ``warnings`` (not
    fatal findings) and ``record_count`` are complete once ``items()`` is exhausted.
    """

    @property
    def description(self) -> FileDescription: ...

    @property
    def warnings(self) -> list[str]: ...

    @property
    def record_count(self) -> int: ...

    def items(self) -> Iterator[Item]: ...


class Format(Protocol):
    """One market format: which files it recognises and how it reads them.

    ``recognises`` looks only at the start of the file's content (decompressed, byte-order
    mark removed, at most :data:`ledger.flows.formats.HEAD_BYTES`): the envelope, never the
    file's name. ``read`` raises :class:`ledger.domain.errors.LedgerError` (with a message in
    business terms) for a file it recognised but cannot accept, and keeps ``stated`` (when
    given) up with what the file named as it is read, header and items alike, so that a
    refusal can say what the file was about.
    """

    @property
    def name(self) -> str: ...

    @property
    def units(self) -> Mapping[str, str]:
        """The unit of each measure this format records (by measure name), where the evidence
        the format rests on fixes one; a measure it leaves out has no unit the ledger knows."""
        ...

    def recognises(self, head: bytes) -> bool: ...

    def read(
        self, stream: IO[bytes], *, file_name: str | None = None, stated: Stated | None = None
    ) -> ParsedFile: ...
