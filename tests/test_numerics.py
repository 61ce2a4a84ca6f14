"""Tests of fixar_gen.numerics against an independent exact reference.

The reference works on Python ints and fractions.Fraction only: rounding by
math.floor / round(Fraction) (half-even), range handling by min/max and %.
The plain tests at the end are the worked examples of docs/numerics.md.
"""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fixar_gen.numerics import (
    MATMUL_MAX_K,
    OVERFLOW_MODES,
    ROUNDING_MODES,
    FixedFormat,
    WideInt,
    exact_matmul,
    multiply,
    multiply_counted,
)
from tests.conftest import examples

INT64_MIN, INT64_MAX = -(2 ** 63), 2 ** 63 - 1


# --------------------------------------------------------------------------- reference

def ref_range(fmt: FixedFormat) -> tuple[int, int]:
    if fmt.signed:
        return -(2 ** (fmt.width - 1)), 2 ** (fmt.width - 1) - 1
    return 0, 2 ** fmt.width - 1


def ref_round(v: Fraction, mode: str) -> int:
    if mode == "truncate":
        return math.floor(v)
    if mode == "nearest_up":
        return math.floor(v + Fraction(1, 2))
    if mode == "toward_zero":
        return math.trunc(v)
    return round(v)                       # Fraction rounds half to even


def ref_fit(v: int, lo: int, hi: int, overflow: str) -> tuple[int, bool]:
    if lo <= v <= hi:
        return v, False
    if overflow == "saturate":
        return min(max(v, lo), hi), True
    return lo + (v - lo) % (hi - lo + 1), True


def ref_fit_format(v: int, fmt: FixedFormat) -> tuple[int, bool]:
    lo, hi = ref_range(fmt)
    return ref_fit(v, lo, hi, fmt.overflow)


def ref_requantize(v: int, frac: int, to: FixedFormat) -> tuple[int, bool]:
    """Integer v with `frac` fraction bits, in format `to`."""
    scaled = Fraction(v) * Fraction(2) ** (to.frac - frac)
    return ref_fit_format(ref_round(scaled, to.rounding), to)


def ref_quantize(x: float, fmt: FixedFormat) -> tuple[int, bool]:
    if math.isinf(x):
        lo, hi = ref_range(fmt)
        return (hi if x > 0 else lo), True
    return ref_fit_format(ref_round(Fraction(x) * Fraction(2) ** fmt.frac, fmt.rounding), fmt)


def check_list(actual, count, expected_pairs):
    expected = [v for v, _ in expected_pairs]
    np.testing.assert_array_equal(np.asarray(actual, dtype=object), np.array(expected, dtype=object))
    assert count == sum(o for _, o in expected_pairs)


# --------------------------------------------------------------------------- strategies

@st.composite
def formats(draw, fracs=st.integers(-8, 70), signed=None):
    signed = draw(st.booleans()) if signed is None else signed
    top = 64 if signed else 63
    low = 2 if signed else 1
    width = draw(st.one_of(st.sampled_from([low, 16, 32, top - 1, top]), st.integers(low, top)))
    return FixedFormat(width, draw(fracs), signed,
                       draw(st.sampled_from(ROUNDING_MODES)), draw(st.sampled_from(OVERFLOW_MODES)))


def raw_values(fmt: FixedFormat):
    """Raw integers of fmt, biased to the extremes."""
    lo, hi = ref_range(fmt)
    edges = sorted({v for v in (lo, lo + 1, hi, hi - 1, 0, 1, -1) if lo <= v <= hi})
    return st.one_of(st.sampled_from(edges), st.integers(lo, hi))


def int64_values(fmt: FixedFormat | None = None):
    """Any int64, including just beyond fmt's range."""
    edges = {INT64_MIN, INT64_MIN + 1, INT64_MAX, INT64_MAX - 1, 0, 1, -1}
    if fmt is not None:
        lo, hi = ref_range(fmt)
        edges |= {lo - 1, lo, hi, hi + 1, lo - 2, hi + 2}
    edges = sorted(v for v in edges if INT64_MIN <= v <= INT64_MAX)
    return st.one_of(st.sampled_from(edges), st.integers(INT64_MIN, INT64_MAX))


def scaled(x: float, exp: int) -> float:
    """x * 2**exp, inf when it overflows (math.ldexp raises instead)."""
    try:
        return math.ldexp(x, exp)
    except OverflowError:
        return math.copysign(math.inf, x)


