"""The instruction set of the FIXAR core: instructions as data, their binary encoding,
readable assembly, and the program container (buffer table + host slots + code).

Each instruction is a frozen dataclass whose fields carry their bit widths; the encoder,
the decoder, docs/isa.md (``python -m fixar_gen.isa docs/isa.md``) and the hardware
decoder are all generated from that one description.  Every instruction is one
``INSTRUCTION_BITS``-bit word: the opcode in the low bits, then the fields in
declaration order.

Vector functions and drain activations are declared in :mod:`fixar_gen.ops` (one
declaration each); their lists and numbering here come from there.

Operands are *buffers*: named on-chip matrices with a shape and a fixed-point format,
listed in the program's buffer table.  Wide accumulator buffers hold exact matmul sums.
What each instruction computes is defined by :mod:`fixar_gen.golden`; docs/isa.md
states it in words.
"""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from . import arch, ops
from .numerics import FixedFormat

if TYPE_CHECKING:
    from .placement import Placement
    from .percore_placement import CorePlacements

INSTRUCTION_BITS = 160
OPCODE_BITS = 6
BUFFER_BITS = 10
NO_BUFFER = (1 << BUFFER_BITS) - 1        # "no operand" (e.g. a drain without bias)
MAX_BUFFERS = NO_BUFFER
COUNT_BITS = 16                           # a range's start and (count - 1)


def _f(bits: int, doc: str, default=dataclasses.MISSING, enum: tuple[str, ...] | None = None):
    meta = {"bits": bits, "doc": doc, "enum": enum}
    return field(default=default, metadata=meta)


@dataclass(frozen=True, order=True)
class Range:
    """Indices start .. start + count - 1 of one dimension (count >= 1)."""

    start: int
    count: int

    def __post_init__(self) -> None:
        if not (0 <= self.start < 1 << COUNT_BITS and 1 <= self.count <= 1 << COUNT_BITS):
            raise ValueError(f"Range({self.start}, {self.count}) does not fit the encoding")

    @property
    def stop(self) -> int:
        return self.start + self.count

    @property
    def slice(self) -> slice:
        return slice(self.start, self.stop)

    def __str__(self) -> str:
        return f"{self.start}:{self.stop}"


RANGE_BITS = 2 * COUNT_BITS

#: the drain's activations and the vector functions, in encoding order (``Drain.act``,
#: ``Vector.fn``): each one is declared once in :mod:`fixar_gen.ops`
ACTIVATIONS = tuple(op.activation for op in ops.DRAIN)
MODES = ("fxp32", "fxp16")
#: what each vector function computes, element by element; ``f(x)`` is x's fraction
#: bits, ``R(v, f)`` rounds and fits the exact value v (with f fraction bits) into dst's
#: format by dst's rounding and overflow mode (counting overflows); c[i] is element i of
#: the constants operand; every intermediate is an exact integer.
VECTOR_SEMANTICS: dict[str, str] = {op.name: op.semantics for op in ops.VECTOR}
VECTOR_FUNCTIONS = tuple(VECTOR_SEMANTICS)

@dataclass(frozen=True)
class Instruction:
    """Base of every instruction: ``core`` selects the core that executes it."""

    OPCODE: ClassVar[int]
    MNEMONIC: ClassVar[str]
    core: int = _f(4, "executing core", 0)

    @classmethod
    def fields_bits(cls) -> list[tuple[str, int, tuple | None]]:
        out = []
        for f in dataclasses.fields(cls):
            bits = f.metadata["bits"]
            out.append((f.name, bits, f.metadata.get("enum")))
        return out


@dataclass(frozen=True)
class Load(Instruction):
    """DMA host slot -> buffer: rows ``rows`` and columns ``cols`` of ``dst`` take the
    host slot's rows ``rows`` and columns ``src_col`` ... (raw integers, no conversion)."""

    OPCODE: ClassVar[int] = 1
    MNEMONIC: ClassVar[str] = "load"
    dst: int = _f(BUFFER_BITS, "destination buffer", 0)
    slot: int = _f(BUFFER_BITS, "host slot", 0)
    rows: Range = _f(RANGE_BITS, "rows", Range(0, 1))
    cols: Range = _f(RANGE_BITS, "destination columns", Range(0, 1))
    src_col: int = _f(COUNT_BITS, "first source column", 0)


