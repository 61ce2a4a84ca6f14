"""Every documented algorithm option trains: each noise kind (golden core and float32
reference), each optimizer, each precision schedule and quantizer (golden core) runs a
short `fixar train` whose episodes end after updates (the order that crashed OU noise:
a training step, then the episode's noise reset)."""

import json

import numpy as np
import pytest
import yaml

from fixar_gen import load_spec
from fixar_gen.cli import main
from fixar_gen.rl.agent import CoreAgent
from fixar_gen.spec import NOISE_KINDS, OPTIMIZERS

SHORT = {
    "name": "short", "env": {"id": "Pendulum-v1", "seed": 1},
    "networks": {"actor": {"hidden": [8]}, "critic": {"hidden": [8]}},
    # updates from step 151; episodes end at 200 and 400, after updates; no evaluation
    # round in between (eval_every 0), so nothing else touches the core's buffers first
    "algorithm": {"batch_size": 16, "warmup_steps": 150, "total_steps": 400,
                  "eval_every": 0, "eval_episodes": 1, "replay_size": 1000},
    "numerics": {"qat_delay": 100},
    "hardware": {"cores": 2, "array": [2, 2]},
}


def _spec_file(tmp_path, **algorithm):
    data = json.loads(json.dumps(SHORT))
    data["algorithm"].update(algorithm)
    path = tmp_path / "short.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _train(tmp_path, capsys, backend="golden", numerics=None, **algorithm) -> dict:
    out = tmp_path / "run"
    path = _spec_file(tmp_path, **algorithm)
    if numerics:
        data = yaml.safe_load(path.read_text())
        data["numerics"].update(numerics)
        path.write_text(yaml.safe_dump(data))
    code = main(["train", str(path), "--out", str(out), "--quiet", "--backend", backend])
    assert code == 0, capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 400 and summary["updates"] == 250
    assert np.isfinite(summary["final_eval_return"])
    return summary


@pytest.mark.parametrize("backend", ["golden", "float32"])
@pytest.mark.parametrize("kind", NOISE_KINDS)
def test_every_noise_kind_trains(tmp_path, capsys, kind, backend):
    _train(tmp_path, capsys, backend, noise={"kind": kind, "sigma": 0.2})


@pytest.mark.parametrize("numerics", [{"precision": "fxp32"}, {"precision": "fxp16"},
                                      {"quantizer": "affine"}],
                         ids=["fxp32", "fxp16", "affine"])
def test_every_precision_schedule_and_quantizer_trains_on_golden(tmp_path, capsys,
                                                                 numerics):
    # (precision qat with the pow2 quantizer is every other test's default)
    summary = _train(tmp_path, capsys, numerics=numerics)
    expected = "fxp32" if numerics.get("precision") == "fxp32" else "fxp16"
    assert summary["precision"] == expected


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_every_optimizer_trains_on_golden(tmp_path, capsys, optimizer):
    _train(tmp_path, capsys, optimizer=optimizer)


def test_ou_state_survives_the_training_step(tmp_path):
    """The exploring actor's OU process carries over from one action to the next across
    a training step on a batch of 16; the episode reset then zeroes it."""
    spec = load_spec(_spec_file(tmp_path, noise={"kind": "ou", "sigma": 0.5, "theta": 0.0}))
    agent = CoreAgent(spec, "golden", seed=0)
    rng = np.random.default_rng(0)
    batch = {"states": rng.normal(size=(16, 3)), "actions": rng.uniform(-1, 1, (16, 1)),
             "rewards": rng.normal(size=(16, 1)), "next_states": rng.normal(size=(16, 3)),
             "dones": np.zeros((16, 1))}
    for _ in range(3):
        agent.act(np.zeros(3), explore=True)
    before = agent.core.machine.read("ou.state")
    assert before.shape == (1, 1) and before.any()
    agent.update(batch)
    np.testing.assert_array_equal(agent.core.machine.read("ou.state"), before)
    agent.episode_start()
    np.testing.assert_array_equal(agent.core.machine.read("ou.state"), np.zeros((1, 1)))
