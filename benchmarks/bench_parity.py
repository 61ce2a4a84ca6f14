"""Reward parity and training throughput: the golden core with QAT against the float32
reference agent, several seeds, on one spec.

    python benchmarks/bench_parity.py examples/pendulum.yaml --seeds 0 1 2 3 4 --out runs/parity
    python benchmarks/bench_parity.py examples/pendulum.yaml --seeds 0 1 2 3 4 --out runs/parity --reuse

Trains (or, with ``--reuse``, reads the finished runs in ``--out``: ``float32-sS`` and
``golden-sS``, each a `fixar train` directory) and writes a section of BENCHMARKS.md:
final evaluation return per seed, mean and spread, whether the QAT agent is within the
float32 agent's seed-to-seed spread, and updates/s and env steps/s of both.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import ROOT, machine, publish  # noqa: E402

BACKENDS = ("float32", "golden")


def run(spec: str, backend: str, seed: int, out: Path) -> dict:
    directory = out / f"{backend}-s{seed}"
    if not (directory / "summary.json").is_file():
        subprocess.run([sys.executable, "-m", "fixar_gen", "train", spec, "--backend",
                        backend, "--seed", str(seed), "--out", str(directory), "--quiet",
                        "--overwrite"],   # a run killed before its summary starts again
                       check=True)
    return json.loads((directory / "summary.json").read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "parity")
    parser.add_argument("--reuse", action="store_true",
                        help="only read runs already in --out (do not train)")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    results = {b: {} for b in BACKENDS}
    for backend in BACKENDS:
        for seed in args.seeds:
            directory = args.out / f"{backend}-s{seed}"
            if args.reuse and not (directory / "summary.json").is_file():
                raise SystemExit(f"{directory}: no summary.json (run without --reuse)")
            results[backend][seed] = run(args.spec, backend, seed, args.out)
    heading = f"## Reward parity and training throughput: {args.spec}"
    lines = [heading, "",
             "Final evaluation return (mean of the spec's deterministic evaluation "
             "episodes at the end of training) for the float32 reference agent and the "
             "golden core with QAT (FXP32, then 16-bit activations after the spec's "
             "qat_delay), same seeds; updates/s and environment steps/s of each run, all "
             "measured in this one session on the machine below (the runs shared its two "
             "cores with other work at times, so the rates are noisy; the golden/float32 "
             "ratio is the figure to read).", "",
             f"- Machine: {machine()}",
             f"- Command: `python benchmarks/bench_parity.py {args.spec} --seeds "
             f"{' '.join(map(str, args.seeds))} --out {args.out}`",
             f"- Date: {datetime.date.today().isoformat()}", "",
             "| seed | float32 eval return | golden-QAT eval return | float32 updates/s | "
             "golden updates/s | float32 steps/s | golden steps/s | golden saturations |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for seed in args.seeds:
        f, g = results["float32"][seed], results["golden"][seed]
        lines.append(f"| {seed} | {f['final_eval_return']:.1f} | {g['final_eval_return']:.1f} "
                     f"| {f['updates_per_s']:.0f} | {g['updates_per_s']:.1f} | "
                     f"{f['steps_per_s']:.0f} | {g['steps_per_s']:.1f} | "
                     f"{g['saturations']} |")
    stats = {}
    for backend in BACKENDS:
        values = [r["final_eval_return"] for r in results[backend].values()]
        stats[backend] = (statistics.mean(values), statistics.pstdev(values),
                          min(values), max(values))
    fm, fs, flo, fhi = stats["float32"]
    gm, gs, glo, ghi = stats["golden"]
    within = flo - fs <= gm <= fhi + fs
    lines += ["",
              f"Mean (std) over seeds: float32 {fm:.1f} ({fs:.1f}), golden-QAT {gm:.1f} "
              f"({gs:.1f}). The QAT mean is {'within' if within else 'outside'} the float32 "
              f"seeds' range widened by one standard deviation ([{flo - fs:.1f}, "
              f"{fhi + fs:.1f}]); better than -250 on average: "
              f"{'yes' if gm > -250 else 'no'}.", ""]
    text = "\n".join(lines)
    publish(heading, text, args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
