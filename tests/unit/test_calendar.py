"""England and Wales bank holidays and working-day arithmetic."""

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.domain.calendar import (
    WorkingDayCalendar,
    add_working_days,
    bank_holidays,
    easter_sunday,
    is_working_day,
    working_days_between,
)


def days(year: int, *month_days: tuple[int, int]) -> frozenset[date]:
    return frozenset(date(year, m, d) for m, d in month_days)


def test_2025() -> None:
    assert bank_holidays(2025) == days(
        2025, (1, 1), (4, 18), (4, 21), (5, 5), (5, 26), (8, 25), (12, 25), (12, 26)
    )


def test_2026_boxing_day_substitute() -> None:
    assert bank_holidays(2026) == days(
        2026, (1, 1), (4, 3), (4, 6), (5, 4), (5, 25), (8, 31), (12, 25), (12, 28)
    )


def test_2027_christmas_and_boxing_day_at_weekend() -> None:
    assert bank_holidays(2027) == days(
        2027, (1, 1), (3, 26), (3, 29), (5, 3), (5, 31), (8, 30), (12, 27), (12, 28)
    )


def test_2022_jubilee_and_state_funeral() -> None:
    assert bank_holidays(2022) == days(
        2022, (1, 3), (4, 15), (4, 18), (5, 2), (6, 2), (6, 3), (8, 29), (9, 19), (12, 26), (12, 27)
    )
    assert date(2022, 5, 30) not in bank_holidays(2022)


def test_2020_ve_day() -> None:
    assert date(2020, 5, 8) in bank_holidays(2020)
    assert date(2020, 5, 4) not in bank_holidays(2020)
    assert is_working_day(date(2020, 5, 4))


def test_other_one_offs() -> None:
    assert date(2023, 5, 8) in bank_holidays(2023)
    assert date(2011, 4, 29) in bank_holidays(2011)
    assert days(2012, (6, 4), (6, 5)) <= bank_holidays(2012)
    assert days(2002, (6, 3), (6, 4)) <= bank_holidays(2002)
    assert date(1995, 5, 8) in bank_holidays(1995)
    assert date(1995, 5, 1) not in bank_holidays(1995)


@pytest.mark.parametrize(
    ("year", "easter"),
    [(2000, date(2000, 4, 23)), (2019, date(2019, 4, 21)), (2038, date(2038, 4, 25))],
)
def test_easter(year: int, easter: date) -> None:
    assert easter_sunday(year) == easter


def test_weekends_are_not_working_days() -> None:
    assert not is_working_day(date(2026, 5, 9))  # Saturday
    assert not is_working_day(date(2026, 5, 10))  # Sunday
    assert is_working_day(date(2026, 5, 11))


def test_add_working_days_across_christmas() -> None:
    # Thu 24 Dec 2026; Fri 25 and Mon 28 are holidays.
    assert add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 29)
    assert add_working_days(date(2026, 12, 24), 4) == date(2027, 1, 4)


def test_add_zero_working_days_rolls_forward() -> None:
    assert add_working_days(date(2026, 5, 6), 0) == date(2026, 5, 6)
    assert add_working_days(date(2026, 12, 25), 0) == date(2026, 12, 29)


def test_add_negative_working_days_is_refused() -> None:
    with pytest.raises(ValueError):
        add_working_days(date(2026, 5, 6), -1)


def test_configured_holidays() -> None:
    extra = date(2026, 6, 1)
    removed = date(2026, 5, 25)
    cal = WorkingDayCalendar(
        extra_holidays=frozenset({extra}), removed_holidays=frozenset({removed})
    )
    assert extra in cal.bank_holidays(2026)
    assert removed not in cal.bank_holidays(2026)
    assert not cal.is_working_day(extra)
    assert cal.is_working_day(removed)
    assert cal.add_working_days(date(2026, 5, 29), 1) == date(2026, 6, 2)


def test_working_days_between() -> None:
    assert working_days_between(date(2026, 12, 24), date(2026, 12, 31)) == 3
    assert working_days_between(date(2026, 12, 31), date(2026, 12, 24)) == -3
    assert working_days_between(date(2026, 5, 6), date(2026, 5, 6)) == 0


@settings(max_examples=200, deadline=None)
@given(
    st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31)),
    st.integers(min_value=0, max_value=300),
)
def test_add_working_days_properties(start: date, n: int) -> None:
    end = add_working_days(start, n)
    assert is_working_day(end)
    assert end >= start
    if n >= 1:
        assert working_days_between(start, end) == n
        # Nothing earlier would do: the day before has one working day fewer.
        assert working_days_between(start, end - timedelta(days=1)) == n - 1
