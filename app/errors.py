"""The one error a request can be refused with, and its one JSON body.

``ApiError(status, detail, problems, extra, headers)`` answers every refusal, from the API and
from pages alike, as ``{"detail": str, "problems": [{"file", "message"}], **extra}`` with the
status and headers given. A page that wants HTML gets the same message rendered by
``templates/error.html`` instead (app.main installs the one handler). ``SignInRequired`` is the
401 of a page: a browser is sent to the sign-in page and back.

This module imports no web framework, so the domain packages may raise ApiError too: the
status is their classification of the refusal (a quota spent is 429 wherever it is asked).

``server_failure(exc)`` classifies what is not a refusal but a passing state of the server,
which a client should simply retry: a full disk (``ENOSPC``/``EDQUOT``, or the database's own
"disk full") is 507, a database that is busy ("database is locked") or unreachable is 503,
both with ``Retry-After``. Anything else unexpected is a bug: 500, logged, no details to the
client (app.main).
"""

from __future__ import annotations

import errno

from sqlalchemy.exc import DBAPIError, OperationalError

from metrics.images import Problem

RETRY_AFTER_SECONDS = 5
DISK_FULL_RETRY_AFTER_SECONDS = 60
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
SQLITE_FULL = 13  # sqlite3's extended error code for "database or disk is full"
POSTGRES_DISK_FULL = "53100"  # SQLSTATE disk_full
INTERNAL = "internal server error: it has been logged for the operators; nothing was changed"


class ApiError(Exception):
    """A refused request: an HTTP status, a reason for a person, and every problem by file."""

    def __init__(
        self,
        status: int,
        detail: str,
        problems: list[Problem] | None = None,
        extra: dict | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail)
        self.status = int(status)
        self.detail = detail
        self.problems = problems or []
        self.extra = extra or {}
        self.headers = headers or {}

    def to_json(self) -> dict:
        body: dict = {
            "detail": self.detail,
            "problems": [{"file": p.file, "message": p.message} for p in self.problems],
        }
        body.update(self.extra)
        return body


class SignInRequired(ApiError):
    """A page needs a signed-in user: 401 for scripts, a redirect to sign in for browsers."""

    def __init__(self, next_url: str):
        super().__init__(401, "sign in first")
        self.next_url = next_url


def _disk_full(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return exc.errno in DISK_FULL
    if isinstance(exc, DBAPIError):
        orig = exc.orig
        return (getattr(orig, "sqlite_errorcode", None) == SQLITE_FULL
                or getattr(orig, "sqlstate", None) == POSTGRES_DISK_FULL)
    return False


def server_failure(exc: BaseException) -> ApiError | None:
    """The retryable server-side state behind ``exc`` as an ApiError, or None (a bug: 500)."""
    if _disk_full(exc):
        return ApiError(507, "the server has no space left on its disk; nothing was stored. "
                             "Try again later (the operators have been told)",
                        headers={"Retry-After": str(DISK_FULL_RETRY_AFTER_SECONDS)})
    if isinstance(exc, OperationalError):
        return ApiError(503, "the database is busy or unavailable; nothing was saved. "
                             "Try again in a few seconds",
                        headers={"Retry-After": str(RETRY_AFTER_SECONDS)})
    return None
