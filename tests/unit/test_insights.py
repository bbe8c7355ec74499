"""Elexon Insights system prices (DISEBSP JSON): accepted pages, versions, and every bad input
with its exact outcome.

DISEBSP carries no MPAN, so "an invalid MPAN" has no counterpart here; the other bad inputs of
the issue each have a test below.
"""

from __future__ import annotations

import gzip
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.demo.json_samples import (
    PageForm,
    dip_message,
    disebsp_day,
    disebsp_page,
    disebsp_record,
    to_json,
)
from ledger.domain.errors import LedgerError
from ledger.domain.runs import RunType
from ledger.flows.canonical import PeriodValues, ReadLimits, Run
from ledger.flows.formats import detect
from ledger.flows.insights import FORMAT, MAX_DIGITS, SystemPricesPage
from ledger.flows.json_documents import MAX_JSON_BYTES

DAY = date(2026, 5, 6)
CREATED = datetime(2026, 5, 6, 23, 44, 34, tzinfo=UTC)
LATER = datetime(2026, 5, 21, 9, 15, 2, tzinfo=UTC)

# One record written by hand, with the shape and kinds of numbers of the API's response.
RECORD = b"""{"metadata": {"datasets": ["DISEBSP"]}, "data": [
 {"settlementDate": "2026-05-06", "settlementPeriod": 1, "startTime": "2026-05-05T23:00:00Z",
  "createdDateTime": "2026-05-06T23:44:34Z", "systemSellPrice": 96.79, "systemBuyPrice": 96.79,
  "bsadDefaulted": false, "priceDerivationCode": "N", "reserveScarcityPrice": 0,
  "netImbalanceVolume": -37.99166666666667, "sellPriceAdjustment": 0.0,
  "buyPriceAdjustment": 0.00, "replacementPrice": null, "replacementPriceReferenceVolume": null,
  "totalAcceptedOfferVolume": 344.249492314814801830, "totalAcceptedBidVolume": -616.25,
  "totalAdjustmentSellVolume": 0.000000000000000000, "totalAdjustmentBuyVolume": 1e2,
  "totalSystemTaggedAcceptedOfferVolume": 578.0084677419355,
  "totalSystemTaggedAcceptedBidVolume": -615.25,
  "totalSystemTaggedAdjustmentSellVolume": null, "totalSystemTaggedAdjustmentBuyVolume": null}
]}
"""


def read(data: bytes, file_name: str | None = None) -> SystemPricesPage:
    return FORMAT.read(io.BytesIO(data), file_name=file_name)


def items(data: bytes) -> list[PeriodValues]:
    return list(read(data).items())


def refusal(data: bytes) -> str:
    with pytest.raises(LedgerError) as caught:
        items(data)
    return str(caught.value)


def page(records: list[dict[str, Any]], envelope: PageForm = "metadata") -> bytes:
    return disebsp_page(records, envelope=envelope)


def day(settlement_date: date = DAY, created: datetime = CREATED) -> list[dict[str, Any]]:
    return disebsp_day(settlement_date, created)


# --- accepted pages -----------------------------------------------------------------------


def test_a_record_is_read_as_exact_decimals_with_its_publication_as_the_run() -> None:
    (item,) = items(RECORD)
    assert item.subject == "system"
    assert item.settlement_period == 1
    assert dict(item.values) == {
        "system_sell_price": Decimal("96.79"),
        "system_buy_price": Decimal("96.79"),
        "net_imbalance_volume": Decimal("-37.99166666666667"),
        "reserve_scarcity_price": Decimal("0"),
        "sell_price_adjustment": Decimal("0.0"),
        "buy_price_adjustment": Decimal("0.00"),
        "total_accepted_offer_volume": Decimal("344.249492314814801830"),
        "total_accepted_bid_volume": Decimal("-616.25"),
        "total_adjustment_sell_volume": Decimal("0"),
        "total_adjustment_buy_volume": Decimal("100"),
        "total_system_tagged_accepted_offer_volume": Decimal("578.0084677419355"),
        "total_system_tagged_accepted_bid_volume": Decimal("-615.25"),
    }
    # Kept as written (18 places stay 18 places; an exponent is written out).
    text = item.values.as_text()  # type: ignore[attr-defined]
    assert text["total_adjustment_sell_volume"] == "0.000000000000000000"
    assert text["total_accepted_offer_volume"] == "344.249492314814801830"
    assert text["total_adjustment_buy_volume"] == "100"
    assert all(type(value) is Decimal for value in item.values.values())
    assert "replacement_price" not in item.values  # null is absent
    assert item.attributes == {
        "price_derivation_code": "N",
        "bsad_defaulted": "false",
        "start_time": "2026-05-05T23:00:00Z",
    }
    assert item.unconfirmed == {}
    assert item.record_position == 1
    assert item.run == Run(DAY, RunType.PUB, 20260506234434, CREATED)


