"""The fused Adam pass in float64 (:mod:`fixar_gen.engine_float`,
:mod:`fixar_gen.engine_numba_float`) against the interpreter: adam_m, adam_s, adam_w and
the soft update of one parameter at the widest operands the float64 pass accepts (25-bit
gradients and s, m, w and the target over their whole 32-bit formats), every rounding
mode, saturating and wrapping formats, betas and tau from 0 to 1, and operands on the
very points where adam_s's nearest root changes (where the float64 estimate cannot
decide, and the pass must hand over to the int64 one)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, note, settings
from hypothesis import strategies as st

from fixar_gen import engine_float as EF
from fixar_gen import engine_numba
from fixar_gen.engine import EngineMachine
from fixar_gen.isa import VECTOR_FUNCTIONS, Range, Vector
from fixar_gen.numerics import OVERFLOW_MODES, ROUNDING_MODES, FixedFormat

from .conftest import examples
from .test_engine import adam_code, run_both
from .test_golden_reference import Builder

pytestmark = pytest.mark.skipif(
    not engine_numba.AVAILABLE, reason="numba is not installed (or FIXAR_NUMBA=0): no "
    "fused kernels (the numpy kernels are tested in tests/test_engine.py)")

WIDE = 2**EF.ROOT_BITS              # |g| and s below this: the float64 pass's bound


def word(draw, frac: int, overflow=None, roundings=ROUNDING_MODES) -> FixedFormat:
    return FixedFormat(32, frac, rounding=draw(st.sampled_from(roundings)),
                       overflow=overflow or draw(st.sampled_from(OVERFLOW_MODES)))


@st.composite
def float_adam_cases(draw, tie: bool = False):
    """One parameter's adam_m, adam_s, adam_w (and sometimes its target's soft update)
    within the float64 pass's bounds.  With ``tie``, beta2 is 1/2 in one fraction bit
    and the first element has s = k, g = k + 1: adam_s's v is then exactly
    k*k + k + 1/2 before rounding, where s's round-half-even and round-half-up give
    roots k and k + 1."""
    B = Builder(draw)
    rows, cols = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    frac = draw(st.integers(8, 28))
    g = B.add("g", rows, cols, word(draw, frac), lo=-(WIDE - 1), hi=WIDE - 1)
    m = B.add("m", rows, cols, word(draw, frac), "state")
    s_fmt = word(draw, frac, "saturate",
                 ["nearest_even", "nearest_up"] if tie else ROUNDING_MODES)
    s = B.add("s", rows, cols, s_fmt, "state", lo=0, hi=WIDE - 1)
    w = B.add("w", rows, cols, word(draw, draw(st.integers(8, 28))), "param")
    c32 = FixedFormat(34, 32, signed=False)
    beta1 = B.add("beta1", 1, 1, c32, "const", lo=0, hi=1 << 32)
    if tie:
        k = draw(st.integers(0, WIDE // 2 - 2))
        B.values["s"][0, 0], B.values["g"][0, 0] = k, k + 1
        beta2 = B.add("beta2", 1, 1, FixedFormat(4, 1, signed=False), "const", lo=1, hi=1)
    else:
        beta2 = B.add("beta2", 1, 1, c32, "const", lo=0, hi=1 << 32)
    return B.case(adam_code(draw, B, rows, cols, m, s, w, g, beta1, beta2,
                            word(draw, B.buffers[w].fmt.frac)))


def float_run(case):
    """The case on the engine (float64 pass allowed) and the interpreter, compared;
    the engine's machine."""
    steps = EngineMachine(case.acc_overflow, "numba")._plan(case.program).steps
    assert [type(ins).__name__ for _, _, ins in steps[:-1]] == ["Fused"]
    engine, _ = run_both(case, "numba")
    return engine


@pytest.mark.filterwarnings("ignore:divide by zero encountered:RuntimeWarning")
@settings(max_examples=examples(300), deadline=None)
@given(case=float_adam_cases())
def test_float_adam_equals_the_interpreter(case):
    """Within its bounds the engine runs the float64 pass (whatever its check then
    says), and every buffer and saturation count equals the interpreter's.  Mutations
    tried, each caught: the blend's carry dropped, the toward-zero rounding's
    correction dropped, the ratio's remainder formed without the fma."""
    engine = float_run(case)
    note(f"float64 pass failed its check: {engine.float_failures}")
    assert engine.float_passes == 1


