"""The QAT schedule and the choice of FXP16 activation formats (fixar_gen.rl.qat)."""

import dataclasses
import json
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixar_gen import load_spec
from fixar_gen.backends import Batch, open_core, random_params
from fixar_gen.testing import uniform_batch
from fixar_gen.compiler import Precision, activation_keys, delta_keys
from fixar_gen.numerics import FixedFormat
from fixar_gen.rl.qat import (QATSchedule, choose_format, covers, default_format, describe,
                              frac_limits, saturated_range)

from ..conftest import EXAMPLES

ROUNDINGS = ("nearest_even", "nearest_up", "truncate")

# --------------------------------------------------------------------------- choose_format

# log-uniform magnitudes from 2**-40 to 2**24: both clamps of frac_limits are reached
magnitudes = st.builds(lambda m, e: float(np.ldexp(m, e)),
                       st.floats(min_value=1.0, max_value=2.0, exclude_max=True),
                       st.integers(-40, 23))


@st.composite
def ranges(draw):
    """Ranges of every shape: straddling zero, one-sided, a single point, touching 0."""
    a = draw(magnitudes) * draw(st.sampled_from((-1.0, 1.0)))
    b = draw(st.one_of(magnitudes.map(lambda m: m * a / abs(a)), magnitudes.map(lambda m: -m),
                       st.just(0.0), st.just(a)))
    return min(a, b), max(a, b)


settings_args = dict(width=st.integers(2, 32), margin=st.integers(0, 4),
                     rounding=st.sampled_from(ROUNDINGS),
                     overflow=st.sampled_from(("saturate", "wrap")))


def _scaled(x: float, margin: int) -> float:
    return float(np.ldexp(x, margin))


@given(r=ranges(), **settings_args)
def test_pow2_holds_the_range_with_its_margin_and_is_the_finest(r, width, margin, rounding,
                                                                 overflow):
    lo, hi = r
    fmt = choose_format(lo, hi, width, "pow2", margin, rounding, overflow)
    f_min, f_max = frac_limits(width)
    assert fmt.width == width and fmt.signed
    assert (fmt.rounding, fmt.overflow) == (rounding, overflow)
    assert f_min <= fmt.frac <= f_max
    scaled = (_scaled(lo, margin), _scaled(hi, margin))
    if fmt.frac > f_min:                       # not clamped at the coarse end: it holds
        assert covers(fmt, *scaled)
        assert covers(fmt, lo, hi)
    if fmt.frac < f_max:                       # not clamped at the fine end: the finest
        assert not covers(fmt.with_(frac=fmt.frac + 1), *scaled)
    if f_min < fmt.frac < f_max:               # integer bits: log2 of the magnitude + margin
        m = max(abs(lo), abs(hi))
        assert width - fmt.frac >= int(np.floor(np.log2(m))) + 1 + margin


def _delta(lo: float, hi: float, width: int) -> Fraction:
    return (Fraction(abs(lo)) + Fraction(abs(hi))) / 2 ** width


def _step(fmt: FixedFormat) -> Fraction:
    return Fraction(2) ** -fmt.frac


@given(r=ranges(), **settings_args)
def test_affine_covers_the_range_with_a_step_of_at_least_delta(r, width, margin, rounding,
                                                               overflow):
    lo, hi = r
    fmt = choose_format(lo, hi, width, "affine", margin, rounding, overflow)
    f_min, f_max = frac_limits(width)
    assert fmt.width == width and f_min <= fmt.frac <= f_max
    delta = _delta(lo, hi, width)
    if fmt.frac > f_min:
        assert covers(fmt, lo, hi)
        assert _step(fmt) >= delta * 2 ** margin >= delta
    if fmt.frac < f_max:                       # one more bit breaks coverage or the step
        finer = fmt.with_(frac=fmt.frac + 1)
        assert not covers(finer, lo, hi) or _step(finer) < delta * 2 ** margin
    # never coarser than pow2 (nor finer without margin), except one bit for all-negative
    # ranges that pow2 holds only by rounding into the most negative code
    pow2 = choose_format(lo, hi, width, "pow2", margin, rounding, overflow)
    edge = hi < 0 and fmt.frac == pow2.frac - 1 and _step(pow2) < delta * 2 ** margin
    assert fmt.frac >= pow2.frac or edge
    if margin == 0:
        assert fmt == pow2 or edge


