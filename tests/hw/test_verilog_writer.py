"""Registers without reset (fixar_gen.hw.build.data_register) and the Verilog writer that
honours them (fixar_gen.hw.verilog_writer): only the registers made so that feed nothing
but other registers lose their reset branch (the last register of a delay line, read by
logic or an output, keeps it and stays a flip-flop), a block without any is written
exactly as PyRTL writes it, the vector lane's valid bits keep theirs, Yosys maps a
reset-less delay line to shift registers (marker ``tools``), and Verilator matches
PyRTL on it, before and after a reset."""

from __future__ import annotations

import io
import random
import re

import pyrtl
import pytest

from fixar_gen.hw.build import delay, fresh_block, reset_less_names
from fixar_gen.hw.synth import block_verilog, cell_counts
from fixar_gen.hw.vector import VALID_KEYS, build_vector_unit
from fixar_gen.hw.verilate import emit_verilog
from fixar_gen.hw.verilog_writer import write_verilog

DEPTH = 20


def delay_line(reset: bool) -> pyrtl.Block:
    """An 8-bit value and its valid bit through DEPTH registers; the value's registers
    reset-less unless ``reset``."""
    with fresh_block() as block:
        valid_in, data_in = pyrtl.Input(1, "valid_in"), pyrtl.Input(8, "data_in")
        valid_out, data_out = pyrtl.Output(1, "valid_out"), pyrtl.Output(8, "data_out")
        valid_out <<= delay(valid_in, DEPTH, "v_d{k}")
        data_out <<= delay(data_in, DEPTH, "x_d{k}", reset=reset)
    return block


def reset_branch(verilog: str) -> str:
    """The text of the ``if (rst)`` branch."""
    match = re.search(r"if \(rst\) begin\n(.*?)\n\s*end else begin", verilog, re.S)
    return match.group(1) if match else ""


def test_only_data_registers_lose_their_reset():
    block = delay_line(reset=False)
    # the last one drives the output: it keeps its reset (a flip-flop, not an SRL's end)
    assert reset_less_names(block) == {f"x_d{k}" for k in range(1, DEPTH)}
    text = write_verilog(block, "line")
    branch = reset_branch(text)
    for k in range(1, DEPTH + 1):
        assert re.search(rf"\bv_d{k} <= 1'd0;", branch)
        assert (f"x_d{k} " in branch) == (k == DEPTH)
        assert len(re.findall(rf"\bx_d{k} <= ", text)) == (2 if k == DEPTH else 1)
    assert "Registers without reset" in text


def test_a_data_register_read_by_logic_keeps_its_reset():
    with fresh_block() as block:
        x = pyrtl.Input(8, "x")
        out = pyrtl.Output(8, "out")
        line = delay(x, 3, "x_d{k}", reset=False)
        out <<= (line + 1)[:8]
    assert reset_less_names(block) == {"x_d1", "x_d2"}
    assert "x_d3 <= 8'd0;" in reset_branch(write_verilog(block, "line"))


def test_a_block_without_data_registers_is_written_as_pyrtl_writes_it():
    block = delay_line(reset=True)
    assert reset_less_names(block) == frozenset()
    for kwargs in ({}, {"initialize_registers": True}, {"add_reset": False},
                   {"add_reset": "asynchronous"}):
        theirs = io.StringIO()
        pyrtl.output_to_verilog(theirs, block=block, module_name="line", **kwargs)
        assert write_verilog(block, "line", **kwargs) == theirs.getvalue()


def test_without_reset_port_no_register_has_one():
    text = write_verilog(delay_line(reset=False), "line", add_reset=False)
    assert "rst" not in text
    assert len(re.findall(r"\bx_d1 <= ", text)) == 1


def test_the_vector_lane_resets_valid_bits_and_the_ends_of_its_delay_lines():
    block, _ = build_vector_unit(49)
    registers = block.wirevector_subset(pyrtl.Register)
    free = reset_less_names(block)
    with_reset = {r.name for r in registers if r.name not in free}
    valid = {r.name for r in registers if r.name.rsplit("_", 1)[-1] in VALID_KEYS}
    assert valid and valid <= with_reset
    # c0 rides the divider's stages untouched (no reset) until mul2's multiplier reads it
    assert {f"vu_core_iter{k}_c0" for k in range(1, 33)} <= free
    assert {"vu_core_mul2_c0", "vu_core_out_d_out"} <= with_reset
    assert len(free) > len(registers) // 2
    branch = reset_branch(emit_verilog(block, "lane"))
    assert branch.count("<=") == len(with_reset)


def _delay_line_cells(reset: bool, tool, folder) -> tuple[int, int, dict]:
    """(SRL cells, flip-flops, all cells) of the delay line, by Yosys xcup."""
    cells = cell_counts(block_verilog(delay_line(reset), "line"), "line", folder,
                        timeout=300, tool=tool)
    srl = sum(n for kind, n in cells.items() if kind.startswith(("SRL", "SRLC")))
    ffs = sum(n for kind, n in cells.items() if re.fullmatch(r"FD[RSCP]E", kind))
    return srl, ffs, cells


