"""``raim score``: score a folder or zip of predictions against ground truth, like the organisers."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from app.config import get_settings
from metrics.images import InvalidInput
from metrics.weights import WeightsMissing
from scoring.formula import NAMED_FORMULAS
from scoring.report import NonFiniteMetric, Report

EXIT_INVALID_INPUT = 2
EXIT_ENVIRONMENT = 3


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "score",
        help="score predictions against ground truth with the RAIM formula",
        description="Pairs files by stem (001.png with 001.jpg), checks them all, then computes "
        "PSNR, SSIM (Y channel), LPIPS, DISTS and NIQE with pyiqa after a 4-pixel border crop, "
        "and the RAIM 2024 score (--formula names another formula and its reading). "
        "Exit status: 0 scored, 2 invalid input (every problem is listed), 3 missing weights "
        "or device.",
    )
    parser.add_argument(
        "--pred", type=Path, required=True, help="folder or .zip of restored images"
    )
    parser.add_argument(
        "--gt", type=Path, required=True, help="folder or .zip of ground-truth images"
    )
    parser.add_argument(
        "--formula", default="raim-2024", choices=list(NAMED_FORMULAS),
        help="the named formula and its reading (default raim-2024; raim-2026-fusion: RGB PSNR "
        "and SSIM, LPIPS, no crop, a wrong size resized to the ground truth's)",
    )
    parser.add_argument(
        "--stages", metavar="S1,S2", type=lambda text: tuple(s for s in text.split(",") if s),
        default=(), help="stage folders (in --pred and --gt); the score is the mean of the "
        "stages' mean scores",
    )
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the results as JSON")
    parser.add_argument("--csv", type=Path, metavar="OUT", help="write one row per image as CSV")
    parser.add_argument(
        "--device", choices=["auto", "cpu", "cuda"], help="default: RAIM_DEVICE or auto"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = get_settings()
    missing = [f"{flag} {path}: no such folder or .zip file" for flag, path
               in (("--pred", args.pred), ("--gt", args.gt)) if not path.exists()]
    if missing:  # one clear line each, not every image of the other side as an "extra file"
        for line in missing:
            print(f"error: {line}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    from app.evaluation import build_scorer, evaluate, inventory

    try:
        # Validate before loading models: bad input answers in a second, not after model loading.
        formula = NAMED_FORMULAS[args.formula].with_stages(args.stages)
        checked = inventory(
            args.pred, args.gt, max_pixels=settings.max_pixels, max_images=settings.max_images,
            formula=formula,
        )
        scorer = build_scorer(settings, device=args.device)
    except InvalidInput as exc:
        _print_problems(exc)
        return EXIT_INVALID_INPUT
    except (WeightsMissing, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ENVIRONMENT

    from tqdm import tqdm

    bar = tqdm(total=None, unit="img", file=sys.stderr, disable=args.quiet, leave=False)

    def progress(done: int, total: int, name: str) -> None:
        bar.total = total
        bar.set_postfix_str(name)
        bar.update(done - bar.n)

    try:
        result = evaluate(
            args.pred,
            args.gt,
            scorer,
            max_pixels=settings.max_pixels,
            max_images=settings.max_images,
            formula=formula,
            on_progress=progress,
            checked=checked,
        )
    except InvalidInput as exc:
        bar.close()
        _print_problems(exc)
        return EXIT_INVALID_INPUT
    except NonFiniteMetric as exc:
        bar.close()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    bar.close()
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    print(format_table(result.report))
    if args.json:
        args.json.write_text(json.dumps(result.report.to_json(), indent=2, allow_nan=False) + "\n")
    if args.csv:
        write_csv(result.report, args.csv)
    return 0


def _print_problems(exc: InvalidInput) -> None:
    print(f"invalid input: {len(exc.problems)} problem(s)", file=sys.stderr)
    for problem in exc.problems:
        print(f"  {problem}", file=sys.stderr)


def format_table(report: Report) -> str:
    columns = [*report.metrics, "score"]
    width = max([4, *(len(img["name"]) for img in report.images)])
    header = f"{'image':<{width}}  " + "  ".join(f"{c:>9}" for c in columns)
    lines = [header, "-" * len(header)]
    for img in report.images:
        lines.append(f"{img['name']:<{width}}  " + "  ".join(f"{img[c]:9.4f}" for c in columns))
    lines.append("-" * len(header))
    mean = report.mean
    lines.append(f"{'mean':<{width}}  " + "  ".join(f"{mean[c]:9.4f}" for c in columns))
    lines.append(f"{len(report.images)} image(s)")
    return "\n".join(lines)


def write_csv(report: Report, path: Path) -> None:
    columns = ["name", *report.metrics, "score"]
    if any("resized_from" in img for img in report.images):
        columns.append("resized_from")
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(report.images)
