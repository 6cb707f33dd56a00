"""Domain errors → HTTP, in one handler: ``{"detail": message, "error": class, "context"}``.

>>> status_of(AuthError("unknown token")), status_of(SchemaError("x")), status_of(StoreError("x"))
(401, 422, 500)
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from gigaloop.errors import (
    AccessDenied,
    AuthError,
    ConfigError,
    ConflictError,
    GigaloopError,
    IngestError,
    NotFoundError,
    PayloadTooLarge,
    SchemaError,
    StoreError,
    UnsupportedFormat,
)
from gigaloop.web.shell import PAGE_HEADERS, refused_page, sign_in_page

#: Most specific first: the first class an error is an instance of gives its status.
STATUS: tuple[tuple[type[GigaloopError], int], ...] = (
    (AuthError, 401),
    (AccessDenied, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (PayloadTooLarge, 413),
    (UnsupportedFormat, 415),
    (IngestError, 400),
    (SchemaError, 422),
    (ConfigError, 400),
    (StoreError, 500),
)


def status_of(exc: GigaloopError) -> int:
    """The HTTP status of a domain error (500 for one no rule names)."""
    return next((status for kind, status in STATUS if isinstance(exc, kind)), 500)


def wants_html(request: Request) -> bool:
    """A browser navigating (it asks for HTML), not a script or a client library."""
    return "text/html" in request.headers.get("accept", "")


async def handle_domain_error(request: Request, exc: Exception) -> Response:
    """The one exception handler: our error's message and context, with its status. A
    browser gets the dashboard's sign-in page with its 401 and a refusal page with its
    403 (:mod:`gigaloop.web.shell`)."""
    assert isinstance(exc, GigaloopError)
    status = status_of(exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status in (401, 403) and wants_html(request):
        page = (sign_in_page(str(exc)) if status == 401
                else refused_page(str(exc), exc.context.get("role")))
        return HTMLResponse(page, status_code=status, headers={**PAGE_HEADERS,
                                                               **(headers or {})})
    context = {key: value if isinstance(value, str | int | float | bool | None) else str(value)
               for key, value in exc.context.items()}
    body: dict[str, Any] = {"detail": str(exc), "error": type(exc).__name__,
                            "context": context}
    return JSONResponse(body, status_code=status, headers=headers)
