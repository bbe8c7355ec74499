"""Documents: issue, re-issue and cancel them; read one, the stale ones, and those that used a
period. The same operations and answers as ``ledger documents``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.dependencies import runtime_of, settlement_date_of
from api.schemas import Problem
from ledger.domain.documents import MAX_MEASURES_NAMED, MAX_REFERENCE_LENGTH, REFERENCE_PATTERN
from ledger.service.documents import (
    DEFAULT_DOCUMENTS_PAGE,
    MAX_DOCUMENTS_PAGE,
    DocumentList,
    DocumentUse,
    DocumentView,
    StaleDocument,
)

router = APIRouter(tags=["documents"])
MAX_REVISION = 2**31 - 1  # the views' revision numbers are 32-bit integers

_REFUSED: dict[int | str, dict[str, Any]] = {
    400: {
        "model": Problem,
        "description": "refused: a period held from billing or with no version under the "
        "rule, a measure the version lacks, an unknown rule or kind, no person or reason, a "
        "reference already issued, a cancelled document",
    },
    404: {"model": Problem, "description": "the tenant has no such document"},
}


# A settlement day has at most 50 periods (the autumn clock change), each named once.
MAX_PERIODS = 50
Period = Annotated[int, Field(strict=True, ge=1, le=MAX_PERIODS)]
# Measures are named as the IDD names values (snake_case ASCII, as the layouts check).
MeasureName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=100)]


class IssueRequest(BaseModel):
    """A document to issue: a line per period and measure, each resolved by ``rule``."""

    # Python's engine: the pattern's look-ahead (no route word) is beyond pydantic's default.
    model_config = ConfigDict(regex_engine="python-re")

    kind: Literal["invoice", "report", "statement"]
    reference: str = Field(
        pattern=REFERENCE_PATTERN,
        description="the document's own reference: letters, digits, '.', '_' or '-', starting "
        "with a letter or a digit, at most 100 characters, and not 'stale' (a route's word)",
        examples=["INV-2026-001"],
    )
    actor: str = Field(description="who issues it")
    rule: str = Field(
        default="best",
        description="best, run:<RUN> (e.g. run:SF) or as-of:<ISO instant with a zone>",
    )
    subject: str = Field(examples=["party:PTY00001"])
    settlement_date: str = Field(examples=["2026-05-06"], json_schema_extra={"format": "date"})
    periods: list[Period] | None = Field(
        default=None,
        max_length=MAX_PERIODS,
        description="each period once, each a period of that day; default (absent or null): "
        "every period of that settlement day (46 on the spring clock-change day, 50 on the "
        "autumn one, otherwise 48)",
    )
    measures: list[MeasureName] = Field(
        default_factory=list,
        max_length=MAX_MEASURES_NAMED,
        description="each measure once; default (empty): every measure of each chosen version",
    )


class ChangeRequest(BaseModel):
    """Who re-issues or cancels a document, and why."""

    actor: str
    reason: str


@router.post(
    "/tenants/{tenant}/documents",
    response_model=DocumentView,
    status_code=201,
    responses=_REFUSED,
)
def issue_document(request: Request, tenant: str, body: IssueRequest) -> DocumentView:
    """Issue a document; each line records the exact version it used."""
    return runtime_of(request).issue_document(
        kind=body.kind,
        reference=body.reference,
        actor=body.actor,
        rule=body.rule,
        subject=body.subject,
        settlement_date=settlement_date_of(body.settlement_date),
        periods=body.periods,
        measures=body.measures,
        tenant=tenant,
    )


@router.get(
    "/tenants/{tenant}/documents", response_model=DocumentList, responses={400: _REFUSED[400]}
)
def list_documents(
    request: Request,
    tenant: str,
    status: Literal["issued", "cancelled"] | None = None,
    kind: Literal["invoice", "report", "statement"] | None = None,
    after: Annotated[
        str | None, Query(max_length=MAX_REFERENCE_LENGTH, description="the page's next_after")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_DOCUMENTS_PAGE)] = DEFAULT_DOCUMENTS_PAGE,
) -> DocumentList:
    """A page of the tenant's documents by reference, with the status and kind given; read on
    with ``after`` set to the page's ``next_after``."""
    return runtime_of(request).documents(
        tenant=tenant, status=status, kind=kind, after=after, limit=limit
    )


@router.get("/tenants/{tenant}/documents/stale", response_model=list[StaleDocument])
def stale_documents(request: Request, tenant: str) -> list[StaleDocument]:
    """Documents in force whose rule would now choose another version, line by line."""
    return runtime_of(request).stale_documents(tenant=tenant)


@router.get(
    "/tenants/{tenant}/documents/{reference}", response_model=DocumentView, responses=_REFUSED
)
def get_document(
    request: Request,
    tenant: str,
    reference: str,
    revision: Annotated[
        int | None, Query(ge=1, le=MAX_REVISION, description="an earlier revision")
    ] = None,
) -> DocumentView:
    """A document as issued (its latest revision, or ``revision``), with its revisions."""
    return runtime_of(request).document(reference, tenant=tenant, revision=revision)


@router.post(
    "/tenants/{tenant}/documents/{reference}/{change}",
    response_model=DocumentView,
    responses=_REFUSED,
)
def change_document(
    request: Request,
    tenant: str,
    reference: str,
    change: Annotated[Literal["reissue", "cancel"], Path()],
    body: ChangeRequest,
) -> DocumentView:
    """Re-issue a document under its rule (a new revision), or cancel it."""
    runtime = runtime_of(request)
    operation = runtime.reissue_document if change == "reissue" else runtime.cancel_document
    return operation(reference, actor=body.actor, reason=body.reason, tenant=tenant)


@router.get(
    "/tenants/{tenant}/periods/{subject}/{settlement_date}/{settlement_period}/documents",
    response_model=list[DocumentUse],
)
def documents_using(
    request: Request, tenant: str, subject: str, settlement_date: str, settlement_period: int
) -> list[DocumentUse]:
    """Every document line that used this period, with the version it used."""
    return runtime_of(request).documents_using(
        subject, settlement_date_of(settlement_date), settlement_period, tenant=tenant
    )
