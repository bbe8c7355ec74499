"""MHHS DIP messages: the envelope validated and mapped to its metering system, bodies kept
but not interpreted, and every bad input with its exact outcome.

The envelope carries no settlement period and no decimal, so "period 50 on a 48-period day"
and "a decimal with 30 digits" have no counterpart here (the body that may carry them is not
interpreted); the other bad inputs of the issue each have a test below.
"""

from __future__ import annotations

import copy
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.demo.json_samples import dip_message, disebsp_day, disebsp_page, mpan_for, to_json
from ledger.domain.errors import LedgerError
from ledger.flows.canonical import ReadLimits
from ledger.flows.formats import detect
from ledger.flows.mhhs import FORMAT, DipMessage

SENT = datetime(2026, 5, 7, 9, 30, tzinfo=UTC)
MPAN = mpan_for("_A")  # 1000123456788
REF = "'S-IF-021-1009012345-SDS-20260507-EXAMPLE01'"


def read(data: bytes) -> DipMessage:
    return FORMAT.read(io.BytesIO(data))


def encode(message: Any) -> bytes:
    return to_json(message).encode()


def refusal(message: Any) -> str:
    data = message if isinstance(message, bytes) else encode(message)
    with pytest.raises(LedgerError) as caught:
        read(data)
    return str(caught.value)


def common(message: dict[str, Any]) -> dict[str, Any]:
    block: dict[str, Any] = message["CommonBlock"]
    return block


# --- accepted messages ----------------------------------------------------------------------


def test_an_if_021_message_is_mapped_to_its_mpan_and_kept_uninterpreted() -> None:
    message = read(encode(dip_message()))
    description = message.description
    assert MPAN == "1000123456788"
    assert description.format == "mhhs-dip"
    assert description.flow == "IF-021"
    assert description.flow_version == "011"
    assert description.file_creation_time == SENT
    assert description.sender == "SDS/1009012345"
    assert description.subject == f"mpan:{MPAN}"
    assert description.settlement_date is None and description.run is None
    assert description.not_interpreted == (
        "IF-021 (ActivePower) messages are kept and mapped to MPAN 1000123456788 (GSP Group _A), "
        "but their body is not interpreted by the ledger"
    )
    assert list(message.items()) == []
    assert message.record_count == 1
    assert message.warnings == []
    assert message.envelope.recipients == ["2009012345"]
    assert message.envelope.event_codes == ["ActivePower"]


def test_a_sender_timestamp_with_an_offset_is_read_as_its_utc_instant() -> None:
    sent = datetime.fromisoformat("2026-05-07T10:30:00+01:00")
    assert read(encode(dip_message(sent=sent))).description.file_creation_time == SENT


def test_the_wrapped_forms_and_spellings_of_the_sources_are_read() -> None:
    message = dip_message()
    block = common(message)
    block["S0"]["eventCode"] = ["ActivePower"]
    block["M0"]["gspGroupID"] = block["M0"].pop("GSPGroupID")
    for form in (message, {"payload": message}, [{"payload": message}]):
        assert read(encode(form)).description == read(encode(dip_message())).description


def test_a_principal_mpan_in_m1_is_the_message_s_metering_system() -> None:
    message = dip_message(interface="IF-019", event="LinkedImportExportCreate")
    block = common(message)
    m0 = block.pop("M0")
    block["M1"] = {"principalMPAN": m0["MPANCore"], "distributorDIPID": "1", "GSPGroupID": "_A"}
    assert read(encode(message)).description.subject == f"mpan:{MPAN}"


def test_a_message_about_no_metering_system_is_kept_without_a_subject() -> None:
    message = dip_message(interface="IF-022", event="LSSPeriodData", sender_role="LSS")
    del common(message)["M0"]
    description = read(encode(message)).description
    assert description.subject is None
    assert description.not_interpreted == (
        "IF-022 (LSSPeriodData) messages are kept, but their body is not interpreted by the "
        "ledger; this one names no metering system"
    )


def test_a_gsp_group_outside_the_mpan_s_distributor_area_is_a_warning() -> None:
    message = read(encode(dip_message(mpan=mpan_for("_H"), gsp_group="_A")))
    assert message.warnings == [
        f"IF-021 message {REF}: MPAN {mpan_for('_H')} belongs to distributor 20, whose area "
        "is not GSP Group _A; the message was kept as sent"
    ]
    # An IDNO's MPAN (distributor 24 and up) may be in any GSP Group.
    idno = "240000000001"
    from ledger.domain.identifiers import mpan_check_digit

    assert read(encode(dip_message(mpan=idno + str(mpan_check_digit(idno))))).warnings == []


def test_an_unknown_schema_version_is_read_with_a_warning() -> None:
    message = read(encode(dip_message(schema_version="099")))
    assert message.description.flow_version == "099"
    assert message.warnings == [
        "IF-021 message is schema version 099, which the ledger has no evidence of (it knows "
        "009, 010, 011); its envelope was read as theirs and its body kept as received"
    ]


def test_a_byte_order_mark_is_skipped() -> None:
    data = encode(dip_message())
    assert read(b"\xef\xbb\xbf" + data).description == read(data).description


def test_crlf_line_ends_read_as_lf_ones() -> None:
    import json

    data = json.dumps(dip_message(), indent=2).encode()
    assert b"\n" in data
    assert read(data.replace(b"\n", b"\r\n")).description == read(data).description


def test_items_can_be_read_once() -> None:
    message = read(encode(dip_message()))
    list(message.items())
    with pytest.raises(RuntimeError):
        message.items()


# --- bad inputs, each with its exact outcome ------------------------------------------------


def test_an_empty_file_is_refused() -> None:
    assert refusal(b"") == "MHHS DIP message is empty; there is nothing to read"


def test_binary_garbage_is_refused() -> None:
    assert refusal(b'{"CommonBlock": \xff\xfe\x00') == (
        "MHHS DIP message: byte 17 (0xFF) is not UTF-8 text, which JSON must be; the file is "
        "damaged or is not JSON"
    )


