"""Opening, closing and reopening judging campaigns, choosing finalists' submissions, and judges.

A campaign judges one unpaired phase after it closes, by one protocol chosen when it opens
(``CampaignOptions.protocol``): absolute ratings (``rating``, the default), the best ``k``
results of each image (``best-k``, counts mapped linearly onto the organiser's ``band``), or
pairwise comparisons (``pairwise``, with or without ties, the next pair by active sampling).

Each finalist (the qualified teams, see ``qualification``) is represented by one submission:
their last accepted one unless the organiser names another. Once a campaign with
ratings has closed, its results are published and no new campaign may replace them: the
organiser reopens that campaign instead (its ratings are kept; the published results stay
until it closes again).

Judges belong to a challenge; ``add_judge`` creates the judge's account and a personal sign-in
token, shown once, which the sign-in link carries (``sign_in_link``: the base URL of the
request that asked, or RAIM_BASE_URL for the command line). ``revoke_judge`` withdraws a
judge's access; ``new_link`` replaces their link (and restores access). Competitors are never
judges (``conflicts``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app import accounts, audit, browser_sessions
from app.config import get_settings
from app.judging.conflicts import judge_refusal
from app.judging.models import (
    PROTOCOLS,
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
from app.judging.qualification import qualifiers
from app.lookups import by_id
from app.models import ApiToken, Challenge, Phase, Submission, User, utcnow
from scoring.protocols import MODELS as PROTOCOL_MODELS
from scoring.scales import COMMON_SCALES, JUDGE_NORMALISATIONS, check_band

JUDGE_EMAIL_DOMAIN = "judges.local"
SIGN_IN_PATH = "/judge/sign-in/"
DEFAULT_METHOD = {"model": "mos", "judge_normalisation": "zscore", "normalisation": "minmax",
                  "bootstrap_samples": 1000, "seed": 0, "max_repeat_diff": None}
# The method of each protocol (ratings: DEFAULT_METHOD); the organiser overrides any of it.
PROTOCOL_METHODS = {
    "rating": DEFAULT_METHOD,
    "best-k": {"model": "best-k", "band": None, "normalisation": "minmax",
               "bootstrap_samples": 1000, "seed": 0, "min_repeat_overlap": None},
    "pairwise": {"model": "bradley-terry", "prior": 0.1, "normalisation": "minmax",
                 "bootstrap_samples": 1000, "seed": 0, "min_repeat_agreement": None,
                 "max_circular_share": None},
}
DEFAULT_K = 3
# Pairwise: comparisons each judge is asked for, unless the organiser says otherwise.
DEFAULT_COMPARISONS = 60
# A judge whose hidden repeats differ on average by more than this share of the scale is
# rejected (2.25 points on 1-10), unless the method names its own limit.
REPEAT_DIFF_SHARE = 0.25
# Method options beyond DEFAULT_METHOD: ``band``, the organiser's [low, high] for the ``band``
# normalisation (RAIM 2026 put pick counts on 80-90).
OPTIONAL_METHOD = ("band",)
BLEND_PHASES = ("objective", "subjective")
# ``repeats`` is a share of the test images, from 0 to this, in the API, the CLI and the page.
MAX_REPEAT_SHARE = 0.5


class CampaignError(ValueError):
    """A campaign or judge request refused, with a message naming what is wrong."""


@dataclass(frozen=True)
class CampaignOptions:
    """What an organiser chooses when opening a campaign.

    ``protocol`` is ``rating`` (``scale``, ``criteria``), ``best-k`` (``k`` picks per image;
    ``band``: the counts mapped linearly onto it, e.g. (80, 90)) or ``pairwise`` (``ties``
    allowed or not; ``comparisons`` asked of each judge). ``repeat_share`` hides repeats in
    every protocol: images (ratings, best-k) or pairs (pairwise).
    """

    scale: tuple[int, int] = (1, 10)
    criteria: bool = False
    repeat_share: float = 0.05
    submissions: dict[str, int] = field(default_factory=dict)  # team name -> submission id
    method: dict = field(default_factory=dict)  # overrides of the protocol's method
    protocol: str = "rating"
    k: int | None = None
    band: tuple[float, float] | None = None
    ties: bool | None = None
    comparisons: int | None = None

    def full_method(self) -> dict:
        """The protocol's method with the overrides (and the band, if any); for ratings
        the repeat limit follows the scale unless given."""
        method = {**PROTOCOL_METHODS.get(self.protocol, DEFAULT_METHOD), **self.method}
        if self.protocol == "rating" and method["max_repeat_diff"] is None:
            method["max_repeat_diff"] = REPEAT_DIFF_SHARE * (self.scale[1] - self.scale[0])
        if self.band is not None:
            method["band"] = [float(self.band[0]), float(self.band[1])]
        return method

    def protocol_options(self) -> dict:
        """What the protocol's pages need: ``{"k"}`` or ``{"ties", "comparisons"}``."""
        if self.protocol == "best-k":
            return {"k": DEFAULT_K if self.k is None else self.k}
        if self.protocol == "pairwise":
            return {"ties": True if self.ties is None else self.ties,
                    "comparisons": DEFAULT_COMPARISONS if self.comparisons is None
                    else self.comparisons}
        return {}

    def problems(self) -> list[str]:
        low, high = self.scale
        found = []
        if self.protocol not in PROTOCOLS:
            return [f"protocol {self.protocol!r}: choose one of {', '.join(PROTOCOLS)}"]
        if not 0 <= low < high <= 100:
            found.append(f"scale {low}-{high}: need 0 <= low < high <= 100")
        if not 0 <= self.repeat_share <= MAX_REPEAT_SHARE:
            found.append(f"repeats {self.repeat_share}: the share must be between 0 and "
                         f"{MAX_REPEAT_SHARE}")
        found += self._protocol_problems()
        defaults = PROTOCOL_METHODS[self.protocol]
        method = self.full_method()
        unknown = sorted(set(self.method) - set(defaults) - set(OPTIONAL_METHOD))
        if unknown:
            found.append(f"unknown method option(s) for {self.protocol}: {', '.join(unknown)}")
        checks = [("model", tuple(PROTOCOL_MODELS[self.protocol]))]
        if self.protocol == "rating":
            checks.append(("judge_normalisation", JUDGE_NORMALISATIONS))
        for key, allowed in checks:
            if method[key] not in allowed:
                found.append(f"{key} {method[key]!r}: choose one of {', '.join(allowed)}")
        # best-k maps its counts onto the band itself; other protocols take one only for the
        # 'band' normalisation of the blend
        found += normalisation_problems(method["normalisation"], method.get("band"),
                                        band_used=self.protocol == "best-k")
        for key in ("max_repeat_diff", "min_repeat_overlap", "min_repeat_agreement",
                    "max_circular_share", "prior"):
            limit = method.get(key)
            if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int | float)
                                      or limit < 0):
                found.append(f"{key} {limit!r}: need a number >= 0")
        if not isinstance(method["bootstrap_samples"], int) or method["bootstrap_samples"] < 1:
            found.append(f"bootstrap_samples {method['bootstrap_samples']!r}: need an integer >= 1")
        return found

    def _protocol_problems(self) -> list[str]:
        found = []
        name = self.protocol
        if name != "best-k" and self.k is not None:
            found.append(f"k is an option of best-k campaigns, not {name}")
        if name != "pairwise":
            found += [f"{option} is an option of pairwise campaigns, not {name}"
                      for option, value in (("ties", self.ties),
                                            ("comparisons", self.comparisons))
                      if value is not None]
        if name == "best-k":
            k = self.k
            if k is not None and (isinstance(k, bool) or not isinstance(k, int) or k < 1):
                found.append(f"k {k!r}: need a whole number of picks >= 1")
        if name == "pairwise" and self.comparisons is not None and (
                isinstance(self.comparisons, bool) or not isinstance(self.comparisons, int)
                or self.comparisons < 1):
            found.append(f"comparisons {self.comparisons!r}: need a whole number >= 1")
        return found


