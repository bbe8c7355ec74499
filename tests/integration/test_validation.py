"""What validation says of a file: every warning its reader found, readable page by page from
the view, the CLI and the API, whichever process read the file (both backends)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from integration.conftest import (
    DAY,
    Cli,
    Report,
    bpi_disagreeing,
    dump_views,
    rewrite,
    write_report,
)
from ledger.demo.dtc_samples import (
    SampleReading,
    d0010_file,
    d0036_file,
    other_flow_file,
    sample_mpan,
)
from ledger.demo.json_samples import dip_message, disebsp_day, disebsp_page, to_json
from ledger.demo.samples import sample_bm_unit_ids, sample_party_ids
from ledger.service.read_models import WARNINGS_SHOWN
from ledger.service.runtime import LedgerRuntime

PARTIES = sample_party_ids(2)
# Five BM Units over 48 periods: 240 BM Unit periods, each a warning once its BPI disagrees.
UNITS = {
    PARTIES[0]: sample_bm_unit_ids(PARTIES[0], 2),
    PARTIES[1]: sample_bm_unit_ids(PARTIES[1], 3),
}


def many_warnings(files: Path) -> Report:
    report = write_report(files, run_type="SF", parties=PARTIES, bm_units=UNITS)
    rewrite(report.path, bpi_disagreeing)
    return report


def every_warning(runtime: LedgerRuntime, sha256: str, limit: int) -> list[str]:
    """A file's warnings, read page by page until next_after is null."""
    found: list[str] = []
    after: int | None = 0
    while after is not None:
        page = runtime.flow_warnings(sha256, after=after, limit=limit)
        assert page is not None
        assert [w.number for w in page.warnings] == list(
            range(after + 1, after + 1 + len(page.warnings))
        )
        found += [w.warning for w in page.warnings]
        after = page.next_after
    return found


def test_every_warning_of_a_file_is_kept_and_read_page_by_page(
    runtime: LedgerRuntime, files: Path
) -> None:
    report = many_warnings(files)
    result = runtime.ingest(report.path)
    assert (result.status, result.warning_count) == ("accepted", 240)
    # The answers about the file stay small: the first warnings, and where the rest are.
    assert len(result.warnings) == WARNINGS_SHOWN + 1
    assert result.warnings[-1] == (
        f"220 more warnings are listed (240 were found in all): ledger flow {report.sha256} "
        f"--warnings, or GET .../flows/{report.sha256}/warnings, reads them page by page"
    )
    flow = runtime.flow(report.sha256)
    assert flow is not None
    assert (flow.warnings, flow.warning_count) == (result.warnings, 240)
    validated = next(s for s in flow.stages if s.stage == "validated")
    assert (validated.detail["warnings"], validated.detail["warning_count"]) == (flow.warnings, 240)

    warnings = every_warning(runtime, report.sha256, limit=7)
    assert len(warnings) == 240 == len(set(warnings))
    assert warnings[:WARNINGS_SHOWN] == flow.warnings[:WARNINGS_SHOWN]
    assert all("does not repeat the system block's values" in w for w in warnings)
    page = runtime.flow_warnings(report.sha256, after=238, limit=1000)
    assert page is not None
    assert (page.warning_count, page.listed, page.next_after) == (240, 240, None)
    assert [w.number for w in page.warnings] == [239, 240]


