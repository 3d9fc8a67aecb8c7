"""Judging tables: judges, qualified teams, campaigns (by protocol), per-judge trials with their
ratings or picks, pairwise comparisons, and each campaign's stored final results.

Everything a judge's browser sees is addressed by random tokens stored here
(``Trial.token``, ``Trial.input_token``, ``Candidate.image_token``), drawn per judge, so
that no URL or id repeats across judges or reveals a team, a submission or a file name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models import Base, Challenge, Phase, Submission, Team, User, _one_of, utcnow

CAMPAIGN_STATUSES = ("open", "closed")
PROTOCOLS = ("rating", "best-k", "pairwise")
PAIR_OUTCOMES = ("first", "second", "tie")
QUALIFICATION_SOURCES = ("leaderboard", "organiser")


class Judge(Base):
    """A user judging one challenge, under a name shown to organisers only."""

    __tablename__ = "judges"
    __table_args__ = (UniqueConstraint("challenge_id", "user_id"),
                      UniqueConstraint("challenge_id", "name"))

    id: Mapped[int] = mapped_column(primary_key=True)
    challenge_id: Mapped[int] = mapped_column(
        ForeignKey("challenges.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Access withdrawn by an organiser (revision 0007): the judge's links and sessions no
    # longer work and they rate nothing more; the ratings they gave are kept.
    revoked_at: Mapped[datetime | None]

    challenge: Mapped[Challenge] = relationship()
    user: Mapped[User] = relationship()


class Qualification(Base):
    """A team admitted to a ``qualify`` phase, as confirmed (or adjusted) by organisers."""

    __tablename__ = "qualifications"
    __table_args__ = (UniqueConstraint("phase_id", "team_id"),
                      _one_of("source", QUALIFICATION_SOURCES))

    id: Mapped[int] = mapped_column(primary_key=True)
    phase_id: Mapped[int] = mapped_column(ForeignKey("phases.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    source_rank: Mapped[int | None]  # rank on the source leaderboard when the phase ended
    source: Mapped[str] = mapped_column(String(16))
    confirmed_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))

    team: Mapped[Team] = relationship()


class Campaign(Base):
    """A judging campaign on an unpaired phase: protocol, scale, criteria, repeats, method."""

    __tablename__ = "campaigns"
    __table_args__ = (_one_of("status", CAMPAIGN_STATUSES), _one_of("protocol", PROTOCOLS))

    id: Mapped[int] = mapped_column(primary_key=True)
    phase_id: Mapped[int] = mapped_column(ForeignKey("phases.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    scale_min: Mapped[int] = mapped_column(Integer, default=1)
    scale_max: Mapped[int] = mapped_column(Integer, default=10)
    criteria: Mapped[bool] = mapped_column(Boolean, default=False)
    repeat_share: Mapped[float] = mapped_column(Float, default=0.05)
    method: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Revision 0013: the judging protocol and its options ({"k": 3} for best-k; {"ties": true,
    # "comparisons": 60} for pairwise; {} for ratings).
    protocol: Mapped[str] = mapped_column(String(16), default="rating", server_default="rating")
    protocol_options: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    phase: Mapped[Phase] = relationship()
    entries: Mapped[list[Entry]] = relationship(
        back_populates="campaign", order_by="Entry.id", passive_deletes=True)


class Entry(Base):
    """One finalist in a campaign and the submission of theirs that judges rate."""

    __tablename__ = "campaign_entries"
    __table_args__ = (UniqueConstraint("campaign_id", "team_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"))
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))

    campaign: Mapped[Campaign] = relationship(back_populates="entries")
    team: Mapped[Team] = relationship()
    submission: Mapped[Submission] = relationship()


class Trial(Base):
    """One test image shown to one judge; ``repeat_of`` marks a hidden repeat of an earlier one."""

    __tablename__ = "judge_trials"
    __table_args__ = (UniqueConstraint("campaign_id", "judge_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    judge_id: Mapped[int] = mapped_column(ForeignKey("judges.id", ondelete="CASCADE"), index=True)
    image: Mapped[str] = mapped_column(String(255))  # the input's file stem (never sent out)
    position: Mapped[int] = mapped_column(Integer)
    repeat_of: Mapped[int | None] = mapped_column(
        ForeignKey("judge_trials.id", ondelete="CASCADE"))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    input_token: Mapped[str] = mapped_column(String(64), unique=True)

    campaign: Mapped[Campaign] = relationship()
    judge: Mapped[Judge] = relationship()
    candidates: Mapped[list[Candidate]] = relationship(
        back_populates="trial", order_by="Candidate.label", passive_deletes=True)
    pick: Mapped[Pick | None] = relationship(uselist=False, passive_deletes=True)


class Candidate(Base):
    """A finalist's result inside one trial, under a label drawn for that trial."""

    __tablename__ = "judge_candidates"
    __table_args__ = (UniqueConstraint("trial_id", "label"),
                      UniqueConstraint("trial_id", "entry_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(
        ForeignKey("judge_trials.id", ondelete="CASCADE"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("campaign_entries.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(4))
    image_token: Mapped[str] = mapped_column(String(64), unique=True)

    trial: Mapped[Trial] = relationship(back_populates="candidates")
    entry: Mapped[Entry] = relationship()
    rating: Mapped[Rating | None] = relationship(back_populates="candidate", uselist=False,
                                                 passive_deletes=True)


class Pick(Base):
    """A judge's picks on one best-k trial (the labels picked, at most k); the last answer wins.

    The trial counts once exactly k labels are picked."""

    __tablename__ = "judge_picks"

    id: Mapped[int] = mapped_column(primary_key=True)
    trial_id: Mapped[int] = mapped_column(
        ForeignKey("judge_trials.id", ondelete="CASCADE"), unique=True)
    labels: Mapped[list[Any]]
    picked_at: Mapped[datetime] = mapped_column(default=utcnow)


class PairTrial(Base):
    """One pair of finalists' results on one image shown to one judge (pairwise protocol).

    Pairs are drawn one at a time by active sampling (``app.judging.pairs``); ``repeat_of``
    marks a hidden repeat of an earlier pair (sides swapped). ``outcome`` is None until the
    judge decides: ``first`` (left), ``second`` (right) or ``tie``.
    """

    __tablename__ = "judge_pairs"
    __table_args__ = (UniqueConstraint("campaign_id", "judge_id", "position"),
                      _one_of("outcome", PAIR_OUTCOMES))

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    judge_id: Mapped[int] = mapped_column(ForeignKey("judges.id", ondelete="CASCADE"), index=True)
    image: Mapped[str] = mapped_column(String(255))
    position: Mapped[int] = mapped_column(Integer)
    repeat_of: Mapped[int | None] = mapped_column(
        ForeignKey("judge_pairs.id", ondelete="CASCADE"))
    first_entry_id: Mapped[int] = mapped_column(
        ForeignKey("campaign_entries.id", ondelete="CASCADE"))
    second_entry_id: Mapped[int] = mapped_column(
        ForeignKey("campaign_entries.id", ondelete="CASCADE"))
    token: Mapped[str] = mapped_column(String(64), unique=True)
    input_token: Mapped[str] = mapped_column(String(64), unique=True)
    first_token: Mapped[str] = mapped_column(String(64), unique=True)
    second_token: Mapped[str] = mapped_column(String(64), unique=True)
    outcome: Mapped[str | None] = mapped_column(String(8))
    decided_at: Mapped[datetime | None]

    campaign: Mapped[Campaign] = relationship()
    judge: Mapped[Judge] = relationship()
    first_entry: Mapped[Entry] = relationship(foreign_keys=[first_entry_id])
    second_entry: Mapped[Entry] = relationship(foreign_keys=[second_entry_id])


class Rating(Base):
    """A judge's overall score (and criteria scores) for one candidate; the last answer wins."""

    __tablename__ = "judge_ratings"

    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("judge_candidates.id", ondelete="CASCADE"), unique=True)
    score: Mapped[float] = mapped_column(Float)
    criteria: Mapped[dict[str, Any] | None]
    rated_at: Mapped[datetime] = mapped_column(default=utcnow)

    candidate: Mapped[Candidate] = relationship(back_populates="rating")


class FinalResult(Base):
    """A campaign's final results, computed once per change of what they depend on.

    ``key`` digests everything the numbers depend on (ratings, objective scores, weights,
    method, campaign state); ``body`` is the computed JSON for that key. ``published_body``
    is what the public sees: the body as it stood when the campaign last closed; it stays
    while a reopened campaign collects more ratings, until the campaign closes again.
    """

    __tablename__ = "final_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), unique=True)
    key: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict[str, Any]]
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_body: Mapped[dict[str, Any] | None]
    published_at: Mapped[datetime | None]