def test_the_page_is_described_by_its_flow_its_date_and_its_latest_publication() -> None:
    parsed = read(page(day()))
    assert parsed.description.format == "insights-disebsp"
    assert parsed.description.flow == "DISEBSP"
    assert parsed.description.flow_version == "v1"
    assert parsed.description.settlement_date == DAY
    assert parsed.description.file_creation_time == CREATED
    assert parsed.description.run is None  # each record has its own
    assert parsed.warnings == []
    assert [item.settlement_period for item in parsed.items()] == list(range(1, 49))
    assert parsed.record_count == 48


@pytest.mark.parametrize("envelope", ["metadata", "data", "bare"])
def test_every_envelope_of_the_api_gives_the_same_values(envelope: PageForm) -> None:
    assert items(page(day(), envelope)) == items(page(day()))


def test_the_values_are_the_sample_s_exact_decimals() -> None:
    record = disebsp_record(DAY, 7, CREATED)
    (item,) = items(page([record]))
    assert item.values["system_sell_price"] == record["systemSellPrice"]
    assert item.values["net_imbalance_volume"] == record["netImbalanceVolume"]


def test_a_page_of_several_days_gives_each_record_its_own_run() -> None:
    second = date(2026, 5, 7)
    parsed = read(page(day() + day(second, LATER)))
    found = list(parsed.items())
    assert parsed.description.settlement_date is None
    assert parsed.description.file_creation_time == LATER
    assert {item.run for item in found} == {
        Run(DAY, RunType.PUB, 20260506234434, CREATED),
        Run(second, RunType.PUB, 20260521091502, LATER),
    }


def test_two_publications_of_one_period_are_two_versions() -> None:
    first = disebsp_record(DAY, 3, CREATED)
    again = disebsp_record(DAY, 3, LATER, revision=1)
    older, newer = items(page([first, again]))
    assert older.run is not None and newer.run is not None
    assert (older.run.run_type, newer.run.run_type) == (RunType.PUB, RunType.PUB)
    assert newer.run.run_number > older.run.run_number
    assert older.values != newer.values
    # A publication ranks below every settlement run of the same period.
    assert RunType.PUB.maturity_rank < RunType.II.maturity_rank


@pytest.mark.parametrize(
    ("settlement_date", "periods"), [(date(2026, 3, 29), 46), (date(2026, 10, 25), 50)]
)
def test_clock_change_days_have_their_own_number_of_periods(
    settlement_date: date, periods: int
) -> None:
    parsed = read(page(day(settlement_date)))
    assert [item.settlement_period for item in parsed.items()] == list(range(1, periods + 1))
    assert parsed.warnings == []  # every startTime is its period's start, across the change


def test_period_47_on_the_spring_clock_change_day_is_refused() -> None:
    record = disebsp_record(date(2026, 3, 29), 46, CREATED) | {"settlementPeriod": 47}
    assert refusal(page([record])) == (
        "DISEBSP page record 1 (settlement date 2026-03-29): settlement period 47 does not "
        "exist on 2026-03-29, which has 46 periods"
    )


def test_a_byte_order_mark_is_skipped() -> None:
    assert items(b"\xef\xbb\xbf" + page(day())) == items(page(day()))


def test_crlf_line_ends_read_as_lf_ones() -> None:
    data = page(day())
    assert b"\n" in data
    assert items(data.replace(b"\n", b"\r\n")) == items(data)


def test_a_start_time_that_is_not_the_period_s_start_is_a_warning() -> None:
    record = disebsp_record(DAY, 2, CREATED) | {"startTime": "2026-05-06T00:30:00Z"}
    parsed = read(page([record]))
    assert parsed.warnings == [
        "DISEBSP page record 1: startTime 2026-05-06T00:30:00Z is not the start of settlement "
        "date 2026-05-06 period 2 (2026-05-05T23:30:00Z); the period number was kept"
    ]
    (item,) = parsed.items()
    assert item.attributes["start_time"] == "2026-05-06T00:30:00Z"


def test_fields_of_an_unknown_version_are_kept_and_warned_about() -> None:
    record = disebsp_record(DAY, 1, CREATED) | {"newAdjuster": 1.5, "newFlags": ["A"]}
    parsed = read(page([record]))
    (item,) = parsed.items()
    assert item.unconfirmed == {"newAdjuster@1": ["1.5"], "newFlags@1": ['["A"]']}
    assert parsed.warnings == [
        "DISEBSP page carries fields the DISEBSP v1 layout does not name: 'newAdjuster' "
        "(record 1), 'newFlags' (record 1); they were kept as received, not interpreted (a "
        "newer version of the API?)"
    ]


def test_items_can_be_read_once() -> None:
    parsed = read(page(day()))
    list(parsed.items())
    with pytest.raises(RuntimeError):
        parsed.items()


# --- bad inputs, each with its exact outcome ------------------------------------------------


def test_an_empty_file_is_refused() -> None:
    assert refusal(b"") == "DISEBSP page is empty; there is nothing to read"
    assert refusal(b" \r\n") == "DISEBSP page is empty; there is nothing to read"


def test_binary_garbage_is_refused() -> None:
    assert refusal(b"[\x89PNG\r\n\x1a\n\x00") == (
        "DISEBSP page: byte 2 (0x89) is not UTF-8 text, which JSON must be; the file is "
        "damaged or is not JSON"
    )


def test_a_truncated_page_is_refused() -> None:
    data = page(day())
    expected = (
        "DISEBSP page ends before its JSON does (line {}): the file was cut short (truncated "
        "in transit); fetch or send the whole document again"
    )
    assert refusal(data[:-3]) == expected.format(50)
    cut_in_a_text = data[: data.index(b'"createdDateTime": "2026') + 25]
    assert refusal(cut_in_a_text) == expected.format(2)


def test_a_document_that_is_not_json_is_refused() -> None:
    assert refusal(b'{"data": [1,]}') == (
        "DISEBSP page is not valid JSON: Expecting value at line 1, column 13"
    )


def test_period_50_on_a_48_period_day_is_refused() -> None:
    record = disebsp_record(DAY, 48, CREATED) | {"settlementPeriod": 50}
    assert refusal(page([record])) == (
        "DISEBSP page record 1 (settlement date 2026-05-06): settlement period 50 does not "
        "exist on 2026-05-06, which has 48 periods"
    )


@pytest.mark.parametrize(
    ("number", "digits"),
    [("123456789012345678901234567890", 30), ("123456789012.123456789012345678", 30)],
)
def test_a_decimal_with_30_digits_is_refused(number: str, digits: int) -> None:
    data = page([disebsp_record(DAY, 1, CREATED)]).replace(
        b'"systemSellPrice": ', b'"systemSellPrice": ' + number.encode() + b', "was": '
    )
    assert refusal(data) == (
        f"DISEBSP page record 1 (settlement date 2026-05-06, period 1): systemSellPrice "
        f"'{number}' has {digits} digits; the ledger reads at most {MAX_DIGITS} digits, at "
        "most 18 of them after the decimal point, so that no value is rounded"
    )


def test_more_than_18_decimal_places_are_refused() -> None:
    record = disebsp_record(DAY, 1, CREATED) | {"systemBuyPrice": Decimal("1.0000000000000000001")}
    assert refusal(page([record])) == (
        "DISEBSP page record 1 (settlement date 2026-05-06, period 1): systemBuyPrice "
        "'1.0000000000000000001' has 19 digits after the decimal point; the ledger reads at "
        "most 18 (as Elexon's API writes them)"
    )


