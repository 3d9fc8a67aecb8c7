"""API fuzz run: schemathesis over /openapi.json as anonymous, a team and an organiser; 0 server errors.

    .venv/bin/python bench/fuzz_api.py                      # 25 examples per operation and mode
    .venv/bin/python bench/fuzz_api.py --examples 100 --database-url postgresql+psycopg://...

Builds a fresh test challenge (real photographs, teams with tokens, an organiser, a scored
submission) in a temporary RAIM_DATA_DIR, then runs ``tests/utils/fuzz.fuzz_api`` (the driver
of tests/security/test_fuzz.py) in-process: every operation, each identity, data that fits the
schema and data that does not, derandomized. Prints requests by identity and status class and
every status seen; exits 1 when any request met a 5xx (each one is listed).
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=25,
                        help="Hypothesis examples per operation, identity and mode")
    parser.add_argument("--database-url", help="default: SQLite in the temporary data dir")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="raim-fuzz-") as tmp:
        os.environ.update(RAIM_DATA_DIR=str(Path(tmp) / "data"),
                          RAIM_SECRET_KEY=secrets.token_urlsafe(48))
        os.environ.pop("RAIM_BROKER_URL", None)
        if args.database_url:
            os.environ["RAIM_DATABASE_URL"] = args.database_url
        else:
            os.environ.pop("RAIM_DATABASE_URL", None)

        from app.main import create_app
        from metrics.samples import write_sample_set
        from tests.utils.arena import build_arena
        from tests.utils.fuzz import fuzz_api
        from tests.utils.pages import scored_submission

        arena = build_arena(write_sample_set(Path(tmp) / "samples", count=3, size=128),
                            slug=f"fuzz-{secrets.token_hex(3)}")
        submission = scored_submission(arena.phase_id, arena.team_ids["alpha"], {"001": 21.0})
        began = time.monotonic()
        report = fuzz_api(create_app(background=False),
                          {"anonymous": {}, "team": arena.auth("alpha"),
                           "organiser": arena.auth("organiser")},
                          examples=args.examples,
                          path_values={"challenge": arena.challenge, "phase": arena.phase,
                                       "submission_id": str(submission)})
        seconds = time.monotonic() - began
    print(report.table())
    print(f"{args.examples} examples per operation, identity and mode; {seconds:.0f} s")
    for error in report.server_errors:
        print("SERVER ERROR", error)
    return 1 if report.server_errors else 0


if __name__ == "__main__":
    sys.exit(main())
