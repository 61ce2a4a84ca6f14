"""The resource model of the generator's own vector lane (``fixar_gen/hw/vector.py``),
the lane ``fixar estimate`` counts for a generated design.

The lane's datapath is sized from the spec's formats (:mod:`fixar_gen.hw.lane_limits`):
its aligned-sum datapath is W_INT = ``hw.vector.internal_width(word, limits)`` bits,
and the squarers, the divider and most pipeline registers follow it.  The model:

- a spec whose lane has the datapath (W_INT) and memory word of a measured lane counts
  that lane's Yosys cells as measured;
- any other spec counts the measured lane with the nearest W_INT, its LUTs, FFs and
  DSP48E2 scaled by ``W_INT / W_INT(measured)`` (rounded up).  This proportional
  scaling is an assumption, not a fit: today's lane RTL has one calibration point
  (``lane_u50``, W_INT 122), so no second point checks it.

Calibration points are the entries of :mod:`fixar_gen.resource_calibration` that
record ``datapath_bits`` (lanes of today's RTL); ``lane80`` (the lane before it was
sized from the spec, always the widest) is kept there as history and is not one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .resource_calibration import MEASURED
from .resources import Resources


@dataclass(frozen=True)
class LaneEstimate:
    """A core's lanes' resources and how they were obtained (one line for the report):
    ``resources`` lane 0's (every function), ``parallel`` each other lane's (no
    serial functions; None: counted as lane 0, no such lane measured)."""

    resources: Resources
    basis: str
    measured: bool
    parallel: Resources | None = None

    def vector_units(self, lanes: int, cores: int) -> Resources:
        """The lanes of ``cores`` cores of ``lanes`` lanes each."""
        if lanes < 1:
            return Resources()
        other = self.resources if self.parallel is None else self.parallel
        return (self.resources + other.times(lanes - 1)).times(cores)


def calibration_points(serial: bool = True, functions: tuple[str, ...] | None = None
                       ) -> tuple[dict, ...]:
    """The measured lanes of today's RTL, each with its ``datapath_bits`` and ``word``:
    lane 0's (every function) or, ``serial`` False, the other lanes' (no serial
    functions); with ``functions`` (the lane's operations, ``vector.lane_operations``
    of a design built with ``hardware.vector_functions: programs``) the lanes measured
    with exactly those."""
    want = None if functions is None else tuple(functions)
    return tuple(m for m in MEASURED if "datapath_bits" in m
                 and m.get("serial", True) == serial
                 and (None if m.get("functions") is None else tuple(m["functions"])) == want)


def _points(serial: bool, functions) -> tuple[tuple[dict, ...], str]:
    """The calibration points for a lane with ``functions`` (None: every one), and what
    the basis says when they are every function's lanes standing in for a narrower one
    (an upper bound: that set was not measured)."""
    from .hw.vector import lane_operations
    if functions is not None:
        points = calibration_points(serial, lane_operations(serial, functions))
        if points:
            return points, ""
        return (calibration_points(serial),
                " (every function's lane: this design's function set was not measured, "
                "an upper bound)")
    return calibration_points(serial), ""


def _nearest(points: tuple[dict, ...], datapath_bits: int, word: int
             ) -> tuple[Resources, str, bool]:
    """(resources, basis, measured) of the lane of ``datapath_bits`` and ``word`` from
    ``points``: the one measured at both, else the nearest W_INT scaled."""
    for m in points:
        if m["datapath_bits"] == datapath_bits and m["word"] == word:
            return (Resources(luts=m["luts"], ffs=m["ffs"], dsps=m["dsps"]),
                    f"`{m['design']}`", True)
    m = min(points, key=lambda p: (abs(p["datapath_bits"] - datapath_bits),
                                   -p["datapath_bits"]))
    ratio = datapath_bits / m["datapath_bits"]
    scaled = Resources(luts=math.ceil(m["luts"] * ratio), ffs=math.ceil(m["ffs"] * ratio),
                       dsps=math.ceil(m["dsps"] * ratio))
    return (scaled, f"`{m['design']}` (W_INT {m['datapath_bits']}, {m['word']}-bit word) "
            f"scaled by W_INT {datapath_bits} / {m['datapath_bits']}", False)


#: the functions that read the lane's tanh table: a ROM Yosys maps to one RAMB36E2 (one
#: in every measured lane that has them, none in the one without)
TANH_TABLE_READERS = ("drain_tanh", "dact_tanh")


def _with_table(resources: Resources, serial: bool, functions) -> Resources:
    """``resources`` with the tanh table's block RAM if the lane runs a function that
    reads it (the calibration records LUTs, FFs and DSP48E2 only)."""
    from .hw.vector import lane_operations
    table = any(f in lane_operations(serial, functions) for f in TANH_TABLE_READERS)
    return replace(resources, bram36=int(table))


def generated_lane(datapath_bits: int, word: int,
                   functions: tuple[str, ...] | None = None,
                   parallel_functions: tuple[str, ...] | None = None) -> LaneEstimate:
    """The resources of a generated lane of ``datapath_bits`` (W_INT) and ``word`` bits
    (lane 0's, and the other lanes' where such a lane was measured), built with
    ``functions`` (a design's, ``CoreConfig.functions``; None: every one), the other
    lanes with ``parallel_functions`` (``CoreConfig.parallel_functions``; None: as lane
    0's)."""
    if datapath_bits < 1 or word < 1:
        raise ValueError(f"generated_lane: datapath_bits {datapath_bits} and word {word} "
                         f"must be positive")
    points, bound = _points(True, functions)
    if not points:
        raise ValueError("resource_calibration has no lane of today's RTL (no entry with "
                         "datapath_bits): run benchmarks/calibrate_resources.py --designs "
                         "lane_u50 --merge")
    lane0, basis, measured = _nearest(points, datapath_bits, word)
    lane0 = _with_table(lane0, True, functions)
    basis += bound
    measured = measured and not bound
    if parallel_functions is None:
        parallel_functions = functions
    others, other_bound = _points(False, parallel_functions)
    if not others:
        return LaneEstimate(lane0, f"measured: {basis} (Yosys, W_INT {datapath_bits}, "
                                   f"{word}-bit word)" if measured else f"modeled: {basis}",
                            measured)
    parallel, other_basis, other_measured = _nearest(others, datapath_bits, word)
    parallel = _with_table(parallel, False, parallel_functions)
    other_basis += other_bound
    other_measured = other_measured and not other_bound
    both = measured and other_measured
    where = f" (Yosys, W_INT {datapath_bits}, {word}-bit word)" if both else ""
    return LaneEstimate(lane0, f"{'measured' if both else 'modeled'}: {basis} as lane 0, "
                               f"{other_basis} as the other lanes{where}", both, parallel)
