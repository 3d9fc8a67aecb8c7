"""A phase scored as RAIM 2026 Track 2: its own formula, two stages, a resized prediction named
in the stored results and the submission's JSON; a remote worker's results checked likewise."""

import shutil
import zipfile

import cv2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.config import get_settings
from app.db import session_scope
from app.errors import ApiError
from app.evaluation import phase_formula
from app.intake.accept import accept
from app.intake.views import submission_view
from app.jobs import exchange, worker
from app.main import create_app
from app.models import Phase, Submission, TeamMember
from scoring.formula import RAIM_2026_FUSION
from tests.utils.arena import as_upload
from tests.utils.jobs import load

STAGES = {"stage1": ["001.png"], "stage2": ["002.png", "003.png"]}


def _staged_phase(arena) -> None:
    """The arena's phase as Track 2: its own formula, its ground truth split in two stages."""
    settings = get_settings()
    with session_scope() as session:
        phase = session.get_one(Phase, arena.phase_id)
        phase.formula, phase.stages = RAIM_2026_FUSION.to_dict(), list(STAGES)
        gt = settings.datasets_dir / phase.dataset("ground_truth").path
    for stage, names in STAGES.items():
        (gt / stage).mkdir()
        for name in names:
            shutil.move(gt / name, gt / stage / name)


def _submit(arena, tmp_path, resized: str) -> int:
    """Accept a staged zip (``resized`` submitted at 120x100) the way POST /score does."""
    path = tmp_path / "staged.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for stage, names in STAGES.items():
            for name in names:
                data = (arena.samples.pred / name).read_bytes()
                if name == resized:
                    small = cv2.resize(cv2.imread(str(arena.samples.pred / name)), (120, 100),
                                       interpolation=cv2.INTER_AREA)
                    data = cv2.imencode(".png", small)[1].tobytes()
                archive.writestr(f"{stage}/{name}", data)
    with session_scope() as session:
        user_id = session.scalar(select(TeamMember.user_id)
                                 .where(TeamMember.team_id == arena.team_ids["alpha"]))
    return accept(user_id, as_upload(path), None, get_settings()).id


@pytest.mark.slow
def test_a_two_stage_resize_phase_is_scored_as_the_mean_of_its_stages(arena, tmp_path,
                                                                      weights_dir):
    _staged_phase(arena)
    sub_id = _submit(arena, tmp_path, resized="002.png")
    assert worker.score_next() is worker.Outcome.SCORED
    sub = load(sub_id)
    assert sub.status == "scored"
    assert sub.resized == {"stage2/002": "120x100"}
    assert set(sub.versions) == {"psnr", "ssim", "lpips", "numerics"}
    with session_scope() as session:
        stored = session.scalar(select(Submission).where(Submission.id == sub_id).options(
            selectinload(Submission.images), selectinload(Submission.phase)))
        view = submission_view(stored)
    rows = {row["name"]: row for row in view["images"]}
    assert list(rows) == ["stage1/001", "stage2/002", "stage2/003"]
    assert rows["stage2/002"]["resized_from"] == "120x100"
    assert "resized_from" not in rows["stage1/001"] and "resized_from" not in rows["stage2/003"]
    stage2 = (rows["stage2/002"]["score"] + rows["stage2/003"]["score"]) / 2
    assert sub.score == pytest.approx((rows["stage1/001"]["score"] + stage2) / 2, rel=1e-9)
    assert any("1 prediction(s) resized (bilinear)" in n for n in view["notes"])
    assert any(n.startswith("score = mean of the stages' mean scores: stage1 ")
               for n in view["notes"])
    for row in rows.values():
        assert row["score"] == pytest.approx(RAIM_2026_FUSION.score(row), rel=1e-12)
        assert row["dists"] is None and row["niqe"] is None
    with TestClient(create_app(background=False)) as client:  # the team's page says it too
        page = client.get(f"/submissions/{sub_id}", headers={**arena.auth("alpha"),
                                                             "Accept": "text/html"})
    assert page.status_code == 200
    assert "resized from 120x100" in page.text


def test_a_staged_phase_refuses_a_zip_without_its_stage_folders(arena, tmp_path):
    _staged_phase(arena)
    path = tmp_path / "flat.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name in ("001.png", "002.png", "003.png"):
            archive.write(arena.samples.pred / name, name)
    with session_scope() as session:
        user_id = session.scalar(select(TeamMember.user_id)
                                 .where(TeamMember.team_id == arena.team_ids["alpha"]))
    with pytest.raises(ApiError) as caught:
        accept(user_id, as_upload(path), None, get_settings())
    messages = {(p.file, p.message) for p in caught.value.problems}
    assert ("001.png", "outside the stage folders of the prediction (each image lies in one "
                       "of: stage1, stage2)") in messages


def test_remote_results_for_track_2_need_its_three_metrics_and_may_name_a_resize():
    formula = RAIM_2026_FUSION.with_stages(tuple(STAGES))
    images = [{"name": "stage1/001", "psnr": 30.0, "ssim": 0.9, "lpips": 0.1},
              {"name": "stage2/002", "psnr": 20.0, "ssim": 0.7, "lpips": 0.2,
               "resized_from": "120x100"}]
    evaluation = exchange.checked_evaluation(1, ["stage1/001", "stage2/002"], images, {}, [],
                                             formula)
    assert evaluation.report.images[1]["resized_from"] == "120x100"
    # stage1: 18 + 18 + 22.5 = 58.5; stage2: 12 + 9 + 15 = 36; the mean of the two stages
    assert evaluation.report.mean["score"] == pytest.approx((58.5 + 36) / 2)
    with pytest.raises(ApiError) as caught:
        exchange.checked_evaluation(1, ["stage1/001"], [{"name": "stage1/001", "psnr": 30.0,
                                                         "ssim": 0.9}], {}, [], formula)
    assert [(p.file, p.message) for p in caught.value.problems] == [
        ("stage1/001", "lpips is missing")]


def test_phase_formula_of_a_stored_phase(arena):
    _staged_phase(arena)
    with session_scope() as session:
        formula = phase_formula(session.get_one(Phase, arena.phase_id))
    assert formula == RAIM_2026_FUSION.with_stages(("stage1", "stage2"))
    with TestClient(create_app(background=False)) as client:  # the submit page tells teams
        page = client.get(f"/challenges/{arena.challenge}/phases/{arena.phase}/submit",
                          headers={**arena.auth("alpha"), "Accept": "text/html"})
    assert page.status_code == 200
    assert "<code>stage1/</code>, <code>stage2/</code>" in page.text
    assert "resized (bilinear) to it, and named as resized in your results" in page.text
