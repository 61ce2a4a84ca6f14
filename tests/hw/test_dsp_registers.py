"""Each DSP48E2's MREG and PREG (fixar_gen.hw.dsp_registers): on hand-written Yosys
netlists whose registers are known (every rule of the module's doc broken once), then
through Yosys 0.70 on the smallest multiply (one signed 17 x 17, two registers: plain
Verilog and as PyRTL writes it; xcup packs none, xc7 both), a 2x2 PE array, one of
the vector lane's multiplies (64 x 50, its digit products registered as the lane does)
and (slow) fixar_u50's whole lane; and, without Yosys, every multiply of the PE's and
the lane's PyRTL netlists followed by two registers."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

import pyrtl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixar_gen.hw.build import Scope, fresh_block, to_signed, to_unsigned
from fixar_gen.hw.dsp_registers import PRODUCT_ONLY_OPMODE, dsp_register_flops, dsp_registers
from fixar_gen.hw.timing import analyze_module, param
from tests.hw.test_timing import Netlist

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from dsp_packing import plain_verilog, pyrtl_verilog, synthesize  # noqa: E402

# ------------------------------------------------------------------ hand-written netlists

C_OPMODE = [str((0b000110101 >> k) & 1) for k in range(9)]     # Z = C: the ALU adds C


def dsp_with_stages(bits: int, stages: int, *, packed: tuple[int, int] = (0, 0),
                    opmode=PRODUCT_ONLY_OPMODE, break_at: tuple[str, int, int] | None = None
                    ) -> dict:
    """A module: ``bits`` of a DSP48E2's P (of 48) through ``stages`` stages of FDRE (one
    clock, enable and reset), each stage's Q into the next, the last into an output
    port.  ``break_at`` = (how, stage, bit) breaks one rule at one flip-flop of that
    stage (1-based): ``lut`` (a LUT between it and its driver), ``reader`` (its D also
    read by a LUT), ``enable`` (its own clock enable), ``set`` (an FDSE),
    ``async`` (an FDCE)."""
    n = Netlist().with_clock()
    a, ce, ce2, r = (n.port(x, "input") for x in ("a", "ce", "ce2", "rst"))
    p = n.net("p", 48)
    n.cell("DSP48E2", {"A": a, "B": a, "CLK": n.clk, "OPMODE": list(opmode)}, {"P": p},
           {"MREG": format(packed[0], "032b"), "PREG": format(packed[1], "032b")})
    wires = p[:bits]
    for stage in range(1, stages + 1):
        out = []
        for i, d in enumerate(wires):
            how = break_at[0] if break_at and break_at[1:] == (stage, i) else None
            if how == "lut":
                (d,) = n.lut([d])
            if how == "reader":
                n.lut([d])
            q = n.net(f"s{stage}_{i}")
            kind = {"set": "FDSE", "async": "FDCE"}.get(how, "FDRE")
            reset = {"FDSE": "S", "FDCE": "CLR"}.get(kind, "R")
            n.cell(kind, {"D": [d], "C": n.clk, "CE": ce2 if how == "enable" else ce,
                          reset: r}, {"Q": q})
            out.append(q[0])
        wires = out
    n.module["ports"]["out"] = {"direction": "output", "bits": list(wires)}
    return n.module


@given(bits=st.integers(1, 48), stages=st.integers(0, 3))
def test_whole_stages_of_flip_flops_after_p_are_the_mreg_then_the_preg(bits, stages):
    """Catches: a stage counted past the second (PREG is the last), a third stage taken
    as a register, the flip-flops of unread P bits counted."""
    (d,) = dsp_registers(dsp_with_stages(bits, stages))
    assert (d.used_bits, d.fabric_stages) == (bits, min(stages, 2))
    assert (d.mreg, d.preg) == (stages >= 1, stages >= 2)
    assert not d.packed_mreg and not d.packed_preg and d.passes_product
    assert d.absorbed_flops == bits * min(stages, 2)


@given(bits=st.integers(1, 48), stage=st.integers(1, 2), data=st.data(),
       how=st.sampled_from(["lut", "reader", "enable", "set", "async"]))
def test_one_flip_flop_a_dsp_cannot_take_in_ends_the_stages_before_it(bits, stage, data,
                                                                       how):
    """One bit with logic before its flip-flop, a second reader, an enable of its own, a
    set or an asynchronous reset: that stage (and the ones after it) is not the DSP's.
    Catches dropping any of the rules (only load, D pin, FDRE, one control set)."""
    if how == "enable" and bits == 1:
        bits = 2                    # one flip-flop alone always has one enable
    bit = data.draw(st.integers(0, bits - 1))
    (d,) = dsp_registers(dsp_with_stages(bits, 2, break_at=(how, stage, bit)))
    assert d.fabric_stages == stage - 1
    assert (d.mreg, d.preg) == (stage == 2, False)


def test_registers_set_in_the_cell_count_and_an_alu_sum_takes_no_fabric_mreg():
    """Packed MREG and PREG count without flip-flops; a packed MREG takes the fabric
    stage as its PREG; an ALU that adds C makes the first fabric stage the PREG, not
    the MREG (catches: packed parameters ignored, OPMODE ignored)."""
    (d,) = dsp_registers(dsp_with_stages(20, 0, packed=(1, 1)))
    assert (d.mreg, d.preg, d.absorbed_flops) == (True, True, 0)
    (d,) = dsp_registers(dsp_with_stages(20, 1, packed=(1, 0)))
    assert (d.mreg, d.preg, d.fabric_mreg, d.fabric_preg, d.absorbed_flops) == \
        (True, True, False, True, 20)
    (d,) = dsp_registers(dsp_with_stages(20, 2, opmode=C_OPMODE))
    assert (d.passes_product, d.mreg, d.preg, d.absorbed_flops) == (False, False, True, 20)
    (d,) = dsp_registers(dsp_with_stages(20, 2, packed=(0, 1)))   # after the PREG: none
    assert (d.mreg, d.preg, d.absorbed_flops) == (False, True, 0)


def test_the_timing_report_counts_set_and_flip_flop_registers_apart():
    module = dsp_with_stages(8, 2)
    report = analyze_module(module, "top")
    assert (report.dsp_count, report.dsp_fully_pipelined, report.dsp_mreg_preg_or_flops) == \
        (1, 0, 1)
    targets = report.targets()
    assert not targets["dsp_mreg_preg_met"] and targets["dsp_mreg_preg_or_flops_met"]
    assert dsp_register_flops(module) == 16


# ------------------------------------------------------------------ through Yosys 0.70

@pytest.mark.slow       # two Yosys runs a case, about 20 s each case
@pytest.mark.tools
@pytest.mark.parametrize("source", ["plain", "pyrtl"])
def test_yosys_packs_the_registers_into_a_dsp48e1_but_none_into_a_dsp48e2(
        source, tmp_path, yosys_tool):
    """Yosys 0.70's limit, on the smallest case (the PE's largest digit product, 17 x 17
    signed, benchmarks/dsp_packing.py's Verilog): with ``-family xc7`` the multiply and
    its two registers are one DSP48E1 with MREG = PREG = 1 and no flip-flop; with
    ``-family xcup`` one DSP48E2 with MREG = PREG = 0 and its two registers as two
    whole stages of FDRE right after P, however the registers are written.  Fails
    when a Yosys packs DSP48E2 registers (then the flip-flop reading is no longer
    needed) or when the RTL's registers stop being absorbable."""
    verilog = plain_verilog(17, 17) if source == "plain" else pyrtl_verilog(17, 17)
    cells, module = synthesize(verilog, tmp_path / "xc7", "xc7", yosys_tool)
    (e1,) = [c for c in module["cells"].values() if c["type"] == "DSP48E1"]
    assert (param(e1, "MREG"), param(e1, "PREG")) == (1, 1)
    assert not any(k.startswith("FD") for k in cells), cells
    cells, module = synthesize(verilog, tmp_path / "xcup", "xcup", yosys_tool)
    assert cells["DSP48E2"] == 1 and cells["FDRE"] == 2 * 34
    (d,) = dsp_registers(module)
    assert (d.packed_mreg, d.packed_preg) == (False, False)
    assert (d.used_bits, d.fabric_stages, d.mreg, d.preg) == (34, 2, True, True)


