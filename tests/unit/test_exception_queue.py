"""An exception keeps its own rules, without a database: raised once per problem, seen again
(reopened once closed), acknowledged, resolved by a person or by a corrected file (the link
kept), dismissed with a reason, reopened, reassigned; every refusal says why in words."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.errors import InvalidSettlementPeriod, LedgerError, MissingAttribution
from ledger.domain.exception_queue import (
    DEFAULT_OWNERS,
    LEDGER_ACTOR,
    Category,
    ExceptionCase,
    ExceptionRefused,
    Impact,
    Problem,
    Status,
    exception_id,
    problem_key,
    raise_problem,
)
from ledger.domain.plain_text import MAX_REASON_LENGTH, InvalidText

TENANT = "acme"
DAY = date(2026, 5, 6)
FIRST, SECOND, CORRECTED = "aa" * 32, "bb" * 32, "cc" * 32
KEY = "rejected:S0142:2026-05-06:R3:BRITGAS"
MESSAGE = (
    "S0142 file S0142_20260506_R3.txt (BSC Party BRITGAS, settlement date 2026-05-06, run R3) "
    "was rejected: its checksum does not match; ask Elexon to send it again"
)


def problem(**overrides: Any) -> Problem:
    fields: dict[str, Any] = {
        "key": KEY,
        "category": Category.REJECTED_FILE,
        "impact": Impact.BLOCKS_BILLING,
        "message": MESSAGE,
        "flow": FIRST,
        "party": "BRITGAS",
        "subject": "party:BRITGAS",
        "settlement_date": DAY,
        "periods": [3, 1, 2, 2],
    }
    fields.update(overrides)
    return Problem(**fields)


def raised(**overrides: Any) -> ExceptionCase:
    case = ExceptionCase.raised(TENANT, problem(**overrides))
    case.collect_events()
    return case


def in_status(status: Status) -> ExceptionCase:
    """An exception brought to ``status`` by a person's changes (its events collected)."""
    case = raised()
    steps: dict[Status, list[Callable[[ExceptionCase], None]]] = {
        Status.OPEN: [],
        Status.ACKNOWLEDGED: [lambda c: c.acknowledge("o.ops", "looking")],
        Status.RESOLVED: [lambda c: c.resolve("o.ops", "sent again")],
        Status.DISMISSED: [lambda c: c.dismiss("o.ops", "test file")],
        Status.REOPENED: [
            lambda c: c.resolve("o.ops", "sent again"),
            lambda c: c.reopen("o.ops", "still wrong"),
        ],
    }
    for step in steps[status]:
        step(case)
    case.collect_events()
    assert case.status is status
    return case


def replayed(events: Sequence[Any]) -> ExceptionCase:
    """The exception rebuilt from its events alone."""
    case: Any = None
    for event in events:
        case = event.mutate(case)
    assert isinstance(case, ExceptionCase)
    return case


# --- Identity and the problem ---------------------------------------------------------------


def test_one_exception_per_tenant_and_key() -> None:
    assert exception_id(TENANT, KEY) == exception_id(TENANT, KEY)
    assert exception_id(TENANT, KEY) != exception_id("other", KEY)
    assert exception_id(TENANT, KEY) != exception_id(TENANT, KEY + "X")
    assert ExceptionCase.raised(TENANT, problem()).id == exception_id(TENANT, KEY)


def test_a_key_from_its_parts() -> None:
    assert problem_key("rejected", "S0142", DAY, "R3", "BRITGAS") == KEY
    assert problem_key("unmapped", "mpan", 1014568234275) == "unmapped:mpan:1014568234275"
    assert problem_key("rejected", "S0142", DAY, "R3", None) == "rejected:S0142:2026-05-06:R3:-"


def test_a_problem_keeps_its_periods_in_order_once_each() -> None:
    assert problem().periods == (1, 2, 3)
    assert problem(periods=[50], settlement_date=date(2026, 10, 25)).periods == (50,)


@pytest.mark.parametrize(
    ("overrides", "error", "words"),
    [
        ({"flow": "AB" * 32}, ExceptionRefused, "SHA-256 of its bytes"),
        ({"flow": "ab"}, ExceptionRefused, "64 lower-case hexadecimal digits"),
        ({"message": " "}, InvalidText, "the message of exception"),
        ({"message": "bad\x00text"}, InvalidText, "control character U\\+0000"),
        ({"key": ""}, InvalidText, "an exception's key is empty"),
        ({"settlement_date": None}, ExceptionRefused, "without a settlement date"),
        ({"periods": [49]}, InvalidSettlementPeriod, "which has 48 periods"),
        ({"periods": [47], "settlement_date": date(2026, 3, 29)}, InvalidSettlementPeriod, "46"),
        ({"party": "x" * 300}, InvalidText, "at most 255"),
    ],
)
def test_a_problem_described_wrongly_is_refused(
    overrides: dict[str, Any], error: type[LedgerError], words: str
) -> None:
    with pytest.raises(error, match=words):
        problem(**overrides)


