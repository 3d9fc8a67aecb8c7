"""Organiser pages: challenges, bundle upload, phase dates and visibility, rescoring (after a
confirmation), reproduction checks, the queue dashboard (workers, worker tokens) and the audit
log."""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from app import audit, reproduction, worker_tokens
from app import organiser as actions
from app.bundles.load import BundleError, install_bundle
from app.bundles.unpack import UnsafeBundle, unpack_bundle
from app.config import get_settings
from app.deps import (
    ChallengeFromPath,
    ExistingSubmissionId,
    PhaseFromPath,
    SessionDep,
    SubmissionFromPath,
    base_url,
)
from app.errors import ApiError
from app.jobs import queue
from app.jobs.broker import uses_broker
from app.lookups import by_id
from app.models import LEADERBOARD_VISIBILITY, User, WorkerToken, utcnow
from app.web.access import PAGE_ROUTES, OrganiserPage
from app.web.templating import confirm_page, flash, render
from app.web.views import challenge_summaries

router = APIRouter(prefix="/organiser", include_in_schema=False, dependencies=PAGE_ROUTES)
LISTED_SUBMISSIONS = 500
RECENT_FAILURES = 20
QUEUE_REFRESH_SECONDS = 5


def download_url(submission_id: int) -> str:
    return f"/api/organiser/submissions/{submission_id}/download"


def _index(request: Request, session: SessionDep, user: User, bundle_errors: list[str],
           status_code: int = 200) -> HTMLResponse:
    return render(request, "organiser/index.html", {
        "user": user, "section": "organiser", "bundle_errors": bundle_errors,
        "challenges": challenge_summaries(session, user, utcnow())}, status_code=status_code)


@router.get("", response_class=HTMLResponse)
def organiser_home(request: Request, user: OrganiserPage, session: SessionDep) -> HTMLResponse:
    return _index(request, session, user, [])


@router.post("/bundles", response_model=None)
def upload_bundle(request: Request, user: OrganiserPage, session: SessionDep,
                  bundle: Annotated[UploadFile, File()]) -> HTMLResponse | RedirectResponse:
    """Unpack, check and load a bundle zip; every problem is listed and nothing changes on error."""
    settings = get_settings()
    work = Path(tempfile.mkdtemp(prefix="bundle-", dir=_scratch(settings.data_dir)))
    try:
        archive = work / "bundle.zip"
        with archive.open("wb") as out:
            shutil.copyfileobj(bundle.file, out, 1024 * 1024)
        root = unpack_bundle(archive, work / "unpacked", max_bytes=settings.max_upload_bytes,
                             max_pixels=settings.max_pixels)
        result = install_bundle(root, actor_id=user.id)
    except (UnsafeBundle, BundleError) as exc:
        name = bundle.filename or "bundle"
        return _index(request, session, user, [f"{name}: {p}" for p in exc.problems],
                      status_code=400)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    verb = "created" if result.created else "updated"
    flash(request, "ok", f"Challenge “{result.challenge.title}” {verb} "
                         f"({len(result.replaced)} image set(s) copied).")
    return RedirectResponse(f"/organiser/challenges/{result.challenge.slug}", status_code=303)


def _scratch(data_dir: Path) -> Path:
    path = data_dir / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return path


@router.get("/challenges/{challenge}", response_class=HTMLResponse)
def organiser_challenge(request: Request, user: OrganiserPage, challenge: ChallengeFromPath,
                        session: SessionDep) -> HTMLResponse:
    submissions = actions.challenge_submissions(session, challenge, LISTED_SUBMISSIONS)
    outdated = actions.outdated_numerics(session, challenge)
    counts: dict[int, int] = {}
    for sub in submissions:
        counts[sub.phase_id] = counts.get(sub.phase_id, 0) + 1
    return render(request, "organiser/challenge.html", {
        "user": user, "section": "organiser", "challenge": challenge,
        "phases": [{"phase": p, "count": counts.get(p.id, 0), "outdated": outdated.get(p.id, 0)}
                   for p in challenge.phases],
        "submissions": submissions, "visibilities": LEADERBOARD_VISIBILITY,
        "csv_url": f"/api/organiser/challenges/{challenge.slug}/submissions.csv",
        "download_url": download_url})


@router.post("/challenges/{challenge}/phases/{phase}/leaderboard")
def set_visibility(request: Request, user: OrganiserPage, phase: PhaseFromPath,
                   session: SessionDep,
                   visibility: Annotated[str, Form()] = "") -> RedirectResponse:
    actions.set_visibility(session, phase, visibility, session.get_one(User, user.id))
    flash(request, "ok", f"The leaderboard of “{phase.title}” is now {visibility}.")
    return RedirectResponse(f"/organiser/challenges/{phase.challenge.slug}", status_code=303)


