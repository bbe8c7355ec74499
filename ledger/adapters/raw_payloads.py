"""The original bytes of every received file: spooled once, stored by content, streamed back.

A file is read from its source exactly once, into a local spool that hashes it on the way
(a pipe or an upload cannot be read twice). The spool is stored in chunks under the tenant
and the SHA-256 of those very bytes; ingestion then parses the stored copy, so the versions a
file produces always cite the bytes that are kept. This is the only module that touches the
``raw_payloads`` and ``raw_payload_chunks`` tables.
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from collections.abc import Callable, Iterator
from functools import partial
from types import TracebackType
from typing import IO, BinaryIO

from ledger.adapters.storage import Database, Tx
from ledger.domain.errors import LedgerError

CHUNK_BYTES = 1 << 20
# Small files stay in memory; larger ones spill to a temporary file, so memory stays flat.
_SPOOL_IN_MEMORY = 8 << 20


class PayloadTooLarge(LedgerError):
    """A received file is larger than the ledger is configured to accept."""

    @classmethod
    def of(cls, name: str, limit: int) -> PayloadTooLarge:
        return cls(
            f"{name} is larger than the {limit:,} bytes this ledger accepts "
            "(LEDGER_MAX_UPLOAD_BYTES); nothing of it was recorded"
        )


class Spool:
    """Received bytes, read once from their source, with their SHA-256 and size."""

    def __init__(self, *, limit: int | None = None, name: str = "the file") -> None:
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)
        self._digest = hashlib.sha256()
        self._limit = limit
        self._name = name
        self.size = 0

    @classmethod
    def read(cls, stream: BinaryIO, *, limit: int | None = None, name: str = "the file") -> Spool:
        """Spool everything ``stream`` yields (a file, a pipe, standard input)."""
        spool = cls(limit=limit, name=name)
        try:
            while chunk := stream.read(CHUNK_BYTES):
                spool.write(chunk)
        except BaseException:
            spool.close()
            raise
        return spool

    def write(self, chunk: bytes) -> None:
        """Add the next bytes; refuses to grow past the limit."""
        self.size += len(chunk)
        if self._limit is not None and self.size > self._limit:
            raise PayloadTooLarge.of(self._name, self._limit)
        self._digest.update(chunk)
        self._file.write(chunk)

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def chunks(self) -> Iterator[bytes]:
        """The spooled bytes again, chunk by chunk, from the start."""
        self._file.seek(0)
        while chunk := self._file.read(CHUNK_BYTES):
            yield chunk

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Spool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def create_tables(database: Database) -> None:
    """The payload store's tables (content-addressed, per tenant), if they are not there."""
    t = database.types
    with database.transaction() as tx:
        tx.execute(
            "CREATE TABLE IF NOT EXISTS raw_payloads ("
            " tenant TEXT NOT NULL, sha256 TEXT NOT NULL,"
            f" size {t['BIGINT']} NOT NULL, chunks INTEGER NOT NULL,"
            " PRIMARY KEY (tenant, sha256))"
        )
        tx.execute(
            "CREATE TABLE IF NOT EXISTS raw_payload_chunks ("
            " tenant TEXT NOT NULL, sha256 TEXT NOT NULL, seq INTEGER NOT NULL,"
            f" data {t['BYTES']} NOT NULL,"
            " PRIMARY KEY (tenant, sha256, seq))"
        )


def store(tx: Tx, tenant: str, spool: Spool) -> bool:
    """Keep the spooled bytes under their hash; False when they were kept already."""
    if chunk_count(tx, tenant, spool.sha256) is not None:
        return False
    seq = 0
    for chunk in spool.chunks():
        # Two first receipts of the same bytes may race here: the same content under the
        # same address, so the second insert is simply not needed.
        tx.execute(
            "INSERT INTO raw_payload_chunks (tenant, sha256, seq, data)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (tenant, spool.sha256, seq, chunk),
        )
        seq += 1
    tx.execute(
        "INSERT INTO raw_payloads (tenant, sha256, size, chunks) VALUES (?, ?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (tenant, spool.sha256, spool.size, seq),
    )
    return True