def normalisation_problems(normalisation: object, band: object, *,
                           band_used: bool = False) -> list[str]:
    """What is wrong with a blend's common scale: one of COMMON_SCALES, or one per phase
    (``{"objective": "none", "subjective": "band"}``); ``band`` [low, high] where one is band,
    or where the protocol uses it anyway (``band_used``: best-k maps its counts onto it)."""
    if isinstance(normalisation, dict):
        if set(normalisation) != set(BLEND_PHASES):
            return [f"normalisation {normalisation!r}: name one scale for each of "
                    f"{', '.join(BLEND_PHASES)}"]
        chosen = list(normalisation.values())
    else:
        chosen = [normalisation]
    found = [f"normalisation {c!r}: choose one of {', '.join(COMMON_SCALES)}"
             for c in chosen if c not in COMMON_SCALES]
    if "band" in chosen or (band_used and band is not None):
        try:
            check_band(band)  # type: ignore[arg-type]
        except ValueError as exc:
            found.append(str(exc))
    elif band is not None:
        found.append(f"band {band!r}: only the 'band' normalisation takes a band")
    return found


def parse_scale(text: str) -> tuple[int, int]:
    """``"1-10"`` -> (1, 10); CampaignError for anything else."""
    match = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", text)
    if not match:
        raise CampaignError(f"scale {text!r}: write it as LOW-HIGH, e.g. 1-10")
    return int(match.group(1)), int(match.group(2))


