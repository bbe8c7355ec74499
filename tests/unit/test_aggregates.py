"""The aggregates keep their own rules, without a database.

A received file goes ``received`` -> ``validated`` -> ``accepted``, or to ``rejected`` before a
verdict; duplicate receipts are recorded at any stage. A settlement period accepts a
correction only of a version it has, with values, a person and a reason, and the typed
manual interventions (hold, pin, release) only with a person and a reason, when its state
allows them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from eventsourcing.utils import get_topic
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain.aggregates import (
    Delivery,
    InterventionKind,
    ReceivedFile,
    SettlementPeriod,
    StandingHold,
    classify_delivery,
    correction_values,
    received_file_id,
    settlement_period_id,
    settlement_period_ids,
    values_digest,
)
from ledger.domain.errors import (
    InterventionRefused,
    InvalidCorrection,
    LedgerError,
    MissingAttribution,
    StageRefused,
)
from ledger.domain.measures import Measures
from ledger.domain.plain_text import MAX_REASON_LENGTH, InvalidText

TENANT = "t"
SHA256 = "ab" * 32
FILE_NAME = "S0142_20260506_SF_20260522220000.txt"
STATUSES = ("received", "validated", "mapped", "accepted", "rejected", "not interpreted")


# --- Received files -------------------------------------------------------------------------


def receive() -> ReceivedFile:
    return ReceivedFile.receive(TENANT, SHA256, 1234, "cli", FILE_NAME)


def validate(received: ReceivedFile) -> None:
    received.validate(
        flow="S0142",
        flow_version="001",
        settlement_date=date(2026, 5, 6),
        run_type="SF",
        run_number=1,
        bsc_party_id="PTY00001",
        file_creation_time=datetime(2026, 5, 22, 22, 0, tzinfo=UTC),
        record_count=100,
        warnings=["a warning"],
    )


def interpret(received: ReceivedFile) -> None:
    received.interpret(
        periods=48,
        events=50,
        daily_values=[{"subject": "party:PTY00001", "values": {}}],
        unplaced_records=[],
    )


def map_ids(received: ReceivedFile) -> None:
    received.map(3, ["mpan:1014568234275"])


def publish(received: ReceivedFile) -> None:
    received.publish(new_versions=40, further_sources=8, conflicting_versions=0, readings=0)


def keep(received: ReceivedFile) -> None:
    received.keep_uninterpreted("no format recognises it", format=None, flow=None)


def reject(received: ReceivedFile) -> None:
    received.reject(["the trailer's record count is 99, the file has 100 records"])


def duplicate(received: ReceivedFile) -> None:
    received.duplicate("api", "again.txt")


COMMANDS: dict[str, Callable[[ReceivedFile], None]] = {
    "validate": validate,
    "interpret": interpret,
    "map": map_ids,
    "publish": publish,
    "keep": keep,
    "reject": reject,
    "duplicate": duplicate,
}

# (status, command) -> the status it leads to and the event recording it. Anything missing
# is refused.
ALLOWED: dict[tuple[str, str], tuple[str, type[Any]]] = {
    ("received", "validate"): ("validated", ReceivedFile.Validated),
    ("received", "reject"): ("rejected", ReceivedFile.Rejected),
    ("received", "keep"): ("not interpreted", ReceivedFile.NotInterpreted),
    ("validated", "interpret"): ("accepted", ReceivedFile.Interpreted),
    ("validated", "map"): ("mapped", ReceivedFile.Mapped),
    ("validated", "keep"): ("not interpreted", ReceivedFile.NotInterpreted),
    ("validated", "reject"): ("rejected", ReceivedFile.Rejected),
    ("mapped", "interpret"): ("accepted", ReceivedFile.Interpreted),
    ("mapped", "reject"): ("rejected", ReceivedFile.Rejected),
    ("accepted", "publish"): ("accepted", ReceivedFile.Published),
    **{(s, "duplicate"): (s, ReceivedFile.DuplicateReceived) for s in STATUSES},
}

# How a file reaches each status from its receipt.
PATHS: dict[str, tuple[str, ...]] = {
    "received": (),
    "validated": ("validate",),
    "mapped": ("validate", "map"),
    "accepted": ("validate", "map", "interpret"),
    "rejected": ("reject",),
    "not interpreted": ("keep",),
}


def file_in(status: str) -> ReceivedFile:
    """A received file brought to ``status`` through its commands, its events collected."""
    received = receive()
    for command in PATHS[status]:
        COMMANDS[command](received)
    received.collect_events()
    assert received.status == status
    return received


def test_a_receipt_opens_the_file_under_an_id_from_its_tenant_and_bytes() -> None:
    received = receive()
    [event] = received.collect_events()
    assert type(event) is ReceivedFile.Received
    assert received.id == received_file_id(TENANT, SHA256)
    assert (received.status, received.receipts, received.version) == ("received", 1, 1)
    assert (received.tenant, received.sha256, received.size) == (TENANT, SHA256, 1234)
    assert (received.channel, received.file_name, received.flow) == ("cli", FILE_NAME, None)
    assert not received.has_verdict
    # The same bytes land on the same aggregate; another tenant's copy is its own.
    assert receive().id == received.id
    assert ReceivedFile.receive("other", SHA256, 1234, "cli", FILE_NAME).id != received.id


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("status", STATUSES)
def test_every_transition_is_allowed_or_refused(status: str, command: str) -> None:
    received = file_in(status)
    version, receipts = received.version, received.receipts
    allowed = ALLOWED.get((status, command))
    if allowed is None:
        with pytest.raises(StageRefused) as refused:
            COMMANDS[command](received)
        assert isinstance(refused.value, LedgerError)
        assert f"file {FILE_NAME} (sha256 {SHA256}) cannot be " in str(refused.value)
        # Nothing happened: no event, the same status.
        assert received.collect_events() == []
        assert (received.status, received.version) == (status, version)
        return
    COMMANDS[command](received)
    after, event_class = allowed
    [event] = received.collect_events()
    assert type(event) is event_class
    assert event.originator_version == version + 1
    assert (received.status, received.version) == (after, version + 1)
    assert received.receipts == receipts + (command == "duplicate")


@pytest.mark.parametrize(
    ("status", "command", "message"),
    [
        ("validated", "validate", "cannot be validated: it was already validated"),
        ("accepted", "validate", "cannot be validated: it was already accepted"),
        ("rejected", "validate", "cannot be validated: it was already rejected"),
        ("received", "interpret", "cannot be interpreted: it has not been validated"),
        ("accepted", "interpret", "cannot be interpreted: it was already accepted"),
        ("rejected", "interpret", "cannot be interpreted: it was already rejected"),
        ("accepted", "reject", "cannot be rejected: it was already accepted"),
        ("rejected", "reject", "cannot be rejected: it was already rejected"),
    ],
)
def test_a_refusal_says_why_in_business_terms(status: str, command: str, message: str) -> None:
    with pytest.raises(StageRefused, match=message):
        COMMANDS[command](file_in(status))


@pytest.mark.parametrize(
    ("status", "verdict", "rejected"),
    [
        ("received", False, False),
        ("validated", False, False),
        ("accepted", True, False),
        ("rejected", True, True),
    ],
)
def test_verdicts(status: str, verdict: bool, rejected: bool) -> None:
    received = file_in(status)
    assert (received.has_verdict, received.was_rejected) == (verdict, rejected)


def test_validation_and_interpretation_record_what_the_file_is_and_produced() -> None:
    received = file_in("received")
    validate(received)
    interpret(received)
    validated, interpreted = received.collect_events()
    assert isinstance(validated, ReceivedFile.Validated)
    assert (validated.flow, validated.run_type, validated.warnings) == (
        "S0142",
        "SF",
        ["a warning"],
    )
    assert isinstance(interpreted, ReceivedFile.Interpreted)
    assert (interpreted.periods, interpreted.events) == (48, 50)
    assert (received.status, received.flow) == ("accepted", "S0142")


def test_a_rejection_names_the_stage_that_failed_and_keeps_the_reasons() -> None:
    before_validation = file_in("received")
    before_validation.reject(["bad trailer"], flow="S0142")
    [event] = before_validation.collect_events()
    assert isinstance(event, ReceivedFile.Rejected)
    assert (event.stage, event.flow, event.reasons) == ("validation", "S0142", ["bad trailer"])
    assert before_validation.reasons == ["bad trailer"]

    # Once validated, the file's message type is known even when the caller does not say it.
    validated = file_in("validated")
    validated.reject(["a period twice"])
    [event] = validated.collect_events()
    assert isinstance(event, ReceivedFile.Rejected)
    assert (event.stage, event.flow) == ("mapping", "S0142")
    assert validated.status == "rejected"

    mapped = file_in("mapped")
    mapped.reject(["a period twice"])
    [event] = mapped.collect_events()
    assert isinstance(event, ReceivedFile.Rejected)
    assert (event.stage, event.flow) == ("interpretation", "S0142")


def test_a_rejection_needs_a_reason() -> None:
    received = file_in("received")
    with pytest.raises(StageRefused, match="cannot be rejected without a reason"):
        received.reject([])
    assert received.collect_events() == []
    assert received.status == "received"


def test_duplicates_are_counted_with_their_own_channel_and_name() -> None:
    received = file_in("accepted")
    received.duplicate("api", "again.txt")
    received.duplicate("cli", "once-more.txt")
    first, second = received.collect_events()
    assert isinstance(first, ReceivedFile.DuplicateReceived)
    assert isinstance(second, ReceivedFile.DuplicateReceived)
    assert [(e.channel, e.file_name) for e in (first, second)] == [
        ("api", "again.txt"),
        ("cli", "once-more.txt"),
    ]
    assert (received.receipts, received.status, received.file_name) == (3, "accepted", FILE_NAME)


# --- Settlement periods ---------------------------------------------------------------------

SUBJECT = "party:PTY00001"
DAY = date(2026, 5, 6)
PERIOD = 14
VALUES = {
    "bm_unit_cashflow": Decimal("-12.50"),
    "energy_imbalance_cashflow": Decimal("4.00"),
    "non_delivery_charge": Decimal("0"),
}


def period_with_two_runs() -> SettlementPeriod:
    """A period holding versions 1 (SF) and 2 (R1), as loading it from its events would."""
    shared: dict[str, Any] = dict(
        originator_id=settlement_period_id(TENANT, SUBJECT, DAY, PERIOD),
        timestamp=datetime(2026, 5, 22, 22, 0, tzinfo=UTC),
        tenant=TENANT,
        subject=SUBJECT,
        settlement_date=DAY,
        settlement_period=PERIOD,
        run_number=1,
        flow="S0142",
        file_creation_time=datetime(2026, 5, 22, 22, 0, tzinfo=UTC),
        values=VALUES,
        attributes={},
        unconfirmed={},
        source_sha256=SHA256,
        record_position=7,
    )
    first = SettlementPeriod.FirstValuesRecorded(
        originator_topic=get_topic(SettlementPeriod),
        originator_version=1,
        run_type="SF",
        maturity="settlement",
        **shared,
    )
    period = first.mutate(None)
    assert isinstance(period, SettlementPeriod)
    later = SettlementPeriod.ValuesRecorded(
        originator_version=2, run_type="R1", maturity="settlement", **shared
    )
    later.mutate(period)
    return period


def correct(period: SettlementPeriod, **overrides: Any) -> None:
    arguments: dict[str, Any] = {
        "supersedes": 2,
        "values": {"bm_unit_cashflow": Decimal("-10.00")},
        "reason": "BSCCo query 123: cashflow restated",
        "actor": "j.smith",
    }
    arguments.update(overrides)
    period.apply_correction(**arguments)


def intervene(period: SettlementPeriod, action: str, version: int | None = None, **by: str) -> None:
    """A typed intervention as a person names it, by ``ops.lead`` unless ``by`` says."""
    who = {"actor": "ops.lead", "reason": "value disputed", **by}
    period.intervene(action, version, who["actor"], who["reason"])


def test_a_correction_of_an_existing_version_is_applied() -> None:
    period = period_with_two_runs()
    correct(period)
    [event] = period.collect_events()
    assert isinstance(event, SettlementPeriod.CorrectionApplied)
    assert (event.supersedes, event.actor, event.originator_version) == (2, "j.smith", 3)
    assert dict(event.values) == VALUES | {"bm_unit_cashflow": Decimal("-10.00")}
    latest = period.versions[-1]
    assert (latest.version, latest.kind, latest.supersedes, latest.run_type) == (
        3,
        "correction",
        2,
        "R1",
    )
    # A correction is a version too: it can be corrected in turn.
    correct(period, supersedes=3)
    assert period.versions[-1].supersedes == 3


def test_a_correction_of_a_version_the_period_lacks_is_refused() -> None:
    period = period_with_two_runs()
    with pytest.raises(InvalidCorrection) as refused:
        correct(period, supersedes=9)
    assert str(refused.value) == (
        f"{SUBJECT} on 2026-05-06 period {PERIOD} has no version 9 to correct (versions: 1, 2)"
    )
    assert isinstance(refused.value, LedgerError)
    assert period.collect_events() == []


def test_a_correction_without_values_is_refused() -> None:
    period = period_with_two_runs()
    with pytest.raises(InvalidCorrection, match="version 2 needs at least one value"):
        correct(period, values={})
    assert period.collect_events() == []


@pytest.mark.parametrize("missing", ["actor", "reason"])
@pytest.mark.parametrize("blank", ["", "   "])
def test_a_correction_names_who_made_it_and_why(missing: str, blank: str) -> None:
    period = period_with_two_runs()
    with pytest.raises(MissingAttribution, match="a correction needs the person who made it"):
        correct(period, **{missing: blank})
    assert period.collect_events() == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("actor", "j.smith\x1b[2J", "the person making a correction .* control character"),
        ("actor", "x" * 256, "the person making a correction is 256 characters long"),
        ("reason", "r" * (MAX_REASON_LENGTH + 1), "the reason for a correction is 2001"),
    ],
)
def test_a_correction_names_them_in_plain_text(field: str, value: str, message: str) -> None:
    period = period_with_two_runs()
    with pytest.raises(InvalidText, match=message):
        correct(period, **{field: value})
    assert period.collect_events() == []


def described() -> str:
    return f"{SUBJECT} on 2026-05-06 period {PERIOD}"


def standing(period: SettlementPeriod) -> tuple[StandingHold | None, int | None]:
    """The hold and the pin standing on the period."""
    return period.held, period.pinned


def test_a_hold_holds_the_period_from_billing_until_released() -> None:
    period = period_with_two_runs()
    intervene(period, "hold")
    [event] = period.collect_events()
    assert type(event) is SettlementPeriod.PeriodHeld
    assert (event.actor, event.reason, event.originator_version) == (
        "ops.lead",
        "value disputed",
        3,
    )
    assert (event.action, event.outcome) == ("hold", "held from billing")
    assert period.held == StandingHold("ops.lead", "value disputed", event.timestamp)
    assert period.pinned is None
    assert period.interventions == [
        {"actor": "ops.lead", "reason": "value disputed", "outcome": "held from billing"}
    ]
    # An intervention is not a version of the values.
    assert [v.version for v in period.versions] == [1, 2]

    intervene(period, "release", actor="ops.lead", reason="dispute settled")
    [released] = period.collect_events()
    assert type(released) is SettlementPeriod.InterventionReleased
    assert (released.action, released.outcome, released.reason) == (
        "release",
        "released",
        "dispute settled",
    )
    assert standing(period) == (None, None)
    # Released, it can be held again.
    intervene(period, "hold", actor="someone.else")
    assert period.held is not None and period.held.actor == "someone.else"


def test_a_period_already_held_is_not_held_again() -> None:
    period = period_with_two_runs()
    intervene(period, "hold", actor="ops.lead")
    period.collect_events()
    with pytest.raises(InterventionRefused) as refused:
        intervene(period, "hold", actor="another")
    assert str(refused.value) == (
        f"{described()} is already held from billing by ops.lead: release it first"
    )
    assert isinstance(refused.value, LedgerError)
    assert period.collect_events() == []
    assert period.held is not None and period.held.actor == "ops.lead"
    assert period.version == 3


def test_a_pin_chooses_a_version_until_released_and_another_pin_replaces_it() -> None:
    period = period_with_two_runs()
    intervene(period, "pin", 1, reason="SF agreed with the party")
    [event] = period.collect_events()
    assert type(event) is SettlementPeriod.VersionPinned
    assert (event.version, event.actor, event.reason) == (1, "ops.lead", "SF agreed with the party")
    assert (event.action, event.outcome) == ("pin", "pinned version 1")
    assert (period.pinned, period.held) == (1, None)

    intervene(period, "pin", 2)
    [repinned] = period.collect_events()
    assert isinstance(repinned, SettlementPeriod.VersionPinned) and repinned.version == 2
    assert period.pinned == 2

    intervene(period, "release")
    assert type(period.collect_events()[0]) is SettlementPeriod.InterventionReleased
    assert period.pinned is None


def test_a_release_lifts_the_hold_and_the_pin_together() -> None:
    period = period_with_two_runs()
    intervene(period, "hold")
    intervene(period, "pin", 1)
    assert period.held is not None and period.pinned == 1
    intervene(period, "release")
    assert standing(period) == (None, None)
    assert [type(e).__name__ for e in period.collect_events()] == [
        "PeriodHeld",
        "VersionPinned",
        "InterventionReleased",
    ]


def test_a_pin_of_a_version_the_period_lacks_is_refused() -> None:
    period = period_with_two_runs()
    with pytest.raises(InterventionRefused) as refused:
        intervene(period, "pin", 9)
    assert str(refused.value) == f"{described()} has no version 9 to pin (versions: 1, 2)"
    assert period.collect_events() == []
    assert period.pinned is None


def test_a_pin_of_the_version_already_pinned_is_refused() -> None:
    period = period_with_two_runs()
    intervene(period, "pin", 2)
    period.collect_events()
    with pytest.raises(InterventionRefused) as refused:
        intervene(period, "pin", 2)
    assert str(refused.value) == f"{described()} already has version 2 pinned"
    assert period.collect_events() == []
    assert period.pinned == 2


def test_a_release_of_a_period_neither_held_nor_pinned_is_refused() -> None:
    period = period_with_two_runs()
    with pytest.raises(InterventionRefused) as refused:
        intervene(period, "release")
    assert str(refused.value) == (
        f"{described()} is neither held nor pinned: there is nothing to release"
    )
    assert period.collect_events() == []
    # Nor once released.
    intervene(period, "hold")
    intervene(period, "release")
    period.collect_events()
    with pytest.raises(InterventionRefused, match="nothing to release"):
        intervene(period, "release")
    assert period.collect_events() == []


def _conflicting_r1(period: SettlementPeriod, version: int) -> None:
    """R1 delivered again with other values: a conflicting version of version 2's run."""
    SettlementPeriod.ConflictingValuesRecorded(
        **_event_on(period, version, 24),
        run_type="R1",
        run_number=1,
        maturity="settlement",
        flow="S0142",
        values=Measures({"bm_unit_cashflow": Decimal("1")}),
        attributes={},
        unconfirmed={},
        source_sha256="ef" * 32,
        record_position=9,
        conflicts_with=2,
    ).mutate(period)