def test_warnings_beyond_the_bound_are_counted_by_kind(
    open_runtime: Callable[[], LedgerRuntime], files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_MAX_WARNINGS", "100")
    runtime = open_runtime()
    report = many_warnings(files)
    result = runtime.ingest(report.path)
    assert (result.status, result.warning_count) == ("accepted", 240)
    warnings = every_warning(runtime, report.sha256, limit=1000)
    assert len(warnings) == 101
    assert warnings[-1] == (
        "140 further warnings were found of BM Unit periods not repeating the system block's "
        "values, not kept: a file keeps its first 100 warnings (LEDGER_MAX_WARNINGS)"
    )


def test_the_warnings_view_is_rebuilt_from_the_log(runtime: LedgerRuntime, files: Path) -> None:
    runtime.ingest(many_warnings(files).path)
    before = dump_views(runtime)
    assert len(before["flow_warnings"]) == 240
    runtime.rebuild(["flow_validation"])
    assert dump_views(runtime) == before
    assert runtime.verify().equal


def test_ledger_flow_pages_a_file_s_warnings(cli: Cli, files: Path) -> None:
    report = many_warnings(files)
    assert cli("ingest", str(report.path))[0] == 0
    code, out, err = cli("flow", report.sha256, "--warnings", "--after", "230", "--limit", "5")
    assert (code, err) == (0, "")
    page = json.loads(out)
    assert [w["number"] for w in page["warnings"]] == [231, 232, 233, 234, 235]
    assert (page["warning_count"], page["listed"], page["next_after"]) == (240, 240, 235)
    code, out, _ = cli("flow", report.sha256)
    shown = json.loads(out)
    assert (len(shown["warnings"]), shown["warning_count"]) == (WARNINGS_SHOWN + 1, 240)
    for argv, message in (
        (["--warnings", "--limit", "0"], "a page of warnings holds 1 to 1000 of them, not 0"),
        (["--warnings", "--after", "-1"], "a file's warnings are numbered from 1"),
        (["--after", "3"], "--after and --limit page a file's warnings: give them with --warnings"),
    ):
        code, out, err = cli("flow", report.sha256, *argv)
        assert (code, out) == (2, "")
        assert err.startswith(f"ledger: {message}") and err.count("\n") == 1, err


# --- The checks validation applied -----------------------------------------------------------

CHECKS = ["envelope", "record count", "checksum", "layout version", "day length", "duplicates"]
DTC_CHECKS = [*CHECKS[:2], "group count", *CHECKS[2:]]
CREATED = datetime(2026, 5, 2, 9, 0, tzinfo=UTC)
MPAN = sample_mpan(1)


def checks_of(runtime: LedgerRuntime, files: Path, name: str, data: bytes) -> list[dict[str, str]]:
    """The checks the validated stage of the file shows, as the CLI and the API show them."""
    path = files / name
    path.write_bytes(data)
    result = runtime.ingest(path)
    assert result.status in ("accepted", "not interpreted"), result.reasons
    flow = runtime.flow(result.sha256)
    assert flow is not None
    (validated,) = [s for s in flow.model_dump(mode="json")["stages"] if s["stage"] == "validated"]
    checks: list[dict[str, str]] = validated["detail"]["checks"]
    assert all(set(c) == {"check", "outcome", "detail"} and c["detail"] for c in checks)
    return checks


def outcomes(checks: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(c["check"], c["outcome"]) for c in checks]


def test_a_settlement_report_s_checks_all_passed(runtime: LedgerRuntime, files: Path) -> None:
    report = write_report(files, run_type="SF", settlement_date=date(2026, 3, 29))
    checks = checks_of(runtime, files, "short.s0142", report.data)
    assert outcomes(checks) == [(name, "passed") for name in CHECKS]
    by_name = {c["check"]: c["detail"] for c in checks}
    assert (
        by_name["record count"]
        == f"{report.records:,} records with AAA and ZZZ, as the trailer says"
    )
    assert by_name["day length"].startswith("settlement date 2026-03-29 has 46 periods")
    assert by_name["layout version"] == "S0142013 is read with its own layout"


def test_each_format_says_which_checks_applied(runtime: LedgerRuntime, files: Path) -> None:
    short_day = d0036_file(mpans=[MPAN], settlement_dates=[DAY], creation_time=CREATED, periods=40)
    reading = SampleReading(MPAN, "M1", "01", datetime(2026, 5, 1, tzinfo=UTC), Decimal("1234.5"))
    na = "not applicable"
    envelope = [("envelope", "passed"), ("record count", "passed"), ("group count", "passed")]
    read = [("checksum", na), ("layout version", "passed")]
    json_envelope = [("envelope", "passed"), ("record count", na), ("checksum", na)]
    unread = [("day length", na), ("duplicates", na)]
    cases: dict[str, tuple[bytes, list[tuple[str, str]]]] = {
        "a.d0036": (
            short_day,
            [*envelope, *read, ("day length", "warning"), ("duplicates", "passed")],
        ),
        "b.d0010": (d0010_file([reading], creation_time=CREATED), [*envelope, *read, *unread]),
        "c.d0012": (
            other_flow_file(mpans=[MPAN], creation_time=CREATED),
            [*envelope, ("checksum", na), ("layout version", na), *unread],
        ),
        "d.json": (
            disebsp_page(disebsp_day(DAY, CREATED)),
            [*json_envelope, ("layout version", "passed"), *[(c, "passed") for c in CHECKS[4:]]],
        ),
        "e.json": (
            to_json(dip_message(schema_version="012")).encode(),
            [*json_envelope, ("layout version", "warning"), *unread],
        ),
    }
    for name, (data, expected) in cases.items():
        assert outcomes(checks_of(runtime, files, name, data)) == expected, name


def test_a_file_validated_before_checks_were_recorded_shows_them_as_unknown(
    runtime: LedgerRuntime, files: Path
) -> None:
    report = write_report(files, run_type="SF")
    result = runtime.ingest(report.path)
    with runtime.database.transaction() as tx:
        tx.execute("UPDATE flow_validations SET checks_json = NULL")
    flow = runtime.flow(result.sha256)
    assert flow is not None
    (validated,) = [s for s in flow.stages if s.stage == "validated"]
    assert validated.detail["checks"] is None
