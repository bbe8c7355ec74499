"""The consumer feed (runtime and ``ledger feed``): a tenant's events in commit order, every
one exactly once to a consumer that stops and resumes, never another tenant's.

On SQLite and on PostgreSQL (fixture ``runtime``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration.conftest import DAY, PARTY_SUBJECT, write_report
from ledger import cli
from ledger.domain.aggregates import received_file_id
from ledger.domain.errors import InvalidIdentifier, LedgerError
from ledger.service import feed as feed_module
from ledger.service.read_models import FeedEvent, FeedPage
from ledger.service.runtime import LedgerRuntime

TENANT = "acme"
OTHER = "rival"
PERIOD = 7
NEW_VALUES = {"bm_unit_cashflow": Decimal("-1234.56"), "non_delivery_charge": Decimal("0.000")}

Read = Callable[[int, int], FeedPage]


@dataclass(frozen=True)
class Log:
    """A log holding two tenants' events, interleaved, and who owns each received file."""

    runtime: LedgerRuntime
    files: dict[UUID, str]  # received file aggregate id -> tenant

    def expected(self, tenant: str) -> list[tuple[int, Any]]:
        """Every event of ``tenant`` in the store, with its position, in log order: decided
        here from the events' own tenant and the files' ids, independently of the feed."""
        ledger = self.runtime.ledger
        found = []
        for notification in ledger.recorder.select_notifications(start=None, limit=100_000):
            event = ledger.mapper.to_domain_event(notification)
            owner = getattr(event, "tenant", None) or self.files.get(event.originator_id)
            assert owner is not None, event
            if owner == tenant:
                found.append((notification.id, event))
        return found


@pytest.fixture
def log(runtime: LedgerRuntime, files: Path) -> Log:
    """The tenant's II and SF files, the other tenant's copy of the II file between them (the
    same bytes: another tenant's file) and a rejected file of its own, then a correction."""
    ii = write_report(files, flow="S0141", run_type="II")
    sf = write_report(files, flow="S0141", run_type="SF")
    assert runtime.ingest(ii.path, tenant=TENANT).status == "accepted"
    assert runtime.ingest(ii.path, tenant=OTHER).status == "accepted"
    assert runtime.ingest(sf.path, tenant=TENANT).status == "accepted"
    junk = runtime.ingest_bytes(b"AAA|S0142013|D|\n", file_name="junk", tenant=OTHER)
    assert junk.status == "rejected"
    version = runtime.correct(
        PARTY_SUBJECT,
        DAY,
        PERIOD,
        supersedes=2,
        values=NEW_VALUES,
        reason="BSCCo query 123: cashflow restated",
        actor="j.smith",
        tenant=TENANT,
    )
    assert version == 3
    owners = {
        received_file_id(TENANT, ii.sha256): TENANT,
        received_file_id(TENANT, sf.sha256): TENANT,
        received_file_id(OTHER, ii.sha256): OTHER,
        received_file_id(OTHER, junk.sha256): OTHER,
    }
    return Log(runtime, owners)


def reader(runtime: LedgerRuntime, tenant: str = TENANT) -> Read:
    return lambda after, limit: runtime.feed(after=after, limit=limit, tenant=tenant)


def read_on(read: Read, sizes: Sequence[int], after: int = 0, pages: int = 0) -> list[FeedEvent]:
    """Read page after page from ``after``, each from the last page's ``next_after`` (the
    sizes taken in turn), until a page is caught up (or ``pages`` pages, when not 0)."""
    seen: list[FeedEvent] = []
    for count in range(1, 10_000):
        limit = sizes[(count - 1) % len(sizes)]
        page = read(after, limit)
        assert page.after == after
        assert len(page.events) <= limit
        positions = [e.position for e in page.events]
        assert positions == sorted(positions) and all(
            after < p <= page.next_after for p in positions
        )
        assert page.next_after >= after
        seen.extend(page.events)
        after = page.next_after
        if page.caught_up or count == pages:
            return seen
    raise AssertionError("the feed never caught up")


