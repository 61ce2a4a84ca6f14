"""Design-space exploration (`fixar sweep`) and many independent runs at once
(`fixar train --seeds`).

This module owns the sweep's axes (:data:`AXES`, parsed from ``--over`` by
:func:`parse_over`), the evaluation of one design point (:func:`evaluate_point`: the
cycle models through :func:`fixar_gen.estimate.estimate`, first the generated RTL's
exact one, which ranks the points, then the target schedule of :mod:`fixar_gen.perf`,
a schedule the RTL does not run; and the resource model of :mod:`fixar_gen.resources`
for the generated design: its memory inventory and its own vector lanes;
a point that does not fit the board is kept, *dropped*, with the reason), the table (CSV and Markdown), the Pareto plot, and
:func:`run_parallel`, the one mechanism that spreads independent jobs over workers:

- ``ray``: Ray tasks (the ``scale`` extra).  A local Ray is started on demand with
  ``--jobs`` CPUs and shut down afterwards; with ``RAY_ADDRESS`` set, the jobs go to
  that cluster instead.
- ``local``: a ``concurrent.futures`` process pool of ``--jobs`` workers (in-process
  when ``--jobs 1``).  The workers are spawned, not forked, and start with one BLAS
  thread each (:func:`worker_environment`) unless the user set the thread variables:
  a forked worker would inherit numpy's BLAS thread pool, one thread per core, and
  ``--jobs`` workers of one thread per core each oversubscribe the machine.
- ``auto``: Ray when it is installed, else local.

Every job is a pure function of its arguments and results come back in submission
order, so the table is the same whichever engine ran it.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import io
import itertools
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .boards import BOARDS
from .params import SpecError
from .progress import Progress
from .spec import POLICIES, Spec

ENGINES = ("auto", "ray", "local")
MODES = ("fxp32", "fxp16")


class SweepError(ValueError):
    """A bad ``--over``/``--seeds`` value or a missing engine: one line for the user."""


# ---------------------------------------------------------------------------- the axes

@dataclass(frozen=True)
class Axis:
    name: str
    help: str
    parse: Callable[[str], object]
    allowed: str

    def values(self, text: str) -> tuple:
        items = [v.strip() for v in text.split(",")]
        if not text.strip() or any(not v for v in items):
            raise SweepError(f"--over {self.name}={text}: empty value ({self.allowed}, "
                             f"comma-separated)")
        out = []
        for item in items:
            try:
                value = self.parse(item)
            except (ValueError, TypeError):
                raise SweepError(f"--over {self.name}={text}: {item!r} is not allowed "
                                 f"({self.allowed})") from None
            if value in out:
                raise SweepError(f"--over {self.name}={text}: {item!r} is given twice")
            out.append(value)
        return tuple(out)


def _int_in(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise ValueError(text)
        return value
    return parse


def _array(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)", text)
    if not match:
        raise ValueError(text)
    rows, cols = int(match[1]), int(match[2])
    if not (1 <= rows <= 256 and 1 <= cols <= 256):
        raise ValueError(text)
    return rows, cols


def _policy(text: str) -> str:
    if text not in POLICIES:
        raise ValueError(text)
    return text


def _clock(text: str) -> float:
    value = float(text)
    if not 1.0 <= value <= 1_000.0 or math.isnan(value):
        raise ValueError(text)
    return value


AXES: dict[str, Axis] = {a.name: a for a in (
    Axis("cores", "AAP cores (hardware.cores)", _int_in(1, 64), "integers from 1 to 64"),
    Axis("array", "PE array of each core, RxC (hardware.array)", _array,
         "RxC with R and C from 1 to 256, e.g. 16x16"),
    Axis("policy", "training parallelism (parallelism.training)", _policy,
         f"one of {', '.join(POLICIES)}"),
    Axis("inference", "inference parallelism (parallelism.inference)", _policy,
         f"one of {', '.join(POLICIES)}"),
    Axis("batch", "samples per update (algorithm.batch_size)", _int_in(1, 65_536),
         "integers from 1 to 65536"),
    Axis("clock", "core clock in MHz (hardware.clock_mhz)", _clock,
         "numbers from 1 to 1000"),
    Axis("lanes", "vector lanes per core (hardware.vector_lanes)", _int_in(1, 256),
         "integers from 1 to 256"),
)}


def parse_over(items: Sequence[str]) -> dict[str, tuple]:
    """``["cores=1,2,4", "array=8x8,16x16"]`` -> ``{"cores": (1, 2, 4), "array": ...}``,
    in the order given; :class:`SweepError` names the bad item and what is allowed."""
    over: dict[str, tuple] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep:
            raise SweepError(f"--over {item}: expected AXIS=V1,V2,... (axes: "
                             f"{', '.join(AXES)})")
        if name not in AXES:
            close = difflib.get_close_matches(name, AXES, n=1)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise SweepError(f"--over {item}: unknown axis '{name}' ({hint}axes: "
                             f"{', '.join(AXES)})")
        if name in over:
            raise SweepError(f"--over {item}: axis '{name}' is given twice")
        over[name] = AXES[name].values(text)
    return over


@dataclass(frozen=True)
class Point:
    """One design point: the values of the swept axes (others stay the spec's)."""

    values: tuple[tuple[str, object], ...]

    def get(self, axis: str, default=None):
        return dict(self.values).get(axis, default)

    @property
    def label(self) -> str:
        parts = []
        for name, value in self.values:
            shown = f"{value[0]}x{value[1]}" if name == "array" else f"{value:g}" \
                if isinstance(value, float) else str(value)
            parts.append(f"{name}={shown}")
        return " ".join(parts) or "spec"

    def apply(self, spec: Spec, target: str | None = None) -> Spec:
        """The spec at this point (validated: raises SpecError)."""
        hw, algo, par = spec.hardware, spec.algorithm, spec.parallelism
        v = dict(self.values)
        hw = dataclasses.replace(hw, cores=v.get("cores", hw.cores),
                                 array=v.get("array", hw.array),
                                 vector_lanes=v.get("lanes", hw.vector_lanes),
                                 clock_mhz=v.get("clock", hw.clock_mhz))
        algo = dataclasses.replace(algo, batch_size=v.get("batch", algo.batch_size))
        par = dataclasses.replace(par, training=v.get("policy", par.training),
                                  inference=v.get("inference", par.inference))
        return dataclasses.replace(spec, hardware=hw, algorithm=algo, parallelism=par,
                                   target=spec.target if target is None else target)


def points(over: dict[str, tuple]) -> list[Point]:
    """Every combination, the first axis varying slowest."""
    names = list(over)
    return [Point(tuple(zip(names, combo))) for combo in itertools.product(*over.values())]


# ------------------------------------------------------------------- one design point

def evaluate_point(spec: Spec, point: Point, board_name: str | None) -> dict:
    """The row of one design point: its resources and its fit (the generated design's,
    :func:`generated_resources`), and, when it fits, the
    modeled training and inference performance in FXP32 and FXP16: ``MODE_rtl_*`` from
    the generated RTL's exact cycle model, ``MODE_target_*`` from the target schedule
    (``perf.Timing``), which the RTL does not run."""
    from .estimate import estimate, precision_for
    from .perf import choose_policy

    board = BOARDS.get(board_name) if board_name else None
    row: dict = {"point": point.label}
    for axis in AXES:
        row[axis] = point.get(axis)
    reason = None
    try:
        at = point.apply(spec)
    except SpecError as err:
        reason = str(err)
        try:        # the same point without the board check, for its resource figures
            at = point.apply(spec, target="sim")
        except SpecError:
            at = None
    hw = (at or spec).hardware
    row.update(cores=hw.cores, array=f"{hw.rows}x{hw.cols}", pes=hw.pe_count,
               lanes=hw.lanes, clock=hw.clock_mhz,
               policy=(at or spec).parallelism.training,
               inference=(at or spec).parallelism.inference,
               batch=(at or spec).algorithm.batch_size)
    if at is not None:
        res, fixar_lane = generated_resources(at, board)
        row.update(res.total.as_dict())
        row["lane_basis"] = res.lane_basis
        row["luts_fixar_lane"] = fixar_lane.total.luts
        if res.fit is not None:
            row.update({f"{r}_pct": round(100 * f, 1)
                        for r, f in res.fit.fraction(res.total).items()})
            row["luts_pct_fixar_lane"] = round(
                100 * fixar_lane.fit.fraction(fixar_lane.total)["luts"], 1)
            if reason is None and not res.fits:
                also = "; it would with FIXAR's 5,500-LUT lanes" if fixar_lane.fits else ""
                reason = (f"does not fit the {res.fit.board} after the shell margin: "
                          f"{', '.join(res.problems())} (the generated design{also})")
    row["status"] = "dropped" if reason else "ok"
    row["reason"] = reason or ""
    if reason:
        return row
    report = estimate(at)
    for mode in MODES:
        m = report[mode]
        rtl = m["rtl"]
        row.update(_cycle_columns(f"{mode}_rtl", rtl, rtl["train_ips"] / m["peak_train_ips"]))
        row[f"{mode}_peak_ips"] = round(m["peak_train_ips"], 1)
        row.update(_cycle_columns(f"{mode}_target", m, m["pe_utilization"]))
    if at.parallelism.training == "auto":
        row["policy"] = "auto:" + choose_policy(at, "train", precision_for(at, "fxp16"))
    return row


def generated_resources(spec: Spec, board) -> tuple:
    """(the generated design's resource report, the same with FIXAR's lanes): the
    memories of the design ``fixar generate`` builds (its inventory as block RAM) and its
    vector lanes as the calibrated lane model counts them, as ``fixar estimate`` reports
    them; the second counts FIXAR's 5,500-LUT lane instead (a reference column, not the
    fit)."""
    from .estimate import lane_estimate
    from .memory_fit import generated_inventory
    from .resources import estimate_resources
    inventory = generated_inventory(spec)
    return (estimate_resources(spec, board=board, inventory=inventory,
                               lane=lane_estimate(spec)),
            estimate_resources(spec, board=board, inventory=inventory))


def _cycle_columns(prefix: str, figures: dict, pe_util: float) -> dict:
    """One cycle model's columns: training IPS, cycles per update, PE utilisation,
    batch-1 inference IPS and the unit with the most cycles (``array 59%``)."""
    cycles = figures["train_cycles_per_update"]
    unit, most = max(figures["train_cycles_by_unit"].items(), key=lambda kv: kv[1])
    return {f"{prefix}_train_ips": round(figures["train_ips"], 1),
            f"{prefix}_cycles": cycles,
            f"{prefix}_pe_util": round(pe_util, 4),
            f"{prefix}_infer_ips": round(figures["infer_ips_batch1"], 1),
            f"{prefix}_bound": f"{unit} {most / cycles:.0%}"}


def _evaluate(job: tuple[Spec, Point, str | None]) -> dict:
    return evaluate_point(*job)


# -------------------------------------------------------------------------- the engines

def ray_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("ray") is not None


def resolve_engine(engine: str) -> str:
    if engine not in ENGINES:
        raise SweepError(f"--engine {engine}: not one of {', '.join(ENGINES)}")
    if engine == "auto":
        return "ray" if ray_available() else "local"
    if engine == "ray" and not ray_available():
        raise SweepError("--engine ray: Ray is not installed (pip install -e \".[scale]\", "
                         "or --engine local)")
    return engine


def default_jobs() -> int:
    return max(1, os.cpu_count() or 1)


BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def worker_environment(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The variables a local pool worker starts with on top of ``environ`` (default
    ``os.environ``): one BLAS thread (OpenBLAS, OpenMP, MKL) when the user set none of
    :data:`BLAS_THREAD_VARIABLES`; nothing when they set any of them (their choice
    stands whole: OpenBLAS reads ``OMP_NUM_THREADS`` when ``OPENBLAS_NUM_THREADS`` is
    unset, so filling in the others would override it)."""
    environ = os.environ if environ is None else environ
    if any(name in environ for name in BLAS_THREAD_VARIABLES):
        return {}
    return {name: "1" for name in BLAS_THREAD_VARIABLES}


@contextmanager
def _environment(extra: dict[str, str]) -> Iterator[None]:
    """``os.environ`` with ``extra`` while the block runs (spawned children copy it),
    restored afterwards; BLAS in this process is already loaded and keeps its threads."""
    saved = {name: os.environ.get(name) for name in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_parallel(fn: Callable, jobs: Iterable, *, workers: int | None = None,
                 engine: str = "auto", what: str = "", unit: str = "jobs"
                 ) -> tuple[list, str]:
    """``[fn(j) for j in jobs]`` spread over ``workers`` on the engine; the results in
    the order of ``jobs``, and the engine that ran them.  ``fn`` must be a module-level
    function (it is sent to other processes).  ``what`` names the work in the progress
    line on stderr (:mod:`fixar_gen.progress`: jobs done, elapsed, rate).  Local
    workers are spawned with :func:`worker_environment` (one BLAS thread each unless
    the user chose); one worker runs the jobs in this process, with its threads."""
    jobs = list(jobs)
    workers = default_jobs() if workers is None else workers
    if workers < 1:
        raise SweepError(f"--jobs {workers}: at least 1")
    engine = resolve_engine(engine)
    with Progress(what or fn.__name__, total=len(jobs), unit=unit) as progress:
        if engine == "ray":
            return _run_ray(fn, jobs, workers, progress), "ray"
        if workers == 1 or len(jobs) <= 1:
            return _counted((fn(j) for j in jobs), progress), "local"
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        with _environment(worker_environment()), ProcessPoolExecutor(
                max_workers=min(workers, len(jobs)),
                mp_context=multiprocessing.get_context("spawn")) as pool:
            chunk = max(1, len(jobs) // (4 * workers))
            return _counted(pool.map(fn, jobs, chunksize=chunk), progress), "local"


def _counted(results: Iterable, progress: Progress) -> list:
    out = []
    for result in results:
        out.append(result)
        progress.update(len(out))
    return out


def _run_ray(fn: Callable, jobs: list, workers: int, progress: Progress) -> list:
    import ray

    started = False
    if not ray.is_initialized():
        if os.environ.get("RAY_ADDRESS"):
            ray.init(log_to_driver=False)                 # an existing cluster
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False,
                     configure_logging=False)
        started = True
    try:
        task = ray.remote(num_cpus=1)(fn)
        refs = [task.remote(j) for j in jobs]
        pending = list(refs)
        while pending:
            _, pending = ray.wait(pending, num_returns=1)
            progress.update(len(refs) - len(pending))
        return ray.get(refs)
    finally:
        if started:
            ray.shutdown()


# ---------------------------------------------------------------------------- the sweep

@dataclass(frozen=True)
class SweepResult:
    spec: str
    board: str | None
    over: dict[str, tuple]
    rows: list[dict]
    engine: str

    @property
    def kept(self) -> list[dict]:
        return [r for r in self.rows if r["status"] == "ok"]

    @property
    def dropped(self) -> list[dict]:
        return [r for r in self.rows if r["status"] == "dropped"]

    def best(self, mode: str = "fxp16") -> dict | None:
        """The fitting point with the highest training IPS of the generated RTL in
        ``mode`` (the fewest DSPs, then the first, among equals)."""
        kept = self.kept
        if not kept:
            return None
        return max(kept, key=lambda r: (r[ranked(mode)], -r["dsps"],
                                        -self.rows.index(r)))


def sweep(spec: Spec, over: dict[str, tuple], *, board: str | None = None,
          workers: int | None = None, engine: str = "auto") -> SweepResult:
    """Evaluate every point of ``over`` on ``spec``; ``board`` defaults to the spec's
    target board (none for ``sim``: nothing is dropped for resources)."""
    if board is None:
        board = spec.target if spec.target in BOARDS else None
    elif board not in BOARDS:
        raise SweepError(f"--board {board}: not one of {', '.join(BOARDS)}")
    pts = points(over)
    rows, used = run_parallel(_evaluate, [(spec, p, board) for p in pts], workers=workers,
                              engine=engine, what=f"sweep {spec.name}", unit="points")
    mark_pareto(rows)
    return SweepResult(spec.name, board, over, rows, used)


def ranked(mode: str) -> str:
    """The column points are ranked by: the generated RTL's training IPS in ``mode``."""
    return f"{mode}_rtl_train_ips"


def pareto_front(rows: Sequence[dict], ips: str, cost: str) -> list[int]:
    """Indices (into ``rows``) of the fitting points no other fitting point beats: at
    least as fast for no more ``cost``, strictly better in one."""
    kept = [(i, r) for i, r in enumerate(rows) if r["status"] == "ok"]
    front = []
    for i, r in kept:
        dominated = any(o[ips] >= r[ips] and o[cost] <= r[cost]
                        and (o[ips] > r[ips] or o[cost] < r[cost]) for _, o in kept)
        if not dominated:
            front.append(i)
    return front


def mark_pareto(rows: list[dict]) -> None:
    """``pareto``: the fronts (``fxp16/DSP`` ...) each fitting point is on, by the
    generated RTL's training IPS."""
    fronts = {f"{mode}/{LABEL[cost]}": set(pareto_front(rows, ranked(mode), cost))
              for mode in MODES for cost in ("dsps", "luts")}
    for i, row in enumerate(rows):
        row["pareto"] = " ".join(name for name, members in fronts.items() if i in members)


LABEL = {"dsps": "DSP", "luts": "LUT"}

COLUMNS = ("point", "status", "reason", "cores", "array", "pes", "lanes", "policy",
           "inference",
           "batch", "clock", "luts", "ffs", "dsps", "bram36", "uram", "luts_pct", "ffs_pct",
           "dsps_pct", "bram36_pct", "uram_pct", "lane_basis", "luts_fixar_lane",
           "luts_pct_fixar_lane",
           *(f"{mode}_{model}_{k}" for mode in MODES for model in ("rtl", "target")
             for k in ("train_ips", "cycles", "pe_util", "infer_ips", "bound")),
           *(f"{mode}_peak_ips" for mode in MODES),
           "pareto")


def csv_text(result: SweepResult) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore",
                            lineterminator="\n")
    writer.writeheader()
    for row in result.rows:
        writer.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in COLUMNS})
    return out.getvalue()


