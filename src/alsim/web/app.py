"""The FastAPI application: routers, static files, security headers and error handling.

Every error reaches the client as one clear message: JSON ``{"detail": "..."}`` under ``/api``
and a small HTML page elsewhere. Request validation errors (422) are reworded to name the field
path; a stale version is 409; an unexpected error is logged and answered with a 500 that carries
no traceback (tests assert it never happens).
"""

from __future__ import annotations

import html
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from alsim import __version__
from alsim.errors import AlsimError
from alsim.web import auth, db
from alsim.web.config import Settings
from alsim.web.deps import STALE_MESSAGE, LoginRequired, login_redirect_url

log = logging.getLogger("alsim.web")

STATIC_DIR = Path(__file__).with_name("static")

#: Sent with every response. Pages use only their own scripts and styles (no CDN, no inline
#: script); SVG charts and images may be inline (data: URLs).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'self'"
    ),
}


def create_app(settings: Settings | None = None, *, migrate: bool = True) -> FastAPI:
    """Build the app for ``settings`` (default: :meth:`Settings.load`).

    With ``migrate`` (default) the database is brought to the newest schema first.
    """
    settings = settings or Settings.load()
    engine = db.make_engine(settings.database_url)
    if migrate:
        db.migrate(settings.database_url, engine=engine)

    from alsim.web import api, pages, research

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        hooks = [getattr(module, "startup", None) for module in (api, research, pages)]
        for hook in hooks:
            if hook is not None:
                hook(app)
        try:
            yield
        finally:
            for module in (research, pages, api):
                hook = getattr(module, "shutdown", None)
                if hook is not None:
                    hook(app)

    app = FastAPI(
        title="alsim",
        version=__version__,
        description=(
            "ALS clinical toolkit and simulation platform: patients' records, prognosis and "
            "trial eligibility; research runs. Research and education only, not medical "
            "advice. Cookie-authenticated; unsafe methods need the X-CSRF-Token header."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = db.session_factory(engine)

    app.include_router(api.router)
    app.include_router(research.router)
    app.include_router(pages.router)
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    _install_middleware(app, settings)
    _install_error_handlers(app)
    _document_errors(app)
    return app


def _document_errors(app: FastAPI) -> None:
    """Make the OpenAPI schema say what 422 really returns: one message, not a list."""
    default_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = default_openapi()
            components = schema.setdefault("components", {}).setdefault("schemas", {})
            components["HTTPValidationError"] = {
                "title": "HTTPValidationError",
                "type": "object",
                "properties": {"detail": {"type": "string", "title": "Detail"}},
                "required": ["detail"],
            }
            components.pop("ValidationError", None)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    limit = settings.max_upload_bytes
    app.add_middleware(BodyLimit, limit=limit)

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Response:
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            response: Response = _error(request, 413, _too_large(limit))
        else:
            response = await call_next(request)
        token = getattr(request.state, "new_csrf_token", None)
        if token is not None:
            auth.set_csrf_cookie(response, settings, token)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if settings.secure_cookies:  # served over HTTPS: browsers must never fall back to HTTP
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if not request.url.path.startswith("/static/"):
            # health data: no copy in the browser's or a proxy's cache (Back after logout)
            response.headers.setdefault("Cache-Control", "no-store")
        return response


class BodyLimit:
    """Answer 413 once a request body grows past ``limit`` bytes, also without Content-Length.

    The ``guard`` middleware refuses a too large declared length before reading anything; this
    one counts what a chunked upload really sends.
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        received = 0

        async def limited() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise HTTPException(413, _too_large(self.limit))
            return message

        await self.app(scope, limited, send)


def _too_large(limit: int) -> str:
    return f"request body too large (limit {limit // (1024 * 1024)} MiB)"


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 400 and detail == _FASTAPI_BODY_ERROR:
            return _error(request, 422, "body: cannot be parsed (not valid JSON or form data)")
        return _error(request, exc.status_code, detail, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return _error(request, 422, validation_message(exc.errors()))

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(login_redirect_url(exc.next_url), status_code=303)

    @app.exception_handler(StaleDataError)
    async def stale(request: Request, exc: StaleDataError) -> Response:
        return _error(request, 409, STALE_MESSAGE)

    @app.exception_handler(IntegrityError)
    async def integrity(request: Request, exc: IntegrityError) -> Response:
        return _error(request, 409, "conflicts with an existing record")

    @app.exception_handler(AlsimError)
    async def alsim_error(request: Request, exc: AlsimError) -> Response:
        return _error(request, 422, str(exc))

    @app.exception_handler(OverflowError)
    async def overflow(request: Request, exc: OverflowError) -> Response:
        return _error(request, 422, "a number is too large")

    @app.exception_handler(OperationalError)
    async def busy(request: Request, exc: OperationalError) -> Response:
        log.exception("database error on %s %s", request.method, request.url.path)
        return _error(request, 503, "the database is busy or unavailable; try again")

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error(request, 500, "internal error; it has been logged")


_FASTAPI_BODY_ERROR = "There was an error parsing the body"


def validation_message(errors: Any) -> str:
    """One message for a list of pydantic errors: the first, naming its field path."""
    errors = list(errors)
    if not errors:
        return "invalid request"
    first = errors[0]
    location = [str(part) for part in first.get("loc", ()) if part not in ("body",)]
    where = ".".join(location) or ("body" if "body" in first.get("loc", ()) else "")
    message = str(first.get("msg", "is invalid"))
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if first.get("type") == "missing":
        message = "is required"
    elif first.get("type") == "json_invalid":  # the location is a character offset: say so
        where, message = "body", f"is not valid JSON (at character {location[0]})"
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return f"{where}: {message}{more}" if where else f"{message}{more}"


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api") or "application/json" in request.headers.get("accept", "")


def _error(
    request: Request, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    if _wants_json(request):
        return JSONResponse({"detail": message}, status_code=status, headers=headers)
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>alsim: error</title></head>"
        f"<body><h1>{status}</h1><p>{html.escape(message)}</p><p><a href='/'>alsim</a></p>"
        "</body></html>"
    )
    return HTMLResponse(body, status_code=status, headers=headers)
