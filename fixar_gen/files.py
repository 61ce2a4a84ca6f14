"""Files that several processes share, written safely:

- :func:`locked` ``(path)``: an exclusive ``flock`` on ``path`` (created if missing) for
  the ``with`` body.  Where ``fcntl`` is missing (not POSIX, where the project's
  tools do not run) it does not lock.
- :func:`atomic_write` ``(path, text)``: ``path`` holds its old text or the new one,
  never a part (a temporary file of this process, flushed to disk, then ``os.replace``).
"""

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


def atomic_write(path: str | os.PathLike, text: str) -> None:
    """Replace ``path``'s text with ``text`` in one step."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
