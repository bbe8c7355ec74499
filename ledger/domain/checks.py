"""Checks that a valid file may still fail commercially: numbers an analyst should look at.

- **Totals**: a party's period charges (``PPC``) over the day must add up to the report's
  daily charges for the party (``APC``), measure by measure, for the measures both records
  carry under one name (the IDD names them alike: ``bm_unit_cashflow``,
  ``energy_imbalance_cashflow``...). Period values are printed to the penny and the daily
  total is not the sum of rounded periods, so half a penny per period is tolerated.
- **Movement**: a party's charges for the day as billed (the best version of each period)
  moving, with a file, by more than a configured share of what they were (5% is the threshold
  analysts commonly use), measure by measure. The file's values count only for the periods
  where its version becomes best (:func:`billed_day`): a less mature run arriving late moves
  nothing billed, and raises nothing.

Both yield :class:`Finding` values, each a sentence an operations analyst can act on; the
pipeline raises them in the exception queue. A check never refuses a file.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from ledger.domain.aggregates import Delivery, classify_delivery, values_digest
from ledger.domain.selection import Candidate, best_of

__all__ = [
    "DEFAULT_MOVEMENT_THRESHOLD",
    "ArrivingRun",
    "Finding",
    "HeldVersion",
    "PartyTotals",
    "billed_day",
    "movements",
]

DEFAULT_MOVEMENT_THRESHOLD = Decimal("0.05")
# Half a penny per period: how far rounded period values may sum from a daily total.
_ROUNDING_PER_PERIOD = Decimal("0.005")
# Movements are measured against at least this much (GBP), so that a charge moving from
# nothing to a few pence is not "infinitely" suspicious.
_MOVEMENT_FLOOR = Decimal("1")
_PARTY = "party:"


@dataclass(frozen=True)
class Finding:
    """One suspicious number: about which subject and periods, and what is wrong."""

    subject: str
    periods: tuple[int, ...]
    measures: tuple[str, ...]
    message: str


def _party(subject: str) -> str:
    return subject[len(_PARTY) :]


class PartyTotals:
    """Sums each party's period charges as a file streams by, and keeps its daily charges and
    each period's values (a few hundred parties of 50 periods at most: small)."""

    def __init__(self) -> None:
        self._sums: dict[str, dict[str, Decimal]] = defaultdict(dict)
        self._periods: dict[str, list[int]] = defaultdict(list)
        self._values: dict[str, dict[int, Mapping[str, Decimal]]] = defaultdict(dict)
        self._daily: dict[str, Mapping[str, Decimal]] = {}

    def period(self, subject: str, period: int, values: Mapping[str, Decimal]) -> None:
        """A party's values for one period (other subjects are ignored)."""
        if not subject.startswith(_PARTY):
            return
        sums = self._sums[subject]
        for name, value in values.items():
            sums[name] = sums.get(name, Decimal(0)) + value
        self._periods[subject].append(period)
        self._values[subject][period] = values

    def period_values(self) -> Mapping[str, Mapping[int, Mapping[str, Decimal]]]:
        """Each party's values, period by period, as the file gave them."""
        return self._values

    def daily(self, subject: str, values: Mapping[str, Decimal]) -> None:
        """A party's daily charges (the report's own totals)."""
        if subject.startswith(_PARTY):
            self._daily[subject] = values

    def periods(self) -> Mapping[str, list[int]]:
        """The periods of each party the file gave values for."""
        return self._periods

    def sums(self) -> Mapping[str, Mapping[str, Decimal]]:
        """Each party's period charges summed over the file's periods."""
        return self._sums

    def findings(self, flow: str) -> list[Finding]:
        """The parties whose period charges do not add up to their daily charges."""
        found = []
        for subject, daily in self._daily.items():
            periods = self._periods.get(subject, [])
            if not periods:
                continue
            sums = self._sums[subject]
            tolerance = _ROUNDING_PER_PERIOD * len(periods)
            off = sorted(
                name
                for name in daily.keys() & sums.keys()
                if abs(sums[name] - daily[name]) > tolerance
            )
            if off:
                found.append(_totals_finding(flow, subject, periods, off, sums, daily))
        return found


def _totals_finding(
    flow: str,
    subject: str,
    periods: list[int],
    off: list[str],
    sums: Mapping[str, Decimal],
    daily: Mapping[str, Decimal],
) -> Finding:
    first = off[0]
    more = f" (and {len(off) - 1} more measures)" if len(off) > 1 else ""
    message = (
        f"BSC Party {_party(subject)}'s {first} adds up to {sums[first]} over its "
        f"{len(periods)} settlement periods in this {flow}, but the report's daily total "
        f"is {daily[first]}{more}: check the report with its sender before invoicing "
        "from it"
    )
    return Finding(subject, tuple(sorted(periods)), tuple(off), message)