def parse_band(text: str) -> tuple[float, float]:
    """``"80-90"`` -> (80.0, 90.0) (decimals allowed); CampaignError for anything else."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*", text)
    if not match:
        raise CampaignError(f"band {text!r}: write it as LOW-HIGH, e.g. 80-90")
    return float(match.group(1)), float(match.group(2))


def open_campaign_of(session: Session, phase: Phase) -> Campaign | None:
    return session.scalar(select(Campaign).where(Campaign.phase_id == phase.id,
                                                 Campaign.status == "open"))


def latest_campaign(session: Session, phase: Phase) -> Campaign | None:
    return session.scalar(select(Campaign).where(Campaign.phase_id == phase.id)
                          .order_by(Campaign.id.desc()).limit(1))


def rating_count(session: Session, campaign: Campaign) -> int:
    """How many judgements the campaign holds (hidden repeats included): ratings, trials
    picked (best-k) or pairs decided (pairwise)."""
    if campaign.protocol == "best-k":
        query = select(func.count(Pick.id)).join(Trial, Trial.id == Pick.trial_id) \
            .where(Trial.campaign_id == campaign.id)
    elif campaign.protocol == "pairwise":
        query = select(func.count(PairTrial.id)).where(PairTrial.campaign_id == campaign.id,
                                                       PairTrial.outcome.is_not(None))
    else:
        query = select(func.count(Rating.id)).join(Candidate, Candidate.id == Rating.candidate_id) \
            .join(Trial, Trial.id == Candidate.trial_id).where(Trial.campaign_id == campaign.id)
    return session.scalar(query) or 0


def published_campaign(session: Session, phase: Phase) -> Campaign | None:
    """The phase's latest campaign whose results are published: closed with ratings, or
    reopened since (the public reads what it published when it closed)."""
    for campaign in session.scalars(select(Campaign).where(Campaign.phase_id == phase.id)
                                    .order_by(Campaign.id.desc())):
        if campaign.status == "closed" and rating_count(session, campaign):
            return campaign
        if session.scalar(select(FinalResult.published_at).where(
                FinalResult.campaign_id == campaign.id)) is not None:
            return campaign
    return None


def last_submission(session: Session, phase: Phase, team_id: int) -> Submission | None:
    """The team's latest accepted (not failed) submission to the phase."""
    return session.scalar(
        select(Submission).where(Submission.phase_id == phase.id, Submission.team_id == team_id,
                                 Submission.status == "scored")
        .order_by(Submission.created_at.desc(), Submission.id.desc()).limit(1))


def _chosen_submission(session: Session, phase: Phase, team_id: int, team: str,
                       wanted: int | None, problems: list[str]) -> Submission | None:
    if wanted is None:
        sub = last_submission(session, phase, team_id)
        if sub is None:
            problems.append(f"team {team!r} has no accepted submission to phase {phase.slug}")
        return sub
    sub = by_id(session, Submission, wanted)
    if sub is None or sub.phase_id != phase.id or sub.team_id != team_id:
        problems.append(f"submission {wanted} is not a submission of team {team!r} "
                        f"to phase {phase.slug}")
        return None
    if sub.status != "scored":
        problems.append(f"submission {wanted} of team {team!r} is {sub.status}, not accepted")
        return None
    return sub


