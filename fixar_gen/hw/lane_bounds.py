"""The vector lane's shift ranges per operation, found by enumeration at elaboration.

A rounder (:func:`fixar_gen.hw.vector._rounder`) aligns each term (value, frac) at
G = max(fracs, f(target)) by a left shift of G - frac, then shifts the sum right by
k = G - f(target).  Which fracs can occur depends on the operation: its plan
(:mod:`fixar_gen.hw.lane_plans`) forms them from its operands' formats, and the lane's
:class:`~fixar_gen.hw.lane_limits.LaneLimits` bound those.  :func:`evaluate` computes
combinational PyRTL logic on numpy arrays (a register passes its input through: the
lane is a pipeline, every stage holds the same element), so the fracs' logic can be run
on every combination of the formats' fracs at once; the largest shift of each term is
then exact for the formats the lane allows, and the alignment shifters
(:func:`bounded_shl`) are built for those shifts and the values' widths only.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pyrtl


def drivers(block: pyrtl.Block) -> dict:
    """Each wire of ``block`` -> the net that drives it."""
    return {dest: net for net in block.logic for dest in net.dests}


def reached(wires: Iterable[pyrtl.WireVector], candidates, driver: dict) -> set:
    """The ``candidates`` that ``wires`` depend on (through logic and registers; the
    search stops at a candidate)."""
    candidates = set(candidates)
    seen, found, stack = set(), set(), list(wires)
    while stack:
        w = stack.pop()
        if w in seen:
            continue
        seen.add(w)
        if w in candidates:
            found.add(w)
            continue
        net = driver.get(w)
        if net is not None:
            stack.extend(net.args)
    return found


def evaluate(wires: Iterable[pyrtl.WireVector], known: dict, driver: dict
             ) -> list[np.ndarray]:
    """The values of ``wires`` (uint64 arrays) given the arrays of the wires in
    ``known`` (broadcast together), through the combinational logic of ``driver``
    (:func:`drivers`) and through its registers (a register's value is its input's).
    Refuses a wire wider than 64 bits or one that depends on a wire neither known nor
    computed (an input, a memory read)."""
    values: dict = {w: np.asarray(v, dtype=np.uint64) for w, v in known.items()}

    def mask(bits: int) -> np.uint64:
        return np.uint64((1 << bits) - 1)

    def value(wire):
        stack = [wire]
        while stack:
            w = stack[-1]
            if w in values:
                stack.pop()
                continue
            if isinstance(w, pyrtl.Const):
                values[w] = np.uint64(w.val)
                stack.pop()
                continue
            if w.bitwidth > 64:
                raise ValueError(f"lane_bounds.evaluate: {w.name} has {w.bitwidth} bits (> 64)")
            net = driver.get(w)
            if net is None or net.op in "m@":
                raise ValueError(f"lane_bounds.evaluate: {w.name} is neither known nor "
                                 "computed from known wires")
            missing = [a for a in net.args if a not in values]
            if missing:
                stack.extend(missing)
                continue
            values[w] = _apply(net, [values[a] for a in net.args], w.bitwidth, mask)
            stack.pop()
        return values[wire]

    return [value(w) for w in wires]


def _apply(net, args, bits: int, mask) -> np.ndarray:
    op = net.op
    m = mask(bits)
    if op in "wr":
        return args[0]
    if op == "~":
        return ~args[0] & m
    if op == "&":
        return args[0] & args[1]
    if op == "|":
        return args[0] | args[1]
    if op == "^":
        return args[0] ^ args[1]
    if op == "n":
        return ~(args[0] & args[1]) & m
    if op == "+":
        return (args[0] + args[1]) & m
    if op == "-":
        return (args[0] - args[1]) & m        # uint64 wraps modulo 2^64, then masked
    if op == "*":
        return (args[0] * args[1]) & m
    if op == "=":
        return (args[0] == args[1]).astype(np.uint64)
    if op == "<":
        return (args[0] < args[1]).astype(np.uint64)
    if op == ">":
        return (args[0] > args[1]).astype(np.uint64)
    if op == "x":
        sel, false, true = args
        return np.where(sel.astype(bool), true, false).astype(np.uint64)
    if op == "c":
        out, pos = np.uint64(0), 0
        for arg, wire in zip(reversed(args), reversed(net.args)):
            out = out | (arg << np.uint64(pos))
            pos += wire.bitwidth
        return out
    if op == "s":
        out = np.uint64(0)
        for i, bit in enumerate(net.op_param):
            out = out | (((args[0] >> np.uint64(bit)) & np.uint64(1)) << np.uint64(i))
        return out
    raise ValueError(f"lane_bounds.evaluate: net op {op!r} is not supported")


def grid(ranges: dict) -> dict:
    """Every combination of the values ``ranges`` lists (key -> sequence), as arrays
    of one length."""
    keys = list(ranges)
    mesh = np.meshgrid(*[np.asarray(ranges[k], dtype=np.uint64) for k in keys],
                       indexing="ij")
    return {k: m.reshape(-1) for k, m in zip(keys, mesh)}


def stage_widths(terms: list[tuple[int, int]], w_int: int) -> list[tuple[int, int, int]]:
    """The stages of a left shifter whose value is one of ``terms`` (value bits, largest
    shift: one per operation) and whose result is ``w_int`` bits: per stage i (shift
    2^i; only while some shift reaches it) (k, mux_top, width): bits k .. mux_top - 1
    select between the value shifted by k and the value, bits under k are 0 or the
    value, bits mux_top .. width - 1 are the value's (no operation that shifts by k has
    a significant bit there: each operation's value after the stage fits min(its bits
    + its shift, bits before + k) signed bits), and bits from ``width`` up copy bit
    width - 1."""
    cur = [min(bits, w_int) for bits, _ in terms]
    width = max(cur)
    top_shift = max(shift for _, shift in terms)
    out = []
    k = 1
    while k <= top_shift:
        mux_top = 0
        for i, (bits, shift) in enumerate(terms):
            if shift >= k:
                cur[i] = min(cur[i] + k, bits + shift, w_int)
                mux_top = max(mux_top, cur[i])
        width = max(width, mux_top)
        out.append((k, mux_top, width))
        k <<= 1
    return out


def bounded_shl(value: pyrtl.WireVector, amount: pyrtl.WireVector,
                terms: list[tuple[int, int]], w_int: int) -> pyrtl.WireVector:
    """``value`` << ``amount`` as a ``w_int``-bit signed wire, for values and shifts
    within ``terms`` (:func:`stage_widths`; ``value`` at least as wide as the widest
    term, its bits from there up copies of its sign); ``amount`` needs the bits of the
    largest shift only."""
    stages = stage_widths(terms, w_int)
    width = min(max(bits for bits, _ in terms), w_int)
    v = value[:width]
    for i, (k, mux_top, new_width) in enumerate(stages):
        if new_width > v.bitwidth:
            v = v.sign_extended(new_width)
        if mux_top > k:
            shifted = pyrtl.concat(v[:mux_top - k], pyrtl.Const(0, k))
        else:
            shifted = pyrtl.Const(0, mux_top)
        muxed = pyrtl.select(amount[i], shifted, v[:mux_top])
        v = pyrtl.concat(v[mux_top:], muxed) if mux_top < v.bitwidth else muxed
    return v.sign_extended(w_int) if v.bitwidth < w_int else v[:w_int]
