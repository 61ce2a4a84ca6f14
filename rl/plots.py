"""Reward curves: episode returns (and evaluation returns) of one or more runs against
environment steps, from their metrics.csv.  Needs matplotlib (the `plot` extra)."""

from __future__ import annotations

import csv
import json
from pathlib import Path


class PlotError(RuntimeError):
    """A run directory cannot be plotted (no metrics.csv) or matplotlib is missing."""


def read_metrics(run: Path) -> list[dict]:
    path = Path(run) / "metrics.csv"
    if not path.is_file():
        raise PlotError(f"{run}: no metrics.csv (is it a `fixar train --out` directory?)")
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _label(run: Path) -> str:
    summary = Path(run) / "summary.json"
    if summary.is_file():
        data = json.loads(summary.read_text())
        return f"{Path(run).name} ({data.get('backend')}, {data.get('precision')})"
    return Path(run).name


def plot_runs(runs: list[Path], output: Path, smooth: int = 5) -> Path:
    """Overlay the runs' episode returns (moving average over ``smooth`` episodes, the
    raw returns faint) and evaluation returns (markers); write a PNG."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotError("plotting needs matplotlib: pip install 'fixar_gen[plot]'") from None
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, run in enumerate(runs):
        rows = read_metrics(run)
        color = f"C{i % 10}"
        steps = [int(r["step"]) for r in rows]
        returns = [float(r["return"]) for r in rows]
        ax.plot(steps, returns, color=color, alpha=0.25, linewidth=0.8)
        if len(returns) >= smooth:
            avg = [sum(returns[j - smooth + 1:j + 1]) / smooth
                   for j in range(smooth - 1, len(returns))]
            ax.plot(steps[smooth - 1:], avg, color=color, label=_label(run))
        else:
            ax.plot(steps, returns, color=color, label=_label(run))
        evals = [(int(r["step"]), float(r["eval_return"])) for r in rows if r["eval_return"]]
        if evals:
            ax.plot(*zip(*evals), "o", color=color, markersize=4)
        switch = next((int(r["step"]) for r in rows if r["precision"] == "fxp16"), None)
        if switch is not None and rows[0]["precision"] != "fxp16":
            ax.axvline(switch, color=color, linestyle=":", linewidth=1)
    ax.set_xlabel("environment steps")
    ax.set_ylabel("episode return (dots: evaluation; dotted: switch to FXP16)")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, ax, output)


def plot_grid(curves: dict[str, list[list[tuple[int, float]]]],
              switches: dict[str, list[int]], output: Path, title: str = "",
              band: str = "minmax") -> Path:
    """Learning curves of an experiment grid: per variant, the mean evaluation return
    over its seeds at every evaluated step (a step counts the seeds that reached it),
    shaded between the seeds' min and max (``band="minmax"``) or mean +- one sample
    std (``band="std"``), each seed faint; dotted: the steps where QAT runs switched
    to FXP16."""
    if band not in ("minmax", "std"):
        raise ValueError(f"band: {band!r} is not minmax or std")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotError("plotting needs matplotlib: pip install 'fixar_gen[plot]'") from None
    fig, ax = plt.subplots(figsize=(8, 4.5))
    drawn = False
    for i, (variant, seeds) in enumerate(curves.items()):
        color = f"C{i % 10}"
        by_step: dict[int, list[float]] = {}
        for run in seeds:
            ax.plot(*zip(*run), color=color, alpha=0.2, linewidth=0.7)
            for step, value in run:
                by_step.setdefault(step, []).append(value)
        if not by_step:
            continue
        steps = sorted(by_step)
        mean = [sum(by_step[s]) / len(by_step[s]) for s in steps]
        if band == "minmax":
            low = [min(by_step[s]) for s in steps]
            high = [max(by_step[s]) for s in steps]
        else:
            sd = [_std(by_step[s]) for s in steps]
            low = [m - d for m, d in zip(mean, sd)]
            high = [m + d for m, d in zip(mean, sd)]
        ax.plot(steps, mean, color=color, marker="o" if len(steps) < 30 else None,
                markersize=3, label=f"{variant} ({len(seeds)} seed"
                f"{'s' if len(seeds) != 1 else ''})")
        ax.fill_between(steps, low, high, color=color, alpha=0.2, linewidth=0)
        for step in switches.get(variant, ()):
            ax.axvline(step, color=color, linestyle=":", linewidth=1)
        drawn = True
    ax.set_xlabel("environment steps")
    ax.set_ylabel("evaluation return")
    spread = "min-max over seeds" if band == "minmax" else "mean +- std over seeds"
    ax.set_title((title + "\n" if title else "") + f"line: mean, band: {spread}; dotted: "
                 "switch to FXP16", fontsize=9)
    if drawn:
        ax.legend(loc="best", fontsize=8)
    return _save(fig, ax, output)


def _save(fig, ax, output) -> Path:
    """Grid, layout, write ``output`` (the format from its suffix) and free the figure."""
    import matplotlib.pyplot as plt
    ax.grid(alpha=0.3)
    fig.tight_layout()
    output = Path(output)
    fig.savefig(output, dpi=120)
    plt.close(fig)
    return output


def _std(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    mean = sum(values) / len(values)
    return (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