@pytest.mark.tools
def test_yosys_maps_a_reset_less_delay_line_to_shift_registers(yosys_tool, tmp_path):
    srl, ffs, cells = _delay_line_cells(False, yosys_tool, tmp_path)
    assert srl >= 8, cells                  # one SRL per data bit
    assert ffs <= DEPTH + 8 * 2, cells      # the valid line, the last x_d


@pytest.mark.slow       # the control of the test above: a second Yosys run (about 20 s)
@pytest.mark.tools
def test_yosys_keeps_a_delay_line_with_reset_in_flip_flops(yosys_tool, tmp_path):
    srl, ffs, cells = _delay_line_cells(True, yosys_tool, tmp_path)
    assert srl == 0 and ffs >= 9 * DEPTH, cells


@pytest.mark.tools
def test_verilator_matches_pyrtl_through_a_reset(verilator_tool, tmp_path):
    from fixar_gen.hw.verilate import VerilatorModel
    block = delay_line(reset=False)
    rng = random.Random(7)
    steps = [{"valid_in": rng.randrange(2), "data_in": rng.randrange(256)}
             for _ in range(3 * DEPTH)]
    sim = pyrtl.FastSimulation(tracer=None, block=block)
    expected = []
    for step in steps:
        sim.step(step)
        expected.append((sim.inspect("valid_out"), sim.inspect("data_out")))
    model = VerilatorModel.from_block(block, "line", cache_dir=tmp_path)
    with model.start() as hw:
        got = hw.drive({name: [step[name] for step in steps] for name in steps[0]},
                       ["valid_out", "data_out"])
        assert list(zip(got["valid_out"], got["data_out"])) == expected
        # after a reset the valid bits are 0 (the data is read only beside them)
        hw.reset(1)
        after = hw.drive({"valid_in": [0] * DEPTH,
                          "data_in": [rng.randrange(256) for _ in range(DEPTH)]},
                         ["valid_out"])
        assert after["valid_out"] == [0] * DEPTH


#: (a bits, b bits) of the signed products below: the PE's digits (16 x 17, 17 x 17),
#: wider than 64 bits in all, and one operand of two bits
PRODUCT_WIDTHS = ((16, 17), (17, 17), (32, 17), (40, 30), (2, 9))


def signed_products(read_high: bool = False) -> pyrtl.Block:
    """``pyrtl.signed_mult`` of inputs a_i, b_i into registers p_i and outputs; with
    ``read_high`` one more output reads the upper half of a 2n-bit sign-extended
    product directly (not signed_mult's shape: written as PyRTL writes it)."""
    with fresh_block() as block:
        for i, (la, lb) in enumerate(PRODUCT_WIDTHS):
            a, b = pyrtl.Input(la, f"a{i}"), pyrtl.Input(lb, f"b{i}")
            p = pyrtl.Register(la + lb, f"p{i}")
            p.next <<= pyrtl.signed_mult(a, b)
            out = pyrtl.Output(la + lb, f"out{i}")
            out <<= p
        if read_high:
            a, b = pyrtl.Input(16, "ah"), pyrtl.Input(17, "bh")
            high = pyrtl.Output(33, "high")
            high <<= (a.sign_extended(33) * b.sign_extended(33))[33:]
    return block


def test_signed_products_are_written_at_their_width():
    text = write_verilog(signed_products(read_high=True), "prod")
    assert text.count("$signed(") == 2 * len(PRODUCT_WIDTHS)
    for la, lb in PRODUCT_WIDTHS:
        assert f"{{{la + lb}'d0, ($signed(" in text
    # the product whose upper half is read keeps PyRTL's 2n-bit multiply
    assert re.search(r"assign \w+ = \(\{\{17 \{\w+\}\}, ah\} \* \{\{16 \{\w+\}\}, bh\}\);",
                     text)


@pytest.mark.tools
def test_verilator_signed_products_equal_pyrtl(verilator_tool, tmp_path):
    from fixar_gen.hw.verilate import VerilatorModel
    block = signed_products(read_high=True)
    rng = random.Random(11)
    names = [f"a{i}" for i in range(len(PRODUCT_WIDTHS))] + \
        [f"b{i}" for i in range(len(PRODUCT_WIDTHS))] + ["ah", "bh"]
    widths = {f"a{i}": la for i, (la, _) in enumerate(PRODUCT_WIDTHS)}
    widths |= {f"b{i}": lb for i, (_, lb) in enumerate(PRODUCT_WIDTHS)}
    widths |= {"ah": 16, "bh": 17}

    def value(bits):       # edges (0, -1, the most negative, the most positive) and random
        edge = [0, (1 << bits) - 1, 1 << (bits - 1), (1 << (bits - 1)) - 1, 1]
        return rng.choice(edge) if rng.random() < 0.5 else rng.randrange(1 << bits)

    steps = [{n: value(widths[n]) for n in names} for _ in range(200)]
    outs = [f"out{i}" for i in range(len(PRODUCT_WIDTHS))] + ["high"]
    sim = pyrtl.FastSimulation(tracer=None, block=block)
    expected = []
    for step in steps:
        sim.step(step)
        expected.append(tuple(sim.inspect(o) for o in outs))
    model = VerilatorModel.from_block(block, "prod", cache_dir=tmp_path)
    with model.start() as hw:
        got = hw.drive({n: [s[n] for s in steps] for n in names}, outs)
    assert list(zip(*(got[o] for o in outs))) == expected