@dataclass(frozen=True)
class Store(Instruction):
    """DMA buffer -> host slot: rows ``rows``, columns ``cols`` of ``src`` go to the same
    rows and columns ``dst_col`` ... of the slot."""

    OPCODE: ClassVar[int] = 2
    MNEMONIC: ClassVar[str] = "store"
    src: int = _f(BUFFER_BITS, "source buffer", 0)
    slot: int = _f(BUFFER_BITS, "host slot", 0)
    rows: Range = _f(RANGE_BITS, "rows", Range(0, 1))
    cols: Range = _f(RANGE_BITS, "source columns", Range(0, 1))
    dst_col: int = _f(COUNT_BITS, "first slot column", 0)


@dataclass(frozen=True)
class MatMul(Instruction):
    """Wide accumulator ``dst[m, n] (+)= sum_k opA[m, k] * opB[k, n]`` over the ranges,
    opA = a or a^T, opB = b or b^T; exact integer products and sums."""

    OPCODE: ClassVar[int] = 3
    MNEMONIC: ClassVar[str] = "mm"
    dst: int = _f(BUFFER_BITS, "accumulator buffer", 0)
    a: int = _f(BUFFER_BITS, "left operand (activations or gradients)", 0)
    b: int = _f(BUFFER_BITS, "right operand (weights or gradients)", 0)
    ta: int = _f(1, "transpose a", 0)
    tb: int = _f(1, "transpose b (backprop reads weights transposed)", 0)
    mode: int = _f(1, "PE mode", 0, MODES)
    accumulate: int = _f(1, "1: add to dst; 0: overwrite", 0)
    m: Range = _f(RANGE_BITS, "result rows", Range(0, 1))
    n: Range = _f(RANGE_BITS, "result columns", Range(0, 1))
    k: Range = _f(RANGE_BITS, "reduction range", Range(0, 1))


@dataclass(frozen=True)
class Drain(Instruction):
    """``dst = act(requant(acc + bias))``: the accumulator (plus the bias row, aligned
    exactly) is requantized once -- to dst's format for identity, to the program's
    pre-activation format otherwise -- then the activation is applied and the result
    requantized to dst's format."""

    OPCODE: ClassVar[int] = 4
    MNEMONIC: ClassVar[str] = "drain"
    dst: int = _f(BUFFER_BITS, "destination buffer", 0)
    acc: int = _f(BUFFER_BITS, "accumulator buffer", 0)
    bias: int = _f(BUFFER_BITS, "bias row (1 x n) or none", NO_BUFFER)
    slope: int = _f(BUFFER_BITS, "leaky_relu slope constant or none", NO_BUFFER)
    act: int = _f(2, "activation", 0, ACTIVATIONS)
    rows: Range = _f(RANGE_BITS, "rows", Range(0, 1))
    cols: Range = _f(RANGE_BITS, "destination columns", Range(0, 1))
    src_col: int = _f(COUNT_BITS, "first accumulator (and bias) column", 0)


@dataclass(frozen=True)
class Vector(Instruction):
    """Element-wise ``dst = fn(a, b, c, e)`` over rows x cols of dst (operands with one
    row or one column broadcast; ``c`` holds constants)."""

    OPCODE: ClassVar[int] = 5
    MNEMONIC: ClassVar[str] = "vec"
    fn: int = _f(6, "function", 0, VECTOR_FUNCTIONS)
    dst: int = _f(BUFFER_BITS, "destination (also read by update functions)", 0)
    a: int = _f(BUFFER_BITS, "operand a", NO_BUFFER)
    b: int = _f(BUFFER_BITS, "operand b", NO_BUFFER)
    c: int = _f(BUFFER_BITS, "constants (1 x k)", NO_BUFFER)
    e: int = _f(BUFFER_BITS, "operand e", NO_BUFFER)
    rows: Range = _f(RANGE_BITS, "rows", Range(0, 1))
    cols: Range = _f(RANGE_BITS, "destination columns", Range(0, 1))
    src_col: int = _f(COUNT_BITS, "first column of a, b and e", 0)


@dataclass(frozen=True)
class Barrier(Instruction):
    """Every core waits here until all cores named in ``mask`` arrive."""

    OPCODE: ClassVar[int] = 6
    MNEMONIC: ClassVar[str] = "barrier"
    mask: int = _f(16, "cores that synchronise (bit i: core i)", 0xFFFF)


@dataclass(frozen=True)
class Halt(Instruction):
    """End of program: the core reports done."""

    OPCODE: ClassVar[int] = 7
    MNEMONIC: ClassVar[str] = "halt"


