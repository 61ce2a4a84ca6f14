"""The analytic resource model: LUTs, flip-flops, DSP48E2 slices, BRAM36 and URAM of a
spec's accelerator, and whether it fits its target board.

It owns :func:`estimate_resources` (a :class:`ResourceReport`: the parts, the memory
placement and the totals) and :func:`check_fit` (the spec validation of a board
target).  The model is a sum of parts, per core:

PE array (calibrated)
    ``LUT, FF = a * R * C + b * R + c * C + d``, the four coefficients a least-squares
    fit to Yosys ``synth_xilinx -family xcup`` runs of PE arrays at FIXAR's widths
    (W 32, H 16, A 80), measured by benchmarks/calibrate_resources.py into
    :mod:`fixar_gen.resource_calibration`.  ``b`` and ``c`` carry the edges: the top
    row adds to constant zeros, and the line buffer's skew registers grow with R.  For
    other widths the fit is scaled by the PE's adder bits (LUTs: ``2A + W + 2H``) and
    register bits (FFs: ``W + 2A``) over the calibrated ones.  DSP48E2: ``R * C *
    boards.dsps_per_pe`` (4 at FIXAR's widths, which the same Yosys runs confirm).

Vector unit and controller (documented constants, until the full core synthesizes)
    ``hardware.vector_lanes`` lanes per core (L, ``perf``'s lanes; by default one per
    array column), each :data:`VECTOR_LANE` in the design-space model, or, for a
    generated design (``fixar estimate``), the generated lane's model for the spec
    (:mod:`fixar_gen.lane_resources`);
    one controller per core (:data:`CONTROLLER`: instruction fetch and decode, the
    address generators, the host DMA engine, the inter-core link; for a generated
    design a core's and a lane's, measured on one core of fixar_u50 with its operand
    paths, :func:`generated_controller`) and its drains'
    write-back fold (:data:`WRITE_BACK_FOLD_PER_LANE`, measured, per lane).  The constants are
    engineering estimates written down with their reasoning next to them; the lane's
    8 DSP48E2 agree with FIXAR's published total (2,302 DSPs = 2,048 in the PEs + 254
    for 32 lanes).

Memories (the generated inventory, or the spec's memory sizes)
    ``fixar estimate`` counts the generated design's own RAMs
    (:func:`fixar_gen.hw.inventory.memory_inventory`), each as block RAM (BRAM36 and
    URAM288 banks for its width).  Without an inventory (design-space sweeps, the
    spec's own fit check) the model is FIXAR's per-kind organisation; per core: the
    weight memory (online + target parameters, ``banks`` words wide), the
    gradient/optimizer-state memory (one word per vector lane per cycle: L words wide),
    the activation memory (one word per array row per cycle: the line buffer's feed) and
    the accumulator (``C`` columns x two ``A``-bit lanes, one row per streamed sample,
    as deep as the batch).  Sizes are ``Spec.memory_needs()`` or the spec's explicit
    ``hardware.memory`` sizes when larger.  A memory of ``width x depth`` bits costs
    ``ceil(width / w) * ceil(depth / d)`` primitives, with the best BRAM36 aspect ratio
    (32Kx1 ... 512x72) or URAM288's 4Kx72 (UG573).  Each memory goes where it takes the
    smaller fraction of the board's BRAM or URAM; when one kind overflows the usable
    budget, whole memories move to the other while it has room.

Fit
    Every resource against ``Board.usable``: the board's capacity times
    ``usable_fraction`` (0.85 for the U50), the margin left for the Vitis shell.  The
    U50 shell (``xilinx_u50_gen3x16_xdma_5_202210_1``) is listed with fixed resources
    of about 112.8K LUTs (12.9%), 142.9K FFs (8.2%), 179.5 BRAM36 (13.4%), 4 URAM and
    4 DSPs in public platform tables of HLS floorplanning tools (``platforminfo`` on a
    Vitis install reports it; not checked here): 15% covers the shell on every
    resource, with least headroom on BRAM and LUTs.

Figures are modeled, not measured on a Vivado implementation; docs/dse.md says how far
the model is from the calibration runs and from FIXAR's published utilisation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import cache
from typing import TYPE_CHECKING

from .boards import BOARDS, U50, Board, dsps_per_pe
from .params import SpecError

if TYPE_CHECKING:
    from .hw.inventory import Inventory
    from .lane_resources import LaneEstimate
    from .spec import Spec

RESOURCES = ("luts", "ffs", "dsps", "bram36", "uram")      # Board's attribute names
LABELS = {"luts": "LUT", "ffs": "FF", "dsps": "DSP", "bram36": "BRAM36", "uram": "URAM"}
MEMORY_KINDS = ("bram36", "uram")


@dataclass(frozen=True)
class Resources:
    """A count of each FPGA resource."""

    luts: int = 0
    ffs: int = 0
    dsps: int = 0
    bram36: int = 0
    uram: int = 0

    def __add__(self, other: "Resources") -> "Resources":
        return Resources(*(getattr(self, r) + getattr(other, r) for r in RESOURCES))

    def times(self, n: int) -> "Resources":
        return Resources(*(getattr(self, r) * n for r in RESOURCES))

    def as_dict(self) -> dict[str, int]:
        return {r: getattr(self, r) for r in RESOURCES}

    def __str__(self) -> str:
        return ", ".join(f"{getattr(self, r):,} {LABELS[r]}" for r in RESOURCES)


# ------------------------------------------------------------------ documented constants

#: One vector-unit lane (32-bit datapath, every function of ``isa.VECTOR_FUNCTIONS``):
#: two pipelined 32x32 multipliers (Adam's moments, the Bellman target, noise and
#: soft-update products: 4 DSP48E2 each, ``boards.dsps_per_multiplier(32, 32)``); the
#: unrolled 32-bit square root (``adam_s``, ~32 stages of a 40-bit add/subtract and
#: mux: ~1,300 LUT, ~2,200 FF) and divider (``adam_w``, ~32 stages of 64 bits: ~2,100
#: LUT, ~3,000 FF); the drain's 80 -> 32-bit rounding and saturation, bias add,
#: activations and their derivatives, range monitor and PRNG (~2,100 LUT, ~800 FF).
VECTOR_LANE = Resources(luts=5_500, ffs=6_000, dsps=8)


#: How the design-space model counts a lane (the report's ``lane_basis``).
FIXAR_LANE_BASIS = "FIXAR's lane (VECTOR_LANE, the design-space model)"

#: The drains' write-back fold (a range monitor after its drain folded from the lanes'
#: results: :func:`fixar_gen.hw.core._write_back_folds`), per vector lane: measured,
#: Yosys 0.70 ``synth_xilinx -family xcup`` of ``build_write_back_folds(16, 32, 82)``
#: (fixar_u50's 16 lanes and 32-bit data) 3,705 LUT and 2,108 FF, a 16th of each (the
#: lane's pair of registers and compares and a node of the tree; BENCHMARKS.md, "The
#: range monitors folded into the drain's write-back")
WRITE_BACK_FOLD_PER_LANE = Resources(luts=232, ffs=132)

#: One core's controller in the design-space model (FIXAR's organisation, an engineering
#: estimate): instruction memory and decode, the buffer address generators, the host
#: DMA engine (a 512-bit AXI4 master with its burst logic and FIFOs), the inter-core
#: link and barrier logic.  2 BRAM36 of instructions, 4 of DMA FIFOs, 2 of link FIFOs.
CONTROLLER = Resources(luts=20_000, ffs=30_000, bram36=8)
#: One core's controller in the generated design (``fixar estimate``, with the
#: generated memory inventory): the same, with the element loop's and the matrix
#: unit's operand paths.  Its LUTs, with :data:`GENERATED_CONTROLLER_PER_LANE`, are
#: measured: one core of examples/fixar_u50.yaml
#: (``bench_timing.elaborate("u50core")``: lanes and PEs stood in) through Yosys 0.23
#: ``synth_xilinx -family xcup`` at 16 and at 8 lanes, 247,263 and 204,237 LUT, less
#: the stand-ins' logic (9,404 and 8,675 LUT reaching their registers), scaled to Yosys
#: 0.70 (the calibration's tool) by the banked memories' harnesses (122,702 LUT in
#: 0.23 against 112,781: 1.088), less the parts the model counts on their own (the line
#: ports, smem's flip-flops, the write-back folds: 135,662 and 130,104): 82,959 and
#: 49,640 LUT, a line through the two (BENCHMARKS.md, "The controller measured").  Its
#: FFs and block RAM are :data:`CONTROLLER`'s estimate (the DMA engine's are not in the
#: measured core).
GENERATED_CONTROLLER = Resources(luts=16_320, ffs=CONTROLLER.ffs, bram36=CONTROLLER.bram36)
#: The generated controller's LUTs per vector lane of its core: each lane's operand
#: words chosen among the memories, its start, write-back and fold (measured with
#: :data:`GENERATED_CONTROLLER`).  These two are a design whose lanes' operands choose
#: among every memory (``hardware.vector_functions: all``), measured before the matrix
#: unit's accumulation was registered (session 27).
GENERATED_CONTROLLER_PER_LANE = Resources(luts=4_165)
#: The same for a design built for its programs (``hardware.vector_functions:
#: programs``: each lane operand's memories those the programs name,
#: ``CoreConfig.operand_memories``), with the accumulation's registers: the same core
#: and method at 16 and at 8 lanes, 200,608 and 172,023 LUT in Yosys 0.23, less the
#: stand-ins' logic (9,511 and 8,633), / 1.088, less the modeled parts (114,138 +
#: 15,667 + 3,712 and 110,436 + 15,667 + 1,856): 42,124 and 22,216 LUT, a line through
#: the two (BENCHMARKS.md, "The matrix unit's accumulation registered").
GENERATED_CONTROLLER_PROGRAMS = Resources(luts=2_308, ffs=CONTROLLER.ffs,
                                          bram36=CONTROLLER.bram36)
GENERATED_CONTROLLER_PROGRAMS_PER_LANE = Resources(luts=2_489)


def generated_controller(vector_functions: str) -> tuple[Resources, Resources]:
    """(a core's, each lane's) controller of a generated design whose lanes are built
    with ``vector_functions`` (``all`` or ``programs``), as measured."""
    if vector_functions == "programs":
        return GENERATED_CONTROLLER_PROGRAMS, GENERATED_CONTROLLER_PROGRAMS_PER_LANE
    return GENERATED_CONTROLLER, GENERATED_CONTROLLER_PER_LANE

#: FIXAR's published utilisation (DAC 2021) at its design point, 2 cores x 16x16 on the
#: U50, for comparison (it may or may not include the shell; the paper does not say).
FIXAR_PUBLISHED = Resources(luts=508_000, ffs=409_000, dsps=2_302, bram36=774, uram=128)

# UG573: BRAM36 aspect ratios (width, depth) and URAM288's one
BRAM36_SHAPES = ((1, 32_768), (2, 16_384), (4, 8_192), (9, 4_096), (18, 2_048), (36, 1_024),
                 (72, 512))
URAM_SHAPE = (72, 4_096)


def bram36_count(width: int, depth: int) -> int:
    """BRAM36 primitives for a ``width``-bit, ``depth``-word memory (best aspect)."""
    if width <= 0 or depth <= 0:
        return 0
    return min(math.ceil(width / w) * math.ceil(depth / d) for w, d in BRAM36_SHAPES)


def uram_count(width: int, depth: int) -> int:
    """URAM288 primitives (4K x 72) for a ``width``-bit, ``depth``-word memory."""
    if width <= 0 or depth <= 0:
        return 0
    w, d = URAM_SHAPE
    return math.ceil(width / w) * math.ceil(depth / d)


# ------------------------------------------------------------------------- calibration

@dataclass(frozen=True)
class ArrayFit:
    """``a * R * C + b * R + c * C + d`` for one resource of an R x C PE array."""

    per_pe: float
    per_row: float
    per_col: float
    const: float

    def __call__(self, rows: int, cols: int) -> float:
        return self.per_pe * rows * cols + self.per_row * rows + self.per_col * cols + self.const


def _measured_arrays() -> list[dict]:
    from .resource_calibration import MEASURED
    return [m for m in MEASURED if m["design"] == "array"]


@cache
def array_fits() -> dict[str, ArrayFit]:
    """The least-squares fit of LUTs and FFs to the calibration arrays."""
    import numpy as np

    arrays = _measured_arrays()
    if len(arrays) < 4:
        raise RuntimeError("fixar_gen/resource_calibration.py holds fewer than 4 arrays; "
                           "rerun benchmarks/calibrate_resources.py")
    basis = np.array([[m["rows"] * m["cols"], m["rows"], m["cols"], 1.0] for m in arrays])
    out = {}
    for resource in ("luts", "ffs"):
        target = np.array([m[resource] for m in arrays], dtype=float)
        coef = np.linalg.lstsq(basis, target, rcond=None)[0]
        out[resource] = ArrayFit(*(float(c) for c in coef))
    return out


def calibration_widths() -> tuple[int, int, int]:
    from .resource_calibration import WIDTHS
    return WIDTHS["weight"], WIDTHS["half"], WIDTHS["acc"]


def calibration_table() -> list[str]:
    """Model against every calibration run, as printable lines."""
    from .resource_calibration import MEASURED, TOOL
    fits = array_fits()
    lines = [f"calibration: {TOOL}, synth_xilinx -family xcup; fit "
             + "; ".join(f"{LABELS[r]} = {f.per_pe:.1f} RC {f.per_row:+.1f} R "
                         f"{f.per_col:+.1f} C {f.const:+.1f}" for r, f in fits.items())]
    for m in MEASURED:
        if m["design"] == "pe":
            lines.append(f"  PE alone (activation passed right): {m['luts']} LUT, "
                         f"{m['ffs']} FF, {m['dsps']} DSP48E2 (not in the fit)")
            continue
        if m["design"].startswith("lane") and "datapath_bits" not in m:
            lines.append(f"  history, not a calibration point: the vector lane before it was "
                         f"sized from the spec (always the widest, {m['design'][4:]}-bit "
                         f"word): {m['luts']:,} LUT, {m['ffs']:,} FF, {m['dsps']} DSP48E2")
            continue
        if m["design"].startswith("lane"):
            what = {"lane_u50": "examples/fixar_u50.yaml's lane, a core's lane 0",
                    "lane_u50_parallel": "examples/fixar_u50.yaml's lane, a core's other "
                                         "lanes: no serial functions",
                    "lane_u50_programs": "examples/fixar_u50.yaml's lane 0 with its "
                                         "programs' functions only",
                    "lane_u50_programs_parallel": "examples/fixar_u50.yaml's other lanes "
                                                  "with its programs' functions only",
                    "lane_u50_1core_programs": "examples/fixar_u50.yaml on one core, lane 0 "
                                               "with its programs' functions",
                    "lane_u50_1core_programs_parallel": "examples/fixar_u50.yaml on one "
                                                        "core, its other lanes with its "
                                                        "programs' functions"}.get(
                m["design"], f"the widest lane, {m['word']}-bit word")
            lines.append(f"  the generator's vector lane ({what}, W_INT "
                         f"{m['datapath_bits']}, {m['word']}-bit word): {m['luts']:,} LUT, "
                         f"{m['ffs']:,} FF, {m['dsps']} DSP48E2 (`fixar estimate` of a "
                         f"generated design counts it for a lane of this W_INT and word, "
                         f"scaled by W_INT for others: fixar_gen/lane_resources.py; the "
                         f"design-space model counts FIXAR's lane, {VECTOR_LANE.luts:,} LUT, "
                         f"{VECTOR_LANE.ffs:,} FF, {VECTOR_LANE.dsps} DSP48E2)")
            continue
        row = []
        for r, f in fits.items():
            model = f(m["rows"], m["cols"])
            row.append(f"{LABELS[r]} {m[r]:,} measured, {model:,.0f} model "
                       f"({(model - m[r]) / m[r]:+.1%})")
        lines.append(f"  {m['rows']}x{m['cols']}: " + "; ".join(row)
                     + f"; DSP {m['dsps']} ({m['dsps'] / (m['rows'] * m['cols']):g} per PE)")
    return lines


# ---------------------------------------------------------------------------- the model

@dataclass(frozen=True)
class Memory:
    """One on-chip memory of one core and where the model places it."""

    core: int
    name: str            # weight | state | activation | accumulator
    width: int           # bits read or written per cycle
    depth: int           # words of ``width`` bits
    kind: str            # bram36 | uram
    count: int           # primitives of ``kind``

    @property
    def bits(self) -> int:
        return self.width * self.depth

    def moved(self) -> "Memory":
        kind = "uram" if self.kind == "bram36" else "bram36"
        count = (uram_count if kind == "uram" else bram36_count)(self.width, self.depth)
        return replace(self, kind=kind, count=count)


@dataclass(frozen=True)
class Fit:
    """The totals against a board's usable resources."""

    board: str
    usable: Resources
    usable_fraction: float

    def over(self, total: Resources) -> list[str]:
        return [r for r in RESOURCES if getattr(total, r) > getattr(self.usable, r)]

    def fraction(self, total: Resources) -> dict[str, float]:
        return {r: getattr(total, r) / getattr(self.usable, r) if getattr(self.usable, r)
                else math.inf for r in RESOURCES}