@given(r=ranges(), width=st.integers(2, 32), rounding=st.sampled_from(ROUNDINGS))
def test_covering_without_a_zero_point_never_beats_fixars_delta(r, width, rounding):
    """Why affine equals pow2 without margin: a zero-point-free format that holds
    [lo, hi] has a step above FIXAR's (|lo| + |hi|) / 2**width, except when both ends
    are negative, where rounding into the most negative code lets the step fall short of
    it by at most a factor 1 + 2**-width."""
    lo, hi = r
    fmt = choose_format(lo, hi, width, "pow2", 0, rounding)
    if covers(fmt, lo, hi):
        delta = _delta(lo, hi, width)
        if hi >= 0:
            assert _step(fmt) > delta
        else:
            assert _step(fmt) * (1 + Fraction(1, 2 ** width)) >= delta
            if rounding == "truncate":
                assert _step(fmt) >= delta


def test_known_formats():
    # the observed ranges of a Pendulum core's first updates, 16 bits, one margin bit
    assert str(choose_format(-0.9996, 0.9944, 16, "pow2", 1)) == "Q2.14"
    assert str(choose_format(0.0, 1.68, 16, "pow2", 1)) == "Q3.13"     # ReLU output
    assert str(choose_format(0.0, 1.68, 16, "affine", 1)) == "Q2.14"   # one bit finer
    assert str(choose_format(0.0, 1.68, 16, "affine", 0)) == "Q2.14"
    assert str(choose_format(0.0, 1.68, 16, "pow2", 0)) == "Q2.14"
    # symmetric: both quantizers agree, margin or not
    assert choose_format(-3.0, 3.0, 16, "affine", 2) == choose_format(-3.0, 3.0, 16, "pow2", 2)
    # -1 is the most negative Q1.15 value, +1 is not representable in Q1.15
    assert str(choose_format(-1.0, 0.0, 16, "pow2", 0)) == "Q1.15"
    assert str(choose_format(0.0, 1.0, 16, "pow2", 0)) == "Q2.14"
    # Pendulum's Q values, one margin bit
    assert str(choose_format(-1630.0, 0.0, 16, "pow2", 1)) == "Q13.3"


def test_zero_range_is_treated_as_the_unit_range():
    for quantizer in ("pow2", "affine"):
        for margin in (0, 1, 3):
            assert choose_format(0.0, 0.0, 16, quantizer, margin) == \
                choose_format(-1.0, 1.0, 16, quantizer, margin)
    assert str(choose_format(0.0, 0.0, 16, "pow2", 0)) == "Q2.14"
    assert str(choose_format(-0.0, 0.0, 16, "pow2", 1)) == "Q3.13"


def test_negative_only_ranges():
    # the rounding edge: pow2 holds [-1.25, -1] in Q1.1 (-2.5 rounds to the code -2) with
    # a step of 0.5 < delta = 2.25 / 4; affine keeps its step >= delta: Q2.0
    assert str(choose_format(-1.25, -1.0, 2, "pow2", 0)) == "Q1.1"
    assert str(choose_format(-1.25, -1.0, 2, "affine", 0)) == "Q2.0"
    for quantizer in ("pow2", "affine"):
        fmt = choose_format(-5.0, -3.0, 16, quantizer, 0)
        assert covers(fmt, -5.0, -3.0) and not covers(fmt.with_(frac=fmt.frac + 1), -5.0, -3.0)
    assert str(choose_format(-5.0, -3.0, 16, "pow2", 2)) == "Q6.10"    # holds -20
    assert str(choose_format(-5.0, -3.0, 16, "affine", 2)) == "Q5.11"  # span 4 * 8 = 32
    assert str(choose_format(-0.0207, -0.0011, 16, "pow2", 1)) == "Q-3.19"


