"""Settings read from the environment, checked once with a message that names each one."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from ledger.domain.checks import DEFAULT_MOVEMENT_THRESHOLD
from ledger.domain.errors import ConfigurationError
from ledger.domain.plain_text import excerpt
from ledger.flows.canonical import ReadLimits

DEFAULT_MAX_UPLOAD_BYTES = 1 << 30  # a gzipped all-parties S0142 is well under this
DEFAULT_INGESTS = 2
DEFAULT_INGEST_WAIT = 5.0
# Live streams (server-sent events) the API keeps open at once, in all and per tenant, and how
# long a write to a client may wait for it to read before its stream is closed (seconds).
DEFAULT_STREAMS = 100
DEFAULT_STREAMS_PER_TENANT = 10
DEFAULT_STREAM_WRITE_TIMEOUT = 30.0
# From this size (stored bytes, compressed as received) a file is read in a process of its
# own: about 30 MB of report text gzipped, where the parse outweighs starting a process.
DEFAULT_PARSE_APART_BYTES = 4 << 20
# A document's lines: a system's 50-period day with every measure (about 80 a period, SPI's
# and SSD's) is about 4,000; a BM Unit's, about 1,300. An answer of 10,000 lines is about 4 MB.
DEFAULT_MAX_DOCUMENT_LINES = 10_000


@dataclass(frozen=True)
class UploadSettings:
    """How much the API takes in: one upload's size, and how many files it processes at once.

    Ingestions of one database are serialised by the event store's lock, so more than a few
    at once only makes each wait longer while holding a worker thread and a connection.
    """

    max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    ingests: int = DEFAULT_INGESTS
    wait_seconds: float = DEFAULT_INGEST_WAIT

    @classmethod
    def from_env(cls) -> UploadSettings:
        """``LEDGER_MAX_UPLOAD_BYTES``, ``LEDGER_API_INGESTS``, ``LEDGER_API_INGEST_WAIT``."""
        return cls(
            max_bytes=int(_positive("LEDGER_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES)),
            ingests=int(_positive("LEDGER_API_INGESTS", DEFAULT_INGESTS)),
            wait_seconds=_positive("LEDGER_API_INGEST_WAIT", DEFAULT_INGEST_WAIT),
        )


@dataclass(frozen=True)
class StreamSettings:
    """How many live streams of the feed the API keeps open, and how long it waits on a
    client that does not read.

    Every open stream holds a connection and some memory, and a client that stops reading
    would hold them for ever: beyond the limits a stream is refused as busy (503), and a
    write that waits longer than ``write_timeout`` closes the stream.
    """

    streams: int = DEFAULT_STREAMS
    per_tenant: int = DEFAULT_STREAMS_PER_TENANT
    write_timeout: float = DEFAULT_STREAM_WRITE_TIMEOUT

    @classmethod
    def from_env(cls) -> StreamSettings:
        """``LEDGER_API_STREAMS``, ``LEDGER_API_STREAMS_PER_TENANT``,
        ``LEDGER_API_STREAM_WRITE_TIMEOUT``."""
        return cls(
            streams=_whole("LEDGER_API_STREAMS", DEFAULT_STREAMS),
            per_tenant=_whole("LEDGER_API_STREAMS_PER_TENANT", DEFAULT_STREAMS_PER_TENANT),
            write_timeout=_positive(
                "LEDGER_API_STREAM_WRITE_TIMEOUT", DEFAULT_STREAM_WRITE_TIMEOUT
            ),
        )


def _whole(name: str, default: int) -> int:
    """A setting that counts something: a whole number, at least 1 (ASCII digits only)."""
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    value = text.strip()
    if not (value.isascii() and value.isdigit() and len(value) <= 9 and int(value) >= 1):
        raise ConfigurationError(f"{name}={text!r} must be a whole number from 1 to 999999999")
    return int(value)


def _positive(name: str, default: float) -> float:
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ConfigurationError(f"{name}={text!r} must be a positive number")
    return value


def movement_threshold() -> Decimal:
    """``LEDGER_MOVEMENT_THRESHOLD``: the share (0.05 is 5%) by which a party's charges for a
    day may move from one run to the next before the move is raised as suspicious."""
    text = os.environ.get("LEDGER_MOVEMENT_THRESHOLD")
    if text is None or not text.strip():
        return DEFAULT_MOVEMENT_THRESHOLD
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        value = Decimal(-1)
    if not (value.is_finite() and value > 0):
        raise ConfigurationError(
            f"LEDGER_MOVEMENT_THRESHOLD={text!r} must be a positive share, e.g. 0.05 for 5%"
        )
    return value


def max_document_lines() -> int:
    """``LEDGER_MAX_DOCUMENT_LINES``: the most lines one document may have (a whole number,
    at least 1): a larger one is refused, saying how many it would have."""
    text = os.environ.get("LEDGER_MAX_DOCUMENT_LINES")
    if text is None or not text.strip():
        return DEFAULT_MAX_DOCUMENT_LINES
    text = text.strip()
    # At most 18 digits: any more is no limit anyone means (and int() refuses 4,300 digits).
    if not (text.isascii() and text.isdigit() and len(text) <= 18 and int(text) > 0):
        raise ConfigurationError(
            f"LEDGER_MAX_DOCUMENT_LINES={excerpt(text)} must be a whole number of lines, at "
            f"least 1 (default {DEFAULT_MAX_DOCUMENT_LINES})"
        )
    return int(text)


def parse_apart_bytes() -> int | None:
    """``LEDGER_PARSE_APART_BYTES``: the stored size (in bytes) from which a file is read in a
    process of its own, beside the writer (see :mod:`ledger.service.parse_apart`); ``never``
    reads every file in the ingesting process. None when no file is to be read apart."""
    text = os.environ.get("LEDGER_PARSE_APART_BYTES")
    if text is None or not text.strip():
        return DEFAULT_PARSE_APART_BYTES
    if text.strip().lower() == "never":
        return None
    return _whole_number(
        "LEDGER_PARSE_APART_BYTES",
        DEFAULT_PARSE_APART_BYTES,
        "a whole number of bytes (0 reads every file apart) or never",
    )


def read_limits() -> ReadLimits:
    """How much a reader keeps of one file: ``LEDGER_MAX_WARNINGS``, the warnings kept per
    file (beyond it they are counted by kind, not kept); ``LEDGER_MAX_KEPT_PER_PERIOD`` and
    ``LEDGER_MAX_KEPT_PER_FILE``, the records kept without being interpreted with one
    subject-period and in one file (beyond either the file is refused);
    ``LEDGER_FUTURE_TOLERANCE_SECONDS``, how much later than a file's arrival a creation or
    publication time in it may lie (beyond it the file is refused where the time ranks
    versions, and warned of elsewhere)."""
    defaults = ReadLimits()
    records = "a whole number of records, at least 1"
    tolerance = _whole_number(
        "LEDGER_FUTURE_TOLERANCE_SECONDS",
        int(defaults.future_tolerance.total_seconds()),
        "a whole number of seconds",
    )
    return ReadLimits(
        max_warnings=_whole_number(
            "LEDGER_MAX_WARNINGS", defaults.max_warnings, "a whole number of warnings"
        ),
        kept_per_period=_whole_number(
            "LEDGER_MAX_KEPT_PER_PERIOD", defaults.kept_per_period, records, least=1
        ),
        kept_per_file=_whole_number(
            "LEDGER_MAX_KEPT_PER_FILE", defaults.kept_per_file, records, least=1
        ),
        future_tolerance=timedelta(seconds=tolerance),
    )


def _whole_number(name: str, default: int, what: str, *, least: int = 0) -> int:
    """A setting that is a whole number, in ASCII digits (``²`` passes ``str.isdigit``)."""
    text = os.environ.get(name)
    if text is None or not text.strip():
        return default
    text = text.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 18) or int(text) < least:
        raise ConfigurationError(f"{name}={excerpt(text)} must be {what}")
    return int(text)