@dataclass(frozen=True)
class ResourceReport:
    cores: int
    array: tuple[int, int]
    parts: tuple[tuple[str, Resources], ...]     # whole design, per part
    memories: tuple[Memory, ...]
    total: Resources
    fit: Fit | None                              # None: no board (sim target)
    scaled: bool                                 # widths differ from the calibration's
    #: "modeled": the per-kind memories the spec declares; "generated": the generated
    #: design's inventory as block RAM
    memory_source: str = "modeled"
    #: how one vector lane was counted (FIXAR's, or the generated lane's model)
    lane_basis: str = FIXAR_LANE_BASIS

    @property
    def fits(self) -> bool:
        return self.fit is None or not self.fit.over(self.total)

    def problems(self) -> list[str]:
        """'URAM 700 > 544 usable', one per resource over the budget."""
        if self.fit is None:
            return []
        return [f"{LABELS[r]} {getattr(self.total, r)} > {getattr(self.fit.usable, r)} "
                f"usable" for r in self.fit.over(self.total)]

    def as_dict(self) -> dict:
        out: dict = {"total": self.total.as_dict(),
                     "parts": {name: res.as_dict() for name, res in self.parts},
                     "memories": [{"core": m.core, "name": m.name, "width_bits": m.width,
                                   "depth": m.depth, "kind": m.kind, "count": m.count}
                                  for m in self.memories if m.core == 0],
                     "memory_source": self.memory_source,
                     "lane_basis": self.lane_basis,
                     "calibrated_widths": not self.scaled, "modeled": True}
        if self.fit is not None:
            out["fit"] = {"board": self.fit.board, "usable_fraction": self.fit.usable_fraction,
                          "usable": self.fit.usable.as_dict(),
                          "utilization": {r: round(v, 4) for r, v in
                                          self.fit.fraction(self.total).items()},
                          "fits": self.fits, "problems": self.problems()}
        return out


