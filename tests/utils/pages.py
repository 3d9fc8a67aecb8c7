"""Drive the HTML pages like a browser does: CSRF tokens from the page, form posts, sign-in.

The helpers that write the database directly take the write lock before they read
(``immediate=True``): a running service may commit meanwhile (tests/utils/sqlite_race)."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi.testclient import TestClient
from httpx import Response

from app import leaderboard
from app.accounts import add_member, create_user, set_password
from app.db import session_scope
from app.models import Challenge, ImageResult, Submission, Team, User, utcnow

HTML = {"Accept": "text/html"}
PASSWORD = "correct-horse-battery"
_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def csrf_of(client: TestClient, path: str = "/") -> str:
    """The session's CSRF token, read from a page as the browser would."""
    match = _TOKEN.search(client.get(path, headers=HTML).text)
    if match is None:
        raise LookupError(f"no CSRF token on {path}")
    return match.group(1)


def post_form(client: TestClient, path: str, data: dict[str, str] | None = None, *,
              token: str | None = None, files: dict | None = None) -> Response:
    """POST a form with the session's CSRF token (or ``token``); redirects are not followed."""
    fields = {"csrf_token": token if token is not None else csrf_of(client), **(data or {})}
    return client.post(path, data=fields, files=files, headers=HTML, follow_redirects=False)


def make_user(email: str, *, name: str = "Pat", team: str | None = None,
              challenge: str | None = None, organiser: bool = False) -> int:
    """A user with password PASSWORD, optionally added to ``team`` of ``challenge``."""
    with session_scope(immediate=True) as session:
        user = create_user(session, email, name=name, password=PASSWORD, is_organiser=organiser)
        if team is not None:
            found = session.query(Team).join(Challenge).filter(
                Team.name == team, Challenge.slug == challenge).one()
            add_member(session, found, user)
        return user.id


def make_organiser_password(email: str) -> None:
    with session_scope(immediate=True) as session:
        user = session.query(User).filter(User.email == email).one()
        set_password(user, PASSWORD)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> Response:
    response = post_form(client, "/sign-in", {"email": email, "password": password})
    if response.status_code != 303:
        raise AssertionError(f"sign-in as {email} failed: {response.status_code} "
                             f"{response.text[:200]}")
    return response


def scored_submission(phase_id: int, team_id: int, scores: dict[str, float], *,
                      minutes_ago: int = 10, status: str = "scored") -> int:
    """A submission stored as the worker stores one: per-image rows, means and score."""
    metrics = {"psnr": 25.0, "ssim": 0.8, "lpips": 0.2, "dists": 0.15, "niqe": 5.0}
    mean_score = sum(scores.values()) / len(scores) if scores else None
    with session_scope(immediate=True) as session:
        sub = Submission(phase_id=phase_id, team_id=team_id, status=status,
                         created_at=utcnow() - timedelta(minutes=minutes_ago),
                         upload_path="uploads/none.zip", upload_bytes=1, upload_sha256="0" * 64,
                         original_filename="results.zip", image_count=len(scores),
                         error="the ground truth changed" if status == "failed" else None)
        if status == "scored":
            sub.score = mean_score
            sub.mean = {**metrics, "score": mean_score}
            sub.images = [ImageResult(name=name, score=value, **metrics)
                          for name, value in scores.items()]
        session.add(sub)
        session.flush()
        if status == "scored":
            leaderboard.results_stored(session, sub)
        return sub.id
