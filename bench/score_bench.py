"""Scoring benchmark: the reference loop against metrics.pipeline.FastScorer, same pairs, same run.

    .venv/bin/python bench/score_bench.py --quick                 # 8 pairs of 512x512
    .venv/bin/python bench/score_bench.py                         # 100 pairs of 1024x1024
    .venv/bin/python bench/score_bench.py --gt-cache-bytes 12e9   # + the ground-truth cache

The pairs are tiles of scikit-image's photographs, degraded and restored by
metrics.samples. Each engine is a subprocess of its own (so that peak RSS is its own)
that loads its models once, then scores the pairs it is sent:

- reference: decode a pair, ``MetricSuite.score``, next pair (the organisers' loop, with
  the exact luma planes of docs/fidelity.md: the numbers every worker must give);
- fast: the same pairs streamed through ``FastScorer.score_pairs``, no cache (what a
  phase's first submission costs);
- "fast (default cache)": the ground-truth feature cache as a worker has it by default
  (``RAIM_DISTS_CACHE_*``: stages 3-5, 20 GiB or 10 % of the free disk, filled on first
  use), the phase's first submission; then "..., 2nd submission": the same pairs again
  through the same scorer (every ground truth cached). Its disk use is printed;
- with a cache budget, "fast (cache warm)": a third engine whose ground-truth feature
  cache is filled first (``FastScorer.fill_gt_cache``, untimed, as when a phase's data
  is uploaded), then the same pairs (what every later submission costs).

- plain pyiqa (``metrics.plain_pyiqa``): the organisers' script as they ran it, with
  pyiqa's own float32 colour conversion; timed too, but only its differences from the
  reference are reported (how far plain pyiqa is from the exact numbers on this machine's
  BLAS path), never checked: they move with the CPU.

Peak RSS of each engine is printed after 10, 50 and 100 pairs (``--rss-at``; the
last count always). ``--no-pyiqa`` leaves out the plain pyiqa yardstick.

The machine may be shared, so the engines take turns on chunks of pairs (the reference
first in one round, last in the next) and each sees the same background load on
average; seconds are the sum of each engine's own chunks. Every metric of every image of
the fast engines is checked against the reference (1e-9 for PSNR, SSIM, NIQE; 1e-6 for
the networks): the exit status is 1 when any differs. The last line is always
``speedup X.XXx over N images, max difference D`` for the last fast engine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TOLERANCE = {"psnr": 1e-9, "ssim": 1e-9, "lpips": 1e-6, "dists": 1e-6, "niqe": 1e-9}
METRICS = tuple(TOLERANCE)
REPLY = "@@ "  # prefix of the worker's protocol lines on stdout


# --- inside a worker subprocess ----------------------------------------------------------


class Stopwatch:
    """Seconds spent inside wrapped callables, per label (calls may come from several threads)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def wrap(self, label: str, func: Callable) -> Callable:
        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - start

        return timed

    def wrap_named(self, func: Callable) -> Callable:
        """Time ``func(name, ...)`` under the label ``name`` (``MetricSuite.metric``)."""

        def timed(name, *args, **kwargs):
            return self.wrap(name, func)(name, *args, **kwargs)

        return timed


class Timed:
    """A callable object timed by a Stopwatch; its other attributes pass through."""

    def __init__(self, target, watch: Stopwatch, label: str):
        self._target = target
        self._timed = watch.wrap(label, target)

    def __call__(self, *args, **kwargs):
        return self._timed(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self._target, name)


def _reference_engine(args: argparse.Namespace, watch: Stopwatch, load: Callable):
    from metrics.engine import MetricSuite

    suite = MetricSuite(args.weights_dir, device=args.device)
    suite.metric = watch.wrap_named(suite.metric)  # time each metric without touching the loop

    def score(files: list[tuple[str, Path, Path]]) -> dict:
        return {name: suite.score(load(pred), load(gt)) for name, pred, gt in files}

    return score, None


def _pyiqa_engine(args: argparse.Namespace, watch: Stopwatch, load: Callable):
    from metrics.plain_pyiqa import plain_pyiqa

    plain = watch.wrap("pyiqa", plain_pyiqa(args.weights_dir, device=args.device))

    def score(files: list[tuple[str, Path, Path]]) -> dict:
        return {name: plain(load(pred), load(gt)) for name, pred, gt in files}

    return score, None


