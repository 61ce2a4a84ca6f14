"""benchmarks/grad_saturation.py on a tiny checkpoint made by a short golden run.

The spec's gradient format is Q3.29 (+-4), so the critic's gradients saturate within a
few hundred updates of Pendulum: the tool's counts must equal the core's saturation
counters, its recomputed clipped gradients the core's bit for bit, and its unclipped
gradients the clipped ones wherever nothing saturated.  Mutations caught: counting only
one bound, reading another pass's delta buffer, rounding the unclipped values to another
LSB, letting one element's clipping change another element's Adam step.
"""

import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixar_gen import load_spec
from fixar_gen.rl.trainer import Trainer
from tests.conftest import examples

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

import grad_saturation as gs  # noqa: E402

TINY = {
    "name": "tiny_gradsat", "env": {"id": "Pendulum-v1", "seed": 3},
    "networks": {"actor": {"hidden": [8]}, "critic": {"hidden": [8]}},
    "algorithm": {"batch_size": 16, "warmup_steps": 200, "total_steps": 400,
                  "eval_every": 0, "eval_episodes": 1, "replay_size": 5000},
    "numerics": {"qat_delay": 100, "gradient": {"width": 32, "frac": 29}},
    "hardware": {"cores": 2, "array": [2, 2]},
}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("gradsat") / "run"
    Trainer(load_spec(TINY), "golden", out, progress=False).run()
    return out


def test_counts_equal_the_core_counters(run_dir):
    r = gs.restore(run_dir)
    assert r.agent.precision == "fxp16"            # past the QAT switch
    start = Counter(r.agent.core.stats.saturations)
    rng = np.random.default_rng(0)
    summary = gs.Summary()
    for _ in range(12):
        summary.add(gs.measure_update(r, r.replay.sample(16, rng)))
    core = Counter(r.agent.core.stats.saturations)
    core.subtract(start)
    assert summary.saturations == +core
    grads = {k: n for k, n in summary.saturations.items() if k.endswith(".grad")}
    assert sum(grads.values()) > 0                   # the spec does saturate
    for k, n in grads.items():
        assert summary.at_bounds[k] == n
    d = summary.as_dict()["gradients"]
    for k, g in d.items():
        bound = 4.0
        if summary.saturations.get(k):
            assert g["max_unclipped"] > bound    # (a 1 x 1 gradient keeps cosine 1)
            assert g["adam_step_change"]["max"] > 0.0
        else:
            assert g["max_unclipped"] <= bound and g["cosine"]["min"] == 1.0
            assert g["adam_step_change"]["max"] == 0.0


def test_unclipped_is_the_clipped_gradient_where_nothing_saturated(run_dir):
    r = gs.restore(run_dir)
    r.agent.update(r.replay.sample(16, np.random.default_rng(1)))
    core = r.agent.core
    from fixar_gen import algorithms
    program = core.program(algorithms.of(r.spec).train_phase(r.spec, core.updates - 1), 16)
    sources = gs.gradient_sources(program)
    assert {s.grad for s in sources} == {f"{n}.l{i}.{p}.grad" for n in ("actor", "critic")
                                         for i in (0, 1) for p in ("w", "b")}
    clipped_any = 0
    for source in sources:
        g = gs.recompute(core, program, source, 16)
        inside = (g.clipped != g.fmt.max_int) & (g.clipped != g.fmt.min_int)
        np.testing.assert_array_equal(g.unclipped[inside], g.clipped[inside])
        np.testing.assert_array_equal(np.clip(g.unclipped, g.fmt.min_int, g.fmt.max_int),
                                      g.clipped)
        clipped_any += int(np.count_nonzero(g.unclipped != g.clipped))
        assert g.recomputed_saturations == int(np.count_nonzero(g.unclipped != g.clipped))
    assert clipped_any > 0