def test_huge_and_tiny_ranges_are_clamped():
    f_min, f_max = frac_limits(16)
    assert (f_min, f_max) == (0, 32)
    for quantizer in ("pow2", "affine"):
        huge = choose_format(-1e30, 1e30, 16, quantizer, 1)
        assert huge.frac == f_min and str(huge) == "Q16.0"       # saturates beyond +-32767
        assert not covers(huge, -1e30, 1e30)
        tiny = choose_format(-1e-30, 1e-30, 16, quantizer, 1)
        assert tiny.frac == f_max and covers(tiny, -1e-30, 1e-30)
    # the largest value the FXP32 (Q16.16) range monitor can report fits without margin
    assert covers(choose_format(-32768.0, 32767.5, 16, "pow2", 0), -32768.0, 32767.0)


@pytest.mark.parametrize("args, message", [
    ((1.0, 0.0, 16), "lo > hi"),
    ((float("nan"), 1.0, 16), "not finite"),
    ((0.0, float("inf"), 16), "not finite"),
    ((0.0, 1.0, 1), "width"),
    ((0.0, 1.0, 16, "log"), "quantizer"),
    ((0.0, 1.0, 16, "pow2", -1), "margin_bits"),
    ((0.0, 1.0, 16, "pow2", 0, "up"), "rounding"),
    ((0.0, 1.0, 16, "pow2", 0, "nearest_even", "clip"), "overflow"),
])
def test_bad_arguments_are_clear_errors(args, message):
    with pytest.raises(ValueError, match=message):
        choose_format(*args)


# --------------------------------------------------------------------------- the schedule

@pytest.fixture(scope="module")
def pendulum():
    return load_spec(EXAMPLES / "pendulum.yaml")


def _spec(base, **numerics):
    algorithm = dataclasses.replace(base.algorithm, batch_size=16,
                                    **({"optimizer": numerics.pop("optimizer")}
                                       if "optimizer" in numerics else {}))
    return dataclasses.replace(base, algorithm=algorithm,
                               numerics=dataclasses.replace(base.numerics, **numerics))


def _batch(core, spec, step: int) -> Batch:
    """A deterministic batch per step, quantized to the core's current formats."""
    return uniform_batch(spec, core.formats, np.random.default_rng(1000 + step),
                         reward_range=(-2.0, 0.0))


def _core(spec):
    core = open_core(spec)
    core.load_params(random_params(spec, 0))
    return core


HOST = {"rewards": (-2.0, 0.0)}


def _run(spec, core, schedule, start: int, stop: int, log: list) -> None:
    for u in range(start, stop):
        switched = schedule.maybe_switch(core, u, HOST)
        if switched is not None:
            log.append((u, switched))
        core.train_step(_batch(core, spec, u))


def test_qat_switches_exactly_at_the_delay(pendulum):
    spec = _spec(pendulum, precision="qat", qat_delay=3)
    core, schedule = _core(spec), QATSchedule(spec)
    assert schedule.switch_at == 3
    for u in range(3):
        assert schedule.maybe_switch(core, u, HOST) is None
        assert core.precision == Precision() and core.formats["states"].width == 32
        core.train_step(_batch(core, spec, u))
    observed = core.read_ranges()
    params = core.read_params()
    precision = schedule.maybe_switch(core, 3, HOST)
    assert precision is not None and precision.mode == "fxp16"
    assert schedule.switched and schedule.switched_at == 3
    assert core.precision == precision == schedule.precision
    assert core.formats["states"].width == 16 == spec.numerics.fxp16_width
    # parameters and optimizer state survive the switch untouched
    after = core.read_params()
    for name, value in params.items():
        np.testing.assert_array_equal(after[name], value)
    # hidden tensors: exactly the format of their observed range
    n = spec.numerics
    formats = dict(precision.formats)
    for key in ("actor.l0", "actor.l1", "critic.l0", "critic.l1"):
        assert formats[key] == choose_format(*observed[key], 16, n.quantizer, n.margin_bits,
                                             n.rounding, n.overflow)
    # the states, the actions [-1, 1] and the rewards travel in formats that hold them
    assert covers(formats["actor.in"], *observed["actor.in"])
    assert covers(formats["actor.l2"], -1.0, 1.0)
    assert covers(formats["critic.in"], -1.0, 1.0)
    assert covers(formats["critic.l2"], *HOST["rewards"])
    assert covers(formats["critic.l2"], *observed["critic.l2"])
    assert describe(precision) == {k: str(f) for k, f in formats.items()}
    assert list(describe(precision)) == activation_keys(spec)
    assert schedule.describe() == describe(precision)
    # formats are fixed from now on; training goes on in FXP16
    core.train_step(_batch(core, spec, 3))
    for u in range(4, 6):
        assert schedule.maybe_switch(core, u, {"rewards": (-100.0, 50.0)}) is None
        core.train_step(_batch(core, spec, u))
    assert core.precision == precision and core.updates == 6


