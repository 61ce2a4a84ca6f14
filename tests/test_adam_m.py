"""adam_m's first moment decays to 0 when the gradient is 0 (it rounds toward zero,
whatever its format's rounding): on the interpreter, the engine's numpy and numba
kernels and the engine's fused Adam pass.

Rounded to nearest, a moment of |m| <= 4 LSB at beta1 = 0.9 is its own rounded product
(0.9 * 4 = 3.6 -> 4) and stays forever; a unit that never fires then keeps a moment and
adam_w walks its weight to the format's bound.  These tests fail on that behaviour: a
golden model, engine kernel or fused pass that rounds adam_m by the format's nearest mode
leaves m at 4 (or -4) and the decay assertions below fail.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixar_gen import engine_numba, ops
from fixar_gen.engine import EngineMachine
from fixar_gen.golden import GoldenMachine
from fixar_gen.isa import VECTOR_FUNCTIONS, Buffer, Halt, Program, Range, Vector
from fixar_gen.numerics import OVERFLOW_MODES, ROUNDING_MODES, FixedFormat
from fixar_gen.ops import COEFF, RATE
from tests.conftest import examples

Q824 = FixedFormat(32, 24)
BETA1 = int(COEFF.quantize(0.9))
BETA2 = int(COEFF.quantize(0.999))
fn = VECTOR_FUNCTIONS.index

MACHINES = ["golden", "numpy", pytest.param("numba", marks=pytest.mark.skipif(
    not engine_numba.AVAILABLE, reason="numba is not installed (or FIXAR_NUMBA=0): the "
    "engine runs its numpy kernels, tested by the numpy cases"))]


def _machine(kind: str):
    return GoldenMachine() if kind == "golden" else EngineMachine(kernels=kind)


def _run(kind: str, buffers, code, values: dict, steps: int) -> list[np.ndarray]:
    """m after each of ``steps`` runs of ``code`` on one machine (state kept between
    runs, as the trainer keeps it)."""
    program = Program("adam_m", tuple(buffers), (), (*code, Halt()), 1, FixedFormat(32, 16))
    machine = _machine(kind)
    machine.allocate(program.buffers)
    for name, value in values.items():
        machine.write(name, np.asarray(value, dtype=np.int64))
    out = []
    for _ in range(steps):
        machine.run(program, {})
        out.append(np.asarray(machine.read("m"), dtype=np.int64).copy())
    return out


def _adam_m(rows: int, cols: int, m_fmt: FixedFormat, g_fmt: FixedFormat,
            c_fmt: FixedFormat = COEFF):
    buffers = [Buffer("m", rows, cols, m_fmt, "state"), Buffer("g", rows, cols, g_fmt),
               Buffer("beta1", 1, 1, c_fmt, "const")]
    code = [Vector(fn=fn("adam_m"), dst=0, a=1, c=2, rows=Range(0, rows),
                   cols=Range(0, cols), src_col=0)]
    return buffers, code


def test_adam_m_declares_toward_zero():
    assert ops.BY_NAME["adam_m"].rounding == "toward_zero"
    assert ops.BY_NAME["adam_m"].result_format(Q824) == Q824.with_(rounding="toward_zero")


SMALL = [[1, 2, 3, 4, -1, -2, -3, -4, 0]]


@pytest.mark.parametrize("kind", MACHINES)
@pytest.mark.parametrize("rounding", ROUNDING_MODES)
def test_small_moments_reach_zero_with_no_gradient(kind, rounding):
    """Moments of 1..4 LSB of either sign, g = 0, beta1 = 0.9 in Q8.24 (whatever m's
    format rounds by): 4 -> 3 -> 2 -> 1 -> 0, so every one is 0 after 4 steps and stays
    0; no sign ever flips.  (To nearest, 4 and -4 never move.)"""
    m_fmt = Q824.with_(rounding=rounding)
    buffers, code = _adam_m(1, 9, m_fmt, Q824)
    history = _run(kind, buffers, code, {"m": SMALL, "g": np.zeros((1, 9)),
                                         "beta1": [[BETA1]]}, 6)
    m0 = np.array(SMALL)
    np.testing.assert_array_equal(history[0], [[0, 1, 2, 3, 0, -1, -2, -3, 0]])
    np.testing.assert_array_equal(history[3], np.zeros_like(m0))
    np.testing.assert_array_equal(history[5], np.zeros_like(m0))
    for m in history:
        assert np.all(np.sign(m) * np.sign(m0) >= 0)


@st.composite
def decay_cases(draw):
    signed = draw(st.booleans())
    width = draw(st.integers(2, 40))
    m_fmt = FixedFormat(width, draw(st.integers(0, 40)), signed=signed,
                        rounding=draw(st.sampled_from(ROUNDING_MODES)),
                        overflow=draw(st.sampled_from(OVERFLOW_MODES)))
    g_fmt = FixedFormat(draw(st.integers(2, 40)), draw(st.integers(0, 40)))
    fc = draw(st.integers(1, 32))
    c_fmt = FixedFormat(fc + 1, fc, signed=False)
    beta = draw(st.one_of(st.integers(0, (1 << fc) - 1), st.just((1 << fc) - 1)))
    cols = draw(st.integers(1, 6))
    edges = [m_fmt.min_int, m_fmt.max_int, m_fmt.min_int + 1, m_fmt.max_int - 1, 1, -1, 0]
    values = st.one_of(st.sampled_from([v for v in edges
                                        if m_fmt.min_int <= v <= m_fmt.max_int]),
                       st.integers(m_fmt.min_int, m_fmt.max_int))
    m = draw(st.lists(values, min_size=cols, max_size=cols))
    return m_fmt, g_fmt, c_fmt, beta, [m]


@settings(max_examples=examples(150), deadline=None)
@given(case=decay_cases(), kind=st.sampled_from(
    ["golden", "numpy"] + (["numba"] if engine_numba.AVAILABLE else [])))
def test_a_moment_shrinks_every_step_with_no_gradient(case, kind):
    """Any format (1-element to 6-element rows, 2..40 bits, signed or not, every
    rounding and overflow mode, extremes), any beta1 < 1 (up to 1 - 2^-f(c)), g = 0:
    |m| falls by at least one LSB a step (or is 0) and keeps its sign, so a moment of k
    LSB is 0 after at most k steps."""
    m_fmt, g_fmt, c_fmt, beta, m = case
    buffers, code = _adam_m(1, len(m[0]), m_fmt, g_fmt, c_fmt)
    (after,) = _run(kind, buffers, code, {"m": m, "g": np.zeros((1, len(m[0]))),
                                          "beta1": [[beta]]}, 1)
    before = np.array(m, dtype=np.int64)
    assert np.all((np.abs(after) < np.abs(before)) | (before == 0)), (before, after)
    assert np.all(np.sign(after) * np.sign(before) >= 0) and np.all(after[before == 0] == 0)


@pytest.mark.parametrize("kind", ["golden", "numpy", pytest.param("numba", marks=(
    pytest.mark.skipif(not engine_numba.AVAILABLE, reason="numba is not installed (or "
                       "FIXAR_NUMBA=0): no fused kernels")))])
def test_fused_adam_moments_decay_and_the_weight_stops(kind):
    """adam_m, adam_s and adam_w of one parameter (the engine fuses them into one numba
    pass) with g = 0 from small moments: m reaches 0 within 4 steps and the weight
    then stops moving (to nearest it would walk on forever)."""
    n = 9
    buffers = [Buffer("g", 1, n, Q824), Buffer("m", 1, n, Q824, "state"),
               Buffer("s", 1, n, Q824, "state"), Buffer("w", 1, n, Q824, "param"),
               Buffer("beta1", 1, 1, COEFF, "const"), Buffer("beta2", 1, 1, COEFF, "const"),
               Buffer("opt", 1, 2, RATE, "const")]
    region = {"rows": Range(0, 1), "cols": Range(0, n), "src_col": 0}
    code = [Vector(fn=fn("adam_m"), dst=1, a=0, c=4, **region),
            Vector(fn=fn("adam_s"), dst=2, a=0, c=5, **region),
            Vector(fn=fn("adam_w"), dst=3, a=1, b=2, c=6, **region)]
    if kind == "numba":
        kinds = [type(i).__name__ for _, _, i in
                 EngineMachine(kernels="numba")._plan(Program(
                     "adam", tuple(buffers), (), (*code, Halt()), 1,
                     FixedFormat(32, 16))).steps]
        assert "Fused" in kinds, kinds
    program = Program("adam", tuple(buffers), (), (*code, Halt()), 1, FixedFormat(32, 16))
    machine = _machine(kind)
    machine.allocate(program.buffers)
    opt = [[int(RATE.quantize(1e-3)), int(RATE.quantize(1e-8))]]
    for name, value in {"m": SMALL, "s": np.zeros((1, n)), "g": np.zeros((1, n)),
                        "w": np.zeros((1, n)), "beta1": [[BETA1]], "beta2": [[BETA2]],
                        "opt": opt}.items():
        machine.write(name, np.asarray(value, dtype=np.int64))
    weights = []
    for _ in range(8):
        machine.run(program, {})
        weights.append(np.asarray(machine.read("w"), dtype=np.int64).copy())
    np.testing.assert_array_equal(machine.read("m"), np.zeros((1, n)))
    np.testing.assert_array_equal(weights[-1], weights[4])
