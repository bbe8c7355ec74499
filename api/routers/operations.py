"""Operations: received flows, their status and stages, their original bytes; uploads."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from api.dependencies import runtime_of
from api.schemas import FlowView, IngestOutcome, Problem

router = APIRouter(tags=["operations"])


@router.get(
    "/tenants/{tenant}/flows/{sha256}",
    response_model=FlowView,
    responses={404: {"model": Problem}},
)
def get_flow(request: Request, tenant: str, sha256: str) -> FlowView:
    """A received file's status and every stage it went through."""
    found = runtime_of(request).flow(sha256, tenant=tenant)
    if found is None:
        raise HTTPException(404, f"tenant {tenant!r} has received no file with sha256 {sha256}")
    return FlowView(
        sha256=found.sha256,
        file_name=found.file_name,
        size=found.size,
        channel=found.channel,
        status=found.status,
        flow=found.flow,
        settlement_date=found.settlement_date.isoformat() if found.settlement_date else None,
        run_type=found.run_type,
        run_number=found.run_number,
        bsc_party_id=found.bsc_party_id,
        received_at=found.received_at.isoformat(),
        receipts=found.receipts,
        periods=found.periods,
        reasons=found.reasons,
        warnings=found.warnings,
        stages=found.stages,  # type: ignore[arg-type]
    )


@router.get(
    "/tenants/{tenant}/flows/{sha256}/raw",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}, 404: {"model": Problem}},
)
def get_flow_bytes(request: Request, tenant: str, sha256: str) -> Response:
    """The original bytes of a received file, exactly as they arrived."""
    data = runtime_of(request).raw_bytes(sha256.lower(), tenant=tenant)
    if data is None:
        raise HTTPException(404, f"tenant {tenant!r} has received no file with sha256 {sha256}")
    return Response(content=data, media_type="application/octet-stream")


@router.post(
    "/tenants/{tenant}/flows",
    response_model=IngestOutcome,
    responses={422: {"model": IngestOutcome}},
)
async def post_flow(request: Request, tenant: str, file_name: str = "upload") -> Response:
    """Receive a file (the request body, as bytes): accepted, duplicate or rejected."""
    data = await request.body()
    result = runtime_of(request).ingest_bytes(data, file_name=file_name, tenant=tenant)
    outcome = IngestOutcome.model_validate(result.as_dict())
    return Response(
        content=outcome.model_dump_json(),
        status_code=422 if result.status == "rejected" else 200,
        media_type="application/json",
    )
