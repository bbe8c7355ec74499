"""What the pipeline raises in the exception queue about a file, in an analyst's words.

Each problem has a key naming it, so the same problem seen again lands on the same exception:

- a **rejected file**, keyed by what the file is (flow, settlement date, run, party), so the
  corrected file, once accepted, resolves it; by its name when not even its header was read;
- a file **kept not interpreted**, keyed by its bytes;
- **conflicting deliveries** of one run, keyed by the file that brought them;
- **unmapped market ids**, keyed by the id (one exception per id, whatever file shows it);
- **suspicious values** (:mod:`ledger.domain.checks`): totals that do not add up and
  run-to-run movements, keyed by party, settlement date and run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date

from ledger.domain.checks import Finding
from ledger.domain.exception_queue import Category, Impact, Problem, problem_key
from ledger.domain.plain_text import MAX_REASON_LENGTH

__all__ = [
    "FileFacts",
    "conflicts",
    "findings",
    "identity_keys",
    "not_interpreted",
    "rejected",
    "unmapped",
]


class FileFacts:
    """What the pipeline knows of a file when it raises a problem about it."""

    def __init__(
        self,
        *,
        sha256: str,
        file_name: str,
        flow: str | None,
        settlement_date: date | None,
        run: str | None,
        party: str | None,
        subject: str | None = None,
    ) -> None:
        self.sha256 = sha256
        self.file_name = file_name
        self.flow = flow
        self.settlement_date = settlement_date
        self.run = run
        self.party = party
        # The one market subject the file is about, when it names one (``party:X`` for a
        # party's S0141, ``mpan:<core>`` for a D0036 of one MPAN, ``system`` for prices).
        self.subject = subject

    @property
    def described(self) -> str:
        """The file as an analyst would name it."""
        what = f"{self.flow} file {self.file_name}" if self.flow else f"file {self.file_name}"
        facts = [
            f"settlement date {self.settlement_date.isoformat()}" if self.settlement_date else "",
            f"run {self.run}" if self.run else "",
            f"BSC Party {self.party}" if self.party else "",
        ]
        shown = ", ".join(f for f in facts if f)
        return f"{what} ({shown})" if shown else what


def _short(text: str) -> str:
    limit = MAX_REASON_LENGTH - 200
    return text if len(text) <= limit else text[: limit - 1] + "…"


def identity_keys(facts: FileFacts) -> list[str]:
    """The keys a rejection of this file is raised under: what the file is, when its header
    was read, and its name (a corrected file resolves them when it is accepted)."""
    keys = [problem_key("rejected-file", facts.file_name)]
    if facts.flow is not None:
        keys.insert(
            0,
            problem_key("rejected", facts.flow, facts.settlement_date, facts.run, facts.party),
        )
    return keys


def rejected(facts: FileFacts, reasons: Iterable[str]) -> Problem:
    """A file the ledger refused: nothing of it was recorded, so billing from it waits."""
    why = "; ".join(reasons)
    message = (
        f"{facts.described} was rejected and none of its values entered the ledger: {why}. "
        "Ask the sender for a corrected file and ingest it: its acceptance resolves this."
    )
    return Problem(
        key=identity_keys(facts)[0],
        category=Category.REJECTED_FILE,
        impact=Impact.BLOCKS_BILLING,
        message=_short(message),
        # Several files of one run rejected land on one exception: each keeps its reason.
        cause=why if facts.file_name in why else f"{facts.file_name}: {why}",
        flow=facts.sha256,
        party=facts.party,
        subject=facts.subject,
        settlement_date=facts.settlement_date,
    )


def not_interpreted(facts: FileFacts, reason: str, *, recognised: bool) -> Problem:
    """A file kept as received but not interpreted: a flow the ledger does not read
    (informational), or content no format recognises (data quality: it may be a damaged or
    misdirected file)."""
    if recognised:
        action = "Nothing waits on it; it stays available as evidence."
    else:
        action = (
            "Check with the sender what it is: it may be a damaged or misdirected file, or a "
            "format the ledger should learn to read."
        )
    return Problem(
        key=problem_key("not-interpreted", facts.sha256),
        category=Category.NOT_INTERPRETED,
        impact=Impact.INFORMATIONAL if recognised else Impact.DATA_QUALITY,
        message=_short(f"{facts.described} was kept but not interpreted: {reason}. {action}"),
        flow=facts.sha256,
        party=facts.party,
        settlement_date=facts.settlement_date,
    )


def conflicts(facts: FileFacts, count: int, first: str) -> Problem:
    """Subject-periods of a run delivered again with other values: kept out of the best view
    until someone decides which values stand."""
    message = (
        f"{facts.described} delivered {count} subject-periods of a run the ledger already "
        f"held, with other values (first: {first}). They are kept as conflicting versions, out "
        "of the best view: ask the sender which values stand, then pin the right version "
        "(ledger intervene pin) or correct it."
    )
    return Problem(
        key=problem_key("conflict", facts.sha256),
        category=Category.CONFLICTING_DELIVERY,
        impact=Impact.BLOCKS_BILLING,
        message=_short(message),
        flow=facts.sha256,
        party=facts.party,
        settlement_date=facts.settlement_date,
    )


def unmapped(
    facts: FileFacts, by_date: Mapping[date, Iterable[str]], *, blocking: Iterable[str] = ("mpan",)
) -> list[Problem]:
    """One problem per market id the tenant has no own id for on a settlement date: its data
    landed, but it cannot be attributed to a customer, site, meter or asset."""
    blocks = set(blocking)
    problems = []
    for day, market_ids in sorted(by_date.items()):
        for market_id in sorted(market_ids):
            kind = market_id.partition(":")[0]
            message = (
                f"{market_id} has no mapping to the tenant's own ids on {day.isoformat()} "
                f"({facts.described} carries it). Its values are recorded; add a mapping "
                "(ledger mappings add) so they can be attributed."
            )
            problems.append(
                Problem(
                    key=problem_key("unmapped", market_id),
                    category=Category.UNMAPPED_ID,
                    impact=Impact.BLOCKS_BILLING if kind in blocks else Impact.DATA_QUALITY,
                    message=_short(message),
                    flow=facts.sha256,
                    subject=market_id,
                    settlement_date=day,
                )
            )
    return problems


def findings(
    facts: FileFacts, kind: str, category: Category, found: Iterable[Finding]
) -> list[Problem]:
    """Suspicious values the checks found in an accepted file."""
    return [
        Problem(
            key=problem_key(kind, finding.subject, facts.settlement_date, facts.run),
            category=category,
            impact=Impact.DATA_QUALITY,
            message=_short(f"{facts.described}: {finding.message}."),
            flow=facts.sha256,
            party=finding.subject.partition(":")[2],
            subject=finding.subject,
            settlement_date=facts.settlement_date,
            periods=finding.periods,
        )
        for finding in found
    ]