def _fast_engine(args: argparse.Namespace, watch: Stopwatch, load: Callable):
    from metrics import fast_ssim
    from metrics.pipeline import FastScorer

    if args.default_cache:
        from app.config import Settings
        from app.evaluation import build_scorer

        scorer = build_scorer(
            Settings(weights_dir=args.weights_dir, dists_cache_dir=Path(args.cache_dir)),
            device=args.device,
        )
    else:
        scorer = FastScorer(
            args.weights_dir,
            device=args.device,
            gt_cache_dir=Path(args.cache_dir) if args.cache_dir else None,
            gt_cache_max_bytes=int(args.gt_cache_bytes),
            gt_cache_from_stage=args.gt_cache_from_stage,
        )
    scorer.suite.metric = watch.wrap_named(scorer.suite.metric)  # psnr, lpips, niqe
    scorer._dists = Timed(scorer._dists, watch, "dists")
    fast_ssim.ssim_y = watch.wrap("ssim", fast_ssim.ssim_y)

    def score(files: list[tuple[str, Path, Path]]) -> dict:
        sources = [(n, lambda p=p: load(p), lambda g=g: load(g)) for n, p, g in files]
        return dict(scorer.score_pairs(sources))

    return score, scorer


def _peak_rss_mb() -> float:
    """This process's peak RSS: VmHWM, which starts afresh at exec (``ru_maxrss`` keeps the
    peak of the parent that forked it: the one that built the sample set)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reply(payload: dict) -> None:
    sys.stdout.write(REPLY + json.dumps(payload) + "\n")
    sys.stdout.flush()


def worker(args: argparse.Namespace) -> int:
    """Load one engine, then score each JSON list of names read from stdin, until EOF."""
    from metrics.images import decode

    watch = Stopwatch()
    load = watch.wrap("decode", lambda path: decode(path.read_bytes(), path.name))
    build = {"reference": _reference_engine, "fast": _fast_engine, "pyiqa": _pyiqa_engine}[
        args.worker
    ]
    score, scorer = build(args, watch, load)
    _reply({"ready": True})
    for line in sys.stdin:
        names = json.loads(line)
        if isinstance(names, dict):  # {"fill": [names]}: the ground-truth cache, untimed
            gts = [lambda n=n: load(args.set / "gt" / f"{n}.png") for n in names["fill"]]
            _reply({"stored": scorer.fill_gt_cache(gts)})
            watch.seconds.clear()
            continue
        files = [(n, args.set / "pred" / f"{n}.png", args.set / "gt" / f"{n}.png") for n in names]
        before = dict(watch.seconds)
        start, cpu = time.perf_counter(), time.process_time()
        values = score(files)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        per_metric = {k: v - before.get(k, 0.0) for k, v in watch.seconds.items()}
        _reply({"values": values, "seconds": seconds, "cpu": cpu, "per_metric": per_metric,
                "peak_rss_mb": _peak_rss_mb()})
    final = {"peak_rss_mb": _peak_rss_mb()}
    if scorer is not None and scorer.gt_cache is not None:
        final["cache"] = scorer.gt_cache.stats()
    _reply(final)
    return 0


# --- the parent: build, run in turns, check, print ---------------------------------------


class Engine:
    """One worker subprocess and what it has measured so far."""

    proc: subprocess.Popen

    def __init__(self, label: str, cmd: list[str]):
        self.label = label
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.values: dict[str, dict[str, float]] = {}
        self.seconds = 0.0
        self.cpu = 0.0
        self.per_metric: dict[str, float] = {}
        self.final: dict = {}
        self.pairs = 0
        self.rss_after: dict[int, float] = {}  # peak RSS (MB) after this many pairs
        self._read()  # the "ready" line: models loaded

    def _read(self) -> dict:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith(REPLY):
                return json.loads(line[len(REPLY) :])
        raise SystemExit(f"the {self.label} worker stopped (exit status {self.proc.wait()})")

    def run(self, names: list[str]) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(names) + "\n")
        self.proc.stdin.flush()
        reply = self._read()
        self.values.update(reply["values"])
        self.seconds += reply["seconds"]
        self.cpu += reply["cpu"]
        for key, value in reply["per_metric"].items():
            self.per_metric[key] = self.per_metric.get(key, 0.0) + value
        self.pairs += len(names)
        self.rss_after[self.pairs] = reply["peak_rss_mb"]

    def fill(self, names: list[str]) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"fill": names}) + "\n")
        self.proc.stdin.flush()
        return self._read()["stored"]

    def finish(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.final = self._read()
        self.proc.wait()


class Second(Engine):
    """The same worker process as ``first``, scoring every pair a second time: its chunks come
    after the first pass's (a first pass of a chunk is always done before its second)."""

    def __init__(self, first: Engine):
        self.label = f"{first.label}, 2nd submission"
        self.first = first
        self.proc = first.proc
        self.values, self.per_metric, self.final = {}, {}, {}
        self.seconds = self.cpu = 0.0
        self.pairs = 0
        self.rss_after = {}

    def finish(self) -> None:
        self.final = self.first.final


