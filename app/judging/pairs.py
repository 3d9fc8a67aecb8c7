"""Pairwise trials: each judge's next pair chosen by active sampling, their choices saved.

A pairwise campaign asks each judge for ``comparisons`` pairs (``protocol_options``), one at a
time. The next pair is the one the whole panel's comparisons so far say is most informative
(``scoring.active.next_pair``: expected information gain under the campaign's pairwise model),
on the image where that pair was compared least; which result is shown on the left is drawn
too. With a repeat share above zero, a judge's earlier pair comes back now and then as a hidden
repeat (sides swapped, fresh tokens), for ``scoring.pairwise_screening``'s repeated pairs.
Every pair carries random tokens of its own (the pair, the input and both results), so nothing
names a team or repeats across judges. Draws are seeded by campaign, judge and position.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import ApiError
from app.judging.blind import ImageSource
from app.judging.models import Campaign, Entry, Judge, PairTrial
from app.judging.trials import comparisons_asked, input_stems, judged_campaigns, new_token
from app.models import User, utcnow
from scoring.active import next_pair
from scoring.comparisons import Comparison, ComparisonsTable
from scoring.pairwise import pairwise_model

CHOICES = {"left": "first", "right": "second", "tie": "tie"}
SIDES = {outcome: choice for choice, outcome in CHOICES.items()}
# Active sampling needs a proper posterior: a campaign fitted without a prior samples with this.
SAMPLING_PRIOR = 0.1


def allows_ties(campaign: Campaign) -> bool:
    return bool((campaign.protocol_options or {}).get("ties", True))


def _pairs_of(session: Session, campaign: Campaign, judge: Judge | None = None,
              ) -> list[PairTrial]:
    query = select(PairTrial).where(PairTrial.campaign_id == campaign.id)
    if judge is not None:
        query = query.where(PairTrial.judge_id == judge.id)
    return list(session.scalars(query.order_by(PairTrial.judge_id, PairTrial.position)))


def comparisons_table(campaign: Campaign, pairs: list[PairTrial],
                      name: Callable[[Entry], str], judge: Callable[[PairTrial], str],
                      ) -> ComparisonsTable:
    """The decided pairs as a comparisons table (teams named by ``name``; hidden repeats as
    repeats of the same judge's first comparison of that pair on that image)."""
    entries = {e.id: e for e in campaign.entries}
    first_ids = {p.id for p in pairs if p.repeat_of is None and p.outcome is not None}
    records = [Comparison(judge(p), p.image, name(entries[p.first_entry_id]),
                          name(entries[p.second_entry_id]), p.outcome,
                          repeat=0 if p.repeat_of is None else 1)
               for p in pairs if p.outcome is not None
               and (p.repeat_of is None or p.repeat_of in first_ids)]
    return ComparisonsTable.from_comparisons(records, teams=[name(e) for e in entries.values()],
                                             ties=True)


def _draw(session: Session, campaign: Campaign, judge: Judge, mine: list[PairTrial]) -> PairTrial:
    """The judge's next pair: a hidden repeat now and then, else the most informative pair."""
    position = len(mine)
    rng = random.Random(f"{campaign.id}:{judge.id}:{position}")
    repeatable = [p for p in mine if p.repeat_of is None and p.outcome is not None
                  and not any(q.repeat_of == p.id for q in mine)]
    if repeatable and position >= 2 and rng.random() < campaign.repeat_share:
        original = rng.choice(repeatable)
        first, second, image = original.second_entry_id, original.first_entry_id, original.image
        repeat_of: int | None = original.id
    else:
        table = comparisons_table(campaign, _pairs_of(session, campaign),
                                  lambda e: str(e.id), lambda p: str(p.judge_id))
        method = campaign.method or {}
        model = pairwise_model(method.get("model", "bradley-terry"),
                               prior=float(method.get("prior") or SAMPLING_PRIOR),
                               screening=False)
        chosen = next_pair(table, model=model, images=input_stems(campaign.phase),
                           seed=rng.randrange(2**32))
        first, second, image = int(chosen.first), int(chosen.second), chosen.image or ""
        repeat_of = None
    pair = PairTrial(campaign_id=campaign.id, judge_id=judge.id, image=image, position=position,
                     repeat_of=repeat_of, first_entry_id=first, second_entry_id=second,
                     token=new_token(), input_token=new_token(), first_token=new_token(),
                     second_token=new_token())
    session.add(pair)
    session.flush()
    return pair


def ensure_current(session: Session, campaign: Campaign, judge: Judge) -> None:
    """Draw the judge's next pair unless one waits for a decision or all are decided."""
    mine = _pairs_of(session, campaign, judge)
    if any(p.outcome is None for p in mine) or len(mine) >= comparisons_asked(campaign):
        return
    _draw(session, campaign, judge, mine)


def judge_pairs(session: Session, user: User) -> list[PairTrial]:
    """The user's pairs in open pairwise campaigns (the next one drawn if due), in order."""
    found: list[PairTrial] = []
    for campaign, judge in judged_campaigns(session, user):
        if campaign.protocol == "pairwise":
            ensure_current(session, campaign, judge)
            found += _pairs_of(session, campaign, judge)
    return found


def pair_view(pair: PairTrial, image_url: Callable[[str], str]) -> dict:
    """A pair as the page shows it: the input, results ``A`` (left) and ``B`` (right), the
    choice made (``left``, ``right``, ``tie`` or None) and whether ties are allowed."""
    campaign = pair.campaign
    return {
        "trial_id": pair.token,
        "protocol": "pairwise",
        "input_url": image_url(pair.input_token),
        "candidates": [{"label": "A", "image_url": image_url(pair.first_token)},
                       {"label": "B", "image_url": image_url(pair.second_token)}],
        "choice": SIDES.get(pair.outcome) if pair.outcome else None,
        "ties": allows_ties(campaign),
        "rated": pair.outcome is not None,
    }


def pair_progress(pairs: list[PairTrial]) -> dict:
    """Pairs decided of the pairs asked, over the user's open pairwise campaigns."""
    campaigns = {p.campaign_id: p.campaign for p in pairs}
    return {"rated": sum(1 for p in pairs if p.outcome is not None),
            "total": sum(comparisons_asked(c) for c in campaigns.values())}


def record_choice(session: Session, user: User, trial_id: str, choice: object) -> PairTrial:
    """Save the judge's choice on one pair (a later choice replaces it until the campaign
    closes), then draw their next pair; ApiError says why not."""
    if not trial_id:
        raise ApiError(422, "trial_id must be the string given by GET /api/judge/trials")
    pair = session.scalar(select(PairTrial).join(Judge).where(PairTrial.token == trial_id,
                                                               Judge.user_id == user.id))
    if pair is None:
        raise ApiError(404, f"pair {trial_id!r} not found among your pairs")
    if pair.campaign.status != "open":
        raise ApiError(409, "this campaign is closed; choices can no longer change")
    allowed = list(CHOICES) if allows_ties(pair.campaign) else ["left", "right"]
    if choice not in allowed:
        raise ApiError(422, f"choice: {choice!r} is not one of {', '.join(allowed)}"
                       + ("" if "tie" in allowed else " (this campaign allows no ties)"))
    pair.outcome, pair.decided_at = CHOICES[str(choice)], utcnow()
    session.flush()
    ensure_current(session, pair.campaign, pair.judge)
    return pair


def resolve_image(session: Session, user: User, token: str) -> ImageSource | None:
    """The image behind one of this user's pair tokens; None for anyone else's."""
    for column, side in ((PairTrial.input_token, None), (PairTrial.first_token, "first"),
                         (PairTrial.second_token, "second")):
        pair = session.scalar(select(PairTrial).join(Judge).where(column == token,
                                                                   Judge.user_id == user.id))
        if pair is not None:
            entry = None if side is None else \
                pair.first_entry if side == "first" else pair.second_entry
            return ImageSource(pair.campaign, pair.image, entry)
    return None