def _usable(board: Board) -> Resources:
    return Resources(*(board.usable(r) for r in RESOURCES))


def _array(spec: "Spec") -> tuple[Resources, bool]:
    """One core's PE array (with its line buffer) and whether widths were scaled."""
    rows, cols = spec.hardware.array
    n = spec.numerics
    w, h, a = n.weight.width, n.activation.width // 2, n.accumulator_width
    cw, ch, ca = calibration_widths()
    lut_scale = (2 * a + w + 2 * h) / (2 * ca + cw + 2 * ch)
    ff_scale = (w + 2 * a) / (cw + 2 * ca)
    fits = array_fits()
    res = Resources(luts=math.ceil(fits["luts"](rows, cols) * lut_scale),
                    ffs=math.ceil(fits["ffs"](rows, cols) * ff_scale),
                    dsps=rows * cols * dsps_per_pe(w, h))
    return res, (w, h, a) != (cw, ch, ca)


def _memory_shapes(spec: "Spec", lanes: int) -> list[tuple[str, int, int]]:
    """(name, width bits, depth) of each memory of one core of ``lanes`` vector lanes."""
    hw, n = spec.hardware, spec.numerics
    rows, cols = hw.rows, hw.cols
    need = spec.memory_needs()            # bytes per core
    given = hw.memory

    def words(key: str, word_bits: int) -> int:
        size = need[key]
        explicit = getattr(given, key)
        if explicit is not None:
            size = max(size, explicit * 1024)
        return math.ceil(size / math.ceil(word_bits / 8))

    state_bits = max(n.gradient.width, n.weight.width)
    shapes = [
        ("weight", hw.memory.banks * n.weight.width,
         math.ceil(words("weight_kib", n.weight.width) / hw.memory.banks)),
        ("state", lanes * state_bits, math.ceil(words("state_kib", state_bits) / lanes)),
        ("activation", rows * n.activation.width,
         math.ceil(words("activation_kib", n.activation.width) / rows)),
        ("accumulator", cols * 2 * n.accumulator_width, spec.algorithm.batch_size),
    ]
    return shapes


