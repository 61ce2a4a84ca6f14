"""One table and one plot from the runs of several `fixar experiment` grids (``fixar
results``): a grid run in parts, on several machines or at several times, each part a
grid folder of its own.

The grids must be parts of one experiment: the same spec name and environment, the same
steps, evaluation schedule and final-return average (``last``), and every variant that
two grids share with the same run settings (the resolved spec and the backend, as
``experiment.json`` records them; the SB3 reference row by its algorithm, and a grid of
that row alone, ``--variants none``, by its spec's settings as the float32 variant's).
A float32
variant's settings are compared without the spec's ``numerics`` and ``hardware``
(:data:`FLOAT_UNREAD`: its agent is the algorithm's float twin, which reads neither), so
float32 runs of a spec whose formats changed between two grids still join; a spec field
an older grid did not record counts as its default.  ``--last N`` (``combine(...,
last=N)``) averages each run's last N evaluations into its final return instead of
the grids' own ``last``.  A variant and
seed may have run in one grid only (a run a grid planned but never began is left
out).  The output folder gets ``results.md``,
``results.csv`` and ``curves.png`` (as a grid's own, from the runs' files where they
are: nothing is copied or moved) and ``sources.json``, the grids it was made from; it
is refused when it holds anything else, so nothing a user wrote is replaced.
"""

from __future__ import annotations

import json
from pathlib import Path

from .experiment import FORMAT, REFERENCE_SETTINGS, VARIANTS, ExperimentError, read_record
from .files import atomic_write

SOURCES = "sources.json"
OUTPUTS = ("results.md", "results.csv", "curves.png", SOURCES)
#: what must agree between the grids, besides the shared variants' settings, with the
#: value a record written before the field existed means (None: none)
SAME = {"spec": None, "env": None, "total_steps": None, "eval_every": None,
        "eval_episodes": None, "last": None, "band": "minmax"}


#: the spec's sections a float32-backend run never reads (the float twin has no core,
#: no formats): two grids' float32 settings are compared without them
FLOAT_UNREAD = ("numerics", "hardware")


def compared(settings):
    """A variant's run settings as two grids must agree on them: every spec field a
    grid of an older fixar_gen does not record filled in with its default (as
    ``--resume`` reads an older checkpoint: :func:`~fixar_gen.rl.run_settings.
    with_defaults`), and a float32-backend run's without :data:`FLOAT_UNREAD`."""
    from .rl.run_settings import with_defaults
    if isinstance(settings, dict):
        settings = with_defaults(settings)
    if isinstance(settings, dict) and settings.get("backend") == "float32" \
            and isinstance(settings.get("spec"), dict):
        return {**settings, "spec": {k: v for k, v in settings["spec"].items()
                                     if k not in FLOAT_UNREAD}}
    return settings


def read_grid(folder: Path) -> dict:
    """A grid's ``experiment.json`` (:func:`~fixar_gen.experiment.read_record`'s checks),
    or ExperimentError naming the folder when it has none."""
    if not (Path(folder) / "experiment.json").is_file():
        raise ExperimentError(f"{folder}: not an experiment grid (no experiment.json)")
    return read_record(folder)


def started(run: Path) -> bool:
    """Whether a grid's run has begun: it has evaluated or checkpointed (a run only
    planned in one grid may have run in another)."""
    return (run / "evals.csv").is_file() or (run / "metrics.csv").is_file()


def check_parts(grids: list[tuple[Path, dict]]) -> None:
    """ExperimentError unless the grids are parts of one experiment (module doc)."""
    from .rl.run_settings import first_difference
    first_path, first = grids[0]
    settings: dict[str, tuple[Path, object]] = {}
    seen: dict[tuple[str, int], Path] = {}
    for path, record in grids:
        for key, default in SAME.items():
            mine, theirs = record.get(key, default), first.get(key, default)
            if mine != theirs:
                raise ExperimentError(f"{path}: {key} {mine!r}, but {theirs!r} in "
                                      f"{first_path}: not parts of one experiment")
        variants = dict(record["settings"]["variants"])
        if REFERENCE_SETTINGS in record["settings"]:     # compared as float32's
            variants.setdefault("float32", record["settings"][REFERENCE_SETTINGS])
        if record.get("reference"):
            variants[record["reference"]["variant"]] = {
                "algorithm": record["reference"].get("algorithm", "ddpg")}
        for name, value in variants.items():
            value = compared(value)
            if name in settings and settings[name][1] != value:
                other = settings[name][0]
                difference = (first_difference(settings[name][1], value) or "differs")
                difference = difference.replace(" in the checkpoint,", f" in {other},") \
                    .replace(" now", f" in {path}")
                raise ExperimentError(f"variant {name}'s run settings differ between "
                                      f"the grids: {difference}")
            settings.setdefault(name, (path, value))
        for run in record["runs"]:
            if not started(path / run["folder"]):
                continue
            key = (run["variant"], int(run["seed"]))
            if key in seen:
                raise ExperimentError(
                    f"{run['variant']} seed {run['seed']} has run in {seen[key]} and in "
                    f"{path}: name only one of them")
            seen[key] = path