def test_a_huge_exponent_is_refused_without_writing_the_number_out() -> None:
    data = page([disebsp_record(DAY, 1, CREATED)]).replace(
        b'"systemSellPrice": ', b'"systemSellPrice": 1e999999999, "was": '
    )
    assert refusal(data) == (
        "DISEBSP page record 1 (settlement date 2026-05-06, period 1): systemSellPrice "
        "'1E+999999999' has 1000000000 digits; the ledger reads at most 28 digits, at most 18 "
        "of them after the decimal point, so that no value is rounded"
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("2026-02-30", "day is out of range for month"),
        ("2026-13-01", "month must be in 1..12"),
    ],
)
def test_a_date_that_does_not_exist_is_refused(text: str, reason: str) -> None:
    record = disebsp_record(DAY, 1, CREATED) | {"settlementDate": text}
    assert refusal(page([record])) == (
        f"DISEBSP page record 1: '{text}' is not a settlement date (YYYY-MM-DD): {reason}"
    )


def test_a_publication_time_that_does_not_exist_is_refused() -> None:
    record = disebsp_record(DAY, 1, CREATED) | {"createdDateTime": "2026-05-06T24:44:34Z"}
    assert refusal(page([record])) == (
        "DISEBSP page record 1 (settlement date 2026-05-06, period 1): createdDateTime "
        "'2026-05-06T24:44:34Z' is not a date and time that exists, with its time zone "
        "(e.g. 2026-05-06T23:44:34Z)"
    )


def test_a_record_with_missing_fields_is_refused() -> None:
    records = day()
    del records[1]["systemBuyPrice"]
    records[1]["createdDateTime"] = None
    assert refusal(page(records)) == (
        "DISEBSP page record 2 (settlement date 2026-05-06, period 2): createdDateTime, "
        "systemBuyPrice are missing; a DISEBSP record gives its settlement date and period, its "
        "publication time (createdDateTime) and both system prices"
    )


def test_a_page_without_records_is_refused() -> None:
    assert refusal(b'{"metadata": {"datasets": ["DISEBSP"]}, "data": []}') == (
        "DISEBSP page holds no system prices (an empty page: the API had nothing for the dates "
        "asked); there is nothing to record, fetch it again once prices are published"
    )
    assert refusal(b'{"systemSellPrice": 1, "settlementPeriod": 2}') == (
        'DISEBSP page has no "data" list of records (it has null there); it is not an '
        "Insights system prices page"
    )


def test_a_page_of_another_dataset_is_refused() -> None:
    data = page(day()).replace(b'["DISEBSP"]', b'["MID"]')
    assert refusal(data) == (
        "DISEBSP page says it holds dataset 'MID', not DISEBSP system prices; it was not read"
    )


def test_the_same_publication_twice_is_refused() -> None:
    records = day()
    assert refusal(page(records + records[:1])) == (
        "DISEBSP page record 49 (settlement date 2026-05-06, period 1): the publication of "
        "2026-05-06T23:44:34Z is already record 1; a page gives each publication of a period "
        "once, so the page is refused"
    )


def test_a_key_written_twice_in_a_record_is_refused() -> None:
    data = page([disebsp_record(DAY, 1, CREATED)]).replace(
        b'"systemSellPrice": ', b'"systemSellPrice": 1, "systemSellPrice": '
    )
    assert refusal(data) == (
        "DISEBSP page names 'systemSellPrice' twice in one object; which value counts would "
        "be a guess, so the document is refused"
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ('"96.79"', "the text '96.79'"),
        ("true", "true"),
        ("[96.79]", "a list"),
    ],
)
def test_a_price_that_is_not_a_json_number_is_refused(value: str, shown: str) -> None:
    data = page([disebsp_record(DAY, 1, CREATED)]).replace(
        b'"systemSellPrice": ', b'"systemSellPrice": ' + value.encode() + b', "was": '
    )
    assert refusal(data) == (
        f"DISEBSP page record 1 (settlement date 2026-05-06, period 1): systemSellPrice is "
        f"{shown}, not a number"
    )


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_nan_and_infinity_are_refused(constant: bytes) -> None:
    data = page([disebsp_record(DAY, 1, CREATED)]).replace(
        b'"systemSellPrice": ', b'"systemSellPrice": ' + constant + b', "was": '
    )
    name = constant.decode()
    assert refusal(data) == (
        f"DISEBSP page writes {name}, which is not a number JSON allows; the document is refused"
    )


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("1.0", "the number '1.0' written with a decimal point or an exponent"),
        ("1e0", "the number '1' written with a decimal point or an exponent"),
        ("1E+0", "the number '1' written with a decimal point or an exponent"),
        ("0.1e1", "the number '1' written with a decimal point or an exponent"),
        ('"1"', "the text '1'"),
        ("true", "true"),
    ],
)
def test_a_period_that_is_not_written_as_a_whole_number_is_refused(value: str, shown: str) -> None:
    data = page([disebsp_record(DAY, 1, CREATED)]).replace(
        b'"settlementPeriod": 1', b'"settlementPeriod": ' + value.encode()
    )
    assert refusal(data) == (
        f"DISEBSP page record 1 (settlement date 2026-05-06): settlementPeriod is {shown}, not "
        "a settlement period number (a whole number from 1 to 50, written without a decimal "
        "point or exponent)"
    )