def _place(shapes: list[tuple[str, int, int]], cores: int, fixed_bram: int,
           board: Board | None) -> list[Memory]:
    """Every core's memories in BRAM36 or URAM (see the module doc): each where it takes
    the smaller fraction of the board (the U50's capacities when there is no board),
    then, on a board, whole memories move out of a kind that overflows."""
    ref = board or U50
    memories = []
    for core in range(cores):
        for name, width, depth in shapes:
            b, u = bram36_count(width, depth), uram_count(width, depth)
            prefer_uram = u / ref.uram < b / ref.bram36 if ref.uram else False
            kind, count = ("uram", u) if prefer_uram else ("bram36", b)
            memories.append(Memory(core, name, width, depth, kind, count))
    if board is None:
        return memories
    usable = {"bram36": board.usable("bram36") - fixed_bram, "uram": board.usable("uram")}

    def used(kind: str) -> int:
        return sum(m.count for m in memories if m.kind == kind)

    for _ in range(len(memories)):
        over = [k for k in MEMORY_KINDS if used(k) > usable[k]]
        if not over:
            break
        source = over[0]
        target = "uram" if source == "bram36" else "bram36"
        room = usable[target] - used(target)
        candidates = [(i, m.moved()) for i, m in enumerate(memories)
                      if m.kind == source and m.moved().count <= room]
        if not candidates:
            break
        # the memory that frees the most of the overflowing kind (the last core first)
        i, moved = max(candidates, key=lambda c: (memories[c[0]].count, c[0]))
        memories[i] = moved
    return memories