def test_a_conflicting_version_can_be_pinned_to_decide_the_conflict() -> None:
    period = period_with_two_runs()
    _conflicting_r1(period, 3)
    intervene(period, "pin", 3, reason="Elexon confirmed the later delivery")
    [event] = period.collect_events()
    assert isinstance(event, SettlementPeriod.VersionPinned) and event.version == 3
    assert period.pinned == 3


@pytest.mark.parametrize(
    ("action", "version", "what"),
    [("hold", None, "a hold"), ("pin", 1, "a pin"), ("release", None, "a release")],
)
@pytest.mark.parametrize(
    ("field", "value", "error", "message"),
    [
        ("actor", " ", MissingAttribution, "{what} needs the person who made it and a reason"),
        ("reason", "", MissingAttribution, "{what} needs the person who made it and a reason"),
        ("actor", "a\x00b", InvalidText, "the person making {what} .* control character"),
        ("reason", "r" * (MAX_REASON_LENGTH + 1), InvalidText, "the reason for {what} is 2001"),
    ],
)
def test_every_intervention_names_who_and_why_in_plain_text(
    action: str,
    version: int | None,
    what: str,
    field: str,
    value: str,
    error: type[LedgerError],
    message: str,
) -> None:
    period = period_with_two_runs()
    if action == "release":  # something to release
        intervene(period, "hold")
        period.collect_events()
    held = period.held
    with pytest.raises(error, match=message.format(what=what)):
        intervene(period, action, version, **{field: value})
    assert period.collect_events() == []
    assert standing(period) == (held, None)


