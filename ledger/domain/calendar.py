"""England and Wales bank holidays and working-day arithmetic for settlement timetables.

Holidays follow the statutory rules (valid from 1978, when early May began) plus known one-offs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

_DAY = timedelta(days=1)

# One-off changes, by proclamation. A moved holiday appears once in each set.
_REMOVED: frozenset[date] = frozenset(
    {
        date(1995, 5, 1),  # early May moved to 8 May (VE Day 50th anniversary)
        date(2002, 5, 27),  # spring moved to 4 June (Golden Jubilee)
        date(2012, 5, 28),  # spring moved to 4 June (Diamond Jubilee)
        date(2020, 5, 4),  # early May moved to 8 May (VE Day 75th anniversary)
        date(2022, 5, 30),  # spring moved to 2 June (Platinum Jubilee)
    }
)
_ADDED: frozenset[date] = frozenset(
    {
        date(1981, 7, 29),  # royal wedding
        date(1995, 5, 8),
        date(1999, 12, 31),  # millennium
        date(2002, 6, 3),  # Golden Jubilee
        date(2002, 6, 4),
        date(2011, 4, 29),  # royal wedding
        date(2012, 6, 4),
        date(2012, 6, 5),  # Diamond Jubilee
        date(2020, 5, 8),
        date(2022, 6, 2),
        date(2022, 6, 3),  # Platinum Jubilee
        date(2022, 9, 19),  # state funeral of Queen Elizabeth II
        date(2023, 5, 8),  # coronation of King Charles III
    }
)


def easter_sunday(year: int) -> date:
    """Easter Sunday in the Gregorian calendar (anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


def _first_monday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(7 - first.weekday()) % 7)


def _last_monday(year: int, month: int) -> date:
    last = date(year + month // 12, month % 12 + 1, 1) - _DAY
    return last - timedelta(days=last.weekday())


def _with_substitutes(fixed: list[date]) -> set[date]:
    """Fixed-date holidays, each one falling at a weekend replaced by the next free weekday."""
    days = {d for d in fixed if d.weekday() < 5}
    for holiday in fixed:
        if holiday.weekday() >= 5:
            substitute = holiday + _DAY
            # Christmas on Saturday pushes Boxing Day's substitute to Tuesday, hence "free".
            while substitute.weekday() >= 5 or substitute in days:
                substitute += _DAY
            days.add(substitute)
    return days


@lru_cache(maxsize=512)
def _statutory(year: int) -> frozenset[date]:
    easter = easter_sunday(year)
    days = _with_substitutes([date(year, 1, 1)])
    days |= _with_substitutes([date(year, 12, 25), date(year, 12, 26)])
    days |= {
        easter - 2 * _DAY,  # Good Friday
        easter + _DAY,  # Easter Monday
        _first_monday(year, 5),
        _last_monday(year, 5),
        _last_monday(year, 8),
    }
    days -= _REMOVED
    days |= {d for d in _ADDED if d.year == year}
    return frozenset(days)


@dataclass(frozen=True)
class WorkingDayCalendar:
    """Weekends and E&W bank holidays, adjusted by holidays added or removed in configuration.

    Elexon re-issues its calendars when bank holidays move; supply such changes here rather than
    waiting for a code release.
    """

    extra_holidays: frozenset[date] = frozenset()
    removed_holidays: frozenset[date] = frozenset()

    def bank_holidays(self, year: int) -> frozenset[date]:
        """The bank holidays of a year, after this calendar's additions and removals."""
        days = _statutory(year) - self.removed_holidays
        return days | {d for d in self.extra_holidays if d.year == year}

    def is_working_day(self, d: date) -> bool:
        """True unless ``d`` is a Saturday, Sunday or bank holiday."""
        if d.weekday() >= 5 or d in self.extra_holidays:
            return False
        return d in self.removed_holidays or d not in _statutory(d.year)

    def add_working_days(self, d: date, n: int) -> date:
        """The n-th working day after ``d``.

        ``n = 0`` rolls forward: ``d`` itself if it is a working day, else the next working day.
        """
        if n < 0:
            raise ValueError(f"n must be zero or more, got {n}")
        if n == 0:
            while not self.is_working_day(d):
                d += _DAY
            return d
        while n:
            d += _DAY
            if self.is_working_day(d):
                n -= 1
        return d

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in ``(a, b]``; negative when ``b`` is before ``a``.

        So ``working_days_between(a, add_working_days(a, n)) == n`` for every ``n >= 1``.
        """
        if b < a:
            return -self.working_days_between(b, a)
        count = 0
        d = a
        while d < b:
            d += _DAY
            count += self.is_working_day(d)
        return count


DEFAULT_CALENDAR = WorkingDayCalendar()


def bank_holidays(year: int) -> frozenset[date]:
    """England and Wales bank holidays of a year (statutory rules plus known one-offs)."""
    return DEFAULT_CALENDAR.bank_holidays(year)


def is_working_day(d: date) -> bool:
    """True unless ``d`` is a weekend day or an England and Wales bank holiday."""
    return DEFAULT_CALENDAR.is_working_day(d)


def add_working_days(d: date, n: int) -> date:
    """The n-th working day after ``d``; ``n = 0`` gives ``d`` or the next working day."""
    return DEFAULT_CALENDAR.add_working_days(d, n)


def working_days_between(a: date, b: date) -> int:
    """Working days after ``a`` up to and including ``b``."""
    return DEFAULT_CALENDAR.working_days_between(a, b)
