"""Files as the market delivers them: gzip recognised by its bytes, read as a stream."""

from __future__ import annotations

import gzip
import io

import pytest

from ledger.flows import compression
from ledger.flows.compression import is_gzip, readable
from ledger.flows.formats import MAX_LEADING_WHITE_SPACE, detect
from ledger.flows.idd import EnvelopeError

TEXT = b"AAA|S0142013|D|20260922224432|SA|UKDC|PB|PORTAL|41697|OPER|\n" * 2000


def test_plain_bytes_are_read_as_they_are() -> None:
    assert readable(io.BytesIO(TEXT)).read() == TEXT
    assert readable(io.BytesIO(b"")).read() == b""
    assert readable(io.BytesIO(b"A")).read() == b"A"  # shorter than the magic number


def test_gzip_is_recognised_by_its_bytes_not_its_name() -> None:
    packed = gzip.compress(TEXT, mtime=0)
    assert is_gzip(packed) and not is_gzip(TEXT)
    stream = readable(io.BytesIO(packed))
    assert stream.readline() == TEXT.splitlines(keepends=True)[0]
    assert stream.read() == TEXT[len(TEXT) // 2000 :]


def test_several_gzip_members_read_as_one_file() -> None:
    packed = gzip.compress(TEXT[:100], mtime=0) + gzip.compress(TEXT[100:], mtime=0)
    assert readable(io.BytesIO(packed)).read() == TEXT


def test_a_file_that_inflates_beyond_any_report_is_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(compression, "MAX_DECOMPRESSED_BYTES", 10_000)
    stream = readable(io.BytesIO(gzip.compress(b"0" * 50_000)), label="S0142 file")
    with pytest.raises(EnvelopeError, match="S0142 file: the gzip-compressed file inflates to"):
        stream.read()


def test_a_truncated_or_damaged_gzip_file_is_a_business_error() -> None:
    packed = gzip.compress(TEXT, mtime=0)
    with pytest.raises(EnvelopeError, match="ends before its compressed data does"):
        readable(io.BytesIO(packed[:-20])).read()
    damaged = packed[:12] + b"\xff" * 16 + packed[28:]
    with pytest.raises(EnvelopeError, match="compressed data is damaged"):
        readable(io.BytesIO(damaged)).read()


def test_detection_looks_past_white_space_and_reads_from_the_first_byte() -> None:
    page = b'{"data": [{"settlementPeriod": 1, "systemSellPrice": 1}]}'
    data = b"\xef\xbb\xbf" + b" \t\r\n" * 5000 + page
    detected = detect(io.BytesIO(gzip.compress(data)))
    assert detected.head == page
    assert detected.format is not None and detected.format.name == "insights-disebsp"
    assert detected.nothing is None
    assert detected.content.read() == data  # the format still reads every byte


def test_detection_stops_after_a_bounded_run_of_white_space() -> None:
    class Endless(io.RawIOBase):
        """Spaces for ever: detection must stop on its own, having read a bounded amount."""

        served = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            buffer[:] = b" " * len(buffer)
            Endless.served += len(buffer)
            return len(buffer)

    detected = detect(io.BufferedReader(Endless()))
    assert detected.format is None and detected.head == b""
    assert detected.nothing is not None and "more than 1,048,576 bytes" in detected.nothing
    assert Endless.served <= 3 * MAX_LEADING_WHITE_SPACE  # the bound and read buffers
