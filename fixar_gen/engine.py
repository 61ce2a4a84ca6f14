"""The golden model's execution engine: each program compiled once into a plan of exact
kernels, run with the interpreter's state and counters.

:class:`EngineMachine` is a :class:`~fixar_gen.golden.GoldenMachine` whose ``run``
executes a *plan* instead of interpreting instructions one by one:

- compiled once per program (cached): buffers, slices, formats and constants' positions
  bound into one closure per step; per-core pieces of a step merged, also when they
  alternate with their drains (``mm0 drain0 mm1 drain1`` -> ``mm drain``, legal since
  the pieces touch disjoint rows and the drains do not feed the matrix operands);
- every buffer carries a bound on its magnitude (``|x| < 2**bits``), set when it is
  written (from the values just produced: the kernels find them while checking for
  overflow), so the exact arithmetic path is chosen without rescanning operands: a
  float64 BLAS product when bits(a) + bits(b) + ceil(log2 K) <= 53, else the wider
  operand split into as few limbs as keep every BLAS partial sum below 2**53;
- Adam, the soft update, SGD, momentum, the MSE gradient and the Bellman target as
  exact int64 blends (:mod:`fixar_gen.engine_kernels`; adam_s, adam_w, the blends,
  dact_relu and identity, relu and tanh drains as vectorised numba loops where numba
  is installed, :mod:`fixar_gen.engine_numba`), drains and copies as one rounding
  shift and a fit (a copy whose bound proves the result equal to its operand, an
  assignment);
- with numba, the fusion passes of :mod:`fixar_gen.engine_fusion` (K-split products
  with their acc_add and drain, a product with its drain, range monitors and a relu
  derivative folded into the drain that wrote their operand, runs of monitors of one
  buffer, a parameter's three Adam steps and its target's soft update in one pass,
  in float64 arithmetic where the bounds make it exact, :mod:`fixar_gen.engine_float`,
  else in int64); a fused group whose bounds do not hold runs its steps one by one.

A step whose bounds do not prove the fast kernel exact (wide accumulators, formats
beyond int64) or that has no kernel (add, sub, mul, scale, clip, dact_leaky, noise,
ou_noise, leaky_relu drains, store) runs the interpreter's own code for that
instruction, so every result, saturation count and error is the interpreter's.  The
interpreter stays the executable specification; tests/test_engine.py runs both on
random programs and whole DDPG updates.  docs/numerics.md says why each kernel is exact.
"""

from __future__ import annotations

import math
import operator
import time

import numpy as np

from . import engine_float as EF
from . import engine_kernels as K
from . import engine_numba
from .engine_fusion import (Fused, adam_groups, dact_into_drain, drain_range_groups,
                            ksplit_groups, mm_drain_groups, range_groups, soft_into_adam)
from . import exact as X
from . import isa, ops
from .arch import TANH_RANGE_BITS, TANH_SEGMENT_FRAC, TANH_TABLE, TANH_TABLE_FRAC
from .golden import RATIO_FRAC, GoldenError, GoldenMachine, RunStats, _merge, tanh_fixed
from .isa import NO_BUFFER, Drain, Halt, Load, MatMul, Program, Vector
from .numerics import FixedFormat
from .placement import Occupancy

ENGINES = ("compiled", "interpreter")
KERNELS = ("numpy", "numba")
FLOAT64_EXACT_BITS = 53
MAX_LIMBS = 4
#: a float64 product below 2**51 converts to int64 by one addition in the numba drain
NARROW_PRODUCT_BITS = 51


def _halt() -> bool:
    raise AssertionError("halt is not a kernel")


class _Mirror:
    """A buffer's float64 copy for the exact BLAS products: ``array``; ``key`` the
    (run, stamp) it was made or written at; ``carry`` the int64 array it matched at
    the end of the last run that had the buffer (None: none)."""

    __slots__ = ("array", "key", "carry")

    def __init__(self):
        self.array, self.key, self.carry = None, None, None


class Plan:
    """A compiled program: (first pc, kernel or None, instruction) per step, and the pc
    that reports each merged piece's saturations."""

    def __init__(self, program: Program, steps: list, step_of: dict):
        self.program, self.steps, self.step_of = program, steps, step_of
        self.names = [b.name for b in program.buffers]
        self.index = {name: i for i, name in enumerate(self.names)}
        #: the program's buffers' entries of a dict by name, as a tuple (one C call)
        self.fetch = _getter(self.names)
        #: buffer index -> the machine's float64 mirror of that buffer (see _Mirror)
        self.mirrors: dict[int, _Mirror] = {}


