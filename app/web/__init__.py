"""The browser side of the service: page routes, templates, static files and CSRF protection."""

from __future__ import annotations

from fastapi import FastAPI

from app.web import account, organiser, pages
from app.web.errors import PageError, SignInRequired, page_error_page, sign_in_redirect


def install(app: FastAPI) -> None:
    """Add the page routers and their error handlers (HTML for browsers, JSON for scripts)."""
    app.add_exception_handler(PageError, page_error_page)
    app.add_exception_handler(SignInRequired, sign_in_redirect)
    for module in (pages, account, organiser):
        app.include_router(module.router)
