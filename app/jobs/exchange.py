"""The service's side of the worker API: what a remote worker may do, and the checks on it.

Each function is one worker-API request, given the caller's worker token (already checked by
``app.deps``); each runs in transactions of its own, committed before it returns, and calls the
same database code as the other kinds of worker (``app.jobs.worker``: the fair claim, the
lease, ``store_results``). The rules:

- A worker says hello first; its name is ``token-name@host:pid`` and belongs to its token.
  Every later request names it, and a name of another token is refused (403).
- Files are served only for a job that a worker of the caller's token holds (``scoring``;
  otherwise 409):
  the upload, and the ground truth as a zip of the dataset. Each is described at claim time by
  URL, size and sha256 (the upload's as stored at intake; the ground truth zip's as built once
  and cached by the dataset's id and fingerprint).
- Progress, results and failures count only while the row is ``scoring`` by that very worker;
  otherwise the lease was lost: 409, and nothing changes.
- Results are checked before anything is stored: every image of the ground truth present once,
  nothing else, each with exactly the metrics the phase's formula computes (all five of
  ``metrics/registry.py`` on the RAIM 2024 reading), each a finite number, and the size it was
  resized from where the formula resizes.
  The service computes each image's score and the means with the phase's formula itself
  (``scoring.report``), so a worker sends measurements only. Every problem is listed (400);
  then ``store_results`` stores them in one transaction, as for any worker.
- Requests that read before they write (hello, heartbeats, progress) begin with the write lock
  (``session_scope(immediate=True)``), so that a commit by another worker in between cannot
  make SQLite refuse their write.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from app.config import Settings
from app.db import session_scope
from app.errors import ApiError
from app.evaluation import Evaluation, measure_for, phase_formula
from app.jobs import presence, worker
from app.jobs.store import Job, Lease
from app.lookups import find_submission
from app.models import Phase, Submission, Worker, WorkerToken
from app.storage import ZippedSet, dataset_zip, upload_file
from metrics.images import IMAGE_SUFFIXES, ImageSet, Problem, pair_key
from metrics.registry import METRIC_NAMES
from scoring.formula import Formula
from scoring.report import build_report

MAX_NOTES = 100
MAX_TEXT = 4000
MAX_VERSIONS = 32


def worker_name(token: WorkerToken, host: str, pid: int) -> str:
    return f"{token.name}@{host}:{pid}"


def hello(token: WorkerToken, *, host: str, pid: int, version: str, device: str,
          settings: Settings) -> dict:
    """Register a remote worker process of ``token``; its name and timings."""
    name = worker_name(token, host, pid)
    with session_scope(immediate=True) as session:
        presence.register(session, name=name, kind="remote", host=host, pid=pid,
                          version=version, device=device, token_id=token.id)
    return {"worker": name, "heartbeat_seconds": presence.heartbeat_seconds(settings),
            "lease_seconds": settings.stale_after_seconds}


def _own_worker(session: Session, token: WorkerToken, name: str) -> Worker:
    row = presence.find(session, name)
    if row is None or row.token_id != token.id:
        raise ApiError(403, f"worker {name!r} is not a worker of the token {token.name!r}; "
                            "start with POST /api/worker/hello")
    return row


def alive(token: WorkerToken, name: str, caches: dict) -> dict:
    with session_scope(immediate=True) as session:
        _own_worker(session, token, name)
        presence.beat(session, name, caches)
    return {"worker": name}


def goodbye(token: WorkerToken, name: str) -> dict:
    with session_scope(immediate=True) as session:
        _own_worker(session, token, name)
        presence.stopped(session, name)
    return {"worker": name}


def claim(token: WorkerToken, name: str, settings: Settings) -> dict:
    """The next job in the fair order, now held by worker ``name``: ``{"job": ...}`` or
    ``{"job": None}`` when nothing waits."""
    with session_scope() as session:
        _own_worker(session, token, name)
    job = worker.claim_next(name, settings)
    if job is None:
        return {"job": None}
    try:
        description = _describe(job, settings)
    except FileNotFoundError as exc:  # the service lost a file: not the team's fault, retried
        worker.release(job, f"the service could not serve the job's files: {exc}", settings)
        raise ApiError(503, f"submission {job.submission_id}: {exc}; it went back to the "
                            "queue", headers={"Retry-After": "30"}) from exc
    return {"job": description}


def _describe(job: Job, settings: Settings) -> dict:
    with session_scope() as session:
        sub = _submission(session, job.submission_id)
        upload = upload_file(settings, sub.upload_path)
        if not upload.is_file():
            raise FileNotFoundError(f"the stored upload {sub.upload_path} is missing")
        gt = sub.phase.dataset("ground_truth") if job.paired else None
        gt_zip = dataset_zip(settings, gt) if gt is not None else None
        base = f"/api/worker/jobs/{sub.id}"
        return {
            "submission_id": sub.id, "worker": job.worker, "attempt": sub.attempts,
            "paired": job.paired, "image_count": sub.image_count,
            "formula": job.formula.to_dict(),
            "upload": {"url": f"{base}/upload", "sha256": sub.upload_sha256,
                       "bytes": sub.upload_bytes},
            "ground_truth": None if gt_zip is None else _file(f"{base}/ground-truth", gt_zip),
            "heartbeat_seconds": presence.heartbeat_seconds(settings),
            "lease_seconds": settings.stale_after_seconds,
        }


def _file(url: str, zipped: ZippedSet) -> dict:
    return {"url": url, "sha256": zipped.sha256, "bytes": zipped.size}


def _submission(session: Session, submission_id: int) -> Submission:
    sub = find_submission(session, submission_id)  # 404 naming the id
    return session.execute(
        select(Submission).where(Submission.id == sub.id)
        .options(selectinload(Submission.phase).selectinload(Phase.datasets),
                 selectinload(Submission.phase).selectinload(Phase.challenge))
    ).scalar_one()


def _held_by_token(session: Session, token: WorkerToken, sub: Submission) -> None:
    """409 unless a worker of ``token`` holds ``sub`` now (its lease was lost, or it never
    held it): files are served only to the worker scoring the submission."""
    holder = presence.find(session, sub.worker) if sub.worker else None
    if sub.status != "scoring" or holder is None or holder.token_id != token.id:
        raise ApiError(409, f"submission {sub.id} is not held by a worker of the token "
                            f"{token.name!r}; its files are served only to the worker scoring it")


def _held_by(session: Session, token: WorkerToken, sub: Submission, name: str) -> None:
    """403 for a worker of another token; 409 when ``name`` does not hold ``sub`` any more."""
    _own_worker(session, token, name)
    if sub.status != "scoring" or sub.worker != name:
        now = f"held by {sub.worker}" if sub.status == "scoring" else sub.status
        raise ApiError(409, f"submission {sub.id} is no longer held by {name} (it is {now}): "
                            "the lease was lost; drop this job")


def upload_path(token: WorkerToken, submission_id: int, settings: Settings) -> Path:
    """The stored zip of a submission a worker of ``token`` holds."""
    with session_scope() as session:
        sub = _submission(session, submission_id)
        _held_by_token(session, token, sub)
        path = upload_file(settings, sub.upload_path)
    if not path.is_file():
        raise ApiError(410, f"the stored upload of submission {submission_id} is missing")
    return path


def ground_truth_zip(token: WorkerToken, submission_id: int, settings: Settings) -> ZippedSet:
    """The zip of the ground truth of a submission a worker of ``token`` holds."""
    with session_scope() as session:
        sub = _submission(session, submission_id)
        _held_by_token(session, token, sub)
        dataset = sub.phase.dataset("ground_truth")
        if sub.phase.kind != "paired" or dataset is None:
            raise ApiError(404, f"submission {submission_id}: its phase has no ground truth")
        try:
            return dataset_zip(settings, dataset)
        except FileNotFoundError as exc:
            raise ApiError(410, f"the ground truth of submission {submission_id} is missing "
                                "on the service") from exc


def progress(token: WorkerToken, submission_id: int, name: str, done: int | None,
             caches: dict | None) -> dict:
    """Renew the lease of ``name`` on the submission (and record ``done`` images)."""
    with session_scope(immediate=True) as session:
        sub = _submission(session, submission_id)
        _held_by(session, token, sub, name)
        if done is not None and not 0 <= done <= sub.image_count:
            raise ApiError(400, f"done: {done} is not between 0 and the submission's "
                                f"{sub.image_count} images")
        if caches:
            presence.beat(session, name, caches)
    if not worker.record_progress(Lease(submission_id, name), done):
        raise ApiError(409, f"submission {submission_id} is no longer held by {name}: the "
                            "lease was lost; drop this job")
    return {"submission_id": submission_id, "held": True}


def fail(token: WorkerToken, submission_id: int, name: str, message: str, retry: bool,
         settings: Settings) -> dict:
    """End an attempt: failed for good (bad input) or, with ``retry``, back to the queue
    until RAIM_SCORING_RETRIES attempts are spent."""
    with session_scope() as session:
        _held_by(session, token, _submission(session, submission_id), name)
    lease = Lease(submission_id, name)
    if retry:
        outcome = worker.release(lease, message, settings)
        status = {"retry": "queued", "failed": "failed"}.get(outcome.value)
    else:
        status = "failed" if worker.fail(lease, message) else None
    if status is None:
        raise ApiError(409, f"submission {submission_id} is no longer held by {name}")
    return {"submission_id": submission_id, "status": status}


def results(token: WorkerToken, submission_id: int, name: str, images: list[Mapping[str, Any]],
            versions: Mapping[str, str], notes: list[str], settings: Settings) -> dict:
    """Check a remote worker's measurements and store them in one transaction (module notes)."""
    with session_scope() as session:
        sub = _submission(session, submission_id)
        _held_by(session, token, sub, name)
        gt = sub.phase.dataset("ground_truth") if sub.phase.kind == "paired" else None
        formula = phase_formula(sub.phase)
        expected = (expected_names(settings.datasets_dir / gt.path, formula.stages)
                    if gt is not None else None)
    evaluation = checked_evaluation(submission_id, expected, images, versions, notes, formula)
    if not worker.store_results(Lease(submission_id, name), evaluation):
        raise ApiError(409, f"submission {submission_id} is no longer held by {name}: the "
                            "lease was lost; its results were not stored")
    return {"submission_id": submission_id, "status": "scored",
            "score": None if evaluation is None else evaluation.report.mean["score"]}


