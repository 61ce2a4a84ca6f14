"""The on-chip memories a placement (:mod:`fixar_gen.placement`) puts buffers in:
which memory holds each kind of buffer, how wide a word each value needs there, and
the :class:`Memory` record a placement keeps per memory.

The memories follow docs/hardware.md ("Plan: per-kind banked synchronous memories"):
``wmem`` parameters and target parameters, ``mmem`` / ``vmem`` the optimizer state,
``gmem`` gradients (of the parameters, and the layers' deltas), ``amem`` activations
and the host slots, ``cmem`` accumulators,
``smem`` the few words of constants, PRNG lanes and monitors.
"""

from __future__ import annotations

from dataclasses import dataclass

from .isa import Buffer, Load, Program, Store

#: the on-chip memories; a memory's index here is its id in the core's descriptors
MEMORIES = ("wmem", "mmem", "vmem", "smem", "gmem", "amem", "cmem")
#: what each memory holds (``fixar compile --placement``, docs)
MEMORY_ROLES = {
    "wmem": "parameters and target parameters",
    "mmem": "optimizer state: Adam's m (momentum's velocity)",
    "vmem": "optimizer state: Adam's sqrt(v)",
    "smem": "constants, PRNG lanes, range monitors, OU state",
    "gmem": "gradients of the parameters, the layers' deltas",
    "amem": "activations, inputs, host slots",
    "cmem": "matrix-unit accumulators",
}
#: which memories each operand of the matrix unit (``mm``) may name: the core wires the
#: unit to these only, and :mod:`fixar_gen.memory_access` refuses a program that names
#: another (the element loop -- load, store, vec, drain -- reaches every memory).  No
#: product reads two operands from ``amem``: a weight gradient's ``b`` (the delta) is in
#: ``gmem`` (docs/hardware.md, "The activations in banks")
MATRIX_MEMORIES = {"a": ("amem", "gmem"), "b": ("wmem", "gmem"), "dst": ("cmem",)}
#: the memory of the layers' deltas (buffer kind ``delta``), which the matrix unit
#: reads only as plain lines of its banks: ``a`` in FXP32 not transposed (R adjacent
#: words), ``b`` not transposed (a row of C adjacent words)
DELTA_MEMORY = "gmem"
#: the memories only the element loop and the host touch, built of interleaved banks
#: (one per vector lane, rounded up to a power of two) with one line read and one line
#: write port per core: a step reads at most one operand and writes one line in each
#: (:mod:`fixar_gen.memory_access`)
BANKED_MEMORIES = ("mmem", "vmem", "gmem")
#: the memory of the accumulators: 2H interleaved banks (H = the array's columns, or the
#: vector lanes if more, rounded up to a power of two, :func:`accumulator_half_line`),
#: read and written a double line a cycle: H banks for row m's C column sums, the other
#: H for row m + 1's (FXP16)
ACC_MEMORY = "cmem"
#: the memory of the parameters and target parameters: 2H interleaved banks like
#: ``cmem``'s, read a strided line a cycle by the matrix unit (a weight row of adjacent
#: words, or a transposed column: :func:`weight_stride`) and a double line by the
#: element loop's pairs (``soft_update``'s target and parameter, in the two halves)
WEIGHT_MEMORY = "wmem"
#: the memory of the activations (and the host slots): 4P interleaved banks
#: (:func:`activation_banks`) read a strided line of up to 2R words a cycle by the
#: matrix unit (:func:`activation_reads`, at row strides :func:`activation_stride`)
ACTIVATION_MEMORY = "amem"
#: the memories of 2H banks read and written a double line a cycle (two half lines)
PAIRED_MEMORIES = (ACC_MEMORY, WEIGHT_MEMORY)
#: names of the target parameters (the compiler's): placed in the second half of
#: ``wmem``'s banks, so that soft_update's two lines of a step are one double line
TARGET_PREFIX = "target."
#: the name suffix of the optimizer state that goes to ``vmem`` (Adam's sqrt(v); the
#: compiler's ``optimizer_state_suffixes``): the other state buffers go to ``mmem``
SECOND_STATE_SUFFIX = ".s"
#: where the host slots (the program's inputs and outputs) live
SLOT_MEMORY = "amem"
_MEMORY_OF_KIND = {"param": "wmem", "grad": "gmem", "delta": DELTA_MEMORY, "acc": "cmem",
                   "const": "smem", "prng": "smem", "monitor": "smem"}


def memory_of(b: Buffer) -> str:
    """The memory a buffer lives in, by its kind (``data`` and unknown kinds: ``amem``)."""
    if b.kind == "state":
        return "vmem" if b.name.endswith(SECOND_STATE_SUFFIX) else "mmem"
    return _MEMORY_OF_KIND.get(b.kind, "amem")


def stored_width(b: Buffer) -> int:
    """Bits a value of ``b`` takes in its memory, read back by sign extension: its
    format's width, one more for an unsigned format (an accumulator: its fitted width
    ``acc_bits``)."""
    if b.wide:
        return b.acc_bits
    return b.fmt.width + (0 if b.fmt.signed else 1)


def slot_widths(program: Program) -> list[int]:
    """Per host slot: the widest buffer a load copies out of it or a store into it
    (the values it holds; 1 for a slot no instruction touches)."""
    out = [1] * len(program.slots)
    for ins in program.code:
        if isinstance(ins, Load):
            out[ins.slot] = max(out[ins.slot], stored_width(program.buffers[ins.dst]))
        elif isinstance(ins, Store):
            out[ins.slot] = max(out[ins.slot], stored_width(program.buffers[ins.src]))
    return out


