"""Leaderboards: ordering (pure), visibility rules, and the stored lines kept right as results
are stored, failed, retried and rescored (on SQLite and PostgreSQL)."""

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import cli, leaderboard, organiser
from app.accounts import create_team, ensure_organiser
from app.config import Settings
from app.db import session_scope
from app.jobs import worker
from app.leaderboard import Entry, rank_entries, visible_rows
from app.models import (
    LEADERBOARD_VISIBILITY,
    RANK_RULES,
    Challenge,
    Phase,
    Submission,
    Team,
    User,
)
from scoring.formula import RAIM_2024
from tests.utils.jobs import evaluation

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def entry(sub_id: int, team: str, score: float | None, *, minutes: int = 0,
          status: str = "scored", held: bool = False) -> Entry:
    mean = None if score is None else {"psnr": 30.0, "ssim": 0.9, "lpips": 0.1, "dists": 0.1,
                                       "niqe": 5.0, "score": score}
    return Entry(sub_id, ord(team[0]), team, status, score, mean, T0 + timedelta(minutes=minutes),
                 held=held)


def test_rank_entries_best_keeps_each_teams_highest_score():
    rows = rank_entries([entry(1, "a", 50.0), entry(2, "a", 70.0, minutes=1),
                         entry(3, "b", 60.0, minutes=2)], "best")
    assert [(r.rank, r.entry.team, r.entry.submission_id) for r in rows] == [
        (1, "a", 2), (2, "b", 3)]


def test_rank_entries_latest_takes_the_latest_scored_not_the_latest_failed():
    rows = rank_entries([entry(1, "a", 70.0), entry(2, "a", 40.0, minutes=1),
                         entry(3, "a", None, minutes=2, status="failed"),
                         entry(4, "b", 50.0, minutes=3)], "latest")
    assert [(r.entry.team, r.entry.submission_id) for r in rows] == [("b", 4), ("a", 2)]


def test_rank_entries_never_ranks_failed_queued_or_scoring():
    rows = rank_entries([entry(1, "a", None, status="failed"),
                         entry(2, "b", None, status="queued"),
                         entry(3, "c", None, status="scoring"),
                         entry(4, "d", -5.0)], "best")
    assert [r.entry.team for r in rows] == ["d"]


def test_rank_entries_tie_goes_to_the_earlier_submission():
    rows = rank_entries([entry(7, "late", 60.0, minutes=5), entry(9, "early", 60.0, minutes=1)],
                        "best")
    assert [r.entry.team for r in rows] == ["early", "late"]
    assert [r.rank for r in rows] == [1, 2]


def test_rank_entries_best_tie_within_a_team_keeps_the_earlier_submission():
    rows = rank_entries([entry(2, "a", 60.0, minutes=3), entry(1, "a", 60.0, minutes=1)], "best")
    assert rows[0].entry.submission_id == 1


def test_rank_entries_rejects_an_unknown_rule():
    with pytest.raises(ValueError, match="rank_by"):
        rank_entries([], "average")


def test_rank_entries_ranks_held_results_of_a_rescore_whatever_its_state():
    rows = rank_entries([entry(1, "a", 70.0, status="queued", held=True),
                         entry(2, "a", 50.0, minutes=1),
                         entry(3, "b", 60.0, status="failed", held=True),
                         entry(4, "c", 80.0, status="queued")], "best")
    assert [(r.entry.team, r.entry.score, r.entry.rescore) for r in rows] == [
        ("a", 70.0, "pending"), ("b", 60.0, "failed")]


def test_row_to_json_has_the_contract_keys():
    row = rank_entries([entry(1, "a", 50.0)], "best")[0].to_json()
    assert list(row) == ["rank", "team", "submission_id", "score", "psnr", "ssim", "lpips",
                         "dists", "niqe", "submitted_at", "rescore"]
    assert row["submitted_at"] == T0.isoformat() and row["rescore"] is None


def test_visible_rows_private_shows_a_team_only_its_own_row():
    rows = rank_entries([entry(1, "a", 50.0), entry(2, "b", 60.0)], "best")
    mine = visible_rows(rows, "private", organiser=False, team_ids={ord("a")})
    assert [(r.rank, r.entry.team) for r in mine] == [(2, "a")]
    assert visible_rows(rows, "private", organiser=False, team_ids=set()) == []
    assert visible_rows(rows, "private", organiser=True, team_ids=set()) == rows