def expected_names(ground_truth: Path, stages: tuple[str, ...] = ()) -> list[str]:
    """The image names (stems, or ``stage/stem``) a paired submission is scored on: its ground
    truth's."""
    images = ImageSet(ground_truth, "ground truth")
    try:
        return sorted({pair_key(n, stages) for n in images.names()
                       if PurePosixPath(n).suffix.lower() in IMAGE_SUFFIXES})
    finally:
        images.close()


def checked_evaluation(submission_id: int, expected: list[str] | None,
                       images: list[Mapping[str, Any]], versions: Mapping[str, str],
                       notes: list[str], formula: Formula) -> Evaluation | None:
    """The Evaluation these results make, or ApiError 400 listing every problem.

    ``expected`` None: an unpaired phase, which has no measurements (``images`` empty).
    """
    problems: list[Problem] = []
    if expected is None:
        if images:
            problems.append(Problem("images", "an unpaired phase has no measurements; send []"))
        _check_text(versions, notes, problems)
        _refuse(submission_id, problems)
        return None
    seen: dict[str, dict[str, float]] = {}
    resized: dict[str, str] = {}
    measure = measure_for(formula)
    for index, row in enumerate(images):
        name = row.get("name")
        if not isinstance(name, str) or not name:
            problems.append(Problem(f"images[{index}]", "no image name"))
            continue
        if name in seen:
            problems.append(Problem(name, "given twice"))
            continue
        seen[name] = _measurements(name, row, problems, measure.computed)
        size = row.get("resized_from")
        if size is not None:
            if not measure.resize:
                problems.append(Problem(name, f"resized_from {size!r}: the phase's formula "
                                              "refuses other sizes; nothing is resized"))
            elif not isinstance(size, str) or len(size) > 32:
                problems.append(Problem(name, f"resized_from {size!r} is not a size WxH"))
            else:
                resized[name] = size
    wanted = set(expected)
    problems += [Problem(n, "missing: no result for this image") for n in expected
                 if n not in seen]
    problems += [Problem(n, "not an image of the ground truth") for n in sorted(seen)
                 if n not in wanted]
    _check_text(versions, notes, problems)
    _refuse(submission_id, problems)
    report = build_report(((n, seen[n]) for n in expected), formula, resized)
    return Evaluation(report, list(notes), dict(versions))