def test_a_truncated_message_is_refused() -> None:
    data = encode(dip_message())
    assert refusal(data[: len(data) // 2]) == (
        "MHHS DIP message ends before its JSON does (line 1): the file was cut short "
        "(truncated in transit); fetch or send the whole document again"
    )


def test_an_invalid_mpan_is_refused() -> None:
    assert refusal(dip_message(mpan="1000123456780")) == (
        f"IF-021 message {REF}: MPAN core 1000123456780 has check digit 0, expected 8 "
        "(CommonBlock.M0.MPANCore)"
    )
    assert refusal(dip_message(mpan="1234567891")) == (
        f"IF-021 message {REF}: '1234567891' is not an MPAN core (13 digits) "
        "(CommonBlock.M0.MPANCore)"
    )


def test_an_invalid_gsp_group_is_refused() -> None:
    assert refusal(dip_message(mpan=MPAN, gsp_group="_I")) == (
        f"IF-021 message {REF}: '_I' is not a GSP Group (_A to _P, without _I and _O) "
        "(CommonBlock.M0.GSPGroupID)"
    )


def test_a_sender_timestamp_that_does_not_exist_is_refused() -> None:
    message = dip_message()
    common(message)["S1"]["senderTimestamp"] = "2026-02-30T09:30:00+00:00"
    assert refusal(message) == (
        f"IF-021 message {REF}: senderTimestamp '2026-02-30T09:30:00+00:00'{NOT_AN_INSTANT} "
        "(CommonBlock.S1.senderTimestamp)"
    )


MISSING = " is missing, not a text"
NOT_AN_INSTANT = (
    " is not a date and time that exists, with its time zone (e.g. 2026-05-07T09:30:00+01:00)"
)


@pytest.mark.parametrize(
    ("block", "field", "expected"),
    [
        ("S0", None, "MHHS DIP message: the S0 block is missing, not an object of fields"),
        ("S0", "interfaceID", "MHHS DIP message: interfaceID" + MISSING),
        ("S0", "schemaVersion", "IF-021 message: schemaVersion" + MISSING),
        ("S0", "eventCode", "IF-021 message: eventCode is missing: the message names no event"),
        ("S1", None, "IF-021 message: the S1 block is missing, not an object of fields"),
        ("S1", "senderUniqueReference", "IF-021 message: senderUniqueReference" + MISSING),
        ("S1", "senderTimestamp", f"IF-021 message {REF}: senderTimestamp is missing, not a "
         "date and time"),
        ("S1", "senderDIPID", f"IF-021 message {REF}: senderDIPID" + MISSING),
        ("S1", "senderRoleID", f"IF-021 message {REF}: senderRoleID" + MISSING),
        ("M0", "MPANCore", f"IF-021 message {REF}: MPANCore" + MISSING),
        ("M0", "GSPGroupID", f"IF-021 message {REF}: gspGroupID" + MISSING),
    ],
)  # fmt: skip
def test_a_message_with_missing_fields_is_refused(
    block: str, field: str | None, expected: str
) -> None:
    message = dip_message()
    if field is None:
        del common(message)[block]
    else:
        del common(message)[block][field]
    path = block if field is None else f"{block}.{field}"
    path = path.replace("GSPGroupID", "gspGroupID")  # the other spelling is then looked for
    assert refusal(message) == f"{expected} (CommonBlock.{path})"


@pytest.mark.parametrize(
    ("block", "field", "value", "expected"),
    [
        ("S0", "interfaceID", "IF21",
         "MHHS DIP message: interfaceID 'IF21' is not an interface id (IF-021)"),
        ("S0", "schemaVersion", "11", "IF-021 message: schemaVersion '11' is not a schema version"),
        ("S1", "senderRoleID", "supplier",
         f"IF-021 message {REF}: senderRoleID 'supplier' is not a role (e.g. SUP)"),
        ("S1", "senderDIPID", "DIP-1",
         f"IF-021 message {REF}: senderDIPID 'DIP-1' is not a DIP id (digits)"),
        ("S1", "environmentTag", "", f"IF-021 message {REF}: environmentTag is empty"),
        ("A0", "primaryRecipients", [1009012345],
         f"IF-021 message {REF}: primaryRecipients is not a list of DIP ids (digits)"),
        ("D0", "transactionTimestamp", "yesterday",
         f"IF-021 message {REF}: transactionTimestamp 'yesterday'" + NOT_AN_INSTANT),
    ],
)  # fmt: skip
def test_an_invalid_envelope_field_is_refused(
    block: str, field: str, value: Any, expected: str
) -> None:
    message = dip_message()
    common(message)[block][field] = value
    assert refusal(message) == f"{expected} (CommonBlock.{block}.{field})"


def test_a_message_addressed_to_no_one_is_refused() -> None:
    message = dip_message(recipients=())
    assert refusal(message) == (
        f"IF-021 message {REF}: the message is addressed to no one (no recipient in A0) "
        "(CommonBlock.A0)"
    )


def test_a_message_without_a_common_block_is_refused() -> None:
    assert refusal({"payload": {"CustomBlock": {}}, "CommonBlockX": 1}) == (
        "MHHS DIP message has no CommonBlock object (S0, S1, M0, ...); it is not a DIP message"
    )


def test_several_messages_in_one_file_are_refused() -> None:
    assert refusal([dip_message(), dip_message()]) == (
        "MHHS DIP message holds 2 messages; the ledger takes one DIP message per file, send "
        "each on its own"
    )


def test_a_field_written_twice_is_refused() -> None:
    data = encode(dip_message()).replace(b'"MPANCore": ', b'"MPANCore": "1", "MPANCore": ')
    assert refusal(data) == (
        "MHHS DIP message names 'MPANCore' twice in one object; which value counts would be a "
        "guess, so the document is refused"
    )


# --- recognition ----------------------------------------------------------------------------


def test_detect_picks_the_dip_format() -> None:
    for data in (encode(dip_message()), b"\xef\xbb\xbf\r\n  " + encode({"payload": dip_message()})):
        detected = detect(io.BytesIO(data))
        assert detected.format is FORMAT
        assert detected.format.read(detected.content).description.subject == f"mpan:{MPAN}"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\xff\xfe garbage \x89",
        b"AAA|S0142013|D|20260507093000|SA|UKDC|PB|PORTAL|1|OPER|\n",
        disebsp_page(disebsp_day(date(2026, 5, 6), SENT)),
        b"CommonBlock without JSON",
    ],
    ids=["empty", "garbage", "saa-i014", "disebsp-page", "not-json"],
)
def test_other_files_are_not_taken_for_dip_messages(data: bytes) -> None:
    assert not FORMAT.recognises(data)
    assert detect(io.BytesIO(data)).format is not FORMAT


# --- damaged messages: a business error or a clean read, never a crash -----------------------

