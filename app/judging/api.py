"""JSON routes of judging: judges' trials, ratings, blind images; final results; organiser tools.

Judge-facing answers carry only opaque tokens, labels and scores: no team, submission,
file name, time or header (``ETag``, ``Last-Modified``) that could tell one finalist
from another or repeat across judges.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Request, Response
from pydantic import BaseModel
from sqlalchemy import select

from app.accounts import AccountError
from app.config import get_settings
from app.deps import CurrentUser, OptionalUser, Organiser, SessionDep
from app.judging import qualification, results, trials
from app.judging.blind import ImageMissing, blind_image
from app.judging.campaigns import (
    CampaignError,
    CampaignOptions,
    add_judge,
    close_campaign,
    open_campaign,
    open_campaign_of,
    parse_scale,
    sign_in_link,
)
from app.judging.models import Campaign, Judge
from app.judging.qualification import QualificationError
from app.judging.trials import ImageSource, RatingRejected
from app.models import Challenge, Phase, Submission, User
from app.submissions import Rejected
from app.web.csrf import require_csrf_header
from metrics.images import IMAGE_SUFFIXES, ImageSet

router = APIRouter(tags=["judging"])
IMAGE_PATH = "/judge/images/"
IMAGE_HEADERS = {"Cache-Control": "private, max-age=604800, immutable",
                 "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


def is_judge(session: SessionDep, user: User) -> bool:
    return user.is_judge or session.scalar(select(Judge.id).where(Judge.user_id == user.id)
                                           .limit(1)) is not None


def judge_user(user: CurrentUser, session: SessionDep) -> User:
    """The caller, who must be a judge of some challenge."""
    if not is_judge(session, user):
        raise Rejected(403, "this is for judges only")
    return user


JudgeUser = Annotated[User, Depends(judge_user)]


def csrf_for_cookies(request: Request) -> None:
    """Browser (cookie) callers must send the CSRF header; token (Bearer) callers need not."""
    if not request.headers.get("authorization", "").lower().startswith("bearer "):
        require_csrf_header(request)


def image_url(token: str) -> str:
    return IMAGE_PATH + token


@router.get("/api/judge/trials")
def read_trials(user: JudgeUser, session: SessionDep) -> dict:
    """``{"trials": [{"trial_id", "input_url", "candidates": [...], "rated"}], "progress"}``."""
    shown = trials.judge_trials(session, user)
    session.commit()  # trials drawn on first call are kept before anyone sees them
    return {"trials": [trials.trial_view(t, image_url) for t in shown],
            "progress": trials.progress(shown)}


@router.post("/api/judge/ratings", dependencies=[Depends(csrf_for_cookies)])
def create_ratings(user: JudgeUser, session: SessionDep,
                   payload: Annotated[Any, Body()]) -> dict:
    """Save scores the moment they are given; repeated posts replace earlier scores."""
    try:
        trial = trials.record_ratings(session, user, payload)
    except RatingRejected as exc:
        raise Rejected(exc.status, exc.message) from exc
    session.commit()
    mine = trials.judge_trials(session, user)
    return {"trial_id": trial.token, "rated": trials.is_rated(trial),
            "saved": sorted(payload["scores"]), "progress": trials.progress(mine)}


def source_bytes(source: ImageSource) -> bytes:
    """The blind PNG of an input image or of a finalist's result."""
    settings = get_settings()
    if source.entry is None:
        dataset = source.campaign.phase.dataset("inputs")
        if dataset is None:
            raise Rejected(404, "image not found")
        path, key = settings.datasets_dir / dataset.path, f"input:{dataset.fingerprint}"
    else:
        sub = source.entry.submission
        path, key = settings.data_dir / sub.upload_path, f"submission:{sub.upload_sha256}:{sub.id}"
    try:
        return blind_image(path, source.image, f"{key}:{source.image}")
    except ImageMissing as exc:
        raise Rejected(404, "image not found") from exc


def png(data: bytes) -> Response:
    return Response(content=data, media_type="image/png", headers=IMAGE_HEADERS)


