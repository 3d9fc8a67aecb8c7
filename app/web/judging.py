"""Judging pages: the judge's sign-in link and rating page, the organiser's judging desk (finalists,
campaigns with their progress, judges) and image inspector, and the final results page (table,
plots, CSV)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import reproduction
from app.accounts import AccountError, user_for_token
from app.deps import BaseUrl, ChallengeFromPath, PhaseFromPath, SessionDep, SubmissionFromPath
from app.errors import ApiError
from app.judging import qualification, results
from app.judging.campaigns import (
    MAX_REPEAT_SHARE,
    CampaignError,
    CampaignOptions,
    add_judge,
    is_judge,
    judges_of,
    latest_campaign,
    new_link,
    open_campaign,
    open_campaign_of,
    parse_band,
    parse_scale,
    published_campaign,
    rating_count,
    reopen_campaign,
    revoke_judge,
    sign_in_link,
)
from app.judging.models import Judge
from app.judging.qualification import QualificationError
from app.judging.trials import CRITERIA_GUIDE, judge_progress
from app.lookups import by_id
from app.models import Challenge, Phase, Team
from app.web.access import PAGE_ROUTES, OrganiserPage, SignedIn, Throttle, Viewer, sign_in
from app.web.svg import mos_plot, spread_plot
from app.web.templating import confirm_page, flash, render

router = APIRouter(include_in_schema=False, dependencies=PAGE_ROUTES)
NEW_LINK_KEY = "judge_link"


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
                                               "title": "Rate the restorations",
                                               "guide": CRITERIA_GUIDE})


@router.get("/organiser/submissions/{submission_id}/inspect", response_class=HTMLResponse)
def inspect_page(request: Request, user: OrganiserPage,
                 submission: SubmissionFromPath) -> HTMLResponse:
    """The same viewer, for organisers: each image of a submission beside its input (and GT)."""
    return render(request, "judge/rate.html", {
        "user": user, "mode": "inspect",
        "source": f"/api/organiser/submissions/{submission.id}/inspect",
        "title": f"Submission #{submission.id}", "guide": ()})


def _finalist_choices(session: Session, phase: Phase) -> list[dict]:
    """The desk's finalist table: the proposal and the confirmed list together, ticked as the
    list in force has them."""
    proposed = qualification.proposed(session, phase)
    confirmed = qualification.confirmed(session, phase)
    in_force = {q.team for q in (confirmed or proposed)}
    rows = {q.team: {"q": q, "proposed": True} for q in proposed}
    for q in confirmed:
        rows.setdefault(q.team, {"q": q, "proposed": False})["q"] = q
    return sorted(({**row, "ticked": name in in_force} for name, row in rows.items()),
                  key=lambda r: (r["q"].source_rank is None, r["q"].source_rank or 0,
                                 r["q"].team))


def _desk_context(session: Session, challenge: Challenge) -> dict:
    phases = []
    for phase in (p for p in challenge.phases if p.kind == "unpaired"):
        campaign = latest_campaign(session, phase)
        published = published_campaign(session, phase)
        phases.append({
            "phase": phase, "campaign": campaign,
            "confirmed": qualification.confirmed(session, phase),
            "proposed": qualification.proposed(session, phase),
            "choices": _finalist_choices(session, phase),
            "ratings": rating_count(session, campaign) if campaign else 0,
            "published": published,
            "published_at": results.published_at(session, published) if published else None,
            "progress": judge_progress(session, campaign) if campaign else []})
    teams = list(session.scalars(select(Team.name).where(Team.challenge_id == challenge.id)
                                 .order_by(Team.name)))
    return {"challenge": challenge, "phases": phases, "judges": judges_of(session, challenge),
            "team_names": teams}


@router.get("/organiser/challenges/{challenge}/judging", response_class=HTMLResponse)
def judging_desk(request: Request, user: OrganiserPage, challenge: ChallengeFromPath,
                 session: SessionDep) -> HTMLResponse:
    return render(request, "judge/desk.html", {"user": user, "section": "organiser",
                                               "new_link": request.session.pop(NEW_LINK_KEY,
                                                                               None),
                                               "max_repeat_share": MAX_REPEAT_SHARE,
                                               **_desk_context(session, challenge)})


def _back(slug: str, anchor: str = "") -> RedirectResponse:
    return RedirectResponse(f"/organiser/challenges/{slug}/judging{anchor}", status_code=303)


@router.post("/organiser/challenges/{challenge}/phases/{phase}/qualification")
def confirm_finalists(request: Request, user: OrganiserPage, phase: PhaseFromPath,
                      session: SessionDep, team: Annotated[list[str] | None, Form()] = None,
                      proposal: Annotated[str, Form()] = "") -> RedirectResponse:
    """The ticked teams and any typed in "also admit" (an empty box is no team), or, with
    ``proposal``, the leaderboard's proposal as it is."""
    slug = phase.challenge.slug
    try:
        listed = qualification.confirm(session, phase, None if proposal else (team or []),
                                       actor=user)
    except QualificationError as exc:
        flash(request, "error", f"The finalists were not confirmed: {exc}.")
        return _back(slug, f"#phase-{phase.slug}")
    flash(request, "ok", f"{len(listed)} finalist(s) confirmed for “{phase.title}”: "
                         f"{', '.join(q.team for q in listed)}.")
    return _back(slug, f"#phase-{phase.slug}")