@pytest.mark.parametrize(
    ("action", "version", "message"),
    [
        ("free text", None, "unknown intervention 'free text': write hold, pin or release"),
        ("", None, "unknown intervention '': write hold, pin or release"),
        ("pin", None, "a pin needs the version to pin, e.g. version 3"),
        ("hold", 2, "a hold names no version \\(only a pin does\\): leave the version out"),
        ("release", 2, "a release names no version \\(only a pin does\\)"),
    ],
)
def test_an_intervention_is_typed_not_free_text(
    action: str, version: int | None, message: str
) -> None:
    with pytest.raises(InterventionRefused, match=f"^{message}"):
        InterventionKind.parse(action, version)
    period = period_with_two_runs()
    with pytest.raises(InterventionRefused, match=f"^{message}"):
        intervene(period, action, version)
    assert period.collect_events() == []


def test_the_actions_are_read_as_people_write_them() -> None:
    assert InterventionKind.parse(" Hold ", None) is InterventionKind.HOLD
    assert InterventionKind.parse("PIN", 3) is InterventionKind.PIN
    assert InterventionKind.parse("release", None) is InterventionKind.RELEASE


def test_the_state_is_rebuilt_from_the_events() -> None:
    period = period_with_two_runs()
    intervene(period, "hold")
    intervene(period, "pin", 1)
    intervene(period, "release")
    intervene(period, "pin", 2, actor="analyst")
    events = period.collect_events()
    again = period_with_two_runs()
    for event in events:
        event.mutate(again)
    assert (again.held, again.pinned, again.version) == (None, 2, 6)
    assert again.interventions == period.interventions


