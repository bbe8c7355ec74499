"""The exception queue: list it (most at risk first), read one exception with its history, and
acknowledge, resolve, dismiss, reopen or reassign one. The same operations and answers as
``ledger exceptions``; an exception is named by its id, the start of its id (at least 8
hexadecimal digits naming one exception; a start several share is a 400 naming them), or its
key (by its id when the key holds a ``/``, which a path cannot carry)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field, WithJsonSchema

from api.dependencies import SUBJECT_PATTERN, Tenant, runtime_of
from api.schemas import Problem
from ledger.domain.exception_queue import Category, Impact, Status
from ledger.domain.identifiers import Subject
from ledger.service.exceptions import ExceptionView

router = APIRouter(tags=["exceptions"])

_REFUSED: dict[int | str, dict[str, Any]] = {
    400: {
        "model": Problem,
        "description": "refused: no person or reason, a change the exception's status does "
        "not allow (a resolved exception acknowledged, an open one reopened...), the start "
        "of an id that several exceptions share, a malformed tenant name",
    },
    404: {"model": Problem, "description": "the tenant has no such exception"},
}


class ChangeRequest(BaseModel):
    """Who changes an exception, and why."""

    actor: str = Field(description="who", json_schema_extra={"minLength": 1, "maxLength": 255})
    reason: str = Field(description="why", json_schema_extra={"minLength": 1, "maxLength": 2000})


class AssignRequest(ChangeRequest):
    """Who gives an exception to another owner, and why."""

    owner: str = Field(
        description="the new owner: a team or a person",
        json_schema_extra={"minLength": 1, "maxLength": 255},
    )


@router.get(
    "/tenants/{tenant}/exceptions",
    response_model=list[ExceptionView],
    responses={400: {"model": Problem, "description": "a malformed tenant name or subject"}},
)
def list_exceptions(
    request: Request,
    tenant: Tenant,
    status: Status | None = None,
    impact: Impact | None = None,
    category: Category | None = None,
    subject: Annotated[
        str | None,
        Query(description="only those about this subject"),
        WithJsonSchema({"type": "string", "pattern": SUBJECT_PATTERN}),
    ] = None,
) -> list[ExceptionView]:
    """The tenant's exceptions, those with the status, impact, category and subject given:
    what puts the most at risk first, then the oldest."""
    return runtime_of(request).exceptions.find(
        tenant=tenant,
        status=None if status is None else status.value,
        impact=None if impact is None else impact.value,
        category=None if category is None else category.value,
        subject=None if subject is None else str(Subject.parse(subject)),
    )


@router.get(
    "/tenants/{tenant}/exceptions/{exception}", response_model=ExceptionView, responses=_REFUSED
)
def get_exception(request: Request, tenant: Tenant, exception: str) -> ExceptionView:
    """One exception with its whole history, by id or by key."""
    return runtime_of(request).exceptions.get(exception, tenant=tenant)


@router.post(
    "/tenants/{tenant}/exceptions/{exception}/assign",
    response_model=ExceptionView,
    responses=_REFUSED,
)
def assign_exception(
    request: Request, tenant: Tenant, exception: str, body: AssignRequest
) -> ExceptionView:
    """Give the exception to another owner, naming who and why."""
    return runtime_of(request).exceptions.assign(
        exception, tenant=tenant, owner=body.owner, actor=body.actor, reason=body.reason
    )


@router.post(
    "/tenants/{tenant}/exceptions/{exception}/{change}",
    response_model=ExceptionView,
    responses=_REFUSED,
)
def change_exception(
    request: Request,
    tenant: Tenant,
    exception: str,
    change: Annotated[Literal["acknowledge", "resolve", "dismiss", "reopen"], Path()],
    body: ChangeRequest,
) -> ExceptionView:
    """Acknowledge, resolve, dismiss or reopen the exception, naming who and why."""
    return runtime_of(request).exceptions.change(
        change, exception, tenant=tenant, actor=body.actor, reason=body.reason
    )
