"""How the API answers a request it refuses: JSON that always renders, whatever was sent.

A JSON body may carry text no response can encode as it is (a lone surrogate, ``"\\ud800"``,
is valid JSON escape syntax but no UTF-8): every answer is rendered so that it never fails,
and a request validation error (422, FastAPI's shape) echoes the input it refuses escaped and
bounded, never the whole of a large body.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import compile_path

# At most this many of a request's validation errors are listed (the first ones).
MAX_ERRORS = 20
# Echoed input: strings cut to this many characters, lists and objects to this many items,
# nesting to this depth.
ECHO_CHARACTERS = 200
ECHO_ITEMS = 20
ECHO_DEPTH = 4


class JSONAnswer(JSONResponse):
    """FastAPI's JSON response, rendered with every text escaped when some of it cannot be
    encoded as UTF-8 (the same JSON, read back, never a 500 while rendering)."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(
                content, ensure_ascii=True, allow_nan=False, indent=None, separators=(",", ":")
            ).encode("ascii")


async def validation_refused(_: Request, exc: Exception) -> JSONAnswer:
    """A request the API's schema refuses: 422 with FastAPI's ``detail`` list, each error's
    input echoed safely (escaped, bounded) and at most :data:`MAX_ERRORS` errors."""
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())[:MAX_ERRORS]
    return JSONAnswer(status_code=422, content={"detail": echoed(jsonable_encoder(errors))})


def echoed(value: Any, depth: int = 0) -> Any:
    """``value`` (already JSON-able) as it may be echoed back: text that UTF-8 cannot hold
    written as its escape (``\\ud800``), long text and large containers cut short."""
    if isinstance(value, str):
        text = value.encode("utf-8", "backslashreplace").decode("utf-8")
        if len(text) > ECHO_CHARACTERS:
            return f"{text[:ECHO_CHARACTERS]}... ({len(text)} characters)"
        return text
    if depth >= ECHO_DEPTH and isinstance(value, dict | list):
        return "..."
    if isinstance(value, dict):
        items = list(value.items())[:ECHO_ITEMS]
        return {echoed(str(k), depth + 1): echoed(v, depth + 1) for k, v in items}
    if isinstance(value, list):
        return [echoed(item, depth + 1) for item in value[:ECHO_ITEMS]]
    return value


async def http_refused(request: Request, exc: Exception) -> JSONAnswer:
    """An HTTP error raised by a route or the router (404, 405...), as FastAPI answers it; a
    405 names in ``Allow`` every method the path has (the router names only those of the
    first route that matched the path, so a path with GET and POST said ``Allow: GET``)."""
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    allowed = allowed_methods(request) if exc.status_code == 405 else set()
    if allowed:  # else a route the schema does not show (its docs): the router's own word
        headers["Allow"] = ", ".join(sorted(allowed))
    return JSONAnswer({"detail": exc.detail}, status_code=exc.status_code, headers=headers)


def allowed_methods(request: Request) -> set[str]:
    """Every method the application's schema gives the request's path (HEAD with GET, as the
    router answers it): the paths and methods it serves, by construction."""
    found: set[str] = set()
    paths: dict[str, Any] = request.app.openapi().get("paths", {})
    for template, operations in paths.items():
        pattern, _, _ = compile_path(template)
        if pattern.match(request.url.path):
            found.update(method.upper() for method in operations)
    if "GET" in found:
        found.add("HEAD")
    return found
