"""Reading a large file in a process of its own, beside the writer.

An ingestion's Python work is the parse and the writer's encoding. In one process the two take
turns on the interpreter's lock, so a market-size report costs their sum (for an all-parties
S0142, about 9 s of parse and 12 s of writing). On a machine with more than one core, a file
of at least ``LEDGER_PARSE_APART_BYTES`` stored bytes is read in a child process instead, and
the two run at once. The child is a program of its own (``python -m`` this module), not a
copy of the ingesting program, so nothing of that program (the CLI, the API, a user's script
without a main guard) runs again in it; it starts in about a tenth of a second.

- a feeder thread of the ingesting process sends the child the stored bytes, as kept
  (compressed when received compressed), chunk by chunk;
- the child detects the format and reads the file exactly as the ingesting process would
  (the same :func:`ledger.flows.formats.detect` and format's ``read``, with the same
  :class:`~ledger.flows.canonical.ReadLimits`), and sends back its description, then its
  items in batches, then every warning it kept, how many it found, the checks it applied and
  its record count;
- a period's values cross as the JSON the events and views store and their digest, both
  computed in the child, so the ingesting process neither decodes nor re-encodes them.

Each pipe holds at most a batch, so memory stays flat whatever the file's size. Whatever the
file is refused for reaches the ingesting process as a :class:`LedgerError` with the message
the same parse would have given in-process, after every item before it and never later, and
with what the file had stated of itself (:class:`ledger.flows.canonical.Stated`). A
failure to read the stored bytes is raised as it was raised. A child that dies without a
verdict (killed, out of memory) is :class:`LedgerUnavailable`: nothing is wrong with the file,
which stays received for its next receipt or ``ledger recover``.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import os
import subprocess
import sys
import threading
from collections.abc import Iterable, Iterator
from multiprocessing.connection import Connection
from typing import Any

from ledger.domain.errors import LedgerError, LedgerUnavailable
from ledger.domain.measures import Measures
from ledger.flows.canonical import (
    Check,
    DailyValues,
    FileDescription,
    Item,
    ParsedFile,
    PeriodValues,
    ReadLimits,
    Stated,
    weight,
)
from ledger.flows.formats import detect, looks_like

# Items per message from the child: about 0.7 MB of an all-parties S0142. Fewer when the
# records they keep take more than _BATCH_BYTES (kept_size): a real S0142's 1,000 items keep
# about 0.3 MB, a crafted file's could keep 4 MiB each.
_BATCH = 1000
_BATCH_BYTES = 1 << 20
# What each pipe may hold: a message of items, or a chunk of stored bytes.
_PIPE_BYTES = 1 << 20
# How long closing waits for a child that was told to stop.
_STOP_SECONDS = 10.0
# The tags of items sent as plain tuples (anything else crosses as it is).
_PERIOD = 0
_DAILY = 1


def could_not_read(error_type: str) -> str:
    """Why a file is refused when reading it raised what no format foresaw."""
    return (
        f"the ledger could not read it ({error_type}); the file is kept unchanged: report "
        "this to the ledger's maintainers"
    )


def possible() -> bool:
    """Whether reading apart can help: a second core to read on."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return cores > 1


