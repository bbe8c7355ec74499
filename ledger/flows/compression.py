"""Files as the market delivers them: gzip-compressed or not, recognised by their bytes.

Elexon's portal delivers settlement reports gzipped (``S0142_20260217_R3_20260922224432.gz``);
parties also forward them unzipped, and the name of a file says nothing reliable. So the first
two bytes decide: the gzip magic number ``1f 8b`` (RFC 1952, section 2.3.1) means the file is
read through a streaming decompressor, anything else is read as it is. The ledger keeps and
hashes the bytes as received (compressed); only the reading is decompressed, chunk by chunk,
in constant memory.
"""

from __future__ import annotations

import gzip
import io
import zlib
from typing import IO

from ledger.flows.idd import EnvelopeError

__all__ = ["GZIP_MAGIC", "MAX_DECOMPRESSED_BYTES", "is_gzip", "readable", "rejoined"]

GZIP_MAGIC = b"\x1f\x8b"
# A real all-parties S0142 is about 100 MB unzipped; a "file" that inflates past this is not a
# settlement report (a decompression bomb), and is refused before it costs hours of parsing.
MAX_DECOMPRESSED_BYTES = 16 * 1024**3
_CHUNK = 1024 * 1024


def is_gzip(head: bytes) -> bool:
    """Whether bytes that start a file are gzip's magic number."""
    return head[:2] == GZIP_MAGIC


class _Prefixed(io.RawIOBase):
    """``prefix`` and then the rest of ``stream``: the bytes read to recognise a file, put back."""

    def __init__(self, prefix: bytes, stream: IO[bytes]) -> None:
        self._prefix = prefix
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _Inflating(io.RawIOBase):
    """Decompressed bytes of a gzip stream; damage and excess become business errors."""

    def __init__(self, compressed: IO[bytes], label: str) -> None:
        self._gzip = gzip.GzipFile(fileobj=compressed, mode="rb")
        self._label = label
        self._total = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            n = self._gzip.readinto(buffer)
        except EOFError:
            raise EnvelopeError(
                f"{self._label}: the gzip-compressed file ends before its compressed data does "
                "(truncated in transit); send the whole file again"
            ) from None
        except (OSError, zlib.error) as exc:
            raise EnvelopeError(
                f"{self._label}: the file starts as gzip but its compressed data is damaged "
                f"({exc}); send the original file again"
            ) from None
        self._total += n
        if self._total > MAX_DECOMPRESSED_BYTES:
            raise EnvelopeError(
                f"{self._label}: the gzip-compressed file inflates to more than "
                f"{MAX_DECOMPRESSED_BYTES // 1024**3} GiB, far beyond any settlement report; "
                "it was not read further"
            )
        return n


def rejoined(head: bytes, stream: IO[bytes]) -> IO[bytes]:
    """``head`` (bytes already read from ``stream``, to recognise it) and then the rest of
    ``stream``, as one buffered stream."""
    return io.BufferedReader(_Prefixed(head, stream), buffer_size=_CHUNK)


def readable(stream: IO[bytes], *, label: str = "file") -> IO[bytes]:
    """The file's content as a buffered stream: decompressed when its bytes are gzip's."""
    head = stream.read(2)
    whole = rejoined(head, stream)
    if not is_gzip(head):
        return whole
    return io.BufferedReader(_Inflating(whole, label), buffer_size=_CHUNK)