def test_every_category_has_a_default_owner() -> None:
    assert set(DEFAULT_OWNERS) == set(Category)
    assert problem().owned_by == "operations"
    assert problem(category=Category.UNMAPPED_ID).owned_by == "data-team"
    assert problem(category=Category.TOTALS_MISMATCH).owned_by == "settlement-analysts"
    assert problem(owner="j.smith").owned_by == "j.smith"


# --- Raised and seen again ------------------------------------------------------------------


def test_raised_opens_the_exception_with_the_problem() -> None:
    case = ExceptionCase.raised(TENANT, problem())
    [event] = case.collect_events()
    assert isinstance(event, ExceptionCase.Raised)
    assert (event.tenant, event.key, event.category, event.impact) == (
        TENANT,
        KEY,
        "rejected_file",
        "blocks_billing",
    )
    assert (event.flow, event.periods, event.owner) == (FIRST, [1, 2, 3], "operations")
    assert (case.status, case.owner, case.flows, case.impact) == (
        Status.OPEN,
        "operations",
        [FIRST],
        Impact.BLOCKS_BILLING,
    )
    assert raise_problem(None, TENANT, problem()).key == KEY


def test_seen_again_from_another_file_is_history_and_describes_it_as_last_seen() -> None:
    case = in_status(Status.ACKNOWLEDGED)
    again = raise_problem(case, TENANT, problem(flow=SECOND, impact=Impact.THREATENS_DEADLINE))
    assert again is case
    [event] = case.collect_events()
    assert isinstance(event, ExceptionCase.SeenAgain) and not event.reopens
    assert (case.status, case.flow, case.impact) == (
        Status.ACKNOWLEDGED,
        SECOND,
        Impact.THREATENS_DEADLINE,
    )
    assert case.flows == [FIRST, SECOND]


@pytest.mark.parametrize("status", list(Status))
def test_a_file_already_recorded_records_nothing(status: Status) -> None:
    case = in_status(status)
    assert not case.see_again(problem())
    assert case.collect_events() == []


def test_no_file_records_nothing_while_the_exception_is_worked_on() -> None:
    case = in_status(Status.OPEN)
    assert not case.see_again(problem(flow=None))
    assert case.collect_events() == []


@pytest.mark.parametrize("status", [Status.RESOLVED, Status.DISMISSED])
@pytest.mark.parametrize("flow", [SECOND, None])
def test_seen_again_once_closed_reopens(status: Status, flow: str | None) -> None:
    case = in_status(status)
    assert case.see_again(problem(flow=flow))
    [event] = case.collect_events()
    assert isinstance(event, ExceptionCase.SeenAgain) and event.reopens
    assert (case.status, case.resolved_by_flow) == (Status.REOPENED, None)


def test_one_key_names_one_kind_of_problem() -> None:
    case = raised()
    with pytest.raises(ExceptionRefused, match="one key names one kind of problem"):
        case.see_again(problem(category=Category.NOT_INTERPRETED, flow=SECOND))


# --- A person's changes ---------------------------------------------------------------------


@pytest.mark.parametrize("status", [Status.OPEN, Status.REOPENED])
def test_acknowledged_from_open_or_reopened(status: Status) -> None:
    case = in_status(status)
    case.acknowledge("o.ops", "looking into it")
    [event] = case.collect_events()
    assert isinstance(event, ExceptionCase.Acknowledged)
    assert (event.actor, event.reason) == ("o.ops", "looking into it")
    assert case.status is Status.ACKNOWLEDGED


@pytest.mark.parametrize("status", [Status.OPEN, Status.ACKNOWLEDGED, Status.REOPENED])
def test_resolved_by_a_person(status: Status) -> None:
    case = in_status(status)
    case.resolve("o.ops", "Elexon sent the file again")
    [event] = case.collect_events()
    assert isinstance(event, ExceptionCase.Resolved) and event.resolved_by_flow is None
    assert (case.status, case.resolved_by_flow) == (Status.RESOLVED, None)


