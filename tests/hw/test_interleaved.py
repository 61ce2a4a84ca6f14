"""The interleaved banks of the element loop's memories (fixar_gen/hw/banked.py's
InterleavedBanks) against their model: random cycles of line writes at any address
(per-word enables) and line reads at any address, the read's words one cycle later,
reads of words written in the same cycle, tails, one or two ports; and where a word
lives (data_memories.locate_banked, which the PyRTL driver uses)."""

from __future__ import annotations

import pyrtl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fixar_gen.hw.banked import InterleavedBanks, InterleavedModel, interleaved_bank_shape
from fixar_gen.hw.build import Scope, fresh_block
from fixar_gen.hw.data_memories import MemoryShape, bank_blocks, locate_banked
from tests.conftest import examples

_DESIGNS: dict = {}


def design(banks: int, width: int, addr_bits: int, tail_bits, ports: int):
    key = (banks, width, addr_bits, tail_bits, ports)
    if key not in _DESIGNS:
        with fresh_block() as block:
            mem = InterleavedBanks(Scope("m"), banks=banks, width=width, addr_bits=addr_bits,
                                   tail_bits=tail_bits, ports=ports)
            for p in range(ports):
                for name, wire in (("raddr", mem.read_address[p]),
                                   ("waddr", mem.write_address[p])):
                    wire <<= pyrtl.Input(addr_bits, f"in_{name}{p}")
                for j in range(banks):
                    mem.write_words[p][j] <<= pyrtl.Input(width, f"in_w{p}_{j}")
                    mem.write_enables[p][j] <<= pyrtl.Input(1, f"in_we{p}_{j}")
                    out = pyrtl.Output(width, f"out{p}_{j}")
                    out <<= mem.read_words[p][j]
        _DESIGNS[key] = block
    return _DESIGNS[key]


def depth_of(banks, addr_bits, tail_bits) -> int:
    """Words the memory holds (what its RAMs add up to)."""
    return banks * sum(1 << b for b in interleaved_bank_shape(banks, addr_bits, tail_bits))


def words_and_lines(banks, width, addr_bits, tail_bits):
    """The memory's depth, and strategies of its words (the extremes often) and of
    line addresses (near the start often; a line stays inside the memory)."""
    depth = depth_of(banks, addr_bits, tail_bits)
    top = min(depth, 1 << addr_bits) - banks
    word = st.one_of(st.sampled_from([0, 1, (1 << width) - 1, 1 << (width - 1)]),
                     st.integers(0, (1 << width) - 1))
    address = st.one_of(st.integers(0, min(top, 3 * banks)), st.integers(0, top))
    return depth, word, address


@pytest.mark.parametrize("banks,width,addr_bits,tail_bits,ports", [
    (1, 8, 3, None, 1), (2, 5, 4, 2, 1), (4, 32, 5, None, 1), (4, 9, 6, 3, 1),
    (8, 17, 6, None, 2), (16, 12, 8, 5, 1), (4, 6, 3, 1, 1),
    (4, 7, 2, None, 1)])        # a memory no deeper than one line (its address: no line bits)
def test_interleaved_banks_equal_their_model(banks, width, addr_bits, tail_bits, ports):
    block = design(banks, width, addr_bits, tail_bits, ports)
    depth, word, address = words_and_lines(banks, width, addr_bits, tail_bits)

    @settings(max_examples=examples(30), deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data):
        sim = pyrtl.FastSimulation(tracer=None, block=block)
        model = InterleavedModel(banks, width, depth)
        pending = [None] * ports
        for _ in range(data.draw(st.integers(1, 20))):
            inputs = {}
            # the ports write words of their own (the programs never let two cores
            # write one word in a cycle)
            written = set()
            expect = []
            for p in range(ports):
                w_at = data.draw(address)
                values = data.draw(st.lists(word, min_size=banks, max_size=banks))
                enables = data.draw(st.lists(st.booleans(), min_size=banks, max_size=banks))
                enables = [e and (w_at + j) not in written for j, e in enumerate(enables)]
                written |= {w_at + j for j, e in enumerate(enables) if e}
                r_at = w_at if data.draw(st.booleans()) else data.draw(address)
                inputs[f"in_waddr{p}"] = w_at
                inputs[f"in_raddr{p}"] = r_at
                for j in range(banks):
                    inputs[f"in_w{p}_{j}"] = values[j]
                    inputs[f"in_we{p}_{j}"] = int(enables[j])
                model.write(w_at, values, enables)
                expect.append(r_at)
            sim.step(inputs)
            for p in range(ports):
                if pending[p] is not None:
                    got = [sim.inspect(f"out{p}_{j}") for j in range(banks)]
                    assert got == pending[p], (p, got, pending[p])
            # the read sees this cycle's writes, and its words come in the next cycle
            pending = [model.read(r_at) for r_at in expect]

    check()


