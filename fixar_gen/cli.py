"""The ``fixar`` command.

Every user error (a bad spec, a bad option value, an output path that cannot be
written, a missing file or tool) ends as one line on stderr and exit code 2; option
values are checked by the parser (:mod:`fixar_gen.cli_args`) before any work starts.
A traceback means a bug in fixar_gen and is followed by a line saying so (exit 1).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from . import __version__
from .cli_args import EXIT_USAGE, Parser, integer, output_file, output_folder, print_bug, \
    seed_list, variant_list
from .experiment import BANDS, CORE_BACKENDS
from .params import SpecError
from .spec import MAX_SCRATCHPAD_WORDS, spec_data
from .tools import ToolSetting, verilator_threads

EXIT_BUG = 1
SEED = integer(0, 2**32 - 1)          # the spec's env.seed range
STEPS = integer(1, 10**9)             # the spec's algorithm.total_steps range


class UserError(Exception):
    """An error the user can fix, reported as one line (exit 2)."""


def _load(path: str):
    from .dsl import load_spec
    return load_spec(path)


def cmd_validate(args: argparse.Namespace) -> int:
    status = 0
    for path in args.specs:
        try:
            spec = _load(path)
        except SpecError as err:
            print(err, file=sys.stderr)
            status = EXIT_USAGE
            continue
        if not args.quiet:
            hw = spec.hardware
            actor = "-".join(map(str, spec.networks.actor.layer_sizes))
            critic = "-".join(map(str, spec.networks.critic.layer_sizes))
            print(f"{path}: ok: {spec.name}: actor {actor}, critic {critic}, "
                  f"{hw.cores} x {hw.rows}x{hw.cols} PEs at {hw.clock_mhz:g} MHz, "
                  f"target {spec.target}")
    return status


def cmd_schema(args: argparse.Namespace) -> int:
    from .dsl.schema import spec_schema
    print(json.dumps(spec_schema(), indent=2))
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    import yaml
    spec = _load(args.spec)
    if args.json:
        print(json.dumps(spec_data(spec), indent=2))
    else:
        sys.stdout.write(yaml.safe_dump(spec_data(spec), sort_keys=False,
                                        default_flow_style=None, width=88))
    return 0


def cmd_estimate(args: argparse.Namespace) -> int:
    from .estimate import estimate, format_estimate
    report = estimate(_load(args.spec), fewer_lanes=True)
    print(json.dumps(report, indent=2) if args.json else format_estimate(report))
    return 0


def _with_batch(spec, batch: int):
    import dataclasses

    from .params import nested
    try:
        algorithm = nested("algorithm", lambda: dataclasses.replace(spec.algorithm,
                                                                    batch_size=batch))
        return dataclasses.replace(spec, algorithm=algorithm)
    except SpecError as err:
        raise UserError(f"--batch {batch}: {err}") from None


def cmd_compile(args: argparse.Namespace) -> int:
    from .compiler import compile_program, compile_programs, is_training, machine_runs, phases
    from .estimate import precision_for
    from .isa import INSTRUCTION_BITS, encode, listing
    from .perf import schedule
    spec = _load(args.spec)
    if args.phase not in phases(spec):
        raise UserError(f"--phase {args.phase}: algorithm {spec.algorithm.name} has the "
                        f"phases {', '.join(phases(spec))}")
    if args.batch is not None and is_training(spec, args.phase):
        _with_batch(spec, args.batch)        # the spec's bounds hold for this batch too
    precision = precision_for(spec, args.precision)
    if args.per_core_memories:      # with the programs the machine runs beside it
        runs = machine_runs(spec)
        wanted = (args.phase, args.batch if args.batch is not None else
                  dict(runs)[args.phase])
        runs = [r for r in runs if r != wanted] + [wanted]
        program = compile_programs(spec, runs, precision, args.policy,
                                   per_core_memories=True)[-1]
    else:
        program = compile_program(spec, args.phase, precision, batch=args.batch,
                                  policy=args.policy)
    if args.hex:
        digits = INSTRUCTION_BITS // 4
        print("\n".join(f"{encode(i):0{digits}x}" for i in program.code))
        return 0
    if args.placement:
        from .hw.core import word_bits
        from .hw.design import pe_widths
        from .placement import table
        print(table(program, word=word_bits(pe_widths(spec))))
        if args.per_core_memories:
            from .percore_placement import table as copies_table
            print(copies_table(program))
        return 0
    print(listing(program))
    sched = schedule(program, spec)
    print(f"; {sched.total_cycles:,} cycles modeled "
          f"({', '.join(f'{k} {v:,}' for k, v in sched.by_unit.items())})")
    return 0


def _with_options(spec, args: argparse.Namespace):
    """The spec with ``--seed`` and ``--steps`` applied and validated again as a whole:
    a run too short for the spec's warm-up or QAT delay is refused, naming the option."""
    from .rl.trainer import with_run_length
    try:
        spec = with_run_length(spec, seed=args.seed)
    except SpecError as err:
        raise UserError(f"--seed {args.seed}: {err}") from None
    try:
        return with_run_length(spec, total_steps=args.steps)
    except SpecError as err:
        raise UserError(f"--steps {args.steps}: {err} (a longer run, or change the "
                        "spec)") from None


