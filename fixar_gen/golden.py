"""The golden model: the bit-exact reference executor of programs.

It defines what every instruction of :mod:`fixar_gen.isa` computes.  State is a list of
numpy int64 matrices (one per buffer of the program's table; accumulators are
:class:`~fixar_gen.numerics.WideInt`), updated in program order.  Instructions of
different cores touch disjoint parts of the state between barriers, so program order is
a valid serialisation of the parallel machine, and every policy gives the same result.
The cores share this one state, so a transfer (``xfer``) moves nothing here;
:mod:`fixar_gen.percore` runs the same programs with one copy of the state per core.

Rules shared by every instruction (docs/isa.md states them per function):
- products and sums are exact (wide integers); a result is rounded once, when it is
  written to its destination, with the destination format's rounding and overflow mode;
- every value that had to be saturated (or wrapped) is counted, per instruction;
- an operand with one row (or one column) is broadcast along that dimension.
"""

from __future__ import annotations

import dataclasses
import numpy as np

from . import isa, ops
from .isa import (NO_BUFFER, Barrier, Drain, Halt, Instruction, Load, MatMul, Program, Store,
                  Vector, Xfer)
from . import exact as X
from .numerics import FixedFormat, WideInt
from .placement import Occupancy
# the vector unit's constants belong to the instruction set (shared with the hardware)
from .arch import (NOISE_FRAC, PERSISTENT_KINDS, PRNG_DRAWS, PRNG_LANES,  # noqa: F401
                   RATIO_FRAC, SQRT3_Q14, TANH_RANGE_BITS, TANH_SEGMENT_FRAC, TANH_TABLE,
                   TANH_TABLE_FRAC)
from .runstats import RunStats


class GoldenError(RuntimeError):
    """A program asked for something the machine cannot do (a compiler bug)."""