def test_a_free_text_intervention_stored_before_typing_still_loads_and_informs_only() -> None:
    period = period_with_two_runs()
    SettlementPeriod.ManualInterventionRecorded(
        **{k: v for k, v in _event_on(period, 3, 23).items() if k != "file_creation_time"},
        actor="ops.lead",
        reason="value disputed",
        outcome="held from billing",
    ).mutate(period)
    assert period.interventions == [
        {"actor": "ops.lead", "reason": "value disputed", "outcome": "held from billing"}
    ]
    # It is not a hold: nothing stands to release.
    assert standing(period) == (None, None)
    with pytest.raises(InterventionRefused, match="nothing to release"):
        intervene(period, "release")
    assert not hasattr(period, "record_manual_intervention")


def test_a_correction_s_values_as_a_person_writes_them() -> None:
    assert correction_values([("bm_unit_cashflow", "-1234.56"), ("x", " +0 ")]) == {
        "bm_unit_cashflow": Decimal("-1234.56"),
        "x": Decimal("0"),
    }
    assert str(correction_values([("a", "1.50")])["a"]) == "1.50"  # exactly as written
    assert correction_values([]) == {}


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([("a", "abc")], "the value of a is not a decimal number: 'abc' \\(write digits"),
        ([("a", "1e5")], "the value of a is not a decimal number: '1e5'"),
        ([("a", "NaN")], "the value of a is not a decimal number"),
        ([("a", "Infinity")], "the value of a is not a decimal number"),
        ([("a", "")], "the value of a is not a decimal number: ''"),
        ([("a", "1.")], "the value of a is not a decimal number"),
        ([("a", "١٢")], "the value of a is not a decimal number"),  # digits, not ASCII
        ([("a", "1"), ("a", "2")], "a correction gives a twice: give each measure once"),
        ([("", "1")], "'' is not a measure name: measures are named in snake_case"),
        ([("bm unit", "1")], "'bm unit' is not a measure name"),
        ([("x" * 300, "1")], "is not a measure name"),
    ],
)
def test_a_correction_s_values_are_refused_unless_plain_decimals(
    pairs: list[tuple[str, str]], message: str
) -> None:
    with pytest.raises(InvalidCorrection, match=message):
        correction_values(pairs)


