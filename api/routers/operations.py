"""Operations: received flows, their status and stages, their original bytes; uploads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.dependencies import Tenant, runtime_of
from api.schemas import IngestOutcome, Problem
from api.uploads import upload_gate_of
from ledger.adapters.raw_payloads import PayloadTooLarge, Spool
from ledger.domain.identifiers import tenant_id
from ledger.domain.plain_text import plain_text
from ledger.service.read_models import FlowList, FlowView, FlowWarnings, LayoutView
from ledger.service.runtime import MAX_WARNINGS_PAGE

router = APIRouter(tags=["operations"])

_MALFORMED: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "a malformed tenant name"}
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    **_MALFORMED,
    404: {"model": Problem, "description": "the tenant has received no such file"},
}


def _no_such_file(tenant: str, sha256: str) -> HTTPException:
    return HTTPException(404, f"tenant {tenant!r} has received no file with sha256 {sha256}")


@router.get(
    "/layouts/{file_type}",
    response_model=LayoutView,
    responses={
        400: {"model": Problem, "description": "a file type the ledger cannot read"},
        404: {"model": Problem, "description": "no such record in that layout"},
    },
)
def get_layout(
    file_type: str,
    record: Annotated[str | None, Query(description="one record type, e.g. BP7")] = None,
) -> LayoutView:
    """The fields the ledger reads a flow version with: every record's fields by position,
    with their IDD item, name, type, unit, decimal places and, where a source states it, the
    sign convention (a version without a table is read with the nearest earlier one)."""
    return LayoutView.of(file_type, record)


@router.get("/tenants/{tenant}/flows", response_model=FlowList, responses=_MALFORMED)
def get_flows(
    request: Request,
    tenant: Tenant,
    limit: Annotated[int, Query(ge=1, le=1000, description="at most this many")] = 100,
) -> FlowList:
    """The tenant's most recently received files, newest first."""
    return runtime_of(request).flows(tenant=tenant, limit=limit)


@router.get("/tenants/{tenant}/flows/{sha256}", response_model=FlowView, responses=_NOT_FOUND)
def get_flow(request: Request, tenant: Tenant, sha256: str) -> FlowView:
    """A received file's status and every stage it went through."""
    found = runtime_of(request).flow(sha256, tenant=tenant)
    if found is None:
        raise _no_such_file(tenant, sha256)
    return found


@router.get(
    "/tenants/{tenant}/flows/{sha256}/warnings", response_model=FlowWarnings, responses=_NOT_FOUND
)
def get_flow_warnings(
    request: Request,
    tenant: str,
    sha256: str,
    after: Annotated[
        int, Query(ge=0, description="those numbered after this (0: from the first)")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_WARNINGS_PAGE, description="at most this many")] = 100,
) -> FlowWarnings:
    """Every warning found in a received file, a page at a time, in the order found: each one
    its reader kept (up to ``LEDGER_MAX_WARNINGS``), then a line per kind of those counted
    beyond it. Read on after ``next_after`` until it is null."""
    found = runtime_of(request).flow_warnings(sha256, tenant=tenant, after=after, limit=limit)
    if found is None:
        raise _no_such_file(tenant, sha256)
    return found


@router.get(
    "/tenants/{tenant}/flows/{sha256}/raw",
    response_class=Response,
    responses={
        200: {
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
            "description": "the bytes exactly as received, rejected files included",
        },
        **_NOT_FOUND,
    },
)
def get_flow_bytes(request: Request, tenant: Tenant, sha256: str) -> Response:
    """The original bytes of a received file, exactly as they arrived (streamed)."""
    chunks = runtime_of(request).raw_stream(sha256, tenant=tenant)
    if chunks is None:
        raise _no_such_file(tenant, sha256)
    return StreamingResponse(chunks, media_type="application/octet-stream")


@router.post(
    "/tenants/{tenant}/flows",
    response_model=IngestOutcome,
    responses={
        200: {"description": "accepted, or a duplicate of bytes already received"},
        400: {"model": Problem, "description": "a malformed tenant name or file name"},
        413: {"model": Problem, "description": "larger than LEDGER_MAX_UPLOAD_BYTES"},
        503: {
            "model": Problem,
            "description": "LEDGER_API_INGESTS files are being processed and no place came "
            "free within LEDGER_API_INGEST_WAIT seconds: nothing was recorded, send it again "
            "after Retry-After seconds",
        },
        422: {
            "model": IngestOutcome,
            "description": "rejected (reasons say why), or a malformed request",
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "the file itself, as sent by the BSC Central Services",
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def post_flow(
    request: Request,
    tenant: Tenant,
    file_name: Annotated[str, Query(description="the file's name, kept with it")] = "upload",
) -> JSONResponse:
    """Receive a file (the request body, as bytes): accepted, duplicate or rejected.

    The body is spooled as it arrives (constant memory) up to ``LEDGER_MAX_UPLOAD_BYTES``
    (413 beyond it). At most ``LEDGER_API_INGESTS`` files are processed at once; a file that
    finds no free place within ``LEDGER_API_INGEST_WAIT`` seconds is refused at once with 503
    and Retry-After, recording nothing: reads never queue behind uploads.
    """
    runtime = runtime_of(request)
    gate = upload_gate_of(request)
    limit = gate.settings.max_bytes
    # Refuse what can be refused before reading a byte of the body.
    tenant = tenant_id(tenant)
    file_name = plain_text(file_name, "the file name")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge.of(file_name, limit)
    with Spool(limit=limit, name=file_name) as spool:
        async for chunk in request.stream():
            spool.write(chunk)
        async with gate.admitted(file_name):
            # The runtime blocks (database, parsing): keep it off the event loop.
            result = await run_in_threadpool(
                runtime.ingest_spool, spool, file_name=file_name, tenant=tenant
            )
    outcome = IngestOutcome.model_validate(result.as_dict())
    return JSONResponse(
        content=outcome.model_dump(mode="json"),
        status_code=422 if result.status == "rejected" else 200,
    )