def test_wrong_operands_are_refused(run_dir):
    r = gs.restore(run_dir)
    r.agent.update(r.replay.sample(16, np.random.default_rng(2)))
    core = r.agent.core
    from fixar_gen import algorithms
    program = core.program(algorithms.of(r.spec).train_phase(r.spec, core.updates - 1), 16)
    w0 = next(s for s in gs.gradient_sources(program) if s.grad == "critic.l1.w.grad")
    wrong = gs.GradientSource(w0.grad, w0.x, w0.dz.replace("cq.", "ap."))
    with pytest.raises(RuntimeError, match="does not give the core's gradient"):
        gs.recompute(core, program, wrong, 16)


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.tuples(st.floats(-50, 50), st.floats(0, 50), st.floats(-500, 500)),
                min_size=1, max_size=40),
       st.floats(0.5, 200))
def test_clipping_changes_only_the_clipped_elements_steps(values, bound):
    m, s, g = (np.array(v, dtype=np.float64) for v in zip(*values))
    gc = np.clip(g, -bound, bound)
    dc = gs.adam_directions(m, s, gc, 0.9, 0.999, 1e-8)
    du = gs.adam_directions(m, s, g, 0.9, 0.999, 1e-8)
    same = gc == g
    np.testing.assert_array_equal(dc[same], du[same])
    if np.any(g):
        assert gs.cosine(g, 2 * g) == pytest.approx(1.0)
        assert gs.cosine(g, -g) == pytest.approx(-1.0)


def test_another_gradient_format_requantizes_the_moments(run_dir):
    narrow, wide = gs.restore(run_dir), gs.restore(run_dir, gradient=(32, 24))
    assert wide.spec.numerics.gradient.frac == 24
    names = [n for n in narrow.agent.core.param_names() if n.endswith((".m", ".s"))]
    before, after = narrow.agent.core.read_params(names), wide.agent.core.read_params(names)
    for n in names:      # Q3.29 -> Q8.24: 5 fraction bits fewer, rounded half to even
        expected = np.vectorize(lambda v: round(int(v) / 32))(before[n])
        np.testing.assert_array_equal(after[n], expected)
        assert np.any(before[n])
    rng = np.random.default_rng(0)
    summary = gs.Summary()
    for _ in range(6):
        summary.add(gs.measure_update(wide, wide.replay.sample(16, rng)))
    assert not any(k.endswith(".grad") for k in summary.saturations)


def test_every_batch_starts_from_the_checkpoint(run_dir):
    r = gs.restore(run_dir)
    batch = r.replay.sample(16, np.random.default_rng(5))
    first = gs.measure_update(r, batch)
    r.agent.update(r.replay.sample(16, np.random.default_rng(6)))   # move the state on
    r.reset()
    again = gs.measure_update(r, batch)
    assert first.saturations == again.saturations and first.saturations
    assert first.max_unclipped == again.max_unclipped
    assert first.step_change == again.step_change
    _, summary = gs.run(run_dir, 3, seed=5)
    assert summary.updates == 3 and summary.saturations


def test_continuing_with_a_wider_gradient_format_stops_the_saturations(run_dir, tmp_path):
    import continue_with_gradient as cont
    from fixar_gen.rl.checkpoint import load_checkpoint
    _, before = load_checkpoint(run_dir / "checkpoint")
    grads = {k: n for k, n in before["agent"]["saturations"].items() if k.endswith(".grad")}
    assert grads                                     # Q3.29 saturated in the run
    trainer = cont.start(run_dir, (32, 24), 600, tmp_path / "wide")
    assert trainer.step == 400 and trainer.agent.core.updates == 200
    summary = trainer.run()
    assert summary["steps"] == 600 and summary["updates"] == 400
    after = summary["saturations_by_buffer"]
    assert {k: n for k, n in after.items() if k.endswith(".grad")} == grads
    # with the run's own Q3.29 it continues as `fixar train --resume` does, bit for bit,
    # and keeps saturating
    narrow = cont.start(run_dir, (32, 29), 600, tmp_path / "narrow").run()
    assert sum(n for k, n in narrow["saturations_by_buffer"].items()
               if k.endswith(".grad")) > sum(grads.values())
    import shutil
    shutil.copytree(run_dir, tmp_path / "resumed")
    resumed = Trainer(load_spec(TINY), "golden", tmp_path / "resumed", total_steps=600,
                      progress=False).run(resume=True)
    for key in ("final_eval_return", "last_10_episode_return", "saturations_by_buffer"):
        assert narrow[key] == resumed[key]
