"""How a request reaches the ledger it is served from, and how path text becomes values."""

from __future__ import annotations

import re
from datetime import date

from fastapi import Request

from ledger.errors import InvalidSettlementPeriod
from ledger.runtime import LedgerRuntime

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def runtime_of(request: Request) -> LedgerRuntime:
    runtime = request.app.state.runtime
    assert isinstance(runtime, LedgerRuntime)
    return runtime


def settlement_date_of(text: str) -> date:
    """A settlement date written YYYY-MM-DD; a business error (400) for anything else."""
    if _ISO_DATE.fullmatch(text):
        try:
            return date.fromisoformat(text)
        except ValueError as e:
            raise InvalidSettlementPeriod(f"{text!r} is not a settlement date: {e}") from None
    raise InvalidSettlementPeriod(f"{text!r} is not a settlement date; write YYYY-MM-DD")
