"""The spec language from Python: fragments compose with `+`, a later one wins.

    python examples/custom_dsl.py            # validate and print the estimate
    fixar validate examples/custom_dsl.py    # the CLI reads the module's `spec`

The functions are the YAML examples written as fragments (a test checks
that each equals its YAML file); `spec` is a design of our own: FIXAR's networks on
four cores of the U50, switching to 16-bit activations after 20,000 updates.
"""

from fixar_gen.dsl import (DDPG, QAT, U50, Actor, Array, Batch, Cores, Critic, Default, Env,
                           LaneFunctions, Lanes, Name, Noise, Numerics, Optimizer, Parallelism,
                           PerCoreMemories, Sim, Steps, TD3)


def pendulum():
    return (Default() + Name("pendulum") + Env("Pendulum-v1", seed=0)
            + Actor(64, 64) + Critic(64, 64)
            + Optimizer("adam", actor_lr=1e-4, critic_lr=1e-3) + Batch(64)
            + DDPG(reward_scale=0.1)
            + Steps(8_000, warmup=1_000, eval_every=2_000)
            + QAT(delay=3_000, quantizer="pow2", revise_every=1_000)
            + Cores(2) + Array(4, 4) + Sim())


def pendulum_fxp16_deltas():
    return pendulum() + Name("pendulum_fxp16_deltas") + QAT(deltas=True)


def pendulum_td3():
    return pendulum() + Name("pendulum_td3") + TD3(policy_delay=2, target_noise=0.2,
                                                   noise_clip=0.5)


def halfcheetah():
    return (Default() + Name("halfcheetah") + Env("HalfCheetah-v5", seed=0)
            + Actor(400, 300) + Critic(400, 300)
            + Optimizer("adam", actor_lr=1e-4, critic_lr=1e-4)
            + DDPG(replay_size=1_000_000, eval_every=10_000) + Noise("gaussian", sigma=0.1)
            + Steps(1_000_000, warmup=10_000) + QAT(delay=100_000)
            + Cores(2) + Array(16, 16)
            + Parallelism(inference="intra_layer", training="intra_batch"))


def hopper():
    return (halfcheetah() + Name("hopper") + Env("Hopper-v5", seed=0)
            + Numerics(gradient={"width": 32, "frac": 18}))


def swimmer():
    return halfcheetah() + Name("swimmer") + Env("Swimmer-v5", seed=0)


def fixar_u50():
    return (halfcheetah() + Name("fixar_u50") + U50() + PerCoreMemories()
            + LaneFunctions("programs") + Numerics(quantizer="affine"))


def fixar_u50_deltas():
    return fixar_u50() + Name("fixar_u50_deltas") + QAT(revise_every=5_000, deltas=True)


def fixar_u50_fit():
    return fixar_u50() + Name("fixar_u50_fit") + Lanes(10)


# four copies of the 400-300 state at batch 256 take 174.6 Mbit, more than the U50 has
# (`fixar validate` says so): this design's four cores share one set of memories
spec = (fixar_u50() + Name("fixar_u50_4cores") + Cores(4) + PerCoreMemories(False)
        + QAT(delay=20_000) + Batch(256))


if __name__ == "__main__":
    from fixar_gen.estimate import estimate, format_estimate

    built = spec.spec()
    print(format_estimate(estimate(built)))
