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
    ax.grid(alpha=0.3)
    fig.tight_layout()
    output = Path(output)
    fig.savefig(output, dpi=120)
    plt.close(fig)
    return output