@pytest.mark.parametrize("status", [Status.OPEN, Status.ACKNOWLEDGED, Status.REOPENED])
def test_resolved_by_the_ledger_keeps_the_corrected_file(status: Status) -> None:
    case = in_status(status)
    assert case.resolve_by_ledger(CORRECTED, "the corrected file was accepted")
    [event] = case.collect_events()
    assert isinstance(event, ExceptionCase.Resolved)
    assert (event.actor, event.resolved_by_flow) == (LEDGER_ACTOR, CORRECTED)
    assert (case.status, case.resolved_by_flow) == (Status.RESOLVED, CORRECTED)


@pytest.mark.parametrize("status", [Status.RESOLVED, Status.DISMISSED])
def test_the_ledger_leaves_a_closed_exception_as_it_is(status: Status) -> None:
    case = in_status(status)
    assert not case.resolve_by_ledger(CORRECTED, "the corrected file was accepted")
    assert case.collect_events() == [] and case.status is status


def test_the_ledger_names_the_corrected_file_by_its_digest() -> None:
    with pytest.raises(ExceptionRefused, match="SHA-256"):
        raised().resolve_by_ledger("S0142.txt", "corrected")


@pytest.mark.parametrize("status", [Status.OPEN, Status.ACKNOWLEDGED, Status.REOPENED])
def test_dismissed_with_a_reason(status: Status) -> None:
    case = in_status(status)
    case.dismiss("o.ops", "a test file sent by mistake")
    [event] = case.collect_events()
    assert isinstance(event, ExceptionCase.Dismissed)
    assert case.status is Status.DISMISSED


def test_dismiss_needs_a_reason_and_a_person() -> None:
    case = raised()
    with pytest.raises(MissingAttribution, match="dismissing exception .* and a reason"):
        case.dismiss("o.ops", " ")
    with pytest.raises(MissingAttribution, match="needs the person"):
        case.dismiss("", "a test file")
    assert case.collect_events() == []


@pytest.mark.parametrize("status", [Status.RESOLVED, Status.DISMISSED])
def test_reopened_by_a_person(status: Status) -> None:
    case = in_status(status)
    case.reopen("o.ops", "the resent file is wrong too")
    [event] = case.collect_events()
    assert isinstance(event, ExceptionCase.Reopened)
    assert case.status is Status.REOPENED


def test_assigned_to_another_owner() -> None:
    case = raised()
    case.assign("j.smith", "o.ops", "J knows this party")
    [event] = case.collect_events()
    assert isinstance(event, ExceptionCase.OwnerAssigned) and event.owner == "j.smith"
    assert (case.owner, case.status) == ("j.smith", Status.OPEN)


REFUSALS: list[tuple[Status, str, str]] = [
    (Status.ACKNOWLEDGED, "acknowledge", "already acknowledged by o.ops \\(looking\\)"),
    (Status.RESOLVED, "acknowledge", "a resolved exception cannot be acknowledged; reopen it"),
    (Status.DISMISSED, "acknowledge", "a dismissed exception cannot be acknowledged"),
    (Status.RESOLVED, "resolve", "was resolved by o.ops \\(sent again\\)"),
    (Status.DISMISSED, "resolve", "a dismissed exception cannot be resolved"),
    (Status.RESOLVED, "dismiss", "a resolved exception cannot be dismissed"),
    (Status.DISMISSED, "dismiss", "was dismissed by o.ops \\(test file\\)"),
    (Status.OPEN, "reopen", "is open: only a resolved or dismissed exception can be reopened"),
    (Status.ACKNOWLEDGED, "reopen", "is acknowledged: only a resolved or dismissed"),
    (Status.REOPENED, "reopen", "is reopened: only a resolved or dismissed"),
]


@pytest.mark.parametrize(("status", "action", "words"), REFUSALS)
def test_a_change_the_status_does_not_allow_is_refused(
    status: Status, action: str, words: str
) -> None:
    case = in_status(status)
    with pytest.raises(ExceptionRefused, match=f"^exception {KEY} .*{words}"):
        getattr(case, action)("a.analyst", "because")
    assert case.collect_events() == [] and case.status is status


def test_assigning_refuses_the_same_owner_or_none() -> None:
    case = raised()
    with pytest.raises(ExceptionRefused, match="already owned by operations"):
        case.assign("operations", "o.ops", "mine")
    with pytest.raises(ExceptionRefused, match="needs the new owner"):
        case.assign(" ", "o.ops", "mine")


