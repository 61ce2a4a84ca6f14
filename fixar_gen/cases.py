"""A verification case -- a program with its buffers' initial contents and host slots
-- and how it is compared: run on the golden model and on a hardware machine, the first
difference (buffer or slot, index, both values) or None.

Plain numpy: no hypothesis here, so ``fixar cosim`` and the Core backends run on the
runtime install.  The hypothesis strategy that draws cases is
:func:`fixar_gen.programs.programs`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import isa
from .golden import GoldenError, GoldenMachine
from .isa import Program


@dataclass
class Case:
    """A program, its buffers' initial contents and its host slots."""

    program: Program
    initial: dict[str, np.ndarray]
    host: dict[str, np.ndarray]

    def listing(self) -> str:
        return isa.listing(self.program)


def golden_run(case: Case):
    """(machine, host, stats) of the case on the golden model, None if it refuses."""
    machine = GoldenMachine()
    machine.allocate(case.program.buffers)
    for name, values in case.initial.items():
        machine.memory[name] = np.asarray(values, dtype=np.int64).copy()
    host = {k: v.copy() for k, v in case.host.items()}
    try:
        stats = machine.run(case.program, host)
    except (GoldenError, OverflowError, ValueError):
        return None
    return machine, host, stats


@dataclass(frozen=True)
class Difference:
    what: str
    index: tuple
    golden: int
    hardware: int

    def __str__(self) -> str:
        return (f"{self.what}{list(self.index)}: golden {self.golden}, "
                f"hardware {self.hardware}")


def _first_difference(what: str, golden, hardware) -> Difference | None:
    g = np.asarray(golden, dtype=object)
    h = np.asarray(hardware, dtype=object)
    if g.shape != h.shape:
        return Difference(f"{what} shape", (), g.shape, h.shape)
    diff = np.argwhere(g != h)
    if len(diff) == 0:
        return None
    index = tuple(int(i) for i in diff[0])
    return Difference(what, index, int(g[index]), int(h[index]))


def compare(case: Case, machine) -> Difference | None:
    """Run ``case`` on the golden model and on ``machine`` (a
    :class:`fixar_gen.hw.host.HardwareMachine`); the first difference or None."""
    golden = golden_run(case)
    if golden is None:
        raise ValueError("the golden model refuses this program")
    gm, ghost, gstats = golden
    machine.forget()
    machine.allocate(case.program.buffers)
    for name, values in case.initial.items():
        machine.write(name, values)
    host = {k: v.copy() for k, v in case.host.items()}
    hstats = machine.run(case.program, host)
    for b in case.program.buffers:
        d = _first_difference(b.name, _as_ints(gm.read(b.name)), machine.read(b.name))
        if d:
            return d
    for name in sorted(set(ghost) | set(host)):
        d = _first_difference(f"slot {name}", ghost.get(name), host.get(name))
        if d:
            return d
    g_sat, h_sat = dict(gstats.by_buffer), dict(hstats.by_buffer)
    for name in sorted(set(g_sat) | set(h_sat)):
        if g_sat.get(name, 0) != h_sat.get(name, 0):
            return Difference(f"saturations of {name}", (), g_sat.get(name, 0),
                              h_sat.get(name, 0))
    return None


def _as_ints(value) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    return value.to_python() if hasattr(value, "to_python") else np.asarray(value, dtype=object)
