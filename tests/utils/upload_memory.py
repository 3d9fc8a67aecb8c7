"""POSTs zips to /score in a process of its own and prints each answer with its peak RSS growth.

    python tests/utils/upload_memory.py WORK_DIR WARM_UP_ZIP ZIP

A challenge (SQLite under WORK_DIR, three 128x128 images) and the real application are set
up first, then WARM_UP_ZIP is posted so that every lazy import and cache is in place; the
growth reported for ZIP is how far the process's peak resident size (getrusage ru_maxrss)
rose while it was answered. The parent sets RAIM_DATA_DIR and RAIM_SECRET_KEY.
"""

import json
import resource
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux


def main() -> None:
    from fastapi.testclient import TestClient

    from app.main import create_app
    from metrics.samples import write_sample_set
    from tests.utils.arena import build_arena

    work, warm_up, hostile = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    arena = build_arena(write_sample_set(work / "samples", count=3, size=128))
    with TestClient(create_app(background=False)) as client:

        def post(path: Path):
            with path.open("rb") as handle:
                return client.post("/score", headers=arena.auth("alpha"),
                                   files={"file": (path.name, handle, "application/zip")})

        post(warm_up)
        before = peak_bytes()
        response = post(hostile)
        growth = peak_bytes() - before
    print(json.dumps({"status": response.status_code, "body": response.json(), "growth": growth}))


if __name__ == "__main__":
    main()
