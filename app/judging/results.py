"""Aggregation and the final ranking: the campaign's judgements through its protocol's model
(ratings, best-k picks or pairwise comparisons), then the blend, computed once per change and
stored.

The objective score of a finalist is its row on the leaderboard of the paired phase named
in the challenge's ``ranking`` (as it stood when that phase ended); the subjective score
comes from the campaign of the unpaired phase, through ``scoring.final.final_ranking``
with the method stored on the campaign: ratings through MOS or the MLE model; best-k picks
(trials with exactly k picks) through ``scoring.picks_model`` (counts mapped onto the band);
decided pairs through Bradley-Terry or Thurstone (``scoring.pairwise``, bootstrap intervals).
Repeated trials and pairs enter as repeats (consistency), never as extra first judgements.

Results are stored (``FinalResult``) under a key that digests everything they depend on: the
ratings (and criteria), the objective scores, the weights, the method and the campaign's
state. A request whose key matches reads the stored JSON; any change (a rating saved, the
campaign closed, the weights or the method changed) makes a new key, and the first request
after it computes once. Closing a campaign computes at once and publishes (``close``): the
public reads that published copy, which a reopened campaign keeps until it closes again.
Judges' names are shown to organisers only; anyone else reads "judge 1", "judge 2"...
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.errors import ApiError
from app.judging.campaigns import close_campaign, is_judge, latest_campaign
from app.judging.models import (
    Campaign,
    Candidate,
    Entry,
    FinalResult,
    Judge,
    PairTrial,
    Pick,
    Rating,
    Trial,
)
from app.judging.pairs import comparisons_table
from app.judging.qualification import leaderboard_at_end
from app.judging.trials import CRITERIA, pick_k
from app.models import Challenge, Phase, Team, User, utcnow
from scoring.comparisons import InvalidComparisons
from scoring.final import FinalRanking, final_ranking
from scoring.picks import InvalidPicks, PicksTable, PickTrial
from scoring.protocols import Table, study_model
from scoring.ratings import Rating as RatingRecord
from scoring.ratings import RatingsTable
from scoring.study import StudyModel
from scoring.subjective import model_from_config

DEFAULT_RANKING = {"objective": 0.4, "subjective": 0.6}
CSV_COLUMNS = ("rank", "team", "objective", "subjective", "final", "rank_stability",
               "objective_scaled", "subjective_scaled", "subjective_ci95", "rank_interval",
               "subjective_low", "subjective_high", "mos", "mos_ci95", *CRITERIA)
# Bumped when the stored JSON's shape changes, so that stored results are recomputed.
RESULTS_FORMAT = 2
ANONYMOUS_JUDGE = "judge {}"


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


@dataclass(frozen=True)
class RatingRow:
    """One stored rating: who, which image (and whether a hidden repeat), which team, scores."""

    judge: str
    image: str
    repeat: bool
    team: str
    score: float
    criteria: dict | None


def rating_rows(session: Session, campaign: Campaign) -> list[RatingRow]:
    """Every rating of the campaign, in a stable order (the results' key digests them)."""
    rows = session.execute(
        select(Judge.name, Trial.image, Trial.repeat_of, Team.name, Rating.score, Rating.criteria)
        .select_from(Rating).join(Candidate, Candidate.id == Rating.candidate_id)
        .join(Trial, Trial.id == Candidate.trial_id).join(Judge, Judge.id == Trial.judge_id)
        .join(Entry, Entry.id == Candidate.entry_id).join(Team, Team.id == Entry.team_id)
        .where(Trial.campaign_id == campaign.id)
        .order_by(Judge.name, Trial.position, Team.name))
    return [RatingRow(j, image, again is not None, team, float(score), given)
            for j, image, again, team, score, given in rows]


def rating_records(rows: list[RatingRow]) -> list[RatingRecord]:
    """The rows as (judge, image, team, score, repeat) records: first ratings, then repeats
    of stimuli the judge also rated the first time."""
    firsts = [RatingRecord(r.judge, r.image, r.team, r.score) for r in rows if not r.repeat]
    rated = {(r.judge, r.image, r.team) for r in firsts}
    repeats = [RatingRecord(r.judge, r.image, r.team, r.score, repeat=1) for r in rows
               if r.repeat and (r.judge, r.image, r.team) in rated]
    return firsts + repeats


def ratings_table(campaign: Campaign, rows: list[RatingRow]) -> RatingsTable:
    records = rating_records(rows)
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


def criteria_means(rows: list[RatingRow], accepted: set[str]) -> dict[str, dict]:
    """Mean of each criterion per team over accepted judges' first ratings."""
    sums: dict[str, dict[str, list[float]]] = {}
    for row in rows:
        if row.judge in accepted and row.criteria and not row.repeat:
            for name in CRITERIA:
                if name in row.criteria:
                    sums.setdefault(row.team, {}).setdefault(name, []).append(
                        float(row.criteria[name]))
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
            "campaign": {"id": campaign.id, "status": campaign.status,
                         "protocol": campaign.protocol,
                         "protocol_options": campaign.protocol_options or {},
                         "scale": [campaign.scale_min, campaign.scale_max],
                         "criteria": campaign.criteria, "repeat_share": campaign.repeat_share,
                         "closed_at": campaign.closed_at.isoformat()
                         if campaign.status == "closed" and campaign.closed_at else None},
        }
        body["subjective"] = self.ranking.subjective.to_json()
        body["criteria"] = self.criteria
        body["computed_at"] = utcnow().isoformat()
        return json_safe(body)


