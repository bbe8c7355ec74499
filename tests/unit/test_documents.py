"""The document aggregate's own rules, without a database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from ledger.domain.documents import Document, DocumentLine, DocumentRefused
from ledger.domain.selection import Rule


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
