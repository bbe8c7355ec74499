"""Elexon Insights system prices (dataset DISEBSP) as JSON: each publication of a settlement
period's system prices is one version of the system's values for that period.

The response, as the public evidence shows it:

- ``GET /bmrs/api/v1/balancing/settlement/system-prices/{settlementDate}[/{settlementPeriod}]``
  returns ``{"metadata": {"datasets": ["DISEBSP"]}, "data": [record, ...]}``, one record per
  settlement period (OpenAPI in api-evangelist/elexon,
  ``openapi/elexon-indicative-imbalance-settlement-api-openapi.yml``; a live response kept in
  JayWatNorm/gridskew, ``tests/fixtures/elexon/system_prices.json``, described in
  ``docs/sources/elexon/060_system-prices.md``). The same page without ``metadata``
  (``{"data": [...]}``) and the bare list that the API's ``/stream`` endpoints return (the same
  gridskew notes: "bare array (streams)") are read too; no DISEBSP stream endpoint was seen, so
  the bare form is accepted on that general evidence only.
- A record's fields are those of ``SystemPriceResponse`` (api-evangelist/elexon,
  ``json-schema/Insights.Api.Models.Responses.Balancing.Settlement.SystemPriceResponse.json``):
  ``settlementDate``, ``settlementPeriod``, ``startTime``, ``createdDateTime``, the numbers of
  :data:`NUMERIC_FIELDS`, ``bsadDefaulted`` (true or false) and ``priceDerivationCode``. The
  schema makes the identifiers, ``startTime``, ``createdDateTime``, both prices,
  ``bsadDefaulted`` and ``netImbalanceVolume`` non-nullable and every other field nullable; a
  null is an absent value.
- Numbers are JSON numbers; the live response writes them with 18 decimal places
  (``344.249492314814801830``), so they are read as exact decimals and kept as written.

The API has no run field and serves only the latest calculation (the endpoint's own words:
"only messages generated for the latest settlement run are returned"). So ``createdDateTime``
is the version: each record is versioned by a publication run
(:attr:`ledger.domain.runs.RunType.PUB`, numbered by its ``createdDateTime``), ranked below any
settlement run of the same period. A page may span several days and publications: every record
carries its own run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from types import MappingProxyType
from typing import IO, Any

from ledger.domain.errors import LedgerError
from ledger.domain.measures import Measures
from ledger.domain.plain_text import excerpt, plain_text
from ledger.domain.runs import RunType, refused_after_arrival
from ledger.domain.settlement_time import (
    check_settlement_period,
    parse_settlement_date,
    period_start_utc,
)
from ledger.flows.canonical import (
    Check,
    FileDescription,
    KeptRecords,
    PeriodValues,
    ReadLimits,
    ReportsWarnings,
    Run,
    Stated,
    Warnings,
    instant_number,
    kept_size,
    not_applicable,
)
from ledger.flows.json_documents import (
    JsonInteger,
    dump_json,
    json_kind,
    load_json,
    read_instant,
    starts_as_json,
)

__all__ = [
    "FLOW",
    "FLOW_VERSION",
    "FORMAT",
    "MAX_DECIMAL_PLACES",
    "MAX_DIGITS",
    "NUMERIC_FIELDS",
    "REQUIRED_FIELDS",
    "SystemPricesError",
    "SystemPricesPage",
    "read_system_prices",
]

FLOW = "DISEBSP"
# The API's version, from its path (/bmrs/api/v1/...): the records carry no version of their own.
FLOW_VERSION = "v1"

# Every numeric field of SystemPriceResponse, and the measure it is recorded as.
NUMERIC_FIELDS: dict[str, str] = {
    "systemSellPrice": "system_sell_price",
    "systemBuyPrice": "system_buy_price",
    "netImbalanceVolume": "net_imbalance_volume",
    "reserveScarcityPrice": "reserve_scarcity_price",
    "sellPriceAdjustment": "sell_price_adjustment",
    "buyPriceAdjustment": "buy_price_adjustment",
    "replacementPrice": "replacement_price",
    "replacementPriceReferenceVolume": "replacement_price_reference_volume",
    "totalAcceptedOfferVolume": "total_accepted_offer_volume",
    "totalAcceptedBidVolume": "total_accepted_bid_volume",
    "totalAdjustmentSellVolume": "total_adjustment_sell_volume",
    "totalAdjustmentBuyVolume": "total_adjustment_buy_volume",
    "totalSystemTaggedAcceptedOfferVolume": "total_system_tagged_accepted_offer_volume",
    "totalSystemTaggedAcceptedBidVolume": "total_system_tagged_accepted_bid_volume",
    "totalSystemTaggedAdjustmentSellVolume": "total_system_tagged_adjustment_sell_volume",
    "totalSystemTaggedAdjustmentBuyVolume": "total_system_tagged_adjustment_buy_volume",
}
# What a record cannot do without: which period, which publication, and the two prices. The
# schema also makes netImbalanceVolume and bsadDefaulted non-nullable, but published client
# fixtures omit them, so they are read when given.
REQUIRED_FIELDS = (
    "settlementDate",
    "settlementPeriod",
    "createdDateTime",
    "systemSellPrice",
    "systemBuyPrice",
)
_TEXT_FIELDS = {"priceDerivationCode": "price_derivation_code"}
_KNOWN_FIELDS = frozenset(
    {*NUMERIC_FIELDS, *REQUIRED_FIELDS, *_TEXT_FIELDS, "startTime", "bsadDefaulted", "dataset"}
)
# How many digits a value may be written with. Elexon's API writes 18 decimal places (the live
# response above); 28 digits in all is the precision of Python's default decimal context, beyond
# which the ledger's own arithmetic on the value (totals, differences between versions) would
# round. The IDD's widest decimal (decimal(15,7), ledger/flows/layouts/saa_i014.toml) fits.
MAX_DECIMAL_PLACES = 18
MAX_DIGITS = 28
_MAX_TEXT = 64


class SystemPricesError(LedgerError, ValueError):
    """A DISEBSP page cannot be accepted; the message names the record, date and period."""


@dataclass
class _Where:
    """Where in the page a record is, as far as it is known, for messages."""

    label: str
    index: int
    settlement_date: date | None = None
    period: int | None = None

    def error(self, message: str) -> SystemPricesError:
        context = []
        if self.settlement_date is not None:
            context.append(f"settlement date {self.settlement_date.isoformat()}")
        if self.period is not None:
            context.append(f"period {self.period}")
        where = f" ({', '.join(context)})" if context else ""
        return SystemPricesError(f"{self.label} record {self.index}{where}: {message}")


@dataclass
class _Findings:
    """Not fatal findings across the page: each start time that is not its period's, and the
    fields the layout does not name (summarised into one warning)."""

    warnings: Warnings
    kept: KeptRecords  # the fields kept unread, bounded per record and per page
    unknown_fields: dict[str, int] = field(default_factory=dict)  # name -> first record


class SystemPricesPage(ReportsWarnings):
    """A page of DISEBSP records, validated whole when read; ``items()`` yields one
    :class:`PeriodValues` of subject ``system`` per record, in page order."""

    def __init__(
        self, description: FileDescription, items: list[PeriodValues], findings: _Findings
    ) -> None:
        self._description = description
        self._items: list[PeriodValues] | None = items
        self._count = len(items)
        self.found = findings.warnings
        self._unknown_fields = bool(findings.unknown_fields)

    @property
    def description(self) -> FileDescription:
        return self._description

    @property
    def record_count(self) -> int:
        """The records in the page (one per settlement period and publication)."""
        return self._count

    @property
    def checks(self) -> list[Check]:
        """What validation applied to the page (all of it when read): a defect in any of them
        refuses the page, so each passed unless it says otherwise."""
        no_envelope = "a JSON page carries none"
        layout = (
            Check(
                "layout version",
                "warning",
                f"some records carry fields the {FLOW} {FLOW_VERSION} layout does not name: kept "
                "as received, not interpreted",
            )
            if self._unknown_fields
            else Check(
                "layout version",
                "passed",
                f"every field is one the {FLOW} {FLOW_VERSION} layout names",
            )
        )
        return [
            Check(
                "envelope",
                "passed",
                f"a {FLOW} page of {self._count:,} records: UTF-8 JSON, numbers exact, no key "
                "given twice",
            ),
            not_applicable("record count", no_envelope),
            not_applicable("checksum", no_envelope),
            layout,
            Check(
                "day length",
                "passed",
                "every record's period is one its settlement date has (46, 48 or 50)",
            ),
            Check("duplicates", "passed", "each publication of a period is given once"),
        ]

    def items(self) -> Iterator[PeriodValues]:
        """The page's system values, in page order (once)."""
        items = self._items
        if items is None:
            raise RuntimeError("a page's items can be read only once")
        self._items = None
        return iter(items)