def test_visible_rows_hidden_exists_for_organisers_only():
    rows = rank_entries([entry(1, "a", 50.0)], "best")
    assert visible_rows(rows, "hidden", organiser=False, team_ids={ord("a")}) is None
    assert visible_rows(rows, "hidden", organiser=True, team_ids=set()) == rows
    assert visible_rows(rows, "public", organiser=False, team_ids=set()) == rows


# --- the stored lines against the window query and a model, through the real write paths ---


SCORES = (40.0, 50.0, 50.0, 60.0, 75.5)  # repeats on purpose: ties go to the earlier submission


@dataclass
class Modelled:
    """What the test expects of one submission: its state, its score, what a rescore held."""

    team_id: int
    created_at: datetime
    status: str = "queued"
    score: float | None = None
    held: float | None = None

    def entry(self, sub_id: int) -> Entry | None:
        if self.status == "scored" and self.score is not None:
            return Entry(sub_id, self.team_id, "", self.status, self.score, None, self.created_at)
        if self.held is not None:
            return Entry(sub_id, self.team_id, "", self.status, self.held, None, self.created_at,
                         held=True)
        return None


class Phase1:
    """A paired phase with four teams, driven by the service's own functions."""

    def __init__(self, rng: random.Random, settings: Settings):
        self.rng, self.settings = rng, settings
        self.subs: dict[int, Modelled] = {}
        self.clock = T0
        self.seen: set[str | None] = set()  # the rescore states the board has shown
        with session_scope() as session:
            challenge = Challenge(slug="board", title="Board", formula=RAIM_2024.to_dict())
            session.add(challenge)
            session.flush()
            phase = Phase(challenge_id=challenge.id, slug="val", title="Val", kind="paired",
                          rank_by=rng.choice(RANK_RULES))
            session.add(phase)
            self.team_ids = [create_team(session, challenge, f"team-{i}")[0].id for i in range(4)]
            self.organiser_id = ensure_organiser(session, "org@example.org")[0].id
            session.flush()
            self.phase_id = phase.id

    def with_phase(self, action) -> None:  # type: ignore[no-untyped-def]
        with session_scope() as session:
            action(session, session.get_one(Phase, self.phase_id),
                   session.get_one(User, self.organiser_id))

    def in_state(self, *states: str) -> list[int]:
        return [i for i, s in self.subs.items() if s.status in states]

    # each step returns False when it had nothing to act on
    def submit(self) -> bool:
        if self.rng.random() < 0.7:  # else: the same second as the previous submission
            self.clock += timedelta(minutes=1)
        team_id = self.rng.choice(self.team_ids)
        with session_scope() as session:
            sub = Submission(phase_id=self.phase_id, team_id=team_id, created_at=self.clock,
                             upload_path="uploads/x.zip", upload_bytes=1, upload_sha256="0" * 64,
                             original_filename="x.zip", image_count=1)
            session.add(sub)
            session.flush()
            self.subs[sub.id] = Modelled(team_id, self.clock)
        return True

    def _claim(self) -> worker.Job | None:
        waiting = self.in_state("queued")
        if not waiting:
            return None
        job = worker.claim(self.rng.choice(waiting), "test-worker", self.settings)
        assert job is not None
        self.subs[job.submission_id].status = "scoring"
        return job

    def score(self) -> bool:
        job = self._claim()
        if job is None:
            return False
        score = self.rng.choice(SCORES)
        assert worker.store_results(job, evaluation(score))
        modelled = self.subs[job.submission_id]
        modelled.status, modelled.score, modelled.held = "scored", score, None
        return True

    def fail(self) -> bool:
        job = self._claim()
        if job is None:
            return False
        worker.fail(job, "001.png: not an image")
        self.subs[job.submission_id].status = "failed"
        return True

    def retry(self) -> bool:
        job = self._claim()
        if job is None:
            return False
        outcome = worker.release(job, "OSError: disk busy", self.settings)
        self.subs[job.submission_id].status = ("failed" if outcome is worker.Outcome.FAILED
                                               else "queued")
        return True

    def _reset(self, sub_id: int) -> None:
        modelled = self.subs[sub_id]
        if modelled.status == "scored" and modelled.score is not None:
            modelled.held = modelled.score
        modelled.status, modelled.score = "queued", None

    def rescore_one(self) -> bool:
        finished = self.in_state("scored", "failed")
        if not finished:
            return False
        sub_id = self.rng.choice(finished)
        self.with_phase(lambda s, _phase, actor: organiser.rescore_submission(
            s, s.get_one(Submission, sub_id), actor))
        self._reset(sub_id)
        return True

    def rescore_phase(self) -> bool:
        ids: list[int] = []
        self.with_phase(lambda s, phase, actor: ids.extend(organiser.rescore_phase(s, phase, actor)))
        assert sorted(ids) == sorted(self.in_state("scored", "failed")) or not ids
        for sub_id in ids:
            self._reset(sub_id)
        return True

    def visibility(self) -> bool:
        choice = self.rng.choice(LEADERBOARD_VISIBILITY)
        self.with_phase(lambda s, phase, actor: organiser.set_visibility(s, phase, choice, actor))
        return True

    def rename(self) -> bool:
        team_id = self.rng.choice(self.team_ids)
        with session_scope() as session:
            team = session.get_one(Team, team_id)
            team.name = f"{team.name.split('~')[0]}~{self.rng.randrange(10**6)}"
        return True

    def change_rule(self) -> bool:
        def flip(session: Session, phase: Phase, _actor: User) -> None:
            phase.rank_by = "latest" if phase.rank_by == "best" else "best"
            session.flush()
            leaderboard.rebuild(session, phase)

        self.with_phase(flip)
        return True

    def check(self) -> None:
        """Stored lines == the window query over the submissions == the model, for every viewer."""
        with session_scope() as session:
            phase = session.get_one(Phase, self.phase_id)
            stored = leaderboard.phase_leaderboard(session, phase)
            reference = rank_entries(leaderboard.phase_entries(session, phase), phase.rank_by)
            assert [r.to_json() for r in stored] == [r.to_json() for r in reference]
            expected = rank_entries([e for i, s in self.subs.items() if (e := s.entry(i))],
                                    phase.rank_by)
            assert [(r.rank, r.entry.submission_id, r.entry.score, r.entry.rescore)
                    for r in stored] == [(r.rank, r.entry.submission_id, r.entry.score,
                                          r.entry.rescore) for r in expected]
            self.seen.update(r.entry.rescore for r in stored)
            names = dict(session.execute(select(Team.id, Team.name)).all())
            assert all(r.entry.team == names[r.team_id] for r in stored)
            for viewer in ({}, {"team_ids": {self.team_ids[0]}}, {"organiser": True}):
                args = {"organiser": False, "team_ids": set(), **viewer}
                assert (visible_rows(stored, phase.leaderboard, **args)
                        == visible_rows(reference, phase.leaderboard, **args))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stored_leaderboard_matches_the_window_query_through_random_histories(migrated, settings,
                                                                             seed):
    rng = random.Random(seed)
    world = Phase1(rng, settings)
    steps = [(world.submit, 6), (world.score, 6), (world.fail, 2), (world.retry, 2),
             (world.rescore_one, 2), (world.rescore_phase, 1), (world.visibility, 1),
             (world.rename, 1), (world.change_rule, 1)]
    actions, weights = zip(*steps, strict=True)
    done = 0
    while done < 120:
        if rng.choices(actions, weights)[0]():
            done += 1
            world.check()
    assert world.seen == {None, "pending", "failed"}  # every kind of line was checked


def test_rebuild_command_restores_lines_of_submissions_written_by_hand(migrated, settings,
                                                                      capsys):
    world = Phase1(random.Random(3), settings)
    for _ in range(6):
        world.submit()
    with session_scope() as session:  # an import that bypasses the service
        session.execute(update(Submission).values(status="scored", score=Submission.id * 1.0,
                                                  mean={"score": 1.0}))
    with session_scope() as session:
        assert leaderboard.phase_leaderboard(session, session.get_one(Phase, world.phase_id)) == []
    assert cli.main(["db", "rebuild-leaderboards"]) == 0
    assert "1 phase(s)" in capsys.readouterr().out
    for modelled in world.subs.values():
        modelled.status = "scored"
    for sub_id, modelled in world.subs.items():
        modelled.score = sub_id * 1.0
    world.check()