def check_exactly_once(log: Log, seen: Sequence[FeedEvent], tenant: str = TENANT) -> None:
    """``seen`` is every event of ``tenant`` in the store, each once, in log order."""
    expected = log.expected(tenant)
    assert [e.position for e in seen] == [position for position, _ in expected]
    for served, (_, event) in zip(seen, expected, strict=True):
        assert served.type == type(event).__qualname__
        assert served.aggregate_id == event.originator_id
        assert served.aggregate_version == event.originator_version
        assert served.recorded_at == event.timestamp


@pytest.mark.parametrize("sizes", [[1], [7], [100], [1000], [3, 250, 1, 40]])
def test_every_event_once_in_order_whatever_the_page_sizes(
    log: Log, sizes: list[int], open_runtime: Callable[[], LedgerRuntime]
) -> None:
    # The consumer stops part way; another process resumes from the last position alone.
    first = read_on(reader(log.runtime), sizes, pages=3)
    assert first
    rest = read_on(reader(open_runtime()), sizes, after=first[-1].position)
    check_exactly_once(log, first + rest)


def test_pages_of_a_bounded_scan_still_give_every_event_once(
    log: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a scan of 10 or 20 events a page, the other tenant's stretch gives pages with none of
    the tenant's events: their next_after moves the consumer past it."""
    monkeypatch.setattr(feed_module, "MIN_SCAN", 0)
    pages: list[FeedPage] = []

    def read(after: int, limit: int) -> FeedPage:
        pages.append(log.runtime.feed(after=after, limit=limit, tenant=TENANT))
        return pages[-1]

    check_exactly_once(log, read_on(read, [1, 2]))
    assert any(not p.events and not p.caught_up for p in pages)
    assert all(p.next_after - p.after <= 10 * 2 for p in pages)


def test_hypothesis_page_sizes_and_scan_bounds(
    log: Log, monkeypatch: pytest.MonkeyPatch, open_runtime: Callable[[], LedgerRuntime]
) -> None:
    expected = [position for position, _ in log.expected(TENANT)]
    resumed = open_runtime()

    @settings(max_examples=20, deadline=None)
    @given(
        sizes=st.lists(st.integers(1, 300), min_size=1, max_size=4),
        min_scan=st.sampled_from([0, 50, feed_module.MIN_SCAN]),
        stop_after=st.integers(1, 5),
    )
    def check(sizes: list[int], min_scan: int, stop_after: int) -> None:
        monkeypatch.setattr(feed_module, "MIN_SCAN", min_scan)
        first = read_on(reader(log.runtime), sizes, pages=stop_after)
        after = first[-1].position if first else 0
        rest = read_on(reader(resumed), sizes, after=after)
        assert [e.position for e in first + rest] == expected

    check()


def test_another_tenants_events_never_appear(log: Log) -> None:
    ours = read_on(reader(log.runtime), [1000])
    theirs = read_on(reader(log.runtime, OTHER), [1000])
    check_exactly_once(log, theirs, OTHER)
    assert not {e.position for e in ours} & {e.position for e in theirs}
    # The other tenant received the same bytes: its file's stages (which name no tenant)
    # are its own, and so is the rejected file.
    assert [e.type for e in theirs if e.type.startswith("ReceivedFile.")] == [
        "ReceivedFile.Received",
        "ReceivedFile.Validated",
        "ReceivedFile.Mapped",
        "ReceivedFile.Interpreted",
        "ReceivedFile.Published",
        "ReceivedFile.Received",
        "ReceivedFile.Rejected",
    ]
    for event in ours:
        assert event.payload.get("tenant", TENANT) == TENANT
    # Started after the other tenant's first event: its later stages are still not ours.
    start = next(e.position for e in theirs if e.type == "ReceivedFile.Received")
    assert {e.position for e in read_on(reader(log.runtime), [50], after=start)}.isdisjoint(
        {e.position for e in theirs}
    )


def test_a_tenant_with_no_events_reads_to_the_end(log: Log) -> None:
    page = log.runtime.feed(tenant="nobody")
    with log.runtime.database.transaction(write=False) as tx:
        end = log.runtime.ledger.event_store.max_position(tx)
    assert page.events == [] and page.caught_up and page.next_after == end
    again = log.runtime.feed(after=end, tenant="nobody")
    assert again.events == [] and again.caught_up and again.next_after == end


def test_a_page_scans_a_bounded_stretch_of_the_log(
    log: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed_module, "MIN_SCAN", 0)
    page = log.runtime.feed(after=0, limit=3, tenant="nobody")
    assert page.events == [] and not page.caught_up and page.next_after == 30


def test_events_carry_their_fields_as_json_without_floats(log: Log) -> None:
    events = read_on(reader(log.runtime), [1000])
    for event in events:
        data = event.model_dump(mode="json")
        assert json.loads(json.dumps(data)) == data
        assert not list(floats_in(data)), event.type
        assert data["recorded_at"].endswith("+00:00")
        assert UUID(data["aggregate_id"]) == event.aggregate_id
    stored = dict(log.expected(TENANT))
    values = [e for e in events if e.type == "SettlementPeriod.FirstValuesRecorded"]
    assert values and all(e.schema_version == 2 for e in values)
    for event in values:
        payload = event.model_dump(mode="json")["payload"]
        original = stored[event.position]
        assert payload["values"] == original.values.as_text()
        assert all(isinstance(v, str) for v in payload["values"].values())
        assert payload["settlement_date"] == DAY.isoformat()
        assert payload["file_creation_time"] == original.file_creation_time.isoformat()
        assert "originator_id" not in payload and "timestamp" not in payload
    validated = next(e for e in events if e.type == "ReceivedFile.Validated")
    assert validated.schema_version == 3 and validated.payload["flow"] == "S0141"


def floats_in(value: Any) -> Any:
    if isinstance(value, float):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from floats_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from floats_in(item)


def test_a_correction_appears_in_the_feed(log: Log) -> None:
    last = read_on(reader(log.runtime), [1000])[-1]
    assert last.type == "SettlementPeriod.CorrectionApplied"
    assert last.aggregate_version == 3
    payload = last.model_dump(mode="json")["payload"]
    # The measures set, over the corrected version's others (which carry over).
    assert (
        payload["values"].items()
        >= {"bm_unit_cashflow": "-1234.56", "non_delivery_charge": "0.000"}.items()
    )
    assert payload["supersedes"] == 2
    assert payload["actor"] == "j.smith"
    assert (payload["tenant"], payload["subject"]) == (TENANT, PARTY_SUBJECT)
    assert payload["settlement_period"] == PERIOD
    # A consumer that had read everything before it sees it, and only it.
    page = log.runtime.feed(after=last.position - 1, tenant=TENANT)
    assert page.events == [last] and page.caught_up


@pytest.mark.parametrize(
    ("after", "limit", "message"),
    [
        (-1, 100, "the feed has no position -1: positions start at 1"),
        (2**63, 100, f"the feed has no position {2**63}: positions run up to {2**63 - 1}"),
        (0, 0, "a page of the feed holds 1 to 1000 events, not 0"),
        (0, 1001, "a page of the feed holds 1 to 1000 events, not 1001"),
    ],
)
def test_a_position_or_page_size_out_of_range_is_refused(
    runtime: LedgerRuntime, after: int, limit: int, message: str
) -> None:
    with pytest.raises(LedgerError, match=message):
        runtime.feed(after=after, limit=limit, tenant=TENANT)


def test_a_malformed_tenant_is_refused(runtime: LedgerRuntime) -> None:
    with pytest.raises(InvalidIdentifier, match="is not a tenant name"):
        runtime.feed(tenant="Not A Tenant")


# --- ledger feed ---------------------------------------------------------------------------


Cli = Callable[..., tuple[int, list[dict[str, Any]], str]]


@pytest.fixture
def run_cli(
    database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Cli:
    """Runs ``ledger ARGS...``: (exit code, stdout as JSON lines, stderr)."""
    monkeypatch.setenv("LEDGER_DATABASE_URL", database_url)
    capsys.readouterr()

    def run(*argv: str) -> tuple[int, list[dict[str, Any]], str]:
        try:
            code = cli.main(list(argv))
        except SystemExit as exc:  # argparse rejects the command line
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, [json.loads(line) for line in out.splitlines()], err

    return run


def as_json(events: Sequence[FeedEvent]) -> list[dict[str, Any]]:
    return [e.model_dump(mode="json") for e in events]


def test_cli_prints_one_event_per_line_and_resumes(log: Log, run_cli: Cli) -> None:
    everything = as_json(read_on(reader(log.runtime), [1000]))
    code, first, err = run_cli("--tenant", TENANT, "feed", "--limit", "40")
    assert (code, err) == (0, "")
    assert first == everything[:40]
    code, rest, _ = run_cli("--tenant", TENANT, "feed", "--after", str(first[-1]["position"]))
    assert code == 0 and rest == everything[40:140]
    # One command reads on past pages of the other tenant's events to give --limit events.
    code, all_, _ = run_cli("--tenant", TENANT, "feed", "--limit", "1000")
    assert code == 0 and all_ == everything


def test_cli_reads_on_past_a_long_stretch_of_other_tenants_events(
    log: Log, run_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(feed_module, "MIN_SCAN", 0)
    theirs = as_json(read_on(reader(log.runtime, OTHER), [1000]))
    code, events, _ = run_cli("--tenant", OTHER, "feed", "--limit", "2")
    assert code == 0 and events == theirs[:2]
    code, events, _ = run_cli("--tenant", OTHER, "feed", "--after", str(theirs[-3]["position"]))
    assert code == 0 and events == theirs[-2:]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["feed", "--after", "-5"], "ledger: the feed has no position -5"),
        (["feed", "--limit", "0"], "ledger: a page of the feed holds 1 to 1000 events, not 0"),
        (["feed", "--limit", "5000"], "holds 1 to 1000 events, not 5000"),
        (["feed", "--after", str(2**63)], f"positions run up to {2**63 - 1}"),
        (["feed", "--follow", "--after", str(2**64)], f"positions run up to {2**63 - 1}"),
        (["--tenant", "BAD TENANT", "feed"], "is not a tenant name"),
    ],
)
def test_cli_refuses_a_bad_position_limit_or_tenant(
    run_cli: Cli, argv: list[str], message: str
) -> None:
    code, out, err = run_cli(*argv)
    assert (code, out) == (2, [])
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_cli_follow_prints_new_events_until_interrupted(
    log: Log, run_cli: Cli, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each time it has read everything it waits; here the first wait sees a new file
    arrive, the second is interrupted (Ctrl-C), which ends the command normally."""
    before = as_json(read_on(reader(log.runtime), [1000]))
    waits: list[int] = []

    def wait() -> None:
        waits.append(len(waits))
        if len(waits) == 1:
            r3 = write_report(files, flow="S0141", run_type="R1")
            assert log.runtime.ingest(r3.path, tenant=TENANT).status == "accepted"
            assert log.runtime.ingest(r3.path, tenant=OTHER).status == "accepted"
        else:
            raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_wait_for_more", wait)
    after = before[-10]["position"]
    code, events, err = run_cli("--tenant", TENANT, "feed", "--follow", "--after", str(after))
    assert (code, err) == (0, "")
    assert len(waits) == 2
    everything = as_json(read_on(reader(log.runtime), [1000]))
    assert len(everything) == len(before) + 150  # the R3 file, and the move it made raised
    assert events == everything[len(before) - 9 :]
