"""Participant pages: home, challenge, team creation, dataset download, submit (and its quota
line), submission, leaderboard. Invitations and joining are in app.web.teams."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy.orm import Session

from app import factsheets, reproduction
from app.accounts import AccountError, create_team, team_ids, team_of
from app.config import get_settings
from app.deps import ChallengeFromPath, PhaseFromPath, SessionDep
from app.errors import ApiError
from app.evaluation import phase_formula
from app.intake.accept import receive_and_accept
from app.intake.views import accepted_view, stored_image_names, team_submissions
from app.invitations import open_invitations
from app.leaderboard import phase_leaderboard, visible_rows
from app.models import Challenge, Phase, Team, User, utcnow
from app.storage import dataset_zip
from app.web.access import PAGE_ROUTES, OwnedSubmissionPage, SignedIn, Viewer
from app.web.svg import score_plot
from app.web.templating import flash, render
from app.web.views import (
    METRICS,
    challenge_summaries,
    final_ranking,
    leaderboard_visible,
    phase_view,
)

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
RECENT_SUBMISSIONS = 10


@router.get("/", response_class=HTMLResponse)
def home(request: Request, user: Viewer, session: SessionDep) -> HTMLResponse:
    return render(request, "home.html", {
        "user": user, "section": "challenges",
        "challenges": challenge_summaries(session, user, utcnow())})


def render_challenge(request: Request, session: Session, user: User | None,
                     challenge: Challenge, **shown_once: dict) -> HTMLResponse:
    """The challenge page; ``shown_once`` carries what this answer alone shows (a new API
    token ``new_token``, a new invitation link ``new_invitation``)."""
    team = team_of(session, user, challenge) if user is not None else None
    now = utcnow()
    submissions = team_submissions(session, team, RECENT_SUBMISSIONS) if team is not None else []
    return render(request, "challenge.html", {
        "user": user, "section": "challenges", "challenge": challenge, "team": team,
        "members": sorted((m.user for m in team.members), key=lambda u: (u.name.lower(), u.id))
        if team is not None else [],
        "invitations": open_invitations(session, team, now) if team is not None else [],
        "phases": [phase_view(session, p, user, team, now) for p in challenge.phases],
        "final": final_ranking(session, challenge, user),
        "invitation_days": max(1, round(get_settings().invitation_max_age_seconds / 86400)),
        "submissions": submissions, "new_token": None, "new_invitation": None, **shown_once})


@router.get("/challenges/{challenge}", response_class=HTMLResponse)
def challenge_page(challenge: ChallengeFromPath, request: Request, user: Viewer,
                   session: SessionDep) -> HTMLResponse:
    return render_challenge(request, session, user, challenge)


@router.post("/challenges/{challenge}/teams", response_class=HTMLResponse)
def create_team_page(request: Request, user: SignedIn, challenge: ChallengeFromPath,
                     session: SessionDep, name: Annotated[str, Form()] = "") -> HTMLResponse:
    """Create the user's team; its first API token is shown once on the page that answers."""
    try:
        team, token = create_team(session, challenge, name, member=session.get_one(User, user.id))
    except AccountError as exc:
        raise ApiError(409, f"The team could not be created: {exc}.") from exc
    session.commit()
    flash(request, "ok", f"Team “{team.name}” created. You can submit now, and invite your "
                         f"team-mates with a link.")
    return render_challenge(request, session, user, challenge,
                            new_token={"name": f"team {team.name}", "value": token})


@router.get("/challenges/{challenge}/phases/{phase}/inputs.zip")
def download_inputs(request: Request, user: SignedIn, phase: PhaseFromPath,
                    session: SessionDep) -> FileResponse:
    """The phase's inputs (never its ground truth), once the phase has opened."""
    challenge = phase.challenge
    team = team_of(session, user, challenge)
    view = phase_view(session, phase, user, team, utcnow())
    if not view.can_download:
        raise ApiError(403, f"The inputs of “{phase.title}” are published when it opens"
                             + (f", to the top {phase.qualify_top} teams of {phase.qualify_from}"
                                if phase.qualify_from else "") + ".")
    if view.inputs is None:
        raise ApiError(404, f"Phase “{phase.title}” has no published inputs.")
    path = dataset_zip(get_settings(), view.inputs).path
    return FileResponse(path, media_type="application/zip",
                        filename=f"{challenge.slug}-{phase.slug}-inputs.zip")


def _submitting_team(request: Request, session: Session, user: User, phase: Phase) -> Team | None:
    team = team_of(session, user, phase.challenge)
    if team is None:
        flash(request, "info", "Create a team, or join one with an invitation link from a "
                               "member, to submit.")
    return team


