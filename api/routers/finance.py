"""Finance: the versions of a settlement period, now or as known at an instant."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.dependencies import runtime_of
from api.schemas import PeriodView, Problem

router = APIRouter(tags=["finance"])


@router.get(
    "/tenants/{tenant}/periods/{subject}/{settlement_date}/{settlement_period}",
    response_model=PeriodView,
    responses={400: {"model": Problem}},
)
def get_period(
    request: Request,
    tenant: str,
    subject: str,
    settlement_date: date,
    settlement_period: int,
    as_of: Annotated[
        datetime | None,
        Query(description="only versions the ledger knew at this instant (with time zone)"),
    ] = None,
) -> PeriodView:
    """Every version of a subject's settlement period, with the best available one."""
    view = runtime_of(request).period(
        subject, settlement_date, settlement_period, tenant=tenant, as_of=as_of
    )
    return PeriodView.model_validate(view)
