"""One run, many deliveries: the same run of a subject-period arriving again in another file.

Identical values add the file as a further source of the version already held; different
values are a conflicting version, reported on the file and kept out of the best view until
someone corrects it. Both backends.
"""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

from integration.conftest import (
    BM_UNITS,
    BMU_SUBJECT,
    DAY,
    PARTY,
    PARTY_SUBJECT,
    S0141_PERIODS,
    S0142_PERIODS,
    count_rows,
    write_report,
)
from ledger.service.runtime import LedgerRuntime


def test_the_same_report_re_sent_unzipped_adds_no_version(
    runtime: LedgerRuntime, files: Path
) -> None:
    report = write_report(files, run_type="R3", run_number=5)
    zipped = files / "S0142_20260501_R3_20261118010000.gz"
    zipped.write_bytes(gzip.compress(report.data, mtime=0))

    first = runtime.ingest(zipped)
    assert (first.status, first.new_versions, first.further_sources) == (
        "accepted",
        S0142_PERIODS,
        0,
    )
    again = runtime.ingest(report.path)  # other bytes: not a duplicate receipt
    assert again.status == "accepted" and again.sha256 != first.sha256
    assert (again.periods, again.new_versions, again.further_sources) == (
        S0142_PERIODS,
        0,
        S0142_PERIODS,
    )
    assert again.conflicting_versions == 0 and again.warnings == []

    view = runtime.period(BMU_SUBJECT, DAY, 7)
    (only,) = view.versions
    assert view.best == only
    assert only.source is not None and only.source.sha256 == first.sha256
    assert [s.sha256 for s in only.further_sources] == [again.sha256]
    assert only.further_sources[0].flow == "S0142"
    assert count_rows(runtime, "period_versions") == S0142_PERIODS
    assert count_rows(runtime, "period_sources") == S0142_PERIODS


def test_a_party_s_own_report_of_the_same_run_confirms_the_all_parties_one(
    runtime: LedgerRuntime, files: Path
) -> None:
    runtime.ingest(write_report(files, run_type="R1", run_number=3).path)
    own = write_report(files, flow="S0141", run_type="R1", run_number=3)
    result = runtime.ingest(own.path)
    assert result.status == "accepted"
    # The party, its BM Units and the system: every one of them already held from the S0142.
    assert (result.new_versions, result.further_sources) == (0, S0141_PERIODS)
    for subject in (PARTY_SUBJECT, f"bmu:{BM_UNITS[PARTY][0]}", "system"):
        (only,) = runtime.period(subject, DAY, 12).versions
        assert [(s.sha256, s.flow) for s in only.further_sources] == [(own.sha256, "S0141")]


def test_the_same_run_with_other_values_is_a_conflicting_version_out_of_best(
    runtime: LedgerRuntime, files: Path
) -> None:
    held = write_report(files, run_type="SF", run_number=2)
    runtime.ingest(held.path)
    other = write_report(files, run_type="SF", run_number=2, revision=9, name="other.txt")
    result = runtime.ingest(other.path)
    assert result.status == "accepted"
    assert (result.new_versions, result.conflicting_versions) == (0, S0142_PERIODS)
    (warning,) = result.warnings
    assert f"{S0142_PERIODS} subject-periods of run SF 2 were delivered before" in warning
    assert "out of the best view until someone decides" in warning
    assert runtime.flow(other.sha256) is not None

    view = runtime.period(PARTY_SUBJECT, DAY, 20)
    first, conflicting = view.versions
    assert (conflicting.kind, conflicting.conflicts_with) == ("conflicting run", 1)
    assert view.best == first  # never the conflicting run

    # Someone decides for the new values: a correction of the conflicting version.
    values = {"energy_imbalance_cashflow": Decimal("1.23")}
    runtime.correct(
        PARTY_SUBJECT, DAY, 20, supersedes=2, values=values, reason="confirmed with Elexon",
        actor="analyst",
    )  # fmt: skip
    best = runtime.period(PARTY_SUBJECT, DAY, 20).best
    assert best is not None and (best.kind, best.supersedes) == ("correction", 2)


def test_a_later_delivery_equal_to_the_conflicting_values_confirms_those(
    runtime: LedgerRuntime, files: Path
) -> None:
    runtime.ingest(write_report(files, run_type="SF", run_number=2).path)
    conflicting = write_report(files, run_type="SF", run_number=2, revision=9, name="b.txt")
    runtime.ingest(conflicting.path)
    zipped = files / "b.gz"
    zipped.write_bytes(gzip.compress(conflicting.data, mtime=0))
    result = runtime.ingest(zipped)
    assert (result.new_versions, result.further_sources, result.conflicting_versions) == (
        0,
        S0142_PERIODS,
        0,
    )
    first, second = runtime.period(PARTY_SUBJECT, DAY, 20).versions
    assert first.further_sources == [] and len(second.further_sources) == 1