def _run_errors():
    from .rl.checkpoint import CheckpointError
    from .rl.env import EnvError
    from .rl.trainer import RunExists
    return (EnvError, CheckpointError, RunExists, *_hardware_errors())


def cmd_train(args: argparse.Namespace) -> int:
    from .rl.trainer import Trainer
    spec = _load(args.spec)
    if args.seeds is not None:
        if args.seed is not None:
            raise UserError("--seed and --seeds: give one of them")
        return _train_seeds(_with_options(spec, args), args)
    spec = _with_options(spec, args)
    out = args.out or f"runs/{spec.name}-{args.backend}-s{spec.env.seed}"
    if args.out is None:
        output_folder_or_error(out)
    try:
        trainer = Trainer(spec, backend=args.backend, out=out,
                          checkpoint_every=args.checkpoint_every,
                          keep_checkpoints=args.keep_checkpoints,
                          progress=not args.quiet and sys.stderr.isatty() or args.progress)
        summary = trainer.run(resume=args.resume, overwrite=args.overwrite)
    except _run_errors() as exc:
        raise UserError(str(exc)) from None
    print(f"{out}: {summary['steps']} steps, {summary['updates']} updates, final eval "
          f"return {summary['final_eval_return']:.1f} ({summary['precision']}; "
          f"{summary['saturations']} saturations)")
    return 0


def output_folder_or_error(path: str) -> None:
    """A default output folder (no option named it) that cannot be written."""
    try:
        output_folder(path)
    except argparse.ArgumentTypeError as exc:
        raise UserError(str(exc)) from None


def _hardware_errors():
    from .hw.design import HardwareLimit
    from .tools import ToolFailed, ToolMissing
    return (HardwareLimit, ToolMissing, ToolFailed)


