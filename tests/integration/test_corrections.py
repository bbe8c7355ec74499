"""Corrections and manual interventions: new versions with who and why, never overwrites."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

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
    assert correction["values"] == {k: str(d) for k, d in NEW_VALUES.items()}
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


def test_manual_intervention(two_runs: LedgerRuntime) -> None:
    before = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)
    version = two_runs.intervene(
        PARTY_SUBJECT,
        DAY,
        PERIOD,
        actor="ops.lead",
        reason="value disputed by the party",
        outcome="held from billing",
        tenant=TENANT,
    )
    assert version == 3
    # An intervention is not a version of the values; the period view lists it.
    after = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)
    assert {k: v for k, v in after.items() if k not in ("interventions", "views")} == {
        k: v for k, v in before.items() if k not in ("interventions", "views")
    }
    assert before["interventions"] == []
    [shown] = after["interventions"]
    assert (shown["version"], shown["actor"], shown["outcome"]) == (
        3,
        "ops.lead",
        "held from billing",
    )
    as_of = datetime.fromisoformat(shown["recorded_at"]) - timedelta(microseconds=1)
    earlier = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT, as_of=as_of)
    assert earlier["interventions"] == []
    with two_runs.database.transaction() as tx:
        rows = tx.execute(
            "SELECT subject, settlement_period, version, actor, reason, outcome"
            " FROM period_interventions WHERE tenant = ?",
            (TENANT,),
        ).fetchall()
    assert rows == [
        (PARTY_SUBJECT, PERIOD, 3, "ops.lead", "value disputed by the party", "held from billing")
    ]
    # The next correction gets the next aggregate version.
    assert correct(two_runs, supersedes=2) == 4

    with pytest.raises(LedgerError, match="needs the person who made it and a reason"):
        two_runs.intervene(
            PARTY_SUBJECT, DAY, PERIOD, actor="ops.lead", reason=" ", outcome="x", tenant=TENANT
        )
    with pytest.raises(NotFound):
        two_runs.intervene(
            PARTY_SUBJECT, DAY, PERIOD, actor="a", reason="r", outcome="x", tenant="other"
        )


def test_event_history_is_the_evidence(two_runs: LedgerRuntime, files: Path) -> None:
    correct(two_runs, supersedes=2)
    two_runs.intervene(
        PARTY_SUBJECT, DAY, PERIOD, actor="a", reason="r", outcome="o", tenant=TENANT
    )
    r1 = write_report(files, run_type="R1")
    two_runs.ingest(r1.path, tenant=TENANT)

    key = settlement_period_id(TENANT, PARTY_SUBJECT, DAY, PERIOD)
    history = two_runs.ledger.event_history(key)
    assert [type(e).__name__ for e in history] == [
        "FirstValuesRecorded",
        "ValuesRecorded",
        "CorrectionApplied",
        "ManualInterventionRecorded",
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
    assert (intervention.actor, intervention.outcome) == ("a", "o")
    # The view agrees with the evidence.
    versions = period_json(two_runs, PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)["versions"]
    assert [v["version"] for v in versions] == [1, 2, 3, 5]
    # Another tenant's identical period is another aggregate.
    assert (
        two_runs.ledger.event_history(settlement_period_id("x", PARTY_SUBJECT, DAY, PERIOD)) == []
    )
