"""How a request reaches the ledger it is served from, and how path text becomes values."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import Request

from ledger.domain.settlement_time import parse_as_of, parse_settlement_date
from ledger.service.runtime import LedgerRuntime


def runtime_of(request: Request) -> LedgerRuntime:
    runtime = request.app.state.runtime
    assert isinstance(runtime, LedgerRuntime)
    return runtime


def settlement_date_of(text: str) -> date:
    """A settlement date written YYYY-MM-DD, within the settlement era; a business error
    (400) for anything else. The same parser as the command line's."""
    return parse_settlement_date(text)


def as_of_of(text: str | None) -> datetime | None:
    """An as-of instant (ISO 8601 with a time zone) or none; a business error (400) for a
    malformed or out-of-range instant. The same parser as the command line's."""
    return None if text is None else parse_as_of(text)