MAX_MESSAGE_LENGTH = 400
ODD_VALUES: list[Any] = [
    None,
    True,
    "",
    "x",
    "IF-021",
    "[ActivePower]",
    "2026-02-30T09:30:00Z",
    "2499999999991",
    "_Z",
    "\ud800",
    "\x00",
    Decimal("1E+40"),
    Decimal("7"),
    [],
    {},
    ["1009012345", 7],
    {"a": [None]},
    {"principalMPAN": "2499999999991", "GSPGroupID": "_B"},
]
PATHS = [
    (block, name)
    for block, fields in dip_message()["CommonBlock"].items()
    for name in [None, *fields]
] + [("M1", None), ("M1", "principalMPAN"), ("R0", None)]


def assert_reads_or_refuses_in_business_terms(data: bytes) -> None:
    """Read ``data``: a clean read, or a LedgerError a person can read."""
    try:
        message = read(data)
        assert list(message.items()) == []
        assert message.description.flow.startswith("IF-")
    except LedgerError as exc:
        text = str(exc)
        assert text.strip(), f"{type(exc).__name__} without a message"
        assert len(text) <= MAX_MESSAGE_LENGTH, f"{len(text)} characters: {text!r}"
        assert text.isprintable(), f"control character in {text!r}"


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


byte_changes = st.lists(
    st.tuples(
        st.sampled_from(["replace", "insert", "delete", "truncate"]),
        st.floats(0, 1, exclude_max=True),
        st.sampled_from([b'"', b",", b"{", b"]", b":", b"0", b"9", b"-", b"_", b"\xff", b""]),
    ),
    min_size=1,
    max_size=4,
)
field_changes = st.lists(
    st.tuples(st.sampled_from(PATHS), st.one_of(st.just("remove"), st.sampled_from(ODD_VALUES))),
    min_size=1,
    max_size=4,
)


@given(wrapped=st.booleans(), changes=byte_changes)
def test_damaged_bytes_give_a_business_error_or_a_clean_read(
    wrapped: bool, changes: list[tuple[str, float, bytes]]
) -> None:
    message = {"payload": dip_message()} if wrapped else dip_message()
    assert_reads_or_refuses_in_business_terms(_damaged(encode(message), changes))


@given(changes=field_changes)
def test_changed_fields_give_a_business_error_or_a_clean_read(
    changes: list[tuple[tuple[str, str | None], Any]],
) -> None:
    message = dip_message()
    blocks = common(message)
    for (block, name), odd in changes:
        # A copy: the odd values are shared between examples, and a dict set into a block
        # and then given itself as a field would contain itself (and stay changed).
        change = copy.deepcopy(odd)
        if name is None:
            if change == "remove":
                blocks.pop(block, None)
            else:
                blocks[block] = change
        elif isinstance(blocks.get(block), dict):
            if change == "remove":
                blocks[block].pop(name, None)
            else:
                blocks[block][name] = change
    assert_reads_or_refuses_in_business_terms(encode(message))


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


@pytest.mark.parametrize(("block", "name"), PATHS)
@settings(max_examples=50)
@given(value=json_values)
def test_any_value_in_any_field_gives_a_business_error_or_a_clean_read(
    block: str, name: str | None, value: Any
) -> None:
    message = dip_message()
    blocks = common(message)
    if name is None:
        blocks[block] = value
    else:
        blocks.setdefault(block, {})[name] = value
    assert_reads_or_refuses_in_business_terms(encode(message))


@given(st.binary(max_size=300))
def test_arbitrary_bytes_give_a_business_error_or_a_clean_read(data: bytes) -> None:
    assert_reads_or_refuses_in_business_terms(data)


def test_a_message_sent_after_it_arrived_is_warned_of() -> None:
    sent = datetime(2026, 5, 7, 9, 30, tzinfo=UTC)
    data = encode(dip_message(sent=sent))
    arrived = ReadLimits(arrival=sent - timedelta(days=1))
    message = FORMAT.read(io.BytesIO(data), limits=arrived)
    assert message.warnings == [
        f"IF-021 message {REF}: S1.senderTimestamp 2026-05-07T09:30:00Z is later than the "
        "file's arrival (2026-05-06T09:30:00Z) by more than the 300 seconds allowed for clock "
        "skew (LEDGER_FUTURE_TOLERANCE_SECONDS); it ranks no version here, so the file was kept "
        "as sent"
    ]
    assert FORMAT.read(io.BytesIO(data), limits=ReadLimits(arrival=sent)).warnings == []