def test_fxp32_never_switches(pendulum):
    spec = _spec(pendulum, precision="fxp32")
    core, schedule = _core(spec), QATSchedule(spec)
    assert schedule.switch_at is None
    for u in (0, 1, 2, 5_000, 10**6):
        assert schedule.maybe_switch(core, u, HOST) is None
        assert not schedule.due(u)
    core.train_step(_batch(core, spec, 0))
    assert schedule.maybe_switch(core) is None
    assert core.precision == Precision() and not schedule.switched
    assert schedule.state_dict()["switched"] is False


def test_fxp16_starts_switched_with_documented_defaults(pendulum):
    spec = _spec(pendulum, precision="fxp16")
    core, schedule = _core(spec), QATSchedule(spec)
    assert schedule.switch_at == 0 and schedule.due(0)
    precision = schedule.maybe_switch(core, 0, HOST)
    assert precision is not None and precision.mode == "fxp16"
    assert core.formats["states"].width == 16
    formats = dict(precision.formats)
    n = spec.numerics
    q8_8 = FixedFormat(16, 8, rounding=n.rounding, overflow=n.overflow)
    assert default_format(spec) == q8_8                     # Q16.16 scaled to 16 bits
    for key in ("actor.in", "actor.l0", "actor.l1", "critic.l0", "critic.l1"):
        assert formats[key] == q8_8
    assert formats["actor.l2"] == choose_format(-1.0, 1.0, 16, n.quantizer, n.margin_bits)
    # Q's prior: the discounted-return bound of the rewards
    bound = -2.0 / (1.0 - spec.algorithm.gamma)
    assert covers(formats["critic.l2"], bound, 0.0)
    assert formats["critic.l2"] == choose_format(bound, 0.0, 16, n.quantizer, n.margin_bits)
    core.train_step(_batch(core, spec, 0))
    assert schedule.maybe_switch(core, 1, HOST) is None
    # without host ranges the critic output falls back to the default too
    other = QATSchedule(spec)
    other.maybe_switch(_core(spec), 0)
    assert dict(other.precision.formats)["critic.l2"] == q8_8


def test_qat_with_zero_delay_is_fxp16_from_the_start(pendulum):
    qat = QATSchedule(_spec(pendulum, precision="qat", qat_delay=0))
    fxp16 = QATSchedule(_spec(pendulum, precision="fxp16"))
    assert qat.maybe_switch(_core(qat.spec), 0, HOST) == fxp16.maybe_switch(
        _core(fxp16.spec), 0, HOST)


def test_host_ranges_are_checked(pendulum):
    spec = _spec(pendulum, precision="fxp16")
    with pytest.raises(ValueError, match="neither a host input"):
        QATSchedule(spec).maybe_switch(_core(spec), 0, {"reward": (0.0, 1.0)})
    with pytest.raises(ValueError, match="lo > hi"):
        QATSchedule(spec).maybe_switch(_core(spec), 0, {"states": (1.0, 0.0)})


