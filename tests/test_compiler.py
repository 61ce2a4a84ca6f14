"""The compiler: work splitting, the auto policy, programs for every example."""

import dataclasses

import pytest
from hypothesis import given, strategies as st

from fixar_gen import load_spec
from fixar_gen.compiler import PHASES, Precision, compile_program, split
from fixar_gen.perf import schedule
from fixar_gen.spec import ParallelismSpec

from .conftest import EXAMPLES


@given(st.integers(0, 500), st.integers(1, 64))
def test_split_covers_every_index_once_and_balances(total, parts):
    ranges = split(total, parts)
    assert len(ranges) == parts
    covered = [i for r in ranges if r is not None for i in range(r.start, r.stop)]
    assert covered == list(range(total))
    counts = [r.count if r else 0 for r in ranges]
    assert max(counts) - min(counts) <= 1


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
@pytest.mark.parametrize("phase", PHASES)
def test_every_example_compiles_every_phase(path, phase):
    spec = load_spec(path)
    program = compile_program(spec, phase)
    assert program.code and schedule(program, spec).total_cycles > 0


def test_auto_policy_picks_the_faster_schedule():
    spec = load_spec(EXAMPLES / "fixar_u50.yaml")
    cycles = {p: schedule(compile_program(spec, "train", policy=p), spec).total_cycles
              for p in ("intra_layer", "intra_batch")}
    auto = dataclasses.replace(spec, parallelism=ParallelismSpec(training="auto"))
    chosen = schedule(compile_program(auto, "train"), auto).total_cycles
    assert chosen == min(cycles.values())


def test_fxp16_programs_use_the_fxp16_mode_only_for_16_bit_operands():
    from fixar_gen.estimate import fxp16_precision
    from fixar_gen.isa import MODES, MatMul
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    program = compile_program(spec, "train", fxp16_precision(spec))
    modes = {}
    for ins in program.code:
        if isinstance(ins, MatMul):
            width = program.buffers[ins.a].fmt.width
            modes.setdefault(MODES[ins.mode], set()).add(width)
    assert modes["fxp16"] <= set(range(1, 17))       # packed 16-bit activations
    assert modes["fxp32"] == {32}                     # gradients stream at FXP32 rate
    assert Precision().mode == "fxp32"


def test_unknown_phase_and_policy_are_errors():
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    with pytest.raises(ValueError, match="phase"):
        compile_program(spec, "backprop")
    with pytest.raises(ValueError):
        compile_program(spec, "train", policy="data_parallel")


def test_weights_have_odd_row_strides_and_the_host_sees_logical_parameters():
    """The weights' buffers are one column wider where their width is even (wmem's
    strided line, docs/hardware.md "The weights in banks"); load_params and read_params
    take and give the logical shapes, the padding column holds zeros, and a training
    step never writes it.  Catches a parameter array written into the padded buffer
    shifted (rows wrapping into the padding) or read back with its padding."""
    import numpy as np

    from fixar_gen.backends import open_core, random_params, uniform_batch
    from fixar_gen.compiler import param_cols
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    program = compile_program(spec, "train")
    table = {b.name: b for b in program.buffers}
    padded = [n for n, b in table.items() if b.kind == "param"
              and param_cols(spec, n) is not None and b.cols != param_cols(spec, n)]
    assert padded
    for name, b in table.items():
        cols = param_cols(spec, name)
        if b.kind == "param" and cols is not None:
            assert b.cols == (cols if cols % 2 or b.rows == 1 and name.endswith(".b")
                              else cols + 1), name
    core = open_core(spec, "golden")
    params = random_params(spec, seed=3)
    core.load_params(params)
    back = core.read_params(list(params))
    for name, values in params.items():
        np.testing.assert_array_equal(back[name], values)
    rng = np.random.default_rng(0)
    core.train_step(uniform_batch(spec, core.formats, rng))
    for name in padded:
        raw = core._read(name)
        assert raw.shape == (table[name].rows, table[name].cols)
        np.testing.assert_array_equal(raw[:, param_cols(spec, name):], 0)
