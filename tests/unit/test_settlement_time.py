"""Settlement days and periods, including both clock-change days."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import InvalidSettlementPeriod
from ledger.settlement_time import (
    PERIOD,
    check_settlement_period,
    day_start_utc,
    period_end_utc,
    period_start_utc,
    periods_in_day,
    settlement_period_at,
    settlement_periods,
)

SPRING = date(2026, 3, 29)
AUTUMN = date(2026, 10, 25)
ORDINARY = date(2026, 5, 6)
WINTER = date(2026, 1, 15)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(("day", "count"), [(SPRING, 46), (AUTUMN, 50), (ORDINARY, 48)])
def test_periods_in_day(day: date, count: int) -> None:
    assert periods_in_day(day) == count
    assert len(settlement_periods(day)) == count


def test_summer_period_one_starts_at_23z_the_day_before() -> None:
    assert period_start_utc(ORDINARY, 1) == utc(2026, 5, 5, 23)


def test_winter_period_one_starts_at_midnight_utc() -> None:
    assert period_start_utc(WINTER, 1) == utc(2026, 1, 15, 0)


def test_autumn_repeated_hour() -> None:
    # Local 01:00 happens twice: at 00:00Z in BST (period 3) and at 01:00Z in GMT (period 5).
    assert period_start_utc(AUTUMN, 1) == utc(2026, 10, 24, 23)
    assert period_start_utc(AUTUMN, 3) == utc(2026, 10, 25, 0)
    assert period_start_utc(AUTUMN, 5) == utc(2026, 10, 25, 1)
    assert period_start_utc(AUTUMN, 50) == utc(2026, 10, 25, 23, 30)
    assert period_end_utc(AUTUMN, 50) == utc(2026, 10, 26, 0)


def test_spring_skipped_hour() -> None:
    # Local 01:00 to 02:00 does not exist: period 3 starts at 02:00 BST, which is 01:00Z.
    assert period_start_utc(SPRING, 3) == utc(2026, 3, 29, 1)
    assert period_end_utc(SPRING, 46) == utc(2026, 3, 29, 23)


@pytest.mark.parametrize(
    ("day", "period"),
    [(ORDINARY, 0), (ORDINARY, 49), (SPRING, 47), (AUTUMN, 51), (ORDINARY, -1)],
)
def test_out_of_range_period_names_date_and_count(day: date, period: int) -> None:
    with pytest.raises(InvalidSettlementPeriod) as raised:
        check_settlement_period(day, period)
    message = str(raised.value)
    assert day.isoformat() in message
    assert f"{periods_in_day(day)} periods" in message
    with pytest.raises(InvalidSettlementPeriod):
        period_start_utc(day, period)


@pytest.mark.parametrize("day", [SPRING, AUTUMN, ORDINARY, WINTER])
def test_round_trip_every_period(day: date) -> None:
    for k in range(1, periods_in_day(day) + 1):
        assert settlement_period_at(period_start_utc(day, k)) == (day, k)
        assert settlement_period_at(period_end_utc(day, k) - timedelta(seconds=1)) == (day, k)


def test_settlement_period_at_rejects_naive_instant() -> None:
    with pytest.raises(ValueError):
        settlement_period_at(datetime(2026, 5, 6, 12))


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 12, 31)))
def test_periods_tile_the_day(day: date) -> None:
    periods = settlement_periods(day)
    assert len(periods) in (46, 48, 50)
    assert [k for k, _, _ in periods] == list(range(1, len(periods) + 1))
    assert periods[0][1] == day_start_utc(day)
    assert periods[-1][2] == day_start_utc(day + timedelta(days=1))
    for (k, start, end), (_, next_start, _) in zip(periods, periods[1:], strict=False):
        assert end - start == PERIOD
        assert end == next_start
        assert start == period_start_utc(day, k)
