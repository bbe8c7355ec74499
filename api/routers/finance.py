"""Finance: the versions of a settlement period, now or as known at an instant."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import WithJsonSchema

from api.dependencies import as_of_of, runtime_of, settlement_date_of
from api.schemas import Problem
from ledger.service.read_models import PeriodView

router = APIRouter(tags=["finance"])

# Text, parsed by the ledger (a malformed instant is a 400 like any business error), but
# documented as what it must be.
_Instant = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]


@router.get(
    "/tenants/{tenant}/periods/{subject}/{settlement_date}/{settlement_period}",
    response_model=PeriodView,
    responses={
        400: {
            "model": Problem,
            "description": "no such subject, settlement date or period (dates run from "
            "2001-03-27 to 2099-12-31), or an as-of instant that is malformed, has no time "
            "zone or is out of range",
        }
    },
)
def get_period(
    request: Request,
    tenant: str,
    subject: Annotated[
        str,
        Path(
            description="system, party:<BSC Party Id>, bmu:<BM Unit Id> or mpan:<MPAN core>",
            examples=["party:PTY00001"],
        ),
    ],
    settlement_date: Annotated[
        str,
        Path(
            description="the settlement date, YYYY-MM-DD",
            examples=["2026-05-06"],
            json_schema_extra={"format": "date"},
        ),
    ],
    settlement_period: Annotated[
        int,
        Path(description="1 to 48 (46 or 50 on clock-change days)", examples=[3]),
    ],
    as_of: Annotated[
        _Instant | None,
        Query(
            description="only versions the ledger knew at this instant; ISO 8601 with a time "
            "zone, e.g. 2026-05-07T12:00:00Z (in a URL, write a + offset as %2B), from "
            "2000-01-01T00:00:00Z up to 2200-01-01T00:00:00Z",
        ),
    ] = None,
) -> PeriodView:
    """Every version of a subject's settlement period, with the best available one.

    A tenant that knows nothing of the period gets an empty list of versions, not a 404.
    """
    return runtime_of(request).period(
        subject,
        settlement_date_of(settlement_date),
        settlement_period,
        tenant=tenant,
        as_of=as_of_of(as_of),
    )