DATE_FORMAT = "%Y-%m-%dT%H:%M"  # what <input type="datetime-local"> sends (UTC here)


def _form_time(value: str, field: str) -> datetime | None:
    """A ``datetime-local`` field's value as UTC; empty means no date."""
    text = value.strip()
    if not text:
        return None
    for pattern in (DATE_FORMAT, DATE_FORMAT + ":%S"):
        try:
            return datetime.strptime(text, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ApiError(400, f"{field} {text!r}: give a date and time as YYYY-MM-DDTHH:MM (UTC)")


@router.get("/challenges/{challenge}/phases/{phase}", response_class=HTMLResponse)
def phase_settings(request: Request, user: OrganiserPage, phase: PhaseFromPath) -> HTMLResponse:
    """A phase's dates and leaderboard visibility, to edit."""
    return render(request, "organiser/phase.html", {
        "user": user, "section": "organiser", "challenge": phase.challenge, "phase": phase,
        "visibilities": LEADERBOARD_VISIBILITY, "date_format": DATE_FORMAT})


@router.post("/challenges/{challenge}/phases/{phase}")
def save_phase_settings(request: Request, user: OrganiserPage, phase: PhaseFromPath,
                        session: SessionDep, start: Annotated[str, Form()] = "",
                        end: Annotated[str, Form()] = "",
                        visibility: Annotated[str, Form()] = "") -> RedirectResponse:
    changed = actions.update_phase(
        session, phase, start=_form_time(start, "start"), end=_form_time(end, "end"),
        leaderboard=visibility or None, actor=session.get_one(User, user.id))
    if changed:
        flash(request, "ok", f"“{phase.title}” saved: {', '.join(sorted(changed))} changed "
                             f"(written to the audit log).")
    else:
        flash(request, "info", f"Nothing changed in “{phase.title}”.")
    return RedirectResponse(f"/organiser/challenges/{phase.challenge.slug}#phase-{phase.slug}",
                            status_code=303)


@router.get("/challenges/{challenge}/phases/{phase}/rescore", response_class=HTMLResponse)
def confirm_rescore_phase(request: Request, user: OrganiserPage,
                          phase: PhaseFromPath, session: SessionDep) -> HTMLResponse:
    """Rescoring a whole phase is long and changes its leaderboard: confirm it first."""
    counts = actions.status_counts(session, phase)
    finished = counts.get("scored", 0) + counts.get("failed", 0)
    busy = counts.get("queued", 0) + counts.get("scoring", 0)
    slug = phase.challenge.slug
    return confirm_page(
        request, user, title=f"Rescore every submission of “{phase.title}”?",
        crumbs=[("Organiser", "/organiser"), (phase.challenge.title,
                                              f"/organiser/challenges/{slug}")],
        points=[f"{finished} finished submission(s) of this phase are queued and scored again "
                f"with today's metrics, numerics and ground truth.",
                "Each submission's previous results are copied into the audit log first.",
                f"Submissions still queued or scoring ({busy}) are left as they are.",
                "On a large phase this keeps the workers busy for a long time."],
        action=f"/organiser/challenges/{slug}/phases/{phase.slug}/rescore",
        button="Rescore the phase", cancel=f"/organiser/challenges/{slug}")


@router.post("/challenges/{challenge}/phases/{phase}/rescore")
def rescore_phase(request: Request, user: OrganiserPage, phase: PhaseFromPath,
                  session: SessionDep) -> RedirectResponse:
    ids = actions.rescore_phase(session, phase, session.get_one(User, user.id))
    return _queued(request, session, ids, f"{len(ids)} submission(s) of “{phase.title}”",
                   f"/organiser/challenges/{phase.challenge.slug}")


@router.post("/submissions/{submission_id}/rescore")
def rescore_submission(request: Request, user: OrganiserPage, sub: SubmissionFromPath,
                       session: SessionDep) -> RedirectResponse:
    ids = actions.rescore_submission(session, sub, session.get_one(User, user.id))
    return _queued(request, session, ids, f"Submission #{sub.id}", f"/submissions/{sub.id}")


@router.post("/submissions/{submission_id}/reproduction")
def check_reproduction(request: Request, user: OrganiserPage,
                       submission_id: ExistingSubmissionId,
                       reproduced: Annotated[UploadFile, File()],
                       min_psnr: Annotated[str, Form()] = "",
                       max_diff: Annotated[str, Form()] = "") -> RedirectResponse:
    """The submission page's reproduction form: what POST /api/organiser/.../reproduction does;
    the verdict (or the problems) is flashed on the submission page. It holds no session of
    its own: the check reads, compares, then writes in transactions of its own."""
    settings = get_settings()
    work = Path(tempfile.mkdtemp(prefix="reproduction-", dir=_scratch(settings.data_dir)))
    name = reproduced.filename or "reproduction.zip"
    back = f"/submissions/{submission_id}"
    try:
        archive = work / "reproduction.zip"
        with archive.open("wb") as out:
            shutil.copyfileobj(reproduced.file, out, 1024 * 1024)
        thresholds = reproduction.thresholds_from(
            {"min_psnr": min_psnr, "max_diff": max_diff},
            reproduction.Thresholds(settings.reproduction_min_psnr,
                                    settings.reproduction_max_diff))
        view = reproduction.run_check(submission_id, archive, name, thresholds, user.id, settings)
    except ApiError as exc:
        flash(request, "error", f"Reproduction check not stored: {exc.detail}"
              + "".join(f" {p.file}: {p.message}." for p in exc.problems))
        return RedirectResponse(back, status_code=303)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    flash(request, "ok" if view["verdict"] == "pass" else "error",
          f"Reproduction check of {name}: {view['verdict']}, {view['flagged']} of "
          f"{view['image_count']} image(s) flagged.")
    return RedirectResponse(f"{back}#reproduction", status_code=303)


def _queued(request: Request, session: Session, ids: list[int], what: str,
            back: str) -> RedirectResponse:
    """Commit the rescoring, then queue it, say so, and go back to ``back``."""
    queue.commit_then_enqueue(session, ids)
    flash(request, "ok", f"{what} queued for rescoring; the previous results are kept in the "
                         "audit log.")
    return RedirectResponse(back, status_code=303)


def _queue(request: Request, session: Session, user: User, *, new_token: dict | None = None,
           token_error: str | None = None, status_code: int = 200) -> HTMLResponse:
    settings = get_settings()
    board = actions.queue_dashboard(session, mode="celery" if uses_broker() else "local",
                                    settings=settings)
    return render(request, "organiser/queue.html", {
        "user": user, "section": "organiser", "board": board,
        "active": actions.waiting_submissions(session),
        "failures": actions.recent_failures(session, RECENT_FAILURES), "broker": uses_broker(),
        "tokens": worker_tokens.listing(session), "new_token": new_token,
        "token_error": token_error, "service_url": base_url(request),
        "refresh_seconds": QUEUE_REFRESH_SECONDS}, status_code=status_code)


@router.get("/queue", response_class=HTMLResponse)
def queue_page(request: Request, user: OrganiserPage, session: SessionDep) -> HTMLResponse:
    return _queue(request, session, user)


@router.post("/workers/tokens", response_class=HTMLResponse)
def create_worker_token(request: Request, user: OrganiserPage, session: SessionDep,
                        name: Annotated[str, Form()] = "") -> HTMLResponse:
    """A new worker token, shown once on the page this answers (never kept in the cookie)."""
    actor = session.get_one(User, user.id)
    try:
        row, token = worker_tokens.create(session, name, actor)
    except worker_tokens.WorkerTokenError as exc:
        return _queue(request, session, user, token_error=str(exc), status_code=400)
    session.commit()
    return _queue(request, session, user, new_token={"name": row.name, "value": token})


@router.post("/workers/tokens/{worker_token_id}/revoke")
def revoke_worker_token(request: Request, user: OrganiserPage, worker_token_id: int,
                        session: SessionDep) -> RedirectResponse:
    row = by_id(session, WorkerToken, worker_token_id)
    if row is None:
        raise ApiError(404, f"worker token {worker_token_id} not found")
    worker_tokens.revoke(session, row, session.get_one(User, user.id))
    flash(request, "ok", f"Worker token “{row.name}” revoked: its workers are refused from now on.")
    return RedirectResponse("/organiser/queue", status_code=303)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, user: OrganiserPage, session: SessionDep, action: str = "",
               target: str = "", page: int = 1) -> HTMLResponse:
    """The audit log, newest first, filtered by action and target, 50 entries a page."""
    found = audit.search(session, action=action, target=target, page=page)
    return render(request, "organiser/audit.html", {
        "user": user, "section": "organiser", "log": found, "action": action,
        "target": target, "actions": audit.actions(session)})