def _worker_cmd(args: argparse.Namespace, engine: str, set_dir: Path, cache: Path | None,
                default_cache: bool = False) -> list:
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--worker", engine,
        "--set", str(set_dir),
        "--weights-dir", str(args.weights_dir),
        "--device", args.device,
        "--gt-cache-bytes", str(int(args.gt_cache_bytes)),
        "--gt-cache-from-stage", str(args.gt_cache_from_stage),
    ]  # fmt: skip
    cmd += ["--default-cache"] if default_cache else []
    return cmd + (["--cache-dir", str(cache)] if cache is not None else [])


def run_in_turns(engines: list[Engine], names: list[str], chunk: int) -> None:
    """Each chunk of pairs goes to every engine in turn; the reference alternates first/last
    (the others keep their order: a ``Second`` right after its first pass)."""
    reference, others = engines[0], engines[1:]
    for round_no, start in enumerate(range(0, len(names), chunk)):
        part = names[start : start + chunk]
        order = [reference, *others] if round_no % 2 == 0 else [*others, reference]
        for engine in order:
            engine.run(part)
        print(f"  {start + len(part)}/{len(names)} pairs", file=sys.stderr, flush=True)
    for engine in engines:
        engine.finish()


def max_differences(reference: dict, fast: dict) -> tuple[dict[str, float], list[str]]:
    """Largest |fast - reference| per metric, and each value beyond its tolerance."""
    worst = dict.fromkeys(METRICS, 0.0)
    failures = []
    if set(reference) != set(fast):
        failures.append(f"image sets differ: {sorted(set(reference) ^ set(fast))}")
    for name in sorted(set(reference) & set(fast)):
        for metric in METRICS:
            diff = abs(fast[name][metric] - reference[name][metric])
            worst[metric] = max(worst[metric], diff)
            if not diff <= TOLERANCE[metric]:
                failures.append(
                    f"{name} {metric}: reference {reference[name][metric]!r}, "
                    f"fast {fast[name][metric]!r}, difference {diff:.3g}"
                )
    return worst, failures


def _row(engine: Engine, n: int, reference_seconds: float) -> str:
    per = engine.per_metric
    cells = " | ".join(f"{per.get(m, 0.0) / n:6.3f}" for m in (*METRICS, "decode"))
    return (
        f"| {engine.label:<20} | {n:>3} | {engine.seconds:7.1f} | {engine.cpu / n:6.2f} | "
        f"{n / engine.seconds:7.3f} | {reference_seconds / engine.seconds:5.2f}x | {cells} | "
        f"{engine.final['peak_rss_mb']:6.0f} |"
    )


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def print_rss(engines: list[Engine], count: int, marks: str) -> None:
    """Each engine's peak RSS after the first 10, 50, 100 (``marks``) and all pairs."""
    wanted = sorted({int(m) for m in marks.split(",") if 0 < int(m) < count} | {count})
    print("peak RSS (MB) after N pairs: | engine | " + " | ".join(f"{n}" for n in wanted) + " |")
    for engine in engines:
        cells = []
        for n in wanted:
            at = [pairs for pairs in engine.rss_after if pairs >= n]
            cells.append(f"{engine.rss_after[min(at)]:.0f}" if at else "-")
        print(f"| {engine.label} | " + " | ".join(cells) + " |")


