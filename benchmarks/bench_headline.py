"""The headline table: FIXAR's design point and the best U50 design fixar_gen finds,
modeled, next to FIXAR's published figures and CPU software baselines measured in the
same run.

For the DDPG networks of examples/fixar_u50.yaml (HalfCheetah-v5, actor 17-400-300-6,
critic 23-400-300-1, batch 64) at the spec's clock (164 MHz):

- modeled (cycle models + resource model, no hardware): accelerator training IPS in
  FXP32 and FXP16, batch-1 inference IPS, PE utilisation against the peak and which
  unit takes the cycles, for the spec's policy and for ``auto``, first on the generated
  RTL's exact cycle model, then on the target schedule (``perf.Timing``, a schedule the
  RTL does not run); the best point of a sweep within the U50's usable resources (by
  the RTL's FXP16 IPS), and its distance to the DSP-bound limit;
- published (FIXAR, DAC 2021, measured on a U50): 53,826.8 IPS accelerator-only,
  25,293.3 IPS platform;
- measured here, now: updates per second of the float32 numpy agent
  (:class:`fixar_gen.rl.float_ddpg.FloatDDPG`) and of the golden core (FXP32 and, as
  QAT runs after its delay, FXP16) on one update of the same networks and batch, and
  of the whole trainer (`Trainer`, environment included) on HalfCheetah-v5 when
  MuJoCo is installed; Stable-Baselines3's DDPG (benchmarks/bench_sb3.py, one update
  and end to end) when given an interpreter that has it (``--sb3-python PATH`` or
  FIXAR_SB3_PYTHON; torch and SB3 are not dependencies of fixar_gen, see bench_sb3.py).

IPS = samples through complete DDPG updates per second = batch x updates/s.

    python benchmarks/bench_headline.py [--reps 9] [--train-updates 60] [--jobs 2] [--no-write]
        [--sb3-python .venv-sb3/bin/python] [--sb3-updates 2000]
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")      # one core per measurement, as bench_golden_step

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import datetime  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import ROOT, machine, publish  # noqa: E402

from fixar_gen import load_spec  # noqa: E402
from fixar_gen.boards import U50, dsps_per_pe  # noqa: E402
from fixar_gen.estimate import cycle_breakdown, estimate, fxp16_precision  # noqa: E402
from fixar_gen.resources import LABELS, RESOURCES  # noqa: E402
from fixar_gen.sweep import Point, parse_over, sweep  # noqa: E402

HEADING = "## Headline: FIXAR's design point and the best U50 design vs FIXAR and the CPU"
SPEC = "examples/fixar_u50.yaml"
FIXAR_ACCELERATOR_IPS = 53_826.8
FIXAR_PLATFORM_IPS = 25_293.3
TARGET = "target schedule (not run by the RTL)"
SWEEP_OVER = ["cores=1,2,3,4,5,6,8", "array=8x8,8x16,16x8,16x16,16x32,32x16,32x32",
              "policy=intra_layer,intra_batch", "lanes=4,8,11,16,32"]


# ------------------------------------------------------------------------- modeled

def modeled(spec) -> dict:
    """estimate() of the spec's policy and of auto (the better of the two)."""
    auto = dataclasses.replace(spec, parallelism=dataclasses.replace(
        spec.parallelism, training="auto", inference="auto"))
    return {"spec": estimate(spec), "auto": estimate(auto)}


def rtl_report(mode_report: dict) -> dict:
    """The generated RTL's figures of one mode in the shape of the target schedule's
    (``train_ips``, ``pe_utilization``, ``peak_train_ips``, cycles by unit)."""
    rtl = mode_report["rtl"]
    peak = mode_report["peak_train_ips"]
    return {**rtl, "peak_train_ips": peak, "pe_utilization": rtl["train_ips"] / peak}


def array_efficiency(mode_report: dict) -> float:
    """Useful MACs over what the PEs could do while the array unit is on the critical
    path: how well the array uses its own time (the rest is other units' time)."""
    share = mode_report["train_cycles_by_unit"]["array"] / mode_report["train_cycles_per_update"]
    return mode_report["pe_utilization"] / share if share else 0.0


