"""Who is looking at a page: signing a browser in and out, and the page-level access gates.

Reading the session or a token is app.deps' job; this module adds what only pages need:
``SignInRequired`` (a redirect to the sign-in page) instead of a bare 401, and
``PAGE_ROUTES``, the dependency every page router carries so that app.main's one error
handler renders an ApiError as a page for browsers, and so that a page request that fails
(a refusal, or a commit that fails after the route returned) leaves the browser's session as
it came: no flash message or link that announces what was not stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request

from app.csrf import csrf_token
from app.deps import SESSION_USER_KEY, SessionDep, must_organise, optional_user, owned
from app.errors import SignInRequired
from app.models import Submission, User


def page_route(request: Request) -> Iterator[None]:
    """Marks the request as a page's (errors are shown as pages to browsers); on an error,
    puts the session back as the request found it.

    Scope "function": it exits after the request's database session (entered later), so it
    sees a failed commit too.
    """
    request.state.page = True
    before = dict(request.session) if "session" in request.scope else None
    try:
        yield
    except Exception:
        if before is not None:
            request.session.clear()
            request.session.update(before)
        raise


PAGE_ROUTES = [Depends(page_route, scope="function")]


def is_page(request: Request) -> bool:
    return bool(getattr(request.state, "page", False))


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
    return must_organise(user, "This page is for the challenge organisers only.")


OrganiserPage = Annotated[User, Depends(organiser_only)]


def owned_page_submission(submission_id: int, user: SignedIn, session: SessionDep) -> Submission:
    """The submission if the signed-in user's team made it (or they organise); 404 otherwise."""
    return owned(session, user, submission_id)


OwnedSubmissionPage = Annotated[Submission, Depends(owned_page_submission)]


def sign_in(request: Request, user: User) -> None:
    """Start a fresh session for ``user`` (a new CSRF token too: no session fixation)."""
    request.session.clear()
    request.session[SESSION_USER_KEY] = user.id
    csrf_token(request)


def sign_out(request: Request) -> None:
    request.session.clear()