@pytest.mark.filterwarnings("ignore:divide by zero encountered:RuntimeWarning")
@settings(max_examples=examples(100), deadline=None)
@given(case=float_adam_cases(tie=True))
def test_float_adam_hands_a_tied_root_to_int64(case):
    """adam_s's v exactly halfway between two integers where the nearest root changes
    (k*k + k + 1/2): the float64 estimate's check fails and the int64 pass decides.
    Without the check (a mutation tried) the nearest-even cases come out one too
    high."""
    engine = float_run(case)
    assert engine.float_passes == 1 and engine.float_failures == 1


def test_float_adam_is_chosen_for_the_examples_and_agrees():
    """HalfCheetah's usual updates run every fused Adam pass in float64 without a
    failed check, and the parameters equal those of the int64 passes."""
    from fixar_gen.backends import open_core, random_params, uniform_batch
    from fixar_gen.dsl import load_spec

    spec = load_spec("examples/halfcheetah.yaml")
    cores = []
    for allowed in (True, False):
        core = open_core(spec, "golden")
        core.load_params(random_params(spec, 0))
        core.machine.float_adam = allowed
        cores.append(core)
    rng = np.random.default_rng(0)
    for _ in range(3):
        batch = uniform_batch(spec, cores[0].formats, rng)
        for core in cores:
            core.train_step(batch)
    assert cores[0].machine.float_passes > 0 and cores[0].machine.float_failures == 0
    assert cores[1].machine.float_passes == 0
    first, second = cores[0].read_params(), cores[1].read_params()
    assert first.keys() == second.keys()
    for name in first:
        np.testing.assert_array_equal(np.asarray(first[name]), np.asarray(second[name]),
                                      err_msg=name)


def test_float_adam_ratio_remainder_is_exact():
    """adam_w's ratio where the float64 quotient rounds up to the next integer and the
    product q * den is not a float64 (num = |m| * 2**24 = K * den - 1 above 2**53, den
    odd): only the fma's remainder (-1) corrects the quotient to K - 1.  With m and s
    unchanged by their steps (beta1 = beta2 = 1, g = 0) and a step size that makes
    one unit of the ratio one LSB of w.  A plain remainder (a mutation tried) gives
    K and fails."""
    from fixar_gen.isa import Buffer, Halt, Program
    from .test_golden_reference import Case

    den = 2**20 + 1                        # s + eps, eps one LSB
    m = (-pow(2**24, -1, den)) % den
    m += (2**30 - m) // den * den          # the same residue near 2**30
    assert (m * 2**24 + 1) % den == 0 and m * 2**24 > 2**53
    q8 = FixedFormat(32, 8)
    c32 = FixedFormat(34, 32, signed=False)
    buffers = (Buffer("g", 1, 1, q8, "data"), Buffer("m", 1, 1, q8, "state"),
               Buffer("s", 1, 1, q8, "state"),
               Buffer("w", 1, 1, FixedFormat(48, 40), "param"),
               Buffer("beta", 1, 1, c32, "const"),
               Buffer("opt", 1, 2, FixedFormat(40, 32), "const"))
    fn = VECTOR_FUNCTIONS.index
    region = {"rows": Range(0, 1), "cols": Range(0, 1)}
    code = (Vector(fn=fn("adam_m"), dst=1, a=0, c=4, **region),
            Vector(fn=fn("adam_s"), dst=2, a=0, c=4, **region),
            Vector(fn=fn("adam_w"), dst=3, a=1, b=2, c=5, **region), Halt())
    values = {"g": [[0]], "m": [[m]], "s": [[den - 1]], "w": [[0]], "beta": [[1 << 32]],
              "opt": [[1 << 16, 1]]}
    case = Case(Program("case", buffers, (), code, 1, FixedFormat(32, 16)),
                {k: np.array(v, dtype=np.int64) for k, v in values.items()}, {}, "saturate")
    engine = float_run(case)
    assert engine.float_passes == 1 and engine.float_failures == 0
