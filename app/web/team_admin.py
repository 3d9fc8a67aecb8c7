"""Organiser pages for a challenge's teams: list teams and members, rename, add and remove members,
disband (after a confirmation); each change goes through app.team_admin, which audits it."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app import team_admin
from app.config import get_settings
from app.deps import ChallengeFromPath, SessionDep
from app.errors import ApiError
from app.models import Challenge, User
from app.storage import remove_uploads
from app.web.access import PAGE_ROUTES, OrganiserPage
from app.web.templating import confirm_page, flash, render

router = APIRouter(prefix="/organiser/challenges/{challenge}/teams", include_in_schema=False,
                   dependencies=PAGE_ROUTES)


def _teams_url(challenge: Challenge, team_id: int | None = None) -> str:
    return f"/organiser/challenges/{challenge.slug}/teams" + (f"#team-{team_id}" if team_id else "")


def _back(challenge: Challenge, team_id: int | None = None) -> RedirectResponse:
    return RedirectResponse(_teams_url(challenge, team_id), status_code=303)


@router.get("", response_class=HTMLResponse)
def teams_page(request: Request, user: OrganiserPage, challenge: ChallengeFromPath,
               session: SessionDep) -> HTMLResponse:
    return render(request, "organiser/teams.html", {
        "user": user, "section": "organiser", "challenge": challenge,
        "teams": team_admin.team_summaries(session, challenge)})


@router.post("/{team_id}/rename")
def rename(request: Request, user: OrganiserPage, challenge: ChallengeFromPath, team_id: int,
           session: SessionDep, name: Annotated[str, Form()] = "") -> RedirectResponse:
    team = team_admin.find_team_by_id(session, challenge, team_id)
    before = team.name
    try:
        team_admin.rename_team(session, team, name, actor=session.get_one(User, user.id))
    except ApiError as exc:
        flash(request, "error", f"Team “{before}” was not renamed: {exc.detail}.")
        return _back(challenge, team_id)
    flash(request, "ok", f"Team “{before}” is now “{team.name}”.")
    return _back(challenge, team_id)


@router.post("/{team_id}/members")
def add_member(request: Request, user: OrganiserPage, challenge: ChallengeFromPath,
               team_id: int, session: SessionDep,
               email: Annotated[str, Form()] = "") -> RedirectResponse:
    team = team_admin.find_team_by_id(session, challenge, team_id)
    try:
        added = team_admin.add_member(session, team, email, actor=session.get_one(User, user.id))
    except ApiError as exc:
        flash(request, "error", f"Nobody was added to “{team.name}”: {exc.detail}.")
        return _back(challenge, team_id)
    flash(request, "ok", f"{added.email} is now a member of “{team.name}”.")
    return _back(challenge, team_id)


@router.post("/{team_id}/members/{user_id}/remove")
def remove_member(request: Request, user: OrganiserPage, challenge: ChallengeFromPath,
                  team_id: int, user_id: int, session: SessionDep) -> RedirectResponse:
    team = team_admin.find_team_by_id(session, challenge, team_id)
    removed = team_admin.remove_member(session, team, user_id,
                                       actor=session.get_one(User, user.id))
    flash(request, "ok", f"{removed.email} is no longer a member of “{team.name}”.")
    return _back(challenge, team_id)


def _summary(session: SessionDep, challenge: Challenge, team_id: int) -> team_admin.TeamSummary:
    team = team_admin.find_team_by_id(session, challenge, team_id)
    return next(s for s in team_admin.team_summaries(session, challenge) if s.team.id == team.id)


@router.get("/{team_id}/disband", response_class=HTMLResponse)
def confirm_disband(request: Request, user: OrganiserPage, challenge: ChallengeFromPath,
                    team_id: int, session: SessionDep) -> HTMLResponse:
    summary = _summary(session, challenge, team_id)
    refusal = team_admin.disband_refusal(summary)
    if refusal is not None:
        raise ApiError(409, f"Team “{summary.team.name}” cannot be disbanded: {refusal}.")
    per_phase = ", ".join(f"{n} in {p}" for p, n in sorted(summary.submissions.items()))
    points = [f"The team and its {len(summary.members)} membership(s) are deleted; its members "
              f"keep their accounts and may join or create another team.",
              f"Its {summary.submission_count} submission(s) ({per_phase or 'none'}) are "
              f"deleted and leave every leaderboard.",
              "The audit log keeps the team's members and submissions."]
    warnings = ([f"It is a confirmed finalist of {', '.join(summary.finalist_in)}."]
                if summary.finalist_in else [])
    return confirm_page(
        request, user, title=f"Disband team “{summary.team.name}”?",
        crumbs=[("Organiser", "/organiser"),
                (challenge.title, f"/organiser/challenges/{challenge.slug}"),
                ("Teams", _teams_url(challenge))],
        points=points, warnings=warnings,
        action=f"/organiser/challenges/{challenge.slug}/teams/{team_id}/disband",
        button="Disband the team", cancel=_teams_url(challenge, team_id))


@router.post("/{team_id}/disband")
def disband(request: Request, user: OrganiserPage, challenge: ChallengeFromPath, team_id: int,
            session: SessionDep) -> RedirectResponse:
    summary = _summary(session, challenge, team_id)
    name = summary.team.name
    uploads = team_admin.disband_team(session, summary, actor=session.get_one(User, user.id))
    session.commit()  # the rows first: a failed commit must not cost the team its files
    remove_uploads(get_settings(), uploads)
    flash(request, "ok", f"Team “{name}” disbanded (written to the audit log).")
    return _back(challenge)