def read_system_prices(
    stream: IO[bytes],
    *,
    file_name: str | None = None,
    stated: Stated | None = None,
    limits: ReadLimits | None = None,
) -> SystemPricesPage:
    """Read a page of Elexon Insights system prices (DISEBSP JSON) from a binary stream.

    The whole page is validated here: a page is small (a day is 48 records), and a page with
    one invalid record is refused whole. ``stated`` is kept up with the page's subject
    (``system``) and the settlement dates its records name, the refused one's included.
    """
    stated = stated if stated is not None else Stated()
    stated.flow = FLOW
    label = f"{FLOW} page {excerpt(file_name)}" if file_name else f"{FLOW} page"
    document = load_json(stream, label=label)
    limits = limits or ReadLimits()
    findings = _Findings(Warnings(limits.max_warnings), KeptRecords(limits))
    records = _records(document, label, findings.warnings)
    stated.saw_subject("system")
    items: list[PeriodValues] = []
    first_seen: dict[tuple[date, int, datetime], int] = {}
    for index, record in enumerate(records, start=1):
        where = _Where(label, index)
        try:
            item = _period_values(record, where, findings)
        finally:
            if where.settlement_date is not None:
                stated.saw_date(where.settlement_date)
        assert item.run is not None
        key = (item.run.settlement_date, item.settlement_period, item.run.file_creation_time)
        first = first_seen.setdefault(key, index)
        if first != index:
            raise _Where(label, index, key[0], key[1]).error(
                f"the publication of {key[2]:%Y-%m-%dT%H:%M:%SZ} is already record {first}; a "
                "page gives each publication of a period once, so the page is refused"
            )
        items.append(item)
    _summarise(label, findings)
    return SystemPricesPage(_describe(items), items, findings)


