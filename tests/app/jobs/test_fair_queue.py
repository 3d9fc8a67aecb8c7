"""The fair queue: each team's oldest waiting job takes turns with the other teams', race-safe."""

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.config import get_settings
from app.db import session_scope
from app.jobs import worker
from app.models import Submission, TeamMember, utcnow
from metrics.samples import write_sample_set
from tests.utils.arena import as_upload, build_arena, zip_folder


def queued_row(phase_id: int, team_id: int, seconds_ago: float) -> int:
    with session_scope() as session:
        sub = Submission(phase_id=phase_id, team_id=team_id, status="queued",
                         created_at=utcnow() - timedelta(seconds=seconds_ago),
                         upload_path="uploads/none.zip", upload_bytes=1, upload_sha256="0" * 64,
                         original_filename="r.zip", image_count=1)
        session.add(sub)
        session.flush()
        return sub.id


def drain(name: str = "gpu:1") -> list[int]:
    """One worker taking jobs one at a time, each finished before the next claim."""
    order = []
    while (job := worker.claim_next(name, get_settings())) is not None:
        order.append(job.submission_id)
        assert worker.fail(job, "not scored in this test")
    return order


def test_a_burst_of_one_team_does_not_hold_another_team_back(arena):
    a = [queued_row(arena.phase_id, arena.team_ids["alpha"], 100 - i) for i in range(10)]
    b = queued_row(arena.phase_id, arena.team_ids["beta"], 50)
    assert drain() == [a[0], b, *a[1:]]


def test_three_teams_take_turns_oldest_job_first(db_url, sample_set):
    arena = build_arena(sample_set, teams=("alpha", "beta", "gamma"))
    ids = arena.team_ids
    a = [queued_row(arena.phase_id, ids["alpha"], 90 - i) for i in range(4)]
    b = [queued_row(arena.phase_id, ids["beta"], 80 - i) for i in range(2)]
    c = [queued_row(arena.phase_id, ids["gamma"], 10)]
    assert drain() == [a[0], b[0], c[0], a[1], b[1], a[2], a[3]]


def test_a_team_served_least_recently_goes_first_even_with_a_newer_job(arena):
    earlier = queued_row(arena.phase_id, arena.team_ids["alpha"], 300)
    assert drain() == [earlier]  # alpha was just served
    mine = queued_row(arena.phase_id, arena.team_ids["alpha"], 200)
    theirs = queued_row(arena.phase_id, arena.team_ids["beta"], 100)
    assert drain() == [theirs, mine]


def test_concurrent_claims_take_each_job_exactly_once(arena):
    ids = {queued_row(arena.phase_id, arena.team_ids[team], 100 - i)
           for i in range(12) for team in ("alpha", "beta")}
    taken: list[int] = []
    lock = threading.Lock()

    def take(n: int) -> None:
        while (job := worker.claim_next(f"gpu:{n}", get_settings())) is not None:
            with lock:
                taken.append(job.submission_id)

    threads = [threading.Thread(target=take, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == sorted(ids)
    with session_scope() as session:
        assert set(session.scalars(select(Submission.attempts))) == {1}


@pytest.mark.slow
def test_team_b_is_scored_second_after_team_a_queued_ten_zips(settings, tmp_path, weights_dir):
    """Real uploads, really scored by one worker in the fair order (one 112x112 image each)."""
    from app.intake.accept import accept

    samples = write_sample_set(tmp_path / "one", count=1, size=112)
    arena = build_arena(samples)
    with session_scope() as session:
        members = dict(session.execute(select(TeamMember.team_id, TeamMember.user_id)).all())
    zipped = zip_folder(samples.pred, tmp_path / "r.zip")

    def upload(team: str) -> int:
        return accept(members[arena.team_ids[team]], as_upload(zipped), None, get_settings()).id

    team_a = [upload("alpha") for _ in range(10)]
    team_b = upload("beta")
    while worker.score_next() is not worker.Outcome.IDLE:
        pass
    with session_scope() as session:
        done = session.execute(select(Submission.id, Submission.status)
                               .order_by(Submission.finished_at)).all()
    assert {status for _, status in done} == {"scored"}
    assert [sub_id for sub_id, _ in done] == [team_a[0], team_b, *team_a[1:]]