def cmd_generate(args: argparse.Namespace) -> int:
    from .generate import generate
    spec = _load(args.spec)
    out = args.out or f"build/{spec.name}"
    if args.out is None:
        output_folder_or_error(out)
    try:
        report = generate(spec, out, synth=args.synth, verilate=args.verilate,
                          memory_words=args.memory_words,
                          synth_memories=args.synth_memories)
    except _hardware_errors() as exc:
        raise UserError(str(exc)) from None
    t = report["timings"]
    print(f"{out}: {report['top']}.v ({report['verilog_lines']:,} lines), hostmap.json, "
          f"{report['top']}_hostmap.h, report.json; {report['cores']} core(s) of "
          f"{report['array'][0]}x{report['array'][1]} PEs, "
          + ", ".join(f"{name} {m['words']:,} x {m['width_bits']}"
                      for name, m in report["memory"]["data_memories"].items())
          + " (data memories, words x bits"
          + (", a copy for each core" if report["per_core_memories"] else "") + "); "
          f"generated in {t['generate_s']:.1f} s"
          + (f", Verilator model built in {t['verilator_build_s']:.1f} s"
             if "verilator_build_s" in t else ""))
    mem = report["memory"]
    if mem["words"] < mem["words_needed"]:
        print(f"fixar generate: warning: --memory-words {args.memory_words:,}: each "
              f"data memory has {mem['words']:,} words, the spec's programs need up to "
              f"{mem['words_needed']:,} in one; this design cannot run them (a trial size "
              "for --synth)", file=sys.stderr)
    inv = report["memory_inventory"]
    fit = inv["fit"]
    print(f"memories: {inv['total_bits'] / 1e6:,.1f} Mbit ("
          + ", ".join(f"{m['name']} {m['maps_to']}" for m in inv["memories"])
          + f"); as block RAM {fit['bram36']:,} BRAM36 + {fit['uram']:,} URAM, "
          + ("within" if fit["fits"] else "beyond") + f" what the {fit['board']} leaves "
          "after the shell margin" + (" (for reference)" if fit["reference"] else ""))
    est = report.get("estimated_fit")
    if est and not est["fits"]:
        from .resources import LABELS
        over = ", ".join(f"{LABELS[k]} {v:.0%}" for k, v in est["utilization"].items()
                         if v > 1)
        print(f"fixar generate: warning: the generated design needs an estimated {over} of "
              f"what the {est['board']} leaves after the shell margin "
              f"({'; '.join(est['problems'])}): it will not place as generated "
              + (f"(with `hardware.vector_lanes: {est['fits_with_lanes']['vector_lanes']}`, "
                 "the most lanes per core that fit, it would; " if est.get("fits_with_lanes")
                 else "(")
              + "`fixar estimate` shows the parts)", file=sys.stderr)
    if "resources" in report:
        r = report["resources"]
        print(f"yosys synth_xilinx -family xcup: {r['LUT']:,} LUT, {r['FF']:,} FF, "
              f"{r['DSP']:,} DSP48E2, {r['BRAM36']:g} BRAM36, {r['URAM']} URAM")
    if "memory_mapping" in report:
        for line in memory_mapping_lines(report["memory_mapping"]):
            print(line)
    if "timing" in report:
        for line in timing_lines(report["timing"]):
            print(line)
    return 0


def memory_mapping_lines(mapping: dict) -> list[str]:
    """What Yosys made of each memory against the inventory (report.json's
    ``memory_mapping``)."""
    from .hw.inventory import BLOCK_RAM

    def listed(prims: dict) -> str:
        return ", ".join(f"{n} {k}" for k, n in prims.items())
    lines = [f"memories through {mapping['source']}: {mapping['bram36']:g} BRAM36 + "
             f"{mapping['uram']:,} URAM (the inventory: "
             f"{mapping.get('inventory_bram36', 0):g} + {mapping.get('inventory_uram', 0):,})"]
    for m in mapping["memories"]:
        prims = listed(m["yosys_primitives"])
        said = m.get("inventory_primitives", {})
        lines.append(f"    {m['name']:<18} {m['bits']:>9,} bits: yosys {m['yosys']}"
                     + (f" ({prims})" if prims else "")
                     + ("" if m["agrees"] else f"; the inventory says {m['inventory']}")
                     + ("" if m["yosys"] != BLOCK_RAM or said == m["yosys_primitives"]
                        else f"; the inventory says {listed(said)}"))
    for name, o in mapping["others"].items():
        prims = listed(o["primitives"])
        lines.append(f"    {name:<18} (not in the inventory): {o['libmap']}"
                     + (f" ({prims})" if prims else ""))
    return lines


def timing_lines(timing: dict) -> list[str]:
    """One line for the whole design and one per unit, from report.json's ``timing``."""
    def line(name: str, t: dict) -> str:
        w = t["worst_paths"][0] if t["worst_paths"] else None
        if w is None:
            return f"  {name}: no register-to-register path"
        return (f"  {name}: worst {t['worst_ns']:.2f} ns (slack {t['slack_ns']:+.2f}), "
                f"{t['max_lut_levels']} LUT levels at most, {t['dsp48e2_mreg_preg']}/"
                f"{t['dsp48e2']} DSP48E2 with MREG+PREG set, {t['dsp48e2_mreg_preg_or_flops']}/"
                f"{t['dsp48e2']} set or as the flip-flops right after them; "
                f"{w['start']} -> {w['end']} "
                f"({w['lut_levels']} LUT, {w['carry_cells']} carry, {w['dsp_stages']} DSP)")
    return ([f"timing (estimate at {timing['clock_ns']:.2f} ns, model in docs/hardware.md):",
             line("whole design", timing)]
            + [line(name, t) for name, t in timing["units"].items()])


