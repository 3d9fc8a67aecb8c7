"""Account pages: sign-up, sign-in (throttled), sign-out, and the account page (API tokens,
password change)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from app.accounts import (
    AccountError,
    WrongPassword,
    authenticate,
    change_password,
    create_token,
    create_user,
    revoke_token,
    teams_of,
    tokens_of,
)
from app.csrf import STARTS_SESSION
from app.deps import SessionDep, base_url
from app.errors import ApiError
from app.lookups import by_id
from app.models import ApiToken, User
from app.security import MIN_PASSWORD_LENGTH
from app.web.access import (
    PAGE_ROUTES,
    SignedIn,
    Throttle,
    Viewer,
    current_session_id,
    sign_in,
    sign_out,
)
from app.web.templating import flash, render

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
Text = Annotated[str, Form()]


def safe_next(value: str | None) -> str:
    """A local path to return to after signing in; anything else (another site) becomes ``/``."""
    if not value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return "/"
    return value


@router.get("/sign-up", response_class=HTMLResponse)
def sign_up_page(request: Request, user: Viewer, next: str = "/") -> HTMLResponse:
    return render(request, "sign_up.html", {"user": user, "errors": [], "name": "", "email": "",
                                            "next_url": safe_next(next),
                                            "min_password": MIN_PASSWORD_LENGTH})


@router.post("/sign-up", dependencies=[STARTS_SESSION], response_model=None)
def sign_up(request: Request, session: SessionDep, name: Text = "", email: Text = "",
            password: Text = "", next: Text = "/") -> HTMLResponse | RedirectResponse:
    errors = [] if name.strip() else ["Name: please give a name (it is shown to your team)."]
    try:
        user = create_user(session, email, name=name.strip() or None, password=password)
    except AccountError as exc:
        errors.append(f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
    if errors:
        session.rollback()
        return render(request, "sign_up.html", {
            "user": None, "errors": errors, "name": name, "email": email,
            "next_url": safe_next(next), "min_password": MIN_PASSWORD_LENGTH}, status_code=400)
    sign_in(request, session, user)
    session.commit()
    flash(request, "ok", f"Welcome, {user.name}! Open a challenge to create your team.")
    return RedirectResponse(safe_next(next), status_code=303)


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_page(request: Request, user: Viewer, next: str = "/") -> HTMLResponse:
    return render(request, "sign_in.html", {"user": user, "error": None, "email": "",
                                            "next_url": safe_next(next)})


@router.post("/sign-in", dependencies=[STARTS_SESSION], response_model=None)
def sign_in_form(request: Request, session: SessionDep, throttle: Throttle, email: Text = "",
                 password: Text = "", next: Text = "/") -> HTMLResponse | RedirectResponse:
    """Throttled per account and per address (app.throttle): 429 while either must wait."""
    throttled = throttle.check(email)
    if throttled is not None:
        page = _sign_in_refused(request, email, next, throttled.message, status_code=429)
        page.headers["Retry-After"] = str(throttled.retry_after)
        return page
    user = authenticate(session, email, password)
    if user is None:
        throttle.failed(email)
        return _sign_in_refused(request, email, next, "Wrong email or password.",
                                status_code=400)
    throttle.succeeded(email)
    sign_in(request, session, user)
    session.commit()  # the session row, and the password hash if authenticate upgraded it
    return RedirectResponse(safe_next(next), status_code=303)


def _sign_in_refused(request: Request, email: str, next_url: str, error: str, *,
                     status_code: int) -> HTMLResponse:
    return render(request, "sign_in.html", {"user": None, "error": error, "email": email,
                                            "next_url": safe_next(next_url)},
                  status_code=status_code)


@router.post("/sign-out")
def sign_out_form(request: Request, session: SessionDep) -> RedirectResponse:
    sign_out(request, session)
    session.commit()
    flash(request, "info", "You are signed out.")
    return RedirectResponse("/", status_code=303)


def _account_page(request: Request, session: Session, user: User,
                  new_token: dict | None = None, password_error: str | None = None,
                  status_code: int = 200) -> HTMLResponse:
    return render(request, "account.html", {
        "user": user, "section": "account", "teams": teams_of(session, user),
        "tokens": tokens_of(session, user), "min_password": MIN_PASSWORD_LENGTH,
        "password_error": password_error,
        "new_token": new_token, "base_url": base_url(request)},
        status_code=status_code)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, user: SignedIn, session: SessionDep) -> HTMLResponse:
    return _account_page(request, session, user)


@router.post("/account/tokens", response_class=HTMLResponse)
def create_token_form(request: Request, user: SignedIn, session: SessionDep,
                      name: Text = "") -> HTMLResponse:
    """The new token is shown in this answer only: it is never stored or sent again."""
    clean = name.strip()[:200]
    if not clean:
        raise ApiError(400, "Give the token a name, so that you can tell your tokens apart.")
    _, token = create_token(session, session.get_one(User, user.id), name=clean)
    session.commit()
    return _account_page(request, session, user, new_token={"name": clean, "value": token})


@router.post("/account/tokens/{token_id}/revoke")
def revoke_token_form(token_id: int, request: Request, user: SignedIn,
                      session: SessionDep) -> RedirectResponse:
    row = by_id(session, ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise ApiError(404, f"You have no token number {token_id}.")
    revoke_token(row)
    flash(request, "ok",
          f"Token “{row.name or row.prefix}” revoked: scripts using it are refused now.")
    return RedirectResponse("/account", status_code=303)


@router.post("/account/password", response_model=None)
def change_password_form(request: Request, user: SignedIn, session: SessionDep,
                         throttle: Throttle, current: Text = "", new: Text = "",
                         repeat: Text = "") -> HTMLResponse | RedirectResponse:
    """A new password; the user's other browser sessions are signed out, this one stays.

    A wrong current password counts as a failed sign-in (the same throttle guards both).
    """
    throttle.refuse_if_throttled(user.email)
    if new != repeat:
        return _account_page(request, session, user, status_code=400,
                             password_error="The two new passwords differ.")
    try:
        ended = change_password(session, session.get_one(User, user.id), current, new,
                                keep_session=current_session_id(request))
    except AccountError as exc:
        session.rollback()
        if isinstance(exc, WrongPassword):
            throttle.failed(user.email)
        return _account_page(request, session, user, status_code=400,
                             password_error=f"{str(exc)[:1].upper()}{str(exc)[1:]}.")
    session.commit()
    others = f" {ended} other session{'s' if ended != 1 else ''} signed out." if ended else ""
    flash(request, "ok", f"Password changed.{others}")
    return RedirectResponse("/account", status_code=303)
