"""Random programs for verifying a generated core against the golden model.

:func:`programs` (a hypothesis strategy, re-exported by :mod:`fixar_gen.testing`)
draws small programs for a spec's hardware: a buffer table with random fixed-point
formats, shapes that are not multiples of the array and data operands of every kind
that lives in a memory the unit reaches (activations, parameters, gradients, optimizer
state: :mod:`fixar_gen.memory_access`, which every drawn program obeys), one to a few instructions
(``mm`` in both modes, transposed or not, accumulating or not; ``drain`` with every
activation; ``vec`` with every function; ``load``/``store``), each optionally split
over the cores with a barrier after it, and random initial contents that hit the
formats' extremes.  Hypothesis shrinks a failing program to few, small instructions.

Needs hypothesis (the ``verify`` extra).  A drawn :class:`fixar_gen.cases.Case` is run
and compared by :func:`fixar_gen.cases.compare`.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from . import isa, ops
from .cases import Case, golden_run
from .arch import PRNG_LANES
from .isa import (ACTIVATIONS, Barrier, Buffer, Drain, Halt, Load, MatMul, Program, Range,
                  Slot, Store, Vector)
from .numerics import FixedFormat
from .ops import PRNG
from .memory_access import access_problems, acc_half_problems
from .compiler import activation_cols
from .memory_kinds import (SECOND_STATE_SUFFIX, accumulator_half_line, accumulator_stride,
                           weight_stride)
from .spec import Spec

#: a data operand's kinds (:meth:`_Builder.data_kind`), activations the likeliest;
#: ``SECOND_STATE`` is an optimizer state named for ``vmem``
SECOND_STATE = "state.s"
DATA_KINDS = ("data", "data", "param", "grad", "state", SECOND_STATE)



class _Builder:
    def __init__(self, draw, spec: Spec, functions=isa.VECTOR_FUNCTIONS,
                 activations=tuple(range(len(ACTIVATIONS)))):
        self.draw = draw
        self.functions = tuple(functions)
        self.activations = tuple(activations)
        self.spec = spec
        self.buffers: list[Buffer] = []
        self.initial: dict[str, np.ndarray] = {}
        self.slots: list[Slot] = []
        self.host: dict[str, np.ndarray] = {}
        self.code: list = []
        rows, cols = spec.hardware.array
        self.max_dim = 2 * max(rows, cols, spec.hardware.lanes) + 1
        self.cores = spec.hardware.cores
        self.acc_half = accumulator_half_line(cols, spec.hardware.lanes)
        self.rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    # -- formats and values -------------------------------------------------------

    def fmt(self, max_width: int = 32, signed: bool = True, min_width: int = 2
            ) -> FixedFormat:
        n = self.spec.numerics
        choices = [n.weight_format, n.activation_format, n.gradient_format]
        if self.draw(st.booleans()):
            fmt = self.draw(st.sampled_from(choices))
            if fmt.width <= max_width:
                return fmt
        width = self.draw(st.integers(min_width, max_width))
        frac = self.draw(st.integers(0, width - 1))
        return FixedFormat(width, frac, signed=signed,
                           rounding=self.draw(st.sampled_from(
                               ("nearest_even", "nearest_up", "truncate"))),
                           overflow=self.draw(st.sampled_from(("saturate", "wrap"))))

    def values(self, fmt: FixedFormat, shape, low=None, high=None) -> np.ndarray:
        lo = fmt.min_int if low is None else max(low, fmt.min_int)
        hi = fmt.max_int if high is None else min(high, fmt.max_int)
        kind = self.draw(st.sampled_from(("small", "full", "extremes")))
        if kind == "small":
            span = max(1, (hi - lo) >> max(fmt.width - 12, 0))
            centre = max(lo, min(0, hi))
            out = self.rng.integers(max(lo, centre - span // 2), min(hi, centre + span // 2) + 1,
                                    size=shape, dtype=np.int64)
        else:
            out = np.array([int(self.rng.integers(0, 2**62)) % (hi - lo + 1) + lo
                            for _ in range(int(np.prod(shape)))],
                           dtype=np.int64).reshape(shape)
        if kind == "extremes":
            mask = self.rng.random(shape) < 0.3
            out = np.where(mask, self.rng.choice([lo, hi, 0 if lo <= 0 <= hi else lo],
                                                 size=shape), out)
        return out

    def data_kind(self, kinds=DATA_KINDS) -> str:
        """The kind of a data operand: where it lives (activations, parameters,
        gradients, the optimizer's first or second state: ``amem``, ``wmem``, ``gmem``,
        ``mmem``, ``vmem``), so that every memory a unit reaches is exercised."""
        return self.draw(st.sampled_from(kinds))

    def buffer(self, rows: int, cols: int, fmt: FixedFormat, kind: str = "data",
               acc_bits: int = 0, values=None) -> int:
        name = f"b{len(self.buffers)}"
        if kind == SECOND_STATE:
            kind, name = "state", name + SECOND_STATE_SUFFIX
        self.buffers.append(Buffer(name, rows, cols, fmt, kind, acc_bits))
        if values is None:
            if kind == "acc":
                limit = 1 << min(acc_bits - 1, 62)
                values = self.values(FixedFormat(64, fmt.frac), (rows, cols),
                                     -limit, limit - 1)
            else:
                values = self.values(fmt, (rows, cols))
        self.initial[name] = np.asarray(values, dtype=np.int64).reshape(rows, cols)
        return len(self.buffers) - 1

    def dim(self) -> int:
        return self.draw(st.integers(1, self.max_dim))

    def region(self, count: int) -> tuple[int, Range]:
        """A buffer extent and a range of ``count`` inside it."""
        start = self.draw(st.integers(0, 2))
        return start + count + self.draw(st.integers(0, 1)), Range(start, count)

    # -- instructions ---------------------------------------------------------------

    def emit(self, ins, split: str | None) -> None:
        """``ins`` on one core, or split over the cores along ``split``, then a barrier."""
        cores = self.cores
        if split is None or cores == 1 or not self.draw(st.booleans()):
            self.code.append(dataclasses.replace(ins, core=self.draw(
                st.integers(0, cores - 1))))
        else:
            whole: Range = getattr(ins, split)
            used = 0
            for c in range(cores):
                count = whole.count // cores + (c < whole.count % cores)
                if count == 0:
                    continue
                piece = Range(whole.start + used, count)
                extra = {}
                if split == "cols" and hasattr(ins, "src_col"):
                    extra["src_col"] = ins.src_col + used
                if split == "cols" and hasattr(ins, "dst_col"):
                    extra["dst_col"] = ins.dst_col + used
                self.code.append(dataclasses.replace(ins, core=c, **{split: piece}, **extra))
                used += count
        if cores > 1:
            mask = (1 << cores) - 1
            self.code.extend(Barrier(core=c, mask=mask) for c in range(cores))

    def matmul(self) -> None:
        pe_half = max(self.spec.numerics.activation.width, self.spec.numerics.gradient.width)
        pe_half = -(-pe_half // 2)
        weight = max(self.spec.numerics.weight.width, self.spec.numerics.gradient.width)
        mode = self.draw(st.integers(0, 1))
        fa = self.fmt(max_width=pe_half if mode else 2 * pe_half)
        fb = self.fmt(max_width=weight)
        fa = dataclasses.replace(fa, signed=True)
        fb = dataclasses.replace(fb, signed=True)
        m, n, k = self.dim(), self.dim(), self.dim()
        ta, tb = self.draw(st.integers(0, 1)), self.draw(st.integers(0, 1))
        a_rows, m_range = self.region(m)
        a_cols, k_range = self.region(k)
        b_cols, n_range = self.region(n)
        b_rows, k2 = a_cols, k_range
        # a from amem, or (FXP32, not transposed: a plain line) a delta in gmem; b a
        # weight in wmem or a delta's rows in gmem (fixar_gen.memory_access)
        a_kind = "data" if mode or ta else self.data_kind(("data", "delta"))
        a_shape = (a_cols, a_rows) if ta else (a_rows, a_cols)
        if a_kind == "data":
            # an activation's row stride padded (fixar_gen.memory_access): its line,
            # FXP16's row pair, its column and FXP16's column pair in distinct banks of
            # amem's 4P
            a_shape = (a_shape[0], activation_cols(self.spec, a_shape[1]))
        a = self.buffer(*a_shape, fa, a_kind)
        # (not both in gmem: one line port serves the matrix unit)
        b_kind = "param" if a_kind == "delta" else self.data_kind(("delta", "param"))
        if b_kind == "delta":
            tb = 0
        # a matrix read transposed from wmem has its row stride padded to an odd number
        # of words (fixar_gen.memory_access): its column is one strided line
        b_stride = weight_stride(b_rows, 2 * self.acc_half) \
            if tb and b_kind == "param" else b_rows
        b = self.buffer(*((b_cols, b_stride) if tb else (b_rows, b_cols)), fb, b_kind)
        acc_bits = self.spec.numerics.accumulator_width
        # an FXP16 product's accumulator has its rows m and m + 1 in the two halves of
        # cmem's banks (fixar_gen.memory_access): its row stride padded
        d_cols = accumulator_stride(b_cols, self.acc_half) if mode else b_cols
        dst = self.buffer(a_rows, d_cols, FixedFormat(64, fa.frac + fb.frac), "acc", acc_bits)
        ins = MatMul(dst=dst, a=a, b=b, ta=ta, tb=tb, mode=mode,
                     accumulate=self.draw(st.integers(0, 1)), m=m_range, n=n_range, k=k2)
        self.emit(ins, self.draw(st.sampled_from(("m", "n"))))

    def drain(self) -> None:
        rows, cols = self.dim(), self.dim()
        r_ext, r = self.region(rows)
        facc = self.draw(st.integers(0, 40))
        acc = self.buffer(r_ext, cols + 2, FixedFormat(64, facc), "acc",
                          self.spec.numerics.accumulator_width)
        bias = isa.NO_BUFFER
        if self.draw(st.booleans()):
            fb = self.fmt()
            assume(fb.frac <= facc)
            bias = self.buffer(1, cols + 2, fb, self.data_kind())
        act = self.draw(st.sampled_from(self.activations))
        slope = isa.NO_BUFFER
        declared = ops.DRAIN[act]
        if "c" in declared.operands:
            fmt = declared.constants
            slope = self.buffer(1, 1, fmt, "const", values=self.values(fmt, (1, 1)))
        dst = self.buffer(r_ext, cols, self.fmt(), self.data_kind())
        src_col = self.draw(st.integers(0, 2))
        ins = Drain(dst=dst, acc=acc, bias=bias, slope=slope, act=act, rows=r,
                    cols=Range(0, cols), src_col=src_col)
        if not self.draw(st.booleans()):
            self.emit(ins, self.draw(st.sampled_from(("rows", "cols"))))
            return
        # the range monitor of what the drain wrote, right after it on its core: over
        # the drain's region (the core folds it from the drain's write-back) or over
        # another region of dst (read from the memory)
        core = self.draw(st.integers(0, self.cores - 1))
        region = (r, ins.cols)
        if self.draw(st.booleans()):
            region = (Range(r.start, self.draw(st.integers(1, r.count))),
                      Range(self.draw(st.integers(0, cols - 1)), 1))
        fmt = self.buffers[dst].fmt
        lo, hi = sorted(self.values(fmt, (2,)).tolist())
        monitor = self.buffer(1, 2, fmt, "monitor", values=np.array([[lo, hi]]))
        self.code += [dataclasses.replace(ins, core=core),
                      Vector(core=core, fn=ops.BY_NAME["range"].number, dst=monitor, a=dst,
                             rows=region[0], cols=region[1])]
        if self.cores > 1:
            self.code.extend(Barrier(core=c, mask=(1 << self.cores) - 1)
                             for c in range(self.cores))

    def vector(self) -> None:
        """One ``vec`` of a drawn function, its operands drawn as the function's
        declaration (:mod:`fixar_gen.ops`) describes them."""
        op = ops.BY_NAME[self.draw(st.sampled_from(self.functions))]
        rows, cols = self.dim(), self.dim()
        r_ext, r = self.region(rows)
        c_ext, c = self.region(cols)
        src_col = self.draw(st.integers(0, 2))
        src_ext = src_col + cols
        fields: dict = {"fn": op.number, "rows": r, "cols": c, "src_col": src_col}
        split = self.draw(st.sampled_from(("rows", "cols")))
        if op.issue != "pipelined":          # serial and folded: one core, not split
            split = None
        acc_bits = self.spec.numerics.accumulator_width
        dst = op.operands["d"]
        acc_frac = fd = None
        if dst.kind == "acc":
            acc_frac = self.draw(st.integers(0, 40))
            fields["dst"] = self.buffer(r_ext, c_ext, FixedFormat(64, acc_frac), "acc",
                                        acc_bits)
        elif dst.layout != "monitor":        # a monitor takes its operand's format, below
            fd = self.fmt()
            fields["dst"] = self.buffer(r_ext, c_ext, fd, self.data_kind())
            self._constrain(fields["dst"], dst.values)
        for role, operand in op.operands.items():
            if role == "d":
                continue
            if operand.kind == "prng":
                lanes = self.rng.integers(1, 2**32, size=(PRNG_LANES, 1), dtype=np.int64)
                fields[role] = self.buffer(PRNG_LANES, 1, PRNG, "prng", values=lanes)
            elif operand.kind == "const":
                fields[role] = self.buffer(1, 2, op.constants, "const",
                                           values=self.values(op.constants, (1, 2)))
            elif operand.kind == "acc":
                # acc_add: a's stride and column as dst's, so that the placement's halves
                # put every step's two lines in opposite halves of cmem's banks
                fields["src_col"] = c.start
                fields[role] = self.buffer(r_ext, c_ext, FixedFormat(64, acc_frac), "acc",
                                           acc_bits)
            elif role == "a" and self._pairs(op, fields):
                # a pair in wmem (soft_update's target and parameter): a's stride and
                # column as dst's, so that the placement's halves put every step's two
                # lines in opposite halves of wmem's banks
                fields["src_col"] = c.start
                fields[role] = self.operand(operand, fd, r_ext, c_ext, src_ext,
                                            shape=(r_ext, c_ext), kind="param")
            else:
                fields[role] = self.operand(operand, fd, r_ext, c_ext, src_ext)
        if dst.layout == "monitor":
            fa = self.buffers[fields["a"]].fmt
            lo, hi = sorted(self.values(fa, (2,)).tolist())
            fields["dst"] = self.buffer(1, 2, fa, "monitor",
                                        values=np.array([[hi, lo]] if self.draw(st.booleans())
                                                        else [[lo, hi]]))
        self.emit(Vector(**fields), split)

    def _pairs(self, op, fields) -> bool:
        """Whether to draw ``op``'s a as the other line of a wmem pair: an update of a
        parameter (dst in wmem, read) whose a is a data operand, half the time."""
        dst = fields.get("dst")
        return dst is not None and op.reads_dst and op.issue == "pipelined" \
            and self.buffers[dst].kind == "param" and op.operands["a"].kind == "data" \
            and self.draw(st.booleans())

    def operand(self, operand: ops.Operand, fd: FixedFormat | None, r_ext: int, c_ext: int,
                src_ext: int, shape: tuple[int, int] | None = None,
                kind: str | None = None) -> int:
        """A data operand as declared: its format, shape and values (``shape``,
        ``kind``: as given instead of drawn)."""
        if operand.values == "flag":
            fmt = FixedFormat(2, 0)
        elif operand.format_of_dst:
            fmt = fd
        elif operand.frac_of_dst:
            fmt = dataclasses.replace(self.fmt(), frac=fd.frac) if fd.frac < 32 else fd
        else:
            fmt = self.fmt()
        if operand.signed:
            fmt = dataclasses.replace(fmt, signed=True)
        if shape is not None:
            pass
        elif operand.layout == "source":
            shape = self.draw(st.sampled_from(((r_ext, src_ext), (1, src_ext),
                                               (r_ext, 1), (1, 1))))
        elif operand.layout == "destination":
            shape = (r_ext, c_ext)
        else:
            shape = (r_ext, src_ext)
        buf = self.buffer(*shape, fmt, kind or self.data_kind())
        self._constrain(buf, operand.values)
        return buf

    def _constrain(self, buf: int, values: str) -> None:
        """Redraw a buffer's initial values to 0 or 1 (``flag``) or >= 0."""
        name = self.buffers[buf].name
        if values == "flag":
            self.initial[name] = self.rng.integers(0, 2, size=self.initial[name].shape)
        elif values == "nonnegative":
            fmt = self.buffers[buf].fmt
            self.initial[name] = np.abs(self.initial[name]).clip(0, fmt.max_int)

    def copy(self) -> None:
        rows, cols = self.dim(), self.dim()
        r_ext, r = self.region(rows)
        fmt = self.fmt()
        buf = self.buffer(r_ext, cols + 2, fmt, self.data_kind())
        if self.draw(st.booleans()):
            slot = len(self.slots)
            self.slots.append(Slot(f"s{slot}", r_ext, cols + 3))
            self.host[f"s{slot}"] = self.values(fmt, (r_ext, cols + 3))
            ins = Load(dst=buf, slot=slot, rows=r, cols=Range(self.draw(st.integers(0, 2)),
                                                               cols),
                       src_col=self.draw(st.integers(0, 3)))
        else:
            slot = len(self.slots)
            self.slots.append(Slot(f"s{slot}", r_ext, cols + 3))
            ins = Store(src=buf, slot=slot, rows=r, cols=Range(self.draw(st.integers(0, 2)),
                                                                cols),
                        dst_col=self.draw(st.integers(0, 3)))
        self.emit(ins, self.draw(st.sampled_from(("rows", "cols"))))


