"""Bitemporal queries from the views' tables: a period as of a run, a period's history between
two instants, a whole settlement day as known at an instant or as of a run (SQLite, then
PostgreSQL). The CLI's shapes and refusals are here too; the API's in tests/api."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from integration.conftest import BM_UNITS, DAY, PARTY, PARTY_SUBJECT, SHORT_DAY, Cli, write_report
from ledger.domain.errors import InvalidInstant, InvalidSettlementPeriod, UnknownRunType
from ledger.domain.runs import RunType
from ledger.service.read_models import PeriodView, VersionSummary
from ledger.service.runtime import LedgerRuntime

TENANT = "acme"
PERIOD = 7


def _best(view: PeriodView) -> int | None:
    return None if view.best is None else view.best.version


def _number(summary: VersionSummary | None) -> int | None:
    return None if summary is None else summary.version


def ingest(runtime: LedgerRuntime, files: Path, run_type: str, **options: Any) -> datetime:
    """Ingest a report for ``TENANT``; the instant just after, once it is in the views."""
    report = write_report(files, run_type=run_type, **options)
    assert runtime.ingest(report.path, tenant=TENANT).status == "accepted"
    return datetime.now(UTC)


@pytest.fixture
def three_runs(runtime: LedgerRuntime, files: Path) -> list[datetime]:
    """II, SF then R1 for tenant ``acme`` (versions 1, 2, 3): the instant after each."""
    return [ingest(runtime, files, run) for run in ("II", "SF", "R1")]


# --- a period as of a run -------------------------------------------------------------------


def test_run_chooses_the_best_version_no_more_mature_than_the_run(
    runtime: LedgerRuntime, three_runs: list[datetime]
) -> None:
    now = runtime.period(PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)
    assert (_best(now), now.selected_by) == (3, "best")
    for run, expected in (("SF", 2), ("II", 1), ("R1", 3), ("RF", 3), (" sf ", 2)):
        view = runtime.period(PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT, run=run)
        assert _best(view) == expected, run
        assert view.selected_by == f"run:{run.strip().upper()}"
        # Every version is listed: the rule chooses among them.
        assert [v.version for v in view.versions] == [1, 2, 3]
    sf = runtime.period(PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT, run="SF")
    assert sf.best is not None and sf.best.run_type == "SF"
    assert sf.best == now.versions[1]


def test_as_of_and_run_together_choose_among_the_versions_known_then(
    runtime: LedgerRuntime, three_runs: list[datetime]
) -> None:
    after_ii, after_sf, _ = three_runs
    view = runtime.period(PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT, as_of=after_sf, run="R1")
    assert ([v.version for v in view.versions], _best(view)) == ([1, 2], 2)
    assert (view.selected_by, view.as_of) == ("run:R1", after_sf)
    early = runtime.period(PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT, as_of=after_ii, run="SF")
    assert _best(early) == 1  # only II was known
    as_of = runtime.period(PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT, as_of=after_sf)
    assert as_of.selected_by.startswith("as-of:") and _best(as_of) == 2
    before = datetime(2020, 1, 1, tzinfo=UTC)
    nothing = runtime.period(PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT, as_of=before, run="DF")
    assert (nothing.versions, nothing.best) == ([], None)


def test_run_ignores_a_pin(runtime: LedgerRuntime, three_runs: list[datetime]) -> None:
    runtime.intervene(
        PARTY_SUBJECT, DAY, PERIOD, action="pin", version=1, actor="a.b", reason="query",
        tenant=TENANT,
    )  # fmt: skip
    assert _best(runtime.period(PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)) == 1
    view = runtime.period(PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT, run="R1")
    assert (_best(view), view.pinned_version) == (3, 1)


# --- a period's history ---------------------------------------------------------------------


@dataclass(frozen=True)
class Story:
    """A period's eight events (versions 1 to 8), and the instant after each."""

    after: list[datetime]


