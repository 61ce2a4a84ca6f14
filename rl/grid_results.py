"""The table of an experiment grid (`fixar experiment`): how every run stands and, per
variant, the final return of each seed with its mean and spread over the seeds.

A run's *final return* is the mean of its last ``last`` evaluation returns (each one
the mean of the spec's deterministic evaluation episodes), read from the run's
``evals.csv``; a run still going counts at the step it has reached (its last evaluation
or checkpoint, whichever is later), so the table can be
read at any moment of a grid (the steps columns say how far each variant is).  Pure
data: this module reads run folders and writes text, it trains nothing.
"""

from __future__ import annotations

import csv
import io
import json
import statistics
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunRef:
    """One run of the grid: its variant, seed and folder, and the steps it is to run."""

    variant: str
    seed: int
    folder: Path
    total_steps: int


@dataclass(frozen=True)
class RunStatus:
    """Where one run stands, from its files."""

    ref: RunRef
    evals: tuple[tuple[int, float], ...]   # (step, evaluation return), in step order
    finished: bool
    final: float | None                    # mean of the last evaluations
    precision: str
    saturations: int | None
    fxp16_since_step: int | None
    wall_seconds: float | None
    checkpointed_step: int = 0             # the last row of metrics.csv (checkpoints)
    #: saturations per buffer: the finished run's summary, else its last checkpoint's
    saturations_by_buffer: tuple[tuple[str, int], ...] = ()

    @property
    def steps(self) -> int:
        """Steps reached: the run's length once finished, else its last evaluation or
        checkpoint, whichever is later."""
        if self.finished:
            return self.ref.total_steps
        return max(self.evals[-1][0] if self.evals else 0, self.checkpointed_step)

    @property
    def best(self) -> float | None:
        return max(r for _, r in self.evals) if self.evals else None


def read_evals(folder: Path) -> list[dict]:
    """The rows of ``folder``/evals.csv (none when the run has not evaluated yet)."""
    path = Path(folder) / "evals.csv"
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _last_metrics_step(folder: Path) -> int:
    """The step of the last episode in ``folder``/metrics.csv (written at checkpoints;
    a reference run has none)."""
    path = Path(folder) / "metrics.csv"
    if not path.is_file():
        return 0
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return int(rows[-1]["step"]) if rows else 0


def saturations_by_buffer(folder: Path) -> tuple[tuple[str, int], ...]:
    """The buffers that saturated in the run in ``folder`` and how often, most first:
    from its summary.json once finished, else from its current checkpoint's manifest
    (so far; a reference run or a run before its first checkpoint: none)."""
    folder = Path(folder)
    counts: dict = {}
    summary = folder / "summary.json"
    if summary.is_file():
        try:
            counts = json.loads(summary.read_text(encoding="utf-8")).get(
                "saturations_by_buffer") or {}
        except (OSError, ValueError):
            counts = {}
    else:
        from .checkpoint import current_meta
        meta = current_meta(folder / "checkpoint") or {}
        agent = meta.get("agent")
        counts = agent.get("saturations", {}) if isinstance(agent, dict) else {}
    if not isinstance(counts, dict):
        return ()
    return tuple(sorted(((str(k), int(v)) for k, v in counts.items() if int(v)),
                        key=lambda kv: (-kv[1], kv[0])))


def run_status(ref: RunRef, last: int) -> RunStatus:
    rows = read_evals(ref.folder)
    evals = tuple((int(r["step"]), float(r["eval_return"])) for r in rows)
    tail = [value for _, value in evals[-last:]]
    latest = rows[-1] if rows else {}
    switch = latest.get("fxp16_since_step", "")
    return RunStatus(
        ref=ref, evals=evals, finished=(Path(ref.folder) / "summary.json").is_file(),
        final=statistics.fmean(tail) if tail else None,
        precision=latest.get("precision", ""),
        saturations=int(latest["saturations"]) if latest else None,
        fxp16_since_step=int(switch) if switch else None,
        wall_seconds=float(latest["wall_seconds"]) if latest else None,
        checkpointed_step=_last_metrics_step(ref.folder),
        saturations_by_buffer=saturations_by_buffer(ref.folder))


def variant_rows(statuses: list[RunStatus], variants: list[str]) -> list[dict]:
    """One row per variant (in ``variants`` order): seeds, finished runs, steps reached,
    the final returns' mean, sample std (two seeds or more), min and max, the steps of
    the switch to FXP16 and the largest saturation count of its runs."""
    rows = []
    for variant in variants:
        runs = [s for s in statuses if s.ref.variant == variant]
        finals = [s.final for s in runs if s.final is not None]
        switches = sorted({s.fxp16_since_step for s in runs if s.fxp16_since_step is not None})
        saturations = [s.saturations for s in runs if s.saturations is not None]
        walls = [s.wall_seconds for s in runs if s.wall_seconds is not None]
        rows.append({
            "variant": variant, "seeds": len(runs),
            "finished": sum(s.finished for s in runs),
            "with_evals": len(finals),
            "steps_min": min(s.steps for s in runs) if runs else 0,
            "steps_max": max(s.steps for s in runs) if runs else 0,
            "total_steps": max((s.ref.total_steps for s in runs), default=0),
            "final_mean": statistics.fmean(finals) if finals else None,
            "final_std": statistics.stdev(finals) if len(finals) > 1 else None,
            "final_min": min(finals) if finals else None,
            "final_max": max(finals) if finals else None,
            "fxp16_since_step": switches,
            "saturations_max": max(saturations) if saturations else None,
            "wall_seconds_max": max(walls) if walls else None,
        })
    return rows


