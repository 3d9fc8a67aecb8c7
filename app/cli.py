"""The ``raim`` command line: one parser, subcommands registered from app.commands modules.

Settings are checked before any command runs: each invalid RAIM_ variable is one line on
standard error (``error: RAIM_DEVICE: ...``) and the exit status is 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from app.commands.common import EXIT_INVALID, error
from app.config import SettingsError, get_settings
from app.logs import redact_tokens_in_logs

# Each module has register(subparsers); order is the order of `raim --help`.
COMMAND_MODULES = [
    "app.commands.score",
    "app.commands.client",
    "app.commands.weights",
    "app.commands.db",
    "app.commands.admin",
    "app.commands.serve",
    "app.commands.worker",
    "app.commands.judging",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="raim",
        description="RAIM Arena: score image-restoration results and run challenges.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    redact_tokens_in_logs()
    try:
        get_settings()
        return int(args.handler(args) or 0)
    except SettingsError as exc:
        for problem in exc.problems:
            error(problem)
        return EXIT_INVALID


if __name__ == "__main__":
    sys.exit(main())
