"""``amem`` in 4P interleaved banks (docs/hardware.md, "The activations in banks"): one
line read and one line write port per core, so an element-loop step that reads two or
three lines of ``amem`` (DDPG's ``bellman``, ``mse_grad``, ``dact_tanh``) takes a cycle
a line, in the RTL and in its cycle model alike; the matrix unit reads its ``a`` (the
line, FXP16's row pair, ``ta``'s column and FXP16's column pair) as one strided read of
2R words.

What these catch: a held line taken from the wrong phase or lane (golden != RTL), a
step that issues before its last line or a walk that advances in an earlier phase
(golden != RTL), a cycle model that does not charge the lines or charges a step of
another unit (RTL cycles != model), an FXP16 high row whose addresses are not
repeated when it has none (a bank read twice: golden != RTL)."""

from __future__ import annotations

import numpy as np
import pytest

from fixar_gen.cases import Case
from fixar_gen.hw.core import execution_cycles
from fixar_gen.hw.design import config_for
from fixar_gen.isa import (ACTIVATIONS, Buffer, Drain, Halt, Load, MatMul, Program, Range,
                           Slot, Store, VECTOR_FUNCTIONS, Vector)
from fixar_gen.memory_access import access_problems, extra_lines
from fixar_gen.memory_kinds import activation_banks, activation_stride
from fixar_gen.numerics import FixedFormat
from fixar_gen.ops.declare import COEFF, SCALE, UNIT
from fixar_gen.verify import check_program

from .test_core import pyrtl_machine, tiny_ddpg
from .test_core_lanes import lanes_machine

FMT = FixedFormat(12, 6)
fn = VECTOR_FUNCTIONS.index


def _amem_program(spec, rows: int, cols: int) -> Case:
    """Steps reading one, two and three lines of amem, on a region of ``rows`` x
    ``cols`` (several steps a row when the lanes are fewer), the results stored."""
    G = FixedFormat(32, 16)
    buffers = (Buffer("r", rows, cols, FMT), Buffer("d", rows, cols, UNIT),
               Buffer("q", rows, cols, FMT), Buffer("y", rows, cols, FMT),
               Buffer("g", rows, cols, G, "delta"), Buffer("c.gamma", 1, 2, COEFF, "const"),
               Buffer("c.mse", 1, 2, SCALE, "const"), Buffer("s", rows, cols, FMT))
    whole = dict(rows=Range(0, rows), cols=Range(0, cols))
    code = (Load(dst=0, slot=0, **whole), Load(dst=2, slot=1, **whole),
            # three amem lines a step (a, b, e), dst in amem too
            Vector(fn=fn("bellman"), dst=3, a=0, b=1, c=5, e=2, **whole),
            # two (a, b), dst in gmem
            Vector(fn=fn("mse_grad"), dst=4, a=2, b=3, c=6, **whole),
            # two (a, b), dst in amem
            Vector(fn=fn("dact_tanh"), dst=7, a=3, b=2, **whole),
            # a copy after them reads the last step's write
            Vector(fn=fn("add"), dst=7, a=7, b=3, **whole),
            Store(src=7, slot=2, **whole), Store(src=3, slot=3, **whole),
            Halt())
    program = Program("amem lines", buffers, tuple(Slot(n, rows, cols) for n in
                                                   ("r", "q", "s", "y")), code, 1,
                      spec.numerics.activation_format)
    rng = np.random.default_rng(rows * 100 + cols)
    initial = {b.name: np.zeros((b.rows, b.cols), dtype=np.int64) for b in buffers}
    initial["d"] = rng.integers(0, 2, size=(rows, cols))
    initial["c.gamma"] = np.array([[int(0.99 * 2**32), 0]])
    initial["c.mse"] = np.array([[2**31, 0]])
    host = {"r": rng.integers(-900, 900, size=(rows, cols)),
            "q": rng.integers(-900, 900, size=(rows, cols))}
    return Case(program, initial, host)