def floats_for(fmt: FixedFormat):
    """Any float (inf, subnormal, huge) plus values near fmt's range and exact ties."""
    lo, hi = ref_range(fmt)
    near_edges = st.builds(lambda k, d: float(Fraction(k) + d) * 2.0 ** -fmt.frac,
                           st.sampled_from([lo - 1, lo, hi, hi + 1, 0, -1]),
                           st.sampled_from([Fraction(0), Fraction(1, 2), Fraction(-1, 2),
                                            Fraction(1, 4), Fraction(-3, 4)]))
    ties = st.builds(lambda k: scaled(k + 0.5, -fmt.frac), st.integers(-(2 ** 52), 2 ** 52 - 1))
    # one ulp either side of a tie, and large integers (y + 0.5 would round there)
    beside_ties = st.builds(lambda k, toward: scaled(math.nextafter(k + 0.5, toward), -fmt.frac),
                            st.integers(-(2 ** 52), 2 ** 52 - 1), st.sampled_from([-math.inf, math.inf]))
    integral = st.builds(lambda k: scaled(float(k), -fmt.frac),
                         st.one_of(st.integers(2 ** 52, 2 ** 64), st.integers(-(2 ** 64), -(2 ** 52))))
    in_range = st.builds(lambda k, f: scaled(k, -fmt.frac) * f,
                         st.integers(lo, hi), st.floats(0.5, 1.5))
    special = st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308,
                               0.49999999999999994, -0.49999999999999994, 0.5, -0.5,
                               1.7976931348623157e308, -1.7976931348623157e308,
                               math.inf, -math.inf, 2.0 ** 52 + 1, -(2.0 ** 53), 2.0 ** 63])
    scaled_special = special.map(lambda x: scaled(x, -fmt.frac))
    return st.one_of(st.floats(allow_nan=False), near_edges, ties, beside_ties, integral, in_range,
                     special, scaled_special)


big_ints = st.one_of(
    st.integers(-(2 ** 200), 2 ** 200),
    st.integers(-3, 3),
    st.builds(lambda k, d, s: s * (2 ** k) + d, st.integers(0, 200), st.sampled_from([-1, 0, 1]),
              st.sampled_from([-1, 1])),
    st.integers(INT64_MIN, INT64_MAX),
)


# --------------------------------------------------------------------------- FixedFormat

@pytest.mark.parametrize("kwargs, message", [
    (dict(width=0, frac=0), "FixedFormat.width: 0 is not in 1..64"),
    (dict(width=65, frac=0), "FixedFormat.width: 65 is not in 1..64"),
    (dict(width=1, frac=0), "FixedFormat.width: 1 is too narrow for a signed format"),
    (dict(width=64, frac=0, signed=False), "FixedFormat.width: 64 is too wide for an unsigned"),
    (dict(width=8.0, frac=0), "FixedFormat.width: 8.0 is not an integer"),
    (dict(width=True, frac=0), "FixedFormat.width: True is not an integer"),
    (dict(width=8, frac=257), "FixedFormat.frac: 257 is not in -256..256"),
    (dict(width=8, frac=-257), "FixedFormat.frac: -257 is not in -256..256"),
    (dict(width=8, frac="4"), "FixedFormat.frac: '4' is not an integer"),
    (dict(width=8, frac=0, signed=1), "FixedFormat.signed: 1 is not a bool"),
    (dict(width=8, frac=0, rounding="nearest"),
     "FixedFormat.rounding: 'nearest' is not one of nearest_even, nearest_up, truncate, "
     "toward_zero"),
    (dict(width=8, frac=0, overflow="clip"),
     "FixedFormat.overflow: 'clip' is not one of saturate, wrap"),
])
def test_format_validation_names_field_value_and_allowed(kwargs, message):
    with pytest.raises(ValueError) as err:
        FixedFormat(**kwargs)
    assert message in str(err.value)


