"""Settings read from the environment, checked once with a message that names each one."""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from ledger.domain.checks import DEFAULT_MOVEMENT_THRESHOLD
from ledger.domain.errors import ConfigurationError

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


def parse_apart_bytes() -> int | None:
    """``LEDGER_PARSE_APART_BYTES``: the stored size (in bytes) from which a file is read in a
    process of its own, beside the writer (see :mod:`ledger.service.parse_apart`); ``never``
    reads every file in the ingesting process. None when no file is to be read apart."""
    text = os.environ.get("LEDGER_PARSE_APART_BYTES")
    if text is None or not text.strip():
        return DEFAULT_PARSE_APART_BYTES
    text = text.strip()
    if text.lower() == "never":
        return None
    if not (text.isascii() and text.isdigit()):
        raise ConfigurationError(
            f"LEDGER_PARSE_APART_BYTES={text!r} must be a whole number of bytes (0 reads every "
            "file apart) or never"
        )
    return int(text)