@router.get(IMAGE_PATH + "{token}", include_in_schema=False)
def read_judge_image(token: str, user: JudgeUser, session: SessionDep) -> Response:
    """A trial's image by its opaque token; another judge's token is simply not found."""
    source = trials.resolve_image(session, user, token)
    if source is None:
        raise Rejected(404, "image not found")
    return png(source_bytes(source))


def find_challenge(session: SessionDep, challenge: str) -> Challenge:
    found = session.scalar(select(Challenge).where(Challenge.slug == challenge))
    if found is None:
        raise Rejected(404, f"no challenge {challenge!r}")
    return found


def may_see_results(session: SessionDep, user: User | None, setup: results.FinalSetup) -> bool:
    """Organisers always; others once the campaign is closed; judges never."""
    if user is not None and user.is_organiser:
        return True
    if user is not None and is_judge(session, user):
        return False
    return setup.campaign.status == "closed"


def visible_results(session: SessionDep, user: User | None, challenge: str) -> results.FinalResults:
    """The final results if this viewer may see them; Rejected (403, 404, 409) otherwise."""
    found = find_challenge(session, challenge)
    try:
        chosen = results.setup(session, found)
        if not may_see_results(session, user, chosen):
            if user is not None and is_judge(session, user):
                raise Rejected(403, "judges cannot see results or leaderboards")
            raise Rejected(404, f"the final results of {challenge} are not published yet")
        return results.final_results(session, found)
    except results.ResultsUnavailable as exc:
        raise Rejected(409, f"no final results yet: {exc}") from exc


@router.get("/api/challenges/{challenge}/final")
def read_final(challenge: str, user: OptionalUser, session: SessionDep) -> dict:
    """``{"rows": [{"rank", "team", "objective", "subjective", "final", ...}], "method", ...}``."""
    return visible_results(session, user, challenge).to_json()


