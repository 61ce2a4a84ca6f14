"""The compiler: networks + an algorithm's update + a parallelism policy -> programs.

A :class:`Layout` is the memory map of one spec at one precision (every buffer with its
shape and format, every host slot); all programs of a core share it, so parameters stay
in place between programs.  :func:`compile_program` lowers one phase:

- ``infer``   the actor's forward pass on a batch of states (``infer_critic`` for Q);
- ``explore`` the same plus exploration noise from the on-chip PRNG;
- ``train``   one full DDPG update: target networks, Bellman target, critic
              forward/backward and optimizer step, actor forward through the updated
              critic, actor backward and step, soft target updates, range monitors.

The training programs are the algorithm's (:mod:`fixar_gen.algorithms`: DDPG's
``train`` above; TD3's ``train`` and ``train_critic``), lowered through the
:class:`Emitter` below.

The policy splits work over the cores: ``intra_layer`` gives each core a slice of every
layer's output columns (all samples), ``intra_batch`` gives each core a slice of the
samples (and reduces the weight gradients, exactly, before the update).  Results never
depend on the policy or the array shape; only cycles do (:mod:`fixar_gen.perf`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .isa import (NO_BUFFER, Barrier, Buffer, Drain, Halt, Instruction, Load, MatMul,
                  Program, Range, Slot, Store, Vector, ACTIVATIONS, MODES, VECTOR_FUNCTIONS)
from .arch import PRNG_LANES
from .numerics import FixedFormat
# formats of the constants the host writes (unsigned; see docs/numerics.md), declared with
# the operations that read them
from .ops import COEFF, NOISE, PRNG, RATE, SCALE, SLOPE, UNIT  # noqa: F401
from .memory_access import access_problems
from .memory_kinds import (DELTA_MEMORY, accumulator_half_line, accumulator_stride,
                           activation_banks, activation_stride, memory_of, weight_stride)
from .placement import place
from .spec import Spec
from .transfers import insert_all
from . import algorithms

#: the network roles of a spec (:class:`~fixar_gen.spec.NetworksSpec`); an algorithm's
#: networks are instances of them (:func:`nets`, :func:`role`)
NETS = ("actor", "critic")
#: the phases every algorithm has; its training programs are its own (:func:`phases`)
INFERENCE_PHASES = ("infer", "infer_critic", "explore")
PHASES = INFERENCE_PHASES + ("train",)


def nets(spec: Spec) -> tuple[str, ...]:
    """The networks of ``spec``'s algorithm (DDPG: actor, critic; TD3: also critic2)."""
    return tuple(algorithms.of(spec).NETS)


def role(spec: Spec, net: str) -> str:
    """The NetworksSpec network that ``net`` is an instance of (its shape, activations,
    activation formats and range monitors): ``critic2`` is a ``critic``."""
    return algorithms.of(spec).NETS[net]


def network_spec(spec: Spec, net: str):
    return getattr(spec.networks, role(spec, net))


def phases(spec: Spec) -> tuple[str, ...]:
    """Every phase ``spec``'s algorithm compiles: inference, then its training programs."""
    return INFERENCE_PHASES + tuple(algorithms.of(spec).TRAIN_PHASES)


def is_training(spec: Spec, phase: str) -> bool:
    return phase in algorithms.of(spec).TRAIN_PHASES


@dataclass(frozen=True)
class Precision:
    """Activation precision: FXP32 (the spec's activation format everywhere) or FXP16
    with one format per activation tensor (``actor.in``, ``actor.l0``, ...,
    ``critic.in``, ..., see :func:`activation_keys`) and, with
    ``numerics.fxp16_deltas``, per streamed backward delta (``cq.critic.dz1``, ...,
    :func:`delta_keys`; in FXP32, or without the option, a delta has the spec's gradient
    format)."""

    mode: str = "fxp32"
    formats: tuple[tuple[str, FixedFormat], ...] = ()

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"Precision.mode: {self.mode!r} is not one of {MODES}")

    def format(self, key: str, spec: Spec) -> FixedFormat:
        if is_delta_key(key) and (self.mode == "fxp32" or not spec.numerics.fxp16_deltas):
            return spec.numerics.gradient_format
        if self.mode == "fxp32":
            return spec.numerics.activation_format
        table = dict(self.formats)
        if key not in table:
            raise ValueError(f"Precision: no FXP16 format for {key!r}")
        fmt = table[key]
        if fmt.width > spec.numerics.fxp16_width:
            raise ValueError(f"Precision: {key} format {fmt} is wider than "
                             f"{spec.numerics.fxp16_width} bits")
        return fmt


def activation_keys(spec: Spec) -> list[str]:
    """Every activation tensor whose format QAT chooses: each network's input and the
    output of each of its layers (target networks share their network's formats)."""
    keys = []
    for net in NETS:
        sizes = getattr(spec.networks, net).layer_sizes
        keys.append(f"{net}.in")
        keys += [f"{net}.l{i}" for i in range(len(sizes) - 1)]
    return keys


def delta_keys(spec: Spec) -> list[str]:
    """The backward deltas that get 16-bit formats with ``numerics.fxp16_deltas`` (none
    without it): in every pass the algorithm backpropagates through
    (``algorithms.BACKWARD``), each hidden layer's ``dz`` (``{pass}.{net}.dz{i}``,
    0 < i < the last layer), the operand every backward-data product streams; a
    network's first-layer delta only feeds its weight gradients, its output delta is
    written whole by the loss (B x the outputs).  Each is monitored through the
    gradient it is made from (``dh``, whose magnitude bounds it: ``dz = dh *
    act'(z)``, ``|act'| <= 1``): the drains of the backward-data product fold it."""
    if not spec.numerics.fxp16_deltas:
        return []
    return [f"{pass_name}.{net}.dz{i}"
            for pass_name, networks in algorithms.of(spec).BACKWARD for net in networks
            for i in range(1, len(layer_sizes(spec, net)) - 2)]


def streamed_delta(dz: str) -> str:
    """The name of delta ``dz``'s copy in ``amem`` (:func:`delta_keys`), which the
    backward-data product streams in FXP16."""
    return f"{dz}.amem"