@router.post("/organiser/challenges/{challenge}/phases/{phase}/campaign")
async def start_campaign(request: Request, user: OrganiserPage, phase: PhaseFromPath,
                         session: SessionDep, scale: Annotated[str, Form()] = "1-10",
                         criteria: Annotated[str, Form()] = "",
                         repeats: Annotated[str, Form()] = "0.05",
                         protocol: Annotated[str, Form()] = "rating",
                         k: Annotated[str, Form()] = "", band: Annotated[str, Form()] = "",
                         comparisons: Annotated[str, Form()] = "",
                         no_ties: Annotated[str, Form()] = "") -> RedirectResponse:
    """The desk's form: ``protocol`` (with ``k`` and ``band`` for best-k, ``comparisons`` and
    ``no_ties`` for pairwise; the fields of other protocols are ignored), ``scale``,
    ``criteria``, ``repeats`` (a share, as in the API) and one ``submission:<team>`` field per
    finalist whose submission is not its last one."""
    form = await request.form()  # the submission:<team> fields are named by the finalists
    slug = phase.challenge.slug
    chosen = {key.removeprefix("submission:"): int(str(value)) for key, value in form.items()
              if key.startswith("submission:") and str(value).isdigit()}
    try:
        best_k, pairwise = protocol == "best-k", protocol == "pairwise"
        options = CampaignOptions(
            scale=parse_scale(scale), criteria=criteria == "on", repeat_share=float(repeats),
            submissions=chosen, protocol=protocol,
            k=int(k) if best_k and k.strip() else None,
            band=parse_band(band) if best_k and band.strip() else None,
            ties=(no_ties != "on") if pairwise else None,
            comparisons=int(comparisons) if pairwise and comparisons.strip() else None)
        open_campaign(session, phase, options, actor=user)
    except (CampaignError, ValueError) as exc:
        flash(request, "error", f"The campaign was not opened: {exc}")
        return _back(slug, f"#phase-{phase.slug}")
    flash(request, "ok", f"Rating campaign opened on “{phase.title}”. Invite judges below and "
                         f"send each their link.")
    return _back(slug, f"#phase-{phase.slug}")


@router.get("/organiser/challenges/{challenge}/phases/{phase}/campaign/close",
            response_class=HTMLResponse)
