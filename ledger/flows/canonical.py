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

import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import IO, Literal, Protocol

from ledger.domain.runs import DEFAULT_FUTURE_TOLERANCE, RunType

__all__ = [
    "DEFAULT_KEPT_PER_FILE",
    "DEFAULT_KEPT_PER_PERIOD",
    "DEFAULT_MAX_WARNINGS",
    "MAX_KEPT_BYTES",
    "Check",
    "DailyValues",
    "FileDescription",
    "Format",
    "Item",
    "KeptRecords",
    "MeterReading",
    "ParsedFile",
    "PeriodValues",
    "ReadLimits",
    "ReportsWarnings",
    "Run",
    "Stated",
    "UnplacedRecord",
    "Warnings",
    "kept_size",
    "not_applicable",
    "weight",
]

# A real file gives a handful of warnings, an odd one a few hundred (one per BM Unit whose
# values differ from the system block); past this many they are counted, not kept.
DEFAULT_MAX_WARNINGS = 10_000
# Records kept without being interpreted (DOMAIN.md, "Real S0142 files"; counted in the
# ledger's market-size sample, scripts/bench.py): an S0142 system period keeps 49 TRA, an MD1
# and a DB1; a BM Unit's period its few children (MVR, RUE, BO3, ...), the sample at most 9; a
# party's period its MD2, DB2, APD and an APB per metered-volume BM Unit, the sample at most
# 19. A real all-parties R3 keeps about 650,000 in all, an SF about 900,000. The BPI lines of
# the system block (7,652 per period in a real file) are read, not kept.
DEFAULT_KEPT_PER_PERIOD = 10_000
DEFAULT_KEPT_PER_FILE = 5_000_000
# What the records kept with one subject-period may take in memory (kept_size): a real one
# takes a few kilobytes; a handful of 64 KiB lines would be far past any.
MAX_KEPT_BYTES = 4 << 20


@dataclass(frozen=True, slots=True)
class ReadLimits:
    """How much a reader keeps of one file, whatever the file holds (the service sets these
    from its settings; readers used on their own take the defaults).

    ``kept_per_period`` bounds the records kept without being interpreted with one
    subject-period (or a party's day, or a file's records outside any: those travel whole
    with the file's verdict); ``kept_per_file`` all of them in one file. A file past either
    is refused as it streams, before memory grows. ``arrival`` is when the file arrived
    (None when unknown): a creation or publication time in it later than that by more than
    ``future_tolerance`` is refused where it ranks versions, a warning elsewhere
    (:func:`ledger.domain.runs.after_arrival`)."""

    max_warnings: int = DEFAULT_MAX_WARNINGS
    kept_per_period: int = DEFAULT_KEPT_PER_PERIOD
    kept_per_file: int = DEFAULT_KEPT_PER_FILE
    arrival: datetime | None = None
    future_tolerance: timedelta = DEFAULT_FUTURE_TOLERANCE

    def arrived(self, arrival: datetime) -> ReadLimits:
        """The same limits for a file that arrived at ``arrival``."""
        return replace(self, arrival=arrival)

    def as_text(self) -> str:
        """The limits as one line of JSON (to hand to a process of its own)."""
        arrival = self.arrival.isoformat() if self.arrival is not None else None
        tolerance = self.future_tolerance.total_seconds()
        return json.dumps({**asdict(self), "arrival": arrival, "future_tolerance": tolerance})

    @classmethod
    def from_text(cls, text: str) -> ReadLimits:
        """The limits :meth:`as_text` wrote."""
        found = json.loads(text)
        arrival = found["arrival"]
        found["arrival"] = datetime.fromisoformat(arrival) if arrival is not None else None
        found["future_tolerance"] = timedelta(seconds=found["future_tolerance"])
        return cls(**found)


def kept_size(fields: Sequence[str]) -> int:
    """About the memory a kept record takes, in bytes: its text, and Python's own share (a
    list, and a string per field) that dominates for the short fields of real records."""
    return 120 + 56 * len(fields) + sum(map(len, fields))