def bank_order_design(banks: int, width: int, addr_bits: int, tail_bits, count: int):
    """One port with ``given_banks``: a write of ``count`` words (``count`` < banks:
    the host's word, the element loop's e write) put in bank order by
    InterleavedBanks.bank_order from its own address, as DataMemories does before its
    choice among the requests."""
    key = ("given_banks", banks, width, addr_bits, tail_bits, count)
    if key not in _DESIGNS:
        with fresh_block() as block:
            mem = InterleavedBanks(Scope("m"), banks=banks, width=width, addr_bits=addr_bits,
                                   tail_bits=tail_bits, given_banks=True)
            waddr = pyrtl.Input(addr_bits, "in_waddr")
            mem.read_address[0] <<= pyrtl.Input(addr_bits, "in_raddr")
            mem.write_address[0] <<= waddr
            words, enables = mem.bank_order(
                waddr, [pyrtl.Input(width, f"in_w{j}") for j in range(count)],
                [pyrtl.Input(1, f"in_we{j}") for j in range(count)])
            for b in range(banks):
                mem.write_words[0][b] <<= words[b]
                mem.write_enables[0][b] <<= enables[b]
                out = pyrtl.Output(width, f"out{b}")
                out <<= mem.read_words[0][b]
        _DESIGNS[key] = block
    return _DESIGNS[key]


@pytest.mark.parametrize("banks,width,addr_bits,tail_bits,count", [
    (1, 8, 3, None, 1), (2, 5, 4, 2, 1), (2, 5, 4, 2, 2), (4, 9, 6, 3, 1),
    (4, 9, 6, 3, 3), (8, 17, 6, None, 8), (8, 6, 5, None, 5), (4, 7, 2, None, 4)])
def test_a_write_given_in_bank_order_equals_the_model(banks, width, addr_bits, tail_bits,
                                                     count):
    """Writes of ``count`` words rotated into bank order by their own address
    (bank_order, the caller's side of ``given_banks``), then read back as lines at any
    address: the words land where the model puts them, none elsewhere.  A rotation by
    +a instead of -a, a one-word write enabling a bank other than its address's, or
    the padding of a short write enabled, fails it."""
    block = bank_order_design(banks, width, addr_bits, tail_bits, count)
    depth, word, address = words_and_lines(banks, width, addr_bits, tail_bits)

    @settings(max_examples=examples(30), deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data):
        sim = pyrtl.FastSimulation(tracer=None, block=block)
        model = InterleavedModel(banks, width, depth)
        pending = None
        for _ in range(data.draw(st.integers(1, 20))):
            w_at = data.draw(address)
            values = data.draw(st.lists(word, min_size=count, max_size=count))
            enables = data.draw(st.lists(st.booleans(), min_size=count, max_size=count))
            r_at = w_at if data.draw(st.booleans()) else data.draw(address)
            inputs = {"in_waddr": w_at, "in_raddr": r_at}
            for j in range(count):
                inputs[f"in_w{j}"] = values[j]
                inputs[f"in_we{j}"] = int(enables[j])
            model.write(w_at, values, enables)
            sim.step(inputs)
            if pending is not None:
                assert [sim.inspect(f"out{b}") for b in range(banks)] == pending
            pending = model.read(r_at)

    check()


def test_bank_order_refuses_a_write_wider_than_the_banks():
    with pyrtl.set_working_block(pyrtl.Block()):       # (left unconnected)
        mem = InterleavedBanks(Scope("m"), banks=2, width=4, addr_bits=3, given_banks=True)
        with pytest.raises(ValueError):
            mem.bank_order(pyrtl.Const(0, 3), [pyrtl.Const(0, 4)] * 3, [pyrtl.Const(1, 1)] * 3)
        with pytest.raises(ValueError):
            mem.bank_order(pyrtl.Const(0, 3), [pyrtl.Const(0, 4)], [])


