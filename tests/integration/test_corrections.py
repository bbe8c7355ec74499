"""Corrections and manual interventions: new versions with who and why, never overwrites."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from integration.conftest import DAY, PARTY, PARTY_SUBJECT, count_rows, period_json, write_report
from ledger.demo.samples import sample_party_period_values
from ledger.domain.aggregates import SettlementPeriod, settlement_period_id
from ledger.domain.errors import InvalidIdentifier, InvalidSettlementPeriod, LedgerError
from ledger.service.application import NotFound
from ledger.service.runtime import LedgerRuntime

TENANT = "acme"
PERIOD = 7
NEW_VALUES = {"bm_unit_cashflow": Decimal("-1234.56"), "non_delivery_charge": Decimal("0")}


@pytest.fixture
def two_runs(runtime: LedgerRuntime, files: Path) -> LedgerRuntime:
    """II then SF ingested for tenant ``acme``: versions 1 (II) and 2 (SF, best)."""
    for run in ("II", "SF"):
        assert runtime.ingest(write_report(files, run_type=run).path, tenant=TENANT).status == (
            "accepted"
        )
    return runtime


def correct(runtime: LedgerRuntime, supersedes: int, **overrides: object) -> int:
    arguments: dict[str, object] = {
        "supersedes": supersedes,
        "values": NEW_VALUES,
        "reason": "BSCCo query 123: cashflow restated",
        "actor": "j.smith",
    }
    arguments.update(overrides)
    return runtime.correct(
        PARTY_SUBJECT,
        DAY,
        PERIOD,
        tenant=TENANT,
        **arguments,  # type: ignore[arg-type]
    )


def test_correction_of_the_best_version_becomes_best(two_runs: LedgerRuntime) -> None:
    assert correct(two_runs, supersedes=2) == 3

    v = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)
    assert [x["version"] for x in v["versions"]] == [1, 2, 3]
    sf, correction = v["versions"][1], v["versions"][2]
    assert correction["kind"] == "correction"
    assert correction["supersedes"] == 2
    assert correction["reason"] == "BSCCo query 123: cashflow restated"
    assert correction["actor"] == "j.smith"
    # What it names is set; every other measure of the corrected version carries over.
    assert correction["values"] == sf["values"] | {k: str(d) for k, d in NEW_VALUES.items()}
    assert set(NEW_VALUES) < set(correction["values"])
    # It inherits what it corrects: the run, its maturity and file creation time.
    for key in ("run_type", "run_number", "maturity", "file_creation_time"):
        assert correction[key] == sf[key]
    assert correction["source"] is None
    assert v["best"] == correction
    # The corrected version itself is kept as it was.
    assert sf["kind"] == "run" and sf["supersedes"] is None and sf["reason"] is None
    # Other periods are untouched.
    other = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD + 1, tenant=TENANT)
    assert [x["version"] for x in other["versions"]] == [1, 2]


def test_correction_of_an_older_run_does_not_become_best(two_runs: LedgerRuntime) -> None:
    assert correct(two_runs, supersedes=1) == 3
    v = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)
    correction = v["versions"][2]
    assert (correction["kind"], correction["supersedes"], correction["run_type"]) == (
        "correction",
        1,
        "II",
    )
    assert v["best"]["version"] == 2
    assert v["best"]["run_type"] == "SF"


def test_a_later_run_beats_a_correction_and_a_correction_can_be_corrected(
    two_runs: LedgerRuntime, files: Path
) -> None:
    assert correct(two_runs, supersedes=2) == 3
    assert correct(two_runs, supersedes=3, values={"bm_unit_cashflow": Decimal("1")}) == 4
    v = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)
    assert (v["best"]["version"], v["best"]["supersedes"]) == (4, 3)
    assert v["best"]["run_type"] == "SF"

    r1 = write_report(files, run_type="R1")
    assert two_runs.ingest(r1.path, tenant=TENANT).status == "accepted"
    v = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)
    assert [x["version"] for x in v["versions"]] == [1, 2, 3, 4, 5]
    assert (v["best"]["version"], v["best"]["run_type"], v["best"]["kind"]) == (5, "R1", "run")
    values = {k: Decimal(d) for k, d in v["best"]["values"].items()}
    assert values == sample_party_period_values(DAY, PARTY, PERIOD, revision=r1.revision)


def test_correction_errors(two_runs: LedgerRuntime) -> None:
    before = count_rows(two_runs, "period_versions", TENANT)

    with pytest.raises(LedgerError, match=r"no version 9 to correct \(versions: 1, 2\)"):
        correct(two_runs, supersedes=9)
    for blank in ("", "   "):
        with pytest.raises(LedgerError, match="needs the person who made it and a reason"):
            correct(two_runs, supersedes=2, reason=blank)
        with pytest.raises(LedgerError, match="needs the person who made it and a reason"):
            correct(two_runs, supersedes=2, actor=blank)
    with pytest.raises(NotFound, match="party:PTY00099"):
        two_runs.correct(
            "party:PTY00099",
            DAY,
            PERIOD,
            supersedes=1,
            values={},
            reason="r",
            actor="a",
            tenant=TENANT,
        )
    with pytest.raises(NotFound, match="tenant 'other' has no values"):
        two_runs.correct(
            PARTY_SUBJECT,
            DAY,
            PERIOD,
            supersedes=2,
            values={},
            reason="r",
            actor="a",
            tenant="other",
        )
    with pytest.raises(InvalidIdentifier):
        two_runs.correct(
            "party:not a party",
            DAY,
            PERIOD,
            supersedes=2,
            values={},
            reason="r",
            actor="a",
            tenant=TENANT,
        )
    with pytest.raises(InvalidSettlementPeriod, match="period 49"):
        two_runs.correct(
            PARTY_SUBJECT, DAY, 49, supersedes=2, values={}, reason="r", actor="a", tenant=TENANT
        )

    assert count_rows(two_runs, "period_versions", TENANT) == before
    assert period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant="other")["versions"] == []


def test_a_correction_of_a_measure_the_version_lacks_is_refused(two_runs: LedgerRuntime) -> None:
    before = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)
    misspelled = {"energy_imbalance_cashflw": Decimal("1")}
    with pytest.raises(LedgerError) as refused:
        correct(two_runs, supersedes=2, values=misspelled)
    assert str(refused.value).startswith(
        f"{PARTY_SUBJECT} on {DAY.isoformat()} period {PERIOD} version 2 has no measure "
        "'energy_imbalance_cashflw' (did you mean energy_imbalance_cashflow?): a correction "
        "sets measures the version has (bm_unit_cashflow, "
    )
    after = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)
    assert after["versions"] == before["versions"]


ENERGY = {"energy_imbalance_cashflow": Decimal("5")}
CASHFLOW = {"bm_unit_cashflow": Decimal("7")}


@pytest.mark.parametrize(("first", "second"), [(ENERGY, CASHFLOW), (CASHFLOW, ENERGY)])
def test_a_version_is_corrected_once_and_a_second_change_corrects_the_correction(
    two_runs: LedgerRuntime, first: dict[str, Decimal], second: dict[str, Decimal]
) -> None:
    assert correct(two_runs, supersedes=2, values=first, actor="ana") == 3
    made = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)["versions"][2]
    with pytest.raises(LedgerError) as refused:
        correct(two_runs, supersedes=2, values=second, actor="ben")
    assert str(refused.value) == (
        f"{PARTY_SUBJECT} on {DAY.isoformat()} period {PERIOD} version 2 was already corrected "
        f"by version 3 (ana, {made['recorded_at']}): correct version 3 instead, whose values "
        "carry that correction"
    )
    assert correct(two_runs, supersedes=3, values=second, actor="ben") == 4
    v = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)
    assert [x["version"] for x in v["versions"]] == [1, 2, 3, 4]
    best = v["best"]
    assert (best["version"], best["supersedes"], best["run_type"]) == (4, 3, "SF")
    # Both corrections' values are in the best version; the rest is the SF run's.
    sf = v["versions"][1]["values"]
    assert best["values"] == sf | {k: str(d) for k, d in (first | second).items()}


def test_a_correction_racing_another_of_the_same_version_is_refused_not_lost(
    two_runs: LedgerRuntime, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = two_runs.ledger
    # The second person's command loads the period before the first correction is saved.
    stale = ledger.settlement_period(TENANT, PARTY_SUBJECT, DAY, PERIOD)
    assert correct(two_runs, supersedes=2, values=ENERGY, actor="ana") == 3
    loaded = [stale]
    fresh = ledger.settlement_period

    def load(*key: Any) -> SettlementPeriod:
        return loaded.pop() if loaded else fresh(*key)

    monkeypatch.setattr(ledger, "settlement_period", load)
    # Its save is refused (version 3 is taken), and run again on the period as it stands.
    with pytest.raises(LedgerError, match="version 2 was already corrected by version 3 .ana, "):
        correct(two_runs, supersedes=2, values=CASHFLOW, actor="ben")
    assert loaded == []
    v = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)
    assert [x["version"] for x in v["versions"]] == [1, 2, 3]
    assert v["best"]["values"]["energy_imbalance_cashflow"] == "5"


def intervene(runtime: LedgerRuntime, action: str, version: int | None = None, **by: str) -> int:
    """A typed intervention on the period of ``two_runs``, by ``ops.lead`` unless ``by`` says."""
    who = {"actor": "ops.lead", "reason": "value disputed by the party", **by}
    return runtime.intervene(
        PARTY_SUBJECT,
        DAY,
        PERIOD,
        action=action,
        version=version,
        actor=who["actor"],
        reason=who["reason"],
        tenant=TENANT,
    )


def test_manual_intervention(two_runs: LedgerRuntime) -> None:
    before = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)
    assert (before["held"], before["pinned_version"], before["interventions"]) == (None, None, [])
    assert intervene(two_runs, "hold") == 3
    # An intervention is not a version of the values; the period view lists it and the hold.
    after = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)
    unchanged = ("versions", "best", "pinned_version", "scheduled_runs", "period_start")
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    [shown] = after["interventions"]
    assert shown == {
        "version": 3,
        "recorded_at": shown["recorded_at"],
        "actor": "ops.lead",
        "reason": "value disputed by the party",
        "outcome": "held from billing",
        "action": "hold",
        "pinned_version": None,
    }
    assert after["held"] == {
        "actor": "ops.lead",
        "reason": "value disputed by the party",
        "since": shown["recorded_at"],
    }
    held_at = datetime.fromisoformat(shown["recorded_at"])
    just_before = held_at - timedelta(microseconds=1)
    earlier = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT, as_of=just_before)
    assert (earlier["interventions"], earlier["held"]) == ([], None)
    with two_runs.database.transaction() as tx:
        rows = tx.execute(
            "SELECT subject, settlement_period, version, actor, reason, outcome, action,"
            " pinned_version FROM period_interventions WHERE tenant = ?",
            (TENANT,),
        ).fetchall()
    assert rows == [
        (
            PARTY_SUBJECT,
            PERIOD,
            3,
            "ops.lead",
            "value disputed by the party",
            "held from billing",
            "hold",
            None,
        )
    ]

    assert intervene(two_runs, "release", reason="dispute settled") == 4
    released = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)
    assert (released["held"], released["pinned_version"]) == (None, None)
    assert [(i["action"], i["outcome"]) for i in released["interventions"]] == [
        ("hold", "held from billing"),
        ("release", "released"),
    ]
    # As of the hold, the hold stands.
    then = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT, as_of=held_at)
    assert then["held"] == after["held"]
    # The next correction gets the next aggregate version.
    assert correct(two_runs, supersedes=2) == 5

    with pytest.raises(LedgerError, match="a hold needs the person who made it and a reason"):
        intervene(two_runs, "hold", reason=" ")
    with pytest.raises(NotFound):
        two_runs.intervene(
            PARTY_SUBJECT, DAY, PERIOD, action="hold", actor="a", reason="r", tenant="other"
        )


def test_event_history_is_the_evidence(two_runs: LedgerRuntime, files: Path) -> None:
    correct(two_runs, supersedes=2)
    intervene(two_runs, "hold", actor="a", reason="r")
    r1 = write_report(files, run_type="R1")
    two_runs.ingest(r1.path, tenant=TENANT)

    key = settlement_period_id(TENANT, PARTY_SUBJECT, DAY, PERIOD)
    history = two_runs.ledger.event_history(key)
    assert [type(e).__name__ for e in history] == [
        "FirstValuesRecorded",
        "ValuesRecorded",
        "CorrectionApplied",
        "PeriodHeld",
        "ValuesRecorded",
    ]
    assert [e.originator_version for e in history] == [1, 2, 3, 4, 5]
    assert all(e.originator_id == key for e in history)
    assert [e.timestamp for e in history] == sorted(e.timestamp for e in history)
    first, sf, correction, intervention, last = history
    assert isinstance(first, SettlementPeriod.FirstValuesRecorded)
    assert (first.tenant, first.subject, first.settlement_date, first.settlement_period) == (
        TENANT,
        PARTY_SUBJECT,
        DAY,
        PERIOD,
    )
    assert (first.run_type, sf.run_type, last.run_type) == ("II", "SF", "R1")
    assert last.source_sha256 == r1.sha256
    assert last.values == sample_party_period_values(DAY, PARTY, PERIOD, revision=r1.revision)
    assert (correction.supersedes, correction.actor) == (2, "j.smith")
    assert isinstance(intervention, SettlementPeriod.PeriodHeld)
    assert (intervention.actor, intervention.reason, intervention.outcome) == (
        "a",
        "r",
        "held from billing",
    )
    # The view agrees with the evidence.
    versions = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)["versions"]
    assert [v["version"] for v in versions] == [1, 2, 3, 5]
    # Another tenant's identical period is another aggregate.
    assert (
        two_runs.ledger.event_history(settlement_period_id("x", PARTY_SUBJECT, DAY, PERIOD)) == []
    )


# --- Typed interventions: hold, pin, release ---------------------------------------------------


def period_events(runtime: LedgerRuntime, tenant: str = TENANT, period: int = PERIOD) -> list[Any]:
    return runtime.ledger.event_history(settlement_period_id(tenant, PARTY_SUBJECT, DAY, period))


def without_freshness(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k != "views"}


def test_a_pinned_older_version_is_best_until_released(
    two_runs: LedgerRuntime, files: Path
) -> None:
    assert intervene(two_runs, "pin", 1, reason="the II values were agreed") == 3
    v = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)
    assert (v["pinned_version"], v["held"]) == (1, None)
    assert (v["best"]["version"], v["best"]["run_type"]) == (1, "II")
    assert [x["version"] for x in v["versions"]] == [1, 2]
    [pin] = v["interventions"]
    assert (pin["action"], pin["pinned_version"], pin["outcome"]) == ("pin", 1, "pinned version 1")
    # As known before the pin, best was the SF run.
    before = datetime.fromisoformat(pin["recorded_at"]) - timedelta(microseconds=1)
    then = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT, as_of=before)
    assert (then["pinned_version"], then["best"]["version"]) == (None, 2)

    # A later run does not move a pin, nor does a correction.
    assert two_runs.ingest(write_report(files, run_type="R1").path, tenant=TENANT).status == (
        "accepted"
    )
    assert correct(two_runs, supersedes=1) == 5
    v = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)
    assert (v["pinned_version"], v["best"]["version"]) == (1, 1)

    assert intervene(two_runs, "release", reason="R1 supersedes the agreement") == 6
    v = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)
    assert v["pinned_version"] is None
    assert (v["best"]["version"], v["best"]["run_type"], v["best"]["kind"]) == (4, "R1", "run")


def test_a_conflicting_version_can_be_pinned_to_decide_the_conflict(
    runtime: LedgerRuntime, files: Path
) -> None:
    runtime.ingest(write_report(files, run_type="SF", run_number=2).path, tenant=TENANT)
    other = write_report(files, run_type="SF", run_number=2, revision=9, name="other.txt")
    assert runtime.ingest(other.path, tenant=TENANT).conflicting_versions > 0
    v = period_json(runtime, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)
    assert [(x["version"], x["kind"]) for x in v["versions"]] == [
        (1, "run"),
        (2, "conflicting run"),
    ]
    assert v["best"]["version"] == 1

    intervene(runtime, "pin", 2, actor="analyst", reason="Elexon confirmed the second delivery")
    v = period_json(runtime, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)
    assert (v["best"]["version"], v["best"]["kind"]) == (2, "conflicting run")
    assert v["best"]["values"] == v["versions"][1]["values"] != v["versions"][0]["values"]

    intervene(runtime, "release", actor="analyst", reason="decided otherwise")
    assert period_json(runtime, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)["best"]["version"] == 1


def test_a_refused_intervention_writes_nothing(two_runs: LedgerRuntime) -> None:
    where = f"{PARTY_SUBJECT} on {DAY.isoformat()} period {PERIOD}"
    refusals: list[tuple[str, int | None, dict[str, str], str]] = [
        ("release", None, {}, f"{where} is neither held nor pinned: there is nothing to release"),
        ("pin", 9, {}, rf"{where} has no version 9 to pin \(versions: 1, 2\)"),
        ("park", None, {}, "unknown intervention 'park': write hold, pin or release"),
        ("hold", 1, {}, r"a hold names no version \(only a pin does\)"),
        ("release", 1, {}, r"a release names no version \(only a pin does\)"),
        ("pin", None, {}, "a pin needs the version to pin"),
        ("hold", None, {"reason": ""}, "a hold needs the person who made it and a reason"),
        ("pin", 1, {"actor": " "}, "a pin needs the person who made it and a reason"),
    ]

    def refused_all(attempts: list[tuple[str, int | None, dict[str, str], str]]) -> None:
        events = len(period_events(two_runs))
        rows = count_rows(two_runs, "period_interventions", TENANT)
        view = without_freshness(period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT))
        for action, version, by, message in attempts:
            with pytest.raises(LedgerError, match=f"^{message}"):
                intervene(two_runs, action, version, **by)
        assert len(period_events(two_runs)) == events
        assert count_rows(two_runs, "period_interventions", TENANT) == rows
        after = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)
        assert without_freshness(after) == view

    refused_all(refusals)
    intervene(two_runs, "hold", actor="ops.lead")
    intervene(two_runs, "pin", 1)
    refused_all(
        [
            ("hold", None, {"actor": "another"}, rf"{where} is already held from billing by "
             "ops.lead: release it first"),
            ("pin", 1, {}, f"{where} already has version 1 pinned"),
            ("release", None, {"reason": " "}, "a release needs the person who made it"),
        ]
    )  # fmt: skip
    assert len(period_events(two_runs)) == 4


def test_interventions_are_events_of_their_own_type_in_the_history_and_the_feed(
    two_runs: LedgerRuntime,
) -> None:
    intervene(two_runs, "hold", actor="a", reason="disputed")
    intervene(two_runs, "pin", 1, actor="b", reason="agreed")
    intervene(two_runs, "release", actor="c", reason="settled")
    history = period_events(two_runs)
    assert [type(e).__name__ for e in history] == [
        "FirstValuesRecorded",
        "ValuesRecorded",
        "PeriodHeld",
        "VersionPinned",
        "InterventionReleased",
    ]
    held, pinned, released = history[2:]
    assert isinstance(pinned, SettlementPeriod.VersionPinned)
    assert (held.actor, pinned.actor, pinned.version, released.reason) == ("a", "b", 1, "settled")

    fed, after, caught_up = [], 0, False
    while not caught_up:
        page = two_runs.feed(after=after, limit=1000, tenant=TENANT)
        fed += [e for e in page.events if e.aggregate_id == held.originator_id]
        after, caught_up = page.next_after, page.caught_up
    assert [(e.type, e.aggregate_version) for e in fed[2:]] == [
        ("SettlementPeriod.PeriodHeld", 3),
        ("SettlementPeriod.VersionPinned", 4),
        ("SettlementPeriod.InterventionReleased", 5),
    ]
    payloads = [{k: e.payload.get(k) for k in ("actor", "reason", "version")} for e in fed[2:]]
    assert payloads == [
        {"actor": "a", "reason": "disputed", "version": None},
        {"actor": "b", "reason": "agreed", "version": 1},
        {"actor": "c", "reason": "settled", "version": None},
    ]


def test_a_rebuild_gives_the_same_period_view(two_runs: LedgerRuntime) -> None:
    intervene(two_runs, "hold")
    intervene(two_runs, "pin", 2)
    intervene(two_runs, "release")
    correct(two_runs, supersedes=1)
    intervene(two_runs, "pin", 1, actor="analyst")
    intervene(two_runs, "hold", actor="billing")
    before = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)
    assert (before["pinned_version"], before["best"]["version"]) == (1, 1)
    assert before["held"]["actor"] == "billing"
    assert len(before["interventions"]) == 5
    with two_runs.database.transaction() as tx:
        rows = tx.execute("SELECT * FROM period_interventions ORDER BY version").fetchall()

    two_runs.runner.rebuild()
    after = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)
    assert without_freshness(after) == without_freshness(before)
    with two_runs.database.transaction() as tx:
        assert tx.execute("SELECT * FROM period_interventions ORDER BY version").fetchall() == rows


def record_free_text_intervention(runtime: LedgerRuntime) -> None:
    """An intervention as the ledger recorded them before they were typed."""
    period = runtime.ledger.settlement_period(TENANT, PARTY_SUBJECT, DAY, PERIOD)
    period.trigger_event(
        SettlementPeriod.ManualInterventionRecorded,
        tenant=TENANT,
        subject=PARTY_SUBJECT,
        settlement_date=DAY,
        settlement_period=PERIOD,
        actor="ops.lead",
        reason="value disputed",
        outcome="held from billing",
    )
    runtime.ledger.save(period)
    runtime.runner.catch_up()


def test_a_free_text_intervention_recorded_before_typing_informs_only(
    two_runs: LedgerRuntime,
) -> None:
    record_free_text_intervention(two_runs)
    v = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)
    [shown] = v["interventions"]
    assert (shown["action"], shown["pinned_version"], shown["outcome"]) == (
        None,
        None,
        "held from billing",
    )
    assert (v["held"], v["pinned_version"], v["best"]["version"]) == (None, None, 2)
    with pytest.raises(LedgerError, match="nothing to release"):
        intervene(two_runs, "release")
    intervene(two_runs, "hold")
    assert period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)["held"] is not None


def test_a_database_set_up_before_typed_interventions_gains_their_columns(
    two_runs: LedgerRuntime, open_runtime: Callable[[], LedgerRuntime]
) -> None:
    record_free_text_intervention(two_runs)
    # The view as an earlier release set it up: no typed columns, schema version 3.
    with two_runs.database.transaction() as tx:
        for column in ("action", "pinned_version"):
            tx.execute(f"ALTER TABLE period_interventions DROP COLUMN {column}")
            assert not two_runs.database.has_column(tx, "period_interventions", column)
        tx.execute("UPDATE ledger_schema SET version = 3")

    upgraded = open_runtime()
    with upgraded.database.transaction(write=False) as tx:
        for column in ("action", "pinned_version"):
            assert upgraded.database.has_column(tx, "period_interventions", column)
    [old] = period_json(upgraded, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)["interventions"]
    assert (old["action"], old["outcome"]) == (None, "held from billing")
    intervene(upgraded, "pin", 1)
    v = period_json(upgraded, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)
    assert [i["action"] for i in v["interventions"]] == [None, "pin"]
    assert (v["pinned_version"], v["best"]["version"]) == (1, 1)
