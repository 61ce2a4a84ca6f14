"""Small helpers every PyRTL leaf generator shares: a fresh block per build, name
scopes, and the two's-complement conversions between Python ints and wire values.

PyRTL is flat (no Verilog modules), so hierarchy lives in names: a generator takes a
:class:`Scope` (``Scope("array").sub("pe_r3_c5")`` names wires ``array_pe_r3_c5_...``)
and names every wire it wants readable in the Verilog through it.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pyrtl


@contextmanager
def fresh_block() -> Iterator[pyrtl.Block]:
    """A new, empty PyRTL block as the working block for the ``with`` body; the
    previous working block is restored afterwards.  It is not sanity-checked here:
    PyRTL checks a block wherever one is used (its simulations and the Verilog output,
    ``GateGraph``, run ``Block.sanity_check``), and a second check of a whole core took
    about a sixth of ``fixar generate examples/fixar_u50.yaml``."""
    block = pyrtl.Block()
    with pyrtl.set_working_block(block):
        yield block


@dataclass(frozen=True)
class Scope:
    """A name prefix: ``scope("weight")`` is ``"<prefix>_weight"``."""

    prefix: str

    def __post_init__(self) -> None:
        if not self.prefix or not self.prefix.replace("_", "a").isalnum() \
                or self.prefix[0].isdigit():
            raise ValueError(f"Scope.prefix: {self.prefix!r} is not a Verilog-friendly "
                             "name (letters, digits and '_', not starting with a digit)")

    def __call__(self, name: str) -> str:
        return f"{self.prefix}_{name}"

    def sub(self, name: str) -> "Scope":
        return Scope(self(name))


def named(value: pyrtl.WireVector, name: str) -> pyrtl.WireVector:
    """``value`` through a wire called ``name`` (same width), so the Verilog shows it."""
    wire = pyrtl.WireVector(bitwidth=value.bitwidth, name=name)
    wire <<= value
    return wire


#: per block, the names of its registers that need no reset (:func:`data_register`)
_RESET_LESS: "weakref.WeakKeyDictionary[pyrtl.Block, set[str]]" = weakref.WeakKeyDictionary()


def data_register(bits: int, name: str | None = None) -> pyrtl.Register:
    """A register of the working block that needs no reset: a pipeline's data, read
    only together with a valid bit that has one.  The Verilog writer
    (:func:`fixar_gen.hw.verilate.emit_verilog`) gives such registers of a delay line
    no reset branch, so that synthesis can map the line to a shift register (SRL16E /
    SRLC32E); the line's last register, the one logic reads, keeps its reset
    (:func:`reset_less_names`) and so stays a flip-flop.  PyRTL's simulators,
    Verilator's initial values and golden see no difference (every register starts at
    0)."""
    reg = pyrtl.Register(bits, name=name) if name else pyrtl.Register(bits)
    _RESET_LESS.setdefault(pyrtl.working_block(), set()).add(reg.name)
    return reg


def reset_less_names(block: pyrtl.Block) -> frozenset[str]:
    """The registers of ``block`` written without a reset: those made by
    :func:`data_register` whose value goes only into other registers (through plain
    wires at most), i.e. every register of a delay line but its last.  A register that
    logic or an output reads keeps its reset, so synthesis leaves it a flip-flop: a
    shift register's clock-to-out (about 1 ns, docs/hardware.md's delay model) would
    otherwise start the logic's path."""
    names = _RESET_LESS.get(block, set())
    if not names:
        return frozenset()
    readers: dict[str, list] = {}
    for net in block.logic:
        for arg in net.args:
            readers.setdefault(arg.name, []).append(net)

    def only_registers(wire_name: str, depth: int = 0) -> bool:
        for net in readers.get(wire_name, ()):
            if net.op == "r":
                continue
            if net.op == "w" and depth < 8 and not isinstance(net.dests[0], pyrtl.Output) \
                    and only_registers(net.dests[0].name, depth + 1):
                continue
            return False
        return True

    return frozenset(r.name for r in block.wirevector_subset(pyrtl.Register)
                     if r.name in names and only_registers(r.name))


def delay(value: pyrtl.WireVector, cycles: int, name: str, *,
          reset: bool = True) -> pyrtl.WireVector:
    """``value`` through ``cycles`` registers, the k-th (from 1) named
    ``name.format(k=k)`` (e.g. ``scope("d{k}")``); without ``reset`` they are
    :func:`data_register` s (data read only beside a valid bit that is delayed with
    a reset)."""
    for k in range(1, cycles + 1):
        reg = (pyrtl.Register(value.bitwidth, name=name.format(k=k)) if reset
               else data_register(value.bitwidth, name.format(k=k)))
        reg.next <<= value
        value = reg
    return value


def resize(wire: pyrtl.WireVector, bits: int) -> pyrtl.WireVector:
    """A signed wire as ``bits`` bits: its low bits (wrapping modulo 2**bits), or
    sign-extended.  (The vector lane's ``lane_wires.resize`` does the same through a
    declared wire, for Verilator's lint.)"""
    return wire[:bits] if wire.bitwidth >= bits else wire.sign_extended(bits)


def check_width(wire: pyrtl.WireVector, bits: int, what: str) -> None:
    """Refuse a wire of the wrong width (PyRTL's ``<<=`` would silently truncate or
    zero-extend it)."""
    if wire.bitwidth != bits:
        raise ValueError(f"{what}: wire {wire.name!r} is {wire.bitwidth} bits, "
                         f"expected {bits}")


def to_unsigned(value: int, bits: int) -> int:
    """A signed ``bits``-bit Python int as the unsigned value of its wire."""
    return int(value) & ((1 << bits) - 1)


def to_signed(value: int, bits: int) -> int:
    """The unsigned value of a ``bits``-bit wire read as two's complement."""
    value = int(value) & ((1 << bits) - 1)
    return value - (1 << bits) if value >> (bits - 1) else value


def check_signed(value, bits: int, what: str) -> int:
    """``value`` as a Python int, refused unless it is a signed ``bits``-bit integer."""
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise ValueError(f"{what}: {value!r} is not an integer")
    value = int(value)
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if not low <= value <= high:
        raise ValueError(f"{what}: {value} is not a signed {bits}-bit integer "
                         f"({low}..{high})")
    return value


def zext(value, bits: int) -> pyrtl.WireVector:
    """``value`` zero-extended (or truncated) to ``bits``."""
    value = pyrtl.as_wires(value)
    return value[:bits] if value.bitwidth >= bits else value.zero_extended(bits)


def any_bit(bits) -> pyrtl.WireVector:
    """The OR of 1-bit ``bits`` as a balanced tree (0 for none)."""
    bits = list(bits)
    return pyrtl.tree_reduce(lambda x, y: x | y, bits) if bits else pyrtl.Const(0, 1)


def one_hot_pick(choices, bits: int) -> pyrtl.WireVector:
    """The value whose select is 1 among ``choices`` ((select, value) pairs, at most
    one select 1; 0 when none is), zero-extended or cut to ``bits``: an AND-OR tree,
    no priority chain."""
    terms = [pyrtl.select(sel, zext(value, bits), pyrtl.Const(0, bits))
             for sel, value in choices]
    return pyrtl.tree_reduce(lambda x, y: x | y, terms) if terms else pyrtl.Const(0, bits)