class EngineMachine(GoldenMachine):
    """The golden machine running compiled plans (same state, results and counts)."""

    def __init__(self, acc_overflow: str = "saturate", kernels: str | None = None):
        super().__init__(acc_overflow)
        if kernels is None:
            kernels = "numba" if engine_numba.AVAILABLE else "numpy"
        if kernels not in KERNELS:
            raise ValueError(f"kernels {kernels!r} is not one of {', '.join(KERNELS)}")
        #: "numba": compiled kernels and fusion passes (engine_numba), else numpy only
        self.kernels = kernels
        self.bits_by_name: dict[str, int] = {}
        self._allocated = None      # the last table allocate() saw whole
        self._plans: dict[int, Plan] = {}
        #: buffer name -> its float64 mirror, shared by every plan, kept across runs
        self._f64: dict[str, _Mirror] = {}
        #: buffers the plan being compiled reads as matrix operands (float64 mirrors)
        self._operands: set = set()
        self.fallbacks = 0          # steps the interpreter ran (a measure, not a result)
        #: run the fused Adam pass in float64 where its bounds allow (engine_float);
        #: False: always the int64 pass (the results are the same)
        self.float_adam = engine_numba.FLOAT_ADAM
        #: fused Adam passes run in float64, and those whose check failed (then run
        #: in int64): measures, not results
        self.float_passes = self.float_failures = 0
        #: set to a dict to collect seconds per step: (pc, kind) -> [times]
        self.step_times: dict | None = None
        self.step_clock = time.perf_counter     # what step_times measures with
        self._runs = 0
        #: (program id, stale names at entry) -> (program, refusal or None, stale after)
        self._occupancy: dict[tuple[int, frozenset], tuple] = {}

    # -- host access (bounds follow every write) --------------------------------------

    def allocate(self, buffers) -> None:
        if buffers is self._allocated:          # the table allocated last, unchanged
            return
        kinds = self.kinds
        todo = [b for b in buffers if kinds.get(b.name) is not b]   # a plan's own table
        if not todo:
            self._allocated = buffers
            return
        before = {b.name: self.memory.get(b.name) for b in todo}
        super().allocate(todo)                  # raises on a parameter's new shape
        self._allocated = buffers
        for b in todo:
            kinds[b.name] = b                  # equal to what was there, or new
            if self.memory[b.name] is not before[b.name]:
                self.bits_by_name[b.name] = 0

    def write(self, name: str, values: np.ndarray) -> None:
        super().write(name, values)
        self.bits_by_name[name] = X.bits(self.memory[name])

    # -- execution --------------------------------------------------------------------

    def run(self, program: Program, host: dict[str, np.ndarray]) -> RunStats:
        plan = self._plan(program)
        self.allocate(program.buffers)
        stale_after = self._check_placement(program)
        self.table = program.buffers
        names = plan.names
        self.state = list(plan.fetch(self.memory))
        try:
            self.bound = list(plan.fetch(self.bits_by_name))
        except KeyError:
            self.bound = [self.bits_by_name.get(name, 64) for name in names]
        self.stamp = [0] * len(names)                 # writes to each buffer in this run
        self._runs += 1
        self._mirrors = plan.mirrors
        self._plan_now = plan
        self._program, self._host, self._stats = program, host, RunStats()
        stats = self._stats
        stats.step_of = plan.step_of
        timed = self.step_times
        try:
            for pc, kernel, instr in plan.steps:
                self._pc = pc
                stats.instructions += 1
                if kernel is _halt:
                    break
                if timed is not None:
                    start = self.step_clock()
                if kernel is None or not kernel():
                    self.fallbacks += 1
                    self._execute(instr)
                    self._rebound(instr)
                if timed is not None:
                    timed.setdefault((pc, _kind(instr)), []).append(
                        self.step_clock() - start)
        except BaseException:
            # a step stopped part-way (an error the interpreter reports): bounds from
            # the values, so no later fast path relies on a stale one; no mirror of the
            # program's buffers outlives the run
            self.bound = [X.bits(v) for v in self.state]
            self._carry(plan, failed=True)
            raise
        else:
            self._carry(plan, failed=False)
        finally:
            self.memory.update(zip(names, self.state))
            self.bits_by_name.update(zip(names, self.bound))
        if stale_after is not None:
            self.stale = stale_after
        return stats

    def _check_placement(self, program: Program) -> set[str] | None:
        """The interpreter's placement check (:class:`fixar_gen.placement.Occupancy`),
        which depends only on the program and on which buffers are stale at entry, so it
        runs once per such pair: a program that would read words another buffer has
        overwritten is refused before it runs.  Returns the stale names after the run."""
        if program.placement is None:
            return None
        key = (id(program), frozenset(self.stale))
        hit = self._occupancy.get(key)
        if hit is None or hit[0] is not program:
            guard, problem = Occupancy(program, self.stale), None
            for pc, instr in enumerate(program.code):
                if isinstance(instr, Halt):
                    break
                problem = guard.step(pc, instr)
                if problem:
                    break
            after = (self.stale - set(guard.names)) | guard.stale()
            hit = self._occupancy[key] = (program, problem, frozenset(after))
        if hit[1]:
            raise GoldenError(hit[1])
        return set(hit[2])

    def _rebound(self, instr) -> None:
        """Bounds of what an interpreted instruction wrote, from the values."""
        written = []
        if isinstance(instr, (MatMul, Drain, Load)):
            written = [instr.dst]
        elif isinstance(instr, Vector):
            written = [instr.dst]
            op = ops.VECTOR[instr.fn]
            written += [getattr(instr, role) for role in op.writes]
        for i in written:
            if i != NO_BUFFER:
                self.bound[i] = X.bits(self.state[i])
                self.stamp[i] += 1

    def _written(self, i: int, whole: bool, bits: int) -> None:
        self.bound[i] = bits if whole else max(self.bound[i], bits)
        self.stamp[i] += 1

    def _accumulated(self, i: int, view: np.ndarray, whole: bool, bits: int,
                     acc_bits: int) -> None:
        """Accumulator ``i``'s ``view`` was written with values of up to ``bits`` bits:
        fitted to the accumulator's ``acc_bits`` (by the machine's overflow mode,
        counted) where they may not fit, then recorded as written."""
        if bits >= acc_bits:
            fitted, n = X.fit_width(view.copy(), acc_bits, self.acc_overflow)
            view[...] = fitted
            self._count(n, i)
            bits = acc_bits
        self._written(i, whole, bits)

    def _mirror(self, i: int) -> _Mirror:
        """Buffer i's float64 mirror (the machine's, by name), its array of the buffer's
        shape."""
        mirror = self._mirrors.get(i)
        if mirror is None:
            name = self._plan_now.names[i]
            mirror = self._f64.get(name)
            if mirror is None:
                mirror = self._f64[name] = _Mirror()
            self._mirrors[i] = mirror
        if mirror.array is None or mirror.array.shape != self.state[i].shape:
            mirror.array, mirror.key, mirror.carry = \
                np.empty(self.state[i].shape, np.float64), None, None
        return mirror

    def _float(self, i: int) -> np.ndarray:
        """Buffer i as float64 (exact: |values| < 2**53 where used), converted once per
        write into the machine's mirror of it: valid when it was converted (or written
        by the fused Adam pass) since the buffer's last write in this run, or when the
        buffer is unwritten in this run and is the very array the mirror matched at the
        end of an earlier run (:meth:`_carry`)."""
        mirror = self._mirror(i)
        stamp = self.stamp[i]
        if mirror.key != (self._runs, stamp) and \
                not (stamp == 0 and mirror.carry is self.state[i]):
            np.copyto(mirror.array, self.state[i], casting="unsafe")
            mirror.key = (self._runs, stamp)
        return mirror.array

    def _carry(self, plan: Plan, failed: bool) -> None:
        """At the end of a run, which mirrors of the program's buffers stay valid for
        the next run: a mirror valid now remembers the array it matches (the host
        replaces a buffer's array when it writes it; every write in a run bumps the
        buffer's stamp), any other forgets."""
        index, runs, stamp, state = plan.index, self._runs, self.stamp, self.state
        for name, mirror in self._f64.items():
            i = index.get(name)
            if i is None:
                continue
            valid = not failed and (mirror.key == (runs, stamp[i]) or
                                    (stamp[i] == 0 and mirror.carry is state[i]))
            mirror.carry = state[i] if valid else None

    # -- compilation --------------------------------------------------------------------

    def _plan(self, program: Program) -> Plan:
        hit = self._plans.get(id(program))
        if hit is not None and hit.program is program:
            return hit
        code = self._coalesced(program)
        step_of = dict(self._steps)
        code = _interleaved_merged(code, step_of)
        self.table = program.buffers
        self._program = program
        self._operands = {i for _, ins in code if isinstance(ins, MatMul) for i in (ins.a, ins.b)}
        steps = []
        for pc, instr in code:
            if isinstance(instr, Halt):
                steps.append((pc, _halt, instr))
                break
            steps.append((pc, self._compile(instr), instr))
        if self.kernels == "numba":
            for fusion in (ksplit_groups, mm_drain_groups, drain_range_groups, dact_into_drain,
                           range_groups, adam_groups, soft_into_adam):
                steps = fusion(steps, program.buffers)
            steps = self._fused(steps)
        plan = Plan(program, steps, step_of)
        self._plans[id(program)] = plan
        return plan

    def _fused(self, steps: list) -> list:
        """Kernels for the fusion passes' groups; a group without one runs its steps."""
        out = []
        for pc, kernel, instr in steps:
            if isinstance(instr, Fused):
                kernel = getattr(self, f"_fuse_{instr.kind}")(instr.parts)
                if kernel is None:
                    out.extend(instr.parts)
                    continue
            out.append((pc, kernel, instr))
        return out

    def _run_part(self, pc: int, kernel, instr) -> None:
        """One step of a fused group on its own (its kernel, else the interpreter)."""
        self._pc = pc
        if kernel is None or not kernel():
            self.fallbacks += 1
            self._execute(instr)
            self._rebound(instr)

    def _run_alone(self, parts, pc: int) -> bool:
        """A fused group's steps one by one (its bounds do not hold), the program
        counter left at ``pc``."""
        for part in parts:
            self._run_part(*part)
        self._pc = pc
        return True

    def _compile(self, ins):
        if isinstance(ins, MatMul):
            return self._k_matmul(ins)
        if isinstance(ins, Drain):
            return self._k_drain(ins)
        if isinstance(ins, Load):
            return self._k_load(ins)
        if isinstance(ins, Vector):
            kernel = ops.VECTOR[ins.fn].engine
            return getattr(self, kernel)(ins) if kernel is not None else None
        return None                      # Store, Barrier: the interpreter's code

    def _whole(self, buf: int, rows: slice, cols: slice) -> bool:
        b = self.table[buf]
        return (rows.start, rows.stop, cols.start, cols.stop) == (0, b.rows, 0, b.cols)

    # -- matrix unit ----------------------------------------------------------------------

    def _k_matmul(self, ins: MatMul):
        A, B, D = self.table[ins.a], self.table[ins.b], self.table[ins.dst]
        if isa.MODES[ins.mode] == "fxp16" and not A.fmt.width <= 16:
            return None
        if D.fmt.frac != A.fmt.frac + B.fmt.frac:
            return None
        ia, ib, idst = ins.a, ins.b, ins.dst
        ta, tb, acc_mode = ins.ta, ins.tb, ins.accumulate
        ms, ns, ks = ins.m.slice, ins.n.slice, ins.k.slice
        kb = math.ceil(math.log2(ins.k.count)) if ins.k.count > 1 else 0
        acc_bits, whole = D.acc_bits, self._whole(idst, ms, ns)
        shape = (ins.m.count, ins.n.count)
        scratch = np.empty(shape, np.float64)
        scratch_int = np.empty(shape, np.int64) if acc_mode else None

        def run() -> bool:
            state, bound = self.state, self.bound
            acc, a, b = state[idst], state[ia], state[ib]
            if type(acc) is not np.ndarray or type(a) is not np.ndarray or \
                    type(b) is not np.ndarray:
                return False
            ba, bb = max(bound[ia], 1), max(bound[ib], 1)
            total = ba + bb + kb
            nb = max(bound[idst], total) + 1 if acc_mode else total
            if nb > 62:
                return False
            region = acc[ms, ns]
            if total <= FLOAT64_EXACT_BITS:          # one BLAS call, exact
                fa, fb = self._float(ia), self._float(ib)
                np.matmul((fa.T if ta else fa)[ms, ks], (fb.T if tb else fb)[ks, ns],
                          out=scratch)
                if acc_mode:
                    np.copyto(scratch_int, scratch, casting="unsafe")
                    region += scratch_int
                else:
                    np.copyto(region, scratch, casting="unsafe")
            else:
                lhs = (a.T if ta else a)[ms, ks]
                rhs = (b.T if tb else b)[ks, ns]
                prod = _exact_product(lhs, ba, rhs, bb, kb)
                if prod is None:
                    return False
                if acc_mode:
                    region += prod
                else:
                    region[...] = prod
            self._accumulated(idst, region, whole, nb, acc_bits)
            return True
        return run

    def _k_drain(self, ins: Drain):
        act = isa.ACTIVATIONS[ins.act]
        if act not in ("identity", "relu", "tanh"):
            return None
        Dst, Acc = self.table[ins.dst], self.table[ins.acc]
        frac = Acc.fmt.frac
        ibias = ins.bias
        bias_shift = 0
        if ibias != NO_BUFFER:
            bias_shift = frac - self.table[ibias].fmt.frac
            if bias_shift < 0:
                return None
        pre = self._program.pre_format
        rows, cols = ins.rows.slice, ins.cols.slice
        src = slice(ins.src_col, ins.src_col + ins.cols.count)
        iacc, idst = ins.acc, ins.dst
        d_fmt, whole = Dst.fmt, self._whole(idst, rows, cols)
        # relu into dst at pre's resolution: non-negative values within the bound fit as is
        same_relu_format = pre.frac == d_fmt.frac and d_fmt.signed
        if self.kernels == "numba" and idst not in (iacc, ibias):
            fast = self._nb_drain_tanh(ins, bias_shift) if act == "tanh" else \
                self._nb_drain(ins, act == "relu", bias_shift)
            if fast is not None:
                return fast

        def run() -> bool:
            state, bound = self.state, self.bound
            acc = state[iacc]
            if type(acc) is not np.ndarray:
                return False
            z, bz = acc[rows, src], bound[iacc]
            if ibias != NO_BUFFER:
                bb = bound[ibias] + bias_shift
                if max(bz, bb) > 61:
                    return False
                z = z + (state[ibias][:, src] << np.int64(bias_shift))
                bz = max(bz, bb) + 1
            if act == "identity":
                got = K.requantize(z, bz, frac - d_fmt.frac, d_fmt)
                if got is None:
                    return False
                out, n, bits = got
            else:
                got = K.requantize(z, bz, frac - pre.frac, pre, tight=False)
                if got is None:
                    return False
                zp, n1, bp = got
                if act == "relu":
                    np.maximum(zp, 0, out=zp)
                    if same_relu_format and bp <= d_fmt.width - 1:    # nothing to fit
                        hi = int(zp.max())
                        got = zp, 0, hi.bit_length()
                    else:
                        got = K.requantize(zp, bp, pre.frac - d_fmt.frac, d_fmt)
                else:                # tanh: the interpreter's table, |num| <= 2**num_frac
                    num, num_frac = tanh_fixed(zp, pre.frac)
                    got = K.requantize(num, num_frac + 1, num_frac - d_fmt.frac, d_fmt)
                if got is None:       # pre wider than dst's frac: the interpreter's path
                    return False
                out, n2, bits = got
                self._count(n1, idst)
                n = n2
            self._count(n, idst)
            state[idst][rows, cols] = out
            self._written(idst, whole, bits)
            return True
        return run

    # -- DMA ------------------------------------------------------------------------------

    def _k_load(self, ins: Load):
        slot = self._program.slots[ins.slot].name
        fmt = self.table[ins.dst].fmt
        rows, cols = ins.rows.slice, ins.cols.slice
        src = slice(ins.src_col, ins.src_col + ins.cols.count)
        idst, whole = ins.dst, self._whole(ins.dst, rows, cols)

        def run() -> bool:
            block = np.asarray(self._host[slot])[rows, src]
            if block.dtype != np.int64:
                return False
            hi, lo = int(block.max()), int(block.min())
            if lo < fmt.min_int or hi > fmt.max_int:
                return False                       # the interpreter reports it
            self.state[idst][rows, cols] = block
            self._written(idst, whole, K.bits_of(hi, lo))
            return True
        return run

    # -- vector unit ------------------------------------------------------------------------

    def _vec_parts(self, ins: Vector, *roles: str):
        """Slices of the operands (broadcast like the interpreter's _operand)."""
        out = []
        for role in roles:
            buf = getattr(ins, role)
            b = self.table[buf]
            r = ins.rows.slice if b.rows > 1 else slice(0, 1)
            c = slice(ins.src_col, ins.src_col + ins.cols.count) if b.cols > 1 else slice(0, 1)
            out.append((buf, r, c, b.fmt))
        return out

    def _vec_store(self, ins: Vector, got) -> bool:
        if got is None:
            return False
        out, n, bits = got
        rows, cols = ins.rows.slice, ins.cols.slice
        shape = (ins.rows.count, ins.cols.count)
        if out.shape != shape:        # a broadcast operand: each value is written size/n times
            n *= (shape[0] * shape[1]) // out.size
        self._count(n, ins.dst)
        self.state[ins.dst][rows, cols] = out if out.shape == shape else \
            np.broadcast_to(out, shape)
        self._written(ins.dst, self._whole(ins.dst, rows, cols), bits)
        return True

    def _k_copy(self, ins: Vector):
        ((ia, ra, ca, fa),) = self._vec_parts(ins, "a")
        idst, d_fmt = ins.dst, self.table[ins.dst].fmt
        rows, cols = ins.rows.slice, ins.cols.slice
        whole = self._whole(idst, rows, cols)
        # same fraction bits into a signed format: a value with |a| < 2**(width - 1)
        # is its own result (no rounding, no overflow), so the copy is an assignment
        # and a's bound is the destination's
        plain = fa.frac == d_fmt.frac and d_fmt.signed and d_fmt.width <= 64
        room = d_fmt.width - 1

        def run() -> bool:
            bits = self.bound[ia]
            if plain and bits <= room:
                self.state[idst][rows, cols] = self.state[ia][ra, ca]
                self._written(idst, whole, bits)
                return True
            return self._vec_store(ins, K.requantize(
                self.state[ia][ra, ca], bits, fa.frac - d_fmt.frac, d_fmt))
        return run

    def _k_dact_relu(self, ins: Vector):
        (ia, ra, ca, fa), (ib, rb, cb, _) = self._vec_parts(ins, "a", "b")
        d_fmt = self.table[ins.dst].fmt
        if self.kernels == "numba" and 0 <= fa.frac - d_fmt.frac <= 62:
            return self._nb_dact_relu(ins, (ia, ra, ca), (ib, rb, cb), fa.frac - d_fmt.frac)

        def run() -> bool:
            value = np.where(self.state[ib][rb, cb] > 0, self.state[ia][ra, ca], 0)
            return self._vec_store(ins, K.requantize(value, self.bound[ia],
                                                     fa.frac - d_fmt.frac, d_fmt))
        return run

    def _k_range(self, ins: Vector):
        A, Dst = self.table[ins.a], self.table[ins.dst]
        if A.fmt != Dst.fmt:
            return None
        ia, idst = ins.a, ins.dst
        rows, cols = ins.rows.slice, ins.cols.slice

        def run() -> bool:
            block = self.state[ia][rows, cols]
            current = self.state[idst]
            current[0, 0] = min(current[0, 0], block.min())
            current[0, 1] = max(current[0, 1], block.max())
            self._written(idst, True, X.bits(current))
            return True
        return run

    def _k_acc_add(self, ins: Vector):
        idst, ia = ins.dst, ins.a
        region = (ins.rows.slice, ins.cols.slice)
        src = (ins.rows.slice, slice(ins.src_col, ins.src_col + ins.cols.count))
        acc_bits = self.table[idst].acc_bits
        whole = self._whole(idst, *region)

        def run() -> bool:
            d, a = self.state[idst], self.state[ia]
            if type(d) is not np.ndarray or type(a) is not np.ndarray:
                return False
            nb = max(self.bound[idst], self.bound[ia]) + 1
            if nb > 62:
                return False
            target = d[region]
            target += a[src]
            self._accumulated(idst, target, whole, nb, acc_bits)
            return True
        return run

    def _k_fill(self, ins: Vector):
        c_fmt, d_fmt, ic, idst = self.table[ins.c].fmt, self.table[ins.dst].fmt, ins.c, ins.dst
        rows, cols = ins.rows.slice, ins.cols.slice
        size, whole = ins.rows.count * ins.cols.count, self._whole(idst, rows, cols)
        last = [None, None]         # the constant last filled and (raw, count, bits) of it

        def run() -> bool:
            value = int(self.state[ic][0, 0])
            if value != last[0]:    # the result is a function of the constant alone
                got = K.requantize(np.array([[value]], dtype=np.int64),
                                   K.bits_of(value, value), c_fmt.frac - d_fmt.frac, d_fmt)
                if got is None:
                    return False
                out, n, bits = got
                last[:] = value, (int(out[0, 0]), n * size, bits)
            raw, n, bits = last[1]
            self._count(n, idst)
            self.state[idst][rows, cols] = raw
            self._written(idst, whole, bits)
            return True
        return run

    def _k_dact_tanh(self, ins: Vector):
        (ia, ra, ca, fa), (ib, rb, cb, fy) = self._vec_parts(ins, "a", "b")
        d_fmt = self.table[ins.dst].fmt
        if fy.frac < 0 or 2 * fy.frac > 60:
            return None
        one = 1 << (2 * fy.frac)

        def run() -> bool:
            ba, by = self.bound[ia], self.bound[ib]
            if by > 30 or ba + 2 * fy.frac + 1 > 61:
                return False
            y = self.state[ib][rb, cb]
            t = np.int64(one) - y * y                      # 1 - y^2, exact
            np.maximum(t, 0, out=t)                        # 0 <= t <= 2**(2 f(y))
            value = self.state[ia][ra, ca] * t
            return self._vec_store(ins, K.requantize(value, ba + 2 * fy.frac + 1,
                                                     fa.frac + 2 * fy.frac - d_fmt.frac,
                                                     d_fmt))
        return run

    def _two_term(self, ins: Vector, x_role: str, y_role: str, constants, y_of=None):
        """d = R(x * c1 + y * c2 at fraction F) for operands x, y (not d); constants(c)
        gives (c1, c2, F) from the constants row, ``y_of(state)`` may replace y."""
        (ix, rx, cx, _), (iy, ry, cy, _) = self._vec_parts(ins, x_role, y_role)
        d_fmt, ic = self.table[ins.dst].fmt, ins.c

        def run() -> bool:
            c1, c2, frac = constants(int(self.state[ic].reshape(-1)[0]))
            x = self.state[ix][rx, cx]
            y = self.state[iy][ry, cy] if y_of is None else y_of()
            if x.shape != y.shape:
                x, y = np.broadcast_arrays(x, y)
            return self._vec_store(ins, K.blend(x, self.bound[ix], c1, y, self.bound[iy],
                                                c2, frac - d_fmt.frac, d_fmt))
        return run

    def _k_mse_grad(self, ins: Vector):
        fa, fb = self.table[ins.a].fmt.frac, self.table[ins.b].fmt.frac
        fc = self.table[ins.c].fmt.frac
        top = max(fa, fb) + fc
        return self._two_term(ins, "a", "b", lambda c: (
            c << (top - fa - fc), -(c << (top - fb - fc)), top))

    def _k_bellman(self, ins: Vector):
        fr, fq = self.table[ins.a].fmt.frac, self.table[ins.e].fmt.frac
        fc = self.table[ins.c].fmt.frac
        top = max(fr, fq + fc)
        (ie, re, ce, _), (ib, rb, cb, _) = self._vec_parts(ins, "e", "b")

        def next_q():           # Q' where the episode goes on, else 0
            return np.where(self.state[ib][rb, cb] == 0, self.state[ie][re, ce], 0)
        return self._two_term(ins, "a", "e", lambda c: (
            1 << (top - fr), c << (top - fq - fc), top), next_q)

    # the optimizers and the soft update: d = R(x * c1 + y * c2) at a common fraction

    def _blend_kernel(self, ins: Vector, constants):
        """A kernel for d = R(d * c1 + a * c2 at fraction F); ``constants(c_row)`` gives
        (c1, c2, F) from the constants row (read each run: step sizes change)."""
        idst = ins.dst
        ((ia, ra, ca, fa),) = self._vec_parts(ins, "a")
        # the destination's format, with the operation's own rounding (adam_m's)
        d_fmt, ic = ops.VECTOR[ins.fn].result_format(self.table[idst].fmt), ins.c
        rows, cols = ins.rows.slice, ins.cols.slice
        if self.kernels == "numba":
            return self._nb_blend(ins, (ia, ra, ca), constants)

        def run() -> bool:
            c1, c2, frac = constants([int(v) for v in self.state[ic].reshape(-1)[:2]])
            d = self.state[idst][rows, cols]
            a = self.state[ia][ra, ca]
            return self._vec_store(ins, K.blend(d, self.bound[idst], c1, a, self.bound[ia],
                                                c2, frac - d_fmt.frac, d_fmt))
        return run

    def _adam_m_constants(self, ins: Vector):
        """(c1, c2, F) of adam_m's blend from its constants row, or None."""
        fd, fa = self.table[ins.dst].fmt.frac, self.table[ins.a].fmt.frac
        fc = self.table[ins.c].fmt.frac
        if fc < 0:
            return None
        top = max(fd, fa) + fc

        def constants(c):
            beta = c[0]
            return (beta << (top - fd - fc), ((1 << fc) - beta) << (top - fa - fc), top)
        return constants

    def _k_adam_m(self, ins: Vector):
        constants = self._adam_m_constants(ins)
        return None if constants is None else self._blend_kernel(ins, constants)

    def _soft_constants(self, ins: Vector):
        """(c1, c2, F) of the soft update's blend from its constants row, or None."""
        fd, fa = self.table[ins.dst].fmt.frac, self.table[ins.a].fmt.frac
        fc = self.table[ins.c].fmt.frac
        top = max(fd + max(fc, 0), fa + fc)
        if top - fd - fc < 0:
            return None

        def constants(c):
            tau = c[0]
            return ((1 << (top - fd)) - (tau << (top - fd - fc)), tau << (top - fa - fc), top)
        return constants

    def _k_soft_update(self, ins: Vector):
        constants = self._soft_constants(ins)
        return None if constants is None else self._blend_kernel(ins, constants)

    def _k_sgd(self, ins: Vector):
        idst = ins.dst
        d_fmt = self.table[idst].fmt
        ((ia, ra, ca, fa),) = self._vec_parts(ins, "a")
        fc = self.table[ins.c].fmt.frac
        top = max(d_fmt.frac, fa.frac + fc)
        rows, cols, ic = ins.rows.slice, ins.cols.slice, ins.c

        def run() -> bool:
            lr = int(self.state[ic][0, 0])
            return self._vec_store(ins, K.step(
                self.state[idst][rows, cols], self.bound[idst], self.state[ia][ra, ca],
                self.bound[ia], -(lr << (top - fa.frac - fc)), top - d_fmt.frac, d_fmt))
        return run

    def _k_momentum(self, ins: Vector):
        fd, fa = self.table[ins.dst].fmt.frac, self.table[ins.a].fmt.frac
        fc = self.table[ins.c].fmt.frac
        top = max(fd + fc, fa)

        def constants(c):
            return (c[0] << (top - fd - fc), 1 << (top - fa), top)
        return self._blend_kernel(ins, constants)

    def _k_adam_s(self, ins: Vector):
        idst = ins.dst
        d_fmt = self.table[idst].fmt
        ((ia, ra, ca, fa),) = self._vec_parts(ins, "a")
        fc = self.table[ins.c].fmt.frac
        if fa.frac != d_fmt.frac or fc < 0:
            return None
        v_fmt = FixedFormat(64, 0, rounding=d_fmt.rounding)
        rows, cols, ic = ins.rows.slice, ins.cols.slice, ins.c
        if self.kernels == "numba" and fc <= 62:
            return self._nb_adam_s(ins, ia, ra, ca, fa, fc, d_fmt)

        def run() -> bool:
            bd, ba = self.bound[idst], self.bound[ia]
            beta = int(self.state[ic][0, 0])
            d = self.state[idst][rows, cols]
            a = self.state[ia][ra, ca]
            limbs = K.v_limbs(bd, d_fmt, ba, fa, beta, fc)   # as the numba kernels
            if limbs is None:
                return False
            if limbs[6] == K.SQUARES:           # the squares beyond the constants' limbs
                v = K.square_blend(d, a, beta, (1 << fc) - beta, fc, d_fmt.rounding)
            else:                               # split3's limbs, which blend takes
                got = K.blend(d * d, 2 * bd, beta, a * a, 2 * ba, (1 << fc) - beta, fc,
                              v_fmt)
                if got is None:
                    return False
                v, _, vbits = got
                if vbits > 61 or (v.size and v.min() < 0):
                    return False
            root = K.isqrt_nearest(v)
            return self._vec_store(ins, K.fit(root, d_fmt))
        return run

    def _k_adam_w(self, ins: Vector):
        idst = ins.dst
        d_fmt = self.table[idst].fmt
        (im, rm, cm, fm), (is_, rs, cs, fs) = self._vec_parts(ins, "a", "b")
        c_fmt = self.table[ins.c].fmt
        shift = RATIO_FRAC + fs.frac - fm.frac
        top = max(d_fmt.frac, RATIO_FRAC + c_fmt.frac)
        if shift < 0 or top - RATIO_FRAC - c_fmt.frac < 0:
            return None
        rows, cols, ic = ins.rows.slice, ins.cols.slice, ins.c
        eps_s = _eps_in(c_fmt, fs)
        if self.kernels == "numba":
            return self._nb_adam_w(ins, (im, rm, cm), (is_, rs, cs), shift,
                                   top - RATIO_FRAC - c_fmt.frac, top - d_fmt.frac, eps_s)

        def run() -> bool:
            bm = self.bound[im]
            if bm + shift > 62 or self.bound[is_] > 39:
                return False
            c = self.state[ic].reshape(-1)
            alpha = int(c[0])
            den = self.state[is_][rs, cs] + np.int64(eps_s(int(c[1])))
            if den.size and (den.min() <= 0 or K.array_bits(den) > 40):
                return False
            m = self.state[im][rm, cm]
            q = K.floor_divide(np.abs(m) << np.int64(shift), den)
            ratio = np.where(m < 0, -q, q)
            d = self.state[idst][rows, cols]
            return self._vec_store(ins, K.step(
                d, self.bound[idst], ratio, K.array_bits(ratio),
                -(alpha << (top - RATIO_FRAC - c_fmt.frac)), top - d_fmt.frac, d_fmt))
        return run


    # the numba kernels (engine_numba): one pass per element, into preallocated scratch

    def _nb_store(self, ins: Vector, out: np.ndarray, got) -> bool:
        count, lo, hi = got
        if count < 0:
            return False
        self._count(int(count), ins.dst)
        rows, cols = ins.rows.slice, ins.cols.slice
        self.state[ins.dst][rows, cols] = out
        self._written(ins.dst, self._whole(ins.dst, rows, cols), K.bits_of(hi, lo))
        return True

    def _nb_blend(self, ins: Vector, a_part, constants):
        blend = engine_numba.kernels().blend
        idst, ic = ins.dst, ins.c
        ia, ra, ca = a_part
        rows, cols = ins.rows.slice, ins.cols.slice
        shape = (ins.rows.count, ins.cols.count)
        out = np.empty(shape, dtype=np.int64)
        d_fmt = ops.VECTOR[ins.fn].result_format(self.table[idst].fmt)
        fmt_args = _fmt_args(d_fmt)
        mode = engine_numba.ROUNDING_CODES[d_fmt.rounding]
        # the blend cannot fail once split: it writes d in place (each element reads
        # only itself) unless a is d's own buffer (another column offset would alias)
        in_place, whole = ia != idst, self._whole(idst, rows, cols)
        a_broadcast = _broadcast(ra, ca, shape)

        def run() -> bool:
            c1, c2, frac = constants([int(v) for v in self.state[ic].reshape(-1)[:2]])
            shift = frac - d_fmt.frac
            if not 0 <= shift <= 62:
                return False
            parts = K.split(self.bound[idst], c1, self.bound[ia], c2, shift)
            if parts is None:
                return False
            a = self.state[ia][ra, ca]
            if a_broadcast:
                a = np.broadcast_to(a, shape)
            d = self.state[idst][rows, cols]
            if not in_place:
                return self._nb_store(ins, out, blend(d, a, out, *parts, shift, mode,
                                                      *fmt_args))
            count, lo, hi = blend(d, a, d, *parts, shift, mode, *fmt_args)
            self._count(int(count), idst)
            self._written(idst, whole, K.bits_of(hi, lo))
            return True
        return run

    def _nb_adam_s(self, ins: Vector, ia, ra, ca, a_fmt: FixedFormat, fc: int,
                   d_fmt: FixedFormat):
        adam_s = engine_numba.kernels().adam_s
        idst, ic = ins.dst, ins.c
        rows, cols = ins.rows.slice, ins.cols.slice
        shape = (ins.rows.count, ins.cols.count)
        out = np.empty(shape, dtype=np.int64)
        fmt_args = _fmt_args(d_fmt)
        mode = engine_numba.ROUNDING_CODES[d_fmt.rounding]

        def run() -> bool:
            beta = int(self.state[ic][0, 0])
            parts = K.v_limbs(self.bound[idst], d_fmt, self.bound[ia], a_fmt, beta, fc)
            if parts is None:
                return False
            a = np.broadcast_to(self.state[ia][ra, ca], shape)
            return self._nb_store(ins, out, adam_s(self.state[idst][rows, cols], a, out,
                                                   *parts, fc, mode, *fmt_args))
        return run

    def _nb_adam_w(self, ins: Vector, m_part, s_part, shift_m: int, alpha_shift: int,
                   shift: int, eps_s):
        adam_w = engine_numba.kernels().adam_w
        idst, ic = ins.dst, ins.c
        (im, rm, cm), (is_, rs, cs) = m_part, s_part
        rows, cols = ins.rows.slice, ins.cols.slice
        shape = (ins.rows.count, ins.cols.count)
        out = np.empty(shape, dtype=np.int64)
        d_fmt = ops.VECTOR[ins.fn].result_format(self.table[idst].fmt)
        fmt_args = _fmt_args(d_fmt)
        mode = engine_numba.ROUNDING_CODES[d_fmt.rounding]
        if not 0 <= shift <= 62:
            return None

        def run() -> bool:
            if self.bound[im] + shift_m > 62 or self.bound[idst] > 61:
                return False
            c = self.state[ic].reshape(-1)
            step = -(int(c[0]) << alpha_shift)
            room = 61 - step.bit_length()
            if room < 0:
                return False
            m = np.broadcast_to(self.state[im][rm, cm], shape)
            s = np.broadcast_to(self.state[is_][rs, cs], shape)
            return self._nb_store(ins, out, adam_w(
                self.state[idst][rows, cols], m, s, out, eps_s(int(c[1])), shift_m, step,
                (1 << room) - 1, shift, mode, *fmt_args))
        return run

    def _nb_drain(self, ins: Drain, relu: bool, bias_shift: int, monitors=(), dact=None):
        """An identity or relu drain in one numba pass straight into dst (it cannot
        fail part-way: the bounds are checked first), or None where the formats need
        the numpy kernel's checks (a pre-activation format wider than 62 bits, a
        shift out of range).  ``monitors``: (pc, range instruction) steps folded in,
        their minimum and maximum taken in the drain's pass; ``dact``: (pc, dact_relu
        of the output) folded in too (engine_fusion.dact_into_drain)."""
        drain = engine_numba.kernels().drain_packed
        no_dact = (np.empty((0, 0), dtype=np.int64), np.empty((0, 0), dtype=np.int64))
        dact_args = (0, 0, 0, 0, False, 64, True)
        if dact is not None:
            pc2, dact_ins = dact
            d2_fmt = self.table[dact_ins.dst].fmt
            shift3 = self.table[ins.dst].fmt.frac - d2_fmt.frac
            if not 0 <= shift3 <= 62 or self.table[ins.dst].fmt.width > 62:
                return None
            ib2, i2 = dact_ins.b, dact_ins.dst
            rows2, cols2 = dact_ins.rows.slice, dact_ins.cols.slice
            src2 = slice(dact_ins.src_col, dact_ins.src_col + dact_ins.cols.count)
            whole2 = self._whole(i2, rows2, cols2)
            dact_args = (shift3, engine_numba.ROUNDING_CODES[d2_fmt.rounding],
                         *_fmt_args(d2_fmt))
        Acc, d_fmt = self.table[ins.acc], self.table[ins.dst].fmt
        first = self._program.pre_format if relu else d_fmt
        shift1, shift2 = Acc.fmt.frac - first.frac, first.frac - d_fmt.frac
        if not 0 <= shift1 <= 62 or (relu and (not 0 <= shift2 <= 62 or first.width > 62)):
            return None
        codes = engine_numba.ROUNDING_CODES
        args = (shift1, codes[first.rounding], *_fmt_args(first), max(shift2, 0),
                codes[d_fmt.rounding], *_fmt_args(d_fmt))
        rows, cols = ins.rows.slice, ins.cols.slice
        src = slice(ins.src_col, ins.src_col + ins.cols.count)
        iacc, idst, ibias = ins.acc, ins.dst, ins.bias
        no_bias = np.zeros((1, ins.cols.count), dtype=np.int64)
        whole = self._whole(idst, rows, cols)
        seg = np.full(ins.rows.count, -1, dtype=np.int64)
        for k, (_, rng) in enumerate(monitors):
            start = rng.rows.start - ins.rows.start
            seg[start:start + rng.rows.count] = k
        seg_min = np.empty(max(len(monitors), 1), dtype=np.int64)
        seg_max = np.empty_like(seg_min)
        top, bottom = np.iinfo(np.int64).max, np.iinfo(np.int64).min
        no_acc = np.empty((0, 0), dtype=np.int64)
        # the last scalar, set each run: the product's |values| < 2**51 (its conversion
        # to int64 then vectorizes)
        packed = np.array((bias_shift, relu, *args, *dact_args, 0), dtype=np.int64)
        assert packed.size == engine_numba.DRAIN_SCALARS
        # operands that are strided views (a buffer's padded row stride, a slice of its
        # columns) go through contiguous copies: the kernel's loops vectorize only over
        # contiguous rows (about 5x faster).  Not when a folded dact_relu's buffers are
        # also the drain's: the kernel reads there what it wrote in the same pass.
        stage = _Staging() if dact is None or len(
            {iacc, idst, ibias, dact[1].b, dact[1].dst}) == 5 else None

        def run(product=None, product_bits: int = 0) -> bool:
            """The drain of the accumulator, or (fused with its matrix product) of
            ``product``, the exact float64 product with |values| < 2**product_bits,
            then also written to the accumulator."""
            state, bound = self.state, self.bound
            acc = state[iacc]
            if type(acc) is not np.ndarray:
                return False
            if product is None:
                z, acc_out, bz = acc[rows, src], no_acc, bound[iacc]
            else:
                z, acc_out, bz = product, acc[rows, src], product_bits
            packed[-1] = bz <= NARROW_PRODUCT_BITS
            bias = _drain_bias(state, bound, ibias, bias_shift, bz, src, no_bias)
            if bias is None:
                return False
            if dact is None:
                tail = no_dact
            else:
                b2 = state[ib2]
                if type(b2) is not np.ndarray or type(state[i2]) is not np.ndarray:
                    return False
                tail = (b2[rows2, src2], state[i2][rows2, cols2])
            if monitors:
                seg_min.fill(top)
                seg_max.fill(bottom)
            out = state[idst][rows, cols]
            if stage is None:
                count, lo, hi, count2, lo2, hi2 = drain(
                    z, acc_out, bias, out, seg, seg_min, seg_max, *tail, packed)
            else:
                if acc_out.size and not acc_out.flags.c_contiguous:
                    # the accumulator straight from the exact product (one pass, not
                    # the kernel's into a copy and the copy's)
                    np.copyto(acc_out, z, casting="unsafe")
                    acc_out = no_acc
                outputs = (acc_out, out, tail[1])
                count, lo, hi, count2, lo2, hi2 = drain(
                    stage.read(0, z), stage.write(1, acc_out), stage.read(2, bias),
                    stage.write(3, out), seg, seg_min, seg_max, stage.read(4, tail[0]),
                    stage.write(5, tail[1]), packed)
                stage.back(outputs)
            self._count(int(count), idst)
            self._written(idst, whole, K.bits_of(hi, lo))
            if dact is not None:
                pc_drain, self._pc = self._pc, pc2
                self._count(int(count2), i2)
                self._written(i2, whole2, K.bits_of(hi2, lo2))
                self._pc = pc_drain
            for k, (pc, rng) in enumerate(monitors):
                current = state[rng.dst]
                low = min(int(current[0, 0]), int(seg_min[k]))
                high = max(int(current[0, 1]), int(seg_max[k]))
                current[0, 0], current[0, 1] = low, high
                self._written(rng.dst, True, K.bits_of(max(low, high), min(low, high)))
            return True
        return run

    def _nb_drain_tanh(self, ins: Drain, bias_shift: int):
        """A tanh drain in one numba pass straight into dst (golden.tanh_fixed between
        the requantisation to the pre-activation format and the one to dst's), or None
        where the shifts leave the range in which every intermediate fits int64 (the
        table's numerator below 2**61): the numpy path then."""
        drain_tanh = engine_numba.kernels().drain_tanh
        pre, d_fmt = self._program.pre_format, self.table[ins.dst].fmt
        shift1 = self.table[ins.acc].fmt.frac - pre.frac
        seg = pre.frac - TANH_SEGMENT_FRAC
        if seg < 0:          # the table's segments finer than pre: clamp, shift left
            clamp, end, left, seg = 1, 1 << max(TANH_RANGE_BITS + pre.frac, 0), -seg, 0
        else:
            clamp, end, left = 0, 0, 0
        num_frac = TANH_TABLE_FRAC + seg
        shift2 = num_frac - d_fmt.frac
        if not (0 <= shift1 <= 62 and pre.width <= 62 and num_frac + 1 <= 62 and
                0 <= shift2 <= 62 and left <= 30):
            return None
        codes = engine_numba.ROUNDING_CODES
        packed = np.array((bias_shift, shift1, codes[pre.rounding], *_fmt_args(pre), clamp,
                           end, left, seg, 1 << num_frac, shift2, codes[d_fmt.rounding],
                           *_fmt_args(d_fmt)), dtype=np.int64)
        rows, cols = ins.rows.slice, ins.cols.slice
        src = slice(ins.src_col, ins.src_col + ins.cols.count)
        iacc, idst, ibias = ins.acc, ins.dst, ins.bias
        no_bias = np.zeros((1, ins.cols.count), dtype=np.int64)
        whole = self._whole(idst, rows, cols)

        def run() -> bool:
            state, bound = self.state, self.bound
            acc = state[iacc]
            if type(acc) is not np.ndarray:
                return False
            bz = bound[iacc]
            bias = _drain_bias(state, bound, ibias, bias_shift, bz, src, no_bias)
            if bias is None:
                return False
            count, lo, hi = drain_tanh(acc[rows, src], bias, state[idst][rows, cols],
                                       TANH_TABLE, packed)
            self._count(int(count), idst)
            self._written(idst, whole, K.bits_of(hi, lo))
            return True
        return run

    def _nb_dact_relu(self, ins: Vector, a_part, b_part, shift: int):
        dact_relu = engine_numba.kernels().dact_relu
        (ia, ra, ca), (ib, rb, cb) = a_part, b_part
        shape = (ins.rows.count, ins.cols.count)
        out = np.empty(shape, dtype=np.int64)
        d_fmt = self.table[ins.dst].fmt
        args = (shift, engine_numba.ROUNDING_CODES[d_fmt.rounding], *_fmt_args(d_fmt))
        broadcast = _broadcast(ra, ca, shape) or _broadcast(rb, cb, shape)

        def run() -> bool:
            if self.bound[ia] > 62:
                return False
            a, b = self.state[ia][ra, ca], self.state[ib][rb, cb]
            if broadcast:
                a, b = np.broadcast_to(a, shape), np.broadcast_to(b, shape)
            return self._nb_store(ins, out, dact_relu(a, b, out, *args))
        return run

    # fused groups (engine_fusion): one pass for several steps

    def _fuse_mm_drain(self, parts):
        """A matrix product, its drain and the drain's range monitors: one BLAS call
        into float64 scratch, then the numba drain reads it there and writes the
        accumulator as it goes (one pass instead of a copy and a drain).  Beyond one
        exact BLAS call, or for a drain without a numba kernel, the steps alone."""
        (pm, _, mm), (pd, _, dr) = parts[0], parts[1]
        monitors, dact = _tail(parts[2:])
        table = self.table
        A, B, D = table[mm.a], table[mm.b], table[mm.dst]
        act = isa.ACTIVATIONS[dr.act]
        if act not in ("identity", "relu") or dr.dst in (dr.acc, dr.bias) or \
                (isa.MODES[mm.mode] == "fxp16" and not A.fmt.width <= 16) or \
                D.fmt.frac != A.fmt.frac + B.fmt.frac:
            return None
        bias_shift = 0
        if dr.bias != NO_BUFFER:
            bias_shift = D.fmt.frac - table[dr.bias].fmt.frac
            if bias_shift < 0:
                return None
        drain = self._nb_drain(dr, act == "relu", bias_shift, monitors, dact)
        if drain is None:
            return None
        ia, ib, idst, ta, tb = mm.a, mm.b, mm.dst, mm.ta, mm.tb
        ms, ns, ks = mm.m.slice, mm.n.slice, mm.k.slice
        kb = math.ceil(math.log2(mm.k.count)) if mm.k.count > 1 else 0
        acc_bits, whole = D.acc_bits, self._whole(idst, ms, ns)
        scratch = np.empty((mm.m.count, mm.n.count), np.float64)
        views = [None, None, None, None]     # the mirrors and their operand views

        def alone() -> bool:
            return self._run_alone(parts, pm)

        def run() -> bool:
            state, bound = self.state, self.bound
            for i in (ia, ib, idst):
                if type(state[i]) is not np.ndarray:
                    return alone()
            total = max(bound[ia], 1) + max(bound[ib], 1) + kb
            if total > FLOAT64_EXACT_BITS or total >= acc_bits:
                return alone()
            fa, fb = self._float(ia), self._float(ib)
            if views[0] is not fa or views[1] is not fb:     # a plan's mirrors stay
                views[:] = fa, fb, (fa.T if ta else fa)[ms, ks], (fb.T if tb else fb)[ks, ns]
            np.matmul(views[2], views[3], out=scratch)
            self._pc = pd
            if drain(scratch, total):
                self._written(idst, whole, total)
            else:                            # the drain's bounds: the product stands
                np.copyto(state[idst][ms, ns], scratch, casting="unsafe")
                self._written(idst, whole, total)
                for part in parts[1:]:
                    self._run_part(*part)
            self._pc = pm
            return True
        return run

    def _fuse_ksplit(self, parts):
        """Two K-split pieces of a product, their acc_add and the drain of the sum (and
        its monitors): both pieces by BLAS into float64 scratch, the second piece's
        accumulator written from it, the exact sum (below 2**53) drained by numba
        straight into the first's.  Beyond that, the steps alone."""
        (p0, _, mm0), (p1, _, mm1), (pa, _, add), (pd, _, dr) = parts[:4]
        monitors, dact = _tail(parts[4:])
        table = self.table
        A, B, D0, D1 = table[mm0.a], table[mm0.b], table[mm0.dst], table[mm1.dst]
        act = isa.ACTIVATIONS[dr.act]
        if act not in ("identity", "relu") or dr.dst in (dr.acc, dr.bias) or \
                (isa.MODES[mm0.mode] == "fxp16" and not A.fmt.width <= 16) or \
                not D0.fmt.frac == D1.fmt.frac == A.fmt.frac + B.fmt.frac:
            return None
        bias_shift = 0
        if dr.bias != NO_BUFFER:
            bias_shift = D0.fmt.frac - table[dr.bias].fmt.frac
            if bias_shift < 0:
                return None
        drain = self._nb_drain(dr, act == "relu", bias_shift, monitors, dact)
        if drain is None:
            return None
        ia, ib, i0, i1, ta, tb = mm0.a, mm0.b, mm0.dst, mm1.dst, mm0.ta, mm0.tb
        ms, ns, k0, k1 = mm0.m.slice, mm0.n.slice, mm0.k.slice, mm1.k.slice
        kb = max(math.ceil(math.log2(mm.k.count)) if mm.k.count > 1 else 0
                 for mm in (mm0, mm1))
        acc_bits = min(D0.acc_bits, D1.acc_bits)
        whole0, whole1 = self._whole(i0, ms, ns), self._whole(i1, ms, ns)
        shape = (mm0.m.count, mm0.n.count)
        first, second = np.empty(shape, np.float64), np.empty(shape, np.float64)
        views = [None] * 6                   # the mirrors and their operand views

        def alone() -> bool:
            return self._run_alone(parts, p0)

        def run() -> bool:
            state, bound = self.state, self.bound
            for i in (ia, ib, i0, i1):
                if type(state[i]) is not np.ndarray:
                    return alone()
            total = max(bound[ia], 1) + max(bound[ib], 1) + kb
            if total + 1 > FLOAT64_EXACT_BITS or total + 1 >= acc_bits:
                return alone()
            fa, fb = self._float(ia), self._float(ib)
            if views[0] is not fa or views[1] is not fb:     # a plan's mirrors stay
                lhs, rhs = (fa.T if ta else fa)[ms], (fb.T if tb else fb)[:, ns]
                views[:] = fa, fb, lhs[:, k0], rhs[k0], lhs[:, k1], rhs[k1]
            np.matmul(views[2], views[3], out=first)
            np.matmul(views[4], views[5], out=second)
            np.copyto(state[i1][ms, ns], second, casting="unsafe")
            self._written(i1, whole1, total)
            np.add(first, second, out=first)             # exact: below 2**53
            self._pc = pd
            if drain(first, total + 1):
                self._written(i0, whole0, total + 1)
            else:                            # the drain's bounds: the sum stands
                np.copyto(state[i0][ms, ns], first, casting="unsafe")
                self._written(i0, whole0, total + 1)
                for part in parts[3:]:
                    self._run_part(*part)
            self._pc = p0
            return True
        return run

    def _fuse_ranges(self, parts):
        """Range monitors of one buffer over disjoint rows in one numba pass."""
        ranges = engine_numba.kernels().ranges
        first = parts[0][2]
        A = self.table[first.a]
        rows = slice(min(p[2].rows.start for p in parts),
                     max(p[2].rows.start + p[2].rows.count for p in parts))
        seg = np.full(rows.stop - rows.start, -1, dtype=np.int64)
        for k, (_, _, rng) in enumerate(parts):
            start = rng.rows.start - rows.start
            seg[start:start + rng.rows.count] = k
        cols, ia = first.cols.slice, first.a
        monitors = [rng.dst for _, _, rng in parts]
        seg_min = np.empty(len(parts), dtype=np.int64)
        seg_max = np.empty_like(seg_min)
        for _, _, rng in parts:
            if self.table[rng.dst].fmt != A.fmt:
                return None

        def run() -> bool:
            state = self.state
            a = state[ia]
            for i in monitors:
                if type(state[i]) is not np.ndarray:
                    a = None
            if type(a) is not np.ndarray:
                return self._run_alone(parts, parts[0][0])
            for k, i in enumerate(monitors):
                seg_min[k], seg_max[k] = state[i][0, 0], state[i][0, 1]
            ranges(a[rows, cols], seg, seg_min, seg_max)
            for k, i in enumerate(monitors):
                low, high = int(seg_min[k]), int(seg_max[k])
                state[i][0, 0], state[i][0, 1] = low, high
                self._written(i, True, K.bits_of(max(low, high), min(low, high)))
            return True
        return run

    def _fuse_drain_range(self, parts):
        """A drain and the range monitors of its output in the drain's numba pass
        (identity and relu drains; others keep their steps)."""
        (_, _, ins), (monitors, dact) = parts[0], _tail(parts[1:])
        act = isa.ACTIVATIONS[ins.act]
        Acc = self.table[ins.acc]
        if act not in ("identity", "relu") or ins.dst in (ins.acc, ins.bias):
            return None
        bias_shift = 0
        if ins.bias != NO_BUFFER:
            bias_shift = Acc.fmt.frac - self.table[ins.bias].fmt.frac
            if bias_shift < 0:
                return None
        fast = self._nb_drain(ins, act == "relu", bias_shift, monitors, dact)
        if fast is None:
            return None

        def run() -> bool:
            if fast():
                return True
            # the drain's own path, then the monitors
            return self._run_alone(parts, parts[0][0])
        return run

    def _int_refused(self, iw: int, it, soft, alone) -> bool:
        """The fused Adam pass beyond the int64 kernel's bounds: the steps alone.  A
        float64 pass may have written the mirrors with values the state does not hold,
        so they are marked stale."""
        for i in (iw, it) if soft is not None else (iw,):
            mirror = self._mirrors.get(i)
            if mirror is not None:
                mirror.key = mirror.carry = None
        return alone()

    def _fuse_adam(self, parts):
        """adam_m, adam_s and adam_w of one parameter (and the soft update of its
        target, moved here by :func:`~fixar_gen.engine_fusion.soft_into_adam`) in one
        numba pass into scratch, which then becomes the buffers' storage (the old arrays
        become the scratch); beyond the kernel's bounds, the steps alone, from the
        untouched state."""
        (pm, _, m_ins), (ps, _, s_ins), (pw, _, w_ins) = parts[:3]
        soft = parts[3] if len(parts) > 3 else None
        table = self.table
        ig, im, is_, iw = m_ins.a, m_ins.dst, s_ins.dst, w_ins.dst
        m_fmt, s_fmt, w_fmt = table[im].fmt, table[is_].fmt, table[iw].fmt
        m_round = ops.VECTOR[m_ins.fn].result_format(m_fmt)        # adam_m's own rounding
        g_fmt, ic_m, ic_s, ic_w = table[ig].fmt, m_ins.c, s_ins.c, w_ins.c
        m_constants = self._adam_m_constants(m_ins)
        fc_s, c_fmt = table[ic_s].fmt.frac, table[ic_w].fmt
        shift_m = RATIO_FRAC + s_fmt.frac - m_fmt.frac
        top = max(w_fmt.frac, RATIO_FRAC + c_fmt.frac)
        alpha_shift, shift_w = top - RATIO_FRAC - c_fmt.frac, top - w_fmt.frac
        if m_constants is None or g_fmt.frac != s_fmt.frac or not 0 <= fc_s <= 62 or \
                not 0 <= shift_m <= 61 or alpha_shift < 0 or not 0 <= shift_w <= 62 or \
                s_fmt.width > 61:
            return None
        adam = engine_numba.kernels().adam_packed
        adam_float = engine_numba.kernels().adam_float
        float_scalars: dict = {}            # engine_float.adam_scalars by its inputs
        #                                     (the step's two set each run)
        eps_s = _eps_in(c_fmt, s_fmt)
        # the parameter's logical columns (its buffer, and its target's, may be wider: a
        # weight's padded row stride, which the kernel steps over); the others are
        # whole buffers of that shape
        n = w_ins.cols.count
        shape = (table[iw].rows, n)
        ws = table[iw].cols
        if soft is not None and table[soft[2].dst].cols != ws:
            return None
        padded = ws != n
        scratch = [np.empty(shape if k < 2 else (shape[0], ws), dtype=np.int64)
                   for k in range(4 if soft else 3)]
        flat = [a.reshape(-1) for a in scratch]     # follows scratch through the swaps
        codes = engine_numba.ROUNDING_CODES
        m_args = (codes[m_round.rounding], *_fmt_args(m_fmt))
        s_args = (codes[s_fmt.rounding], *_fmt_args(s_fmt))
        w_args = (codes[w_fmt.rounding], *_fmt_args(w_fmt))
        no_soft = np.empty(0, dtype=np.int64)
        no_float = np.empty(0, dtype=np.float64)
        # the weight and the target get their new float64 mirrors from the pass when
        # this plan reads them as matrix operands (no conversion before the next product)
        mirror_w = iw in self._operands
        mirror_t = soft is not None and soft[2].dst in self._operands
        # what the float64 pass writes the new w and t into where no mirror is kept
        # (it writes them always)
        unkept = no_float if mirror_w and (mirror_t or soft is None) else \
            np.empty(shape[0] * ws, dtype=np.float64)
        it = None
        if soft is not None:
            pt, _, t_ins = soft
            it, ic_t, t_fmt = t_ins.dst, t_ins.c, table[t_ins.dst].fmt
            t_constants = self._soft_constants(t_ins)
            if t_constants is None:
                return None
            t_args = (codes[t_fmt.rounding], *_fmt_args(t_fmt))
            # |new w| < 2**w_bits: the weight's format bounds it (fitted), so the
            # split is known before the pass
            w_bits = w_fmt.width + (not w_fmt.signed)
        # the kernel's scalars (engine_numba.ADAM_SCALARS, in adam's order): the
        # formats' fixed, the rest (the blends' splits, eps, the step) set each run
        packed = np.zeros(engine_numba.ADAM_SCALARS, dtype=np.int64)
        packed[6:12], packed[17], packed[18:24] = m_args, fc_s, s_args
        packed[25], packed[28], packed[29:35] = shift_m, shift_w, w_args
        packed[35] = soft is not None
        packed[42:48] = t_args if soft is not None else (0, 0, 0, False, 64, True)
        packed[48:50] = n, ws
        variable = np.array([*range(6), *range(12, 17), 24, 26, 27, *range(36, 42),
                             50, 51, 52])

        def alone() -> bool:
            return self._run_alone(parts, pm)

        def run() -> bool:
            state, bound = self.state, self.bound
            for i in (ig, im, is_, iw):
                if type(state[i]) is not np.ndarray:
                    return alone()
            bg, bs, bm, bw = bound[ig], bound[is_], bound[im], bound[iw]
            c1, c2, frac = m_constants(state[ic_m].ravel()[:2].tolist())
            m_shift = frac - m_fmt.frac
            beta = int(state[ic_s][0, 0])
            c = state[ic_w].ravel()[:2].tolist()
            step = -(c[0] << alpha_shift)
            room = 61 - step.bit_length()
            eps = eps_s(c[1])
            if soft is None:
                target, t_constants_now = no_soft, None
            else:
                if type(state[it]) is not np.ndarray:
                    return alone()
                t1, t2, t_frac = t_constants(state[ic_t].ravel()[:2].tolist())
                target, t_constants_now = state[it].reshape(-1), (t1, t2, t_frac - t_fmt.frac)
            # the mirrors made valid first (their padding words are carried over)
            wf = self._float(iw).reshape(-1) if mirror_w else no_float
            tf = self._float(it).reshape(-1) if mirror_t else no_float
            operands = (state[ig].reshape(-1), state[im].reshape(-1),
                        state[is_].reshape(-1), state[iw].reshape(-1), target, *flat[:3],
                        flat[3] if soft is not None else no_soft)
            got = None
            if self.float_adam:             # float64 where exact (engine_float)
                t_float = None if soft is None else \
                    (bound[it], t1, w_bits, t2, t_constants_now[2], t_args[:4])
                key = (bm, bg, bs, bw, c1, c2, beta, eps, t_float)
                fp = float_scalars.get(key, False)
                if fp is False:
                    if len(float_scalars) > 256:
                        float_scalars.clear()
                    fp = float_scalars[key] = EF.adam_scalars(
                        (bm, c1, bg, c2, m_shift, m_args[:4]),
                        (bs, bg, beta, fc_s, s_args[:4]),
                        (bw, eps, shift_m, shift_w, w_args[:4]), t_float, n, ws)
                if fp is not None:
                    fp = EF.with_step(fp, step, room)
                if fp is not None:
                    self.float_passes += 1
                    got = adam_float(*operands, wf if mirror_w else unkept,
                                     tf if mirror_t else unkept, fp)
                    if not got[-1]:
                        self.float_failures += 1
                        got = None
            if got is None:                 # the int64 pass, within its own bounds
                m_parts = K.split(bm, c1, bg, c2, m_shift) if 0 <= m_shift <= 62 else None
                v_parts = K.v_limbs(bs, s_fmt, bg, g_fmt, beta, fc_s)
                if m_parts is None or v_parts is None or room < 0 or bw > 61 or \
                        eps >= 1 << 61:
                    return self._int_refused(iw, it, soft, alone)
                if soft is None:
                    t_parts = (0, 0, 0, 0, 0, 0, 0, 0, 0, False, 64, True)
                else:
                    t1, t2, t_shift = t_constants_now
                    split = K.split(bound[it], t1, w_bits, t2, t_shift) \
                        if 0 <= t_shift <= 62 else None
                    if split is None:
                        return self._int_refused(iw, it, soft, alone)
                    t_parts = (*split, t_shift, *t_args)
                v1h, v1m, v1l, v2h, v2m, v2l, v_s, v_s2 = v_parts
                packed[variable] = (*m_parts, m_shift, v1h, v1l, v2h, v2l, v_s, eps, step,
                                    (1 << room) - 1, *t_parts[:6], v1m, v2m, v_s2)
                got = adam(*operands, wf, tf, packed)
            cm, lo_m, hi_m, cs, lo_s, hi_s, cw, lo_w, hi_w, ct, lo_t, hi_t, ok = got
            if not ok:
                return self._int_refused(iw, it, soft, alone)
            results = [(im, pm, cm, lo_m, hi_m), (is_, ps, cs, lo_s, hi_s),
                       (iw, pw, cw, lo_w, hi_w)]
            if soft is not None:
                results.append((it, pt, ct, lo_t, hi_t))
            stamp = self.stamp
            for k, (i, pc, count, lo, hi) in enumerate(results):
                bits = max(int(hi).bit_length(), (-int(lo)).bit_length())
                if padded and i in (iw, it):
                    # the padding keeps its words (the kernel wrote the logical columns)
                    scratch[k][:, n:] = state[i][:, n:]
                    bound[i] = max(bound[i], bits)
                else:
                    bound[i] = bits
                state[i], scratch[k] = scratch[k], state[i]
                flat[k] = scratch[k].reshape(-1)
                if count:
                    self._pc = pc
                    self._count(int(count), i)
                stamp[i] += 1
            runs = self._runs
            if mirror_w:
                self._mirrors[iw].key = (runs, stamp[iw])
            if mirror_t:
                self._mirrors[it].key = (runs, stamp[it])
            self._pc = pm
            return True
        return run