def _one_port_io(mem: InterleavedBanks, banks: int, width: int, addr_bits: int) -> None:
    """Inputs and outputs of port 0: the line addresses (the second starts with halves),
    each bank's write word and enable, each word read."""
    wires = [("raddr", mem.read_address[0]), ("waddr", mem.write_address[0])]
    if mem.halves:
        wires += [("raddr2", mem.read_address2[0]), ("waddr2", mem.write_address2[0])]
    for name, wire in wires:
        wire <<= pyrtl.Input(addr_bits, f"in_{name}")
    for j in range(banks):
        mem.write_words[0][j] <<= pyrtl.Input(width, f"in_w{j}")
        mem.write_enables[0][j] <<= pyrtl.Input(1, f"in_we{j}")
        out = pyrtl.Output(width, f"out{j}")
        out <<= mem.read_words[0][j]


def halves_design(banks: int, width: int, addr_bits: int, tail_bits):
    key = ("halves", banks, width, addr_bits, tail_bits)
    if key not in _DESIGNS:
        with fresh_block() as block:
            mem = InterleavedBanks(Scope("m"), banks=banks, width=width, addr_bits=addr_bits,
                                   tail_bits=tail_bits, halves=True)
            _one_port_io(mem, banks, width, addr_bits)
        _DESIGNS[key] = block
    return _DESIGNS[key]


@pytest.mark.parametrize("banks,width,addr_bits,tail_bits", [
    (2, 5, 4, None), (4, 9, 6, 3), (8, 17, 7, None),
    pytest.param(32, 12, 9, 6, marks=pytest.mark.slow), (4, 7, 3, None)])
def test_the_double_line_equals_its_model(banks, width, addr_bits, tail_bits):
    """cmem's double line: two half lines a cycle whose starts are H apart mod 2H (an
    FXP16 product's rows m and m + 1 by their padded stride, acc_add's two operands),
    read and written through one port; read-modify-writes of the same words in
    consecutive cycles (the matrix unit's k-tiles) see the previous cycle's write."""
    block = halves_design(banks, width, addr_bits, tail_bits)
    depth = depth_of(banks, addr_bits, tail_bits)
    half = banks // 2
    top = min(depth, 1 << addr_bits) - half           # each half line inside the memory
    word = st.one_of(st.sampled_from([0, 1, (1 << width) - 1, 1 << (width - 1)]),
                     st.integers(0, (1 << width) - 1))
    start = st.integers(0, top)

    def second_of(data, first):
        # a start H past the first mod 2H, anywhere (the stride of any padded accumulator)
        options = [a for a in range(half + first % banks - banks, top + 1, banks)
                   if a >= 0 and (a - first) % banks == half]
        return data.draw(st.sampled_from(options)) if options else None

    @settings(max_examples=examples(40), deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data):
        sim = pyrtl.FastSimulation(tracer=None, block=block)
        model = InterleavedModel(banks, width, depth)
        pending = None
        previous = None
        for _ in range(data.draw(st.integers(1, 16))):
            if previous is not None and data.draw(st.booleans()):
                w0, w1 = previous           # a read-modify-write of the last line read
            else:
                w0 = data.draw(start)
                w1 = second_of(data, w0)
                if w1 is None:
                    w1 = w0 + half if w0 + half <= top else w0 - half
            values = data.draw(st.lists(word, min_size=banks, max_size=banks))
            enables = data.draw(st.lists(st.booleans(), min_size=banks, max_size=banks))
            r0 = data.draw(start)
            r1 = second_of(data, r0)
            if r1 is None or data.draw(st.booleans()):
                r1 = r0 + half                # the plain line
                if r1 > top:
                    r0, r1 = w0, w1
            inputs = {"in_waddr": w0, "in_waddr2": w1, "in_raddr": r0, "in_raddr2": r1,
                      **write_inputs(values, enables)}
            model.write_double(w0, w1, values, enables)
            step_and_check(sim, inputs, pending)
            pending = model.read_double(r0, r1)
            previous = (r0, r1)

    check()


def draw_line_write(data, word, banks: int, top: int) -> tuple[int, list, list]:
    """A line write drawn: its start (a whole line below ``top``), its words (``word``)
    and their enables."""
    w_at = data.draw(st.integers(0, top - banks))
    values = data.draw(st.lists(word, min_size=banks, max_size=banks))
    enables = data.draw(st.lists(st.booleans(), min_size=banks, max_size=banks))
    return w_at, values, enables


def write_inputs(values, enables) -> dict:
    """The inputs of a line write's words and word enables."""
    inputs = {f"in_w{k}": v for k, v in enumerate(values)}
    inputs.update({f"in_we{k}": int(e) for k, e in enumerate(enables)})
    return inputs


