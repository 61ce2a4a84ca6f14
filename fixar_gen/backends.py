"""The Core interface and its backends.

Every backend -- ``golden`` here; ``pyrtl``, ``verilator`` and ``u50`` as they are
built -- offers the same operations on raw fixed-point integers, and the same calls
give bit-identical results on all of them:

    core = open_core(spec, backend="golden")
    core.load_params(params)              # {"actor.l0.w": int array, ...}
    actions = core.infer("actor", states) # raw, in core.formats["actions"]
    core.train_step(batch)                # one DDPG update, all on the core
    core.set_precision(precision)         # FXP32 -> per-layer FXP16
    core.stats                            # saturations, ranges, cycles (when known)

The host-side work that is the same for every backend -- compiling and caching
programs, the constants each update needs (Adam's bias-corrected step size, ...),
range bookkeeping -- lives in :class:`Core`; a backend only runs programs.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType

import numpy as np

from . import algorithms
from .compiler import (NETS, Precision, precision_keys, build_layout, compile_program,
                       compile_programs, machine_runs, monitor_names, nets, network_spec, param_cols, param_names,
                       optimizer_state_suffixes)
from .engine import ENGINES, EngineMachine
from .golden import PRNG_LANES, GoldenMachine, RunStats, seed_lanes
from .isa import Program
from .numerics import FixedFormat
from .spec import Spec

BACKENDS = ("golden", "pyrtl", "verilator", "u50")


@dataclass
class Batch:
    """One training batch as raw integers in the core's input formats
    (``core.formats``): states and next states (B x obs), actions scaled to [-1, 1]
    (B x act), rewards already multiplied by reward_scale (B x 1), dones 0/1 (B x 1)."""

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_states: np.ndarray
    dones: np.ndarray

    @property
    def size(self) -> int:
        return int(np.asarray(self.states).shape[0])

    def to_float(self, formats: dict[str, FixedFormat]) -> dict[str, np.ndarray]:
        """The same batch as float64 arrays (what a float model of the core sees)."""
        return {"states": formats["states"].to_float(self.states),
                "actions": formats["actions"].to_float(self.actions),
                "rewards": formats["rewards"].to_float(self.rewards),
                "next_states": formats["states"].to_float(self.next_states),
                "dones": np.asarray(self.dones).astype(np.float64)}


@dataclass
class CoreStats:
    """What the core reported: cumulative saturations per buffer, per-run saturations,
    activation ranges seen since the last reset, cycles of the last run (None when the
    backend does not count cycles), and counters."""

    saturations: Counter = field(default_factory=Counter)
    last_saturations: int = 0
    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    cycles: int | None = None
    updates: int = 0
    runs: int = 0

    @property
    def total_saturations(self) -> int:
        return sum(self.saturations.values())


@lru_cache(maxsize=None)
def _buffer_formats(spec: Spec, precision: Precision) -> MappingProxyType:
    """Buffer name -> format for (spec, precision): the data formats do not depend on the
    batch, so one layout (batch 1) answers for all; cached, since acting asks per step."""
    layout = build_layout(spec, precision, 1)
    return MappingProxyType({b.name: b.fmt for b in layout.buffers})


class Core:
    """The backend-independent half of every Core backend."""

    backend = "abstract"

    def __init__(self, spec: Spec, precision: Precision = Precision()):
        self.spec = spec
        self.precision = precision
        self.stats = CoreStats()
        self._programs: dict[tuple, Program] = {}
        self._updates = 0
        self._persistent_ready = False

    # -- what a backend implements ---------------------------------------------------

    def _run(self, program: Program, host: dict[str, np.ndarray]) -> RunStats:
        raise NotImplementedError

    def _write(self, name: str, values: np.ndarray) -> None:
        raise NotImplementedError

    def _read(self, name: str) -> np.ndarray:
        raise NotImplementedError

    def _allocate(self, program: Program) -> None:
        raise NotImplementedError

    # -- formats ---------------------------------------------------------------------

    @property
    def formats(self) -> dict[str, FixedFormat]:
        """The formats of the raw arrays infer/train_step take and return."""
        fmt = _buffer_formats(self.spec, self.precision)
        return {"states": fmt["in.states"], "actions": fmt["in.actions"],
                "rewards": fmt["in.rewards"], "dones": fmt["in.dones"], "q": fmt["in.rewards"],
                "weight": self.spec.numerics.weight_format,
                "gradient": self.spec.numerics.gradient_format}

    def program(self, phase: str, batch: int) -> Program:
        key = (phase, batch, self.precision)
        if key not in self._programs:
            self._programs[key] = compile_program(self.spec, phase, self.precision, batch)
            self._ensure(self._programs[key])
        return self._programs[key]

    def _ensure(self, program: Program) -> None:
        self._allocate(program)
        if not self._persistent_ready:
            self._persistent_ready = True
            self._write_constants(program)
            self.seed_prng(self.spec.env.seed)
            self.reset_ranges()

    # -- parameters --------------------------------------------------------------------

    def param_names(self, with_state: bool = True) -> list[str]:
        names = []
        for net in nets(self.spec):
            names += param_names(self.spec, net)
            names += param_names(self.spec, net, "target.")
            if with_state:
                for p in param_names(self.spec, net):
                    names += [f"{p}.{s}" for s in optimizer_state_suffixes(self.spec)]
        return names

    def load_params(self, params: dict[str, np.ndarray]) -> None:
        """Write named parameters (weights, biases, target copies, optimizer state) as
        raw integers; names not given keep their values."""
        program = self.program("infer", 1)
        known = set(self.param_names())
        table = {b.name: b for b in program.buffers}
        for name, values in params.items():
            if name not in known:
                raise KeyError(f"unknown parameter {name!r}")
            self._write(name, self._padded(table[name], values))

    def read_params(self, names: list[str] | None = None) -> dict[str, np.ndarray]:
        """The named parameters (default: all, with the optimizer state) as raw integers,
        at their logical shapes (a weight's padded row stride dropped)."""
        self.program("infer", 1)
        out = {}
        for n in (names or self.param_names()):
            values = self._read(n)
            cols = param_cols(self.spec, n)
            out[n] = values[:, :cols] if cols is not None else values
        return out

    def _padded(self, buffer, values) -> np.ndarray:
        """``values`` at a weight's logical columns widened to its buffer's padded row
        stride with zeros (the padding columns are never read)."""
        values = np.asarray(values)
        if values.ndim == 2 and values.shape[0] == buffer.rows \
                and values.shape[1] == param_cols(self.spec, buffer.name) < buffer.cols:
            wide = np.zeros((buffer.rows, buffer.cols), dtype=values.dtype)
            wide[:, :values.shape[1]] = values
            return wide
        return values

    # -- constants ---------------------------------------------------------------------

    def _write_constants(self, program: Program) -> None:
        spec, a = self.spec, self.spec.algorithm
        table = {b.name: b for b in program.buffers}

        def put(name: str, *values: float) -> None:
            fmt = table[name].fmt
            self._write(name, fmt.quantize(np.array(values, dtype=np.float64)).reshape(1, -1))

        put("c.gamma", a.gamma)
        put("c.tau", a.tau)
        put("c.beta1", a.adam_beta1)
        put("c.beta2", a.adam_beta2)
        put("c.momentum", a.momentum)
        if a.noise.kind == "gaussian":
            put("c.noise", a.noise.sigma, 0.0)
        else:
            put("c.noise", a.noise.sigma * math.sqrt(a.noise.dt), a.noise.theta * a.noise.dt)
        for net in NETS:
            put(f"c.slope.{net}", getattr(spec.networks, net).leaky_slope)
        for name, values in algorithms.of(spec).host_constants(spec).items():
            put(name, *values)
        self._write_step_constants(0, spec.algorithm.batch_size, table)

    def _write_step_constants(self, t: int, batch: int, table) -> None:
        """Per-update constants: 2/B, -1/B and the optimizers' step sizes at update t
        (0, 1, ...; each optimizer's step count from the algorithm's
        ``optimizer_steps``; Adam: alpha_t = lr sqrt(1 - beta2^t) / (1 - beta1^t), eps).  Each
        constant's last quantisation is kept (most do not change from update to
        update; quantising them again is a large part of a small network's update)."""
        a = self.spec.algorithm
        last = self.__dict__.setdefault("_step_constants", {})

        def put(name: str, *values: float) -> None:
            fmt = table[name].fmt
            hit = last.get(name)
            if hit is None or hit[0] != (fmt, values):
                raw = fmt.quantize(np.array(values, dtype=np.float64)).reshape(1, -1)
                hit = last[name] = ((fmt, values), raw)
            self._write(name, hit[1])

        put("c.mse", 2.0 / batch)
        put("c.neg_inv_batch", -1.0 / batch)
        steps = algorithms.of(self.spec).optimizer_steps(self.spec, t)
        for net, lr in (("actor", a.actor_lr), ("critic", a.critic_lr)):
            step = steps[net]
            if a.optimizer == "adam":
                alpha = lr * math.sqrt(1.0 - a.adam_beta2 ** step) / (1.0 - a.adam_beta1 ** step)
                put(f"c.{net}_opt", alpha, a.adam_eps)
            else:
                put(f"c.{net}_opt", lr, 0.0)
        ones = table["c.ones"]
        hit = last.get("c.ones")
        if hit is None or hit.shape != (ones.rows, ones.cols):
            hit = last["c.ones"] = np.ones((ones.rows, ones.cols), dtype=np.int64)
        self._write("c.ones", hit)

    def seed_prng(self, seed: int) -> None:
        self._write("prng", seed_lanes(seed, PRNG_LANES))

    def reset_ranges(self) -> None:
        """Start a new range-monitoring window (QAT reads the ranges after it)."""
        formats = _buffer_formats(self.spec, self.precision)
        for key in precision_keys(self.spec):
            fmt = formats[f"rng.{key}"]
            for name in monitor_names(key, self.spec.hardware.cores):
                self._write(name, np.array([[fmt.max_int, fmt.min_int]], dtype=np.int64))
        self.stats.ranges = {}

    def reset_noise_state(self) -> None:
        """Zero the OU exploration state (at the start of an episode)."""
        program = self.program("explore", 1)
        b = next(b for b in program.buffers if b.name == "ou.state")
        self._write("ou.state", np.zeros((b.rows, b.cols), dtype=np.int64))

    def read_ranges(self) -> dict[str, tuple[float, float]]:
        """Observed [min, max] of every activation tensor, as floats (empty tensors
        that were never seen are left out)."""
        formats = _buffer_formats(self.spec, self.precision)
        out = {}
        for key in precision_keys(self.spec):
            fmt = formats[f"rng.{key}"]
            per_core = [self._read(n).reshape(-1) for n in
                        monitor_names(key, self.spec.hardware.cores)]
            lo, hi = min(int(m[0]) for m in per_core), max(int(m[1]) for m in per_core)
            if lo <= hi:
                out[key] = (float(fmt.to_float(np.array([lo]))[0]),
                            float(fmt.to_float(np.array([hi]))[0]))
        self.stats.ranges = out
        return out

    # -- operations ----------------------------------------------------------------------

    def _account(self, run: RunStats, program: Program) -> None:
        self.stats.saturations.update(run.by_buffer)
        self.stats.last_saturations = run.total_saturations
        self.stats.runs += 1

    def infer(self, net: str, x: np.ndarray, actions: np.ndarray | None = None,
              explore: bool = False) -> np.ndarray:
        """Batch inference: the actor on states (``explore`` adds the on-chip noise), or
        the critic on (states, actions).  Raw integers in, raw integers out."""
        x = np.atleast_2d(np.asarray(x, dtype=np.int64))
        batch = x.shape[0]
        if net == "actor":
            program = self.program("explore" if explore else "infer", batch)
            host = {"states": x}
            out = "actions"
        elif net == "critic":
            if actions is None:
                raise ValueError("infer('critic', states, actions): actions are needed")
            program = self.program("infer_critic", batch)
            host = {"states": x, "actions": np.atleast_2d(np.asarray(actions, np.int64))}
            out = "q"
        else:
            raise ValueError(f"net {net!r} is not one of {NETS}")
        run = self._run(program, host)
        self._account(run, program)
        return host[out].copy()

    def train_step(self, batch: Batch) -> None:
        """One update of the spec's algorithm on the core (DDPG: target networks and
        Bellman target, critic forward/backward/update, actor forward through the
        updated critic, backward/update, soft target updates; TD3: its program for this
        update, :func:`fixar_gen.algorithms.td3.train_phase`)."""
        size = batch.size
        program = self.program(algorithms.of(self.spec).train_phase(self.spec, self._updates),
                               size)
        tables = self.__dict__.setdefault("_tables", {})
        if id(program) not in tables or tables[id(program)][0] is not program:
            tables[id(program)] = (program, {b.name: b for b in program.buffers})
        table = tables[id(program)][1]
        self._allocate(program)          # data buffers sized for this batch
        self._write_step_constants(self._updates, size, table)
        host = {"states": batch.states, "next_states": batch.next_states,
                "actions": batch.actions, "rewards": batch.rewards, "dones": batch.dones}
        host = {k: np.asarray(v, dtype=np.int64).reshape(size, -1) for k, v in host.items()}
        run = self._run(program, host)
        self._account(run, program)
        self._updates += 1
        self.stats.updates = self._updates

    @property
    def updates(self) -> int:
        return self._updates

    # -- whole-state save and restore (checkpoints) ----------------------------------

    STATE_KINDS = ("param", "state", "prng", "monitor")

    def export_state(self) -> tuple[dict[str, np.ndarray], dict]:
        """Everything that decides the core's future results: parameters, target
        networks, optimizer state, PRNG lanes, range monitors and OU state (raw
        arrays), plus the update counter and the precision (JSON-able)."""
        program = self.program("infer", 1)
        arrays = {b.name: np.asarray(self._read(b.name)) for b in program.buffers
                  if b.kind in self.STATE_KINDS}
        meta = {"updates": self._updates, "precision": precision_to_dict(self.precision)}
        return arrays, meta

    def import_state(self, arrays: dict[str, np.ndarray], meta: dict) -> None:
        self.set_precision(precision_from_dict(meta["precision"]))
        program = self.program("infer", 1)
        for b in program.buffers:
            if b.kind in self.STATE_KINDS:
                if b.name not in arrays:
                    raise KeyError(f"core state lacks {b.name}")
                value = np.asarray(arrays[b.name])
                if b.name == "ou.state" and value.shape != (b.rows, b.cols):
                    continue
                self._write(b.name, value)
        self._updates = int(meta["updates"])
        self.stats.updates = self._updates

    def set_precision(self, precision: Precision) -> None:
        """Switch activation precision (FXP32, or FXP16 with per-layer formats); the
        parameters and optimizer state are kept, programs are recompiled."""
        self.precision = precision
        self.program("infer", 1)
        self.reset_ranges()


def precision_to_dict(precision: Precision) -> dict:
    return {"mode": precision.mode,
            "formats": {k: [f.width, f.frac, f.rounding, f.overflow]
                        for k, f in precision.formats}}


def precision_from_dict(data: dict) -> Precision:
    formats = tuple((k, FixedFormat(int(w), int(f), rounding=r, overflow=o))
                    for k, (w, f, r, o) in data["formats"].items())
    return Precision(data["mode"], formats)


class TransferPrograms:
    """A Core's programs for per-core memories: compiled with their transfers, the
    programs that run together compiled together -- the spec's training programs at
    its batch and the inference programs at batch 1, with any other (phase, batch) the
    host asks for (the whole set compiled again then, so that the state's transfers
    serve every program of it)."""

    def _transfer_runs(self) -> list[tuple[str, int]]:
        if not hasattr(self, "_runs"):
            self._runs = [(p, b or self.spec.algorithm.batch_size)
                          for p, b in machine_runs(self.spec)]
        return self._runs

    def program(self, phase: str, batch: int) -> Program:
        key = (phase, batch, self.precision)
        if key not in self._programs:
            runs = self._transfer_runs()
            if (phase, batch) not in runs:
                runs.append((phase, batch))
            programs = compile_programs(self.spec, runs, self.precision,
                                        per_core_memories=True)
            for (p, b), program in zip(runs, programs):
                self._programs[(p, b, self.precision)] = program
            for program in programs:
                self._ensure(program)
        return self._programs[key]


class GoldenCore(Core):
    """The bit-exact numpy reference backend.  ``engine="compiled"`` (the default) runs
    each program as a compiled plan of exact kernels (:mod:`fixar_gen.engine`;
    ``kernels``: "numba" where numba is installed, else "numpy");
    ``engine="interpreter"`` runs the instruction-by-instruction interpreter
    (:mod:`fixar_gen.golden`), the executable specification.  Both give the same bits."""

    backend = "golden"

    def __init__(self, spec: Spec, precision: Precision = Precision(),
                 engine: str = "compiled", kernels: str | None = None):
        super().__init__(spec, precision)
        if engine not in ENGINES:
            raise ValueError(f"engine {engine!r} is not one of {', '.join(ENGINES)}")
        self.engine = engine
        if engine == "compiled":
            self.machine = EngineMachine(spec.numerics.overflow, kernels)
        else:
            self.machine = GoldenMachine(acc_overflow=spec.numerics.overflow)

    def _allocate(self, program: Program) -> None:
        self.machine.allocate(program.buffers)

    def _run(self, program: Program, host: dict[str, np.ndarray]) -> RunStats:
        return self.machine.run(program, host)

    def _write(self, name: str, values: np.ndarray) -> None:
        self.machine.write(name, values)

    def _read(self, name: str) -> np.ndarray:
        return self.machine.read(name)


class HardwareCore(Core):
    """The generated RTL of the spec's core, simulated (``pyrtl``: PyRTL
    FastSimulation; ``verilator``: the Verilog compiled by Verilator).  The host side
    (:mod:`fixar_gen.hw.host`) places buffers and loads programs; the core runs them.
    A design with per-core memories runs the programs with their transfers
    (:class:`PerCoreHardwareCore`)."""

    def __init__(self, spec: Spec, precision: Precision = Precision(),
                 backend: str = "pyrtl", machine=None):
        super().__init__(spec, precision)
        from .hw.session import open_machine
        self.backend = backend
        self.machine = machine or open_machine(spec, backend)

    def _allocate(self, program: Program) -> None:
        self.machine.allocate(program.buffers, program.placement, program.copies)

    def _run(self, program: Program, host: dict[str, np.ndarray]) -> RunStats:
        run = self.machine.run(program, host)
        self.stats.cycles = self.machine.cycles
        return run

    def _write(self, name: str, values: np.ndarray) -> None:
        self.machine.write(name, values)

    def _read(self, name: str) -> np.ndarray:
        return self.machine.read(name)

    def close(self) -> None:
        self.machine.driver.close()


class PerCoreHardwareCore(TransferPrograms, HardwareCore):
    """:class:`HardwareCore` on the spec's design with per-core memories
    (``CoreConfig.per_core_memories``): each core its copy of the memories, the
    programs compiled with their transfers (:class:`TransferPrograms`)."""

    def __init__(self, spec: Spec, precision: Precision = Precision(),
                 backend: str = "pyrtl", machine=None):
        from .hw.session import open_machine, simulation_config
        super().__init__(spec, precision, backend, machine or open_machine(
            spec, backend, simulation_config(spec, per_core_memories=True)))
        self.backend = f"{backend}-per-core"


def open_core(spec: Spec, backend: str = "golden", precision: Precision = Precision(),
              engine: str | None = None) -> Core:
    """A Core for ``spec`` on ``backend``.  ``golden`` takes ``engine``: ``"compiled"``
    (the default, :mod:`fixar_gen.engine`) or ``"interpreter"`` (:mod:`fixar_gen.golden`
    instruction by instruction); other backends take none.  ``pyrtl`` and ``verilator``
    simulate the spec's design: with ``hardware.per_core_memories`` on more than one
    core, each core its copy of the memories (:class:`PerCoreHardwareCore`).  ``u50``
    runs the kernel on an Alveo U50 through XRT (:mod:`fixar_gen.targets.u50.driver`: the xclbin from ``FIXAR_XCLBIN``,
    else build/<spec name>/fixar_kernel.xclbin; pyxrt is imported only then)."""
    if engine is not None and backend != "golden":
        raise ValueError(f"engine {engine!r}: only the golden backend has engines")
    if backend == "golden":
        return GoldenCore(spec, precision, engine or "compiled")
    if backend in ("pyrtl", "verilator"):
        if spec.hardware.memories_per_core:        # hardware.per_core_memories, 2+ cores
            return PerCoreHardwareCore(spec, precision, backend)
        return HardwareCore(spec, precision, backend)
    if backend == "u50":
        from .targets.u50.driver import open_u50_core
        return open_u50_core(spec, precision)
    raise ValueError(f"backend {backend!r} is not available (available: "
                     f"{', '.join(BACKENDS)})")


def random_params(spec: Spec, seed: int = 0, scale: float | None = None
                  ) -> dict[str, np.ndarray]:
    """DDPG's usual initialisation (uniform +-1/sqrt(fan_in); the output layers
    +-3e-3), quantized to the weight format; targets start as copies.  Networks are
    drawn in the algorithm's order (TD3's twin critic after the actor and critic)."""
    rng = np.random.default_rng(seed)
    fmt = spec.numerics.weight_format
    out = {}
    for net in nets(spec):
        sizes = network_spec(spec, net).layer_sizes
        for i, (k, m) in enumerate(zip(sizes, sizes[1:])):
            bound = scale if scale is not None else (3e-3 if i == len(sizes) - 2
                                                     else 1.0 / math.sqrt(k))
            w = fmt.quantize(rng.uniform(-bound, bound, size=(k, m)))
            b = fmt.quantize(rng.uniform(-bound, bound, size=(1, m)))
            for prefix in ("", "target."):
                out[f"{prefix}{net}.l{i}.w"] = w.copy()
                out[f"{prefix}{net}.l{i}.b"] = b.copy()
    return out


def uniform_batch(spec: Spec, formats: dict[str, FixedFormat], rng: np.random.Generator,
                  size: int | None = None, reward_range: tuple[float, float] = (-16.0, 0.0),
                  done_prob: float = 0.1) -> Batch:
    """A plain (non-hypothesis) random batch in the core's input formats: states and
    actions uniform in [-1, 1], rewards uniform in ``reward_range``."""
    B = size or spec.algorithm.batch_size
    obs, act = spec.obs_dim, spec.action_dim
    return Batch(states=formats["states"].quantize(rng.uniform(-1, 1, (B, obs))),
                 actions=formats["actions"].quantize(rng.uniform(-1, 1, (B, act))),
                 rewards=formats["rewards"].quantize(rng.uniform(*reward_range, (B, 1))),
                 next_states=formats["states"].quantize(rng.uniform(-1, 1, (B, obs))),
                 dones=(rng.random((B, 1)) < done_prob).astype(np.int64))