def _against_golden(run, args: argparse.Namespace, count: int) -> int:
    """Run cosim or verify (``run(spec, backend, count, seed)``), a missing tool or a
    program the design cannot run being the user's one-line error."""
    spec = _load(args.spec)
    try:
        return run(spec, args.backend, count, args.seed)
    except _hardware_errors() as exc:
        raise UserError(str(exc)) from None


def cmd_cosim(args: argparse.Namespace) -> int:
    from .verify import run_cosim
    return _against_golden(run_cosim, args, args.updates)


def cmd_verify(args: argparse.Namespace) -> int:
    from .verify import run_verify
    return _against_golden(run_verify, args, args.examples)


def _train_seeds(spec, args: argparse.Namespace) -> int:
    """``train --seeds``: one run per seed, in parallel (fixar_gen.sweep.run_parallel)."""
    import statistics

    from .sweep import SweepError, parse_seeds, train_seeds
    try:
        results, engine = train_seeds(
            spec, parse_seeds(args.seeds), backend=args.backend, out=args.out,
            steps=None, checkpoint_every=args.checkpoint_every, resume=args.resume,
            overwrite=args.overwrite, workers=args.jobs, engine=args.engine,
            keep_checkpoints=args.keep_checkpoints)
    except SweepError as exc:
        raise UserError(str(exc)) from None
    failed = [r for r in results if "error" in r]
    for r in results:
        if "error" not in r:
            print(f"{r['out']}: seed {r['seed']}: {r['steps']} steps, {r['updates']} "
                  f"updates, final eval return {r['final_eval_return']:.1f} "
                  f"({r['precision']}; {r['saturations']} saturations)")
    finals = [r["final_eval_return"] for r in results if "error" not in r]
    if len(finals) > 1:
        print(f"{len(finals)} seeds ({engine} engine): final eval return mean "
              f"{statistics.mean(finals):.1f}, std {statistics.stdev(finals):.1f}")
    if failed:
        raise UserError("; ".join(f"{r['out']}: {r['error']}" for r in failed))
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .sweep import SweepError, markdown, parse_over, sweep, write_outputs
    try:
        over = parse_over(args.over)
        spec = _load(args.spec)
        result = sweep(spec, over, board=args.board, workers=args.jobs, engine=args.engine)
    except SweepError as exc:
        raise UserError(str(exc)) from None
    if args.out is None:
        output_folder_or_error(f"sweeps/{spec.name}")
    out = Path(args.out or f"sweeps/{spec.name}")
    written, problem = write_outputs(result, out)
    sys.stdout.write(markdown(result))
    print(f"{len(result.rows)} points ({len(result.kept)} fit, {len(result.dropped)} "
          f"dropped) on the {result.engine} engine; wrote "
          f"{', '.join(str(p) for p in written)}", file=sys.stderr)
    if problem:
        print(f"fixar sweep: no Pareto plot: {problem}", file=sys.stderr)
    return 0


