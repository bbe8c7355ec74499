"""Settlement days and periods: half hours numbered from 1 at 00:00 Europe/London."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from ledger.errors import InvalidSettlementPeriod

LONDON = ZoneInfo("Europe/London")
PERIOD = timedelta(minutes=30)


def day_start_utc(settlement_date: date) -> datetime:
    """The UTC instant at which a settlement day starts (local midnight)."""
    local_midnight = datetime(
        settlement_date.year, settlement_date.month, settlement_date.day, tzinfo=LONDON
    )
    return local_midnight.astimezone(UTC)


def periods_in_day(settlement_date: date) -> int:
    """46 on the spring clock-change day, 50 on the autumn one, otherwise 48."""
    span = day_start_utc(settlement_date + timedelta(days=1)) - day_start_utc(settlement_date)
    return int(span / PERIOD)


def check_settlement_period(settlement_date: date, settlement_period: int) -> None:
    """Raise :class:`InvalidSettlementPeriod` when the period does not exist on that day."""
    count = periods_in_day(settlement_date)
    if not 1 <= settlement_period <= count:
        raise InvalidSettlementPeriod(
            f"settlement period {settlement_period} does not exist on "
            f"{settlement_date.isoformat()}, which has {count} periods"
        )


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
