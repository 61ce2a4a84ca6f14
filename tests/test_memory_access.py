"""Which memories each unit reaches (fixar_gen/memory_access.py): the compiled DDPG
programs of every example keep to it in every phase and precision, and a program that
does not -- the matrix unit on a memory it is not wired to, two operand lines of one
step in one banked memory -- is named instruction by instruction and refused by the
hardware limits."""

from __future__ import annotations

import dataclasses

import pytest

from fixar_gen.compiler import PHASES, Precision, compile_program
from fixar_gen.dsl import load_spec
from fixar_gen.estimate import fxp16_precision
from fixar_gen.hw.design import config_for, hardware_limits
from fixar_gen.isa import (VECTOR_FUNCTIONS, Buffer, Halt, MatMul, Program, Range,
                           Vector)
from fixar_gen.memory_access import access_problems, step_accesses
from fixar_gen.percore_fit import machine_programs
from fixar_gen.memory_kinds import (BANKED_MEMORIES, accumulator_half_line,
                                    accumulator_stride, memory_of, weight_stride)
from fixar_gen.numerics import FixedFormat
from hypothesis import given
from hypothesis import strategies as st

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
    precision = fxp16_precision(spec) if fxp16 else Precision()
    shared = config_for(spec, per_core_memories=False)
    for phase in PHASES:
        p = compile_program(spec, phase, precision)
        assert access_problems(p) == [], (path, phase)
        # and every FXP16 product's accumulator has its padded row stride
        half = accumulator_half_line(spec.hardware.cols)
        assert access_problems(p, half) == [], (path, phase)
        assert hardware_limits(p, shared) == [], (path, phase)
    if spec.hardware.memories_per_core:     # as specified: each core its copy
        for p in machine_programs(spec, precision):
            assert hardware_limits(p, config_for(spec)) == [], (path, p.name)


def add(dst, a, b) -> Vector:
    return Vector(fn=VECTOR_FUNCTIONS.index("add"), dst=dst, a=a, b=b,
                  rows=Range(0, 2), cols=Range(0, 3))