# --- One run, many deliveries -----------------------------------------------------------------


def test_a_run_not_held_yet_is_a_new_version() -> None:
    assert classify_delivery([], values_digest(VALUES)) == (Delivery.NEW, None)


def test_the_same_values_of_a_run_again_are_the_version_already_held() -> None:
    held = [(1, values_digest(VALUES)), (4, values_digest({"x": Decimal("1")}))]
    assert classify_delivery(held, values_digest({"x": Decimal("1")})) == (Delivery.SAME, 4)


def test_other_values_of_a_run_conflict_with_its_first_version() -> None:
    held = [(3, values_digest(VALUES)), (5, values_digest({"x": Decimal("1")}))]
    assert classify_delivery(held, values_digest({"x": Decimal("2")})) == (
        Delivery.CONFLICTING,
        3,
    )


def test_the_digest_is_of_names_and_values_in_any_order() -> None:
    a = {"a": Decimal("1.5"), "b": Decimal("-2")}
    assert values_digest(a) == values_digest(dict(reversed(a.items())))
    assert values_digest(a) != values_digest({"a": Decimal("1.5"), "b": Decimal("2")})
    assert values_digest(a) != values_digest({"a": Decimal("1.5"), "c": Decimal("-2")})


def _event_on(period: SettlementPeriod, version: int, day: int) -> dict[str, Any]:
    """What every event of the test's period carries: its identity, number and instant."""
    instant = datetime(2026, 5, day, tzinfo=UTC)
    return {
        "originator_id": period.id,
        "originator_version": version,
        "timestamp": instant,
        "file_creation_time": instant,
        "tenant": TENANT,
        "subject": SUBJECT,
        "settlement_date": DAY,
        "settlement_period": PERIOD,
    }


