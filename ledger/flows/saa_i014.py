"""SAA-I014 Settlement Report (S0141, S0142, S0144): a one-pass, constant-memory parser.

Items stream in file order; the envelope (record count, checksum) is verified at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import IO

from ledger.domain.errors import LedgerError
from ledger.domain.identifiers import bm_unit_id, bsc_party_id
from ledger.domain.plain_text import excerpt
from ledger.domain.runs import RunType
from ledger.domain.settlement_time import check_settlement_period, periods_in_day
from ledger.flows.idd import (
    IddHeader,
    IddReader,
    IddRecord,
    InvalidField,
    is_whole_number,
    parse_decimal,
)

__all__ = [
    "APC_NAMES_V008",
    "APC_NAMES_V009",
    "FLOWS",
    "PPC_NAMES",
    "SSD_NAMES",
    "DailyValues",
    "PeriodValues",
    "ReportItem",
    "SettlementReport",
    "SettlementReportError",
    "SettlementReportHeader",
    "UnplacedRecord",
    "parse_settlement_report",
]

FLOWS = ("S0141", "S0142", "S0144")
APC_NAMES_V008 = (
    "bssc_limited_cost_allocation",
    "bm_unit_cashflow",
    "energy_imbalance_cashflow",
    "information_imbalance_cashflow",
    "non_delivery_charge",
    "residual_cashflow_reallocation_charge",
    "daily_so_bm_cashflow",
)
APC_NAMES_V009 = (*APC_NAMES_V008[:6], "daily_system_operator_cashflow")
PPC_NAMES = APC_NAMES_V008[:6]
SSD_NAMES = (
    "period_bssc_limited_costs",
    "so_bm_cashflow",
    "information_imbalance_price_1",
    "information_imbalance_price_2",
    "system_buy_price",
    "system_sell_price",
)
_PRICE_DERIVATION_CODE = "price_derivation_code"
_MAX_WARNINGS = 20
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


@dataclass(frozen=True, slots=True)
class PeriodValues:
    """Values of one subject (``system``, ``party:X``, ``bmu:X``) for one settlement period.

    ``unconfirmed`` keeps, by record type (``BPI``, then ``BPI.1``, ... for repeats), the raw
    fields whose meaning is not confirmed: preserved, never dropped.
    """

    subject: str
    settlement_period: int
    values: dict[str, Decimal]
    attributes: dict[str, str]
    unconfirmed: dict[str, list[str]]
    record_position: int


@dataclass(frozen=True, slots=True)
class DailyValues:
    """Daily (account period) values of one subject, from an APC record."""

    subject: str
    values: dict[str, Decimal]
    unconfirmed: dict[str, list[str]]
    record_position: int


@dataclass(frozen=True, slots=True)
class UnplacedRecord:
    """A record of unknown type outside any period context, kept as it was."""

    record_position: int
    record_type: str
    fields: list[str]


ReportItem = PeriodValues | DailyValues | UnplacedRecord


def _add_unconfirmed(target: dict[str, list[str]], record_type: str, fields: list[str]) -> None:
    if record_type not in target:
        target[record_type] = fields
        return
    n = 1
    while f"{record_type}.{n}" in target:
        n += 1
    target[f"{record_type}.{n}"] = fields


def _each_subject_period_once(flow: str, items: Iterator[ReportItem]) -> Iterator[ReportItem]:
    """The items, refusing a subject-period that the file carries twice, however far apart.

    One dict of periods per subject: about 8,000 subjects in an all-parties S0142, so the
    memory this takes stays small whatever the file's size.
    """
    seen: dict[str, dict[int, int]] = {}
    for item in items:
        if isinstance(item, PeriodValues):
            periods = seen.setdefault(item.subject, {})
            first = periods.setdefault(item.settlement_period, item.record_position)
            if first != item.record_position:
                raise SettlementReportError(
                    f"{flow} carries {item.subject} settlement period {item.settlement_period} "
                    f"twice, on line {first} and again on line {item.record_position}; a report "
                    "gives each subject-period once"
                )
        yield item


class SettlementReport:
    """An SAA-I014 report: ``header`` and ``srh`` are read eagerly, ``items()`` streams the rest.

    Envelope errors (record count, checksum, truncation) surface only when ``items()`` is
    exhausted, so a consumer must commit its writes only after that, without an error.
    ``warnings`` lists commercially suspicious but not fatal findings (complete once
    ``items()`` is exhausted).
    """

    def __init__(self, reader: IddReader) -> None:
        self.header: IddHeader = reader.header
        flow = self.header.flow_id
        if flow not in FLOWS:
            raise SettlementReportError(
                f"file type {excerpt(self.header.file_type)} is not an SAA-I014 settlement report "
                f"(expected {', '.join(FLOWS)})"
            )
        reader.flow_label = flow
        self._reader = reader
        self.flow = flow
        self.warnings: list[str] = []
        self._warning_count = 0
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
        version = self.header.flow_version
        self._apc_names = (
            APC_NAMES_V009 if flow == "S0141" and version.isdigit() and int(version) >= 9
            else APC_NAMES_V008
        )  # fmt: skip

    @property
    def record_count(self) -> int:
        """Records in the file including AAA and ZZZ, once ``items()`` has been exhausted."""
        count = self._reader.record_count
        if count is None:
            raise RuntimeError("the record count is known only once items() is exhausted")
        return count

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

    def _warn(self, message: str) -> None:
        self._warning_count += 1
        if self._warning_count <= _MAX_WARNINGS:
            self.warnings.append(message)

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
        sd = self._date(fields[0], "settlement date", rec)
        assert sd is not None
        try:
            run_type = RunType.parse(fields[1])
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

    def _party(self, text: str, rec: IddRecord, sd: date | None = None) -> str:
        try:
            return bsc_party_id(text)
        except LedgerError as exc:
            raise self._error(rec.position, rec.record_type, str(exc), settlement_date=sd) from exc

    # -- body -----------------------------------------------------------------------------------

    def _values(
        self,
        names: tuple[str, ...],
        fields: list[str],
        rec: IddRecord,
        party: str | None,
        period: int | None,
    ) -> dict[str, Decimal]:
        values: dict[str, Decimal] = {}
        for name, text in zip(names, fields, strict=False):
            if text:
                # Inline fast path of parse_decimal; it is called only to report the error.
                if not text.strip(_DECIMAL_CHARS):
                    try:
                        values[name] = Decimal(text)
                        continue
                    except InvalidOperation:
                        pass
                try:
                    parse_decimal(text, name)
                except InvalidField as exc:
                    raise self._error(
                        rec.position, rec.record_type, str(exc), party, period
                    ) from None
        return values

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
        other = parser.other
        for rec in records:
            record_type = rec.record_type
            # The open item is closed before the record is read, so that it comes out even
            # when the record turns out to be invalid. Yielded here rather than collected in a
            # list or tuple: this runs for most records of a file.
            if record_type in _STARTS_A_CONTEXT:
                closed = parser.close()
                if closed is not None:
                    yield closed
                    if parser.held is not None:
                        yield parser.release_held()
            item = handler(record_type, other)(rec)
            if item is not None:
                yield item
        yield from parser.end()
        if self._warning_count > _MAX_WARNINGS:
            self.warnings.append(
                f"{self._warning_count - _MAX_WARNINGS} further warnings were not listed"
            )

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
                f"{self.flow} line {rec.position}: party {party} header carries SAA run number "
                f"{excerpt(fields[2])}, the report header {srh.saa_run_number}"
            )
        return party


# The records that start a new context (a BM Unit, a party's period, system data, a party, its
# daily values; a second SRH is refused) and so close the open item before they are read. A
# BP7 outside a period is refused, but then nothing is open: closing first changes nothing.
_STARTS_A_CONTEXT = frozenset({"BP7", "SP7", "SPH", "SPI", "BPH", "APC", "SRH"})


class _BodyParser:
    """The state of one pass over a report's body, and a handler per record type.

    A handler reads one record and returns the item that record completes by itself, if
    any (daily values, a system item, an unplaced record); the items a new context completes
    come from :meth:`close`. The state lives in slots, not in generator locals, so that each
    record type can have a small method of its own: a slot costs little more than a local,
    and the dispatch allocates nothing per record.
    """

    __slots__ = (
        "b_attributes",
        "b_pos",
        "b_subject",
        "b_unconfirmed",
        "bm_units",
        "first_ssd",
        "handlers",
        "held",
        "p_pos",
        "p_unconfirmed",
        "p_values",
        "party",
        "party_subject",
        "pending_system",
        "period",
        "report",
        "spi_period",
    )

    def __init__(self, report: SettlementReport) -> None:
        self.report = report
        party = report.srh.bsc_party_id if report.flow != "S0142" else None
        self.party = party
        self.party_subject = f"party:{party}"
        self.period: int | None = None  # the party's current period context
        # The open party-period item (p_pos == 0: none open) and BM Unit item (b_subject None).
        # At most one is open: a BP7 closes the party-period item, an SP7 the BM Unit's.
        self.p_pos = 0
        self.p_values: dict[str, Decimal] | None = None
        self.p_unconfirmed: dict[str, list[str]] = {}
        self.b_subject: str | None = None
        self.b_pos = 0
        self.b_unconfirmed: dict[str, list[str]] = {}
        self.b_attributes: dict[str, str] = {}
        self.bm_units: set[str] = set()  # ids validated for the current party (bounded by party)
        # System data: SPI records waiting for their period's first SSD (at most one per
        # period), and each period's first SSD fields, to compare later copies with.
        self.spi_period: int | None = None
        self.pending_system: dict[int, tuple[int, dict[str, list[str]]]] = {}
        self.first_ssd: dict[int, list[str]] = {}
        # A period's system item waits for the open party-period item it was found in, so
        # items come out in the order their first records appear within the period.
        self.held: PeriodValues | None = None
        self.handlers: dict[str, Callable[[IddRecord], ReportItem | None]] = {
            "BPI": self.bpi,
            "BP7": self.bp7,
            "PPC": self.ppc,
            "SSD": self.ssd,
            "SP7": self.period_header,
            "SPH": self.period_header,
            "SPI": self.spi,
            "BPH": self.bph,
            "APC": self.apc,
            "SRH": self.srh,
        }

    def _error(self, rec: IddRecord, message: str, period: int | None) -> SettlementReportError:
        return self.report._error(rec.position, rec.record_type, message, self.party, period)

    def close(self) -> PeriodValues | None:
        """Complete the open BM Unit or party-period item and return it (None: none is open).

        The one place an item is completed from its records: before every record that starts
        a new context, and at the end of the file. A system item held for the party-period
        item stays in ``held``, for the caller to yield next (see :meth:`release_held`).
        """
        self.spi_period = None
        b_subject = self.b_subject
        if b_subject is not None:
            assert self.period is not None
            self.b_subject = None
            return PeriodValues(
                b_subject, self.period, {}, self.b_attributes, self.b_unconfirmed, self.b_pos
            )
        if not self.p_pos:
            return None
        assert self.period is not None
        p_pos = self.p_pos
        self.p_pos = 0
        return PeriodValues(
            self.party_subject, self.period, self.p_values or {}, {}, self.p_unconfirmed, p_pos
        )

    def release_held(self) -> PeriodValues:
        """The system item held for the party-period item just closed (it follows that item)."""
        held = self.held
        assert held is not None
        self.held = None
        return held

    def end(self) -> list[PeriodValues]:
        """After the last record: the open item, the system item held for it, then the system
        items of SPI records whose period never had an SSD (by period)."""
        items = []
        closed = self.close()
        if closed is not None:
            items.append(closed)
            if self.held is not None:
                items.append(self.release_held())
        # SPI records whose period never had an SSD still describe the system.
        for spi, (position, unconfirmed) in sorted(self.pending_system.items()):
            items.append(PeriodValues("system", spi, {}, {}, unconfirmed, position))
        return items

    def bpi(self, rec: IddRecord) -> None:
        """BPI, BM Unit period information: kept raw on the open BM Unit item."""
        if self.b_subject is None:
            raise self._error(rec, "BPI record without a BP7 before it", self.period)
        _add_unconfirmed(self.b_unconfirmed, "BPI", rec.fields)

    def bp7(self, rec: IddRecord) -> None:
        """BP7, a BM Unit's period header: opens the unit's item within the party's period."""
        if self.period is None or self.party is None:
            raise self._error(rec, "BP7 record outside a settlement period", self.period)
        fields = rec.fields
        unit = fields[0] if fields else ""
        if unit not in self.bm_units:
            try:
                unit = bm_unit_id(unit)
            except LedgerError as exc:
                raise self._error(rec, str(exc), self.period) from exc
            self.bm_units.add(unit)
        self.b_subject = "bmu:" + unit
        self.b_pos = rec.position
        self.b_attributes = {"bsc_party_id": self.party}
        self.b_unconfirmed = {"BP7": fields[1:]} if len(fields) > 1 else {}

    def ppc(self, rec: IddRecord) -> None:
        """PPC, party period charges: the values of the open party-period item."""
        if not self.p_pos:
            where = "after BM Unit records" if self.b_subject else "outside a settlement period"
            raise self._error(rec, f"PPC record {where}", self.period)
        if self.p_values is not None:
            raise self._error(rec, "second PPC record in the period", self.period)
        fields = rec.fields
        self.p_values = self.report._values(PPC_NAMES, fields, rec, self.party, self.period)
        if len(fields) > len(PPC_NAMES):
            _add_unconfirmed(self.p_unconfirmed, "PPC", fields[len(PPC_NAMES) :])

    def ssd(self, rec: IddRecord) -> PeriodValues | None:
        """SSD, system settlement data: the period's system item, from its first copy only."""
        period = self.period
        if period is None:
            raise self._error(rec, "SSD record outside a settlement period", period)
        fields = rec.fields
        seen = self.first_ssd.get(period)
        if seen is None:
            self.first_ssd[period] = fields
            values = self.report._values(SSD_NAMES, fields, rec, self.party, period)
            attributes = {}
            if len(fields) > 6 and fields[6]:
                attributes[_PRICE_DERIVATION_CODE] = fields[6]
            position, unconfirmed = self.pending_system.pop(period, (rec.position, {}))
            if len(fields) > 7:
                _add_unconfirmed(unconfirmed, "SSD", fields[7:])
            item = PeriodValues("system", period, values, attributes, unconfirmed, position)
            if not self.p_pos:
                return item
            self.held = item
        elif seen != fields:
            report = self.report
            report._warn(
                f"{report.flow} line {rec.position}: system data (SSD) for settlement date "
                f"{report.srh.settlement_date.isoformat()} period {period} under party "
                f"{self.party} differs from the first copy in the file; the first was kept"
            )
        return None

    def period_header(self, rec: IddRecord) -> None:
        """SP7 (S0142) or SPH (S0141), a party's period header: opens the party-period item."""
        record_type = rec.record_type
        if self.party is None:
            raise self.report._error(
                rec.position, record_type, f"{record_type} record before any party (BPH)"
            )
        self.period = self.report._period(rec, self.party)
        self.p_pos = rec.position
        self.p_values = None
        fields = rec.fields
        self.p_unconfirmed = {record_type: fields[1:]} if len(fields) > 1 else {}

    def spi(self, rec: IddRecord) -> None:
        """SPI, system period information: waits for its period's first SSD (or the end)."""
        self.period = None
        spi_period = self.report._period(rec, None)
        self.spi_period = spi_period
        if spi_period in self.first_ssd:
            raise self.report._error(
                rec.position, rec.record_type,
                "SPI record after the system data of its period", None, spi_period,
            )  # fmt: skip
        pending = self.pending_system.setdefault(spi_period, (rec.position, {}))
        if len(rec.fields) > 1:
            _add_unconfirmed(pending[1], "SPI", rec.fields[1:])

    def bph(self, rec: IddRecord) -> None:
        """BPH, a BSC Party's header (S0142): the party whose records follow."""
        self.period = None
        party = self.report._bph(rec)
        self.party = party
        self.party_subject = f"party:{party}"
        self.bm_units = set()

    def apc(self, rec: IddRecord) -> DailyValues:
        """APC, account period charges: the party's daily values."""
        self.period = None
        report = self.report
        if self.party is None:
            raise report._error(rec.position, "APC", "APC record before any party (BPH)")
        names = report._apc_names
        fields = rec.fields
        values = report._values(names, fields, rec, self.party, None)
        unconfirmed = {}
        if len(fields) > len(names):
            unconfirmed["APC"] = fields[len(names) :]
        return DailyValues(self.party_subject, values, unconfirmed, rec.position)

    def srh(self, rec: IddRecord) -> None:
        """SRH after the second line: a report has one header, so a second one is refused."""
        raise self._error(rec, "unexpected SRH record", None)

    def other(self, rec: IddRecord) -> UnplacedRecord | None:
        """A record type this parser does not interpret: kept raw where it belongs."""
        if self.b_subject is not None:
            _add_unconfirmed(self.b_unconfirmed, rec.record_type, rec.fields)
        elif self.p_pos:
            _add_unconfirmed(self.p_unconfirmed, rec.record_type, rec.fields)
        elif self.spi_period is not None:
            _add_unconfirmed(self.pending_system[self.spi_period][1], rec.record_type, rec.fields)
        else:
            return UnplacedRecord(rec.position, rec.record_type, rec.fields)
        return None


def parse_settlement_report(stream: IO[bytes]) -> SettlementReport:
    """Read an S0141, S0142 or S0144 settlement report from a binary stream.

    The header and SRH are read at once; iterate ``items()`` for the rest, and commit only
    once it is exhausted without an error (the checksum is verified at the end).
    """
    return SettlementReport(IddReader(stream, flow_label="settlement report"))