def _num(value, fmt: str = ",.0f") -> str:
    return "" if value is None or value == "" else format(value, fmt)


def markdown(result: SweepResult) -> str:
    axes = " ".join(f"{k}={','.join(_axis_text(k, v) for v in vs)}"
                    for k, vs in result.over.items())
    board = result.board or "none (sim target: no resource limit)"
    lines = [f"# Sweep of {result.spec}", "",
             f"Axes: `{axes}`; board: {board}; {len(result.rows)} points, "
             f"{len(result.kept)} fit, {len(result.dropped)} dropped. Modeled: the "
             "generated RTL's own cycle model (exact against the simulated RTL; it ranks "
             "the points, the Pareto fronts and the best point), then the target "
             "schedule (`perf.Timing`), a schedule the RTL does not run, and the resource "
             "model (fixar_gen/resources.py) of the generated design, as `fixar estimate` "
             "counts it: its memory inventory as block RAM and its vector lanes by the "
             "calibrated model of the generated lane (the last column: the LUTs the "
             "design would take with FIXAR's 5,500-LUT lanes, for reference); IPS = "
             "samples per second through complete updates (TD3's averaged over its policy "
             "delay), accelerator only.", "",
             "| point | status | PEs | lanes per core | DSP | LUT | BRAM36 | URAM "
             "| RTL FXP32 train IPS "
             "| RTL FXP16 train IPS | RTL FXP16 PE util | RTL inference IPS (batch 1) "
             "| RTL FXP16 cycles bound by | target schedule FXP16 train IPS (not run by "
             "the RTL) | Pareto | LUT % with FIXAR's lanes |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---:|"]
    for r in result.rows:
        status = "fits" if r["status"] == "ok" else f"dropped: {r['reason']}"
        util = ("" if r.get("fxp16_rtl_pe_util") is None
                else f"{r['fxp16_rtl_pe_util']:.1%}")
        chose = f" ({r['policy'].replace(':', ' chose ')})" if ":" in r["policy"] else ""
        lines.append(
            f"| {r['point']}{chose} | {status} | {r['pes']:,} | {r['lanes']} | "
            f"{_num(r.get('dsps'))} | {_num(r.get('luts'))} | {_num(r.get('bram36'))} | "
            f"{_num(r.get('uram'))} | {_num(r.get('fxp32_rtl_train_ips'))} | "
            f"{_num(r.get('fxp16_rtl_train_ips'))} | {util} | "
            f"{_num(r.get('fxp16_rtl_infer_ips'))} | {r.get('fxp16_rtl_bound', '')} | "
            f"{_num(r.get('fxp16_target_train_ips'))} | {r.get('pareto', '')} | "
            f"{_num(r.get('luts_pct_fixar_lane'), '.1f')} |")
    best = result.best()
    if best is not None:
        lines += ["", f"Best fitting point (the generated RTL's FXP16 training IPS): "
                  f"**{best['point']}** (training policy {best['policy']}): "
                  f"{best['fxp16_rtl_train_ips']:,.0f} IPS, "
                  f"{best['fxp16_rtl_pe_util']:.1%} of its FXP16 peak "
                  f"({best['fxp16_peak_ips']:,.0f}), {best['dsps']:,} DSP48E2; the target "
                  f"schedule, which the RTL does not run, models "
                  f"{best['fxp16_target_train_ips']:,.0f} IPS there."]
    return "\n".join(lines) + "\n"


