"""Run types, maturity, "best available" ordering and configured timetables."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from ledger.domain.errors import UnknownRunType
from ledger.domain.runs import (
    SETTLEMENT_RUNS,
    Maturity,
    RunType,
    Timetable,
    best_run_key,
    load_timetables,
    noted_after_arrival,
    refused_after_arrival,
    scheduled_run_date,
    timetable_for,
)


def test_maturity_order() -> None:
    order = ["PUB", "EST", "ACT", "II", "SF", "R1", "R2", "R3", "RF", "DF"]
    assert sorted(RunType, key=lambda r: r.maturity_rank) == [RunType(r) for r in order]
    # The period view stores ranks: the settlement runs keep theirs.
    assert RunType.II.maturity_rank == 0
    assert RunType.DF.maturity_rank == 6
    assert [r.value for r in SETTLEMENT_RUNS] == order[3:]
    assert not RunType.ACT.is_settlement_run


def test_values_from_no_settlement_run_have_their_own_maturity() -> None:
    assert RunType.PUB.maturity is Maturity.PUBLISHED
    assert RunType.EST.maturity is Maturity.ESTIMATED
    assert RunType.ACT.maturity is Maturity.ACTUAL


def test_a_settlement_report_names_a_settlement_run() -> None:
    assert RunType.parse_settlement_run("r3") is RunType.R3
    expected = "unknown settlement run type .PUB.; expected one of II, SF"
    with pytest.raises(UnknownRunType, match=expected):
        RunType.parse_settlement_run("PUB")


def test_maturity_classes() -> None:
    assert RunType.II.maturity is Maturity.INDICATIVE
    for run in ("SF", "R1", "R2", "R3"):
        assert RunType(run).maturity is Maturity.SETTLEMENT
    assert RunType.RF.maturity is Maturity.FINAL
    assert RunType.DF.maturity == "final"


def test_parse_is_lenient_about_case_and_spaces() -> None:
    assert RunType.parse(" r1 ") is RunType.R1


def test_parse_rejects_unknown_run_listing_valid_ones() -> None:
    with pytest.raises(UnknownRunType) as raised:
        RunType.parse("R4")
    assert "'R4'" in str(raised.value)
    assert "II, SF, R1, R2, R3, RF, DF" in str(raised.value)


def test_best_run_key_orders_by_maturity_then_number_then_time() -> None:
    t1 = datetime(2026, 6, 1, 9, tzinfo=UTC)
    t2 = datetime(2026, 6, 2, 9, tzinfo=UTC)
    runs = [
        (RunType.R1, 2, t1),
        (RunType.SF, 1, t2),
        (RunType.R1, 1, t2),
        (RunType.R1, 2, t2),
        (RunType.II, 9, t2),
    ]
    best_first = sorted(runs, key=lambda r: best_run_key(*r), reverse=True)
    assert best_first == [
        (RunType.R1, 2, t2),
        (RunType.R1, 2, t1),
        (RunType.R1, 1, t2),
        (RunType.SF, 1, t2),
        (RunType.II, 9, t2),
    ]


def test_packaged_timetables() -> None:
    legacy, mhhs = load_timetables()
    assert legacy.name == "legacy"
    assert dict(legacy.working_days) == {
        RunType.II: 5,
        RunType.SF: 16,
        RunType.R1: 39,
        RunType.R2: 84,
        RunType.R3: 154,
        RunType.RF: 292,
    }
    assert mhhs.effective_from == date(2027, 7, 1)
    assert RunType.R2 not in mhhs.working_days
    assert timetable_for(date(2027, 6, 30)).name == "legacy"
    assert timetable_for(date(2027, 7, 1)).name == "mhhs"


def test_scheduled_run_date_legacy() -> None:
    day = date(2026, 5, 6)  # Wednesday
    assert scheduled_run_date(day, RunType.II) == date(2026, 5, 13)
    # 16 working days, skipping the spring bank holiday on 25 May.
    assert scheduled_run_date(day, RunType.SF) == date(2026, 5, 29)
    assert scheduled_run_date(day, RunType.DF) is None


def test_scheduled_run_date_mhhs() -> None:
    day = date(2027, 7, 1)  # Thursday
    assert scheduled_run_date(day, RunType.II) == date(2027, 7, 7)
    assert scheduled_run_date(day, RunType.SF) == date(2027, 7, 12)
    assert scheduled_run_date(day, RunType.R3) is None


def test_no_timetable_before_the_first() -> None:
    with pytest.raises(ValueError, match="no settlement timetable"):
        timetable_for(date(1990, 1, 1))


def test_alternative_timetable_file_changes_the_answer(tmp_path: Path) -> None:
    config = tmp_path / "timetables.toml"
    config.write_text(
        """
