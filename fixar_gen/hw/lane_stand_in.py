"""A stand-in for the vector lane, to time the controller of a whole core without
synthesizing a lane (Yosys takes about 15 minutes on the real one).

The real lane (:func:`fixar_gen.hw.vector.vector_unit`) registers every input in its
first stage (``in``) and drives every output from a register, so the controller's
paths into and out of it end and start at registers.  The stand-in keeps exactly that
boundary: every input bit into a register named like the lane's (``<scope>_in_<name>``),
every output from a register, and between them an XOR of all the registered inputs, so
that no input bit is unused (Yosys would otherwise remove its register and the path into
it).  It computes nothing meaningful: it is for timing only, never for simulation
against the golden model.
"""

from __future__ import annotations

import pyrtl

from .build import Scope, delay
from .lane_limits import WIDEST, LaneLimits
from .vector import (LANE_BITS, LANE_DEPTH, SHORT_DEPTH, ElementInputs, ElementOutputs,
                     is_short)


def stand_in_lane(scope: Scope, *, word: int, acc_overflow: str, inputs: ElementInputs,
                  serial_outputs: bool = True, limits: LaneLimits = WIDEST,
                  functions=None) -> ElementOutputs:
    """The lane's register boundary (same arguments as ``vector_unit``): its inputs
    registered, its outputs registers, ``done`` ``LANE_DEPTH`` cycles after ``start``
    (``SHORT_DEPTH`` for the ``SHORT_OPS``, as the lane's)."""
    del acc_overflow, limits, functions     # the stand-in computes nothing
    fold, valid, op = pyrtl.Const(0, word), None, None
    for name in ElementInputs.widths(word):
        wire = getattr(inputs, name)
        reg = pyrtl.Register(wire.bitwidth, name=scope(f"in_{name}"))
        reg.next <<= wire
        if name == "start":
            valid = reg
        else:
            if name == "op":
                op = reg
            fold = fold ^ (reg if reg.bitwidth <= word else reg[:word]).zero_extended(word)

    def out(value: pyrtl.WireVector, name: str) -> pyrtl.Register:
        reg = pyrtl.Register(value.bitwidth, name=scope(f"out_{name}"))
        reg.next <<= value
        return reg

    short = is_short(op)
    # (one register at the end, as the lane's done)
    done = out(delay(valid & ~short, LANE_DEPTH - 2, scope("done_d{k}"))
               | delay(valid & short, SHORT_DEPTH - 2, scope("done_short_d{k}")), "done")
    return ElementOutputs(
        done=done, d_out=out(fold, "d_out"),
        e_out=out(~fold, "e_out") if serial_outputs else None,
        lane_out=out(fold[:LANE_BITS], "lane_out") if serial_outputs else None,
        sat_d=out(fold[:2], "sat_d"), sat_e=out(fold[2:3], "sat_e"))