@pytest.fixture
def story(runtime: LedgerRuntime, files: Path) -> Story:
    """II (1), SF (2), the party's own S0141 of SF (3, a further source of 2), SF again with
    other values (4, conflicting), a correction of 2 (5), a pin of 1 (6), R1 (7), a release."""
    after = [ingest(runtime, files, "II"), ingest(runtime, files, "SF")]
    after.append(ingest(runtime, files, "SF", flow="S0141"))
    after.append(ingest(runtime, files, "SF", revision=9, name="sf_again.txt"))

    def change(command: Callable[..., int], **arguments: Any) -> None:
        command(PARTY_SUBJECT, DAY, PERIOD, actor="a.b", reason="query", tenant=TENANT, **arguments)
        after.append(datetime.now(UTC))

    change(runtime.correct, supersedes=2, values={"bm_unit_cashflow": Decimal("-1.5")})
    change(runtime.intervene, action="pin", version=1)
    after.append(ingest(runtime, files, "R1"))
    change(runtime.intervene, action="release")
    return Story(after)


KINDS = [
    "run",
    "run",
    "further source",
    "conflicting run",
    "correction",
    "intervention",
    "run",
    "intervention",
]


def test_history_holds_every_step_in_order_with_the_best_after_each(
    runtime: LedgerRuntime, story: Story
) -> None:
    history = runtime.history(PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT)
    steps = history.steps
    assert [s.version for s in steps] == list(range(1, 9))
    assert [s.kind for s in steps] == KINDS
    assert [_number(s.best_after) for s in steps] == [1, 2, 2, 2, 5, 1, 1, 7]
    assert (history.recorded_from, history.recorded_to, history.best_before) == (None, None, None)
    assert [s.recorded_at for s in steps] == sorted(s.recorded_at for s in steps)
    # Each step says what it was.
    assert steps[2].confirms == 2 and steps[2].source is not None
    assert steps[2].source.flow == "S0141" and steps[2].recorded is None
    assert steps[3].recorded is not None and steps[3].recorded.conflicts_with == 2
    assert steps[4].recorded is not None and steps[4].recorded.supersedes == 2
    assert steps[4].recorded.further_sources == []
    assert [s.intervention.action for s in steps if s.intervention] == ["pin", "release"]
    assert steps[6].recorded is not None and steps[6].recorded.run_type == "R1"
    # The best after each step is the period's best as known at that step's instant.
    for step in steps:
        known = runtime.period(PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT, as_of=step.recorded_at)
        assert _number(step.best_after) == _best(known), step.version


def test_history_between_two_instants(runtime: LedgerRuntime, story: Story) -> None:
    # From just after the conflicting run (4) to just after R1 (7): steps 5, 6 and 7.
    history = runtime.history(
        PARTY_SUBJECT,
        DAY,
        PERIOD,
        tenant=TENANT,
        recorded_from=story.after[3],
        recorded_to=story.after[6],
    )
    assert [(s.version, s.kind) for s in history.steps] == [
        (5, "correction"),
        (6, "intervention"),
        (7, "run"),
    ]
    assert [_number(s.best_after) for s in history.steps] == [5, 1, 1]
    assert _number(history.best_before) == 2  # SF, as it stood when the window opened
    assert (history.recorded_from, history.recorded_to) == (story.after[3], story.after[6])

    # A window of one instant, a step's own: that step.
    [fifth] = runtime.history(PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT).steps[4:5]
    at = fifth.recorded_at
    only = runtime.history(
        PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT, recorded_from=at, recorded_to=at
    )
    assert [s.version for s in only.steps] == [5]
    # Before anything, and after everything.
    early = datetime(2020, 1, 1, tzinfo=UTC)
    none = runtime.history(PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT, recorded_to=early)
    assert (none.steps, none.best_before) == ([], None)
    late = runtime.history(PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT, recorded_from=story.after[7])
    assert late.steps == [] and _number(late.best_before) == 7


def test_history_and_day_are_answered_from_the_views_alone(
    runtime: LedgerRuntime, story: Story
) -> None:
    """With the event log emptied under them, the answers stand: they never read it."""

    def answers() -> list[dict[str, Any]]:
        shown = [
            runtime.history(PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT),
            runtime.day(PARTY_SUBJECT, DAY, tenant=TENANT, as_of=story.after[5], run="SF"),
            runtime.period(PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT, run="II"),
        ]
        return [{k: v for k, v in a.model_dump().items() if k != "views"} for a in shown]

    before = answers()
    with runtime.database.transaction() as tx:
        tx.execute(f"DELETE FROM {runtime.ledger.event_store.events_table}")
    assert answers() == before