@dataclass(frozen=True)
class Xfer(Instruction):
    """Per-core memories: rows ``rows`` and columns ``cols`` of ``buf`` go from the
    executing core's copy of the memories into the copies of the cores named in ``to``
    (each copy's words of the buffer at that copy's own descriptor base). It runs
    between two barriers, while the
    receivers are idle; on memories shared by the cores it moves nothing. The compiler
    emits it only when asked for per-core memories (fixar_gen/transfers.py); the
    generated RTL executes it on a design with per-core memories (each line through
    the link's registers into the receivers' copies) and refuses it on shared ones."""

    OPCODE: ClassVar[int] = 8
    MNEMONIC: ClassVar[str] = "xfer"
    buf: int = _f(BUFFER_BITS, "buffer whose words move", 0)
    rows: Range = _f(RANGE_BITS, "rows", Range(0, 1))
    cols: Range = _f(RANGE_BITS, "columns", Range(0, 1))
    to: int = _f(16, "receiving cores (bit i: core i)", 0)


#: the instructions the generated RTL's controllers execute (fixar_gen/hw/core.py)
INSTRUCTIONS: tuple[type[Instruction], ...] = (Load, Store, MatMul, Drain, Vector, Barrier,
                                               Halt)
#: the instructions of per-core memories, which only a design with per-core memories
#: decodes (``hw.design.hardware_limits`` refuses a program that has one on another)
TRANSFER_INSTRUCTIONS: tuple[type[Instruction], ...] = (Xfer,)
#: the whole instruction set: what encode, decode, the assembly and docs/isa.md know
ALL_INSTRUCTIONS = INSTRUCTIONS + TRANSFER_INSTRUCTIONS
BY_OPCODE = {cls.OPCODE: cls for cls in ALL_INSTRUCTIONS}
BY_MNEMONIC = {cls.MNEMONIC: cls for cls in ALL_INSTRUCTIONS}


def _check_layout() -> None:
    for cls in ALL_INSTRUCTIONS:
        used = OPCODE_BITS + sum(bits for _, bits, _ in cls.fields_bits())
        assert used <= INSTRUCTION_BITS, f"{cls.__name__} needs {used} bits"
        assert 0 < cls.OPCODE < 1 << OPCODE_BITS


_check_layout()


# ---------------------------------------------------------------------------
# encoding


def encode(instr: Instruction) -> int:
    """The instruction as an INSTRUCTION_BITS-bit integer."""
    word, pos = instr.OPCODE, OPCODE_BITS
    for name, bits, _ in instr.fields_bits():
        value = getattr(instr, name)
        if isinstance(value, Range):
            value = value.start | ((value.count - 1) << COUNT_BITS)
        if not 0 <= value < 1 << bits:
            raise ValueError(f"{instr.MNEMONIC}.{name} = {value} does not fit {bits} bits")
        word |= value << pos
        pos += bits
    return word


def decode(word: int) -> Instruction:
    opcode = word & ((1 << OPCODE_BITS) - 1)
    cls = BY_OPCODE.get(opcode)
    if cls is None or word >> INSTRUCTION_BITS:
        raise ValueError(f"not an instruction word: {word:#x}")
    values, pos = {}, OPCODE_BITS
    hints = {f.name: f.type for f in dataclasses.fields(cls)}
    for name, bits, _ in cls.fields_bits():
        raw = (word >> pos) & ((1 << bits) - 1)
        pos += bits
        is_range = hints[name] in (Range, "Range")
        enum = dict((n, e) for n, _, e in cls.fields_bits()).get(name)
        if enum and raw >= len(enum):
            raise ValueError(f"not an instruction word ({cls.MNEMONIC}.{name} = {raw} is "
                             f"not one of 0..{len(enum) - 1}): {word:#x}")
        values[name] = (Range(raw & ((1 << COUNT_BITS) - 1), (raw >> COUNT_BITS) + 1)
                        if is_range else raw)
    if word >> pos:
        raise ValueError(f"not an instruction word (bits set beyond the fields): {word:#x}")
    return cls(**values)


