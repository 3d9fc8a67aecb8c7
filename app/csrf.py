"""CSRF protection as a property of cookie authentication: the one guard every route passes.

A browser authenticates with the signed session cookie, which it attaches to requests that
other sites make it send; so every state-changing request (POST, PUT, PATCH, DELETE) that
carries the session cookie must also carry the session's token, which another site can
neither read nor forge. ``csrf_guard`` enforces it for every route at once: app.main installs
it as an application-wide dependency, so a new route is covered without a word.

- **Bearer requests** need no token: a browser never adds an ``Authorization`` header by
  itself, and the route checks the token.
- **Anonymous requests** (no session cookie, no Bearer token) pass the guard and meet the
  route's own answer (401 where it needs a caller); except on routes that start a browser
  session (sign-in, sign-up, marked ``STARTS_SESSION``), which always need the token, so that
  another site cannot sign a browser into an account of its choosing (login CSRF).
- **Where the token travels**: the ``X-CSRF-Token`` header (scripts: the upload page, the
  rating page), or the form field ``csrf_token`` (HTML forms). A form body is read for the
  field only when the header is absent, and a multipart body only when the route itself
  declares a form (FastAPI has parsed it already): a streamed upload (``POST /submit``,
  ``POST /score``) is never parsed to look for a token, so from a browser it needs the header.

The token lives in the signed session cookie (``request.session["csrf"]``), created on first
use; signing in replaces it (app.web.access).
"""

from __future__ import annotations

import secrets

from fastapi import Request
from fastapi.params import Depends, Form

from app.deps import SAFE_METHODS, bearer_token
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


def starts_session() -> None:
    """Marks a route that signs a browser in: it needs the token even without a session cookie."""


STARTS_SESSION = Depends(starts_session)


async def csrf_guard(request: Request) -> None:
    """403 for a state-changing cookie request without the session's token (see module notes)."""
    if request.method in SAFE_METHODS or bearer_token(request) is not None:
        return
    has_session = "session" in request.scope and bool(request.session)
    if not has_session and not _starts_session(request):
        return  # anonymous: the route answers
    if not _matches(request, await _sent_token(request)):
        raise ApiError(403, REJECTED)


def _route_dependencies(request: Request) -> list:
    return list(getattr(request.scope.get("route"), "dependencies", None) or [])


def _starts_session(request: Request) -> bool:
    return any(getattr(d, "dependency", None) is starts_session
               for d in _route_dependencies(request))


def _route_reads_form(request: Request) -> bool:
    """Whether the matched route declares a form body (FastAPI parsed it before the guard)."""
    field = getattr(request.scope.get("route"), "body_field", None)
    return isinstance(getattr(field, "field_info", None), Form)


async def _sent_token(request: Request) -> object:
    sent = request.headers.get(HEADER)
    if sent is not None:
        return sent
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if kind == "application/x-www-form-urlencoded" or (
            kind == "multipart/form-data" and _route_reads_form(request)):
        return (await request.form()).get(FORM_FIELD)
    return None


def _matches(request: Request, sent: object) -> bool:
    expected = request.session.get(SESSION_KEY) if "session" in request.scope else None
    return (isinstance(expected, str) and bool(expected) and isinstance(sent, str)
            and secrets.compare_digest(expected.encode(), sent.encode()))
