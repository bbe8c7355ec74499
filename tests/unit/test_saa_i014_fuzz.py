"""Any damage to a settlement report gives a business error or a clean parse, never a crash."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import LedgerError
from ledger.flows.saa_i014 import parse_settlement_report
from ledger.runs import RunType
from ledger.samples import write_settlement_report


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


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flow=st.sampled_from(sorted(SAMPLES)), changes=edits)
def test_damaged_reports_fail_with_a_business_error(
    flow: str, changes: list[tuple[str, float, bytes]]
) -> None:
    data = _damage(SAMPLES[flow], changes)
    try:
        report = parse_settlement_report(io.BytesIO(data))
        for _ in report.items():
            pass
    except LedgerError as exc:
        assert str(exc), "an error must say what is wrong"


@given(st.binary(max_size=300))
def test_arbitrary_bytes_fail_with_a_business_error(data: bytes) -> None:
    try:
        report = parse_settlement_report(io.BytesIO(data))
        for _ in report.items():
            pass
    except LedgerError:
        pass
