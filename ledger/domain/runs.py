"""Settlement run types, their order of maturity, and the timetables on which they happen."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from ledger.domain.calendar import DEFAULT_CALENDAR, WorkingDayCalendar
from ledger.domain.errors import UnknownRunType
from ledger.domain.plain_text import excerpt


class Maturity(StrEnum):
    """How far a value can be relied on.

    II is ``indicative``; SF, R1, R2 and R3 are ``settlement`` (invoiced, still reconciled);
    RF and DF are ``final``. Values that come from no settlement run have their own:
    ``published`` (system prices as Elexon publishes them, each publication a version),
    ``estimated`` and ``actual`` (a data collector's half-hourly advances).
    """

    PUBLISHED = "published"
    ESTIMATED = "estimated"
    ACTUAL = "actual"
    INDICATIVE = "indicative"
    SETTLEMENT = "settlement"
    FINAL = "final"


class RunType(StrEnum):
    """Settlement runs, from the first interim run to the dispute final; then the kinds of
    values that come from no settlement run, which rank below every run.

    ``PUB`` is a publication of system prices (Elexon Insights, DISEBSP), ``EST`` and ``ACT``
    a data collector's estimated and actual half-hourly advances (D0036). Their run number is
    the publication or file creation instant written as ``YYYYMMDDHHMMSS``, so later ones rank
    higher within their kind.
    """

    II = "II"
    SF = "SF"
    R1 = "R1"
    R2 = "R2"
    R3 = "R3"
    RF = "RF"
    DF = "DF"
    PUB = "PUB"
    EST = "EST"
    ACT = "ACT"

    @property
    def maturity_rank(self) -> int:
        """Position in the order of maturity: II is 0, DF is 6; a publication is -3, an
        estimate -2 and an actual advance -1 (below any settlement run)."""
        return _RANK[self]

    @property
    def is_settlement_run(self) -> bool:
        """Whether this is one of the SAA's settlement runs (II to DF)."""
        return _RANK[self] >= 0

    @property
    def maturity(self) -> Maturity:
        """Whether values from this run are indicative, settlement or final (or published,
        estimated or actual, for values from no settlement run)."""
        return _MATURITY.get(self, Maturity.SETTLEMENT)

    @classmethod
    def parse(cls, text: str) -> RunType:
        """A run type from text such as ``' r1 '``; raise :class:`UnknownRunType` otherwise."""
        try:
            return cls(text.strip().upper())
        except ValueError:
            known = ", ".join(cls)
            raise UnknownRunType(
                f"unknown settlement run type {excerpt(text)}; expected one of {known}"
            ) from None

    @classmethod
    def parse_settlement_run(cls, text: str) -> RunType:
        """A settlement run type (II to DF) as an SAA report names it; refused otherwise."""
        found = _BY_NAME.get(text.strip().upper())
        if found is None or not found.is_settlement_run:
            known = ", ".join(SETTLEMENT_RUNS)
            raise UnknownRunType(
                f"unknown settlement run type {excerpt(text)}; expected one of {known}"
            )
        return found


_ORDER: tuple[RunType, ...] = (
    RunType.PUB,
    RunType.EST,
    RunType.ACT,
    RunType.II,
    RunType.SF,
    RunType.R1,
    RunType.R2,
    RunType.R3,
    RunType.RF,
    RunType.DF,
)
# Ranks are stored in the period view: II stays 0 as it always was.
_RANK = {run: i - _ORDER.index(RunType.II) for i, run in enumerate(_ORDER)}
_BY_NAME = {run.value: run for run in RunType}
SETTLEMENT_RUNS: tuple[RunType, ...] = tuple(run for run in _ORDER if _RANK[run] >= 0)
_MATURITY = {
    RunType.PUB: Maturity.PUBLISHED,
    RunType.EST: Maturity.ESTIMATED,
    RunType.ACT: Maturity.ACTUAL,
    RunType.II: Maturity.INDICATIVE,
    RunType.RF: Maturity.FINAL,
    RunType.DF: Maturity.FINAL,
}


def best_run_key(
    run_type: RunType, run_number: int, creation_time: datetime
) -> tuple[int, int, datetime]:
    """Sort key for "best available": most mature run, then run number, then creation time."""
    return (run_type.maturity_rank, run_number, creation_time)


# How much later than a file's arrival an instant in it may lie: the sender's clock and the
# ledger's disagree by seconds, rarely minutes.
DEFAULT_FUTURE_TOLERANCE = timedelta(minutes=5)


def after_arrival(
    what: str, instant: datetime, arrival: datetime | None, tolerance: timedelta
) -> str | None:
    """What is wrong with ``instant`` (``what`` names it, e.g. "the AAA header's creation
    time") when it is later than the file's arrival by more than ``tolerance``: a file cannot
    be written after it arrives. None when it is not (or the arrival is not known).

    Where the instant ranks versions (a publication's time is its run number; a file's
    creation time breaks ties between deliveries of a run), one from the future would outrank
    every real version published after it, for ever: :func:`refused_after_arrival`."""
    if arrival is None or instant <= arrival + tolerance:
        return None
    return (
        f"{what} {_shown(instant)} is later than the file's arrival ({_shown(arrival)}) by more "
        f"than the {int(tolerance.total_seconds()):,} seconds allowed for clock skew "
        "(LEDGER_FUTURE_TOLERANCE_SECONDS)"
    )


def refused_after_arrival(
    what: str, instant: datetime, arrival: datetime | None, tolerance: timedelta
) -> str | None:
    """Why a file is refused whose instant that ranks versions lies after its arrival (see
    :func:`after_arrival`); None when it does not."""
    problem = after_arrival(what, instant, arrival, tolerance)
    if problem is None:
        return None
    return (
        f"{problem}: a version from the future would outrank every real one published after "
        "it, so the file is refused; check the sender's clock and send the file again"
    )


def noted_after_arrival(
    what: str, instant: datetime, arrival: datetime | None, tolerance: timedelta
) -> str | None:
    """The warning on a file whose instant lies after its arrival (see :func:`after_arrival`)
    where the instant ranks no version; None when it does not."""
    problem = after_arrival(what, instant, arrival, tolerance)
    if problem is None:
        return None
    return f"{problem}; it ranks no version here, so the file was kept as sent"


def _shown(instant: datetime) -> str:
    return f"{instant.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


@dataclass(frozen=True)
class Timetable:
    """Working days after the Settlement Day for each scheduled run, from a given Settlement Day.

    Run types absent from ``working_days`` have no fixed day (DF is always ad hoc).
    """

    name: str
    effective_from: date
    working_days: Mapping[RunType, int] = field(hash=False)


def _timetable(entry: Mapping[str, Any], source: str) -> Timetable:
    try:
        name, effective_from, days = entry["name"], entry["effective_from"], entry["working_days"]
    except KeyError as missing:
        raise ValueError(f"{source}: a timetable lacks {missing.args[0]!r}") from None
    # tomllib gives datetime for a date-time literal, which is a date subclass: reject it.
    if type(effective_from) is not date:
        raise ValueError(f"{source}: timetable {name!r} effective_from must be a date")
    working_days: dict[RunType, int] = {}
    for run, n in days.items():
        if type(n) is not int or n < 0:
            raise ValueError(f"{source}: timetable {name!r} {run} must be a whole number >= 0")
        working_days[RunType.parse_settlement_run(run)] = n
    return Timetable(str(name), effective_from, MappingProxyType(working_days))


def load_timetables(path: str | os.PathLike[str] | None = None) -> list[Timetable]:
    """Timetables from a TOML file, oldest first; by default the packaged config/timetables.toml."""
    if path is None:
        source = resources.files("ledger.domain").joinpath("config/timetables.toml")
        data = tomllib.loads(source.read_text(encoding="utf-8"))
        label = "ledger/domain/config/timetables.toml"
    else:
        with open(path, "rb") as f:
            data = tomllib.load(f)
        label = os.fspath(path)
    timetables = sorted(
        (_timetable(entry, label) for entry in data.get("timetable", [])),
        key=lambda t: t.effective_from,
    )
    if not timetables:
        raise ValueError(f"{label}: no [[timetable]] entries")
    return timetables


@lru_cache(maxsize=1)
def _default_timetables() -> tuple[Timetable, ...]:
    return tuple(load_timetables())


def timetable_for(settlement_date: date, timetables: list[Timetable] | None = None) -> Timetable:
    """The timetable in force for a Settlement Day: the latest one effective on or before it."""
    candidates = _default_timetables() if timetables is None else timetables
    applicable = [t for t in candidates if t.effective_from <= settlement_date]
    if not applicable:
        raise ValueError(f"no settlement timetable applies to {settlement_date.isoformat()}")
    return max(applicable, key=lambda t: t.effective_from)


def scheduled_run_date(
    settlement_date: date,
    run_type: RunType,
    timetables: list[Timetable] | None = None,
    calendar: WorkingDayCalendar = DEFAULT_CALENDAR,
) -> date | None:
    """The date a run is due for a Settlement Day, or None when it has no fixed day."""
    n = timetable_for(settlement_date, timetables).working_days.get(run_type)
    return None if n is None else calendar.add_working_days(settlement_date, n)