def test_format_value_type():
    q824 = FixedFormat(32, 24)
    assert str(q824) == "Q8.24"
    assert str(FixedFormat(16, 16, signed=False)) == "UQ0.16"
    assert str(FixedFormat(8, -4)) == "Q12.-4"
    assert repr(q824).startswith("FixedFormat(width=32, frac=24, signed=True")
    assert FixedFormat(np.int64(32), np.int32(24)) == q824
    assert hash(FixedFormat(32, 24)) == hash(q824)
    assert type(FixedFormat(np.int64(32), 24).width) is int
    assert (q824.min_int, q824.max_int) == (-(2 ** 31), 2 ** 31 - 1)
    assert q824.step == 2.0 ** -24
    assert q824.min_value == -128.0 and q824.max_value == 128.0 - 2.0 ** -24
    u = FixedFormat(63, 0, signed=False)
    assert (u.min_int, u.max_int) == (0, 2 ** 63 - 1)
    assert q824.with_(width=16, frac=12) == FixedFormat(16, 12)
    with pytest.raises(ValueError, match="FixedFormat.rounding"):
        q824.with_(rounding="up")
    with pytest.raises(TypeError, match="unknown field"):
        q824.with_(bits=3)
    with pytest.raises(Exception):
        q824.width = 8                                       # frozen


# --------------------------------------------------------------------------- quantize / to_float

@given(st.data())
@settings(max_examples=examples(300))
def test_quantize_matches_fraction_reference(data):
    fmt = data.draw(formats())
    xs = data.draw(st.lists(floats_for(fmt), min_size=1, max_size=8))
    if fmt.overflow == "wrap":
        xs = [x for x in xs if not math.isinf(x)] or [0.0]
    q, count = fmt.quantize_counted(np.array(xs))
    assert q.dtype == np.int64 and q.shape == (len(xs),)
    check_list(q, count, [ref_quantize(x, fmt) for x in xs])
    np.testing.assert_array_equal(fmt.quantize(xs), q)


@given(st.data())
def test_quantize_scaled_formats_extreme_frac(data):
    fmt = data.draw(formats(fracs=st.sampled_from([-256, -200, -60, 100, 200, 256])))
    xs = data.draw(st.lists(floats_for(fmt), min_size=1, max_size=8))
    if fmt.overflow == "wrap":
        xs = [x for x in xs if not math.isinf(x)] or [1.0]
    q, count = fmt.quantize_counted(xs)
    check_list(q, count, [ref_quantize(x, fmt) for x in xs])


def test_quantize_special_inputs():
    fmt = FixedFormat(16, 8)
    with pytest.raises(ValueError, match="NaN"):
        fmt.quantize([1.0, math.nan])
    np.testing.assert_array_equal(fmt.quantize([math.inf, -math.inf]), [32767, -32768])
    with pytest.raises(ValueError, match="infinite"):
        fmt.with_(overflow="wrap").quantize([math.inf])
    # float32 input goes through float64 exactly: 0.1f is 13421773 * 2**-27
    assert fmt.with_(width=32, frac=27).quantize(np.float32(0.1)) == 13421773
    # scalar in, 0-d int64 array out
    q = fmt.quantize(1.5)
    assert isinstance(q, np.ndarray) and q.shape == () and q.dtype == np.int64 and q == 384
    # the tiniest negative value truncates to -1 even when x * 2**frac underflows to -0.0
    assert FixedFormat(8, -8, rounding="truncate").quantize(-5e-324) == -1
    # finite x whose scaled value overflows float64 wraps to 0 and saturates by sign
    assert FixedFormat(8, 256, overflow="wrap").quantize(1e300) == 0
    assert FixedFormat(8, 256).quantize(-1e300) == -128


@given(st.data())
def test_to_float_exact(data):
    fmt = data.draw(formats())
    qs = data.draw(st.lists(raw_values(fmt), min_size=1, max_size=8))
    x = fmt.to_float(qs)
    assert x.dtype == np.float64
    for xi, qi in zip(x, qs):
        expected = Fraction(qi) * Fraction(2) ** -fmt.frac
        if abs(qi) < 2 ** 53:
            assert Fraction(float(xi)) == expected
        else:
            assert float(xi) == float(expected)              # correctly rounded
    # quantize(to_float(q)) is the identity whenever to_float is exact
    exact = [q for q in qs if abs(q) < 2 ** 53]
    if exact:
        np.testing.assert_array_equal(fmt.quantize(fmt.to_float(exact)), exact)


# --------------------------------------------------------------------------- integer ops