def isqrt_nearest(v: np.ndarray) -> np.ndarray:
    """round(sqrt(v)) for int64 v >= 0, exact (floor root, then +1 when the remainder
    exceeds the root: there are no ties)."""
    v = np.asarray(v, dtype=np.int64)
    if np.any(v < 0):
        raise GoldenError("square root of a negative value")
    s = np.floor(np.sqrt(v.astype(np.float64))).astype(np.int64)
    s = np.minimum(s, np.int64(3_037_000_499))        # floor(sqrt(2**63 - 1))
    for _ in range(2):
        s = np.where(s * s > v, s - 1, s)
        up = s + 1
        s = np.where(up <= v // np.maximum(up, 1), up, s)   # (s+1)^2 <= v, no overflow
    return np.where(v - s * s > s, s + 1, s)


def xorshift32(state: np.ndarray) -> np.ndarray:
    """One step of Marsaglia's xorshift32 (13, 17, 5) on uint32 values held in int64."""
    x = state.astype(np.uint64)
    m = np.uint64(0xFFFFFFFF)
    x ^= (x << np.uint64(13)) & m
    x ^= x >> np.uint64(17)
    x ^= (x << np.uint64(5)) & m
    return x.astype(np.int64)


def seed_lanes(seed: int, lanes: int) -> np.ndarray:
    """Initial PRNG lane states from a seed (splitmix64, never zero)."""
    out = []
    z = seed & (2**64 - 1)
    for _ in range(lanes):
        z = (z + 0x9E3779B97F4A7C15) & (2**64 - 1)
        r = z
        r = ((r ^ (r >> 30)) * 0xBF58476D1CE4E5B9) & (2**64 - 1)
        r = ((r ^ (r >> 27)) * 0x94D049BB133111EB) & (2**64 - 1)
        r ^= r >> 31
        out.append((r & 0xFFFFFFFF) or 1)
    return np.array(out, dtype=np.int64).reshape(lanes, 1)


def tanh_fixed(z: np.ndarray, frac: int) -> tuple[np.ndarray, int]:
    """tanh of raw values with ``frac`` fraction bits: (numerator, its fraction bits)."""
    neg = z < 0
    u = np.abs(z)
    seg_shift = frac - TANH_SEGMENT_FRAC
    if seg_shift < 0:
        # |z| at or beyond the table's end saturates; clamp before the exact left shift
        end = np.int64(1) << np.int64(max(TANH_RANGE_BITS + frac, 0))   # 2**3 in raw
        u = np.minimum(u, end) << np.int64(-seg_shift)
        seg_shift = 0
    index = u >> np.int64(seg_shift)
    rem = u & np.int64((1 << seg_shift) - 1)
    last = len(TANH_TABLE) - 1
    beyond = index >= last
    index = np.minimum(index, last - 1)
    y0, y1 = TANH_TABLE[index], TANH_TABLE[index + 1]
    num = (y0 << np.int64(seg_shift)) + (y1 - y0) * rem
    num = np.where(beyond, np.int64(1 << (TANH_TABLE_FRAC + seg_shift)), num)
    return np.where(neg, -num, num), TANH_TABLE_FRAC + seg_shift


# ---------------------------------------------------------------------------




class GoldenMachine:
    """The state of one accelerator (all cores) and the executor of programs.

    Memory is kept by buffer name, so programs with different tables (another batch
    size, another precision) share the parameters, optimizer state and constants:
    those must keep their shape and format; data, accumulator and monitor buffers are
    (re)allocated, zeroed, when a program needs them in another shape or format."""

    def __init__(self, acc_overflow: str = "saturate"):
        self.acc_overflow = acc_overflow
        self.memory: dict[str, object] = {}
        self.kinds: dict[str, isa.Buffer] = {}
        #: buffers whose words a program's placement gave to others since they were
        #: last written (the hardware no longer holds their values)
        self.stale: set[str] = set()

    # -- host access ----------------------------------------------------------------

    def allocate(self, buffers) -> None:
        for b in buffers:
            old = self.kinds.get(b.name)
            if old is not None and (old.rows, old.cols, old.fmt, old.kind, old.acc_bits) == \
                    (b.rows, b.cols, b.fmt, b.kind, b.acc_bits):
                continue
            if old is not None and b.kind in PERSISTENT_KINDS:
                raise GoldenError(f"buffer {b.name} changed from {old} to {b}")
            self.kinds[b.name] = b
            zeros = np.zeros((b.rows, b.cols), dtype=np.int64)
            self.memory[b.name] = zeros
            self.stale.discard(b.name)

    def write(self, name: str, values: np.ndarray) -> None:
        b = self.kinds[name]
        arr = np.asarray(values, dtype=np.int64).reshape(b.rows, b.cols)
        if arr.size and (arr.min() < b.fmt.min_int or arr.max() > b.fmt.max_int):
            raise ValueError(f"{name}: values outside {b.fmt}")
        self.memory[name] = arr.copy()
        self.stale.discard(name)

    def read(self, name: str) -> np.ndarray:
        value = self.memory[name]
        return value.copy() if isinstance(value, np.ndarray) else value

    # -- execution ---------------------------------------------------------------------

    def run(self, program: Program, host: dict[str, np.ndarray]) -> RunStats:
        """Execute a program; ``host`` maps slot names to raw arrays (Load reads them,
        Store writes them).  With a placement, a read of words another buffer has
        overwritten is refused (:class:`fixar_gen.placement.Occupancy`)."""
        self.allocate(program.buffers)
        self.table = program.buffers
        self.state = [self.memory[b.name] for b in program.buffers]
        self._program, self._host, self._stats = program, host, RunStats()
        guard = Occupancy(program, self.stale) if program.placement is not None else None
        try:
            code = self._coalesced(program)
            self._stats.step_of = self._steps
            for pc, instr in code:
                self._pc = pc
                self._stats.instructions += 1
                if isinstance(instr, Halt):
                    break
                if guard is not None:
                    problem = guard.step(pc, instr)
                    if problem:
                        raise GoldenError(problem)
                self._execute(instr)
        finally:
            for b, value in zip(program.buffers, self.state):
                self.memory[b.name] = value
            if guard is not None:
                self.stale = (self.stale - set(guard.names)) | guard.stale()
        return self._stats

    def _coalesced(self, program: Program) -> list[tuple[int, Instruction]]:
        """The program with each run of per-core pieces of one step (same instruction
        but for the core and adjoining ranges) executed as one instruction: the same
        result, since the pieces touch disjoint parts of the state, in fewer numpy
        calls.  Saturations of a run are reported at its first instruction."""
        cache = self.__dict__.setdefault("_coalesce_cache", {})
        hit = cache.get(id(program))
        if hit is not None and hit[0] is program:
            self._steps = hit[2]
            return hit[1]
        out: list[tuple[int, Instruction]] = []
        steps: dict[int, int] = {}
        for pc, instr in enumerate(program.code):
            if isinstance(instr, (Barrier, Xfer)):      # nothing to do on one shared state
                continue
            if out and isinstance(instr, Halt):
                out.append((pc, instr))
                break
            merged = _merge(out[-1][1], instr) if out else None
            if merged is not None:
                out[-1] = (out[-1][0], merged)
                steps[pc] = out[-1][0]
            else:
                out.append((pc, instr))
        cache[id(program)] = (program, out, steps)
        self._steps = steps
        return out

    def _count(self, n: int, dst: int) -> None:
        if n:
            self._stats.saturations[self._pc] += n
            self._stats.by_buffer[self.table[dst].name] += n

    def _execute(self, instr: Instruction) -> None:
        if isinstance(instr, MatMul):
            self._matmul(instr)
        elif isinstance(instr, Drain):
            self._drain(instr)
        elif isinstance(instr, Vector):
            self._vector(instr)
        elif isinstance(instr, Load):
            slot = self._program.slots[instr.slot]
            src = np.asarray(self._host[slot.name], dtype=np.int64)
            cols = slice(instr.src_col, instr.src_col + instr.cols.count)
            block = src[instr.rows.slice, cols]
            fmt = self.table[instr.dst].fmt
            if block.size and (block.min() < fmt.min_int or block.max() > fmt.max_int):
                raise GoldenError(f"load into {self.table[instr.dst].name}: host values "
                                  f"outside {fmt}")
            self.state[instr.dst][instr.rows.slice, instr.cols.slice] = block
        elif isinstance(instr, Store):
            slot = self._program.slots[instr.slot]
            out = self._host.setdefault(slot.name, np.zeros((slot.rows, slot.cols), np.int64))
            cols = slice(instr.dst_col, instr.dst_col + instr.cols.count)
            out[instr.rows.slice, cols] = self.state[instr.src][instr.rows.slice,
                                                                instr.cols.slice]
        elif isinstance(instr, (Barrier, Xfer)):
            pass      # program order already serialises the cores; one state for all
        else:
            raise GoldenError(f"unknown instruction {instr!r}")

    # -- matrix unit -----------------------------------------------------------------

    def _matmul(self, ins: MatMul) -> None:
        a_buf, b_buf, d_buf = self.table[ins.a], self.table[ins.b], self.table[ins.dst]
        a, b = self.state[ins.a], self.state[ins.b]
        op_a = a.T if ins.ta else a
        op_b = b.T if ins.tb else b
        lhs = op_a[ins.m.slice, ins.k.slice]
        rhs = op_b[ins.k.slice, ins.n.slice]
        if isa.MODES[ins.mode] == "fxp16" and not a_buf.fmt.width <= 16:
            raise GoldenError(f"mm in fxp16 mode streams {a_buf.name} of {a_buf.fmt}: "
                              "FXP16 packs two 16-bit activations per word")
        if d_buf.fmt.frac != a_buf.fmt.frac + b_buf.fmt.frac:
            raise GoldenError(f"accumulator {d_buf.name} has frac {d_buf.fmt.frac}, the "
                              f"product {a_buf.fmt.frac + b_buf.fmt.frac}")
        prod = X.matmul(np.ascontiguousarray(lhs), np.ascontiguousarray(rhs),
                        a_buf.fmt.width + (not a_buf.fmt.signed),
                        b_buf.fmt.width + (not b_buf.fmt.signed))
        acc = self.state[ins.dst]
        region = (ins.m.slice, ins.n.slice)
        if ins.accumulate:
            prod = X.add(X.region(acc, region), prod)
        prod, n = X.fit_width(prod, d_buf.acc_bits, self.acc_overflow)
        self._count(n, ins.dst)
        self.state[ins.dst] = X.assign(acc, region, prod)

    def _drain(self, ins: Drain) -> None:
        d_buf, acc_buf = self.table[ins.dst], self.table[ins.acc]
        rows, cols = ins.rows.slice, ins.cols.slice
        src_cols = slice(ins.src_col, ins.src_col + ins.cols.count)
        z = X.region(self.state[ins.acc], (rows, src_cols))
        frac = acc_buf.fmt.frac
        if ins.bias != NO_BUFFER:
            bias_buf = self.table[ins.bias]
            bias = self.state[ins.bias][:, src_cols]
            shift = frac - bias_buf.fmt.frac
            if shift < 0:
                raise GoldenError(f"bias {bias_buf.name} has more fraction bits than "
                                  f"{acc_buf.name}")
            z = X.add(z, X.shift(np.broadcast_to(bias, (ins.rows.count, ins.cols.count)),
                                 shift))
        act = isa.ACTIVATIONS[ins.act]
        if act == "identity":
            out, n = X.to_format(z, frac, d_buf.fmt)
            self._count(n, ins.dst)
        else:
            pre = self._program.pre_format
            zp, n = X.to_format(z, frac, pre)
            self._count(n, ins.dst)
            if act == "relu":
                out, n = pre.requantize_counted(np.maximum(zp, 0), d_buf.fmt)
            elif act == "leaky_relu":
                slope_buf = self.table[ins.slope]
                slope = self.state[ins.slope][0, 0]
                neg = X.mul(zp, slope)
                pos = X.shift(zp, slope_buf.fmt.frac)
                out, n = X.to_format(X.where(zp < 0, neg, pos),
                                     pre.frac + slope_buf.fmt.frac, d_buf.fmt)
            else:   # tanh
                num, num_frac = tanh_fixed(zp, pre.frac)
                out, n = X.to_format(num, num_frac, d_buf.fmt)
            self._count(n, ins.dst)
        self.state[ins.dst][rows, cols] = out

    # -- vector unit -----------------------------------------------------------------

    def _operand(self, buf: int, ins: Vector) -> tuple[np.ndarray, FixedFormat]:
        """Operand values over the instruction's region (broadcast), and its format."""
        b = self.table[buf]
        value = self.state[buf]
        rows = ins.rows.slice if b.rows > 1 else slice(0, 1)
        cols = slice(ins.src_col, ins.src_col + ins.cols.count) if b.cols > 1 else slice(0, 1)
        block = value[rows, cols]
        return np.broadcast_to(block, (ins.rows.count, ins.cols.count)), b.fmt

    def _const(self, buf: int, i: int) -> tuple[np.int64, FixedFormat]:
        b = self.table[buf]
        return self.state[buf].reshape(-1)[i], b.fmt

    def _vector(self, ins: Vector) -> None:
        getattr(self, ops.VECTOR[ins.fn].golden)(ins)

    def _store(self, ins: Vector, value: WideInt | np.ndarray, frac: int,
               buf: int | None = None) -> np.ndarray:
        return self._store_sum(ins, [(value, frac)], buf)

    def _store_sum(self, ins: Vector, terms, buf: int | None = None) -> np.ndarray:
        """Round the exact sum of (value, frac) terms once into the buffer's format."""
        buf = ins.dst if buf is None else buf
        fmt = self.table[buf].fmt
        if buf == ins.dst and isinstance(ins, Vector):      # an operation's own rounding
            fmt = ops.VECTOR[ins.fn].result_format(fmt)
        out, n = X.combine(terms, fmt)
        self._count(n, buf)
        self.state[buf][ins.rows.slice, ins.cols.slice] = out
        return out

    def _dst(self, ins: Vector) -> tuple[np.ndarray, FixedFormat]:
        b = self.table[ins.dst]
        return self.state[ins.dst][ins.rows.slice, ins.cols.slice], b.fmt

    def _v_copy(self, ins):
        a, fa = self._operand(ins.a, ins)
        self._store(ins, a, fa.frac)

    def _v_add(self, ins, sign: int = 1):
        a, fa = self._operand(ins.a, ins)
        b, fb = self._operand(ins.b, ins)
        self._store_sum(ins, [(a, fa.frac), (b if sign > 0 else -b, fb.frac)])

    def _v_sub(self, ins):
        self._v_add(ins, sign=-1)

    def _v_mul(self, ins):
        a, fa = self._operand(ins.a, ins)
        b, fb = self._operand(ins.b, ins)
        self._store(ins, X.mul(a, b), fa.frac + fb.frac)

    def _v_scale(self, ins):
        a, fa = self._operand(ins.a, ins)
        c, fc = self._const(ins.c, 0)
        self._store(ins, X.mul(a, c), fa.frac + fc.frac)

    def _v_fill(self, ins):
        c, fc = self._const(ins.c, 0)
        self._store(ins, np.full((ins.rows.count, ins.cols.count), c, np.int64), fc.frac)

    def _v_clip(self, ins):
        a, fa = self._operand(ins.a, ins)
        c, fc = self._const(ins.c, 0)
        (wa, wc), frac = X.align([(a, fa.frac), (np.full(a.shape, c, np.int64), fc.frac)])
        low = X.where(X.sign(X.add(wa, wc)) < 0, -wc, wa)       # max(a, -c)
        self._store(ins, X.where(X.sign(X.sub(low, wc)) > 0, wc, low), frac)   # min(., c)

    def _v_abs(self, ins):
        a, fa = self._operand(ins.a, ins)
        self._store(ins, np.where(a < 0, -a, a), fa.frac)

    def _v_minimum(self, ins):
        d, fd = self._dst(ins)
        a, fa = self._operand(ins.a, ins)
        if (fa.width, fa.frac, fa.signed) != (fd.width, fd.frac, fd.signed):
            raise GoldenError(f"minimum: a ({fa}) must have d's format ({fd})")
        self.state[ins.dst][ins.rows.slice, ins.cols.slice] = np.minimum(a, d)

    def _v_dact_relu(self, ins):
        a, fa = self._operand(ins.a, ins)
        y, _ = self._operand(ins.b, ins)
        self._store(ins, np.where(y > 0, a, 0), fa.frac)

    def _v_dact_leaky(self, ins):
        a, fa = self._operand(ins.a, ins)
        y, _ = self._operand(ins.b, ins)
        c, fc = self._const(ins.c, 0)
        neg = X.mul(a, c)
        pos = X.shift(a, fc.frac)
        self._store(ins, X.where(y > 0, pos, neg), fa.frac + fc.frac)

    def _v_dact_tanh(self, ins):
        a, fa = self._operand(ins.a, ins)
        y, fy = self._operand(ins.b, ins)
        one = X.shift(np.ones_like(y), 2 * fy.frac)
        y2 = X.mul(y, y)
        t = X.sub(one, y2)                           # 1 - y^2, exact
        t = X.where(X.sign(t) < 0, np.zeros_like(y), t)
        if isinstance(t, np.ndarray) and X.bits(t) + X.bits(a) <= 62:
            self._store(ins, a * t, fa.frac + 2 * fy.frac)
        else:                                        # formats beyond the compiler's
            self._store(ins, X.mul_wide(a, t), fa.frac + 2 * fy.frac)

    def _v_mse_grad(self, ins):
        a, fa = self._operand(ins.a, ins)
        b, fb = self._operand(ins.b, ins)
        c, fc = self._const(ins.c, 0)
        self._store_sum(ins, [(X.mul(a, c), fa.frac + fc.frac),
                              (X.mul(-b, c), fb.frac + fc.frac)])

    def _v_bellman(self, ins):
        r, fr = self._operand(ins.a, ins)
        done, _ = self._operand(ins.b, ins)
        q, fq = self._operand(ins.e, ins)
        gamma, fc = self._const(ins.c, 0)
        term = X.mul(np.where(done == 0, q, 0), gamma)
        self._store_sum(ins, [(r, fr.frac), (term, fq.frac + fc.frac)])

    def _v_sgd(self, ins):
        d, fd = self._dst(ins)
        a, fa = self._operand(ins.a, ins)
        lr, fc = self._const(ins.c, 0)
        self._store_sum(ins, [(d, fd.frac)] + X.product_terms(-a, lr, fa.frac + fc.frac))

    def _v_momentum(self, ins):
        d, fd = self._dst(ins)
        a, fa = self._operand(ins.a, ins)
        mu, fc = self._const(ins.c, 0)
        self._store_sum(ins, X.product_terms(d, mu, fd.frac + fc.frac) + [(a, fa.frac)])

    def _v_adam_m(self, ins):
        d, fd = self._dst(ins)
        a, fa = self._operand(ins.a, ins)
        beta, fc = self._const(ins.c, 0)
        one_minus = np.int64((1 << fc.frac) - int(beta))
        self._store_sum(ins, X.product_terms(d, beta, fd.frac + fc.frac)
                        + X.product_terms(a, one_minus, fa.frac + fc.frac))

    def _v_adam_s(self, ins):
        d, fd = self._dst(ins)
        a, fa = self._operand(ins.a, ins)
        beta, fc = self._const(ins.c, 0)
        if fd.frac != fa.frac:
            raise GoldenError("adam_s needs the root and the gradient in one format")
        one_minus = np.int64((1 << fc.frac) - int(beta))
        # v = (d^2 beta + a^2 (1 - beta)) / 2^f(c), in units of the squares' LSB
        terms = X.product_terms(d * d, beta, fc.frac) + X.product_terms(a * a, one_minus,
                                                                         fc.frac)
        v, _ = X.combine(terms, FixedFormat(64, 0, rounding=fd.rounding))
        self._store(ins, isqrt_nearest(v), fd.frac)

    def _v_adam_w(self, ins):
        d, fd = self._dst(ins)
        m, fm = self._operand(ins.a, ins)
        s, fs = self._operand(ins.b, ins)
        alpha, fc = self._const(ins.c, 0)
        eps, _ = self._const(ins.c, 1)
        # eps rounded (not fitted) to s's fraction bits, at least one LSB there
        eps_s = max(int(X.to_format(np.array([eps], dtype=np.int64), fc.frac,
                                    FixedFormat(64, fs.frac))[0][0]), 1)
        den = s + np.int64(eps_s)                                   # frac fs
        # |m| * 2**(RATIO_FRAC + fs - fm) / den, truncated toward zero, sign of m
        shift = RATIO_FRAC + fs.frac - fm.frac
        if shift < 0 or X.bits(m) + shift > 62:
            raise GoldenError(f"adam_w: the ratio needs a {shift}-bit shift of m "
                              "(m, s and the ratio's 24 fraction bits must fit 62 bits)")
        num = np.abs(m) << np.int64(shift)
        ratio = np.where(m < 0, -(num // den), num // den)          # frac RATIO_FRAC
        step = X.mul(-ratio, alpha)                              # frac RATIO_FRAC + fc
        self._store_sum(ins, [(d, fd.frac), (step, RATIO_FRAC + fc.frac)])

    def _v_soft_update(self, ins):
        d, fd = self._dst(ins)
        a, fa = self._operand(ins.a, ins)
        tau, fc = self._const(ins.c, 0)
        self._store_sum(ins, [(d, fd.frac)] + X.product_terms(a - d, tau, fd.frac + fc.frac)
                        if fa.frac == fd.frac else
                        [(d, fd.frac), (X.mul(a, tau), fa.frac + fc.frac),
                         (X.mul(-d, tau), fd.frac + fc.frac)])

    def _v_range(self, ins):
        a_buf = self.table[ins.a]
        block = self.state[ins.a][ins.rows.slice, ins.cols.slice]
        current = self.state[ins.dst]
        if a_buf.fmt != self.table[ins.dst].fmt:
            raise GoldenError("range: the monitor must have its operand's format")
        if block.size:
            current[0, 0] = min(current[0, 0], block.min())
            current[0, 1] = max(current[0, 1], block.max())

    def _gaussian(self, lanes_buf: int, count: int) -> np.ndarray:
        """``count`` samples (frac NOISE_FRAC) from the PRNG lanes, element j from lane
        j % L, each lane advancing PRNG_DRAWS times per sample it produces."""
        lanes = self.state[lanes_buf]
        n_lanes = lanes.shape[0]
        out = np.zeros(count, dtype=np.int64)
        state = lanes[:, 0].copy()
        for start in range(0, count, n_lanes):
            used = min(n_lanes, count - start)
            total = np.zeros(n_lanes, dtype=np.int64)
            for _ in range(PRNG_DRAWS):
                nxt = xorshift32(state)
                state = np.where(np.arange(n_lanes) < used, nxt, state)
                total += state >> np.int64(16)
            centred = total - np.int64(PRNG_DRAWS << 15)
            out[start:start + used] = ((centred * SQRT3_Q14 + (1 << 13)) >> 14)[:used]
        self.state[lanes_buf] = state.reshape(-1, 1)
        return out

    def _v_noise(self, ins):
        a, fa = self._operand(ins.a, ins)
        sigma, fc = self._const(ins.c, 0)
        g = self._gaussian(ins.b, a.size).reshape(a.shape)
        fd = self.table[ins.dst].fmt
        out = self._store_sum(ins, [(a, fa.frac), (X.mul(g, sigma), NOISE_FRAC + fc.frac)])
        one = np.int64(1) << np.int64(fd.frac)
        self.state[ins.dst][ins.rows.slice, ins.cols.slice] = np.clip(out, -one, one)

    def _v_ou_noise(self, ins):
        """OU exploration: the state e (shaped like dst's region) decays and takes a
        Gaussian kick, then d = clamp(a + e, -1, 1)."""
        a, fa = self._operand(ins.a, ins)
        e, fe = self._operand(ins.e, ins)
        scale, fc = self._const(ins.c, 0)         # sigma * sqrt(dt)
        decay, _ = self._const(ins.c, 1)          # theta * dt
        g = self._gaussian(ins.b, a.size).reshape(a.shape)
        state, n = X.combine([(e, fe.frac), (X.mul(-e, decay), fe.frac + fc.frac),
                              (X.mul(g, scale), NOISE_FRAC + fc.frac)], fe)
        self._count(n, ins.e)
        self.state[ins.e][ins.rows.slice, ins.src_col:ins.src_col + ins.cols.count] = state
        fd = self.table[ins.dst].fmt
        out = self._store_sum(ins, [(a, fa.frac), (state, fe.frac)])
        one = np.int64(1) << np.int64(fd.frac)
        self.state[ins.dst][ins.rows.slice, ins.cols.slice] = np.clip(out, -one, one)

    def _v_acc_add(self, ins):
        region = (ins.rows.slice, ins.cols.slice)
        src = (ins.rows.slice, slice(ins.src_col, ins.src_col + ins.cols.count))
        total = X.add(X.region(self.state[ins.dst], region), X.region(self.state[ins.a], src))
        total, n = X.fit_width(total, self.table[ins.dst].acc_bits, self.acc_overflow)
        self._count(n, ins.dst)
        self.state[ins.dst] = X.assign(self.state[ins.dst], region, total)


_RANGE_FIELDS = ("rows", "cols", "m", "n", "k")


def _merge(first: Instruction, second: Instruction) -> Instruction | None:
    """One instruction doing both, when they are pieces of one step split along one
    range (rows, cols, m or n; never the reduction range k), else None."""
    if type(first) is not type(second) or isinstance(first, (Barrier, Halt)):
        return None
    a, b = dataclasses.asdict(first), dataclasses.asdict(second)
    a.pop("core"), b.pop("core")
    ranges = [f for f in _RANGE_FIELDS if f in a and a[f] != b[f]]
    if len(ranges) != 1 or ranges[0] == "k":
        return None
    name = ranges[0]
    ra, rb = getattr(first, name), getattr(second, name)
    if ra.stop != rb.start:
        return None
    # columns carry their operands' first column along
    offset = "src_col" if name == "cols" and "src_col" in a else \
        "dst_col" if name == "cols" and "dst_col" in a else None
    if offset is not None:
        if b[offset] != a[offset] + ra.count:
            return None
        a.pop(offset), b.pop(offset)
    a.pop(name), b.pop(name)
    if a != b:
        return None
    from .isa import Range
    return dataclasses.replace(first, **{name: Range(ra.start, ra.count + rb.count)})


__all__ = ["GoldenMachine", "GoldenError", "RunStats", "isqrt_nearest", "tanh_fixed",
           "xorshift32", "seed_lanes"]