KINDS = ("mm", "drain", "vec", "copy")


@st.composite
def programs(draw, spec: Spec, max_instructions: int = 3, kinds=KINDS,
             functions=isa.VECTOR_FUNCTIONS) -> Case:
    """Random small programs for ``spec``'s hardware (see the module docstring);
    ``kinds`` and ``functions`` narrow the instructions and vector functions drawn.  A
    spec whose lanes carry its programs' functions only (``hardware.vector_functions:
    programs``) gets vector functions and drains among those alone, reading each operand
    from the memories its programs read it from (``hw.design.operand_memories``)."""
    from .hw.design import lane_functions
    allowed = lane_functions(spec)
    acts = tuple(range(len(ACTIVATIONS)))
    if allowed is not None:
        functions = tuple(f for f in functions if f in allowed)
        acts = tuple(i for i in acts if f"drain_{ACTIVATIONS[i]}" in allowed)
        kinds = tuple(k for k in kinds if (k != "vec" or functions) and
                      (k != "drain" or acts))
        if not kinds:
            raise ValueError(f"programs: {spec.name}'s lanes run none of the functions "
                             "asked for")
    b = _Builder(draw, spec, functions, acts)
    for _ in range(draw(st.integers(1, max_instructions))):
        kind = draw(st.sampled_from(kinds))
        {"mm": b.matmul, "drain": b.drain, "vec": b.vector, "copy": b.copy}[kind]()
    code = b.code + [Halt(core=c) for c in range(b.cores)]
    program = Program("random", tuple(b.buffers), tuple(b.slots), tuple(code), b.cores,
                      spec.numerics.activation_format)
    case = Case(program, b.initial, b.host)
    from .hw.core import word_bits
    from .hw.design import pe_widths, program_limits
    pe = pe_widths(spec)
    assume(not program_limits(program, pe, word_bits(pe)))
    # every unit reaches the memories of its operands (fixar_gen.memory_access)
    half = accumulator_half_line(spec.hardware.cols, spec.hardware.lanes)
    assume(not access_problems(program, half, spec.hardware.rows))
    # every value within the width config_for gives its memory (the data formats the
    # drawn constants and PRNG lanes included): a program the spec's design can hold
    # and within the depth open_machine gives every memory (random_program_words)
    from .hw.design import allowed_widths, lane_limits, random_program_words
    from .memory_kinds import memory_of, stored_width
    from .placement import place
    widths = allowed_widths(lane_limits(spec))
    assume(all(stored_width(b) <= widths[memory_of(b)] for b in program.buffers
               if memory_of(b) in widths))
    limit = random_program_words(spec)
    placement = place(program, share=False, acc_half=half)
    assume(all(m.words <= limit for m in placement.memories))
    # a pair's two lines (acc_add's accumulators, soft_update's target and parameter) in
    # the two halves of cmem's or wmem's banks
    assume(not acc_half_problems(program, placement, half))
    # a design whose lanes carry its programs' functions reads each element loop operand
    # from the memories its programs name for it alone (hw.design.operand_memories)
    if allowed is not None:
        from .hw.design import operand_memories, operand_memory_problems
        assume(not operand_memory_problems(program, operand_memories(spec)))
    # keep only programs the golden model accepts (its preconditions are the ISA's)
    assume(golden_run(case) is not None)
    return case