def step_and_check(sim, inputs: dict, pending) -> None:
    """One cycle of ``sim``; the words of the read issued the cycle before
    (``pending``: the model's, None for none) checked against the outputs."""
    sim.step(inputs)
    if pending is not None:
        got = [sim.inspect(f"out{k}") for k in range(len(pending))]
        assert got == pending, (got, pending)


def strided_design(banks: int, width: int, addr_bits: int, tail_bits, halves: bool,
                   count: int):
    key = ("strided", banks, width, addr_bits, tail_bits, halves, count)
    if key not in _DESIGNS:
        with fresh_block() as block:
            mem = InterleavedBanks(Scope("m"), banks=banks, width=width, addr_bits=addr_bits,
                                   tail_bits=tail_bits, halves=halves, strided=count)
            _one_port_io(mem, banks, width, addr_bits)
            mem.read_strided[0] <<= pyrtl.Input(1, "in_strided")
            for k in range(count):
                mem.read_elements[0][k] <<= pyrtl.Input(addr_bits, f"in_e{k}")
        _DESIGNS[key] = block
    return _DESIGNS[key]


@pytest.mark.parametrize("banks,width,addr_bits,tail_bits,halves,count", [
    (1, 6, 4, None, False, 1), (2, 5, 5, 2, False, 2), (4, 9, 7, 4, False, 3),
    (8, 12, 8, None, True, 8), (16, 7, 9, 6, True, 5),
    pytest.param(32, 8, 10, None, True, 16, marks=pytest.mark.slow)])
