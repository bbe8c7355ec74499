"""Any damage to a settlement report gives a business error or a clean parse, never a crash.

A business error is a :class:`LedgerError` whose message a user can read: not empty, short
enough for a log line or an HTTP response, and free of raw control characters (the bytes that
caused it are quoted, escaped). Any other exception is a crash and fails these tests as it is.
"""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.demo.samples import write_settlement_report
from ledger.domain.errors import LedgerError
from ledger.domain.runs import RunType
from ledger.flows.idd import idd_checksum
from ledger.flows.saa_i014 import parse_settlement_report

MAX_MESSAGE_LENGTH = 400


def _sample(flow: str) -> bytes:
    out = io.BytesIO()
    write_settlement_report(
        out,
        flow=flow,  # type: ignore[arg-type]
        settlement_date=date(2026, 3, 29),
        run_type=RunType.SF,
        run_number=1,
        parties=["PTY00001", "PTY00002"][: 1 if flow == "S0141" else 2],
        bm_units={"PTY00001": ["T_PTY00001-1"], "PTY00002": []},
        creation_time=datetime(2026, 4, 20, 3, tzinfo=UTC),
    )
    return out.getvalue()


SAMPLES = {flow: _sample(flow) for flow in ("S0141", "S0142")}

edits = st.lists(
    st.tuples(
        st.sampled_from(["replace", "insert", "delete"]),
        st.floats(0, 1, exclude_max=True),
        st.sampled_from([b"|", b"\n", b"\r", b"0", b"9", b"-", b".", b"A", b"x", b"\xff", b""]),
    ),
    min_size=1,
    max_size=4,
)


def _damage(data: bytes, changes: list[tuple[str, float, bytes]]) -> bytes:
    buf = bytearray(data)
    for kind, where, byte in changes:
        at = int(where * len(buf)) if buf else 0
        if kind == "replace" and buf:
            buf[at : at + 1] = byte
        elif kind == "insert":
            buf[at:at] = byte
        elif buf:
            del buf[at]
    return bytes(buf)


def assert_parses_or_fails_with_a_business_error(data: bytes) -> None:
    """Parse ``data`` and consume every item: a clean parse, or a readable LedgerError."""
    try:
        report = parse_settlement_report(io.BytesIO(data))
        for _ in report.items():
            pass
    except LedgerError as exc:
        message = str(exc)
        assert message.strip(), f"{type(exc).__name__} without a message"
        assert len(message) <= MAX_MESSAGE_LENGTH, f"{len(message)} characters: {message!r}"
        # isprintable() is false for every control character (and line breaks).
        assert message.isprintable(), f"control character in {message!r}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow=st.sampled_from(sorted(SAMPLES)), changes=edits)
def test_damaged_reports_fail_with_a_business_error(
    flow: str, changes: list[tuple[str, float, bytes]]
) -> None:
    assert_parses_or_fails_with_a_business_error(_damage(SAMPLES[flow], changes))


@given(st.binary(max_size=300))
def test_arbitrary_bytes_fail_with_a_business_error(data: bytes) -> None:
    assert_parses_or_fails_with_a_business_error(data)


# Well-formed envelopes around arbitrary records, so that the body parser itself is reached
# (damaged bytes mostly stop at the envelope). Fields are short: the examples stay bounded.
HEADERS = {
    "S0141": (
        "AAA|S0141008|D|20260507093000|SA|UKDC|BP|BRIT|1|OPER|",
        "SRH|20260506|SF|2|2|20260506|2|2|BRITGAS|",
    ),
    "S0142": (
        "AAA|S0142013|D|20260507093000|SA|UKDC|PB|PORTAL|1|OPER|",
        "SRH|20260506|SF|2|2|20260506|2|2|NGC|",
    ),
}
fields = st.one_of(
    st.sampled_from(
        ["", "1", "2", "48", "49", "-2.5", "1e5", "20260506", "SF", "BRITGAS", "T_BRIT-1"]
    ),
    # Any character but the separators; surrogates cannot be written to a file at all.
    st.text(st.characters(exclude_categories=["Cs"], exclude_characters="|\r\n"), max_size=12),
)
records = st.builds(
    lambda record_type, values: "|".join([record_type, *values]) + "|",
    st.sampled_from(["SRH", "BPH", "APC", "SP7", "SPH", "SPI", "PPC", "SSD", "BP7", "BPI", "XX1"]),
    st.lists(fields, max_size=9),
)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow=st.sampled_from(sorted(HEADERS)), body=st.lists(records, max_size=30))
def test_arbitrary_records_fail_with_a_business_error(flow: str, body: list[str]) -> None:
    raw = [line.encode("utf-8") for line in (*HEADERS[flow], *body)]
    raw.append(f"ZZZ|{len(raw) + 1}|{idd_checksum(raw)}|".encode())
    assert_parses_or_fails_with_a_business_error(b"\n".join(raw) + b"\n")