def json_safe(value: Any) -> Any:
    """Plain JSON: numpy numbers as Python ones, NaN and infinities as null (PostgreSQL's JSONB
    and the API's answers refuse them)."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if hasattr(value, "item") and not isinstance(value, int | float):
        value = value.item()  # a numpy scalar
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


@dataclass(frozen=True)
class Inputs:
    """What the final results of a campaign are computed from, and their digest."""

    setup: FinalSetup
    rows: list[RatingRow]  # ratings (for the criteria means); empty for other protocols
    table: Table
    objective: dict[str, float]
    model: StudyModel
    key: str


@dataclass(frozen=True)
class Judgements:
    """A campaign's judgements as its protocol's table and model, and what the key digests."""

    table: Table
    model: StudyModel
    digest: list
    ratings: list[RatingRow]


def pick_records(session: Session, campaign: Campaign) -> list[PickTrial]:
    """Every best-k trial with exactly k picks, as (judge, image, picked, shown, repeat)
    records in a stable order; a repeat counts only when its first trial does."""
    k = pick_k(campaign)
    rows = session.execute(
        select(Trial, Judge.name, Pick.labels).join(Pick, Pick.trial_id == Trial.id)
        .join(Judge, Judge.id == Trial.judge_id).where(Trial.campaign_id == campaign.id)
        .order_by(Judge.name, Trial.position))
    names = {e.id: e.team.name for e in campaign.entries}
    found, complete = [], set()
    for trial, judge, labels in rows:
        if len(labels) != k:
            continue
        team = {c.label: names[c.entry_id] for c in trial.candidates}
        record = PickTrial(judge, trial.image, tuple(sorted(team[label] for label in labels)),
                           tuple(sorted(team.values())), 0 if trial.repeat_of is None else 1)
        if trial.repeat_of is None:
            complete.add(trial.id)
        found.append((trial.repeat_of, record))
    return [r for origin, r in found if origin is None or origin in complete]


def judgements(session: Session, campaign: Campaign) -> Judgements:
    """The campaign's judgements by its protocol, with its model from the stored method;
    ResultsUnavailable when there are none yet."""
    method = campaign.method
    samples, seed = int(method.get("bootstrap_samples", 1000)), int(method.get("seed", 0))
    if campaign.protocol == "best-k":
        records = pick_records(session, campaign)
        if not records:
            raise ResultsUnavailable("no image has its k picks yet")
        try:
            table = PicksTable.from_trials(records, k=pick_k(campaign),
                                           teams=[e.team.name for e in campaign.entries])
        except InvalidPicks as exc:
            raise ResultsUnavailable(str(exc)) from exc
        band = method.get("band")
        model = study_model("best-k", method["model"], band=tuple(band) if band else None,
                            min_repeat_overlap=method.get("min_repeat_overlap"),
                            samples=samples, seed=seed)
        return Judgements(table, model, [[r.judge, r.image, r.repeat, list(r.picked)]
                                         for r in records], [])
    if campaign.protocol == "pairwise":
        pairs = list(session.scalars(select(PairTrial).where(
            PairTrial.campaign_id == campaign.id, PairTrial.outcome.is_not(None))
            .order_by(PairTrial.judge_id, PairTrial.position)))
        if not pairs:
            raise ResultsUnavailable("no pair has been compared yet")
        try:
            table = comparisons_table(campaign, pairs, lambda e: e.team.name,
                                      lambda p: p.judge.name)
        except InvalidComparisons as exc:
            raise ResultsUnavailable(str(exc)) from exc
        model = study_model("pairwise", method["model"], prior=float(method["prior"]),
                            min_repeat_agreement=method.get("min_repeat_agreement"),
                            max_circular_share=method.get("max_circular_share"),
                            samples=samples, seed=seed)
        return Judgements(table, model, [[p.judge.name, p.image, p.repeat_of is not None,
                                          p.first_entry_id, p.second_entry_id, p.outcome]
                                         for p in pairs], [])
    rows = rating_rows(session, campaign)
    table = ratings_table(campaign, rows)
    model = model_from_config(method["model"], normalisation=method["judge_normalisation"],
                              max_repeat_diff=method.get("max_repeat_diff"))
    return Judgements(table, model, [[r.judge, r.image, r.repeat, r.team, r.score, r.criteria]
                                     for r in rows], rows)


def gather(session: Session, chosen: FinalSetup) -> Inputs:
    """The judgements, objective scores and model of the campaign, and the key that digests
    them (with the weights, the method and the campaign's state); ResultsUnavailable when some
    are missing."""
    campaign = chosen.campaign
    method = campaign.method
    found = judgements(session, campaign)
    table, model, rows = found.table, found.model, found.ratings
    objective = objective_scores(session, chosen.objective, list(table.teams))
    digest = json.dumps({
        "format": RESULTS_FORMAT, "campaign": campaign.id, "status": campaign.status,
        "closed_at": campaign.closed_at.isoformat() if campaign.closed_at else None,
        "phases": [chosen.objective.slug, chosen.subjective.slug], "weights": chosen.weights,
        "method": method, "model": model.method, "objective": objective,
        "scale": [campaign.scale_min, campaign.scale_max], "criteria": campaign.criteria,
        "repeat_share": campaign.repeat_share, "protocol": campaign.protocol,
        "protocol_options": campaign.protocol_options, "ratings": found.digest,
    }, sort_keys=True, default=str)
    return Inputs(chosen, rows, table, objective, model,
                  hashlib.sha256(digest.encode()).hexdigest())


def compute(inputs: Inputs) -> FinalResults:
    """The blended ranking with rank stability, by the campaign's stored method (the slow
    part: the model and the bootstrap)."""
    method = inputs.setup.campaign.method
    try:
        band = method.get("band")
        ranking = final_ranking(inputs.objective, inputs.table, model=inputs.model,
                                weights=inputs.setup.weights,
                                normalisation=method["normalisation"],
                                band=tuple(band) if band else None,
                                samples=int(method["bootstrap_samples"]),
                                seed=int(method["seed"]))
    except ValueError as exc:
        raise ResultsUnavailable(str(exc)) from exc
    accepted = set(ranking.subjective.accepted_judges)
    return FinalResults(inputs.setup, ranking, criteria_means(inputs.rows, accepted))


def _stored(session: Session, campaign: Campaign) -> FinalResult | None:
    return session.scalar(select(FinalResult).where(FinalResult.campaign_id == campaign.id))


def current_body(session: Session, chosen: FinalSetup) -> dict:
    """The campaign's results for its current inputs: stored if the key matches, else computed
    once and stored (a closed campaign's are also what the public reads)."""
    inputs = gather(session, chosen)
    row = _stored(session, chosen.campaign)
    if row is not None and row.key == inputs.key:
        return row.body
    body = compute(inputs).to_json()
    closed = chosen.campaign.status == "closed"
    if row is None:
        row = FinalResult(campaign_id=chosen.campaign.id, key=inputs.key, body=body)
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:  # another request stored a row first: it takes ours below
            row = _stored(session, chosen.campaign)
            if row is None:
                raise
    row.key, row.body, row.computed_at = inputs.key, body, utcnow()
    if closed:
        row.published_body, row.published_at = body, row.published_at or utcnow()
    session.flush()
    return body


@dataclass(frozen=True)
class Closed:
    """What closing a campaign did: whether results were published, or why not."""

    published: bool
    reason: str | None  # why nothing could be published (no ratings yet...)


def close(session: Session, campaign: Campaign, *, actor: User | None) -> Closed:
    """Close the campaign and publish its results, computed now and stored.

    Every caller (API, page, command line) closes through here, so that what the public reads
    is computed once, when the ratings stop."""
    close_campaign(session, campaign, actor=actor)
    session.flush()
    try:
        chosen = setup(session, campaign.phase.challenge)
        if chosen.campaign.id != campaign.id:
            return Closed(False, f"campaign {campaign.id} is not the latest of its phase")
        current_body(session, chosen)
        row = _stored(session, campaign)
        if row is not None:
            row.published_at = utcnow()
    except ResultsUnavailable as exc:
        return Closed(False, str(exc))
    return Closed(True, None)


def published_at(session: Session, campaign: Campaign) -> datetime | None:
    """When the campaign's results were last published (closed and computed), if ever."""
    row = _stored(session, campaign)
    return None if row is None else row.published_at


def may_see_results(session: Session, user: User | None, chosen: FinalSetup) -> bool:
    """Organisers always; judges never; everyone else once results are published on the phase
    (the campaign is closed, or an earlier one's results stand while it is reopened)."""
    if user is not None and user.is_organiser:
        return True
    if user is not None and is_judge(session, user):
        return False
    return chosen.campaign.status == "closed" or \
        last_published(session, chosen.subjective) is not None


def visible_results(session: Session, user: User | None, challenge: Challenge) -> dict:
    """The final results JSON as this viewer may see it; ApiError 403, 404 or 409 otherwise.

    Organisers read the current results (provisional while the campaign is open); everyone
    else the published ones, with judges named "judge 1", "judge 2"...; judges nothing.
    """
    try:
        chosen = setup(session, challenge)
        if user is not None and user.is_organiser:
            return current_body(session, chosen)
        if user is not None and is_judge(session, user):
            raise ApiError(403, "judges cannot see results or leaderboards")
        return anonymised(public_body(session, chosen))
    except ResultsUnavailable as exc:
        raise ApiError(409, f"no final results yet: {exc}") from exc


def public_body(session: Session, chosen: FinalSetup) -> dict:
    """The published results: the latest campaign's once it has closed (recomputed if the
    weights or the objective scores changed since), else the last ones published on the phase
    (a reopened campaign's, as they were when it closed). ApiError 404 if none ever were."""
    campaign = chosen.campaign
    if campaign.status == "closed":
        try:
            return current_body(session, chosen)
        except ResultsUnavailable:
            if last_published(session, chosen.subjective) is None:
                raise
    published = last_published(session, chosen.subjective)
    if published is None:
        raise ApiError(404, f"the final results of {campaign.phase.challenge.slug} are not "
                            f"published yet")
    return published


def last_published(session: Session, phase: Phase) -> dict | None:
    """The newest published results among the phase's campaigns."""
    return session.scalar(
        select(FinalResult.published_body).join(Campaign, Campaign.id == FinalResult.campaign_id)
        .where(Campaign.phase_id == phase.id, FinalResult.published_at.is_not(None))
        .order_by(Campaign.id.desc()).limit(1))


def anonymised(body: dict) -> dict:
    """The results with every judge's name replaced by "judge N" (numbered in the order of
    the model's judge list), in judge fields and in the reason."""
    names = [j["judge"] for j in body.get("subjective", {}).get("judges", [])]
    for listed in (body.get("rejected_judges", []), body.get("flagged_judges", [])):
        names += [j["judge"] for j in listed if j["judge"] not in names]
    alias = {name: ANONYMOUS_JUDGE.format(i) for i, name in enumerate(names, start=1)}

    def walk(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: (alias.get(v, v) if k == "judge" and isinstance(v, str) else
                        _replace_names(v, alias) if k == "reason" and isinstance(v, str) else
                        walk(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        return value

    return walk(body)


def _replace_names(text: str, alias: dict[str, str]) -> str:
    for name in sorted(alias, key=len, reverse=True):
        text = text.replace(name, alias[name])
    return text


def to_csv(body: dict) -> str:
    """One line per team: the ranking's columns, the rank interval as ``low-high``, and the
    criteria means (empty when the campaign did not rate criteria)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    criteria = body.get("criteria") or {}
    for row in body["rows"]:
        values = {**row, **criteria.get(row["team"], {})}
        interval = row.get("rank_interval")
        values["rank_interval"] = f"{interval[0]}-{interval[1]}" if interval else None
        writer.writerow(["" if values.get(c) is None else values.get(c) for c in CSV_COLUMNS])
    return out.getvalue()
