"""Faults injected into the real code path: commits that fail, and a disk that fills up."""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

_TOUCHED = "tests.faults.touched"


def _written(session: Session) -> set[type]:
    return {type(obj) for obj in (*session.new, *session.dirty, *session.deleted)}


@contextmanager
def failing_commits(*models: type) -> Iterator[list[str]]:
    """Every commit of a session that writes a row of one of ``models`` fails the way SQLite
    fails when another writer holds the lock too long; yields the names of refused commits.

    Other commits (the caller's token lookup, say) go through, so a test sees exactly the
    write under test fail.
    """
    refused: list[str] = []

    def after_flush(session: Session, _context: Any) -> None:
        session.info.setdefault(_TOUCHED, set()).update(_written(session))

    def before_commit(session: Session) -> None:
        hit = sorted(m.__name__ for m in (_written(session) | session.info.get(_TOUCHED, set()))
                     if m in models)
        if hit:
            refused.append("+".join(hit))
            raise OperationalError("COMMIT", {}, sqlite3.OperationalError("database is locked"))

    def after_transaction_end(session: Session, transaction: Any) -> None:
        if transaction.parent is None:
            session.info.pop(_TOUCHED, None)

    listeners = (("after_flush", after_flush), ("before_commit", before_commit),
                 ("after_transaction_end", after_transaction_end))
    for name, listener in listeners:
        event.listen(Session, name, listener)
    try:
        yield refused
    finally:
        for name, listener in listeners:
            event.remove(Session, name, listener)


class _FullDisk:
    """A file opened for writing on a disk with ``room`` bytes left."""

    def __init__(self, real: Any, room: int):
        self._real, self._room = real, room

    def write(self, data: bytes) -> int:
        if len(data) > self._room:
            self._real.write(data[: self._room])  # what fitted stays, as on a real disk
            self._room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= len(data)
        return self._real.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def fill_disk_under(monkeypatch: pytest.MonkeyPatch, folder: Path, room: int) -> None:
    """Files opened for writing under ``folder`` take ``room`` bytes, then fail with ENOSPC."""
    real_open = Path.open

    def open_on_full_disk(self: Path, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        handle = real_open(self, mode, *args, **kwargs)
        if "w" in mode and self.resolve().is_relative_to(folder.resolve()):
            return _FullDisk(handle, room)
        return handle

    monkeypatch.setattr(Path, "open", open_on_full_disk)
