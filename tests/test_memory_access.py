"""Which memories each unit reaches (fixar_gen/memory_access.py): the compiled DDPG
programs of every example keep to it in every phase and precision, and a program that
does not -- the matrix unit on a memory it is not wired to, two operand lines of one
step in one banked memory -- is named instruction by instruction and refused by the
hardware limits."""

from __future__ import annotations

import pytest

from fixar_gen.compiler import PHASES, compile_program
from fixar_gen.dsl import load_spec
from fixar_gen.estimate import fxp16_precision
from fixar_gen.hw.design import config_for, hardware_limits
from fixar_gen.isa import (VECTOR_FUNCTIONS, Buffer, Halt, MatMul, Program, Range,
                           Vector)
from fixar_gen.memory_access import access_problems, step_accesses
from fixar_gen.memory_kinds import BANKED_MEMORIES, memory_of
from fixar_gen.numerics import FixedFormat

from .conftest import EXAMPLES

F = FixedFormat(32, 16)
KIND = {"amem": ("data", ""), "wmem": ("param", ""), "gmem": ("grad", ""),
        "mmem": ("state", ""), "vmem": ("state", ".s")}


def buffer(i: int, memory: str, rows: int = 2, cols: int = 3) -> Buffer:
    kind, suffix = KIND[memory]
    return Buffer(f"b{i}{suffix}", rows, cols, F, kind)


def program(buffers, *code) -> Program:
    return Program("hand", tuple(buffers), (), tuple(code) + (Halt(),), 1, F)


@pytest.mark.parametrize("path", ["pendulum.yaml", "fixar_u50.yaml", "halfcheetah.yaml"])
@pytest.mark.parametrize("fxp16", [False, True])
def test_the_compiled_programs_keep_to_what_each_unit_reaches(path, fxp16):
    spec = load_spec(EXAMPLES / path)
    for phase in PHASES:
        if fxp16:
            p = compile_program(spec, phase, fxp16_precision(spec))
        else:
            p = compile_program(spec, phase)
        assert access_problems(p) == [], (path, phase)


def add(dst, a, b) -> Vector:
    return Vector(fn=VECTOR_FUNCTIONS.index("add"), dst=dst, a=a, b=b,
                  rows=Range(0, 2), cols=Range(0, 3))


@pytest.mark.parametrize("ma,mb,ok", [
    ("amem", "amem", True),             # amem is not banked: a port per operand
    ("gmem", "mmem", True), ("mmem", "vmem", True),
    ("gmem", "gmem", False), ("vmem", "vmem", False)])
def test_two_operand_lines_of_one_banked_memory_in_a_step_are_refused(ma, mb, ok):
    p = program([buffer(0, "amem"), buffer(1, ma), buffer(2, mb)], add(0, 1, 2))
    problems = access_problems(p)
    assert (problems == []) == ok, problems
    if not ok:
        assert problems == [f"instruction 0: vec add reads 2 operand lines of {ma} a step; "
                            "its banks serve one read and one write line a cycle (place "
                            "the operands in other memories)"]


def test_a_step_counts_its_lines_per_memory():
    # adam_w reads m and sqrt(v) and updates w in place: one line of each of three
    # memories read, one written
    fn = VECTOR_FUNCTIONS.index("adam_w")
    buffers = [buffer(0, "wmem"), buffer(1, "mmem"), buffer(2, "vmem")]
    p = program(buffers, Vector(fn=fn, dst=0, a=1, b=2, rows=Range(0, 2), cols=Range(0, 3)))
    reads, writes = step_accesses(p.code[0], p)
    assert dict(reads) == {"wmem": 1, "mmem": 1, "vmem": 1} and dict(writes) == {"wmem": 1}
    # a copy within gmem reads one line and writes one: fine
    p = program([buffer(0, "gmem"), buffer(1, "gmem")],
                Vector(fn=VECTOR_FUNCTIONS.index("copy"), dst=0, a=1, rows=Range(0, 2),
                       cols=Range(0, 3)))
    assert access_problems(p) == []


@pytest.mark.parametrize("role,memory", [("a", "wmem"), ("a", "gmem"), ("b", "mmem"),
                                         ("b", "vmem")])
def test_the_matrix_unit_is_refused_a_memory_it_is_not_wired_to(role, memory):
    mems = {"a": "amem", "b": "wmem", role: memory}
    acc = Buffer("acc", 2, 2, FixedFormat(64, 32), "acc", 80)
    p = program([buffer(0, mems["a"], 2, 2), buffer(1, mems["b"], 2, 2), acc],
                MatMul(dst=2, a=0, b=1, m=Range(0, 2), n=Range(0, 2), k=Range(0, 2)))
    problems = access_problems(p)
    assert len(problems) == 1 and f"mm's {role} " in problems[0] and memory in problems[0]
    # the hardware limits say it too: the program cannot run on the core
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    assert problems[0] in hardware_limits(p, config_for(spec))


def test_the_banked_memories_are_those_only_the_element_loop_reaches():
    from fixar_gen.memory_kinds import MATRIX_MEMORIES
    reached = {m for memories in MATRIX_MEMORIES.values() for m in memories}
    assert not reached & set(BANKED_MEMORIES)
    assert {memory_of(buffer(0, m)) for m in ("gmem", "mmem", "vmem")} == set(BANKED_MEMORIES)
