"""Per-judge trials: one per test image plus hidden repeats, random labels and order, ratings or
best-k picks saved.

A judge's trials are drawn the first time the judge asks for them: the test images in a
random order, each showing every finalist's result under labels (A, B, C...) drawn afresh
for that trial, and ``round(share x images)`` (at least one when the share is above zero)
images shown a second time later in the sequence, with new labels and new tokens, so the
repeat cannot be recognised. Tokens are random, so nothing repeats across judges.

Rating campaigns score every result (``record_ratings``); best-k campaigns draw the same
trials and the judge picks exactly ``k`` results of each (``record_picks``: each change of the
picks is saved; a trial counts once k are picked). Pairwise campaigns have pairs instead
(``app.judging.pairs``).
"""

from __future__ import annotations

import math
import random
import secrets
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.config import get_settings
from app.errors import ApiError
from app.judging.blind import ImageSource, image_stems
from app.judging.models import Campaign, Candidate, Judge, PairTrial, Pick, Rating, Trial
from app.models import Phase, User, utcnow
from app.storage import dataset_dir

CRITERIA = ("texture", "noise", "artefacts", "fidelity")
CRITERIA_TITLES = {"texture": "Texture and detail", "noise": "Noise", "artefacts": "Artefacts",
                   "fidelity": "Fidelity"}


@dataclass(frozen=True)
class CriterionGuide:
    """What a RAIM criterion asks (docs: the RAIM protocol), and what each end of the scale means.

    Every criterion is scored like the overall impression: the higher, the better.
    """

    name: str
    title: str
    question: str
    low: str  # what the lowest score means
    high: str  # what the highest score means


CRITERIA_GUIDE = (
    CriterionGuide("texture", CRITERIA_TITLES["texture"],
                   "Are textures and fine details (fur, grass, text) natural and present?",
                   "smeared or missing detail", "natural, rich detail"),
    CriterionGuide("noise", CRITERIA_TITLES["noise"],
                   "Is leftover noise gone, colour noise above all? A little luminance grain "
                   "is fine: flat areas should not look smeared.",
                   "much noise left", "clean"),
    CriterionGuide("artefacts", CRITERIA_TITLES["artefacts"],
                   "Are artefacts suppressed: worms, colour blotches, merged strokes, black or "
                   "white halos?", "many artefacts", "no artefacts"),
    CriterionGuide("fidelity", CRITERIA_TITLES["fidelity"],
                   "Is the result faithful to the input, with no invented content (text "
                   "strokes that change characters)?", "content invented or changed",
                   "faithful to the input"),
)
_random = random.SystemRandom()


def labels(count: int) -> list[str]:
    """A, B, ... Z, AA, AB, ...: as many labels as finalists."""
    letters = string.ascii_uppercase
    out = []
    for i in range(count):
        label, n = "", i
        while True:
            label = letters[n % 26] + label
            n = n // 26 - 1
            if n < 0:
                break
        out.append(label)
    return out


def input_stems(phase: Phase) -> list[str]:
    """The stems of the phase's input images (the test images a campaign rates)."""
    inputs = dataset_dir(get_settings(), phase, "inputs")
    return image_stems(inputs) if inputs is not None else []


def repeat_count(images: int, share: float) -> int:
    if share <= 0 or images == 0:
        return 0
    return min(images, max(1, round(share * images)))


def sequence(stems: list[str], repeats: int, rng: random.Random) -> list[tuple[str, int | None]]:
    """(stem, index of the original in the list or None) in showing order; repeats come later."""
    order: list[tuple[str, int | None]] = [(s, None) for s in rng.sample(stems, len(stems))]
    for stem in rng.sample(stems, repeats):
        first = next(i for i, (s, r) in enumerate(order) if s == stem and r is None)
        at = rng.randint(min(first + 2, len(order)), len(order))
        order.insert(at, (stem, -1))
    originals = {s: i for i, (s, r) in enumerate(order) if r is None}
    return [(s, None if r is None else originals[s]) for s, r in order]


def new_token() -> str:
    return secrets.token_urlsafe(18)


def ensure_trials(session: Session, campaign: Campaign, judge: Judge) -> None:
    """Draw the judge's trials for this campaign once; later calls change nothing."""
    exists = session.scalar(select(func.count(Trial.id)).where(
        Trial.campaign_id == campaign.id, Trial.judge_id == judge.id))
    if exists:
        return
    stems = input_stems(campaign.phase)
    entries = list(campaign.entries)
    made: list[Trial] = []
    for position, (stem, original) in enumerate(
            sequence(stems, repeat_count(len(stems), campaign.repeat_share), _random)):
        trial = Trial(campaign_id=campaign.id, judge_id=judge.id, image=stem, position=position,
                      repeat_of=None if original is None else made[original].id,
                      token=new_token(), input_token=new_token())
        session.add(trial)
        session.flush()
        made.append(trial)
        shuffled = _random.sample(entries, len(entries))
        for label, entry in zip(labels(len(entries)), shuffled, strict=True):
            session.add(Candidate(trial_id=trial.id, entry_id=entry.id, label=label,
                                  image_token=new_token()))
    session.flush()


