"""The core's data memories (one per memory of the placement, each at its own width):
reads sign-extend to the datapath word, writes keep the low bits, and no value a
spec's programs store loses a bit -- shown from the formats, and refused when a
program would."""

from __future__ import annotations

import dataclasses

import pyrtl
import pytest
from hypothesis import given, settings, strategies as st

from fixar_gen.compiler import Precision, compile_program
from fixar_gen.dsl import load_spec
from fixar_gen.estimate import fxp16_precision
from fixar_gen.hw.build import fresh_block
from fixar_gen.hw.data_memories import DataMemories, MemoryShape, fitted_shape, memory_id
from fixar_gen.hw.design import PHASES, allowed_widths, config_for, hardware_limits, lane_limits
from fixar_gen.memory_kinds import MEMORIES, memory_of, stored_width
from fixar_gen.percore_fit import machine_programs

from ..conftest import EXAMPLES, examples

WORD = 40


def sign_extended(raw: int, width: int) -> int:
    return raw - (1 << width) if raw >> (width - 1) & 1 else raw


def _simulate(widths: dict[str, int], writes: list[tuple[str, int, int]],
              tails: dict[str, int] = {}) -> list[int]:
    """Write each (memory, address, value) through DataMemories, then read each back
    (one read a cycle, synchronous): the words read, as signed integers.  A memory in
    ``tails`` is 4 words and a tail RAM of 2^tails[m] words."""
    with fresh_block():
        shapes = tuple(MemoryShape(m, widths[m], 3, tails.get(m)) for m in MEMORIES)
        mems = DataMemories(shapes, WORD, 3, read_ports=1, write_ports=1)
        mem, addr = pyrtl.Input(3, "mem"), pyrtl.Input(3, "addr")
        value, we = pyrtl.Input(WORD, "value"), pyrtl.Input(1, "we")
        mems.write(mem, addr, value, we)
        out = pyrtl.Output(WORD, "out")
        out <<= mems.read(mem, addr, "ra")
        sim = pyrtl.Simulation()
        for m, a, v in writes:
            sim.step({"mem": memory_id(m), "addr": a, "value": v % (1 << WORD), "we": 1})
        got = []
        for m, a, _ in writes:
            sim.step({"mem": memory_id(m), "addr": a, "value": 0, "we": 0})
            sim.step({"mem": 0, "addr": 0, "value": 0, "we": 0})
            got.append(sign_extended(sim.inspect("out"), WORD))
        return got


@settings(max_examples=examples(25), deadline=None)
@given(st.data())
def test_reads_sign_extend_and_writes_keep_the_low_bits(data):
    widths = {m: data.draw(st.integers(2, WORD)) for m in MEMORIES}
    tails = {m: 1 for m in MEMORIES if data.draw(st.booleans())}
    writes = []
    for k, m in enumerate(MEMORIES):
        w = widths[m]
        value = data.draw(st.sampled_from((-(1 << (w - 1)), (1 << (w - 1)) - 1, 0, -1))
                          | st.integers(-(1 << (WORD - 1)), (1 << (WORD - 1)) - 1))
        depth = 6 if m in tails else 8
        writes.append((m, data.draw(st.integers(0, depth - 1)), value))
    # distinct words per memory: a later write to the same word would replace it
    seen, unique = set(), []
    for m, a, v in writes:
        if (m, a) not in seen:
            seen.add((m, a))
            unique.append((m, a, v))
    writes = unique
    got = _simulate(widths, writes, tails)
    for (m, _, value), word in zip(writes, got):
        w = widths[m]
        assert word == sign_extended(value % (1 << w), w)
        # a value within the memory's width comes back exactly; one beyond it does not
        fits = -(1 << (w - 1)) <= value < 1 << (w - 1)
        assert (word == value) == fits


def test_a_memory_one_bit_too_narrow_loses_the_extremes():
    """What the width check guards against: a 32-bit format's extremes through a
    31-bit memory come back wrong."""
    widths = {m: 31 for m in MEMORIES}
    got = _simulate(widths, [("amem", 0, -(1 << 31)), ("amem", 1, (1 << 31) - 1),
                             ("amem", 2, 5)])
    assert got[0] != -(1 << 31) and got[1] != (1 << 31) - 1 and got[2] == 5


