"""Exact integer arithmetic at numpy speed: values are int64 arrays while they provably
fit, and :class:`~fixar_gen.numerics.WideInt` only when they do not.

Every function decides from the operands' actual magnitudes (not their formats) which
path is exact, so the result is the same integer either way; only the speed differs.
The golden model computes through these.
"""

from __future__ import annotations

import math

import numpy as np

from .numerics import FixedFormat, WideInt, exact_matmul

INT64_SAFE_BITS = 62          # |value| < 2**62: sums of two still fit int64
FLOAT64_EXACT_BITS = 53


def bits(x) -> int:
    """Bits of the largest magnitude in x (0 for all zeros)."""
    if isinstance(x, WideInt):
        return 32 * len(x.limbs)
    if x.size == 0:
        return 0
    hi, lo = int(x.max()), int(x.min())
    return max(hi.bit_length(), (-lo).bit_length() if lo < 0 else 0)


def narrow(x):
    """A WideInt whose values fit int64 safely, as int64; anything else unchanged."""
    if isinstance(x, WideInt):
        limbs = x.limbs
        if len(limbs) == 1:
            return limbs[0]
        if len(limbs) == 2 and np.all(np.abs(limbs[1]) < (1 << (INT64_SAFE_BITS - 32))):
            return limbs[0] + (limbs[1] << np.int64(32))
    return x


def sign(x) -> np.ndarray:
    """-1, 0 or 1 element-wise, for int64 arrays and WideInts alike."""
    x = narrow(x)
    if not isinstance(x, WideInt):
        return np.sign(x)
    neg = x.limbs[-1] < 0
    zero = np.logical_and.reduce([l == 0 for l in x.limbs])
    return np.where(neg, -1, np.where(zero, 0, 1))


def mul_wide(x, y) -> WideInt:
    """Exact x * y where either may already be a WideInt of any width (slow path)."""
    xw = x if isinstance(x, WideInt) else None
    yw = y if isinstance(y, WideInt) else None
    if xw is None and yw is None:
        return wide_mul(x, y)
    a = (xw if xw is not None else wide(np.asarray(x, np.int64))).to_python()
    b = (yw if yw is not None else wide(np.asarray(y, np.int64))).to_python()
    return WideInt.from_python(a * b)


def wide(x) -> WideInt:
    return x if isinstance(x, WideInt) else WideInt.from_int64(x)


def mul(x, y):
    """Exact element-wise x * y (broadcasting)."""
    if not isinstance(x, WideInt) and not isinstance(y, WideInt):
        x = np.asarray(x, dtype=np.int64)
        y = np.asarray(y, dtype=np.int64)
        if bits(x) + bits(y) <= INT64_SAFE_BITS:
            return x * y
        return wide_mul(x, y)
    raise TypeError("mul: operands must be int64 arrays")


def product_terms(x, c, frac: int) -> list:
    """x * c (fraction bits ``frac``) as (value, frac) terms whose values are int64:
    when the product would not fit, x is split into a high and a low part, each
    multiplied exactly.  Feed the terms to :func:`combine`, which rounds their sum once."""
    x = np.asarray(x, dtype=np.int64)
    c = np.asarray(c, dtype=np.int64)
    bx, bc = bits(x), bits(c)
    if bx + bc <= INT64_SAFE_BITS:
        return [(x * c, frac)]
    k = bx + bc - INT64_SAFE_BITS                 # low bits split off
    if k + bc > INT64_SAFE_BITS:
        return [(wide_mul(x, c), frac)]
    high, low = x >> np.int64(k), x & np.int64((1 << k) - 1)
    return [(high * c, frac - k), (low * c, frac)]


