"""The exception queue on a real database: the pipeline raises and resolves problems inside its
own transaction (the events commit or roll back with it, and its inline views follow them); a
person acknowledges, resolves, dismisses, reopens and reassigns; operations lists the queue by
status, impact, category and subject; the history names every actor; the views rebuild to the
identical result. ``ledger exceptions`` prints the queue and makes the changes.

Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError

from integration.conftest import Cli, count_events, dump_views
from ledger.domain.errors import LedgerBusy, LedgerError, MissingAttribution
from ledger.domain.exception_queue import (
    Category,
    ExceptionCase,
    ExceptionRefused,
    Impact,
    Problem,
    exception_id,
)
from ledger.service.application import Ledger, NotFound
from ledger.service.exceptions import ExceptionQueue, ExceptionView
from ledger.service.runtime import LedgerRuntime
from projections.runner import InlineViews

TENANT = "acme"
OTHER = "rival"
DAY = date(2026, 5, 6)
FIRST, SECOND, CORRECTED = "a1" * 32, "b2" * 32, "c3" * 32
REJECTED = "rejected:S0142:2026-05-06:R3:BRITGAS"
UNMAPPED = "unmapped:mpan:1014568234275"
TOTALS = "totals:S0141:2026-05-06:SF:BRITGAS"
JSON_KEYS = [
    "id",
    "category",
    "impact",
    "status",
    "message",
    "flow",
    "subject",
    "settlement_date",
    "periods",
    "owner",
    "history",
]


def rejected(flow: str | None = FIRST, **overrides: Any) -> Problem:
    fields: dict[str, Any] = {
        "key": REJECTED,
        "category": Category.REJECTED_FILE,
        "impact": Impact.BLOCKS_BILLING,
        "message": "S0142 file S0142_20260506_R3.txt (BSC Party BRITGAS, settlement date "
        "2026-05-06, run R3) was rejected: its checksum does not match; ask Elexon to send it "
        "again",
        "flow": flow,
        "party": "BRITGAS",
        "subject": "party:BRITGAS",
        "settlement_date": DAY,
        "periods": list(range(1, 49)),
    }
    fields.update(overrides)
    return Problem(**fields)


def unmapped() -> Problem:
    return Problem(
        key=UNMAPPED,
        category=Category.UNMAPPED_ID,
        impact=Impact.DATA_QUALITY,
        message="MPAN 1014568234275 in D0036 file UC05176778 has no mapping to a customer "
        "site: add its mapping, then re-ingest the file",
        flow=SECOND,
        subject="mpan:1014568234275",
        settlement_date=DAY,
        periods=[1, 2],
    )


def totals() -> Problem:
    return Problem(
        key=TOTALS,
        category=Category.TOTALS_MISMATCH,
        impact=Impact.INFORMATIONAL,
        message="S0141 for BRITGAS on 2026-05-06 run SF: the period charges add up to "
        "-1200.00 but the daily total is -1234.56; ask Elexon which is right",
        flow=SECOND,
        party="BRITGAS",
        subject="party:BRITGAS",
        settlement_date=DAY,
    )


def raise_in_tx(
    runtime: LedgerRuntime, problems: Sequence[Problem], tenant: str = TENANT
) -> list[Any]:
    """As the pipeline does: raise inside its own transaction, the views following inline."""
    queue = ExceptionQueue(runtime.ledger)
    with runtime.database.transaction() as tx:
        runtime.ledger.event_store.lock_for_append(tx)
        views = InlineViews(runtime.runner, tx)
        events = queue.raise_problems(tx, tenant, problems)
        views.follow(tx, events)
    return events


def resolve_in_tx(runtime: LedgerRuntime, keys: Sequence[str], flow: str) -> list[Any]:
    queue = ExceptionQueue(runtime.ledger)
    with runtime.database.transaction() as tx:
        events = queue.resolve_by_ledger(
            tx, TENANT, keys, flow=flow, reason="the corrected file was accepted"
        )
    runtime.runner.catch_up()
    return events


def steps(view: ExceptionView) -> list[tuple[str, str, str | None, str]]:
    return [(s.event, s.actor, s.reason, s.status) for s in view.history]


# --- The pipeline's part --------------------------------------------------------------------


def test_raised_inside_the_pipelines_transaction_with_its_views(runtime: LedgerRuntime) -> None:
    before = count_events(runtime)
    events = raise_in_tx(runtime, [rejected(), unmapped()])
    assert [type(e) for e in events] == [ExceptionCase.Raised, ExceptionCase.Raised]
    assert count_events(runtime) == before + 2
    # The inline views followed: nothing is left for a catch-up to apply.
    assert runtime.views().up_to_date and runtime.runner.catch_up() == 0

    view = runtime.exceptions.get(REJECTED, tenant=TENANT)
    assert view.id == exception_id(TENANT, REJECTED)
    assert (view.category, view.impact, view.status, view.owner) == (
        "rejected_file",
        "blocks_billing",
        "open",
        "operations",
    )
    assert (view.flow, view.party, view.settlement_date, view.periods) == (
        FIRST,
        "BRITGAS",
        DAY,
        list(range(1, 49)),
    )
    assert steps(view) == [("raised", "ledger", None, "open")]
    assert runtime.exceptions.get(UNMAPPED, tenant=TENANT).owner == "data-team"


def test_nothing_is_raised_when_the_pipelines_transaction_rolls_back(
    runtime: LedgerRuntime,
) -> None:
    before = count_events(runtime)
    with pytest.raises(LedgerError, match="the file failed"):
        with runtime.database.transaction() as tx:
            ExceptionQueue(runtime.ledger).raise_problems(tx, TENANT, [rejected()])
            raise LedgerError("the file failed")
    runtime.runner.catch_up()
    assert count_events(runtime) == before
    assert runtime.exceptions.find(tenant=TENANT) == []


def test_one_problem_is_one_exception_within_a_transaction_and_across_them(
    runtime: LedgerRuntime,
) -> None:
    queue = ExceptionQueue(runtime.ledger)
    with runtime.database.transaction() as tx:
        first = queue.raise_problems(tx, TENANT, [rejected(), rejected()])
        # Raised again later in the same transaction, by another file: seen again.
        second = queue.raise_problems(tx, TENANT, [rejected(SECOND)])
    assert [type(e) for e in [*first, *second]] == [ExceptionCase.Raised, ExceptionCase.SeenAgain]
    # The same files again, in a later transaction: nothing new.
    assert raise_in_tx(runtime, [rejected(), rejected(SECOND)]) == []
    runtime.runner.catch_up()
    [view] = runtime.exceptions.find(tenant=TENANT)
    assert [(s.event, s.flow) for s in view.history] == [("raised", FIRST), ("seen_again", SECOND)]
    assert view.flow == SECOND


def test_seen_again_once_resolved_reopens_it(runtime: LedgerRuntime) -> None:
    raise_in_tx(runtime, [rejected()])
    runtime.exceptions.resolve(REJECTED, tenant=TENANT, actor="o.ops", reason="resent")
    [event] = raise_in_tx(runtime, [rejected(SECOND)])
    assert isinstance(event, ExceptionCase.SeenAgain) and event.reopens
    view = runtime.exceptions.get(REJECTED, tenant=TENANT)
    assert view.status == "reopened"
    assert steps(view) == [
        ("raised", "ledger", None, "open"),
        ("resolved", "o.ops", "resent", "resolved"),
        ("seen_again", "ledger", None, "reopened"),
    ]


def test_a_corrected_file_resolves_the_exception_keeping_the_link(runtime: LedgerRuntime) -> None:
    raise_in_tx(runtime, [rejected(), totals()])
    runtime.exceptions.dismiss(TOTALS, tenant=TENANT, actor="s.analyst", reason="rounding")
    events = resolve_in_tx(runtime, [REJECTED, TOTALS, "rejected:never:raised"], CORRECTED)
    # Only the exception being worked on: the dismissed one and the unknown key record nothing.
    assert [(type(e), e.key) for e in events] == [(ExceptionCase.Resolved, REJECTED)]
    view = runtime.exceptions.get(REJECTED, tenant=TENANT)
    assert (view.status, view.resolved_by_flow) == ("resolved", CORRECTED)
    last = view.history[-1]
    assert (last.event, last.actor, last.flow) == ("resolved", "ledger", CORRECTED)
    assert runtime.exceptions.get(TOTALS, tenant=TENANT).status == "dismissed"


# --- A person's commands --------------------------------------------------------------------


def test_every_change_is_in_the_history_with_its_actor(runtime: LedgerRuntime) -> None:
    raise_in_tx(runtime, [rejected()])
    [view] = runtime.exceptions.find(tenant=TENANT)
    queue = runtime.exceptions
    ack = queue.acknowledge(str(view.id), tenant=TENANT, actor="o.ops", reason="chasing Elexon")
    assert ack.status == "acknowledged"
    queue.assign(REJECTED, tenant=TENANT, owner="j.smith", actor="o.ops", reason="her party")
    queue.resolve(REJECTED, tenant=TENANT, actor="j.smith", reason="Elexon resent it")
    queue.reopen(REJECTED, tenant=TENANT, actor="a.audit", reason="resent file wrong too")
    final = queue.dismiss(REJECTED, tenant=TENANT, actor="j.smith", reason="superseded by RF")
    assert steps(final) == [
        ("raised", "ledger", None, "open"),
        ("acknowledged", "o.ops", "chasing Elexon", "acknowledged"),
        ("owner_assigned", "o.ops", "her party", "acknowledged"),
        ("resolved", "j.smith", "Elexon resent it", "resolved"),
        ("reopened", "a.audit", "resent file wrong too", "reopened"),
        ("dismissed", "j.smith", "superseded by RF", "dismissed"),
    ]
    assert [s.owner for s in final.history] == ["operations", "operations"] + ["j.smith"] * 4
    assert [s.version for s in final.history] == list(range(1, 7))
    assert final == queue.get(REJECTED, tenant=TENANT)
    assert final.updated_at == final.history[-1].at > final.raised_at


def test_a_refused_change_says_why_and_writes_nothing(runtime: LedgerRuntime) -> None:
    raise_in_tx(runtime, [rejected()])
    queue = runtime.exceptions
    queue.resolve(REJECTED, tenant=TENANT, actor="o.ops", reason="resent")
    before = count_events(runtime)
    with pytest.raises(ExceptionRefused, match="a resolved exception cannot be acknowledged"):
        queue.acknowledge(REJECTED, tenant=TENANT, actor="o.ops", reason="looking")
    with pytest.raises(MissingAttribution, match="dismissing exception"):
        queue.dismiss(REJECTED, tenant=TENANT, actor="o.ops", reason="")
    with pytest.raises(LedgerError, match="unknown change 'escalate'"):
        queue.change("escalate", REJECTED, tenant=TENANT, actor="o.ops", reason="why")
    assert count_events(runtime) == before


def test_an_unknown_exception_and_another_tenants_are_not_found(runtime: LedgerRuntime) -> None:
    raise_in_tx(runtime, [rejected()])
    queue = runtime.exceptions
    mine = queue.get(REJECTED, tenant=TENANT)
    for tenant, exception in ((TENANT, "rejected:nothing"), (OTHER, str(mine.id))):
        with pytest.raises(NotFound, match=f"tenant '{tenant}' has no exception"):
            queue.get(exception, tenant=tenant)
        with pytest.raises(NotFound, match="ledger exceptions"):
            queue.acknowledge(exception, tenant=tenant, actor="o.ops", reason="mine?")
    assert queue.find(tenant=OTHER) == []


def test_a_command_is_run_again_when_the_pipeline_wrote_meanwhile(
    runtime: LedgerRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    raise_in_tx(runtime, [rejected()])
    save = Ledger.save
    calls: list[int] = []

    def pipeline_first(ledger: Ledger, *objs: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:  # another file shows the problem before the person's save
            raise_in_tx(runtime, [rejected(SECOND)])
        return save(ledger, *objs, **kwargs)

    monkeypatch.setattr(Ledger, "save", pipeline_first)
    view = runtime.exceptions.acknowledge(REJECTED, tenant=TENANT, actor="o.ops", reason="mine")
    assert len(calls) == 2
    assert [s.event for s in view.history] == ["raised", "seen_again", "acknowledged"]


def test_a_command_that_keeps_losing_reports_the_ledger_busy(
    runtime: LedgerRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    raise_in_tx(runtime, [rejected()])

    def always_conflicts(ledger: Ledger, *objs: Any, **kwargs: Any) -> Any:
        raise IntegrityError("another writer")

    monkeypatch.setattr(Ledger, "save", always_conflicts)
    with pytest.raises(LedgerBusy, match="kept changing while the command ran"):
        runtime.exceptions.resolve(REJECTED, tenant=TENANT, actor="o.ops", reason="resent")


# --- The queue ------------------------------------------------------------------------------


def test_the_queue_by_status_impact_category_and_subject(runtime: LedgerRuntime) -> None:
    raise_in_tx(runtime, [totals()])
    raise_in_tx(runtime, [unmapped()])
    raise_in_tx(runtime, [rejected()])
    raise_in_tx(runtime, [rejected()], tenant=OTHER)
    queue = runtime.exceptions
    queue.acknowledge(UNMAPPED, tenant=TENANT, actor="d.data", reason="mapping it")

    def keys(**chosen: str) -> list[str]:
        return [view.key for view in queue.find(tenant=TENANT, **chosen)]

    # Most at risk first, whatever the order they were raised in.
    assert keys() == [REJECTED, UNMAPPED, TOTALS]
    assert keys(status="acknowledged") == [UNMAPPED]
    assert keys(status="open") == [REJECTED, TOTALS]
    assert keys(impact="blocks_billing") == [REJECTED]
    assert keys(status="open", impact="data_quality") == []
    assert keys(category="totals_mismatch") == [TOTALS]
    assert keys(subject="party:BRITGAS") == [REJECTED, TOTALS]
    # Each with its own history, whatever the filter.
    [view] = queue.find(tenant=TENANT, status="acknowledged")
    assert [s.event for s in view.history] == ["raised", "acknowledged"]
    with pytest.raises(LedgerError, match="unknown impact 'urgent': use one of blocks_billing"):
        queue.find(tenant=TENANT, impact="urgent")


def test_the_views_rebuild_to_the_identical_result(runtime: LedgerRuntime) -> None:
    raise_in_tx(runtime, [rejected(), unmapped(), totals()])
    queue = runtime.exceptions
    queue.acknowledge(REJECTED, tenant=TENANT, actor="o.ops", reason="chasing")
    queue.dismiss(TOTALS, tenant=TENANT, actor="s.analyst", reason="rounding")
    raise_in_tx(runtime, [rejected(SECOND)])
    resolve_in_tx(runtime, [REJECTED], CORRECTED)
    queue.assign(UNMAPPED, tenant=TENANT, owner="d.data", actor="o.ops", reason="theirs")
    before = dump_views(runtime)
    assert len(before["exception_history"]) == 8

    found = runtime.verify()
    assert found.equal
    assert set(found.views["exceptions"].tables) == {"exceptions", "exception_history"}
    runtime.rebuild(["exceptions"])
    assert dump_views(runtime) == before


def test_the_exceptions_are_in_the_tenants_feed(runtime: LedgerRuntime) -> None:
    raise_in_tx(runtime, [rejected()])
    runtime.exceptions.acknowledge(REJECTED, tenant=TENANT, actor="o.ops", reason="mine")
    page = runtime.feed(tenant=TENANT)
    assert [(e.type, e.payload["key"]) for e in page.events] == [
        ("ExceptionCase.Raised", REJECTED),
        ("ExceptionCase.Acknowledged", REJECTED),
    ]
    assert page.events[0].payload["settlement_date"] == "2026-05-06"
    assert runtime.feed(tenant=OTHER).events == []


# --- ledger exceptions ----------------------------------------------------------------------


@pytest.fixture
def queued(cli: Cli, runtime: LedgerRuntime) -> Cli:
    """The queue holds a rejected file, an unmapped MPAN and a totals mismatch."""
    raise_in_tx(runtime, [rejected(), unmapped(), totals()])
    return cli


def listed(cli: Cli, *options: str) -> list[dict[str, Any]]:
    code, out, err = cli("--tenant", TENANT, "exceptions", *options, "--json")
    assert (code, err) == (0, "")
    found = json.loads(out)
    assert isinstance(found, list)
    return found


def test_the_queue_as_json_has_exactly_the_documented_shape(
    queued: Cli, runtime: LedgerRuntime
) -> None:
    found = listed(queued)
    assert [list(e) for e in found] == [JSON_KEYS] * 3
    first = found[0]
    assert first["id"] == str(exception_id(TENANT, REJECTED))
    assert (first["category"], first["impact"], first["status"]) == (
        "rejected_file",
        "blocks_billing",
        "open",
    )
    assert (first["flow"], first["subject"], first["settlement_date"]) == (
        FIRST,
        "party:BRITGAS",
        "2026-05-06",
    )
    assert (first["periods"], first["owner"]) == (list(range(1, 49)), "operations")
    assert first["message"] == rejected().message
    [step] = first["history"]
    assert (step["event"], step["actor"], step["status"], step["flow"]) == (
        "raised",
        "ledger",
        "open",
        FIRST,
    )
    assert [e["id"] for e in found] == [
        str(view.id) for view in runtime.exceptions.find(tenant=TENANT)
    ]


def test_the_queue_filtered_by_status_and_impact(queued: Cli) -> None:
    assert [e["category"] for e in listed(queued, "--impact", "data_quality")] == ["unmapped_id"]
    assert listed(queued, "--status", "resolved") == []
    assert len(listed(queued, "--status", "open")) == 3
    code, out, err = queued("exceptions", "--status", "closed")
    assert (code, out) == (2, "")
    assert err.startswith("ledger: --status 'closed': use one of open, acknowledged")


def test_one_readable_line_per_exception(queued: Cli) -> None:
    code, out, _ = queued("--tenant", TENANT, "exceptions")
    lines = out.splitlines()
    assert code == 0 and len(lines) == 3
    assert lines[0] == (
        f"{exception_id(TENANT, REJECTED)} | open | blocks_billing | rejected_file | owner "
        f"operations | party:BRITGAS 2026-05-06 periods 1-48 | {rejected().message}"
    )
    assert "| mpan:1014568234275 2026-05-06 periods 1-2 |" in lines[1]


def test_acknowledge_resolve_and_dismiss_from_the_command_line(queued: Cli) -> None:
    rejected_id = str(exception_id(TENANT, REJECTED))
    who = ("--actor", "o.ops", "--reason", "chasing Elexon")
    code, out, err = queued("--tenant", TENANT, "exceptions", "acknowledge", rejected_id, *who)
    assert (code, err) == (0, "")
    assert out.startswith(f"{rejected_id} | acknowledged | blocks_billing |")

    code, out, _ = queued(
        "--tenant", TENANT, "exceptions", "resolve", REJECTED, "--actor", "o.ops",
        "--reason", "resent", "--json",
    )  # fmt: skip
    resolved = json.loads(out)
    assert code == 0 and list(resolved) == JSON_KEYS
    assert [(s["event"], s["actor"], s["reason"]) for s in resolved["history"]] == [
        ("raised", "ledger", None),
        ("acknowledged", "o.ops", "chasing Elexon"),
        ("resolved", "o.ops", "resent"),
    ]

    dismiss = ("--tenant", TENANT, "exceptions", "dismiss", TOTALS, "--actor", "s.analyst")
    code, out, err = queued(*dismiss)
    assert (code, out) == (2, "")
    assert err == (
        f"ledger: dismissing exception {TOTALS} needs the person who made it and a reason\n"
    )
    assert queued(*dismiss, "--reason", "rounding")[0] == 0
    assert [e["status"] for e in listed(queued)] == ["resolved", "open", "dismissed"]


def test_refusals_and_unknown_ids_on_the_command_line(queued: Cli) -> None:
    who = ("--actor", "o.ops", "--reason", "why")
    code, out, err = queued("--tenant", TENANT, "exceptions", "reopen", REJECTED, *who)
    assert (code, out) == (2, "")
    assert err.startswith(f"ledger: exception {REJECTED} is open: only a resolved or dismissed")
    code, out, err = queued("--tenant", TENANT, "exceptions", "resolve", "no-such-problem", *who)
    assert (code, out) == (2, "")
    assert err == (
        "ledger: tenant 'acme' has no exception 'no-such-problem': list the tenant's "
        "exceptions (ledger exceptions) for their ids\n"
    )


def twin_keys(tenant: str) -> tuple[str, str]:
    """Two problem keys whose exception ids share their first 8 hexadecimal digits."""
    seen: dict[str, str] = {}
    for i in range(1_000_000):
        key = f"rejected-file:twin-{i}.txt"
        start = str(exception_id(tenant, key))[:8]
        if start in seen:
            return seen[start], key
        seen[start] = key
    raise AssertionError("no two ids share a start")


def test_assign_from_the_command_line_by_the_start_of_the_id(queued: Cli) -> None:
    rejected_id = str(exception_id(TENANT, REJECTED))
    who = ("--actor", "o.lead", "--reason", "Ana chases this sender")
    code, out, err = queued(
        "--tenant", TENANT, "exceptions", "assign", rejected_id[:8], "--owner", "ana", *who,
        "--json",
    )  # fmt: skip
    assert (code, err) == (0, "")
    assigned = json.loads(out)
    assert (assigned["id"], assigned["owner"]) == (rejected_id, "ana")
    assert [(s["event"], s["actor"], s["reason"], s["owner"]) for s in assigned["history"]][-1] == (
        "owner_assigned",
        "o.lead",
        "Ana chases this sender",
        "ana",
    )
    # Any change takes the start of an id, hyphens and capitals as written.
    start = rejected_id[:13].upper()
    code, out, _ = queued("--tenant", TENANT, "exceptions", "acknowledge", start, *who)
    assert code == 0 and out.startswith(f"{rejected_id} | acknowledged |")
    # Refusals: no owner, the same owner, no person.
    for argv, message in (
        (("assign", rejected_id, *who), f"assigning exception {REJECTED} needs the new owner"),
        (
            ("assign", rejected_id, "--owner", "ana", *who),
            f"exception {REJECTED} is already owned by ana",
        ),
        (
            ("assign", rejected_id, "--owner", "ben", "--reason", "r"),
            f"assigning exception {REJECTED} needs the person who made it and a reason",
        ),
    ):
        code, out, err = queued("--tenant", TENANT, "exceptions", *argv)
        assert (code, out, err) == (2, "", f"ledger: {message}\n")


def test_a_start_of_an_id_shared_by_several_is_refused_naming_them(
    queued: Cli, runtime: LedgerRuntime
) -> None:
    first, second = twin_keys(TENANT)
    raise_in_tx(runtime, [rejected(key=first), rejected(key=second)])
    start = str(exception_id(TENANT, first))[:8]
    code, out, err = queued("--tenant", TENANT, "exceptions", "acknowledge", start, *BY)
    assert (code, out) == (2, "")
    assert err.startswith(
        f"ledger: '{start}' starts the id of several exceptions of tenant 'acme': "
    )
    for key in (first, second):
        assert f"{exception_id(TENANT, key)} ('{key}')" in err
    assert err.endswith("; give more of the id\n") and len(err.splitlines()) == 1
    # Seven characters are not taken as a start; one id's longer start is.
    code, _, err = queued("--tenant", TENANT, "exceptions", "acknowledge", start[:7], *BY)
    assert code == 2 and "has no exception" in err
    longer = str(exception_id(TENANT, first))[:20]
    assert queued("--tenant", TENANT, "exceptions", "acknowledge", longer, *BY)[0] == 0
    # Another tenant's ids are not candidates.
    code, _, err = queued("--tenant", OTHER, "exceptions", "acknowledge", start, *BY)
    assert code == 2 and f"tenant {OTHER!r} has no exception" in err


BY = ("--actor", "o.ops", "--reason", "looking")