def _kind(instr) -> str:
    if isinstance(instr, Fused):
        return f"{instr.kind} (fused)"
    if isinstance(instr, Vector):
        return isa.VECTOR_FUNCTIONS[instr.fn]
    return instr.MNEMONIC


def _tail(parts) -> tuple[list, tuple | None]:
    """The range monitors, as (pc, instruction), and the folded dact_relu (or None) at
    the end of a drain group."""
    monitors, dact = [], None
    for pc, _, ins in parts:
        if isa.VECTOR_FUNCTIONS[ins.fn] == "dact_relu":
            dact = (pc, ins)
        else:
            monitors.append((pc, ins))
    return monitors, dact


def _getter(names: list):
    """A function from a dict to the tuple of its entries for ``names``."""
    if len(names) > 1:
        return operator.itemgetter(*names)
    return lambda table: tuple(table[name] for name in names)


def _broadcast(rows: slice, cols: slice, shape: tuple) -> bool:
    """Whether an operand's slices are narrower than the region (one row or column)."""
    return (rows.stop - rows.start, cols.stop - cols.start) != shape


def _eps_in(c_fmt: FixedFormat, s_fmt: FixedFormat):
    """eps (raw, in the constants' format) rounded to s's fraction bits, at least one
    LSB (the interpreter's adam_w), cached by value."""
    cache: dict[int, int] = {}

    def eps_s(eps: int) -> int:
        if eps not in cache:
            cache[eps] = max(int(X.to_format(np.array([eps], dtype=np.int64), c_fmt.frac,
                                             FixedFormat(64, s_fmt.frac))[0][0]), 1)
        return cache[eps]
    return eps_s


