"""`raim --help` documents every command: each subcommand and each of its arguments has a help
line, and the help answers without loading metric models or opening a database."""

import argparse
import subprocess
import sys

from app.cli import build_parser
from tests.utils.processes import REPO


def walk(parser: argparse.ArgumentParser, path: str):
    """(where, what) for every subcommand and argument below ``parser`` with no help text."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            documented = {choice.dest: choice.help for choice in action._choices_actions}
            for name, child in action.choices.items():
                if not documented.get(name):
                    yield f"{path} {name}", "command"
                yield from walk(child, f"{path} {name}")
        elif not isinstance(action, argparse._HelpAction) and not action.help:
            yield path, "/".join(action.option_strings) or action.dest


def test_every_command_and_argument_has_help():
    assert list(walk(build_parser(), "raim")) == []


def test_help_loads_no_metric_model_and_no_database():
    probe = ("import sys; from app.cli import build_parser; build_parser(); "
             "print(sorted(m for m in ('torch', 'pyiqa', 'scipy') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
