"""Settlement days and periods: half hours numbered from 1 at 00:00 Europe/London."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from ledger.domain.errors import InvalidInstant, InvalidSettlementPeriod

LONDON = ZoneInfo("Europe/London")
PERIOD = timedelta(minutes=30)

# The settlement era: the settlement dates the ledger holds.
# - From NETA go-live, the first Settlement Day under the BSC: no SAA-I014 report, run
#   timetable (ledger/domain/config/timetables.toml) or settlement period exists before it.
# - To the end of 2099: far beyond any date a settlement file, a correction or a query can
#   meaningfully name today, and early enough that every instant derived from a settlement
#   date (its periods, the runs due up to RF about 14 months later, disputes years later)
#   stays well inside what Python's datetime and both databases represent. A date beyond it
#   is a typo (9999-12-31 used to overflow), not a market date.
SETTLEMENT_ERA_START = date(2001, 3, 27)
SETTLEMENT_ERA_END = date(2099, 12, 31)

# The as-of instants the ledger answers for, as UTC instants [earliest, end). Earlier than
# the era (2000) is allowed and simply knows nothing; the end leaves a century after the
# era's last day for its runs and disputes. Outside these, an instant is a typo and could
# overflow once converted to UTC (0001-01-01T00:00:00+14:00 is in year 0).
AS_OF_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
AS_OF_END = datetime(2200, 1, 1, tzinfo=UTC)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
# A fraction of a second: Python keeps six digits (microseconds) and drops the rest unsaid.
_FRACTION = re.compile(r"[.,]([0-9]+)")
_MICROSECOND_DIGITS = 6
_INSTANT_EXAMPLE = "e.g. 2026-05-07T12:00:00Z or 2026-05-07T13:00:00+01:00"


def _quoted(text: str, limit: int = 40) -> str:
    """``text`` quoted for a message, shortened when long (it may be any user input)."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def check_settlement_date(settlement_date: date) -> None:
    """Raise :class:`InvalidSettlementPeriod` for a date outside the settlement era."""
    if not SETTLEMENT_ERA_START <= settlement_date <= SETTLEMENT_ERA_END:
        raise InvalidSettlementPeriod(
            f"settlement date {settlement_date.isoformat()} is outside the settlement era: "
            f"the ledger holds settlement dates from {SETTLEMENT_ERA_START.isoformat()} "
            f"(NETA go-live) to {SETTLEMENT_ERA_END.isoformat()}; check the date"
        )


def parse_settlement_date(text: str) -> date:
    """A settlement date written YYYY-MM-DD, within the settlement era.

    The one parser of settlement dates typed by people (command line, API path)."""
    if not _ISO_DATE.fullmatch(text):
        raise InvalidSettlementPeriod(
            f"{_quoted(text)} is not a settlement date; write YYYY-MM-DD, e.g. 2026-05-06"
        )
    try:
        value = date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidSettlementPeriod(
            f"{_quoted(text)} is not a settlement date (YYYY-MM-DD): {exc}"
        ) from None
    check_settlement_date(value)
    return value


def parse_as_of(text: str) -> datetime:
    """An as-of instant: ISO 8601 with a time zone, from 2000 to 2199 (UTC).

    The one parser of as-of instants, shared by the command line and the API, the period
    queries and the documents' ``as-of:`` rule. Raises :class:`InvalidInstant` with a message
    that says what to write instead; digits other than ASCII ones are refused, and so is a
    fraction of a second finer than a microsecond (it could not be kept exactly).
    """
    try:
        value = datetime.fromisoformat(text) if text.isascii() else None
    except ValueError:
        value = None
    fraction = _FRACTION.search(text) if value is not None else None
    if fraction is not None and fraction.group(1)[_MICROSECOND_DIGITS:].strip("0"):
        raise InvalidInstant(
            f"{_quoted(text)} gives a fraction of a second finer than a microsecond, which "
            "the ledger cannot keep exactly: write at most six decimal places"
        )
    if value is None:
        hint = " (in a URL, write a + offset as %2B)" if " " in text.strip() else ""
        raise InvalidInstant(
            f"{_quoted(text)} is not an ISO 8601 instant; write a date, a time and a time "
            f"zone, {_INSTANT_EXAMPLE}{hint}"
        )
    if value.tzinfo is None:
        raise InvalidInstant(
            f"{_quoted(text)} has no time zone; add Z or an offset, {_INSTANT_EXAMPLE}"
        )
    check_as_of(value)
    return value