@pytest.mark.parametrize("checkpoint_at", [2, 5])
def test_state_dict_round_trip_switches_identically(pendulum, checkpoint_at):
    """Interrupt a run before (2) or after (5) the switch at 3, resume from plain JSON on
    a fresh core and a fresh schedule: the same switch, the same formats, the same
    parameters bit for bit.  SGD keeps the core's own state to its parameters, and the
    range monitors are restored by the schedule alone (state_dict(core))."""
    spec = _spec(pendulum, precision="qat", qat_delay=3, optimizer="sgd")
    total = 7
    core, schedule, log = _core(spec), QATSchedule(spec), []
    _run(spec, core, schedule, 0, total, log)

    first, first_schedule, first_log = _core(spec), QATSchedule(spec), []
    _run(spec, first, first_schedule, 0, checkpoint_at, first_log)
    state = json.loads(json.dumps(first_schedule.state_dict(first)))
    params = first.read_params()

    resumed, resumed_schedule, resumed_log = open_core(spec), QATSchedule(spec), []
    resumed.load_params(params)
    resumed_schedule.load_state_dict(state)
    _run(spec, resumed, resumed_schedule, checkpoint_at, total, resumed_log)

    assert [(u, p) for u, p in first_log + resumed_log if u == 3] == log
    assert resumed_schedule.precision == schedule.precision
    assert resumed_schedule.switched_at == schedule.switched_at == 3
    # with revisions on (the example's) the state holds the window: read with the core
    assert resumed_schedule.state_dict(resumed) == schedule.state_dict(core)
    final, expected = resumed.read_params(), core.read_params()
    for name, value in expected.items():
        np.testing.assert_array_equal(final[name], value)


def test_state_dict_is_plain_json_and_checked(pendulum):
    spec = _spec(pendulum, precision="qat", qat_delay=1)
    core, schedule = _core(spec), QATSchedule(spec)
    before = schedule.state_dict(core)
    assert before["switched"] is False and before["formats"] is None
    schedule.maybe_switch(core, 0)
    core.train_step(_batch(core, spec, 0))
    schedule.maybe_switch(core, 1)
    state = schedule.state_dict()
    assert json.loads(json.dumps(state)) == state
    assert state["switched"] is True and state["switched_at"] == 1
    assert state["formats"] == {k: [f.width, f.frac] for k, f in schedule.precision.formats}
    # a resumed schedule re-applies the formats to a fresh core, once
    fresh, again = _core(spec), QATSchedule(spec)
    again.load_state_dict(json.loads(json.dumps(state)))
    assert again.maybe_switch(fresh, 1) == schedule.precision
    assert again.maybe_switch(fresh, 2) is None
    # a checkpoint from another spec is refused
    other = QATSchedule(_spec(pendulum, precision="qat", qat_delay=1, quantizer="affine"))
    with pytest.raises(ValueError, match="quantizer"):
        other.load_state_dict(state)
    broken = dict(state, formats={k: v for k, v in list(state["formats"].items())[1:]})
    with pytest.raises(ValueError, match="activation keys"):
        QATSchedule(spec).load_state_dict(broken)


# --------------------------------------------------------------------------- revisions

formats16 = st.builds(lambda f, r: FixedFormat(16, f, rounding=r),
                      st.integers(0, 32), st.sampled_from(ROUNDINGS))


@given(fmt=formats16, a=st.floats(-4.0, 4.0), b=st.floats(-4.0, 4.0))
def test_saturated_range_doubles_exactly_the_ends_at_the_bound(fmt, a, b):
    """An end inside the format is kept; an end at (or beyond) the format's bound becomes
    twice the bound, which needs exactly one more integer bit (catches: a missing end, a
    factor other than 2, or a strict comparison that misses a saturated value)."""
    lo, hi = sorted(max(v * fmt.max_value, 2 * fmt.min_value) for v in (a, b))
    new_lo, new_hi = saturated_range(fmt, lo, hi)
    assert new_lo == (2 * fmt.min_value if lo <= fmt.min_value else lo)
    assert new_hi == (2 * fmt.max_value if hi >= fmt.max_value else hi)
    # the raw bounds of the monitor (what a saturated tensor shows) count as saturated
    assert saturated_range(fmt, fmt.min_value, fmt.max_value) == \
        (2 * fmt.min_value, 2 * fmt.max_value)
    if fmt.frac > 0:
        wider = choose_format(*saturated_range(fmt, fmt.min_value, fmt.max_value), 16,
                              "pow2", 0, fmt.rounding)
        assert wider.frac == fmt.frac - 1


