"""The FastAPI application factory: middleware, routers, static files, the one error handler, workers.

On start-up the database is brought to the newest migration; then, without a broker,
the embedded local worker scores queued submissions in this process (it also sweeps
stuck ones); with a broker (RAIM_BROKER_URL), Celery workers score and this process
only re-sends the queue once and runs the sweeper.

Shutdown is bounded: ``raim serve`` gives open connections RAIM_SHUTDOWN_GRACE_SECONDS
(uvicorn's graceful timeout), and the background threads get what is left of that period
from the moment the shutdown began (``app.state.shutdown_began``, set by ``raim serve``), at
least STOP_FLOOR_SECONDS; a job still running then stays in the database and the sweeper
re-queues it.

Every response carries the security headers of app.web.headers (outermost, so also the
500 page), and every log record has tokens redacted (app.logs).

Every 4xx and 5xx answers one JSON body, ``{"detail", "problems": [{"file", "message"}],
...}``: refusals (``app.errors.ApiError``), request validation errors (422), Starlette's own
(404 for an unknown URL, 405), a full disk (507) or a busy database (503) with
``Retry-After`` (``app.errors.server_failure``), and any other exception: 500, its traceback
logged and never sent. On page routes (and unknown URLs) a browser (``Accept: text/html``)
gets the same message as the error page, and ``SignInRequired`` sends it to the sign-in page.

Every route depends on ``app.csrf.csrf_guard`` (an application-wide dependency): a
state-changing request authenticated by the session cookie carries the session's token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware

from app.api import campaigns, final, judge, leaderboards, organiser, submissions, worker
from app.config import Settings, get_settings
from app.csrf import csrf_guard
from app.db import ensure_schema
from app.deps import SESSION_COOKIE, optional_user
from app.errors import INTERNAL, ApiError, SignInRequired, server_failure
from app.jobs.broker import uses_broker
from app.jobs.sweeper import Sweeper, resume_queued
from app.jobs.worker import LocalWorker
from app.logs import redact_tokens_in_logs
from app.models import User
from app.throttle import SignInThrottle
from app.web import account, judging, pages, team_admin, teams
from app.web import organiser as organiser_pages
from app.web.access import is_page
from app.web.headers import SecurityHeaders
from app.web.templating import render

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
STOP_FLOOR_SECONDS = 2.0  # what a background thread gets at shutdown even if the drain took all
ROUTERS = (submissions, leaderboards, organiser, judge, final, campaigns, worker,
           pages, teams, account, organiser_pages, judging, team_admin)


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def shows_page(request: Request) -> bool:
    """A browser on a page route, or on a URL that no route answers."""
    return wants_html(request) and (is_page(request) or "endpoint" not in request.scope)


async def _viewer_of(request: Request) -> User | None:
    """Who sees the error page (its header says who is signed in): known already when a page
    route ran; looked up here for an unknown URL; nobody when even that fails."""
    if hasattr(request.state, "viewer"):
        return request.state.viewer
    if "session" not in request.scope:
        return None
    try:
        return await run_in_threadpool(optional_user, request)
    except Exception:  # a bad token, or the database that made this an error page
        return None


async def api_error_response(request: Request, exc: Exception) -> Response:
    """The one handler: JSON for scripts and the API, the error page for browsers on pages."""
    if not isinstance(exc, ApiError):
        raise exc
    if shows_page(request):
        if isinstance(exc, SignInRequired):
            return RedirectResponse(f"/sign-in?next={quote(exc.next_url, safe='/')}",
                                    status_code=303)
        page = render(request, "error.html", {
            "user": await _viewer_of(request), "status": exc.status, "message": exc.detail,
            "path": request.url.path}, status_code=exc.status)
        page.headers.update(exc.headers)  # Retry-After of a 429, for instance
        return page
    return JSONResponse(exc.to_json(), status_code=exc.status, headers=exc.headers)


async def validation_error_response(request: Request, exc: Exception) -> Response:
    """A request that does not fit its route's types, as an ApiError 422 naming each field."""
    if not isinstance(exc, RequestValidationError):
        raise exc
    where = [".".join(str(part) for part in error["loc"]) + f": {error['msg']}"
             for error in exc.errors()]
    return await api_error_response(request, ApiError(422, "; ".join(where)))


async def http_error_response(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (404 unknown URL, 405 wrong method, 400 unreadable form)."""
    if not isinstance(exc, HTTPException):
        raise exc
    return await api_error_response(request, ApiError(exc.status_code, str(exc.detail),
                                                      headers=dict(exc.headers or {})))


async def server_failure_response(request: Request, exc: Exception) -> Response:
    """A full disk (507) or a busy database (503), to retry; anything else goes on to 500."""
    failure = server_failure(exc)
    if failure is None:
        raise exc
    log.warning("%s %s answered %d: %s", request.method, request.url.path, failure.status, exc)
    return await api_error_response(request, failure)


async def internal_error_response(request: Request, exc: Exception) -> Response:
    """Any other exception: 500 in the one body; the server logs the traceback, never sends it."""
    return await api_error_response(request, ApiError(500, INTERNAL))


def start_background(settings: Settings) -> list[LocalWorker | Sweeper]:
    """The local worker (no broker), or the sweeper plus a re-send of the queue (broker)."""
    if uses_broker():
        resume_queued()
        services: list[LocalWorker | Sweeper] = [Sweeper(settings)]
    else:
        services = [LocalWorker(settings)]
    for service in services:
        service.start()
    return services


def stop_background(services: list[LocalWorker | Sweeper], deadline: float) -> None:
    """Stop each service by ``deadline`` (time.monotonic()), giving each at least
    STOP_FLOOR_SECONDS (an idle thread needs milliseconds); one still busy is left behind."""
    for service in services:
        if not service.stop(timeout=max(STOP_FLOOR_SECONDS, deadline - time.monotonic())):
            log.warning("%s still busy when the shutdown grace period ended; its job stays in "
                        "the database and is re-queued by the sweeper", type(service).__name__)


def create_app(settings: Settings | None = None, *, background: bool = True) -> FastAPI:
    """The web application; ``background=False`` starts no worker or sweeper (tests)."""
    settings = settings or get_settings()
    redact_tokens_in_logs()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(ensure_schema)
        services = await run_in_threadpool(start_background, settings) if background else []
        try:
            yield
        finally:
            began = getattr(app.state, "shutdown_began", None) or time.monotonic()
            await run_in_threadpool(stop_background, services,
                                    began + settings.shutdown_grace_seconds)

    app = FastAPI(title="RAIM Arena", lifespan=lifespan, dependencies=[Depends(csrf_guard)])
    app.state.sign_in_throttle = SignInThrottle.from_settings(settings)
    app.add_middleware(SessionMiddleware, secret_key=settings.session_secret(),
                       session_cookie=SESSION_COOKIE, max_age=settings.session_max_age_seconds,
                       same_site="lax", https_only=settings.cookie_secure)
    app.add_exception_handler(ApiError, api_error_response)
    app.add_exception_handler(RequestValidationError, validation_error_response)
    app.add_exception_handler(HTTPException, http_error_response)
    for failure in (OSError, SQLAlchemyError):
        app.add_exception_handler(failure, server_failure_response)
    app.add_exception_handler(Exception, internal_error_response)
    for module in ROUTERS:
        app.include_router(module.router)
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Outside FastAPI's own stack (ServerErrorMiddleware included): headers on every answer.
    build_stack = app.build_middleware_stack
    app.build_middleware_stack = lambda: SecurityHeaders(  # type: ignore[method-assign]
        build_stack(), https=settings.cookie_secure)
    return app
