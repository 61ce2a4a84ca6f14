"""The platform figure's parts: the traffic the U50 backend's host software produces
(recorded, exact), the link and card model's arithmetic, and the measured loop."""

from __future__ import annotations

import numpy as np
import pytest

from fixar_gen import load_spec
from fixar_gen.backends import random_params
from fixar_gen.hw.design import config_for
from fixar_gen.platform import (HostLink, HostLoop, Invocation, TrafficRecorder,
                                link_seconds, measure_host_loop, platform_figure,
                                transfer_cycles)
from fixar_gen.targets.u50.commands import DEFAULT_AXI_DATA_BITS, layout
from fixar_gen.targets.u50.driver import open_u50_core
from fixar_gen.testing import uniform_batch


def test_the_link_model_adds_what_each_invocation_costs():
    link = HostLink(bytes_per_s=1e9, sync_s=2e-6, launch_s=5e-6, register_s=1e-6,
                    command_latency_cycles=10)
    calls = (Invocation(command_bytes=100, image_bytes=1000, commands=3, beats=40),
             Invocation(command_bytes=50, image_bytes=0, commands=1, beats=2))
    # bytes: commands + image to the card, image back; 3 syncs, a launch, 4 registers
    expected = (100 + 2000 + 50) / 1e9 + 2 * (3 * 2e-6 + 5e-6 + 4 * 1e-6)
    assert link_seconds(calls, link) == pytest.approx(expected, rel=1e-12)
    assert transfer_cycles(calls, link) == 40 + 30 + 2 + 10
    assert link_seconds(calls, link.scaled(2.0)) == pytest.approx(
        (100 + 2000 + 50) / 1e9 + 2 * 2 * (3 * 2e-6 + 5e-6 + 4 * 1e-6), rel=1e-12)


def test_an_update_and_an_action_are_one_kernel_invocation_each(tiny_one_core):
    """Writes, the run and every read after it travel in one invocation, and the
    recorded beats are the commands' and their data's."""
    spec = load_spec(tiny_one_core)
    cfg = config_for(spec)
    recorder = TrafficRecorder(cfg.hostmap, DEFAULT_AXI_DATA_BITS)
    core = open_u50_core(spec, cfg=cfg, executor=recorder)
    core.load_params(random_params(spec, 0))
    rng = np.random.default_rng(0)
    core.train_step(uniform_batch(spec, core.formats, rng))
    recorder.take()
    batch = uniform_batch(spec, core.formats, rng)
    core.train_step(batch)
    (update,) = recorder.take()
    core.infer("actor", batch.states[:1])
    (action,) = recorder.take()
    data = layout(cfg.hostmap, "data", DEFAULT_AXI_DATA_BITS)
    words = spec.algorithm.batch_size * (2 * spec.obs_dim + spec.action_dim + 2)
    # the batch's words are in the update's image, whole beats
    assert update.image_bytes >= data.beats(words) * DEFAULT_AXI_DATA_BITS // 8
    assert update.beats >= data.beats(words) + update.command_bytes * 8 // DEFAULT_AXI_DATA_BITS
    # the action's image: the state sent and the action read back (and the inference
    # program, loaded again after the updates)
    assert action.image_bytes >= data.beats(spec.obs_dim) * DEFAULT_AXI_DATA_BITS // 8 * 2
    core.close()


def test_the_platform_figure_is_the_batch_over_the_parts(tiny_one_core):
    spec = load_spec(tiny_one_core)
    host = measure_host_loop(spec, steps=3)
    assert min(host.env_s, host.replay_s, host.act_s, host.update_s) > 0
    assert len(host.act_traffic) == len(host.update_traffic) == 1
    link = HostLink()
    row = platform_figure(spec, host, train_cycles=10_000, infer_cycles=500, link=link)
    clock = spec.hardware.clock_mhz * 1e6
    assert row["card_s"] >= 10_500 / clock
    assert row["step_s"] == pytest.approx(row["host_s"] + row["link_s"] + row["card_s"])
    assert row["platform_ips"] == pytest.approx(spec.algorithm.batch_size / row["step_s"])
    assert row["accelerator_ips"] == pytest.approx(spec.algorithm.batch_size * clock / 10_000)
    slower = platform_figure(spec, HostLoop(host.env_s * 10, host.replay_s, host.act_s,
                                            host.update_s, host.act_traffic,
                                            host.update_traffic), 10_000, 500, link)
    assert slower["platform_ips"] < row["platform_ips"]


def test_per_core_copies_are_addressed_by_their_own_placement():
    """examples/fixar_u50.yaml at batch 512: the memories' shared placement (one memory
    for both cores) runs past the copies' address width, which the generated design
    sizes for each core's copy; the U50 backend's host addresses every buffer by its
    copies, so the parameters load (it computed the shared addresses once and refused
    them: bench_platform.py's batch-512 rows)."""
    import dataclasses
    base = load_spec("examples/fixar_u50.yaml")
    spec = dataclasses.replace(
        base, algorithm=dataclasses.replace(base.algorithm, batch_size=512))
    cfg = config_for(spec)
    recorder = TrafficRecorder(cfg.hostmap, DEFAULT_AXI_DATA_BITS)
    core = open_u50_core(spec, cfg=cfg, executor=recorder)
    core.program("infer", 1)            # (with the training programs it runs beside)
    # the premise: a shared offset beyond the copies' addresses
    assert max(p.offset for program in core._programs.values()
               for p in program.placement.buffers) >= 1 << cfg.addr_bits
    core.load_params(random_params(spec, 0))
    core.infer("actor", np.zeros((1, spec.obs_dim)))
    assert sum(call.image_bytes for call in recorder.take()) > 0
    core.close()