class _StubCore:
    """What QATSchedule uses of a core: an update counter, range monitors, a precision
    (set_precision restarts the monitors, as Core.set_precision does)."""

    def __init__(self):
        self.updates, self.precision, self.ranges, self.resets = 0, Precision(), {}, 0

    def read_ranges(self):
        return dict(self.ranges)

    def set_precision(self, precision):
        self.precision, self.ranges = precision, {}
        self.resets += 1

    def observe(self, key, lo, hi):
        fmt = dict(self.precision.formats).get(key) if self.precision.mode == "fxp16" \
            else None
        if fmt is not None:                           # the monitors hold quantized values
            lo, hi = (float(v) for v in fmt.to_float(fmt.quantize(np.array([lo, hi]))))
        old = self.ranges.get(key)
        self.ranges[key] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))


def _switched(spec, ranges):
    core, schedule = _StubCore(), QATSchedule(spec)
    core.updates = spec.numerics.qat_delay
    for key, r in ranges.items():
        core.observe(key, *r)
    schedule.maybe_switch(core, core.updates, HOST)
    assert schedule.switched
    return core, schedule


START = {"actor.in": (-1.0, 1.0), "actor.l0": (0.0, 2.0), "actor.l1": (0.0, 2.0),
         "actor.l2": (-1.0, 1.0), "critic.in": (-1.0, 1.0), "critic.l0": (0.0, 2.0),
         "critic.l1": (0.0, 2.0), "critic.l2": (-3.0, 0.5)}


@given(growth=st.dictionaries(st.sampled_from(sorted(START)),
                              st.tuples(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4)),
                              min_size=1),
       margin=st.integers(0, 3))
def test_revisions_only_widen_and_hold_what_was_observed(pendulum, growth, margin):
    """After a revision every format is the current one or coarser; a changed format is
    the one chosen (as at the switch) from the window, and it holds the window's range
    with its margin unless clamped; a key whose window saturated gains at least one
    integer bit plus the margin (catches: narrowing, ignoring saturation, choosing
    without the margin, changing a key that fits)."""
    spec = _spec(pendulum, precision="qat", qat_delay=3, margin_bits=margin,
                 qat_revise_every=2)
    core, schedule = _switched(spec, START)
    before = schedule.formats
    window = {}
    for key, (a, b) in growth.items():
        core.observe(key, min(a, b), max(a, b))
    window = core.read_ranges()
    changed = schedule.revise_formats(window, HOST)
    chosen, _ = schedule.choose_formats(
        {k: saturated_range(before[k], *r) for k, r in window.items()}, HOST)
    for key in schedule.keys:
        if key in changed:
            assert changed[key].frac < before[key].frac
            assert changed[key] == chosen[key]
        elif key in window:
            assert chosen[key].frac >= before[key].frac
        lo, hi = window.get(key, (0.0, 0.0))
        fmt = before[key]
        if key in window and fmt.frac > 0 and (lo <= fmt.min_value or hi >= fmt.max_value):
            assert key in changed
            assert changed[key].frac <= max(fmt.frac - 1 - margin, 0)


