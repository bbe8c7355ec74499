"""A stateful test of the ledger as a whole: runs arriving (again), corrections, holds, pins and
releases, documents issued, re-issued and cancelled, and the views rebuilt, in any order.

Hypothesis drives one tenant's settlement day (small files: the system and one party, no BM
Unit; documents over periods 1 to 3) through random steps, and after every step checks the
ledger against a plain model of what was done, kept here: each period's versions (with the
steps that recorded them), further sources and interventions, and each document's lines. What a
rule chooses is worked out from the model with the domain's own rule (``Rule.choose``,
``best_of``, ``standing_after``): the rule is tested elsewhere; this checks that the views, the
documents and staleness agree with the events.

- A document's current lines are exactly those it was last issued or re-issued with.
- The stale documents are exactly those in force where the rule would now choose another
  version for some line (an as-of document never); ``documents_using`` flags the same lines.
- A rebuild (in whole batches or small ones) gives back the views it found.
- A period as of an instant T taken between two steps lists exactly the versions, further
  sources and interventions recorded by T, and its best is the model's best folded up to T
  (pins as they stood then); without an instant, as they stand now.
- A command the ledger must refuse raises its business error (a ``LedgerError``), and writes
  no event and changes no view; a command it must allow succeeds with the model's outcome.

Each example is a fresh tenant on the test's database (tenants isolate everything), so one
runtime serves them all: SQLite, then PostgreSQL. A rebuild is of every tenant, so a failure
that depends on earlier examples' data (or on a pooled connection's state) may not replay:
Hypothesis then reports it as flaky, with the original error chained below.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache, partial
from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from integration.conftest import (
    DAY,
    PARTY,
    PARTY_SUBJECT,
    Report,
    count_events,
    creation_time,
    dump_views,
    write_report,
)
from ledger.demo.samples import sample_party_period_values
from ledger.domain.aggregates import CONFLICTING_RUN
from ledger.domain.documents import KINDS
from ledger.domain.errors import LedgerError
from ledger.domain.runs import RunType
from ledger.domain.selection import Rule, Standing, best_of, standing_after
from ledger.service.documents import (
    DocumentLineView,
    DocumentUse,
    LineSource,
    MeasureTotalView,
    StaleDocument,
    StaleLine,
    VersionValue,
)
from ledger.service.read_models import Version
from ledger.service.runtime import LedgerRuntime
from projections.runner import BATCH_SIZE

ACTOR = "o.ops"
REASON = "stateful check"
PERIODS = (1, 2, 3)  # the periods the model follows (a file carries all 48)
UNITS: dict[str, list[str]] = {PARTY: []}
SUBJECT_PERIODS = 48 * 2  # a file's subject-periods: the system and the party
RUNS = ("II", "SF", "R1", "R2")
# The same run in other bytes: the party's own report, or the report created a minute later.
S0142, S0141, LATER = "S0142", "S0141", "S0142 created later"
FORMS = (S0142, S0141, LATER)
MEASURE = "bm_unit_cashflow"
OTHER = "energy_imbalance_cashflow"
# A party's values are its period charges (PPC): cash, in GBP, every one of them.
PARTY_UNIT = "GBP"
MEASURE_CHOICES: tuple[tuple[str, ...], ...] = ((MEASURE,), (OTHER, MEASURE), ())
# As of an instant remembered earlier, or of the one just before an intervention on one of the
# document's periods (when the pins as they stood then differ from those standing now).
BEFORE_AN_INTERVENTION = "as-of before an intervention"
RULES = ("best", "run:SF", "run:R1", "as-of", BEFORE_AN_INTERVENTION)
# Rebuild in one batch, and in batches that end part way through a file's events.
REBUILD_BATCHES = (BATCH_SIZE, 100)

# --- Files ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileKey:
    """One file's bytes: a run, its values (its own, or others: a conflicting delivery) and
    its form (the same run and values in other bytes is a further source)."""

    run_type: str
    run_number: int
    other_values: bool
    form: str

    @property
    def revision(self) -> int:
        """The sample values' revision: one per run, another for its other values."""
        run = list(RunType).index(RunType(self.run_type)) * 10 + self.run_number - 1
        return run + (5 if self.other_values else 0)

    def write(self, directory: Path) -> Report:
        created = creation_time(self.run_type, self.run_number)
        if self.form == LATER:
            created += timedelta(minutes=1)
        flow: Literal["S0141", "S0142"] = "S0141" if self.form == S0141 else "S0142"
        form = {S0142: "a", S0141: "b", LATER: "c"}[self.form]
        return write_report(
            directory,
            flow=flow,
            run_type=self.run_type,
            run_number=self.run_number,
            revision=self.revision,
            created=created,
            parties=[PARTY],
            bm_units=UNITS,
            name=f"{flow}_{self.run_type}{self.run_number}_{self.revision}_{form}.txt",
        )


