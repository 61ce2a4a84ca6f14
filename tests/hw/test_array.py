"""The R x C array (fixar_gen.hw.array) simulated with PyRTL FastSimulation, bit-exact
against fixar_gen.exact.matmul: shapes 1x1 .. 4x4 (non-square too), M 1..9 (odd M in
FXP16), random and extreme values, both modes and both activation flows; the cycles of
one tile against the cycle model (fixar_gen.perf); mode changes between lines,
back-to-back tiles, and the named Verilog."""

from __future__ import annotations

import io
import math
from functools import lru_cache

import numpy as np
import pyrtl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixar_gen.exact import matmul
from fixar_gen.hw.array import FLOWS, build_array, lines_of, reference, run_tile
from fixar_gen.hw.build import to_signed, to_unsigned
from fixar_gen.hw.pe import FXP16, FXP32, PRODUCT_STAGES, PEWidths
from fixar_gen.isa import MODES, Buffer, MatMul, Program, Range, Slot
from fixar_gen.numerics import FixedFormat
from fixar_gen.perf import Timing, instruction_cycles
from fixar_gen.spec import HardwareSpec, MemorySpec, Spec
from tests.conftest import examples

WIDTHS = PEWidths()                                   # W 32, H 16, A 80
W_EXTREMES = [-2**31, 2**31 - 1, 0, -1, 1]
ACT_EXTREMES = {"fxp32": [-2**31, 2**31 - 1, 0, -1, 0xFFFF, -2**16 + 0xFFFF],
                "fxp16": [-2**15, 2**15 - 1, 0, -1, 1]}
ACT_BITS = {"fxp32": 32, "fxp16": 16}


@lru_cache(maxsize=None)
def design(rows: int, cols: int, flow: str = "broadcast", widths: PEWidths = WIDTHS):
    """One elaboration per (R, C, flow, widths) for the whole module."""
    return build_array(rows, cols, widths, flow=flow)


def golden(weights, acts, mode: str) -> np.ndarray:
    """exact.matmul of the tile, as Python ints (independent of the array's packing)."""
    out = matmul(np.array(acts, dtype=np.int64), np.array(weights, dtype=np.int64),
                 ACT_BITS[mode], 32)
    return out.astype(object) if isinstance(out, np.ndarray) else out.to_python()


def signed(bits: int, extremes) -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from(extremes), st.integers(-2**(bits - 1), 2**(bits - 1) - 1))


@st.composite
def tiles(draw, max_rows=4, max_cols=4):
    rows, cols = draw(st.integers(1, max_rows)), draw(st.integers(1, max_cols))
    m = draw(st.integers(1, 9))
    mode = draw(st.sampled_from(MODES))
    weights = draw(st.lists(st.lists(signed(32, W_EXTREMES), min_size=cols, max_size=cols),
                            min_size=rows, max_size=rows))
    acts = draw(st.lists(st.lists(signed(ACT_BITS[mode], ACT_EXTREMES[mode]),
                                  min_size=rows, max_size=rows), min_size=m, max_size=m))
    return weights, acts, mode


@settings(max_examples=examples(250))
@given(tile=tiles(), flow=st.sampled_from(FLOWS), overlap=st.booleans())
def test_tile_is_exact(tile, flow, overlap):
    weights, acts, mode = tile
    run = run_tile(weights, acts, mode, design=design(len(weights), len(weights[0]), flow),
                   overlap_load=overlap)
    expected = golden(weights, acts, mode)
    np.testing.assert_array_equal(run.sums, expected)
    np.testing.assert_array_equal(reference(weights, acts, mode), expected)
    assert run.sums.shape == (len(acts), len(weights[0]))