def test_a_further_source_and_a_conflicting_version_as_the_period_holds_them() -> None:
    period = period_with_two_runs()
    SettlementPeriod.SourceAdded(
        **_event_on(period, 3, 23),
        version=2,
        flow="S0141",
        source_sha256="cd" * 32,
        record_position=12,
    ).mutate(period)
    assert period.versions[1].further_sources == ["cd" * 32]
    _conflicting_r1(period, 4)
    latest = period.versions[-1]
    assert (latest.version, latest.kind, latest.conflicts_with) == (4, "conflicting run", 2)


@given(
    tenant=st.text(min_size=1, max_size=20),
    day=st.dates(),
    periods=st.lists(st.tuples(st.text(max_size=30), st.integers(1, 50)), max_size=5),
)
def test_a_files_period_ids_are_the_ids_of_its_periods_one_by_one(
    tenant: str, day: date, periods: list[tuple[str, int]]
) -> None:
    assert settlement_period_ids(tenant, day, periods) == [
        settlement_period_id(tenant, subject, day, period) for subject, period in periods
    ]
    for key in settlement_period_ids(tenant, day, periods):
        assert (key.version, key.variant) == (5, "specified in RFC 4122")


def test_a_correction_sets_what_it_names_and_carries_the_rest_over() -> None:
    period = period_with_two_runs()
    correct(period, values={"non_delivery_charge": Decimal("3")})
    assert period.versions[-1].values == VALUES | {"non_delivery_charge": Decimal("3")}
    correct(period, supersedes=3, values={"bm_unit_cashflow": Decimal("1")})
    assert period.versions[-1].values == VALUES | {
        "bm_unit_cashflow": Decimal("1"),
        "non_delivery_charge": Decimal("3"),
    }


