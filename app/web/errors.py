"""Errors raised by page routes: a browser gets an HTML page, a script gets JSON ``{"detail"}``."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException


class PageError(HTTPException):
    """An HTTP error with a message meant for a person (404, 403, 409...)."""


class SignInRequired(Exception):
    """The page needs a signed-in user; the browser is sent to sign in, then back here."""

    def __init__(self, next_url: str):
        super().__init__(next_url)
        self.next_url = next_url


def wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


async def page_error_page(request: Request, exc: Exception) -> Response:
    """The error page, or JSON for scripts (the upload page reads ``detail``)."""
    from app.web.templating import render

    if not isinstance(exc, HTTPException):
        raise exc
    if not wants_html(request):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
    user = getattr(request.state, "viewer", None)
    return render(request, "error.html", {"user": user, "status": exc.status_code,
                                          "message": exc.detail}, status_code=exc.status_code)


async def sign_in_redirect(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, SignInRequired):
        raise exc
    if not wants_html(request):
        return JSONResponse({"detail": "sign in first"}, status_code=401)
    return RedirectResponse(f"/sign-in?next={quote(exc.next_url, safe='/')}", status_code=303)