def test_the_strided_read_equals_its_model(banks, width, addr_bits, tail_bits, halves,
                                           count):
    """wmem's strided read (the matrix unit's weight row of ``count`` adjacent words,
    or its transposed column of ``count`` elements an odd padded row stride apart)
    between line writes and plain line reads (which share the words' multiplexers):
    each bank reads the element whose address falls in it, at its own address, and
    word k comes from its element's bank.  Catches a bank reading its line address
    instead of its element's, a word taken from the line's bank instead of its
    element's, and elements sharing a bank (an even stride)."""
    block = strided_design(banks, width, addr_bits, tail_bits, halves, count)
    depth = depth_of(banks, addr_bits, tail_bits)
    top = min(depth, 1 << addr_bits)
    word = st.one_of(st.sampled_from([0, 1, (1 << width) - 1, 1 << (width - 1)]),
                     st.integers(0, (1 << width) - 1))
    strides = [s for s in range(1, top, 1 if banks == 1 else 2) if (count - 1) * s < top]

    @settings(max_examples=examples(40), deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data):
        sim = pyrtl.FastSimulation(tracer=None, block=block)
        model = InterleavedModel(banks, width, depth)
        pending = None
        for _ in range(data.draw(st.integers(1, 16))):
            w_at, values, enables = draw_line_write(data, word, banks, top)
            stride = data.draw(st.one_of(st.just(1), st.sampled_from(strides)))
            strided = data.draw(st.booleans())
            r_at = data.draw(st.integers(0, top - 1 - (count - 1) * stride if strided
                                         else top - banks))
            inputs = {"in_waddr": w_at, "in_raddr": r_at, "in_strided": int(strided),
                      **write_inputs(values, enables)}
            if halves:
                inputs["in_waddr2"] = w_at + banks // 2
                inputs["in_raddr2"] = (r_at + banks // 2) % (1 << addr_bits)
            for k in range(count):
                # a line read's elements mean nothing (any address)
                inputs[f"in_e{k}"] = (r_at + k * stride) if strided else \
                    data.draw(st.integers(0, top - 1))
            model.write(w_at, values, enables)
            step_and_check(sim, inputs, pending)
            pending = model.read_strided(r_at, stride, count) if strided \
                else model.read(r_at)

    check()


def test_the_strided_model_refuses_strides_that_share_banks():
    model = InterleavedModel(8, 8, 256)
    model.write(3, list(range(1, 9)), [1] * 8)
    assert model.read_strided(3, 1) == model.read(3)
    model.write(3 + 7, [7], [1])
    assert model.read_strided(3, 7, 2) == [1, 7]
    with pytest.raises(ValueError):
        model.read_strided(3, 8)
    with pytest.raises(ValueError):
        model.read_strided(3, 1, 9)
    assert InterleavedModel(1, 8, 16).read_strided(0, 2, 1) == [0]


def test_a_plain_line_through_the_halves_is_the_interleaved_line():
    model = InterleavedModel(8, 8, 64)
    model.write(13, list(range(1, 9)), [1] * 8)
    assert model.read_double(13, 17) == model.read(13)
    with pytest.raises(ValueError):
        model.read_double(13, 18)
    with pytest.raises(ValueError):
        InterleavedBanks(Scope("m1"), banks=1, width=4, addr_bits=3, halves=True)


@given(banks_log=st.integers(0, 4), addr_bits=st.integers(1, 12), data=st.data())
@settings(max_examples=examples(200), deadline=None)
def test_every_word_has_one_place(banks_log, addr_bits, data):
    banks = 1 << banks_log
    tail = data.draw(st.one_of(st.none(), st.integers(1, max(1, addr_bits - 2))))
    if tail is not None and not 1 <= tail < addr_bits - 1:
        tail = None
    shape = MemoryShape("gmem", 8, addr_bits, tail)
    blocks = dict(bank_blocks(shape, banks))
    places = set()
    for offset in range(shape.depth):
        name, at = locate_banked(shape, banks, offset)
        assert name == f"mem_gmem_bank{offset % banks}" or \
            name == f"mem_gmem_bank{offset % banks}_tail"
        assert 0 <= at < blocks[name]
        places.add((name, at))
    assert len(places) == shape.depth
    with pytest.raises(ValueError):
        locate_banked(shape, banks, shape.depth)


@pytest.mark.slow           # Yosys, about half a minute each
@pytest.mark.tools
@pytest.mark.parametrize("banks,width,addr_bits,tail_bits,uram,halves,expected", [
    (4, 32, 12, None, False, False, {"RAMB36E2": 4}),  # 1K x 32 a bank: one BRAM36 each
    (2, 72, 13, None, True, False, {"URAM288": 2}),    # 4K x 72 a bank: one URAM288 each
    (2, 32, 12, 10, False, False, {"RAMB36E2": 2, "RAMB18E2": 2}),  # 1K + a 512-word tail
    (4, 32, 12, None, False, True, {"RAMB36E2": 4}),   # cmem's double line: the same RAMs
])
def test_the_interleaved_banks_become_block_ram(banks, width, addr_bits, tail_bits, uram,
                                                halves, expected, yosys_tool, tmp_path):
    """Yosys ``synth_xilinx -family xcup`` (``-uram`` for URAM): every bank (and its
    tail) is block RAM, nothing of the memory in flip-flops or LUT RAM beyond a word
    and an address a bank."""
    from fixar_gen.hw.synth import block_verilog, cell_counts, summarize
    with fresh_block() as block:
        mem = InterleavedBanks(Scope("m"), banks=banks, width=width, addr_bits=addr_bits,
                               tail_bits=tail_bits, halves=halves)
        if halves:
            mem.read_address2[0] <<= pyrtl.Input(addr_bits, "raddr2")
            mem.write_address2[0] <<= pyrtl.Input(addr_bits, "waddr2")
        mem.read_address[0] <<= pyrtl.Input(addr_bits, "raddr")
        mem.write_address[0] <<= pyrtl.Input(addr_bits, "waddr")
        for j in range(banks):
            mem.write_words[0][j] <<= pyrtl.Input(width, f"w{j}")
            mem.write_enables[0][j] <<= pyrtl.Input(1, f"we{j}")
            out = pyrtl.Output(width, f"r{j}")
            out <<= mem.read_words[0][j]
    cells = cell_counts(block_verilog(block, "interleaved"), "interleaved", tmp_path,
                        uram=uram, tool=yosys_tool)
    rams = {k: n for k, n in cells.items() if k.startswith(("RAMB", "URAM", "RAM32", "RAM64"))}
    assert rams == expected
    assert summarize(cells)["FF"] <= banks * 2 * (width + addr_bits + 2) + 8


@pytest.mark.parametrize("rows,tail_bits", [
    (1, None), (2, 3), (3, None),
    pytest.param(16, None, marks=pytest.mark.slow)])     # fixar_u50's: 64 banks, 32 words
def test_the_gather_serves_amems_activation_reads(rows, tail_bits):
    """amem's planned reads (docs/hardware.md, step 4) through the strided read of 4P
    banks with 2R elements: FXP16's row pair and transposed pair (not arithmetic runs:
    two runs a stride apart, two columns a word apart) and the FXP32 line and column,
    at any start and at every row stride that serves them (memory_kinds.
    activation_stride's rule), between line writes; a read's unused elements repeat
    its first.  Catches a bank taking another element's address and a word taken from
    the wrong bank when the elements are not one stride apart."""
    from fixar_gen.memory_kinds import activation_banks, activation_reads, shares_banks
    banks = activation_banks(rows, 1)
    count = 2 * rows
    width, addr_bits = 7, banks.bit_length() + 3
    block = strided_design(banks, width, addr_bits, tail_bits, False, count)
    depth = depth_of(banks, addr_bits, tail_bits)
    top = min(depth, 1 << addr_bits)
    strides = [s for s in range(1, 3 * banks) if (rows - 1) * s + 1 < top // 2
               and not any(shares_banks(w, banks) for w in activation_reads(s, rows).values())]
    word = st.one_of(st.sampled_from([0, 1, (1 << width) - 1]),
                     st.integers(0, (1 << width) - 1))

    @settings(max_examples=examples(25), deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def check(data):
        sim = pyrtl.FastSimulation(tracer=None, block=block)
        model = InterleavedModel(banks, width, depth)
        pending = None
        for _ in range(data.draw(st.integers(1, 12))):
            w_at, values, enables = draw_line_write(data, word, banks, top)
            stride = data.draw(st.sampled_from(strides))
            read = data.draw(st.sampled_from(sorted(activation_reads(stride, rows))))
            offsets = activation_reads(stride, rows)[read]
            r_at = data.draw(st.integers(0, top - 1 - max(offsets)))
            elements = [r_at + o for o in offsets]
            elements += [elements[0]] * (count - len(elements))
            inputs = {"in_waddr": w_at, "in_raddr": r_at, "in_strided": 1,
                      **write_inputs(values, enables)}
            for k, at in enumerate(elements):
                inputs[f"in_e{k}"] = at
            model.write(w_at, values, enables)
            step_and_check(sim, inputs, pending)
            pending = model.read_elements(elements[:len(offsets)])

    check()


def test_the_gather_model_refuses_elements_that_share_banks():
    model = InterleavedModel(8, 8, 64)
    model.write(8, list(range(1, 9)), [1] * 8)
    assert model.read_elements([9, 12, 78]) == [2, 5, 7]     # 78 wraps to 14
    with pytest.raises(ValueError):
        model.read_elements([1, 9])


@pytest.mark.parametrize("banks,addr_bits,tail_bits,wider", [
    (2, 1, None, 0), (2, 2, None, 0), (2, 4, 2, 0), (4, 2, None, 0), (4, 3, None, 0),
    (4, 6, 4, 0), (8, 5, None, 0), (8, 7, 5, 0), (16, 4, None, 0), (16, 8, None, 0),
    (32, 9, 7, 0), (32, 10, None, 0), (2, 3, None, 2), (4, 4, 2, 3), (8, 5, None, 3),
    (32, 7, 6, 2)])
def test_the_pair_past_half_a_line_is_the_pair_of_the_start_past_it(banks, addr_bits,
                                                                     tail_bits, wider):
    """``line_pair_past_half(a)`` (the second half line's line pair without the add
    before it: the data memories' double-line reads and writes) equals ``line_pair`` of
    the start H = banks / 2 words past ``a`` modulo the address width, at every address
    (the last lines, where the line + 1 wraps, included), also for an address
    ``wider`` bits wider than the memory's (the data memories' common address width:
    the line then wider than a bank's address)."""
    from fixar_gen.hw.build import zext as _z
    with fresh_block() as block:
        mem = InterleavedBanks(Scope("m"), banks=banks, width=4, addr_bits=addr_bits,
                               tail_bits=tail_bits)
        for wire in (mem.read_address[0], mem.write_address[0], *mem.write_words[0],
                     *mem.write_enables[0]):
            wire <<= 0                  # (the banks themselves idle)
        address = pyrtl.Input(addr_bits + wider, "address")
        past = pyrtl.Output(2 * mem.bank_bits, "past")
        past <<= mem.line_pair_past_half(address)
        ref = pyrtl.Output(2 * mem.bank_bits, "ref")
        ref <<= mem.line_pair(_z(address + banks // 2, addr_bits + wider))
    sim = pyrtl.Simulation(tracer=None, block=block)
    for a in range(1 << (addr_bits + wider)):
        sim.step({"address": a})
        assert sim.inspect("past") == sim.inspect("ref"), a