def _measurements(name: str, row: Mapping[str, Any], problems: list[Problem],
                  required: tuple[str, ...] = METRIC_NAMES) -> dict[str, float]:
    values: dict[str, float] = {}
    for key in sorted(set(row) - {"name", "resized_from"}):
        if key not in METRIC_NAMES:
            problems.append(Problem(name, f"{key!r} is not a metric of the registry "
                                          f"({', '.join(METRIC_NAMES)})"))
    for metric in (m for m in METRIC_NAMES if m in required or m in row):
        if metric not in row:
            problems.append(Problem(name, f"{metric} is missing"))
            continue
        value = row[metric]
        if isinstance(value, bool) or not isinstance(value, int | float) or \
                not math.isfinite(value):
            problems.append(Problem(name, f"{metric} is not a finite number ({value!r})"))
            continue
        values[metric] = float(value)
    return values


def _check_text(versions: Mapping[str, str], notes: list[str], problems: list[Problem]) -> None:
    if len(versions) > MAX_VERSIONS or any(len(k) > 200 or len(v) > 200
                                           for k, v in versions.items()):
        problems.append(Problem("versions", f"at most {MAX_VERSIONS} names and versions of at "
                                            "most 200 characters each"))
    if len(notes) > MAX_NOTES or any(len(n) > MAX_TEXT for n in notes):
        problems.append(Problem("notes", f"at most {MAX_NOTES} notes of at most {MAX_TEXT} "
                                         "characters each"))


def _refuse(submission_id: int, problems: list[Problem]) -> None:
    if problems:
        raise ApiError(400, f"results of submission {submission_id}: {len(problems)} "
                            "problem(s); nothing was stored", problems)
