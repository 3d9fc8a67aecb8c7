"""Aggregation and the final ranking: ratings through the subjective model, then the blend.

The objective score of a finalist is its row on the leaderboard of the paired phase named
in the challenge's ``ranking`` (as it stood when that phase ended); the subjective score
comes from the campaign of the unpaired phase, through ``scoring.final.final_ranking``
with the method stored on the campaign. Repeated trials enter as repeats (consistency),
never as extra first ratings.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import ApiError
from app.judging.campaigns import is_judge, latest_campaign
from app.judging.models import Campaign, Candidate, Entry, Judge, Rating, Trial
from app.judging.qualification import leaderboard_at_end
from app.judging.trials import CRITERIA
from app.models import Challenge, Phase, Team, User
from scoring.final import FinalRanking, final_ranking
from scoring.ratings import Rating as RatingRecord
from scoring.ratings import RatingsTable
from scoring.subjective import model_from_config

DEFAULT_RANKING = {"objective": 0.4, "subjective": 0.6}
CSV_COLUMNS = ("rank", "team", "objective", "subjective", "final", "rank_stability",
               "objective_scaled", "subjective_scaled", "subjective_ci95")


class ResultsUnavailable(LookupError):
    """The final ranking cannot be computed yet; the message says what is missing."""


@dataclass(frozen=True)
class FinalSetup:
    """Which phases feed the blend, their weights, and the campaign that rated the final."""

    objective: Phase
    subjective: Phase
    weights: dict[str, float]
    campaign: Campaign


def setup(session: Session, challenge: Challenge) -> FinalSetup:
    """Read the challenge's ``ranking`` (default: the qualify-from phase 0.4, the final 0.6)."""
    phases = {p.slug: p for p in challenge.phases}
    listed = [(phases.get(str(item.get("phase"))), float(item.get("weight", 0)))
              for item in challenge.ranking or [] if isinstance(item, dict)]
    final = next((p for p, _ in listed if p is not None and p.kind == "unpaired"), None) or \
        next((p for p in phases.values() if p.kind == "unpaired" and p.qualify_from), None)
    if final is None:
        raise ResultsUnavailable(f"challenge {challenge.slug} has no unpaired (judged) phase")
    paired = next((p for p, _ in listed if p is not None and p.kind == "paired"), None) or \
        phases.get(final.qualify_from or "")
    if paired is None:
        raise ResultsUnavailable(f"challenge {challenge.slug} names no paired phase to blend")
    weights = dict(DEFAULT_RANKING)
    for phase, weight in listed:
        if phase is not None:
            weights["objective" if phase.kind == "paired" else "subjective"] = weight
    campaign = latest_campaign(session, final)
    if campaign is None:
        raise ResultsUnavailable(f"phase {final.slug} has no rating campaign yet")
    return FinalSetup(paired, final, weights, campaign)


def rating_records(session: Session, campaign: Campaign) -> list[RatingRecord]:
    """Every rating of the campaign as (judge, image, team, score, repeat) records."""
    rows = list(session.execute(
        select(Judge.name, Trial.image, Trial.repeat_of, Team.name, Rating.score)
        .select_from(Rating).join(Candidate, Candidate.id == Rating.candidate_id)
        .join(Trial, Trial.id == Candidate.trial_id).join(Judge, Judge.id == Trial.judge_id)
        .join(Entry, Entry.id == Candidate.entry_id).join(Team, Team.id == Entry.team_id)
        .where(Trial.campaign_id == campaign.id)))
    firsts = [RatingRecord(j, image, team, score) for j, image, again, team, score in rows
              if again is None]
    rated = {(r.judge, r.image, r.team) for r in firsts}
    repeats = [RatingRecord(j, image, team, score, repeat=1)
               for j, image, again, team, score in rows
               if again is not None and (j, image, team) in rated]
    return firsts + repeats


def ratings_table(session: Session, campaign: Campaign) -> RatingsTable:
    records = rating_records(session, campaign)
    if not records:
        raise ResultsUnavailable("no ratings have been given yet")
    return RatingsTable.from_ratings(records, scale=(campaign.scale_min, campaign.scale_max))


