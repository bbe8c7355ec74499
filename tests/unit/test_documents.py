"""The document aggregate's own rules, without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ledger.domain.documents import (
    Document,
    DocumentLine,
    DocumentRefused,
    MeasureTotal,
    total_in_gbp,
    totals_by_measure,
)
from ledger.domain.selection import InvalidRule, Rule
from ledger.flows.formats import measure_unit


def line(period: int, measure: str = "bm_unit_cashflow", value: str = "1.50") -> DocumentLine:
    return DocumentLine(
        subject="party:PTY00001",
        settlement_date=date(2026, 5, 6),
        settlement_period=period,
        measure=measure,
        value=Decimal(value),
        version=1,
        kind="run",
        run_type="SF",
        run_number=1,
        source_sha256=None,
        unit="GBP",
    )


def test_a_document_never_bills_one_value_twice() -> None:
    with pytest.raises(
        DocumentRefused, match="bm_unit_cashflow of party:PTY00001 on 2026-05-06 period 3 2 times"
    ):
        Document.issue(
            "t", "INV-1", "invoice", Rule("best"), "f.finance", [line(3), line(4), line(3)]
        )
    issued = Document.issue("t", "INV-1", "invoice", Rule("best"), "f.finance", [line(3), line(4)])
    with pytest.raises(DocumentRefused, match="period 4 2 times"):
        issued.reissue("f.finance", "again", [line(4), line(4)])


def test_totals_never_add_values_of_different_units() -> None:
    values = [
        ("bm_unit_cashflow", "GBP", Decimal("1.50")),
        ("bm_unit_metered_volume", "MWh", Decimal("10.000")),
        ("bm_unit_cashflow", "GBP", Decimal("-0.25")),
        ("transmission_loss_factor", "factor", Decimal("0.0123456")),
        ("mystery", None, Decimal("7")),
        ("bm_unit_cashflow", "EUR", Decimal("3")),  # one measure in two units: two totals
    ]
    totals = totals_by_measure(values)
    assert totals == [
        MeasureTotal("bm_unit_cashflow", "GBP", Decimal("1.25"), 2),
        MeasureTotal("bm_unit_metered_volume", "MWh", Decimal("10.000"), 1),
        MeasureTotal("transmission_loss_factor", "factor", Decimal("0.0123456"), 1),
        MeasureTotal("mystery", None, Decimal("7"), 1),
        MeasureTotal("bm_unit_cashflow", "EUR", Decimal("3"), 1),
    ]
    assert total_in_gbp(totals) == Decimal("1.25")
    assert total_in_gbp(totals[1:]) is None  # no cash: no grand total


def test_every_format_names_the_units_of_its_measures() -> None:
    assert measure_unit("bm_unit_cashflow") == "GBP"
    assert measure_unit("bm_unit_metered_volume") == "MWh"
    assert measure_unit("system_sell_price") == "GBP/MWh"
    assert measure_unit("transmission_loss_factor") == "factor"
    assert measure_unit("active_import_kwh") == "kWh"
    assert measure_unit("reactive_export_kvarh") == "kVArh"
    assert measure_unit("total_accepted_offer_volume") is None  # DISEBSP's: no unit stated
    assert measure_unit("no_such_measure") is None


def test_a_rule_is_checked_when_written_and_read_as_recorded() -> None:
    # Written by a person: as every as-of query checks its instant. Recorded by a document's
    # events: read as it was, so a view never stops on a rule accepted by an earlier release.
    with pytest.raises(InvalidRule, match="is out of range"):
        Rule.parse("as-of:0001-01-01T00:00:00+14:00")
    assert Rule.recorded("as-of:0001-01-01T00:00:00+14:00").as_of == datetime(
        1, 1, 1, tzinfo=timezone(timedelta(hours=14))
    )
    later = Rule.parse("as-of:2026-06-01T12:00:00Z")
    later.check_reached(datetime(2026, 6, 1, 12, tzinfo=UTC))  # the instant itself is reached
    with pytest.raises(InvalidRule, match="is later than now"):
        later.check_reached(datetime(2026, 6, 1, 11, 59, tzinfo=UTC))
