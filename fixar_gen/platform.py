"""The platform figure: training samples per second of the whole DDPG loop on a host
with the U50 card, next to the accelerator-only figure.

One step of the loop (FIXAR's setting: one environment step, then one update of batch
B) costs, one after the other:

- *host* -- measured here: the environment's step, the replay buffer's add and sample,
  and the host software of the U50 backend (the agent's quantization and
  :class:`~fixar_gen.backends.HardwareCore` with the command driver,
  :mod:`fixar_gen.targets.u50.batch`) for the action's inference and the update, run
  against :class:`TrafficRecorder` in place of the card;
- *link* -- modeled from the exact traffic the driver produced in that run: per kernel
  invocation the commands and the image sent to the card, the image read back, the
  kernel's start and completion, the status registers read (:class:`HostLink`: PCIe
  Gen3 x16 through the XDMA shell; its figures are assumptions, stated there);
- *card* -- modeled: the RTL's exact cycle model for the update and the batch-1
  inference, plus the kernel's transfers between HBM and the core (one AXI beat a cycle
  and a latency per command) at the spec's clock.

Platform IPS = B x updates per step / (host + link + card).  Nothing overlaps: the
figure is what the loop as written does, not a bound (the host could step the
environment while the card updates).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field

import numpy as np

from .spec import Spec


@dataclass(frozen=True)
class HostLink:
    """How the host reaches the card; every figure an assumption, not a measurement.

    ``bytes_per_s``: what a DMA between host memory and the card's HBM moves, PCIe Gen3
    x16 (15.75 GB/s raw a direction) at about 75% efficiency.  ``sync_s``: the fixed
    cost of one buffer sync call (pinning, descriptors, interrupt).  ``launch_s``: one
    kernel invocation's start, completion interrupt and wait.  ``register_s``: one
    read of a kernel register over PCIe.  ``command_latency_cycles``: cycles a kernel
    command waits for HBM before its first beat."""

    name: str = "PCIe Gen3 x16 through the XDMA shell (modeled)"
    bytes_per_s: float = 12e9
    sync_s: float = 10e-6
    launch_s: float = 25e-6
    register_s: float = 1e-6
    command_latency_cycles: int = 64

    def scaled(self, factor: float) -> "HostLink":
        """The same link with every fixed cost ``factor`` times larger."""
        return dataclasses.replace(self, sync_s=self.sync_s * factor,
                                   launch_s=self.launch_s * factor,
                                   register_s=self.register_s * factor)


@dataclass(frozen=True)
class Invocation:
    """One kernel invocation as the driver sent it: bytes each way and the kernel's
    HBM beats (command fetch, LOAD, STORE and STATS data)."""

    command_bytes: int
    image_bytes: int
    commands: int
    beats: int


class TrafficRecorder:
    """An executor of :class:`~fixar_gen.targets.u50.batch.CommandDriver` that records
    each invocation and gives the image back unchanged (the card's results read as
    zeros): the host side runs as it would with the card, and the traffic is exact.
    :attr:`busy_s` sums the seconds spent in it (decoding what the card would decode),
    which :func:`measure_host_loop` takes out of the host's time."""

    def __init__(self, hostmap, axi_data_bits: int):
        self.hostmap = hostmap
        self.axi_data_bits = axi_data_bits
        self.invocations: list[Invocation] = []
        self.busy_s = 0.0

    def __call__(self, commands: np.ndarray, image: np.ndarray) -> np.ndarray:
        start = time.perf_counter()
        try:
            return self._record(commands, image)
        finally:
            self.busy_s += time.perf_counter() - start

    def _record(self, commands: np.ndarray, image: np.ndarray) -> np.ndarray:
        from .targets.u50.commands import decode_commands, layout
        beats = -(-commands.nbytes // (self.axi_data_bits // 8))
        done = decode_commands(commands)
        for c in done:
            if c.opcode in ("LOAD", "STORE", "STATS"):
                memory = "data" if c.opcode == "STORE" else c.memory
                beats += layout(self.hostmap, memory, self.axi_data_bits).beats(c.count)
        self.invocations.append(Invocation(commands.nbytes, image.nbytes, len(done), beats))
        return image

    def take(self) -> tuple[Invocation, ...]:
        out, self.invocations = tuple(self.invocations), []
        return out


def link_seconds(invocations, link: HostLink) -> float:
    """Host <-> card time of these invocations: commands and image to the card (two
    syncs), the run, the status registers, the image back (one sync)."""
    from .targets.u50.status import STATUS_REGISTERS
    total = 0.0
    for inv in invocations:
        moved = inv.command_bytes + 2 * inv.image_bytes
        total += moved / link.bytes_per_s + 3 * link.sync_s + link.launch_s \
            + len(STATUS_REGISTERS) * link.register_s
    return total


def transfer_cycles(invocations, link: HostLink) -> int:
    """Kernel cycles spent moving the invocations' data between HBM and the core."""
    return sum(inv.beats + inv.commands * link.command_latency_cycles
               for inv in invocations)


@dataclass
class HostLoop:
    """Per-step host seconds of the training loop, measured (medians over the steps)."""

    env_s: float
    replay_s: float
    act_s: float
    update_s: float
    act_traffic: tuple[Invocation, ...] = field(default_factory=tuple)
    update_traffic: tuple[Invocation, ...] = field(default_factory=tuple)

    @property
    def total_s(self) -> float:
        return self.env_s + self.replay_s + self.act_s + self.update_s


def _u50_agent(spec: Spec, seed: int):
    """A CoreAgent on the U50 backend whose card is a :class:`TrafficRecorder`."""
    from .rl.agent import CoreAgent
    from .targets.u50.commands import DEFAULT_AXI_DATA_BITS
    from .targets.u50.driver import open_u50_core
    from .hw.design import config_for

    cfg = config_for(spec)
    recorder = TrafficRecorder(cfg.hostmap, DEFAULT_AXI_DATA_BITS)
    core = open_u50_core(spec, cfg=cfg, executor=recorder)
    return CoreAgent(spec, seed=seed, core=core), recorder


def measure_host_loop(spec: Spec, steps: int = 200, seed: int = 0) -> HostLoop:
    """Run ``steps`` steps of the training loop (environment, replay, the agent's
    action and one update of ``spec``'s batch) with the U50 backend's host software
    against a :class:`TrafficRecorder`; the median seconds of each part and the traffic
    of the last step's action and update.  The replay buffer is filled with one batch
    of random transitions first, so every timed step updates (``updates_per_step``
    times, as the trainer does after its warm-up)."""
    from .rl.env import action_bound, make_env
    from .rl.replay import ReplayBuffer

    env = make_env(spec)
    bound = action_bound(env)
    agent, recorder = _u50_agent(spec, seed)
    batch = spec.algorithm.batch_size
    rng = np.random.default_rng(seed)
    replay = ReplayBuffer(max(batch, steps) + batch, spec.obs_dim, spec.action_dim)
    obs, _ = env.reset(seed=seed)
    for _ in range(batch):
        action = rng.uniform(-1.0, 1.0, size=spec.action_dim)
        nxt, reward, term, trunc, _ = env.step(action * bound)
        replay.add(obs, action, reward, nxt, term)
        obs = nxt if not (term or trunc) else env.reset()[0]
    agent.update(replay.sample(batch, rng))         # the first update loads the program
    recorder.take()
    parts: dict[str, list[float]] = {"env": [], "replay": [], "act": [], "update": []}
    updates = spec.algorithm.updates_per_step
    for _ in range(steps):
        # (the recorder's own seconds, standing in for the card, are not the host's)
        b0 = recorder.busy_s
        t0 = time.perf_counter()
        action = agent.act(obs, explore=True)[0]
        t1 = time.perf_counter()
        b1 = recorder.busy_s
        act_traffic = recorder.take()
        nxt, reward, term, trunc, _ = env.step(np.clip(action, -1.0, 1.0) * bound)
        t2 = time.perf_counter()
        replay.add(obs, action, reward, nxt, term)
        samples = [replay.sample(batch, rng) for _ in range(updates)]
        t3 = time.perf_counter()
        b3 = recorder.busy_s
        for sample in samples:
            agent.update(sample)
        t4 = time.perf_counter()
        b4 = recorder.busy_s
        update_traffic = recorder.take()
        obs = nxt if not (term or trunc) else env.reset()[0]
        for key, seconds in (("act", t1 - t0 - (b1 - b0)), ("env", t2 - t1),
                             ("replay", t3 - t2), ("update", t4 - t3 - (b4 - b3))):
            parts[key].append(seconds)
    env.close()
    agent.core.close()
    med = {k: float(np.median(v)) for k, v in parts.items()}
    return HostLoop(med["env"], med["replay"], med["act"], med["update"], act_traffic,
                    update_traffic)


def platform_figure(spec: Spec, host: HostLoop, train_cycles: int, infer_cycles: int,
                    link: HostLink = HostLink()) -> dict:
    """Seconds per loop step by part and the platform IPS, from the measured host loop
    and the modeled link and card (``train_cycles``/``infer_cycles``: the RTL cycle
    model's update and batch-1 inference)."""
    clock = spec.hardware.clock_mhz * 1e6
    traffic = host.act_traffic + host.update_traffic
    link_s = link_seconds(traffic, link)
    updates = spec.algorithm.updates_per_step
    card_s = (updates * train_cycles + infer_cycles + transfer_cycles(traffic, link)) / clock
    samples = spec.algorithm.batch_size * updates
    step_s = host.total_s + link_s + card_s
    return {"host_s": host.total_s, "env_s": host.env_s, "replay_s": host.replay_s,
            "driver_s": host.act_s + host.update_s, "link_s": link_s, "card_s": card_s,
            "invocations": len(traffic), "bytes": sum(i.command_bytes + 2 * i.image_bytes
                                                      for i in traffic),
            "step_s": step_s, "platform_ips": samples / step_s,
            "accelerator_ips": spec.algorithm.batch_size * clock / train_cycles}