@cache
def party_values(period: int, revision: int) -> dict[str, Decimal]:
    """The party's values for a period in a file of this revision (never to be changed)."""
    return sample_party_period_values(DAY, PARTY, period, revision=revision)


# --- The model ------------------------------------------------------------------------------


@dataclass
class ModelVersion:
    """A version of a period as the model knows it (a ``Candidate`` for the domain's rule).

    ``recorded_at`` is the instant taken just after the step that recorded it, ``opened`` the
    one taken just before: the ledger's own instant lies after the one, at or before the other.
    """

    version: int
    kind: str
    run_type: str
    run_number: int
    file_creation_time: datetime
    recorded_at: datetime
    opened: datetime
    values: dict[str, Decimal]
    source: str | None
    supersedes: int | None = None
    conflicts_with: int | None = None
    further: list[tuple[str, datetime]] = field(default_factory=list)


@dataclass(frozen=True)
class ModelIntervention:
    version: int  # the period's aggregate version it made
    action: str
    pinned: int | None
    at: datetime
    opened: datetime  # the instant taken just before it


@dataclass
class ModelPeriod:
    """One period's events: every one (run, further source, correction, intervention) takes
    the next aggregate version; only runs, conflicting runs and corrections are versions."""

    period: int
    events: int = 0
    versions: list[ModelVersion] = field(default_factory=list)
    interventions: list[ModelIntervention] = field(default_factory=list)

    def known(self, at: datetime | None = None) -> list[ModelVersion]:
        return [v for v in self.versions if at is None or v.recorded_at <= at]

    def version(self, number: int) -> ModelVersion | None:
        return next((v for v in self.versions if v.version == number), None)

    def standing(self, at: datetime | None = None) -> Standing:
        return standing_after(
            (i.action, i.pinned, ACTOR, REASON, i.at)
            for i in self.interventions
            if at is None or i.at <= at
        )

    def choose(self, rule: Rule) -> ModelVersion | None:
        """What ``rule`` chooses now (as of its instant for as-of, pins as they stood then)."""
        return rule.choose(self.versions, pinned=self.standing(rule.as_of).pinned)

    def pick_number(self, pick: int) -> int:
        """A version (``pick`` 0 to 7), or else a number that is none: a further source's or an
        intervention's event, or one past the last event."""
        if pick < 8 and self.versions:
            return self.versions[pick % len(self.versions)].version
        numbers = {v.version for v in self.versions}
        candidates = [n for n in range(1, self.events + 2) if n not in numbers]
        return candidates[pick % len(candidates)]

    def deliver(
        self, key: FileKey, source: str, created: datetime, opened: datetime, at: datetime
    ) -> None:
        """A file's values for this period: the run's first (a version), the same values again
        (a further source of the version holding them) or other values (a conflicting run)."""
        self.events += 1
        values = dict(party_values(self.period, key.revision))
        run = (key.run_type, key.run_number)
        same_run = [
            v for v in self.versions if v.kind != "correction" and (v.run_type, v.run_number) == run
        ]
        same = next((v for v in same_run if v.values == values), None)
        if same is not None:
            same.further.append((source, at))
            return
        self.versions.append(
            ModelVersion(
                version=self.events,
                kind=CONFLICTING_RUN if same_run else "run",
                run_type=key.run_type,
                run_number=key.run_number,
                file_creation_time=created,
                recorded_at=at,
                opened=opened,
                values=values,
                source=source,
                conflicts_with=min(v.version for v in same_run) if same_run else None,
            )
        )


@dataclass
class ModelDocument:
    reference: str
    kind: str
    rule: Rule
    keys: list[tuple[int, str]]  # (period, measure) of each line, in order
    lines: list[DocumentLineView]
    revision: int = 1
    cancelled: bool = False
    earlier: list[list[DocumentLineView]] = field(default_factory=list)  # revisions before


# --- The state machine ----------------------------------------------------------------------