def check_as_of(instant: datetime) -> None:
    """Raise :class:`InvalidInstant` for an as-of instant outside the range answered for."""
    if not AS_OF_EARLIEST <= instant < AS_OF_END:
        raise InvalidInstant(
            f"as-of instant {instant.isoformat()} is out of range: the ledger answers for "
            f"instants from {AS_OF_EARLIEST:%Y-%m-%dT%H:%M:%SZ} up to (not including) "
            f"{AS_OF_END:%Y-%m-%dT%H:%M:%SZ}"
        )


def day_start_utc(settlement_date: date) -> datetime:
    """The UTC instant at which a settlement day starts (local midnight)."""
    local_midnight = datetime(
        settlement_date.year, settlement_date.month, settlement_date.day, tzinfo=LONDON
    )
    return local_midnight.astimezone(UTC)


def periods_in_day(settlement_date: date) -> int:
    """46 on the spring clock-change day, 50 on the autumn one, otherwise 48.

    Raises :class:`InvalidSettlementPeriod` for a date outside the settlement era.
    """
    check_settlement_date(settlement_date)
    span = day_start_utc(settlement_date + timedelta(days=1)) - day_start_utc(settlement_date)
    return int(span / PERIOD)


def check_settlement_period(settlement_date: date, settlement_period: int) -> None:
    """Raise :class:`InvalidSettlementPeriod` when the period does not exist on that day,
    or the day is outside the settlement era."""
    count = periods_in_day(settlement_date)
    if not 1 <= settlement_period <= count:
        raise InvalidSettlementPeriod(
            f"settlement period {settlement_period} does not exist on "
            f"{settlement_date.isoformat()}, which has {count} periods"
        )


# A period or a range of them, as people type them: ASCII digits only (str.isdigit and int()
# would read other scripts' digits, ٣ as 3).
_PERIODS_TEXT = re.compile(r"([0-9]+)(?:-([0-9]+))?")
# More digits than any period number has: refused as such, never converted (Python refuses to
# convert more than 4,300 digits, and a range of them could not be built).
_PERIOD_DIGITS = 3


def parse_settlement_periods(text: str, settlement_date: date) -> range:
    """Settlement periods written ``N`` or ``N-M`` (inclusive, upwards) in ASCII digits, each
    a period of that settlement day: a ``range``, made once both ends are known to exist on
    the day, so no number typed, however large, builds anything first."""
    match = _PERIODS_TEXT.fullmatch(text.strip())
    if match is None:
        raise InvalidSettlementPeriod(
            f"{_quoted(text)} is not a settlement period or a range of them: write N or N-M "
            "in digits, e.g. 7 or 1-48"
        )
    first, last = match.group(1), match.group(2) or match.group(1)
    low, high = (_period_number(n, settlement_date) for n in (first, last))
    if low > high:
        raise InvalidSettlementPeriod(
            f"{_quoted(text)}: a range of periods runs upwards, e.g. {high}-{low}"
        )
    return range(low, high + 1)


def parse_settlement_period(text: str, settlement_date: date) -> int:
    """One settlement period written in ASCII digits, a period of that settlement day."""
    if not text.strip().isascii() or not text.strip().isdigit():
        raise InvalidSettlementPeriod(
            f"{_quoted(text)} is not a settlement period: write its number in digits, e.g. 7"
        )
    return _period_number(text.strip(), settlement_date)


def _period_number(digits: str, settlement_date: date) -> int:
    count = periods_in_day(settlement_date)
    if len(digits.lstrip("0")) > _PERIOD_DIGITS:
        raise InvalidSettlementPeriod(
            f"settlement period {_quoted(digits)} does not exist on "
            f"{settlement_date.isoformat()}, which has {count} periods"
        )
    period = int(digits)
    check_settlement_period(settlement_date, period)
    return period


def period_start_utc(settlement_date: date, settlement_period: int) -> datetime:
    """The UTC start of a settlement period."""
    check_settlement_period(settlement_date, settlement_period)
    return day_start_utc(settlement_date) + (settlement_period - 1) * PERIOD


def period_end_utc(settlement_date: date, settlement_period: int) -> datetime:
    """The UTC end (exclusive) of a settlement period: its start plus 30 minutes."""
    return period_start_utc(settlement_date, settlement_period) + PERIOD


def settlement_periods(settlement_date: date) -> list[tuple[int, datetime, datetime]]:
    """Every period of a settlement day as ``(period, start_utc, end_utc)``, in order."""
    start = day_start_utc(settlement_date)
    return [
        (k, start + (k - 1) * PERIOD, start + k * PERIOD)
        for k in range(1, periods_in_day(settlement_date) + 1)
    ]


def settlement_period_at(instant: datetime) -> tuple[date, int]:
    """The settlement date and period that contain a timezone-aware instant."""
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    local_date = instant.astimezone(LONDON).date()
    offset = instant.astimezone(UTC) - day_start_utc(local_date)
    return local_date, int(offset // PERIOD) + 1