def test_a_period_written_as_an_integer_is_read() -> None:
    data = page([disebsp_record(DAY, 7, CREATED)])
    assert b'"settlementPeriod": 7' in data
    assert [item.settlement_period for item in items(data)] == [7]


def test_a_document_over_the_size_limit_is_refused_unread() -> None:
    data = page(day()) + b" " * MAX_JSON_BYTES
    assert refusal(data) == (
        "DISEBSP page is larger than 4 MiB, far beyond any such document; it was not read "
        "(split the download into smaller pages)"
    )


def test_the_file_name_is_named_in_messages() -> None:
    with pytest.raises(LedgerError, match=r"^DISEBSP page 'prices\.json' is empty"):
        read(b"", file_name="prices.json")


# --- recognition ----------------------------------------------------------------------------


@pytest.mark.parametrize("envelope", ["metadata", "data", "bare"])
def test_detect_picks_the_insights_format(envelope: PageForm) -> None:
    for data in (page(day(), envelope), b"\xef\xbb\xbf" + page(day(), envelope)):
        detected = detect(io.BytesIO(data))
        assert detected.format is FORMAT
        assert list(detected.format.read(detected.content).items()) == items(page(day()))


def test_detect_picks_it_through_gzip() -> None:
    detected = detect(io.BytesIO(gzip.compress(page(day()))))
    assert detected.format is FORMAT


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\xff\xfe garbage \x89",
        b"AAA|S0142013|D|20260507093000|SA|UKDC|PB|PORTAL|1|OPER|\n",
        b'{"data": [{"settlementPeriod": 1, "price": 2}]}',
        to_json(dip_message()).encode(),
    ],
    ids=["empty", "garbage", "saa-i014", "other-json", "dip-message"],
)
def test_other_files_are_not_taken_for_system_prices(data: bytes) -> None:
    assert not FORMAT.recognises(data)
    assert detect(io.BytesIO(data)).format is not FORMAT


# --- damaged pages: a business error or a clean read, never a crash ----------------------------

MAX_MESSAGE_LENGTH = 400
ODD_VALUES: list[Any] = [
    None,
    True,
    "",
    "x",
    "2026-02-30",
    "2026-05-06T24:00:00Z",
    "96.79",
    "\ud800",
    "\x00",
    Decimal("-0"),
    Decimal("0.5"),
    Decimal("49"),
    Decimal("1E+40"),
    Decimal("123456789012345678901234567890"),
    [],
    {},
    ["A", {"b": [None]}],
]
FIELDS = sorted(disebsp_record(DAY, 1, CREATED)) + ["dataset", "unknownField"]


def assert_reads_or_refuses_in_business_terms(data: bytes) -> None:
    """Read ``data`` whole: a clean read, or a LedgerError a person can read."""
    try:
        parsed = read(data)
        list(parsed.items())
        assert parsed.description.flow == "DISEBSP"
    except LedgerError as exc:
        message = str(exc)
        assert message.strip(), f"{type(exc).__name__} without a message"
        assert len(message) <= MAX_MESSAGE_LENGTH, f"{len(message)} characters: {message!r}"
        assert message.isprintable(), f"control character in {message!r}"


def _damaged(data: bytes, changes: list[tuple[str, float, bytes]]) -> bytes:
    buf = bytearray(data)
    for kind, where, byte in changes:
        at = int(where * len(buf)) if buf else 0
        if kind == "replace" and buf:
            buf[at : at + 1] = byte
        elif kind == "insert":
            buf[at:at] = byte
        elif kind == "truncate":
            del buf[at:]
        elif buf:
            del buf[at]
    return bytes(buf)