@given(st.data())
@settings(max_examples=examples(400))
def test_requantize_matches_reference(data):
    src = data.draw(formats())
    to = data.draw(formats())
    qs = data.draw(st.lists(raw_values(src), min_size=1, max_size=8))
    out, count = src.requantize_counted(np.array(qs, dtype=np.int64), to)
    assert out.dtype == np.int64
    check_list(out, count, [ref_requantize(q, src.frac, to) for q in qs])
    np.testing.assert_array_equal(src.requantize(qs, to), out)


@given(st.data())
@settings(max_examples=examples(300))
def test_requantize_large_shifts(data):
    """Frac differences up to 512 both ways (shifts far beyond 64 bits)."""
    fracs = st.one_of(st.integers(-256, 256), st.sampled_from([-256, 256, 0, 63, 64, 65, -64]))
    src = data.draw(formats(fracs=fracs))
    to = data.draw(formats(fracs=fracs))
    qs = data.draw(st.lists(raw_values(src), min_size=1, max_size=8))
    out, count = src.requantize_counted(qs, to)
    check_list(out, count, [ref_requantize(q, src.frac, to) for q in qs])


@pytest.mark.parametrize("rounding", ROUNDING_MODES)
@pytest.mark.parametrize("shift", [63, 64, 65, 200])
def test_requantize_shift_64_boundary(rounding, shift):
    src = FixedFormat(64, shift)
    to = FixedFormat(8, 0, rounding=rounding)
    qs = [INT64_MIN, INT64_MIN + 1, -(2 ** 62), -1, 0, 1, 2 ** 62, INT64_MAX]
    out, count = src.requantize_counted(qs, to)
    check_list(out, count, [ref_requantize(q, shift, to) for q in qs])


@given(st.data())
def test_fit_matches_reference(data):
    fmt = data.draw(formats())
    qs = data.draw(st.lists(int64_values(fmt), min_size=1, max_size=8))
    out, count = fmt.fit_counted(qs)
    check_list(out, count, [ref_fit_format(q, fmt) for q in qs])
    np.testing.assert_array_equal(fmt.fit(qs), out)


@given(st.data())
@settings(max_examples=examples(300))
def test_add_matches_reference(data):
    fmt = data.draw(formats())
    n = data.draw(st.integers(1, 8))
    in_range = data.draw(st.booleans())
    values = raw_values(fmt) if in_range else int64_values(fmt)
    a = data.draw(st.lists(values, min_size=n, max_size=n))
    b = data.draw(st.lists(values, min_size=n, max_size=n))
    out, count = fmt.add_counted(np.array(a, dtype=np.int64), np.array(b, dtype=np.int64))
    check_list(out, count, [ref_fit_format(x + y, fmt) for x, y in zip(a, b)])
    np.testing.assert_array_equal(fmt.add(a, b), out)


@pytest.mark.parametrize("overflow", OVERFLOW_MODES)
def test_add_width_64_detects_int64_overflow(overflow):
    fmt = FixedFormat(64, 0, overflow=overflow)
    a = [INT64_MAX, INT64_MIN, INT64_MAX, -1, INT64_MIN]
    b = [1, -1, INT64_MAX, 1, INT64_MIN]
    out, count = fmt.add_counted(a, b)
    check_list(out, count, [ref_fit_format(x + y, fmt) for x, y in zip(a, b)])
    assert count == 4


@st.composite
def product_formats(draw):
    """Operand formats whose exact product fits int64."""
    fa = draw(formats(fracs=st.integers(-8, 40)))
    fb = draw(formats(fracs=st.integers(-8, 40)))
    budget = 64 if (fa.signed or fb.signed) else 63
    width = min(fb.width, budget - fa.width)
    assume(width >= (2 if fb.signed else 1))
    return fa, fb.with_(width=width)


@given(st.data())
@settings(max_examples=examples(300))
def test_multiply_matches_reference(data):
    fa, fb = data.draw(product_formats())
    to = data.draw(formats())
    n = data.draw(st.integers(1, 6))
    a = data.draw(st.lists(raw_values(fa), min_size=n, max_size=n))
    b = data.draw(st.lists(raw_values(fb), min_size=n, max_size=n))
    out, count = multiply_counted(a, fa, b, fb, to)
    check_list(out, count, [ref_requantize(x * y, fa.frac + fb.frac, to) for x, y in zip(a, b)])
    np.testing.assert_array_equal(multiply(a, fa, b, fb, to), out)