def _records(document: Any, label: str, warnings: Warnings) -> list[Any]:
    """The page's records: its ``data`` list, or the document itself when it is a list."""
    if isinstance(document, dict):
        data = document.get("data")
        if not isinstance(data, list):
            raise SystemPricesError(
                f'{label} has no "data" list of records (it has {json_kind(data)} there); it '
                "is not an Insights system prices page"
            )
        _check_metadata(document.get("metadata"), label)
        others = sorted(set(document) - {"data", "metadata"})
        if others:
            warnings.add(
                "members beside the records",
                f"{label} also has {', '.join(excerpt(k) for k in others[:5])} beside its "
                "records; they are kept in the stored file only",
            )
    elif isinstance(document, list):
        data = document
    else:
        raise SystemPricesError(f"{label} is {json_kind(document)}, not a page of records")
    if not data:
        raise SystemPricesError(
            f"{label} holds no system prices (an empty page: the API had nothing for the dates "
            "asked); there is nothing to record, fetch it again once prices are published"
        )
    return data


def _check_metadata(metadata: Any, label: str) -> None:
    datasets = metadata.get("datasets") if isinstance(metadata, dict) else None
    if isinstance(datasets, list) and datasets and FLOW not in datasets:
        named = ", ".join(excerpt(d) if isinstance(d, str) else json_kind(d) for d in datasets[:3])
        raise SystemPricesError(
            f"{label} says it holds dataset {named}, not {FLOW} system prices; it was not read"
        )


def _period_values(record: Any, where: _Where, findings: _Findings) -> PeriodValues:
    if not isinstance(record, dict):
        raise where.error(f"is {json_kind(record)}, not a record of system prices")
    if record.get("settlementDate") is not None:
        where.settlement_date = _settlement_date(record["settlementDate"], where)
    if record.get("settlementPeriod") is not None:
        where.period = _settlement_period(record["settlementPeriod"], where)
    missing = [name for name in REQUIRED_FIELDS if record.get(name) is None]
    if missing:
        raise where.error(
            f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing; a {FLOW} "
            "record gives its settlement date and period, its publication time "
            "(createdDateTime) and both system prices"
        )
    assert where.settlement_date is not None and where.period is not None
    created = read_instant(record["createdDateTime"])
    if created is None:
        raise where.error(_not_an_instant("createdDateTime", record["createdDateTime"]))
    limits = findings.kept.limits
    # The publication time is the version's run number: one from the future would stay best.
    future = refused_after_arrival(
        "createdDateTime", created, limits.arrival, limits.future_tolerance
    )
    if future is not None:
        raise where.error(future)
    if record.get("dataset") not in (None, FLOW):
        raise where.error(f"is a record of dataset {excerpt(str(record['dataset']))}, not {FLOW}")
    return PeriodValues(
        subject="system",
        settlement_period=where.period,
        values=_values(record, where),
        attributes=_attributes(record, where, findings),
        unconfirmed=_unknown_fields(record, where, findings),
        record_position=where.index,
        run=Run(where.settlement_date, RunType.PUB, instant_number(created), created),
    )


