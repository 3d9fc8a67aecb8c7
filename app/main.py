"""The FastAPI application factory: middleware, routers, static files, and the background workers.

On start-up the database is brought to the newest migration; then, without a broker,
the embedded local worker scores queued submissions in this process (it also sweeps
stuck ones); with a broker (RAIM_BROKER_URL), Celery workers score and this process
only re-sends the queue once and runs the sweeper.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from app import web
from app.api import leaderboards, organiser, submissions
from app.config import Settings, get_settings
from app.db import ensure_schema
from app.deps import SESSION_COOKIE
from app.jobs.broker import uses_broker
from app.jobs.sweeper import Sweeper, resume_queued
from app.jobs.worker import LocalWorker
from app.judging import api as judging_api
from app.judging import pages as judging_pages
from app.submissions import Rejected

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
SESSION_MAX_AGE = 14 * 24 * 3600


async def rejected_response(request: Request, exc: Exception) -> JSONResponse:
    """Every refusal as ``{"detail", "problems": [{"file", "message"}], ...}``."""
    if not isinstance(exc, Rejected):
        raise exc
    return JSONResponse(exc.to_json(), status_code=exc.status, headers=exc.headers)


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
    app.add_exception_handler(Rejected, rejected_response)
    app.include_router(submissions.router)
    app.include_router(leaderboards.router)
    app.include_router(organiser.router)
    app.include_router(judging_api.router)
    app.include_router(judging_pages.router)
    # Page routes (templates/, app/web/) are included here.
    web.install(app)
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
