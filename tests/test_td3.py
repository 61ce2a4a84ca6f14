"""TD3 on the core (fixar_gen.algorithms.td3): its spec and DSL, its programs, the
golden model's two engines on its updates, the update it computes against the float64
twin (rl/float_td3.py), and the float32 twin training."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixar_gen import SpecError, load_spec
from fixar_gen.algorithms import td3
from fixar_gen.backends import Batch, open_core, random_params, uniform_batch
from fixar_gen.compiler import Precision, compile_program, phases, precision_keys
from fixar_gen.numerics import FixedFormat
from fixar_gen.dsl import TD3, Default
from fixar_gen.isa import VECTOR_FUNCTIONS
from fixar_gen.rl.float_ddpg import from_core_params
from fixar_gen.rl.float_td3 import FloatTD3
from fixar_gen.spec import HardwareSpec, Spec
from fixar_gen.testing import train_both

from .conftest import EXAMPLES, examples


def tiny_td3(actor=(5, 3), critic=(4,), batch=3, cores=1, array=(1, 1), obs=3, act=1,
             policy="intra_batch", **algorithm) -> Spec:
    spec = Spec()
    net = dataclasses.replace(
        spec.networks,
        actor=dataclasses.replace(spec.networks.actor, hidden=actor, inputs=obs, outputs=act),
        critic=dataclasses.replace(spec.networks.critic, hidden=critic))
    alg = dataclasses.replace(spec.algorithm, name="td3", batch_size=batch, replay_size=1000,
                              warmup_steps=0, **algorithm)
    par = dataclasses.replace(spec.parallelism, training=policy)
    return dataclasses.replace(spec, networks=net, algorithm=alg, parallelism=par,
                               hardware=HardwareSpec(cores=cores, array=array))


def fn_names(program) -> list[str]:
    return [VECTOR_FUNCTIONS[i.fn] for i in program.code if i.MNEMONIC == "vec"]


# ---------------------------------------------------------------- spec and DSL

def test_example_and_fragment_give_one_spec():
    yaml_spec = load_spec(EXAMPLES / "pendulum_td3.yaml")
    assert yaml_spec.algorithm.name == "td3"
    assert (yaml_spec.algorithm.policy_delay, yaml_spec.algorithm.target_noise,
            yaml_spec.algorithm.noise_clip) == (2, 0.2, 0.5)
    base = load_spec(EXAMPLES / "pendulum.yaml")
    assert dataclasses.replace(yaml_spec, name=base.name,
                               algorithm=dataclasses.replace(yaml_spec.algorithm,
                                                             name="ddpg")) == base
    spec = (Default() + TD3(policy_delay=3, noise_clip=0.25)).spec()
    assert (spec.algorithm.name, spec.algorithm.policy_delay, spec.algorithm.noise_clip,
            spec.algorithm.target_noise) == ("td3", 3, 0.25, 0.2)


def test_fragment_bad_value_is_located():
    with pytest.raises(SpecError, match="algorithm.policy_delay"):
        (Default() + TD3(policy_delay=0)).spec()


# ---------------------------------------------------------------- programs

@given(delay=st.integers(1, 64), update=st.integers(0, 10_000))
def test_actor_and_targets_every_policy_delay_updates(delay, update):
    """Updates d, 2d, ... (from 1) are full; the actor's Adam step counts them."""
    spec = tiny_td3(policy_delay=delay)
    full = td3.train_phase(spec, update) == "train"
    assert full == ((update + 1) % delay == 0)
    steps = td3.optimizer_steps(spec, update)
    assert steps["critic"] == update + 1
    if full:
        assert steps["actor"] == (update + 1) // delay


@pytest.mark.parametrize("policy", ["intra_layer", "intra_batch"])
@pytest.mark.parametrize("cores", [1, 2])
def test_programs_have_the_td3_steps(policy, cores):
    spec = tiny_td3(cores=cores, policy=policy)
    assert phases(spec)[-2:] == ("train", "train_critic")
    full, critics = (compile_program(spec, p) for p in ("train", "train_critic"))
    for program in (full, critics):
        names = fn_names(program)
        assert names.count("minimum") >= 1 and names.count("bellman") >= 1
        # the smoothing noise: drawn by core 0 alone, clipped, added, clipped to +-1
        noise = [i for i in program.code if i.MNEMONIC == "vec"
                 and VECTOR_FUNCTIONS[i.fn] == "noise"]
        assert noise and {i.core for i in noise} == {0}
        assert names.count("clip") >= 2
        written = {program.buffers[i.dst].name for i in program.code if i.MNEMONIC == "vec"}
        assert {"critic2.l0.w", "critic.l0.w"} <= written
    full_written = {full.buffers[i.dst].name for i in full.code if hasattr(i, "dst")}
    critic_written = {critics.buffers[i.dst].name for i in critics.code if hasattr(i, "dst")}
    assert {"actor.l0.w", "target.actor.l0.w", "target.critic2.l0.w"} <= full_written
    assert not {n for n in critic_written if n.startswith(("actor.", "target."))}


# ---------------------------------------------------------------- golden engines

@settings(max_examples=examples(6), deadline=None)
@given(actor=st.lists(st.integers(1, 5), min_size=1, max_size=2),
       critic=st.lists(st.integers(1, 5), min_size=1, max_size=2),
       batch=st.integers(1, 5), cores=st.integers(1, 3),
       policy=st.sampled_from(["intra_layer", "intra_batch"]),
       delay=st.integers(1, 3), seed=st.integers(0, 2**16), deltas=st.booleans())
