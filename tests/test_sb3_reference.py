"""The Stable-Baselines3 reference's mapping from a spec to SB3's keywords
(fixar_gen/sb3_reference.py's options, fixar_gen/rl/sb3_run.py's `sb3_settings`), for
DDPG and TD3, without torch: the script module imports SB3 only when it runs."""

import dataclasses
import json
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixar_gen import load_spec
from fixar_gen.rl import sb3_run
from fixar_gen.sb3_reference import arguments
from tests.conftest import examples

ROOT = Path(__file__).resolve().parents[1]
TD3_KEYS = {"policy_delay", "target_policy_noise", "target_noise_clip"}


def settings_of(spec) -> tuple:
    """The script's parsed options for ``spec`` and the SB3 keywords made of them."""
    options = arguments(spec)
    assert isinstance(options, list), options
    args = sb3_run.parse_args([*options, "--seed", "3", "--out", "unused"])
    return args, sb3_run.sb3_settings(args)


def expected_settings(spec) -> dict:
    """SB3's keywords for ``spec``, written out from the spec's own fields."""
    a, nets = spec.algorithm, spec.networks
    out = {"learning_rate": a.critic_lr, "buffer_size": a.replay_size,
           "learning_starts": a.warmup_steps, "batch_size": a.batch_size, "tau": a.tau,
           "gamma": a.gamma, "train_freq": 1, "gradient_steps": a.updates_per_step,
           "action_noise": (a.noise.kind, a.noise.sigma, a.noise.theta, a.noise.dt),
           "policy_kwargs": {"net_arch": {"pi": list(nets.actor.hidden),
                                          "qf": list(nets.critic.hidden)},
                             "activation_fn": nets.actor.activation,
                             "optimizer_kwargs": {"betas": (a.adam_beta1, a.adam_beta2),
                                                  "eps": a.adam_eps}}}
    if a.name == "td3":
        out.update(policy_delay=a.policy_delay, target_policy_noise=a.target_noise,
                   target_noise_clip=a.noise_clip)
    return out


unit = st.floats(0.0, 1.0, exclude_min=True)


@st.composite
def specs(draw):
    """examples/pendulum_td3.yaml with every hyper-parameter SB3 receives drawn, DDPG or
    TD3, at the edges too (delay 1, zero smoothing noise and clip, batch 1)."""
    base = load_spec(ROOT / "examples" / "pendulum_td3.yaml")
    replay = draw(st.integers(1, 10**6))
    total = base.algorithm.total_steps
    noise = dataclasses.replace(
        base.algorithm.noise, kind=draw(st.sampled_from(["gaussian", "ou"])),
        sigma=draw(st.floats(0.0, 10.0)), theta=draw(st.floats(0.0, 10.0)),
        dt=draw(unit))
    algo = dataclasses.replace(
        base.algorithm, name=draw(st.sampled_from(["ddpg", "td3"])),
        policy_delay=draw(st.integers(1, 64)), target_noise=draw(st.floats(0.0, 10.0)),
        noise_clip=draw(st.floats(0.0, 2.0)), gamma=draw(st.floats(0.0, 1.0)),
        tau=draw(unit), actor_lr=draw(unit), critic_lr=draw(unit),
        adam_beta1=draw(st.floats(0.0, 1.0, exclude_max=True)),
        adam_beta2=draw(st.floats(0.0, 1.0, exclude_max=True)), adam_eps=draw(unit),
        replay_size=replay, batch_size=draw(st.integers(1, min(replay, 65_536))),
        warmup_steps=draw(st.integers(0, total - base.numerics.qat_delay - 1)),
        updates_per_step=1, noise=noise,
        reward_scale=draw(st.floats(0.0, 1e6, exclude_min=True)),
        eval_every=draw(st.integers(0, total)), eval_episodes=draw(st.integers(1, 1000)))
    activation = draw(st.sampled_from(["relu", "tanh"]))
    hidden = st.lists(st.integers(1, 512), min_size=1, max_size=3).map(tuple)
    nets = dataclasses.replace(
        base.networks,
        actor=dataclasses.replace(base.networks.actor, hidden=draw(hidden),
                                  activation=activation),
        critic=dataclasses.replace(base.networks.critic, hidden=draw(hidden),
                                   activation=activation))
    return dataclasses.replace(base, algorithm=algo, networks=nets)


@settings(max_examples=examples(60), deadline=None)
@given(specs())
def test_every_hyper_parameter_reaches_its_sb3_keyword(spec):
    """Catches a hyper-parameter dropped, swapped with another (target_noise and
    noise_clip, the two learning rates, the two hidden stacks) or passed to the wrong
    algorithm: DDPG's SB3 constructor takes none of TD3's three keywords."""
    args, got = settings_of(spec)
    assert got == expected_settings(spec)
    assert args.algorithm == spec.algorithm.name
    assert (TD3_KEYS <= set(got)) == (spec.algorithm.name == "td3")
    a = spec.algorithm          # what main() uses beside the keywords
    assert (args.actor_lr, args.reward_scale, args.total_steps, args.eval_every,
            args.eval_episodes, args.env) == (a.actor_lr, a.reward_scale, a.total_steps,
                                              a.eval_every, a.eval_episodes, spec.env.id)


def test_the_td3_example_maps_to_sb3_td3_defaults_it_names():
    spec = load_spec(ROOT / "examples" / "pendulum_td3.yaml")
    _, got = settings_of(spec)
    assert {k: got[k] for k in TD3_KEYS} == {"policy_delay": 2, "target_policy_noise": 0.2,
                                            "target_noise_clip": 0.5}
    assert not TD3_KEYS & set(settings_of(load_spec(ROOT / "examples" / "pendulum.yaml"))[1])


def test_td3_options_are_required_for_td3():
    """Catches a TD3 run falling back on the script's defaults when an option is lost."""
    options = arguments(load_spec(ROOT / "examples" / "pendulum_td3.yaml"))
    i = options.index("--noise-clip")
    with pytest.raises(SystemExit):
        sb3_run.parse_args([*options[:i], *options[i + 2:], "--seed", "0", "--out", "x"])


def test_a_spec_sb3_cannot_express_says_why():
    spec = load_spec(ROOT / "examples" / "pendulum_td3.yaml")
    sgd = dataclasses.replace(spec, algorithm=dataclasses.replace(spec.algorithm,
                                                                 optimizer="sgd"))
    assert arguments(sgd) == "the spec's optimizer is sgd; SB3's TD3 here uses Adam"


SIGNATURES = """
import inspect, json, sys
from stable_baselines3 import DDPG, TD3
print(json.dumps({c.__name__.lower(): sorted(inspect.signature(c.__init__).parameters)
                  for c in (DDPG, TD3)}))
"""


def test_the_keywords_are_sb3s_own():
    """Against the real SB3 (in the interpreter $FIXAR_SB3_PYTHON names, as the grid's
    reference row): every keyword the script passes is a parameter of the class it
    passes it to.  Skipped, saying so, where there is no such interpreter."""
    python = os.environ.get("FIXAR_SB3_PYTHON")
    if not python:
        pytest.skip("no FIXAR_SB3_PYTHON: the keyword names are checked against SB3 only "
                    "where an interpreter with it is given")
    done = subprocess.run([python, "-c", SIGNATURES], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    parameters = json.loads(done.stdout.strip().splitlines()[-1])
    for name in ("pendulum.yaml", "pendulum_td3.yaml"):
        spec = load_spec(ROOT / "examples" / name)
        keywords = set(settings_of(spec)[1]) | {"device", "seed", "verbose"}
        assert keywords <= set(parameters[spec.algorithm.name]), name