@pytest.mark.parametrize("machine,shape,rows,cols", [
    (pyrtl_machine, (2, 3, 1), 3, 4),            # one lane a column: two steps a row
    (lanes_machine, (2, 3, 1, 2), 2, 5),        # 2 lanes: a partial last step
    (lanes_machine, (2, 2, 1, 5), 3, 7)])       # 5 lanes in 8 banks
def test_steps_reading_several_amem_lines_equal_golden_in_the_charged_cycles(
        machine, shape, rows, cols):
    spec, m = machine(shape)
    case = _amem_program(spec, rows, cols)
    p = case.program
    assert access_problems(p, m.cfg.acc_half, m.cfg.rows) == []
    assert [extra_lines(ins, p) for ins in p.code] == [0, 0, 2, 1, 1, 1, 0, 0, 0]
    diff = check_program(case, m)        # results, and RTL cycles == the model's
    assert diff is None, diff


def test_the_cycle_model_charges_a_cycle_a_line_beyond_the_first():
    add = Vector(fn=fn("add"), dst=0, a=1, b=2, rows=Range(0, 3), cols=Range(0, 5))
    drain = Drain(dst=0, acc=1, act=ACTIVATIONS.index("identity"), rows=Range(0, 3),
                  cols=Range(0, 5))
    for ins in (add, drain):
        base = execution_cycles(ins, 2, 2, 2)[1]
        for extra in (1, 2, 3):
            # 3 rows of 3 steps (5 columns, 2 lanes)
            assert execution_cycles(ins, 2, 2, 2, extra)[1] - base == 9 * extra


def _a_reads(ta: int, mode: int, m: int, stride: int | None = None) -> Case:
    """A product reading an activation from amem (FXP16 when ``mode``, transposed when
    ``ta``) at its padded stride (or ``stride``), ``m`` rows (an odd m: the last line
    has no high row)."""
    spec, machine = pyrtl_machine((2, 3, 1))
    cfg = machine.cfg
    banks = activation_banks(cfg.rows, cfg.cols, cfg.lanes)
    k, n = 5, 4
    a_rows, a_cols = (k, m) if ta else (m, k)
    stride = stride or activation_stride(a_cols, banks, cfg.rows)
    half = cfg.acc_half
    from fixar_gen.memory_kinds import accumulator_stride, weight_stride
    a = Buffer("x", a_rows, stride, FixedFormat(8, 4))
    w = Buffer("w", k, weight_stride(n, 2 * half), FixedFormat(10, 6), "param")
    acc = Buffer("s", m, accumulator_stride(n, half), FixedFormat(64, 10), "acc",
                 spec.numerics.accumulator_width)
    out = Buffer("o", m, n, FixedFormat(16, 8))
    code = (Load(dst=0, slot=0, rows=Range(0, a_rows), cols=Range(0, a_cols)),
            MatMul(dst=2, a=0, b=1, ta=ta, mode=mode, m=Range(0, m), n=Range(0, n),
                   k=Range(0, k)),
            Drain(dst=3, acc=2, act=ACTIVATIONS.index("identity"), rows=Range(0, m),
                  cols=Range(0, n)),
            Store(src=3, slot=1, rows=Range(0, m), cols=Range(0, n)), Halt())
    program = Program("a reads", (a, w, acc, out),
                      (Slot("x", a_rows, a_cols), Slot("o", m, n)), code, 1,
                      spec.numerics.activation_format)
    assert access_problems(program, half, cfg.rows) == []
    rng = np.random.default_rng(ta * 10 + mode)
    initial = {b.name: np.zeros((b.rows, b.cols), dtype=np.int64) for b in (a, w, acc, out)}
    initial["w"] = rng.integers(-300, 300, size=(w.rows, w.cols))
    host = {"x": rng.integers(-100, 100, size=(a_rows, a_cols))}
    return Case(program, initial, host), machine