@router.get("/challenges/{challenge}/phases/{phase}/submit", response_model=None)
def submit_page(request: Request, user: SignedIn, phase: PhaseFromPath,
                session: SessionDep) -> HTMLResponse | RedirectResponse:
    challenge = phase.challenge
    team = _submitting_team(request, session, user, phase)
    if team is None:
        return RedirectResponse(f"/challenges/{challenge.slug}", status_code=303)
    view = phase_view(session, phase, user, team, utcnow())
    if not view.can_submit:
        raise ApiError(403, view.reason or "You cannot submit to this phase.")
    spec = factsheets.spec_of(phase.factsheet)
    return render(request, "submit.html", {
        "user": user, "section": "challenges", "challenge": challenge, "phase": phase,
        "team": team, "quota": view.quota, "inputs": view.inputs,
        "formula": phase_formula(phase) if phase.kind == "paired" else None,
        "max_upload_bytes": get_settings().max_upload_bytes, "factsheet": spec,
        "factsheet_fields": [{**f.model_dump(), "label": factsheets.label(f)}
                             for f in spec.fields] if spec else []})


@router.get("/challenges/{challenge}/phases/{phase}/quota")
def quota_line(user: SignedIn, phase: PhaseFromPath, session: SessionDep) -> dict:
    """What the submit page says about the team's quota, read again after each upload:
    ``{"text", "can_submit", "reason"}``."""
    team = team_of(session, user, phase.challenge)
    if team is None:
        raise ApiError(403, f"You are in no team of {phase.challenge.title}.")
    view = phase_view(session, phase, user, team, utcnow())
    return {"text": view.quota.describe if view.quota is not None else None,
            "can_submit": view.can_submit, "reason": view.reason}


@router.post("/submit")
async def upload(request: Request, user: SignedIn) -> JSONResponse:
    """The submit page's upload (field ``phase`` = ``challenge/phase``): what POST /score does.

    The browser authenticates with its cookie, so app.csrf asks for the session's token, in the
    ``X-CSRF-Token`` header: the streamed body is never parsed to look for it."""
    accepted = await receive_and_accept(user.id, request.headers.get("content-type", ""),
                                        request.headers.get("content-length", ""),
                                        request.stream(), get_settings())
    status_url = str(request.url_for("read_submission", submission_id=accepted.id))
    return JSONResponse(accepted_view(accepted, status_url), status_code=202)


@router.get("/submissions/{submission_id}", response_class=HTMLResponse)
def submission_page(request: Request, user: SignedIn, sub: OwnedSubmissionPage,
                    session: SessionDep) -> HTMLResponse:
    judged = sub.phase.kind == "unpaired"
    resized = sub.resized or {}
    rows = [{"name": r.name, "score": r.score, "resized_from": resized.get(r.name),
             **{m.name: getattr(r, m.name) for m in METRICS}}
            for r in sub.images] if sub.status == "scored" else []
    # A formula of fewer metrics leaves the others out of the means: shown as a dash.
    mean = ({**{m.name: None for m in METRICS}, **sub.mean}
            if sub.status == "scored" and not judged and sub.mean else None)
    plotted = [(r["name"], r["score"]) for r in rows if r["score"] is not None]
    return render(request, "submission.html", {
        "user": user, "section": "challenges", "submission": sub, "phase": sub.phase,
        "challenge": sub.phase.challenge, "metrics": METRICS, "images": rows, "mean": mean,
        "plot": score_plot(plotted, (mean or {}).get("score")),
        "notes": sub.notes or [], "versions": sub.versions or {},
        "judged": judged,
        "submitted": stored_image_names(sub, get_settings())
        if judged and sub.status != "failed" else None,
        "final": final_ranking(session, sub.phase.challenge, user) if judged else None,
        "factsheet": factsheets.rows(sub.phase.factsheet, sub.factsheet)
        if sub.factsheet is not None else None,
        "reproduction": [reproduction.check_view(row) for row in reproduction.checks_of(
            session, sub)] if user.is_organiser else None,
        "reproduction_defaults": get_settings(),
        "leaderboard_visible": leaderboard_visible(sub.phase, user, {sub.team_id})})


@router.get("/challenges/{challenge}/phases/{phase}/leaderboard", response_class=HTMLResponse)
def leaderboard_page(request: Request, user: Viewer, phase: PhaseFromPath,
                     session: SessionDep) -> HTMLResponse:
    challenge = phase.challenge
    mine = team_ids(session, user)
    rows = visible_rows(phase_leaderboard(session, phase), phase.leaderboard,
                        organiser=bool(user and user.is_organiser), team_ids=mine,
                        judge=bool(user and user.is_judge))
    if rows is None:
        raise ApiError(404, f"The leaderboard of “{phase.title}” is not published.")
    team = team_of(session, user, challenge) if user is not None else None
    view = phase_view(session, phase, user, team, utcnow())
    return render(request, "leaderboard.html", {
        "user": user, "section": "challenges", "challenge": challenge, "phase": phase,
        "rows": rows, "my_team_ids": mine, "metrics": METRICS, "state": view.state,
        "final": final_ranking(session, challenge, user) if phase.kind == "unpaired" else None,
        "can_submit": view.can_submit})
