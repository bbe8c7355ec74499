"""How a request reaches the ledger it is served from."""

from __future__ import annotations

from fastapi import Request

from ledger.runtime import LedgerRuntime


def runtime_of(request: Request) -> LedgerRuntime:
    runtime = request.app.state.runtime
    assert isinstance(runtime, LedgerRuntime)
    return runtime