def judged_campaigns(session: Session, user: User) -> list[tuple[Campaign, Judge]]:
    """The open campaigns of every challenge the user judges, whatever their protocol."""
    query = (select(Campaign, Judge).join(Phase, Phase.id == Campaign.phase_id)
             .join(Judge, Judge.challenge_id == Phase.challenge_id)
             .where(Judge.user_id == user.id, Judge.revoked_at.is_(None),
                    Campaign.status == "open").order_by(Campaign.id))
    return [(c, j) for c, j in session.execute(query)]


def judge_trials(session: Session, user: User) -> list[Trial]:
    """Every trial of the user in open rating and best-k campaigns (drawn on first call), in
    showing order."""
    pairs = [(c, j) for c, j in judged_campaigns(session, user) if c.protocol != "pairwise"]
    for campaign, judge in pairs:
        ensure_trials(session, campaign, judge)
    if not pairs:
        return []
    return list(session.scalars(
        select(Trial).where(Trial.judge_id.in_([j.id for _, j in pairs]),
                            Trial.campaign_id.in_([c.id for c, _ in pairs]))
        .options(selectinload(Trial.candidates).selectinload(Candidate.rating),
                 selectinload(Trial.campaign), selectinload(Trial.pick))
        .order_by(Trial.campaign_id, Trial.position)))


def pick_k(campaign: Campaign) -> int:
    """How many results a best-k campaign's judges pick per image."""
    return int((campaign.protocol_options or {}).get("k", 0))


def is_rated(trial: Trial) -> bool:
    """Whether the trial is done: every result scored, or (best-k) exactly k picked."""
    if trial.campaign.protocol == "best-k":
        return trial.pick is not None and len(trial.pick.labels) == pick_k(trial.campaign)
    return all(c.rating is not None for c in trial.candidates)


def trial_view(trial: Trial, image_url: Callable[[str], str]) -> dict:
    """The contract's trial object plus what the page needs; nothing names a team or a file.

    Every trial says its ``protocol``; a best-k trial also carries ``k`` and ``picked`` (the
    labels picked so far)."""
    campaign = trial.campaign
    view = {
        "trial_id": trial.token,
        "protocol": campaign.protocol,
        "input_url": image_url(trial.input_token),
        "candidates": [{"label": c.label, "image_url": image_url(c.image_token),
                        "score": c.rating.score if c.rating else None,
                        "criteria": c.rating.criteria if c.rating else None}
                       for c in trial.candidates],
        "rated": is_rated(trial),
        "scale": [campaign.scale_min, campaign.scale_max],
        "criteria": list(CRITERIA) if campaign.criteria else [],
    }
    if campaign.protocol == "best-k":
        view["k"] = pick_k(campaign)
        view["picked"] = sorted(trial.pick.labels) if trial.pick else []
    return view


@dataclass(frozen=True)
class JudgeProgress:
    """One judge's progress in a campaign (kept after it closes)."""

    judge: str
    trials: int  # images to rate (drawn when the judge first opens the page; expected before)
    rated: int  # images fully rated
    ratings: int  # results scored, repeats included
    last_activity: datetime | None  # the judge's latest rating
    opened: bool  # whether the judge has opened the rating page
    revoked: bool

    @property
    def done(self) -> bool:
        return self.opened and self.rated == self.trials


def expected_trials(campaign: Campaign) -> int:
    """How many images each judge will be shown: the test images plus hidden repeats (for a
    pairwise campaign: the pairs asked of each judge)."""
    if campaign.protocol == "pairwise":
        return comparisons_asked(campaign)
    images = len(input_stems(campaign.phase))
    return images + repeat_count(images, campaign.repeat_share)


