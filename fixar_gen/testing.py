"""Hypothesis strategies and checks for property-testing generated cores (needs the
`dev` extra).

    from fixar_gen.testing import specs, programs, check_equivalence
    @given(data=st.data())
    def test_my_core(data):
        spec = data.draw(specs())
        ...
    check_equivalence(my_spec, backend="verilator", examples=100)   # raises on a mismatch

- :func:`specs`: small valid specs (odd layer widths, odd batch sizes, 1x1 to 4x4 arrays,
  1 to 4 cores, every policy);
- :func:`programs` (``programs(spec)``): random programs for a spec's hardware -- every
  instruction kind and vector function, odd shapes, split over the cores -- with initial
  data (see :mod:`fixar_gen.programs`);
- :func:`precisions`, :func:`batches`, :func:`operands`: FXP16 formats, training batches
  and raw operand values that hit the format extremes;
- :func:`check_equivalence`: random programs on a backend vs the golden model,
  shrinking a failure to a minimal program (what ``fixar verify`` runs).

The project's own tests use the same strategies.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .backends import Batch
from .compiler import Precision, activation_keys
from .numerics import FixedFormat
from .programs import Case, programs
from .verify import check_equivalence
from .spec import (ActorSpec, AlgorithmSpec, CriticSpec, EnvSpec, HardwareSpec, NetworksSpec,
                   NumericsSpec, ParallelismSpec, Spec)

POLICIES = ("intra_layer", "intra_batch")


@st.composite
def specs(draw, max_width: int = 40, max_layers: int = 2, max_batch: int = 33,
          max_cores: int = 4, max_array: int = 4, activations=("relu", "tanh", "leaky_relu",
                                                                "identity"),
          optimizers=("adam", "sgd", "momentum")) -> Spec:
    """Small valid specs with explicit network sizes (no environment is created)."""
    obs = draw(st.integers(1, 6))
    act = draw(st.integers(1, 3))
    hidden = st.lists(st.integers(1, max_width), min_size=1, max_size=max_layers).map(tuple)
    batch = draw(st.integers(1, max_batch))
    return Spec(
        name="prop",
        env=EnvSpec(seed=draw(st.integers(0, 2**32 - 1))),
        networks=NetworksSpec(
            actor=ActorSpec(hidden=draw(hidden), inputs=obs, outputs=act,
                            activation=draw(st.sampled_from(activations)),
                            output=draw(st.sampled_from(("tanh", "identity")))),
            critic=CriticSpec(hidden=draw(hidden),
                              activation=draw(st.sampled_from(activations)))),
        algorithm=AlgorithmSpec(batch_size=batch, replay_size=max(batch, 1000),
                                warmup_steps=0, total_steps=10**6,
                                optimizer=draw(st.sampled_from(optimizers)),
                                gamma=draw(st.sampled_from((0.0, 0.5, 0.99, 1.0))),
                                tau=draw(st.sampled_from((0.005, 0.5, 1.0)))),
        numerics=NumericsSpec(precision="fxp32"),
        hardware=HardwareSpec(cores=draw(st.integers(1, max_cores)),
                              array=(draw(st.integers(1, max_array)),
                                     draw(st.integers(1, max_array)))),
        parallelism=ParallelismSpec(inference=draw(st.sampled_from(POLICIES)),
                                    training=draw(st.sampled_from(POLICIES))),
    )


@st.composite
def precisions(draw, spec: Spec) -> Precision:
    """FXP32, or FXP16 with a random 16-bit format per activation tensor."""
    if draw(st.booleans()):
        return Precision()
    width = spec.numerics.fxp16_width
    return Precision("fxp16", tuple(
        (key, FixedFormat(width, draw(st.integers(2, width - 2)),
                          rounding=spec.numerics.rounding, overflow=spec.numerics.overflow))
        for key in activation_keys(spec)))


def _values(draw, fmt: FixedFormat, shape, low: float, high: float) -> np.ndarray:
    """Mostly values in [low, high], sometimes the format's extremes."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = fmt.quantize(rng.uniform(low, high, size=shape))
    if draw(st.booleans()):
        mask = rng.random(shape) < 0.2
        extremes = rng.choice([fmt.min_int, fmt.max_int, 0], size=shape)
        x = np.where(mask, extremes, x)
    return x


@st.composite
def operands(draw, fmt: FixedFormat, shape=(1,)) -> np.ndarray:
    """Raw values of ``fmt``: uniform over its range, with its extremes (min, max, 0)
    mixed in."""
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    span = fmt.max_int - fmt.min_int + 1
    values = np.array([int(rng.integers(0, 2**62)) % span + fmt.min_int
                       for _ in range(int(np.prod(shape)))], dtype=np.int64).reshape(shape)
    if draw(st.booleans()):
        mask = rng.random(shape) < 0.3
        extremes = rng.choice([fmt.min_int, fmt.max_int, max(fmt.min_int, 0)], size=shape)
        values = np.where(mask, extremes, values)
    return values


@st.composite
def batches(draw, spec: Spec, formats: dict[str, FixedFormat], size: int | None = None
            ) -> Batch:
    """A training batch in the core's input formats (``core.formats``)."""
    B = size or spec.algorithm.batch_size
    obs, act = spec.obs_dim, spec.action_dim
    return Batch(
        states=_values(draw, formats["states"], (B, obs), -2, 2),
        actions=_values(draw, formats["actions"], (B, act), -1, 1),
        rewards=_values(draw, formats["rewards"], (B, 1), -4, 1),
        next_states=_values(draw, formats["states"], (B, obs), -2, 2),
        dones=np.asarray(draw(st.lists(st.integers(0, 1), min_size=B, max_size=B)),
                         dtype=np.int64).reshape(B, 1),
    )


def uniform_batch(spec: Spec, formats: dict[str, FixedFormat], rng: np.random.Generator,
                  size: int | None = None, reward_range: tuple[float, float] = (-16.0, 0.0),
                  done_prob: float = 0.1) -> Batch:
    """A plain (non-hypothesis) random batch in the core's input formats: states and
    actions uniform in [-1, 1], rewards uniform in ``reward_range``."""
    B = size or spec.algorithm.batch_size
    obs, act = spec.obs_dim, spec.action_dim
    return Batch(states=formats["states"].quantize(rng.uniform(-1, 1, (B, obs))),
                 actions=formats["actions"].quantize(rng.uniform(-1, 1, (B, act))),
                 rewards=formats["rewards"].quantize(rng.uniform(*reward_range, (B, 1))),
                 next_states=formats["states"].quantize(rng.uniform(-1, 1, (B, obs))),
                 dones=(rng.random((B, 1)) < done_prob).astype(np.int64))


def assert_same_state(golden, other) -> None:
    """Every parameter, target copy and optimizer state of two Cores identical
    (``assert_array_equal`` on the raw integers), and their saturation counts."""
    g, h = golden.read_params(), other.read_params()
    for name in g:
        np.testing.assert_array_equal(h[name], g[name], err_msg=name)
    assert other.stats.saturations == golden.stats.saturations, \
        (dict(golden.stats.saturations), dict(other.stats.saturations))


def train_both(golden, other, batch: Batch) -> None:
    """One training step on both Cores, then :func:`assert_same_state`."""
    golden.train_step(batch)
    other.train_step(batch)
    assert_same_state(golden, other)


__all__ = ["Case", "assert_same_state", "batches", "check_equivalence", "operands",
           "precisions", "programs", "specs", "train_both", "uniform_batch"]
