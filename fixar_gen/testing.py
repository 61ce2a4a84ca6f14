"""Property tests of your own spec's generated RTL against the golden model: everything
such a test needs, in one import (hypothesis is required: the ``verify`` extra).

    import pytest
    from hypothesis import given
    from fixar_gen.testing import assert_equivalent, hardware_settings, load_spec, \
        open_machine, programs

    SPEC = load_spec("my_core.yaml")

    @pytest.fixture(scope="module")
    def machine():                       # elaborated once, shared by every example
        with open_machine(SPEC, "pyrtl") as m:     # or "verilator"
            yield m

    @hardware_settings()
    @given(case=programs(SPEC))
    def test_random_programs(machine, case):
        assert_equivalent(case, machine)           # values, saturations, cycles

The worked example (random programs, whole training steps, a search with
:func:`check_equivalence`) is ``examples/test_my_core.py``, explained in
``docs/testing.md``.

Strategies (hypothesis):
- :func:`programs` ``(spec)``: random programs for a spec's hardware -- every
  instruction kind and vector function, odd shapes, split over the cores -- with their
  initial data (a :class:`Case`; see :mod:`fixar_gen.programs`);
- :func:`specs`: small valid specs (odd layer widths, odd batch sizes, 1x1 to 4x4
  arrays, 1 to 4 cores, every policy);
- :func:`precisions`, :func:`batches`, :func:`operands`: FXP16 formats, training
  batches and raw operand values that hit the format extremes.

Opening designs: :func:`open_machine` ``(spec, "pyrtl" | "verilator")`` (the generated
core behind the golden machine's operations; a context manager), :func:`open_core`
``(spec, backend)`` (the Core interface: ``train_step``, ``infer`` ...),
:func:`random_params`, :func:`uniform_batch`, :func:`load_spec`.

Checks: :func:`assert_equivalent` ``(case, machine)`` (raises with the difference and
the program's listing), :func:`compare` / :func:`check_program` (the first
:class:`Difference` or None), :func:`assert_same_state` and :func:`train_both` (two
Cores' parameters, optimizer state and saturation counts), :func:`check_equivalence`
``(spec, backend, examples)``: a whole search with shrinking, what ``fixar verify``
runs -- call it from a plain test, never inside ``@given`` (it is a search of its own).

Settings: :func:`hardware_settings` ``(**overrides)`` decorates a test that simulates
RTL: no deadline (one example can take seconds), the ``too_slow`` health check off,
:data:`HARDWARE_EXAMPLES` examples, everything else from the active profile.  The same
is registered as the profile :data:`HARDWARE_PROFILE` (``"fixar-hardware"``), for
``settings.load_profile("fixar-hardware")`` in a conftest.py.
"""

from __future__ import annotations

import numpy as np

from .extras import install_hint

try:
    from hypothesis import HealthCheck, settings
    from hypothesis import strategies as st
except ImportError:
    raise ImportError("fixar_gen.testing needs hypothesis, which is not installed: install "
                      f"the verify extra: {install_hint('verify')}") from None

from . import load_spec
from .backends import Batch, open_core, random_params, uniform_batch
from .cases import Case, Difference, compare
from .compiler import Precision, precision_keys
from .hw.session import open_machine
from .numerics import FixedFormat
from .programs import programs
from .spec import (ActorSpec, AlgorithmSpec, CriticSpec, EnvSpec, HardwareSpec, NetworksSpec,
                   NumericsSpec, ParallelismSpec, Spec)
from .verify import check_equivalence, check_program

#: examples per test under :func:`hardware_settings` (each one simulates the RTL)
HARDWARE_EXAMPLES = 20
#: the name :func:`hardware_settings`'s settings are registered under
HARDWARE_PROFILE = "fixar-hardware"
_HARDWARE = {"max_examples": HARDWARE_EXAMPLES, "deadline": None,
             "suppress_health_check": (HealthCheck.too_slow,)}
settings.register_profile(HARDWARE_PROFILE, **_HARDWARE)


def hardware_settings(**overrides) -> settings:
    """Settings for a test that simulates generated RTL (use as a decorator, above
    ``@given``): no deadline, ``too_slow`` suppressed, :data:`HARDWARE_EXAMPLES` examples;
    ``overrides`` are any other ``hypothesis.settings`` arguments; the rest come from the
    profile active when the decorator runs."""
    return settings(settings(), **{**_HARDWARE, **overrides})


POLICIES = ("intra_layer", "intra_batch")


@st.composite
def specs(draw, max_width: int = 40, max_layers: int = 2, max_batch: int = 33,
          max_cores: int = 4, max_array: int = 4, activations=("relu", "tanh", "leaky_relu",
                                                                "identity"),
          optimizers=("adam", "sgd", "momentum"), max_lanes: int = 0) -> Spec:
    """Small valid specs with explicit network sizes (no environment is created);
    ``max_lanes`` > 0 also draws ``hardware.vector_lanes`` (null, or 1 to ``max_lanes``),
    else it stays null (one lane per array column)."""
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
        numerics=NumericsSpec(precision="fxp32", fxp16_deltas=draw(st.booleans())),
        hardware=HardwareSpec(cores=draw(st.integers(1, max_cores)),
                              array=(draw(st.integers(1, max_array)),
                                     draw(st.integers(1, max_array))),
                              vector_lanes=draw(st.one_of(st.none(),
                                                          st.integers(1, max_lanes)))
                              if max_lanes > 0 else None),
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
        for key in precision_keys(spec)))


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


def assert_equivalent(case: Case, machine) -> None:
    """Raise AssertionError (the first difference, then the program as assembly) unless
    ``case`` gives the golden model's buffers, host slots and saturation counts on
    ``machine`` and the RTL cycle model's cycle count (:func:`check_program`)."""
    diff = check_program(case, machine)
    if diff is not None:
        raise AssertionError(f"{diff}\n{case.listing()}")


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


__all__ = [
    # strategies
    "batches", "operands", "precisions", "programs", "specs",
    # opening designs and data
    "Batch", "load_spec", "open_core", "open_machine", "random_params", "uniform_batch",
    # checks
    "Case", "Difference", "assert_equivalent", "assert_same_state", "check_equivalence",
    "check_program", "compare", "train_both",
    # settings
    "HARDWARE_EXAMPLES", "HARDWARE_PROFILE", "hardware_settings",
]
