"""The FastAPI application: every route is scoped to a tenant; OpenAPI at ``/docs``.

Errors: ``{"detail": "<business message>"}`` with 400 (a subject, date, period or instant
that does not exist or is malformed) or 404 (nothing under that identity for the tenant);
request validation errors keep FastAPI's 422 shape, their input echoed escaped and bounded
(``api.errors``). The runtime is shared by the worker
threads that serve the sync handlers: its database opens a connection per transaction
(SQLite) or draws one from a pool (PostgreSQL).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from psycopg_pool import PoolTimeout
from starlette.exceptions import HTTPException

from api.errors import JSONAnswer, http_refused, validation_refused
from api.routers import documents, exceptions, feed, finance, mappings, operations
from api.schemas import Health
from api.streams import StreamGate
from api.uploads import UploadGate
from ledger.adapters.raw_payloads import PayloadTooLarge
from ledger.adapters.storage import DATABASE_INTERRUPTIONS
from ledger.domain.errors import ConfigurationError, LedgerBusy, LedgerError, LedgerUnavailable
from ledger.service.application import NotFound
from ledger.service.runtime import LedgerRuntime
from ledger.service.settings import StreamSettings, UploadSettings

_log = logging.getLogger("ledger.api")


def create_app(
    runtime: LedgerRuntime | None = None,
    *,
    uploads: UploadSettings | None = None,
    streams: StreamSettings | None = None,
) -> FastAPI:
    """The API over a ledger runtime (by default the one LEDGER_DATABASE_URL names).

    A runtime passed in stays the caller's to close; one made here is closed at shutdown.
    """
    owned = runtime is None

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if owned:
            app.state.runtime.close()

    app = FastAPI(
        title="Settlement ledger",
        description="Every version of every GB settlement value, with its evidence.",
        version="0.1.0",
        lifespan=lifespan,
        default_response_class=JSONAnswer,
    )
    app.state.upload_gate = UploadGate(uploads or UploadSettings.from_env())
    app.state.stream_gate = StreamGate(streams or StreamSettings.from_env())
    app.state.runtime = runtime or LedgerRuntime()

    app.add_exception_handler(RequestValidationError, validation_refused)
    app.add_exception_handler(HTTPException, http_refused)

    @app.exception_handler(NotFound)
    async def not_found(_: Request, exc: NotFound) -> JSONAnswer:
        return JSONAnswer(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(LedgerBusy)
    @app.exception_handler(LedgerUnavailable)
    async def busy(_: Request, exc: Exception) -> JSONAnswer:
        return JSONAnswer(
            status_code=503, content={"detail": str(exc)}, headers={"Retry-After": "30"}
        )

    async def interrupted(_: Request, exc: Exception) -> JSONAnswer:
        # A restart, a lost connection or no free connection: retry later, nothing is lost.
        detail = (
            "the ledger is busy: no database connection came free in time"
            if isinstance(exc, PoolTimeout)
            else "the database was interrupted; whatever was recorded is kept: try again"
        )
        return JSONAnswer(status_code=503, content={"detail": detail}, headers={"Retry-After": "5"})

    for fault in DATABASE_INTERRUPTIONS:
        app.add_exception_handler(fault, interrupted)

    @app.exception_handler(PayloadTooLarge)
    async def too_large(_: Request, exc: PayloadTooLarge) -> JSONAnswer:
        return JSONAnswer(status_code=413, content={"detail": str(exc)})

    @app.exception_handler(ConfigurationError)
    async def misconfigured(_: Request, exc: ConfigurationError) -> JSONAnswer:
        # The operator's to fix, not the client's: the details (paths, hosts) stay in the log.
        _log.error("ledger: %s", exc)
        return JSONAnswer(
            status_code=503,
            content={
                "detail": "the ledger cannot use its database as configured; the server's "
                "log says why (an operator must fix it)"
            },
        )

    @app.exception_handler(LedgerError)
    async def bad_request(_: Request, exc: LedgerError) -> JSONAnswer:
        return JSONAnswer(status_code=400, content={"detail": str(exc)})

    @app.get("/health", response_model=Health, tags=["health"])
    async def health() -> Health:
        """The service is up (it does not touch the database)."""
        return Health()

    app.include_router(finance.router)
    app.include_router(operations.router)
    app.include_router(feed.router)
    app.include_router(documents.router)
    app.include_router(exceptions.router)
    app.include_router(mappings.router)
    return app
