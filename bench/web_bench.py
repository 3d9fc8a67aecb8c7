"""Load benchmark of the web process on loopback: latency with 10,000 stored submissions, upload RSS.

What it does, all against a real `raim serve` subprocess on 127.0.0.1:
1. loads a one-phase challenge bundle made from real photographs, adds teams with tokens;
2. stores N scored submissions (default 10,000) with per-image results straight into the
   database, then `raim db rebuild-leaderboards` (as after any import that bypasses the service);
3. streams a 1 GB upload to POST /score and samples the server's RSS every 20 ms (before any
   scoring, whose memory would count as the upload's);
4. submits real scorable zips (--jobs) so that the embedded worker is scoring in the same
   process, then times GET /api/submissions/{id} and the leaderboard API (sequential
   keep-alive requests, the team's token), reporting p50/p95/p99 and how many of the timed
   requests overlapped scoring (from the jobs' started/finished times).
Prints a table; the last line is `web p95 X ms (status), Y ms (leaderboard); upload RSS +Z MB`.
Exits non-zero when a target is missed (p95 >= 50 ms, RSS growth >= 100 MB), or when fewer
than 90 % of the timed requests overlapped scoring (then it did not measure the web under load).

    .venv/bin/python bench/web_bench.py [--submissions 10000] [--requests 400] [--upload-mb 1024]
        [--jobs 3] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil
from harness import RAIM, free_port, run_cli


def write_bundle(root: Path, image_size: int) -> Path:
    from metrics.samples import write_sample_set

    samples = write_sample_set(root / "bundle" / "validation", count=4, size=image_size, seed=5)
    (root / "bundle" / "challenge.yaml").write_text(
        "slug: bench\n"
        "title: Web benchmark\n"
        "phases:\n"
        "  - slug: validation\n"
        "    kind: paired\n"
        "    inputs: validation/lq\n"
        "    ground_truth: validation/gt\n"
        "    leaderboard: public\n"
        "    rank_by: best\n"
    )
    return samples.pred


def seed_submissions(env: dict, count: int, teams: int) -> dict[str, int]:
    """Insert `count` scored submissions with three image rows each, straight into the database."""
    os.environ.update(env)
    from app.config import get_settings

    get_settings.cache_clear()
    from sqlalchemy import insert, select

    from app.db import session_scope
    from app.models import ImageResult, Phase, Submission, Team, utcnow

    rng = random.Random(0)
    with session_scope() as session:
        phase = session.scalars(select(Phase).where(Phase.slug == "validation")).one()
        team_ids = list(session.scalars(select(Team.id)))[:teams]
        rows = []
        for i in range(count):
            score = rng.uniform(20, 80)
            mean = {
                "psnr": 28.0,
                "ssim": 0.8,
                "lpips": 0.2,
                "dists": 0.15,
                "niqe": 6.0,
                "score": score,
            }
            rows.append(
                dict(
                    phase_id=phase.id,
                    team_id=team_ids[i % len(team_ids)],
                    status="scored",
                    created_at=utcnow(),
                    started_at=utcnow(),
                    finished_at=utcnow(),
                    upload_path=f"bench/{i}.zip",
                    upload_bytes=1,
                    upload_sha256="0" * 64,
                    original_filename="results.zip",
                    image_count=3,
                    attempts=1,
                    score=score,
                    mean=mean,
                    versions={},
                    notes=[],
                )
            )
        session.execute(insert(Submission), rows)
        ids = list(session.scalars(select(Submission.id).order_by(Submission.id)))
        images = [
            dict(
                submission_id=sid,
                name=f"{k:03d}",
                psnr=28.0,
                ssim=0.8,
                lpips=0.2,
                dists=0.15,
                niqe=6.0,
                score=60.0,
            )
            for sid in ids
            for k in range(1, 4)
        ]
        session.execute(insert(ImageResult), images)
        first_team = team_ids[0]
        own = list(session.scalars(select(Submission.id).where(Submission.team_id == first_team)))
    return {"own_ids": own}


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def spread(samples: list[float]) -> str:
    return " / ".join(f"{percentile(samples, q):.1f}" for q in (0.5, 0.95, 0.99))


def timed_gets(client: httpx.Client, urls: list[str], headers: dict,
               starts: list[datetime] | None = None) -> list[float]:
    """Milliseconds per GET; each request's wall-clock start is appended to ``starts``."""
    out = []
    for url in urls:
        if starts is not None:
            starts.append(datetime.now(UTC))
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        out.append((time.perf_counter() - start) * 1000)
        if response.status_code != 200:
            sys.exit(f"GET {url} answered {response.status_code}: {response.text[:200]}")
    return out