@pytest.mark.parametrize("ta", [0, 1])
@pytest.mark.parametrize("mode", [0, 1])
def test_the_matrix_unit_reads_a_as_one_strided_line_of_amem(ta, mode):
    """The line, FXP16's row pair, ta's column and FXP16's column pair, with an odd m
    (the last line has no high row)."""
    case, machine = _a_reads(ta, mode, 5)
    diff = check_program(case, machine)
    assert diff is None, diff


@pytest.mark.parametrize("ta,stride", [(0, 16), (0, 17), (1, 17), (1, 15)])
def test_an_fxp32_read_at_a_stride_that_would_share_banks_as_a_pair(ta, stride):
    """FXP32 reads only its R words: at a stride where the next row's (or column's)
    words would share amem's 16 banks with them (legal: memory_access checks the line
    and the column only), the high row's addresses repeat the low row's, so no bank
    is asked for two words.  Catches a high row read in FXP32."""
    from fixar_gen.memory_kinds import activation_reads, shares_banks
    assert shares_banks(activation_reads(stride, 2)["column pair" if ta else "row pair"], 16)
    case, machine = _a_reads(ta, 0, 4, stride)
    assert machine.cfg.memory_banks("amem") == 16
    diff = check_program(case, machine)
    assert diff is None, diff


def test_amem_is_one_line_port_a_core():
    """The inventory counts amem's banks with one read and one write port each on a
    one-core design (block RAM by the mapping rules; LUT RAM for banks of at most 64
    words, as this tiny design's), one of each per core on two."""
    from fixar_gen.hw.core import memory_ports
    from fixar_gen.hw.inventory import BLOCK_RAM, LUT_RAM, LUT_RAM_WORDS, memory_inventory
    for cores in (1, 2):
        cfg = config_for(tiny_ddpg(2, 3, cores, 2))
        assert cfg.memory_banks("amem") == activation_banks(cfg.rows, cfg.cols, cfg.lanes)
        assert memory_ports(cfg, "amem") == (cores, cores)
        banks = [m for m in memory_inventory(cfg).memories if m.name.startswith("mem_amem")]
        assert banks and all(m.banks == cfg.memory_banks("amem") for m in banks)
        assert all((m.reads, m.writes) == (cores, cores) for m in banks)
        if cores == 1:
            assert all(m.maps_to == (BLOCK_RAM if m.depth > LUT_RAM_WORDS else LUT_RAM)
                       for m in banks)


def _register_sources(block, wire) -> set[str]:
    """The names of the registers, memories and inputs whose values reach ``wire``
    (a register: its next value) through combinational logic alone."""
    driver = {d: net for net in block.logic for d in net.dests}
    out, seen = set(), set()
    first = driver.get(wire)
    stack = list(first.args) if first is not None and first.op == "r" else [wire]
    while stack:
        w = stack.pop()
        if w in seen:
            continue
        seen.add(w)
        net = driver.get(w)
        if net is None or net.op == "r":
            if not w.name.startswith("const"):
                out.add(w.name)
        elif net.op == "m":
            out.add(net.op_param[1].name)
        else:
            stack.extend(net.args)
    return out


def _controller_design(rows: int):
    """(its CoreConfig, its PyRTL block): the controller design of ``bench_timing.py
    --designs controller --rows ROWS --words 64`` (benchmarks/specs/timing_core.yaml
    with an R x 1 array; the 16x1 design at 16), its lane stood in by its register
    boundary."""
    from dataclasses import replace
    from pathlib import Path
    import pyrtl
    from fixar_gen import load_spec
    from fixar_gen.hw.core import build_core
    from fixar_gen.hw.lane_stand_in import stand_in_lane
    root = Path(__file__).resolve().parents[2]
    spec = load_spec(root / "benchmarks/specs/timing_core.yaml")
    spec = replace(spec, hardware=replace(spec.hardware, array=(rows, 1)))
    cfg = config_for(spec, memory_words=64)
    pyrtl.reset_working_block()
    return cfg, build_core(cfg, lane_generator=stand_in_lane)


