"""The IDD pipe-file envelope: checksum, header, trailer, tolerated variants and rejections."""

from __future__ import annotations

import io
import os
import random
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.errors import LedgerError
from ledger.flows.idd import (
    ChecksumAccumulator,
    EnvelopeError,
    IddReader,
    InvalidField,
    format_decimal,
    idd_checksum,
    parse_decimal,
    read_idd,
)

AAA = "AAA|S0142013|D|20260922224432|SA|UKDC|PB|PORTAL|41697|OPER|"
BODY = ["SRH|20260217|R3|5|5|20260217|5|166705|NGC|", "SPI|1|12.5|", "XYZ|a||b|"]


def naive_checksum(records: list[bytes]) -> int:
    value = 0
    for record in records:
        padded = record + b"\0" * (-len(record) % 4)
        for i in range(0, len(padded), 4):
            value ^= int.from_bytes(padded[i : i + 4], "big")
    return value


def idd_file(
    records: list[str],
    *,
    line_end: bytes = b"\n",
    count: int | None = None,
    checksum: int | None = None,
    final_newline: bool = True,
    prefix: bytes = b"",
) -> io.BytesIO:
    raw = [r.encode() for r in records]
    if count is None:
        count = len(raw) + 1
    if checksum is None:
        checksum = idd_checksum(raw)
    raw.append(f"ZZZ|{count}|{checksum}|".encode())
    data = prefix + line_end.join(raw) + (line_end if final_newline else b"")
    return io.BytesIO(data)


def test_checksum_vectors() -> None:
    assert idd_checksum([b"AAA|"]) == 0x4141417C
    records = [
        b"AAA|E0041001|D|20260810093000|EN|CONSUSEN|EC|ECVAA|1|TEST1|",
        b"EDN|ECVNAA0001|KEY0000001|ECVNAA0001|REF0000001|20260811||",
        b"CD9|1|12.5|",
    ]
    assert idd_checksum(records) == 829768304


def test_identical_records_cancel() -> None:
    assert idd_checksum([b"SPI|1|12.5|", b"SPI|1|12.5|"]) == 0
    assert idd_checksum([b"AAA|", b"X|", b"X|"]) == 0x4141417C


def test_accumulator_folds_large_input_like_the_naive_definition() -> None:
    rng = random.Random(7)
    records = [os.urandom(rng.randrange(1, 90)) for _ in range(12_000)]  # > 2 folds
    acc = ChecksumAccumulator()
    for record in records:
        acc.add(record)
    assert acc.value == naive_checksum(records)
    assert acc.value == acc.value  # reading the value does not disturb the state


def test_reads_header_and_records() -> None:
    reader = IddReader(idd_file([AAA, *BODY]))
    header = reader.header
    assert header.file_type == "S0142013"
    assert (header.flow_id, header.flow_version) == ("S0142", "013")
    assert header.message_role == "D"
    assert header.creation_time == datetime(2026, 9, 22, 22, 44, 32, tzinfo=UTC)
    assert (header.from_role, header.from_participant) == ("SA", "UKDC")
    assert (header.to_role, header.to_participant) == ("PB", "PORTAL")
    assert (header.sequence, header.test_flag) == ("41697", "OPER")
    records = list(reader)
    assert [r.position for r in records] == [2, 3, 4]
    assert records[0].record_type == "SRH"
    assert records[0].fields == ["20260217", "R3", "5", "5", "20260217", "5", "166705", "NGC"]
    assert records[2].fields == ["a", "", "b"]
    assert reader.record_count == 5
    assert reader.checksum == idd_checksum([r.encode() for r in [AAA, *BODY]])


def test_fields_between_separators() -> None:
    (record,) = read_idd(idd_file([AAA, "SRH|20260217|R3|"]))
    assert record.fields == ["20260217", "R3"]


def test_header_without_trailing_pipe_and_without_test_flag() -> None:
    real = "AAA|S0142013|D|20260922224432|SA|UKDC|PB|PORTAL|41697|OPER"
    reader = IddReader(idd_file([real, "SRH|20260217|R3|5|5|20260217|5|166705|NGC"]))
    assert reader.header.test_flag == "OPER"
    assert list(reader)[0].fields[-1] == "NGC"
    short = IddReader(idd_file(["AAA|S0142013|D|20260922224432|SA|UKDC|PB|PORTAL|1|"]))
    assert short.header.test_flag == ""
    assert list(short) == []


@pytest.mark.parametrize(
    ("line_end", "final_newline", "prefix"),
    [
        (b"\n", True, b"\xef\xbb\xbf"),
        (b"\r\n", True, b""),
        (b"\r\n", False, b"\xef\xbb\xbf"),
        (b"\n", False, b""),
    ],
)
def test_tolerated_variants(line_end: bytes, final_newline: bool, prefix: bytes) -> None:
    stream = idd_file([AAA, *BODY], line_end=line_end, final_newline=final_newline, prefix=prefix)
    records = list(read_idd(stream))
    assert [r.record_type for r in records] == ["SRH", "SPI", "XYZ"]
    assert records[1].fields == ["1", "12.5"]


def test_trailing_blank_lines_after_trailer() -> None:
    stream = idd_file([AAA, *BODY])
    stream = io.BytesIO(stream.getvalue() + b"\n\r\n  \n")
    assert len(list(read_idd(stream))) == 3


def test_record_without_trailing_pipe_checksummed_as_it_stands() -> None:
    records = [AAA, "SPI|1|12.5"]
    (record,) = read_idd(idd_file(records))
    assert record.fields == ["1", "12.5"]


