"""The spec dataclasses: defaults, derived sizes, field checks and the checks between
fields, used directly from Python (no YAML)."""

import dataclasses

import pytest

from fixar_gen import SpecError
from fixar_gen.envs import KNOWN_ENVS
from fixar_gen.spec import (ActorSpec, AlgorithmSpec, CriticSpec, FormatSpec, HardwareSpec,
                            MemorySpec, NetworksSpec, NumericsSpec, Spec)
from fixar_gen.workload import workload


def test_defaults_are_fixar_like():
    spec = Spec()
    assert spec.env.id == "Pendulum-v1"
    assert spec.networks.actor.layer_sizes == (3, 400, 300, 1)
    assert spec.networks.critic.layer_sizes == (4, 400, 300, 1)
    assert spec.networks.actor.output == "tanh" and spec.networks.critic.output == "identity"
    assert spec.hardware.pe_count == 512
    fmt = spec.numerics.weight_format
    assert (fmt.width, fmt.frac, fmt.rounding, fmt.overflow) == (32, 24, "nearest_even",
                                                                 "saturate")


def test_fixar_workload_matches_the_paper():
    """FIXAR: 1,268,600 MACs per training sample for DDPG 400-300 on HalfCheetah."""
    spec = Spec(env=dataclasses.replace(Spec().env, id="HalfCheetah-v5"))
    assert workload(spec).macs_per_sample == 1_268_600


@pytest.mark.parametrize("env_id", sorted(KNOWN_ENVS))
def test_sizes_derive_from_every_known_env(env_id):
    info = KNOWN_ENVS[env_id]
    spec = Spec(env=dataclasses.replace(Spec().env, id=env_id))
    assert spec.obs_dim == info.obs_dim and spec.action_dim == info.action_dim
    assert spec.networks.critic.inputs == info.obs_dim + info.action_dim


def test_explicit_sizes_need_no_environment():
    nets = NetworksSpec(actor=ActorSpec(hidden=(5,), inputs=7, outputs=2),
                        critic=CriticSpec(hidden=(5,)))
    # a registered id the table does not know: never created for its sizes here
    spec = Spec(env=dataclasses.replace(Spec().env, id="CartPole-v1"), networks=nets)
    assert spec.networks.critic.layer_sizes == (9, 5, 1)


def test_unregistered_env_is_an_error_even_with_sizes():
    nets = NetworksSpec(actor=ActorSpec(hidden=(5,), inputs=7, outputs=2),
                        critic=CriticSpec(hidden=(5,)))
    with pytest.raises(SpecError, match=r"^id: 'NoSuchEnv-v0' is not a registered "
                       "gymnasium environment"):
        Spec(env=dataclasses.replace(Spec().env, id="NoSuchEnv-v0"), networks=nets)


def test_field_errors_name_field_value_and_what_is_allowed():
    with pytest.raises(SpecError) as info:
        HardwareSpec(cores=0)
    assert str(info.value) == "cores: 0 is out of range (an integer from 1 to 64)"
    with pytest.raises(SpecError, match=r"^cores: expected an integer, got boolean true"):
        HardwareSpec(cores=True)
    with pytest.raises(SpecError, match=r"^array: expected 2 items, got 3"):
        HardwareSpec(array=(1, 2, 3))
    with pytest.raises(SpecError, match=r"^optimizer: 'rmsprop' is not allowed \(one of adam, "
                                        r"sgd, momentum\)"):
        AlgorithmSpec(optimizer="rmsprop")
    with pytest.raises(SpecError, match=r"^frac: 32 leaves no integer or sign bit"):
        FormatSpec(32, 32)


def test_values_are_normalised():
    hw = HardwareSpec(array=[4, 8], clock_mhz=200)
    assert hw.array == (4, 8) and isinstance(hw.clock_mhz, float)
    assert AlgorithmSpec(gamma=1).gamma == 1.0


def test_fxp16_width_must_be_half_the_activation_width():
    with pytest.raises(SpecError, match=r"^fxp16_width: 12 is not half"):
        NumericsSpec(fxp16_width=12)
    ok = NumericsSpec(activation=FormatSpec(24, 12), fxp16_width=12)
    assert ok.activation_format.width == 24


