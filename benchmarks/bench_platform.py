"""The platform figure (issue 14): training samples per second of the whole DDPG loop --
environment, replay, host software, PCIe link and the U50 kernel -- for FIXAR's three
tasks and batch sizes 64-512, against FIXAR's published platform IPS.

    python benchmarks/bench_platform.py [--steps 200] [--batches 64 128 256 512]
        [--tasks HalfCheetah-v5 Hopper-v5 Swimmer-v5] [--no-write]

Each (task, batch) is examples/fixar_u50.yaml's design (2 x 16x16 PEs, 400-300
networks, 164 MHz) with that task's observation and action sizes and that batch.  The
host part is measured here (:func:`fixar_gen.platform.measure_host_loop`: the
environment, the replay buffer and the U50 backend's host software, the card replaced by
a recorder of the traffic); the link is modeled from that traffic
(:class:`fixar_gen.platform.HostLink`, its assumptions stated there); the card from the
generated RTL's exact cycle model in FXP16 (after the QAT switch) plus the kernel's HBM
transfers.  Needs MuJoCo (the `mujoco` extra).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import datetime  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import ROOT, machine, publish  # noqa: E402

from fixar_gen import load_spec  # noqa: E402
from fixar_gen.estimate import estimate, precision_for, rtl_figures  # noqa: E402
from fixar_gen.platform import HostLink, measure_host_loop, platform_figure  # noqa: E402

HEADING = "## Platform: the whole training loop with the card (issue 14)"
TASKS = ("HalfCheetah-v5", "Hopper-v5", "Swimmer-v5")
BATCHES = (64, 128, 256, 512)
#: FIXAR (DAC 2021), measured on its CPU + U50 platform over its three tasks
FIXAR_PLATFORM_AVERAGE = 25_293.3
FIXAR_PLATFORM_PEAK = 38_779.8


def task_spec(base, env_id: str, batch: int):
    """``base``'s design and networks on ``env_id`` (its sizes) at ``batch``."""
    nets = base.networks
    networks = dataclasses.replace(
        nets, actor=dataclasses.replace(nets.actor, inputs=None, outputs=None),
        critic=dataclasses.replace(nets.critic, inputs=None))
    return dataclasses.replace(
        base, name=f"{base.name}_{env_id.split('-')[0].lower()}_b{batch}",
        env=dataclasses.replace(base.env, id=env_id), networks=networks,
        algorithm=dataclasses.replace(base.algorithm, batch_size=batch))


def measure(base, env_id: str, batch: int, steps: int, link: HostLink) -> dict:
    spec = task_spec(base, env_id, batch)
    clock = spec.hardware.clock_mhz * 1e6
    rtl = rtl_figures(spec, precision_for(spec, "fxp16"), clock)
    host = measure_host_loop(spec, steps=steps)
    row = platform_figure(spec, host, rtl["train_cycles_per_update"],
                          rtl["infer_cycles_batch1"], link)
    slow = platform_figure(spec, host, rtl["train_cycles_per_update"],
                           rtl["infer_cycles_batch1"], link.scaled(2.0))
    return {"task": env_id, "batch": batch, **row, "ips_slow_link": slow["platform_ips"]}


def table(rows: list[dict]) -> list[str]:
    out = ["| task | batch | env | replay | host software | link (modeled) | card (modeled) "
           "| step | invocations, bytes | platform IPS | link costs x2 | accelerator IPS |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    us = "{:,.0f} us".format
    for r in rows:
        out.append(f"| {r['task']} | {r['batch']} | {us(r['env_s'] * 1e6)} | "
                   f"{us(r['replay_s'] * 1e6)} | {us(r['driver_s'] * 1e6)} | "
                   f"{us(r['link_s'] * 1e6)} | {us(r['card_s'] * 1e6)} | "
                   f"{us(r['step_s'] * 1e6)} | {r['invocations']}, {r['bytes']:,} | "
                   f"{r['platform_ips']:,.0f} | {r['ips_slow_link']:,.0f} | "
                   f"{r['accelerator_ips']:,.0f} |")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200,
                        help="timed loop steps per task and batch (default 200)")
    parser.add_argument("--batches", type=int, nargs="+", default=list(BATCHES))
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    base = load_spec(ROOT / "examples/fixar_u50.yaml")
    link = HostLink()
    rows = []
    for env_id in args.tasks:
        for batch in args.batches:
            rows.append(measure(base, env_id, batch, args.steps, link))
            r = rows[-1]
            print(f"{env_id} batch {batch}: {r['platform_ips']:,.0f} platform IPS "
                  f"(step {r['step_s'] * 1e6:,.0f} us)", flush=True)
    ips = [r["platform_ips"] for r in rows]
    fit = estimate(base)["resources"]["fit"]
    fit_note = ("The design fits the U50 by `fixar estimate`'s resource model." if fit["fits"]
                else "**The design does not fit the U50 yet** (`fixar estimate "
                "examples/fixar_u50.yaml`: " + "; ".join(fit["problems"]) + "): the card "
                "column is the cycle model of a design that cannot be placed today.")
    best = max(rows, key=lambda r: r["platform_ips"])
    command = "python benchmarks/bench_platform.py"
    if argv:
        command += " " + " ".join(argv)
    text = "\n".join([
        HEADING, "",
        "Training samples per second of the whole loop (one environment step, the "
        "action's batch-1 inference on the card, one update of batch B), with "
        "examples/fixar_u50.yaml's design on each task's sizes. **Host parts measured** "
        "here (medians over the timed steps): the environment's step, the replay "
        "buffer's add and sample, the U50 backend's host software (the agent's "
        "quantization, the command driver packing the batch and reading results) with "
        "the card replaced by a recorder of the exact traffic. **Link modeled** from "
        f"that traffic: {link.name}, {link.bytes_per_s / 1e9:.0f} GB/s, "
        f"{link.sync_s * 1e6:.0f} us a buffer sync (three an invocation), "
        f"{link.launch_s * 1e6:.0f} us a kernel start and wait, "
        f"{link.register_s * 1e6:.0f} us a status register (assumptions, not measured "
        "on a card; 'link costs x2' doubles the fixed ones). **Card modeled**: the "
        "generated RTL's exact cycle model in FXP16 (the update and the batch-1 "
        "inference) plus the kernel's HBM beats and a "
        f"{link.command_latency_cycles}-cycle latency a command, at 164 MHz. Nothing "
        "overlaps (the loop as the trainer runs it). IPS = batch / step time.", "",
        f"- Machine: {machine()}",
        f"- Command: `{command}`",
        f"- Date: {datetime.date.today().isoformat()}", "",
        *table(rows), "",
        f"Average over these rows: **{statistics.mean(ips):,.0f} platform IPS** "
        f"({statistics.mean(ips) / FIXAR_PLATFORM_AVERAGE:.2f}x FIXAR's "
        f"{FIXAR_PLATFORM_AVERAGE:,} average); best: {best['task']} at batch "
        f"{best['batch']}, **{best['platform_ips']:,.0f}** "
        f"({best['platform_ips'] / FIXAR_PLATFORM_PEAK:.2f}x FIXAR's "
        f"{FIXAR_PLATFORM_PEAK:,} peak). FIXAR's figures are measured on its card; "
        "these are a measured host with a modeled link and card. " + fit_note, ""])
    publish(HEADING, text, args.no_write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