def test_bad_record_count() -> None:
    with pytest.raises(EnvelopeError, match="record count in trailer is 4 but the file has 5"):
        list(read_idd(idd_file([AAA, *BODY], count=4)))


def test_a_record_count_too_long_to_be_one_is_an_envelope_error() -> None:
    with pytest.raises(EnvelopeError, match="must carry a record count and a checksum") as info:
        list(read_idd(io.BytesIO(f"{AAA}\n{BODY[0]}\nZZZ|{'9' * 5000}|1|\n".encode())))
    assert len(str(info.value)) < 400


def test_bad_checksum() -> None:
    good = idd_checksum([r.encode() for r in [AAA, *BODY]])
    with pytest.raises(EnvelopeError) as info:
        list(read_idd(idd_file([AAA, *BODY], checksum=12345), flow_label="S0142"))
    assert str(info.value) == (
        f"S0142: checksum mismatch: trailer says 12345, records give {good} "
        "(the file was altered or truncated in transit)"
    )


def test_altered_record_fails_checksum() -> None:
    data = idd_file([AAA, *BODY]).getvalue().replace(b"12.5", b"13.5")
    with pytest.raises(EnvelopeError, match="checksum mismatch"):
        list(read_idd(io.BytesIO(data)))


def test_truncated_file_yields_records_then_fails() -> None:
    data = idd_file([AAA, *BODY]).getvalue()
    truncated = data[: data.index(b"ZZZ")]
    seen = []
    with pytest.raises(EnvelopeError, match="file ends after line 4 without a ZZZ trailer"):
        for record in read_idd(io.BytesIO(truncated)):
            seen.append(record.record_type)
    assert seen == ["SRH", "SPI", "XYZ"]


def test_wrong_first_record() -> None:
    with pytest.raises(EnvelopeError, match="first record is 'XYZ', expected the AAA header"):
        IddReader(idd_file(["XYZ|1|", *BODY]))


def test_non_ascii() -> None:
    with pytest.raises(EnvelopeError, match=r"line 3 is not ASCII \(byte 0xC3 at column 7\)"):
        list(read_idd(idd_file([AAA, BODY[0], "SPI|1|é|"])))
    with pytest.raises(EnvelopeError, match="line 1 is not ASCII"):
        IddReader(idd_file(["AAA|S0142013|D|20260922224432|SA|UKDC|PB|PORTAL|1|é|"]))


def test_empty_file() -> None:
    with pytest.raises(EnvelopeError, match="the file is empty"):
        IddReader(io.BytesIO(b""))


def test_records_after_trailer() -> None:
    data = idd_file([AAA, *BODY]).getvalue() + b"\nSPI|2|1|\n"
    with pytest.raises(EnvelopeError, match=r"records after the ZZZ trailer \(line 7\)"):
        list(read_idd(io.BytesIO(data)))


def test_other_envelope_rejections() -> None:
    with pytest.raises(EnvelopeError, match="line 3 is blank"):
        list(read_idd(idd_file([AAA, BODY[0], "", BODY[1]])))
    with pytest.raises(EnvelopeError, match="line 3 is a second AAA header"):
        list(read_idd(idd_file([AAA, BODY[0], AAA])))
    with pytest.raises(EnvelopeError, match="must carry a record count and a checksum"):
        list(read_idd(io.BytesIO(f"{AAA}\nZZZ|x|1|\n".encode())))
    with pytest.raises(EnvelopeError, match="creation time '2026092224' is not"):
        IddReader(idd_file(["AAA|S0142013|D|2026092224|SA|UKDC|PB|PORTAL|1|"]))
    with pytest.raises(EnvelopeError, match="file type 'S0142' is not a flow id"):
        IddReader(idd_file(["AAA|S0142|D|20260922224432|SA|UKDC|PB|PORTAL|1|"]))


def test_envelope_error_is_a_ledger_value_error() -> None:
    assert issubclass(EnvelopeError, LedgerError)
    assert issubclass(EnvelopeError, ValueError)


def test_reader_iterates_once() -> None:
    reader = IddReader(idd_file([AAA, *BODY]))
    list(reader)
    with pytest.raises(RuntimeError):
        iter(reader)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("12.50", "12.5"),
        ("12.00", "12"),
        ("-0.00100", "-0.001"),
        ("-0.00", "0"),
        ("0", "0"),
        ("1E+3", "1000"),
        ("1.5E-7", "0.00000015"),
        ("-1234567.89", "-1234567.89"),
    ],
)
def test_format_decimal(value: str, text: str) -> None:
    assert format_decimal(Decimal(value)) == text


def test_format_decimal_rejects_non_finite() -> None:
    with pytest.raises(InvalidField):
        format_decimal(Decimal("NaN"))


@pytest.mark.parametrize("text", ["12.5", "-0.001", "0", "5.", "-.5", "100"])
def test_parse_decimal(text: str) -> None:
    assert parse_decimal(text, "price") == Decimal(text)


@pytest.mark.parametrize(
    "text", ["NaN", "Infinity", "-inf", "1e5", "1E5", "", "12.x", "+5", "1_000", " 1", "-", "1.2.3"]
)
def test_parse_decimal_rejects(text: str) -> None:
    with pytest.raises(InvalidField) as info:
        parse_decimal(text, "system buy price")
    assert str(info.value) == f"system buy price {text!r} is not a decimal number"


@given(
    st.decimals(
        allow_nan=False, allow_infinity=False, places=5, max_value=10**9, min_value=-(10**9)
    )
)
def test_decimal_round_trip(value: Decimal) -> None:
    text = format_decimal(value)
    assert parse_decimal(text, "value") == value
    assert "e" not in text.lower()
    assert text == "0" or not text.endswith(("0", ".")) or "." not in text
