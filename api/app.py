"""The FastAPI application: every route is scoped to a tenant; OpenAPI at ``/docs``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api.routers import finance, operations
from ledger.application import NotFound
from ledger.errors import LedgerError
from ledger.runtime import LedgerRuntime


def create_app(runtime: LedgerRuntime | None = None) -> FastAPI:
    """The API over a ledger runtime (by default the one LEDGER_DATABASE_URL names)."""
    app = FastAPI(
        title="Settlement ledger",
        description="Every version of every GB settlement value, with its evidence.",
        version="0.1.0",
    )
    app.state.runtime = runtime or LedgerRuntime()

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(LedgerError)
    async def bad_request(_: Request, exc: LedgerError) -> JSONResponse:
        return JSONResponse(status_code=400, content={"detail": str(exc)})

    app.include_router(finance.router)
    app.include_router(operations.router)
    return app