class _Staging:
    """Contiguous stand-ins for a kernel's strided operands (numba compiles a loop over
    a strided view with its strides unknown, and LLVM does not vectorize it): an input
    view is copied in, an output written there and copied out.  Operands by position;
    contiguous ones pass as they are."""

    def __init__(self):
        self.copies: dict[int, np.ndarray] = {}
        self.pending: list[int] = []

    def _copy(self, k: int, view: np.ndarray) -> np.ndarray:
        copy = self.copies.get(k)
        if copy is None or copy.shape != view.shape or copy.dtype != view.dtype:
            copy = self.copies[k] = np.empty(view.shape, view.dtype)
        return copy

    def read(self, k: int, view: np.ndarray) -> np.ndarray:
        if view.flags.c_contiguous:
            return view
        copy = self._copy(k, view)
        np.copyto(copy, view)
        return copy

    def write(self, k: int, view: np.ndarray) -> np.ndarray:
        if view.flags.c_contiguous:
            return view
        self.pending.append(k)
        return self._copy(k, view)

    def back(self, views) -> None:
        """The outputs' copies into their views (``views`` in the order of the
        write positions 1, 3, 5, ...)."""
        for k in self.pending:
            np.copyto(views[k // 2], self.copies[k])
        self.pending.clear()


def _drain_bias(state, bound, ibias: int, bias_shift: int, bz: int, src: slice,
                no_bias: np.ndarray):
    """The bias operand of a drain kernel (``no_bias`` without one), or None when the
    accumulator's bound ``bz`` and the shifted bias's do not leave the int64 kernels
    exact (the caller falls back to the interpreter)."""
    if ibias != NO_BUFFER:
        if max(bz, bound[ibias] + bias_shift) > 61:
            return None
        return state[ibias][:, src]
    return None if bz > 62 else no_bias


def _fmt_args(fmt: FixedFormat) -> tuple:
    return (fmt.min_int, fmt.max_int, fmt.overflow == "saturate", fmt.width, fmt.signed)


def _exact_product(lhs: np.ndarray, ba: int, rhs: np.ndarray, bb: int, kb: int):
    """lhs @ rhs exactly in int64 (|lhs| < 2**ba, |rhs| < 2**bb, K <= 2**kb, and
    ba + bb + kb <= 62), through float64 BLAS; None beyond MAX_LIMBS limbs."""
    if ba + bb + kb <= FLOAT64_EXACT_BITS:
        return np.matmul(lhs.astype(np.float64), rhs.astype(np.float64)).astype(np.int64)
    split_rhs = bb >= ba
    big, small_bits, big_bits = (rhs, ba, bb) if split_rhs else (lhs, bb, ba)
    small = (lhs if split_rhs else rhs).astype(np.float64)
    low = FLOAT64_EXACT_BITS - kb - small_bits     # bits of each lower limb
    if low < 2:
        return None
    limbs = 2
    while big_bits - low * (limbs - 1) + 1 > low:  # the top limb's bits (floor shift)
        limbs += 1
        if limbs > MAX_LIMBS:
            return None
    out = None
    mask = np.int64((1 << low) - 1)
    for i in range(limbs):
        part = big >> np.int64(low * i)
        if i < limbs - 1:
            part = part & mask
        part = part.astype(np.float64)
        p = (np.matmul(small, part) if split_rhs else np.matmul(part, small)).astype(np.int64)
        if i:
            p <<= np.int64(low * i)
            out += p
        else:
            out = p
    return out


def _interleaved_merged(code: list, step_of: dict) -> list:
    """Merge ``mm0 drain0 mm1 drain1`` (per-core pieces of a layer, each matrix product
    followed by its drain) into ``mm drain``.  Legal when each drain reads only the rows
    its own product wrote and writes nothing the products read."""
    out: list = []
    i = 0
    while i < len(code):
        if len(out) >= 2 and i + 1 < len(code):
            (p0, x0), (q0, y0) = out[-2], out[-1]
            (p1, x1), (q1, y1) = code[i], code[i + 1]
            if _swappable(x0, y0) and _swappable(x1, y1):
                mx, my = _merge(x0, x1), _merge(y0, y1)
                if mx is not None and my is not None and isinstance(mx, MatMul) \
                        and mx.m.count == my.rows.count and mx.m.start == my.rows.start:
                    out[-2], out[-1] = (p0, mx), (q0, my)
                    step_of[p1], step_of[q1] = p0, q0
                    for pc, head in list(step_of.items()):
                        if head in (p1, q1):
                            step_of[pc] = p0 if head == p1 else q0
                    i += 2
                    continue
        out.append(code[i])
        i += 1
    return out


def _swappable(x, y) -> bool:
    return (isinstance(x, MatMul) and isinstance(y, Drain) and y.acc == x.dst
            and y.dst not in (x.a, x.b, x.dst) and x.dst not in (y.bias, y.slope)
            and x.m == y.rows)


__all__ = ["EngineMachine", "ENGINES"]