# --- a whole settlement day -------------------------------------------------------------------


def test_a_day_as_known_before_and_after_a_run(
    runtime: LedgerRuntime, three_runs: list[datetime]
) -> None:
    after_ii, after_sf, _ = three_runs
    then = runtime.day(PARTY_SUBJECT, DAY, tenant=TENANT, as_of=after_sf)
    now = runtime.day(PARTY_SUBJECT, DAY, tenant=TENANT)
    assert [p.settlement_period for p in then.periods] == list(range(1, 49))
    assert {(_number(p.best), p.versions) for p in then.periods} == {(2, 2)}
    assert {(_number(p.best), p.versions) for p in now.periods} == {(3, 3)}
    assert then.selected_by == f"as-of:{after_sf.isoformat().replace('+00:00', 'Z')}"
    assert (now.selected_by, now.as_of, then.as_of) == ("best", None, after_sf)
    # The day's best per period is the period's own, values and all.
    best = runtime.period(PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT, as_of=after_sf).best
    assert best is not None and then.periods[PERIOD - 1].best == VersionSummary.of(best)
    assert then.periods[0].period_start == datetime(2026, 4, 30, 23, 0, tzinfo=UTC)  # BST

    as_of_sf = runtime.day(PARTY_SUBJECT, DAY, tenant=TENANT, run="SF")
    assert as_of_sf.selected_by == "run:SF"
    assert {(_number(p.best), p.best and p.best.run_type) for p in as_of_sf.periods} == {(2, "SF")}
    early = runtime.day(PARTY_SUBJECT, DAY, tenant=TENANT, as_of=after_ii, run="R1")
    assert {_number(p.best) for p in early.periods} == {1}
    unknown = runtime.day("party:PTY00099", DAY, tenant=TENANT)
    assert {(p.best, p.versions) for p in unknown.periods} == {(None, 0)}


def test_a_day_honours_pins_and_holds_as_they_stood_and_a_run_ignores_pins(
    runtime: LedgerRuntime, three_runs: list[datetime]
) -> None:
    def intervene(action: str, **arguments: Any) -> None:
        runtime.intervene(
            PARTY_SUBJECT, DAY, PERIOD, action=action, actor="a.b", reason="query",
            tenant=TENANT, **arguments,
        )  # fmt: skip

    intervene("pin", version=1)
    pinned_at = datetime.now(UTC)
    intervene("hold")
    day = runtime.day(PARTY_SUBJECT, DAY, tenant=TENANT)
    period = day.periods[PERIOD - 1]
    assert (_number(period.best), period.pinned_version, period.held) == (1, 1, True)
    assert {_number(p.best) for p in day.periods if p is not period} == {3}
    assert not any(p.held for p in day.periods if p is not period)
    then = runtime.day(PARTY_SUBJECT, DAY, tenant=TENANT, as_of=pinned_at).periods[PERIOD - 1]
    assert (_number(then.best), then.pinned_version, then.held) == (1, 1, False)
    by_run = runtime.day(PARTY_SUBJECT, DAY, tenant=TENANT, run="R1").periods[PERIOD - 1]
    assert _number(by_run.best) == 3


def test_a_day_of_46_periods(runtime: LedgerRuntime, files: Path) -> None:
    ingest(runtime, files, "SF", settlement_date=SHORT_DAY)
    day = runtime.day(PARTY_SUBJECT, SHORT_DAY, tenant=TENANT)
    assert [p.settlement_period for p in day.periods] == list(range(1, 47))
    assert {_number(p.best) for p in day.periods} == {1}
    # 01:00 GMT jumps to 02:00 BST: period 3 starts at 01:00 UTC, an hour after period 1.
    assert day.periods[2].period_start == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert day.periods[-1].period_start == datetime(2026, 3, 29, 22, 30, tzinfo=UTC)


# --- refusals -------------------------------------------------------------------------------