class HeldVersion(Candidate, Protocol):
    """A version of a period the ledger holds, as the movement check reads it."""

    @property
    def values(self) -> Mapping[str, Decimal]: ...


@dataclass(frozen=True)
class ArrivingRun:
    """The run a file's values belong to, and when the ledger learns them."""

    run_type: str
    run_number: int
    file_creation_time: datetime
    recorded_at: datetime


@dataclass(frozen=True)
class _Arriving:
    """A file's values for one period, as the version they would make (ranked like any)."""

    version: int
    run_type: str
    run_number: int
    file_creation_time: datetime
    recorded_at: datetime
    values: Mapping[str, Decimal]
    kind: str = "run"


def billed_day(
    arriving: Mapping[int, Mapping[str, Decimal]],
    held: Mapping[int, Sequence[HeldVersion]],
    pinned: Mapping[int, int | None],
    run: ArrivingRun,
) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    """A party's charges as billed before a file and after it, summed over the periods the
    file gives that had a best version before it (a period billed for the first time moved
    from nothing, which is no movement).

    ``arriving`` holds the file's values by period, ``held`` the versions held before it by
    period, ``pinned`` each period's pinned version. After the file a period is billed from
    the file's values only where their version becomes best (:func:`best_of`, the one
    ranking: a more mature run, a higher run number...): never while a pin stands, nor for a
    further delivery of a run already held (:func:`classify_delivery`: the same values are
    the version held, other values a conflicting version, never best)."""
    before: dict[str, Decimal] = {}
    after: dict[str, Decimal] = {}
    for period, values in arriving.items():
        versions = held.get(period, ())
        pin = pinned.get(period)
        was = best_of(versions, pinned=pin)
        if was is None:
            continue
        now = was
        if _delivered_anew(versions, run, values):
            version = _Arriving(
                max(v.version for v in versions) + 1,
                run.run_type,
                run.run_number,
                run.file_creation_time,
                run.recorded_at,
                values,
            )
            now = best_of([*versions, version], pinned=pin) or was
        _add(before, was.values)
        _add(after, now.values)
    return before, after


def _delivered_anew(
    versions: Sequence[HeldVersion], run: ArrivingRun, values: Mapping[str, Decimal]
) -> bool:
    """Whether the values make a new version: the first of their run for the period."""
    same_run = [
        (v.version, values_digest(v.values))
        for v in versions
        if v.kind != "correction" and (v.run_type, v.run_number) == (run.run_type, run.run_number)
    ]
    return classify_delivery(same_run, values_digest(values))[0] is Delivery.NEW


def _add(sums: dict[str, Decimal], values: Mapping[str, Decimal]) -> None:
    for name, value in values.items():
        sums[name] = sums.get(name, Decimal(0)) + value


def movements(
    before: Mapping[str, Mapping[str, Decimal]],
    after: Mapping[str, Mapping[str, Decimal]],
    threshold: Decimal,
    run: str,
) -> list[Finding]:
    """Parties whose day's charges as billed moved by more than ``threshold`` (a share, e.g.
    0.05) from before the file (``before``) to after it (``after``), both summed over the
    same periods (:func:`billed_day`)."""
    found = []
    for subject, now in after.items():
        was = before.get(subject)
        if not was:
            continue
        moved = sorted(
            name
            for name in now.keys() & was.keys()
            if abs(now[name] - was[name]) > threshold * max(abs(was[name]), _MOVEMENT_FLOOR)
        )
        if moved:
            found.append(_movement_finding(subject, moved, was, now, threshold, run))
    return found


def _movement_finding(
    subject: str,
    moved: Iterable[str],
    was: Mapping[str, Decimal],
    now: Mapping[str, Decimal],
    threshold: Decimal,
    run: str,
) -> Finding:
    names = tuple(moved)
    first = names[0]
    more = f" (and {len(names) - 1} more measures)" if len(names) > 1 else ""
    message = (
        f"BSC Party {_party(subject)}'s {first} for the day moved from {was[first]} to "
        f"{now[first]} with {run}, more than {threshold * 100:.0f}% of what it was{more}: "
        "check the change before relying on it (a reconciliation charge will follow)"
    )
    return Finding(subject, (), names, message)