def scoring_spans(job_ids: list[int]) -> list[tuple[datetime, datetime]]:
    """When each job was being scored (one still scoring: until now), from the database."""
    from sqlalchemy import select

    from app.db import session_scope
    from app.models import Submission

    now = datetime.now(UTC)
    with session_scope() as session:
        rows = session.execute(select(Submission.started_at, Submission.finished_at)
                               .where(Submission.id.in_(job_ids))).all()
    return [(started, finished or now) for started, finished in rows if started is not None]


def overlapping(starts: list[datetime], spans: list[tuple[datetime, datetime]]) -> int:
    return sum(1 for t in starts if any(a <= t <= b for a, b in spans))


def big_zip(path: Path, megabytes: int) -> None:
    """A zip of stored 8 MB members (not images): the server must stream it, then reject it."""
    block = os.urandom(8 * 1024 * 1024)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for i in range(max(1, megabytes // 8)):
            zf.writestr(f"{i:04d}.png", block)


class RssSampler(threading.Thread):
    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = self.process.memory_info().rss
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--submissions", type=int, default=10_000)
    parser.add_argument("--teams", type=int, default=20)
    parser.add_argument("--requests", type=int, default=400, help="requests per endpoint")
    parser.add_argument("--upload-mb", type=int, default=1024)
    parser.add_argument(
        "--image-size", type=int, default=512, help="side of the scoring job's images"
    )
    parser.add_argument("--jobs", type=int, default=3,
                        help="scoring jobs queued before the timed requests (one at a time)")
    parser.add_argument("--database-url", help="default: SQLite in a temporary data dir")
    args = parser.parse_args()

    load_before = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="raim-web-bench-"))
    env = {**os.environ, "RAIM_DATA_DIR": str(tmp / "data"),
           "RAIM_SECRET_KEY": "bench-secret-key-not-for-production-use",
           "RAIM_SHUTDOWN_GRACE_SECONDS": "5",  # jobs still queued at the end are not awaited
           # Idle, the embedded worker would load its models to warm the DISTS cache while
           # the upload is measured: like scoring, that memory would count as the upload's.
           "RAIM_DISTS_CACHE_WARM": "false"}
    env.pop("RAIM_BROKER_URL", None)
    if args.database_url:
        env["RAIM_DATABASE_URL"] = args.database_url
    pred = write_bundle(tmp, args.image_size)
    run_cli(env, "challenge", "load", str(tmp / "bundle"))
    tokens = [
        run_cli(env, "team", "add", f"team-{i:02d}", "--challenge", "bench").split()[-1]
        for i in range(args.teams)
    ]
    t0 = time.perf_counter()
    seeded = seed_submissions(env, args.submissions, args.teams)
    run_cli(env, "db", "rebuild-leaderboards")
    seed_seconds = time.perf_counter() - t0

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [RAIM, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        with httpx.Client(base_url=base, timeout=600) as client:
            for _ in range(600):
                try:
                    if client.get("/").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            else:
                sys.exit("server did not come up")
            auth = {"Authorization": f"Bearer {tokens[0]}"}
            board_url = "/api/challenges/bench/phases/validation/leaderboard"
            lines = len(client.get(board_url).json()["rows"])
            if lines != args.teams:
                sys.exit(f"the leaderboard has {lines} rows, not one per team ({args.teams})")
            # The upload first, while nothing else moves the server's RSS (a scoring job would).
            upload = tmp / "big.zip"
            big_zip(upload, args.upload_mb)
            upload_mb = upload.stat().st_size / 2**20
            sampler = RssSampler(server.pid)
            baseline = sampler.peak
            sampler.start()
            started = time.perf_counter()
            with upload.open("rb") as handle:
                answer = client.post("/score", headers=auth, files={"file": ("big.zip", handle)})
            upload_seconds = time.perf_counter() - started
            sampler.stop.set()
            sampler.join()
            growth_mb = (sampler.peak - baseline) / 2**20
            upload.unlink()
            # Real scoring jobs in the same process while we measure.
            job = tmp / "job.zip"
            with zipfile.ZipFile(job, "w") as zf:
                for f in sorted(pred.iterdir()):
                    zf.write(f, f.name)
            job_ids = []
            for _ in range(args.jobs):
                with job.open("rb") as handle:
                    accepted = client.post("/score", headers=auth,
                                           files={"file": ("job.zip", handle)})
                if accepted.status_code != 202:
                    sys.exit(f"scoring job refused: {accepted.status_code} {accepted.text[:300]}")
                job_ids.append(accepted.json()["id"])
            rng = random.Random(1)
            status_urls = [
                f"/api/submissions/{rng.choice(seeded['own_ids'])}" for _ in range(args.requests)
            ]
            board_urls = [board_url] * args.requests
            for _ in range(600 if job_ids else 0):  # the worker has taken the first job
                if client.get(f"/api/submissions/{job_ids[0]}", headers=auth).json()["status"] \
                        != "queued":
                    break
                time.sleep(0.1)
            timed_gets(client, status_urls[:20], auth)  # warm-up
            status_starts: list[datetime] = []
            board_starts: list[datetime] = []
            status_ms = timed_gets(client, status_urls, auth, status_starts)
            board_ms = timed_gets(client, board_urls, auth, board_starts)
            spans = scoring_spans(job_ids)
            status_busy = overlapping(status_starts, spans)
            board_busy = overlapping(board_starts, spans)
            states = [client.get(f"/api/submissions/{i}", headers=auth).json()["status"]
                      for i in job_ids]
            job_state = ", ".join(f"{states.count(s)} {s}" for s in sorted(set(states)))
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        shutil.rmtree(tmp, ignore_errors=True)  # the database, the jobs and a 1 GB zip

    print(f"{'measure':<44}{'value':>14}")
    print("-" * 58)
    rows = [
        ("stored submissions (seeded in)", f"{args.submissions} ({seed_seconds:.1f} s)"),
        ("status GET p50 / p95 / p99 (ms)", spread(status_ms)),
        ("leaderboard GET p50 / p95 / p99 (ms)", spread(board_ms)),
        ("timed while scoring: status / leaderboard", f"{status_busy} / {board_busy}"),
        ("scoring jobs after the timed requests", job_state),
        (f"upload of {upload_mb:.0f} MB: answer", f"{answer.status_code}"),
        ("upload time (s)", f"{upload_seconds:.1f}"),
        ("server RSS before upload (MB)", f"{baseline / 2**20:.0f}"),
        ("server RSS growth during upload (MB)", f"{growth_mb:.1f}"),
        ("load average 1 min: at start / at end", f"{load_before[0]:.1f} / {os.getloadavg()[0]:.1f}"),
        ("CPU cores", str(os.cpu_count())),
    ]
    for name, value in rows:
        print(f"{name:<44}{value:>14}")
    status_p95, board_p95 = percentile(status_ms, 0.95), percentile(board_ms, 0.95)
    print(
        f"web p95 {status_p95:.1f} ms (status), {board_p95:.1f} ms (leaderboard); "
        f"upload RSS +{growth_mb:.1f} MB"
    )
    loaded = min(status_busy, board_busy) >= 0.9 * args.requests
    if not loaded:
        print("fewer than 90 % of the timed requests overlapped scoring: not a measurement "
              "under load (queue more --jobs)")
    return 0 if loaded and status_p95 < 50 and board_p95 < 50 and growth_mb < 100 else 1


if __name__ == "__main__":
    sys.exit(main())
