"""Throughput of the whole service on loopback: uploads through Redis to remote workers and back.

What it does, all on 127.0.0.1:
1. loads a one-phase challenge bundle of real photographs (M ground-truth images of SIZE x SIZE),
   adds T teams, an organiser and one worker token per worker;
2. starts `raim serve` with Celery on the local Redis (database --redis-db, a queue of its own);
3. for each worker count (default 1, then 2): starts that many remote `raim worker` processes,
   each with only the broker, the service's URL, a worker token and a data folder of its own;
   waits until they are live and warm (one submission each scored: models loaded, ground truth
   downloaded), then uploads N submissions of M pairs through POST /score, round-robin over the
   teams, and waits until all are scored;
4. reads each submission's times back (created, started, finished) and prints a table:
   submissions per hour (N over the time from the first upload to the last result), and the
   queue wait (started - created) at the 50th and 95th percentiles; then stops the workers.
The last line is `service: W1 workers X subs/h, W2 workers Y subs/h (ratio R)`.

    .venv/bin/python bench/service_bench.py [--submissions 12] [--pairs 4] [--size 256]
        [--workers 1 2] [--teams 3] [--redis-db 11]

Scoring runs on the CPU unless RAIM_DEVICE says otherwise; on a machine with fewer cores than
workers x 2 threads, a second worker mostly shares the same cores (say the load beside the table).
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx
from harness import RAIM, ROOT, free_port, run_cli


def last_word(text: str) -> str:
    return text.strip().splitlines()[-1].split()[-1]


def write_bundle(root: Path, pairs: int, size: int) -> Path:
    """A one-phase bundle; returns the folder of restored images to upload."""
    from metrics.samples import write_sample_set

    samples = write_sample_set(root / "bundle" / "validation", count=pairs, size=size, seed=7)
    (root / "bundle" / "challenge.yaml").write_text(
        "slug: bench\ntitle: Service benchmark\nphases:\n"
        "  - slug: validation\n    kind: paired\n    inputs: validation/lq\n"
        "    ground_truth: validation/gt\n    leaderboard: public\n    rank_by: best\n")
    return samples.pred


def zip_folder(folder: Path, out: Path) -> bytes:
    import zipfile

    with zipfile.ZipFile(out, "w") as archive:
        for file in sorted(folder.iterdir()):
            archive.write(file, file.name)
    return out.read_bytes()


def wait(what: str, check, limit: float, processes: list[subprocess.Popen]) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if check():
            return
        for process in processes:
            if process.poll() is not None:
                sys.exit(f"a process exited ({process.returncode}) while waiting for {what}; "
                         f"see the logs under {Path(process.args[-1]).parent}")
        time.sleep(0.25)
    sys.exit(f"gave up waiting for {what} after {limit:.0f} s")


def times(db: Path, ids: list[int]) -> list[tuple[datetime, datetime, datetime, str]]:
    """(created, started, finished, status) of each submission, read from the service's SQLite."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            f"SELECT created_at, started_at, finished_at, status FROM submissions "
            f"WHERE id IN ({','.join('?' * len(ids))})", ids).fetchall()
    return [(datetime.fromisoformat(c), datetime.fromisoformat(s), datetime.fromisoformat(f), st)
            for c, s, f, st in rows]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


class Service:
    def __init__(self, args: argparse.Namespace, tmp: Path):
        self.tmp = tmp
        self.queue = f"raim.bench-{uuid.uuid4().hex[:10]}"
        self.broker = f"redis://127.0.0.1:6379/{args.redis_db}"
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("RAIM_")},
                    "RAIM_DATA_DIR": str(tmp / "service"), "RAIM_BROKER_URL": self.broker,
                    "RAIM_QUEUE_NAME": self.queue, "RAIM_SECRET_KEY": "bench-secret-key-0123456789abcdef",
                    "RAIM_WEIGHTS_DIR": os.environ.get("RAIM_WEIGHTS_DIR",
                                                       str(Path.home() / ".cache/raim-arena/weights"))}
        if "RAIM_DEVICE" in os.environ:
            self.env["RAIM_DEVICE"] = os.environ["RAIM_DEVICE"]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        log = (self.tmp / "serve.log").open("ab")
        self.process = subprocess.Popen([RAIM, "serve", "--port", str(self.port)], env=self.env,
                                        stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)

        def answers() -> bool:
            try:
                return httpx.get(self.url + "/", timeout=2).status_code < 500
            except httpx.TransportError:
                return False

        wait("raim serve", answers, 120, [self.process])

    def worker(self, token: str, index: int) -> subprocess.Popen:
        env = {k: v for k, v in self.env.items() if k not in ("RAIM_DATA_DIR", "RAIM_SECRET_KEY")}
        env.update(RAIM_SERVICE_URL=self.url, RAIM_WORKER_TOKEN=token,
                   RAIM_DATA_DIR=str(self.tmp / f"worker-{index}"))
        log = (self.tmp / f"worker-{index}.log").open("ab")
        return subprocess.Popen([RAIM, "worker", "--loglevel", "WARNING"], env=env, stdout=log,
                                stderr=subprocess.STDOUT, cwd=ROOT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=60)