def _generated_memories(inventory: "Inventory", board: Board | None) -> list[Memory]:
    """The generated design's RAMs (:mod:`fixar_gen.hw.inventory`) as block RAM, one
    entry per primitive kind a memory's banks use (shared memories on core 0, a core's
    own copy on that core), placed
    in BRAM36 and URAM together as the memory fit check places them
    (:func:`fixar_gen.hw.inventory.joint_block_ram_plan` against ``board``'s usable
    ones, the U50's when there is no board)."""
    from .hw.inventory import joint_block_ram_plan

    ref = board or U50
    plan = joint_block_ram_plan(inventory.memories, ref.usable("bram36"), ref.usable("uram"))
    out = []
    for m, (bram, uram) in zip(inventory.memories, plan):
        for core in range(m.copies):
            for kind, count in (("bram36", bram // m.copies), ("uram", uram // m.copies)):
                if count:
                    out.append(Memory(core if m.core is None else m.core, m.name, m.width,
                                      m.depth, kind, count))
    return out


def estimate_resources(spec: "Spec", cores: int | None = None,
                       board: Board | None = None,
                       inventory: "Inventory | None" = None,
                       lane: "LaneEstimate | None" = None,
                       lanes: int | None = None) -> ResourceReport:
    """The resource model of ``spec`` (with ``cores`` cores and ``lanes`` vector lanes
    per core if given), checked against
    ``board`` (default: the spec's target board; none for ``sim``).  Memories: the
    generated design's ``inventory`` as block RAM when given (``fixar estimate``
    passes :func:`fixar_gen.memory_fit.generated_inventory`), else the per-kind
    memories the spec declares (the design-space model).  Vector lanes: ``lane`` when
    given (``fixar estimate`` passes the generated lane's model for the spec,
    :func:`fixar_gen.lane_resources.generated_lane`), else FIXAR's
    :data:`VECTOR_LANE`."""
    hw = spec.hardware
    cores = hw.cores if cores is None else cores
    if board is None:
        board = BOARDS.get(spec.target)
    array, scaled = _array(spec)
    lanes = hw.lanes if lanes is None else lanes
    units = (VECTOR_LANE.times(lanes * cores) if lane is None
             else lane.vector_units(lanes, cores))
    per_core, per_lane = generated_controller(hw.vector_functions)
    parts = [("PE arrays", array.times(cores)),
             ("vector units", units),
             ("controllers", CONTROLLER.times(cores) if inventory is None
              else per_core.times(cores) + per_lane.times(lanes * cores)),
             ("drains' write-back folds", WRITE_BACK_FOLD_PER_LANE.times(lanes * cores))]
    fixed_bram = CONTROLLER.bram36 * cores
    if inventory is not None:
        memories = _generated_memories(inventory, board)
        parts.append(("memory line ports", Resources(luts=inventory.port_luts)))
        luts, ffs = inventory.flip_flop_resources
        parts.append(("flip-flop memories", Resources(luts=luts, ffs=ffs)))
    else:
        memories = _place(_memory_shapes(spec, lanes), cores, fixed_bram, board)
    memory_total = Resources(bram36=sum(m.count for m in memories if m.kind == "bram36"),
                             uram=sum(m.count for m in memories if m.kind == "uram"))
    parts.append(("memories", memory_total))
    total = Resources()
    for _, res in parts:
        total = total + res
    fit = None if board is None else Fit(board.name, _usable(board), board.usable_fraction)
    return ResourceReport(cores, tuple(hw.array), tuple(parts), tuple(memories), total,
                          fit, scaled, "generated" if inventory is not None else "modeled",
                          FIXAR_LANE_BASIS if lane is None else lane.basis)


def max_cores(spec: "Spec", board: Board) -> int:
    """The most cores of the spec's array and networks that fit ``board`` (0: none)."""
    best = 0
    for cores in range(1, spec.hardware.cores + 1):
        if not estimate_resources(spec, cores, board).fits:
            break
        best = cores
    return best


def max_lanes(spec: "Spec", board: Board) -> int:
    """The most vector lanes per core (up to the spec's) with which the spec's cores fit
    ``board`` (0: not even one lane)."""
    best = 0
    for lanes in range(1, spec.hardware.lanes + 1):
        if not estimate_resources(spec, board=board, lanes=lanes).fits:
            break
        best = lanes
    return best


def check_fit(spec: "Spec") -> None:
    """Raise :class:`SpecError` if the spec's target board cannot hold the design."""
    board = BOARDS.get(spec.target)
    if board is None:
        return
    report = estimate_resources(spec, board=board)
    if report.fits:
        return
    hw = spec.hardware
    lanes = max_lanes(spec, board) if hw.vector_lanes is not None else 0
    if lanes:
        raise SpecError("hardware.vector_lanes", f"{hw.lanes} vector lanes per core do not "
                        f"fit the {board.name} with {hw.cores} cores x {hw.rows}x{hw.cols} "
                        f"PEs after the shell margin: {', '.join(report.problems())} (at "
                        f"most {lanes}; `fixar estimate` shows the parts)",
                        also=("hardware.cores", "hardware.array"))
    fewer = max_cores(spec, board)
    if fewer:
        field, allowed = "hardware.cores", (f"at most {fewer} core{'s' * (fewer > 1)} of "
                                            f"{hw.rows}x{hw.cols} PEs with these networks")
        also = ("hardware.array",)
    else:
        field, allowed = "hardware.array", ("not even one core of this size fits: a smaller "
                                            "array or smaller networks")
        also = ("hardware.cores",)
    raise SpecError(field, f"{hw.cores} cores x {hw.rows}x{hw.cols} PEs do not fit the "
                    f"{board.name} after the shell margin: {', '.join(report.problems())} "
                    f"({allowed}; `fixar estimate` shows the parts)", also=also)
