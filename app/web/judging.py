"""Judging pages: the judge's sign-in link and rating page, the organiser's judging desk and
image inspector, and the final results page (table, plots, CSV)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from app.accounts import AccountError, user_for_token
from app.deps import ChallengeFromPath, PhaseFromPath, SessionDep, SubmissionFromPath
from app.errors import ApiError
from app.judging import qualification
from app.judging.campaigns import (
    MAX_REPEAT_SHARE,
    CampaignError,
    CampaignOptions,
    add_judge,
    close_campaign,
    is_judge,
    judges_of,
    latest_campaign,
    open_campaign,
    open_campaign_of,
    parse_scale,
    sign_in_link,
)
from app.judging.qualification import QualificationError
from app.judging.results import visible_results
from app.judging.trials import judge_progress
from app.models import Challenge
from app.web.access import PAGE_ROUTES, OrganiserPage, SignedIn, Throttle, Viewer, sign_in
from app.web.svg import mos_plot, spread_plot
from app.web.templating import flash, render

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)


@router.get("/judge/sign-in/{token}")
def judge_sign_in(token: str, request: Request, session: SessionDep,
                  throttle: Throttle) -> RedirectResponse:
    """Trade the personal link's token for a browser session, then open the rating page.

    Invalid links count as failed sign-ins of the client's address (no token guessing).
    """
    throttle.refuse_if_throttled()
    user = user_for_token(session, token)
    if user is None or not is_judge(session, user):
        throttle.failed()
        raise ApiError(404, "This sign-in link is not valid (revoked, mistyped or expired).")
    sign_in(request, session, user)
    session.commit()
    return RedirectResponse("/judge", status_code=303)


@router.get("/judge", response_class=HTMLResponse)
def rating_page(request: Request, user: SignedIn, session: SessionDep) -> HTMLResponse:
    """The rating viewer; it loads the judge's trials from /api/judge/trials."""
    if not is_judge(session, user):
        raise ApiError(403, "This page is for judges only.")
    return render(request, "judge/rate.html", {"user": None, "mode": "rate",
                                               "source": "/api/judge/trials",
                                               "title": "Rate the restorations"})


@router.get("/organiser/submissions/{submission_id}/inspect", response_class=HTMLResponse)
def inspect_page(request: Request, user: OrganiserPage,
                 submission: SubmissionFromPath) -> HTMLResponse:
    """The same viewer, for organisers: each image of a submission beside its input (and GT)."""
    return render(request, "judge/rate.html", {
        "user": user, "mode": "inspect",
        "source": f"/api/organiser/submissions/{submission.id}/inspect",
        "title": f"Submission #{submission.id}"})


def _desk_context(session: SessionDep, challenge: Challenge) -> dict:
    phases = []
    for phase in (p for p in challenge.phases if p.kind == "unpaired"):
        campaign = latest_campaign(session, phase)
        phases.append({
            "phase": phase, "campaign": campaign,
            "proposed": qualification.proposed(session, phase),
            "confirmed": qualification.confirmed(session, phase),
            "progress": judge_progress(session, campaign) if campaign else []})
    return {"challenge": challenge, "phases": phases, "judges": judges_of(session, challenge)}


@router.get("/organiser/challenges/{challenge}/judging", response_class=HTMLResponse)
def judging_desk(request: Request, user: OrganiserPage, challenge: ChallengeFromPath,
                 session: SessionDep) -> HTMLResponse:
    return render(request, "judge/desk.html", {"user": user, "section": "organiser",
                                               "new_link": request.session.pop("judge_link", None),
                                               "max_repeat_share": MAX_REPEAT_SHARE,
                                               **_desk_context(session, challenge)})


def _back(slug: str) -> RedirectResponse:
    return RedirectResponse(f"/organiser/challenges/{slug}/judging", status_code=303)


@router.post("/organiser/challenges/{challenge}/phases/{phase}/qualification")
def confirm_finalists(request: Request, user: OrganiserPage, phase: PhaseFromPath,
                      session: SessionDep,
                      team: Annotated[list[str] | None, Form()] = None) -> RedirectResponse:
    names = team or []
    slug = phase.challenge.slug
    try:
        listed = qualification.confirm(session, phase, names, actor=user)
    except QualificationError as exc:
        flash(request, "error", str(exc))
        return _back(slug)
    flash(request, "ok", f"{len(listed)} finalist(s) confirmed for “{phase.title}”.")
    return _back(slug)


@router.post("/organiser/challenges/{challenge}/phases/{phase}/campaign")
async def start_campaign(request: Request, user: OrganiserPage, phase: PhaseFromPath,
                         session: SessionDep, scale: Annotated[str, Form()] = "1-10",
                         criteria: Annotated[str, Form()] = "",
                         repeats: Annotated[str, Form()] = "0.05") -> RedirectResponse:
    """The desk's form: ``scale``, ``criteria``, ``repeats`` (a share, as in the API) and one
    ``submission:<team>`` field per finalist whose submission is not its last one."""
    form = await request.form()  # the submission:<team> fields are named by the finalists
    slug = phase.challenge.slug
    chosen = {key.removeprefix("submission:"): int(str(value)) for key, value in form.items()
              if key.startswith("submission:") and str(value).isdigit()}
    try:
        options = CampaignOptions(scale=parse_scale(scale), criteria=criteria == "on",
                                  repeat_share=float(repeats), submissions=chosen)
        open_campaign(session, phase, options, actor=user)
    except (CampaignError, ValueError) as exc:
        flash(request, "error", f"The campaign was not opened: {exc}")
        return _back(slug)
    flash(request, "ok", f"Rating campaign opened on “{phase.title}”.")
    return _back(slug)


@router.post("/organiser/challenges/{challenge}/phases/{phase}/campaign/close")
def stop_campaign(request: Request, user: OrganiserPage, phase: PhaseFromPath,
                  session: SessionDep) -> RedirectResponse:
    slug = phase.challenge.slug
    campaign = open_campaign_of(session, phase)
    if campaign is not None:
        close_campaign(session, campaign, actor=user)
        flash(request, "ok", "Campaign closed; the final results can now be published.")
    return _back(slug)


@router.post("/organiser/challenges/{challenge}/judges")
def invite_judge(request: Request, user: OrganiserPage, challenge: ChallengeFromPath,
                 session: SessionDep, name: Annotated[str, Form()] = "",
                 email: Annotated[str, Form()] = "") -> RedirectResponse:
    slug = challenge.slug
    try:
        judge, token = add_judge(session, challenge, name, email=email or None, actor=user)
    except (CampaignError, AccountError) as exc:
        flash(request, "error", str(exc))
        return _back(slug)
    request.session["judge_link"] = {"judge": judge.name, "link": sign_in_link(token)}
    return _back(slug)


@router.get("/challenges/{challenge}/final", response_class=HTMLResponse)
def final_page(request: Request, user: Viewer, challenge: ChallengeFromPath,
               session: SessionDep) -> HTMLResponse:
    body = visible_results(session, user, challenge).to_json()
    teams = [t for row in body["rows"] for t in body["subjective"]["teams"]
             if t["team"] == row["team"]]
    return render(request, "judge/final.html", {
        "user": user, "section": "challenges", "challenge": challenge, "final": body,
        "mos_plot": mos_plot(teams),
        "spread_plot": spread_plot([r["team"] for r in body["rows"]], body["subjective"]["images"]),
    })