@dataclass(frozen=True)
class Memory:
    """One on-chip memory of a program's placement: ``words`` words of ``width`` bits
    (the widest value stored in it), the first ``pinned_words`` of them pinned; ``base``
    is its first word with the memories laid end to end (one address space for counting;
    the core has a RAM per memory).  ``word_wide``: the core
    keeps these words at its datapath width (``cmem``: a k-tiled sum is exact modulo
    2^word until its last tile fits it to the accumulator's width)."""

    name: str
    width: int
    words: int
    pinned_words: int
    base: int
    word_wide: bool = False

    @property
    def end(self) -> int:
        return self.base + self.words

    def bits(self, word: int | None = None) -> int:
        """Bits the memory holds (``word``: the datapath word, for a ``word_wide`` one)."""
        return self.words * (word if self.word_wide and word else self.width)


def accumulator_half_line(array_cols: int, lanes: int = 1) -> int:
    """H: the words of one half of ``cmem``'s double line, the array's columns (or the
    core's vector lanes, if more) rounded up to a power of two; ``cmem`` has 2H banks."""
    return 1 << (max(array_cols, lanes, 1) - 1).bit_length()


def weight_stride(cols: int, banks: int) -> int:
    """The row stride (buffer columns) a matrix of ``cols`` logical columns gets in
    ``wmem``'s ``banks`` interleaved banks (a power of two) so that the matrix unit
    reads its transposed column (elements a row stride apart) as one strided line: an
    odd stride (``cols``, or one more), so that up to ``banks`` elements lie in
    distinct banks (any stride on one bank)."""
    if banks < 1 or banks & (banks - 1):
        raise ValueError(f"banks {banks} is not a power of two")
    return cols if banks == 1 or cols % 2 else cols + 1


def accumulator_stride(cols: int, half: int) -> int:
    """The row stride (buffer columns) an accumulator of ``cols`` logical columns gets,
    so that an FXP16 product's rows m and m + 1 (``stride`` words apart) fall into the
    two halves of ``cmem``'s 2 ``half`` banks: the least ``stride >= cols`` with
    ``stride mod 2 half == half``."""
    if half < 1 or half & (half - 1):
        raise ValueError(f"half line {half} is not a power of two")
    return cols + (half - cols) % (2 * half)


# -- amem in banks (docs/hardware.md, "Steps", step 4) --------------------------------------

def activation_banks(rows: int, cols: int, lanes: int = 1) -> int:
    """Banks of ``amem`` (interleaved, step 4 of docs/hardware.md): 4P, P the array's
    rows, columns or vector lanes (the most) rounded up to a power of two.  Four lines,
    not two: one activation buffer is read both as FXP16's row pair and as its
    transposed pair (:func:`activation_reads`), and on 2P banks no one row stride puts
    both in distinct banks (:func:`activation_stride`)."""
    return 4 * accumulator_half_line(max(rows, cols), lanes)


def activation_reads(stride: int, rows: int) -> dict[str, tuple[int, ...]]:
    """The words the matrix unit reads of its ``a`` operand in one cycle, as offsets from
    the line's first word, for a buffer of row stride ``stride`` on an array of ``rows``
    rows: ``line`` (FXP32: elements (m, k0 + r), r < rows, adjacent words), ``row pair``
    (FXP16: rows m and m + 1, a stride apart), ``column`` (``ta``: elements (k0 + r, m),
    a stride apart) and ``column pair`` (``ta`` in FXP16: columns m and m + 1)."""
    line = tuple(range(rows))
    column = tuple(r * stride for r in line)
    return {"line": line,
            "row pair": line + tuple(stride + r for r in line),
            "column": column,
            "column pair": column + tuple(c + 1 for c in column)}


def activation_read(fxp16: bool, transposed: bool) -> str:
    """Which of :func:`activation_reads` a product reads of its ``a``: FXP32 the line or
    (``ta``) the column, FXP16 the row pair or the column pair."""
    return ("column pair" if fxp16 else "column") if transposed else \
        ("row pair" if fxp16 else "line")


def shares_banks(offsets, banks: int) -> bool:
    """Whether two of the words ``offsets`` (from any start) fall in one of ``banks``
    interleaved banks (word a in bank a mod banks): one read cannot serve them."""
    offsets = tuple(offsets)
    return len({o % banks for o in offsets}) < len(offsets)


def activation_stride(cols: int, banks: int, rows: int) -> int:
    """The least row stride ``>= cols`` at which every read of :func:`activation_reads`
    (``rows`` elements, pairs of them in FXP16) falls in distinct banks of ``amem``'s
    ``banks`` interleaved banks.  With ``banks`` = 4P and ``rows`` <= P
    (:func:`activation_banks`) a stride of 2P + 1 mod 4P always does (odd, so a column
    is distinct; the row pair 2P + 1 .. 2P + rows apart; (2P + 1)^2 = 1 mod 4P, so a
    column's element r s + 1 would need j - r = 2P + 1 mod 4P), so the padding is less
    than ``banks`` words a row.  On 2P banks with ``rows`` = P >= 4 there is none: the
    row pair needs a stride of P mod 2P, which puts a column's elements in two banks."""
    if banks < 1 or banks & (banks - 1):
        raise ValueError(f"banks {banks} is not a power of two")
    if 2 * rows > banks:
        raise ValueError(f"{2 * rows} words of a pair need {2 * rows} banks, not {banks}")
    for stride in range(max(cols, 1), max(cols, 1) + banks):
        if not any(shares_banks(words, banks)
                   for words in activation_reads(stride, rows).values()):
            return stride
    raise ValueError(f"no row stride from {cols} serves {rows} rows on {banks} banks")
