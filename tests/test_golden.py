"""The golden model: parallelism changes speed, never results.  The same inference and
training steps give identical raw integers under every policy, core count and array
shape, in FXP32 and FXP16."""

import dataclasses

import numpy as np
from hypothesis import given, settings, strategies as st

from fixar_gen.backends import open_core
from fixar_gen.compiler import compile_program
from fixar_gen.spec import HardwareSpec, ParallelismSpec
from fixar_gen.backends import random_params as params
from fixar_gen.testing import batches, precisions, specs
from tests.conftest import examples


def _run(spec, precision, data_seed, batch, updates):
    core = open_core(spec, "golden", precision)
    core.load_params(params(spec, data_seed))
    actions = core.infer("actor", batch.states)
    explore = core.infer("actor", batch.states[:1], explore=True)
    q = core.infer("critic", batch.states, batch.actions)
    for _ in range(updates):
        core.train_step(batch)
    out = core.read_params()
    return out, actions, explore, q, dict(core.stats.saturations), core.read_ranges()


def _variants(spec, draw):
    """The same spec on other hardware and policies."""
    for _ in range(2):
        hw = HardwareSpec(cores=draw(st.integers(1, 4)),
                          array=(draw(st.integers(1, 4)), draw(st.integers(1, 4))))
        par = ParallelismSpec(inference=draw(st.sampled_from(("intra_layer", "intra_batch"))),
                              training=draw(st.sampled_from(("intra_layer", "intra_batch"))))
        yield dataclasses.replace(spec, hardware=hw, parallelism=par)


@settings(max_examples=examples(25))
@given(data=st.data())
def test_results_do_not_depend_on_policy_cores_or_array(data):
    spec = data.draw(specs())
    precision = data.draw(precisions(spec))
    core = open_core(spec, "golden", precision)
    batch = data.draw(batches(spec, core.formats))
    seed = data.draw(st.integers(0, 1000))
    updates = data.draw(st.integers(1, 2))
    reference = _run(spec, precision, seed, batch, updates)
    for other in _variants(spec, data.draw):
        result = _run(other, precision, seed, batch, updates)
        for name, value in reference[0].items():
            np.testing.assert_array_equal(result[0][name], value, err_msg=name)
        for a, b in zip(reference[1:4], result[1:4]):
            np.testing.assert_array_equal(a, b)
        assert reference[4] == result[4]          # saturations, buffer by buffer
        assert reference[5] == result[5]          # activation ranges


@settings(max_examples=examples(10))
@given(data=st.data())
def test_training_moves_every_parameter_and_keeps_targets_behind(data):
    spec = data.draw(specs(activations=("relu", "tanh"), optimizers=("adam",)))
    core = open_core(spec)
    start = params(spec, 1)
    core.load_params(start)
    batch = data.draw(batches(spec, core.formats))
    core.train_step(batch)
    after = core.read_params()
    moved = [n for n in start if not n.startswith("target.")
             and not np.array_equal(start[n], after[n])]
    assert moved, "one Adam step must change some parameter"
    assert core.updates == 1


def test_programs_cover_every_core_and_end_with_halt():
    from fixar_gen import load_spec
    spec = load_spec("examples/pendulum.yaml")
    for phase in ("infer", "explore", "infer_critic", "train"):
        program = compile_program(spec, phase)
        cores = {i.core for i in program.code}
        assert cores == set(range(spec.hardware.cores)), phase
        assert [type(i).__name__ for i in program.code[-spec.hardware.cores:]] == \
            ["Halt"] * spec.hardware.cores