def open_campaign(session: Session, phase: Phase, options: CampaignOptions, *,
                  actor: User | None) -> Campaign:
    """A new open campaign over the phase's finalists; CampaignError lists every problem."""
    problems = options.problems()
    if phase.kind != "unpaired":
        problems.append(f"phase {phase.slug} is {phase.kind}; campaigns rate unpaired phases")
    if phase.end is not None and utcnow() < phase.end:
        problems.append(f"phase {phase.slug} is still open until {phase.end.isoformat()}")
    if phase.dataset("inputs") is None:
        problems.append(f"phase {phase.slug} has no inputs loaded")
    if open_campaign_of(session, phase) is not None:
        problems.append(f"phase {phase.slug} already has an open campaign; close it first")
    else:
        published = published_campaign(session, phase)
        if published is not None:
            problems.append(
                f"phase {phase.slug} already has published results (campaign {published.id}, "
                f"closed {published.closed_at:%Y-%m-%d %H:%M} UTC, "
                f"{rating_count(session, published)} ratings); a new campaign would replace "
                f"them: reopen campaign {published.id} to collect more ratings (its ratings "
                f"are kept, and its published results stay until it closes again)")
    finalists = qualifiers(session, phase)
    if not finalists:
        problems.append(f"phase {phase.slug} has no qualified teams")
    k = options.protocol_options().get("k")
    if k is not None and finalists and not k < len(finalists):
        problems.append(f"k {k}: best-k needs fewer picks than the {len(finalists)} finalists")
    if options.protocol == "pairwise" and len(finalists) == 1:
        problems.append("pairwise comparisons need at least two finalists")
    names = {q.team for q in finalists}
    stray = sorted(set(options.submissions) - names)
    if stray:
        problems.append(f"not finalists of phase {phase.slug}: {', '.join(stray)}")
    chosen = [(q, _chosen_submission(session, phase, q.team_id, q.team,
                                     options.submissions.get(q.team), problems))
              for q in finalists]
    if problems:
        raise CampaignError("; ".join(problems))
    campaign = Campaign(phase_id=phase.id, status="open", scale_min=options.scale[0],
                        scale_max=options.scale[1], criteria=options.criteria,
                        repeat_share=options.repeat_share,
                        method=options.full_method(), protocol=options.protocol,
                        protocol_options=options.protocol_options(),
                        created_by=actor.id if actor else None)
    session.add(campaign)
    session.flush()
    for q, sub in chosen:
        if sub is not None:
            session.add(Entry(campaign_id=campaign.id, team_id=q.team_id, submission_id=sub.id))
    session.flush()
    audit.record(session, "campaign.open", _phase_target(phase),
                 {"campaign": campaign.id, "protocol": campaign.protocol,
                  "protocol_options": campaign.protocol_options, "scale": list(options.scale),
                  "criteria": options.criteria, "repeat_share": options.repeat_share,
                  "method": campaign.method,
                  "entries": {q.team: s.id for q, s in chosen if s is not None}}, actor=actor)
    return campaign


def _phase_target(phase: Phase) -> str:
    return f"phase:{phase.challenge.slug}/{phase.slug}"


def close_campaign(session: Session, campaign: Campaign, *, actor: User | None) -> None:
    """No more ratings; results become visible beyond organisers (app.judging.results.close
    also stores them: callers close through it)."""
    if campaign.status == "closed":
        return
    campaign.status, campaign.closed_at = "closed", utcnow()
    audit.record(session, "campaign.close", _phase_target(campaign.phase),
                 {"campaign": campaign.id, "ratings": rating_count(session, campaign)},
                 actor=actor)


def reopen_campaign(session: Session, phase: Phase, *, actor: User | None) -> Campaign:
    """Open the phase's latest campaign again: same finalists, trials and ratings; judges
    carry on where they stopped. CampaignError when there is none to reopen."""
    if open_campaign_of(session, phase) is not None:
        raise CampaignError(f"phase {phase.slug} already has an open campaign")
    campaign = latest_campaign(session, phase)
    if campaign is None:
        raise CampaignError(f"phase {phase.slug} has no campaign to reopen; open one")
    campaign.status = "open"
    audit.record(session, "campaign.reopen", _phase_target(phase),
                 {"campaign": campaign.id, "ratings": rating_count(session, campaign),
                  "closed_at": campaign.closed_at.isoformat() if campaign.closed_at else None},
                 actor=actor)
    return campaign


def is_judge(session: Session, user: User) -> bool:
    """Whether ``user`` judges any challenge (judges never see leaderboards or results)."""
    return user.is_judge or session.scalar(select(Judge.id).where(Judge.user_id == user.id)
                                           .limit(1)) is not None


def judges_of(session: Session, challenge: Challenge) -> list[Judge]:
    """The challenge's judges, by name."""
    return list(session.scalars(select(Judge).where(Judge.challenge_id == challenge.id)
                                .order_by(Judge.name)))


