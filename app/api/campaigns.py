"""Organisers' judging routes: confirm finalists, open and close rating campaigns, invite judges."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.accounts import AccountError
from app.deps import ChallengeFromPath, Organiser, PhaseFromPath, SessionDep
from app.errors import ApiError
from app.judging import campaigns, qualification
from app.judging.campaigns import MAX_REPEAT_SHARE, CampaignError, CampaignOptions
from app.judging.models import Campaign
from app.judging.qualification import QualificationError

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


class CampaignEntry(BaseModel):
    team: str
    submission_id: int


class CampaignAnswer(BaseModel):
    id: int
    phase: str
    status: str
    scale: list[int]
    criteria: bool
    repeat_share: float
    method: dict[str, Any]
    entries: list[CampaignEntry]


class JudgeRequest(BaseModel):
    name: str
    email: str | None = None


class JudgeAnswer(BaseModel):
    judge: str
    link: str
    token: str


def campaign_answer(campaign: Campaign) -> CampaignAnswer:
    return CampaignAnswer(
        id=campaign.id, phase=campaign.phase.slug, status=campaign.status,
        scale=[campaign.scale_min, campaign.scale_max], criteria=campaign.criteria,
        repeat_share=campaign.repeat_share, method=campaign.method,
        entries=[CampaignEntry(team=e.team.name, submission_id=e.submission_id)
                 for e in campaign.entries])


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
                                  method=body.method)
        campaign = campaigns.open_campaign(session, phase, options, actor=user)
    except CampaignError as exc:
        raise ApiError(409, str(exc)) from exc
    return campaign_answer(campaign)


@router.post("/phases/{phase}/campaign/close")
def end_campaign(user: Organiser, phase: PhaseFromPath, session: SessionDep) -> CampaignAnswer:
    campaign = campaigns.open_campaign_of(session, phase)
    if campaign is None:
        raise ApiError(409, f"phase {phase.slug} has no open campaign")
    campaigns.close_campaign(session, campaign, actor=user)
    return campaign_answer(campaign)


@router.post("/judges", status_code=201)
def create_judge(user: Organiser, challenge: ChallengeFromPath, body: JudgeRequest,
                 session: SessionDep) -> JudgeAnswer:
    """A judge and their personal sign-in link (shown once)."""
    try:
        judge, token = campaigns.add_judge(session, challenge, body.name, email=body.email, actor=user)
    except CampaignError as exc:
        raise ApiError(409, str(exc)) from exc
    except AccountError as exc:
        raise ApiError(400, str(exc)) from exc
    return JudgeAnswer(judge=judge.name, link=campaigns.sign_in_link(token), token=token)