def test_multiply_refuses_inexact_products():
    with pytest.raises(ValueError, match="fa.width \\+ fb.width <= 64"):
        multiply(1, FixedFormat(33, 0), 1, FixedFormat(32, 0), FixedFormat(32, 0))
    with pytest.raises(ValueError, match="63 when both are unsigned"):
        u32 = FixedFormat(32, 0, signed=False)
        multiply(1, u32, 1, u32, FixedFormat(32, 0))
    with pytest.raises(ValueError, match="outside Q8.0"):
        multiply([200], FixedFormat(8, 0), [1], FixedFormat(8, 0), FixedFormat(16, 0))
    # the widest legal products are exact
    q32 = FixedFormat(32, 0)
    out = multiply([-(2 ** 31)], q32, [-(2 ** 31)], q32, FixedFormat(64, 0))
    np.testing.assert_array_equal(out, [2 ** 62])


def test_requantize_refuses_floats():
    with pytest.raises(ValueError, match="expected integers"):
        FixedFormat(16, 8).requantize(np.array([1.5]), FixedFormat(8, 4))


# --------------------------------------------------------------------------- WideInt

def wide_lists(min_size=1, max_size=6):
    return st.lists(big_ints, min_size=min_size, max_size=max_size)


@given(wide_lists())
def test_wideint_roundtrip_and_normal_form(values):
    w = WideInt.from_python(values)
    assert w.shape == (len(values),)
    np.testing.assert_array_equal(w.to_python(), np.array(values, dtype=object))
    *lower, top = w.limbs
    for limb in lower:
        assert limb.dtype == np.int64 and limb.min() >= 0 and limb.max() < 2 ** 32
    assert top.min() >= -(2 ** 31) and top.max() < 2 ** 31
    needed = max((v if v >= 0 else ~v).bit_length() + 1 for v in values)   # two's complement
    assert len(w.limbs) == max(1, -(-needed // 32))           # no redundant limbs


@given(st.lists(int64_values(), min_size=1, max_size=8))
def test_wideint_from_int64_and_hi_lo(values):
    w = WideInt.from_int64(np.array(values, dtype=np.int64))
    np.testing.assert_array_equal(w.to_python(), np.array(values, dtype=object))
    np.testing.assert_array_equal(w.hi, [v >> 32 for v in values])
    np.testing.assert_array_equal(w.lo, [v & (2 ** 32 - 1) for v in values])


def test_wideint_hi_limits():
    w = WideInt.from_python([2 ** 95 - 1, -(2 ** 95)])
    np.testing.assert_array_equal(w.hi, [2 ** 63 - 1, -(2 ** 63)])
    with pytest.raises(OverflowError):
        WideInt.from_python([2 ** 95]).hi


@given(st.data())
def test_wideint_arithmetic(data):
    n = data.draw(st.integers(1, 6))
    a = data.draw(wide_lists(n, n))
    b = data.draw(wide_lists(n, n))
    wa, wb = WideInt.from_python(a), WideInt.from_python(b)
    obj = lambda xs: np.array(xs, dtype=object)
    np.testing.assert_array_equal((wa + wb).to_python(), obj([x + y for x, y in zip(a, b)]))
    np.testing.assert_array_equal((wa - wb).to_python(), obj([x - y for x, y in zip(a, b)]))
    np.testing.assert_array_equal((-wa).to_python(), obj([-x for x in a]))
    small = [x % 2 ** 63 for x in b]
    small_arr = np.array(small, dtype=np.int64)
    np.testing.assert_array_equal((wa + small_arr).to_python(), obj([x + y for x, y in zip(a, small)]))
    np.testing.assert_array_equal((small_arr + wa).to_python(), obj([y + x for x, y in zip(a, small)]))
    np.testing.assert_array_equal((small_arr - wa).to_python(), obj([y - x for x, y in zip(a, small)]))
    mask = np.array([x < y for x, y in zip(a, b)])
    np.testing.assert_array_equal(WideInt.where(mask, wa, wb).to_python(),
                                  obj([min(x, y) for x, y in zip(a, b)]))


@given(wide_lists(), st.one_of(st.integers(0, 300), st.sampled_from([0, 1, 31, 32, 33, 63, 64])),
       st.sampled_from(ROUNDING_MODES))
@settings(max_examples=examples(300))
def test_wideint_shift_round(values, shift, rounding):
    out = WideInt.from_python(values).shift_round(shift, rounding)
    expected = [ref_round(Fraction(v, 2 ** shift), rounding) for v in values]
    np.testing.assert_array_equal(out.to_python(), np.array(expected, dtype=object))


def test_wideint_shift_round_ties():
    values = [5, -5, 3, -3, 7, -7, -(2 ** 99), 2 ** 99]
    expected = {"nearest_even": [2, -2, 2, -2, 4, -4, 0, 0],
                "nearest_up": [3, -2, 2, -1, 4, -3, 0, 1],
                "truncate": [2, -3, 1, -2, 3, -4, -1, 0],
                "toward_zero": [2, -2, 1, -1, 3, -3, 0, 0]}
    for rounding, exp in expected.items():
        shift_1 = WideInt.from_python(values[:6]).shift_round(1, rounding).to_python()
        np.testing.assert_array_equal(shift_1, np.array(exp[:6], dtype=object))
        shift_100 = WideInt.from_python(values[6:]).shift_round(100, rounding).to_python()
        np.testing.assert_array_equal(shift_100, np.array(exp[6:], dtype=object))
    # shifts past every limb: floor is the sign, nearest modes give 0
    far = WideInt.from_python([-1, 1, -(2 ** 150), 2 ** 150, 0])
    for rounding, exp in [("truncate", [-1, 0, -1, 0, 0]), ("nearest_up", [0, 0, 0, 0, 0]),
                          ("nearest_even", [0, 0, 0, 0, 0]), ("toward_zero", [0, 0, 0, 0, 0])]:
        np.testing.assert_array_equal(far.shift_round(200, rounding).to_python(),
                                      np.array(exp, dtype=object))
    with pytest.raises(ValueError, match="shift"):
        WideInt.from_python([1]).shift_round(-1, "truncate")


@given(st.data())
@settings(max_examples=examples(300))
def test_wideint_to_format(data):
    values = data.draw(wide_lists())
    frac = data.draw(st.one_of(st.integers(-50, 300), st.sampled_from([0, 24, 48, 200])))
    to = data.draw(formats())
    out, count = WideInt.from_python(values).to_format(frac, to)
    assert out.dtype == np.int64
    check_list(out, count, [ref_requantize(v, frac, to) for v in values])


@pytest.mark.parametrize("overflow, expected", [("saturate", [-128, 127, 0, -128]),
                                                 ("wrap", [0, 0, 0, 0])])
def test_wideint_to_format_left_shift_past_width(overflow, expected):
    # frac 0 -> frac 10 in an 8-bit format: any nonzero value is out of range
    out, count = WideInt.from_python([-1, 1, 0, -(2 ** 70)]).to_format(0, FixedFormat(8, 10, overflow=overflow))
    np.testing.assert_array_equal(out, expected)
    assert count == 3


@given(wide_lists(), st.one_of(st.integers(2, 300), st.sampled_from([2, 32, 33, 57, 64, 94])),
       st.sampled_from(OVERFLOW_MODES))
def test_wideint_fit_width(values, width, overflow):
    out, count = WideInt.from_python(values).fit_width(width, overflow)
    lo, hi = -(2 ** (width - 1)), 2 ** (width - 1) - 1
    check_list(out.to_python(), count, [ref_fit(v, lo, hi, overflow) for v in values])


# --------------------------------------------------------------------------- exact_matmul

BITS = [8, 16, 17, 32, 48, 64]


def ref_matmul(a, b):
    return np.matmul(np.asarray(a).astype(object), np.asarray(b).astype(object))


def signed_elements(bits):
    lo, hi = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return st.one_of(st.sampled_from([lo, hi, 0, -1, 1, lo + 1]), st.integers(lo, hi))


@given(st.data())
@settings(max_examples=examples(150))
def test_exact_matmul_matches_python_ints(data):
    a_bits, b_bits = data.draw(st.sampled_from(BITS)), data.draw(st.sampled_from(BITS))
    m, k, n = (data.draw(st.integers(1, 9)) for _ in range(3))
    a = data.draw(hnp.arrays(np.int64, (m, k), elements=signed_elements(a_bits)))
    b = data.draw(hnp.arrays(np.int64, (k, n), elements=signed_elements(b_bits)))
    out = exact_matmul(a, b, a_bits, b_bits)
    assert out.shape == (m, n)
    np.testing.assert_array_equal(out.to_python(), ref_matmul(a, b))


@pytest.mark.parametrize("a_bits", BITS)
@pytest.mark.parametrize("b_bits", BITS)
def test_exact_matmul_extremes(a_bits, b_bits):
    lo_a, hi_a = -(2 ** (a_bits - 1)), 2 ** (a_bits - 1) - 1
    lo_b, hi_b = -(2 ** (b_bits - 1)), 2 ** (b_bits - 1) - 1
    for fill_a, fill_b in [(lo_a, lo_b), (hi_a, hi_b), (lo_a, hi_b), (hi_a, lo_b)]:
        a = np.full((3, 9), fill_a, dtype=np.int64)
        b = np.full((9, 2), fill_b, dtype=np.int64)
        np.testing.assert_array_equal(exact_matmul(a, b, a_bits, b_bits).to_python(),
                                      ref_matmul(a, b))


@given(st.data())
@settings(max_examples=examples(50))
def test_exact_matmul_vector_and_stacked_shapes(data):
    bits = data.draw(st.sampled_from(BITS))
    k = data.draw(st.integers(1, 9))
    v = data.draw(hnp.arrays(np.int64, (k,), elements=signed_elements(bits)))
    m = data.draw(hnp.arrays(np.int64, (2, k, 3), elements=signed_elements(bits)))
    for a, b in [(v, v), (v, m[0]), (m[0].T, v), (m.transpose(0, 2, 1), m)]:
        out = exact_matmul(a, b, bits, bits)
        expected = ref_matmul(a, b)
        assert out.shape == np.shape(expected)
        np.testing.assert_array_equal(out.to_python(), np.asarray(expected, dtype=object))


def test_exact_matmul_exact_at_the_k_bound():
    k = MATMUL_MAX_K
    assert k == 2 ** 21
    # limb sums reach 2**21 * (2**16 - 1)**2 = 2**53 - 2**38 + 2**21: still exact
    ones = np.full((1, k), 2 ** 16 - 1, dtype=np.int64)
    out = exact_matmul(ones, ones.T, 17, 17)
    np.testing.assert_array_equal(out.to_python(), np.array([[k * (2 ** 16 - 1) ** 2]], dtype=object))
    minus = np.full((1, k), -1, dtype=np.int64)               # limbs 0xFFFF and -1
    out = exact_matmul(minus, minus.T, 32, 32)
    np.testing.assert_array_equal(out.to_python(), np.array([[k]], dtype=object))


def test_exact_matmul_errors():
    big = np.broadcast_to(np.int64(0), (1, MATMUL_MAX_K + 1))
    with pytest.raises(ValueError, match=r"K = 2097153 exceeds 2\*\*21"):
        exact_matmul(big, big.T, 16, 16)
    with pytest.raises(ValueError, match="outside signed 8-bit"):
        exact_matmul(np.array([[128]]), np.array([[1]]), 8, 8)
    with pytest.raises(ValueError, match="outside signed 16-bit"):
        exact_matmul(np.array([[1]]), np.array([[-(2 ** 15) - 1]]), 8, 16)
    with pytest.raises(ValueError, match="inner dimensions"):
        exact_matmul(np.zeros((2, 3), np.int64), np.zeros((2, 3), np.int64), 8, 8)
    with pytest.raises(ValueError, match="a_bits 65"):
        exact_matmul(np.zeros((2, 2), np.int64), np.zeros((2, 2), np.int64), 65, 8)
    with pytest.raises(ValueError, match="expected integers"):
        exact_matmul(np.zeros((2, 2)), np.zeros((2, 2), np.int64), 8, 8)


def test_exact_matmul_to_format_matches_reference():
    rng = np.random.default_rng(7)
    a = rng.integers(-(2 ** 31), 2 ** 31, size=(5, 400), dtype=np.int64)     # Q8.24 weights
    b = rng.integers(-(2 ** 15), 2 ** 15, size=(400, 4), dtype=np.int64)      # Q4.12 activations
    w = exact_matmul(a, b, 32, 16)
    out_fmt = FixedFormat(32, 24)
    out, count = w.to_format(36, out_fmt)
    expected = [ref_requantize(v, 36, out_fmt) for v in ref_matmul(a, b).ravel()]
    check_list(out.ravel(), count, expected)


# --------------------------------------------------------------------------- worked examples
# Every number below also appears in docs/numerics.md.

def test_worked_examples_quantize():
    q824 = FixedFormat(32, 24)
    assert q824.quantize(0.1) == 1677722
    assert q824.with_(rounding="truncate").quantize(0.1) == 1677721
    assert q824.with_(rounding="truncate").quantize(-0.1) == -1677722
    assert q824.to_float(1677722) == 0.10000002384185791
    assert q824.max_value == 127.99999994039536 and q824.min_value == -128.0
    values = [-2.5, -1.5, -0.5, 0.5, 1.5, 2.5]
    for rounding, expected in [("nearest_even", [-2, -2, 0, 0, 2, 2]),
                               ("nearest_up", [-2, -1, 0, 1, 2, 3]),
                               ("truncate", [-3, -2, -1, 0, 1, 2]),
                               ("toward_zero", [-2, -1, 0, 0, 1, 2])]:
        np.testing.assert_array_equal(FixedFormat(8, 0, rounding=rounding).quantize(values), expected)
    q20 = FixedFormat(2, 0)
    np.testing.assert_array_equal(q20.with_(rounding="truncate").quantize(-1.5), -2)
    np.testing.assert_array_equal(q20.quantize([2.5, -7.0]), [1, -2])
    np.testing.assert_array_equal(q20.with_(overflow="wrap").quantize([2.0, 3.0, -3.0]), [-2, -1, 1])
    assert q824.quantize(200.0) == 2147483647
    wrapped = q824.with_(overflow="wrap").quantize(200.0)
    assert wrapped == -939524096 and q824.to_float(wrapped) == -56.0


def test_worked_examples_requantize_multiply_add():
    q824, q412 = FixedFormat(32, 24), FixedFormat(16, 12)
    assert q824.requantize(1677722, q412) == 410
    assert q824.requantize(1677722, q412.with_(rounding="truncate")) == 409
    assert q412.requantize(410, q824) == 1679360
    half = FixedFormat(8, 1)
    np.testing.assert_array_equal(half.requantize([5, -5, 3, -3], FixedFormat(8, 0)), [2, -2, 2, -2])
    np.testing.assert_array_equal(
        half.requantize([5, -5, 3, -3], FixedFormat(8, 0, rounding="nearest_up")), [3, -2, 2, -1])
    np.testing.assert_array_equal(
        half.requantize([5, -5, 3, -3], FixedFormat(8, 0, rounding="truncate")), [2, -3, 1, -2])
    np.testing.assert_array_equal(
        half.requantize([5, -5, 3, -3], FixedFormat(8, 0, rounding="toward_zero")), [2, -2, 1, -1])
    out, count = q824.requantize_counted(q824.quantize([100.0, -100.0, 1.0]), q412)
    np.testing.assert_array_equal(out, [32767, -32768, 4096])
    assert count == 2
    out, count = q824.requantize_counted(q824.quantize([100.0, -100.0, 1.0]),
                                         q412.with_(overflow="wrap"))
    np.testing.assert_array_equal(out, [16384, -16384, 4096])
    assert count == 2
    assert multiply(1677722, q824, 410, q412, q824) == 167936
    assert q824.add(q824.max_int, 1) == 2147483647
    assert q824.with_(overflow="wrap").add(q824.max_int, 1) == -2147483648


def test_worked_examples_exact_matmul():
    a = np.array([[2 ** 31 - 1, 1]])
    b = np.array([[2 ** 31 - 1], [1]])
    naive = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert int(naive[0, 0]) == 4611686014132420608               # float64 lost the low bits
    w = exact_matmul(a, b, 32, 32)
    assert w.to_python()[0, 0] == 4611686014132420610 == (2 ** 31 - 1) ** 2 + 1
    out, count = w.to_format(62, FixedFormat(32, 24))
    assert out[0, 0] == 16777216 and count == 0
    out, count = w.to_format(48, FixedFormat(32, 24))
    assert out[0, 0] == 2147483647 and count == 1
    m = np.full((1, 2), -(2 ** 31))
    assert exact_matmul(m, m.T, 32, 32).to_python()[0, 0] == 2 ** 63        # beyond int64
    acc, count = w.fit_width(57, "saturate")
    assert acc.to_python()[0, 0] == 2 ** 56 - 1 and count == 1
