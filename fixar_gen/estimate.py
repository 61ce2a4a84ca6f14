"""`fixar estimate`: what a spec asks of the accelerator and what the accelerator can
at most deliver.

Figures here are bounds from the spec alone (the workload and the PE arrays' peak MAC
rate): no schedule is modeled, so real throughput is lower by the utilisation the
cycle model reports.
"""

from __future__ import annotations

import math

from .boards import BOARDS, dsps_per_pe
from .spec import Spec
from .workload import workload

MODES = {"fxp32": 1, "fxp16": 2}     # MACs per PE per cycle


def estimate(spec: Spec) -> dict:
    work = workload(spec)
    hw, n = spec.hardware, spec.numerics
    clock_hz = hw.clock_mhz * 1e6
    report: dict = {
        "spec": spec.name,
        "target": spec.target,
        "clock_mhz": hw.clock_mhz,
        "cores": hw.cores,
        "array": list(hw.array),
        "pe_count": hw.pe_count,
        "params": work.params,
        "macs_per_sample": work.macs_per_sample,
        "macs_actor_inference": work.actor_forward,
        "batch_size": spec.algorithm.batch_size,
    }
    for mode, per_pe in MODES.items():
        peak = hw.pe_count * per_pe
        report[mode] = {
            "peak_macs_per_cycle": peak,
            "peak_train_ips": clock_hz * peak / work.macs_per_sample,
            "peak_infer_ips": clock_hz * peak / work.actor_forward,
        }
    per_pe = dsps_per_pe(n.weight.width, n.activation.width // 2)
    memory = {k: math.ceil(v / 1024) for k, v in spec.memory_needs().items()}
    report["resources"] = {"dsp_arrays": hw.pe_count * per_pe, "dsp_per_pe": per_pe,
                           "memory_kib_per_core": memory}
    board = BOARDS.get(spec.target)
    if board is not None:
        report["board"] = {"name": board.name, "part": board.part, "dsps": board.dsps,
                           "dsps_usable": board.usable("dsps"),
                           "dsp_fraction_arrays": hw.pe_count * per_pe / board.dsps}
    return report


def format_estimate(r: dict) -> str:
    lines = [
        f"{r['spec']}: {r['cores']} cores x {r['array'][0]}x{r['array'][1]} PEs = "
        f"{r['pe_count']} PEs at {r['clock_mhz']:g} MHz (target {r['target']})",
        f"  workload: {r['params']:,} parameters; {r['macs_per_sample']:,} MACs per "
        f"training sample; {r['macs_actor_inference']:,} MACs per actor inference",
        "  peak (every PE busy every cycle; an upper bound, not a prediction):",
    ]
    for mode in MODES:
        m = r[mode]
        lines.append(f"    {mode}: {m['peak_macs_per_cycle']:,} MACs/cycle -> at most "
                     f"{m['peak_train_ips']:,.0f} training IPS, "
                     f"{m['peak_infer_ips']:,.0f} inference IPS")
    res = r["resources"]
    mem = res["memory_kib_per_core"]
    lines.append(f"  PE arrays: {res['dsp_arrays']:,} DSP48E2 ({res['dsp_per_pe']} per PE); "
                 f"memories per core: weight {mem['weight_kib']:,} KiB, state "
                 f"{mem['state_kib']:,} KiB, activation {mem['activation_kib']:,} KiB")
    if "board" in r:
        b = r["board"]
        lines.append(f"  {b['name']} ({b['part']}): arrays use "
                     f"{b['dsp_fraction_arrays']:.1%} of {b['dsps']:,} DSPs "
                     f"({b['dsps_usable']:,} left to the kernel after the shell)")
    return "\n".join(lines)