SAMPLE_RECORDS = day(date(2026, 10, 25))[46:50]  # the autumn day's last periods, 47 to 50
byte_changes = st.lists(
    st.tuples(
        st.sampled_from(["replace", "insert", "delete", "truncate"]),
        st.floats(0, 1, exclude_max=True),
        st.sampled_from([b'"', b",", b"{", b"]", b":", b"0", b"9", b"-", b".", b"e", b"\xff", b""]),
    ),
    min_size=1,
    max_size=4,
)
field_changes = st.lists(
    st.tuples(
        st.integers(0, len(SAMPLE_RECORDS) - 1),
        st.sampled_from(FIELDS),
        st.one_of(st.just("remove"), st.just("copy"), st.sampled_from(ODD_VALUES)),
    ),
    min_size=1,
    max_size=4,
)


@given(envelope=st.sampled_from(["metadata", "data", "bare"]), changes=byte_changes)
def test_damaged_bytes_give_a_business_error_or_a_clean_read(
    envelope: PageForm, changes: list[tuple[str, float, bytes]]
) -> None:
    assert_reads_or_refuses_in_business_terms(_damaged(page(SAMPLE_RECORDS, envelope), changes))


@given(changes=field_changes)
def test_changed_fields_give_a_business_error_or_a_clean_read(
    changes: list[tuple[int, str, Any]],
) -> None:
    records = [dict(record) for record in SAMPLE_RECORDS]
    for index, name, change in changes:
        if change == "remove":
            records[index].pop(name, None)
        elif change == "copy":
            records.append(dict(records[index]))
        else:
            records[index][name] = change
    assert_reads_or_refuses_in_business_terms(page(records))


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.text(max_size=8),
        st.sampled_from(ODD_VALUES),
        st.decimals(-(10**9), 10**9, places=3),
    ),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3)
    ),
    max_leaves=6,
)


@pytest.mark.parametrize("name", FIELDS)
@settings(max_examples=50)
@given(value=json_values)
def test_any_value_in_any_field_gives_a_business_error_or_a_clean_read(
    name: str, value: Any
) -> None:
    record = dict(SAMPLE_RECORDS[0])
    record[name] = value
    assert_reads_or_refuses_in_business_terms(page([record, SAMPLE_RECORDS[1]]))


@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_a_business_error_or_a_clean_read(data: bytes) -> None:
    assert_reads_or_refuses_in_business_terms(data)


def test_a_record_keeping_more_fields_than_the_bound_is_refused() -> None:
    record = disebsp_record(DAY, 3, CREATED) | {f"new{n}": n for n in range(12)}
    page_of = page([record])
    assert FORMAT.read(io.BytesIO(page_of), limits=ReadLimits(kept_per_period=12)).record_count
    with pytest.raises(LedgerError) as caught:
        FORMAT.read(io.BytesIO(page_of), limits=ReadLimits(kept_per_period=11))
    assert str(caught.value) == (
        "DISEBSP page record 1 (settlement date 2026-05-06, period 3): settlement period 3 of "
        "the system keeps more than 11 records the ledger does not interpret (12 fields the "
        "DISEBSP v1 layout does not name); no real file keeps that many there "
        "(LEDGER_MAX_KEPT_PER_PERIOD): the file was not read further"
    )


def test_a_publication_after_the_page_arrived_is_refused() -> None:
    future = datetime(2150, 1, 1, 9, 0, tzinfo=UTC)
    data = page([disebsp_record(DAY, 1, CREATED), disebsp_record(DAY, 2, future)])
    arrived = ReadLimits(arrival=LATER)
    with pytest.raises(LedgerError) as caught:
        FORMAT.read(io.BytesIO(data), limits=arrived)
    assert str(caught.value) == (
        "DISEBSP page record 2 (settlement date 2026-05-06, period 2): createdDateTime "
        "2150-01-01T09:00:00Z is later than the file's arrival (2026-05-21T09:15:02Z) by more "
        "than the 300 seconds allowed for clock skew (LEDGER_FUTURE_TOLERANCE_SECONDS): a "
        "version from the future would outrank every real one published after it, so the file "
        "is refused; check the sender's clock and send the file again"
    )
    skewed = page(day(created=LATER + timedelta(minutes=4)))
    assert FORMAT.read(io.BytesIO(skewed), limits=arrived).record_count == 48
