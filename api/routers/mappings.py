"""Identity mappings: a tenant's own ids (customer, site, meter, asset) mapped to market ids over
settlement dates; add, end and correct them, list them. The same operations and answers as
``ledger mappings``. Dates are settlement dates, both ends inclusive."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, WithJsonSchema

from api.dependencies import (
    SETTLEMENT_DATE_PATTERN,
    SUBJECT_PATTERN,
    Tenant,
    runtime_of,
    settlement_date_of,
)
from api.schemas import Problem
from ledger.domain.mappings import UNCHANGED
from ledger.service.mappings import MappingList, MappingView

router = APIRouter(tags=["mappings"])

_PATH = "/tenants/{tenant}/mappings"
# A market id is a subject other than the system.
MARKET_ID_PATTERN = SUBJECT_PATTERN.replace("system|", "")
_REFUSED: dict[int | str, dict[str, Any]] = {
    400: {
        "model": Problem,
        "description": "refused: a clash with another mapping (named), a last date before the "
        "first, a malformed market id or date, no person or reason, an end that ends nothing "
        "sooner, a correction that changes nothing",
    },
    404: {"model": Problem, "description": "the tenant has no such mapping"},
}


class Attribution(BaseModel):
    """Who makes a change to a mapping, and why."""

    actor: str = Field(description="who", json_schema_extra={"minLength": 1, "maxLength": 255})
    reason: str = Field(description="why", json_schema_extra={"minLength": 1, "maxLength": 2000})


class AddRequest(Attribution):
    """A tenant's id to map to a market id from a first settlement date (to a last one)."""

    kind: Literal["customer", "site", "meter", "asset"]
    internal_id: str = Field(
        description="the tenant's own id",
        examples=["C-100"],
        json_schema_extra={"minLength": 1, "maxLength": 100},
    )
    market_id: str = Field(
        description="mpan:<MPAN core>, bmu:<BM Unit Id> or party:<BSC Party Id>",
        examples=["mpan:2499999999991"],
    )
    valid_from: str = Field(
        description="the first settlement date it holds on",
        examples=["2026-01-01"],
        json_schema_extra={"format": "date"},
    )
    valid_to: str | None = Field(
        default=None,
        description="the last settlement date it holds on (inclusive); omitted: open-ended",
        examples=["2026-01-01"],
        json_schema_extra={"format": "date"},
    )


class EndRequest(Attribution):
    """The last settlement date a mapping holds on (only ever earlier than it was)."""

    valid_to: str = Field(
        description="the last settlement date (inclusive)",
        examples=["2026-01-01"],
        json_schema_extra={"format": "date"},
    )


class CorrectRequest(Attribution):
    """New terms for a mapping: each field given is corrected (``valid_to`` given as null
    makes it open-ended); the old terms stay in its history."""

    market_id: str | None = None
    valid_from: str | None = Field(
        default=None, examples=["2026-01-01"], json_schema_extra={"format": "date"}
    )
    valid_to: str | None = Field(
        default=None,
        description="the new last settlement date; null: open-ended",
        examples=["2026-01-01"],
        json_schema_extra={"format": "date"},
    )


@router.get(_PATH, response_model=MappingList, responses=_REFUSED)
def list_mappings(
    request: Request,
    tenant: Tenant,
    market: Annotated[
        str | None,
        Query(description="only those of this market id"),
        WithJsonSchema({"type": "string", "pattern": MARKET_ID_PATTERN}),
    ] = None,
    internal_id: Annotated[
        str | None,
        Query(alias="id", description="the tenant's id"),
        WithJsonSchema({"type": "string", "pattern": r"^\S(.*\S)?$", "maxLength": 100}),
    ] = None,
    kind: Annotated[Literal["customer", "site", "meter", "asset"] | None, Query()] = None,
    on: Annotated[
        str | None,
        Query(description="only those holding on this date"),
        WithJsonSchema({"type": "string", "format": "date", "pattern": SETTLEMENT_DATE_PATTERN}),
    ] = None,
) -> MappingList:
    """The tenant's mappings as they stand; each filter given narrows them."""
    return runtime_of(request).mappings.list(
        tenant=tenant,
        market=market,
        internal=internal_id,
        kind=kind,
        on=None if on is None else settlement_date_of(on),
    )


@router.post(_PATH, response_model=MappingView, status_code=201, responses=_REFUSED)
def add_mapping(request: Request, tenant: Tenant, body: AddRequest) -> MappingView:
    """Map a tenant's id to a market id; refused when it clashes with another mapping."""
    return runtime_of(request).mappings.add(
        kind=body.kind,
        internal=body.internal_id,
        market=body.market_id,
        valid_from=settlement_date_of(body.valid_from),
        valid_to=None if body.valid_to is None else settlement_date_of(body.valid_to),
        actor=body.actor,
        reason=body.reason,
        tenant=tenant,
    )


@router.get(_PATH + "/{mapping_id}", response_model=MappingView, responses=_REFUSED)
def get_mapping(request: Request, tenant: Tenant, mapping_id: str) -> MappingView:
    """A mapping as it stands, with every change to it."""
    return runtime_of(request).mappings.get(mapping_id, tenant=tenant)


@router.post(_PATH + "/{mapping_id}/end", response_model=MappingView, responses=_REFUSED)
def end_mapping(request: Request, tenant: Tenant, mapping_id: str, body: EndRequest) -> MappingView:
    """Set the last settlement date a mapping holds on."""
    return runtime_of(request).mappings.end(
        mapping_id,
        valid_to=settlement_date_of(body.valid_to),
        actor=body.actor,
        reason=body.reason,
        tenant=tenant,
    )


@router.post(_PATH + "/{mapping_id}/correct", response_model=MappingView, responses=_REFUSED)
def correct_mapping(
    request: Request, tenant: Tenant, mapping_id: str, body: CorrectRequest
) -> MappingView:
    """Correct a mapping's market id or dates; refused when nothing changes or the new terms
    clash with another mapping."""
    valid_to: Any = UNCHANGED
    if "valid_to" in body.model_fields_set:
        valid_to = None if body.valid_to is None else settlement_date_of(body.valid_to)
    return runtime_of(request).mappings.correct(
        mapping_id,
        market=body.market_id,
        valid_from=None if body.valid_from is None else settlement_date_of(body.valid_from),
        valid_to=valid_to,
        actor=body.actor,
        reason=body.reason,
        tenant=tenant,
    )