def dsp_bound(spec) -> tuple[int, float]:
    """PEs the U50's usable DSPs allow (PE multipliers only) and their FXP16 peak IPS."""
    n = spec.numerics
    per_pe = dsps_per_pe(n.weight.width, n.activation.width // 2)
    pes = U50.usable("dsps") // per_pe
    macs = estimate(spec)["macs_per_sample"]
    return pes, pes * 2 * spec.hardware.clock_mhz * 1e6 / macs


# ------------------------------------------------------------------------ measured

def median_seconds(fn, reps: int) -> float:
    fn()                                  # warm-up (compiles programs, allocates)
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure_updates(spec, reps: int) -> dict[str, float]:
    """Seconds per update: golden FXP32, golden FXP16, float32 numpy (same batch)."""
    from bench_golden_step import random_batch
    from fixar_gen.backends import open_core, random_params
    from fixar_gen.rl.float_ddpg import FloatDDPG, from_core_params

    rng = np.random.default_rng(0)
    core = open_core(spec, "golden")
    core.load_params(random_params(spec, 0))
    agent = FloatDDPG(spec, np.float32, from_core_params(core.read_params(), spec,
                                                         np.float32))
    raw32, floats = random_batch(rng, spec, core.formats)
    out = {"golden_fxp32": median_seconds(lambda: core.train_step(raw32), reps),
           "float32": median_seconds(lambda: agent.train_step(**floats), reps)}
    core.set_precision(fxp16_precision(spec))
    raw16, _ = random_batch(rng, spec, core.formats)
    out["golden_fxp16"] = median_seconds(lambda: core.train_step(raw16), reps)
    return out


def measure_trainers(spec, updates: int) -> dict[str, dict] | str:
    """updates/s and env steps/s of short whole-trainer runs on the spec's environment
    (float32, and golden with QAT switching to FXP16 after a fifth of the updates); a
    reason string when the environment is not available."""
    from fixar_gen.rl.env import EnvError
    from fixar_gen.rl.trainer import Trainer

    warmup = max(spec.algorithm.batch_size, 200)
    algo = dataclasses.replace(spec.algorithm, warmup_steps=warmup,
                               total_steps=warmup + updates, eval_every=0, eval_episodes=1)
    numerics = dataclasses.replace(spec.numerics, qat_delay=max(1, updates // 5))
    short = dataclasses.replace(spec, algorithm=algo, numerics=numerics)
    out = {}
    here = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="dse_headline_") as work:
        os.chdir(work)                    # MuJoCo writes MUJOCO_LOG.TXT into the cwd
        try:
            for backend in ("float32", "golden"):
                trainer = Trainer(short, backend=backend, out=Path(work) / backend,
                                  progress=False, checkpoint_every=10**9)
                out[backend] = trainer.run()
        except EnvError as exc:
            return str(exc)
        finally:
            os.chdir(here)
    return out


def _portable(argv: list[str]) -> list[str]:
    """The command's arguments with the SB3 interpreter's path (one machine's) written
    as SB3_PYTHON: the rows name its torch and SB3 versions."""
    out, hide = [], False
    for arg in argv:
        if hide:
            out.append("SB3_PYTHON")
        elif arg.startswith("--sb3-python="):
            out.append("--sb3-python=SB3_PYTHON")
        else:
            out.append(arg)
        hide = arg == "--sb3-python"
    return out


def measure_sb3(spec, updates: int, python: str | None) -> list[dict] | str:
    """Stable-Baselines3 DDPG on the CPU, same task, networks, batch and optimizer
    settings: benchmarks/bench_sb3.py run in ``python`` (an interpreter with torch and
    SB3, this one when it has them), with torch on one thread (as the numpy rows) and on
    all the machine's cores; a reason string when there is none or it fails."""
    if python is None and importlib.util.find_spec("stable_baselines3") is not None:
        python = sys.executable
    if python is None:
        return ("Stable-Baselines3 is not installed here (it needs torch, which fixar_gen "
                "does not depend on); not measured. To measure it, give an interpreter "
                "that has torch, stable-baselines3 and gymnasium[mujoco]: "
                "`--sb3-python PATH` or FIXAR_SB3_PYTHON (see benchmarks/bench_sb3.py)")
    if spec.networks.critic.hidden != spec.networks.actor.hidden:
        return "the actor's and the critic's hidden layers differ; bench_sb3.py takes one"
    if os.sep in python:               # a path relative to here: the runs' cwd is another
        python = str(Path(python).expanduser().absolute())
    a = spec.algorithm
    if a.actor_lr != a.critic_lr:
        print("note: SB3's DDPG has one learning rate; using the critic's", flush=True)
    command = [python, str(Path(__file__).resolve().parent / "bench_sb3.py"),
               "--env", spec.env.id, "--batch", str(a.batch_size),
               "--hidden", ",".join(map(str, spec.networks.actor.hidden)),
               "--lr", repr(a.critic_lr), "--gamma", repr(a.gamma), "--tau", repr(a.tau),
               "--buffer-size", str(a.replay_size), "--noise-sigma", repr(a.noise.sigma),
               "--learning-starts", str(max(a.batch_size, 200)),
               "--updates", str(updates)]
    env = {k: v for k, v in os.environ.items()
           if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    out = []
    for threads in sorted({1, os.cpu_count() or 1}):
        with tempfile.TemporaryDirectory(prefix="dse_headline_sb3_") as work:
            try:                          # MuJoCo writes MUJOCO_LOG.TXT into the cwd
                done = subprocess.run(command + ["--threads", str(threads)], cwd=work,
                                      env=env, capture_output=True, text=True,
                                      timeout=3600)
            except (OSError, subprocess.TimeoutExpired) as exc:
                return f"bench_sb3.py did not run in {python}: {exc}"
        lines = done.stdout.strip().splitlines()
        if done.returncode or not lines:
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return f"bench_sb3.py failed in {python} (exit {done.returncode}): {tail}"
        out.append(json.loads(lines[-1]))
    return out


# -------------------------------------------------------------------------- report

def ratio(ips: float) -> str:
    r = ips / FIXAR_ACCELERATOR_IPS
    return f"{r:.2f}x" if r >= 0.1 else f"{r:.4f}x"


def resolved(spec, report: dict) -> str:
    """The training policy, with what ``auto`` chose (FXP16)."""
    from fixar_gen.perf import choose_policy
    policy = report["policy"]["training"]
    if policy != "auto":
        return policy
    return "auto: " + choose_policy(spec, "train", fxp16_precision(spec))


def where_cycles_go(r: dict) -> str:
    """Why one update takes its cycles, from the schedule's per-unit breakdown."""
    total = r["train_cycles_per_update"]
    share = {u: c / total for u, c in r["train_cycles_by_unit"].items()}
    parts = [f"The cycles of one FXP16 update go to {cycle_breakdown(r)}."]
    if share["array"]:
        parts.append(
            f"While the array unit is on the critical path it does "
            f"{array_efficiency(r):.0%} of the MACs it could: every MatMul pays the "
            "systolic fill and drain and its weight loads, so with few samples per core "
            "(two per line in FXP16) the weight loads, not the MACs, set the pace.")
    if share["vector"] >= 0.05:
        parts.append(
            f"The vector unit holds the critical path for {share['vector']:.0%}: the "
            "drains (bias, activation), the activation derivatives, Adam's square root and "
            "divide and the soft target updates over every parameter, L lanes per core, "
            "run between MatMuls instead of beside them.")
    if share["sync"] >= 0.05:
        parts.append(f"Synchronisation (barriers, cross-core reductions of the weight "
                     f"gradients) takes {share['sync']:.0%}.")
    parts.append("The next design steps: overlap the vector unit and the link with the "
                 "following MatMul, and keep the array streaming across instruction "
                 "boundaries (no fill/drain per instruction).")
    return " ".join(parts)


def best_point_report(spec, best: dict) -> dict:
    """estimate() of the sweep's best point (its row has the largest unit only)."""
    rows, cols = (int(n) for n in best["array"].split("x"))
    point = Point((("cores", best["cores"]), ("array", (rows, cols)),
                   ("policy", best["policy"].split(":")[0]), ("lanes", best["lanes"])))
    report = estimate(point.apply(spec))
    ips = report["fxp16"]["rtl"]["train_ips"]
    if round(ips) != round(best["fxp16_rtl_train_ips"]):     # the same design, twice
        raise SystemExit(f"the best point {best['point']} estimates {ips:,.0f} FXP16 IPS, "
                         f"its sweep row {best['fxp16_rtl_train_ips']:,.0f}")
    return report


def over_budget(rows: list[dict]) -> dict[str, int]:
    """Per resource, how many of the sweep's dropped points need more than the U50's
    usable share of it (the generated design's figures; a point can exceed several)."""
    return {LABELS[key]: sum(1 for r in rows if r["status"] == "dropped"
                             and (r.get(f"{key}_pct") or 0) > 100)
            for key in RESOURCES}


def section(spec, m: dict, best: dict, best_report: dict, sweep_size: tuple[int, int],
            dsp: tuple[int, float], over: dict[str, int], cpu: dict, trainers, sb3,
            command: str, about: str) -> str:
    batch = spec.algorithm.batch_size
    clock = spec.hardware.clock_mhz
    s16 = m["spec"]["fxp16"]
    a16 = m["auto"]["fxp16"]
    pol = resolved(spec, m["spec"])
    auto_spec = dataclasses.replace(spec, parallelism=dataclasses.replace(
        spec.parallelism, training="auto"))
    auto_pol = resolved(auto_spec, m["auto"])
    nets = ("-".join(map(str, spec.networks.actor.layer_sizes)) + " / "
            + "-".join(map(str, spec.networks.critic.layer_sizes)))
    pes_bound, ips_bound = dsp
    best_ips = best["fxp16_rtl_train_ips"]
    lane = m["spec"]["resources"]["lane"]
    fixar_fit = m["spec"]["resources"]["fit"]["utilization"]
    rows = [
        ("FIXAR accelerator (DAC 2021)", "published, measured on a U50", "-",
         f"{FIXAR_ACCELERATOR_IPS:,.1f}", "1.00x", "-", "-"),
        ("FIXAR platform, CPU + U50 (DAC 2021)", "published, measured", "-",
         f"{FIXAR_PLATFORM_IPS:,.1f}", ratio(FIXAR_PLATFORM_IPS), "-", "-"),
    ]
    def modeled_row(name: str, r: dict) -> tuple:
        return (name, "**modeled**", f"{r['infer_ips_batch1']:,.0f}",
                f"{r['train_ips']:,.0f}", ratio(r["train_ips"]),
                f"{r['pe_utilization']:.1%} of {r['peak_train_ips']:,.0f}",
                cycle_breakdown(r))

    for kind, figures in (("generated RTL", rtl_report), (TARGET, lambda r: r)):
        for label, rep, p in (("spec's policy", m["spec"], pol),
                              ("auto policy", m["auto"], auto_pol)):
            for mode in ("fxp32", "fxp16"):
                rows.append(modeled_row(
                    f"fixar_gen, FIXAR's point (2 x 16x16), {mode.upper()}, {label} "
                    f"(training {p}), {kind}", figures(rep[mode])))
        for mode in ("fxp32", "fxp16"):
            rows.append(modeled_row(f"fixar_gen, best U50 point: {best['point']}, "
                                    f"{mode.upper()}, {kind}", figures(best_report[mode])))
    for key, label in (("float32", "CPU: float32 numpy DDPG (rl/float_ddpg.py), one update"),
                       ("golden_fxp32", "CPU: golden core FXP32, one update"),
                       ("golden_fxp16", "CPU: golden core FXP16 (QAT after the delay), one "
                                        "update")):
        ups = 1 / cpu[key]
        rows.append((label, "measured here", "-", f"{batch * ups:,.0f}",
                     ratio(batch * ups), "-", f"{ups:,.1f} updates/s"))
    if isinstance(trainers, dict):
        for backend, label in (("float32", "CPU: float32 trainer, HalfCheetah-v5 end to end"),
                               ("golden", "CPU: golden-QAT trainer, HalfCheetah-v5 end to "
                                          "end")):
            t = trainers[backend]
            ups = t["updates_per_s"]
            rows.append((label, "measured here", "-", f"{batch * ups:,.0f}",
                         ratio(batch * ups), "-",
                         f"{ups:,.1f} updates/s, {t['steps_per_s']:,.1f} env steps/s, "
                         f"{t['updates']} updates"))
    for run in sb3 if isinstance(sb3, list) else ():
        sb3_label = (f"CPU: Stable-Baselines3 {run['version']} DDPG (torch {run['torch']}, "
                     f"{run['threads']} thread{'s' if run['threads'] > 1 else ''})")
        ups = run["one_update_updates_per_s"]
        rows.append((f"{sb3_label}, one update", "measured here", "-", f"{batch * ups:,.0f}",
                     ratio(batch * ups), "-", f"{ups:,.1f} updates/s"))
        ups = run["updates_per_s"]
        rows.append((f"{sb3_label}, {run['env']} end to end", "measured here", "-",
                     f"{batch * ups:,.0f}", ratio(batch * ups), "-",
                     f"{ups:,.1f} updates/s, {run['steps_per_s']:,.1f} env steps/s, "
                     f"{run['updates']} updates"))
    if isinstance(sb3, str):
        rows.append(("CPU: Stable-Baselines3 DDPG", "not measured", "-", "-", "-", "-", sb3))

    target2 = 2 * FIXAR_ACCELERATOR_IPS
    target4 = 4 * FIXAR_ACCELERATOR_IPS
    s16, a16 = rtl_report(s16), rtl_report(a16)
    fixar16 = max(s16["train_ips"], a16["train_ips"])
    at_fixar = s16 if s16["train_ips"] >= a16["train_ips"] else a16
    need_util = target2 / at_fixar["peak_train_ips"]
    lines = [
        HEADING, "",
        f"Networks of `{SPEC}`: DDPG actor / critic {nets} (HalfCheetah-v5), batch {batch}, "
        f"{m['spec']['macs_per_sample']:,} MACs per training sample, at the spec's "
        f"{clock:g} MHz. IPS = samples through complete DDPG updates per second (batch x "
        "updates/s); inference IPS is one batch-1 actor pass. **Modeled** figures come "
        "from two cycle models, accelerator only (no host or environment time): first "
        "the generated RTL's own (`fixar_gen/hw/core.py`'s `execution_cycles`, exact "
        "against the simulated RTL: what `fixar generate` builds runs these cycles), "
        f"then the {TARGET} (`perf.Timing`), kept for comparison; and from the "
        "resource model of the generated design (`fixar_gen/resources.py`: its memory "
        "inventory and its own vector lanes, as `fixar estimate` counts them). The best "
        "U50 point is the sweep's "
        "best by the RTL's FXP16 IPS, and the targets below are judged on the RTL. "
        "Nothing here ran on an FPGA. FIXAR's figures are the paper's, measured on its card. The "
        "CPU rows were measured in this run on the machine below (BLAS single-threaded, "
        "median of the timed updates after a warm-up; the end-to-end rows count update "
        "time only, as `Trainer` reports it). Other jobs share the machine's two cores "
        "(load average below), so the CPU rates are noisy: compare rows of one run."
        + (" The Stable-Baselines3 rows come from `benchmarks/bench_sb3.py`, run in this "
           "run in a separate interpreter with torch, on one intra-op thread and on all "
           "cores (a loaded machine can make the second thread a loss); its one-update "
           "rows are the median of single `train(gradient_steps=1)` calls, its end-to-end "
           "rows `learn` with train_freq=1 and gradient_steps=1 after "
           f"{sb3[0]['learning_starts']} random steps and {sb3[0]['warmup_updates']} "
           "untimed updates (updates/s over update time only, env steps/s over the whole "
           "timed run, warm-up excluded; the project's trainer rows count their warm-up "
           "steps in env steps/s)." if isinstance(sb3, list) else ""), "",
        f"- Machine: {about}",
        f"- Command: `{command}`",
        f"- Date: {datetime.date.today().isoformat()}",
        f"- Sweep for the best point: `fixar sweep {SPEC} --over {' '.join(SWEEP_OVER)}` "
        f"({sweep_size[0]} points, {sweep_size[1]} fit the U50 as generated after the 15% shell "
        "margin; the same batch and networks)", "",
        "| system | how | inference IPS (batch 1) | training IPS | vs FIXAR accelerator "
        "| PE utilisation (of peak IPS) | where the cycles go / rate |",
        "|---|---|---:|---:|---:|---:|---|",
        *(f"| {' | '.join(r)} |" for r in rows), "",
        "Against the targets of issue 8 (the generated RTL's cycles at 164 MHz):", "",
        f"- FIXAR's own point (2 cores x 16x16), at least 2x = {target2:,.0f} IPS "
        f"(needs {need_util:.0%} of the FXP16 peak): **not met** -- {fixar16:,.0f} IPS "
        f"({fixar16 / FIXAR_ACCELERATOR_IPS:.2f}x), "
        f"{at_fixar['pe_utilization']:.1%} of the peak."
        if fixar16 < target2 else
        f"- FIXAR's own point (2 cores x 16x16), at least 2x = {target2:,.0f} IPS: met, "
        f"{fixar16:,.0f} IPS ({fixar16 / FIXAR_ACCELERATOR_IPS:.2f}x).",
    ]
    if fixar16 < target2:
        lines.append("  " + where_cycles_go(at_fixar))
    best_rtl = rtl_report(best_report["fxp16"])
    lines.append(
        f"- The best design within the U50's resources, at least 4x = {target4:,.0f} IPS: "
        + (f"**not met** -- {best['point']}: {best_ips:,.0f} IPS "
           f"({best_ips / FIXAR_ACCELERATOR_IPS:.2f}x FIXAR's 53,826.8, at {clock:g} MHz, "
           f"the same {nets} networks and batch {batch}), {best['dsps']:,} DSP48E2, "
           f"{best['fxp16_rtl_pe_util']:.1%} of its FXP16 peak; it takes "
           + ", ".join(f"{best[f'{r}_pct']:.0f}% of the usable {label}" for r, label in
                       (("luts", "LUTs"), ("dsps", "DSPs"), ("bram36", "BRAM36"),
                        ("uram", "URAM")))
           + " (above ~80% a design is optimistic for timing closure). "
           + where_cycles_go(best_rtl)
           if best_ips < target4 else
           f"met -- {best['point']}: {best_ips:,.0f} IPS ({best_ips / FIXAR_ACCELERATOR_IPS:.2f}x)."))
    lines.append(
        f"  The DSP-bound limit: the U50 leaves {U50.usable('dsps'):,} DSP48E2 to the "
        f"kernel, {pes_bound:,} PEs at 4 each, whose FXP16 peak is {ips_bound:,.0f} IPS "
        f"({ips_bound / FIXAR_ACCELERATOR_IPS:.1f}x FIXAR); the best point reaches "
        f"{best_ips / ips_bound:.0%} of it. What stops the larger points, as generated "
        f"(dropped points over the usable share, a point can be over several): "
        + ", ".join(f"{label} {n}" for label, n in over.items() if n)
        + f". Each generated vector lane takes {lane['luts']:,} LUT"
        + (f" as a core's lane 0, {lane['other_lanes']['luts']:,} as its other lanes (no "
           f"serial functions)" if "other_lanes" in lane else "")
        + f" ({lane['basis']}; "
        f"FIXAR's lane about 5,500), one per array column unless `hardware.vector_lanes` "
        f"says otherwise, so the lanes, not the PEs, set the LUTs: FIXAR's own point "
        f"takes {fixar_fit['luts']:.0%} of the usable LUTs as generated.")
    sb3_line = ("- The software trainer (golden-QAT) at least as fast as Stable-Baselines3's "
                "DDPG on this CPU: ")
    if isinstance(sb3, list):
        if isinstance(trainers, dict):    # like with like: both trainers end to end
            key, what = "updates_per_s", "end to end, update time only"
            golden = trainers["golden"]["updates_per_s"]
        else:                             # no environment here: one update each
            key, what = "one_update_updates_per_s", "one FXP16 update against one SB3 update"
            golden = 1 / cpu["golden_fxp16"]
        best_sb3 = max(sb3, key=lambda run: run[key])     # the stronger baseline
        theirs = best_sb3[key]
        verdict = "met" if golden >= theirs else "**not met**"
        lines.append(sb3_line + f"{verdict} -- golden-QAT trainer vs SB3: "
                     f"{golden / theirs:.3g} times ({what}, SB3 on its faster "
                     f"{best_sb3['threads']}-thread setting: {golden:,.1f} vs {theirs:,.1f} "
                     f"updates/s, {batch * golden:,.0f} vs {batch * theirs:,.0f} IPS). "
                     f"One update each: golden FXP16 {1 / cpu['golden_fxp16']:.1f}, float32 "
                     f"numpy {1 / cpu['float32']:.0f}, SB3 "
                     + ", ".join(f"{run['one_update_updates_per_s']:.0f} ({run['threads']} "
                                 f"thread{'s' if run['threads'] > 1 else ''})" for run in sb3)
                     + " updates/s.")
    else:
        lines.append(sb3_line + "cannot be judged here: Stable-Baselines3 was not "
                     "measured (see its row; `--sb3-python PATH` runs it in an interpreter "
                     "that has torch). For scale, the golden core runs "
                     f"{1 / cpu['golden_fxp16']:.1f} FXP16 updates/s against float32 "
                     f"numpy's {1 / cpu['float32']:.0f}.")
    if isinstance(trainers, str):
        lines.append(f"- End-to-end trainer rows are missing: {trainers}.")
    lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=9, help="timed updates per CPU case")
    parser.add_argument("--train-updates", type=int, default=60,
                        help="updates of each end-to-end trainer run (0: skip)")
    parser.add_argument("--jobs", type=int, default=None, help="sweep workers")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--sb3-python", default=os.environ.get("FIXAR_SB3_PYTHON") or None,
                        help="interpreter with torch and stable-baselines3 that runs "
                        "bench_sb3.py (default: $FIXAR_SB3_PYTHON; this one if it has SB3)")
    parser.add_argument("--sb3-updates", type=int, default=2000,
                        help="timed end-to-end SB3 steps (one update each)")
    args = parser.parse_args(argv)
    about = machine()
    spec = load_spec(ROOT / SPEC)
    m = modeled(spec)
    result = sweep(spec, parse_over(SWEEP_OVER), workers=args.jobs)
    best = result.best("fxp16")
    print(f"best U50 point: {best['point']} {best['fxp16_rtl_train_ips']:,.0f} IPS "
          f"({result.engine} engine)", flush=True)
    cpu = measure_updates(spec, args.reps)
    print("CPU seconds per update:", {k: round(v, 4) for k, v in cpu.items()}, flush=True)
    trainers = (measure_trainers(spec, args.train_updates) if args.train_updates
                else "skipped (--train-updates 0)")
    sb3 = measure_sb3(spec, args.sb3_updates, args.sb3_python)
    for run in sb3 if isinstance(sb3, list) else ():
        print(f"SB3, torch threads {run['threads']}:", {k: round(run[k], 1) for k in (
            "one_update_updates_per_s", "updates_per_s", "steps_per_s")}, flush=True)
    command = " ".join(["python benchmarks/bench_headline.py",
                        *_portable(sys.argv[1:] if argv is None else argv)])
    text = section(spec, m, best, best_point_report(spec, best),
                   (len(result.rows), len(result.kept)), dsp_bound(spec),
                   over_budget(result.rows), cpu, trainers, sb3, command, about)
    publish(HEADING, text, args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