class LedgerMachine(RuleBasedStateMachine):
    """One tenant's settlement day under random commands, checked against the model."""

    runtime: ClassVar[LedgerRuntime]
    files: ClassVar[Path]
    reports: ClassVar[dict[FileKey, tuple[Report, str]]]

    def __init__(self) -> None:
        super().__init__()
        self.tenant = f"stateful-{uuid.uuid4().hex[:16]}"
        self.periods = {period: ModelPeriod(period) for period in PERIODS}
        self.received: dict[str, FileKey] = {}  # sha256 to the file, in arrival order
        self.documents: dict[str, ModelDocument] = {}
        self.instants: list[datetime] = []
        self.steps = 0
        self.rebuilds = 0
        self._close_step()  # an instant before anything was recorded

    # --- Steps and instants

    def _close_step(self) -> datetime:
        """An instant at or after every event written so far and before any written next:
        remembered, for as-of documents and the as-of invariant."""
        at = datetime.now(UTC)
        while datetime.now(UTC) <= at:  # at most a microsecond: later events are after ``at``
            pass
        self.instants.append(at)
        return at

    def _refused(self, command: Callable[[], object]) -> None:
        """``command`` must be refused with the ledger's error, writing and changing nothing."""
        before = (count_events(self.runtime), dump_views(self.runtime))
        with pytest.raises(LedgerError):
            command()
        assert (count_events(self.runtime), dump_views(self.runtime)) == before

    # --- Runs

    @initialize(run=st.sampled_from(RUNS), document=st.sampled_from((None, *RULES[:3])))
    def first_run(self, run: str, document: str | None) -> None:
        """A first run, and maybe a first document under a rule that can go stale."""
        self._ingest(FileKey(run, 1, False, S0142))
        if document is not None:
            self.issue("invoice", document, 0, list(PERIODS), (MEASURE,), taken=1)

    @rule(
        run=st.sampled_from(RUNS),
        number=st.integers(1, 2),
        other_values=st.booleans(),
        form=st.sampled_from(FORMS),
    )
    def ingest(self, run: str, number: int, other_values: bool, form: str) -> None:
        self._ingest(FileKey(run, number, other_values, form))

    @rule(pick=st.integers(0, 20), change=st.sampled_from(("same bytes", "form", "values")))
    def deliver_again(self, pick: int, change: str) -> None:
        """A run already received again: the same bytes (a duplicate receipt), in another
        form (a further source) or with the other values (conflicting, or confirming those)."""
        keys = list(self.received.values())
        key = keys[pick % len(keys)]
        if change == "form":
            key = replace(key, form=FORMS[(FORMS.index(key.form) + 1) % len(FORMS)])
        elif change == "values":
            key = replace(key, other_values=not key.other_values)
        self._ingest(key)

    def _ingest(self, key: FileKey) -> None:
        report, sha256 = self._report(key)
        duplicate = sha256 in self.received
        opened = self.instants[-1]
        result = self.runtime.ingest(report.path, tenant=self.tenant)
        at = self._close_step()
        if duplicate:
            assert (result.status, result.new_versions, result.further_sources) == (
                "duplicate",
                0,
                0,
            )
            return
        assert result.status == "accepted", result
        assert result.periods == SUBJECT_PERIODS
        outcomes = result.new_versions + result.further_sources + result.conflicting_versions
        assert outcomes == SUBJECT_PERIODS
        self.received[sha256] = key
        for model in self.periods.values():
            model.deliver(key, sha256, report.creation_time, opened, at)

    def _report(self, key: FileKey) -> tuple[Report, str]:
        if key not in self.reports:
            report = key.write(self.files)
            self.reports[key] = (report, report.sha256)
        return self.reports[key]

    # --- Corrections and interventions

    @rule(
        period=st.sampled_from(PERIODS),
        pick=st.integers(0, 9),
        measure=st.sampled_from((MEASURE, OTHER)),
        cents=st.integers(-(10**9), 10**9),
    )
    def correct(self, period: int, pick: int, measure: str, cents: int) -> None:
        """Correct one measure of a version (any kind); refused for a number that is none,
        or a version already corrected (its correction is to be corrected instead)."""
        model = self.periods[period]
        supersedes = model.pick_number(pick)
        value = Decimal(cents).scaleb(-2)
        command = partial(
            self.runtime.correct,
            PARTY_SUBJECT,
            DAY,
            period,
            supersedes=supersedes,
            values={measure: value},
            reason=REASON,
            actor=ACTOR,
            tenant=self.tenant,
        )
        old = model.version(supersedes)
        corrected = any(
            v.kind == "correction" and v.supersedes == supersedes for v in model.versions
        )
        if old is None or corrected:
            self._refused(command)
            return
        opened = self.instants[-1]
        version = command()
        at = self._close_step()
        model.events += 1
        assert version == model.events
        model.versions.append(
            ModelVersion(
                version=version,
                kind="correction",
                run_type=old.run_type,
                run_number=old.run_number,
                file_creation_time=old.file_creation_time,
                recorded_at=at,
                opened=opened,
                values={**old.values, measure: value},
                source=None,
                supersedes=supersedes,
            )
        )

    @rule(period=st.sampled_from(PERIODS))
    def hold(self, period: int) -> None:
        """Hold a period from billing; while one is held, hold that one again: refused (one
        held at a time, or few documents could be issued)."""
        held = [p for p, model in self.periods.items() if model.standing().held]
        self._intervene(held[0] if held else period, "hold", None, allowed=not held)

    @rule(period=st.sampled_from(PERIODS), pick=st.integers(0, 9))
    def pin(self, period: int, pick: int) -> None:
        """Pin a version (any kind); refused for a number that is none, or the version pinned."""
        model = self.periods[period]
        version = model.pick_number(pick)
        allowed = model.version(version) is not None and model.standing().pinned != version
        self._intervene(period, "pin", version, allowed=allowed)

    @rule(period=st.sampled_from(PERIODS))
    def release(self, period: int) -> None:
        """Release the hold and the pin; refused when the period is neither held nor pinned."""
        standing = self.periods[period].standing()
        allowed = standing.held or standing.pinned is not None
        self._intervene(period, "release", None, allowed=allowed)

    def _intervene(self, period: int, action: str, version: int | None, *, allowed: bool) -> None:
        command = partial(
            self.runtime.intervene,
            PARTY_SUBJECT,
            DAY,
            period,
            action=action,
            version=version,
            actor=ACTOR,
            reason=REASON,
            tenant=self.tenant,
        )
        if not allowed:
            self._refused(command)
            return
        opened = self.instants[-1]
        made = command()
        at = self._close_step()
        model = self.periods[period]
        model.events += 1
        assert made == model.events
        model.interventions.append(ModelIntervention(made, action, version, at, opened))

    # --- Documents

    @rule(
        kind=st.sampled_from(KINDS),
        rule_name=st.sampled_from(RULES),
        pick=st.integers(0, 40),
        periods=st.lists(st.sampled_from(PERIODS), min_size=1, max_size=3, unique=True),
        measures=st.sampled_from(MEASURE_CHOICES),
        taken=st.integers(0, 9),
    )
    def issue(
        self,
        kind: str,
        rule_name: str,
        pick: int,
        periods: list[int],
        measures: tuple[str, ...],
        taken: int,
    ) -> None:
        """Issue a document under a rule (as of an instant remembered earlier, for as-of);
        refused when a period is held or has no version under the rule, or for a reference
        issued already (cancelled or not: re-issue it instead)."""
        reference = f"DOC-{len(self.documents) + 1:03d}"
        if taken == 0 and self.documents:
            reference = self._document(pick, in_force=False).reference
        text = rule_name
        if rule_name.startswith("as-of"):
            instants = self.instants
            if rule_name == BEFORE_AN_INTERVENTION:
                changes = [i.opened for p in periods for i in self.periods[p].interventions]
                instants = changes or instants
            text = f"as-of:{instants[pick % len(instants)].isoformat()}"
        chosen_rule = Rule.parse(text)
        command = partial(
            self.runtime.issue_document,
            kind=kind,
            reference=reference,
            actor=ACTOR,
            rule=text,
            subject=PARTY_SUBJECT,
            settlement_date=DAY,
            periods=periods,
            measures=measures,
            tenant=self.tenant,
        )
        chosen = self._choices(chosen_rule, periods)
        if chosen is None or reference in self.documents:
            self._refused(command)
            return
        view = command()
        self._close_step()
        if measures:
            keys = [(period, measure) for period in periods for measure in measures]
        else:  # every measure of the chosen version, in the order the view gives them
            keys = [(line.settlement_period, line.measure) for line in view.lines]
            assert sorted(keys) == sorted((p, m) for p in periods for m in chosen[p].values)
            assert [p for p, _ in keys] == [p for p in periods for _ in chosen[p].values]
        lines = [self._line(period, measure, chosen[period]) for period, measure in keys]
        assert view.lines == lines
        assert (view.reference, view.kind, view.rule, view.status, view.revision) == (
            reference,
            kind,
            str(chosen_rule),
            "issued",
            1,
        )
        assert view.total == sum((line.value for line in lines), Decimal(0))  # all GBP
        by_measure: dict[str, list[Decimal]] = {}
        for line in lines:
            by_measure.setdefault(line.measure, []).append(line.value)
        assert [(t.measure, t.unit, t.total, t.lines) for t in view.totals] == [
            (m, PARTY_UNIT, sum(v, Decimal(0)), len(v)) for m, v in by_measure.items()
        ]
        self.documents[reference] = ModelDocument(reference, kind, chosen_rule, keys, lines)

    @precondition(lambda self: bool(self.documents))
    @rule(pick=st.integers(0, 40), in_force=st.integers(0, 4).map(bool))
    def reissue(self, pick: int, in_force: bool) -> None:
        """Re-issue under the document's rule: the same lines, each resolved anew; refused
        for a cancelled document or a held period."""
        document = self._document(pick, in_force=in_force)
        command = partial(
            self.runtime.reissue_document,
            document.reference,
            actor=ACTOR,
            reason=REASON,
            tenant=self.tenant,
        )
        chosen = self._choices(document.rule, [period for period, _ in document.keys])
        if document.cancelled or chosen is None:
            self._refused(command)
            return
        view = command()
        self._close_step()
        lines = [self._line(period, measure, chosen[period]) for period, measure in document.keys]
        assert (view.lines, view.revision, view.status) == (lines, document.revision + 1, "issued")
        document.earlier.append(document.lines)
        document.lines = lines
        document.revision += 1

    @precondition(lambda self: bool(self.documents))
    @rule(pick=st.integers(0, 40), in_force=st.integers(0, 4).map(bool))
    def cancel(self, pick: int, in_force: bool) -> None:
        """Cancel a document; refused when it is cancelled already."""
        document = self._document(pick, in_force=in_force)
        command = partial(
            self.runtime.cancel_document,
            document.reference,
            actor=ACTOR,
            reason=REASON,
            tenant=self.tenant,
        )
        if document.cancelled:
            self._refused(command)
            return
        view = command()
        self._close_step()
        assert (view.status, view.revision, view.lines) == (
            "cancelled",
            document.revision,
            document.lines,
        )
        document.cancelled = True

    def _document(self, pick: int, *, in_force: bool) -> ModelDocument:
        """A document issued earlier: one in force (if any is), or any (cancelled too)."""
        documents = list(self.documents.values())
        if in_force and any(not d.cancelled for d in documents):
            documents = [d for d in documents if not d.cancelled]
        return documents[pick % len(documents)]

    def _choices(self, rule: Rule, periods: Sequence[int]) -> dict[int, ModelVersion] | None:
        """The version ``rule`` chooses for each period; None when the ledger must refuse (a
        period held now, or with no version under the rule)."""
        chosen = {}
        for period in periods:
            model = self.periods[period]
            version = model.choose(rule)
            if model.standing().held or version is None:
                return None
            chosen[period] = version
        return chosen

    @staticmethod
    def _line(period: int, measure: str, version: ModelVersion) -> DocumentLineView:
        return DocumentLineView(
            subject=PARTY_SUBJECT,
            settlement_date=DAY,
            settlement_period=period,
            measure=measure,
            value=version.values[measure],
            version=version.version,
            kind=version.kind,
            run_type=version.run_type,
            run_number=version.run_number,
            source=None if version.source is None else LineSource(sha256=version.source),
            unit=PARTY_UNIT,
        )

    # --- Rebuilding

    @precondition(lambda self: self.rebuilds < 2)  # each costs all earlier examples' events
    @rule(batch_size=st.sampled_from(REBUILD_BATCHES))
    def rebuild(self, batch_size: int) -> None:
        """Rebuilt views equal the incremental ones (every tenant's: a rebuild is of all)."""
        self.rebuilds += 1
        incremental = dump_views(self.runtime)
        self.runtime.runner.rebuild(batch_size=batch_size)
        assert dump_views(self.runtime) == incremental

    # --- Invariants

    @invariant()
    def documents_keep_the_lines_they_were_issued_with(self) -> None:
        for document in self.documents.values():
            view = self.runtime.document(document.reference, tenant=self.tenant)
            status = "cancelled" if document.cancelled else "issued"
            assert (view.kind, view.rule, view.status, view.revision) == (
                document.kind,
                str(document.rule),
                status,
                document.revision,
            )
            assert view.lines == document.lines
            assert view.revisions is not None
            assert [r.revision for r in view.revisions] == list(range(1, document.revision + 1))
            # The latest earlier revision, as it was issued, from the revisions' view.
            if document.earlier:
                n = len(document.earlier)
                earlier = self.runtime.document(document.reference, tenant=self.tenant, revision=n)
                assert (earlier.revision, earlier.lines) == (n, document.earlier[-1])

    @invariant()
    def stale_documents_are_those_whose_rule_now_chooses_otherwise(self) -> None:
        expected = []
        for reference in sorted(self.documents):
            document = self.documents[reference]
            if document.cancelled:
                continue
            lines = [
                stale
                for line in document.lines
                if (stale := self._stale_line(document.rule, line)) is not None
                and stale.delta != 0  # another version of the same value: nothing to re-issue
            ]
            if lines:
                deltas: dict[str, list[Decimal]] = {}
                for s in lines:
                    if s.delta is not None:
                        deltas.setdefault(s.measure, []).append(s.delta)
                expected.append(
                    StaleDocument(
                        reference=reference,
                        kind=document.kind,
                        rule=str(document.rule),
                        revision=document.revision,
                        total_delta=sum((sum(d, Decimal(0)) for d in deltas.values()), Decimal(0))
                        if deltas
                        else None,
                        deltas=[
                            MeasureTotalView(
                                measure=m, unit=PARTY_UNIT, total=sum(d, Decimal(0)), lines=len(d)
                            )
                            for m, d in deltas.items()
                        ],
                        lines=lines,
                    )
                )
        assert self.runtime.stale_documents(tenant=self.tenant) == expected

    @invariant()
    def documents_using_a_period_flag_the_same_stale_lines(self) -> None:
        for period in PERIODS:
            expected = [
                DocumentUse(
                    reference=reference,
                    kind=document.kind,
                    rule=str(document.rule),
                    status="cancelled" if document.cancelled else "issued",
                    line=n,
                    measure=line.measure,
                    version=line.version,
                    value=line.value,
                    unit=PARTY_UNIT,
                    stale=self._now(document.rule, line).version != line.version,
                    run_type=line.run_type,
                    run_number=line.run_number,
                    now=self._now(document.rule, line),
                )
                for reference, document in sorted(self.documents.items())
                for n, line in enumerate(document.lines, start=1)
                if line.settlement_period == period
            ]
            uses = self.runtime.documents_using(PARTY_SUBJECT, DAY, period, tenant=self.tenant)
            assert uses == expected

    def _now(self, rule: Rule, line: DocumentLineView) -> VersionValue:
        """The version (and value) the line's rule would choose now; for as-of, the one used."""
        if not rule.can_go_stale:
            return VersionValue(line.version, line.value, line.run_type, line.run_number)
        now = self.periods[line.settlement_period].choose(rule)
        if now is None:
            return VersionValue(None, None, None, None)
        return VersionValue(now.version, now.values.get(line.measure), now.run_type, now.run_number)

    def _stale_line(self, rule: Rule, line: DocumentLineView) -> StaleLine | None:
        """The line as stale when its rule would now choose another version (never as-of)."""
        now = self._now(rule, line)
        if now.version == line.version:
            return None
        return StaleLine(
            subject=line.subject,
            settlement_date=line.settlement_date,
            settlement_period=line.settlement_period,
            measure=line.measure,
            used=VersionValue(line.version, line.value, line.run_type, line.run_number),
            now=now,
            delta=None if now.value is None else now.value - line.value,
            unit=PARTY_UNIT,
        )

    @invariant()
    def periods_now_and_as_of_instants_fold_the_events_recorded_by_then(self) -> None:
        """Now, as of the latest instant, and as of one more in turn (every one at the end)."""
        self.steps += 1
        instants = {None, self.instants[-1], self.instants[self.steps % len(self.instants)]}
        for at in instants:
            for period in PERIODS:
                self._check_period(period, at)

    def teardown(self) -> None:
        for at in self.instants:
            for period in PERIODS:
                self._check_period(period, at)

    def _check_period(self, period: int, at: datetime | None) -> None:
        model = self.periods[period]
        view = self.runtime.period(PARTY_SUBJECT, DAY, period, tenant=self.tenant, as_of=at)
        known = model.known(at)
        facts = [_model_facts(version, at) for version in known]
        assert [_version_facts(version) for version in view.versions] == facts
        for seen, version in zip(view.versions, known, strict=True):
            assert version.opened < seen.recorded_at <= version.recorded_at
        assert [(i.version, i.action, i.pinned_version) for i in view.interventions] == [
            (i.version, i.action, i.pinned) for i in model.interventions if at is None or i.at <= at
        ]
        standing = model.standing(at)
        assert (view.pinned_version, view.held is not None) == (standing.pinned, standing.held)
        best = best_of(known, pinned=standing.pinned)
        assert (None if view.best is None else view.best.version) == (
            None if best is None else best.version
        )
        assert view.best is None or view.best in view.versions


