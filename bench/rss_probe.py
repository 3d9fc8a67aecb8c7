"""Peak RSS of one worker's scorer over a long submission, printed after every pair.

    nice .venv/bin/python bench/rss_probe.py --pairs 100 --size 1024

The pairs (``metrics.samples``) are written to disk first, then one ``FastScorer`` (a worker's,
``app.evaluation.build_scorer``, its feature cache in a temporary folder unless ``--no-cache``)
scores them in one stream, as a submission is scored. After each pair: VmHWM (peak RSS so far)
and VmRSS, in MB of 2^20 bytes, and CPU seconds so far; at the end, the peak after 10, 50 and
100 pairs. Faster than ``bench/score_bench.py`` (no reference loop) when only memory is wanted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def memory_mb() -> dict[str, float]:
    """VmHWM and VmRSS of this process, in MB of 2^20 bytes."""
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmHWM:", "VmRSS:")):
            found[line.split(":")[0]] = int(line.split()[1]) / 1024
    return found


def main(argv: list[str] | None = None) -> int:
    from app.config import Settings, get_settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=100)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--weights-dir", type=Path, default=get_settings().weights_dir)
    parser.add_argument("--no-cache", action="store_true", help="no ground-truth feature cache")
    parser.add_argument("--workdir", type=Path, default=None, help="where the temporary set goes")
    args = parser.parse_args(argv)

    from app.evaluation import build_scorer
    from metrics.images import decode
    from metrics.samples import write_sample_set

    with tempfile.TemporaryDirectory(prefix="raim-rss-", dir=args.workdir) as tmp:
        work = Path(tmp)
        samples = write_sample_set(work / "set", count=args.pairs, size=args.size, seed=args.seed)
        settings = Settings(weights_dir=args.weights_dir, dists_cache_dir=work / "cache",
                            **({"dists_cache_bytes": 0} if args.no_cache else {}))
        scorer = build_scorer(settings, device=args.device)
        print(f"models loaded: {memory_mb()['VmRSS']:.0f} MB (the sample set was built in this "
              f"process first: peak {memory_mb()['VmHWM']:.0f} MB)", flush=True)
        sources = [(p.stem, lambda p=p: decode(p.read_bytes()),
                    lambda p=p: decode((samples.gt / p.name).read_bytes()))
                   for p in sorted(samples.pred.glob("*.png"))]
        peaks = {}
        start = time.process_time()
        for done, (name, _) in enumerate(scorer.score_pairs(sources), 1):
            now = memory_mb()
            peaks[done] = now["VmHWM"]
            print(f"{done:4d} {name}: peak {now['VmHWM']:.0f} MB, now {now['VmRSS']:.0f} MB, "
                  f"{time.process_time() - start:.0f} CPU s", flush=True)
    marks = [n for n in (10, 50, 100) if n < args.pairs] + [args.pairs]
    print("peak RSS (MB) after " + ", ".join(f"{n} pairs: {peaks[n]:.0f}" for n in marks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
