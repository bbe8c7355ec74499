"""The movement check's billed charges: a file's values count where its version becomes best."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ledger.domain.aggregates import CONFLICTING_RUN
from ledger.domain.checks import ArrivingRun, billed_day, movements

T0 = datetime(2026, 6, 1, tzinfo=UTC)
NOW = T0 + timedelta(days=30)


@dataclass(frozen=True)
class Held:
    version: int
    run_type: str
    run_number: int
    values: dict[str, Decimal]
    kind: str = "run"
    file_creation_time: datetime = T0
    recorded_at: datetime = T0


def charge(amount: str) -> dict[str, Decimal]:
    return {"energy_imbalance_cashflow": Decimal(amount)}


def arriving(run_type: str, run_number: int, created: datetime = T0) -> ArrivingRun:
    return ArrivingRun(run_type, run_number, created + timedelta(days=1), NOW)


R1 = Held(1, "R1", 3, charge("100"))


@pytest.mark.parametrize(
    ("held", "pinned", "run", "after"),
    [
        ([R1], None, arriving("II", 1), "100"),  # less mature, late: billed stays R1
        ([R1], None, arriving("R2", 4), "200"),  # more mature: billed from the file
        ([R1], None, arriving("R1", 5), "200"),  # a republication (higher run number)
        ([R1], 1, arriving("R2", 4), "100"),  # a pin stands
        ([R1], None, arriving("R1", 3), "100"),  # the same run again, other values: conflicting
        # A correction of R1 ranks above it, not above a more mature run.
        ([R1, Held(2, "R1", 3, charge("150"), kind="correction")], None, arriving("II", 1), "150"),
        ([R1, Held(2, "R1", 3, charge("150"), kind="correction")], None, arriving("R2", 4), "200"),
        # A conflicting version held is never billed, before or after.
        (
            [R1, Held(2, "R2", 4, charge("999"), kind=CONFLICTING_RUN)],
            None,
            arriving("II", 1),
            "100",
        ),
    ],
)
def test_a_file_s_values_are_billed_only_where_its_version_becomes_best(
    held: list[Held], pinned: int | None, run: ArrivingRun, after: str
) -> None:
    was = "150" if any(v.kind == "correction" for v in held) else "100"
    before, now = billed_day({1: charge("200")}, {1: held}, {1: pinned}, run)
    assert (before, now) == (charge(was), charge(after))


def test_the_same_values_of_a_run_already_held_are_the_version_held() -> None:
    before, now = billed_day({1: charge("100")}, {1: [R1]}, {}, arriving("R1", 3))
    assert before == now == charge("100")


def test_periods_billed_for_the_first_time_are_left_out_of_both_sums() -> None:
    held = {1: [R1], 2: [Held(1, "R1", 3, charge("50"))]}
    values = {1: charge("200"), 2: charge("60"), 3: charge("7000")}
    before, now = billed_day(values, held, {}, arriving("R2", 4))
    assert (before, now) == (charge("150"), charge("260"))
    assert billed_day({3: charge("1")}, held, {}, arriving("R2", 4)) == ({}, {})


def test_no_movement_is_found_when_nothing_billed_moved() -> None:
    before, now = billed_day({1: charge("900")}, {1: [R1]}, {}, arriving("II", 1))
    assert movements({"party:A": before}, {"party:A": now}, Decimal("0.05"), "run II 1") == []
    before, now = billed_day({1: charge("900")}, {1: [R1]}, {}, arriving("R2", 4))
    [found] = movements({"party:A": before}, {"party:A": now}, Decimal("0.05"), "run R2 4")
    assert "moved from 100 to 900 with run R2 4" in found.message
