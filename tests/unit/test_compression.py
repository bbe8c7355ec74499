"""Files as the market delivers them: gzip recognised by its bytes, read as a stream."""

from __future__ import annotations

import gzip
import io

import pytest

from ledger.flows import compression
from ledger.flows.compression import is_gzip, readable
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
