"""Team pages: invite members (single-use links), withdraw an invitation, join a team.

The rules are app.invitations'; these routes check who asks, call one of its functions and
answer a page. A new invitation's link is shown once, in the answer that made it, built from
the request's own address.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from app import invitations
from app.accounts import AccountError, team_of
from app.deps import ChallengeFromPath, SessionDep, WriteSessionDep
from app.errors import ApiError
from app.lookups import by_id
from app.models import Challenge, Team, TeamInvitation, User, utcnow
from app.web.access import PAGE_ROUTES, SignedIn
from app.web.pages import render_challenge
from app.web.templating import flash, render

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)


def _refused(exc: AccountError, what: str) -> ApiError:
    status = 404 if isinstance(exc, invitations.InvitationNotFound) else \
        403 if isinstance(exc, invitations.NotAMember) else 409
    text = str(exc)
    return ApiError(status, f"{what}: {text[:1].upper()}{text[1:]}.")


def _my_team(session: Session, user: User, challenge: Challenge) -> Team:
    team = team_of(session, user, challenge)
    if team is None:
        raise ApiError(403, f"You are in no team of {challenge.title}.")
    return team


@router.post("/challenges/{challenge}/invitations", response_class=HTMLResponse)
def create_invitation(request: Request, user: SignedIn, challenge: ChallengeFromPath,
                      session: SessionDep) -> HTMLResponse:
    """A new single-use invitation of the user's team; its link is in this answer only."""
    team = _my_team(session, user, challenge)
    made = invitations.invite(session, team, session.get_one(User, user.id))
    session.commit()
    link = str(request.url_for("join_page", code=made.code))
    return render_challenge(request, session, user, challenge, new_invitation={
        "link": link, "expires_at": made.invitation.expires_at})


@router.post("/challenges/{challenge}/invitations/{invitation_id}/revoke")
def revoke_invitation(request: Request, invitation_id: int, user: SignedIn,
                      challenge: ChallengeFromPath, session: SessionDep) -> RedirectResponse:
    row = by_id(session, TeamInvitation, invitation_id)
    if row is None or row.team.challenge_id != challenge.id:
        raise ApiError(404, f"{challenge.title} has no invitation {invitation_id}.")
    try:
        invitations.revoke(session, row, session.get_one(User, user.id))
    except AccountError as exc:
        raise _refused(exc, "The invitation could not be withdrawn") from exc
    flash(request, "ok", f"Invitation {row.prefix}… withdrawn: its link no longer works.")
    return RedirectResponse(f"/challenges/{challenge.slug}#team", status_code=303)


@router.get("/join", response_model=None)
def join_by_code(user: SignedIn, code: str = "") -> RedirectResponse:
    """The challenge page's "join with an invitation" box: a pasted link or code."""
    found = invitations.code_in(code)
    if found is None:
        raise ApiError(400, "Paste the invitation link (or its code, which starts with raim_) "
                            "that a member of the team sent you.")
    return RedirectResponse(f"/join/{found}", status_code=303)


@router.get("/join/{code}", response_class=HTMLResponse, name="join_page")
def join_page(request: Request, code: str, user: SignedIn, session: SessionDep) -> HTMLResponse:
    """What the invitation offers (team, challenge, members) and a button to accept it."""
    try:
        row = invitations.find(session, code)
    except AccountError as exc:
        raise _refused(exc, "This invitation cannot be used") from exc
    team = row.team
    me = session.get_one(User, user.id)
    problem = invitations.membership_problem(session, team, me) or \
        invitations.invitation_problem(row)
    return render(request, "join.html", {
        "user": user, "section": "challenges", "team": team, "challenge": team.challenge,
        "members": sorted(m.user.name for m in team.members), "code": code,
        "invitation": row, "problem": problem and problem[:1].upper() + problem[1:] + "."})


@router.post("/join/{code}")
def join(request: Request, code: str, user: SignedIn,
         session: WriteSessionDep) -> RedirectResponse:
    """Join the invitation's team (BEGIN IMMEDIATE on SQLite: one team per challenge holds)."""
    try:
        team = invitations.join(session, code, session.get_one(User, user.id), now=utcnow())
    except AccountError as exc:
        raise _refused(exc, "You could not join the team") from exc
    flash(request, "ok", f"You joined team “{team.name}”. You can submit for it now.")
    return RedirectResponse(f"/challenges/{team.challenge.slug}#team", status_code=303)
