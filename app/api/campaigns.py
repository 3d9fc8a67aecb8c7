"""Organisers' judging routes: confirm finalists, open, close and reopen rating campaigns and
follow their progress, invite, revoke and re-link judges."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.accounts import AccountError
from app.deps import BaseUrl, ChallengeFromPath, Organiser, PhaseFromPath, SessionDep
from app.errors import ApiError
from app.judging import campaigns, qualification, results
from app.judging.campaigns import MAX_REPEAT_SHARE, CampaignError, CampaignOptions
from app.judging.models import Campaign
from app.judging.qualification import QualificationError
from app.judging.trials import judge_progress

router = APIRouter(prefix="/api/organiser/challenges/{challenge}", tags=["judging"])


class QualificationRequest(BaseModel):
    teams: list[str] | None = Field(None, description="exactly these teams; null: the proposal")


class Finalist(BaseModel):
    team: str
    source_rank: int | None
    source: str


class FinalistsAnswer(BaseModel):
    teams: list[Finalist]


class CampaignRequest(BaseModel):
    scale: str = Field("1-10", description="LOW-HIGH")
    criteria: bool = False
    repeats: float = Field(0.05, description=f"share of the images shown twice, hidden, "
                                             f"0 to {MAX_REPEAT_SHARE} (0.05: one in twenty)")
    submissions: dict[str, int] = Field(default_factory=dict, description="team -> submission id")
    method: dict[str, Any] = Field(default_factory=dict)
    protocol: str = Field("rating", description="rating (default), best-k or pairwise")
    k: int | None = Field(None, description="best-k: results picked per image (default 3)")
    band: tuple[float, float] | None = Field(
        None, description="best-k: the counts mapped linearly onto [low, high], e.g. [80, 90]")
    ties: bool | None = Field(None, description="pairwise: whether judges may call a tie "
                                                "(default true)")
    comparisons: int | None = Field(None, description="pairwise: pairs asked of each judge "
                                                      "(default 60)")


class CampaignEntry(BaseModel):
    team: str
    submission_id: int


class JudgeProgressAnswer(BaseModel):
    judge: str
    rated: int = Field(description="images fully rated")
    total: int = Field(description="images to rate (hidden repeats included)")
    ratings: int = Field(description="results scored, repeats included")
    last_activity: datetime | None
    opened: bool = Field(description="whether the judge has opened the rating page")
    revoked: bool


class CampaignAnswer(BaseModel):
    id: int
    phase: str
    status: str
    protocol: str
    protocol_options: dict[str, Any]
    scale: list[int]
    criteria: bool
    repeat_share: float
    method: dict[str, Any]
    entries: list[CampaignEntry]
    progress: list[JudgeProgressAnswer] = Field(default_factory=list)
    published: bool | None = Field(None, description="close: whether results were published")
    not_published_because: str | None = None


class JudgeRequest(BaseModel):
    name: str
    email: str | None = None


class JudgeAnswer(BaseModel):
    judge: str
    link: str
    token: str


class JudgeListed(BaseModel):
    judge: str
    email: str
    revoked: bool
    created_at: datetime


def campaign_answer(session: SessionDep, campaign: Campaign, **extra: Any) -> CampaignAnswer:
    return CampaignAnswer(
        id=campaign.id, phase=campaign.phase.slug, status=campaign.status,
        protocol=campaign.protocol, protocol_options=campaign.protocol_options or {},
        scale=[campaign.scale_min, campaign.scale_max], criteria=campaign.criteria,
        repeat_share=campaign.repeat_share, method=campaign.method,
        entries=[CampaignEntry(team=e.team.name, submission_id=e.submission_id)
                 for e in campaign.entries],
        progress=[JudgeProgressAnswer(judge=p.judge, rated=p.rated, total=p.trials,
                                      ratings=p.ratings, last_activity=p.last_activity,
                                      opened=p.opened, revoked=p.revoked)
                  for p in judge_progress(session, campaign)], **extra)


@router.post("/phases/{phase}/qualification")
def confirm_qualification(user: Organiser, phase: PhaseFromPath, body: QualificationRequest,
                          session: SessionDep) -> FinalistsAnswer:
    """``{"teams": [names] | null}``: confirm the proposed finalists, or set exactly these."""
    try:
        listed = qualification.confirm(session, phase, body.teams, actor=user)
    except QualificationError as exc:
        raise ApiError(409, str(exc)) from exc
    return FinalistsAnswer(teams=[Finalist(team=q.team, source_rank=q.source_rank,
                                           source=q.source) for q in listed])


@router.post("/phases/{phase}/campaign", status_code=201)
def create_campaign(user: Organiser, phase: PhaseFromPath, body: CampaignRequest,
                    session: SessionDep) -> CampaignAnswer:
    try:
        options = CampaignOptions(scale=campaigns.parse_scale(body.scale), criteria=body.criteria,
                                  repeat_share=body.repeats, submissions=body.submissions,
                                  method=body.method, protocol=body.protocol, k=body.k,
                                  band=body.band, ties=body.ties,
                                  comparisons=body.comparisons)
        campaign = campaigns.open_campaign(session, phase, options, actor=user)
    except CampaignError as exc:
        raise ApiError(409, str(exc)) from exc
    return campaign_answer(session, campaign)


@router.get("/phases/{phase}/campaign")
def read_campaign(user: Organiser, phase: PhaseFromPath, session: SessionDep) -> CampaignAnswer:
    """The phase's latest campaign with each judge's progress (kept after it closes)."""
    campaign = campaigns.latest_campaign(session, phase)
    if campaign is None:
        raise ApiError(404, f"phase {phase.slug} has no campaign yet")
    return campaign_answer(session, campaign)


@router.post("/phases/{phase}/campaign/close")
def end_campaign(user: Organiser, phase: PhaseFromPath, session: SessionDep) -> CampaignAnswer:
    """Close the open campaign and publish its results (``published``; if they cannot be
    computed yet, ``not_published_because`` says why)."""
    campaign = campaigns.open_campaign_of(session, phase)
    if campaign is None:
        raise ApiError(409, f"phase {phase.slug} has no open campaign")
    closed = results.close(session, campaign, actor=user)
    return campaign_answer(session, campaign, published=closed.published,
                           not_published_because=closed.reason)


@router.post("/phases/{phase}/campaign/reopen")
def reopen_campaign(user: Organiser, phase: PhaseFromPath,
                    session: SessionDep) -> CampaignAnswer:
    """Open the latest campaign again: ratings kept, published results kept until it closes."""
    try:
        campaign = campaigns.reopen_campaign(session, phase, actor=user)
    except CampaignError as exc:
        raise ApiError(409, str(exc)) from exc
    return campaign_answer(session, campaign)


@router.get("/judges")
def read_judges(user: Organiser, challenge: ChallengeFromPath,
                session: SessionDep) -> list[JudgeListed]:
    return [JudgeListed(judge=j.name, email=j.user.email, revoked=j.revoked_at is not None,
                        created_at=j.created_at) for j in campaigns.judges_of(session, challenge)]


@router.post("/judges", status_code=201)
def create_judge(user: Organiser, challenge: ChallengeFromPath, body: JudgeRequest,
                 session: SessionDep, base: BaseUrl) -> JudgeAnswer:
    """A judge and their personal sign-in link (shown once), on the address this request used."""
    try:
        judge, token = campaigns.add_judge(session, challenge, body.name, email=body.email,
                                           actor=user)
    except CampaignError as exc:
        raise ApiError(409, str(exc)) from exc
    except AccountError as exc:
        raise ApiError(400, str(exc)) from exc
    return JudgeAnswer(judge=judge.name, link=campaigns.sign_in_link(token, base), token=token)


class JudgeName(BaseModel):
    name: str


@router.post("/judges/revoke")
def revoke_judge(user: Organiser, challenge: ChallengeFromPath, body: JudgeName,
                 session: SessionDep) -> JudgeListed:
    """Withdraw a judge's access (links and sessions); the ratings given are kept."""
    try:
        judge = campaigns.find_judge(session, challenge, body.name)
        campaigns.revoke_judge(session, judge, actor=user)
    except CampaignError as exc:
        raise ApiError(409, str(exc)) from exc
    return JudgeListed(judge=judge.name, email=judge.user.email, revoked=True,
                       created_at=judge.created_at)


@router.post("/judges/link", status_code=201)
def renew_judge_link(user: Organiser, challenge: ChallengeFromPath, body: JudgeName,
                     session: SessionDep, base: BaseUrl) -> JudgeAnswer:
    """A new sign-in link for a judge (shown once); earlier links stop working."""
    try:
        judge = campaigns.find_judge(session, challenge, body.name)
        token = campaigns.new_link(session, judge, actor=user)
    except CampaignError as exc:
        raise ApiError(409, str(exc)) from exc
    return JudgeAnswer(judge=judge.name, link=campaigns.sign_in_link(token, base), token=token)