def _axis_text(axis: str, value) -> str:
    if axis == "array":
        return f"{value[0]}x{value[1]}"
    return f"{value:g}" if isinstance(value, float) else str(value)


class PlotUnavailable(RuntimeError):
    """matplotlib is missing."""


def plot(result: SweepResult, path: Path) -> Path:
    """Training IPS against DSPs and against LUTs, FXP32 and FXP16: every fitting point,
    its Pareto front, dropped points (grey x at their modeled resources) and the board's
    usable limit."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotUnavailable("the Pareto plot needs matplotlib: pip install -e "
                              "\".[plot]\" (the CSV and Markdown tables are written "
                              "without it)") from None
    board = BOARDS.get(result.board) if result.board else None
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), squeeze=False)
    for i, mode in enumerate(MODES):
        for j, cost in enumerate(("dsps", "luts")):
            ax = axes[i][j]
            ips = ranked(mode)
            kept = [r for r in result.rows if r["status"] == "ok"]
            ax.scatter([r[cost] for r in kept], [r[ips] for r in kept], s=22,
                       color="tab:blue", label="fits", zorder=3)
            front = sorted((result.rows[k] for k in pareto_front(result.rows, ips, cost)),
                           key=lambda r: r[cost])
            if front:
                ax.step([r[cost] for r in front], [r[ips] for r in front], where="post",
                        color="tab:orange", label="Pareto front", zorder=2)
                same: dict[tuple, list[str]] = {}
                for r in front:          # points with equal figures share one label
                    same.setdefault((r[cost], r[ips]), []).append(r["point"])
                for (x, y), labels in same.items():
                    more = f" (+{len(labels) - 1} equal)" if len(labels) > 1 else ""
                    ax.annotate(labels[0] + more, (x, y), fontsize=7,
                                textcoords="offset points", xytext=(4, -10))
            dropped = [r for r in result.rows if r["status"] != "ok" and r.get(cost)]
            if dropped:
                ax.scatter([r[cost] for r in dropped], [0] * len(dropped), marker="x",
                           color="grey", label="dropped (does not fit)", zorder=3)
            if board is not None:
                ax.axvline(board.usable(cost), color="tab:red", linestyle="--",
                           label=f"{board.name} usable")
            ax.set_xlabel(f"{LABEL[cost]} (modeled)")
            ax.set_ylabel(f"{mode.upper()} training IPS (the generated RTL's cycles)")
            ax.grid(alpha=0.3)
            if i == 0 and j == 0:
                ax.legend(fontsize=8)
    fig.suptitle(f"fixar sweep {result.spec}: the generated RTL's training IPS vs resources")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_outputs(result: SweepResult, out: Path) -> tuple[list[Path], str | None]:
    """sweep.csv, sweep.md and pareto.png in ``out``; the files written and, when the
    plot could not be drawn, why."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in (("sweep.csv", csv_text(result)), ("sweep.md", markdown(result))):
        (out / name).write_text(text)
        written.append(out / name)
    try:
        written.append(plot(result, out / "pareto.png"))
        problem = None
    except PlotUnavailable as exc:
        problem = str(exc)
    return written, problem