def test_accumulator_must_hold_the_longest_sum():
    # 64-bit products summed over a 400-wide layer need 64 + 9 = 73 bits
    with pytest.raises(SpecError, match=r"^numerics\.accumulator_width: 72 bits can overflow"):
        Spec(numerics=NumericsSpec(accumulator_width=72))
    Spec(numerics=NumericsSpec(accumulator_width=73))
    # a batch of 4096 sums 4096 weight-gradient products: 64 + 12 = 76
    with pytest.raises(SpecError, match=r"need 76"):
        Spec(numerics=NumericsSpec(accumulator_width=75),
             algorithm=AlgorithmSpec(batch_size=4096))


def test_qat_delay_beyond_the_run_is_an_error_only_for_qat():
    algo = AlgorithmSpec(total_steps=2_000, warmup_steps=1_000, updates_per_step=2)
    Spec(algorithm=algo, numerics=NumericsSpec(qat_delay=2_000))
    with pytest.raises(SpecError, match=r"^numerics\.qat_delay: 2001 updates is beyond the 2000"):
        Spec(algorithm=algo, numerics=NumericsSpec(qat_delay=2_001))
    Spec(algorithm=algo, numerics=NumericsSpec(qat_delay=2_001, precision="fxp32"))


def test_u50_dsp_budget():
    u50 = dict(target="u50")
    Spec(hardware=HardwareSpec(cores=4, array=(16, 16)), **u50)       # 4,096 DSPs fit
    with pytest.raises(SpecError, match=r"^hardware\.array: 5 cores x 16x16 PEs need 5120 "
                                        r"DSP48E2 \(4 per PE\) but the u50 leaves 5059"):
        Spec(hardware=HardwareSpec(cores=5, array=(16, 16)), **u50)
    Spec(hardware=HardwareSpec(cores=5, array=(16, 16)))             # sim: no budget


def test_vector_lanes_default_to_the_columns_and_are_checked():
    assert HardwareSpec().vector_lanes is None and HardwareSpec().lanes == 16
    assert HardwareSpec(array=(4, 6)).lanes == 6
    assert HardwareSpec(array=(4, 6), vector_lanes=1).lanes == 1
    assert HardwareSpec(array=(4, 6), vector_lanes=256).lanes == 256
    for bad in (0, 257, -3):
        with pytest.raises(SpecError, match=r"^vector_lanes: .* is out of range \(an integer "
                                            r"from 1 to 256, or null\)"):
            HardwareSpec(vector_lanes=bad)


def test_u50_lut_budget_names_the_vector_lanes():
    """With the lanes given, a design over the U50 that fits with fewer lanes is refused
    on hardware.vector_lanes, naming the most that fit (FIXAR's 5,500-LUT lanes: the
    spec validation's model)."""
    u50 = dict(target="u50")
    Spec(hardware=HardwareSpec(cores=2, array=(16, 16), vector_lanes=16), **u50)
    with pytest.raises(SpecError, match=r"^hardware\.vector_lanes: 200 vector lanes per "
                                        r"core do not fit the u50 .*\(at most \d+;"):
        Spec(hardware=HardwareSpec(cores=2, array=(16, 16), vector_lanes=200), **u50)
    Spec(hardware=HardwareSpec(cores=2, array=(16, 16), vector_lanes=200))   # sim


def test_memory_sizes_are_checked_when_given():
    spec = Spec(hardware=HardwareSpec(array=(4, 4)))
    need = spec.memory_needs()["weight_kib"]
    kib = -(-need // 1024)
    Spec(hardware=HardwareSpec(array=(4, 4), memory=MemorySpec(weight_kib=kib)))
    with pytest.raises(SpecError, match=r"^hardware\.memory\.weight_kib: .* cannot hold"):
        Spec(hardware=HardwareSpec(array=(4, 4), memory=MemorySpec(weight_kib=kib - 1)))


def test_algorithm_combinations():
    with pytest.raises(SpecError, match=r"^batch_size: 128 is larger than replay_size 100"):
        AlgorithmSpec(batch_size=128, replay_size=100)
    with pytest.raises(SpecError, match=r"^warmup_steps: 10 leaves no training steps"):
        AlgorithmSpec(warmup_steps=10, total_steps=10)


def test_critic_outputs_and_sizes_are_consistent():
    with pytest.raises(SpecError, match=r"^outputs: 2 is out of range"):
        CriticSpec(outputs=2)
    with pytest.raises(SpecError, match=r"^networks\.critic\.inputs: 5 is not"):
        Spec(networks=NetworksSpec(critic=CriticSpec(inputs=5)))
    with pytest.raises(SpecError, match=r"^networks\.actor\.inputs: 4 does not match "
                                        r"Pendulum-v1 \(must be 3 or null\)"):
        Spec(networks=NetworksSpec(actor=ActorSpec(inputs=4)))