@pytest.mark.parametrize("example", ["pendulum.yaml", "fixar_u50.yaml"])
def test_every_value_of_the_spec_programs_fits_its_memory(example):
    """From the formats: every buffer of every phase, FXP32 and FXP16, stores values
    of at most its memory's width (accumulators: the datapath word, above their
    ``acc_bits``), so the extremes of its format come back exactly."""
    spec = load_spec(EXAMPLES / example)
    cfg = config_for(spec)
    allowed = allowed_widths(lane_limits(spec))
    for m in MEMORIES:
        shape = cfg.memory(m)
        assert shape.width == (cfg.word if m == "cmem" else
                               max(allowed[m], shape.width)) <= cfg.word
    for precision in (Precision(), fxp16_precision(spec)):
        if spec.hardware.memories_per_core:     # the programs with their transfers
            programs = machine_programs(spec, precision)
        else:
            programs = [compile_program(spec, phase, precision, batch)
                        for phase, batch in PHASES]
        for program in programs:
            phase = program.name
            assert hardware_limits(program, cfg) == [], (phase, precision)
            for b in program.buffers:
                width = cfg.memory(memory_of(b)).width
                if b.wide:
                    assert memory_of(b) == "cmem" and b.acc_bits < width
                    continue
                assert stored_width(b) <= width, (phase, b)
                for v in (b.fmt.min_int, b.fmt.max_int):
                    assert sign_extended(v % (1 << width), width) == v, (phase, b)


def test_a_program_wider_than_its_memory_is_refused():
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    cfg = config_for(spec)
    narrow = tuple(dataclasses.replace(s, width=16) if s.name == "wmem" else s
                   for s in cfg.data_memories)
    program = compile_program(spec, "infer", Precision(), 1)
    problems = hardware_limits(program, dataclasses.replace(cfg, memories=narrow))
    assert any("memory wmem stores 16-bit words" in p for p in problems), problems


def test_a_memory_half_a_power_of_two_and_a_tail_holds_its_words_apart():
    """4 words and a tail of 2: the six words are distinct (the tail is not an alias of
    the lower half)."""
    widths = {m: 16 for m in MEMORIES}
    writes = [("cmem", a, 100 + a) for a in range(6)]
    assert _simulate(widths, writes, {"cmem": 1}) == [100 + a for a in range(6)]


@settings(max_examples=examples(200), deadline=None)
@given(st.integers(1, 1 << 24))
def test_fitted_shapes_hold_the_words_with_less_than_half_to_spare(words):
    shape = fitted_shape("amem", 32, words)
    assert shape.depth >= words
    assert shape.depth <= max(2, 2 * words)
    assert shape.depth == sum(n for _, n in shape.blocks)
    for name, n in shape.blocks:
        assert n & (n - 1) == 0                    # each RAM a power of two


@settings(max_examples=examples(300), deadline=None)
@given(words=st.integers(1, 1 << 20), width=st.integers(1, 100),
       lb=st.integers(0, 6))
def test_a_banks_tail_above_2_kbit_is_deepened_into_block_ram(words, width, lb):
    """``tail_in_block_ram``: on 2^lb banks, a tail RAM of 64 words a bank or fewer and
    more than 2 Kbit (LUT RAM by Yosys's choice) becomes 128 words a bank, or goes (the
    main RAMs doubled) where 128 would not be below the main RAM; every other shape is
    kept, and the memory never gets shallower. A rule that drops every small tail, or
    deepens the 32-bit ones of 2 Kbit or less, fails it."""
    from fixar_gen.hw.banked import interleaved_bank_shape
    from fixar_gen.hw.data_memories import LUT_RAM_BITS, LUT_RAM_WORDS, tail_in_block_ram
    banks = 1 << lb
    shape = fitted_shape("cmem", width, words)
    got = tail_in_block_ram(shape, banks)
    assert (got.name, got.width, got.addr_bits) == (shape.name, width, shape.addr_bits)
    before = interleaved_bank_shape(banks, shape.addr_bits, shape.tail_bits)
    after = interleaved_bank_shape(banks, got.addr_bits, got.tail_bits)
    assert banks * sum(1 << b for b in after) >= banks * sum(1 << b for b in before) >= words
    small = len(before) == 2 and (1 << before[1]) <= LUT_RAM_WORDS \
        and (1 << before[1]) * width > LUT_RAM_BITS
    if not small:
        assert got == shape
    elif len(after) == 2:
        assert 1 << after[1] == 2 * LUT_RAM_WORDS and after[1] < after[0]
    else:
        assert after == (shape.addr_bits - lb,)
    # no tail RAM of the result is LUT RAM above 2 Kbit
    if len(after) == 2:
        assert (1 << after[1]) > LUT_RAM_WORDS or (1 << after[1]) * width <= LUT_RAM_BITS