def cmd_experiment(args: argparse.Namespace) -> int:
    """``fixar experiment``: the variants x seeds grid (fixar_gen/experiment.py)."""
    from pathlib import Path

    from .experiment import ExperimentError, make_grid, run_grid, with_reference
    from .sweep import SweepError
    spec = _load(args.spec)
    if args.out is None:
        output_folder_or_error(f"experiments/{spec.name}")
    out = Path(args.out or f"experiments/{spec.name}")
    try:
        grid = make_grid(spec, args.variants, args.seeds, out, steps=args.steps,
                         core_backend=args.backend, last=args.last, band=args.band)
        grid, skipped = with_reference(grid, args.sb3_python, enabled=not args.no_sb3)
        results, engine, problem = run_grid(
            grid, resume=args.resume, overwrite=args.overwrite,
            checkpoint_every=args.checkpoint_every, workers=args.jobs, engine=args.engine,
            notes=[skipped] if skipped else [], keep_checkpoints=args.keep_checkpoints)
    except (ExperimentError, SweepError) as exc:
        raise UserError(str(exc)) from None
    except _run_errors() as exc:
        raise UserError(str(exc)) from None
    for r in results:
        if "error" not in r:
            print(f"{r['out']}: {r['variant']} seed {r['seed']}: {r['steps']} steps, final "
                  f"eval return {r['final_eval_return']:.1f} ({r['precision']}; "
                  f"{r['saturations']} saturations)"
                  + (" [finished before: skipped]" if r.get("skipped") else ""))
    print(f"{out / 'results.md'}, {out / 'results.csv'}"
          + (f", {out / 'curves.png'}" if problem is None else "")
          + f" ({len(results)} runs, "
          + ("all finished before)" if engine == "none" else f"{engine} engine)"))
    if skipped:
        print(f"fixar experiment: {skipped}", file=sys.stderr)
    if problem:
        print(f"fixar experiment: no curves.png: {problem}", file=sys.stderr)
    failed = [r for r in results if "error" in r]
    if failed:
        raise UserError("; ".join(f"{r['out']}: {r['error']}" for r in failed))
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    """``fixar results``: one table and plot from several grids (fixar_gen/results.py)."""
    from pathlib import Path

    from .experiment import ExperimentError
    from .results import combine
    out = Path(args.out)
    try:
        problem = combine([Path(g) for g in args.grids], out, last=args.last)
    except ExperimentError as exc:
        raise UserError(str(exc)) from None
    print(f"{out / 'results.md'}, {out / 'results.csv'}"
          + (f", {out / 'curves.png'}" if problem is None else "")
          + f" ({len(args.grids)} grids)")
    if problem:
        print(f"fixar results: no curves.png: {problem}", file=sys.stderr)
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .rl.plots import PlotError, plot_runs
    output = Path(args.output)          # checked writable by the parser
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        out = plot_runs([Path(r) for r in args.runs], output)
    except PlotError as exc:
        raise UserError(str(exc)) from None
    print(out)
    return 0