@router.get("/api/challenges/{challenge}/final.csv")
def read_final_csv(challenge: str, user: OptionalUser, session: SessionDep) -> Response:
    body = results.to_csv(visible_results(session, user, challenge))
    return Response(body, media_type="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{challenge}-final.csv"'})


INSPECT_ROLES = ("result", "input", "ground_truth")


@router.get("/api/organiser/submissions/{submission_id}/images/{stem}", include_in_schema=False)
def read_submission_image(submission_id: int, stem: str, user: Organiser, session: SessionDep,
                          role: str = "result") -> Response:
    """Organisers: a submitted image, its input or (paired phases) its ground truth, as PNG."""
    sub = session.get(Submission, submission_id)
    if sub is None:
        raise Rejected(404, f"submission {submission_id} not found")
    if role not in INSPECT_ROLES:
        raise Rejected(422, f"role {role!r}: choose one of {', '.join(INSPECT_ROLES)}")
    settings = get_settings()
    if role == "result":
        path, key = settings.data_dir / sub.upload_path, f"submission:{sub.upload_sha256}:{sub.id}"
    else:
        dataset = sub.phase.dataset("inputs" if role == "input" else "ground_truth")
        if dataset is None:
            raise Rejected(404, f"phase {sub.phase.slug} has no {role.replace('_', ' ')}")
        path, key = settings.datasets_dir / dataset.path, f"{role}:{dataset.fingerprint}"
    try:
        return png(blind_image(path, stem, f"{key}:{stem}"))
    except ImageMissing as exc:
        raise Rejected(404, f"{stem}: {exc}") from exc


def phase_of(session: SessionDep, challenge: str, phase: str) -> Phase:
    found = session.scalar(select(Phase).join(Challenge).where(
        Challenge.slug == challenge, Phase.slug == phase))
    if found is None:
        raise Rejected(404, f"no phase {phase!r} in challenge {challenge!r}")
    return found


def _refused(exc: Exception) -> Rejected:
    return Rejected(409 if isinstance(exc, CampaignError | QualificationError) else 400, str(exc))


@router.post("/api/organiser/challenges/{challenge}/phases/{phase}/qualification")
def confirm_qualification(challenge: str, phase: str, user: Organiser, session: SessionDep,
                          body: Annotated[dict, Body()]) -> dict:
    """``{"teams": [names] | null}``: confirm the proposed finalists, or set exactly these."""
    names = body.get("teams")
    if names is not None and not (isinstance(names, list)
                                  and all(isinstance(n, str) for n in names)):
        raise Rejected(422, "teams must be a list of team names, or null for the proposal")
    try:
        listed = qualification.confirm(session, phase_of(session, challenge, phase), names,
                                       actor=user)
    except QualificationError as exc:
        raise _refused(exc) from exc
    return {"teams": [{"team": q.team, "source_rank": q.source_rank, "source": q.source}
                      for q in listed]}


class CampaignRequest(BaseModel):
    scale: str = "1-10"
    criteria: bool = False
    repeats: float = 0.05
    submissions: dict[str, int] = {}
    method: dict[str, Any] = {}


@router.post("/api/organiser/challenges/{challenge}/phases/{phase}/campaign", status_code=201)
def create_campaign(challenge: str, phase: str, body: CampaignRequest, user: Organiser,
                    session: SessionDep) -> dict:
    try:
        options = CampaignOptions(scale=parse_scale(body.scale), criteria=body.criteria,
                                  repeat_share=body.repeats, submissions=body.submissions,
                                  method=body.method)
        campaign = open_campaign(session, phase_of(session, challenge, phase), options,
                                 actor=user)
    except CampaignError as exc:
        raise _refused(exc) from exc
    return campaign_view(campaign)


@router.post("/api/organiser/challenges/{challenge}/phases/{phase}/campaign/close")
def end_campaign(challenge: str, phase: str, user: Organiser, session: SessionDep) -> dict:
    campaign = open_campaign_of(session, phase_of(session, challenge, phase))
    if campaign is None:
        raise Rejected(409, f"phase {phase} has no open campaign")
    close_campaign(session, campaign, actor=user)
    return campaign_view(campaign)


class JudgeRequest(BaseModel):
    name: str
    email: str | None = None


@router.post("/api/organiser/challenges/{challenge}/judges", status_code=201)
def create_judge(challenge: str, body: JudgeRequest, user: Organiser, session: SessionDep) -> dict:
    """A judge and their personal sign-in link (shown once)."""
    try:
        judge, token = add_judge(session, find_challenge(session, challenge), body.name,
                                 email=body.email, actor=user)
    except (CampaignError, AccountError) as exc:
        raise _refused(exc) from exc
    return {"judge": judge.name, "link": sign_in_link(token), "token": token}


def campaign_view(campaign: Campaign) -> dict:
    return {"id": campaign.id, "phase": campaign.phase.slug, "status": campaign.status,
            "scale": [campaign.scale_min, campaign.scale_max], "criteria": campaign.criteria,
            "repeat_share": campaign.repeat_share, "method": campaign.method,
            "entries": [{"team": e.team.name, "submission_id": e.submission_id}
                        for e in campaign.entries]}


@router.get("/api/organiser/submissions/{submission_id}/inspect", include_in_schema=False)
def inspect_submission(submission_id: int, user: Organiser, session: SessionDep) -> dict:
    """The viewer's trials for one submission: each image beside its input (and ground truth)."""
    sub = session.get(Submission, submission_id)
    if sub is None:
        raise Rejected(404, f"submission {submission_id} not found")
    images = ImageSet(get_settings().data_dir / sub.upload_path, "submission")
    try:
        stems = sorted(PurePosixPath(n).stem for n in images.names()
                       if PurePosixPath(n).suffix.lower() in IMAGE_SUFFIXES)
    finally:
        images.close()
    base = f"/api/organiser/submissions/{submission_id}/images/"
    paired = sub.phase.kind == "paired" and sub.phase.dataset("ground_truth") is not None
    return {"trials": [{
        "trial_id": stem, "input_url": f"{base}{quote(stem)}?role=input", "rated": False,
        "candidates": [{"label": "result", "image_url": f"{base}{quote(stem)}?role=result"}]
        + ([{"label": "ground truth", "image_url": f"{base}{quote(stem)}?role=ground_truth"}]
           if paired else []),
        "scale": [0, 0], "criteria": []} for stem in stems]}
