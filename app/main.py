"""The FastAPI application factory: middleware, routers, static files, the one error handler, workers.

On start-up the database is brought to the newest migration; then, without a broker,
the embedded local worker scores queued submissions in this process (it also sweeps
stuck ones); with a broker (RAIM_BROKER_URL), Celery workers score and this process
only re-sends the queue once and runs the sweeper.

Every refusal is an ``app.errors.ApiError`` and answers one JSON body,
``{"detail", "problems": [{"file", "message"}], ...}``; request validation errors are
answered in the same shape. On page routes a browser (``Accept: text/html``) gets the
same message as the error page, and ``SignInRequired`` sends it to the sign-in page.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from app.api import campaigns, final, judge, leaderboards, organiser, submissions
from app.config import Settings, get_settings
from app.db import ensure_schema
from app.deps import SESSION_COOKIE
from app.errors import ApiError, SignInRequired
from app.jobs.broker import uses_broker
from app.jobs.sweeper import Sweeper, resume_queued
from app.jobs.worker import LocalWorker
from app.web import account, judging, pages
from app.web import organiser as organiser_pages
from app.web.access import is_page
from app.web.templating import render

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
SESSION_MAX_AGE = 14 * 24 * 3600
ROUTERS = (submissions, leaderboards, organiser, judge, final, campaigns,
           pages, account, organiser_pages, judging)


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


async def api_error_response(request: Request, exc: Exception) -> Response:
    """The one handler: JSON for scripts and the API, the error page for browsers on pages."""
    if not isinstance(exc, ApiError):
        raise exc
    if is_page(request) and wants_html(request):
        if isinstance(exc, SignInRequired):
            return RedirectResponse(f"/sign-in?next={quote(exc.next_url, safe='/')}",
                                    status_code=303)
        user = getattr(request.state, "viewer", None)
        return render(request, "error.html", {"user": user, "status": exc.status,
                                              "message": exc.detail}, status_code=exc.status)
    return JSONResponse(exc.to_json(), status_code=exc.status, headers=exc.headers)


async def validation_error_response(request: Request, exc: Exception) -> Response:
    """A request that does not fit its route's types, as an ApiError 422 naming each field."""
    if not isinstance(exc, RequestValidationError):
        raise exc
    where = [".".join(str(part) for part in error["loc"]) + f": {error['msg']}"
             for error in exc.errors()]
    return await api_error_response(request, ApiError(422, "; ".join(where)))


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


def create_app(settings: Settings | None = None, *, background: bool = True) -> FastAPI:
    """The web application; ``background=False`` starts no worker or sweeper (tests)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(ensure_schema)
        services = await run_in_threadpool(start_background, settings) if background else []
        try:
            yield
        finally:
            for service in services:
                await run_in_threadpool(service.stop)

    app = FastAPI(title="RAIM Arena", lifespan=lifespan)
    app.add_middleware(SessionMiddleware, secret_key=settings.session_secret(),
                       session_cookie=SESSION_COOKIE, max_age=SESSION_MAX_AGE,
                       same_site="lax", https_only=settings.cookie_secure)
    app.add_exception_handler(ApiError, api_error_response)
    app.add_exception_handler(RequestValidationError, validation_error_response)
    for module in ROUTERS:
        app.include_router(module.router)
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