def is_delta_key(key: str) -> bool:
    """Whether ``key`` names a backward delta (:func:`delta_keys`), not an activation."""
    return ".dz" in key


def precision_keys(spec: Spec) -> list[str]:
    """Every key a :class:`Precision` of ``spec`` has a format for: the activations'
    and the deltas' (:func:`activation_keys`, :func:`delta_keys`)."""
    return activation_keys(spec) + delta_keys(spec)


def monitor_format(key: str, spec: Spec, precision: Precision) -> FixedFormat:
    """The format of ``key``'s range monitors: the tensor's own (an activation's), or
    the gradient format of the ``dh`` a delta's monitors fold (:func:`delta_keys`)."""
    return (spec.numerics.gradient_format if is_delta_key(key)
            else precision.format(key, spec))


def monitor_names(key: str, cores: int) -> list[str]:
    """The range monitors of activation tensor ``key``, one per core (``rng.{key}`` for
    core 0, ``rng.{key}.c{c}`` for the others): each core folds its part of a tensor
    into its own, since two cores must not read-modify-write one word between barriers
    (they run at the same time); the host merges them."""
    return [f"rng.{key}"] + [f"rng.{key}.c{c}" for c in range(1, cores)]


def param_names(spec: Spec, net: str, prefix: str = "") -> list[str]:
    sizes = network_spec(spec, net).layer_sizes
    return [f"{prefix}{net}.l{i}.{p}" for i in range(len(sizes) - 1) for p in ("w", "b")]


def optimizer_state_suffixes(spec: Spec) -> tuple[str, ...]:
    return {"adam": ("m", "s"), "momentum": ("mom",), "sgd": ()}[spec.algorithm.optimizer]


# ---------------------------------------------------------------------------
# layout


@dataclass
class Layout:
    """The buffer table and host slots of one (spec, precision, batch)."""

    spec: Spec
    precision: Precision
    batch: int
    buffers: list[Buffer] = field(default_factory=list)
    slots: list[Slot] = field(default_factory=list)
    _ids: dict = field(default_factory=dict)
    _slot_ids: dict = field(default_factory=dict)
    #: logical columns of the buffers whose row stride is padded (the weights, the
    #: activations the matrix unit reads as ``a``)
    logical: dict = field(default_factory=dict)

    def add(self, name: str, rows: int, cols: int, fmt: FixedFormat, kind: str = "data",
            acc_bits: int = 0) -> int:
        if name in self._ids:
            raise ValueError(f"duplicate buffer {name}")
        self._ids[name] = len(self.buffers)
        self.buffers.append(Buffer(name, rows, cols, fmt, kind, acc_bits))
        return self._ids[name]

    def add_activation(self, name: str, rows: int, cols: int, fmt: FixedFormat) -> int:
        """A ``data`` buffer the matrix unit reads as ``a`` (a layer's input, ``c.ones``),
        its row stride padded (:func:`activation_cols`: its line, FXP16's row pair, its
        transposed column and pair in distinct banks of amem); the extra columns are
        never written nor read."""
        self.logical[name] = cols
        return self.add(name, rows, activation_cols(self.spec, cols), fmt)

    def slot(self, name: str, rows: int, cols: int) -> int:
        if name not in self._slot_ids:
            self._slot_ids[name] = len(self.slots)
            self.slots.append(Slot(name, rows, cols))
        return self._slot_ids[name]

    def __getitem__(self, name: str) -> int:
        return self._ids[name]

    def buf(self, name: str) -> Buffer:
        return self.buffers[self._ids[name]]

    def has(self, name: str) -> bool:
        return name in self._ids

    def cols(self, name: str) -> int:
        """The logical columns of buffer ``name`` (a weight matrix's, before its row
        stride was padded for wmem's banks: :func:`weight_banks`)."""
        return self.logical.get(name, self.buf(name).cols)


def layer_sizes(spec: Spec, net: str) -> tuple[int, ...]:
    return network_spec(spec, net).layer_sizes


def weight_banks(spec: Spec) -> int:
    """Banks of the core's ``wmem``: 2H, H the array's columns (or the vector lanes, if
    more) rounded up to a power of two (``memory_kinds.accumulator_half_line``), as
    ``cmem``'s."""
    return 2 * accumulator_half_line(spec.hardware.cols, spec.hardware.lanes)


def activation_cols(spec: Spec, cols: int) -> int:
    """The row stride (buffer columns) of an activation of ``cols`` logical columns
    that the matrix unit reads as ``a`` from ``amem``'s 4P interleaved banks
    (``memory_kinds.activation_banks``, ``activation_stride``)."""
    hw = spec.hardware
    return activation_stride(cols, activation_banks(hw.rows, hw.cols, hw.lanes), hw.rows)


def param_cols(spec: Spec, name: str) -> int | None:
    """The logical columns of parameter (or target parameter) ``name``, None for a
    buffer of another kind.  A weight's buffer is wider (:func:`weight_stride`: its row
    stride padded so that the matrix unit reads its transposed columns as strided lines
    of wmem); the host's parameter arrays have the logical columns."""
    L = build_layout(spec, batch=1)
    if not L.has(name) or L.buf(name).kind != "param":
        return None
    return L.cols(name)


