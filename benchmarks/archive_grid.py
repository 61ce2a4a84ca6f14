"""Keep a `fixar experiment` grid's figures in the repository, without its checkpoints.

    python benchmarks/archive_grid.py GRID [GRID ...] [--into benchmarks/experiments]

copies each grid's record (experiment.json), its table and curves (results.md,
results.csv, curves.png) and every run's text outputs (evals.csv, metrics.csv,
summary.json and the other small files a run writes) into INTO/NAME (NAME: the grid
folder's name), leaving out the checkpoints, locks and temporary files; paths under the
repository's root in the text files are written relative to it.  An archived
grid is a grid to `fixar results` (which reads the runs' evals.csv, metrics.csv and
summary.json): `fixar results -o OUT benchmarks/experiments/NAME ...` rebuilds its
table and curves, alone or with other grids of the same experiment.  It cannot be
resumed (`fixar experiment --resume` needs the checkpoints).

Run it while a grid is going to keep its partial figures: a later run of the same
command replaces the archive's copy with the grid's current state.  Archived grids live
in the repository so that figures survive the machines that made them (a grid's own
folder holds hundreds of MB of checkpoints).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

#: left out of an archive: the runs' checkpoints, locks, temporary files
SKIPPED_DIRS = {"checkpoint"}
MAX_FILE_BYTES = 2_000_000
#: the repository's root: paths under it in a grid's text files (the SB3 interpreter a
#: record names, say) are archived relative to it, not as one machine's paths
ROOT = Path(__file__).resolve().parent.parent
TEXT_SUFFIXES = (".json", ".md", ".csv", ".log")


def kept(path: Path) -> bool:
    return not path.name.startswith(".") and not path.name.endswith((".lock", ".tmp"))


def archive(grid: Path, into: Path, too_large: list | None = None) -> Path:
    """Copy ``grid``'s figures into ``into``/NAME; files over MAX_FILE_BYTES are left
    out and appended to ``too_large``.  Safe while the grid runs: the checkpoints'
    folders (whose old generations the runs delete) are never entered, and a file that
    disappears before it is copied is skipped."""
    if not (grid / "experiment.json").is_file():
        raise SystemExit(f"archive_grid: {grid}: no experiment.json (not a `fixar "
                         f"experiment` grid)")
    dest = into / grid.resolve().name
    stage = dest.with_name(f".{dest.name}.new")
    shutil.rmtree(stage, ignore_errors=True)
    for folder, dirs, files in os.walk(grid):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS and kept(Path(d)))
        for name in sorted(files):
            path = Path(folder) / name
            if not kept(path):
                continue
            try:
                if path.stat().st_size > MAX_FILE_BYTES:
                    if too_large is not None:
                        too_large.append(path)
                    continue
                target = stage / path.relative_to(grid)
                target.parent.mkdir(parents=True, exist_ok=True)
                if path.suffix in TEXT_SUFFIXES:
                    target.write_text(path.read_text(encoding="utf-8")
                                      .replace(f"{ROOT}/", ""), encoding="utf-8")
                else:
                    shutil.copy2(path, target)
            except FileNotFoundError:                # removed by a run meanwhile
                continue
    if dest.exists():
        shutil.rmtree(dest)
    stage.rename(dest)
    return dest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("grids", nargs="+", type=Path, metavar="GRID")
    parser.add_argument("--into", type=Path,
                        default=Path(__file__).resolve().parent / "experiments")
    args = parser.parse_args(argv)
    names = [grid.resolve().name for grid in args.grids]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        parser.error(f"grids with the same folder name would share an archive: "
                     f"{', '.join(twice)}")
    args.into.mkdir(parents=True, exist_ok=True)
    for grid in args.grids:
        too_large: list = []
        dest = archive(grid, args.into, too_large)
        files = sum(1 for p in dest.rglob("*") if p.is_file())
        print(f"{grid} -> {dest} ({files} files)")
        for path in too_large:
            print(f"  left out (over {MAX_FILE_BYTES:,} bytes): {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
