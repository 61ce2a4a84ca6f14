"""The instruction encoding: every instruction class survives encode -> decode, decode
refuses words that are not instructions, and listings name every operand."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixar_gen.compiler import compile_program
# every instruction of the set, the transfers too
from fixar_gen.isa import (ALL_INSTRUCTIONS as INSTRUCTIONS, BUFFER_BITS, BY_OPCODE,
                           COUNT_BITS, INSTRUCTION_BITS, NO_BUFFER, OPCODE_BITS, Range,
                           assembly, decode, encode, encode_words, listing)
from fixar_gen.spec import (ActorSpec, AlgorithmSpec, CriticSpec, HardwareSpec, NetworksSpec,
                            ParallelismSpec, Spec)
from tests.conftest import examples

OPERAND_FIELDS = ("dst", "a", "b", "c", "e", "acc", "bias", "slope", "src", "buf")


def _is_range(cls, name: str) -> bool:
    return {f.name: f.type for f in dataclasses.fields(cls)}[name] in (Range, "Range")


def _field_values(cls, name: str, bits: int, enum):
    if _is_range(cls, name):
        return st.builds(Range, st.integers(0, (1 << COUNT_BITS) - 1),
                         st.integers(1, 1 << COUNT_BITS))
    return st.integers(0, (len(enum) if enum else 1 << bits) - 1)


@st.composite
def instructions(draw, cls):
    return cls(**{name: draw(_field_values(cls, name, bits, enum))
                  for name, bits, enum in cls.fields_bits()})


def _maximal(cls):
    return cls(**{name: Range((1 << COUNT_BITS) - 1, 1 << COUNT_BITS) if _is_range(cls, name)
                  else (len(enum) if enum else 1 << bits) - 1
                  for name, bits, enum in cls.fields_bits()})


def _used_bits(cls) -> int:
    return OPCODE_BITS + sum(bits for _, bits, _ in cls.fields_bits())


@pytest.mark.parametrize("cls", INSTRUCTIONS, ids=lambda c: c.MNEMONIC)
@settings(max_examples=examples(100))
@given(data=st.data())
def test_encode_decode_round_trip(cls, data):
    instr = data.draw(instructions(cls))
    word = encode(instr)
    assert 0 <= word < 1 << INSTRUCTION_BITS
    assert word & ((1 << OPCODE_BITS) - 1) == cls.OPCODE
    assert word >> _used_bits(cls) == 0
    assert decode(word) == instr
    words = encode_words(instr)
    assert len(words) == INSTRUCTION_BITS // 32
    assert all(0 <= w < 1 << 32 for w in words)
    assert sum(w << (32 * i) for i, w in enumerate(words)) == word


@pytest.mark.parametrize("cls", INSTRUCTIONS, ids=lambda c: c.MNEMONIC)
def test_extreme_fields_round_trip(cls):
    """All fields at their maximum (Range(65535, 65536) included), and all at zero."""
    for instr in (_maximal(cls), cls(**{name: Range(0, 1) if _is_range(cls, name) else 0
                                        for name, _, _ in cls.fields_bits()})):
        assert decode(encode(instr)) == instr
    if not any(enum for _, _, enum in cls.fields_bits()):    # enums stop below their bits
        assert encode(_maximal(cls)) == (1 << _used_bits(cls)) - (1 << OPCODE_BITS) + \
            cls.OPCODE


@pytest.mark.parametrize("cls", INSTRUCTIONS, ids=lambda c: c.MNEMONIC)
def test_fields_sit_in_declaration_order(cls):
    """Each field alone at its maximum occupies exactly its bits, lowest first."""
    pos = OPCODE_BITS
    base = cls(**{name: Range(0, 1) if _is_range(cls, name) else 0
                  for name, _, _ in cls.fields_bits()})
    for name, bits, _ in cls.fields_bits():
        value = Range((1 << COUNT_BITS) - 1, 1 << COUNT_BITS) if _is_range(cls, name) \
            else (1 << bits) - 1
        word = encode(dataclasses.replace(base, **{name: value}))
        assert word == cls.OPCODE | (((1 << bits) - 1) << pos), name
        pos += bits


@pytest.mark.parametrize("cls", INSTRUCTIONS, ids=lambda c: c.MNEMONIC)
def test_encode_refuses_values_wider_than_their_field(cls):
    for name, bits, _ in cls.fields_bits():
        if _is_range(cls, name):
            continue
        with pytest.raises(ValueError, match=name):
            encode(dataclasses.replace(_maximal(cls), **{name: 1 << bits}))
        with pytest.raises(ValueError, match=name):
            encode(dataclasses.replace(_maximal(cls), **{name: -1}))


def test_ranges_refuse_what_the_encoding_cannot_hold():
    for start, count in ((-1, 1), (1 << COUNT_BITS, 1), (0, 0), (0, (1 << COUNT_BITS) + 1)):
        with pytest.raises(ValueError):
            Range(start, count)


@given(opcode=st.sampled_from([o for o in range(1 << OPCODE_BITS) if o not in BY_OPCODE]),
       rest=st.integers(0, (1 << (INSTRUCTION_BITS - OPCODE_BITS)) - 1))
def test_decode_refuses_unknown_opcodes(opcode, rest):
    with pytest.raises(ValueError, match="not an instruction"):
        decode(opcode | (rest << OPCODE_BITS))


@pytest.mark.parametrize("cls", INSTRUCTIONS, ids=lambda c: c.MNEMONIC)
@settings(max_examples=examples(50))
@given(data=st.data())
def test_decode_refuses_bits_beyond_the_fields(cls, data):
    word = encode(data.draw(instructions(cls)))
    bit = data.draw(st.integers(_used_bits(cls), INSTRUCTION_BITS + 64))
    with pytest.raises(ValueError, match="not an instruction"):
        decode(word | (1 << bit))


def test_decode_refuses_negative_words():
    with pytest.raises(ValueError):
        decode(-1)


def test_decode_refuses_undefined_function_codes():
    from fixar_gen.isa import VECTOR_FUNCTIONS, Vector
    word = encode(Vector(fn=len(VECTOR_FUNCTIONS)))
    with pytest.raises(ValueError, match="not an instruction"):
        decode(word)


def _tiny_spec(cores: int, policy: str) -> Spec:
    return Spec(networks=NetworksSpec(actor=ActorSpec(hidden=(3,), inputs=2, outputs=1),
                                      critic=CriticSpec(hidden=(3,))),
                algorithm=AlgorithmSpec(batch_size=3), hardware=HardwareSpec(cores=cores),
                parallelism=ParallelismSpec(inference=policy, training=policy))


@pytest.mark.parametrize("phase", ["infer", "explore", "infer_critic", "train"])
@pytest.mark.parametrize("cores,policy", [(1, "intra_layer"), (3, "intra_batch"),
                                          (2, "intra_layer")])
def test_listing_names_every_operand(phase, cores, policy):
    program = compile_program(_tiny_spec(cores, policy), phase)
    text = listing(program)
    lines = text.splitlines()
    code_lines = lines[-len(program.code):]
    assert len(lines) == 1 + len(program.buffers) + len(program.slots) + len(program.code)
    for buffer in program.buffers:
        assert buffer.name in text
    for pc, (instr, line) in enumerate(zip(program.code, code_lines)):
        assert line.split()[0] == str(pc)
        assert line.split(maxsplit=1)[1] == assembly(instr, program)
        assert f"c{instr.core} {instr.MNEMONIC}" in line
        for name in OPERAND_FIELDS:
            value = getattr(instr, name, NO_BUFFER)
            if value != NO_BUFFER:
                assert f"{name}={program.buffers[value].name}" in line.split(), (pc, name)
        if hasattr(instr, "slot"):
            assert f"slot={program.slots[instr.slot].name}" in line.split()
        assert decode(encode(instr)) == instr
    referenced = {program.buffers[getattr(i, n)].name for i in program.code
                  for n in OPERAND_FIELDS if getattr(i, n, NO_BUFFER) != NO_BUFFER}
    assert referenced <= {b.name for b in program.buffers}
    assert max(len(program.buffers), 1) < 1 << BUFFER_BITS
