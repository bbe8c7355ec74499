"""Which version of a period a value is taken from: the best available, or a document's rule.

A period has a handful of versions: one per settlement run that reached it, corrections made by
people, and runs delivered again with other values (conflicting, never chosen on their own).
The best available version is the most mature run, then the later run number, then the later
file; a correction keeps the run keys of what it corrects and ranks just above it. A person can
pin one version (the best view uses it until released) or hold the period from billing
(documents refuse to use it and say why).

A document chooses by one of three rules, written as text on the command line and in its events:

- ``best``: the best available version now, honouring a pin;
- ``run:SF`` (any run type): the best version no more mature than that run, ignoring pins;
- ``as-of:2026-06-01T12:00:00Z``: the best version as the ledger knew it at that instant
  (pins as they stood then). Never stale: what was known then does not change, so the instant
  must be one the ledger has reached (never later than its clock at issue), within the range
  it answers for (2000 to 2199, as every as-of query).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, Protocol, TypeVar

from ledger.domain.aggregates import CONFLICTING_RUN
from ledger.domain.errors import InvalidInstant, LedgerError
from ledger.domain.plain_text import excerpt
from ledger.domain.runs import RunType, best_run_key
from ledger.domain.settlement_time import parse_as_of


class InvalidRule(LedgerError):
    """A selection rule that is not ``best``, ``run:<RUN>`` or ``as-of:<ISO instant>``."""


class Candidate(Protocol):
    """What choosing needs to know of a version (a view's row or a read model)."""

    @property
    def version(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def run_type(self) -> str: ...
    @property
    def run_number(self) -> int: ...
    @property
    def file_creation_time(self) -> datetime: ...
    @property
    def recorded_at(self) -> datetime: ...


V = TypeVar("V", bound=Candidate)


def rank(version: Candidate) -> tuple[int, int, datetime, int]:
    """Most mature run, then run number, then file creation time; then the later version, so
    a correction ranks just above what it corrects and never above a later run."""
    run = best_run_key(RunType(version.run_type), version.run_number, version.file_creation_time)
    return (*run, version.version)


def best_of(versions: Sequence[V], *, pinned: int | None = None) -> V | None:
    """The best available version (None when there is none): the pinned one while a pin
    stands, otherwise the highest ranked that is not a conflicting run."""
    if pinned is not None:
        for version in versions:
            if version.version == pinned:
                return version
    eligible = [v for v in versions if v.kind != CONFLICTING_RUN]
    return max(eligible, key=rank, default=None)


@dataclass(frozen=True)
class Rule:
    """How a document chooses each line's version."""

    kind: Literal["best", "run", "as-of"]
    run: RunType | None = None
    as_of: datetime | None = None

    @classmethod
    def parse(cls, text: str) -> Rule:
        """``best``, ``run:SF`` or ``as-of:2026-06-01T12:00:00Z`` as a person wrote it; refused
        otherwise (an as-of instant as every as-of query refuses it: ``parse_as_of``)."""
        return cls._parse(text, _instant)

    @classmethod
    def recorded(cls, text: str) -> Rule:
        """A rule as a document's events recorded it (``str(rule)``), not checked again: an
        instant accepted then is read as it was, whatever the checks now."""
        return cls._parse(text, lambda argument: datetime.fromisoformat(argument))

    @classmethod
    def _parse(cls, text: str, instant: Callable[[str], datetime]) -> Rule:
        name, _, argument = text.strip().partition(":")
        name = name.lower()
        if name == "best" and not argument:
            return cls("best")
        if name == "run" and argument:
            return cls("run", run=RunType.parse(argument))
        if name == "as-of" and argument:
            return cls("as-of", as_of=instant(argument))
        raise InvalidRule(
            f"unknown selection rule {excerpt(text)}: write best, run:<RUN> (e.g. run:SF) "
            "or as-of:<ISO instant with a zone> (e.g. as-of:2026-06-01T12:00:00Z)"
        )

    def __str__(self) -> str:
        if self.run is not None:
            return f"run:{self.run}"
        if self.as_of is not None:
            return f"as-of:{self.as_of.isoformat().replace('+00:00', 'Z')}"
        return "best"

    def check_reached(self, now: datetime) -> None:
        """Refuse an as-of instant later than ``now`` (the ledger's clock): what the ledger
        will know then is not known yet, and a document by it, never stale, would keep values
        that a re-issue would change."""
        if self.as_of is not None and self.as_of > now:
            raise InvalidRule(
                f"as-of instant {self.as_of.isoformat()} is later than now "
                f"({now.isoformat(timespec='seconds')}): a document uses what the ledger knew "
                "at an instant it has reached; use best, or an instant in the past"
            )

    @property
    def can_go_stale(self) -> bool:
        """Whether a later event can change this rule's choice (never for ``as-of``)."""
        return self.kind != "as-of"

    def choose(self, versions: Sequence[V], *, pinned: int | None = None) -> V | None:
        """This rule's version among a period's ``versions`` (as known now), given the version
        pinned now; for ``as-of``, ``versions`` and ``pinned`` as known at that instant."""
        if self.run is not None:
            ceiling = self.run.maturity_rank
            within = [v for v in versions if RunType(v.run_type).maturity_rank <= ceiling]
            return best_of(within)
        if self.as_of is not None:
            as_of = self.as_of
            return best_of([v for v in versions if v.recorded_at <= as_of], pinned=pinned)
        return best_of(versions, pinned=pinned)


def _instant(text: str) -> datetime:
    try:
        return parse_as_of(text.strip())
    except InvalidInstant as exc:
        raise InvalidRule(f"rule as-of: {exc}") from None


@dataclass(frozen=True)
class Standing:
    """The interventions standing on a period: a pinned version, a hold from billing."""

    pinned: int | None = None
    held_by: str | None = None
    held_reason: str | None = None
    held_since: datetime | None = None

    @property
    def held(self) -> bool:
        return self.held_by is not None


def standing_after(
    interventions: Iterable[tuple[str | None, int | None, str, str, datetime]],
) -> Standing:
    """What stands once these interventions, oldest first, as (action, pinned version, actor,
    reason, when), have been made: a pin and a hold each stand until a release; a free-text
    intervention (no action, from before they were typed) changes nothing."""
    standing = Standing()
    for action, version, actor, reason, at in interventions:
        if action == "pin":
            standing = replace(standing, pinned=version)
        elif action == "hold":
            standing = replace(standing, held_by=actor, held_reason=reason, held_since=at)
        elif action == "release":
            standing = Standing()
    return standing