def _prepare_out(out: Path, grids: list[Path]) -> None:
    """The output folder: new, empty or an earlier ``fixar results`` output; never one
    of the grids, never a folder holding anything else."""
    resolved = out.resolve()
    for grid in grids:
        if grid.resolve() == resolved:
            raise ExperimentError(f"-o {out}: is one of the grids (its own results.md is "
                                  "the grid's; choose another folder)")
    if out.exists() and not out.is_dir():
        raise ExperimentError(f"-o {out}: exists and is not a folder")
    if out.is_dir():
        others = sorted(p.name for p in out.iterdir() if p.name not in OUTPUTS)
        if others or (any(out.iterdir()) and not (out / SOURCES).is_file()):
            shown = ", ".join(others[:3]) or "files not written by fixar results"
            raise ExperimentError(f"-o {out}: holds {shown}; fixar results writes only "
                                  "into a new or empty folder or its own earlier output")
    out.mkdir(parents=True, exist_ok=True)


def _about(grids: list[tuple[Path, dict]], variants: list[str]) -> list[str]:
    first = grids[0][1]
    lines = [f"The runs of {len(grids)} grid{'s' if len(grids) != 1 else ''} of one "
             f"experiment, {first['total_steps']:,} steps each; "
             + (f"evaluation every {first['eval_every']:,} steps and at the end"
                if first["eval_every"] else "evaluation at the end only")
             + f", {first['eval_episodes']} deterministic episode"
             f"{'s' if first['eval_episodes'] != 1 else ''} each:", ""]
    for path, record in grids:
        runs = ", ".join(f"{r['variant']} seed {r['seed']}" for r in record["runs"]
                         if started(path / r["folder"]))
        lines.append(f"- `{path}`: {runs or 'no run begun'}")
    lines.append("")
    for name in variants:
        if name in VARIANTS:
            lines.append(f"- {name}: {VARIANTS[name].about}")
        else:
            from .sb3_reference import about
            algorithm = next(r["reference"].get("algorithm", "ddpg") for _, r in grids
                             if r.get("reference"))
            lines.append(f"- {name}: {about(algorithm)}")
    return lines


def combine(grids: list[Path], out: Path, plot: bool = True,
            last: int | None = None) -> str | None:
    """Write ``out``'s table, plot and sources from the grids' runs.  ``last``: the
    evaluations averaged into a run's final return, instead of the grids' own (which
    must then agree); a noisy task's table over more evaluations.  Returns why the plot
    could not be drawn (matplotlib missing), else None."""
    from .experiment import statuses, write_curves
    from .rl.grid_results import results_csv, results_markdown, variant_rows
    if not grids:
        raise ExperimentError("no grids given")
    paths = [Path(g) for g in grids]
    records = [(p, read_grid(p)) for p in paths]
    if last is not None:
        records = [(p, {**record, "last": last}) for p, record in records]
    check_parts(records)
    out = Path(out)
    _prepare_out(out, paths)
    variants: list[str] = []
    found = []
    for path, record in records:
        for name in record["settings"]["variants"]:
            if name not in variants:
                variants.append(name)
        found += [s for s in statuses(path, record) if started(s.ref.folder)]
    for path, record in records:
        if record.get("reference") and record["reference"]["variant"] not in variants:
            variants.append(record["reference"]["variant"])
    order = {name: i for i, name in enumerate(variants)}
    found.sort(key=lambda s: (s.ref.seed, order[s.ref.variant]))
    first = records[0][1]
    # each grid's notes (an SB3 row it skipped, and why) are about that grid
    notes = [f"`{path}`: {note}" for path, record in records
             for note in record.get("notes", [])]
    atomic_write(out / "results.csv", results_csv(variant_rows(found, variants)))
    atomic_write(out / "results.md", results_markdown(
        f"Experiment {first['spec']}: {first['env']}", _about(records, variants), found,
        variants, first["last"], notes))
    atomic_write(out / SOURCES, json.dumps(
        {"format": f"{FORMAT}.results", "grids": [str(p.resolve()) for p in paths]},
        indent=2) + "\n")
    return write_curves(out, found, variants, first) if plot else None
