"""What the whole-service benchmarks share: the installed ``raim`` command and free loopback ports.

Imported by ``web_bench.py`` and ``service_bench.py``, which are run as scripts
(``python bench/web_bench.py``), so this folder is on ``sys.path``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RAIM = str(Path(sys.executable).parent / "raim")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_cli(env: dict, *args: str) -> str:
    """``raim ARGS`` with ``env``: its output, or the benchmark stops with raim's own words."""
    done = subprocess.run([RAIM, *args], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"raim {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout
