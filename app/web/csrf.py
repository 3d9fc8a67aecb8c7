"""CSRF protection for the browser: one random token per session, required on every POST.

Forms carry it in the hidden field ``csrf_token``; scripts (the upload page) send it in the
``X-CSRF-Token`` header. The token lives in the signed session cookie, so a page on another
site can neither read nor forge it.
"""

from __future__ import annotations

import secrets

from fastapi import Request

from app.errors import ApiError

SESSION_KEY = "csrf"
FORM_FIELD = "csrf_token"
HEADER = "x-csrf-token"
REJECTED = ("This form has expired or was sent from another site (CSRF check failed). "
            "Reload the page and try again.")


def csrf_token(request: Request) -> str:
    """The session's token, created on first use."""
    token = request.session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_KEY] = token
    return token


def _matches(request: Request, sent: object) -> bool:
    expected = request.session.get(SESSION_KEY)
    return (isinstance(expected, str) and bool(expected) and isinstance(sent, str)
            and secrets.compare_digest(expected.encode(), sent.encode()))


def require_csrf_header(request: Request) -> None:
    """Dependency for script-driven POSTs whose body must stay unread (streamed uploads)."""
    if not _matches(request, request.headers.get(HEADER)):
        raise ApiError(403, REJECTED)


async def require_csrf(request: Request) -> None:
    """Dependency for every page POST: 403 unless the header or form field carries the token.

    The header is checked first so that a large upload is never parsed just to find the token.
    """
    sent: object = request.headers.get(HEADER)
    if sent is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            sent = (await request.form()).get(FORM_FIELD)
    if not _matches(request, sent):
        raise ApiError(403, REJECTED)