def objective_scores(session: Session, phase: Phase, teams: list[str]) -> dict[str, float]:
    scores = {row.entry.team: float(row.entry.score) for row in leaderboard_at_end(session, phase)
              if row.entry.score is not None}
    missing = [t for t in teams if t not in scores]
    if missing:
        raise ResultsUnavailable(f"no scored submission in phase {phase.slug} for "
                                 f"{', '.join(missing)}")
    return {t: scores[t] for t in teams}


def criteria_means(session: Session, campaign: Campaign, accepted: set[str]) -> dict[str, dict]:
    """Mean of each criterion per team over accepted judges' first ratings."""
    rows = session.execute(
        select(Judge.name, Team.name, Rating.criteria).select_from(Rating)
        .join(Candidate, Candidate.id == Rating.candidate_id)
        .join(Trial, Trial.id == Candidate.trial_id).join(Judge, Judge.id == Trial.judge_id)
        .join(Entry, Entry.id == Candidate.entry_id).join(Team, Team.id == Entry.team_id)
        .where(Trial.campaign_id == campaign.id, Trial.repeat_of.is_(None)))
    sums: dict[str, dict[str, list[float]]] = {}
    for judge, team, given in rows:
        if judge in accepted and given:
            for name in CRITERIA:
                if name in given:
                    sums.setdefault(team, {}).setdefault(name, []).append(float(given[name]))
    return {team: {name: sum(v) / len(v) for name, v in by.items()} for team, by in sums.items()}


@dataclass(frozen=True)
class FinalResults:
    setup: FinalSetup
    ranking: FinalRanking
    criteria: dict[str, dict]

    def to_json(self) -> dict:
        body = self.ranking.to_json()
        campaign = self.setup.campaign
        body["method"] = {
            **body["method"],
            "phases": {"objective": self.setup.objective.slug,
                       "subjective": self.setup.subjective.slug},
            "campaign": {"status": campaign.status, "scale": [campaign.scale_min,
                                                              campaign.scale_max],
                         "criteria": campaign.criteria, "repeat_share": campaign.repeat_share},
        }
        body["subjective"] = self.ranking.subjective.to_json()
        body["criteria"] = self.criteria
        return body


def final_results(session: Session, challenge: Challenge) -> FinalResults:
    """The blended ranking with rank stability, by the campaign's stored method."""
    chosen = setup(session, challenge)
    method = chosen.campaign.method
    table = ratings_table(session, chosen.campaign)
    objective = objective_scores(session, chosen.objective, list(table.teams))
    model = model_from_config(method["model"], normalisation=method["judge_normalisation"],
                              max_repeat_diff=method.get("max_repeat_diff"))
    try:
        ranking = final_ranking(objective, table, model=model, weights=chosen.weights,
                                normalisation=method["normalisation"],
                                samples=int(method["bootstrap_samples"]),
                                seed=int(method["seed"]))
    except ValueError as exc:
        raise ResultsUnavailable(str(exc)) from exc
    accepted = set(ranking.subjective.accepted_judges)
    return FinalResults(chosen, ranking, criteria_means(session, chosen.campaign, accepted))


def may_see_results(session: Session, user: User | None, chosen: FinalSetup) -> bool:
    """Organisers always; others once the campaign is closed; judges never."""
    if user is not None and user.is_organiser:
        return True
    if user is not None and is_judge(session, user):
        return False
    return chosen.campaign.status == "closed"


def visible_results(session: Session, user: User | None, challenge: Challenge) -> FinalResults:
    """The final results if this viewer may see them; ApiError 403, 404 or 409 otherwise."""
    try:
        chosen = setup(session, challenge)
        if not may_see_results(session, user, chosen):
            if user is not None and is_judge(session, user):
                raise ApiError(403, "judges cannot see results or leaderboards")
            raise ApiError(404, f"the final results of {challenge.slug} are not published yet")
        return final_results(session, challenge)
    except ResultsUnavailable as exc:
        raise ApiError(409, f"no final results yet: {exc}") from exc


def to_csv(results: FinalResults) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in results.ranking.rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in CSV_COLUMNS])
    return out.getvalue()
