"""`fixar estimate`: the performance report of a spec.

For each precision mode (FXP32, and FXP16 as QAT switches to after its delay) the
training step and a batch-1 inference are compiled and scheduled by the cycle model
(:mod:`fixar_gen.perf`): cycles per update (TD3's averaged over its policy delay: one
full update and ``policy_delay - 1`` critics-only ones), accelerator-only training IPS
(samples through complete updates per second), inference IPS, PE utilisation against
the peak and which unit the cycles go to.  Figures are modeled, not measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from . import algorithms
from .boards import BOARDS, dsps_per_pe
from .compiler import (Precision, precision_keys, compile_program, compile_programs,
                       machine_runs)
from .hw.inventory import format_inventory
from .lane_resources import LaneEstimate, generated_lane
from .memory_fit import generated_inventory, memory_fit
from .numerics import FixedFormat
from .perf import schedule
from .resources import LABELS, RESOURCES, estimate_resources
from .spec import Spec
from .workload import workload

MACS_PER_PE = {"fxp32": 1, "fxp16": 2}


def fxp16_precision(spec: Spec) -> Precision:
    """A uniform FXP16 precision (every activation tensor in the same 16-bit format):
    what the cycle model needs; QAT picks per-layer formats with the same widths."""
    width = spec.numerics.fxp16_width
    fmt = FixedFormat(width, width // 2, rounding=spec.numerics.rounding,
                      overflow=spec.numerics.overflow)
    return Precision("fxp16", tuple((k, fmt) for k in precision_keys(spec)))


def precision_for(spec: Spec, mode: str) -> Precision:
    return Precision() if mode == "fxp32" else fxp16_precision(spec)


@dataclass(frozen=True)
class UpdateSchedule:
    """The cycles of one update, averaged over the algorithm's period of training
    programs (an integer when it has one program, DDPG's), and where they go."""

    total_cycles: int | float
    by_unit: dict
    by_phase: dict


def update_schedule(spec: Spec, schedule_of) -> UpdateSchedule:
    """``schedule_of(phase)`` (a schedule with ``total_cycles`` and ``by_unit``) of each
    training program, weighted by how often it runs (``phase_counts``)."""
    counts = algorithms.of(spec).phase_counts(spec)
    period = sum(counts.values())
    runs = {phase: schedule_of(phase) for phase in counts}
    if period == 1:
        (run,) = runs.values()
        return UpdateSchedule(run.total_cycles, dict(run.by_unit),
                              {p: r.total_cycles for p, r in runs.items()})
    units: dict = {}
    for phase, run in runs.items():
        for unit, cycles in run.by_unit.items():
            units[unit] = units.get(unit, 0) + cycles * counts[phase] / period
    total = sum(run.total_cycles * counts[p] for p, run in runs.items()) / period
    return UpdateSchedule(total, units, {p: r.total_cycles for p, r in runs.items()})


def generated_fit(spec: Spec, inventory=None, lane: LaneEstimate | None = None):
    """The generated design of ``spec`` against its board by the calibrated resource
    model: its memory inventory (``inventory``, else built) as block RAM, its own vector
    lanes (``lane``, else estimated): what `fixar estimate` counts, a
    :class:`~fixar_gen.resources.ResourceReport`."""
    return estimate_resources(
        spec, inventory=generated_inventory(spec) if inventory is None else inventory,
        lane=lane_estimate(spec) if lane is None else lane)


def lanes_that_fit(spec: Spec) -> dict | None:
    """For a board design that does not fit as generated: the most vector lanes per
    core (below the spec's) with which it would, and that design's utilisation of what
    the shell leaves (``{"vector_lanes": L, "utilization": {...}}``); None when the spec
    fits, has no board, or not even one lane fits.  Each count is the whole generated
    design again (the banked memories follow the lanes); fewer lanes never take more
    resources, so a binary search finds it."""
    if spec.target not in BOARDS:
        return None

    def report(lanes: int):
        return generated_fit(replace(spec, hardware=replace(spec.hardware,
                                                            vector_lanes=lanes)))
    if report(spec.hardware.lanes).fits:
        return None
    lo, hi, best = 1, spec.hardware.lanes - 1, None
    while lo <= hi:
        mid = (lo + hi) // 2
        at = report(mid)
        if at.fits:
            best, lo = (mid, at), mid + 1
        else:
            hi = mid - 1
    if best is None:
        return None
    lanes, at = best
    return {"vector_lanes": lanes, "utilization": at.as_dict()["fit"]["utilization"]}


def estimate(spec: Spec, fewer_lanes: bool = False) -> dict:
    """What `fixar estimate` reports of ``spec``; with ``fewer_lanes`` also, for a board
    design that does not fit as generated, the most lanes per core that would
    (:func:`lanes_that_fit`: a few generated designs more, so not in a sweep)."""
    work = workload(spec)
    hw, n = spec.hardware, spec.numerics
    clock_hz = hw.clock_mhz * 1e6
    batch = spec.algorithm.batch_size
    report: dict = {
        "spec": spec.name,
        "target": spec.target,
        "clock_mhz": hw.clock_mhz,
        "cores": hw.cores,
        "array": list(hw.array),
        "pe_count": hw.pe_count,
        "vector_lanes": hw.lanes,
        "per_core_memories": hw.memories_per_core,
        "params": work.params,
        "batch_size": batch,
        "algorithm": spec.algorithm.name,
        "macs_per_sample": work.macs_per_sample,
        "macs_actor_inference": work.actor_forward,
        "policy": {"training": spec.parallelism.training,
                   "inference": spec.parallelism.inference},
        "modeled": True,
    }
    for mode, per_pe in MACS_PER_PE.items():
        precision = precision_for(spec, mode)
        train = update_schedule(spec, lambda phase: schedule(
            compile_program(spec, phase, precision), spec))
        infer1 = schedule(compile_program(spec, "infer", precision, batch=1), spec)
        infer_b = schedule(compile_program(spec, "infer", precision, batch=batch), spec)
        peak = hw.pe_count * per_pe
        useful = work.macs_per_sample * batch
        report[mode] = {
            "peak_macs_per_cycle": peak,
            "peak_train_ips": clock_hz * peak / work.macs_per_sample,
            "train_cycles_per_update": train.total_cycles,
            "train_ips": clock_hz * batch / train.total_cycles,
            "infer_cycles_batch1": infer1.total_cycles,
            "infer_ips_batch1": clock_hz / infer1.total_cycles,
            "infer_ips_batch": clock_hz * batch / infer_b.total_cycles,
            "pe_utilization": useful / (train.total_cycles * peak),
            "train_cycles_by_unit": dict(train.by_unit),
            "train_cycles_by_program": train.by_phase,
            "rtl": rtl_figures(spec, precision, clock_hz,
                               per_core_memories=hw.memories_per_core),
        }
    per_pe = dsps_per_pe(n.weight.width, n.activation.width // 2)
    memory = {k: math.ceil(v / 1024) for k, v in spec.memory_needs().items()}
    inventory = generated_inventory(spec)
    lane = lane_estimate(spec)
    from .hw.design import lane0_functions
    report["resources"] = {"dsp_arrays": hw.pe_count * per_pe, "dsp_per_pe": per_pe,
                           "memory_kib_per_core": memory,
                           "lane": {**lane.resources.as_dict(), "basis": lane.basis,
                                    "measured": lane.measured,
                                    "lane0_only": list(lane0_functions(spec)),
                                    **({"other_lanes": lane.parallel.as_dict()}
                                       if lane.parallel is not None else {})},
                           **generated_fit(spec, inventory, lane).as_dict()}
    report["generated_memories"] = {**inventory.as_dict(),
                                    "fit": memory_fit(spec, inventory)}
    if fewer_lanes and not report["resources"].get("fit", {}).get("fits", True):
        report["resources"]["fits_with_lanes"] = lanes_that_fit(spec)
    board = BOARDS.get(spec.target)
    if board is not None:
        report["board"] = {"name": board.name, "part": board.part, "dsps": board.dsps,
                           "dsps_usable": board.usable("dsps"),
                           "dsp_fraction_arrays": hw.pe_count * per_pe / board.dsps}
    return report


def lane_estimate(spec: Spec) -> LaneEstimate:
    """The generated design's vector lane for ``spec``: sized by the lane limits its
    formats derive (:func:`fixar_gen.hw.design.lane_limits`), W_INT and word as
    ``fixar generate`` builds it."""
    from .hw.design import config_for
    from .hw.vector import internal_width
    cfg = config_for(spec)
    return generated_lane(internal_width(cfg.word, cfg.lane), cfg.word, cfg.functions,
                          cfg.parallel_functions)


def rtl_figures(spec: Spec, precision: Precision, clock_hz: float,
                policy: str | None = None, per_core_memories: bool = False) -> dict:
    """The same programs on the generated RTL's own cycle model (what `fixar generate`
    builds today; its simulated cycles equal this exactly); the training programs under
    ``policy`` (default: the spec's).  ``per_core_memories``: the programs with their
    transfers (:func:`fixar_gen.compiler.compile_programs`), each ``xfer`` charged as
    the RTL's per-core memories run it (:func:`fixar_gen.hw.core.execution_cycles`:
    :func:`fixar_gen.transfers.xfer_cycles` at a line of the lanes' words a cycle)."""
    from .hw.core import CoreConfig
    from .hw.design import lane0_functions, pe_widths
    from .hw.host import RTL_TIMING, rtl_execution
    from .perf import schedule_with
    hw = spec.hardware
    cfg = CoreConfig("rtl", hw.cores, hw.rows, hw.cols, pe_widths(spec), 1, 1,
                     lanes=hw.lanes, lane0_functions=lane0_functions(spec))
    batch = spec.algorithm.batch_size

    def rtl_schedule(program):
        return schedule_with(program, hw.cores, rtl_execution(cfg, program), RTL_TIMING)

    program_of = rtl_programs(spec, precision, policy, per_core_memories)
    train = update_schedule(spec, lambda phase: rtl_schedule(program_of(phase)))
    infer1 = rtl_schedule(program_of("infer", 1))
    return {"train_cycles_per_update": train.total_cycles,
            "train_ips": clock_hz * batch / train.total_cycles,
            "infer_cycles_batch1": infer1.total_cycles,
            "infer_ips_batch1": clock_hz / infer1.total_cycles,
            "train_cycles_by_unit": dict(train.by_unit),
            "train_cycles_by_program": train.by_phase}


def rtl_programs(spec: Spec, precision: Precision, policy: str | None = None,
                 per_core_memories: bool = False):
    """``program_of(phase, batch=None)``: the programs :func:`rtl_figures` schedules (the
    training programs under ``policy``, default the spec's; with ``per_core_memories``
    compiled together with their transfers, :func:`fixar_gen.compiler.compile_programs`;
    ``batch`` 1: the actor's inference)."""
    if not per_core_memories:
        def program_of(phase, batch=None):
            if phase == "infer":
                return compile_program(spec, phase, precision, batch=batch)
            return compile_program(spec, phase, precision, policy=policy)
        return program_of
    runs = machine_runs(spec)        # the programs that share the machine, together
    shared = spec if policy is None else replace(
        spec, parallelism=replace(spec.parallelism, training=policy))
    programs = dict(zip(runs, compile_programs(shared, runs, precision,
                                               per_core_memories=True)))
    return lambda phase, batch=None: programs[(phase, batch)]


def cycle_breakdown(mode_report: dict) -> str:
    """'array 66%, vector 25%, ...': where one update's cycles go (critical path)."""
    total = mode_report["train_cycles_per_update"]
    return ", ".join(f"{unit} {cycles / total:.0%}"
                     for unit, cycles in mode_report["train_cycles_by_unit"].items() if cycles)


def format_estimate(r: dict) -> str:
    lines = [
        f"{r['spec']}: {r['cores']} cores x {r['array'][0]}x{r['array'][1]} PEs = "
        f"{r['pe_count']} PEs, {r['vector_lanes']} vector lanes per core, at "
        f"{r['clock_mhz']:g} MHz (target {r['target']}; "
        f"training {r['policy']['training']}, inference {r['policy']['inference']})",
        f"  algorithm {r['algorithm']}; workload: {r['params']:,} parameters; "
        f"{r['macs_per_sample']:,.0f} MACs per training sample; batch {r['batch_size']}",
        "  modeled by the cycle models (accelerator only, no host time): first the generated "
        "RTL's own (exact against the simulated RTL), then the target schedule "
        "(`perf.Timing`), a schedule the RTL does not run:",
    ]
    for mode in MACS_PER_PE:
        m = r[mode]
        rtl = m["rtl"]
        lines.append(f"    {mode}: the generated RTL today: {rtl['train_cycles_per_update']:,.0f} "
                     f"cycles/update -> {rtl['train_ips']:,.0f} training IPS; inference "
                     f"{rtl['infer_ips_batch1']:,.0f} IPS at batch 1")
        lines.append(f"           cycles: {cycle_breakdown(rtl)}")
        if len(rtl["train_cycles_by_program"]) > 1:
            lines.append("           per program (averaged above over one period): " + ", ".join(
                f"{p} {c:,}" for p, c in rtl["train_cycles_by_program"].items()))
        lines.append(
            f"           target schedule: {m['train_cycles_per_update']:,.0f} cycles/update -> "
            f"{m['train_ips']:,.0f} training IPS ({m['pe_utilization']:.1%} of the "
            f"{m['peak_macs_per_cycle']:,} MACs/cycle peak, bound {m['peak_train_ips']:,.0f}); "
            f"inference {m['infer_ips_batch1']:,.0f} IPS at batch 1, "
            f"{m['infer_ips_batch']:,.0f} at batch {r['batch_size']}; cycles: "
            f"{cycle_breakdown(m)}")
    res = r["resources"]
    mem = res["memory_kib_per_core"]
    lines.append(f"  PE arrays: {res['dsp_arrays']:,} DSP48E2 ({res['dsp_per_pe']} per PE); "
                 f"memories per core: weight {mem['weight_kib']:,} KiB, state "
                 f"{mem['state_kib']:,} KiB, activation {mem['activation_kib']:,} KiB")
    total = ", ".join(f"{res['total'][k]:,} {LABELS[k]}" for k in RESOURCES)
    parts = "; ".join(f"{name} {', '.join(f'{v:,} {LABELS[k]}' for k, v in part.items() if v)}"
                      for name, part in res["parts"].items())
    lines.append(f"  resources (modeled): {total}")
    lines.append(f"           {parts}")
    lane = res["lane"]
    other = lane.get("other_lanes")
    if other is None:
        lines.append(f"           one vector lane: {lane['luts']:,} LUT, {lane['ffs']:,} FF, "
                     f"{lane['dsps']:,} DSP ({lane['basis']})")
    else:
        alone = lane.get("lane0_only") or []
        without = f", nor {', '.join(alone)}, which lane 0 runs alone" if alone else ""
        lines.append(f"           a core's vector lane 0: {lane['luts']:,} LUT, "
                     f"{lane['ffs']:,} FF, {lane['dsps']:,} DSP; each other lane (no serial "
                     f"functions{without}): {other['luts']:,} LUT, {other['ffs']:,} FF, "
                     f"{other['dsps']:,} DSP ({lane['basis']})")
    if "board" in r:
        b = r["board"]
        lines.append(f"  {b['name']} ({b['part']}): arrays use "
                     f"{b['dsp_fraction_arrays']:.1%} of {b['dsps']:,} DSPs "
                     f"({b['dsps_usable']:,} left to the kernel after the shell)")
    if "fit" in res:
        fit = res["fit"]
        used = ", ".join(f"{LABELS[k]} {fit['utilization'][k]:.0%}" for k in RESOURCES)
        verdict = "fits" if fit["fits"] else "does NOT fit (" + "; ".join(fit["problems"]) + ")"
        lines.append(f"  fit on the {fit['board']}: {verdict}; of what the Vitis shell leaves "
                     f"({fit['usable_fraction']:.0%} of each resource): {used}")
        fewer = res.get("fits_with_lanes")
        if fewer:
            lines.append(f"           with `hardware.vector_lanes: {fewer['vector_lanes']}` "
                         "(the most lanes per core that fit) it would: "
                         + ", ".join(f"{LABELS[k]} {v:.0%}"
                                     for k, v in fewer["utilization"].items()))
    m = r["generated_memories"]
    fit = m["fit"]
    verdict = "fits" if fit["fits"] else "does NOT fit (" + "; ".join(fit["problems"]) + ")"
    lines.append("  the generated design's memories (`fixar generate`"
                 + (f"; per-core memories: a copy for each of the {r['cores']} cores"
                    if r.get("per_core_memories") else "") + "); as block RAM "
                 f"{fit['bram36']:,} BRAM36 + {fit['uram']:,} URAM: {verdict} on the "
                 f"{fit['board']} after the shell margin"
                 + (" (for reference: the target has no board)" if fit["reference"] else ""))
    lines += format_inventory(m)
    return "\n".join(lines)