def encode_words(instr: Instruction) -> list[int]:
    """The instruction as INSTRUCTION_BITS / 32 little-endian 32-bit words."""
    word = encode(instr)
    return [(word >> (32 * i)) & 0xFFFFFFFF for i in range(INSTRUCTION_BITS // 32)]


# ---------------------------------------------------------------------------
# programs


@dataclass(frozen=True)
class Buffer:
    """An on-chip matrix: ``rows x cols`` raw integers in ``fmt``; accumulators
    (``wide``) hold exact sums of ``acc_bits`` with ``fmt.frac`` fraction bits."""

    name: str
    rows: int
    cols: int
    fmt: FixedFormat
    kind: str = "data"     # param | state | grad | delta | data | const | acc | prng | monitor
    acc_bits: int = 0

    @property
    def wide(self) -> bool:
        return self.kind == "acc"


@dataclass(frozen=True)
class Slot:
    """A host-side array the program loads from or stores to."""

    name: str
    rows: int
    cols: int


@dataclass(frozen=True)
class Program:
    """Code plus the tables it refers to; buffer and slot ids are tuple indices.
    ``placement`` (the compiler's, :mod:`fixar_gen.placement`) says where each buffer
    lives in the scratchpad; without one every buffer has words of its own.
    ``copies`` (per-core memories, :mod:`fixar_gen.percore_placement`): where each
    core's copy of the memories holds each buffer's words, set by
    :func:`fixar_gen.compiler.compile_programs` with ``per_core_memories``."""

    name: str
    buffers: tuple[Buffer, ...]
    slots: tuple[Slot, ...]
    code: tuple[Instruction, ...]
    cores: int
    pre_format: FixedFormat            # the vector unit's pre-activation format
    placement: "Placement | None" = None
    copies: "CorePlacements | None" = field(default=None, compare=False, repr=False)

    def words(self) -> list[int]:
        return [encode(i) for i in self.code]


def _operand(program: Program | None, value: int) -> str:
    if value == NO_BUFFER:
        return "-"
    if program is not None and value < len(program.buffers):
        return program.buffers[value].name
    return f"%{value}"


def assembly(instr: Instruction, program: Program | None = None) -> str:
    """One readable line, e.g. ``c0 mm acc.l0 <- x.l0 @ w.l0 m=0:64 n=0:400 k=0:17``."""
    parts = [f"c{instr.core}", instr.MNEMONIC]
    hints = {f.name: f for f in dataclasses.fields(instr)}
    for name, _, enum in instr.fields_bits():
        if name == "core":
            continue
        value = getattr(instr, name)
        if enum:
            parts.append(f"{name}={enum[value]}")
        elif name in ("dst", "a", "b", "c", "e", "acc", "bias", "slope", "src", "buf"):
            if value != NO_BUFFER or hints[name].default != NO_BUFFER:
                parts.append(f"{name}={_operand(program, value)}")
        elif name == "slot":
            label = program.slots[value].name if program and value < len(program.slots) \
                else f"#{value}"
            parts.append(f"slot={label}")
        elif name in ("mask", "to"):
            parts.append(f"{name}={value:#x}")
        else:
            parts.append(f"{name}={value}")
    return " ".join(parts)


def listing(program: Program) -> str:
    """The program in readable assembly, with its buffer table."""
    lines = [f"; program {program.name}: {len(program.code)} instructions, "
             f"{program.cores} core(s), {INSTRUCTION_BITS}-bit words"]
    for i, b in enumerate(program.buffers):
        kind = f"acc{b.acc_bits}" if b.wide else b.kind
        lines.append(f";   %{i:<4} {b.name:<24} {b.rows}x{b.cols} {b.fmt} {kind}")
    for i, s in enumerate(program.slots):
        lines.append(f";   #{i:<4} {s.name:<24} {s.rows}x{s.cols} host")
    for pc, instr in enumerate(program.code):
        lines.append(f"{pc:6d}  {assembly(instr, program)}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------
# docs/isa.md


def reference() -> str:
    out = ["# Instruction set", "",
           "<!-- generated by `python -m fixar_gen.isa docs/isa.md`; do not edit -->", "",
           f"Every instruction is one {INSTRUCTION_BITS}-bit word: the {OPCODE_BITS}-bit "
           "opcode in the lowest bits, then the fields below in order (lowest bits first). "
           f"A range is {RANGE_BITS} bits: start (low {COUNT_BITS}) and count - 1 (high "
           f"{COUNT_BITS}). Buffer operands are {BUFFER_BITS}-bit indices into the "
           f"program's buffer table; {NO_BUFFER} means no operand.", ""]
    out += _semantics_section()
    for cls in ALL_INSTRUCTIONS:
        out += [f"## `{cls.MNEMONIC}` ({cls.__name__}, opcode {cls.OPCODE})", "",
                " ".join((cls.__doc__ or "").split()), "",
                "| field | bits | meaning |", "|---|---|---|"]
        for f in dataclasses.fields(cls):
            enum = f.metadata.get("enum")
            meaning = f.metadata["doc"] + (": " + ", ".join(f"{i} = {v}"
                                                             for i, v in enumerate(enum))
                                           if enum else "")
            out.append(f"| `{f.name}` | {f.metadata['bits']} | {meaning} |")
        out.append("")
    return "\n".join(out)


def _semantics_section() -> list[str]:
    return [
        "## Semantics", "",
        "The golden model (`fixar_gen/golden.py`) is the definition; this is the same in "
        "words. Raw integers are exact; a value is rounded once, when it is written to its "
        "destination, by the destination format's rounding and overflow mode, and every "
        "overflow is counted. Operands with one row or one column broadcast. Operand "
        "columns start at `src_col` (they line up with the destination's columns). "
        "`mm` accumulators have the fraction bits of the product (f(a) + f(b)) and "
        "are fitted to the accumulator width by the machine's overflow mode, the spec's "
        "`numerics.overflow` (never reached in a valid spec). `mm` operands may be signed or "
        "unsigned; FXP16 mode needs a's width <= 16.", "",
        "Also: every operand is read before the destination is written (in-place updates "
        "are fine); an operand with one column ignores `src_col`; an overflow is counted "
        "against the buffer written, per step (the per-core pieces of one step count as "
        "one); the program ends at the first `halt` (the compiler puts one per core at the "
        "end); `load` refuses host values outside the buffer's format; `store` creates a "
        "missing host slot, zeroed. Formulas with 2^f assume f >= 0. 'Rounded once' has "
        "the exceptions the table states: `drain` (pre-activation, then output), `adam_s` "
        "(v, then the root), `adam_w` (the truncated ratio), and the noise clamps.", "",
        "`drain`: z = acc + bias * 2^(f(acc) - f(bias)) exactly (bias: row 0 of a 1 x n "
        "buffer, f(bias) <= f(acc)); identity: dst = R(z); "
        "otherwise z is first rounded to the program's pre-activation format (the spec's "
        "FXP32 activation format), then: relu max(z, 0); leaky_relu z if z >= 0 else "
        "z * slope (exact, then R); tanh piecewise linear: for |z| < "
        f"{2 ** arch.TANH_RANGE_BITS}, segment i = floor(|z| * 2^{arch.TANH_SEGMENT_FRAC}), "
        "y = T[i] + (T[i+1] - T[i]) * (remainder within the segment), with "
        f"T[i] = round(tanh(i / 2^{arch.TANH_SEGMENT_FRAC}) * 2^{arch.TANH_TABLE_FRAC}) "
        f"and the last entry exactly 1; |z| >= {2 ** arch.TANH_RANGE_BITS} gives exactly "
        "+-1; odd symmetric; then R to dst. An overflow into the pre-activation format is "
        "counted against dst.", "",
        f"PRNG: {arch.PRNG_LANES} xorshift32 lanes (x ^= x << 13; x ^= x >> 17; "
        "x ^= x << 5, mod 2^32) held in operand b, seeded by splitmix64 from the seed "
        "(z += 0x9E3779B97F4A7C15 per lane, the mix's low 32 bits, a zero lane becomes 1); "
        f"element j of a noise region (row-major) comes from lane j mod {arch.PRNG_LANES}; "
        f"a sample takes {arch.PRNG_DRAWS} draws of its lane (a draw is the lane's state "
        "after one step) and sums their top 16 bits, u; "
        f"N = ((u - {arch.PRNG_DRAWS} * 2^15) * {arch.SQRT3_Q14} + 2^13) >> 14 with "
        f"{arch.NOISE_FRAC} fraction bits (Irwin-Hall, unit variance, |N| <= 3.47). "
        "Noise instructions always run on one core, so results never depend on the split.",
        "",
        "Each function is declared once in `fixar_gen/ops/` (docs/adding-an-operation.md); "
        "this table, the numbering and the operand roles come from there.", "",
        "| fn | function | operands | computes |", "|---|---|---|---|",
        *[f"| {op.number} | `{op.name}` | {_operand_list(op)} | {op.semantics} |"
          for op in ops.VECTOR], ""]


def _operand_list(op) -> str:
    """The roles an operation reads and writes, e.g. ``a, c (COEFF), d (read)``."""
    out = []
    for role in ("a", "b", "c", "e", "d"):
        operand = op.operands.get(role)
        if operand is None:
            continue
        text = role
        if role == "c":
            text += f" ({op.constants})"
        elif operand.kind in ("acc", "prng"):
            text += f" ({operand.kind})"
        if role == "d" and op.reads_dst:
            text += " (read)"
        if role in op.writes:
            text += " (written)"
        out.append(text)
    return ", ".join(out)


if __name__ == "__main__":
    text = reference()
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
