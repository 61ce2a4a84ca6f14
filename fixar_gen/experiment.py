"""`fixar experiment`: a grid of training runs (variants x seeds) of one spec, run
through the pool of :func:`fixar_gen.sweep.run_parallel`, resumable, with one table
and one plot that follow the runs as they go.

A *variant* is one of the trainer's existing modes (:data:`VARIANTS`): ``float32``
(the float32 reference agent), ``qat`` (the core with FIXAR's QAT schedule), ``fxp32``
(the core in FXP32 throughout) and ``fxp16`` (the core in FXP16 from the start, FIXAR's
ablation); each run is an ordinary ``fixar train`` run (:class:`fixar_gen.rl.trainer.
Trainer`) in its own folder.  The grid folder holds::

    experiment.json        what the grid is: variants, seeds, each variant's run
                           settings (the whole resolved spec and the backend) and
                           their SHA-256; --resume continues only the same grid
    runs/VARIANT-sSEED/    one `fixar train` folder per run (metrics.csv, evals.csv,
                           summary.json, checkpoint/)
    runs/sb3-sSEED/        the optional Stable-Baselines3 reference runs (evals.csv,
                           summary.json, sb3.log; fixar_gen/sb3_reference.py)
    results.csv            one row per variant (rl/grid_results.py)
    results.md             the variant table, the spread verdicts, one row per run
    curves.png             learning curves, mean and seed band per variant (plot extra)

The table is rewritten after every evaluation of every run (under a file lock: the
runs are separate processes), the plot at most every :data:`PLOT_EVERY` seconds and
when a run or the grid ends, so an interrupted grid leaves its figures as far as it
got.  Resume rules (the ones of ``fixar train``, grid-wide): a folder that holds a grid
or a run is refused unless ``resume`` (the grid's settings must equal the recorded
ones, else the first field that differs is named; finished runs are skipped, runs
with a checkpoint continue from it, runs that never reached their first checkpoint
start again) or ``overwrite`` (the grid's and its runs' own files are removed first).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

from .files import atomic_write, locked
from .params import SpecError, nested
from .spec import Spec

FORMAT = "fixar_gen.experiment"
VERSION = 1
PLOT_EVERY = 60.0       # seconds between two redraws of curves.png while runs go on
GRID_FILES = ("experiment.json", "results.csv", "results.md", "curves.png")
CORE_BACKENDS = ("golden", "pyrtl", "verilator")
BANDS = ("minmax", "std")


class ExperimentError(ValueError):
    """What the user can fix (an option, a folder, a grid that differs): one line."""


@dataclass(frozen=True)
class Variant:
    """A way to train: the float32 agent, or the core with a precision schedule."""

    name: str
    precision: str | None         # numerics.precision on the core; None: float32 agent
    about: str

    def backend(self, core_backend: str) -> str:
        return "float32" if self.precision is None else core_backend

    def spec(self, spec: Spec) -> Spec:
        """``spec`` with this variant's precision schedule, validated as a whole.  The
        float32 agent has none: its spec says fxp32, the schedule that asks nothing of
        the run's length (a run shorter than QAT's delay is fine for it)."""
        precision = self.precision or "fxp32"
        if spec.numerics.precision == precision:
            return spec
        numerics = nested("numerics", lambda: dataclasses.replace(
            spec.numerics, precision=precision))
        return dataclasses.replace(spec, numerics=numerics)


VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("float32", None, "the float32 reference agent (the algorithm's float twin: "
            "rl/float_ddpg.py, rl/float_td3.py)"),
    Variant("qat", "qat", "the core: FXP32, then 16-bit activations after qat_delay"),
    Variant("fxp32", "fxp32", "the core in FXP32 throughout"),
    Variant("fxp16", "fxp16", "the core with 16-bit activations from the start "
            "(FIXAR's ablation)"),
)}


#: ``--variants none``: no training variant, the grid runs the SB3 reference row only
NO_VARIANTS = "none"
#: such a grid's settings record the spec's run settings as the float32 variant's
REFERENCE_SETTINGS = "reference_as_float32"


def parse_variants(text: str) -> list[str]:
    """``float32,qat`` -> the variant names, in order (``none``: no variant, for a grid
    of the SB3 reference row alone); ValueError says what is wrong."""
    if text.strip() == NO_VARIANTS:
        return []
    names = [v.strip() for v in text.split(",")]
    if not text.strip() or any(not n for n in names):
        raise ValueError(f"{text!r}: an empty name (comma-separated, from "
                         f"{', '.join(VARIANTS)})")
    for name in names:
        if name not in VARIANTS:
            raise ValueError(f"{name!r} is not a variant (one of {', '.join(VARIANTS)})")
    for name in names:
        if names.count(name) > 1:
            raise ValueError(f"{name!r} is given twice")
    return names


@dataclass(frozen=True)
class Run:
    variant: str
    seed: int
    spec: Spec
    backend: str
    folder: Path


@dataclass(frozen=True)
class Grid:
    """Variants x seeds of one spec, into ``out``."""

    spec: Spec                    # with --steps applied (each variant sets its precision)
    variants: tuple[str, ...]
    seeds: tuple[int, ...]
    out: Path
    core_backend: str = "golden"
    last: int = 3                 # evaluations averaged into a run's final return
    sb3_python: str | None = None  # the interpreter of the SB3 reference; None: no row
    band: str = "minmax"          # the plot's seed band: minmax or std

    def __post_init__(self) -> None:
        if len(set(self.variants)) != len(self.variants) \
                or not set(self.variants) <= set(VARIANTS):
            raise ExperimentError(f"variants: {list(self.variants)} (each of "
                                  f"{', '.join(VARIANTS)} at most once)")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ExperimentError(f"seeds: {list(self.seeds)} (at least one, each once)")
        if self.core_backend not in CORE_BACKENDS:
            raise ExperimentError(f"--backend {self.core_backend}: not one of "
                                  f"{', '.join(CORE_BACKENDS)}")
        if self.band not in BANDS:
            raise ExperimentError(f"--band {self.band}: not one of {', '.join(BANDS)}")
        if isinstance(self.last, bool) or not isinstance(self.last, int) or self.last < 1:
            raise ExperimentError(f"--last {self.last}: a positive integer")

    def variant_spec(self, name: str) -> Spec:
        return VARIANTS[name].spec(self.spec)

    def runs(self) -> list[Run]:
        """Seed-major (every variant of seed 0 first), so that a grid cut short has
        the same seeds of every variant."""
        out = []
        for seed in self.seeds:
            for name in self.variants:
                spec = self.variant_spec(name)
                spec = dataclasses.replace(spec, env=dataclasses.replace(spec.env, seed=seed))
                out.append(Run(name, seed, spec, VARIANTS[name].backend(self.core_backend),
                               self.out / "runs" / f"{name}-s{seed}"))
        return out

    def reference_runs(self) -> list[tuple[int, Path]]:
        """``(seed, folder)`` of the SB3 reference runs (none without an interpreter)."""
        from .sb3_reference import VARIANT
        if self.sb3_python is None:
            return []
        return [(seed, self.out / "runs" / f"{VARIANT}-s{seed}") for seed in self.seeds]

    def settings(self) -> dict:
        """What decides the grid's runs: the seeds and each variant's run settings
        (those of a run with the spec's own seed; each run's seed is one of ``seeds``)."""
        from .rl.run_settings import run_settings

        def of(name: str) -> dict:
            return run_settings(self.variant_spec(name),
                                VARIANTS[name].backend(self.core_backend))
        settings = {"seeds": list(self.seeds),
                    "variants": {name: of(name) for name in self.variants}}
        if not self.variants:
            # the reference row alone: the spec's settings as the float32 variant would
            # run it (what its runs share with the variants' grids), so that a changed
            # spec or --steps is a changed grid
            settings[REFERENCE_SETTINGS] = of("float32")
        return settings

    def record(self, notes: list[str] = ()) -> dict:
        from .rl.run_settings import settings_digest
        from .sb3_reference import VARIANT
        settings = self.settings()
        return {"format": FORMAT, "version": VERSION, "spec": self.spec.name,
                "env": self.spec.env.id, "total_steps": self.spec.algorithm.total_steps,
                "eval_every": self.spec.algorithm.eval_every,
                "eval_episodes": self.spec.algorithm.eval_episodes, "last": self.last,
                "band": self.band,
                "runs": [{"variant": r.variant, "seed": r.seed,
                          "folder": str(r.folder.relative_to(self.out))}
                         for r in self.runs()]
                + [{"variant": VARIANT, "seed": seed, "folder": str(f.relative_to(self.out))}
                   for seed, f in self.reference_runs()],
                "reference": {"variant": VARIANT, "python": self.sb3_python,
                              "algorithm": self.spec.algorithm.name}
                if self.sb3_python else None,
                "notes": list(notes),
                "settings": settings, "settings_sha256": settings_digest(settings)}


def make_grid(spec: Spec, variants: list[str], seeds: list[int], out: Path, *,
              steps: int | None = None, core_backend: str = "golden",
              last: int = 3, sb3_python: str | None = None, band: str = "minmax"
              ) -> Grid:
    """The grid, every variant's spec checked: a run too short for a variant's QAT
    delay or the warm-up is refused naming ``--steps`` (or ``--variants`` when the
    spec's own length is used)."""
    from .rl.trainer import with_run_length
    grid = Grid(spec, tuple(variants), tuple(seeds), Path(out), core_backend, last,
                sb3_python, band)                    # checks the options first
    for name in variants:
        try:
            with_run_length(VARIANTS[name].spec(spec), total_steps=steps)
        except SpecError as err:
            where = f"--steps {steps}: variant {name}" if steps is not None \
                else f"--variants {name}"
            raise ExperimentError(f"{where}: {err} (a longer run, or change the spec)") \
                from None
    if steps is None:
        return grid
    # each variant sets its own precision; in FXP32 the base asks nothing of the length
    try:
        base = with_run_length(VARIANTS["fxp32"].spec(spec), total_steps=steps)
    except SpecError as err:
        raise ExperimentError(f"--steps {steps}: {err} (a longer run, or change the "
                              "spec)") from None
    return dataclasses.replace(grid, spec=base)


def with_reference(grid: Grid, python_option: str | None, enabled: bool = True
                   ) -> tuple[Grid, str | None]:
    """The grid with its SB3 reference row when an interpreter for it exists and the
    spec can be expressed in SB3's DDPG or TD3; else the grid without it and the line
    that says why (a named skip)."""
    from .sb3_reference import interpreter, arguments
    what = f"Stable-Baselines3 {grid.spec.algorithm.name.upper()} reference"
    if not enabled:
        return _something_to_run(grid, f"{what}: not run (--no-sb3)")
    python, reason = interpreter(python_option)
    if python is not None:
        args = arguments(grid.spec)
        if isinstance(args, str):
            reason = args
        else:
            return dataclasses.replace(grid, sb3_python=python), None
    return _something_to_run(grid, f"{what}: not run: {reason}")


def _something_to_run(grid: Grid, skipped: str) -> tuple[Grid, str]:
    """A grid without its reference row, refused when it has no variant either."""
    if not grid.variants:
        raise ExperimentError(f"--variants {NO_VARIANTS}: the grid would run nothing: "
                              f"{skipped}")
    return grid, skipped


REFERENCE_OUTPUTS = ("evals.csv", "summary.json", "sb3.log")


def _reference_outputs(folder: Path) -> list[str]:
    return [name for name in REFERENCE_OUTPUTS if (folder / name).exists()]


def _remove_reference_outputs(folder: Path) -> None:
    for name in _reference_outputs(folder):
        (folder / name).unlink()


# ------------------------------------------------------------------ claiming the folder

def _found_outputs(grid: Grid) -> list[str]:
    from .rl.trainer import run_outputs
    found = [name for name in GRID_FILES if (grid.out / name).exists()]
    for run in grid.runs():
        if run_outputs(run.folder):
            found.append(str(run.folder.relative_to(grid.out)))
    for _, folder in grid.reference_runs():
        if _reference_outputs(folder):
            found.append(str(folder.relative_to(grid.out)))
    return found


def read_record(out: Path) -> dict:
    path = Path(out) / "experiment.json"
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExperimentError(f"{out}: no experiment to resume (no experiment.json; "
                              "start it without --resume)") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ExperimentError(f"{path}: unreadable ({exc})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ExperimentError(f"{path}: not an experiment record (no \"format\": "
                              f"\"{FORMAT}\")")
    if record.get("version") != VERSION:
        raise ExperimentError(f"{path}: written by unknown version "
                              f"{record.get('version')!r} (this fixar_gen reads {VERSION})")
    return record


def _check_same_grid(grid: Grid, record: dict) -> None:
    from .rl.run_settings import first_difference, settings_digest
    stored, digest = record.get("settings"), record.get("settings_sha256")
    if not isinstance(stored, dict) or settings_digest(stored) != digest:
        raise ExperimentError(f"{grid.out / 'experiment.json'}: the recorded settings do "
                              "not match their digest (the file was edited or damaged)")
    now = grid.settings()
    if settings_digest(now) == digest:
        return
    before, after = list(stored.get("variants", {})), list(now["variants"])
    if before != after:
        difference = f"variants: {','.join(before)} in the grid, {','.join(after)} now"
    else:
        difference = first_difference(stored, now) or "settings differ"
    difference = difference.replace(" in the checkpoint,", " in the grid,")
    raise ExperimentError(f"{grid.out}: --resume with other settings than the grid's: "
                          f"{difference} (resume with the same spec and options, or start "
                          "again with --overwrite)")


def prepare(grid: Grid, *, resume: bool = False, overwrite: bool = False,
            notes: list[str] = ()) -> tuple[list[str], list[str]]:
    """Claim ``grid.out`` by the resume rules (module docstring) and write
    experiment.json (with ``notes``, lines for under the tables); the plan of each run,
    in :meth:`Grid.runs` order: ``done`` (finished: skipped), ``resume`` (from its
    checkpoint) or ``start``; and of each reference run (``done`` or ``start``)."""
    from .rl.trainer import remove_run_outputs, run_outputs
    if resume and overwrite:
        raise ExperimentError("--resume and --overwrite: give one of them")
    if resume:
        _check_same_grid(grid, read_record(grid.out))
    else:
        found = _found_outputs(grid)
        if found and not overwrite:
            shown = ", ".join(found[:4]) + (f" and {len(found) - 4} more"
                                            if len(found) > 4 else "")
            raise ExperimentError(f"{grid.out} already holds an experiment ({shown}); "
                                  "continue it with --resume, or replace it with "
                                  "--overwrite")
        for name in GRID_FILES:
            (grid.out / name).unlink(missing_ok=True)
        for run in grid.runs():
            remove_run_outputs(run.folder)
        for _, folder in grid.reference_runs():
            _remove_reference_outputs(folder)
    plan = []
    for run in grid.runs():
        if (run.folder / "summary.json").is_file():
            plan.append("done")
        elif (run.folder / "checkpoint").is_dir():
            plan.append("resume")
        else:
            if run_outputs(run.folder):      # stopped before its first checkpoint
                remove_run_outputs(run.folder)
            plan.append("start")
    reference = []
    for _, folder in grid.reference_runs():
        if (folder / "summary.json").is_file():
            reference.append("done")
        else:                               # no checkpoint: it starts again
            _remove_reference_outputs(folder)
            reference.append("start")
    grid.out.mkdir(parents=True, exist_ok=True)
    atomic_write(grid.out / "experiment.json",
                  json.dumps(grid.record(notes), indent=1) + "\n")
    update_outputs(grid.out, plot=True)
    return plan, reference


# ------------------------------------------------------------------------ the outputs

def _locked(out: Path):
    """One writer of the grid's outputs at a time (the runs are separate processes)."""
    return locked(out / ".outputs.lock")


def statuses(out: Path, record: dict) -> list:
    from .rl.grid_results import RunRef, run_status
    return [run_status(RunRef(r["variant"], r["seed"], Path(out) / r["folder"],
                              record["total_steps"]), record["last"])
            for r in record["runs"]]


def update_outputs(out: Path, plot: bool | None = None) -> str | None:
    """Rewrite results.csv and results.md from the runs' files; redraw curves.png when
    ``plot`` is True, or (``None``) when it is older than :data:`PLOT_EVERY` seconds.
    Returns why the plot could not be drawn (matplotlib missing), else None."""
    from .rl.grid_results import results_csv, results_markdown, variant_rows
    out = Path(out)
    with _locked(out):
        record = json.loads((out / "experiment.json").read_text(encoding="utf-8"))
        variants = list(record["settings"]["variants"])
        if record.get("reference"):
            variants.append(record["reference"]["variant"])
        found = statuses(out, record)
        atomic_write(out / "results.csv", results_csv(variant_rows(found, variants)))
        atomic_write(out / "results.md", results_markdown(
            f"Experiment {record['spec']}: {record['env']}", _about(record), found,
            variants, record["last"], record.get("notes", [])))
        png = out / "curves.png"
        if plot is None:
            plot = not png.exists() or time.time() - png.stat().st_mtime > PLOT_EVERY
        if not plot:
            return None
        return write_curves(out, found, variants, record)


def write_curves(out: Path, found: list, variants: list[str], record: dict) -> str | None:
    """``out``/curves.png of the runs ``found`` (written under a temporary name, then
    renamed); ``record`` gives the title and the band.  Returns why the plot could not
    be drawn (matplotlib missing), else None."""
    from .rl.grid_results import curves, switch_steps
    from .rl.plots import PlotError, plot_grid
    tmp = out / f".curves-{os.getpid()}.tmp.png"
    try:
        plot_grid(curves(found, variants), switch_steps(found), tmp,
                  title=f"{record['spec']} ({record['env']})",
                  band=record.get("band", "minmax"))
    except PlotError as exc:
        return str(exc)
    os.replace(tmp, out / "curves.png")
    return None


def _about(record: dict) -> list[str]:
    seeds, variants = record["settings"]["seeds"], record["settings"]["variants"]
    lines = [f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''} "
             f"({', '.join(map(str, seeds))}) x "
             + (f"{len(variants)} variant{'s' if len(variants) != 1 else ''}" if variants
                else "the reference row alone")
             + f", {record['total_steps']:,} steps each; "
             + (f"evaluation every {record['eval_every']:,} steps and at the end"
                if record["eval_every"] else "evaluation at the end only")
             + f", {record['eval_episodes']} deterministic episode"
             f"{'s' if record['eval_episodes'] != 1 else ''} each.", ""]
    for name, settings in variants.items():
        about = VARIANTS[name].about if name in VARIANTS else name
        lines.append(f"- {name}: {about} (backend {settings['backend']})")
    if record.get("reference"):
        from .sb3_reference import about
        algorithm = record["reference"].get("algorithm", "ddpg")   # older grids: DDPG only
        lines.append(f"- {record['reference']['variant']}: {about(algorithm)}, run by "
                     f"{record['reference']['python']}")
    return lines


# ------------------------------------------------------------------------ the running

@dataclass(frozen=True)
class RunJob:
    grid_out: str
    spec: Spec
    backend: str
    folder: str
    plan: str                   # start | resume
    checkpoint_every: int
    keep_checkpoints: int = 1


@dataclass(frozen=True)
class ReferenceJob:
    grid_out: str
    python: str
    arguments: tuple[str, ...]
    seed: int
    folder: str


def run_one(job: RunJob | ReferenceJob) -> dict:
    """One run of the grid (in a worker): train it, updating the grid's table after
    every evaluation; its summary, or ``{"error": message}`` for what the user can fix."""
    if isinstance(job, ReferenceJob):
        return _run_reference(job)
    from .rl.checkpoint import CheckpointError
    from .rl.env import EnvError
    from .rl.trainer import RunExists, Trainer
    try:
        trainer = Trainer(job.spec, backend=job.backend, out=job.folder,
                          checkpoint_every=job.checkpoint_every, progress=False,
                          on_evaluation=lambda: update_outputs(Path(job.grid_out)),
                          keep_checkpoints=job.keep_checkpoints)
        summary = trainer.run(resume=job.plan == "resume")
    except (EnvError, CheckpointError, RunExists) as exc:
        return {"error": str(exc), "out": job.folder}
    update_outputs(Path(job.grid_out), plot=True)
    return {**summary, "out": job.folder}


def _run_reference(job: ReferenceJob) -> dict:
    from .sb3_reference import run
    folder = Path(job.folder)
    problem = run(job.python, list(job.arguments), job.seed, folder,
                  on_evaluation=lambda: update_outputs(Path(job.grid_out)))
    update_outputs(Path(job.grid_out), plot=True)
    if problem:
        return {"error": problem, "out": job.folder}
    return {**json.loads((folder / "summary.json").read_text(encoding="utf-8")),
            "out": job.folder}


def run_grid(grid: Grid, *, resume: bool = False, overwrite: bool = False,
             checkpoint_every: int = 5_000, workers: int | None = None,
             engine: str = "auto", notes: list[str] = (), keep_checkpoints: int = 1
             ) -> tuple[list[dict], str, str | None]:
    """Run the grid (or what is left of it), seed by seed, each seed's reference run
    after its variants (an environment that cannot be created raises
    :class:`fixar_gen.rl.env.EnvError` before anything is written).  Returns the
    results of the runs (finished ones skipped are read from their summary.json, with
    ``"skipped": True``), the engine, and why the plot is missing (or None)."""
    from .rl.env import make_env
    from .sb3_reference import VARIANT, arguments
    from .sweep import run_parallel
    make_env(grid.spec).close()      # a missing extra is one error, before the folder
    plan, reference_plan = prepare(grid, resume=resume, overwrite=overwrite, notes=notes)
    args = arguments(grid.spec) if grid.sb3_python else None
    entries = []                    # (seed, variant, folder, plan, job)
    for run, todo in zip(grid.runs(), plan):
        entries.append((run.seed, run.variant, run.folder, todo,
                        RunJob(str(grid.out), run.spec, run.backend, str(run.folder), todo,
                               checkpoint_every, keep_checkpoints)))
    for (seed, folder), todo in zip(grid.reference_runs(), reference_plan):
        entries.append((seed, VARIANT, folder, todo,
                        ReferenceJob(str(grid.out), grid.sb3_python, tuple(args), seed,
                                     str(folder))))
    order = {seed: i for i, seed in enumerate(grid.seeds)}
    entries.sort(key=lambda e: order[e[0]])          # stable: variants, then reference
    jobs = [e[4] for e in entries if e[3] != "done"]
    results, used = run_parallel(run_one, jobs, workers=workers, engine=engine,
                                 what=f"experiment {grid.spec.name}", unit="runs") \
        if jobs else ([], "none")
    done = iter(results)
    out = []
    for seed, variant, folder, todo, _ in entries:
        if todo == "done":
            summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
            result = {**summary, "out": str(folder), "skipped": True}
        else:
            result = next(done)
        out.append({**result, "variant": variant, "seed": seed})
    problem = update_outputs(grid.out, plot=True)
    return out, used, problem
