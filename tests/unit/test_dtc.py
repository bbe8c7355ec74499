"""DTC flows (ledger.flows.dtc): the envelope, D0036 advances, D0010 readings, other D-flows,
and every way a file can be refused, with the message a user reads."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.demo.dtc_samples import (
    SampleReading,
    d0010_file,
    d0036_file,
    d0036_value,
    other_flow_file,
    sample_mpan,
)
from ledger.domain.errors import LedgerError
from ledger.domain.runs import RunType
from ledger.flows.canonical import Item, MeterReading, PeriodValues, ReadLimits, UnplacedRecord
from ledger.flows.dtc import FORMAT, DtcError, DtcFile, read_dtc
from ledger.flows.formats import detect

CREATED = datetime(2026, 6, 5, 15, 19, tzinfo=UTC)  # written 20260605161900 (BST)
RUN_NUMBER = 20260605151900
DAY = date(2026, 6, 4)
MPAN = sample_mpan(1)  # 1000000000012
OTHER_MPAN = sample_mpan(2)
BAD_MPAN = MPAN[:12] + "3"


def read(data: bytes, file_name: str | None = None) -> tuple[DtcFile, list[Item]]:
    parsed = read_dtc(io.BytesIO(data), file_name=file_name)
    return parsed, list(parsed.items())


def refused(data: bytes) -> str:
    with pytest.raises(DtcError) as caught:
        read(data)
    return str(caught.value)


def one_day(**options: object) -> bytes:
    return d0036_file(mpans=[MPAN], settlement_dates=[DAY], creation_time=CREATED, **options)  # type: ignore[arg-type]


def periods_of(items: list[Item]) -> list[PeriodValues]:
    return [item for item in items if isinstance(item, PeriodValues)]


# --- D0036 accepted ---------------------------------------------------------------------


def test_a_d0036_gives_each_period_of_each_mpan_with_its_run() -> None:
    data = d0036_file(
        mpans=[MPAN, OTHER_MPAN],
        settlement_dates=[DAY],
        creation_time=CREATED,
        estimated={3},
    )
    parsed, items = read(data)
    periods = periods_of(items)
    assert len(periods) == 96
    assert [p.subject for p in periods[:1] + periods[48:49]] == [
        f"mpan:{MPAN}",
        f"mpan:{OTHER_MPAN}",
    ]
    first = periods[0]
    assert first.settlement_period == 1
    assert dict(first.values) == {"active_import_kwh": d0036_value(MPAN, "AI", DAY, 1)}
    assert first.values["active_import_kwh"] == Decimal("19.8")
    assert first.run is not None
    assert (first.run.settlement_date, first.run.run_type) == (DAY, RunType.ACT)
    assert (first.run.run_number, first.run.file_creation_time) == (RUN_NUMBER, CREATED)
    assert first.attributes == {
        "active_import_kwh_actual_estimated": "A",
        "supplier_id": "GMTR",
        "measurement_quantities": "AI",
    }
    assert first.record_position == 4
    third = periods[2]
    assert third.run is not None and third.run.run_type == RunType.EST
    assert parsed.record_count == 2 + 2 * 50
    assert parsed.warnings == []


def test_a_d0036_description_names_flow_sender_and_its_one_settlement_date() -> None:
    parsed, _ = read(one_day())
    description = parsed.description
    assert (description.format, description.flow, description.flow_version) == (
        "dtc",
        "D0036",
        "001",
    )
    assert description.file_creation_time == CREATED
    assert description.sender == "SSIL (role C)"
    assert description.settlement_date == DAY
    assert description.run is None and description.not_interpreted is None


def test_a_d0036_of_two_dates_names_no_single_settlement_date() -> None:
    data = d0036_file(mpans=[MPAN], settlement_dates=[DAY, date(2026, 6, 5)], creation_time=CREATED)
    parsed, items = read(data)
    assert len(items) == 96
    assert parsed.description.settlement_date is None


def test_import_and_export_of_one_mpan_day_are_one_item_per_period_estimated_if_either_is() -> None:
    data = d0036_file(
        mpans=[MPAN],
        settlement_dates=[DAY],
        creation_time=CREATED,
        quantities=("AI", "AE"),
    )
    # Only the export of period 5 is estimated.
    lines = data.split(b"\n")
    export_period_5 = 2 + 1 + 48 + 1 + 1 + 4  # ZHV, 101, 102, 48 x 103, 101, 102, 4 x 103
    assert lines[export_period_5].startswith(b"103|A|")
    lines[export_period_5] = lines[export_period_5].replace(b"103|A|", b"103|E|")
    parsed, items = read(b"\n".join(lines))
    periods = periods_of(items)
    assert len(periods) == 48
    fifth = periods[4]
    assert dict(fifth.values) == {
        "active_import_kwh": d0036_value(MPAN, "AI", DAY, 5),
        "active_export_kwh": d0036_value(MPAN, "AE", DAY, 5),
    }
    assert fifth.attributes["active_import_kwh_actual_estimated"] == "A"
    assert fifth.attributes["active_export_kwh_actual_estimated"] == "E"
    assert fifth.attributes["measurement_quantities"] == "AI AE"
    assert fifth.run is not None and fifth.run.run_type == RunType.EST
    assert periods[3].run is not None and periods[3].run.run_type == RunType.ACT
    assert parsed.record_count == 2 + 100


@pytest.mark.parametrize(
    ("day", "periods"), [(date(2026, 3, 29), 46), (date(2026, 10, 25), 50), (DAY, 48)]
)
def test_a_d0036_day_has_the_periods_its_clock_gives_it(day: date, periods: int) -> None:
    data = d0036_file(mpans=[MPAN], settlement_dates=[day], creation_time=CREATED)
    parsed, items = read(data)
    assert [p.settlement_period for p in periods_of(items)] == list(range(1, periods + 1))
    assert parsed.warnings == []


def test_fewer_periods_than_the_day_has_are_read_in_order_with_a_warning() -> None:
    parsed, items = read(one_day(periods=47))
    assert len(items) == 47
    assert parsed.warnings == [
        f"D0036 line 3: MPAN {MPAN} AI on 2026-06-04 has 47 of the day's 48 periods; they "
        "were read as periods 1 to 47 in file order"
    ]


def test_crlf_line_ends_are_read() -> None:
    _, items = read(one_day(line_end="\r\n"))
    assert len(items) == 48


def test_a_byte_order_mark_is_skipped_and_the_file_still_detected_as_dtc() -> None:
    data = b"\xef\xbb\xbf" + one_day()
    detected = detect(io.BytesIO(data))
    assert detected.format is FORMAT
    parsed = detected.format.read(detected.content)
    assert len(list(parsed.items())) == 48


def test_fields_beyond_a_record_s_layout_are_a_warning_blank_ones_padding() -> None:
    data = (
        one_day()
        .replace(b"103|A|19.8|", b"103|A|19.8|X|")
        .replace(b"102|20260604|", b"102|20260604| |")
    )
    parsed, items = read(data)
    assert len(items) == 48
    assert parsed.warnings == [
        "D0036 line 4: the 103 record has 3 fields, 2 in its layout; the others ('X') were not read"
    ]


def test_a_checksum_is_kept_as_unverified_never_a_rejection() -> None:
    parsed, items = read(one_day().replace(b"|50||1|", b"|50|12345|1|"))
    assert len(items) == 48
    assert parsed.warnings == [
        "D0036 file DTC0000001: the ZPT trailer carries checksum '12345', which the ledger "
        "does not verify (no public description of the DTC checksum was found)"
    ]


def test_a_newer_version_is_read_with_the_nearest_layout_and_a_warning() -> None:
    parsed, items = read(one_day(version="002"))
    assert len(items) == 48
    assert parsed.description.flow_version == "002"
    assert parsed.warnings == [
        "D0036 version 002 is newer than the layouts the ledger knows; it was read with "
        "version 001's layout: check what the new version changed"
    ]


def test_a_test_file_is_read_with_a_warning() -> None:
    parsed, _ = read(one_day().replace(b"||||OPER|", b"||||TR01|"))
    assert parsed.warnings == [
        "D0036 file DTC0000001: the ZHV header marks the file as a test file (test flag "
        "'TR01'), not an operational one"
    ]


# --- D0036 refused ----------------------------------------------------------------------


def test_an_empty_file_is_refused_and_not_recognised() -> None:
    assert not FORMAT.recognises(b"")
    assert refused(b"") == "DTC file: the file is empty"


def test_binary_garbage_is_not_recognised() -> None:
    garbage = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
    assert not FORMAT.recognises(garbage)
    assert detect(io.BytesIO(garbage)).format is None


def test_a_file_cut_in_the_middle_of_a_record_is_truncated() -> None:
    data = one_day()
    assert refused(data[:200]) == (
        "D0036 file DTC0000001: the file ends in the middle of line 12, without a ZPT "
        "trailer (truncated)"
    )


def test_a_file_without_its_trailer_is_truncated() -> None:
    data = b"\n".join(one_day().split(b"\n")[:20]) + b"\n"
    assert refused(data) == (
        "D0036 file DTC0000001: the file ends after line 20 without a ZPT trailer (truncated)"
    )


def test_a_wrong_record_count_is_refused() -> None:
    assert refused(one_day().replace(b"|50||1|", b"|51||1|")) == (
        "D0036 file DTC0000001: the ZPT trailer gives a record count of 51, but the file "
        "has 50 records between its ZHV and ZPT (records lost or added)"
    )


def test_a_wrong_group_count_is_refused() -> None:
    assert refused(one_day().replace(b"|50||1|", b"|50||2|")) == (
        "D0036 file DTC0000001: the ZPT trailer gives a group count of 2, but the file has "
        "1 groups (groups lost or added)"
    )


def test_a_trailer_of_another_file_is_refused() -> None:
    assert refused(one_day().replace(b"ZPT|DTC0000001", b"ZPT|DTC0000009")) == (
        "D0036 file DTC0000001: the ZPT trailer on line 52 names file id 'DTC0000009', but "
        "the ZHV header names 'DTC0000001': they are not one file"
    )


def test_records_after_the_trailer_are_refused() -> None:
    assert refused(one_day() + b"103|A|1.0|\n") == (
        "D0036 file DTC0000001: records after the ZPT trailer (line 53)"
    )


def test_a_nul_or_control_character_is_refused_with_its_line() -> None:
    assert refused(one_day().replace(b"103|A|19.8|", b"103|A|1\x009.8|")) == (
        "D0036 file DTC0000001: line 4 has a control character 0x00 at column 8"
    )
    assert refused(one_day().replace(b"103|A|19.8|", b"103|A|19.8|\x1b")) == (
        "D0036 file DTC0000001: line 4 has a control character 0x1B at column 12"
    )


def test_an_older_version_than_every_known_layout_is_refused() -> None:
    assert refused(one_day(version="000")) == (
        "D0036 file DTC0000001: D0036 version 000 is older than every D0036 layout the "
        "ledger knows (001): it cannot be read by guesswork; ask for the flow in a current "
        "version"
    )


def test_an_mpan_with_a_wrong_check_digit_is_refused() -> None:
    assert refused(one_day().replace(MPAN.encode(), BAD_MPAN.encode())) == (
        f"D0036 line 2: MPAN core {BAD_MPAN} has check digit 3, expected 2"
    )


def test_a_period_the_day_does_not_have_is_refused() -> None:
    assert refused(one_day(periods=50)) == (
        f"D0036 line 52 (MPAN {MPAN}, measurement quantity AI, settlement date 2026-06-04): "
        "settlement date 2026-06-04 has 48 periods; this 103 record would be period 49"
    )
    spring = d0036_file(
        mpans=[MPAN], settlement_dates=[date(2026, 3, 29)], creation_time=CREATED, periods=48
    )
    assert refused(spring).endswith(
        "settlement date 2026-03-29 has 46 periods; this 103 record would be period 47"
    )


def test_a_value_of_thirty_digits_is_refused() -> None:
    thirty = b"1" * 30 + b".5"
    assert refused(one_day().replace(b"103|A|19.8|", b"103|A|" + thirty + b"|")) == (
        f"D0036 line 4 (MPAN {MPAN}, measurement quantity AI, settlement date 2026-06-04, "
        "period 1): the period's value '111111111111111111111111111111.5' is not a plain "
        "decimal number (digits with an optional '-' and decimal point, at most 12 digits "
        "before it and 6 after; the DTC writes e.g. 9.8)"
    )


@pytest.mark.parametrize("value", [b"1e3", b"NaN", b"+1.0", b"1,5", b"", b" 1.0"])
def test_a_value_that_is_not_a_plain_decimal_is_refused(value: bytes) -> None:
    message = refused(one_day().replace(b"103|A|19.8|", b"103|A|" + value + b"|"))
    assert "is not a plain decimal number" in message


def test_a_date_that_does_not_exist_is_refused() -> None:
    assert refused(one_day().replace(b"102|20260604|", b"102|20260230|")) == (
        f"D0036 line 3 (MPAN {MPAN}, measurement quantity AI): settlement date '20260230' is "
        "not a date that exists (YYYYMMDD)"
    )


def test_a_date_outside_the_settlement_era_is_refused() -> None:
    message = refused(one_day().replace(b"102|20260604|", b"102|19990101|"))
    assert "settlement date 1999-01-01 is outside the settlement era" in message


def test_an_mpan_day_given_twice_is_refused() -> None:
    data = d0036_file(mpans=[MPAN], settlement_dates=[DAY, DAY], creation_time=CREATED)
    assert refused(data) == (
        f"D0036 line 52 (MPAN {MPAN}, measurement quantity AI, settlement date 2026-06-04): "
        "this MPAN-day was already given on line 3; a file gives each MPAN, measurement "
        "quantity and settlement date once (and an MPAN's quantities together)"
    )


def test_an_mpan_day_given_again_after_other_mpans_is_refused() -> None:
    data = d0036_file(mpans=[MPAN, OTHER_MPAN, MPAN], settlement_dates=[DAY], creation_time=CREATED)
    assert "this MPAN-day was already given on line 3" in refused(data)


def test_an_unconfirmed_indicator_is_refused_saying_why() -> None:
    assert refused(one_day().replace(b"103|A|19.8|", b"103|C|19.8|")) == (
        f"D0036 line 4 (MPAN {MPAN}, measurement quantity AI, settlement date 2026-06-04, "
        "period 1): actual/estimated indicator 'C' (public descriptions tie it to "
        "clock-change days) is not confirmed, so the ledger does not read it: expected A "
        "(actual) or E (estimated)"
    )


def test_an_unknown_measurement_quantity_is_refused() -> None:
    assert refused(one_day().replace(b"|AI|GMTR|", b"|UN|GMTR|")) == (
        f"D0036 line 2 (MPAN {MPAN}): measurement quantity 'UN' is not one the ledger reads "
        "(AI, AE, RI, RE)"
    )


def test_a_record_outside_the_d0036_layout_is_refused() -> None:
    assert refused(one_day().replace(b"103|A|19.8|", b"1O3|A|19.8|")) == (
        "D0036 line 4: record type '1O3' is not part of the D0036 layout (101, 102, 103)"
    )


def test_records_out_of_their_hierarchy_are_refused() -> None:
    lines = one_day().split(b"\n")
    swapped = b"\n".join([lines[0], lines[2], lines[1], *lines[3:]])
    assert refused(swapped) == "D0036 line 2: a 102 settlement date before any 101 MPAN record"


def test_a_second_header_is_refused() -> None:
    lines = one_day().split(b"\n")
    assert refused(b"\n".join([lines[0], lines[0], *lines[1:]])) == (
        "D0036 file DTC0000001: line 2 is a second ZHV header"
    )


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (
            b"ZHV|X|D0036001|C|SSIL|",
            "DTC file: the ZHV header has 4 fields, expected at least 7 (file id, flow and "
            "version, from role and participant, to role and participant, creation time)",
        ),
        (
            b"ZHV|X|D36|C|SSIL|X|GMTR|20260605161900||||OPER|",
            "DTC file: the ZHV header's flow 'D36' is not a flow id and 3-digit version "
            "(e.g. D0036001)",
        ),
        (
            b"ZHV|X|D0036001|C|SSIL|X|GMTR|20261305161900||||OPER|",
            "DTC file: the ZHV header's creation time '20261305161900' is not a valid "
            "YYYYMMDDHHMMSS time",
        ),
    ],
)
def test_a_malformed_header_is_refused(header: bytes, message: str) -> None:
    assert refused(header + b"\nZPT|X|0||0||\n") == message


# --- D0010 --------------------------------------------------------------------------------

# The shape of the public D0010 sample (ledger.flows.dtc cites it): two MPANs, one meter each,
# the second with two registers; values and identifiers our own.
D0010 = (
    "ZHV|0000123401|D0010002|D|UDMS|X|GMTR|20260302153151||||OPER|\n"
    f"026|{MPAN}|V|\n"
    "028|K01A 00001|D|\n"
    "030|S|20260222000000|4211.0|||T|N|\n"
    f"026|{OTHER_MPAN}|V|\n"
    "028|K02B00002|C|\n"
    "030|01|20260601000000|20231.5|||T|N|\n"
    "030|02|20260601000000|64472.0|||F|P|\n"
    "ZPT|0000123401|7||2|20260302154650|\n"
).encode()


def test_a_d0010_gives_each_register_reading_with_its_mpan_and_meter() -> None:
    parsed, items = read(D0010)
    assert all(isinstance(item, MeterReading) for item in items)
    readings = [item for item in items if isinstance(item, MeterReading)]
    assert [(r.mpan, r.meter, r.register) for r in readings] == [
        (MPAN, "K01A 00001", "S"),
        (OTHER_MPAN, "K02B00002", "01"),
        (OTHER_MPAN, "K02B00002", "02"),
    ]
    first, _, last = readings
    assert first.reading == Decimal("4211.0")
    assert first.read_at == datetime(2026, 2, 22, tzinfo=UTC)  # GMT: clock time is UTC
    assert first.reading_type == "D"
    assert first.record_position == 4
    assert first.attributes == {
        "bsc_validation_status": "V",
        "meter_reading_flag": "T",
        "reading_method": "N",
    }
    assert last.read_at == datetime(2026, 5, 31, 23, tzinfo=UTC)  # BST midnight
    assert last.reading == Decimal("64472.0")
    assert last.attributes["meter_reading_flag"] == "F"
    description = parsed.description
    assert (description.flow, description.flow_version, description.settlement_date) == (
        "D0010",
        "002",
        None,
    )
    assert description.sender == "UDMS (role D)"
    assert parsed.record_count == 9
    assert parsed.warnings == []


def test_the_sample_generator_writes_readable_d0010_files() -> None:
    readings = [
        SampleReading(MPAN, "M1", "01", datetime(2026, 6, 1, 9, tzinfo=UTC), Decimal("10.5")),
        SampleReading(MPAN, "M1", "02", datetime(2026, 6, 1, 9, tzinfo=UTC), Decimal("3.0")),
        SampleReading(OTHER_MPAN, "M2", "S", datetime(2026, 6, 2, tzinfo=UTC), Decimal("7")),
    ]
    parsed, items = read(d0010_file(readings, creation_time=CREATED))
    got = [
        (i.mpan, i.meter, i.register, i.read_at, i.reading)
        for i in items
        if isinstance(i, MeterReading)
    ]
    assert got == [(r.mpan, r.meter, r.register, r.read_at, r.reading) for r in readings]
    assert parsed.record_count == 2 + 7


def test_other_d0010_records_are_kept_unplaced_with_a_warning() -> None:
    data = D0010.replace(
        b"030|S|20260222000000|4211.0|||T|N|\n", b"030|S|20260222000000|4211.0|||T|N|\n032|X|\n"
    )
    data = data.replace(b"|7||2|", b"|8||2|")
    parsed, items = read(data)
    assert [i for i in items if isinstance(i, UnplacedRecord)] == [UnplacedRecord(5, "032", ["X"])]
    assert parsed.warnings == [
        "D0010: 1 records of types the ledger does not read were kept as unplaced records"
    ]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            MPAN.encode(),
            BAD_MPAN.encode(),
            f"D0010 line 2: MPAN core {BAD_MPAN} has check digit 3, expected 2",
        ),
        (
            b"20260222000000",
            b"20260230000000",
            f"D0010 line 4 (MPAN {MPAN}, meter K01A 00001): reading date and time "
            "'20260230000000' is not a valid YYYYMMDDHHMMSS time",
        ),
        (
            b"|4211.0|",
            b"|4211,0|",
            f"D0010 line 4 (MPAN {MPAN}, meter K01A 00001): register S's reading '4211,0' is "
            "not a plain decimal number (digits with an optional '-' and decimal point, at "
            "most 12 digits before it and 6 after; the DTC writes e.g. 56311.0)",
        ),
        (
            b"028|K01A 00001|D|",
            b"028||D|",
            "D0010 line 3: the 028 meter record names no meter serial number",
        ),
    ],
)
def test_a_d0010_with_a_bad_field_is_refused(old: bytes, new: bytes, message: str) -> None:
    assert refused(D0010.replace(old, new, 1)) == message


def test_a_reading_outside_an_mpan_and_meter_is_refused() -> None:
    lines = D0010.split(b"\n")
    data = b"\n".join([lines[0], lines[3], lines[1], lines[2], *lines[4:]])
    assert refused(data) == "D0010 line 2: a 030 reading outside a 026 MPAN and 028 meter"


def test_a_d0010_version_older_than_known_is_refused() -> None:
    assert refused(D0010.replace(b"D0010002", b"D0010001")) == (
        "D0010 file 0000123401: D0010 version 001 is older than every D0010 layout the "
        "ledger knows (002): it cannot be read by guesswork; ask for the flow in a current "
        "version"
    )


# --- Flows the ledger does not interpret ---------------------------------------------------


def test_another_d_flow_is_kept_not_interpreted_with_its_envelope_checked() -> None:
    data = other_flow_file(mpans=[MPAN, OTHER_MPAN], creation_time=CREATED)
    parsed, items = read(data)
    assert items == []
    description = parsed.description
    assert (description.flow, description.flow_version) == ("D0012", "001")
    assert description.not_interpreted == (
        "D0012 (version 001) is a DTC flow the ledger keeps but does not interpret"
    )
    assert parsed.record_count == 4
    assert parsed.warnings == []


def test_another_d_flow_with_a_wrong_record_count_is_refused() -> None:
    data = other_flow_file(mpans=[MPAN, OTHER_MPAN], creation_time=CREATED, flow="D0150")
    assert refused(data.replace(b"|2||2|", b"|3||2|")) == (
        "D0150 file DTC0000003: the ZPT trailer gives a record count of 3, but the file has 2 "
        "records between its ZHV and ZPT (records lost or added)"
    )


def test_another_d_flow_s_group_count_is_not_confirmed_only_warned() -> None:
    data = other_flow_file(mpans=[MPAN, OTHER_MPAN], creation_time=CREATED)
    parsed, items = read(data.replace(b"|2||2|", b"|2||1|"))
    assert items == []
    assert parsed.warnings == [
        "D0012 file DTC0000003: the ZPT trailer gives a group count of 1; the file has 2 039 "
        "records (its first record type, taken as the group record of a flow the ledger "
        "does not interpret): not confirmed"
    ]


def test_items_can_be_read_once_and_counts_only_after() -> None:
    parsed = read_dtc(io.BytesIO(one_day()))
    with pytest.raises(RuntimeError):
        _ = parsed.record_count
    list(parsed.items())
    with pytest.raises(RuntimeError):
        parsed.items()


def test_the_file_name_labels_errors_before_the_header_is_known() -> None:
    with pytest.raises(DtcError) as caught:
        read_dtc(io.BytesIO(b"ZHV|X|\n"), file_name="in.usr")
    assert str(caught.value).startswith("DTC file in.usr: the ZHV header has 1 fields")


# --- Damaged files: a business error or a clean read, never a crash -------------------------

SAMPLES = [
    d0036_file(
        mpans=[MPAN, OTHER_MPAN],
        settlement_dates=[DAY],
        creation_time=CREATED,
        quantities=("AI", "AE"),
        estimated={2},
        periods=6,
    ),
    D0010,
    other_flow_file(mpans=[MPAN, OTHER_MPAN], creation_time=CREATED),
]

damage = st.lists(
    st.one_of(
        st.tuples(st.just("flip"), st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
        st.tuples(st.just("delete"), st.floats(0, 1, exclude_max=True), st.integers(1, 40)),
        st.tuples(st.just("truncate"), st.floats(0, 1, exclude_max=True), st.just(0)),
        st.tuples(st.just("swap"), st.floats(0, 1, exclude_max=True), st.integers(0, 60)),
    ),
    min_size=1,
    max_size=4,
)


def _damaged(data: bytes, changes: list[tuple[str, float, int]]) -> bytes:
    buf = bytearray(data)
    for kind, where, amount in changes:
        at = int(where * len(buf)) if buf else 0
        if kind == "flip" and buf:
            buf[at] = amount
        elif kind == "delete":
            del buf[at : at + amount]
        elif kind == "truncate":
            del buf[at:]
        elif kind == "swap":
            lines = bytes(buf).split(b"\n")
            i, j = int(where * len(lines)), amount % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
            buf = bytearray(b"\n".join(lines))
    return bytes(buf)


@given(st.sampled_from(range(len(SAMPLES))), damage)
def test_a_damaged_file_is_read_or_refused_in_business_terms(
    sample: int, changes: list[tuple[str, float, int]]
) -> None:
    data = _damaged(SAMPLES[sample], changes)
    try:
        parsed = FORMAT.read(io.BytesIO(data), file_name="damaged.usr")
        items = list(parsed.items())
        assert parsed.record_count >= len([i for i in items if not isinstance(i, PeriodValues)])
        _ = parsed.description
    except LedgerError as exc:
        message = str(exc)
        assert message and len(message) < 600
        assert message.isprintable()


def test_unplaced_d0010_records_are_bounded_as_one_period() -> None:
    extra = b"030|S|20260222000000|4211.0|||T|N|\n" + b"033|X|\n" * 6
    data = D0010.replace(b"030|S|20260222000000|4211.0|||T|N|\n", extra, 1)
    data = data.replace(b"|7||2|", b"|13||2|")
    parsed = read_dtc(io.BytesIO(data), limits=ReadLimits(kept_per_period=5))
    with pytest.raises(DtcError) as caught:
        list(parsed.items())
    assert str(caught.value) == (
        "D0010 line 10: the file, outside any settlement period, keeps more than 5 records the "
        "ledger does not interpret (6 033); no real file keeps that many there "
        "(LEDGER_MAX_KEPT_PER_PERIOD): the file was not read further"
    )


def test_a_d0036_created_after_it_arrived_is_refused_other_flows_warned_of() -> None:
    early = ReadLimits(arrival=CREATED - timedelta(hours=1))
    with pytest.raises(DtcError) as caught:
        read_dtc(io.BytesIO(one_day()), limits=early)
    assert str(caught.value).startswith(
        "D0036 line 1: the ZHV header's creation time 2026-06-05T15:19:00Z is later than the "
        "file's arrival (2026-06-05T14:19:00Z) by more than the 300 seconds allowed"
    )
    assert "so the file is refused" in str(caught.value)
    readings = read_dtc(
        io.BytesIO(D0010), limits=ReadLimits(arrival=datetime(2026, 1, 1, tzinfo=UTC))
    )
    list(readings.items())
    assert readings.warnings == [
        "D0010 file 0000123401: the ZHV header's creation time 2026-03-02T15:31:51Z is later "
        "than the file's arrival (2026-01-01T00:00:00Z) by more than the 300 seconds allowed "
        "for clock skew (LEDGER_FUTURE_TOLERANCE_SECONDS); it ranks no version here, so the "
        "file was kept as sent"
    ]
