"""The R x C adaptive array (AAP core array) of FIXAR: its generator, a build into a
fresh block with named ports, and the Python driver :func:`run_tile` that simulates one
weight-stationary tile.

What the array computes
    PE (r, c) holds the stationary ``W[r][c]``; a stream of activation *lines* enters
    the line buffer, one line per cycle, each line one activation word per PE row
    (``R * 2H`` bits: FIXAR's 512-bit line buffer is 16 words of 32 bits).  For every
    line, column ``c`` outputs ``sum_r word[r] * W[r][c]``: the partial sums run down
    the columns and the bottom row's registers are the column sums.  For a tile of a
    MatMul, line ``m`` carries ``opA[m, k0:k0 + R]`` (row ``r`` of the array is the
    tile's ``k`` index ``r``) and the sums are ``opA[m, k0:k0+R] @ W``.

FXP16 packing
    In FXP16 mode each word carries two samples of the same ``k``: the low half
    ``opA[2j, k]``, the high half ``opA[2j + 1, k]`` (line ``j``).  Each PE then makes two
    MACs a cycle, and every column outputs two sums, lane ``lo`` for sample ``2j`` and
    lane ``hi`` for sample ``2j + 1``; an odd ``M`` leaves the high half of the last line
    zero, and its ``hi`` sum (zero) is dropped.  In FXP32 mode the word is one signed
    ``2H``-bit activation, lane ``lo`` carries the sum and lane ``hi`` stays zero.  Each
    lane is ``A`` bits (the spec's ``numerics.accumulator_width``), so a column's output
    is ``2A`` bits: ``{sum_c<c>_hi, sum_c<c>_lo}``.  No saturation happens in the array
    (see :mod:`fixar_gen.hw.pe`): the accumulator width holds every sum.

Activation flow and timing (``flow``)
    ``broadcast`` (FIXAR, the default): each row's word goes to all C PEs of the row in
    the same cycle.  A PE multiplies the word in the cycle it arrives, its products
    pass ``P = pe.PRODUCT_STAGES`` (2) registers (a DSP48E2's MREG and PREG) and then
    meet the partial sums from above, which are registered at every PE; so row ``r``
    must see line ``m`` ``r`` cycles after row 0: the line buffer delays row ``r`` by
    ``r`` registers (a triangle of ``R (R - 1) / 2`` word registers, the mode bit
    travels with each word).  A line presented in cycle ``t`` has its C column sums at
    the outputs, all in the same cycle, in cycle ``t + R + P``: **latency R + P**.
    ``systolic``: the PEs pass the word (and mode) to the right through a register, so
    PE (r, c) sees line ``m`` ``r + c`` cycles after PE (0, 0); column ``c``'s sum is
    ready in cycle ``t + R + P + c`` and a deskew of ``C - 1 - c`` registers aligns the
    columns: **latency R + P + C - 1**.
    ``out_valid`` and ``out_mode`` are ``line_valid`` and ``line_mode`` delayed by the
    latency, so a consumer reads the C sums (both lanes in FXP16) whenever ``out_valid``
    is 1.  Lines may follow each other every cycle, and the mode may change from one
    line to the next.

Weight loading
    One tile row per cycle: ``load_en``, ``load_row`` (row address) and ``load_data``
    (``C * W`` bits, column ``c`` at bits ``[c W, (c + 1) W)``), written into the weight
    registers of that row at the clock edge: FIXAR's 512-bit weight memory delivers 16
    weights, a row of a 16-column array, per cycle.  A tile loads in R cycles.  Each PE
    has one weight register (no shadow copy): a row may be written once the last line
    using the old weights has passed it (the multiply reads the weight in the cycle the
    word arrives; the product registers come after it).  In the broadcast flow line
    ``m`` reaches row ``r`` in cycle ``t_m + r``, so loading row ``r`` in cycle ``t_0 + r - 1`` (one row per
    cycle, the load running one cycle ahead of the first line) overlaps the load with
    the stream: :func:`run_tile` does that by default, and back-to-back tiles would need
    no bubble when the stream of a tile lasts at least R cycles.

All wires are named ``<name>_...``: ports ``<name>_act_line``, ``<name>_line_mode``,
``<name>_line_valid``, ``<name>_load_en``, ``<name>_load_row``, ``<name>_load_data``,
``<name>_sum_c<c>_lo``/``_hi``, ``<name>_out_valid``, ``<name>_out_mode``; PEs
``<name>_pe_r<r>_c<c>_...``; line buffer ``<name>_lb_r<r>_d<i>_...``.

The golden model is :func:`reference`: ``fixar_gen.exact.matmul`` of the tile.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyrtl

from .. import exact
from ..isa import MODES
from .build import Scope, check_signed, check_width, delay, fresh_block, named, to_signed
from .pe import FXP32, PRODUCT_STAGES, PEGenerator, PEWidths, pack_word, pe

FLOWS = ("broadcast", "systolic")


def latency(rows: int, cols: int, flow: str) -> int:
    """Cycles from a line at the input to its column sums at the outputs: a cycle per
    row, plus the PE's product registers, plus the systolic flow's skew."""
    skew = 0 if flow == "broadcast" else cols - 1
    return rows + PRODUCT_STAGES + skew


def row_address_bits(rows: int) -> int:
    return max(1, (rows - 1).bit_length())


@dataclass(frozen=True)
class ArrayPorts:
    """The array's outputs: per-column sum lanes, and the line's valid and mode."""

    sums_lo: tuple[pyrtl.WireVector, ...]
    sums_hi: tuple[pyrtl.WireVector, ...]
    valid: pyrtl.WireVector
    mode: pyrtl.WireVector


def array(scope: Scope, rows: int, cols: int, widths: PEWidths, *,
          act_line: pyrtl.WireVector, line_mode: pyrtl.WireVector,
          line_valid: pyrtl.WireVector, load_en: pyrtl.WireVector,
          load_row: pyrtl.WireVector, load_data: pyrtl.WireVector,
          flow: str = "broadcast", pe_generator: PEGenerator = pe) -> ArrayPorts:
    """Elaborate the R x C array in the working block (see the module docstring)."""
    if flow not in FLOWS:
        raise ValueError(f"array {scope.prefix}: flow {flow!r} is not one of {', '.join(FLOWS)}")
    for name, value in (("rows", rows), ("cols", cols)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"array {scope.prefix}: {name} {value!r} is not an integer >= 1")
    word, w, a = widths.word, widths.weight, widths.acc
    for wire, bits, what in ((act_line, rows * word, "act_line"), (line_mode, 1, "line_mode"),
                             (line_valid, 1, "line_valid"), (load_en, 1, "load_en"),
                             (load_row, row_address_bits(rows), "load_row"),
                             (load_data, cols * w, "load_data")):
        check_width(wire, bits, f"array {scope.prefix}: {what}")

    zero = pyrtl.Const(0, a)
    above_lo, above_hi = [zero] * cols, [zero] * cols
    for r in range(rows):
        lb = scope.sub(f"lb_r{r}")
        row_word = delay(act_line[r * word:(r + 1) * word], r, lb("d{k}_word"))
        row_mode = delay(line_mode, r, lb("d{k}_mode"))
        row_load = named(load_en & (load_row == r), scope(f"load_r{r}"))
        act, mode = row_word, row_mode
        for c in range(cols):
            ports = pe_generator(scope.sub(f"pe_r{r}_c{c}"), widths, act=act, mode=mode,
                                 psum_lo=above_lo[c], psum_hi=above_hi[c], load_en=row_load,
                                 load_data=load_data[c * w:(c + 1) * w],
                                 pass_right=flow == "systolic" and c < cols - 1)
            above_lo[c], above_hi[c] = ports.psum_lo, ports.psum_hi
            if flow == "systolic" and c < cols - 1:
                act, mode = ports.act_out, ports.mode_out

    sums_lo, sums_hi = [], []
    for c in range(cols):
        skew = cols - 1 - c if flow == "systolic" else 0
        deskew = scope.sub(f"deskew_c{c}")
        sums_lo.append(delay(above_lo[c], skew, deskew("d{k}_lo")))
        sums_hi.append(delay(above_hi[c], skew, deskew("d{k}_hi")))
    steps = latency(rows, cols, flow)
    out_valid = delay(line_valid, steps, scope("valid_d{k}_valid"))
    out_mode = delay(line_mode, steps, scope("valid_d{k}_mode"))
    return ArrayPorts(tuple(sums_lo), tuple(sums_hi), out_valid, out_mode)


# ------------------------------------------------------------------------ build and ports

@dataclass(frozen=True)
class ArrayDesign:
    """An array elaborated alone in its own block, with named top-level ports."""

    block: pyrtl.Block = field(repr=False)
    rows: int
    cols: int
    widths: PEWidths
    flow: str
    name: str

    @property
    def latency(self) -> int:
        return latency(self.rows, self.cols, self.flow)

    def port(self, what: str) -> str:
        return f"{self.name}_{what}"


def build_array(rows: int, cols: int, widths: PEWidths = PEWidths(), *,
                flow: str = "broadcast", name: str = "array",
                pe_generator: PEGenerator = pe) -> ArrayDesign:
    """Elaborate an R x C array in a fresh block; its ports are PyRTL Inputs/Outputs."""
    scope = Scope(name)
    with fresh_block() as block:
        def inp(what: str, bits: int) -> pyrtl.Input:
            return pyrtl.Input(bits, name=scope(what))

        ports = array(scope, rows, cols, widths,
                      act_line=inp("act_line", rows * widths.word), line_mode=inp("line_mode", 1),
                      line_valid=inp("line_valid", 1), load_en=inp("load_en", 1),
                      load_row=inp("load_row", row_address_bits(rows)),
                      load_data=inp("load_data", cols * widths.weight),
                      flow=flow, pe_generator=pe_generator)
        for c in range(cols):
            for lane, wire in (("lo", ports.sums_lo[c]), ("hi", ports.sums_hi[c])):
                out = pyrtl.Output(widths.acc, name=scope(f"sum_c{c}_{lane}"))
                out <<= wire
        for what, wire in (("out_valid", ports.valid), ("out_mode", ports.mode)):
            out = pyrtl.Output(1, name=scope(what))
            out <<= wire
    return ArrayDesign(block, rows, cols, widths, flow, name)


# ---------------------------------------------------------------------------- the driver

@dataclass(frozen=True)
class TileCycles:
    """Cycles :func:`run_tile` simulated, from its first clock cycle to the cycle in
    which the last sums were at the outputs (inclusive)."""

    load: int      # cycles before the first line enters (the exposed part of the load)
    stream: int    # lines fed, one per cycle: M (FXP32) or ceil(M / 2) (FXP16)
    drain: int     # cycles after the last line until its sums are out (= the latency)

    @property
    def total(self) -> int:
        return self.load + self.stream + self.drain


@dataclass(frozen=True)
class TileRun:
    sums: np.ndarray       # (M, C) object array of Python ints: activations @ weights
    cycles: TileCycles


def _mode_index(mode) -> int:
    if isinstance(mode, str) and mode in MODES:
        return MODES.index(mode)
    if isinstance(mode, int) and not isinstance(mode, bool) and 0 <= mode < len(MODES):
        return mode
    raise ValueError(f"mode: {mode!r} is not one of {', '.join(MODES)} (or its index)")


def _matrix(values, what: str) -> list[list[int]]:
    rows = [list(row) for row in values]
    if rows and len({len(row) for row in rows}) != 1:
        raise ValueError(f"{what}: rows of different lengths")
    return rows


def lines_of(activations, mode: int, widths: PEWidths) -> list[list[int]]:
    """The activation words (unsigned) of each line: per line, one word per array row.
    ``activations`` is M x R (a tile's k order); FXP16 packs samples 2j, 2j+1."""
    acts = _matrix(activations, "activations")
    if mode == FXP32:
        return [[pack_word((v,), widths, mode) for v in row] for row in acts]
    lines = []
    for j in range(0, len(acts), 2):
        second = acts[j + 1] if j + 1 < len(acts) else [0] * len(acts[j])
        lines.append([pack_word((lo, hi), widths, mode) for lo, hi in zip(acts[j], second)])
    return lines


def run_tile(weights, activations, mode, *, design: ArrayDesign | None = None,
             widths: PEWidths = PEWidths(), flow: str = "broadcast",
             overlap_load: bool = True) -> TileRun:
    """Simulate one tile: ``activations (M x R) @ weights (R x C)`` on the array.

    ``design`` is reused when given (its shape must match ``weights``); otherwise one is
    elaborated with ``widths`` and ``flow``.  The weights load one row per cycle; with
    ``overlap_load`` (broadcast or systolic alike, for a single tile) the first line
    enters one cycle after the load starts, row ``r`` being written just before line 0
    reaches it; without, the stream starts after the whole load.  Simulated with
    ``pyrtl.FastSimulation`` (no tracer) in a fresh simulation of the design's block.
    """
    mode = _mode_index(mode)
    w_rows = _matrix(weights, "weights")
    if not w_rows or not w_rows[0]:
        raise ValueError("weights: the tile needs at least one row and one column")
    rows, cols = len(w_rows), len(w_rows[0])
    if design is None:
        design = build_array(rows, cols, widths, flow=flow)
    if (design.rows, design.cols) != (rows, cols):
        raise ValueError(f"weights: a {rows} x {cols} tile does not fit the "
                         f"{design.rows} x {design.cols} design")
    widths = design.widths
    acts = _matrix(activations, "activations")
    if any(len(row) != rows for row in acts):
        raise ValueError(f"activations: every row needs {rows} values (the tile's k)")
    n_samples = len(acts)
    if n_samples == 0:
        raise ValueError("activations: the stream needs at least one row (M >= 1)")
    lines = lines_of(acts, mode, widths)

    word_mask = (1 << widths.word) - 1
    weight_mask = (1 << widths.weight) - 1
    load_words = [sum((check_signed(v, widths.weight, f"weights[{r}][{c}]") & weight_mask)
                      << (c * widths.weight) for c, v in enumerate(row))
                  for r, row in enumerate(w_rows)]
    line_words = [sum((word & word_mask) << (r * widths.word) for r, word in enumerate(line))
                  for line in lines]

    p = design.port
    first_line = 1 if overlap_load else rows
    last_cycle = first_line + len(lines) + design.latency + 1     # a bound, not the answer
    sim = pyrtl.FastSimulation(tracer=None, block=design.block)
    outputs: list[tuple[list[int], list[int]]] = []
    cycle = 0
    while len(outputs) < len(lines):
        if cycle > last_cycle:
            raise RuntimeError(f"run_tile: {len(outputs)} of {len(lines)} lines came out "
                               f"after {cycle} cycles (latency {design.latency})")
        loading = cycle < rows
        index = cycle - first_line
        streaming = 0 <= index < len(lines)
        sim.step({p("load_en"): int(loading), p("load_row"): cycle if loading else 0,
                  p("load_data"): load_words[cycle] if loading else 0,
                  p("act_line"): line_words[index] if streaming else 0,
                  p("line_valid"): int(streaming), p("line_mode"): mode})
        cycle += 1
        if sim.inspect(p("out_valid")):
            if sim.inspect(p("out_mode")) != mode:
                raise RuntimeError("run_tile: out_mode differs from the line's mode")
            outputs.append(([to_signed(sim.inspect(p(f"sum_c{c}_lo")), widths.acc)
                             for c in range(cols)],
                            [to_signed(sim.inspect(p(f"sum_c{c}_hi")), widths.acc)
                             for c in range(cols)]))

    sums = np.empty((n_samples, cols), dtype=object)
    for j, (lo, hi) in enumerate(outputs):
        if mode == FXP32:
            sums[j] = lo
        else:
            sums[2 * j] = lo
            if 2 * j + 1 < n_samples:
                sums[2 * j + 1] = hi
    cycles = TileCycles(load=first_line, stream=len(lines),
                        drain=cycle - first_line - len(lines))
    return TileRun(sums, cycles)


# ---------------------------------------------------------------------------- golden model

def reference(weights, activations, mode, widths: PEWidths = PEWidths()) -> np.ndarray:
    """The exact ``activations @ weights`` the array computes, as Python ints (M x C,
    object array); the packing into FXP16 words does not change the sums."""
    mode = _mode_index(mode)
    a_bits = widths.word if mode == FXP32 else widths.half
    a = np.array(_matrix(activations, "activations"), dtype=np.int64)
    b = np.array(_matrix(weights, "weights"), dtype=np.int64)
    result = exact.matmul(a, b, a_bits, widths.weight)
    if isinstance(result, np.ndarray):
        return result.astype(object)
    return result.to_python()