def judge_progress(session: Session, campaign: Campaign) -> list[JudgeProgress]:
    """Every judge of the campaign's challenge, by name: images rated of images to rate,
    ratings given and the last one's time; judges who never opened the page included.
    Best-k: images picked (k picks) and trials with picks; pairwise: pairs decided of the
    pairs asked (``app.judging.pairs``)."""
    if campaign.protocol == "pairwise":
        return _progress_rows(session, campaign, _pair_counts(session, campaign))
    if campaign.protocol == "best-k":
        return _progress_rows(session, campaign, _pick_counts(session, campaign))
    counts = session.execute(
        select(Trial.judge_id, Trial.id, func.count(Candidate.id), func.count(Rating.id),
               func.max(Rating.rated_at))
        .join(Candidate, Candidate.trial_id == Trial.id)
        .outerjoin(Rating, Rating.candidate_id == Candidate.id)
        .where(Trial.campaign_id == campaign.id).group_by(Trial.judge_id, Trial.id))
    by_judge: dict[int, list] = {}
    for judge_id, _trial, shown, rated, last in counts:
        entry = by_judge.setdefault(judge_id, [0, 0, 0, None])
        entry[0] += 1
        entry[1] += int(shown == rated)
        entry[2] += rated
        if last is not None and (entry[3] is None or last > entry[3]):
            entry[3] = last
    return _progress_rows(session, campaign, by_judge)


def _pick_counts(session: Session, campaign: Campaign) -> dict[int, list]:
    """judge id -> [trials, trials with k picks, trials with picks, last pick time]."""
    k = pick_k(campaign)
    by_judge: dict[int, list] = {}
    rows = session.execute(select(Trial.judge_id, Pick.labels, Pick.picked_at)
                           .outerjoin(Pick, Pick.trial_id == Trial.id)
                           .where(Trial.campaign_id == campaign.id))
    for judge_id, picked, last in rows:
        entry = by_judge.setdefault(judge_id, [0, 0, 0, None])
        entry[0] += 1
        entry[1] += int(picked is not None and len(picked) == k)
        entry[2] += int(picked is not None)
        if last is not None and (entry[3] is None or last > entry[3]):
            entry[3] = last
    return by_judge


def comparisons_asked(campaign: Campaign) -> int:
    """How many pairs a pairwise campaign asks of each judge."""
    return int((campaign.protocol_options or {}).get("comparisons", 0))


def _pair_counts(session: Session, campaign: Campaign) -> dict[int, list]:
    """judge id -> [pairs asked, pairs decided, pairs decided, last decision time]."""
    rows = session.execute(
        select(PairTrial.judge_id, func.count(PairTrial.outcome), func.max(PairTrial.decided_at))
        .where(PairTrial.campaign_id == campaign.id).group_by(PairTrial.judge_id))
    asked = comparisons_asked(campaign)
    return {judge_id: [asked, decided, decided, last] for judge_id, decided, last in rows}


def _progress_rows(session: Session, campaign: Campaign,
                   by_judge: dict[int, list]) -> list[JudgeProgress]:
    judges = session.scalars(select(Judge).where(Judge.challenge_id == campaign.phase.challenge_id)
                             .order_by(Judge.name))
    expected = None
    found = []
    for judge in judges:
        if judge.id in by_judge:
            trials, rated, ratings, last = by_judge[judge.id]
        else:
            expected = expected_trials(campaign) if expected is None else expected
            trials, rated, ratings, last = expected, 0, 0, None
        found.append(JudgeProgress(judge.name, trials, rated, ratings, last,
                                   judge.id in by_judge, judge.revoked_at is not None))
    return found


def progress(trials: list[Trial]) -> dict:
    done = sum(1 for t in trials if is_rated(t))
    return {"rated": done, "total": len(trials)}


def _check_picks(trial: Trial, picked: object) -> list[str]:
    k = pick_k(trial.campaign)
    known = sorted(c.label for c in trial.candidates)
    if not isinstance(picked, list) or not all(isinstance(p, str) for p in picked):
        return [f"picked must be a list of labels, e.g. {known[:k]}"]
    problems = [f"picked.{label}: no result labelled {label!r} in this trial (labels: "
                f"{', '.join(known)})" for label in picked if label not in known]
    if len(set(picked)) != len(picked):
        problems.append(f"picked: a label is given twice in {picked}")
    if len(set(picked)) > k:
        problems.append(f"picked: {len(set(picked))} results picked, at most {k} (pick the "
                        f"best {k})")
    return problems


def record_picks(session: Session, user: User, trial_id: str, picked: object) -> Trial:
    """Store the labels picked so far on one best-k trial (replacing the earlier picks); the
    trial counts once exactly k are picked. ApiError 422 names every problem."""
    trial = _trial_of(session, user, trial_id)
    if trial.campaign.protocol != "best-k":
        raise ApiError(422, f"this trial is in a {trial.campaign.protocol} campaign: "
                            f"send scores to POST /api/judge/ratings")
    problems = _check_picks(trial, picked)
    if problems:
        raise ApiError(422, "; ".join(problems))
    labels_ = sorted(set(picked))  # type: ignore[arg-type]
    if trial.pick is None:
        trial.pick = Pick(trial_id=trial.id, labels=labels_, picked_at=utcnow())
    else:
        trial.pick.labels, trial.pick.picked_at = labels_, utcnow()
    session.flush()
    return trial


