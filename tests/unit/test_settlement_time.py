"""Settlement days and periods, including both clock-change days."""

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.errors import InvalidInstant, InvalidSettlementPeriod, LedgerError
from ledger.domain.settlement_time import (
    AS_OF_EARLIEST,
    AS_OF_END,
    PERIOD,
    SETTLEMENT_ERA_END,
    SETTLEMENT_ERA_START,
    check_settlement_date,
    check_settlement_period,
    day_start_utc,
    parse_as_of,
    parse_settlement_date,
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


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


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
# The whole settlement era, both ends included (dates outside it are refused: see below).
@given(st.dates(min_value=SETTLEMENT_ERA_START, max_value=SETTLEMENT_ERA_END))
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


# --- The settlement era -------------------------------------------------------------------


def test_the_era_runs_from_neta_go_live_to_the_end_of_2099() -> None:
    assert (SETTLEMENT_ERA_START, SETTLEMENT_ERA_END) == (date(2001, 3, 27), date(2099, 12, 31))
    for day in (SETTLEMENT_ERA_START, SETTLEMENT_ERA_END):
        check_settlement_date(day)
        check_settlement_period(day, 1)
        assert period_end_utc(day, periods_in_day(day)) == day_start_utc(day + timedelta(days=1))


@pytest.mark.parametrize(
    "day",
    [date(9999, 12, 31), date(1, 1, 1), date(2001, 3, 26), date(2100, 1, 1), date(2000, 1, 1)],
)
def test_dates_outside_the_era_are_refused_not_overflowed(day: date) -> None:
    # 9999-12-31 used to raise OverflowError (the day after it does not exist).
    message = f"settlement date {day.isoformat()} is outside the settlement era"
    with pytest.raises(InvalidSettlementPeriod, match=message) as raised:
        check_settlement_period(day, 1)
    assert "2001-03-27 (NETA go-live) to 2099-12-31" in str(raised.value)
    for call in (periods_in_day, settlement_periods, lambda d: period_start_utc(d, 1)):
        with pytest.raises(InvalidSettlementPeriod, match=message):
            call(day)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2026-02-30", "'2026-02-30' is not a settlement date (YYYY-MM-DD): day is out of range"),
        ("20260506", "'20260506' is not a settlement date; write YYYY-MM-DD"),
        ("٢٠٢٦-05-06", "is not a settlement date; write YYYY-MM-DD"),
        ("2026-05-06\n", "is not a settlement date; write YYYY-MM-DD"),
        ("9999-12-31", "settlement date 9999-12-31 is outside the settlement era"),
        ("0001-01-01", "settlement date 0001-01-01 is outside the settlement era"),
    ],
)
def test_parse_settlement_date_refuses(text: str, message: str) -> None:
    with pytest.raises(InvalidSettlementPeriod, match=re.escape(message)):
        parse_settlement_date(text)


def test_parse_settlement_date() -> None:
    assert parse_settlement_date("2026-05-06") == ORDINARY
    assert parse_settlement_date("2001-03-27") == SETTLEMENT_ERA_START


# --- As-of instants -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-05-07T12:00:00Z", utc(2026, 5, 7, 12)),
        ("2026-05-07T13:00:00+01:00", utc(2026, 5, 7, 12)),
        ("2026-05-07T12:00:00.5+00:00", utc(2026, 5, 7, 12) + timedelta(milliseconds=500)),
        ("2000-01-01T00:00:00Z", AS_OF_EARLIEST),
        ("2199-12-31T23:59:59.999999Z", AS_OF_END - timedelta(microseconds=1)),
        ("2026-05-07T12:00:00.500000000Z", utc(2026, 5, 7, 12) + timedelta(milliseconds=500)),
    ],
)
def test_parse_as_of(text: str, expected: datetime) -> None:
    value = parse_as_of(text)
    assert value == expected
    assert value.tzinfo is not None


def test_parse_as_of_keeps_the_offset_written() -> None:
    assert parse_as_of("2026-05-07T13:00:00+01:00").isoformat() == "2026-05-07T13:00:00+01:00"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-1", "'-1' is not an ISO 8601 instant"),
        ("yesterday", "is not an ISO 8601 instant"),
        ("", "'' is not an ISO 8601 instant"),
        ("2026-05-07T12:00:00 01:00", "in a URL, write a + offset as %2B"),
        ("٢٠٢٦-05-07T12:00:00Z", "is not an ISO 8601 instant"),
        ("2026-05-07", "'2026-05-07' has no time zone"),
        ("2026-05-07T12:00:00", "has no time zone; add Z or an offset"),
        ("0001-01-01T00:00:00+14:00", "as-of instant 0001-01-01T00:00:00+14:00 is out of range"),
        ("9999-12-31T23:59:59-14:00", "is out of range"),
        ("1999-12-31T23:59:59Z", "is out of range"),
        ("2000-01-01T00:30:00+01:00", "is out of range"),
        ("2200-01-01T00:00:00Z", "is out of range"),
        ("x" * 1000, "is not an ISO 8601 instant"),
        # Python would keep the microseconds and drop the rest without a word.
        ("2026-05-07T12:00:00.123456789Z", "finer than a microsecond"),
        ("2026-05-07T12:00:00,0000001+01:00", "finer than a microsecond"),
    ],
)
def test_parse_as_of_refuses(text: str, message: str) -> None:
    with pytest.raises(InvalidInstant, match=re.escape(message)) as raised:
        parse_as_of(text)
    assert isinstance(raised.value, LedgerError)
    assert "\n" not in str(raised.value) and len(str(raised.value)) < 250
