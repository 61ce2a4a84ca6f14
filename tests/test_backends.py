"""The Core interface on the golden backend: parameters in and out, inference,
exploration, precision switches, statistics, and clear errors."""

import numpy as np
import pytest

from fixar_gen import load_spec
from fixar_gen.backends import open_core, random_params
from fixar_gen.testing import uniform_batch
from fixar_gen.estimate import fxp16_precision

from .conftest import EXAMPLES


@pytest.fixture()
def spec():
    return load_spec(EXAMPLES / "pendulum.yaml")


def _batch(core, spec, seed=0, size=None):
    return uniform_batch(spec, core.formats, np.random.default_rng(seed), size)


def test_params_round_trip_and_unknown_names(spec):
    core = open_core(spec)
    params = random_params(spec, 3)
    core.load_params(params)
    back = core.read_params(list(params))
    for name, value in params.items():
        np.testing.assert_array_equal(back[name], value)
    assert set(core.param_names()) >= set(params)
    assert "actor.l0.w.m" in core.param_names()
    with pytest.raises(KeyError, match="unknown parameter"):
        core.load_params({"actor.l9.w": np.zeros((1, 1))})


def test_inference_shapes_and_determinism(spec):
    core = open_core(spec)
    core.load_params(random_params(spec, 0))
    states = _batch(core, spec).states
    a1 = core.infer("actor", states)
    assert a1.shape == (spec.algorithm.batch_size, spec.action_dim)
    np.testing.assert_array_equal(a1, core.infer("actor", states))
    q = core.infer("critic", states, a1)
    assert q.shape == (spec.algorithm.batch_size, 1)
    one = core.infer("actor", states[:1])
    np.testing.assert_array_equal(one, a1[:1])      # batch size never changes results


def test_exploration_noise_is_seeded_and_bounded(spec):
    results = []
    for _ in range(2):
        core = open_core(spec)
        core.load_params(random_params(spec, 0))
        states = _batch(core, spec).states[:1]
        results.append([core.infer("actor", states, explore=True) for _ in range(20)])
    np.testing.assert_array_equal(np.array(results[0]), np.array(results[1]))
    noisy = np.array(results[0]).ravel()
    assert len(set(noisy.tolist())) > 10            # the PRNG advances between calls
    one = core.formats["actions"].max_int + 1
    assert np.all(np.abs(noisy) <= one)
    clean = core.infer("actor", states)
    sigma = core.formats["actions"].to_float(noisy - clean.ravel()[0]).std()
    assert 0.05 < sigma < 0.2                       # spec: sigma 0.1


def test_train_step_updates_and_stats(spec):
    core = open_core(spec)
    core.load_params(random_params(spec, 0))
    before = core.read_params()
    core.train_step(_batch(core, spec))
    after = core.read_params()
    assert core.updates == 1 and core.stats.runs >= 1
    for name in ("actor.l0.w", "critic.l2.w", "target.critic.l2.w", "critic.l1.b.m"):
        assert not np.array_equal(before[name], after[name]), name
    ranges = core.read_ranges()
    assert set(ranges) >= {"actor.in", "critic.l0", "critic.l2"}
    lo, hi = ranges["critic.l0"]
    assert 0.0 <= lo <= hi                          # relu outputs


def test_saturations_are_counted(spec):
    core = open_core(spec)
    core.load_params(random_params(spec, 0, scale=100.0))   # huge weights saturate Q16.16
    states = core.formats["states"].quantize(np.full((4, spec.obs_dim), 100.0))
    core.infer("actor", states)
    assert core.stats.last_saturations > 0
    assert core.stats.total_saturations >= core.stats.last_saturations


def test_set_precision_keeps_parameters(spec):
    core = open_core(spec)
    core.load_params(random_params(spec, 0))
    core.train_step(_batch(core, spec))
    params = core.read_params()
    core.set_precision(fxp16_precision(spec))
    for name, value in core.read_params().items():
        np.testing.assert_array_equal(value, params[name])
    assert core.formats["states"].width == spec.numerics.fxp16_width
    core.train_step(_batch(core, spec))
    assert core.updates == 2


def test_unknown_backend_is_a_clear_error(spec):
    with pytest.raises(ValueError, match="backend 'nope' is not available"):
        open_core(spec, "nope")
