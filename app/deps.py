"""FastAPI dependencies: the request's database session, who is asking, and what the path names.

The request's database session is handled here and nowhere else. ``SessionDep`` is one
session per request (``app.db.session_scope``): committed when the route returns normally,
rolled back when it raises. It is a dependency of scope ``"function"``: its exit runs right
after the route returns, once the answer is built and before a byte of it is sent, so a 2xx
always means committed and a commit that fails answers an error instead (503 for a busy
database, through app.main's handlers). A route commits earlier itself only when something
must happen after the commit and before the answer (queueing a job:
``app.jobs.queue.commit_then_enqueue``). ``WriteSessionDep`` is the same for routes that read
and then write: ``BEGIN IMMEDIATE`` on SQLite, so that another writer cannot slip in between.

A caller is identified by ``Authorization: Bearer <token>`` (scripts) or by the signed
session cookie ``raim_session`` (browsers; key ``sid``, a server-side session id resolved by
app.browser_sessions: revoked or expired means anonymous), in a short transaction of its
own that only reads. The credential's time of last use is written at most once a minute
(app.last_use), in a second, write-only transaction. The request's session depends on that,
so it always opens afterwards: on SQLite a transaction that has read cannot write once
another connection has committed, and an immediate one would block the caller lookup.

Path lookups (``ChallengeFromPath``, ``PhaseFromPath``, ``SubmissionFromPath``) read the
``{challenge}``, ``{phase}`` and ``{submission_id}`` path parameters through app.lookups, in
the request's ``SessionDep`` session. A route on ``WriteSessionDep`` calls app.lookups itself,
in that session, so that every row it changes belongs to the session it commits.

``BaseUrl`` is the address the request came to, for links the service hands out.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app import browser_sessions, last_use, worker_tokens
from app.accounts import find_token, record_token_use, team_ids
from app.db import session_scope
from app.errors import ApiError
from app.judging.campaigns import is_judge
from app.lookups import by_id, find_challenge, find_phase, find_submission
from app.models import Challenge, Phase, Submission, User, WorkerToken, utcnow

# Methods that change nothing (RFC 9110): no write lock for their session, no CSRF token.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})

SESSION_COOKIE = "raim_session"
SESSION_ID_KEY = "sid"  # the browser session's id (app.browser_sessions), in the cookie
WORKER_TOKEN_ELSEWHERE = ("this is a worker token: it is good for the worker API "
                          "(/api/worker/...) only")
WORKER_ROUTES_ONLY = ("the worker API takes a worker token only (raim worker token add NAME); "
                      "team, organiser and browser credentials are not accepted here")


def bearer_token(request: Request) -> str | None:
    """The token of ``Authorization: Bearer <token>``, or None."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def optional_user(request: Request) -> User | None:
    """The signed-in user or token owner; None for anonymous callers. A bad token is a 401.

    Uses its own short transaction, so a long upload never holds a database lock; the
    returned User is detached (plain column values only).
    """
    token = bearer_token(request)
    session_id = request.session.get(SESSION_ID_KEY) if "session" in request.scope else None
    if token is None and not isinstance(session_id, str):
        return None
    if token is None:
        return _session_user(request, session_id)
    with session_scope() as session:
        found = find_token(session, token)
        if found is None and worker_tokens.find(session, token) is not None:
            raise ApiError(403, WORKER_TOKEN_ELSEWHERE)
    if found is None:
        raise ApiError(401, "invalid or revoked API token", headers={"WWW-Authenticate": "Bearer"})
    if found.stale:
        with session_scope() as session:
            record_token_use(session, found.row_id)
    return found.user


def worker_caller(request: Request) -> WorkerToken:
    """The worker token of a worker-API request: 401 without one or when it is revoked, 403
    for any other credential (an API token, a browser session). The row is detached."""
    token = bearer_token(request)
    if token is None:
        if request.scope.get("session"):
            raise ApiError(403, WORKER_ROUTES_ONLY)
        raise ApiError(401, "send 'Authorization: Bearer <worker token>'",
                       headers={"WWW-Authenticate": "Bearer"})
    with session_scope() as session:
        row = worker_tokens.find(session, token)
        if row is not None:
            session.expunge(row)
        elif find_token(session, token) is not None:
            raise ApiError(403, WORKER_ROUTES_ONLY)
    if row is None:
        raise ApiError(401, "invalid worker token", headers={"WWW-Authenticate": "Bearer"})
    if row.revoked_at is not None:
        raise ApiError(401, f"the worker token {row.name!r} was revoked",
                       headers={"WWW-Authenticate": "Bearer"})
    if last_use.is_stale(row.last_used_at, utcnow()):
        with session_scope() as session:  # write-only (see _session_user)
            last_use.record(session, WorkerToken.last_used_at, row.id)
    return row