def build_layout(spec: Spec, precision: Precision = Precision(), batch: int | None = None,
                 explorers: int = 1) -> Layout:
    """The memory map: parameters, optimizer state, constants, PRNG lanes, and the data
    and accumulator buffers of every pass for ``batch`` samples.

    ``ou.state`` holds one Ornstein-Uhlenbeck process per exploring actor: ``explorers``
    rows, whatever the batch, so the state of the one actor that collects samples in
    training survives the training step between two actions (a buffer whose shape
    changes is reallocated, zeroed). The explore phase passes its batch; every other
    phase 1."""
    n = spec.numerics
    B = batch or spec.algorithm.batch_size
    L = Layout(spec, precision, B)
    W, G = n.weight_format, n.gradient_format
    obs, act = spec.obs_dim, spec.action_dim
    for prefix in ("", "target."):
        for net in nets(spec):
            sizes = layer_sizes(spec, net)
            for i, (k, m) in enumerate(zip(sizes, sizes[1:])):
                # the weights' row stride padded (memory_kinds.weight_stride): the
                # backward pass reads them transposed from wmem's banks
                w = f"{prefix}{net}.l{i}.w"
                L.add(w, k, weight_stride(m, weight_banks(spec)), W, "param")
                L.logical[w] = m
                L.add(f"{prefix}{net}.l{i}.b", 1, m, W, "param")
    for net in nets(spec):
        for p in param_names(spec, net):
            rows, cols = L.buf(p).rows, L.cols(p)
            L.add(f"{p}.grad", rows, cols, G, "grad")
            for suffix in optimizer_state_suffixes(spec):
                L.add(f"{p}.{suffix}", rows, cols, G, "state")
    # constants written by the host
    L.add("c.gamma", 1, 1, COEFF, "const")
    L.add("c.tau", 1, 1, COEFF, "const")
    L.add("c.mse", 1, 1, SCALE, "const")
    L.add("c.beta1", 1, 1, COEFF, "const")
    L.add("c.beta2", 1, 1, COEFF, "const")
    L.add("c.momentum", 1, 1, COEFF, "const")
    L.add("c.actor_opt", 1, 2, RATE, "const")
    L.add("c.critic_opt", 1, 2, RATE, "const")
    L.add("c.noise", 1, 2, NOISE, "const")
    L.add("c.neg_inv_batch", 1, 1, G, "const")
    for net in NETS:
        L.add(f"c.slope.{net}", 1, 1, SLOPE, "const")
    algorithms.of(spec).add_constants(L, spec)
    L.add_activation("c.ones", B, 1, UNIT)
    L.add("prng", PRNG_LANES, 1, PRNG, "prng")
    # range monitors: [min, max] of every activation tensor (and delta's gradient)
    for key in precision_keys(spec):
        for name in monitor_names(key, spec.hardware.cores):
            L.add(name, 1, 2, monitor_format(key, spec, precision), "monitor")
    # the OU state has one row per exploring actor (a phase's size): after the kept
    # buffers of fixed size, so that the placement (fixar_gen.placement) keeps those at
    # one offset in every phase and batch
    L.add("ou.state", explorers, act, precision.format(f"actor.l{len(layer_sizes(spec, 'actor')) - 2}",
                                                spec), "monitor")
    # host-facing data
    out_key = lambda net: f"{net}.l{len(layer_sizes(spec, net)) - 2}"   # noqa: E731
    L.add("in.states", B, obs, precision.format("actor.in", spec))
    L.add("in.next_states", B, obs, precision.format("actor.in", spec))
    L.add("in.actions", B, act, precision.format(out_key("actor"), spec))
    L.add("in.rewards", B, 1, precision.format(out_key("critic"), spec))
    L.add("in.dones", B, 1, UNIT)
    L.add("y", B, 1, precision.format(out_key("critic"), spec))
    for name, rows, cols in (("states", B, obs), ("next_states", B, obs),
                             ("actions", B, act), ("rewards", B, 1), ("dones", B, 1),
                             ("q", B, 1)):
        L.slot(name, rows, cols)
    return L


# ---------------------------------------------------------------------------
# work splitting


def split(total: int, parts: int) -> list[Range | None]:
    """``total`` indices in ``parts`` contiguous ranges, sizes differing by at most one
    (None for a part that gets nothing)."""
    base, extra = divmod(total, parts)
    out, start = [], 0
    for p in range(parts):
        count = base + (1 if p < extra else 0)
        out.append(Range(start, count) if count else None)
        start += count
    return out


#: the depth (words) of the shallowest bank of block RAM that holds an accumulator word
#: (82 bits: one BRAM36 is 72 x 512, so two side by side, 512 deep): ``cmem``'s 2H banks
#: take at least this many words each, whatever its accumulators need
ACC_BANK_MIN_DEPTH = 512


def accumulator_bound(layout: Layout) -> int:
    """The words a weight gradient's accumulator may take (:meth:`Emitter.weight_gradient`
    chunks it to stay within): what ``cmem`` holds anyway -- the largest forward
    accumulator of a training program, B x the widest layer (its row stride padded,
    :func:`memory_kinds.accumulator_stride`), or 2H banks of the least block RAM depth
    (:data:`ACC_BANK_MIN_DEPTH`), whichever is more."""
    spec = layout.spec
    hw = spec.hardware
    half = accumulator_half_line(hw.cols, hw.lanes)
    widest = max(max(layer_sizes(spec, net)[1:]) for net in nets(spec))
    return max(layout.batch * accumulator_stride(widest, half),
               2 * half * ACC_BANK_MIN_DEPTH)