def test_refusals(runtime: LedgerRuntime, three_runs: list[datetime]) -> None:
    with pytest.raises(UnknownRunType, match="unknown settlement run type 'XX'"):
        runtime.period(PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT, run="XX")
    with pytest.raises(UnknownRunType, match="expected one of II, SF"):
        runtime.day(PARTY_SUBJECT, DAY, tenant=TENANT, run="best")
    first, second, _ = three_runs
    with pytest.raises(InvalidInstant, match="is after to"):
        runtime.history(
            PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT, recorded_from=second, recorded_to=first
        )
    with pytest.raises(InvalidSettlementPeriod, match="period 49 does not exist"):
        runtime.history(PARTY_SUBJECT, DAY, 49, tenant=TENANT)
    with pytest.raises(InvalidSettlementPeriod, match="period 47 does not exist"):
        runtime.history(PARTY_SUBJECT, SHORT_DAY, 47, tenant=TENANT)
    naive = datetime(2026, 5, 2, 12, 0)
    with pytest.raises(InvalidInstant, match="needs a time zone"):
        runtime.history(PARTY_SUBJECT, DAY, PERIOD, tenant=TENANT, recorded_from=naive)
    with pytest.raises(InvalidInstant, match="needs a time zone"):
        runtime.day(PARTY_SUBJECT, DAY, tenant=TENANT, as_of=naive)
    with pytest.raises(InvalidInstant, match="out of range"):
        runtime.day(PARTY_SUBJECT, DAY, tenant=TENANT, as_of=datetime(1999, 1, 1, tzinfo=UTC))
    with pytest.raises(InvalidSettlementPeriod, match="outside the settlement era"):
        runtime.day(PARTY_SUBJECT, DAY.replace(year=2000), tenant=TENANT)


# --- the command line -----------------------------------------------------------------------


@pytest.fixture
def cli(cli: Cli) -> Cli:
    """Runs ``ledger --tenant acme ARGS...``: (exit code, stdout, stderr)."""
    return functools.partial(cli, "--tenant", TENANT)


def shown(cli: Cli, *argv: str) -> Any:
    code, out, err = cli(*argv)
    assert (code, err) == (0, ""), err
    return json.loads(out)


def test_cli_period_day_and_history(cli: Cli, files: Path) -> None:
    for run in ("II", "SF", "R1"):
        code, _, err = cli("ingest", str(write_report(files, run_type=run).path))
        assert code == 0, err
    day = DAY.isoformat()
    period = shown(cli, "period", PARTY_SUBJECT, day, "7", "--run", "sf")
    assert (period["selected_by"], period["best"]["version"], len(period["versions"])) == (
        "run:SF",
        2,
        3,
    )
    assert shown(cli, "period", PARTY_SUBJECT, day, "7")["selected_by"] == "best"

    history = shown(cli, "history", PARTY_SUBJECT, day, "7")
    assert [(s["version"], s["kind"], s["best_after"]["version"]) for s in history["steps"]] == [
        (1, "run", 1),
        (2, "run", 2),
        (3, "run", 3),
    ]
    sf_at = history["steps"][1]["recorded_at"]
    window = shown(cli, "history", PARTY_SUBJECT, day, "7", "--from", sf_at, "--to", sf_at)
    assert [s["version"] for s in window["steps"]] == [2]
    assert (window["best_before"]["version"], window["recorded_from"]) == (1, sf_at)
    step = window["steps"][0]
    assert set(step) == {
        "version",
        "recorded_at",
        "kind",
        "recorded",
        "confirms",
        "source",
        "intervention",
        "best_after",
    }
    assert set(step["best_after"]) == {
        "version",
        "kind",
        "run_type",
        "run_number",
        "maturity",
        "recorded_at",
        "values",
    }
    assert all(isinstance(v, str) for v in step["best_after"]["values"].values())

    whole = shown(cli, "day", PARTY_SUBJECT, day, "--as-of", sf_at, "--run", "II")
    assert (whole["selected_by"], whole["as_of"], len(whole["periods"])) == ("run:II", sf_at, 48)
    assert set(whole["periods"][0]) == {
        "settlement_period",
        "period_start",
        "versions",
        "best",
        "pinned_version",
        "held",
    }
    assert {p["best"]["version"] for p in whole["periods"]} == {1}
    short = shown(cli, "day", "system", SHORT_DAY.isoformat())
    assert [p["best"] for p in short["periods"]] == [None] * 46


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("period", PARTY_SUBJECT, "2026-05-01", "7", "--run", "R9"), "unknown settlement run"),
        (("day", PARTY_SUBJECT, "2026-05-01", "--run", "x"), "unknown settlement run type 'x'"),
        (
            ("history", PARTY_SUBJECT, "2026-05-01", "7", "--from", "2026-06-02T00:00:00Z")
            + ("--to", "2026-06-01T00:00:00Z"),
            "is after to",
        ),
        (("history", PARTY_SUBJECT, "2026-05-01", "49"), "period 49 does not exist"),
        (("history", PARTY_SUBJECT, "2026-05-01", "7", "--to", "2026-06-01T00:00"), "time zone"),
        (("day", PARTY_SUBJECT, "2026-05-01", "--as-of", "2026-06-01T00:00"), "time zone"),
        (("day", "party:", "2026-05-01"), "is not a BSC Party Id"),
    ],
)
def test_cli_refusals_are_one_line_and_exit_2(
    cli: Cli, argv: tuple[str, ...], message: str
) -> None:
    code, out, err = cli(*argv)
    assert (code, out) == (2, "")
    assert err.startswith("ledger: ") and err.count("\n") == 1
    assert message in err


# --- a property: the day's best per period is the period's own --------------------------------

# A few deliveries of DAY (one party and its BM Unit): runs, a later run number, and SF 1
# again with other values (whichever of the two SF 1 arrives second is a conflicting run).
DELIVERIES: list[dict[str, Any]] = [
    {"run_type": "II"},
    {"run_type": "SF"},
    {"run_type": "R1"},
    {"run_type": "SF", "run_number": 2},
    {"run_type": "SF", "revision": 9, "name": "sf1_other_values.txt"},
]


def test_the_day_view_chooses_as_each_period_view_does(runtime: LedgerRuntime, files: Path) -> None:
    """For random arrival orders of a few runs (and maybe a pin), as now or as known at the
    instant after any step, and as of any run or none: each period's best in the day view is
    ``runtime.period(...).best`` (each example a tenant of its own, on one database)."""
    paths = [
        write_report(files, parties=[PARTY], bm_units={PARTY: BM_UNITS[PARTY]}, **d).path
        for d in DELIVERIES
    ]
    tenants = iter(range(1_000_000))

    @settings(max_examples=12, deadline=None)
    @given(
        order=st.lists(st.sampled_from(range(len(paths))), min_size=1, max_size=4, unique=True),
        pin=st.booleans(),
        at=st.none() | st.integers(min_value=0, max_value=4),
        run=st.none() | st.sampled_from(list(RunType)),
    )
    def check(order: list[int], pin: bool, at: int | None, run: RunType | None) -> None:
        tenant = f"t{next(tenants)}"
        instants = []
        for i in order:
            assert runtime.ingest(paths[i], tenant=tenant).status == "accepted"
            instants.append(datetime.now(UTC))
        if pin:
            runtime.intervene(
                PARTY_SUBJECT, DAY, PERIOD, action="pin", version=1, actor="a", reason="r",
                tenant=tenant,
            )  # fmt: skip
            instants.append(datetime.now(UTC))
        as_of = None if at is None else instants[min(at, len(instants) - 1)]
        day = runtime.day(PARTY_SUBJECT, DAY, tenant=tenant, as_of=as_of, run=run)
        for period in day.periods:
            view = runtime.period(
                PARTY_SUBJECT, DAY, period.settlement_period, tenant=tenant, as_of=as_of, run=run
            )
            assert period.best == VersionSummary.of(view.best)
            assert period.versions == len(view.versions)
            assert day.selected_by == view.selected_by
        if run is None:
            history = runtime.history(PARTY_SUBJECT, DAY, PERIOD, tenant=tenant, recorded_to=as_of)
            assert history.steps[-1].best_after == day.periods[PERIOD - 1].best

    check()


def test_a_history_of_a_period_nobody_delivered_is_empty(runtime: LedgerRuntime) -> None:
    at = datetime(2026, 5, 2, tzinfo=UTC)
    for window in ((None, None), (at, at), (at - timedelta(days=1), at)):
        history = runtime.history(
            PARTY_SUBJECT, DAY, PERIOD, recorded_from=window[0], recorded_to=window[1]
        )
        assert (history.steps, history.best_before) == ([], None)
        assert history.period_start == datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
