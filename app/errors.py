"""The one error a request can be refused with, and its one JSON body.

``ApiError(status, detail, problems, extra, headers)`` answers every refusal, from the API and
from pages alike, as ``{"detail": str, "problems": [{"file", "message"}], **extra}`` with the
status and headers given. A page that wants HTML gets the same message rendered by
``templates/error.html`` instead (app.main installs the one handler). ``SignInRequired`` is the
401 of a page: a browser is sent to the sign-in page and back.

This module imports no web framework, so the domain packages may raise ApiError too: the
status is their classification of the refusal (a quota spent is 429 wherever it is asked).
"""

from __future__ import annotations

from metrics.images import Problem


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
