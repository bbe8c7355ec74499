"""SAA-I014 Settlement Report (S0141, S0142, S0144): a one-pass, constant-memory parser.

The layout is the market's, not ours: record types, their hierarchy and every field's name,
type and position come from the IDD tables per flow and version
(:mod:`ledger.flows.record_layouts`: Elexon's IDD Part 1 as generated in the public repository
consus-energy/consus-elexon-settlement, ``src/consus_elexon_settlement/idd/spec_saa.py``, and
S0142 version 013 as profiled from two real portal files in jordan-dimov/grid-mysteries,
``archives/elexon-s0142/SCHEMA.md``). What this module knows itself is which record plays which
part in each sub-flow (:data:`ROLES`):

- an all-parties S0142 begins with a **system block**: per settlement period an ``SPI`` record
  (system prices and volumes) with its children (``BPI``, one per BM Unit, repeating values of
  that unit's ``BP7``; ``TRA``, ``MD1``, ``DB1``), all before the first party;
- then per party ``BPH`` (the party), ``APC`` (its daily charges) and per period ``SP7`` with
  ``SSD`` (system data, repeated under every party), ``PPC`` (the party's period charges),
  then ``BP7`` per BM Unit with its children;
- a party's own S0141 (S0144 for a virtual lead party) has the same shape without the system
  block and ``BPH``: ``SPH``/``SVH`` periods, ``PPC``/``PVC``, ``SSD``/``SVD``, ``BPD``/``VPD``.

Items stream in file order: a party's period, a BM Unit's period, the system's period, a
party's day. Every record is interpreted (named values by the layout) or kept on the item it
belongs to, under its record type and line (``"MVR@1234"``), in time linear in the file. The
envelope (record count, checksum) is verified at the end.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import IO

from ledger.domain.errors import LedgerError
from ledger.domain.identifiers import bm_unit_id, bsc_party_id
from ledger.domain.measures import Measures
from ledger.domain.plain_text import excerpt
from ledger.domain.runs import RunType, refused_after_arrival
from ledger.domain.settlement_time import check_settlement_period, periods_in_day
from ledger.flows.canonical import (
    Check,
    DailyValues,
    FileDescription,
    KeptRecords,
    PeriodValues,
    ReadLimits,
    ReportsWarnings,
    Run,
    Stated,
    UnplacedRecord,
    Warnings,
    kept_size,
)
from ledger.flows.compression import readable
from ledger.flows.idd import (
    IddHeader,
    IddReader,
    IddRecord,
    InvalidField,
    envelope_checks,
    is_whole_number,
    parse_decimal,
)
from ledger.flows.portal_names import name_disagreements, portal_name
from ledger.flows.record_layouts import FlowLayout, RecordLayout, layout_for, measure_units

__all__ = [
    "FLOWS",
    "ROLES",
    "DailyValues",
    "PeriodValues",
    "ReportItem",
    "SettlementReport",
    "SettlementReportError",
    "SettlementReportHeader",
    "UnplacedRecord",
    "parse_settlement_report",
]


@dataclass(frozen=True, slots=True)
class Roles:
    """Which record of a sub-flow plays which part (the IDD's hierarchy, by record id)."""

    daily: str  # the party's daily charges
    period_header: str  # opens a party's settlement period
    party_period: str  # the party's period charges
    system_period: str  # system data for the period (a copy under every party in S0142)
    bm_unit: str  # opens a BM Unit's settlement period
    party_header: str | None = None  # opens a party (S0142 only)
    system_header: str | None = None  # the system block's period record (S0142 only)
    system_bm_unit: str | None = None  # a BM Unit's values in the system block (S0142 only)


ROLES: dict[str, Roles] = {
    "S0141": Roles("APC", "SPH", "PPC", "SSD", "BPD"),
    "S0142": Roles("APC", "SP7", "PPC", "SSD", "BP7", "BPH", "SPI", "BPI"),
    "S0144": Roles("AVC", "SVH", "PVC", "SVD", "VPD"),
}
FLOWS = tuple(ROLES)
_DECIMAL_CHARS = "0123456789.-"


class SettlementReportError(LedgerError, ValueError):
    """A settlement report's content is invalid; the message says where (flow, party, line)."""


@dataclass(frozen=True, slots=True)
class SettlementReportHeader:
    """The SRH record: the version keys of everything in the report."""

    settlement_date: date
    run_type: RunType
    saa_run_number: int
    saa_cdca_run_number: int | None
    svaa_cdca_settlement_date: date | None
    svaa_cdca_run_number: int | None
    svaa_ssr_run_number: int | None
    bsc_party_id: str | None


ReportItem = PeriodValues | DailyValues | UnplacedRecord  # what a report yields


def _each_subject_period_once(flow: str, items: Iterator[ReportItem]) -> Iterator[ReportItem]:
    """The items, refusing a subject-period (or a party's day) that the file carries twice,
    however far apart.

    One dict of periods per subject: about 8,000 subjects in an all-parties S0142, so the
    memory this takes stays small whatever the file's size.
    """
    seen: dict[str, dict[int, int]] = {}
    for item in items:
        if isinstance(item, PeriodValues | DailyValues):
            period = item.settlement_period if isinstance(item, PeriodValues) else 0
            periods = seen.setdefault(item.subject, {})
            first = periods.setdefault(period, item.record_position)
            if first != item.record_position:
                what = f"settlement period {period}" if period else "daily charges"
                raise SettlementReportError(
                    f"{flow} carries {item.subject} {what} twice, on line {first} and again on "
                    f"line {item.record_position}; a report gives each subject-period once"
                )
        yield item


class SettlementReport(ReportsWarnings):
    """An SAA-I014 report: ``header`` and ``srh`` are read eagerly, ``items()`` streams the rest.

    Envelope errors (record count, checksum, truncation) surface only when ``items()`` is
    exhausted, so a consumer must commit its writes only after that, without an error.
    ``warnings`` lists commercially suspicious but not fatal findings (complete once
    ``items()`` is exhausted).
    """

    def __init__(
        self, reader: IddReader, stated: Stated | None = None, limits: ReadLimits | None = None
    ) -> None:
        self.limits = limits or ReadLimits()
        self.header: IddHeader = reader.header
        flow = self.header.flow_id
        self._stated = stated if stated is not None else Stated()
        self._stated.flow = flow
        if flow not in FLOWS:
            raise SettlementReportError(
                f"file type {excerpt(self.header.file_type)} is not an SAA-I014 settlement report "
                f"(expected {', '.join(FLOWS)})"
            )
        reader.flow_label = flow
        self._reader = reader
        self.flow = flow
        self.roles = ROLES[flow]
        self.found = Warnings(self.limits.max_warnings)
        try:
            self.layout, nearest = layout_for(self.header.file_type)
        except LedgerError as exc:
            raise SettlementReportError(str(exc)) from None
        self._read_with_another_layout = nearest is not None
        if nearest is not None:
            self._warn("a newer layout version read with an older one", nearest)
        self._settlement_date: date | None = None
        self._records: Iterator[IddRecord] | None = iter(reader)
        first = next(self._records, None)
        if first is None or first.record_type != "SRH":
            found = "the trailer" if first is None else repr(first.record_type)
            raise SettlementReportError(
                f"{flow} line 2: expected the SRH settlement report header, found {found}"
            )
        self.srh = self._parse_srh(first)
        self._settlement_date = self.srh.settlement_date
        self._periods = periods_in_day(self.srh.settlement_date)
        # The creation time breaks ties between deliveries of one run: it must be believable.
        limits = self.limits
        future = refused_after_arrival(
            "the AAA header's creation time",
            self.header.creation_time,
            limits.arrival,
            limits.future_tolerance,
        )
        if future is not None:
            raise self._error(1, "AAA", future)

    @property
    def record_count(self) -> int:
        """Records in the file including AAA and ZZZ, once ``items()`` has been exhausted."""
        count = self._reader.record_count
        if count is None:
            raise RuntimeError("the record count is known only once items() is exhausted")
        return count

    @property
    def description(self) -> FileDescription:
        """What the report is: its flow, its settlement date and the run of every value in it."""
        srh, header = self.srh, self.header
        return FileDescription(
            format=FORMAT.name,
            flow=header.flow_id,
            flow_version=header.flow_version,
            file_creation_time=header.creation_time,
            settlement_date=srh.settlement_date,
            run=Run(srh.settlement_date, srh.run_type, srh.saa_run_number, header.creation_time),
            bsc_party_id=srh.bsc_party_id,
            sender=header.from_participant,
        )

    @property
    def checks(self) -> list[Check]:
        """What validation applied to the report, once ``items()`` has been exhausted: a
        defect in any of them refuses the file, so each passed unless it says otherwise."""
        file_type, layout = self.header.file_type, self.layout.file_type
        version = (
            Check(
                "layout version",
                "warning",
                f"{file_type} has no layout of its own: read with {layout}'s, the nearest "
                "earlier version, its extra fields kept unread",
            )
            if self._read_with_another_layout
            else Check("layout version", "passed", f"{file_type} is read with its own layout")
        )
        day = self.srh.settlement_date
        return [
            *envelope_checks(self._reader),
            version,
            Check(
                "day length",
                "passed",
                f"settlement date {day.isoformat()} has {self._periods} periods; every period "
                "the file gives is one of them",
            ),
            Check(
                "duplicates",
                "passed",
                "each subject-period, and each party's daily charges, is given once",
            ),
        ]

    @property
    def checksum(self) -> int:
        """The file's verified checksum, once ``items()`` has been exhausted."""
        checksum = self._reader.checksum
        if checksum is None:
            raise RuntimeError("the checksum is known only once items() is exhausted")
        return checksum

    # -- errors -------------------------------------------------------------------------------

    def _error(
        self,
        position: int,
        record_type: str,
        message: str,
        party: str | None = None,
        period: int | None = None,
        settlement_date: date | None = None,
    ) -> SettlementReportError:
        where = [record_type]
        if party:
            where.append(f"party {party}")
        if settlement_date is None:
            settlement_date = self._settlement_date
        if settlement_date is not None:
            where.append(f"settlement date {settlement_date.isoformat()}")
        if period is not None:
            where.append(f"period {period}")
        return SettlementReportError(f"{self.flow} line {position} ({', '.join(where)}): {message}")

    def _warn(self, kind: str, message: str) -> None:
        self.found.add(kind, message)

    # -- header fields --------------------------------------------------------------------------

    def _date(self, text: str, what: str, rec: IddRecord, optional: bool = False) -> date | None:
        if not text and optional:
            return None
        try:
            if len(text) != 8 or not text.isdigit():
                raise ValueError
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            raise self._error(
                rec.position,
                rec.record_type,
                f"{what} {excerpt(text)} is not a valid date (YYYYMMDD)",
            ) from None

    def _int(self, text: str, what: str, rec: IddRecord, sd: date | None) -> int | None:
        if not text:
            return None
        if not is_whole_number(text):
            raise self._error(
                rec.position,
                rec.record_type,
                f"{what} {excerpt(text)} is not a whole number",
                settlement_date=sd,
            )
        return int(text)

    def _parse_srh(self, rec: IddRecord) -> SettlementReportHeader:
        fields = rec.fields + [""] * (8 - len(rec.fields))
        self._state_party(fields[7])
        sd = self._date(fields[0], "settlement date", rec)
        assert sd is not None
        self._stated.saw_date(sd)
        try:
            run_type = RunType.parse_settlement_run(fields[1])
        except LedgerError as exc:
            raise self._error(rec.position, rec.record_type, str(exc), settlement_date=sd) from exc
        saa_run = self._int(fields[2], "SAA run number", rec, sd)
        if saa_run is None:
            raise self._error(
                rec.position, rec.record_type, "SAA run number is missing", settlement_date=sd
            )
        party = self._party(fields[7], rec, sd) if fields[7] else None
        if party is None and self.flow != "S0142":
            raise self._error(
                rec.position,
                rec.record_type,
                f"an {self.flow} header must name the BSC Party (field 8)",
                settlement_date=sd,
            )
        return SettlementReportHeader(
            settlement_date=sd,
            run_type=run_type,
            saa_run_number=saa_run,
            saa_cdca_run_number=self._int(fields[3], "SAA CDCA run number", rec, sd),
            svaa_cdca_settlement_date=self._date(
                fields[4], "SVAA CDCA settlement date", rec, optional=True
            ),
            svaa_cdca_run_number=self._int(fields[5], "SVAA CDCA run number", rec, sd),
            svaa_ssr_run_number=self._int(fields[6], "SVAA SSR run number", rec, sd),
            bsc_party_id=party,
        )

    def _state_party(self, text: str) -> None:
        """The header's BSC Party, as stated, whatever else of the header fails: an S0141 or
        S0144 is about that one party (an S0142 about every party, whoever receives it)."""
        try:
            party = bsc_party_id(text) if text else None
        except LedgerError:
            return
        if party is not None:
            self._stated.bsc_party_id = party
            if self.flow != "S0142":
                self._stated.saw_subject(f"party:{party}")

    def _party(self, text: str, rec: IddRecord, sd: date | None = None) -> str:
        try:
            return bsc_party_id(text)
        except LedgerError as exc:
            raise self._error(rec.position, rec.record_type, str(exc), settlement_date=sd) from exc

    # -- body -----------------------------------------------------------------------------------

    def _period(self, rec: IddRecord, party: str | None) -> int:
        text = rec.fields[0] if rec.fields else ""
        if not is_whole_number(text):
            raise self._error(
                rec.position,
                rec.record_type,
                f"settlement period {excerpt(text)} is not a whole number",
                party,
            )
        period = int(text)
        if not 1 <= period <= self._periods:
            try:
                check_settlement_period(self.srh.settlement_date, period)
            except LedgerError as exc:
                raise self._error(rec.position, rec.record_type, str(exc), party) from exc
        return period

    def items(self) -> Iterator[ReportItem]:
        """Yield the report's items in file order (once: the stream is consumed)."""
        records = self._records
        if records is None:
            raise RuntimeError("a settlement report's items can be read only once")
        self._records = None
        return _each_subject_period_once(self.flow, self._items(records))

    def _items(self, records: Iterator[IddRecord]) -> Iterator[ReportItem]:
        parser = _BodyParser(self)
        handler = parser.handlers.get
        closer = parser.closes.get
        keep = parser.keep
        for rec in records:
            record_type = rec.record_type
            # The open items are completed before the record is read, so that they come out
            # even when the record turns out to be invalid.
            close = closer(record_type)
            if close is not None:
                yield from close()
            item = handler(record_type, keep)(rec)
            if item is not None:
                yield item
        yield from parser.end()

    def _bph(self, rec: IddRecord) -> str:
        fields = rec.fields + [""] * (8 - len(rec.fields))
        srh = self.srh
        if not fields[7]:
            raise self._error(rec.position, rec.record_type, "BPH record names no BSC Party")
        party = self._party(fields[7], rec)
        sd = self._date(fields[0], "settlement date", rec)
        if sd != srh.settlement_date:
            raise self._error(
                rec.position,
                rec.record_type,
                f"settlement date {excerpt(fields[0])} differs from the report header's",
                party,
            )
        if fields[1] != srh.run_type.value:
            raise self._error(
                rec.position,
                rec.record_type,
                f"run type {excerpt(fields[1])} differs from the report header's "
                f"{srh.run_type.value}",
                party,
            )
        if fields[2] != str(srh.saa_run_number):
            self._warn(
                "party headers with another SAA run number",
                f"{self.flow} line {rec.position}: party {party} header carries SAA run number "
                f"{excerpt(fields[2])}, the report header {srh.saa_run_number}",
            )
        return party


class _Decoder:
    """Reads one record type's fields by its layout: decimals as values, the rest as text.

    Blank fields (absent optional values) are left out. Fields beyond the layout (a newer
    version read by an older layout) are returned as they are, to be kept.
    """

    __slots__ = ("decimals", "texts", "width")

    def __init__(self, layout: RecordLayout, *, identity: int = 0) -> None:
        # ``identity``: leading positions that name the item (a period, a BM Unit id) and are
        # therefore not values of it.
        fields = [f for f in layout.fields if f.position > identity]
        # A field no source identifies ("?") is kept as text, never read as a value.
        read = [f for f in fields if f.is_decimal and f.status != "?"]
        self.decimals = tuple((f.position - 1, f.name) for f in read)
        self.texts = tuple((f.position - 1, f.name) for f in fields if f not in read)
        self.width = len(layout.fields)

    def values(self, fields: list[str], fail: Callable[[str], SettlementReportError]) -> Measures:
        """The decimal fields, kept as the file writes them (checked to be decimals): the IDD
        writes each value one way, and the text travels to events and views unchanged."""
        texts: dict[str, str] = {}
        n = len(fields)
        for i, name in self.decimals:
            if i < n and (text := fields[i]):
                # Inline fast path of parse_decimal; it is called only to report the error.
                if not text.strip(_DECIMAL_CHARS):
                    try:
                        Decimal(text)
                    except InvalidOperation:
                        pass
                    else:
                        texts[name] = text
                        continue
                try:
                    texts[name] = str(parse_decimal(text, name))
                except InvalidField as exc:
                    raise fail(f"field {i + 1}: {exc}") from None
        return Measures.from_text(texts)

    def texts_of(self, fields: list[str]) -> dict[str, str]:
        n = len(fields)
        return {name: fields[i] for i, name in self.texts if i < n and fields[i]}


def _homes(layout: FlowLayout, roles: Roles) -> dict[str, str]:
    """Where each record type of the layout belongs: under a BM Unit, a party's period, the
    system block or the party's day, by climbing its parents in the IDD hierarchy."""
    anchors = {
        roles.bm_unit: "bm_unit",
        roles.period_header: "period",
        roles.party_period: "period",
        roles.system_period: "period",
    }
    if roles.system_header:
        anchors[roles.system_header] = "system"
    homes: dict[str, str] = {}
    for record_type in layout.records:
        current: str | None = record_type
        seen: set[str] = set()
        while current is not None and current not in anchors and current not in seen:
            seen.add(current)
            parent = layout.record(current)
            current = parent.parent if parent is not None else None
        homes[record_type] = anchors.get(current or "", "file")
    return homes


class _Open:
    """An item being read: a subject's values for one period (0 for a party's day), and the
    records kept with it (keyed by record type and line: unique, in file order, and linear in
    the file) with what they take in memory."""

    __slots__ = ("attributes", "kept", "kept_size", "period", "position", "subject", "values")

    def __init__(self, subject: str, period: int, position: int) -> None:
        self.subject = subject
        self.period = period
        self.position = position
        self.values: Measures = Measures()
        self.attributes: dict[str, str] = {}
        self.kept: dict[str, list[str]] = {}
        self.kept_size = 0

    def item(self) -> PeriodValues:
        return PeriodValues(
            self.subject,
            self.period,
            self.values,
            self.attributes,
            self.kept,
            self.position,
            kept_size=self.kept_size,
        )

    def holder(self) -> str:
        """What keeps the records, in a message: ``settlement period 3 of the system``."""
        subject = "the system" if self.subject == "system" else self.subject
        if not self.period:
            return f"the daily charges of {subject}"
        return f"settlement period {self.period} of {subject}"


_MASK64 = (1 << 64) - 1


def _kept_key(rec: IddRecord) -> str:
    """How a kept record is keyed: its type and line, unique and in file order."""
    return f"{rec.record_type}@{rec.position}"


def _is_decimal(text: str) -> bool:
    """Blank, or a decimal as the IDD writes it (digits, one point, a leading minus)."""
    if not text:
        return True
    if text.strip(_DECIMAL_CHARS):
        return False
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return True


def _at(fields: list[str], positions: tuple[int, ...]) -> tuple[str, ...]:
    """The fields at ``positions`` (blank where a line is shorter)."""
    n = len(fields)
    return tuple([fields[i] if i < n else "" for i in positions])


class _BodyParser:
    """The state of one pass over a report's body, and a handler per record type.

    At most one party period and one BM Unit period are open at a time; a record that starts
    a new context (:meth:`closes`) completes them first, so they come out even when that
    record turns out to be invalid. System items wait, per period, for the period's first
    system data (``SSD``) after the system block's ``SPI``.
    """

    def __init__(self, report: SettlementReport) -> None:
        self.report = report
        roles = report.roles
        self.roles = roles
        layout = report.layout
        self.homes = _homes(layout, roles)
        self.party = report.srh.bsc_party_id if roles.party_header is None else None
        self.period: int | None = None
        self.party_item: _Open | None = None
        self.unit_item: _Open | None = None
        self.units: set[str] = set()  # BM Unit ids already checked
        self.spi: _Open | None = None  # the system block's open period
        self.pending_system: dict[int, _Open] = {}  # SPI items waiting for their SSD
        self.first_ssd: dict[int, tuple[int, list[str]]] = {}
        # BPI lines by unit and period: (line << 64) | digest of the values BP7 repeats.
        self.bpi_seen: dict[str, dict[int, int]] = {}
        self.unconfirmed_units = 0
        self.bpi_lines = 0
        # Records whose first field names the item (a BM Unit, a period): not a value of it.
        named = {roles.bm_unit, roles.system_header, roles.system_bm_unit}
        self.decoders = {
            record_type: _Decoder(record, identity=1 if record_type in named else 0)
            for record_type, record in layout.records.items()
        }
        self.confirm = self._confirmed_names()
        self.confirm_at = self._confirmed_positions()
        self.unit_digest = 0  # of the open BM Unit's values that BPI repeats
        # What is kept without being interpreted, bounded as it streams (ReadLimits).
        self.kept = KeptRecords(report.limits)
        self.handlers = self._handlers()
        self.closes = self._closers()

    def _confirmed_names(self) -> tuple[str, ...]:
        """The values a BPI line repeats from its unit's BP7 line (same IDD names in both)."""
        roles = self.roles
        if roles.system_bm_unit is None:
            return ()
        bpi = self.decoders.get(roles.system_bm_unit)
        unit = self.decoders.get(roles.bm_unit)
        if bpi is None or unit is None:
            return ()
        names = {name for _, name in unit.decimals}
        return tuple(name for _, name in bpi.decimals if name in names)

    def _confirmed_positions(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Where the repeated values sit in a BPI line and in a BP7 line (0-based)."""
        roles = self.roles
        layouts = self.report.layout
        if not self.confirm or roles.system_bm_unit is None:
            return (), ()
        bpi = layouts.record(roles.system_bm_unit)
        unit = layouts.record(roles.bm_unit)
        assert bpi is not None and unit is not None
        return (
            tuple(bpi.position(name) - 1 for name in self.confirm),
            tuple(unit.position(name) - 1 for name in self.confirm),
        )

    def _handlers(self) -> dict[str, Callable[[IddRecord], ReportItem | None]]:
        roles = self.roles
        handlers: dict[str, Callable[[IddRecord], ReportItem | None]] = {
            roles.daily: self.daily,
            roles.period_header: self.period_header,
            roles.party_period: self.party_period,
            roles.system_period: self.system_period,
            roles.bm_unit: self.bm_unit,
            "SRH": self.srh,
        }
        if roles.party_header:
            handlers[roles.party_header] = self.party_header
        if roles.system_header:
            handlers[roles.system_header] = self.system_header
        if roles.system_bm_unit:
            handlers[roles.system_bm_unit] = self.system_bm_unit
        return handlers

    def _closers(self) -> dict[str, Callable[[], list[PeriodValues]]]:
        roles = self.roles
        closes = {roles.bm_unit: self.close_unit, roles.period_header: self.close_period}
        for record_type in (roles.party_header, roles.daily, roles.system_header, "SRH"):
            if record_type:
                closes[record_type] = self.close_all
        return closes

    def _error(self, rec: IddRecord, message: str) -> SettlementReportError:
        # In the system block, the period is the open SPI's.
        period = self.period if self.period is not None or self.spi is None else self.spi.period
        return self.report._error(rec.position, rec.record_type, message, self.party, period)

    def _failing(self, rec: IddRecord) -> Callable[[str], SettlementReportError]:
        return lambda message: self._error(rec, message)

    # -- completing items -------------------------------------------------------------------

    def close_unit(self) -> list[PeriodValues]:
        unit = self.unit_item
        if unit is None:
            return []
        self.unit_item = None
        if self.confirm:
            self._confirm(unit)
        return [unit.item()]

    def close_period(self) -> list[PeriodValues]:
        items = self.close_unit()
        party = self.party_item
        if party is not None:
            self.party_item = None
            items.append(party.item())
        return items

    def close_all(self) -> list[PeriodValues]:
        self.spi = None
        self.period = None
        return self.close_period()

    def end(self) -> list[PeriodValues]:
        """After the last record: the open items, then the system items of SPI records whose
        period never had system data (by period)."""
        items = self.close_all()
        items.extend(self.pending_system.pop(p).item() for p in sorted(self.pending_system))
        self._report_unmatched_bpi()
        return items

    # -- the system block (S0142) -----------------------------------------------------------

    def system_header(self, rec: IddRecord) -> None:
        """SPI: the system's prices and volumes for a period; opens the system block's period."""
        report = self.report
        period = report._period(rec, None)
        if period in self.first_ssd or period in self.pending_system:
            raise report._error(
                rec.position, rec.record_type,
                f"a second {rec.record_type} record, or one after the period's system data",
                None, period,
            )  # fmt: skip
        item = _Open("system", period, rec.position)
        self.spi = item  # before reading its fields, so an error names its period
        decoder = self.decoders[rec.record_type]
        item.values = decoder.values(rec.fields, self._failing(rec))
        item.attributes = decoder.texts_of(rec.fields)
        self._keep_beyond(decoder, rec, item)
        self.pending_system[period] = item

    def system_bm_unit(self, rec: IddRecord) -> None:
        """BPI: a BM Unit's period values in the system block, which its BP7 must repeat."""
        spi = self.spi
        if spi is None:
            raise self._error(rec, f"{rec.record_type} record outside the system block")
        unit = self._unit_id(rec)
        fields = rec.fields
        texts = _at(fields, self.confirm_at[0])
        if not all(_is_decimal(text) for text in texts):
            # Read as values only to say what is wrong (the decoder raises).
            self.decoders[rec.record_type].values(fields, self._failing(rec))
        # The IDD prints a decimal one way (no trailing zeros), so equal text is equal value.
        digest = hash(texts) & _MASK64
        periods = self.bpi_seen.setdefault(unit, {})
        if spi.period in periods:
            raise self._error(
                rec, f"BM Unit {unit} appears twice in period {spi.period} of the system block "
                f"(lines {periods[spi.period] >> 64} and {rec.position})",
            )  # fmt: skip
        periods[spi.period] = (rec.position << 64) | digest
        self.bpi_lines += 1

    def _confirm(self, unit: _Open) -> None:
        """Compare a BM Unit's BP7 values with the BPI line of the system block."""
        seen = self.bpi_seen.get(unit.subject[4:])
        packed = seen.pop(unit.period, None) if seen is not None else None
        if packed is None:
            self.unconfirmed_units += 1
            return
        if self.unit_digest != packed & _MASK64:
            report = self.report
            report._warn(
                "BM Unit periods not repeating the system block's values",
                f"{report.flow} line {unit.position}: {unit.subject} period {unit.period} "
                f"does not repeat the system block's values on line {packed >> 64} "
                f"({', '.join(self.confirm)}); the BM Unit's own record was kept",
            )

    def _report_unmatched_bpi(self) -> None:
        report = self.report
        left = [(line >> 64) for periods in self.bpi_seen.values() for line in periods.values()]
        if left:
            report._warn(
                "system block periods without a BM Unit record",
                f"{report.flow}: {len(left)} BM Unit periods of the system block have no BM "
                f"Unit record of their own (first on line {min(left)}); they are in the stored "
                "file only",
            )
        if self.unconfirmed_units and self.bpi_lines:
            report._warn(
                "BM Unit periods without a system block line",
                f"{report.flow}: {self.unconfirmed_units} BM Unit periods have no line in the "
                "system block to confirm their values",
            )

    # -- parties and their periods ----------------------------------------------------------

    def party_header(self, rec: IddRecord) -> None:
        """BPH: the party whose records follow (S0142)."""
        self.party = self.report._bph(rec)

    def daily(self, rec: IddRecord) -> DailyValues:
        """APC (AVC): the party's daily charges."""
        if self.party is None:
            raise self._error(rec, f"{rec.record_type} record before any party")
        decoder = self.decoders.get(rec.record_type)
        if decoder is None:
            raise self._error(
                rec, f"{rec.record_type} has no layout in {self.report.layout.file_type}"
            )
        day = _Open(f"party:{self.party}", 0, rec.position)
        self._keep_beyond(decoder, rec, day)
        values = decoder.values(rec.fields, self._failing(rec))
        return DailyValues(day.subject, values, day.kept, rec.position, day.kept_size)

    def period_header(self, rec: IddRecord) -> None:
        """SP7 (SPH, SVH): opens the party's settlement period."""
        if self.party is None:
            raise self.report._error(
                rec.position, rec.record_type, f"{rec.record_type} record before any party"
            )
        self.spi = None
        self.period = self.report._period(rec, self.party)
        item = _Open(f"party:{self.party}", self.period, rec.position)
        self._keep_beyond(self.decoders[rec.record_type], rec, item)
        self.party_item = item

    def party_period(self, rec: IddRecord) -> None:
        """PPC (PVC): the party's charges for the open period."""
        item = self.party_item
        if item is None:
            raise self._error(rec, f"{rec.record_type} record outside a settlement period")
        if item.values:
            raise self._error(rec, f"second {rec.record_type} record in the period")
        decoder = self.decoders[rec.record_type]
        item.values = decoder.values(rec.fields, self._failing(rec))
        self._keep_beyond(decoder, rec, item)

    def system_period(self, rec: IddRecord) -> PeriodValues | None:
        """SSD (SVD): the period's system data; its first copy completes the system item."""
        period = self.period
        if period is None:
            raise self._error(rec, f"{rec.record_type} record outside a settlement period")
        first = self.first_ssd.get(period)
        if first is not None:
            if first[1] != rec.fields:
                self._differing_copy(rec, first[0])
            return None
        self.first_ssd[period] = (rec.position, rec.fields)
        decoder = self.decoders[rec.record_type]
        item = self.pending_system.pop(period, None) or _Open("system", period, rec.position)
        values = decoder.values(rec.fields, self._failing(rec))
        self._merge(item, values, decoder.texts_of(rec.fields), rec)
        self._keep_beyond(decoder, rec, item)
        return item.item()

    def _merge(self, item: _Open, values: Measures, texts: dict[str, str], rec: IddRecord) -> None:
        """The period's system data over what the system block said (SSD's names are the IDD
        Part 1 items); a value the two give differently is a warning."""
        held = item.values
        differ = [n for n in values if n in held and held[n] != values[n]]
        differ += [n for n, t in texts.items() if n in item.attributes and item.attributes[n] != t]
        if differ:
            report = self.report
            report._warn(
                "system data differing from the system block",
                f"{report.flow} line {rec.position}: system data for period {item.period} "
                f"differs from the system block (line {item.position}) in {', '.join(differ)}; "
                f"the {rec.record_type} values were kept",
            )
        item.values = Measures.from_text(held.as_text() | values.as_text())
        item.attributes.update(texts)

    def _differing_copy(self, rec: IddRecord, first: int) -> None:
        report = self.report
        report._warn(
            "copies of system data differing from the first",
            f"{report.flow} line {rec.position}: system data ({rec.record_type}) for settlement "
            f"date {report.srh.settlement_date.isoformat()} period {self.period} under party "
            f"{self.party} differs from the first copy in the file (line {first}); the first "
            "was kept",
        )

    # -- BM Units ---------------------------------------------------------------------------

    def _unit_id(self, rec: IddRecord) -> str:
        unit = rec.fields[0] if rec.fields else ""
        if unit not in self.units:
            try:
                unit = bm_unit_id(unit)
            except LedgerError as exc:
                raise self._error(rec, str(exc)) from exc
            self.units.add(unit)
        return unit

    def bm_unit(self, rec: IddRecord) -> None:
        """BP7 (BPD, VPD): a BM Unit's values for the party's open period."""
        if self.party_item is None or self.period is None or self.party is None:
            raise self._error(rec, f"{rec.record_type} record outside a settlement period")
        unit = self._unit_id(rec)
        item = _Open("bmu:" + unit, self.period, rec.position)
        decoder = self.decoders[rec.record_type]
        item.values = decoder.values(rec.fields, self._failing(rec))
        item.attributes = {"bsc_party_id": self.party, **decoder.texts_of(rec.fields)}
        if self.confirm:
            self.unit_digest = hash(_at(rec.fields, self.confirm_at[1])) & _MASK64
        self._keep_beyond(decoder, rec, item)
        self.unit_item = item

    # -- everything else --------------------------------------------------------------------

    def srh(self, rec: IddRecord) -> None:
        """SRH after the second line: a report has one header, so a second one is refused."""
        raise self._error(rec, "unexpected SRH record")

    def keep(self, rec: IddRecord) -> UnplacedRecord | None:
        """A record the ledger does not interpret: kept, with its line, on the item it belongs
        to by the IDD's hierarchy (else the innermost open one), or on its own."""
        home = self.homes.get(rec.record_type)
        if home == "bm_unit" and self.unit_item is not None:
            self._keep_on(self.unit_item, rec, rec.fields)
        elif home == "period" and self.party_item is not None:
            self._keep_on(self.party_item, rec, rec.fields)
        elif home == "system" and self.spi is not None:
            self._keep_on(self.spi, rec, rec.fields)
        else:
            target = self.unit_item or self.party_item or self.spi
            if target is None:
                if self.kept.on_its_own(rec.record_type, rec.fields):
                    raise self._error(rec, self.kept.refusal_on_its_own())
                return UnplacedRecord(rec.position, rec.record_type, rec.fields)
            self._keep_on(target, rec, rec.fields)
        return None

    def _keep_beyond(self, decoder: _Decoder, rec: IddRecord, item: _Open) -> None:
        """Fields past the layout (a newer version read by an older one), kept with ``item``."""
        if len(rec.fields) > decoder.width:
            self._keep_on(item, rec, rec.fields[decoder.width :])

    def _keep_on(self, item: _Open, rec: IddRecord, fields: list[str]) -> None:
        """Keep ``fields`` of ``rec`` with ``item``; refuse the file, before memory grows, once
        the item or the file keeps more than the limits allow."""
        kept = item.kept
        kept[_kept_key(rec)] = fields
        item.kept_size += kept_size(fields)
        records = self.kept
        records.in_file += 1
        if records.over(len(kept), item.kept_size):
            types = Counter(key.partition("@")[0] for key in kept)
            raise self._error(rec, f"{item.holder()} {records.refusal(types, item.kept_size)}")


def parse_settlement_report(
    stream: IO[bytes],
    *,
    file_name: str | None = None,
    stated: Stated | None = None,
    limits: ReadLimits | None = None,
) -> SettlementReport:
    """Read an S0141, S0142 or S0144 settlement report from a binary stream, gzipped or not.

    The header and SRH are read at once; iterate ``items()`` for the rest, and commit only
    once it is exhausted without an error (the checksum is verified at the end). A
    ``file_name`` in the portal's form that the file's own header contradicts is a warning.
    ``stated`` is kept up with the header's flow, BSC Party and settlement date as they are
    read (see :class:`ledger.flows.canonical.Stated`).
    """
    reader = IddReader(readable(stream, label="settlement report"), flow_label="settlement report")
    report = SettlementReport(reader, stated, limits)
    name = portal_name(file_name) if file_name else None
    if name is not None:
        disagree = name_disagreements(
            name,
            flow=report.flow,
            settlement_date=report.srh.settlement_date,
            run_type=str(report.srh.run_type),
            creation_time=report.header.creation_time,
        )
        if disagree:
            report._warn(
                "a portal file name the header contradicts",
                f"the file is named {file_name!r} as the portal names reports, but the name "
                f"says {'; '.join(disagree)}",
            )
    return report


class SettlementReportFormat:
    """The SAA-I014 settlement reports (S0141, S0142, S0144): an IDD ``AAA`` header naming one
    of them."""

    name = "saa-i014"
    _starts = tuple(f"AAA|{flow}".encode() for flow in FLOWS)

    @property
    def units(self) -> Mapping[str, str]:
        """From the layouts' IDD types (``ledger/flows/layouts/saa_i014.toml``)."""
        return measure_units()

    def recognises(self, head: bytes) -> bool:
        return head.startswith(self._starts)

    def read(
        self,
        stream: IO[bytes],
        *,
        file_name: str | None = None,
        stated: Stated | None = None,
        limits: ReadLimits | None = None,
    ) -> SettlementReport:
        return parse_settlement_report(stream, file_name=file_name, stated=stated, limits=limits)


FORMAT = SettlementReportFormat()
