"""An independent executor of the FIXAR instruction set, written from docs/isa.md.

It owns nothing the package uses: it is the second opinion the property tests compare
:class:`fixar_gen.golden.GoldenMachine` with.  Everything is done element by element on
Python ints, with :class:`fractions.Fraction` for the exact real value an instruction
rounds (numpy only converts arrays at the host interface).  Rounding, overflow, the tanh
table, the PRNG and the integer square root are implemented here again rather than
imported, so a bug in the package's vectorised kernels cannot hide itself.

Where docs/isa.md leaves a detail open, the choice made here is marked ``docs:``.
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction

import numpy as np

from fixar_gen.isa import (NO_BUFFER, Barrier, Drain, Halt, Load, MatMul, Program, Store,
                           Vector, ACTIVATIONS, MODES, VECTOR_FUNCTIONS)

# constants as docs/isa.md states them
TANH_LIMIT = 8                    # |z| >= 8 gives exactly +-1
TANH_SEGMENTS_PER_UNIT = 64       # segment i = floor(|z| * 2^6)
TANH_TABLE_FRAC = 30              # T[i] = round(tanh(i / 2^6) * 2^30)
PRNG_LANES = 16
PRNG_DRAWS = 4
NOISE_FRAC = 16
NOISE_GAIN = 28378                # sqrt(3) in Q2.14
RATIO_FRAC = 24                   # adam_w's ratio
MASK32 = (1 << 32) - 1
MASK64 = (1 << 64) - 1
#: the buffer kinds whose shape and format may not change between programs
PERSISTENT_KINDS = ("param", "state", "const", "prng")


class ReferenceMachineError(RuntimeError):
    """The program asked for something docs/isa.md does not define."""


# --------------------------------------------------------------------------- numerics


def bounds(fmt) -> tuple[int, int]:
    """The raw range of a fixed-point format."""
    if fmt.signed:
        return -(1 << (fmt.width - 1)), (1 << (fmt.width - 1)) - 1
    return 0, (1 << fmt.width) - 1


def real(raw: int, frac: int) -> Fraction:
    """The exact value of a raw integer with ``frac`` fraction bits."""
    return Fraction(raw) / Fraction(2) ** frac


def round_integer(x: Fraction, rounding: str) -> int:
    if rounding == "truncate":                 # floor, toward -inf
        return math.floor(x)
    if rounding == "nearest_up":               # ties toward +inf
        return math.floor(x + Fraction(1, 2))
    if rounding == "nearest_even":
        return round(x)                        # Fraction rounds ties to even
    if rounding == "toward_zero":              # the magnitude's fraction dropped
        return math.trunc(x)
    raise ReferenceMachineError(f"unknown rounding {rounding!r}")


def fit(q: int, lo: int, hi: int, overflow: str) -> tuple[int, int]:
    """q brought into [lo, hi]; (value, 1 if it was out of range else 0)."""
    if lo <= q <= hi:
        return q, 0
    if overflow == "saturate":
        return (hi if q > hi else lo), 1
    if overflow == "wrap":
        return lo + (q - lo) % (hi - lo + 1), 1
    raise ReferenceMachineError(f"unknown overflow mode {overflow!r}")


def requantize(x: Fraction, fmt) -> tuple[int, int]:
    """R: the exact value x rounded to fmt's grid by its rounding mode, then fitted by its
    overflow mode; (raw, overflow count)."""
    lo, hi = bounds(fmt)
    return fit(round_integer(x * Fraction(2) ** fmt.frac, fmt.rounding), lo, hi, fmt.overflow)


def isqrt_nearest(v: int) -> int:
    """round(sqrt(v)) for an integer v >= 0 (ties are impossible)."""
    s = math.isqrt(v)
    # sqrt(v) >= s + 1/2  <=>  v >= s^2 + s + 1/4  <=>  v > s^2 + s
    return s + 1 if v - s * s > s else s


def xorshift32(x: int) -> int:
    x ^= (x << 13) & MASK32
    x ^= x >> 17
    x ^= (x << 5) & MASK32
    return x


def splitmix64_lanes(seed: int, lanes: int = PRNG_LANES) -> list[int]:
    """PRNG lane states from a seed.  docs: isa.md says only "seeded by splitmix64"; the
    lane is the low 32 bits of each splitmix64 output, and a zero lane (a fixed point
    of xorshift) becomes 1."""
    state, out = seed & MASK64, []
    for _ in range(lanes):
        state = (state + 0x9E3779B97F4A7C15) & MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        z ^= z >> 31
        out.append((z & MASK32) or 1)
    return out


def _tanh_table() -> list[int]:
    """T[i] = round(tanh(i / 64) * 2^30), computed to 60 digits (no float involved)."""
    table = []
    with localcontext() as ctx:
        ctx.prec = 60
        for i in range(TANH_LIMIT * TANH_SEGMENTS_PER_UNIT):
            e = (Decimal(2 * i) / TANH_SEGMENTS_PER_UNIT).exp()
            t = (e - 1) / (e + 1) * (1 << TANH_TABLE_FRAC)
            table.append(int(t.to_integral_value(rounding=ROUND_HALF_EVEN)))
    return table + [1 << TANH_TABLE_FRAC]       # the last entry is exactly 1


TANH_TABLE = _tanh_table()


def tanh_piecewise(z: Fraction) -> Fraction:
    """The vector unit's tanh: piecewise linear between the table's points, odd."""
    u = abs(z)
    if u >= TANH_LIMIT:
        y = Fraction(1)
    else:
        position = u * TANH_SEGMENTS_PER_UNIT
        i = math.floor(position)
        remainder = position - i                # within the segment, in [0, 1)
        t0, t1 = TANH_TABLE[i], TANH_TABLE[i + 1]
        y = (t0 + (t1 - t0) * remainder) / (1 << TANH_TABLE_FRAC)
    return -y if z < 0 else y


# --------------------------------------------------------------------------- the machine


@dataclasses.dataclass
class ReferenceStats:
    """Saturations of one run, per instruction (pc) and per destination buffer."""

    saturations: Counter = dataclasses.field(default_factory=Counter)
    by_buffer: Counter = dataclasses.field(default_factory=Counter)
    instructions: int = 0

    @property
    def total_saturations(self) -> int:
        return sum(self.saturations.values())


Matrix = list[list[int]]


class ReferenceMachine:
    """Memory by buffer name (lists of Python ints) and an element-by-element executor.

    ``schedule`` picks how the cores' instruction streams interleave: ``program`` runs
    the code in program order; ``reverse`` runs the highest-numbered core that can go
    until it blocks at a barrier or halts, which is a legal execution of the parallel
    machine too, so a program whose cores race between barriers gives other results."""

    SCHEDULES = ("program", "reverse")

    def __init__(self, acc_overflow: str = "saturate", schedule: str = "program"):
        if schedule not in self.SCHEDULES:
            raise ValueError(f"schedule {schedule!r} is not one of {self.SCHEDULES}")
        self.acc_overflow = acc_overflow
        self.schedule = schedule
        self.memory: dict[str, Matrix] = {}
        self.kinds: dict[str, object] = {}

    # -- host interface ------------------------------------------------------------------

    def allocate(self, buffers) -> None:
        for b in buffers:
            key = (b.rows, b.cols, b.fmt, b.kind, b.acc_bits)
            old = self.kinds.get(b.name)
            if old is not None and (old.rows, old.cols, old.fmt, old.kind, old.acc_bits) == key:
                continue
            if old is not None and b.kind in PERSISTENT_KINDS:
                raise ReferenceMachineError(f"buffer {b.name} changed from {old} to {b}")
            self.kinds[b.name] = b
            self.memory[b.name] = [[0] * b.cols for _ in range(b.rows)]

    def write(self, name: str, values) -> None:
        b = self.kinds[name]
        flat = [int(v) for v in np.asarray(values).reshape(-1).tolist()]
        if len(flat) != b.rows * b.cols:
            raise ValueError(f"{name}: {len(flat)} values for {b.rows}x{b.cols}")
        lo, hi = bounds(b.fmt)
        if any(not lo <= v <= hi for v in flat):
            raise ValueError(f"{name}: values outside {b.fmt}")
        self.memory[name] = [flat[r * b.cols:(r + 1) * b.cols] for r in range(b.rows)]

    def read(self, name: str) -> np.ndarray:
        """int64 when every value fits, else an object array of Python ints."""
        rows = self.memory[name]
        values = [v for row in rows for v in row]
        fits = all(-(1 << 63) <= v < (1 << 63) for v in values)
        out = np.array(values, dtype=np.int64 if fits else object)
        return out.reshape(len(rows), len(rows[0]) if rows else 0)

    # -- execution -------------------------------------------------------------------------

    def run(self, program: Program, host: dict) -> ReferenceStats:
        self.allocate(program.buffers)
        self.program, self.host = program, host
        self.table = program.buffers
        self.state = [self.memory[b.name] for b in program.buffers]
        self.stats = ReferenceStats()
        for pc, instr in self._interleave(program):
            self.pc = pc
            self.stats.instructions += 1
            self._execute(instr)
        return self.stats

    def _interleave(self, program: Program):
        """(pc, instruction) in the order this machine executes them."""
        code = program.code
        if self.schedule == "program":
            halted = set()
            for pc, instr in enumerate(code):
                if instr.core in halted:
                    continue
                if isinstance(instr, Halt):
                    halted.add(instr.core)
                elif not isinstance(instr, Barrier):
                    yield pc, instr
            return
        queues: dict[int, list] = {}
        for pc, instr in enumerate(code):
            queues.setdefault(instr.core, []).append((pc, instr))
        position = {c: 0 for c in queues}
        waiting: dict[int, int] = {}               # core -> mask of the barrier it is at
        running = set(queues)
        while running:
            moved = False
            for core in sorted(running, reverse=True):
                if core in waiting:
                    continue
                queue = queues[core]
                while position[core] < len(queue):
                    pc, instr = queue[position[core]]
                    position[core] += 1
                    moved = True
                    if isinstance(instr, Halt):
                        running.discard(core)
                        break
                    if isinstance(instr, Barrier):
                        waiting[core] = instr.mask
                        break
                    yield pc, instr
                else:
                    running.discard(core)
                break                                  # rescan from the highest core
            for core, mask in list(waiting.items()):
                members = {c for c in queues if mask >> c & 1}
                if core in waiting and all(waiting.get(c) == mask for c in members):
                    for c in members:
                        del waiting[c]
                    moved = True
            if not moved:
                raise ReferenceMachineError(f"deadlock: cores {sorted(waiting)} wait at "
                                            "barriers that never complete")

    def _count(self, n: int, buf: int) -> None:
        if n:
            self.stats.saturations[self.pc] += n
            self.stats.by_buffer[self.table[buf].name] += n

    def _execute(self, instr) -> None:
        if isinstance(instr, Load):
            self._load(instr)
        elif isinstance(instr, Store):
            self._store_host(instr)
        elif isinstance(instr, MatMul):
            self._matmul(instr)
        elif isinstance(instr, Drain):
            self._drain(instr)
        elif isinstance(instr, Vector):
            name = VECTOR_FUNCTIONS[instr.fn]
            getattr(self, f"_v_{name}")(instr)
        else:
            raise ReferenceMachineError(f"unknown instruction {instr!r}")

    # -- DMA -----------------------------------------------------------------------------

    def _load(self, ins: Load) -> None:
        slot = self.program.slots[ins.slot]
        source = np.asarray(self.host[slot.name])
        buf = self.table[ins.dst]
        lo, hi = bounds(buf.fmt)
        dst = self.state[ins.dst]
        for r in range(ins.rows.start, ins.rows.stop):
            for j in range(ins.cols.count):
                v = int(source[r, ins.src_col + j])
                if not lo <= v <= hi:
                    raise ReferenceMachineError(f"load into {buf.name}: {v} outside {buf.fmt}")
                dst[r][ins.cols.start + j] = v

    def _store_host(self, ins: Store) -> None:
        slot = self.program.slots[ins.slot]
        if slot.name not in self.host:
            self.host[slot.name] = np.zeros((slot.rows, slot.cols), dtype=np.int64)
        out = self.host[slot.name]
        src = self.state[ins.src]
        for r in range(ins.rows.start, ins.rows.stop):
            for j in range(ins.cols.count):
                out[r, ins.dst_col + j] = src[r][ins.cols.start + j]

    # -- matrix unit -----------------------------------------------------------------------

    def _fit_acc(self, q: int, buf: int) -> int:
        bits = self.table[buf].acc_bits
        q, n = fit(q, -(1 << (bits - 1)), (1 << (bits - 1)) - 1, self.acc_overflow)
        self._count(n, buf)
        return q

    def _matmul(self, ins: MatMul) -> None:
        a_buf, b_buf, d_buf = self.table[ins.a], self.table[ins.b], self.table[ins.dst]
        if d_buf.fmt.frac != a_buf.fmt.frac + b_buf.fmt.frac:
            raise ReferenceMachineError("mm: the accumulator must have f(a) + f(b) fraction bits")
        # docs: isa.md names the mode bit but not its rule; fxp16 packs two activations
        # of at most 16 bits into a word, so a wider streamed operand is refused
        if MODES[ins.mode] == "fxp16" and a_buf.fmt.width > 16:
            raise ReferenceMachineError("mm in fxp16 mode streams a wider operand")
        a, b, acc = self.state[ins.a], self.state[ins.b], self.state[ins.dst]

        def op_a(m: int, k: int) -> int:
            return a[k][m] if ins.ta else a[m][k]

        def op_b(k: int, n: int) -> int:
            return b[n][k] if ins.tb else b[k][n]

        results = {}
        for m in range(ins.m.start, ins.m.stop):
            for n in range(ins.n.start, ins.n.stop):
                total = sum(op_a(m, k) * op_b(k, n) for k in range(ins.k.start, ins.k.stop))
                if ins.accumulate:
                    total += acc[m][n]
                results[m, n] = self._fit_acc(total, ins.dst)
        for (m, n), v in results.items():
            acc[m][n] = v

    def _drain(self, ins: Drain) -> None:
        d_fmt = self.table[ins.dst].fmt
        acc_frac = self.table[ins.acc].fmt.frac
        acc = self.state[ins.acc]
        act = ACTIVATIONS[ins.act]
        pre = self.program.pre_format
        if ins.bias != NO_BUFFER and self.table[ins.bias].fmt.frac > acc_frac:
            # docs: z = acc + bias * 2^(f(acc) - f(bias)) is an integer only when
            # f(bias) <= f(acc)
            raise ReferenceMachineError("drain: the bias has more fraction bits than acc")
        out = {}
        for i in range(ins.rows.count):
            r = ins.rows.start + i
            for j in range(ins.cols.count):
                col = ins.src_col + j
                z = real(acc[r][col], acc_frac)
                if ins.bias != NO_BUFFER:
                    z += real(self.state[ins.bias][0][col], self.table[ins.bias].fmt.frac)
                if act == "identity":
                    value, n = requantize(z, d_fmt)
                    self._count(n, ins.dst)
                else:
                    zp, n = requantize(z, pre)
                    self._count(n, ins.dst)
                    zv = real(zp, pre.frac)
                    if act == "relu":
                        y = max(zv, Fraction(0))
                    elif act == "leaky_relu":
                        slope_buf = self.table[ins.slope]
                        slope = real(self.state[ins.slope][0][0], slope_buf.fmt.frac)
                        y = zv if zv >= 0 else zv * slope
                    else:
                        y = tanh_piecewise(zv)
                    value, n = requantize(y, d_fmt)
                    self._count(n, ins.dst)
                out[r, ins.cols.start + j] = value
        dst = self.state[ins.dst]
        for (r, c), v in out.items():
            dst[r][c] = v

    # -- vector unit -----------------------------------------------------------------------

    def _element(self, buf: int, ins: Vector, i: int, j: int) -> int:
        """Element (i, j) of the instruction's region of an operand: its rows are the
        region's rows, its columns start at src_col; one row or column broadcasts."""
        b = self.table[buf]
        r = ins.rows.start + i if b.rows > 1 else 0
        c = ins.src_col + j if b.cols > 1 else 0
        return self.state[buf][r][c]

    def _value(self, buf: int, ins: Vector, i: int, j: int) -> Fraction:
        return real(self._element(buf, ins, i, j), self.table[buf].fmt.frac)

    def _const(self, ins: Vector, index: int) -> Fraction:
        b = self.table[ins.c]
        return real(self.state[ins.c][index // b.cols][index % b.cols], b.fmt.frac)

    def _const_raw(self, ins: Vector, index: int) -> int:
        b = self.table[ins.c]
        return self.state[ins.c][index // b.cols][index % b.cols]

    def _dst_value(self, ins: Vector, i: int, j: int) -> Fraction:
        raw = self.state[ins.dst][ins.rows.start + i][ins.cols.start + j]
        return real(raw, self.table[ins.dst].fmt.frac)

    def _cells(self, ins: Vector):
        for i in range(ins.rows.count):
            for j in range(ins.cols.count):
                yield i, j

    def _write_region(self, ins: Vector, values: dict, buf: int | None = None,
                      col0: int | None = None, exact: bool = True,
                      rounding: str | None = None) -> None:
        """Write the region of ``buf`` (default dst; columns from ``col0``, default the
        region's): exact values (Fractions) are requantized by R (by ``rounding`` instead
        of the format's when given), raw ones written as they are.  Every operand was
        read before anything is written."""
        buf = ins.dst if buf is None else buf
        col0 = ins.cols.start if col0 is None else col0
        fmt = self.table[buf].fmt
        if rounding is not None:
            fmt = dataclasses.replace(fmt, rounding=rounding)
        rows = self.state[buf]
        for (i, j), x in values.items():
            if exact:
                raw, n = requantize(Fraction(x), fmt)
                self._count(n, buf)
            else:
                raw = int(x)
            rows[ins.rows.start + i][col0 + j] = raw

    def _elementwise(self, ins: Vector, f, rounding: str | None = None) -> None:
        self._write_region(ins, {(i, j): f(i, j) for i, j in self._cells(ins)},
                           rounding=rounding)

    def _v_copy(self, ins):
        self._elementwise(ins, lambda i, j: self._value(ins.a, ins, i, j))

    def _v_add(self, ins):
        self._elementwise(ins, lambda i, j: self._value(ins.a, ins, i, j)
                          + self._value(ins.b, ins, i, j))

    def _v_sub(self, ins):
        self._elementwise(ins, lambda i, j: self._value(ins.a, ins, i, j)
                          - self._value(ins.b, ins, i, j))

    def _v_mul(self, ins):
        self._elementwise(ins, lambda i, j: self._value(ins.a, ins, i, j)
                          * self._value(ins.b, ins, i, j))

    def _v_scale(self, ins):
        c = self._const(ins, 0)
        self._elementwise(ins, lambda i, j: self._value(ins.a, ins, i, j) * c)

    def _v_fill(self, ins):
        c = self._const(ins, 0)
        self._elementwise(ins, lambda i, j: c)

    def _v_clip(self, ins):
        c = self._const(ins, 0)
        # docs: clamp(a, -c, c) for c < 0 is read as min(max(a, -c), c) = c
        self._elementwise(ins, lambda i, j: min(max(self._value(ins.a, ins, i, j), -c), c))

    def _v_minimum(self, ins):
        self._elementwise(ins, lambda i, j: min(self._value(ins.a, ins, i, j),
                                                self._dst_value(ins, i, j)))

    def _v_abs(self, ins):
        self._elementwise(ins, lambda i, j: abs(self._value(ins.a, ins, i, j)))

    def _v_dact_relu(self, ins):
        self._elementwise(ins, lambda i, j: self._value(ins.a, ins, i, j)
                          if self._element(ins.b, ins, i, j) > 0 else Fraction(0))

    def _v_dact_leaky(self, ins):
        slope = self._const(ins, 0)
        self._elementwise(ins, lambda i, j: self._value(ins.a, ins, i, j)
                          * (1 if self._element(ins.b, ins, i, j) > 0 else slope))

    def _v_dact_tanh(self, ins):
        def f(i, j):
            y = self._value(ins.b, ins, i, j)
            return self._value(ins.a, ins, i, j) * max(1 - y * y, Fraction(0))
        self._elementwise(ins, f)

    def _v_mse_grad(self, ins):
        c = self._const(ins, 0)
        self._elementwise(ins, lambda i, j: (self._value(ins.a, ins, i, j)
                                             - self._value(ins.b, ins, i, j)) * c)

    def _v_bellman(self, ins):
        gamma = self._const(ins, 0)
        self._elementwise(ins, lambda i, j: self._value(ins.a, ins, i, j)
                          + (self._value(ins.e, ins, i, j) * gamma
                             if self._element(ins.b, ins, i, j) == 0 else 0))

    def _v_sgd(self, ins):
        lr = self._const(ins, 0)
        self._elementwise(ins, lambda i, j: self._dst_value(ins, i, j)
                          - self._value(ins.a, ins, i, j) * lr)

    def _v_momentum(self, ins):
        mu = self._const(ins, 0)
        self._elementwise(ins, lambda i, j: self._dst_value(ins, i, j) * mu
                          + self._value(ins.a, ins, i, j))

    def _v_adam_m(self, ins):
        beta = self._const(ins, 0)
        # docs: rounded toward zero, whatever d's rounding
        self._elementwise(ins, lambda i, j: self._dst_value(ins, i, j) * beta
                          + self._value(ins.a, ins, i, j) * (1 - beta), "toward_zero")

    def _v_adam_s(self, ins):
        d_fmt, a_fmt = self.table[ins.dst].fmt, self.table[ins.a].fmt
        if d_fmt.frac != a_fmt.frac:
            raise ReferenceMachineError("adam_s needs f(d) = f(a)")
        fc = self.table[ins.c].fmt.frac
        beta = self._const_raw(ins, 0)
        one = Fraction(2) ** fc                              # 1.0 in c's format
        lo, hi = bounds(d_fmt)
        out = {}
        for i, j in self._cells(ins):
            d = self.state[ins.dst][ins.rows.start + i][ins.cols.start + j]
            a = self._element(ins.a, ins, i, j)
            u = d * d * beta + a * a * (one - beta)         # frac 2 f + fc
            v = round_integer(u / one, d_fmt.rounding)      # frac 2 f
            if v < 0:
                raise ReferenceMachineError("adam_s: square root of a negative value")
            root, n = fit(isqrt_nearest(v), lo, hi, d_fmt.overflow)   # frac f
            self._count(n, ins.dst)
            out[i, j] = root
        self._write_region(ins, out, exact=False)

    def _v_adam_w(self, ins):
        fb = self.table[ins.b].fmt.frac
        fa = self.table[ins.a].fmt.frac
        alpha = self._const(ins, 0)
        eps = self._const(ins, 1)
        eps_b = round_integer(eps * Fraction(2) ** fb, "nearest_even")   # eps in f(b)
        bump = max(eps_b, 1)

        def f(i, j):
            m = self._element(ins.a, ins, i, j)
            den = self._element(ins.b, ins, i, j) + bump
            if den <= 0:
                raise ReferenceMachineError("adam_w: sqrt(v) + eps is not positive")
            magnitude = math.floor(abs(m) * Fraction(2) ** (RATIO_FRAC + fb - fa) / den)
            ratio = -magnitude if m < 0 else magnitude
            return self._dst_value(ins, i, j) - real(ratio, RATIO_FRAC) * alpha
        self._elementwise(ins, f)

    def _v_soft_update(self, ins):
        tau = self._const(ins, 0)

        def f(i, j):
            d = self._dst_value(ins, i, j)
            return d + tau * (self._value(ins.a, ins, i, j) - d)
        self._elementwise(ins, f)

    def _v_range(self, ins):
        a_buf, d_buf = self.table[ins.a], self.table[ins.dst]
        if a_buf.fmt != d_buf.fmt:
            raise ReferenceMachineError("range: the monitor must have a's format")
        # docs: "over rows x cols of a" -- the instruction's rows and cols, read directly
        # on a (src_col is not used)
        a = self.state[ins.a]
        block = [a[r][c] for r in range(ins.rows.start, ins.rows.stop)
                 for c in range(ins.cols.start, ins.cols.stop)]
        d = self.state[ins.dst]
        flat = [(k // d_buf.cols, k % d_buf.cols) for k in range(2)]
        (r0, c0), (r1, c1) = flat
        d[r0][c0] = min([d[r0][c0], *block])
        d[r1][c1] = max([d[r1][c1], *block])

    def _gaussian(self, lanes_buf: int, count: int) -> list[int]:
        """``count`` samples with NOISE_FRAC fraction bits; sample j from lane j mod 16.
        docs: the operand holding the lanes is b; a draw is the lane's state after one
        xorshift step."""
        lanes = self.state[lanes_buf]
        if len(lanes) != PRNG_LANES:
            raise ReferenceMachineError(f"the PRNG has {PRNG_LANES} lanes, not {len(lanes)}")
        out = []
        for j in range(count):
            lane = j % PRNG_LANES
            u = 0
            for _ in range(PRNG_DRAWS):
                lanes[lane][0] = xorshift32(lanes[lane][0])
                u += lanes[lane][0] >> 16
            out.append(((u - PRNG_DRAWS * (1 << 15)) * NOISE_GAIN + (1 << 13)) >> 14)
        return out

    def _clamped_unit(self, ins: Vector, values: dict) -> None:
        """d = clamp(R(x), -1, 1) in d's format (the clamp is not an overflow)."""
        fmt = self.table[ins.dst].fmt
        if fmt.frac < 0:
            raise ReferenceMachineError("noise: +-1 is not on the grid of d's format")
        one = 1 << fmt.frac
        out = {}
        for key, x in values.items():
            raw, n = requantize(x, fmt)
            self._count(n, ins.dst)
            out[key] = min(max(raw, -one), one)
        self._write_region(ins, out, exact=False)

    def _v_noise(self, ins):
        sigma = self._const(ins, 0)
        cells = list(self._cells(ins))
        samples = self._gaussian(ins.b, len(cells))
        self._clamped_unit(ins, {(i, j): self._value(ins.a, ins, i, j)
                                 + real(g, NOISE_FRAC) * sigma
                                 for (i, j), g in zip(cells, samples)})

    def _v_ou_noise(self, ins):
        scale, decay = self._const(ins, 0), self._const(ins, 1)
        cells = list(self._cells(ins))
        samples = self._gaussian(ins.b, len(cells))
        e_buf = self.table[ins.e]
        if (e_buf.rows == 1 < ins.rows.count) or (e_buf.cols == 1 < ins.cols.count):
            raise ReferenceMachineError("ou_noise: the state e cannot be broadcast")
        a = {(i, j): self._value(ins.a, ins, i, j) for i, j in cells}
        state = {}
        for (i, j), g in zip(cells, samples):
            e = self._value(ins.e, ins, i, j)
            state[i, j] = e - e * decay + real(g, NOISE_FRAC) * scale
        # docs: e is operand e, so its new value goes back where it was read (src_col)
        self._write_region(ins, state, buf=ins.e, col0=ins.src_col)
        new_e = {(i, j): self._value(ins.e, ins, i, j) for i, j in cells}
        self._clamped_unit(ins, {k: a[k] + new_e[k] for k in cells})

    def _v_acc_add(self, ins):
        # docs: a is an operand, so its columns start at src_col
        out = {}
        for i, j in self._cells(ins):
            d = self.state[ins.dst][ins.rows.start + i][ins.cols.start + j]
            out[i, j] = self._fit_acc(d + self._element(ins.a, ins, i, j), ins.dst)
        self._write_region(ins, out, exact=False)


__all__ = ["ReferenceMachine", "ReferenceMachineError", "ReferenceStats", "TANH_TABLE",
           "bounds", "fit", "isqrt_nearest", "requantize", "splitmix64_lanes",
           "tanh_piecewise", "xorshift32"]