def wide_mul(x: np.ndarray, y: np.ndarray) -> WideInt:
    """Exact element-wise product of two int64 arrays (any values), as a WideInt."""
    x, y = np.broadcast_arrays(np.asarray(x, dtype=np.int64), np.asarray(y, dtype=np.int64))
    xs = [(x >> np.int64(16 * i)) & np.int64(0xFFFF) for i in range(3)] + [x >> np.int64(48)]
    ys = [(y >> np.int64(16 * i)) & np.int64(0xFFFF) for i in range(3)] + [y >> np.int64(48)]
    limbs = [np.zeros(x.shape, dtype=np.int64) for _ in range(5)]
    for i, xi in enumerate(xs):
        for j, yj in enumerate(ys):
            s = i + j                                   # weight 2**(16 s)
            p = xi * yj                                 # |p| <= 2**32
            if s % 2 == 0:
                limbs[s // 2] += p
            else:
                limbs[s // 2] += p << np.int64(16)      # |.| <= 2**48
    return WideInt(limbs)


def shift(x, s: int):
    """Exact x * 2**s for s >= 0."""
    if s == 0:
        return x
    if not isinstance(x, WideInt) and bits(x) + s <= INT64_SAFE_BITS:
        return np.asarray(x, dtype=np.int64) << np.int64(s)
    w = wide(np.asarray(x, dtype=np.int64) if not isinstance(x, WideInt) else x)
    while s > 0:
        k = min(s, 30)                                  # every limb stays below 2**62
        w = WideInt([l << np.int64(k) for l in w.limbs])
        s -= k
    return w


def add(x, y):
    if not isinstance(x, WideInt) and not isinstance(y, WideInt) and \
            max(bits(x), bits(y)) < INT64_SAFE_BITS:
        return np.asarray(x, dtype=np.int64) + np.asarray(y, dtype=np.int64)
    return narrow(wide(x) + wide(y))


def sub(x, y):
    return add(x, -y)


def align(pairs):
    """[(value, frac), ...] -> ([values at the largest frac], that frac), exactly."""
    frac = max(f for _, f in pairs)
    return [shift(v, frac - f) for v, f in pairs], frac


def where(mask, x, y):
    if not isinstance(x, WideInt) and not isinstance(y, WideInt):
        return np.where(mask, x, y)
    x, y = wide(x), wide(y)
    return narrow(WideInt.where(mask, x, y))


def to_format(x, frac: int, to: FixedFormat) -> tuple[np.ndarray, int]:
    """x read with ``frac`` fraction bits, requantized to ``to``: (raw, overflow count)."""
    if isinstance(x, WideInt):
        x = narrow(x)
    if isinstance(x, WideInt):
        return x.to_format(frac, to)
    return _raw64(frac).requantize_counted(np.asarray(x, dtype=np.int64), to)


def fit_width(x, width: int, overflow: str):
    """Saturate or wrap to a signed ``width``-bit accumulator: (value, overflow count)."""
    if not isinstance(x, WideInt) and bits(x) < width:
        return x, 0
    out, n = wide(x).fit_width(width, overflow)
    return narrow(out), n


def region(x, index):
    if isinstance(x, WideInt):
        return narrow(WideInt([l[index] for l in x.limbs]))
    return x[index]


def assign(x, index, value):
    """x with x[index] = value (a new object when representations differ)."""
    if not isinstance(x, WideInt) and not isinstance(value, WideInt):
        x[index] = value
        return x
    xw, vw = wide(x), wide(value)
    n = max(len(xw.limbs), len(vw.limbs))
    limbs = [l.copy() for l in _pad(xw, n)]
    for l, v in zip(limbs, _pad(vw, n)):
        l[index] = v
    return narrow(WideInt(limbs))


def _pad(w: WideInt, n: int) -> list[np.ndarray]:
    limbs = list(w.limbs)
    if n > len(limbs):
        sign = limbs[-1] >> np.int64(63)
        limbs[-1] = limbs[-1] & np.int64(0xFFFFFFFF)
        limbs += [sign & np.int64(0xFFFFFFFF)] * (n - len(limbs) - 1) + [sign]
    return limbs


def matmul(a: np.ndarray, b: np.ndarray, a_bits: int, b_bits: int):
    """Exact a @ b.  With the operands' actual magnitudes, one float64 BLAS call is exact
    when bits(a) + bits(b) + ceil(log2 K) <= 53; otherwise the wider operand is split
    into as few limbs as keep every call exact; beyond two limbs, 16-bit limbs on both
    sides (:func:`fixar_gen.numerics.exact_matmul`)."""
    k = a.shape[-1]
    if a.size == 0 or b.size == 0 or k == 0:
        return np.zeros((a.shape[0], b.shape[-1]), dtype=np.int64)
    ba, bb = max(bits(a), 1), max(bits(b), 1)
    kb = max(math.ceil(math.log2(k)), 0) if k > 1 else 0
    total = ba + bb + kb
    if total <= FLOAT64_EXACT_BITS:
        return np.matmul(a.astype(np.float64), b.astype(np.float64)).astype(np.int64)
    # split the wider operand into a low limb of `low` bits and the rest
    swap = bb > ba
    big, small, big_bits, small_bits = (b, a, bb, ba) if swap else (a, b, ba, bb)
    low = FLOAT64_EXACT_BITS - small_bits - kb
    if low >= 8 and big_bits - low + small_bits + kb <= FLOAT64_EXACT_BITS \
            and total <= INT64_SAFE_BITS:
        hi_part = big >> np.int64(low)
        lo_part = big & np.int64((1 << low) - 1)
        f_small = small.astype(np.float64)
        if swap:
            hi = np.matmul(f_small, hi_part.astype(np.float64)).astype(np.int64)
            lo = np.matmul(f_small, lo_part.astype(np.float64)).astype(np.int64)
        else:
            hi = np.matmul(hi_part.astype(np.float64), f_small).astype(np.int64)
            lo = np.matmul(lo_part.astype(np.float64), f_small).astype(np.int64)
        return (hi << np.int64(low)) + lo
    return narrow(exact_matmul(a, b, a_bits, b_bits))


_RAW64 = {}


def _raw64(frac: int) -> FixedFormat:
    if frac not in _RAW64:
        _RAW64[frac] = FixedFormat(64, frac)
    return _RAW64[frac]


def combine(terms, to: FixedFormat) -> tuple[np.ndarray, int]:
    """R(sum of value_i / 2**frac_i) in ``to``: the exact sum of terms with different
    fraction bits, rounded once by ``to.rounding`` and fitted by ``to.overflow``.

    Terms finer than ``to`` are split into their integer part at ``to``'s resolution
    and a remainder; the remainders are summed at the finest resolution and carried, so
    no term is ever shifted to the finest resolution as a whole (which would need wide
    integers when a coarse term is large)."""
    ft = to.frac
    coarse = []
    fine = []
    for value, frac in terms:
        value = narrow(value)
        if isinstance(value, WideInt):
            return _combine_wide(terms, to)
        if frac <= ft:
            coarse.append(shift(value, ft - frac))
        else:
            fine.append((value, frac))
    if any(isinstance(c, WideInt) for c in coarse):
        return _combine_wide(terms, to)
    total = None
    for c in coarse:
        total = c if total is None else add(total, c)
    if fine:
        top = max(f for _, f in fine)
        span = top - ft
        if span + max(len(fine) - 1, 0).bit_length() > INT64_SAFE_BITS:
            return _combine_wide(terms, to)
        rem_sum = 0
        for value, frac in fine:
            s = frac - ft
            whole = value >> np.int64(s)                      # floor at to's resolution
            rem = value & np.int64((1 << s) - 1)
            total = whole if total is None else add(total, whole)
            rem_sum = rem_sum + (rem << np.int64(top - frac))
        carry = rem_sum >> np.int64(span)
        rem = rem_sum & np.int64((1 << span) - 1)
        total = add(total, carry)
        if isinstance(total, WideInt):
            return _combine_wide(terms, to)
        half = np.int64(1 << (span - 1))
        if to.rounding == "nearest_up":
            total = total + (rem >= half)
        elif to.rounding == "nearest_even":
            total = total + ((rem > half) | ((rem == half) & ((total & 1) == 1)))
        elif to.rounding == "toward_zero":         # the sum is negative iff its floor is
            total = total + ((total < 0) & (rem != 0))
    if isinstance(total, WideInt):
        return total.to_format(ft, to)
    return _raw64(ft).requantize_counted(np.asarray(total, dtype=np.int64), to)


def _combine_wide(terms, to: FixedFormat) -> tuple[np.ndarray, int]:
    values, frac = align([(v, f) for v, f in terms])
    total = values[0]
    for v in values[1:]:
        total = add(total, v)
    return to_format(total, frac, to)
