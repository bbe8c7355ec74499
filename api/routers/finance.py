"""Finance: the versions of a settlement period, now or as known at an instant."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from api.dependencies import runtime_of, settlement_date_of
from api.schemas import PeriodView, Problem

router = APIRouter(tags=["finance"])


@router.get(
    "/tenants/{tenant}/periods/{subject}/{settlement_date}/{settlement_period}",
    response_model=PeriodView,
    responses={
        400: {
            "model": Problem,
            "description": "no such subject, settlement date or period, or an as-of "
            "instant without a time zone",
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
        datetime | None,
        Query(
            description="only versions the ledger knew at this instant; ISO 8601 with a time "
            "zone, e.g. 2026-05-07T12:00:00Z (in a URL, write a + offset as %2B)",
        ),
    ] = None,
) -> PeriodView:
    """Every version of a subject's settlement period, with the best available one.

    A tenant that knows nothing of the period gets an empty list of versions, not a 404.
    """
    view = runtime_of(request).period(
        subject, settlement_date_of(settlement_date), settlement_period, tenant=tenant, as_of=as_of
    )
    return PeriodView.model_validate(view)