def chunk_count(tx: Tx, tenant: str, sha256: str) -> int | None:
    """How many chunks hold the bytes, or None when the tenant has no such bytes."""
    row = tx.execute(
        "SELECT chunks FROM raw_payloads WHERE tenant = ? AND sha256 = ?", (tenant, sha256)
    ).fetchone()
    return None if row is None else int(row[0])


def stored_size(tx: Tx, tenant: str, sha256: str) -> int | None:
    """How many bytes are kept under the address, or None when the tenant has no such bytes."""
    row = tx.execute(
        "SELECT size FROM raw_payloads WHERE tenant = ? AND sha256 = ?", (tenant, sha256)
    ).fetchone()
    return None if row is None else int(row[0])


def _chunk(tx: Tx, tenant: str, sha256: str, seq: int) -> bytes:
    row = tx.execute(
        "SELECT data FROM raw_payload_chunks WHERE tenant = ? AND sha256 = ? AND seq = ?",
        (tenant, sha256, seq),
        binary=True,
    ).fetchone()
    if row is None:
        raise LedgerError(f"the stored bytes of file {sha256} lack chunk {seq}")
    return bytes(row[0])


class _StoredReader(io.RawIOBase):
    """The stored bytes as a stream, one chunk fetched at a time by ``fetch(seq)``."""

    def __init__(self, fetch: Callable[[int], bytes], chunks: int) -> None:
        self._fetch = fetch
        self._chunks = chunks
        self._seq = 0
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        if not self._pending:
            if self._seq >= self._chunks:
                return 0
            self._pending = memoryview(self._fetch(self._seq))
            self._seq += 1
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def open_stored(tx: Tx, tenant: str, sha256: str) -> BinaryIO | None:
    """The stored bytes as a buffered stream read within ``tx``; None when not kept."""
    chunks = chunk_count(tx, tenant, sha256)
    if chunks is None:
        return None
    raw = _StoredReader(partial(_chunk, tx, tenant, sha256), chunks)
    return io.BufferedReader(raw, buffer_size=CHUNK_BYTES)


def open_stored_apart(database: Database, tenant: str, sha256: str) -> BinaryIO | None:
    """The stored bytes as a buffered stream, each chunk read in a short read transaction of
    its own: usable from another thread than the one writing in a transaction, as the chunks,
    committed and content-addressed, never change. None when the tenant has no such bytes."""
    found = _chunks_apart(database, tenant, sha256)
    if found is None:
        return None
    chunks, fetch = found
    return io.BufferedReader(_StoredReader(fetch, chunks), buffer_size=CHUNK_BYTES)


def stream_stored(database: Database, tenant: str, sha256: str) -> Iterator[bytes] | None:
    """The stored bytes chunk by chunk, each read in its own short transaction (downloads).

    Content-addressed chunks never change, so the chunks need no common snapshot, and a slow
    client holds no connection between chunks. None when the tenant has no such bytes.
    """
    found = _chunks_apart(database, tenant, sha256)
    if found is None:
        return None
    chunks, fetch = found
    return map(fetch, range(chunks))


def _chunks_apart(
    database: Database, tenant: str, sha256: str
) -> tuple[int, Callable[[int], bytes]] | None:
    """How many chunks hold the bytes, and how to read one in a transaction of its own."""
    with database.transaction(write=False) as tx:
        chunks = chunk_count(tx, tenant, sha256)
    if chunks is None:
        return None

    def fetch(seq: int) -> bytes:
        with database.transaction(write=False) as tx:
            return _chunk(tx, tenant, sha256, seq)

    return chunks, fetch


def verify(tx: Tx, tenant: str, sha256: str) -> bool:
    """Whether the stored bytes still hash to the address they are kept under."""
    stream = open_stored(tx, tenant, sha256)
    if stream is None:
        return False
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK_BYTES):
        digest.update(chunk)
    return digest.hexdigest() == sha256