def test_revisions_happen_every_k_updates_after_the_switch(pendulum):
    spec = _spec(pendulum, precision="qat", qat_delay=3, qat_revise_every=2)
    core, schedule = _switched(spec, START)
    q = schedule.formats["critic.l2"]
    assert schedule.switched_at == 3 and core.resets == 1
    # Q grows past its format: saturated in the monitors (clipped at the bound)
    core.observe("critic.l2", -3.0, 40.0)
    assert core.read_ranges()["critic.l2"][1] == q.max_value
    core.updates = 4
    assert schedule.maybe_switch(core, 4, HOST) is None          # not yet due
    core.updates = 5
    precision = schedule.maybe_switch(core, 5, HOST)             # 3 + 2
    assert precision is not None and core.precision == precision
    assert core.resets == 2 and core.read_ranges() == {}          # monitors restart
    new = schedule.formats["critic.l2"]
    assert new.frac < q.frac and covers(new, -3.0, 2 * q.max_value)
    assert schedule.revisions == [(5, {"critic.l2": str(new)})]
    assert schedule.maybe_switch(core, 5, HOST) is None           # once per update count
    # a window that fits changes nothing and the monitors keep accumulating
    core.observe("critic.l2", -1.0, 0.1)
    core.updates = 7
    assert schedule.maybe_switch(core, 7, HOST) is None
    assert core.resets == 2 and schedule.revisions == [(5, {"critic.l2": str(new)})]
    # a range that shrinks keeps its format (no narrowing)
    core.updates = 9
    assert schedule.maybe_switch(core, 9, HOST) is None and schedule.formats["critic.l2"] == new
    # without revisions the formats stay as chosen at the switch
    fixed_spec = _spec(pendulum, precision="qat", qat_delay=3)
    core, fixed = _switched(fixed_spec, START)
    core.observe("critic.l2", -3.0, 40.0)
    for u in range(4, 12):
        core.updates = u
        assert fixed.maybe_switch(core, u, HOST) is None
    assert fixed.revisions == [] and not fixed.revision_due(5)


def _growing_batch(core, spec, step: int) -> Batch:
    """States in [-0.5, 0.5], except at updates 3 and 6 (40 times larger): the input
    formats chosen at the switch saturate there and must widen at the next revision."""
    rng = np.random.default_rng(2000 + step)
    batch = uniform_batch(spec, core.formats, rng, reward_range=(-2.0, 0.0))
    scale = 20.0 if step in (3, 6) else 0.5
    states = core.formats["states"].quantize(rng.uniform(-scale, scale,
                                                         (spec.algorithm.batch_size,
                                                          spec.obs_dim)))
    return dataclasses.replace(batch, states=states, next_states=states)


@pytest.mark.parametrize("checkpoint_at", [4, 6, 7])
def test_revisions_resume_identically(pendulum, checkpoint_at):
    """A run with revisions every 2 updates after the switch at 3, on the golden core,
    interrupted at 4 (after the saturating update of the window), 6 (just after a
    revision) or 7 (just before one, the saturating update in its window) and resumed on
    a fresh core from plain JSON: the same revisions at the same updates and the same
    parameters bit for bit (catches: a window lost at the checkpoint, a revision
    repeated or skipped on resume)."""
    spec = _spec(pendulum, precision="qat", qat_delay=3, optimizer="sgd",
                 qat_revise_every=2)
    total = 10

    def run(core, schedule, start, stop):
        for u in range(start, stop):
            schedule.maybe_switch(core, u, HOST)
            core.train_step(_growing_batch(core, spec, u))

    core, schedule = _core(spec), QATSchedule(spec)
    run(core, schedule, 0, total)
    schedule.maybe_switch(core, total, HOST)
    assert schedule.revisions, "the growing states must widen a format"
    assert [u for u, _ in schedule.revisions] == [5, 7]
    assert all("actor.in" in changed for _, changed in schedule.revisions)

    first, first_schedule = _core(spec), QATSchedule(spec)
    run(first, first_schedule, 0, checkpoint_at)
    state = json.loads(json.dumps(first_schedule.state_dict(first)))
    resumed, resumed_schedule = open_core(spec), QATSchedule(spec)
    resumed.load_params(first.read_params())
    resumed_schedule.load_state_dict(state)
    run(resumed, resumed_schedule, checkpoint_at, total)
    resumed_schedule.maybe_switch(resumed, total, HOST)

    assert resumed_schedule.revisions == schedule.revisions
    assert resumed_schedule.precision == schedule.precision
    assert resumed_schedule.state_dict(resumed) == schedule.state_dict(core)
    final, expected = resumed.read_params(), core.read_params()
    for name, value in expected.items():
        np.testing.assert_array_equal(final[name], value)


