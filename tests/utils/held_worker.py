"""`raim worker` that holds each claimed job while a file exists: "killed mid-job" on cue.

Run as ``python -m tests.utils.held_worker HOLD_FILE [raim worker options]``. The pause sits
between the claim (and, for a remote worker, the downloads) and the scoring, as a slow GPU
would; the worker's heartbeat thread keeps its lease meanwhile. Production code has no such
hook. Remote or shared-disk, as the environment says (RAIM_SERVICE_URL, RAIM_WORKER_TOKEN).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from app.cli import main
from app.config import Settings
from app.jobs import worker

POLL_SECONDS = 0.05


def hold_while(path: Path) -> None:
    """Make ``worker.run_job`` wait while ``path`` exists before it scores."""
    run_job = worker.run_job

    def held(job: worker.Job, settings: Settings, **options: Any) -> worker.Evaluation | None:
        while path.exists():
            time.sleep(POLL_SECONDS)
        return run_job(job, settings, **options)

    worker.run_job = held  # type: ignore[assignment]


if __name__ == "__main__":
    hold_while(Path(sys.argv[1]))
    sys.exit(main(["worker", *sys.argv[2:]]))