def test_a_correction_of_a_measure_the_version_lacks_is_refused() -> None:
    period = period_with_two_runs()
    with pytest.raises(InvalidCorrection) as refused:
        correct(period, values={"energy_imbalance_cashflw": Decimal("1")})
    assert str(refused.value) == (
        f"{described()} version 2 has no measure 'energy_imbalance_cashflw' (did you mean "
        "energy_imbalance_cashflow?): a correction sets measures the version has "
        "(bm_unit_cashflow, energy_imbalance_cashflow, non_delivery_charge)"
    )
    # Nothing close: no guess; several unknown: the first named, the others counted.
    with pytest.raises(InvalidCorrection) as refused:
        correct(period, values={"zzz": Decimal("1"), "yyy": Decimal("2")})
    assert "has no measure 'yyy' (and 1 more it lacks): a correction sets" in str(refused.value)
    assert "did you mean" not in str(refused.value)
    assert period.collect_events() == []


def test_a_refused_measure_lists_a_bounded_number_of_the_version_s_measures() -> None:
    period = period_with_two_runs()
    many = {f"measure_{i:02}": Decimal(i) for i in range(60)}
    period.trigger_event(
        SettlementPeriod.CorrectionApplied,
        tenant=TENANT,
        subject=SUBJECT,
        settlement_date=DAY,
        settlement_period=PERIOD,
        supersedes=1,
        values=Measures(many),
        reason="r",
        actor="a",
    )
    with pytest.raises(InvalidCorrection) as refused:
        correct(period, supersedes=3, values={"nothing_like_it": Decimal("1")})
    message = str(refused.value)
    assert "measure_19 and 40 more)" in message and "measure_20" not in message
    assert "\n" not in message