@pytest.mark.parametrize("ma,mb,ok", [
    ("amem", "amem", True),             # amem: a cycle a line beyond the first
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
    # counted under another placement's rule (benchmarks/amem_plan.py's): all in one
    reads, writes = step_accesses(p.code[0], p, lambda b: "amem")
    assert dict(reads) == {"amem": 3} and dict(writes) == {"amem": 1}
    # a copy within gmem reads one line and writes one: fine
    p = program([buffer(0, "gmem"), buffer(1, "gmem")],
                Vector(fn=VECTOR_FUNCTIONS.index("copy"), dst=0, a=1, rows=Range(0, 2),
                       cols=Range(0, 3)))
    assert access_problems(p) == []


@pytest.mark.parametrize("role,memory", [("a", "wmem"), ("a", "mmem"), ("b", "mmem"),
                                         ("b", "vmem"), ("b", "amem")])
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
    """... and gmem, which the matrix unit reads as plain lines (the deltas)."""
    from fixar_gen.memory_kinds import DELTA_MEMORY, MATRIX_MEMORIES
    reached = {m for memories in MATRIX_MEMORIES.values() for m in memories}
    assert reached & set(BANKED_MEMORIES) == {DELTA_MEMORY}
    assert memory_of(Buffer("d", 2, 2, F, "delta")) == DELTA_MEMORY
    assert {memory_of(buffer(0, m)) for m in ("gmem", "mmem", "vmem")} == set(BANKED_MEMORIES)


@given(cols=st.integers(1, 700), lg=st.integers(0, 5))
def test_an_accumulator_stride_puts_rows_m_and_m_plus_1_in_opposite_halves(cols, lg):
    half = 1 << lg
    stride = accumulator_stride(cols, half)
    assert cols <= stride < cols + 2 * half and stride % (2 * half) == half
    # the H words of row m from any column and those of row m + 1 are in disjoint banks
    for start in range(2 * half):
        lo = {(start + j) % (2 * half) for j in range(half)}
        hi = {(start + stride + j) % (2 * half) for j in range(half)}
        assert not lo & hi
    assert accumulator_stride(stride, half) == stride


@pytest.mark.parametrize("array_cols,half", [(1, 1), (2, 2), (3, 4), (16, 16), (17, 32)])
def test_the_half_line_is_the_array_columns_rounded_up_to_a_power_of_two(array_cols, half):
    assert accumulator_half_line(array_cols) == half


@pytest.mark.parametrize("mode,cols,ok", [(1, 3, False), (1, 16, True), (1, 48, True),
                                          (1, 32, False), (0, 3, True), (0, 32, True)])
def test_an_fxp16_product_needs_its_accumulator_stride(mode, cols, ok):
    acc = Buffer("acc", 4, cols, FixedFormat(64, 32), "acc", 80)
    p = program([buffer(0, "amem", 4, 2), buffer(1, "wmem", 2, 3), acc],
                MatMul(dst=2, a=0, b=1, mode=mode, m=Range(0, 4), n=Range(0, 3),
                       k=Range(0, 2)))
    assert access_problems(p) == []           # no half line given: not checked
    problems = access_problems(p, 16)
    assert (problems == []) == ok, problems
    if not ok:
        assert problems == [f"instruction 0: fxp16 mm's dst acc has a row stride of {cols} "
                            "words; rows m and m + 1 share cmem's banks unless it is 16 mod "
                            f"32 (pad it to {accumulator_stride(cols, 16)} columns)"]
        spec = load_spec(EXAMPLES / "fixar_u50.yaml")
        assert problems[0] in hardware_limits(p, config_for(spec, per_core_memories=False))


def _acc_add_program(d_cols: int, a_cols: int, src_col: int, start: int):
    acc = lambda i, cols: Buffer(f"acc{i}", 3, cols, FixedFormat(64, 32), "acc", 80)  # noqa
    return program([acc(0, d_cols), acc(1, a_cols)],
                   Vector(fn=VECTOR_FUNCTIONS.index("acc_add"), dst=0, a=1,
                          rows=Range(0, 3), cols=Range(start, 2), src_col=src_col))


@pytest.mark.parametrize("d_cols,a_cols,src_col,start,ok", [
    (16, 16, 0, 0, True), (48, 16, 1, 1, True), (5, 5, 0, 0, True),
    (16, 16, 1, 0, False),          # a's line one column off: not H apart
    (16, 32, 0, 0, False)])         # strides differing by 16: the next row drifts
def test_acc_add_reads_its_two_accumulators_in_opposite_halves(d_cols, a_cols, src_col,
                                                               start, ok):
    from fixar_gen.memory_access import acc_half_problems
    from fixar_gen.placement import place
    p = _acc_add_program(d_cols, a_cols, src_col, start)
    assert access_problems(p, 16) == []          # two lines of cmem: acc_add's pair
    placement = place(p, share=False, acc_half=16)
    assert placement.buffers[0].offset % 32 == 0 and placement.buffers[1].offset % 32 == 16
    problems = acc_half_problems(p, placement, 16)
    assert (problems == []) == ok, problems
    if not ok:
        assert problems[0].startswith("instruction 0: acc_add's dst acc0 and a acc1 are read "
                                      "in one step from cmem's 32 banks")
        spec = load_spec(EXAMPLES / "fixar_u50.yaml")
        assert problems[0] in hardware_limits(p, config_for(spec, per_core_memories=False))
    # without the halves the placement packs them: a starts where dst ends
    packed = place(p, share=False)
    assert (acc_half_problems(p, packed, 16) == []) == \
        (ok and (3 * d_cols + src_col - start) % 32 == 16)


def test_two_cmem_reads_other_than_a_pair_are_refused():
    accs = [Buffer(f"acc{i}", 2, 3, FixedFormat(64, 32), "acc", 80) for i in (1, 2)]
    p = program([buffer(0, "amem")] + accs, add(0, 1, 2))
    assert access_problems(p) == ["instruction 0: vec add reads 2 and writes 0 operand lines "
                                  "of cmem a step; its banks serve one line written and one "
                                  "read (two half lines: an update's dst and a) a cycle"]


@pytest.mark.parametrize("path", ["fixar_u50.yaml", "custom_dsl.py"])
def test_the_compiled_reductions_keep_to_the_halves(path):
    from fixar_gen.memory_access import acc_half_problems
    spec = load_spec(EXAMPLES / path)
    p = compile_program(spec, "train")
    half = accumulator_half_line(spec.hardware.cols)
    assert any(ins.fn == VECTOR_FUNCTIONS.index("acc_add") for ins in p.code
               if isinstance(ins, Vector)) == (spec.hardware.cores > 1 and
                                               spec.parallelism.training == "intra_batch")
    assert acc_half_problems(p, p.placement, half) == []


# -- wmem: the transposed weights as strided lines, soft_update's pair ------------------

def _tb_program(b_cols: int, tb: int = 1, memory: str = "wmem") -> Program:
    """mm reading b (rows 4 x b_cols, in ``memory``) transposed: its column of
    ``b_cols``-word stride is the weight row the array loads."""
    a = buffer(0, "amem", 2, 4)
    b = buffer(1, memory, 4, b_cols)
    acc = Buffer("acc", 2, 16, FixedFormat(64, 32), "acc", 80)
    return program([a, b, acc], MatMul(dst=2, a=0, b=1, tb=tb, m=Range(0, 2),
                                       n=Range(0, 4), k=Range(0, min(b_cols, 3))))


@given(cols=st.integers(1, 70), half_log=st.integers(0, 4))
def test_a_weight_read_transposed_from_wmem_needs_an_odd_row_stride(cols, half_log):
    """The rule the strided line needs (the elements of a column in distinct banks):
    refused exactly when the stride is even and the banks more than one; a weight
    padded by memory_kinds.weight_stride (at most one word) always passes.  Catches a
    check that lets an even stride through (the core would read two elements from one
    bank) or refuses a row read (tb=0) of wmem or of a delta in gmem."""
    half = 1 << half_log
    problems = access_problems(_tb_program(cols), half)
    assert (problems != []) == (cols % 2 == 0 and 2 * half > 1), problems
    if problems:
        assert problems[0] == (
            f"instruction 0: mm reads b b1 transposed from wmem with a row stride of {cols} "
            f"words; its column is one strided line of wmem's {2 * half} banks only when "
            f"the stride is odd (pad it to {cols + 1} columns)")
    padded = weight_stride(cols, 2 * half)
    assert padded - cols in (0, 1) and padded % 2 == 1
    assert access_problems(_tb_program(padded), half) == []
    assert access_problems(_tb_program(cols, tb=0), half) == []
    assert access_problems(_tb_program(cols, tb=0, memory="gmem"), half) == []


def _soft_update(dst_name: str, cols: int = 5) -> Program:
    w = Buffer("w", 3, cols, F, "param")
    t = Buffer(dst_name, 3, cols, F, "param")
    c = Buffer("c.tau", 1, 1, F, "const")
    return program([w, t, c], Vector(fn=VECTOR_FUNCTIONS.index("soft_update"), dst=1, a=0,
                                     c=2, rows=Range(0, 3), cols=Range(0, cols)))


@pytest.mark.parametrize("dst_name", ["t", "target.w"])
def test_soft_update_reads_target_and_parameter_from_opposite_halves(dst_name):
    """soft_update reads two lines of wmem a step (its target, dst, and the parameter,
    a): one double line, the placement putting the target H past the parameter mod 2H
    (by its use, and by name for the compiler's target parameters, so that they keep
    their words in every program); a placement without the halves is refused."""
    from fixar_gen.memory_access import acc_half_problems
    from fixar_gen.placement import place
    p = _soft_update(dst_name)
    assert access_problems(p, 16) == []
    placement = place(p, share=False, acc_half=16)
    assert placement.buffers[0].offset % 32 == 0 and placement.buffers[1].offset % 32 == 16
    assert acc_half_problems(p, placement, 16) == []
    packed = place(p, share=False)
    assert acc_half_problems(p, packed, 16) == [
        "instruction 0: soft_update's dst {} and a w are read in one step from wmem's 32 "
        "banks, so their lines must start 16 apart mod 32; they start 17 apart"
        .format(dst_name)]
    # a third operand line of wmem in that step has no port
    e = Buffer("e", 3, 5, F, "param")
    three = dataclasses.replace(p, buffers=p.buffers + (e,), code=(
        dataclasses.replace(p.code[0], e=3),) + p.code[1:])
    assert "reads 3 and writes 1 operand lines of wmem" in access_problems(three, 16)[0]


@pytest.mark.parametrize("path", ["pendulum.yaml", "fixar_u50.yaml", "custom_dsl.py"])
def test_the_compiled_weights_keep_to_wmem_banks(path):
    """Every weight the compiled programs read transposed from wmem has an odd row
    stride (at most one padding column), the grads and optimizer state keep the logical
    columns, and every soft_update's two lines fall into opposite halves; the
    parameters' words are the same in every phase."""
    from fixar_gen.compiler import param_cols
    from fixar_gen.memory_access import acc_half_problems
    spec = load_spec(EXAMPLES / path)
    half = accumulator_half_line(spec.hardware.cols)
    offsets = None
    for phase in PHASES:
        p = compile_program(spec, phase)
        table = {b.name: b for b in p.buffers}
        tb = {p.buffers[ins.b].name for ins in p.code if isinstance(ins, MatMul) and ins.tb
              and memory_of(p.buffers[ins.b]) == "wmem"}
        if phase == "train":
            assert tb and acc_half_problems(p, p.placement, half) == []
            assert any(isinstance(ins, Vector) and
                       ins.fn == VECTOR_FUNCTIONS.index("soft_update") for ins in p.code)
        for name in tb:
            assert table[name].cols % 2 == 1
            assert table[name].cols - param_cols(spec, name) in (0, 1)
            assert table[name + ".grad"].cols == param_cols(spec, name)
        kept = {q.name: q.offset for q in p.placement.buffers if q.memory == "wmem"}
        offsets = offsets or kept
        assert kept == offsets, phase


@pytest.mark.parametrize("ta,tb,mode,a_mem,b_mem,refused", [
    (0, 0, 0, "gmem", "wmem", []),                 # a delta's line
    (1, 0, 1, "amem", "gmem", []),                 # a delta's row
    (0, 0, 0, "gmem", "gmem", ["a"]),              # both: two lines of one port
    (0, 0, 1, "gmem", "wmem", ["a"]),              # FXP16: the row pair
    (1, 0, 0, "gmem", "wmem", ["a"]),              # a transposed delta
    (0, 1, 0, "amem", "gmem", ["b"]),              # a delta's column
    (1, 1, 1, "gmem", "gmem", ["a", "a", "b"]),
    (1, 1, 1, "amem", "wmem", [])])
def test_the_matrix_unit_reads_deltas_as_plain_lines(ta, tb, mode, a_mem, b_mem, refused):
    """From gmem (the deltas) the matrix unit reads only what one line of its banks
    holds: a in FXP32 not transposed (R adjacent words), b not transposed (a row), not
    both in one product (one line port).  Catches a check that lets a transposed or
    FXP16 read of gmem through (the core would read a line where it needs a column or
    a row pair), or both operands (the second request would take the first's line), or
    refuses the lines."""
    acc = Buffer("acc", 4, 16, FixedFormat(64, 32), "acc", 80)
    p = program([buffer(0, a_mem, 4, 4), buffer(1, b_mem, 4, 5), acc],
                MatMul(dst=2, a=0, b=1, ta=ta, tb=tb, mode=mode, m=Range(0, 4),
                       n=Range(0, 4), k=Range(0, 4)))
    problems = access_problems(p)
    assert [pr.split("mm reads ")[1][0] for pr in problems] == refused, problems
    if "a" in refused and (ta or mode):
        how = "transposed" if ta else "in fxp16"
        assert problems[0] == (f"instruction 0: mm reads a b0 {how} from gmem; the matrix "
                               "unit reads gmem's banks as plain lines only (fxp32, not "
                               "transposed)")


def _a_program(a_cols: int, ta: int, mode: int, half: int, rows: int = 4) -> Program:
    """A product reading an activation of ``a_cols`` columns (its row stride) from amem
    as a, transposed when ``ta``, in FXP16 when ``mode`` (its accumulator's stride
    padded for cmem's 2 ``half`` banks)."""
    a = buffer(0, "amem", rows, a_cols)
    b = buffer(1, "wmem", rows, 3)
    acc = Buffer("acc", a_cols, accumulator_stride(3, half), FixedFormat(64, 32), "acc", 80)
    m = Range(0, min(a_cols, 2) if ta else 2)
    return program([a, b, acc], MatMul(dst=2, a=0, b=1, ta=ta, mode=mode, m=m,
                                       n=Range(0, 3), k=Range(0, 1)))


@given(cols=st.integers(1, 140), ta=st.integers(0, 1), mode=st.integers(0, 1),
       rows_log=st.integers(0, 4), half_log=st.integers(0, 4))
def test_an_activation_read_as_a_needs_its_stride_in_amem_banks(cols, ta, mode, rows_log,
                                                                half_log):
    """An activation the matrix unit reads as a from amem is refused exactly when the
    words of its read (activation_read: the line, FXP16's row pair, ta's column, FXP16's
    column pair) share a bank of amem's 4P (P = H or R rounded up, the larger), with the
    padding activation_stride names; a buffer padded to it always passes, and a
    program checked without the array's rows is not checked.  Catches a check that
    lets a shared bank through (the strided read would take one element's word for
    another's), refuses an FXP32 line at any stride, or names another padding."""
    from fixar_gen.memory_kinds import (activation_read, activation_reads, activation_stride,
                                        shares_banks)
    rows, half = 1 << rows_log, 1 << half_log
    banks = 4 * max(half, rows)
    problems = access_problems(_a_program(cols, ta, mode, half), half, rows)
    how = activation_read(bool(mode), bool(ta))
    shared = shares_banks(activation_reads(cols, rows)[how], banks)
    assert (problems != []) == shared, problems
    if how == "line":
        assert not shared
    padded = activation_stride(cols, banks, rows)
    if problems:
        assert problems == [
            f"instruction 0: mm reads a b0 ({how}) from amem with a row stride of {cols} "
            f"words; its words share amem's {banks} banks (pad it to {padded} columns)"]
    assert 0 <= padded - cols < banks
    assert access_problems(_a_program(padded, ta, mode, half), half, rows) == []
    assert access_problems(_a_program(cols, ta, mode, half), half) == []


@pytest.mark.parametrize("path", ["pendulum.yaml", "fixar_u50.yaml", "custom_dsl.py"])
def test_the_compiled_activations_keep_to_amem_banks(path):
    """Every activation the compiled programs read as a from amem has the row stride
    memory_kinds.activation_stride gives its logical columns on the spec's 4P banks
    (fixar_u50: 400 -> 402), in both precisions, and the programs pass the rule."""
    from fixar_gen.compiler import layer_sizes
    from fixar_gen.memory_kinds import activation_banks, activation_stride
    spec = load_spec(EXAMPLES / path)
    hw = spec.hardware
    banks = activation_banks(hw.rows, hw.cols, hw.lanes)
    half = accumulator_half_line(hw.cols, hw.lanes)
    def logical(name):          # a pass's layer input, or c.ones
        if name == "c.ones":
            return 1
        net, layer = name.split(".")[-2:]
        sizes = layer_sizes(spec, net)
        return sizes[0] if layer == "x" else sizes[int(layer[1:]) + 1]

    for fxp16 in (False, True):
        for phase in PHASES:
            p = compile_program(spec, phase, fxp16_precision(spec)) if fxp16 \
                else compile_program(spec, phase)
            read = {p.buffers[ins.a].name for ins in p.code if isinstance(ins, MatMul)
                    and memory_of(p.buffers[ins.a]) == "amem"}
            assert read, phase
            for name in read:
                cols = logical(name)
                assert {b.name: b.cols for b in p.buffers}[name] == \
                    activation_stride(cols, banks, hw.rows), (phase, name)
            assert access_problems(p, half, hw.rows) == [], (path, phase)
    if path == "fixar_u50.yaml":
        assert activation_stride(400, banks, hw.rows) == 402


def _vec(name: str, **operands) -> Vector:
    return Vector(fn=VECTOR_FUNCTIONS.index(name), rows=Range(0, 2), cols=Range(0, 3),
                  **operands)


@pytest.mark.parametrize("memories,ins,extra,refused", [
    # a pipelined vec: a cycle for each amem line beyond the first
    (("amem", "amem", "amem"), _vec("add", dst=0, a=1, b=2), 1, False),
    (("gmem", "amem", "amem", "smem", "amem"),
     _vec("bellman", dst=0, a=1, b=2, c=3, e=4), 2, False),
    (("amem", "amem", "gmem"), _vec("adam_w", dst=0, a=1, b=2), 1, False),
    (("gmem", "amem", "mmem"), _vec("add", dst=0, a=1, b=2), 0, False),
    # range folds in one cycle a step: a second amem line has no cycle
    (("amem", "amem"), _vec("range", dst=0, a=1), 0, True),
    (("smem", "amem"), _vec("range", dst=0, a=1), 0, False),
    # the serial functions: one line
    (("amem", "amem", "smem", "smem", "amem"),
     _vec("ou_noise", dst=0, a=1, b=2, c=3, e=4), 0, True),
    # two lines written a step (dst and ou_noise's e)
    (("amem", "gmem", "smem", "smem", "amem"),
     _vec("ou_noise", dst=0, a=1, b=2, c=3, e=4), 0, True),
    # the constants are read word by word: not from amem's banks
    (("gmem", "gmem", "amem"), _vec("scale", dst=0, a=1, c=2), 0, True)])
def test_amem_serves_one_line_a_cycle(memories, ins, extra, refused):
    """amem's banks serve one line read and one line write a cycle: a drain or
    pipelined vec step reading more of its lines is charged a cycle a line
    (memory_access.extra_lines, the RTL's cycle model); range, the serial functions and
    the copies read one, a step writes one, the constants are not read from amem.
    Catches a rule that refuses the charged steps (the DDPG programs would not
    compile), lets an uncharged second line through (the core would serve one of the
    two), or charges the wrong count."""
    from fixar_gen.memory_access import extra_lines
    kinds = {"amem": "data", "gmem": "grad", "mmem": "state", "smem": "const"}
    buffers = [Buffer(f"b{i}", 2, 3, F, kinds[m]) for i, m in enumerate(memories)]
    p = program(buffers, ins)
    assert [memory_of(b) for b in buffers] == list(memories)
    problems = access_problems(p)
    assert (problems != []) == refused, problems
    if refused:
        assert "operand lines of amem a step; its banks serve one read and one write " \
            "line a cycle" in problems[0]
    assert extra_lines(ins, p) == extra


def test_the_ddpg_steps_charged_for_amem_lines():
    """fixar_u50's training step: the steps reading more than one amem line are
    bellman (three), mse_grad and dact_tanh (two), each on both cores' halves: +128
    RTL cycles an update (32 samples a core, a cycle a step per extra line)."""
    from fixar_gen.memory_access import extra_lines
    spec = load_spec(EXAMPLES / "fixar_u50.yaml")
    p = compile_program(spec, "train")
    charged = sorted((VECTOR_FUNCTIONS[ins.fn], extra_lines(ins, p), ins.rows.count)
                     for ins in p.code if extra_lines(ins, p))
    assert charged == [("bellman", 2, 32)] * 2 + [("dact_tanh", 1, 32)] * 2 \
        + [("mse_grad", 1, 32)] * 2