def test_compiled_engine_equals_interpreter(actor, critic, batch, cores, policy, delay, seed,
                                            deltas):
    """Random shapes, batches, core counts and policies, FXP32 or FXP16 with 16-bit
    deltas (both critics' and the actor's hidden deltas): the engine's compiled plans
    and the instruction-by-instruction interpreter agree on three TD3 updates."""
    spec = tiny_td3(tuple(actor), tuple(critic), batch=batch, cores=cores, policy=policy,
                    obs=2, act=2, policy_delay=delay)
    precision = Precision()
    if deltas:
        spec = dataclasses.replace(spec, numerics=dataclasses.replace(
            spec.numerics, precision="fxp16", fxp16_deltas=True))
        precision = Precision("fxp16", tuple((k, FixedFormat(16, 13 if ".dz" in k else 10))
                                             for k in precision_keys(spec)))
    compiled, interp = (open_core(spec, "golden", precision),
                        open_core(spec, "golden", precision, engine="interpreter"))
    params = random_params(spec, seed=seed, scale=0.5)
    compiled.load_params(params)
    interp.load_params(params)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        train_both(compiled, interp, uniform_batch(spec, compiled.formats, rng))


def test_smoothing_noise_is_clipped_and_drawn():
    spec = tiny_td3(batch=5, act=2, obs=2, target_noise=5.0, noise_clip=0.25)
    core = open_core(spec, "golden", engine="interpreter")
    core.load_params(random_params(spec, seed=1))
    core.train_step(uniform_batch(spec, core.formats, np.random.default_rng(0)))
    fmt = core.formats["actions"]
    eps = fmt.to_float(core._read("tgt.eps"))
    assert np.abs(eps).max() <= 0.25 and np.count_nonzero(np.abs(eps) == 0.25) > 0
    action = fmt.to_float(core._read("tgt.actor.h2"))
    assert np.abs(action).max() <= 1.0


# ---------------------------------------------------------------- against float64

def zero_reward_batch(spec, core, rng) -> Batch:
    """Rewards and dones zero: y = gamma min(Q1', Q2') alone (the clipped double-Q
    target is then the whole of the critics' error)."""
    b = uniform_batch(spec, core.formats, rng)
    return dataclasses.replace(b, rewards=np.zeros_like(b.rewards),
                               dones=np.zeros_like(b.dones))


def test_core_update_is_td3():
    """Without smoothing noise, the FXP32 core's TD3 updates follow the float64 twin's:
    both critics' Adam moments after update 1 (critics only), the actor and targets
    after update 2.  The check can fail: the twin with a max instead of the clipped
    double-Q minimum, or with the actor updated every update, leaves the tolerance."""
    spec = tiny_td3(actor=(6,), critic=(6,), batch=4, obs=3, act=1, target_noise=0.0,
                    policy_delay=2)
    core = open_core(spec, "golden")
    core.load_params(random_params(spec, seed=7, scale=0.6))
    start = from_core_params(core.read_params(), spec)
    rng = np.random.default_rng(3)
    batches = [zero_reward_batch(spec, core, rng) for _ in range(2)]
    fmt = core.formats

    def floats(b):
        return (fmt["states"].to_float(b.states), fmt["actions"].to_float(b.actions),
                fmt["rewards"].to_float(b.rewards), fmt["states"].to_float(b.next_states),
                b.dones.astype(float))

    def twin(variant=None):
        model = FloatTD3(spec, np.float64, params={k: v.copy() for k, v in start.items()})
        if variant == "max":          # both target critics answer max(Q1', Q2')
            real_forward = model.forward

            def forward(net, x, target=False):
                out = real_forward(net, x, target)
                if target and net in ("critic", "critic2"):
                    out[-1] = np.maximum(real_forward("critic", x, True)[-1],
                                         real_forward("critic2", x, True)[-1])
                return out
            model.forward = forward
        if variant == "every_update":
            model.algo = dataclasses.replace(model.algo, policy_delay=1)
        return model

    def compare(model, core_state, names, atol):
        for name in names:
            np.testing.assert_allclose(core_state[name], model.params[name], atol=atol,
                                       rtol=0, err_msg=name)

    g = spec.numerics.gradient_format
    critic_moments = [f"{c}.l{i}.{p}.m" for c in ("critic", "critic2") for i in (0, 1)
                      for p in ("w", "b")]
    actor_and_targets = [f"actor.l{i}.{p}" for i in (0, 1) for p in ("w", "b")] + \
        [f"target.{n}.l{i}.{p}" for n in ("actor", "critic", "critic2") for i in (0, 1)
         for p in ("w", "b")]
    model = twin()
    core.train_step(batches[0])
    model.train_step(*floats(batches[0]))
    state = from_core_params(core.read_params(), spec)
    compare(model, state, critic_moments, atol=64 * g.step)
    # a max target moves the critics' moments far outside that
    wrong = twin("max")
    wrong.train_step(*floats(batches[0]))
    with pytest.raises(AssertionError):
        compare(wrong, state, critic_moments, atol=64 * g.step)
    core.train_step(batches[1])
    model.train_step(*floats(batches[1]))
    state = from_core_params(core.read_params(), spec)
    # Adam's first step moves each weight by about lr, whatever the gradient's size
    # (m / s = +-3.16, alpha_1 = 0.316 lr): a quarter of it is the tolerance
    step = spec.algorithm.actor_lr / 4
    compare(model, state, actor_and_targets, atol=step)
    # an actor updated at every update (no delay) has moved by two steps, not one
    eager = twin("every_update")
    for b in batches:
        eager.train_step(*floats(b))
    with pytest.raises(AssertionError):
        compare(eager, state, actor_and_targets, atol=step)
