"""Judges' JSON routes: their trials, their ratings, best-k picks and pairwise choices, and the
blind images behind their tokens.

Judge-facing answers carry only opaque tokens, labels and scores: no team, submission,
file name, time or header (``ETag``, ``Last-Modified``) that could tell one finalist
from another or repeat across judges.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from app.deps import JudgeUser, SessionDep
from app.errors import ApiError
from app.judging import pairs, trials
from app.judging.blind import ImageMissing, source_image

router = APIRouter(tags=["judging"])
IMAGE_PATH = "/judge/images/"
IMAGE_HEADERS = {"Cache-Control": "private, max-age=604800, immutable",
                 "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


class RatingRequest(BaseModel):
    """Scores of one trial's candidates by label; ``criteria`` only when the campaign rates them.

    Scores and criteria are checked against the trial (labels, scale, known criteria) by
    app.judging.trials, which names every problem.
    """

    trial_id: str = Field("", description="a trial_id given by GET /api/judge/trials")
    scores: dict[str, Any] = Field(default_factory=dict, examples=[{"A": 7, "B": 4}])
    criteria: dict[str, Any] | None = Field(None, examples=[{"A": {"noise": 6}}])


class PicksRequest(BaseModel):
    """The labels picked so far on one best-k trial (at most k; the trial counts at k)."""

    trial_id: str = Field("", description="a trial_id given by GET /api/judge/trials")
    picked: list[Any] = Field(default_factory=list, examples=[["A", "D", "F"]])


class ChoiceRequest(BaseModel):
    """The better result of one pair: ``left``, ``right`` or (when allowed) ``tie``."""

    trial_id: str = Field("", description="a pairwise trial_id given by GET /api/judge/trials")
    choice: Any = Field(None, examples=["left"])


class Progress(BaseModel):
    rated: int
    total: int


class TrialsAnswer(BaseModel):
    trials: list[dict[str, Any]]
    progress: Progress


class RatingAnswer(BaseModel):
    trial_id: str
    rated: bool
    saved: list[str]
    progress: Progress


class PicksAnswer(BaseModel):
    trial_id: str
    rated: bool
    picked: list[str]
    progress: Progress


class ChoiceAnswer(BaseModel):
    trial_id: str
    rated: bool
    choice: str
    next: dict[str, Any] | None = Field(None, description="the next pair, if one is due")
    progress: Progress


def image_url(token: str) -> str:
    return IMAGE_PATH + token


def png(data: bytes) -> Response:
    """A blind PNG, cacheable by this browser only, with nothing that tells where it came from."""
    return Response(content=data, media_type="image/png", headers=IMAGE_HEADERS)


def _progress(session: SessionDep, user: JudgeUser) -> tuple[list, list, Progress]:
    """The user's trials, pairs, and progress over both (images done or pairs decided)."""
    shown = trials.judge_trials(session, user)
    compared = pairs.judge_pairs(session, user)
    done, asked = trials.progress(shown), pairs.pair_progress(compared)
    return shown, compared, Progress(rated=done["rated"] + asked["rated"],
                                     total=done["total"] + asked["total"])


@router.get("/api/judge/trials")
def read_trials(user: JudgeUser, session: SessionDep) -> TrialsAnswer:
    """``{"trials": [{"trial_id", "protocol", "input_url", "candidates": [...], "rated"}],
    "progress"}``; pairwise trials are the pairs so far and the one to decide now."""
    shown, compared, progress = _progress(session, user)
    session.commit()  # trials drawn on first call are kept before anyone sees them
    return TrialsAnswer(trials=[trials.trial_view(t, image_url) for t in shown]
                        + [pairs.pair_view(p, image_url) for p in compared],
                        progress=progress)


@router.post("/api/judge/ratings")
def create_ratings(body: RatingRequest, user: JudgeUser, session: SessionDep) -> RatingAnswer:
    """Save scores the moment they are given; repeated posts replace earlier scores."""
    trial = trials.record_ratings(session, user, body.trial_id, body.scores, body.criteria)
    session.commit()
    mine = trials.judge_trials(session, user)
    return RatingAnswer(trial_id=trial.token, rated=trials.is_rated(trial),
                        saved=sorted(body.scores), progress=Progress(**trials.progress(mine)))


@router.post("/api/judge/picks")
def create_picks(body: PicksRequest, user: JudgeUser, session: SessionDep) -> PicksAnswer:
    """Save a best-k trial's picks at each change (committed before the answer); the trial is
    ``rated`` once exactly k are picked."""
    trial = trials.record_picks(session, user, body.trial_id, body.picked)
    session.commit()
    _, _, progress = _progress(session, user)
    session.commit()
    return PicksAnswer(trial_id=trial.token, rated=trials.is_rated(trial),
                       picked=sorted(trial.pick.labels) if trial.pick else [], progress=progress)


@router.post("/api/judge/comparisons")
def create_choice(body: ChoiceRequest, user: JudgeUser, session: SessionDep) -> ChoiceAnswer:
    """Save the choice on one pair (committed before the answer) and give the next pair."""
    pair = pairs.record_choice(session, user, body.trial_id, body.choice)
    _, compared, progress = _progress(session, user)
    session.commit()
    waiting = next((p for p in compared if p.outcome is None and p.campaign_id == pair.campaign_id),
                   None)
    return ChoiceAnswer(trial_id=pair.token, rated=True, choice=str(body.choice),
                        next=pairs.pair_view(waiting, image_url) if waiting else None,
                        progress=progress)


@router.get(IMAGE_PATH + "{token}", include_in_schema=False)
def read_judge_image(token: str, user: JudgeUser, session: SessionDep) -> Response:
    """A trial's image by its opaque token; another judge's token is simply not found."""
    source = trials.resolve_image(session, user, token) or \
        pairs.resolve_image(session, user, token)
    if source is None:
        raise ApiError(404, "image not found")
    try:
        return png(source_image(source))
    except ImageMissing as exc:
        raise ApiError(404, "image not found") from exc