class KeptRecords:
    """The records a reader keeps without interpreting them, counted against its limits as
    it streams: :meth:`refusal` says why to stop reading, in a sentence that follows the name
    of what keeps them (``"the system's settlement period 3 keeps more than ..."``)."""

    __slots__ = ("in_file", "limits", "unplaced", "unplaced_size", "unplaced_types")

    def __init__(self, limits: ReadLimits) -> None:
        self.limits = limits
        self.in_file = 0
        self.unplaced = 0
        self.unplaced_size = 0
        self.unplaced_types: Counter[str] = Counter()

    def over(self, records: int, size: int) -> bool:
        """Whether one holder's records (``records`` of ``size`` bytes), or the file's, are
        past a bound: the fast test, made for every record kept."""
        limits = self.limits
        return (
            records > limits.kept_per_period
            or size > MAX_KEPT_BYTES
            or self.in_file > limits.kept_per_file
        )

    def on_its_own(self, record_type: str, fields: Sequence[str]) -> bool:
        """Count a record kept outside any subject-period; whether a bound is now past."""
        self.in_file += 1
        self.unplaced += 1
        self.unplaced_size += kept_size(fields)
        self.unplaced_types[record_type] += 1
        return self.over(self.unplaced, self.unplaced_size)

    def refusal_on_its_own(self) -> str:
        """Why the file is not read further, once its records kept outside any subject-period
        are past a bound."""
        refusal = self.refusal(self.unplaced_types, self.unplaced_size)
        return f"the file, outside any settlement period, {refusal}"

    def refusal(self, types: Mapping[str, int], size: int) -> str:
        """Why the file is not read further, once one holder's records (``types``: how many
        of each record type, ``size``: what they take) or the file's are past a bound."""
        limits = self.limits
        shown = ", ".join(f"{n:,} {t}" for t, n in Counter(types).most_common(3))
        records = sum(types.values())
        if records > limits.kept_per_period:
            return (
                f"keeps more than {limits.kept_per_period:,} records the ledger does not "
                f"interpret ({shown}); no real file keeps that many there "
                "(LEDGER_MAX_KEPT_PER_PERIOD): the file was not read further"
            )
        if size > MAX_KEPT_BYTES:
            return (
                f"keeps records the ledger does not interpret ({shown}) that take more than "
                f"{MAX_KEPT_BYTES >> 20} MiB; no real file keeps that much there: the file was "
                "not read further"
            )
        return (
            f"takes the file past {limits.kept_per_file:,} records the ledger does not "
            "interpret, kept as received; no real file keeps that many "
            "(LEDGER_MAX_KEPT_PER_FILE): the file was not read further"
        )


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
    ``kept_size`` is what the kept records take in memory (:func:`kept_size`), by which the
    pipeline bounds what it holds at once.
    """

    subject: str
    settlement_period: int
    values: Mapping[str, Decimal]  # a Measures, as read: each value's text as the file wrote it
    attributes: dict[str, str]
    unconfirmed: dict[str, list[str]]
    record_position: int
    run: Run | None = None
    kept_size: int = field(default=0, compare=False)


@dataclass(frozen=True, slots=True)
class DailyValues:
    """Daily (account period) values of one subject, from an APC record."""

    subject: str
    values: Mapping[str, Decimal]  # a Measures, as read
    unconfirmed: dict[str, list[str]]
    record_position: int
    kept_size: int = field(default=0, compare=False)


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


def weight(item: Item) -> int:
    """What an item's kept records take in memory (nothing for a meter reading, whose fields
    are bounded by its layout), for batching by size as well as by count."""
    if isinstance(item, UnplacedRecord):
        return kept_size(item.fields)
    if isinstance(item, MeterReading):
        return 0
    return item.kept_size


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
    recognised but cannot accept, keeps no more than ``limits`` allow, and keeps ``stated``
    (when given) up with what the file named as it is read, header and items alike, so that a
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
        self,
        stream: IO[bytes],
        *,
        file_name: str | None = None,
        stated: Stated | None = None,
        limits: ReadLimits | None = None,
    ) -> ParsedFile: ...