def _settlement_date(value: Any, where: _Where) -> date:
    if not isinstance(value, str):
        raise where.error(f"settlementDate is {json_kind(value)}, not a date (YYYY-MM-DD)")
    try:
        return parse_settlement_date(value)
    except LedgerError as exc:
        raise where.error(str(exc)) from None


def _settlement_period(value: Any, where: _Where) -> int:
    # Only an integer token is a period: 1.0 and 1e0 are the decimal 1 but not written as a
    # whole number, and a value that cannot be kept exactly as it was written is refused.
    if not isinstance(value, JsonInteger) or len(value.as_tuple().digits) > 2:
        written = (
            " written with a decimal point or an exponent"
            if isinstance(value, Decimal) and not isinstance(value, JsonInteger)
            else ""
        )
        raise where.error(
            f"settlementPeriod is {json_kind(value)}{written}, not a settlement period number "
            "(a whole number from 1 to 50, written without a decimal point or exponent)"
        )
    period = int(value)
    if where.settlement_date is not None:
        try:
            check_settlement_period(where.settlement_date, period)
        except LedgerError as exc:
            raise where.error(str(exc)) from None
    elif not 1 <= period <= 50:
        raise where.error(f"settlement period {period} does not exist (1 to 50 at most)")
    return period


def _values(record: dict[str, Any], where: _Where) -> Measures:
    texts: dict[str, str] = {}
    for name, measure in NUMERIC_FIELDS.items():
        value = record.get(name)
        if value is not None:
            texts[measure] = _decimal_text(value, name, where)
    return Measures.from_text(texts)


def _decimal_text(value: Any, name: str, where: _Where) -> str:
    """A number as exact fixed-point text, as written; refused when it is no number or has
    more digits than the ledger reads."""
    if not isinstance(value, Decimal):
        raise where.error(f"{name} is {json_kind(value)}, not a number")
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # JSON has no NaN or Infinity (refused when read)
    if -exponent > MAX_DECIMAL_PLACES:
        raise where.error(
            f"{name} {_shown(value)} has {-exponent} digits after the decimal point; the "
            f"ledger reads at most {MAX_DECIMAL_PLACES} (as Elexon's API writes them)"
        )
    if value.adjusted() >= MAX_DIGITS:
        raise where.error(_too_many_digits(name, value, value.adjusted() + 1 - min(exponent, 0)))
    text = format(value, "f")
    digits = sum(c.isdigit() for c in text)
    if digits > MAX_DIGITS:
        raise where.error(_too_many_digits(name, value, digits))
    return text


def _too_many_digits(name: str, value: Decimal, digits: int) -> str:
    return (
        f"{name} {_shown(value)} has {digits} digits; the ledger reads at most {MAX_DIGITS} "
        f"digits, at most {MAX_DECIMAL_PLACES} of them after the decimal point, so that no "
        "value is rounded"
    )


def _shown(value: Decimal) -> str:
    return excerpt(str(value))


def _attributes(record: dict[str, Any], where: _Where, findings: _Findings) -> dict[str, str]:
    attributes: dict[str, str] = {}
    for name, attribute in _TEXT_FIELDS.items():
        value = record.get(name)
        if value is not None and value != "":  # a blank code is no code
            attributes[attribute] = _text(value, name, where)
    defaulted = record.get("bsadDefaulted")
    if defaulted is not None:
        if not isinstance(defaulted, bool):
            raise where.error(f"bsadDefaulted is {json_kind(defaulted)}, not true or false")
        attributes["bsad_defaulted"] = "true" if defaulted else "false"
    start = record.get("startTime")
    if start is not None:
        attributes["start_time"] = _start_time(start, where, findings)
    return attributes