def test_the_one_core_designs_accumulator_tail_is_block_ram(tmp_path):
    """The slow test's design (tests/hw/test_memory_map.py): cmem 4,096 + 64 words on 2
    banks had a tail of 32 x 82 bits a bank (LUT RAM); config_for deepens it to 128."""
    from fixar_gen.hw.data_memories import bank_blocks
    from .test_memory_map import ONE_CORE_SPEC
    path = tmp_path / "one_core.yaml"
    path.write_text(ONE_CORE_SPEC)
    cfg = config_for(load_spec(path))
    cmem = cfg.memory("cmem")
    assert (cmem.width, cmem.addr_bits, cmem.tail_bits) == (82, 13, 8)
    assert dict(bank_blocks(cmem, cfg.memory_banks("cmem"))) == {
        "mem_cmem_bank0": 2048, "mem_cmem_bank0_tail": 128,
        "mem_cmem_bank1": 2048, "mem_cmem_bank1_tail": 128}


# ------------------------------------------ the line ports' grants, gate by gate

@dataclasses.dataclass
class _Request:
    """What ``DataMemories._grants`` reads of a request (a ``_LineRead``'s fields)."""
    ask_next: pyrtl.WireVector
    second: pyrtl.WireVector | None
    flag: pyrtl.WireVector | None
    gated_next: dict | None

    def asking_next(self, memory):
        return self.ask_next

    def asking(self, memory):
        raise AssertionError("the grants are registered from the next asks")


@settings(max_examples=examples(60), deadline=None)
@given(data=st.data())
def test_the_grants_decided_gate_by_gate_equal_the_grants_of_the_whole_asks(data):
    """``_grants`` on requests that state their next asks as terms ``gate &
    condition`` (``_by_gates``: each gate's conditions decided apart, the gate ANDed
    last) equals ``_grants`` on the same asks whole, for every one-hot (or no) gate,
    every condition and every ungated ask that keeps the contract (0 while a gate is
    1), on ports with and without halves, with requests with and without their own
    second start.  Catches, e.g., the gate dropped from a term or a request's
    conditions decided under another request's gate."""
    n = data.draw(st.integers(1, 5), label="requests")
    gates_n = data.draw(st.integers(1, 3), label="gates")
    halves = data.draw(st.booleans(), label="halves")
    # per request: None (ungated) or the gates its terms name
    kinds = data.draw(st.lists(st.one_of(st.none(), st.sets(st.integers(0, gates_n - 1),
                                                             min_size=1)),
                               min_size=n, max_size=n), label="terms")
    own_second = data.draw(st.lists(st.booleans(), min_size=n, max_size=n), label="second")
    with fresh_block():
        gates = [pyrtl.Input(1, f"g{j}") for j in range(gates_n)]
        both = {}
        for gated in (False, True):
            requests = []
            for i, kind in enumerate(kinds):
                if kind is None:
                    ask = pyrtl.Input(1, f"u{i}") if not gated else \
                        pyrtl.working_block().get_wirevector_by_name(f"u{i}")
                    terms = None
                else:
                    terms = tuple((gates[j], pyrtl.working_block().get_wirevector_by_name(
                        f"c{i}_{j}") if gated else pyrtl.Input(1, f"c{i}_{j}"))
                        for j in sorted(kind))
                    ask = pyrtl.tree_reduce(lambda a, b: a | b, [g & c for g, c in terms])
                second = pyrtl.Const(0, 3) if own_second[i] else None
                requests.append(_Request(ask, second, pyrtl.Const(0, 1) if halves else None,
                                         {"m": terms} if gated and terms else None))
            both[gated] = DataMemories._grants("m", int(gated), requests, halves)
        outs = []
        for key, value in both[False].items():
            for i, w in enumerate(value if isinstance(value, list) else [value]):
                got = both[True][key][i] if isinstance(value, list) else both[True][key]
                a, b = pyrtl.Output(1, f"whole_{key}{i}"), pyrtl.Output(1, f"gated_{key}{i}")
                a <<= w
                b <<= got
                outs.append((a.name, b.name))
        sim = pyrtl.Simulation()
        on = data.draw(st.integers(-1, gates_n - 1), label="gate on")
        values = {f"g{j}": int(j == on) for j in range(gates_n)}
        for i, kind in enumerate(kinds):
            if kind is None:
                values[f"u{i}"] = 0 if on >= 0 else data.draw(st.integers(0, 1))
            else:
                for j in kind:
                    values[f"c{i}_{j}"] = data.draw(st.integers(0, 1))
        sim.step(values)
        sim.step(values)                  # the grants are registers
        for whole, gated in outs:
            assert sim.inspect(whole) == sim.inspect(gated), (whole, values)
