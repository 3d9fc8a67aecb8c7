"""What the pages show about challenges and phases: state, quota left, who may submit or look,
whether a team made a final, and where the published final ranking is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.intake.quotas import quota_left
from app.judging.qualification import refusal, source_phase
from app.judging.results import ResultsUnavailable, may_see_results, setup
from app.leaderboard import visible_rows
from app.models import Challenge, Dataset, Phase, Submission, Team, User
from app.web.templating import format_time
from metrics.registry import RAIM_METRICS

# Decimals shown per metric (a presentation choice: PSNR in dB needs fewer); others get 4.
_DIGITS = {"psnr": 2, "niqe": 3}


@dataclass(frozen=True)
class MetricColumn:
    name: str
    label: str
    digits: int
    lower_is_better: bool


# The table columns of every page, from metrics/registry.py: name, label, decimals, direction.
METRICS = tuple(MetricColumn(m.name, m.name.upper(), _DIGITS.get(m.name, 4), m.lower_is_better)
                for m in RAIM_METRICS)


def phase_state(phase: Phase, now: datetime) -> str:
    """``upcoming``, ``open`` or ``closed``."""
    if phase.start is not None and now < phase.start:
        return "upcoming"
    if phase.end is not None and now > phase.end:
        return "closed"
    return "open"


@dataclass(frozen=True)
class Quota:
    today: int | None
    total: int | None
    resets_at: datetime

    @property
    def exhausted(self) -> bool:
        return any(v is not None and v <= 0 for v in (self.today, self.total))

    @property
    def describe(self) -> str:
        """``3 submissions left today (resets ...) · 97 left in total`` or ``no submission
        limit``: what the team may still send now."""
        parts = []
        if self.today is not None:
            left = max(self.today, 0)
            parts.append(f"{left} submission{'' if left == 1 else 's'} "
                         f"left today (resets {format_time(self.resets_at)})")
        if self.total is not None:
            parts.append(f"{max(self.total, 0)} left in total")
        return " · ".join(parts) if parts else "no submission limit"


@dataclass(frozen=True)
class PhaseView:
    phase: Phase
    state: str
    inputs: Dataset | None
    quota: Quota | None  # only while the phase is open to the viewer's team
    can_submit: bool
    reason: str | None
    leaderboard_visible: bool
    can_download: bool
    entry: str | None = None  # qualifying phases: "qualified", "missed" or "undecided"


def leaderboard_visible(phase: Phase, user: User | None, team_ids: set[int]) -> bool:
    """Whether the viewer may open the phase's leaderboard page (rows may still be filtered)."""
    return visible_rows([], phase.leaderboard, organiser=bool(user and user.is_organiser),
                        team_ids=team_ids, judge=bool(user and user.is_judge)) is not None


def entry(session: Session, phase: Phase, team: Team | None, now: datetime) -> str | None:
    """For a phase that admits the top teams of another: ``qualified``, ``missed``, or
    ``undecided`` while the phase they qualify from is still running; None otherwise."""
    if team is None or not (phase.qualify_from and phase.qualify_top):
        return None
    if refusal(session, phase, team, now) is None:
        return "qualified"
    source = source_phase(session, phase)
    running = source is not None and source.end is not None and now < source.end
    return "undecided" if running else "missed"


def _qualification_text(session: Session, phase: Phase, entered: str | None) -> str | None:
    if entered not in ("missed", "undecided"):
        return None
    source = source_phase(session, phase)
    named = source.title if source is not None else phase.qualify_from
    top = "best team" if phase.qualify_top == 1 else f"{phase.qualify_top} best teams"
    if entered == "missed":
        verb = "takes" if phase.qualify_top == 1 else "take"
        return f"Your team did not qualify for {phase.title}: only the {top} of {named} {verb} part."
    when = f" ({format_time(source.end)})" if source is not None and source.end else ""
    return f"{phase.title} is open to the {top} of {named}, known when {named} closes{when}."


def _blocker(phase: Phase, state: str, quota: Quota | None,
             qualification: str | None) -> str | None:
    if qualification is not None:
        return qualification
    if state == "upcoming":
        return f"Submissions open {format_time(phase.start)}."
    if state == "closed":
        return f"Submissions closed {format_time(phase.end)}."
    if quota is not None and quota.exhausted:
        return f"Your team has used its quota: {quota.describe}."
    return None


def phase_view(session: Session, phase: Phase, user: User | None, team: Team | None,
               now: datetime) -> PhaseView:
    """The phase as the viewer (and their team, if any) sees it now."""
    state = phase_state(phase, now)
    entered = entry(session, phase, team, now)
    qualification = _qualification_text(session, phase, entered)
    quota = None
    if team is not None and state == "open" and qualification is None:
        left = quota_left(session, phase, team, now)
        quota = Quota(left.today, left.total, left.resets_at)
    reason = None if team is None else _blocker(phase, state, quota, qualification)
    return PhaseView(phase, state, phase.dataset("inputs"), quota,
                     can_submit=team is not None and reason is None, reason=reason,
                     leaderboard_visible=leaderboard_visible(
                         phase, user, {team.id} if team is not None else set()),
                     can_download=may_download(session, phase, user, team, state),
                     entry=entered)


def may_download(session: Session, phase: Phase, user: User | None, team: Team | None,
                 state: str) -> bool:
    """Inputs go to signed-in people once the phase opens; a qualifying phase's to finalists."""
    if user is None:
        return False
    if user.is_organiser:
        return True
    if state == "upcoming":
        return False
    if not (phase.qualify_from and phase.qualify_top):
        return True
    if team is None:
        return False
    return refusal(session, phase, team) is None


@dataclass(frozen=True)
class FinalRanking:
    """The challenge's judged phase and whether its final ranking is published to this viewer."""

    phase_slug: str
    published: bool


def final_ranking(session: Session, challenge: Challenge, user: User | None
                  ) -> FinalRanking | None:
    """Where the final ranking stands (app.judging.results decides who may see it); None for
    a challenge with no judged phase or no rating campaign yet."""
    try:
        chosen = setup(session, challenge)
    except ResultsUnavailable:
        return None
    public = may_see_results(session, None, chosen)
    return FinalRanking(chosen.subjective.slug,
                        public and may_see_results(session, user, chosen))


@dataclass(frozen=True)
class ChallengeSummary:
    challenge: Challenge
    phases: list[PhaseView]
    team_count: int
    submission_count: int
    final: FinalRanking | None


def challenge_summaries(session: Session, user: User | None,
                        now: datetime) -> list[ChallengeSummary]:
    """Every challenge, newest first, with its phases' states, counts and final ranking."""
    teams = dict(session.execute(select(Team.challenge_id, func.count(Team.id))
                                 .group_by(Team.challenge_id)).all())
    subs = dict(session.execute(select(Phase.challenge_id, func.count(Submission.id))
                                .join(Submission, Submission.phase_id == Phase.id)
                                .group_by(Phase.challenge_id)).all())
    challenges = session.scalars(select(Challenge).order_by(Challenge.created_at.desc(),
                                                            Challenge.id.desc()))
    return [ChallengeSummary(c, [phase_view(session, p, user, None, now) for p in c.phases],
                             teams.get(c.id, 0), subs.get(c.id, 0),
                             final_ranking(session, c, user)) for c in challenges]