def _trial_of(session: Session, user: User, token: str) -> Trial:
    if not token:
        raise ApiError(422, "trial_id must be the string given by GET /api/judge/trials")
    trial = session.scalar(select(Trial).join(Judge).where(Trial.token == token,
                                                            Judge.user_id == user.id)
                           .options(selectinload(Trial.candidates)
                                    .selectinload(Candidate.rating), selectinload(Trial.pick)))
    if trial is None:
        raise ApiError(404, f"trial {token!r} not found among your trials")
    if trial.campaign.status != "open":
        raise ApiError(409, "this rating campaign is closed; ratings can no longer change")
    return trial


def _check_score(campaign: Campaign, where: str, value: object, problems: list[str]) -> None:
    low, high = campaign.scale_min, campaign.scale_max
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or value != int(value) or not low <= value <= high:
        problems.append(f"{where}: {value!r} is not a whole number from {low} to {high}")


def _validate(trial: Trial, scores: object, criteria: object) -> list[str]:
    campaign = trial.campaign
    known = {c.label for c in trial.candidates}
    problems: list[str] = []
    if not isinstance(scores, dict) or not scores:
        return ["scores must be an object mapping labels to scores, e.g. {\"A\": 7}"]
    labels = ", ".join(sorted(known))
    _check_named(campaign, "scores", scores, known, problems,
                 lambda label: f"no candidate labelled {label!r} in this trial (labels: {labels})")
    if criteria is None:
        return problems
    if not campaign.criteria:
        return [*problems, "criteria: this campaign rates the overall impression only"]
    if not isinstance(criteria, dict):
        return [*problems, "criteria must map labels to {criterion: score}"]
    for label, values in criteria.items():
        if label not in scores:
            problems.append(f"criteria.{label}: give the overall score of {label} "
                            "with its criteria")
        elif not isinstance(values, dict):
            problems.append(f"criteria.{label} must map criteria to scores")
        else:
            _check_named(campaign, f"criteria.{label}", values, set(CRITERIA), problems,
                         lambda _name: f"unknown criterion (known: {', '.join(CRITERIA)})")
    return problems


def _check_named(campaign: Campaign, where: str, given: dict, known: set[str],
                 problems: list[str], unknown: Callable[[str], str]) -> None:
    """Each ``name: score`` of ``given``: a known name (else ``unknown(name)``), on the scale."""
    for name, value in given.items():
        if name not in known:
            problems.append(f"{where}.{name}: {unknown(name)}")
        else:
            _check_score(campaign, f"{where}.{name}", value, problems)


def record_ratings(session: Session, user: User, trial_id: str, scores: dict[str, Any],
                   criteria: dict[str, Any] | None = None) -> Trial:
    """Store (or replace) the given labels' scores of one trial; ApiError says why not.

    Scores are checked here (labels of this trial, whole numbers on the campaign's scale,
    known criteria), and nothing is stored unless all of them are good.
    """
    trial = _trial_of(session, user, trial_id)
    if trial.campaign.protocol != "rating":
        raise ApiError(422, f"this trial is in a {trial.campaign.protocol} campaign: "
                            f"send picks to POST /api/judge/picks")
    problems = _validate(trial, scores, criteria)
    if problems:
        raise ApiError(422, "; ".join(problems))
    by_label = {c.label: c for c in trial.candidates}
    now = utcnow()
    for label, value in scores.items():
        candidate = by_label[label]
        given = (criteria or {}).get(label)
        if candidate.rating is None:
            candidate.rating = Rating(candidate_id=candidate.id, score=float(value),
                                      criteria=given, rated_at=now)
        else:
            candidate.rating.score, candidate.rating.rated_at = float(value), now
            if given is not None:
                candidate.rating.criteria = {**(candidate.rating.criteria or {}), **given}
    session.flush()
    return trial


def resolve_image(session: Session, user: User, token: str) -> ImageSource | None:
    """The image behind one of *this user's* tokens; None for anyone else's or unknown ones."""
    trial = session.scalar(select(Trial).join(Judge).where(Trial.input_token == token,
                                                            Judge.user_id == user.id))
    if trial is not None:
        return ImageSource(trial.campaign, trial.image, None)
    candidate = session.scalar(select(Candidate).join(Trial).join(Judge).where(
        Candidate.image_token == token, Judge.user_id == user.id))
    if candidate is None:
        return None
    return ImageSource(candidate.trial.campaign, candidate.trial.image, candidate.entry)