def run(service: Service, args: argparse.Namespace, count: int, tokens: dict[str, list[str]],
        payload: bytes) -> dict:
    """One configuration: ``count`` workers, warm-up, then N timed submissions."""
    client = httpx.Client(timeout=120)
    organiser = {"Authorization": f"Bearer {tokens['organiser'][0]}"}
    workers = [service.worker(tokens["workers"][i], i) for i in range(count)]
    everyone = [service.process, *workers]

    def upload(team: int) -> int:
        answer = client.post(f"{service.url}/score", files={"file": ("r.zip", payload)},
                             headers={"Authorization": f"Bearer {tokens['teams'][team]}"})
        if answer.status_code != 202:
            sys.exit(f"upload answered {answer.status_code}: {answer.text[:300]}")
        return answer.json()["id"]

    def all_scored(ids: list[int]) -> bool:
        board = client.get(f"{service.url}/api/organiser/queue", headers=organiser).json()
        if board["failed"]:
            sys.exit(f"a submission failed; see {service.tmp}")
        return board["waiting"] == 0 and board["running"] == 0

    try:
        wait(f"{count} live worker(s)", lambda: client.get(
            f"{service.url}/api/organiser/queue", headers=organiser).json()["live_workers"]
            >= count, 300, everyone)
        warm = [upload(i % args.teams) for i in range(count)]
        wait("the warm-up", lambda: all_scored(warm), 600, everyone)
        start = time.time()
        ids = [upload(i % args.teams) for i in range(args.submissions)]
        uploaded = time.time() - start
        wait("the timed submissions", lambda: all_scored(ids), 3600, everyone)
    finally:
        for process in workers:
            process.send_signal(signal.SIGTERM)
        for process in workers:
            try:
                process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
    rows = times(service.tmp / "service" / "raim.db", ids)
    if {row[3] for row in rows} != {"scored"}:
        sys.exit("not every submission was scored")
    first = min(row[0] for row in rows)
    last = max(row[2] for row in rows)
    wall = (last - first).total_seconds()
    waits = [(started - created).total_seconds() for created, started, _, _ in rows]
    scoring = [(finished - started).total_seconds() for _, started, finished, _ in rows]
    return {"workers": count, "n": len(rows), "wall": wall, "per_hour": len(rows) / wall * 3600,
            "p50": percentile(waits, 0.5), "p95": percentile(waits, 0.95),
            "scoring": sum(scoring) / len(scoring), "uploaded": uploaded}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--submissions", type=int, default=12, help="N, timed per configuration")
    parser.add_argument("--pairs", type=int, default=4, help="M, image pairs per submission")
    parser.add_argument("--size", type=int, default=256, help="side of each image")
    parser.add_argument("--teams", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--redis-db", type=int, default=11)
    args = parser.parse_args()

    import redis

    store = redis.Redis.from_url(f"redis://127.0.0.1:6379/{args.redis_db}")
    store.ping()
    store.flushdb()
    tmp = Path(tempfile.mkdtemp(prefix="raim-service-bench-"))
    service = Service(args, tmp)
    pred = write_bundle(tmp, args.pairs, args.size)
    payload = zip_folder(pred, tmp / "results.zip")
    run_cli(service.env, "challenge", "load", str(tmp / "bundle"))
    tokens = {
        "teams": [last_word(run_cli(service.env, "team", "add", f"team-{i}", "--challenge",
                                    "bench")) for i in range(args.teams)],
        "organiser": [last_word(run_cli(service.env, "organiser", "add",
                                        "bench@example.org"))],
        "workers": [last_word(run_cli(service.env, "worker", "token", "add", f"bench-{i}"))
                    for i in range(max(args.workers))],
    }
    load_before = os.getloadavg()
    service.start()
    results = []
    try:
        for count in args.workers:
            results.append(run(service, args, count, tokens, payload))
    finally:
        service.stop()
        store.flushdb()
    load_after = os.getloadavg()

    print(f"\n{args.submissions} submissions of {args.pairs} pairs of {args.size}x{args.size}, "
          f"{args.teams} teams, Redis queue, loopback; {os.cpu_count()} CPUs, load average "
          f"{load_before[0]:.1f} before, {load_after[0]:.1f} after; logs in {tmp}\n")
    print("| workers | submissions | wall s | submissions/hour | queue wait p50 s | "
          "queue wait p95 s | scoring s/submission |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        print(f"| {r['workers']} | {r['n']} | {r['wall']:.1f} | {r['per_hour']:.0f} | "
              f"{r['p50']:.1f} | {r['p95']:.1f} | {r['scoring']:.1f} |")
    summary = ", ".join(f"{r['workers']} worker(s) {r['per_hour']:.0f} subs/h" for r in results)
    if len(results) >= 2:
        summary += f" (ratio {results[-1]['per_hour'] / results[0]['per_hour']:.2f})"
    print(f"\nservice: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