@pytest.mark.parametrize("rows", [1, 2, 4])
def test_the_activation_line_reaches_the_banks_from_registers(rows):
    """The matrix unit's line request is registered a cycle ahead (its 2R element
    addresses ``mm_a<r>_lo_address`` / ``_hi_address`` and its ask of each memory):
    the elements crossing into ``amem``'s banks are those registers alone (not the port's
    chosen start, through which the element loop's addresses and ``desc_b`` reached
    them, nor the line pointer's sums), and no bank read address of ``amem`` or ``gmem``
    waits for the matrix unit's line pointer, its flags or the state.  Catches the
    request unregistered (``mm_a_line``, ``mm_line_on``, ``mm_a_port*`` in the banks'
    fan-in: 9-10 LUT levels on the 16x1 controller design) or the elements defaulting
    to the port's start (``desc_b``: 10 levels there; docs/hardware.md)."""
    import re
    cfg, block = _controller_design(rows)
    wires = {w.name: w for w in block.wirevector_set}
    elements = [n for n in wires if re.fullmatch(r"mem_amem_p0_relem\d+", n)]
    assert len(elements) == 2 * rows
    for name in elements:
        assert _register_sources(block, wires[name]) <= {
            f"core0_mm_a{r}_{x}_address" for r in range(rows) for x in ("lo", "hi")}, name
    banks = [n for n in wires if re.fullmatch(r"mem_(amem|gmem)_p0_bank\d+_raddr", n)]
    assert len(banks) == cfg.memory_banks("amem") + cfg.memory_banks("gmem")
    late = re.compile(r"core0_(mm_(a_line|a_tile|a_port|line_on|line_last|p)\b|state$)")
    for name in banks:
        sources = _register_sources(block, wires[name])
        assert "core0_mm_ask_a_amem" in sources or "gmem" in name, sorted(sources)
        assert not [x for x in sources if late.match(x)], (name, sorted(sources))


def test_the_line_ports_write_addresses_wait_for_no_sum_after_their_choice():
    """Each write request's line and line + 1 are computed before the line port's
    choice among the requests (``DataMemories._write_choice``, as the reads' are): no
    adder on the way to a bank's write address has the host's write enable in its
    fan-in (the host is served when no core writes, so the enable decides the choice).
    Catches the pair computed from the chosen address (line + 1 after the choice: the
    write addresses of ``amem`` and ``gmem`` at 9-10 LUT levels from
    ``core0_range_w_d1`` on the 16x1 controller design; docs/hardware.md)."""
    import re
    _, block = _controller_design(2)
    driver = {d: net for net in block.logic for d in net.dests}
    writes = [net for net in block.logic if net.op == "@"
              and re.fullmatch(r"mem_(amem|gmem|cmem|wmem)_bank\d+(_tail)?", net.op_param[1].name)]
    assert len({net.op_param[1].name for net in writes}) >= 4
    sums, seen, stack = set(), set(), [net.args[0] for net in writes]
    while stack:                       # the write addresses' combinational fan-in
        w = stack.pop()
        net = driver.get(w)
        if w in seen or net is None or net.op == "r":
            continue
        seen.add(w)
        if net.op == "+":
            sums.add(w)
        stack.extend(net.args)
    assert sums
    late = [w.name for w in sums if "host_mem_we" in _register_sources(block, w)]
    assert not late, late[:5]


@pytest.mark.parametrize("rows", [2, 16])
def test_the_lanes_start_from_the_registered_words(rows):
    """The lanes' operands (a, b, d, e and the PRNG lane) reach the lanes' input
    registers from the words registered after the reads (``<x>_w``, stage 2) and the
    held words, never from a memory's read data: a line of ``amem`` comes through its
    banks' rotation and the memories' choice, and the held word and the absent
    operand's zero after them made 9-10 LUT levels on the 16x1 controller design (260
    endpoint bits over 8; docs/hardware.md).  Catches the lanes fed from the reads in
    stage 1 (a memory, ``mem_*``, in their fan-in)."""
    _, block = _controller_design(rows)
    wires = {w.name: w for w in block.wirevector_set}
    inputs = [f"core0_lane0_vu_in_{x}" for x in ("a", "b", "d", "e", "lane")]
    assert set(inputs) <= set(wires)
    for name in inputs:
        sources = _register_sources(block, wires[name])
        assert not [x for x in sources if x.startswith("mem_")], (name, sorted(sources))
        assert [x for x in sources if x.endswith("_w_d1")], (name, sorted(sources))