COLUMNS = ("variant", "seeds", "finished", "with_evals", "steps_min", "steps_max",
           "total_steps", "final_mean", "final_std", "final_min", "final_max",
           "fxp16_since_step", "saturations_max", "wall_seconds_max")


def results_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _plain(row[k]) for k in COLUMNS})
    return out.getvalue()


def _plain(value):
    if value is None:
        return ""
    if isinstance(value, list):
        return " ".join(map(str, value))
    if isinstance(value, float):
        return round(value, 4)
    return value


def _num(value, fmt: str = ",.1f") -> str:
    return "-" if value is None else format(value, fmt)


def _steps(row: dict) -> str:
    low, high, total = row["steps_min"], row["steps_max"], row["total_steps"]
    reached = f"{low:,}" if low == high else f"{low:,}-{high:,}"
    return f"{reached} of {total:,}"


def spread_verdicts(rows: list[dict], reference: str = "float32") -> list[str]:
    """For every other variant with a final mean: inside or outside the range of the
    reference variant's seeds (the issue's test: QAT within the float32 spread)."""
    ref = next((r for r in rows if r["variant"] == reference), None)
    if ref is None or ref["with_evals"] < 2:
        return []
    low, high = ref["final_min"], ref["final_max"]
    lines = []
    for row in rows:
        if row["variant"] == reference or row["final_mean"] is None:
            continue
        inside = low <= row["final_mean"] <= high
        unfinished = row["finished"] < row["seeds"] or ref["finished"] < ref["seeds"]
        lines.append(f"- {row['variant']}: final mean {row['final_mean']:,.1f} is "
                     f"{'within' if inside else 'outside'} the {reference} seeds' range "
                     f"[{low:,.1f}, {high:,.1f}]"
                     + (" (runs still going: not a result yet)" if unfinished else ""))
    return lines


def results_markdown(title: str, about: list[str], statuses: list[RunStatus],
                     variants: list[str], last: int, notes: list[str] = ()) -> str:
    """results.md: the variant table, the spread verdicts, one row per run, notes."""
    rows = variant_rows(statuses, variants)
    lines = [f"# {title}", "", *about, "",
             f"Final return: the mean of each run's last {last} evaluation returns; "
             "mean, sample std and min-max over the seeds that have evaluated. Updated "
             "after every evaluation of every run: a run still going counts at the step "
             "it has reached (steps column).", "",
             "| variant | seeds (finished) | steps reached | final return mean | std | "
             "min | max | switch to FXP16 at step | saturations (max of runs) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['seeds']} ({r['finished']}) | {_steps(r)} | "
                     f"{_num(r['final_mean'])} | {_num(r['final_std'])} | "
                     f"{_num(r['final_min'])} | {_num(r['final_max'])} | "
                     f"{', '.join(f'{v:,}' for v in r['fxp16_since_step']) or '-'} | "
                     f"{_num(r['saturations_max'], ',d')} |")
    verdicts = spread_verdicts(rows)
    if verdicts:
        lines += ["", *verdicts]
    lines += ["", "| run | variant | seed | steps | evaluations | final return | last "
              "evaluation | best evaluation | precision | saturations | wall time |",
              "|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|"]
    for s in statuses:
        wall = "-" if s.wall_seconds is None else _duration(s.wall_seconds)
        lines.append(f"| {Path(s.ref.folder).name} | {s.ref.variant} | {s.ref.seed} | "
                     f"{s.steps:,}{'' if s.finished else ' (going)'} | {len(s.evals)} | "
                     f"{_num(s.final)} | {_num(s.evals[-1][1] if s.evals else None)} | "
                     f"{_num(s.best)} | {s.precision or '-'} | "
                     f"{_num(s.saturations, ',d')} | {wall} |")
    saturating = [s for s in statuses if s.saturations_by_buffer]
    if saturating:
        lines += ["", "Where the saturations are (each run's buffers, most first; a run "
                  "still going: at its last checkpoint):", ""]
        for s in saturating:
            lines.append(f"- {Path(s.ref.folder).name}: " + ", ".join(
                f"`{name}` {count:,}" for name, count in s.saturations_by_buffer))
    if notes:
        lines += ["", *notes]
    return "\n".join(lines) + "\n"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def curves(statuses: list[RunStatus], variants: list[str]) -> dict[str, list[list]]:
    """``variant -> [evaluations of each seed]`` for the plot."""
    return {v: [list(s.evals) for s in statuses if s.ref.variant == v and s.evals]
            for v in variants}


def switch_steps(statuses: list[RunStatus]) -> dict[str, list[int]]:
    """``variant -> the steps where its runs switched to FXP16`` (QAT runs only: the
    trainer records no switch for runs that are FXP16 from the start)."""
    out: dict[str, set] = {}
    for s in statuses:
        if s.fxp16_since_step is not None:
            out.setdefault(s.ref.variant, set()).add(s.fxp16_since_step)
    return {v: sorted(steps) for v, steps in out.items()}
