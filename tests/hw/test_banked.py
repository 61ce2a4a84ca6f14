"""The banked synchronous memory (fixar_gen/hw/banked.py) against its model: random
cycles of line writes (with per-word enables) and line or transposed reads, the read's
data one cycle later, reads and writes of the same words in one cycle; and, with Yosys
(slow), that its banks become block RAM."""

from __future__ import annotations

import pyrtl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixar_gen.hw.banked import BankedModel, banked_memory, build_banked
from fixar_gen.hw.build import Scope, fresh_block
from tests.conftest import examples

_DESIGNS: dict = {}


def design(banks: int, width: int, depth_bits: int):
    key = (banks, width, depth_bits)
    if key not in _DESIGNS:
        _DESIGNS[key] = build_banked(banks, width, depth_bits)
    return _DESIGNS[key]


@st.composite
def cycles(draw, banks: int, width: int, depth_bits: int):
    """A list of cycles: (write or None, read); lines drawn from a few aligned blocks so
    that reads meet what was written, often in the same cycle."""
    blocks = max(1, min(4, (1 << depth_bits) // banks))
    line = st.integers(0, blocks * banks - 1)
    word = st.one_of(st.sampled_from([0, 1, (1 << width) - 1, 1 << (width - 1)]),
                     st.integers(0, (1 << width) - 1))
    out = []
    for _ in range(draw(st.integers(1, 24))):
        write = None
        if draw(st.booleans()):
            write = (draw(line), draw(st.lists(word, min_size=banks, max_size=banks)),
                     draw(st.lists(st.booleans(), min_size=banks, max_size=banks)))
        if write is not None and draw(st.integers(0, 3)) == 0:
            read = (write[0], False, 0)                       # the line being written
        else:
            read = (draw(line), draw(st.booleans()), draw(st.integers(0, banks - 1)))
        out.append((write, read))
    return out


def run(d, schedule) -> tuple[list, list]:
    """(data the design returned, data the model returned) for every read."""
    sim = pyrtl.FastSimulation(tracer=None, block=d.block)
    model = BankedModel(d.banks, d.width, d.depth_bits)
    got, want = [], []
    mask = (1 << d.width) - 1
    for write, (rline, transposed, col) in schedule + [(None, (0, False, 0))]:
        inputs = {d.port("write_line"): 0, d.port("write_data"): 0,
                  d.port("write_enable"): 0, d.port("read_line"): rline,
                  d.port("read_transposed"): int(transposed), d.port("read_col"): col}
        if write is not None:
            wline, values, enables = write
            inputs[d.port("write_line")] = wline
            inputs[d.port("write_data")] = sum(v << (j * d.width) for j, v in enumerate(values))
            inputs[d.port("write_enable")] = sum(int(e) << j for j, e in enumerate(enables))
            model.write(wline, values, enables)
        sim.step(inputs)
        word = sim.inspect(d.port("rdata"))
        got.append([(word >> (k * d.width)) & mask for k in range(d.banks)])
        want.append(model.read(rline, transposed, col))
    # the data of the read of cycle t is on the output in cycle t + 1
    return got[1:], want[:-1]


@pytest.mark.parametrize("banks,width,depth_bits", [(1, 8, 3), (2, 5, 3), (4, 32, 4),
                                                    (8, 17, 5)])
def test_banked_memory_equals_its_model(banks, width, depth_bits):
    d = design(banks, width, depth_bits)

    @settings(max_examples=examples(40), deadline=None, suppress_health_check=list(HealthCheck))
    @given(schedule=cycles(banks, width, depth_bits))
    def check(schedule):
        got, want = run(d, schedule)
        assert got == want

    check()


def test_a_transposed_read_is_the_column_of_the_aligned_block():
    d = design(4, 8, 4)
    lines = [[16 * l + j for j in range(4)] for l in range(8)]
    schedule = [((l, lines[l], [True] * 4), (0, False, 0)) for l in range(8)]
    schedule += [(None, (5, True, 2)), (None, (6, False, 0))]
    got, _ = run(d, schedule)
    assert got[-2] == [lines[4 + i][2] for i in range(4)]       # block 4..7, column 2
    assert got[-1] == lines[6]


def test_each_bank_is_one_synchronous_memory_of_one_read_and_one_write_port():
    d = design(8, 17, 5)
    reads, writes, mems = {}, {}, set()
    for net in d.block.logic:
        if net.op in "m@":
            mem = net.op_param[1]
            mems.add(mem)
            table = reads if net.op == "m" else writes
            table[mem.name] = table.get(mem.name, 0) + 1
    assert len(mems) == 8 and all(not m.asynchronous for m in mems)
    assert reads == writes == {f"mem_bank{b}": 1 for b in range(8)}


@pytest.mark.parametrize("banks", [0, 3, 6, True])
def test_banks_must_be_a_power_of_two(banks):
    with pytest.raises(ValueError, match="power of two"):
        build_banked(banks, 8, 4)


def test_a_depth_below_one_block_is_refused():
    with pytest.raises(ValueError, match="smaller than one 8 x 8 block"):
        build_banked(8, 8, 2)


def test_port_widths_are_checked():
    with fresh_block():
        with pytest.raises(ValueError, match="read_line"):
            banked_memory(Scope("m"), banks=2, width=4, depth_bits=3,
                          read_line=pyrtl.Input(2, "rl"), read_transposed=pyrtl.Input(1, "rt"),
                          read_col=pyrtl.Input(1, "rc"), write_line=pyrtl.Input(3, "wl"),
                          write_data=pyrtl.Input(8, "wd"), write_enable=pyrtl.Input(2, "we"))


@pytest.mark.slow
@pytest.mark.tools
@pytest.mark.parametrize("banks,width,depth_bits,uram,expected", [
    (8, 32, 10, False, {"RAMB36E2": 8}),       # 1K x 32 a bank: one BRAM36 each
    (2, 72, 12, True, {"URAM288": 2}),         # 4K x 72 a bank: one URAM288 each
])
def test_the_banks_become_block_ram(banks, width, depth_bits, uram, expected, yosys_tool,
                                    tmp_path):
    """Yosys ``synth_xilinx -family xcup`` (``-uram`` for URAM): every bank is one
    primitive, nothing of the memory is left in flip-flops or LUT RAM.  The
    flip-flops do not grow with the depth: with BRAM, Yosys keeps one word and one
    address per bank for the bypass of a read of the word written in the same cycle."""
    from fixar_gen.hw.synth import block_verilog, cell_counts, summarize
    d = build_banked(banks, width, depth_bits)
    cells = cell_counts(block_verilog(d.block, "banked"), "banked", tmp_path, uram=uram)
    rams = {k: n for k, n in cells.items() if k.startswith(("RAMB", "URAM", "RAM32", "RAM64"))}
    assert rams == expected
    assert summarize(cells)["FF"] <= banks * (width + depth_bits + 2) + 8
