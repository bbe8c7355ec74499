"""Documents: issue, re-issue and cancel them; read one, the stale ones, and those that used a
period. The same operations and answers as ``ledger documents``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from api.dependencies import runtime_of, settlement_date_of
from api.schemas import Problem
from ledger.domain.documents import MAX_MEASURES_NAMED, MAX_REFERENCE_LENGTH, REFERENCE_PATTERN
from ledger.domain.identifiers import TENANT_PATTERN
from ledger.domain.plain_text import MAX_NAME_LENGTH, MAX_REASON_LENGTH
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


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


# Every refusal a documents route answers, by route: what the schema cannot say is a 400.
_TENANT = "a tenant name the ledger does not take"
_BUSY = _problem(
    "busy: another writer held the ledger too long, or the database was interrupted; nothing "
    "was written: try again (Retry-After)"
)
_ISSUE_REFUSED: dict[int | str, dict[str, Any]] = {
    400: _problem(
        f"refused, nothing written: {_TENANT}; a subject that is not one; a settlement date "
        "outside 2001-03-27 to 2099-12-31 or a period that day does not have; a period or "
        "measure named twice; an unknown rule or run type; an as-of instant out of range, "
        "later than now or finer than a microsecond; a period held from billing or with no "
        "version under the rule; a measure the version lacks; more lines than "
        "LEDGER_MAX_DOCUMENT_LINES; no person, or not plain text; a reference already issued"
    ),
    503: _BUSY,
}
_CHANGE_REFUSED: dict[int | str, dict[str, Any]] = {
    400: _problem(
        f"refused, nothing written: {_TENANT}; a cancelled document; no person or reason, or "
        "not plain text; (re-issue) a period now held from billing or with no version under "
        "the rule"
    ),
    404: _problem("the tenant has no such document"),
    503: _BUSY,
}
_READ_REFUSED: dict[int | str, dict[str, Any]] = {
    400: _problem(f"refused: {_TENANT}"),
    503: _problem("the database was interrupted, or no connection came free: try again"),
}
_DOCUMENT_REFUSED: dict[int | str, dict[str, Any]] = {
    **_READ_REFUSED,
    404: _problem("the tenant has no such document, or it has no such revision"),
    503: _problem(
        "the revision asked for is not in the views yet (after an upgrade), or the database "
        "was interrupted: try again"
    ),
}
_USING_REFUSED: dict[int | str, dict[str, Any]] = {
    **_READ_REFUSED,
    400: _problem(
        f"refused: {_TENANT}; a subject that is not one; a settlement date outside "
        "2001-03-27 to 2099-12-31 or a period that day does not have"
    ),
}

# A reference as the path names it: any issued (earlier ones too, so not the pattern of new
# references), at most one path segment.
Reference = Annotated[
    str, Path(max_length=MAX_REFERENCE_LENGTH, description="the document's reference")
]
# A tenant's name, as ledger.domain.identifiers checks it.
Tenant = Annotated[str, Path(pattern=f"^{TENANT_PATTERN}$", description="the tenant's name")]
SettlementDate = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
        json_schema_extra={"format": "date"},
        description="YYYY-MM-DD, from 2001-03-27 (NETA go-live) to 2099-12-31",
        examples=["2026-05-06"],
    ),
]
# A settlement day has at most 50 periods (the autumn clock change), each named once.
MAX_PERIODS = 50
Period = Annotated[int, Field(strict=True, ge=1, le=MAX_PERIODS)]
# Measures are named as the IDD names values (snake_case ASCII, as the layouts check).
MeasureName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=100)]
# best, run:<RUN> or as-of:<instant>, the rule's name in any case (Rule.parse).
_RULE_PATTERN = r"^\s*(?:[Bb][Ee][Ss][Tt]|[Rr][Uu][Nn]:.+|[Aa][Ss]-[Oo][Ff]:.+)$"


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
    actor: str = Field(
        min_length=1, max_length=MAX_NAME_LENGTH, description="who issues it (printable text)"
    )
    rule: str = Field(
        default="best",
        max_length=100,
        pattern=_RULE_PATTERN,
        description="best, run:<RUN> (e.g. run:SF) or as-of:<ISO 8601 instant with a zone, "
        "from 2000 to 2199, no later than now, to the microsecond at most>",
    )
    subject: str = Field(
        max_length=100,
        description="system, party:<BSC Party Id>, bmu:<BM Unit Id> or mpan:<MPAN core>",
        examples=["party:PTY00001"],
    )
    settlement_date: SettlementDate
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
    """Who re-issues or cancels a document, and why (printable text)."""

    actor: str = Field(min_length=1, max_length=MAX_NAME_LENGTH)
    reason: str = Field(min_length=1, max_length=MAX_REASON_LENGTH)


@router.post(
    "/tenants/{tenant}/documents",
    response_model=DocumentView,
    status_code=201,
    responses=_ISSUE_REFUSED,
)
def issue_document(request: Request, tenant: Tenant, body: IssueRequest) -> DocumentView:
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


@router.get("/tenants/{tenant}/documents", response_model=DocumentList, responses=_READ_REFUSED)
def list_documents(
    request: Request,
    tenant: Tenant,
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


@router.get(
    "/tenants/{tenant}/documents/stale",
    response_model=list[StaleDocument],
    responses=_READ_REFUSED,
)
def stale_documents(request: Request, tenant: Tenant) -> list[StaleDocument]:
    """Documents in force whose rule would now choose another version, line by line."""
    return runtime_of(request).stale_documents(tenant=tenant)


@router.get(
    "/tenants/{tenant}/documents/{reference}",
    response_model=DocumentView,
    responses=_DOCUMENT_REFUSED,
)
def get_document(
    request: Request,
    tenant: Tenant,
    reference: Reference,
    revision: Annotated[
        int | None, Query(ge=1, le=MAX_REVISION, description="an earlier revision")
    ] = None,
) -> DocumentView:
    """A document as issued (its latest revision, or ``revision``), with its revisions."""
    return runtime_of(request).document(reference, tenant=tenant, revision=revision)


@router.post(
    "/tenants/{tenant}/documents/{reference}/{change}",
    response_model=DocumentView,
    responses=_CHANGE_REFUSED,
)
def change_document(
    request: Request,
    tenant: Tenant,
    reference: Reference,
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
    responses=_USING_REFUSED,
)
def documents_using(
    request: Request,
    tenant: Tenant,
    subject: Annotated[
        str,
        Path(
            max_length=100,
            description="system, party:<BSC Party Id>, bmu:<BM Unit Id> or mpan:<MPAN core>",
        ),
    ],
    settlement_date: Annotated[
        str,
        Path(
            pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
            description="YYYY-MM-DD, from 2001-03-27 (NETA go-live) to 2099-12-31",
        ),
    ],
    settlement_period: Annotated[
        int, Path(ge=1, le=MAX_PERIODS, description="1 to the day's 46, 48 or 50")
    ],
) -> list[DocumentUse]:
    """Every document line that used this period, with the version it used."""
    return runtime_of(request).documents_using(
        subject, settlement_date_of(settlement_date), settlement_period, tenant=tenant
    )
