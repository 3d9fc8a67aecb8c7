"""Who is looking at a page: signing a browser in and out, and the page-level access gates.

Reading the session or a token is app.deps' job; this module adds what only pages need:
``SignInRequired`` (a redirect to the sign-in page) instead of a bare 401, and
``PAGE_ROUTES``, the dependency every page router carries so that app.main's one error
handler renders an ApiError as a page for browsers, and so that a page request that fails
(a refusal, or a commit that fails after the route returned) leaves the browser's session as
it came: no flash message or link that announces what was not stored. Signing in starts a
server-side session (app.browser_sessions) whose id the cookie carries; ``Throttle`` is the
app's sign-in throttle (app.throttle) with the client's address.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app import browser_sessions
from app.config import get_settings
from app.csrf import csrf_token
from app.deps import SESSION_ID_KEY, SessionDep, must_organise, optional_user, owned
from app.errors import ApiError, SignInRequired
from app.models import Submission, User
from app.throttle import SignInThrottle, Throttled


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
    """Whether the request went to a page route: one that ran, or one whose address matched
    but not its method (a 405, when a form's address is opened in the browser)."""
    if getattr(request.state, "page", False):
        return True
    route = request.scope.get("route")
    return any(getattr(d, "dependency", None) is page_route
               for d in getattr(route, "dependencies", None) or [])


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


def sign_in(request: Request, session: Session, user: User) -> None:
    """Start a fresh session for ``user`` (a new CSRF token too: no session fixation).

    The server-side row is added to ``session``; the route commits it before answering. A
    session the browser held before (another account, say) is revoked, not just forgotten.
    """
    previous = current_session_id(request)
    if previous is not None:
        browser_sessions.revoke(session, previous)
    request.session.clear()
    request.session[SESSION_ID_KEY] = browser_sessions.start(
        session, user, max_age_seconds=get_settings().session_max_age_seconds)
    csrf_token(request)


def current_session_id(request: Request) -> str | None:
    value = request.session.get(SESSION_ID_KEY)
    return value if isinstance(value, str) else None


def sign_out(request: Request, session: Session) -> None:
    """End the browser's session on the server too: a copy of the cookie is worthless after."""
    session_id = current_session_id(request)
    if session_id is not None:
        browser_sessions.revoke(session, session_id)
    request.session.clear()


@dataclass(frozen=True)
class ClientThrottle:
    """The app's sign-in throttle, bound to the asking client's address."""

    throttle: SignInThrottle
    address: str | None

    def check(self, email: str | None = None) -> Throttled | None:
        return self.throttle.check(email=email, address=self.address)

    def refuse_if_throttled(self, email: str | None = None) -> None:
        """ApiError 429 with Retry-After while the account or the address must wait."""
        throttled = self.check(email)
        if throttled is not None:
            raise ApiError(429, throttled.message,
                           headers={"Retry-After": str(throttled.retry_after)})

    def failed(self, email: str | None = None) -> None:
        self.throttle.failed(email=email, address=self.address)

    def succeeded(self, email: str) -> None:
        self.throttle.succeeded(email=email)


def client_throttle(request: Request) -> ClientThrottle:
    """The throttle made by app.main's create_app, for this client's address.

    The address is the connection's peer, or the X-Forwarded-For client when uvicorn trusts
    the proxy (FORWARDED_ALLOW_IPS; 127.0.0.1 by default).
    """
    return ClientThrottle(request.app.state.sign_in_throttle,
                          request.client.host if request.client else None)


Throttle = Annotated[ClientThrottle, Depends(client_throttle)]