SHAPES = [(1, 1), (1, 4), (4, 1), (2, 3), (3, 2), (4, 4)]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("rows, cols", SHAPES)
def test_extreme_tiles(rows, cols, mode):
    """All-extreme tiles: the largest sums (4 x 2**62 = 2**64 in FXP32) and sign mixes."""
    lo_w, hi_w = -2**31, 2**31 - 1
    lo_a, hi_a = -2**(ACT_BITS[mode] - 1), 2**(ACT_BITS[mode] - 1) - 1
    cases = [
        ([[lo_w] * cols] * rows, [[lo_a] * rows] * 9),                 # + max sum
        ([[lo_w] * cols] * rows, [[hi_a] * rows] * 7),                 # - max sum
        ([[[hi_w, lo_w][(r + c) % 2] for c in range(cols)] for r in range(rows)],
         [[[lo_a, hi_a, -1, 0][(m + r) % 4] for r in range(rows)] for m in range(5)]),
    ]
    for weights, acts in cases:
        run = run_tile(weights, acts, mode, design=design(rows, cols))
        np.testing.assert_array_equal(run.sums, golden(weights, acts, mode))
    assert run_tile(*cases[0], mode, design=design(rows, cols)).sums[0, 0] == rows * lo_w * lo_a


def test_fxp16_packs_two_samples_per_line():
    """Odd M in FXP16: 9 samples make 5 lines, the last line's high half is zero."""
    widths = WIDTHS
    acts = [[m * 10 + r - 20 for r in range(3)] for m in range(9)]
    lines = lines_of(acts, FXP16, widths)
    assert len(lines) == 5
    for j, line in enumerate(lines):
        for r, word in enumerate(line):
            assert to_signed(word, 16) == acts[2 * j][r]
            high = acts[2 * j + 1][r] if 2 * j + 1 < 9 else 0
            assert to_signed(word >> 16, 16) == high
    run = run_tile([[1, 2], [3, 4], [5, 6]], acts, "fxp16", design=design(3, 2))
    assert run.cycles.stream == 5
    np.testing.assert_array_equal(run.sums, golden([[1, 2], [3, 4], [5, 6]], acts, "fxp16"))


# ------------------------------------------------------------------------------ cycles

FMT = FixedFormat(32, 16)
BUFFERS = (Buffer("x", 64, 64, FMT), Buffer("w", 64, 64, FMT, kind="param"),
           Buffer("acc", 64, 64, FMT, kind="acc", acc_bits=80))


def perf_cycles(rows: int, cols: int, m: int, mode: str, timing: Timing = Timing()) -> int:
    """fixar_gen.perf's cycles for a one-tile MatMul (k = R, n = C) on an R x C array
    whose weight memory has C banks (one tile row per cycle, like the array's load port),
    without the instruction's issue cycle."""
    spec = Spec(hardware=HardwareSpec(cores=1, array=(rows, cols),
                                      memory=MemorySpec(banks=cols)))
    mm = MatMul(core=0, dst=2, a=0, b=1, mode=MODES.index(mode), m=Range(0, m),
                n=Range(0, cols), k=Range(0, rows))
    program = Program("tile", BUFFERS, (Slot("host", 64, 64),), (mm,), 1, FMT)
    return instruction_cycles(mm, program, spec, timing) - timing.issue