def find_judge(session: Session, challenge: Challenge, name: str) -> Judge:
    """The judge of ``challenge`` called ``name``; CampaignError naming the judges otherwise."""
    judge = session.scalar(select(Judge).where(Judge.challenge_id == challenge.id,
                                               Judge.name == name.strip()))
    if judge is None:
        known = ", ".join(repr(j.name) for j in judges_of(session, challenge)) or "none yet"
        raise CampaignError(f"no judge named {name.strip()!r} in challenge {challenge.slug} "
                            f"(judges: {known})")
    return judge


def _token_name(challenge: Challenge) -> str:
    return f"judge sign-in {challenge.slug}"


def add_judge(session: Session, challenge: Challenge, name: str, *, email: str | None = None,
              actor: User | None = None) -> tuple[Judge, str]:
    """A judge of ``challenge`` and a fresh sign-in token (returned once, stored hashed)."""
    clean = name.strip()
    if not clean:
        raise CampaignError("judge name must not be empty")
    if session.scalar(select(Judge).where(Judge.challenge_id == challenge.id,
                                          Judge.name == clean)) is not None:
        raise CampaignError(f"judge {clean!r} already exists in challenge {challenge.slug}")
    user = accounts.find_user(session, email) if email else None
    refusal = judge_refusal(session, user, challenge) if user is not None else None
    if refusal is not None:
        raise CampaignError(refusal)
    if user is not None and session.scalar(select(Judge).where(
            Judge.challenge_id == challenge.id, Judge.user_id == user.id)) is not None:
        raise CampaignError(f"{user.email} already judges challenge {challenge.slug}")
    if user is None:
        slug = re.sub(r"[^a-z0-9]+", "-", clean.lower()).strip("-") or "judge"
        address = email or f"judge-{challenge.slug}-{slug}@{JUDGE_EMAIL_DOMAIN}"
        if accounts.find_user(session, address) is not None:
            address = f"judge-{challenge.slug}-{slug}-{utcnow().strftime('%Y%m%d%H%M%S%f')}" \
                      f"@{JUDGE_EMAIL_DOMAIN}"
        user = accounts.create_user(session, address, name=clean)
    user.is_judge = True
    judge = Judge(challenge_id=challenge.id, user_id=user.id, name=clean)
    session.add(judge)
    session.flush()
    _, token = accounts.create_token(session, user, name=_token_name(challenge))
    audit.record(session, "judge.add", f"challenge:{challenge.slug}",
                 {"judge": clean, "user": user.email}, actor=actor)
    return judge, token


def _revoke_links(session: Session, judge: Judge) -> int:
    """Revoke the judge's sign-in tokens for this challenge and end their browser sessions."""
    ended = session.execute(
        update(ApiToken).where(ApiToken.user_id == judge.user_id,
                               ApiToken.name == _token_name(judge.challenge),
                               ApiToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())).rowcount or 0
    browser_sessions.revoke_others(session, judge.user_id)
    return ended


def revoke_judge(session: Session, judge: Judge, *, actor: User | None) -> None:
    """Withdraw the judge's access: links and sessions stop working, no more ratings; the
    ratings already given are kept."""
    if judge.revoked_at is not None:
        raise CampaignError(f"judge {judge.name!r} is already revoked")
    links = _revoke_links(session, judge)
    judge.revoked_at = utcnow()
    audit.record(session, "judge.revoke", f"challenge:{judge.challenge.slug}",
                 {"judge": judge.name, "links_revoked": links}, actor=actor)


def new_link(session: Session, judge: Judge, *, actor: User | None) -> str:
    """A fresh sign-in token for the judge (shown once); earlier links stop working, and a
    revoked judge has access again."""
    links = _revoke_links(session, judge)
    restored = judge.revoked_at is not None
    judge.revoked_at = None
    _, token = accounts.create_token(session, judge.user, name=_token_name(judge.challenge))
    audit.record(session, "judge.link", f"challenge:{judge.challenge.slug}",
                 {"judge": judge.name, "links_revoked": links, "access_restored": restored},
                 actor=actor)
    return token


def sign_in_link(token: str, base_url: str | None = None) -> str:
    """The personal link a judge opens; it trades the token for a session cookie.

    ``base_url`` is the address of the request that asked for the link (so the link opens on
    the host and port the organiser uses); without a request (the command line), RAIM_BASE_URL.
    """
    return (base_url or get_settings().base_url).rstrip("/") + SIGN_IN_PATH + token