def _version_facts(version: Version) -> tuple[Any, ...]:
    return (
        version.version,
        version.kind,
        version.run_type,
        version.run_number,
        version.file_creation_time,
        version.values,
        None if version.source is None else version.source.sha256,
        [source.sha256 for source in version.further_sources],
        version.supersedes,
        version.conflicts_with,
        (version.actor, version.reason),
    )


def _model_facts(version: ModelVersion, at: datetime | None) -> tuple[Any, ...]:
    by_hand = (ACTOR, REASON) if version.kind == "correction" else (None, None)
    return (
        version.version,
        version.kind,
        version.run_type,
        version.run_number,
        version.file_creation_time,
        version.values,
        version.source,
        [sha256 for sha256, when in version.further if at is None or when <= at],
        version.supersedes,
        version.conflicts_with,
        by_hand,
    )


def machine_for(runtime: LedgerRuntime, files: Path) -> type[LedgerMachine]:
    """The state machine bound to this test's runtime and files directory."""

    class Bound(LedgerMachine):
        pass

    Bound.runtime = runtime
    Bound.files = files
    Bound.reports = {}
    return Bound


def test_the_ledger_agrees_with_a_model_of_its_events(runtime: LedgerRuntime, files: Path) -> None:
    run_state_machine_as_test(
        machine_for(runtime, files),
        settings=settings(
            max_examples=15,
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )


def test_rebuilds_between_writes(runtime: LedgerRuntime, files: Path) -> None:
    """What the state machine found on PostgreSQL: once a pooled connection had held a
    rebuild's scratch tables, statements psycopg prepared on it afterwards (from the fifth
    execution) still named the live tables in the next rebuild on it, which wrote into them
    (``UniqueViolation`` on ``flow_stages_pkey``)."""
    reports = [FileKey(run, 1, False, S0142).write(files) for run in ("II", "SF")]
    for turn in range(4):  # three failed every time (the pool's rotation decides)
        for tenant in (f"rebuilt-{turn}-a", f"rebuilt-{turn}-b"):
            for report in reports:
                assert runtime.ingest(report.path, tenant=tenant).status == "accepted"
        views = dump_views(runtime)
        runtime.runner.rebuild()
        assert dump_views(runtime) == views


def test_a_document_as_of_before_a_pin_uses_the_pins_as_they_stood(
    runtime: LedgerRuntime, files: Path
) -> None:
    """A path the random steps reach seldom: as of just before a pin, the best then (SF), not
    the version pinned since (II); then the pin released, and the views rebuilt."""
    machine = machine_for(runtime, files)()
    machine.first_run("II", None)
    machine.ingest("SF", 1, False, S0142)
    machine.issue("invoice", "best", 0, [1, 2], (MEASURE,), taken=1)
    machine.pin(1, 0)
    machine.issue("statement", BEFORE_AN_INTERVENTION, 0, [1], (MEASURE,), taken=1)
    machine.release(1)
    machine.rebuild(100)
    assert [[line.version for line in d.lines] for d in machine.documents.values()] == [
        [2, 2],
        [2],
    ]
    machine.documents_keep_the_lines_they_were_issued_with()
    machine.stale_documents_are_those_whose_rule_now_chooses_otherwise()
    machine.documents_using_a_period_flag_the_same_stale_lines()
    machine.teardown()