WorkerCaller = Annotated[WorkerToken, Depends(worker_caller)]


def _session_user(request: Request, session_id: str) -> User | None:
    """The user of the cookie's live browser session; a dead one is dropped from the cookie."""
    with session_scope() as session:
        found = browser_sessions.resolve(session, session_id)
    if found is None:
        request.session.pop(SESSION_ID_KEY, None)
        return None
    if found.stale:
        with session_scope() as session:
            browser_sessions.touch(session, found.row_id)
    return found.user


OptionalUser = Annotated[User | None, Depends(optional_user)]


def get_session(request: Request, _caller: OptionalUser) -> Iterator[Session]:
    """A session for the request, opened after the caller is known (see module notes). A
    state-changing request (anything but GET, HEAD, OPTIONS) reads, then writes: its
    transaction begins with the write lock, as ``get_write_session``'s does."""
    with session_scope(immediate=request.method not in SAFE_METHODS) as session:
        yield session


def get_write_session(_caller: OptionalUser) -> Iterator[Session]:
    """A session that writes, whatever the method: BEGIN IMMEDIATE on SQLite, so a read
    never goes stale first (app.db)."""
    with session_scope(immediate=True) as session:
        yield session


# scope="function": the session's exit (commit, or rollback on error) runs as soon as the
# route returns, before the answer is sent; a failed commit is then the answer (503).
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
WriteSessionDep = Annotated[Session, Depends(get_write_session, scope="function")]


def current_user(user: OptionalUser) -> User:
    if user is None:
        raise ApiError(401, "sign in, or send 'Authorization: Bearer <your API token>'",
                       headers={"WWW-Authenticate": "Bearer"})
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def must_organise(user: User, refusal: str) -> User:
    """``user`` if they organise; ApiError 403 with ``refusal`` otherwise."""
    if not user.is_organiser:
        raise ApiError(403, refusal)
    return user


def organiser(user: CurrentUser) -> User:
    return must_organise(user, "organisers only")


Organiser = Annotated[User, Depends(organiser)]


def judge_user(user: CurrentUser, session: SessionDep) -> User:
    """The caller, who must be a judge of some challenge."""
    if not is_judge(session, user):
        raise ApiError(403, "this is for judges only")
    return user


JudgeUser = Annotated[User, Depends(judge_user)]


def challenge_from_path(challenge: str, session: SessionDep) -> Challenge:
    return find_challenge(session, challenge)


def phase_from_path(challenge: str, phase: str, session: SessionDep) -> Phase:
    return find_phase(session, challenge, phase)


def submission_from_path(submission_id: int, session: SessionDep) -> Submission:
    return find_submission(session, submission_id)


def existing_submission_id(submission_id: int) -> int:
    """The path's submission id once a short read of its own found the row (404 otherwise):
    for routes whose work opens its own transactions, checked before their body is read."""
    with session_scope() as session:
        return find_submission(session, submission_id).id


ChallengeFromPath = Annotated[Challenge, Depends(challenge_from_path)]
PhaseFromPath = Annotated[Phase, Depends(phase_from_path)]
SubmissionFromPath = Annotated[Submission, Depends(submission_from_path)]
ExistingSubmissionId = Annotated[int, Depends(existing_submission_id)]


def owned(session: Session, user: User, submission_id: int) -> Submission:
    """The submission if ``user``'s team made it (or the user organises); 404 otherwise."""
    sub = by_id(session, Submission, submission_id)
    if sub is None or not (user.is_organiser or sub.team_id in team_ids(session, user)):
        raise ApiError(404, f"submission {submission_id} not found")
    return sub


def owned_submission(submission_id: int, user: CurrentUser, session: SessionDep) -> Submission:
    return owned(session, user, submission_id)


OwnedSubmission = Annotated[Submission, Depends(owned_submission)]


def base_url(request: Request) -> str:
    """The address the caller used to reach the service (scheme, host, port, root path), with
    no trailing slash: links the service prints or mails are built on it, so they open
    wherever the service runs. RAIM_BASE_URL serves where there is no request (the CLI)."""
    return str(request.base_url).rstrip("/")


BaseUrl = Annotated[str, Depends(base_url)]
