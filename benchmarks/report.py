"""Shared by the benchmark scripts: the machine description and the writing of one
section of BENCHMARKS.md (each script owns the section under its heading)."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "BENCHMARKS.md"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = f"; load average {os.getloadavg()[0]:.2f} at the start"
    except OSError:
        load = ""
    blas = os.environ.get("OPENBLAS_NUM_THREADS")
    threads = f", OPENBLAS_NUM_THREADS={blas}" if blas else ""
    return (f"{cpu}, {os.cpu_count()} logical cores, {platform.system()} "
            f"{platform.release()}; Python {sys.version.split()[0]}, numpy "
            f"{np.__version__}{threads}{load}")


def write_section(heading: str, text: str, path: Path = BENCHMARKS) -> None:
    """Replace the section that starts with ``heading`` (up to the next ``## ``
    heading), or append it; other sections are kept as they are."""
    old = path.read_text() if path.exists() else "# Benchmarks\n\n"
    lines = old.splitlines(keepends=True)
    start = next((i for i, l in enumerate(lines) if l.rstrip() == heading), None)
    if start is None:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")),
                   len(lines))
        new = "".join(lines[:start]) + text + ("\n" if end < len(lines) else "") \
            + "".join(lines[end:])
    path.write_text(new.rstrip("\n") + "\n")


def publish(heading: str, text: str, dry_run: bool = False) -> None:
    """Print the section (``dry_run``) or write it into BENCHMARKS.md."""
    if dry_run:
        print(text)
    else:
        write_section(heading, text)
        print(f"wrote {BENCHMARKS}")