@pytest.mark.parametrize("flow", FLOWS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("rows, cols", [(1, 1), (1, 4), (4, 1), (2, 3), (4, 4)])
@pytest.mark.parametrize("m", [1, 2, 7])
def test_tile_cycles_against_perf_model(rows, cols, m, mode, flow):
    """Measured cycles of one tile vs fixar_gen.perf (whose tile is
    load + stream + R + C + array_extra_latency).  The stream agrees; the load agrees
    when the load is not overlapped (R cycles = ceil(R C / banks) with C banks); the
    fill/drain differs by exactly C - P (broadcast: latency R + P, P the PE's product
    registers) or 1 - P (systolic: R + P + C - 1)."""
    timing = Timing()
    weights = [[1] * cols for _ in range(rows)]
    acts = [[1] * rows for _ in range(m)]
    stream = math.ceil(m / timing.macs_per_pe[MODES.index(mode)])
    model = perf_cycles(rows, cols, m, mode)
    load = math.ceil(rows * cols / cols)
    assert model == load + stream + rows + cols + timing.array_extra_latency

    run = run_tile(weights, acts, mode, design=design(rows, cols, flow), overlap_load=False)
    assert run.cycles.load == rows == load
    assert run.cycles.stream == stream
    assert run.cycles.drain == design(rows, cols, flow).latency
    fill_drain_gap = ({"broadcast": cols, "systolic": 1}[flow] + timing.array_extra_latency
                      - PRODUCT_STAGES)
    assert model - run.cycles.total == fill_drain_gap

    overlapped = run_tile(weights, acts, mode, design=design(rows, cols, flow))
    assert overlapped.cycles.load == 1
    assert run.cycles.total - overlapped.cycles.total == rows - 1
    np.testing.assert_array_equal(overlapped.sums, run.sums)


# ------------------------------------------------------------- streams beyond one tile

def drive(design_, schedule):
    """Step a fresh simulation through ``schedule`` (a list of per-cycle input dicts
    keyed by port suffix); return [(cycle, mode, lo sums, hi sums)] of valid outputs."""
    sim = pyrtl.FastSimulation(tracer=None, block=design_.block)
    p, a = design_.port, design_.widths.acc
    idle = {"load_en": 0, "load_row": 0, "load_data": 0, "act_line": 0, "line_valid": 0,
            "line_mode": 0}
    out = []
    for cycle, inputs in enumerate(schedule + [{}] * (design_.latency + 1)):
        sim.step({p(k): v for k, v in {**idle, **inputs}.items()})
        if sim.inspect(p("out_valid")):
            lanes = [[to_signed(sim.inspect(p(f"sum_c{c}_{lane}")), a)
                      for c in range(design_.cols)] for lane in ("lo", "hi")]
            out.append((cycle, sim.inspect(p("out_mode")), *lanes))
    return out


def load_word(row, bits=32):
    return sum(to_unsigned(v, bits) << (c * bits) for c, v in enumerate(row))


def line_word(words, bits=32):
    return sum(w << (r * bits) for r, w in enumerate(words))


@given(data=st.data(), flow=st.sampled_from(FLOWS))
def test_mode_may_change_every_line(data, flow):
    """Lines of both modes interleaved without a bubble; each comes out with its mode."""
    rows, cols = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    d = design(rows, cols, flow)
    weights = data.draw(st.lists(st.lists(signed(32, W_EXTREMES), min_size=cols,
                                          max_size=cols), min_size=rows, max_size=rows))
    modes = data.draw(st.lists(st.sampled_from(MODES), min_size=1, max_size=6))
    schedule = [{"load_en": 1, "load_row": r, "load_data": load_word(weights[r])}
                for r in range(rows)]
    expected = []
    for mode in modes:
        n = 1 if mode == "fxp32" else 2
        acts = [[data.draw(signed(ACT_BITS[mode], ACT_EXTREMES[mode])) for _ in range(rows)]
                for _ in range(n)]
        (line,) = lines_of(acts, MODES.index(mode), WIDTHS)
        schedule.append({"act_line": line_word(line), "line_valid": 1,
                         "line_mode": MODES.index(mode)})
        sums = golden(weights, acts, mode)
        hi = list(sums[1]) if n == 2 else [0] * cols
        expected.append((MODES.index(mode), list(sums[0]), hi))
    out = drive(d, schedule)
    assert [o[1:] for o in out] == expected
    assert [o[0] for o in out] == [rows + i + d.latency for i in range(len(modes))]


@pytest.mark.parametrize("rows, cols, m", [(1, 1, 1), (2, 3, 2), (4, 4, 4), (4, 2, 6), (3, 3, 9)])
def test_back_to_back_tiles_without_a_bubble(rows, cols, m):
    """Broadcast flow: the next tile's row r is written in the cycle the previous tile's
    last line passes row r, one row per cycle, while that tile streams (needs M >= R):
    two tiles run in load + 2 M + R cycles, with no bubble between the streams."""
    rng = np.random.default_rng(rows * 100 + cols * 10 + m)
    d = design(rows, cols)
    tiles_ = [(rng.integers(-2**31, 2**31, (rows, cols)).tolist(),
               rng.integers(-2**31, 2**31, (m, rows)).tolist()) for _ in range(2)]
    first = 1                                          # line 0 of tile 0 enters in cycle 1
    schedule = [dict() for _ in range(first + 2 * m)]
    for t, (weights, acts) in enumerate(tiles_):
        start = first + t * m                          # the tile's first line
        for r in range(rows):                          # row r written just before line 0
            schedule[start - 1 + r].update(load_en=1, load_row=r,
                                           load_data=load_word(weights[r]))
        for j, line in enumerate(lines_of(acts, FXP32, WIDTHS)):
            schedule[start + j].update(act_line=line_word(line), line_valid=1)
    out = drive(d, schedule)
    assert [o[0] for o in out] == list(range(first + d.latency, first + d.latency + 2 * m))
    sums = [o[2] for o in out]
    np.testing.assert_array_equal(np.array(sums, dtype=object),
                                  np.concatenate([golden(w, a, "fxp32") for w, a in tiles_]))


# ------------------------------------------------------------------- errors and Verilog

def test_bad_inputs_are_refused():
    d = design(2, 2)
    with pytest.raises(ValueError, match=r"weights\[1\]\[0\]: 2147483648 is not a signed 32-bit"):
        run_tile([[0, 0], [2**31, 0]], [[0, 0]], "fxp32", design=d)
    with pytest.raises(ValueError, match="signed 16-bit"):
        run_tile([[0, 0], [0, 0]], [[2**15, 0]], "fxp16", design=d)
    with pytest.raises(ValueError, match="2 x 3 tile does not fit the 2 x 2"):
        run_tile([[0, 0, 0], [0, 0, 0]], [[0, 0]], "fxp32", design=d)
    with pytest.raises(ValueError, match="every row needs 2"):
        run_tile([[0, 0], [0, 0]], [[0, 0, 0]], "fxp32", design=d)
    with pytest.raises(ValueError, match="M >= 1"):
        run_tile([[0, 0], [0, 0]], [], "fxp32", design=d)
    with pytest.raises(ValueError, match="mode: 'fxp8'"):
        run_tile([[0, 0], [0, 0]], [[0, 0]], "fxp8", design=d)
    with pytest.raises(ValueError, match="flow 'diagonal'"):
        build_array(2, 2, flow="diagonal")


def test_run_tile_elaborates_when_no_design_is_given():
    run = run_tile([[3, -4, 5]], [[7], [-8]], FXP32, widths=PEWidths(8, 4, 16))
    np.testing.assert_array_equal(run.sums, np.array([[21, -28, 35], [-24, 32, -40]],
                                                     dtype=object))


@pytest.mark.parametrize("flow", FLOWS)
def test_verilog_of_a_2x2_array_has_the_named_wires(flow):
    d = design(2, 2, flow)
    buffer = io.StringIO()
    pyrtl.output_to_verilog(buffer, block=d.block)
    verilog = buffer.getvalue()
    assert "module toplevel" in verilog
    names = ["array_act_line", "array_line_mode", "array_load_row", "array_load_data",
             "array_sum_c0_lo", "array_sum_c1_hi", "array_out_valid", "array_out_mode",
             "array_load_r1", "array_lb_r1_d1_word", "array_lb_r1_d1_mode"]
    for r in range(2):
        for c in range(2):
            scope = f"array_pe_r{r}_c{c}"
            names += [f"{scope}_weight", f"{scope}_prod_lo", f"{scope}_prod_hi",
                      f"{scope}_prod_fxp32", f"{scope}_psum_lo", f"{scope}_psum_hi",
                      f"{scope}_mul_lo_operand"]
    if flow == "systolic":
        names += ["array_pe_r0_c0_act_out", "array_pe_r1_c0_mode_out", "array_deskew_c0_d1_lo"]
    else:
        assert "act_out" not in verilog
    missing = [n for n in names if n not in verilog]
    assert not missing, f"not in the Verilog: {missing}"
