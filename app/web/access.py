"""Who is looking at a page: signing a browser in and out, and the page-level access gates.

Reading the session or a token is app.deps' job; this module adds what only pages need:
a redirect to the sign-in page instead of a 401, and Rejected errors shown as pages.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request

from app.deps import SESSION_USER_KEY, optional_user
from app.models import User
from app.submissions import Rejected
from app.web.csrf import csrf_token
from app.web.errors import PageError, SignInRequired


def viewer(request: Request, user: Annotated[User | None, Depends(optional_user)]) -> User | None:
    """The signed-in user, or None; kept on request.state so error pages can show the header."""
    request.state.viewer = user
    return user


Viewer = Annotated[User | None, Depends(viewer)]


def signed_in(request: Request, user: Viewer) -> User:
    """The signed-in user; anyone else is sent to the sign-in page and back."""
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target)
    return user


SignedIn = Annotated[User, Depends(signed_in)]


def organiser_only(user: SignedIn) -> User:
    if not user.is_organiser:
        raise PageError(403, "This page is for the challenge organisers only.")
    return user


OrganiserPage = Annotated[User, Depends(organiser_only)]


def sign_in(request: Request, user: User) -> None:
    """Start a fresh session for ``user`` (a new CSRF token too: no session fixation)."""
    request.session.clear()
    request.session[SESSION_USER_KEY] = user.id
    csrf_token(request)


def sign_out(request: Request) -> None:
    request.session.clear()


@contextmanager
def shown_as_page() -> Iterator[None]:
    """Turn the backend's Rejected (an API error) into a PageError with the same status."""
    try:
        yield
    except Rejected as exc:
        raise PageError(exc.status, exc.detail) from exc