def _selects_after(block, wire, memory: str) -> int:
    """The most 2-way selects on a combinational path from a read of ``memory`` to
    ``wire`` (a register: its next value); -1 when no read of it reaches it."""
    driver = {d: net for net in block.logic for d in net.dests}
    memo: dict = {}

    def depth(w) -> int:
        if w in memo:
            return memo[w]
        memo[w] = -1
        net = driver.get(w)
        if net is None or net.op == "r":
            found = -1
        elif net.op == "m":
            found = 0 if net.op_param[1].name == memory else -1
        else:
            below = max((depth(a) for a in net.args), default=-1)
            found = below + (net.op == "x") if below >= 0 else -1
        memo[w] = found
        return found
    first = driver[wire]
    return max(depth(a) for a in first.args) if first.op == "r" else depth(wire)


def test_the_lanes_words_choose_amem_and_smem_last():
    """A lane's read that can name every memory chooses ``amem``'s word last, then
    ``smem``'s (``DataMemories._last_registers``, each by a registered flag), the other
    memories' words before them by the memory id: ``smem``'s word (a multiplexer over
    its words, flip-flops) passes two 2-way selects into the registered words (it
    passed the 8-way choice of the memory and ``amem``'s select, 9 LUT levels into
    ``e_w_d1`` and ``d_w_d1`` on the 16x1 controller design; docs/hardware.md).
    Catches ``smem`` chosen among the others again (four selects).  An operand whose
    memories (``CoreConfig.operand_memories``: the design's programs') leave ``smem``
    out does not reach it at all; one of two memories passes one select."""
    cfg, block = _controller_design(16)
    wires = {w.name: w for w in block.wirevector_set}
    for x in ("a", "b", "d", "e"):
        word = wires[f"core0_lane0_{x}_w_d1"]
        memories = cfg.operand_memory_set(x)
        expected = -1 if "smem" not in memories else 2 if len(memories) > 2 else 1
        assert _selects_after(block, word, "mem_smem") == expected, (x, memories)
        if len(memories) > 2 and "amem" in memories:
            assert f"core0_lane0_ra_{x}_is_amem" in wires, x
    assert any("smem" in cfg.operand_memory_set(x) for x in ("a", "b", "d", "e"))


def test_the_line_ports_writes_name_their_memory_from_registers():
    """Each element-loop write request tells the line ports which memory it names by
    registers (its memory id compared a cycle ahead, ``<x>_is_<memory>``), so that the
    ports' choice among the writes, and the banks' write addresses after it, wait for
    no compare of the destination's memory id: ``core0_desc_dst`` and
    ``core0_dst_mem_w`` reached ``amem``'s and ``gmem``'s write addresses in 9 LUT
    levels on the 16x1 controller design (36 bits; docs/hardware.md).  Catches the
    compare after the choice of the write's memory (those registers in the write
    addresses' fan-in)."""
    import re
    _, block = _controller_design(16)
    writes = [net for net in block.logic if net.op == "@"
              and re.fullmatch(r"mem_(amem|gmem)_bank\d+(_tail)?", net.op_param[1].name)]
    assert len({net.op_param[1].name for net in writes}) >= 64
    late = re.compile(r"core0_(desc_(dst|e|b)|dst_mem_w_d\d|copy_mem_w_d\d)$")
    for net in writes:
        sources = _register_sources(block, net.args[0])
        assert not [x for x in sources if late.match(x)], (net.op_param[1].name,
                                                            sorted(sources))
