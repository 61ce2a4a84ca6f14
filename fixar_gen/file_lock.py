"""One exclusive lock across processes: :func:`locked` ``(path)`` holds an ``flock`` on
``path`` (created if missing) for the ``with`` body.  Where ``fcntl`` is missing (not
POSIX) it does not lock: the callers' writes are atomic renames or idempotent, so the
last writer wins."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

try:
    import fcntl
except ImportError:                                  # pragma: no cover - not POSIX
    fcntl = None


@contextmanager
def locked(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the ``with`` body."""
    if fcntl is None:                                # pragma: no cover - not POSIX
        yield
        return
    fd = os.open(Path(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