def confirm_close(request: Request, user: OrganiserPage, phase: PhaseFromPath,
                  session: SessionDep) -> HTMLResponse:
    """Closing publishes: say what will happen, and warn about judges who rated nothing."""
    campaign = open_campaign_of(session, phase)
    if campaign is None:
        raise ApiError(409, f"Phase “{phase.title}” has no open campaign to close.")
    progress = judge_progress(session, campaign)
    idle = [p.judge for p in progress if p.ratings == 0 and not p.revoked]
    partial = [p for p in progress if 0 < p.rated < p.trials]
    ratings = rating_count(session, campaign)
    slug = phase.challenge.slug
    points = [f"Judges can no longer rate or change a score in campaign {campaign.id}.",
              "The final ranking is computed now and published on the challenge's "
              "“Final ranking” page, for everyone to see.",
              "You can reopen the campaign later: its ratings are kept, and the published "
              "ranking stays until it closes again."]
    warnings = []
    if idle:
        warnings.append(f"{len(idle)} judge(s) have not rated anything: {', '.join(idle)}.")
    if partial:
        warnings.append("Not finished: " + "; ".join(f"{p.judge} ({p.rated} of {p.trials} "
                                                      f"images)" for p in partial) + ".")
    if ratings == 0:
        warnings.append("No rating has been given at all: nothing can be published.")
    return confirm_page(
        request, user, title=f"Close the campaign on “{phase.title}”?",
        crumbs=[("Organiser", "/organiser"),
                (phase.challenge.title, f"/organiser/challenges/{slug}"),
                ("Judging", f"/organiser/challenges/{slug}/judging")],
        points=points, warnings=warnings, progress=progress,
        action=f"/organiser/challenges/{slug}/phases/{phase.slug}/campaign/close",
        button="Close and publish", cancel=f"/organiser/challenges/{slug}/judging")


@router.post("/organiser/challenges/{challenge}/phases/{phase}/campaign/close")
def stop_campaign(request: Request, user: OrganiserPage, phase: PhaseFromPath,
                  session: SessionDep) -> RedirectResponse:
    slug = phase.challenge.slug
    campaign = open_campaign_of(session, phase)
    if campaign is None:
        flash(request, "info", f"“{phase.title}” has no open campaign.")
        return _back(slug)
    closed = results.close(session, campaign, actor=user)
    if closed.published:
        flash(request, "ok", "Campaign closed; the final ranking is published.")
    else:
        flash(request, "error", f"Campaign closed, but nothing was published: {closed.reason}.")
    return _back(slug, f"#phase-{phase.slug}")


@router.post("/organiser/challenges/{challenge}/phases/{phase}/campaign/reopen")
def reopen(request: Request, user: OrganiserPage, phase: PhaseFromPath,
           session: SessionDep) -> RedirectResponse:
    slug = phase.challenge.slug
    try:
        reopen_campaign(session, phase, actor=user)
    except CampaignError as exc:
        flash(request, "error", f"The campaign was not reopened: {exc}.")
        return _back(slug)
    flash(request, "ok", "Campaign reopened: judges carry on where they stopped; the published "
                         "ranking stays until the campaign closes again.")
    return _back(slug, f"#phase-{phase.slug}")


@router.post("/organiser/challenges/{challenge}/judges")
def invite_judge(request: Request, user: OrganiserPage, challenge: ChallengeFromPath,
                 session: SessionDep, base: BaseUrl, name: Annotated[str, Form()] = "",
                 email: Annotated[str, Form()] = "") -> RedirectResponse:
    slug = challenge.slug
    try:
        judge, token = add_judge(session, challenge, name, email=email or None, actor=user)
    except (CampaignError, AccountError) as exc:
        flash(request, "error", f"The judge was not invited: {exc}.")
        return _back(slug, "#judges")
    request.session[NEW_LINK_KEY] = {"judge": judge.name, "link": sign_in_link(token, base),
                                     "verb": "added"}
    return _back(slug, "#judges")


def _judge_of(session: Session, challenge: Challenge, judge_id: int) -> Judge:
    judge = by_id(session, Judge, judge_id)
    if judge is None or judge.challenge_id != challenge.id:
        raise ApiError(404, f"No judge {judge_id} in challenge {challenge.slug}.")
    return judge


@router.post("/organiser/challenges/{challenge}/judges/{judge_id}/revoke")
def revoke(request: Request, user: OrganiserPage, challenge: ChallengeFromPath, judge_id: int,
           session: SessionDep) -> RedirectResponse:
    judge = _judge_of(session, challenge, judge_id)
    try:
        revoke_judge(session, judge, actor=user)
    except CampaignError as exc:
        flash(request, "error", f"{exc}.")
        return _back(challenge.slug, "#judges")
    flash(request, "ok", f"Judge “{judge.name}” revoked: their link no longer works; the "
                         f"ratings they gave are kept.")
    return _back(challenge.slug, "#judges")


@router.post("/organiser/challenges/{challenge}/judges/{judge_id}/link")
def relink(request: Request, user: OrganiserPage, challenge: ChallengeFromPath, judge_id: int,
           session: SessionDep, base: BaseUrl) -> RedirectResponse:
    judge = _judge_of(session, challenge, judge_id)
    token = new_link(session, judge, actor=user)
    request.session[NEW_LINK_KEY] = {"judge": judge.name, "link": sign_in_link(token, base),
                                     "verb": "has a new link"}
    return _back(challenge.slug, "#judges")


def _mos_points(body: dict) -> list[dict]:
    """The final rows as the MOS plot draws them: the judges' scale, with the 95% interval."""
    points = []
    for row in body["rows"]:
        mos, ci = row.get("mos"), row.get("mos_ci95")
        points.append({"team": row["team"], "score": mos,
                       "low": mos - ci if mos is not None and ci is not None else None,
                       "high": mos + ci if mos is not None and ci is not None else None})
    return points


def _score_points(body: dict) -> list[dict]:
    """The final rows as the score plot draws them: the protocol's score with its 95% interval."""
    return [{"team": row["team"], "score": row["subjective"], "low": row.get("subjective_low"),
             "high": row.get("subjective_high")} for row in body["rows"]]


def _plots(body: dict) -> dict:
    """The results page's charts: MOS and per-image spread for ratings; for best-k and pairwise,
    each team's score with its 95% interval (best-k on the organiser's band)."""
    campaign = body["method"].get("campaign", {})
    protocol = campaign.get("protocol", "rating")
    if protocol == "rating":
        scale = campaign.get("scale") or [1, 10]
        return {"mos_plot": mos_plot(_mos_points(body), scale=(scale[0], scale[1]),
                                     label=f"MOS per team on the judges' {scale[0]}-{scale[1]} "
                                           f"scale, 95% CI"),
                "spread_plot": spread_plot([r["team"] for r in body["rows"]],
                                           body["subjective"]["images"])}
    band = body["subjective"].get("method", {}).get("band")
    return {"mos_plot": mos_plot(_score_points(body), scale=tuple(band) if band else None,
                                 label="Subjective score per team, 95% CI"),
            "spread_plot": ""}


@router.get("/challenges/{challenge}/final", response_class=HTMLResponse)
def final_page(request: Request, user: Viewer, challenge: ChallengeFromPath,
               session: SessionDep) -> HTMLResponse:
    body = results.visible_results(session, user, challenge)
    organiser = user is not None and user.is_organiser
    campaign = body["method"].get("campaign", {})
    published = None
    if organiser and campaign.get("status") == "open":
        phase = next((p for p in challenge.phases
                      if p.slug == body["method"]["phases"]["subjective"]), None)
        found = published_campaign(session, phase) if phase is not None else None
        published = results.published_at(session, found) if found is not None else None
    return render(request, "judge/final.html", {
        "user": user, "section": "challenges", "challenge": challenge, "final": body,
        "organiser": organiser, "published_at": published,
        "reproduction": reproduction.team_verdicts(session, challenge),
        "protocol": campaign.get("protocol", "rating"), **_plots(body),
    })
