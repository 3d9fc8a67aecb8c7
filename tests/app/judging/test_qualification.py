"""Finalists: the source leaderboard as it stood at its end, confirmed or adjusted (and logged)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.judging import qualification
from app.judging.qualification import QualificationError
from app.models import AuditLog, Challenge, Phase, Submission, Team

END = datetime(2024, 3, 15, tzinfo=UTC)


def _phases(session: Session, *, source_end: datetime | None = END) -> tuple[Phase, Phase]:
    challenge = Challenge(slug="q", title="Q", formula={})
    session.add(challenge)
    session.flush()
    source = Phase(challenge_id=challenge.id, slug="validation", title="V", kind="paired",
                   end=source_end)
    final = Phase(challenge_id=challenge.id, slug="final", title="F", kind="unpaired",
                  qualify_from="validation", qualify_top=2)
    session.add_all([source, final])
    session.flush()
    return source, final


def _scored(session: Session, phase: Phase, team: str, score: float, at: datetime) -> Team:
    found = session.scalar(select(Team).where(Team.name == team))
    if found is None:
        found = Team(challenge_id=phase.challenge_id, name=team)
        session.add(found)
        session.flush()
    session.add(Submission(phase_id=phase.id, team_id=found.id, status="scored", score=score,
                           created_at=at, upload_path="-", upload_bytes=0,
                           upload_sha256="0" * 64, original_filename="r.zip", image_count=1))
    session.flush()
    return found


def test_proposed_uses_leaderboard_at_source_end(session: Session) -> None:
    source, final = _phases(session)
    _scored(session, source, "early-best", 90, datetime(2024, 3, 1, tzinfo=UTC))
    _scored(session, source, "second", 80, datetime(2024, 3, 2, tzinfo=UTC))
    _scored(session, source, "late", 99, datetime(2024, 3, 20, tzinfo=UTC))  # after the end
    _scored(session, source, "third", 70, datetime(2024, 3, 3, tzinfo=UTC))
    listed = qualification.proposed(session, final, now=datetime(2024, 4, 1, tzinfo=UTC))
    assert [(q.team, q.source_rank) for q in listed] == [("early-best", 1), ("second", 2)]


def test_proposed_is_empty_while_source_runs(session: Session) -> None:
    source, final = _phases(session)
    _scored(session, source, "a", 90, datetime(2024, 3, 1, tzinfo=UTC))
    assert qualification.proposed(session, final, now=datetime(2024, 3, 10, tzinfo=UTC)) == []


def test_confirm_with_adjustment_is_audited_and_enforced(session: Session) -> None:
    source, final = _phases(session)
    best = _scored(session, source, "best", 90, datetime(2024, 3, 1, tzinfo=UTC))
    _scored(session, source, "second", 80, datetime(2024, 3, 2, tzinfo=UTC))
    wildcard = _scored(session, source, "wildcard", 10, datetime(2024, 3, 3, tzinfo=UTC))
    listed = qualification.confirm(session, final, ["best", "wildcard"], actor=None)
    assert [(q.team, q.source) for q in listed] == [("best", "leaderboard"),
                                                    ("wildcard", "organiser")]
    log = session.scalar(select(AuditLog).where(AuditLog.action == "qualification.confirm"))
    assert log is not None and log.details["adjusted"] == ["second", "wildcard"]
    assert qualification.refusal(session, final, wildcard) is None
    second = session.scalar(select(Team).where(Team.name == "second"))
    assert "not among them" in (qualification.refusal(session, final, second) or "")
    assert qualification.refusal(session, source, best) is None  # no rule on the source


def test_confirm_unknown_team_refused(session: Session) -> None:
    _, final = _phases(session)
    with pytest.raises(QualificationError, match="no team named 'ghost'"):
        qualification.confirm(session, final, ["ghost"], actor=None)
