"""The modeled accelerator performance of every example (no timing: the cycle models).

For each example spec, in FXP32 and FXP16, first on the generated RTL's exact cycle
model, then on the target schedule (``perf.Timing``, a schedule the RTL does not run):
cycles per DDPG update from the compiled program's schedule, accelerator-only training IPS at the spec's clock, inference IPS at
batch 1, PE utilisation, and which unit the cycles go to; next to FIXAR's published
figures for its design point (53,826.8 IPS accelerator-only, 25,293.3 IPS platform).

    python benchmarks/bench_estimate.py [--no-write]
"""

from __future__ import annotations

import argparse
import datetime
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import ROOT, machine, publish  # noqa: E402

from fixar_gen import load_spec  # noqa: E402
from fixar_gen.estimate import cycle_breakdown, estimate  # noqa: E402

HEADING = "## Modeled accelerator performance of the examples"
EXAMPLES = ("examples/pendulum.yaml", "examples/halfcheetah.yaml", "examples/fixar_u50.yaml")
FIXAR_ACCELERATOR_IPS = 53_826.8


MODELS = ("generated RTL", "target schedule (not run by the RTL)")


def rows() -> list[str]:
    out = []
    for path in EXAMPLES:
        r = estimate(load_spec(ROOT / path))
        for model in MODELS:
            for mode in ("fxp32", "fxp16"):
                m = r[mode]["rtl"] if model == MODELS[0] else r[mode]
                util = m["train_ips"] / r[mode]["peak_train_ips"]
                out.append(
                    f"| {path} | {r['cores']} x {r['array'][0]}x{r['array'][1]} @ "
                    f"{r['clock_mhz']:g} MHz | {r['batch_size']} | {model} | {mode} | "
                    f"{m['train_cycles_per_update']:,} | {m['train_ips']:,.0f} | "
                    f"{util:.1%} | {m['infer_ips_batch1']:,.0f} | {cycle_breakdown(m)} |")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    u50 = estimate(load_spec(ROOT / "examples/fixar_u50.yaml"))
    rtl16 = u50["fxp16"]["rtl"]["train_ips"]
    ratio = rtl16 / FIXAR_ACCELERATOR_IPS
    text = "\n".join([
        HEADING, "",
        "Modeled, not measured: two cycle models schedule the compiled DDPG training "
        "step and a batch-1 actor inference, first the generated RTL's own (exact against "
        "the simulated RTL: what `fixar generate` builds runs these cycles), then the "
        "target schedule (`fixar_gen/perf.py`'s `Timing`), a schedule the RTL does not "
        "run; `fixar estimate` prints both in this order. IPS = batch samples "
        "per update / (cycles / clock). Accelerator only (no host or environment time). "
        "FXP16 uses a uniform 16-bit activation format (QAT's per-layer formats have the "
        "same widths, so the same cycles).", "",
        f"- Machine (for the record; the figures do not depend on it): {machine()}",
        "- Command: `python benchmarks/bench_estimate.py`",
        f"- Date: {datetime.date.today().isoformat()}", "",
        "| spec | cores x array @ clock | batch | cycle model | mode | cycles / update "
        "| training IPS | PE utilisation | inference IPS (batch 1) | cycles by unit |",
        "|---|---|---:|---|---|---:|---:|---:|---:|---|",
        *rows(), "",
        f"FIXAR's design point (examples/fixar_u50.yaml: 2 cores x 16x16 at 164 MHz, DDPG "
        f"400-300, HalfCheetah, batch {u50['batch_size']}): the generated RTL's "
        f"{rtl16:,.0f} training IPS in FXP16 (its exact cycle model), "
        f"{ratio:.2f}x FIXAR's published {FIXAR_ACCELERATOR_IPS:,} accelerator IPS "
        "(their figure is measured on the card; ours is the cycle count of our RTL, no "
        "FPGA). The issue-8 target (2x FIXAR from utilisation and FXP16) is not met yet: "
        "the 'cycles by unit' column says where the cycles go.", ""])
    publish(HEADING, text, args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