class Emitter:
    """Emits instructions for one phase, splitting each step over the cores by the
    policy; keeps the layout's accumulators."""

    def __init__(self, layout: Layout, policy: str, acc_bound: int | None = None,
                 per_core_memories: bool = False):
        if policy not in ("intra_layer", "intra_batch"):
            raise ValueError(f"policy {policy!r} must be resolved before lowering")
        self.L = layout
        self.spec = layout.spec
        self.policy = policy
        #: lowering for per-core memories, whose transfers move what the cores share:
        #: intra_batch's weight gradients are reduced in rounds
        #: (:meth:`_gradient_by_rounds`), not by ``acc_add``
        self.per_core_memories = per_core_memories
        self.cores = self.spec.hardware.cores
        self.code: list[Instruction] = []
        self.acc_bits = self.spec.numerics.accumulator_width
        #: the deltas with formats of their own (:func:`delta_keys`)
        self.deltas = frozenset(delta_keys(self.spec))
        hw = self.spec.hardware
        self.acc_half = accumulator_half_line(hw.cols, hw.lanes)
        #: the words no weight gradient's accumulator exceeds (:func:`accumulator_bound`)
        self.acc_bound = accumulator_bound(layout) if acc_bound is None else acc_bound
        if self.acc_bound < 1:
            raise ValueError(f"accumulator bound {self.acc_bound} must be at least 1 word")

    # -- helpers --------------------------------------------------------------------

    def barrier(self) -> None:
        if self.cores > 1:
            mask = (1 << self.cores) - 1
            self.code += [Barrier(core=c, mask=mask) for c in range(self.cores)]

    def acc(self, name: str, rows: int, cols: int, frac: int) -> int:
        """The accumulator ``name`` of ``rows`` x ``cols`` sums, its row stride padded
        (``memory_kinds.accumulator_stride``: an FXP16 product's rows m and m + 1 in the
        two halves of cmem's banks; padded in FXP32 too, so that both precisions place
        the same words); the extra columns are never written nor read."""
        cols = accumulator_stride(cols, self.acc_half)
        if self.L.has(name):
            return self.L[name]
        return self.L.add(name, rows, cols, FixedFormat(64, frac), "acc", self.acc_bits)

    def mode(self, streamed: str) -> int:
        """FXP16 when the streamed operand (a) is narrow enough and in ``amem``: from
        ``gmem`` (a delta) the matrix unit reads FXP32 lines only."""
        b = self.L.buf(streamed)
        return MODES.index("fxp16" if b.fmt.width <= self.spec.numerics.fxp16_width
                           and self.L.precision.mode == "fxp16"
                           and memory_of(b) != DELTA_MEMORY else "fxp32")

    def parts(self, rows: int, cols: int) -> list[tuple[int, Range, Range]]:
        """(core, rows, cols) of an element-wise step over a rows x cols region: the
        samples (rows) are split for intra_batch, the columns for intra_layer."""
        out = []
        if self.policy == "intra_batch":
            for c, r in enumerate(split(rows, self.cores)):
                if r is not None:
                    out.append((c, r, Range(0, cols)))
        else:
            for c, k in enumerate(split(cols, self.cores)):
                if k is not None:
                    out.append((c, Range(0, rows), k))
        return out

    def param_parts(self, rows: int, cols: int) -> list[tuple[int, Range, Range]]:
        """(core, rows, cols) of parameter-shaped element-wise work (the optimizer, the
        soft update, intra_batch's gradient reduction).  On intra_layer the columns are
        split as the products split them (each core its output neurons): a core updates
        the parameters its products read and the gradients its products wrote.  On
        intra_batch every core reads every weight anyway: the rows are split."""
        if self.policy == "intra_layer":
            return self.parts(rows, cols)
        return [(c, r, Range(0, cols)) for c, r in enumerate(split(rows, self.cores))
                if r is not None]

    def vec(self, fn: str, dst: str, rows: int, cols: int, *, a: str | None = None,
            b: str | None = None, c: str | None = None, e: str | None = None,
            col0: int = 0, src_col: int = 0, param: bool = False,
            single: bool = False) -> None:
        """An element-wise step, split over the cores (``single``: core 0 does it all,
        for steps whose result would depend on the split, like drawing noise)."""
        ids = {k: (self.L[v] if v is not None else NO_BUFFER)
               for k, v in (("a", a), ("b", b), ("c", c), ("e", e))}
        parts = ([(0, Range(0, rows), Range(0, cols))] if single else
                 (self.param_parts if param else self.parts)(rows, cols))
        for core, r, k in parts:
            self.code.append(Vector(core=core, fn=VECTOR_FUNCTIONS.index(fn), dst=self.L[dst],
                                    rows=r, cols=Range(col0 + k.start, k.count),
                                    src_col=src_col + k.start, **ids))

    def monitor(self, key: str, cols: int, a: str) -> None:
        """Fold ``a`` (batch x cols) into the range monitors of ``key``: each core its
        part into its own monitor (:func:`monitor_names`)."""
        for core, r, k in self.parts(self.L.batch, cols):
            self._fold(key, core, a, r, k)

    # -- layers ---------------------------------------------------------------------

    def dense_forward(self, x: str, w: str, bias: str, out: str, act: str, tag: str,
                      slope: str | None, out_col0: int = 0) -> None:
        """out[:, out_col0 + j] = act(x @ w + bias)[:, j] for every sample."""
        xb, wb = self.L.buf(x), self.L.buf(w)
        B, K, N = self.L.batch, wb.rows, self.L.cols(w)
        mode = self.mode(x)
        acc = self.acc(f"acc.{tag}", B, N, xb.fmt.frac + wb.fmt.frac)
        for core, r, k in self.parts(B, N):
            self.code.append(MatMul(core=core, dst=acc, a=self.L[x], b=self.L[w], mode=mode,
                                    m=r, n=k, k=Range(0, K)))
            self.code.append(Drain(core=core, dst=self.L[out], acc=acc, bias=self.L[bias],
                                   slope=self.L[slope] if slope else NO_BUFFER,
                                   act=ACTIVATIONS.index(act), rows=r,
                                   cols=Range(out_col0 + k.start, k.count), src_col=k.start))
        if self.policy == "intra_layer":
            self.barrier()

    def backward_data(self, dz: str, w: str, out: str, tag: str, cols: Range | None = None,
                      monitor: str | None = None) -> None:
        """out[:, j] = (dz @ w^T)[:, cols.start + j]: the gradient of a layer's inputs
        (only the columns ``cols`` of it, e.g. the action part of the critic input).
        Each core its output columns, over every column of ``w`` and ``dz``; on
        intra_layer, per-core partial sums instead where they move fewer words
        between the cores (:meth:`_partial_sums_cross_less`).  ``monitor``: each
        drain's region also folded into that key's range monitor, right after it
        (``range_fusion``: one step with the drain)."""
        db, wb = self.L.buf(dz), self.L.buf(w)
        B, K = self.L.batch, wb.rows
        cols = cols or Range(0, K)
        if self.policy == "intra_layer" and self._partial_sums_cross_less(B, cols, w):
            self._backward_data_by_partial_sums(dz, w, out, tag, cols, monitor)
            return
        acc = self.acc(f"acc.{tag}", B, K, db.fmt.frac + wb.fmt.frac)
        for core, r, k in self.parts(B, cols.count):
            n = Range(cols.start + k.start, k.count)
            self.code.append(MatMul(core=core, dst=acc, a=self.L[dz], b=self.L[w], tb=1,
                                    mode=self.mode(dz), m=r, n=n,
                                    k=Range(0, self.L.cols(w))))
            self.code.append(Drain(core=core, dst=self.L[out], acc=acc, rows=r,
                                   cols=k, src_col=n.start))
            self._fold(monitor, core, out, r, k)
        if self.policy == "intra_layer":
            self.barrier()

    def _fold(self, key: str | None, core: int, a: str, rows: Range, cols: Range) -> None:
        """Fold region (rows, cols) of ``a`` into core ``core``'s range monitor of
        ``key`` (nothing when None)."""
        if key is not None:
            self.code.append(Vector(core=core, fn=VECTOR_FUNCTIONS.index("range"),
                                    dst=self.L[monitor_names(key, self.cores)[core]],
                                    a=self.L[a], rows=rows, cols=cols, src_col=cols.start))

    def _partial_sums_cross_less(self, B: int, cols: Range, w: str) -> bool:
        """Whether intra_layer's ``dz @ w^T`` moves fewer words between the cores as
        per-core partial sums (each core receives the others' sums for its B x its
        output columns) than as whole weights (each core reads the rows of ``w`` for
        its output columns, and ``dz``, over the other cores' columns)."""
        N = self.L.cols(w)
        owned = split(N, self.cores)
        producers = sum(1 for n in owned if n is not None)
        partial = weights = 0
        for d, k in enumerate(split(cols.count, self.cores)):
            if k is None:
                continue
            own = owned[d].count if owned[d] is not None else 0
            partial += B * k.count * (producers - (1 if own else 0))
            weights += (k.count + B) * (N - own)
        return partial < weights

    def _backward_data_by_partial_sums(self, dz: str, w: str, out: str, tag: str,
                                       cols: Range, monitor: str | None = None) -> None:
        """out = (dz @ w^T)[:, cols] on intra_layer, each core over its own columns of
        ``w`` and ``dz`` (its products' output neurons): the partial sums for core d's
        output columns are added in the accumulator, one core a round (the first
        overwrites, the others accumulate, exactly), core d's own last, so that core d
        drains what it wrote; a barrier between rounds.  In round j core c works for
        core c - 1 - j (mod cores): every core busy, no two on one region."""
        db, wb = self.L.buf(dz), self.L.buf(w)
        B, K, N = self.L.batch, wb.rows, self.L.cols(w)
        acc = self.acc(f"acc.{tag}", B, K, db.fmt.frac + wb.fmt.frac)
        producers = {c: n for c, n in enumerate(split(N, self.cores)) if n is not None}
        consumers = [(d, k) for d, k in enumerate(split(cols.count, self.cores))
                     if k is not None]
        chains = {d: sorted(producers, key=lambda c: (c - d - 1) % self.cores)
                  for d, _ in consumers}
        for j in range(len(producers)):
            if j:
                self.barrier()
            for d, k in consumers:
                c = chains[d][j]
                self.code.append(MatMul(core=c, dst=acc, a=self.L[dz], b=self.L[w], tb=1,
                                        accumulate=int(j > 0), mode=self.mode(dz),
                                        m=Range(0, B), n=Range(cols.start + k.start,
                                                               k.count), k=producers[c]))
        if any(chains[d][-1] != d for d, _ in consumers):
            self.barrier()
        for d, k in consumers:
            self.code.append(Drain(core=d, dst=self.L[out], acc=acc, rows=Range(0, B),
                                   cols=k, src_col=cols.start + k.start))
            self._fold(monitor, d, out, Range(0, B), k)
        self.barrier()

    def gradient_chunks(self, K: int, N: int) -> list[Range]:
        """The output columns of a K x N weight gradient, in chunks whose accumulator
        (K x the chunk's row stride, :func:`memory_kinds.accumulator_stride`) stays
        within :attr:`acc_bound`: one chunk when the whole gradient does; else chunks of
        C columns (the last fewer), C = H + 2H m the widest whose accumulator fits (a
        stride with no padding), at least H (one half line: the least an accumulator
        row takes)."""
        H = self.acc_half
        if K * accumulator_stride(N, H) <= self.acc_bound:
            return [Range(0, N)]
        C = min(N, H + 2 * H * max(0, (self.acc_bound // K - H) // (2 * H)))
        return [Range(s, min(C, N - s)) for s in range(0, N, C)]

    def weight_gradient(self, x: str, dz: str, grad: str, tag: str) -> None:
        """grad = x^T @ dz summed over the whole batch, exactly, whatever the split.

        In chunks of output columns (:meth:`gradient_chunks`) when the whole K x N
        accumulator would exceed :attr:`acc_bound`: per chunk the products, (intra_batch)
        the barrier and the reduction, and the drains into the chunk's columns of
        ``grad``; the next chunk reuses the accumulators, after a barrier (on
        intra_batch other cores have read them; on intra_layer a chunk of other width
        splits its columns over the cores otherwise).  A product writes the result
        columns its ``b`` columns give (a matmul has no column offset of its own; a
        drain has, ``src_col``), so a chunk past the first reads its columns of ``dz``
        from a copy ``{tag}.dz`` (B x C, in ``gmem``), each core copying the rows
        (intra_batch) or columns (intra_layer) it then reads; on intra_layer each core
        takes the chunk's columns among those it owns (``split(N, cores)``, as
        without chunks), so that its optimizer step reads the gradient it wrote.  The same sums as one
        chunk, split by columns: the results are identical."""
        xb, db, gb = self.L.buf(x), self.L.buf(dz), self.L.buf(grad)
        B, K, N = self.L.batch, gb.rows, gb.cols
        frac = xb.fmt.frac + db.fmt.frac
        mode = self.mode(x)
        chunks = self.gradient_chunks(K, N)
        C = chunks[0].count
        copy = None
        if len(chunks) > 1:
            copy = f"{tag}.dz"
            if not self.L.has(copy):
                self.L.add(copy, B, C, db.fmt, db.kind)
        if self.policy == "intra_layer":
            # each core the columns it owns (split(N, cores): those its products write
            # and its optimizer step reads), chunk by chunk
            owned = split(N, self.cores)
            acc = self.acc(f"acc.{tag}", K, C, frac)
            for j, chunk in enumerate(chunks):
                if j:
                    self.barrier()      # the chunks split their columns differently
                mine = []
                for core, o in enumerate(owned):
                    lo, hi = (max(o.start, chunk.start), min(o.stop, chunk.stop)) if o \
                        else (0, 0)
                    if lo < hi:
                        mine.append((core, Range(lo - chunk.start, hi - lo)))
                b = dz
                if chunk.start:
                    for core, n in mine:
                        self.code.append(Vector(core=core, fn=VECTOR_FUNCTIONS.index("copy"),
                                                dst=self.L[copy], a=self.L[dz],
                                                rows=Range(0, B), cols=n,
                                                src_col=chunk.start + n.start))
                    b = copy
                for core, n in mine:
                    self.code.append(MatMul(core=core, dst=acc, a=self.L[x], b=self.L[b],
                                            ta=1, mode=mode, m=Range(0, K), n=n,
                                            k=Range(0, B)))
                    self.code.append(Drain(core=core, dst=self.L[grad], acc=acc,
                                           rows=Range(0, K),
                                           cols=Range(chunk.start + n.start, n.count),
                                           src_col=n.start))
            return
        parts = split(B, self.cores)
        active = [c for c, k in enumerate(parts) if k is not None]
        rounds = self._reduces_by_rounds(K, active)
        accs = ([self.acc(f"acc.{tag}", K, C, frac)] if rounds else
                [self.acc(f"acc.{tag}.c{c}", K, C, frac) for c in range(self.cores)])
        for j, chunk in enumerate(chunks):
            if j:
                self.barrier()      # the last chunk's reduction and drains read accs
            b = dz
            if chunk.start:
                self.vec("copy", copy, B, chunk.count, a=dz, src_col=chunk.start)
                b = copy
            if rounds:
                self._gradient_by_rounds(accs[0], x, b, grad, K, chunk, parts, mode)
                continue
            for core, k in enumerate(parts):
                if k is not None:
                    self.code.append(MatMul(core=core, dst=accs[core], a=self.L[x],
                                            b=self.L[b], ta=1, mode=mode, m=Range(0, K),
                                            n=Range(0, chunk.count), k=k))
            self.barrier()
            # reduction: core 0's accumulator collects the other cores' partial sums
            # (exact), row-split
            for other in active[1:]:
                for core, r, n in self.param_parts(K, chunk.count):
                    self.code.append(Vector(core=core, fn=VECTOR_FUNCTIONS.index("acc_add"),
                                            dst=accs[0], a=accs[other], rows=r, cols=n,
                                            src_col=n.start))
            for core, r, n in self.param_parts(K, chunk.count):
                self.code.append(Drain(core=core, dst=self.L[grad], acc=accs[0], rows=r,
                                       cols=Range(chunk.start + n.start, n.count),
                                       src_col=n.start))

    def _reduces_by_rounds(self, K: int, producers: list[int]) -> bool:
        """Whether intra_batch's K-row weight gradient is reduced in rounds
        (:meth:`_gradient_by_rounds`): on per-core memories, when the row split gives
        every producing core rows of its own (each round keeps every producer busy)."""
        return self.per_core_memories and len(producers) > 1 and \
            len(self.param_parts(K, 1)) >= len(producers)

    def _gradient_by_rounds(self, acc: int, x: str, b: str, grad: str, K: int,
                            chunk: Range, parts: list[Range | None], mode: int) -> None:
        """One chunk of intra_batch's weight gradient ``x^T @ b`` on per-core memories,
        reduced in rounds instead of by ``acc_add``: core d owns the rows ``r_d`` of the
        row split (:meth:`param_parts`); in round j core c multiplies its batch part
        for the rows of core d with ``chains[d][j] == c`` (c = d + 1 + j mod cores
        when every core has samples), the first round overwriting, the next ones accumulating (exact), core d's own
        product last, so that core d drains sums it wrote itself; a barrier between
        rounds (the transfer pass moves each round's rows to their next core).  The same
        sums as the partial accumulators added by ``acc_add``, with no ``acc_add``: each
        product is split by rows instead, and one accumulator of K x C a copy instead
        of one a core."""
        producers = {c: k for c, k in enumerate(parts) if k is not None}
        consumers = self.param_parts(K, chunk.count)
        chains = {d: sorted(producers, key=lambda c: (c - d - 1) % self.cores)
                  for d, _, _ in consumers}
        for j in range(len(producers)):
            if j:
                self.barrier()
            for d, r, _ in consumers:
                c = chains[d][j]
                self.code.append(MatMul(core=c, dst=acc, a=self.L[x], b=self.L[b], ta=1,
                                        mode=mode, accumulate=int(j > 0), m=r,
                                        n=Range(0, chunk.count), k=producers[c]))
        if any(chains[d][-1] != d for d, _, _ in consumers):
            self.barrier()
        for d, r, n in consumers:
            self.code.append(Drain(core=d, dst=self.L[grad], acc=acc, rows=r,
                                   cols=Range(chunk.start + n.start, n.count),
                                   src_col=n.start))

    # -- networks -------------------------------------------------------------------

    def forward(self, net: str, target: bool, pass_name: str, monitor: bool = True) -> None:
        """A network's forward pass on ``{pass}.{net}.x``; layer i's output goes to
        ``{pass}.{net}.h{i}``."""
        spec = network_spec(self.spec, net)
        kind = role(self.spec, net)
        sizes = spec.layer_sizes
        prefix = "target." if target else ""
        x = f"{pass_name}.{net}.x"
        if monitor:
            self.monitor(f"{kind}.in", sizes[0], x)
        for i in range(len(sizes) - 1):
            act = spec.output if i == len(sizes) - 2 else spec.activation
            out = f"{pass_name}.{net}.h{i}"
            self.dense_forward(x, f"{prefix}{net}.l{i}.w", f"{prefix}{net}.l{i}.b", out, act,
                               f"{pass_name}.{net}.l{i}", f"c.slope.{kind}")
            if monitor:
                self.monitor(f"{kind}.l{i}", sizes[i + 1], out)
            x = out

    def dact(self, net: str, layer: int, dy: str, y: str, dz: str) -> None:
        spec = network_spec(self.spec, net)
        sizes = spec.layer_sizes
        act = spec.output if layer == len(sizes) - 2 else spec.activation
        fn = {"identity": "copy", "relu": "dact_relu", "tanh": "dact_tanh",
              "leaky_relu": "dact_leaky"}[act]
        self.vec(fn, dz, self.L.batch, sizes[layer + 1], a=dy, b=y,
                 c=f"c.slope.{role(self.spec, net)}" if act == "leaky_relu" else None)

    def backward(self, net: str, pass_name: str, d_out: str, weight_grads: bool,
                 input_cols: Range | None = None, d_in: str | None = None) -> None:
        """Backprop from ``d_out`` (dL/d output) through ``net``'s layers: weight and bias
        gradients into ``*.grad`` when ``weight_grads``, and dL/d input columns
        ``input_cols`` into ``d_in`` when given."""
        sizes = layer_sizes(self.spec, net)
        dy = d_out
        for i in reversed(range(len(sizes) - 1)):
            dz = f"{pass_name}.{net}.dz{i}"
            self.dact(net, i, dy, f"{pass_name}.{net}.h{i}", dz)
            streamed = self._streamed(dz)       # (before the barrier: each core its part)
            if self.policy == "intra_layer":
                self.barrier()
            x = f"{pass_name}.{net}.x" if i == 0 else f"{pass_name}.{net}.h{i - 1}"
            if weight_grads:
                self.weight_gradient(x, dz, f"{net}.l{i}.w.grad", f"{pass_name}.{net}.gw{i}")
                self.weight_gradient("c.ones", dz, f"{net}.l{i}.b.grad",
                                     f"{pass_name}.{net}.gb{i}")
            if i > 0:
                dy = f"{pass_name}.{net}.dh{i - 1}"
                # dh bounds the next delta: its range monitors, when that has a format
                # of its own (delta_keys), folded into the drains
                key = f"{pass_name}.{net}.dz{i - 1}"
                self.backward_data(streamed, f"{net}.l{i}.w", dy,
                                   f"{pass_name}.{net}.bd{i}",
                                   monitor=key if key in self.deltas else None)
            elif d_in is not None:
                self.backward_data(dz, f"{net}.l{i}.w", d_in, f"{pass_name}.{net}.bd{i}",
                                   cols=input_cols)

    def _streamed(self, dz: str) -> str:
        """The buffer the backward-data product of delta ``dz`` streams: in FXP16 a
        16-bit delta's copy in amem (:func:`streamed_delta`), copied here (the element
        loop, a word a lane and step: a fraction of what FXP16's two samples a PE save
        over FXP32's one); otherwise ``dz`` in gmem, in FXP32 mode."""
        copy = streamed_delta(dz)
        if not self.L.has(copy) or self.L.precision.mode != "fxp16":
            return dz
        self.vec("copy", copy, self.L.batch, self.L.cols(dz), a=dz)
        return copy

    def optimizer_step(self, net: str) -> None:
        opt = self.spec.algorithm.optimizer
        const = f"c.{role(self.spec, net)}_opt"
        for p in param_names(self.spec, net):
            b = self.L.buf(p)
            b = dataclasses.replace(b, cols=self.L.cols(p))
            g = f"{p}.grad"
            if opt == "sgd":
                self.vec("sgd", p, b.rows, b.cols, a=g, c=const, param=True)
            elif opt == "momentum":
                self.vec("momentum", f"{p}.mom", b.rows, b.cols, a=g, c="c.momentum",
                         param=True)
                self.vec("sgd", p, b.rows, b.cols, a=f"{p}.mom", c=const, param=True)
            else:
                self.vec("adam_m", f"{p}.m", b.rows, b.cols, a=g, c="c.beta1", param=True)
                self.vec("adam_s", f"{p}.s", b.rows, b.cols, a=g, c="c.beta2", param=True)
                self.vec("adam_w", p, b.rows, b.cols, a=f"{p}.m", b=f"{p}.s", c=const,
                         param=True)
        self.barrier()


# ---------------------------------------------------------------------------
# passes and phases


def _data_buffers(E: Emitter, pass_name: str, net: str) -> None:
    """Allocate a pass's input, hidden/output and gradient buffers of one network."""
    L, spec = E.L, E.spec
    sizes = layer_sizes(spec, net)
    B = L.batch
    prec = L.precision
    kind = role(spec, net)
    deltas = delta_keys(spec)
    if not L.has(f"{pass_name}.{net}.x"):
        # a layer's input (the network's, a hidden layer's output) is read as a (its
        # line, or transposed by the weight gradient): its row stride padded for amem's
        # banks; the network's output is not
        L.add_activation(f"{pass_name}.{net}.x", B, sizes[0], prec.format(f"{kind}.in", spec))
        for i, width in enumerate(sizes[1:]):
            add = L.add if i == len(sizes) - 2 else L.add_activation
            add(f"{pass_name}.{net}.h{i}", B, width, prec.format(f"{kind}.l{i}", spec))
            # the deltas live in gmem (memory_kinds.DELTA_MEMORY): a weight gradient
            # reads its a (the layer's input) from amem and its b (dz) from gmem
            G = spec.numerics.gradient_format
            dz = f"{pass_name}.{net}.dz{i}"
            L.add(dz, B, width, prec.format(dz, spec) if dz in deltas else G, "delta")
            if dz in deltas:
                # its copy in amem, which the backward-data product streams in FXP16
                # (two samples a PE and cycle): from gmem the matrix unit reads FXP32
                # lines only (Emitter.mode), and a weight gradient reads its b (dz)
                # from gmem, its a from amem (every precision has the buffer, so the
                # layout does not depend on it)
                L.add_activation(streamed_delta(dz), B, width, L.buf(dz).fmt)
            if i < len(sizes) - 2:
                L.add(f"{pass_name}.{net}.dh{i}", B, width, G, "delta")


def compile_program(spec: Spec, phase: str, precision: Precision = Precision(),
                    batch: int | None = None, policy: str | None = None,
                    layout: Layout | None = None, per_core_memories: bool = False,
                    acc_bound: int | None = None) -> Program:
    """One phase lowered for ``spec``'s cores and array under ``policy`` (default: the
    spec's policy for the phase; ``auto`` is resolved by the performance model).

    ``per_core_memories``: with the transfers (``xfer``) a machine whose cores each
    have their own memories needs (:mod:`fixar_gen.transfers`), for this program run
    alone; programs that run together on one machine are compiled together by
    :func:`compile_programs`.  A generated design with per-core memories
    (``CoreConfig.per_core_memories``) executes them.

    ``acc_bound``: the words a weight gradient's accumulator may take (default
    :func:`accumulator_bound`; :meth:`Emitter.weight_gradient` chunks the gradients
    whose accumulators would exceed it); the results do not depend on it."""
    if per_core_memories:
        return compile_programs(spec, [(phase, batch)], precision, policy,
                                per_core_memories=True, layout=layout,
                                acc_bound=acc_bound)[0]
    return _lower(spec, phase, precision, batch, policy, layout, acc_bound)


def _lower(spec: Spec, phase: str, precision: Precision, batch: int | None,
           policy: str | None, layout: Layout | None, acc_bound: int | None,
           per_core_memories: bool = False) -> Program:
    """:func:`compile_program`'s program without transfers; ``per_core_memories``:
    lowered for per-core memories (:attr:`Emitter.per_core_memories`), the transfers
    still to insert (:func:`compile_programs`)."""
    if phase not in phases(spec):
        raise ValueError(f"phase {phase!r} is not one of {phases(spec)} "
                         f"(algorithm {spec.algorithm.name})")
    training = is_training(spec, phase)
    B = batch or (spec.algorithm.batch_size if training else 1)
    L = layout or build_layout(spec, precision, B, explorers=B if phase == "explore" else 1)
    if L.batch != B:
        raise ValueError(f"layout is for batch {L.batch}, not {B}")
    policy = policy or (spec.parallelism.training if training
                        else spec.parallelism.inference)
    if policy == "auto":
        from .perf import choose_policy
        policy = choose_policy(spec, phase, precision, B)
    E = Emitter(L, policy, acc_bound, per_core_memories)
    obs, act = spec.obs_dim, spec.action_dim
    slot = {name: L.slot(name, B, cols) for name, cols in
            (("states", obs), ("next_states", obs), ("actions", act), ("rewards", 1),
             ("dones", 1), ("q", 1))}
    a_out = len(layer_sizes(spec, "actor")) - 2
    c_out = len(layer_sizes(spec, "critic")) - 2

    def load(buffer: str, slot_name: str, cols: int, col0: int = 0) -> None:
        for core, r in enumerate(split(B, E.cores)):
            if r is not None:
                E.code.append(Load(core=core, dst=L[buffer], slot=slot[slot_name], rows=r,
                                   cols=Range(col0, cols)))

    def store(buffer: str, slot_name: str, cols: int) -> None:
        for core, r in enumerate(split(B, E.cores)):
            if r is not None:
                E.code.append(Store(core=core, src=L[buffer], slot=slot[slot_name], rows=r,
                                    cols=Range(0, cols)))

    def actor_then_critic_input(pass_name: str, target: bool) -> None:
        """Actor forward on the pass's states, then the critic input [states | action]."""
        E.forward("actor", target, pass_name)
        E.barrier()
        E.vec("copy", f"{pass_name}.critic.x", B, obs, a=f"{pass_name}.actor.x")
        E.vec("copy", f"{pass_name}.critic.x", B, act, a=f"{pass_name}.actor.h{a_out}",
              col0=obs)
        E.barrier()

    if phase in ("infer", "explore"):
        _data_buffers(E, "inf", "actor")
        load("inf.actor.x", "states", obs)
        E.barrier()
        E.forward("actor", False, "inf", monitor=False)
        out = f"inf.actor.h{a_out}"
        if phase == "explore":
            if policy == "intra_batch":
                E.barrier()      # core 0 draws the noise for every sample's action
            kind = spec.algorithm.noise.kind
            E.vec("noise" if kind == "gaussian" else "ou_noise", out, B, act, a=out,
                  b="prng", c="c.noise", e="ou.state" if kind == "ou" else None,
                  single=True)
            E.barrier()
        store(out, "actions", act)
    elif phase == "infer_critic":
        _data_buffers(E, "inf", "critic")
        load("inf.critic.x", "states", obs)
        load("inf.critic.x", "actions", act, col0=obs)
        E.barrier()
        E.forward("critic", False, "inf", monitor=False)
        store(f"inf.critic.h{c_out}", "q", 1)
    else:
        algorithms.of(spec).emit_train(E, spec, phase, load, actor_then_critic_input, a_out,
                                       c_out)
    E.code += [Halt(core=c) for c in range(E.cores)]
    program = Program(name=f"{spec.name}.{phase}", buffers=tuple(L.buffers),
                      slots=tuple(L.slots), code=tuple(E.code), cores=E.cores,
                      pre_format=spec.numerics.activation_format)
    problems = access_problems(program, E.acc_half, spec.hardware.rows)
    if problems:        # a compiler bug: the core's units could not reach these memories
        raise ValueError(f"{program.name}: " + "; ".join(problems))
    return dataclasses.replace(program, placement=place(program, acc_half=E.acc_half))


def machine_runs(spec: Spec) -> list[tuple[str, int | None]]:
    """The programs one machine runs together, (phase, batch) each: the training
    programs at the spec's batch, the inference programs at batch 1 (what a trainer
    runs; :func:`compile_programs` compiles per-core memories' transfers over them)."""
    return [(p, None) for p in phases(spec) if is_training(spec, p)] + \
        [(p, 1) for p in INFERENCE_PHASES]


def compile_programs(spec: Spec, runs, precision: Precision = Precision(),
                     policy: str | None = None, per_core_memories: bool = False,
                     layout: Layout | None = None, acc_bound: int | None = None
                     ) -> list[Program]:
    """The programs ``runs`` ((phase, batch or None) each) that run together on one
    machine.  ``per_core_memories``: each with its transfers (:mod:`fixar_gen.transfers`:
    what one core reads that another wrote, within a program and, for the state, from
    one program of the set to any other), and each with where each core's copy holds
    its buffers (``Program.copies``, :mod:`fixar_gen.percore_placement`)."""
    programs = [_lower(spec, phase, precision, batch, policy, layout, acc_bound,
                       per_core_memories) for phase, batch in runs]
    if not per_core_memories:
        return programs
    hw = spec.hardware
    half = accumulator_half_line(hw.cols, hw.lanes)
    from .percore_placement import attach
    return attach(insert_all(programs, acc_half=half), acc_half=half)