@pytest.mark.slow       # 14 s of Yosys when quiet, 90 s in a loaded CI run; the default
@pytest.mark.tools      # run keeps the PyRTL check below
def test_every_dsp48e2_of_a_2x2_array_has_its_mreg_and_preg(tmp_path, yosys_tool):
    """A 2x2 PE array (fixar_u50's widths) through Yosys xcup (about 14 s): 16
    DSP48E2, each with its MREG and PREG as two whole stages of flip-flops right after
    it (none set: Yosys 0.70), and the timing report says so.  Fails if a product
    loses a register (PRODUCT_STAGES = 1: one stage) or gains logic before one."""
    from fixar_gen.hw.array import build_array
    from fixar_gen.hw.pe import PEWidths
    from fixar_gen.hw.synth import block_verilog
    verilog = block_verilog(build_array(2, 2, PEWidths(32, 16, 80), flow="broadcast").block,
                            "array_t")
    cells, module = synthesize(verilog, tmp_path, "xcup", yosys_tool, "array_t")
    regs = dsp_registers(module)
    assert len(regs) == cells["DSP48E2"] == 16
    assert all(d.mreg and d.preg and d.fabric_stages == 2 for d in regs), regs
    assert not any(d.packed_mreg or d.packed_preg for d in regs)
    assert dsp_register_flops(module) == 4 * (33 + 34 + 32 + 33) * 2     # every product bit
    report = analyze_module(module, "array_t", verilog=verilog)
    assert (report.dsp_count, report.dsp_fully_pipelined, report.dsp_mreg_preg_or_flops) == \
        (16, 0, 16)


