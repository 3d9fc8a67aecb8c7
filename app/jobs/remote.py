"""A remote worker's job store: a client of the service's worker API, and its file cache.

``HttpStore`` implements ``app.jobs.store.JobStore`` with RAIM_SERVICE_URL and
RAIM_WORKER_TOKEN only: no database, no shared folder. Each download (the upload, the ground
truth zip) is streamed to disk, hashed on the way and checked against the sha256 the claim
gave; a wrong hash is fetched again (DOWNLOAD_ATTEMPTS in all) before the job is released.
Ground truth zips are kept by hash in ``GroundTruthCache`` under this worker's RAIM_DATA_DIR
(the only things it keeps there: that cache, the DISTS feature cache, and the upload of the
job in progress under ``work/PID``, deleted when the job ends, or at the next start when the
process was killed).

Talking to the service: a connection error, a 502/503/504 or a 507 is retried with growing
pauses for a bounded time (longer for results, which are costly to lose); 401 and 403 mean the
token is refused (``WorkerRefused``: the process stops); 409 means the lease is lost.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import requests

from app.config import Settings
from app.evaluation import Evaluation
from app.jobs.store import Job, LeaseLost, Outcome, StoreUnavailable, WorkerRefused
from metrics.disk_budget import disk_budget
from metrics.registry import METRIC_NAMES
from scoring.formula import formula_from_config

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 120  # a claim may build the ground truth's zip first
DOWNLOAD_ATTEMPTS = 3
CHUNK = 1024 * 1024
RETRYABLE = frozenset({502, 503, 504, 507})
PATIENCE_SECONDS = 60  # how long a request is retried while the service is away
RESULTS_PATIENCE_SECONDS = 600
FREE_SHARE = 0.5  # the ground-truth cache never takes more than half the free disk


class ServiceError(RuntimeError):
    """The service refused a request for a reason a retry does not change (its detail)."""

    def __init__(self, status: int, detail: str):
        super().__init__(f"{status}: {detail}")
        self.status = status


class ServiceUnavailable(StoreUnavailable):
    """The service did not answer (or answered 5xx) for as long as the request was retried."""


class WrongHash(RuntimeError):
    """A download did not have the sha256 the claim announced, DOWNLOAD_ATTEMPTS times."""


class WorkerApi:
    """The worker API over HTTP: one keep-alive session, the token on every request."""

    def __init__(self, base_url: str, token: str):
        self.base_url = base_url.rstrip("/")
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: dict | None = None, *,
             patience: float = PATIENCE_SECONDS) -> dict:
        """The JSON answer of one request, retried while the service is away (module notes)."""
        deadline, pause = time.monotonic() + patience, 1.0
        while True:
            try:
                answer = self.http.request(method, self.base_url + path, json=body,
                                           timeout=(CONNECT_TIMEOUT_SECONDS,
                                                    READ_TIMEOUT_SECONDS))
            except requests.RequestException as exc:
                problem: str = f"{type(exc).__name__}: {exc}"
            else:
                if answer.status_code < 400:
                    return answer.json()
                problem = f"{answer.status_code}: {_detail(answer)}"
                if answer.status_code not in RETRYABLE:
                    raise _refusal(answer)
            if time.monotonic() + pause > deadline:
                raise ServiceUnavailable(f"{method} {path}: the service did not answer for "
                                         f"{int(patience)} s ({problem})")
            log.warning("%s %s: %s; trying again in %.0f s", method, path, problem, pause)
            time.sleep(pause)
            pause = min(pause * 2, 15.0)

    def download(self, path: str, dest: Path, sha256: str) -> None:
        """Stream ``path`` into ``dest``; raise WrongHash when its sha256 is not ``sha256``."""
        digest = hashlib.sha256()
        try:
            with self.http.get(self.base_url + path, stream=True,
                               timeout=(CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)) as answer:
                if answer.status_code >= 400:
                    raise _refusal(answer)
                with dest.open("wb") as out:
                    for chunk in answer.iter_content(CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
        except requests.RequestException as exc:
            raise ServiceUnavailable(f"GET {path}: {type(exc).__name__}: {exc}") from exc
        if digest.hexdigest() != sha256:
            raise WrongHash(f"{path}: sha256 {digest.hexdigest()}, expected {sha256}")


def _detail(answer: requests.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:300]
    problems = "; ".join(f"{p.get('file')}: {p.get('message')}"
                         for p in body.get("problems") or [])
    return str(body.get("detail", "")) + (f" ({problems})" if problems else "")


def _refusal(answer: requests.Response) -> Exception:
    detail = _detail(answer)
    if answer.status_code in (401, 403):
        return WorkerRefused(f"the service refused this worker ({answer.status_code}): "
                             f"{detail}")
    if answer.status_code == 409:
        return LeaseLost(detail)
    return ServiceError(answer.status_code, detail)


def fetch_verified(fetch: Callable[[Path], None], dest: Path, what: str) -> None:
    """Run ``fetch(dest)`` until it passes its hash check, DOWNLOAD_ATTEMPTS times at most."""
    for attempt in range(1, DOWNLOAD_ATTEMPTS + 1):
        try:
            fetch(dest)
            return
        except WrongHash as exc:
            dest.unlink(missing_ok=True)
            log.warning("%s: wrong hash (download %d of %d): %s", what, attempt,
                        DOWNLOAD_ATTEMPTS, exc)
            if attempt == DOWNLOAD_ATTEMPTS:
                raise WrongHash(f"{what}: the sha256 was wrong {DOWNLOAD_ATTEMPTS} times; "
                                f"last: {exc}") from None


class GroundTruthCache:
    """Ground truth zips by sha256 under ``root``: written whole (to a temporary name, then
    renamed), used in place, least recently used ones removed once the cache is over its
    budget, the smaller of ``max_bytes`` and half of the free disk (the newest entry is always
    kept: it is the one in use)."""

    def __init__(self, root: Path, max_bytes: int):
        self.root = root
        self.max_bytes = max_bytes
        self.hits = self.misses = 0

    def get(self, sha256: str, fetch: Callable[[Path], None]) -> Path:
        """The zip with this hash, fetched (``fetch(partial_path)``, which checks the hash)
        on a miss."""
        target = self.root / f"{sha256}.zip"
        if target.is_file():
            self.hits += 1
            os.utime(target)  # recently used
            return target
        self.misses += 1
        self.root.mkdir(parents=True, exist_ok=True)
        partial = self.root / f".{sha256}.{secrets.token_hex(6)}.part"
        try:
            fetch(partial)
            os.replace(partial, target)
        finally:
            partial.unlink(missing_ok=True)
        self.evict(keep=target)
        return target

    def entries(self) -> list[Path]:
        return sorted(self.root.glob("*.zip"), key=lambda p: p.stat().st_mtime) \
            if self.root.is_dir() else []

    def budget(self, used: int) -> int:
        return disk_budget(self.root, cap=self.max_bytes, share=FREE_SHARE, used=used)

    def evict(self, keep: Path) -> None:
        entries = self.entries()
        used = sum(p.stat().st_size for p in entries)
        budget = self.budget(used)
        for path in entries:
            if used <= budget:
                break
            if path != keep:
                used -= path.stat().st_size
                path.unlink(missing_ok=True)

    def stats(self) -> dict[str, int]:
        entries = self.entries()
        return {"hits": self.hits, "misses": self.misses, "entries": len(entries),
                "bytes": sum(p.stat().st_size for p in entries)}


def clear_leftovers(work: Path) -> None:
    """Remove the job folders of worker processes that are gone (killed in the middle of a
    job, their upload was never deleted); each live process keeps its own ``work/PID``."""
    import psutil

    if not work.is_dir():
        return
    for folder in work.iterdir():
        if not (folder.name.isdigit() and psutil.pid_exists(int(folder.name))):
            shutil.rmtree(folder, ignore_errors=True)


class HttpStore:
    """The job store of a remote worker (see the module notes)."""

    kind = "remote"

    def __init__(self, settings: Settings, api: WorkerApi | None = None):
        if not settings.service_url or not settings.worker_token:
            raise ValueError("a remote worker needs RAIM_SERVICE_URL and RAIM_WORKER_TOKEN")
        self.settings = settings
        self.api = api or WorkerApi(settings.service_url, settings.worker_token)
        self.name = ""
        self.heartbeat_seconds = 30.0
        self.ground_truth = GroundTruthCache(settings.data_dir / "ground-truth",
                                             settings.worker_cache_bytes)
        self.work_dir = settings.data_dir / "work" / str(os.getpid())
        clear_leftovers(settings.data_dir / "work")

    def hello(self, version: str, device: str) -> None:
        from app.jobs.presence import this_host

        host, pid = this_host()
        answer = self.api.call("POST", "/api/worker/hello",
                               {"host": host, "pid": pid, "version": version, "device": device})
        self.name = answer["worker"]
        self.heartbeat_seconds = float(answer["heartbeat_seconds"])

    def _beat_body(self, caches: dict[str, dict] | None = None) -> dict:
        body: dict[str, Any] = {"worker": self.name,
                                "ground_truth_cache": self.ground_truth.stats()}
        if caches and caches.get("features") is not None:
            body["cache"] = caches["features"]
        return body

    def alive(self, caches: dict[str, dict]) -> None:
        self.api.call("POST", "/api/worker/heartbeat", self._beat_body(caches))

    def goodbye(self) -> None:
        self.api.call("POST", "/api/worker/goodbye", {"worker": self.name}, patience=5)

    def claim(self) -> Job | None:
        described = self.api.call("POST", "/api/worker/claim", {"worker": self.name})["job"]
        if described is None:
            return None
        return Job(submission_id=described["submission_id"], worker=self.name,
                   formula=formula_from_config(described["formula"]),
                   paired=described["paired"], image_count=described["image_count"],
                   sources=described)

    def _upload_path(self, job: Job) -> Path:
        return self.work_dir / f"submission-{job.submission_id}.zip"

    def fetch(self, job: Job) -> Job:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        upload = job.sources["upload"]
        upload_path = self._upload_path(job)
        fetch_verified(lambda dest: self.api.download(upload["url"], dest, upload["sha256"]),
                       upload_path, f"the upload of submission {job.submission_id}")
        gt = job.sources.get("ground_truth")
        gt_path = None
        if gt is not None:
            gt_path = self.ground_truth.get(gt["sha256"], lambda dest: fetch_verified(
                lambda part: self.api.download(gt["url"], part, gt["sha256"]), dest,
                f"the ground truth of submission {job.submission_id}"))
        return replace(job, upload=upload_path, ground_truth=gt_path)

    def heartbeat(self, job: Job, done: int | None = None) -> bool:
        body = self._beat_body()
        body["done"] = done
        try:
            self.api.call("POST", f"/api/worker/jobs/{job.submission_id}/progress", body,
                          patience=self.heartbeat_seconds)
        except LeaseLost:
            return False
        return True

    def store(self, job: Job, evaluation: Evaluation | None) -> bool:
        images = [] if evaluation is None else [
            {key: row[key] for key in ("name", *METRIC_NAMES, "resized_from") if key in row}
            for row in evaluation.report.images]
        body = {"worker": self.name, "images": images,
                "versions": {} if evaluation is None else evaluation.versions,
                "notes": [] if evaluation is None else evaluation.notes}
        try:
            self.api.call("POST", f"/api/worker/jobs/{job.submission_id}/results", body,
                          patience=RESULTS_PATIENCE_SECONDS)
        except LeaseLost:
            return False
        return True

    def _end(self, job: Job, message: str, retry: bool) -> str | None:
        try:
            return self.api.call("POST", f"/api/worker/jobs/{job.submission_id}/fail",
                                 {"worker": self.name, "message": message[:4000],
                                  "retry": retry})["status"]
        except LeaseLost:
            return None

    def fail(self, job: Job, message: str) -> None:
        self._end(job, message, retry=False)

    def release(self, job: Job, reason: str) -> Outcome:
        status = self._end(job, reason, retry=True)
        return {"queued": Outcome.RETRY, "failed": Outcome.FAILED}.get(status or "",
                                                                      Outcome.SKIPPED)

    def finish(self, job: Job) -> None:
        self._upload_path(job).unlink(missing_ok=True)