def _engine_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--jobs", type=integer(1, 1024), default=None, metavar="N",
                   help="parallel workers (default: the machine's CPUs)")
    p.add_argument("--engine", choices=("auto", "ray", "local"), default="auto",
                   help="auto: Ray when installed (the scale extra), else a local "
                   "process pool")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="fixar", description="fixar_gen: generate fixed-point deep-RL training "
        "accelerators (FIXAR) from a spec.",
        epilog="SPEC is a YAML file or a Python DSL file; see docs/spec.md.")
    parser.add_argument("--version", action="version", version=f"fixar_gen {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("validate", help="check specs; exit 0 if all are valid, 2 if not",
                       description="Check spec files. Each error is printed as "
                       "FILE:LINE:COL: field: message; the exit code is 2 if any is invalid.")
    p.add_argument("specs", nargs="+", metavar="SPEC")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("schema", help="print the JSON Schema (draft 2020-12) of specs",
                       description="Print the JSON Schema of the spec language, generated "
                       "from the spec dataclasses.")
    p.set_defaults(func=cmd_schema)

    p = sub.add_parser("show", help="print the fully resolved spec",
                       description="Print a spec with every default, base and fragment "
                       "applied, as YAML (loadable again) or JSON.")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--json", action="store_true", help="print JSON instead of YAML")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("estimate", help="modeled cycles, IPS and PE utilisation",
                       description="Compile the training step (DDPG's, or TD3's two "
                       "programs) and inference for the "
                       "spec's cores and schedule them with the cycle model: cycles per "
                       "update (TD3's averaged over its policy delay), training and inference IPS, PE utilisation and where the "
                       "cycles go, in FXP32 and FXP16; plus the DSP and memory budget.")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_estimate)

    p = sub.add_parser("compile", help="print a phase's program as assembly (or hex words)",
                       description="Lower one phase of the spec (the training step: "
                       "train, and TD3's critics-only train_critic; or an inference) into the core's instructions and print them with the "
                       "buffer table and the modeled cycles.")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--phase", choices=("train", "train_critic", "infer", "explore",
                                       "infer_critic"), default="train")
    p.add_argument("--precision", choices=("fxp32", "fxp16"), default="fxp32",
                   help="activation precision (fxp16: a uniform 16-bit format)")
    p.add_argument("--batch", type=integer(1, 65_536), default=None,
                   help="samples (default: the spec's batch for train, 1 otherwise)")
    p.add_argument("--policy", choices=("intra_layer", "intra_batch", "auto"), default=None,
                   help="override the spec's parallelism policy for this phase")
    p.add_argument("--hex", action="store_true", help="print the encoded instruction words")
    p.add_argument("--per-core-memories", action="store_true",
                   help="with the transfers (xfer) per-core memories need, compiled with the "
                   "programs the machine runs beside it (a design with per-core memories runs them)")
    p.add_argument("--placement", action="store_true", help="print where each buffer lives: "
                   "per memory its width, words and bits, per buffer its memory, offset, "
                   "words, live range (instructions), kind")
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("train", help="train DDPG or TD3 (with QAT) on a core backend",
                       description="Train the spec's agent (DDPG or TD3): every DNN operation runs "
                       "on the backend's core; writes metrics.csv, evals.csv, "
                       "summary.json, a checkpoint and rewards.png (with the plot extra) "
                       "into --out.")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--backend", choices=("golden", "pyrtl", "verilator", "float32"),
                   default="golden", help="golden: the bit-exact core model; pyrtl, "
                   "verilator: the generated RTL, simulated; float32: the float reference")
    p.add_argument("--steps", type=STEPS, default=None, help="environment steps "
                   "(default: the spec's total_steps; the run must still hold the "
                   "warm-up and the QAT delay)")
    p.add_argument("--seed", type=SEED, default=None, help="seed (default: the spec's)")
    p.add_argument("--out", type=output_folder, default=None,
                   help="run directory (default: runs/NAME-BACKEND-sSEED)")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue from --out's "
                       "checkpoint (only with the spec and options it was written with; "
                       "--steps may raise the run's length)")
    again.add_argument("--overwrite", action="store_true", help="replace the run already "
                       "in --out (without it, or --resume, an existing run is refused)")
    p.add_argument("--checkpoint-every", type=STEPS, default=5_000, metavar="N",
                   help="checkpoint at the first episode end after every N steps")
    p.add_argument("--keep-checkpoints", type=integer(1, 100_000), default=1, metavar="K",
                   help="keep the K newest checkpoints (checkpoint/gen-N folders; default "
                   "1: the current one only), to load an earlier state again")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.add_argument("--progress", action="store_true", help="progress line even when not a tty")
    p.add_argument("--seeds", default=None, metavar="SEEDS",
                   help="several runs, one per seed, in parallel: 0-4, 0,3,7 or 0-2,10 "
                   "(run folders OUT/sSEED, default runs/NAME-BACKEND-sSEED)")
    _engine_options(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("experiment", help="a grid of training runs: variants x seeds, "
                       "one table and one plot",
                       description="Train the spec with every --variants mode and every "
                       "--seeds seed (each an ordinary `fixar train` run in OUT/runs/"
                       "VARIANT-sSEED), in parallel, and keep OUT/results.csv, "
                       "OUT/results.md (per variant: the final return's mean and spread "
                       "over the seeds, the steps reached) and OUT/curves.png (learning "
                       "curves with seed bands; the plot extra) up to date after every "
                       "evaluation. An interrupted grid continues with --resume. See "
                       "docs/training.md.")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--variants", type=variant_list, default=["float32", "qat"],
                   metavar="LIST", help="comma-separated, from float32 (the float32 "
                   "agent), qat (the core with QAT), fxp32 (the core in FXP32 "
                   "throughout), fxp16 (the core in FXP16 from the start); none: the "
                   "SB3 reference row alone (default: float32,qat)")
    p.add_argument("--seeds", type=seed_list, default=list(range(5)), metavar="SEEDS",
                   help="0-4, 0,3,7 or 0-2,10 (default: 0-4)")
    p.add_argument("--steps", type=STEPS, default=None, help="environment steps of every "
                   "run (default: the spec's total_steps; every variant's run must hold "
                   "the warm-up and the QAT delay)")
    p.add_argument("--backend", choices=CORE_BACKENDS, default="golden",
                   help="the core backend of the qat, fxp32 and fxp16 variants")
    p.add_argument("-o", "--out", type=output_folder, default=None,
                   help="grid folder (default: experiments/NAME)")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="continue the grid in --out: "
                       "finished runs are skipped, the others continue from their "
                       "checkpoints (only with the spec and options it was started with)")
    again.add_argument("--overwrite", action="store_true", help="replace the grid in --out "
                       "(without it, or --resume, a folder holding a grid or a run is "
                       "refused)")
    p.add_argument("--checkpoint-every", type=STEPS, default=5_000, metavar="N",
                   help="each run checkpoints at the first episode end after every N steps")
    p.add_argument("--keep-checkpoints", type=integer(1, 100_000), default=1, metavar="K",
                   help="each run keeps its K newest checkpoints (checkpoint/gen-N "
                   "folders; default 1), to load an earlier state again")
    p.add_argument("--last", type=integer(1, 1_000), default=3, metavar="N",
                   help="evaluations averaged into a run's final return (default: 3)")
    p.add_argument("--band", choices=BANDS, default="minmax", help="the plot's shading "
                   "around each variant's mean: the seeds' min to max, or mean +- one "
                   "sample std (default: minmax)")
    sb3 = p.add_mutually_exclusive_group()
    sb3.add_argument("--sb3-python", default=None, metavar="PATH",
                     help="an interpreter with torch and stable-baselines3 for the SB3 "
                     "reference row, DDPG or TD3 as the spec (default: $FIXAR_SB3_PYTHON, "
                     "else this one if it has them, else the row is skipped and the "
                     "reason said)")
    sb3.add_argument("--no-sb3", action="store_true", help="no SB3 reference row")
    p.add_argument("--workers", "--jobs", dest="jobs", type=integer(1, 1024), default=None,
                   metavar="K", help="runs at once (default: the machine's CPUs); the "
                   "pool's workers get one BLAS thread each, but with 1 (or one run) the "
                   "run stays in this process with numpy's BLAS threads: on a shared "
                   "machine set OPENBLAS_NUM_THREADS=1 (several times faster there)")
    p.add_argument("--engine", choices=("auto", "ray", "local"), default="auto",
                   help="auto: Ray when installed (the scale extra), else a local "
                   "process pool")
    p.set_defaults(func=cmd_experiment)

    p = sub.add_parser("sweep", help="design-space sweep: performance and resources per point",
                       description="Evaluate every combination of the --over values with "
                       "the cycle model and the resource model; points that do not fit "
                       "the board are kept as dropped, with the reason. Writes sweep.csv, "
                       "sweep.md and pareto.png (training IPS vs DSP and LUT, FXP32 and "
                       "FXP16; needs the plot extra) into --out, and prints the table.")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("--over", nargs="+", required=True, metavar="AXIS=V1,V2",
                   help="axes: cores=1,2,4 array=8x8,16x16 policy=intra_layer,intra_batch,"
                   "auto inference=... batch=64,256 clock=164,200 lanes=4,8,16")
    p.add_argument("--out", type=output_folder, default=None,
                   help="output folder (default: sweeps/NAME)")
    p.add_argument("--board", default=None, help="check the fit on this board (default: "
                   "the spec's target; a sim target has no resource limit)")
    _engine_options(p)
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("generate", help="write the Verilog, host map and report of a spec",
                       description="Elaborate the spec's accelerator (all cores, memories "
                       "and host interface) and write OUT/<top>.v, hostmap.json, a C header "
                       "of the same map and report.json.")
    p.add_argument("spec", metavar="SPEC")
    p.add_argument("-o", "--out", type=output_folder, default=None,
                   help="output folder (default: build/NAME)")
    p.add_argument("--synth", action="store_true", help="also synthesise with Yosys "
                   "(synth_xilinx -family xcup) and record LUT/FF/DSP/BRAM and the worst "
                   "register-to-register paths per unit (an estimate) in report.json")
    p.add_argument("--synth-memories", action="store_true", help="also run Yosys's "
                   "synth_xilinx -family xcup up to its memory mapping only (minutes) and "
                   "record in report.json what each memory became (block RAM, URAM, LUT RAM "
                   "or flip-flops) next to the memory inventory's prediction (with --synth the "
                   "full run records it: no second run)")
    p.add_argument("--verilate", action="store_true", help="also build (and cache) the "
                   "Verilator model and record its build time")
    p.add_argument("--memory-words", type=integer(2, MAX_SCRATCHPAD_WORDS), default=None,
                   metavar="N",
                   help="words of every data memory (default: each fitted to the spec's "
                   "programs); a small value keeps --synth fast, since the data memories "
                   "synthesize to registers")
    p.set_defaults(func=cmd_generate)

    for name, helptext, desc in (
            ("cosim", "DDPG steps on the RTL and the golden model, compared",
             "Run N DDPG training steps and inferences on random data on the simulated RTL "
             "and on the golden model, compare every parameter and output after every step "
             "and print measured and modeled cycles; exit 0 only if all are identical."),
            ("verify", "random programs on the RTL vs the golden model (hypothesis)",
             "Property-test the spec's generated RTL: hypothesis draws random programs and "
             "data, runs them on the simulated RTL and the golden model, and shrinks any "
             "difference to a minimal program, printed as assembly with the differing "
             "tensor.")):
        p = sub.add_parser(name, help=helptext, description=desc)
        p.add_argument("spec", metavar="SPEC")
        p.add_argument("--backend", choices=("pyrtl", "verilator", "u50") if name == "cosim"
                       else ("pyrtl", "verilator"), default="verilator",
                       help="u50: the kernel on an Alveo U50 through XRT (FIXAR_XCLBIN "
                       "names the xclbin; docs/u50.md)" if name == "cosim" else None)
        p.add_argument("--seed", type=SEED, default=0)
        if name == "cosim":
            p.add_argument("--updates", type=integer(1, 10**6), default=5, metavar="N")
            p.set_defaults(func=cmd_cosim)
        else:
            p.add_argument("--examples", type=integer(1, 10**6), default=50, metavar="N")
            p.set_defaults(func=cmd_verify)

    p = sub.add_parser("results", help="one table and one plot from several experiment "
                       "grids", description="Gather the runs of several `fixar experiment` "
                       "grids of one experiment (run in parts, on several machines or at "
                       "several times) into OUT/results.md, OUT/results.csv and "
                       "OUT/curves.png, as one grid's; OUT/sources.json names the grids. "
                       "The grids must share the spec, the steps, the evaluation schedule "
                       "and each shared variant's run settings, and a variant and seed may "
                       "have run in one grid only (runs a grid planned but never began are "
                       "left out). See docs/training.md.")
    p.add_argument("grids", nargs="+", metavar="GRID")
    p.add_argument("-o", "--out", type=output_folder, required=True,
                   help="a new or empty folder, or an earlier output of fixar results")
    p.add_argument("--last", type=integer(1, 1_000), default=None, metavar="N",
                   help="evaluations averaged into a run's final return (default: the "
                        "grids' own --last, which must then agree)")
    p.set_defaults(func=cmd_results)

    p = sub.add_parser("plot", help="overlay the reward curves of training runs",
                       description="Plot episode and evaluation returns of one or more "
                       "`fixar train` run directories into one PNG (needs the plot extra).")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR")
    p.add_argument("-o", "--output", type=output_file("rewards.png"), default="rewards.png",
                   help="the PNG to write; a folder gets rewards.png inside it "
                   "(default: rewards.png)")
    p.set_defaults(func=cmd_plot)
    for name, command in sub.choices.items():
        if name not in ("schema", "plot", "results"):
            command.add_argument(
                "--allow-env-module", action="store_true",
                help="allow a module-qualified env.id (module:Env-v0) in the spec: "
                "gymnasium imports that module, which runs its code (never allowed by "
                "the spec alone)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from .envs import allow_env_modules
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:       # said by the command's own parser: `fixar train: error: ...`
        commands = next(a for a in parser._actions
                        if isinstance(a, argparse._SubParsersAction)).choices
        commands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    try:
        verilator_threads()        # a bad $FIXAR_VERILATOR_THREADS, before any work
        with allow_env_modules(getattr(args, "allow_env_module", False)):
            return args.func(args)
    except SpecError as err:
        print(err, file=sys.stderr)
        return EXIT_USAGE
    except (UserError, ToolSetting) as err:
        print(f"fixar: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("fixar: interrupted", file=sys.stderr)
        return 130
    except OSError as err:
        if err.filename is None:       # not about a path the user gave: a bug
            print_bug(err)
            return EXIT_BUG
        print(f"fixar: error: cannot write or read {err.filename}: "
              f"{err.strerror or err}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as err:  # noqa: BLE001 - anything else is a bug, said as such
        print_bug(err)
        return EXIT_BUG


if __name__ == "__main__":
    raise SystemExit(main())