# -------------------------------------------------------- one of the vector lane's multiplies

LANE_X, LANE_Y = 64, 50         # fixar_u50's lane: mulop_x, mulop_y (and mul2's x2 x c0)


@lru_cache(maxsize=None)
def lane_multiply_block() -> pyrtl.Block:
    """One multiplier of the vector lane in isolation, wired by the lane's own stage
    functions: its operands registered (``mulop``), the digit products of
    ``multiply.product_terms`` registered twice (``mul``, ``mulp``: the DSP48E2's MREG
    and PREG), summed in groups (``macc1``) and then the groups (``macc2``)."""
    from fixar_gen.hw.multiply import product_terms
    from fixar_gen.hw.vector import _final_sum, _group_sums, _stage, _terms
    scope = Scope("vu")
    with fresh_block() as block:
        s = _stage(scope, "mulop", {"x": pyrtl.Input(LANE_X, "x"),
                                    "y": pyrtl.Input(LANE_Y, "y")})
        terms, shifts = _terms(product_terms(s["x"], s["y"]), "ma_t")
        s = _stage(scope, "mul", terms)
        s = _stage(scope, "mulp", s)
        s = _stage(scope, "macc1", _group_sums(s, "ma_t", shifts, "ma_g", LANE_X + LANE_Y))
        s = _stage(scope, "macc2", {"ma": _final_sum(s, "ma_g", LANE_X + LANE_Y)})
        out = pyrtl.Output(LANE_X + LANE_Y, "ma")
        out <<= s["ma"]
    return block


LANE_LATENCY = 5                # mulop, mul, mulp, macc1, macc2: a product's cycles


@given(st.lists(st.tuples(st.integers(-2**63, 2**63 - 1), st.integers(-2**49, 2**49 - 1)),
                min_size=1, max_size=8))
def test_the_isolated_lane_multiply_is_the_signed_product(pairs):
    """The block the synthesis test below measures is the lane's multiply: bit-exact
    signed products, one a cycle, LANE_LATENCY cycles after their operands (catches a
    wrong term, shift or stage in the isolation)."""
    pairs += [(-2**63, -2**49), (2**63 - 1, -2**49), (-1, 2**49 - 1)]
    sim = pyrtl.FastSimulation(tracer=None, block=lane_multiply_block())
    outs = []
    for x, y in pairs + [(0, 0)] * LANE_LATENCY:
        sim.step({"x": to_unsigned(x, LANE_X), "y": to_unsigned(y, LANE_Y)})
        outs.append(to_signed(sim.inspect("ma"), LANE_X + LANE_Y))   # before the edge
    assert outs[LANE_LATENCY:] == [x * y for x, y in pairs]


@pytest.mark.slow       # 13 s of Yosys when quiet, 50 s in a CI run; the default run checks
@pytest.mark.tools      # every multiply's two registers on PyRTL (below)
def test_every_dsp48e2_of_a_lane_multiply_has_its_mreg_and_preg(tmp_path, yosys_tool):
    """The lane's 64 x 50 multiply through Yosys xcup (about 13 s): 9 DSP48E2 (26 x 17
    digit products), each with its MREG and PREG as two whole stages of flip-flops right
    after it (the first without a reset, as the lane's ``mul`` stage is written), none
    set by Yosys 0.70."""
    from fixar_gen.hw.synth import block_verilog
    verilog = block_verilog(lane_multiply_block(), "lane_mul_t")
    cells, module = synthesize(verilog, tmp_path, "xcup", yosys_tool, "lane_mul_t")
    regs = dsp_registers(module)
    assert len(regs) == cells["DSP48E2"] == 9
    assert all(d.mreg and d.preg and d.fabric_stages == 2 for d in regs), regs
    assert not any(d.packed_mreg or d.packed_preg for d in regs)