# --------------------------------------------------------------------- many seeds at once

def parse_seeds(text: str) -> list[int]:
    """``0-4`` / ``0,3,7`` / ``0-2,10`` -> the seeds, in order, without repeats."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        match = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not match:
            raise SweepError(f"--seeds {text}: {part!r} is not a seed or a range "
                             "(e.g. 0-4 or 0,3,7)")
        low = int(match[1])
        high = int(match[2]) if match[2] else low
        if high < low:
            raise SweepError(f"--seeds {text}: range {part} runs backwards")
        if high > 2**32 - 1:
            raise SweepError(f"--seeds {text}: {high} is above 4294967295")
        if high - low > 10_000:
            raise SweepError(f"--seeds {text}: range {part} has more than 10,000 seeds")
        for seed in range(low, high + 1):
            if seed in seeds:
                raise SweepError(f"--seeds {text}: seed {seed} is given twice")
            seeds.append(seed)
    return seeds


@dataclass(frozen=True)
class TrainJob:
    spec: Spec
    backend: str
    out: str
    steps: int | None
    checkpoint_every: int
    resume: bool
    overwrite: bool = False
    keep_checkpoints: int = 1


def train_one(job: TrainJob) -> dict:
    """One training run (no progress line); its summary, or ``{"error": message}`` for
    what the user can fix (environment, checkpoint, a run already in the folder)."""
    from .rl.checkpoint import CheckpointError
    from .rl.env import EnvError
    from .rl.trainer import RunExists, Trainer
    try:
        trainer = Trainer(job.spec, backend=job.backend, out=job.out, total_steps=job.steps,
                          checkpoint_every=job.checkpoint_every, progress=False,
                          keep_checkpoints=job.keep_checkpoints)
        summary = trainer.run(resume=job.resume, overwrite=job.overwrite)
    except (EnvError, CheckpointError, RunExists) as exc:
        return {"error": str(exc), "out": job.out}
    return {**summary, "out": job.out}


def train_seeds(spec: Spec, seeds: Sequence[int], *, backend: str, out: str | None,
                steps: int | None, checkpoint_every: int, resume: bool,
                workers: int | None, engine: str, overwrite: bool = False,
                keep_checkpoints: int = 1) -> tuple[list[dict], str]:
    """One run per seed through :func:`run_parallel`; run folders are
    ``runs/NAME-BACKEND-sSEED`` (or ``OUT/sSEED``)."""
    jobs = []
    for seed in seeds:
        at = dataclasses.replace(spec, env=dataclasses.replace(spec.env, seed=seed))
        folder = f"{out}/s{seed}" if out else f"runs/{spec.name}-{backend}-s{seed}"
        jobs.append(TrainJob(at, backend, folder, steps, checkpoint_every, resume,
                             overwrite, keep_checkpoints))
    return run_parallel(train_one, jobs, workers=workers, engine=engine,
                        what=f"train {spec.name} on {backend}", unit="seeds")