def test_a_state_without_revisions_loads_as_formats_fixed(pendulum):
    spec = _spec(pendulum, precision="qat", qat_delay=1, qat_revise_every=0)
    core, schedule = _core(spec), QATSchedule(spec)
    schedule.maybe_switch(core, 0)
    core.train_step(_batch(core, spec, 0))
    schedule.maybe_switch(core, 1)
    old = {k: v for k, v in schedule.state_dict().items()
           if k not in ("revise_every", "revised_at", "revisions")}
    again = QATSchedule(spec)
    again.load_state_dict(old)
    assert again.precision == schedule.precision and again.revisions == []
    with pytest.raises(ValueError, match="revise_every"):
        QATSchedule(_spec(pendulum, precision="qat", qat_delay=1,
                          qat_revise_every=5)).load_state_dict(old)


# --------------------------------------------------------------------------- 16-bit deltas

def _buffer(program, name):
    return next(b for b in program.buffers if b.name == name)


def test_deltas_get_formats_from_the_gradients_they_are_made_of(pendulum):
    """``fxp16_deltas``: before the switch the deltas are in the gradient format and their
    monitors (the drained dh) are read with the activations'; at the switch each hidden
    delta gets the format of its dh range, and the compiled program stores it so."""
    spec = _spec(pendulum, precision="qat", qat_delay=3, qat_revise_every=2,
                 fxp16_deltas=True)
    keys = delta_keys(spec)
    assert keys == ["cq.critic.dz1", "ap.critic.dz1", "ap.actor.dz1"]
    core, schedule = _core(spec), QATSchedule(spec)
    assert schedule.keys == activation_keys(spec) + keys
    for u in range(3):
        assert schedule.maybe_switch(core, u, HOST) is None
        core.train_step(_batch(core, spec, u))
    observed = core.read_ranges()
    assert set(keys) <= set(observed)
    assert _buffer(core.program("train", 16), "cq.critic.dz1").fmt == \
        spec.numerics.gradient_format
    precision = schedule.maybe_switch(core, 3, HOST)
    n = spec.numerics
    formats = dict(precision.formats)
    program = core.program("train", 16)
    for key in keys:
        lo, hi = observed[key]
        assert lo < 0 < hi                                  # gradients of both signs
        assert formats[key] == choose_format(lo, hi, 16, n.quantizer, n.margin_bits,
                                             n.rounding, n.overflow)
        assert _buffer(program, key).fmt == formats[key]
    core.train_step(_batch(core, spec, 3))                  # runs in the new formats
    assert set(keys) <= set(core.read_ranges())


def test_deltas_follow_their_range_both_ways(pendulum):
    """At a revision a delta's format is the one its window chooses, finer or coarser,
    while an activation whose range shrank keeps its format; the default of a delta
    nothing was observed of is the gradient format scaled to 16 bits."""
    spec = _spec(pendulum, precision="qat", qat_delay=3, qat_revise_every=2,
                 fxp16_deltas=True)
    start = {**START, "cq.critic.dz1": (-1e-3, 1e-3), "ap.critic.dz1": (-1e-3, 1e-3)}
    core, schedule = _switched(spec, start)
    before = schedule.formats
    assert before["ap.actor.dz1"] == default_format(spec, "ap.actor.dz1")
    assert str(before["ap.actor.dz1"]) == "Q4.12"
    # one delta 8 times smaller, one 8 times larger, an activation 8 times smaller
    window = {"cq.critic.dz1": (-1.25e-4, 1.25e-4), "ap.critic.dz1": (-8e-3, 8e-3),
              "actor.l0": (0.0, 0.25)}
    changed = schedule.revise_formats(window, HOST)
    assert changed["cq.critic.dz1"].frac == before["cq.critic.dz1"].frac + 3
    assert changed["ap.critic.dz1"].frac == before["ap.critic.dz1"].frac - 3
    assert "actor.l0" not in changed and "ap.actor.dz1" not in changed
    # through maybe_switch: the core gets the new formats
    for key, r in window.items():
        core.observe(key, *r)
    core.updates = 5
    assert schedule.maybe_switch(core, 5, HOST) is not None
    assert dict(core.precision.formats)["cq.critic.dz1"] == changed["cq.critic.dz1"]