# ------------------------------------------------ the PyRTL netlists: two registers a multiply

def multiplies_without_two_registers(block: pyrtl.Block) -> list[str]:
    """The multiplies of ``block`` whose product does not go, through wires and slices
    only, into a register whose value goes (likewise) into a second one on every path:
    the MREG and PREG each multiply must have where Yosys maps it to a DSP48E2."""
    _, readers = block.net_connections()

    def registered(wire, stages: int) -> bool:
        if stages == 0:
            return True
        nets = readers.get(wire, [])
        if not nets:
            return False                # an output port, or nothing: no register
        for net in nets:
            if net.op == "r":
                if not registered(net.dests[0], stages - 1):
                    return False
            elif net.op in "ws":
                if not registered(net.dests[0], stages):
                    return False
            else:
                return False            # logic between the product and a register
        return True

    return [str(net.dests[0].name) for net in block.logic
            if net.op == "*" and not registered(net.dests[0], 2)]


def test_every_multiply_of_the_pe_and_the_vector_lane_has_its_two_registers():
    """In the PyRTL netlists of a PE and of examples/fixar_u50.yaml's vector lane, each
    multiply's product goes straight into two registers (so Yosys's xcup netlist has
    the two flip-flop stages the Yosys tests above find, and Vivado the MREG and
    PREG).  Catches a product read before its registers, e.g. the PRNG Gaussian's
    multiply written into the rounding bias in the stage it is computed (as it was)."""
    from fixar_gen import load_spec
    from fixar_gen.hw.design import config_for
    from fixar_gen.hw.pe import PEWidths, build_pe
    from fixar_gen.hw.vector import build_vector_unit
    assert multiplies_without_two_registers(build_pe(PEWidths(32, 16, 80))) == []
    root = Path(__file__).resolve().parents[2]
    cfg = config_for(load_spec(root / "examples" / "fixar_u50.yaml"))
    lane, _ = build_vector_unit(cfg.word, cfg.acc_overflow, limits=cfg.lane)
    products = [n for n in lane.logic if n.op == "*"]
    assert len(products) == 38                     # the lane's DSP48E2 (Yosys xcup)
    assert multiplies_without_two_registers(lane) == []


@pytest.mark.slow       # Yosys of a whole lane: 3.5 minutes here
@pytest.mark.tools
def test_every_dsp48e2_of_the_fixar_u50_lane_has_its_mreg_and_preg(tmp_path, yosys_tool):
    """examples/fixar_u50.yaml's vector lane through Yosys xcup: 38 DSP48E2, each with
    its MREG and PREG as the two flip-flop stages right after it (37 before the PRNG
    Gaussian's product was registered), none set."""
    from fixar_gen import load_spec
    from fixar_gen.hw.design import config_for
    from fixar_gen.hw.synth import block_verilog
    from fixar_gen.hw.vector import build_vector_unit
    cfg = config_for(load_spec(Path(__file__).resolve().parents[2] / "examples"
                               / "fixar_u50.yaml"))
    lane, _ = build_vector_unit(cfg.word, cfg.acc_overflow, limits=cfg.lane)
    cells, module = synthesize(block_verilog(lane, "lane_t"), tmp_path, "xcup", yosys_tool,
                               "lane_t")
    regs = dsp_registers(module)
    assert len(regs) == cells["DSP48E2"] == 38
    assert [r for r in regs if not (r.mreg and r.preg and r.fabric_stages == 2)] == []
    assert not any(r.packed_mreg or r.packed_preg for r in regs)


def test_every_multiply_of_a_core_with_its_lane_stood_in_has_its_two_registers():
    """The one-core design of ``bench_timing.py --designs controller`` (its lane stood
    in): the PEs' multiplies and the controller's, the operand walks' ``row0 * cols`` in
    DECODE (:func:`fixar_gen.hw.region_walk.registered_product`, five walks and the
    matrix unit's three), each go straight into two registers.  Catches a walk product
    read after one register (as it was before the ``PRODUCT`` issue cycle)."""
    from tests.hw.test_timing import controller_block
    block = controller_block()
    # Yosys makes a shift of a multiply by a power of two (the matrix unit's line and
    # tile steps, ``cols * R`` at R = 2): the DSP48E2 are the products of two wires
    products = [n for n in block.logic if n.op == "*"
                and not any(isinstance(a, pyrtl.Const) for a in n.args)]
    assert len(products) == 16             # 8 the PEs', 8 the controller's (Yosys xcup)
    assert [n for n in products
            if str(n.dests[0].name) in multiplies_without_two_registers(block)] == []
