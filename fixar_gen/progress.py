"""Progress on stderr for operations that take more than a few seconds: Verilator
builds, co-simulation and verification of the RTL, sweeps, runs of several seeds.

    with Progress("cosim tiny on pyrtl", total=5, unit="updates") as progress:
        for step in range(5):
            ...
            progress.update(step + 1)

    with task("building Verilator model of fixar_core"):      # no count: a ticking clock
        compile()

``FIXAR_PROGRESS`` chooses the output:

- unset or ``auto``: a live line, rewritten in place at most every 0.5 s, when stderr is
  a terminal; otherwise (a log, CI) one line every 30 s while an operation runs and a
  last line if any was written, and a start and an end line around a :func:`task`;
- ``1`` or ``live``: the live line even when stderr is not a terminal;
- ``0`` or ``off``: nothing.

Line-based, no dependency (tqdm is not needed).  Results never go here: a command's
output stays on stdout.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from contextlib import contextmanager
from typing import IO, Iterator

LIVE_EVERY = 0.5        # seconds between two live-line rewrites
LOG_EVERY = 30.0        # seconds between two lines in a log
QUIET = 5.0             # ``task(after=QUIET)``: usually-quick work speaks after this long


def output_mode(stream: IO[str] | None = None) -> str:
    """``"live"``, ``"log"`` or ``"off"`` (see the module docstring)."""
    setting = os.environ.get("FIXAR_PROGRESS", "auto").strip().lower()
    if setting in ("0", "off", "no", "false"):
        return "off"
    stream = stream or sys.stderr
    if setting in ("1", "live", "yes", "true"):
        return "live" if stream is not None else "off"
    if stream is None:                         # no stderr at all (pythonw, 2>&-)
        return "off"
    try:
        return "live" if stream.isatty() else "log"
    except (AttributeError, ValueError):
        return "log"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs:02d} s"


class Progress:
    """The progress of one operation: ``update(done, note)`` as it advances, ``finish``
    (or leaving the ``with`` block) at the end.  ``total`` and ``unit`` describe the
    count (``update`` takes the absolute count done); ``announce`` writes a start line
    at once, even in a log."""

    def __init__(self, what: str, total: int | None = None, unit: str = "", *,
                 stream: IO[str] | None = None, announce: bool = False):
        self.what = what
        self.total = total
        self.unit = unit
        self.stream = stream
        self.mode = output_mode(stream)
        self.started = time.monotonic()
        self.done = 0
        self.note = ""
        self._written = False
        self._last = self.started
        self._width = 0               # of the live line last written
        self._lock = threading.Lock()
        if announce:
            self.announce()

    def announce(self) -> None:
        """Write the start line ``"<what> ..."`` now (even in a log)."""
        self._write(f"{self.what} ...", end=self.mode == "log")

    @property
    def written(self) -> bool:
        """Whether any line has been written."""
        return self._written

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def text(self) -> str:
        """The current line: what, count, elapsed time, rate, note."""
        parts = []
        if self.total is not None:
            parts.append(f"{self.done:,}/{self.total:,} {self.unit}".rstrip())
        elif self.done:
            parts.append(f"{self.done:,} {self.unit}".rstrip())
        elapsed = self.elapsed
        parts.append(_duration(elapsed))
        if self.done and elapsed > 0 and self.unit:
            rate = self.done / elapsed
            parts.append(f"{rate:.3g} {self.unit}/s" if rate >= 1 else
                         f"{_duration(elapsed / self.done)} per {self.unit.rstrip('s')}")
        if self.note:
            parts.append(self.note)
        return f"{self.what}: " + ", ".join(parts)

    def update(self, done: int | None = None, note: str | None = None) -> None:
        """Record progress; write the line if it is time to (see the module docstring)."""
        if done is not None:
            self.done = done
        if note is not None:
            self.note = note
        if self.mode == "off":
            return
        now = time.monotonic()
        if now - self._last < (LIVE_EVERY if self.mode == "live" else LOG_EVERY):
            return
        self._write(self.text(), end=self.mode == "log")

    def finish(self, text: str | None = None) -> None:
        """Write the last line (``text``, else the current one) -- in a log only if
        anything was written before -- and end the live line."""
        if self.mode == "off" or (self.mode == "log" and not self._written):
            return
        self._write(text or self.text(), end=True)

    def clear(self) -> None:
        """Erase the live line (before writing results to a terminal)."""
        if self.mode == "live" and self._width:
            stream = self.stream or sys.stderr
            with self._lock:
                stream.write("\r" + " " * self._width + "\r")
                stream.flush()
                self._width = 0

    def _write(self, line: str, end: bool) -> None:
        if self.mode == "off":
            return
        stream = self.stream or sys.stderr
        with self._lock:
            if self.mode == "live":
                pad = max(self._width - len(line), 0)
                stream.write("\r" + line + " " * pad + ("\n" if end else ""))
                self._width = 0 if end else len(line)
            else:
                stream.write(line + "\n")
            stream.flush()
            self._written = True
            self._last = time.monotonic()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.finish()


@contextmanager
def task(what: str, done: str | None = None, *, after: float = 0.0,
         stream: IO[str] | None = None) -> Iterator[Progress]:
    """An operation without a count (a compiler run): a start line, the elapsed time
    ticking while it runs, and an end line ``"<done> in <time>"`` (``done`` defaults
    to ``what``).  With ``after`` > 0 nothing is written unless the operation is still
    running ``after`` seconds in (for work that is usually quick)."""
    progress = Progress(what, stream=stream, announce=after <= 0)
    stop = threading.Event()

    def tick() -> None:
        if after > 0:
            if stop.wait(after):
                return
            progress.announce()
        interval = LIVE_EVERY if progress.mode == "live" else LOG_EVERY
        while not stop.wait(interval):
            progress.update()

    ticker = threading.Thread(target=tick, daemon=True)
    if progress.mode != "off":
        ticker.start()
    ok = False
    try:
        yield progress
        ok = True
    finally:
        stop.set()
        if ticker.is_alive():
            ticker.join()
        if progress.written:
            outcome = done or what
            progress.finish(f"{outcome} in {_duration(progress.elapsed)}" if ok else
                            f"{what}: stopped after {_duration(progress.elapsed)}")