def test_a_version_is_corrected_once_then_its_correction_is_corrected() -> None:
    period = period_with_two_runs()
    correct(period, values={"energy_imbalance_cashflow": Decimal("5")}, actor="ana")
    first = period.versions[-1]
    with pytest.raises(InvalidCorrection) as refused:
        correct(period, values={"bm_unit_cashflow": Decimal("7")})
    assert str(refused.value) == (
        f"{described()} version 2 was already corrected by version 3 (ana, "
        f"{first.recorded_at.isoformat()}): correct version 3 instead, whose values carry "
        "that correction"
    )
    assert period.collect_events()[-1].originator_version == 3  # nothing more was triggered
    correct(period, supersedes=3, values={"bm_unit_cashflow": Decimal("7")}, actor="ben")
    second = period.versions[-1]
    # Down a chain, the latest correction is the one to correct.
    with pytest.raises(InvalidCorrection) as refused:
        correct(period, supersedes=2, values={"bm_unit_cashflow": Decimal("8")})
    assert str(refused.value) == (
        f"{described()} version 2 was already corrected by version 3, and that in turn by "
        f"version 4 (ben, {second.recorded_at.isoformat()}): correct version 4 instead, whose "
        "values carry those corrections"
    )
    with pytest.raises(InvalidCorrection, match="version 3 was already corrected by version 4"):
        correct(period, supersedes=3, values={"bm_unit_cashflow": Decimal("8")})
    # Another version of the period is corrected on its own.
    correct(period, supersedes=1, values={"bm_unit_cashflow": Decimal("9")})
    assert period.versions[-1].supersedes == 1


@pytest.mark.parametrize(
    "order",
    [
        ("energy_imbalance_cashflow", "bm_unit_cashflow"),
        ("bm_unit_cashflow", "energy_imbalance_cashflow"),
    ],
)
def test_two_corrections_of_one_version_keep_both_values_in_either_order(
    order: tuple[str, str],
) -> None:
    period = period_with_two_runs()
    first, second = order
    correct(period, values={first: Decimal("5")})
    with pytest.raises(InvalidCorrection, match="correct version 3 instead"):
        correct(period, values={second: Decimal("7")})
    correct(period, supersedes=3, values={second: Decimal("7")})
    assert period.versions[-1].values == VALUES | {first: Decimal("5"), second: Decimal("7")}
