"""Documents record exactly which version of each value they used; a later run, a correction
or a pin makes them stale under their own rule, line by line, with the deltas.

Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import StoredEvent

import ledger.domain.documents
import ledger.service.runtime
import projections.documents
from integration.conftest import (
    BMU_SUBJECT,
    DAY,
    PARTY_SUBJECT,
    SHORT_DAY,
    Cli,
    dump_views,
    write_report,
)
from ledger.cli import main
from ledger.demo.json_samples import disebsp_day, disebsp_page
from ledger.domain.aggregates import SettlementPeriod
from ledger.domain.documents import Document, DocumentLine
from ledger.domain.errors import LedgerBusy, LedgerError
from ledger.domain.selection import Rule
from ledger.flows.record_layouts import layout_for
from ledger.service.application import NotFound
from ledger.service.documents import DocumentView
from ledger.service.runtime import LedgerRuntime

TENANT = "acme"
MEASURE = "bm_unit_cashflow"
LONG_DAY = date(2026, 10, 25)  # autumn clock change: 50 periods


@pytest.fixture
def sf(runtime: LedgerRuntime, files: Path) -> LedgerRuntime:
    """II then SF ingested for ``acme``: each period has versions 1 (II) and 2 (SF, best)."""
    for run in ("II", "SF"):
        assert runtime.ingest(write_report(files, run_type=run).path, tenant=TENANT).status == (
            "accepted"
        )
    return runtime


def issue(runtime: LedgerRuntime, reference: str = "INV-1", **overrides: Any) -> DocumentView:
    arguments: dict[str, Any] = {
        "kind": "invoice",
        "reference": reference,
        "actor": "f.finance",
        "rule": "best",
        "subject": PARTY_SUBJECT,
        "settlement_date": DAY,
        "periods": [1, 2, 3],
        "measures": [MEASURE],
        "tenant": TENANT,
    }
    arguments.update(overrides)
    return runtime.issue_document(**arguments)


def value_of(runtime: LedgerRuntime, period: int, version: int) -> Decimal:
    view = runtime.period(PARTY_SUBJECT, DAY, period, tenant=TENANT)
    [found] = [v for v in view.versions if v.version == version]
    return Decimal(found.values[MEASURE])


def test_a_document_records_the_exact_version_of_every_line(sf: LedgerRuntime, files: Path) -> None:
    document = issue(sf)
    sf_file = write_report(files, run_type="SF")
    assert [line.settlement_period for line in document.lines] == [1, 2, 3]
    for line in document.lines:
        assert (line.version, line.run_type, line.run_number, line.kind) == (2, "SF", 1, "run")
        assert line.value == value_of(sf, line.settlement_period, 2)
        assert line.source is not None and line.source.sha256 == sf_file.sha256
    assert document.total == sum(line.value for line in document.lines)
    assert (document.status, document.revision, document.rule) == ("issued", 1, "best")
    assert sf.document("INV-1", tenant=TENANT) == document
    assert sf.stale_documents(tenant=TENANT) == []


def test_every_measure_when_none_is_named(sf: LedgerRuntime) -> None:
    document = issue(sf, measures=[], periods=[4])
    measures = list(sf.period(PARTY_SUBJECT, DAY, 4, tenant=TENANT).versions[1].values)
    assert [line.measure for line in document.lines] == measures


def test_a_later_run_makes_best_documents_stale_with_deltas(sf: LedgerRuntime, files: Path) -> None:
    issue(sf)
    issue(sf, "REP-SF", kind="report", rule="run:SF")
    issue(sf, "AS-OF", kind="statement", rule=f"as-of:{datetime.now(UTC).isoformat()}")
    periods_before = sf.period(PARTY_SUBJECT, DAY, 1, tenant=TENANT).versions
    assert sf.ingest(write_report(files, run_type="R1").path, tenant=TENANT).status == "accepted"

    [stale] = sf.stale_documents(tenant=TENANT)  # neither run:SF nor as-of goes stale
    assert stale.reference == "INV-1"
    assert [line.settlement_period for line in stale.lines] == [1, 2, 3]
    for line in stale.lines:
        used, now = value_of(sf, line.settlement_period, 2), value_of(sf, line.settlement_period, 3)
        assert (line.used.version, line.used.value) == (2, used)
        assert (line.now.version, line.now.value) == (3, now)
        assert line.delta == now - used
    assert stale.total_delta == sum(line.delta or 0 for line in stale.lines)
    # The document itself still shows what it used; the periods were not touched by issuing.
    assert [line.version for line in sf.document("INV-1", tenant=TENANT).lines] == [2, 2, 2]
    assert sf.period(PARTY_SUBJECT, DAY, 1, tenant=TENANT).versions[:2] == periods_before


def test_stale_documents_by_reference_without_the_cancelled(
    sf: LedgerRuntime, files: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The documents' heads are read by reference, a batch at a time: here two at a time.
    monkeypatch.setattr(projections.documents, "_HEADS_PER_QUERY", 2)
    for reference in ("INV-C", "INV-A", "INV-E", "INV-B", "INV-D"):
        issue(sf, reference)
    issue(sf, "REP-SF", kind="report", rule="run:SF")
    sf.cancel_document("INV-B", actor="f.finance", reason="void", tenant=TENANT)
    assert sf.ingest(write_report(files, run_type="R1").path, tenant=TENANT).status == "accepted"

    stale = sf.stale_documents(tenant=TENANT)
    assert [d.reference for d in stale] == ["INV-A", "INV-C", "INV-D", "INV-E"]
    assert {len(d.lines) for d in stale} == {3}
    assert len({d.total_delta for d in stale}) == 1  # the same periods, the same deltas


def test_the_stale_documents_as_json(
    sf: LedgerRuntime,
    files: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    issue(sf)
    assert sf.ingest(write_report(files, run_type="R1").path, tenant=TENANT).status == "accepted"
    monkeypatch.setenv("LEDGER_DATABASE_URL", sf.database.url)
    assert main(["--tenant", TENANT, "documents", "stale"]) == 0
    [stale] = json.loads(capsys.readouterr().out)
    assert stale == sf.stale_documents(tenant=TENANT)[0].model_dump(mode="json")
    assert set(stale) == {
        *("reference", "kind", "rule", "revision", "total_delta", "lines"),
        *("total_delta_unit", "deltas"),
    }
    assert (stale["reference"], stale["rule"], stale["revision"]) == ("INV-1", "best", 1)
    deltas = []
    for n, line in enumerate(stale["lines"], start=1):
        assert line == {
            "subject": PARTY_SUBJECT,
            "settlement_date": DAY.isoformat(),
            "settlement_period": n,
            "measure": MEASURE,
            "used": {
                "version": 2,
                "value": str(value_of(sf, n, 2)),
                "run_type": "SF",
                "run_number": 1,
            },
            "now": {
                "version": 3,
                "value": str(value_of(sf, n, 3)),
                "run_type": "R1",
                "run_number": 1,
            },
            "delta": str(value_of(sf, n, 3) - value_of(sf, n, 2)),
            "unit": "GBP",
        }
        deltas.append(Decimal(line["delta"]))
    assert stale["total_delta"] == str(sum(deltas, Decimal(0)))
    assert stale["total_delta_unit"] == "GBP"
    total = str(sum(deltas, Decimal(0)))
    assert stale["deltas"] == [{"measure": MEASURE, "unit": "GBP", "total": total, "lines": 3}]


def test_a_correction_of_the_version_used_makes_a_run_document_stale(sf: LedgerRuntime) -> None:
    issue(sf, "REP-SF", kind="report", rule="run:SF")
    sf.correct(
        PARTY_SUBJECT,
        DAY,
        2,
        supersedes=2,
        values={MEASURE: Decimal("1.23")},
        reason="BSCCo query 9",
        actor="o.ops",
        tenant=TENANT,
    )
    [stale] = sf.stale_documents(tenant=TENANT)
    [line] = stale.lines
    assert (line.settlement_period, line.used.version, line.now.version) == (2, 2, 3)
    assert line.now.value == Decimal("1.23")


def test_which_documents_used_a_period(sf: LedgerRuntime) -> None:
    issue(sf)
    issue(sf, "INV-2", periods=[3, 4])
    uses = sf.documents_using(PARTY_SUBJECT, DAY, 3, tenant=TENANT)
    assert [(u.reference, u.version, u.measure) for u in uses] == [
        ("INV-1", 2, MEASURE),
        ("INV-2", 2, MEASURE),
    ]
    assert sf.documents_using(PARTY_SUBJECT, DAY, 9, tenant=TENANT) == []


def test_reissue_resolves_anew_and_cancel_takes_it_out_of_stale(
    sf: LedgerRuntime, files: Path
) -> None:
    issue(sf)
    assert sf.ingest(write_report(files, run_type="R1").path, tenant=TENANT).status == "accepted"
    again = sf.reissue_document("INV-1", actor="f.finance", reason="R1 arrived", tenant=TENANT)
    assert again.revision == 2
    assert [line.version for line in again.lines] == [3, 3, 3]
    assert sf.stale_documents(tenant=TENANT) == []

    issue(sf, "INV-OLD", rule="run:SF")
    sf.correct(
        PARTY_SUBJECT,
        DAY,
        1,
        supersedes=2,
        values={MEASURE: Decimal("7")},
        reason="restated",
        actor="o.ops",
        tenant=TENANT,
    )
    assert [d.reference for d in sf.stale_documents(tenant=TENANT)] == ["INV-OLD"]
    cancelled = sf.cancel_document("INV-OLD", actor="f.finance", reason="void", tenant=TENANT)
    assert cancelled.status == "cancelled"
    assert sf.stale_documents(tenant=TENANT) == []
    with pytest.raises(LedgerError, match="cancelled: it cannot be re-issued"):
        sf.reissue_document("INV-OLD", actor="f.finance", reason="again", tenant=TENANT)


def test_refusals_write_nothing(sf: LedgerRuntime) -> None:
    issue(sf)
    before = dump_views(sf)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"reference": "INV-1"}, "issued already"),
        ({"rule": "latest"}, "unknown selection rule 'latest'"),
        ({"rule": "as-of:2026-05-01T00:00:00Z"}, "has no version under rule as-of"),
        ({"measures": ["no_such_measure"]}, "has no measure 'no_such_measure'"),
        ({"actor": "  "}, "needs the person"),
        ({"kind": "receipt"}, "unknown document kind"),
        ({"periods": [49]}, "49"),
        ({"subject": "party:NOBODY"}, "has no version under rule best"),
    ]
    for overrides, message in cases:
        reference = overrides.pop("reference", "INV-X")
        with pytest.raises(LedgerError, match=message):
            issue(sf, reference, **overrides)
    with pytest.raises(NotFound):
        sf.document("INV-X", tenant=TENANT)
    with pytest.raises(NotFound):
        sf.document("INV-1", tenant="someone-else")
    assert dump_views(sf) == before


def test_rebuilt_views_equal_incremental_ones(sf: LedgerRuntime, files: Path) -> None:
    issue(sf)
    issue(sf, "REP-SF", kind="report", rule="run:SF")
    assert sf.ingest(write_report(files, run_type="R1").path, tenant=TENANT).status == "accepted"
    sf.reissue_document("REP-SF", actor="f.finance", reason="check", tenant=TENANT)
    incremental = dump_views(sf)
    sf.runner.rebuild()
    assert dump_views(sf) == incremental


def test_the_command_line(
    sf: LedgerRuntime, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_DATABASE_URL", sf.database.url)
    common = ["--tenant", TENANT, "documents"]
    issued = [
        *common,
        "issue",
        "--kind",
        "invoice",
        "--reference",
        "CLI-1",
        "--actor",
        "f.finance",
        "--subject",
        PARTY_SUBJECT,
        "--date",
        DAY.isoformat(),
        "--periods",
        "5-6",
        "--measure",
        MEASURE,
    ]
    assert main(issued) == 0
    document = json.loads(capsys.readouterr().out)
    assert set(document) >= {"reference", "kind", "rule", "issued_at", "actor", "lines", "total"}
    assert set(document["lines"][0]) >= {
        "subject",
        "settlement_date",
        "settlement_period",
        "measure",
        "value",
        "version",
        "run_type",
        "run_number",
        "source",
    }
    assert isinstance(document["lines"][0]["value"], str)
    assert main([*common, "show", "CLI-1"]) == 0
    assert json.loads(capsys.readouterr().out) == document
    assert main([*common, "stale"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main([*common, "using", PARTY_SUBJECT, DAY.isoformat(), "5"]) == 0
    assert [u["reference"] for u in json.loads(capsys.readouterr().out)] == ["CLI-1"]
    assert main([*common, "show", "NOPE"]) == 2
    assert "has no document 'NOPE'" in capsys.readouterr().err
    assert main([*issued[:-6], "--date", DAY.isoformat(), "--periods", "x"]) == 2
    assert "--periods: 'x'" in capsys.readouterr().err


def intervene(runtime: LedgerRuntime, period: int, action: str, version: int | None = None) -> None:
    runtime.intervene(
        PARTY_SUBJECT,
        DAY,
        period,
        action=action,
        version=version,
        actor="o.ops",
        reason="BSCCo query 12",
        tenant=TENANT,
    )


def test_a_held_period_is_refused_saying_who_holds_it_and_why(sf: LedgerRuntime) -> None:
    intervene(sf, 2, "hold")
    with pytest.raises(LedgerError, match=r"period 2 is held from billing by o\.ops \(BSCCo"):
        issue(sf)
    with pytest.raises(NotFound):
        sf.document("INV-1", tenant=TENANT)
    intervene(sf, 2, "release")
    assert [line.version for line in issue(sf).lines] == [2, 2, 2]


def test_a_pin_is_what_best_uses_until_released(sf: LedgerRuntime) -> None:
    issue(sf)
    issue(sf, "REP-SF", kind="report", rule="run:SF")
    intervene(sf, 3, "pin", version=1)
    [stale] = sf.stale_documents(tenant=TENANT)  # a pin binds best, not run:SF
    assert (stale.reference, [(x.used.version, x.now.version) for x in stale.lines]) == (
        "INV-1",
        [(2, 1)],
    )
    assert [line.version for line in issue(sf, "INV-PINNED").lines] == [2, 2, 1]
    intervene(sf, 3, "release")
    assert [d.reference for d in sf.stale_documents(tenant=TENANT)] == ["INV-PINNED"]


@pytest.mark.parametrize(("settlement_date", "count"), [(SHORT_DAY, 46), (LONG_DAY, 50), (DAY, 48)])
def test_no_periods_named_is_every_period_of_that_day(
    runtime: LedgerRuntime, files: Path, cli: Cli, settlement_date: date, count: int
) -> None:
    report = write_report(files, run_type="SF", settlement_date=settlement_date)
    assert runtime.ingest(report.path, tenant=TENANT).status == "accepted"
    document = issue(runtime, periods=None, settlement_date=settlement_date)
    assert [line.settlement_period for line in document.lines] == list(range(1, count + 1))

    code, out, err = cli(
        *("--tenant", TENANT, "documents", "issue", "--kind", "invoice", "--reference", "CLI-1"),
        *("--actor", "f.finance", "--subject", PARTY_SUBJECT, "--date", str(settlement_date)),
        *("--measure", MEASURE),
    )
    assert (code, err) == (0, "")
    lines = json.loads(out)["lines"]
    assert [line["settlement_period"] for line in lines] == list(range(1, count + 1))


def test_a_period_or_measure_named_twice_is_refused_naming_it(sf: LedgerRuntime, cli: Cli) -> None:
    before = dump_views(sf)
    with pytest.raises(LedgerError, match="^period 14 is named 3 times: name each period once$"):
        issue(sf, periods=[14, 2, 14, 14])
    with pytest.raises(LedgerError, match=rf"^measure '{MEASURE}' is named 2 times: name each"):
        issue(sf, measures=[MEASURE, MEASURE])
    many = [p for p in range(1, 6) for _ in range(2)]
    with pytest.raises(LedgerError, match=r"period 3 is named 2 times \(and 2 more periods\)"):
        issue(sf, periods=many)
    code, _, err = cli(
        *("--tenant", TENANT, "documents", "issue", "--kind", "invoice", "--reference", "X"),
        *("--actor", "f.finance", "--subject", PARTY_SUBJECT, "--date", str(DAY)),
        *("--measure", MEASURE, "--measure", MEASURE),
    )
    assert (code, err) == (
        2,
        f"ledger: measure '{MEASURE}' is named 2 times: name each measure once\n",
    )
    assert dump_views(sf) == before


BP7_UNITS = {f.name: f.unit for f in layout_for("S0142013")[0].records["BP7"].fields}


def test_a_bm_unit_document_totals_each_measure_and_adds_only_cash(sf: LedgerRuntime) -> None:
    document = issue(sf, "BMU-1", subject=BMU_SUBJECT, periods=[1, 2], measures=[])
    units = {line.measure: line.unit for line in document.lines}
    assert units == {measure: BP7_UNITS[measure] for measure in units}
    assert {"GBP", "MWh", "factor"} <= set(units.values())
    by_measure: dict[str, list[Decimal]] = {}
    for line in document.lines:
        by_measure.setdefault(line.measure, []).append(line.value)
    assert [(t.measure, t.unit, t.total, t.lines) for t in document.totals] == [
        (m, units[m], sum(values, Decimal(0)), 2) for m, values in by_measure.items()
    ]
    cash = [line.value for line in document.lines if line.unit == "GBP"]
    assert (document.total, document.total_unit) == (sum(cash, Decimal(0)), "GBP")
    assert document.total != sum(line.value for line in document.lines)
    assert sf.document("BMU-1", tenant=TENANT) == document

    volumes = issue(sf, "BMU-2", subject=BMU_SUBJECT, measures=["bm_unit_metered_volume"])
    assert volumes.total is None  # no cash line: no grand total
    [total] = volumes.totals
    assert (total.unit, total.lines) == ("MWh", 3)


def test_a_measure_of_no_known_unit_is_shown_so_and_never_added_into_money(
    runtime: LedgerRuntime, files: Path
) -> None:
    page = files / "prices.json"
    page.write_bytes(disebsp_page(disebsp_day(DAY, datetime(2026, 5, 2, tzinfo=UTC))))
    assert runtime.ingest(page, tenant=TENANT).status == "accepted"
    measures = ["system_sell_price", "total_accepted_offer_volume"]
    document = issue(runtime, subject="system", periods=[1], measures=measures)
    assert [(line.measure, line.unit) for line in document.lines] == [
        ("system_sell_price", "GBP/MWh"),
        ("total_accepted_offer_volume", None),
    ]
    assert [(t.measure, t.unit) for t in document.totals] == [
        ("system_sell_price", "GBP/MWh"),
        ("total_accepted_offer_volume", None),
    ]
    assert document.total is None


def as_schema_version_1(stored: StoredEvent) -> StoredEvent:
    """A document's event as it was stored before lines named their units: no ``unit`` in its
    lines, and a total adding every line, whatever its unit."""
    state = json.loads(stored.state)
    assert state.pop("class_version") == 2
    for line in state["lines"]:
        del line["unit"]
    every_line = sum(Decimal(line["value"]) for line in state["lines"])
    state["total"] = {"_type_": "decimal_str", "_data_": str(every_line)}
    return StoredEvent(
        stored.originator_id, stored.originator_version, stored.topic, json.dumps(state).encode()
    )


def test_documents_issued_before_units_show_them_after_an_upgrade(
    sf: LedgerRuntime, files: Path, open_runtime: Callable[[], LedgerRuntime]
) -> None:
    # A BM Unit document as schema 6 stored it: events of version 1 (no units; a total adding
    # volumes and loss factors to cash), then views without units.
    lines = [
        DocumentLine(
            subject=BMU_SUBJECT,
            settlement_date=DAY,
            settlement_period=period,
            measure=measure,
            value=Decimal(value),
            version=best.version,
            kind=best.kind,
            run_type=best.run_type,
            run_number=best.run_number,
            source_sha256=None if best.source is None else best.source.sha256,
            unit=None,
        )
        for period in (1, 2)
        if (best := sf.period(BMU_SUBJECT, DAY, period, tenant=TENANT).best) is not None
        for measure, value in best.values.items()
    ]
    old = Document.issue(TENANT, "OLD-1", "invoice", Rule("best"), "f.finance", lines)
    old.reissue("f.finance", "again", lines)
    stored = [
        as_schema_version_1(sf.ledger.mapper.to_stored_event(e)) for e in old.collect_events()
    ]
    assert '"unit"' not in stored[0].state.decode()
    sf.ledger.recorder.insert_events(stored)
    sf.runner.catch_up()
    new = issue(sf, "NEW-1", subject=BMU_SUBJECT, periods=[1, 2], measures=[])
    assert new.total is not None and {line.unit for line in new.lines} >= {"GBP", "MWh"}
    [old_event, _] = sf.ledger.event_history(old.id)
    assert old_event.total is None  # upcast: version 1's total added every unit

    def shown(runtime: LedgerRuntime, reference: str) -> Any:
        view = runtime.document(reference, tenant=TENANT).model_dump(mode="json")
        return {k: view[k] for k in ("lines", "totals", "total", "total_unit")}

    assert shown(sf, "OLD-1") == shown(sf, "NEW-1")
    assert sf.ingest(write_report(files, run_type="R1").path, tenant=TENANT).status == "accepted"
    documents = {ref: sf.document(ref, tenant=TENANT) for ref in ("OLD-1", "NEW-1")}
    stale = sf.stale_documents(tenant=TENANT)
    assert {s.reference for s in stale} == {"OLD-1", "NEW-1"}

    # The views as schema 6 left them: no units, GBP totals or runs of what is chosen now, no
    # revisions kept; then a release with schema 7.
    with sf.database.transaction() as tx:
        for table, column in (
            ("document_lines", "unit"),
            ("documents", "gbp_total"),
            ("document_lines", "now_run_type"),
            ("document_lines", "now_run_number"),
        ):
            tx.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        tx.execute("DROP TABLE document_revisions")
        tx.execute("DROP TABLE document_revision_lines")
        sf.ledger.view_tracking.forget(tx, ["document_revisions"])
        tx.execute("UPDATE ledger_schema SET version = 6")
    upgraded = open_runtime()
    assert shown(upgraded, "OLD-1") == shown(upgraded, "NEW-1") == shown(sf, "NEW-1")
    assert upgraded.stale_documents(tenant=TENANT) == stale
    # The revisions are taken in by the next catch-up: until then they are not claimed.
    assert upgraded.document("OLD-1", tenant=TENANT).revisions is None
    with pytest.raises(LedgerBusy, match="revision 1 of document OLD-1 is not in the views yet"):
        upgraded.document("OLD-1", tenant=TENANT, revision=1)
    upgraded.runner.catch_up()
    assert {ref: upgraded.document(ref, tenant=TENANT) for ref in documents} == documents
    first = upgraded.document("OLD-1", tenant=TENANT, revision=1)
    assert (first.revision, first.lines, first.total) == (1, documents["OLD-1"].lines, new.total)
    assert upgraded.verify().equal


def run_together(commands: Sequence[Callable[[int], object]], rounds: int) -> None:
    """Each command in a thread of its own, all started at once, ``rounds`` times each; a
    business refusal (a held period) is part of the race, anything else fails the test."""
    start = threading.Barrier(len(commands))
    failures: list[BaseException] = []

    def attempts(command: Callable[[int], object]) -> None:
        start.wait()
        for n in range(rounds):
            try:
                command(n)
            except LedgerError:  # held at the time: refused, writing nothing
                pass
            except BaseException as exc:  # reported below
                failures.append(exc)

    threads = [threading.Thread(target=attempts, args=(command,)) for command in commands]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def documents_while_held(runtime: LedgerRuntime, period: int) -> tuple[list[str], int, int]:
    """Reading the log in the order of its positions: the document events using ``period``
    recorded while a hold stood on it (one no release had lifted), how many documents used it
    and how many holds were made on it."""
    with runtime.database.transaction(write=False) as tx:
        log = runtime.ledger.event_store.read_after(tx, 0, 100_000)
    held, while_held, documents, holds = False, [], 0, 0
    for notification in log:
        event = runtime.ledger.mapper.to_domain_event(notification)
        if isinstance(event, SettlementPeriod.InterventionMade):
            if (event.tenant, event.subject, event.settlement_period) == (
                TENANT,
                PARTY_SUBJECT,
                period,
            ):
                held = event.action == "hold" or (held and event.action != "release")
                holds += event.action == "hold"
        elif isinstance(event, Document.Issued | Document.Reissued):
            if any(line["settlement_period"] == period for line in event.lines):
                documents += 1
                if held:
                    while_held.append(f"{event.reference} at {notification.id}")
    return while_held, documents, holds


def test_no_document_is_ever_recorded_while_a_hold_stands_on_its_period(sf: LedgerRuntime) -> None:
    # Documents issued and re-issued while another person holds and releases their period,
    # all at once: whatever the interleaving, the log never has a document using the period
    # after a hold that no release lifted before it.
    period, rounds = 7, 25
    issue(sf, "BASE", periods=[period])

    def hold_and_release(_: int) -> None:
        intervene(sf, period, "hold")
        intervene(sf, period, "release")

    run_together(
        [
            hold_and_release,
            lambda n: issue(sf, f"RACE-{n}", periods=[period]),
            lambda n: sf.reissue_document("BASE", actor="f.finance", reason=f"#{n}", tenant=TENANT),
        ],
        rounds,
    )
    while_held, documents, holds = documents_while_held(sf, period)
    assert while_held == []
    assert holds == rounds and documents > 1  # the race ran: holds, and documents around them


@pytest.mark.parametrize(
    ("instant", "message"),
    [
        ("0001-01-01T00:00:00+14:00", "is out of range: the ledger answers for instants from"),
        ("2199-12-31T23:00:00Z", "is later than now"),
        ("2026-06-01T12:00:00.123456789Z", "finer than a microsecond"),
        ("٢٠٢٦-06-01T12:00:00Z", "is not an ISO 8601 instant"),
    ],
)
def test_as_of_instants_out_of_range_in_the_future_or_inexact_are_refused(
    sf: LedgerRuntime, instant: str, message: str
) -> None:
    before = dump_views(sf)
    with pytest.raises(LedgerError, match=rf"^(rule )?as-of.*{message}"):
        issue(sf, rule=f"as-of:{instant}")
    soon = datetime.now(UTC) + timedelta(minutes=5)
    with pytest.raises(LedgerError, match="is later than now"):
        issue(sf, rule=f"as-of:{soon.isoformat()}")
    assert dump_views(sf) == before
    # An instant the ledger has reached, to the microsecond (trailing zeros lose nothing).
    issued = issue(sf, rule=f"as-of:{datetime.now(UTC):%Y-%m-%dT%H:%M:%S.%f}000Z")
    assert [line.version for line in issued.lines] == [2, 2, 2]


def test_a_document_has_at_most_the_lines_the_setting_allows(
    sf: LedgerRuntime, open_runtime: Callable[[], LedgerRuntime], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_MAX_DOCUMENT_LINES", "5")
    limited = open_runtime()
    before = dump_views(limited)
    message = r"^the document would have {} lines, more than the 5 a document may have"
    with pytest.raises(LedgerError, match=message.format(6)):
        issue(limited, periods=[1, 2, 3], measures=[MEASURE, "energy_imbalance_cashflow"])
    with pytest.raises(LedgerError, match=message.format(8)):  # every measure of one period
        issue(limited, periods=[1], measures=[])
    assert dump_views(limited) == before
    assert len(issue(limited, periods=[1, 2, 3, 4, 5]).lines) == 5
    with pytest.raises(LedgerError, match="101 measures named: a document names at most 100"):
        issue(limited, "INV-2", measures=[f"m{n}" for n in range(101)])


def test_the_default_limit_holds_a_long_day_of_every_system_measure(
    runtime: LedgerRuntime, files: Path
) -> None:
    report = write_report(files, run_type="SF", settlement_date=LONG_DAY)
    assert runtime.ingest(report.path, tenant=TENANT).status == "accepted"
    document = issue(runtime, subject="system", settlement_date=LONG_DAY, periods=None, measures=[])
    assert len(document.lines) > 50 * 40 and len(document.totals) > 40


def test_periods_typed_are_checked_against_the_day_before_any_is_listed(
    sf: LedgerRuntime, cli: Cli
) -> None:
    common = ("--tenant", TENANT, "documents")
    issuing = (
        *(*common, "issue", "--kind", "invoice", "--reference", "X", "--actor", "f.finance"),
        *("--subject", PARTY_SUBJECT, "--date", str(DAY), "--measure", MEASURE, "--periods"),
    )
    for periods, message in (
        ("1-100000000", "settlement period '100000000' does not exist on 2026-05-01"),
        ("1-99999999999999999999", "settlement period '99999999999999999999' does not exist"),
        ("1-49", "settlement period 49 does not exist on 2026-05-01, which has 48 periods"),
        ("٣", "'٣' is not a settlement period or a range of them"),
        ("5-2", "'5-2': a range of periods runs upwards, e.g. 2-5"),
        ("x", "'x' is not a settlement period"),
    ):
        code, out, err = cli(*issuing, periods)
        assert (code, out) == (2, "") and err.startswith(f"ledger: --periods: {message}")
        assert err.count("\n") == 1
    code, _, err = cli(*common, "using", PARTY_SUBJECT, str(DAY), "٣")
    assert (code, err) == (
        2,
        "ledger: '٣' is not a settlement period: write its number in digits, e.g. 7\n",
    )
    assert cli(*issuing, "3")[0] == 0


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("INV/7", "reference 'INV/7' is not one the ledger takes: write letters, digits"),
        ("INV 7", "reference 'INV 7' is not one"),
        ("..", "reference '..' is not one"),
        ("-INV-7", "reference '-INV-7' is not one"),
        ("INV-7%2F8", "reference 'INV-7%2F8' is not one"),
        ("FACTURE-É", "reference 'FACTURE-É' is not one"),
        ("X" * 101, r"reference 'X+'... \(101 characters\) is not one the ledger"),
        ("stale", "reference 'stale' is a word the API's routes use"),
        ("Stale", "reference 'Stale' is a word the API's routes use"),
    ],
)
def test_a_reference_every_route_could_not_reach_is_refused(
    sf: LedgerRuntime, reference: str, message: str
) -> None:
    before = dump_views(sf)
    with pytest.raises(LedgerError, match=f"^document {message}"):
        issue(sf, reference)
    assert dump_views(sf) == before


def test_documents_issued_under_other_references_earlier_are_still_read(
    sf: LedgerRuntime, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As a release before references were restricted issued them.
    with monkeypatch.context() as earlier:
        for module in (ledger.domain.documents, ledger.service.runtime):
            earlier.setattr(module, "document_reference", str.strip)
        issue(sf, "INV/2025 7")
    code, out, err = cli("--tenant", TENANT, "documents", "show", "INV/2025 7")
    assert (code, err) == (0, "") and json.loads(out)["reference"] == "INV/2025 7"
    code, out, err = cli(
        *("--tenant", TENANT, "documents", "cancel", "INV/2025 7"),
        *("--actor", "f.finance", "--reason", "raised in error"),
    )
    assert (code, err) == (0, "") and json.loads(out)["status"] == "cancelled"
    assert issue(sf, "INV-2025.7_b").reference == "INV-2025.7_b"


def test_a_tenants_documents_are_listed_a_page_at_a_time(sf: LedgerRuntime, cli: Cli) -> None:
    for reference in ("INV-3", "INV-1", "REP-1", "INV-2", "INV-4"):
        kind = "report" if reference.startswith("REP") else "invoice"
        issue(sf, reference, kind=kind)
    sf.cancel_document("INV-2", actor="f.finance", reason="void", tenant=TENANT)
    first = sf.documents(tenant=TENANT, limit=2)
    assert ([d.reference for d in first.documents], first.next_after) == (
        ["INV-1", "INV-2"],
        "INV-2",
    )
    second = sf.documents(tenant=TENANT, limit=2, after=first.next_after)
    assert [d.reference for d in second.documents] == ["INV-3", "INV-4"]
    last = sf.documents(tenant=TENANT, limit=2, after=second.next_after)
    assert ([d.reference for d in last.documents], last.next_after) == (["REP-1"], None)
    [one] = sf.documents(tenant=TENANT, status="cancelled").documents
    assert (one.reference, one.status, one.revision) == ("INV-2", "cancelled", 1)
    assert one.total == sf.document("INV-2", tenant=TENANT).total
    assert [d.reference for d in sf.documents(tenant=TENANT, kind="report").documents] == ["REP-1"]
    assert sf.documents(tenant="someone-else").documents == []
    for refused, message in (
        ({"limit": 0}, "a page of documents holds 1 to 1000, not 0"),
        ({"limit": 1001}, "not 1001"),
        ({"status": "paid"}, "unknown status 'paid'"),
        ({"kind": "receipt"}, "unknown document kind 'receipt'"),
    ):
        with pytest.raises(LedgerError, match=message):
            sf.documents(tenant=TENANT, **refused)

    code, out, err = cli(
        "--tenant", TENANT, "documents", "list", "--status", "issued", "--limit", "3"
    )
    assert (code, err) == (0, "")
    page = json.loads(out)
    assert ([d["reference"] for d in page["documents"]], page["next_after"]) == (
        ["INV-1", "INV-3", "INV-4"],
        "INV-4",
    )
    assert set(page["documents"][0]) >= {"reference", "kind", "status", "revision", "total"}
    assert cli("--tenant", TENANT, "documents", "list", "--limit", "٣")[0] == 2


def test_every_revision_is_kept_and_shown_from_the_views(
    sf: LedgerRuntime, files: Path, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = issue(sf)
    assert sf.ingest(write_report(files, run_type="R1").path, tenant=TENANT).status == "accepted"
    second = sf.reissue_document("INV-1", actor="a.auditor", reason="R1 arrived", tenant=TENANT)
    assert [line.version for line in second.lines] == [3, 3, 3]
    history = second.revisions
    assert history is not None
    assert [(r.revision, r.actor, r.reason, r.total, r.lines) for r in history] == [
        (1, "f.finance", None, first.total, 3),
        (2, "a.auditor", "R1 arrived", second.total, 3),
    ]
    assert (history[0].recorded_at, history[1].recorded_at) == (first.revised_at, second.revised_at)
    assert (second.revision, second.current_revision, second.reason) == (2, 2, "R1 arrived")

    # A revision's lines are read from a view by key, never by replaying the document's events.
    with monkeypatch.context() as without_replay:
        without_replay.setattr(sf.ledger.repository, "get", None)
        earlier = sf.document("INV-1", tenant=TENANT, revision=1)
        assert (earlier.revision, earlier.current_revision) == (1, 2)
        assert (earlier.lines, earlier.totals, earlier.total) == (
            first.lines,
            first.totals,
            first.total,
        )
        assert (earlier.actor, earlier.revised_at, earlier.reason) == (
            "f.finance",
            first.revised_at,
            None,
        )
        assert earlier.revisions == history
        assert sf.document("INV-1", tenant=TENANT, revision=2) == second
        for missing in (0, 3):
            with pytest.raises(
                NotFound, match=f"has revisions 1 to 2: it has no revision {missing}"
            ):
                sf.document("INV-1", tenant=TENANT, revision=missing)

    cancelled = sf.cancel_document("INV-1", actor="f.finance", reason="void", tenant=TENANT)
    assert (cancelled.status, cancelled.cancelled_by, cancelled.cancel_reason) == (
        "cancelled",
        "f.finance",
        "void",
    )
    code, out, err = cli("--tenant", TENANT, "documents", "show", "INV-1", "--revision", "1")
    assert (code, err) == (0, "")
    shown = json.loads(out)
    assert (shown["revision"], shown["status"], len(shown["revisions"])) == (1, "cancelled", 2)
    assert [line["version"] for line in shown["lines"]] == [2, 2, 2]
    code, _, err = cli("--tenant", TENANT, "documents", "show", "INV-1", "--revision", "x")
    assert (code, err) == (2, "ledger: --revision 'x': write a whole number, e.g. 2\n")


def test_stale_and_using_name_each_versions_run_and_leave_out_what_did_not_move(
    sf: LedgerRuntime,
) -> None:
    issue(sf, "INV-1", periods=[1, 2])
    issue(sf, "INV-2", periods=[2])
    # Period 2's version used is corrected to the same value: another version, nothing moved.
    sf.correct(
        PARTY_SUBJECT,
        DAY,
        2,
        supersedes=2,
        values={MEASURE: value_of(sf, 2, 2)},
        reason="restated, unchanged",
        actor="o.ops",
        tenant=TENANT,
    )
    sf.correct(
        PARTY_SUBJECT,
        DAY,
        1,
        supersedes=2,
        values={MEASURE: Decimal("12.34")},
        reason="restated",
        actor="o.ops",
        tenant=TENANT,
    )
    [stale] = sf.stale_documents(tenant=TENANT)  # INV-2's only stale line did not move
    [line] = stale.lines
    assert (stale.reference, line.settlement_period) == ("INV-1", 1)
    assert (line.used.run_type, line.used.run_number, line.used.version) == ("SF", 1, 2)
    assert (line.now.run_type, line.now.run_number, line.now.version) == ("SF", 1, 3)
    [use] = [
        u
        for u in sf.documents_using(PARTY_SUBJECT, DAY, 2, tenant=TENANT)
        if u.reference == "INV-2"
    ]
    assert (use.run_type, use.run_number, use.version, use.stale) == ("SF", 1, 2, True)
    assert (use.now.version, use.now.value, use.now.run_type) == (3, use.value, "SF")