@pytest.mark.parametrize("action", ["acknowledge", "resolve", "dismiss"])
def test_actor_and_reason_are_plain_text(action: str) -> None:
    case = raised()
    with pytest.raises(InvalidText, match="control character"):
        getattr(case, action)("o.ops\x1b[31m", "why")
    with pytest.raises(InvalidText, match="at most 2000"):
        getattr(case, action)("o.ops", "x" * 2001)


# --- The history is the state ---------------------------------------------------------------

_COMMANDS: list[Callable[[ExceptionCase], Any]] = [
    lambda c: c.acknowledge("o.ops", "looking"),
    lambda c: c.resolve("o.ops", "fixed"),
    lambda c: c.resolve_by_ledger(CORRECTED, "corrected file"),
    lambda c: c.dismiss("o.ops", "noise"),
    lambda c: c.reopen("o.ops", "back"),
    lambda c: c.assign("j.smith", "o.ops", "hers"),
    lambda c: c.assign("operations", "o.ops", "ours"),
    lambda c: c.see_again(problem(flow=SECOND)),
    lambda c: c.see_again(problem(flow=None)),
    lambda c: c.see_again(problem(flow=CORRECTED, cause="third.txt: its trailer is missing")),
]


@given(st.lists(st.sampled_from(range(len(_COMMANDS))), max_size=12))
def test_the_exception_is_its_events(commands: list[int]) -> None:
    """Whatever people and the ledger do, in any order (refused changes record nothing), the
    exception rebuilt from its events alone is the exception."""
    case = ExceptionCase.raised(TENANT, problem())
    for index in commands:
        try:
            _COMMANDS[index](case)
        except ExceptionRefused:
            pass
    events = case.collect_events()
    rebuilt = replayed(events)
    assert [e.originator_version for e in events] == list(range(1, len(events) + 1))
    for name in (
        "status",
        "owner",
        "flows",
        "flow",
        "resolved_by_flow",
        "impact",
        "last_change",
        "message",
        "causes",
        "cause_count",
    ):
        assert getattr(rebuilt, name) == getattr(case, name)


# --- Several files, one problem ----------------------------------------------------------------


def sha(i: int) -> str:
    return f"{i:064x}"


def test_each_file_s_cause_is_kept_in_the_message_latest_first() -> None:
    case = raised(flow=sha(1), cause="first.txt: its checksum does not match")
    assert case.message == MESSAGE
    case.see_again(problem(flow=sha(2), cause="second.txt: line 7 is not a number"))
    assert case.message == (
        f"{MESSAGE} Before it, 1 file showed this: first.txt: its checksum does not match."
    )
    case.see_again(problem(flow=sha(3), message="third", cause="third.txt: truncated"))
    assert case.message == (
        "third Before it, 2 files showed this: second.txt: line 7 is not a number; first.txt: "
        "its checksum does not match."
    )
    # What each file showed is in its own step of the history too.
    last = case.collect_events()[-1]
    assert isinstance(last, ExceptionCase.SeenAgain) and last.message == case.message


def test_the_causes_shown_are_bounded_and_the_rest_counted() -> None:
    case = raised(flow=sha(0), cause="file-0: bad")
    for i in range(1, 40):
        case.see_again(problem(flow=sha(i), message=f"latest {i}", cause=f"file-{i}: bad"))
    assert case.message == (
        "latest 39 Before it, 39 files showed this: file-38: bad; file-37: bad; file-36: bad; "
        "file-35: bad; file-34: bad; and 34 earlier files."
    )
    assert len(case.causes) <= 6
    # Long causes are cut, and the message stays within the longest a message may be.
    long = raised(flow=sha(0), cause="x" * 5000)
    assert long.causes == ["x" * 299 + "…"]
    for i in range(1, 10):
        long.see_again(problem(flow=sha(i), message="m" * 1500, cause="y" * 5000))
    assert len(long.message) <= MAX_REASON_LENGTH
    assert long.message.startswith("m" * 1500 + " Before it, 9 files showed this: ")
    assert long.message.endswith("and 8 earlier files.")


def test_reopened_by_being_seen_again_the_causes_start_afresh() -> None:
    case = raised(flow=sha(1), cause="first.txt: bad")
    case.resolve_by_ledger(CORRECTED, "the corrected file arrived")
    case.see_again(problem(flow=sha(2), cause="later.txt: bad"))
    assert (case.status, case.message, case.causes) == (
        Status.REOPENED,
        MESSAGE,
        ["later.txt: bad"],
    )