def _text(value: Any, name: str, where: _Where) -> str:
    if not isinstance(value, str):
        raise where.error(f"{name} is {json_kind(value)}, not a text")
    try:
        return plain_text(value, name, max_length=_MAX_TEXT)
    except LedgerError as exc:
        raise where.error(str(exc)) from None


def _start_time(value: Any, where: _Where, findings: _Findings) -> str:
    """``startTime`` as written; one that is not the period's start is noted, not refused."""
    start = read_instant(value)
    if start is None:
        raise where.error(_not_an_instant("startTime", value))
    assert where.settlement_date is not None and where.period is not None
    expected = period_start_utc(where.settlement_date, where.period)
    if start != expected:
        findings.warnings.add(
            "start times that are not their period's start",
            f"{where.label} record {where.index}: startTime {value} is not the start of "
            f"settlement date {where.settlement_date.isoformat()} period {where.period} "
            f"({expected:%Y-%m-%dT%H:%M:%SZ}); the period number was kept",
        )
    return plain_text(value, "startTime", max_length=_MAX_TEXT)


def _not_an_instant(name: str, value: Any) -> str:
    shown = excerpt(value) if isinstance(value, str) else json_kind(value)
    return (
        f"{name} {shown} is not a date and time that exists, with its time zone "
        "(e.g. 2026-05-06T23:44:34Z)"
    )


def _unknown_fields(
    record: dict[str, Any], where: _Where, findings: _Findings
) -> dict[str, list[str]]:
    """Fields the v1 layout does not name: kept as received, by name and record."""
    kept: dict[str, list[str]] = {}
    size = 0
    records = findings.kept
    for name in sorted(record.keys() - _KNOWN_FIELDS):
        findings.unknown_fields.setdefault(name, where.index)
        fields = [dump_json(record[name])]
        kept[f"{name}@{where.index}"] = fields
        size += kept_size(fields)
        records.in_file += 1
        if records.over(len(kept), size):
            unread = {f"fields the {FLOW} {FLOW_VERSION} layout does not name": len(kept)}
            holder = f"settlement period {where.period} of the system"
            raise where.error(f"{holder} {records.refusal(unread, size)}")
    return kept


def _summarise(label: str, findings: _Findings) -> None:
    """The fields the layout does not name, in one warning."""
    unknown = findings.unknown_fields
    if unknown:
        first = sorted(unknown.items(), key=lambda item: (item[1], item[0]))[:5]
        named = ", ".join(f"{excerpt(name)} (record {index})" for name, index in first)
        findings.warnings.add(
            "fields the layout does not name",
            f"{label} carries fields the {FLOW} {FLOW_VERSION} layout does not name: {named}"
            f"{' and more' if len(unknown) > 5 else ''}; they were kept as received, not "
            "interpreted (a newer version of the API?)",
        )


def _describe(items: list[PeriodValues]) -> FileDescription:
    runs = [item.run for item in items if item.run is not None]
    dates = {run.settlement_date for run in runs}
    return FileDescription(
        format=FORMAT.name,
        flow=FLOW,
        flow_version=FLOW_VERSION,
        file_creation_time=max(run.file_creation_time for run in runs),
        settlement_date=next(iter(dates)) if len(dates) == 1 else None,
    )


class SystemPricesFormat:
    """Elexon Insights system prices: JSON whose first records show DISEBSP's field names."""

    name = "insights-disebsp"
    # Its measures that share an IDD name (system_sell_price, net_imbalance_volume, ...) have
    # the IDD's unit (the saa-i014 format's); the response schema states none of its own.
    units: Mapping[str, str] = MappingProxyType({})

    def recognises(self, head: bytes) -> bool:
        return (
            starts_as_json(head)
            and b'"systemSellPrice"' in head
            and b'"settlementPeriod"' in head
            and b'"CommonBlock"' not in head
        )

    def read(
        self,
        stream: IO[bytes],
        *,
        file_name: str | None = None,
        stated: Stated | None = None,
        limits: ReadLimits | None = None,
    ) -> SystemPricesPage:
        return read_system_prices(stream, file_name=file_name, stated=stated, limits=limits)


FORMAT = SystemPricesFormat()
