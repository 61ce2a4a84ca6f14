"""A table (and a reward plot) of finished `fixar train` runs, as a BENCHMARKS.md section.

    python benchmarks/compare_runs.py --title "HalfCheetah-v5, 10,000 steps" \\
        --command "fixar train ... (one per run)" --plot docs/img/halfcheetah.png RUN_DIR...

For documented runs that are made by hand (long trainings): the command that made them
is passed in and printed with the table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import ROOT, machine, publish  # noqa: E402


def _fmt(value, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--title", required=True)
    parser.add_argument("--command", required=True, help="how the runs were made")
    parser.add_argument("--note", default="", help="a paragraph under the table")
    parser.add_argument("--plot", type=Path, default=None, help="write the reward plot here")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    heading = f"## Training runs: {args.title}"
    lines = [heading, "",
             f"- Machine: {machine()}",
             f"- Command: `{args.command}`; table: `python benchmarks/compare_runs.py ...`",
             f"- Date: {datetime.date.today().isoformat()}", "",
             "| run | backend | precision at the end | switch to FXP16 at step | final eval "
             "return | best eval return | last 10 episodes | updates/s | env steps/s | "
             "saturations |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for run in args.runs:
        s = json.loads((run / "summary.json").read_text())
        lines.append(
            f"| {run.name} | {s['backend']} | {s['precision']} | "
            f"{_fmt(s['switched_to_fxp16_at_step'], 'd')} | {_fmt(s['final_eval_return'])} | "
            f"{_fmt(s['best_eval_return'])} | {_fmt(s['last_10_episode_return'])} | "
            f"{_fmt(s['updates_per_s'])} | {_fmt(s['steps_per_s'])} | {s['saturations']} |")
    if args.note:
        lines += ["", args.note]
    if args.plot is not None:
        from fixar_gen.rl.plots import plot_runs
        plot_runs(args.runs, args.plot)
        rel = args.plot.resolve().relative_to(ROOT) if args.plot.resolve().is_relative_to(ROOT) \
            else args.plot
        lines += ["", f"Reward curves: `{rel}`."]
    publish(heading, "\n".join(lines) + "\n", args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