def report(
    engines: list[Engine], yardstick: Engine | None, count: int, size: int,
    args: argparse.Namespace,
) -> int:
    reference = engines[0]
    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; CPU: {cpu_model()} x "
        f"{len(os.sched_getaffinity(0))} cores; device {args.device}; {count} pairs of "
        f"{size}x{size}; load average at the end {os.getloadavg()[0]:.1f}"
    )
    print(
        "seconds: the engine's own chunks; cpu: process CPU seconds per image; metric columns: "
        "seconds per image inside each metric (overlapping in the fast engine); RSS in MB"
    )
    print(
        "| engine               |   N | seconds | cpu s/i | images/s | ratio "
        "|  psnr  |  ssim  | lpips  | dists  |  niqe  | decode | peak RSS |"
    )
    print("|" + "---|" * 13)
    for engine in engines:
        print(_row(engine, count, reference.seconds))
    if yardstick is not None:
        print(_row(yardstick, count, reference.seconds))
    print_rss(engines, count, args.rss_at)
    for engine in engines:
        cache = engine.final.get("cache")
        if cache and engine.label.endswith("2nd submission"):
            print(
                f"{engine.label.split(',')[0]}: {cache['bytes'] / 1e9:.2f} GB on disk in "
                f"{cache['entries']} entries ({cache['bytes'] / max(cache['entries'], 1) / 1e6:.0f}"
                f" MB per distinct ground truth) for {count} pairs; budget "
                f"{cache['budget_bytes'] / 1e9:.1f} GB; {cache['hits']} hits, "
                f"{cache['misses']} misses over both submissions"
            )
        elif cache:
            print(f"{engine.label}: ground-truth cache {cache['bytes'] / 1e9:.2f} GB on disk "
                  f"for {count} images")
    failures: list[str] = []
    worst_all = 0.0
    for engine in engines[1:]:
        worst, bad = max_differences(reference.values, engine.values)
        failures += [f"{engine.label}: {b}" for b in bad]
        worst_all = max(worst_all, *worst.values())
        print(
            f"{engine.label}: max |difference| per metric: "
            + ", ".join(f"{m} {worst[m]:.2g}" for m in METRICS)
        )
    if yardstick is not None:
        pyiqa_gap, _ = max_differences(reference.values, yardstick.values)
        print(
            f"{yardstick.label} on this machine's BLAS path, not checked: max |difference| "
            "from the reference per metric: "
            + ", ".join(f"{m} {pyiqa_gap[m]:.2g}" for m in METRICS)
        )
    by_label = {engine.label: engine for engine in engines}
    if "fast (default cache)" in by_label and "fast" in by_label:
        first, plain = by_label["fast (default cache)"], by_label["fast"]
        print(f"default cache, first use: {first.seconds / plain.seconds:.2f}x the time of the "
              f"fast engine without a cache ({(first.seconds - plain.seconds) / count:+.2f} s "
              "per pair)")
    for failure in failures:
        print("DISAGREES " + failure)
    if len(engines) > 2:
        print(f"speedup without the cache {reference.seconds / engines[1].seconds:.2f}x")
    speedup = reference.seconds / engines[-1].seconds
    print(f"speedup {speedup:.2f}x over {count} images, max difference {worst_all:.3g}")
    return 1 if failures else 0


def main_run(args: argparse.Namespace) -> int:
    from metrics.samples import write_sample_set

    count, size = (8, 512) if args.quick else (args.pairs, args.size)
    chunk = args.chunk or (2 if args.quick else 10)
    with tempfile.TemporaryDirectory(prefix="raim-bench-", dir=args.workdir) as tmp:
        work = Path(tmp)
        print(f"building {count} pairs of {size}x{size} ...", file=sys.stderr, flush=True)
        samples = write_sample_set(work / "set", count=count, size=size, seed=args.seed)
        names = sorted(p.stem for p in samples.pred.glob("*.png"))
        cache = work / "gt-cache" if args.gt_cache_bytes > 0 else None
        specs = [("reference", "reference", None, False), ("fast", "fast", None, False),
                 ("fast (default cache)", "fast", work / "default-cache", True)]
        if cache is not None:
            specs.append(("fast (cache warm)", "fast", cache, False))
        print("loading the engines ...", file=sys.stderr, flush=True)
        engines = [Engine(label, _worker_cmd(args, kind, samples.root, c, default))
                   for label, kind, c, default in specs]
        yardstick = (None if args.no_pyiqa else
                     Engine("plain pyiqa", _worker_cmd(args, "pyiqa", samples.root, None)))
        if cache is not None:
            stored = engines[-1].fill(names)
            print(f"ground-truth cache: {stored} distinct images stored", file=sys.stderr, flush=True)
        engines.insert(3, Second(engines[2]))  # the default cache's second submission
        run_in_turns([*engines, *([yardstick] if yardstick else [])], names, chunk)
    return report(engines, yardstick, count, size, args)


def build_parser() -> argparse.ArgumentParser:
    from app.config import get_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 pairs of 512x512")
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--chunk", type=int, default=0, help="pairs per turn (default 10, quick 2)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--weights-dir", type=Path, default=get_settings().weights_dir)
    parser.add_argument("--workdir", type=Path, default=None, help="where the temporary set goes")
    parser.add_argument(
        "--gt-cache-bytes",
        type=float,
        default=0,
        help="ground-truth DISTS feature cache budget; > 0 adds the cache cold and warm engines",
    )
    parser.add_argument("--gt-cache-from-stage", type=int, default=3)
    parser.add_argument("--no-pyiqa", action="store_true", help="leave out plain pyiqa")
    parser.add_argument("--rss-at", default="10,50,100",
                        help="pair counts after which peak RSS is printed (and the last)")
    parser.add_argument("--default-cache", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=["reference", "fast", "pyiqa"], help=argparse.SUPPRESS)
    parser.add_argument("--set", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cache-dir", default=None, help=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.worker:
        return worker(args)
    return main_run(args)


if __name__ == "__main__":
    sys.exit(main())