class ParsedApart:
    """A file read by a child process, seen as a :class:`ledger.flows.canonical.ParsedFile`.

    ``with ParsedApart(chunks, file_name=...) as parsed:`` starts the child, feeds it
    ``chunks`` (the stored bytes) and waits for the file's description; leaving the block
    stops the child and the feeder, whether or not the items were read to the end.
    """

    def __init__(
        self,
        chunks: Iterable[bytes],
        *,
        file_name: str,
        stated: Stated | None = None,
        limits: ReadLimits | None = None,
    ) -> None:
        self.file_name = file_name
        self.limits = limits or ReadLimits()
        self._chunks = chunks
        # What the file stated as the child read it, taken over when the child refuses it.
        self._stated = stated if stated is not None else Stated()
        self.process: subprocess.Popen[bytes] | None = None
        self._to_child: Connection | None = None
        self._from_child: Connection | None = None
        self._feed_error: BaseException | None = None
        self._feeder = threading.Thread(target=self._feed, name="ledger-parse-feeder", daemon=True)
        self._description: FileDescription | None = None
        self._warnings: list[str] = []
        self._warning_count = 0
        self._checks: list[Check] = []
        self._record_count: int | None = None

    def __enter__(self) -> ParsedApart:
        try:
            self._start()
            self._feeder.start()
            kind, payload = self._receive()
            if kind != "description":
                raise AssertionError(f"the parse process sent {kind!r} before a description")
            self._description = payload
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        """Start the child as a program of its own (``python -m`` this module), not a copy
        of the ingesting program: whatever program ingests (the CLI, the API, a user's
        script), nothing of it runs again in the child."""
        child_in, to_child = os.pipe()
        from_child, child_out = os.pipe()
        self._to_child = Connection(to_child, readable=False)
        self._from_child = Connection(from_child, writable=False)
        for end in (to_child, from_child):
            _widen(end)
        # The child finds the ledger where this process found it.
        path = os.pathsep.join(entry for entry in sys.path if entry)
        command = [sys.executable, "-m", __name__, str(child_in), str(child_out), self.file_name]
        try:
            self.process = subprocess.Popen(
                [*command, self.limits.as_text()],
                pass_fds=(child_in, child_out),
                stdin=subprocess.DEVNULL,
                env={**os.environ, "PYTHONPATH": path},
            )
        except OSError as exc:  # no process could be started: the machine, not the file
            raise LedgerUnavailable(
                f"no process could be started to read {self.file_name} ({exc.strerror or exc}); "
                "nothing of the file was recorded: send it again or run ledger recover"
            ) from exc
        finally:
            # The child holds its own ends now; closing ours lets each side see the other go.
            os.close(child_in)
            os.close(child_out)

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def description(self) -> FileDescription:
        assert self._description is not None, "the description is read on entering the block"
        return self._description

    @property
    def warnings(self) -> list[str]:
        return self._warnings

    @property
    def warning_count(self) -> int:
        return self._warning_count

    @property
    def checks(self) -> list[Check]:
        return self._checks

    @property
    def record_count(self) -> int:
        if self._record_count is None:
            raise RuntimeError("the record count is known only once items() is exhausted")
        return self._record_count

    def items(self) -> Iterator[Item]:
        """The file's items in file order, as the child reads them."""
        while True:
            kind, payload = self._receive()
            if kind == "items":
                yield from map(_from_portable, payload)
            elif kind == "end":
                self._description, found, self._record_count = payload
                self._warnings, self._warning_count, self._checks = found
                return
            else:
                raise AssertionError(f"the parse process sent {kind!r} among the items")

    def close(self) -> None:
        """Stop the child (if it is still reading) and the feeder; wait for both."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(_STOP_SECONDS)
        # With the child gone, a feeder blocked on the pipe is released.
        if self._feeder.is_alive():
            self._feeder.join()
        for end in (self._from_child, self._to_child):
            if end is not None:
                end.close()

    def _feed(self) -> None:
        """Send the stored bytes, then an empty message for their end. A child that left
        (refusing the file half way) is no error; a failure to read the bytes is kept, to be
        raised instead of what the child makes of bytes that stop short."""
        sink = self._to_child
        assert sink is not None, "the feeder starts after the child"
        source = iter(self._chunks)
        try:
            while True:
                try:
                    chunk = next(source, None)
                except BaseException as exc:
                    self._feed_error = exc
                    return
                if chunk is None:
                    sink.send_bytes(b"")
                    return
                if chunk:
                    sink.send_bytes(chunk)
        except OSError:
            return  # the child has left
        finally:
            sink.close()

    def _receive(self) -> tuple[str, Any]:
        assert self._from_child is not None and self.process is not None
        try:
            kind, payload = self._from_child.recv()
        except EOFError:
            self._feeder.join()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(_STOP_SECONDS)
            if self._feed_error is not None:
                raise self._feed_error from None
            raise LedgerUnavailable(
                f"the process reading {self.file_name} ended without a verdict (exit code "
                f"{self.process.returncode}); nothing of the file was recorded: send it again "
                "or run ledger recover"
            ) from None
        if kind == "failed":
            # The bytes may have stopped short because they could not be read.
            self._feeder.join()
            if self._feed_error is not None:
                raise self._feed_error
            message, stated = payload
            self._stated.take(stated)
            raise LedgerError(message)
        return kind, payload


def _widen(end: int) -> None:
    """Let the pipe hold a whole message where the system allows (Linux: ``F_SETPIPE_SZ``, up
    to ``/proc/sys/fs/pipe-max-size``). A message larger than the pipe crosses in several
    reads, and each read gives up the interpreter's lock and waits to take it back from the
    writer's threads: on the market file, 15.5 s with 1 MiB pipes against 16.3 s with the
    default 64 KiB."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_size is None:
        return
    for size in (_PIPE_BYTES, _PIPE_BYTES // 4):
        try:
            fcntl.fcntl(end, set_size, size)
        except OSError:
            continue  # above the system's limit: try a smaller size
        return


def _to_portable(item: Item) -> Any:
    """An item as the child sends it: values as their JSON and digest, in a plain tuple."""
    if type(item) is PeriodValues:
        values = Measures.of(item.values)
        return (
            _PERIOD,
            item.subject,
            item.settlement_period,
            values.as_json(),
            values.digest(),
            item.attributes,
            item.unconfirmed,
            item.record_position,
            item.run,
            item.kept_size,
        )
    if type(item) is DailyValues:
        values = Measures.of(item.values)
        return (
            _DAILY,
            item.subject,
            values.as_json(),
            item.unconfirmed,
            item.record_position,
            item.kept_size,
        )
    return item


def _from_portable(entry: Any) -> Item:
    if type(entry) is not tuple:
        return entry  # type: ignore[no-any-return]
    if entry[0] == _PERIOD:
        _, subject, period, values, digest, attributes, unconfirmed, position, run, size = entry
        measures = Measures.from_json(values, digest)
        return PeriodValues(subject, period, measures, attributes, unconfirmed, position, run, size)
    _, subject, values, unconfirmed, position, size = entry
    return DailyValues(subject, Measures.from_json(values), unconfirmed, position, size)


class _Received(io.RawIOBase):
    """The bytes the feeder sends, as a stream (an empty message ends them)."""

    def __init__(self, source: Connection) -> None:
        self._source = source
        self._pending = memoryview(b"")
        self._ended = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._pending and not self._ended:
            try:
                self._pending = memoryview(self._source.recv_bytes())
            except EOFError:
                # The feeder stopped before the end: the bytes could not all be read.
                raise LedgerError(
                    "its stored bytes could not all be read, so it cannot be read"
                ) from None
            self._ended = not self._pending
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _child_main(
    source: Connection, results: Connection, file_name: str, limits: ReadLimits
) -> None:
    """The child: read the file from ``source``, send what it finds to ``results``."""
    stated = Stated()
    try:
        with io.BufferedReader(_Received(source), buffer_size=1 << 20) as stream:
            detected = detect(stream, label=file_name)
            if detected.format is None:
                raise LedgerError(
                    f"file {file_name}: no format the ledger reads recognises it "
                    f"({looks_like(detected.head)})"
                )
            parsed = detected.format.read(
                detected.content, file_name=file_name, stated=stated, limits=limits
            )
            results.send(("description", parsed.description))
            _send_items(parsed, results)
            found = (parsed.warnings, parsed.warning_count, parsed.checks)
            results.send(("end", (parsed.description, found, parsed.record_count)))
    except (LedgerError, UnicodeDecodeError) as exc:
        _send_failure(results, str(exc), stated)
    except Exception as exc:  # a verdict is sent whatever went wrong
        _send_failure(results, could_not_read(type(exc).__name__), stated)
    finally:
        results.close()
        source.close()


def _send_items(parsed: ParsedFile, results: Connection) -> None:
    """The items in batches; those read before a failure are sent before it."""
    batch: list[Any] = []
    size = 0
    try:
        for item in parsed.items():
            batch.append(_to_portable(item))
            size += weight(item)
            if len(batch) >= _BATCH or size >= _BATCH_BYTES:
                results.send(("items", batch))
                batch = []
                size = 0
    finally:
        if batch:
            results.send(("items", batch))


def _send_failure(results: Connection, message: str, stated: Stated) -> None:
    try:
        results.send(("failed", (message, stated)))
    except OSError:
        pass  # the ingesting process has left: nobody waits for the verdict


if __name__ == "__main__":
    # python -m ledger.service.parse_apart SOURCE_FD RESULTS_FD FILE_NAME LIMITS
    _in, _out, _name, _limits = sys.argv[1:5]
    _child_main(
        Connection(int(_in), writable=False),
        Connection(int(_out), readable=False),
        _name,
        ReadLimits.from_text(_limits),
    )
