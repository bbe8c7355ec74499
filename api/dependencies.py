"""How a request reaches the ledger it is served from, and how path text becomes values."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import Path, Request
from pydantic import WithJsonSchema

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


# --- What the path and query text must be, as the schema states it ---------------------------
# Documented, not enforced by FastAPI: the ledger's own parsers refuse anything else with its
# business message (a 400), the same words as the command line's.

# ledger.domain.identifiers.tenant_id
TENANT_PATTERN = r"^[a-z0-9][a-z0-9_.\-]{0,62}$"
# ledger.domain.identifiers.Subject.parse (canonical forms; lower-case ids are read as upper
# case, and an MPAN core's check digit is checked too)
SUBJECT_PATTERN = (
    r"^(system|party:[A-Z0-9_\-]{1,8}|bmu:(T_|E_|I_|2__|C__|V__|M_)[A-Z0-9_\-]{1,14}"
    r"|mpan:[0-9]{13})$"
)
# ledger.domain.settlement_time: settlement dates from 2001-03-27 to 2099-12-31
SETTLEMENT_DATE_PATTERN = (
    r"^(2001-(0[4-9]|1[0-2])-[0-9]{2}|2001-03-(2[7-9]|3[01])|20[0-9][0-9]-[0-9]{2}-[0-9]{2})$"
)
# ... and as-of instants from 2000 up to (not including) 2200, with a time zone
INSTANT_PATTERN = r"^2[01][0-9]{2}-.*(Z|z|[+-][0-9]{2}:[0-9]{2})$"

Tenant = Annotated[
    str,
    Path(
        description="the tenant: 1 to 63 lower-case letters, digits, '.', '_' or '-', starting "
        "with a letter or digit",
        examples=["acme"],
    ),
    WithJsonSchema({"type": "string", "pattern": TENANT_PATTERN, "minLength": 1, "maxLength": 63}),
]
Subject = Annotated[
    str,
    Path(
        description="system, party:<BSC Party Id>, bmu:<BM Unit Id> or mpan:<MPAN core>",
        examples=["party:PTY00001"],
    ),
    WithJsonSchema({"type": "string", "pattern": SUBJECT_PATTERN}),
]
SettlementDate = Annotated[
    str,
    Path(
        description="the settlement date, YYYY-MM-DD, from 2001-03-27 (NETA go-live) to 2099-12-31",
        examples=["2026-05-06"],
    ),
    WithJsonSchema({"type": "string", "format": "date", "pattern": SETTLEMENT_DATE_PATTERN}),
]
SettlementPeriod = Annotated[
    int,
    Path(
        description="1 to 48 (46 or 50 on clock-change days: a period the day does not have "
        "is a 400)",
        examples=[3],
    ),
    WithJsonSchema({"type": "integer", "minimum": 1, "maximum": 50}),
]
# Text, parsed by the ledger (a malformed instant is a 400 like any business error), but
# documented as what it must be.
Instant = Annotated[
    str, WithJsonSchema({"type": "string", "format": "date-time", "pattern": INSTANT_PATTERN})
]
