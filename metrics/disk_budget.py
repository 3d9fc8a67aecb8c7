"""Disk budgets of on-disk caches: a cap, or a share of the disk, whichever is smaller."""

from __future__ import annotations

import shutil
from pathlib import Path


def disk_budget(root: Path, *, cap: int, share: float, used: int) -> int:
    """Bytes a cache under ``root`` may hold: at most ``cap``, and at most ``share`` of what it
    could have on its disk (the free space plus the ``used`` bytes it already holds), so that
    it never fills the disk. Asked again before each write: the free space changes."""
    free = shutil.disk_usage(root).free
    return max(0, min(int(cap), int(share * (free + used))))