[[timetable]]
name = "test"
effective_from = 2020-01-01
[timetable.working_days]
ii = 1
SF = 2
"""
    )
    timetables = load_timetables(config)
    assert timetables == [Timetable("test", date(2020, 1, 1), {RunType.II: 1, RunType.SF: 2})]
    day = date(2026, 5, 6)
    assert scheduled_run_date(day, RunType.II, timetables) == date(2026, 5, 7)
    assert scheduled_run_date(day, RunType.SF, timetables) == date(2026, 5, 8)
    assert scheduled_run_date(day, RunType.R1, timetables) is None


@pytest.mark.parametrize(
    ("body", "error", "match"),
    [
        ("", ValueError, "no \\[\\[timetable\\]\\]"),
        ('[[timetable]]\nname = "x"\n', ValueError, "lacks 'effective_from'"),
        (
            '[[timetable]]\nname = "x"\neffective_from = 2020-01-01\n'
            "[timetable.working_days]\nR4 = 3\n",
            UnknownRunType,
            "R4",
        ),
        (
            '[[timetable]]\nname = "x"\neffective_from = 2020-01-01\n'
            "[timetable.working_days]\nII = -3\n",
            ValueError,
            "whole number",
        ),
    ],
)
def test_bad_timetable_files_are_refused(
    tmp_path: Path, body: str, error: type[Exception], match: str
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(body)
    with pytest.raises(error, match=match):
        load_timetables(config)


ARRIVED = datetime(2026, 5, 7, 10, 0, tzinfo=UTC)


def test_an_instant_up_to_the_tolerance_after_arrival_is_believed() -> None:
    tolerance = timedelta(minutes=5)
    for instant in (ARRIVED - timedelta(days=400), ARRIVED, ARRIVED + tolerance):
        assert refused_after_arrival("createdDateTime", instant, ARRIVED, tolerance) is None
        assert noted_after_arrival("createdDateTime", instant, ARRIVED, tolerance) is None
    later = datetime(2150, 1, 1, tzinfo=UTC)
    assert refused_after_arrival("createdDateTime", later, None, tolerance) is None  # unknown


def test_an_instant_after_arrival_is_refused_where_it_ranks_and_noted_elsewhere() -> None:
    tolerance = timedelta(minutes=5)
    instant = ARRIVED + tolerance + timedelta(seconds=1)
    finding = (
        "the AAA header's creation time 2026-05-07T10:05:01Z is later than the file's arrival "
        "(2026-05-07T10:00:00Z) by more than the 300 seconds allowed for clock skew "
        "(LEDGER_FUTURE_TOLERANCE_SECONDS)"
    )
    what = "the AAA header's creation time"
    assert refused_after_arrival(what, instant, ARRIVED, tolerance) == (
        f"{finding}: a version from the future would outrank every real one published after "
        "it, so the file is refused; check the sender's clock and send the file again"
    )
    assert noted_after_arrival(what, instant, ARRIVED, tolerance) == (
        f"{finding}; it ranks no version here, so the file was kept as sent"
    )
