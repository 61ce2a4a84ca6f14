"""Exact int64 kernels of the golden model's execution engine (:mod:`fixar_gen.engine`).

Each kernel computes what :mod:`fixar_gen.golden` defines, on int64 arrays whose
magnitudes the caller bounds in advance (``|x| < 2**bits``), with a few whole-array
passes instead of the interpreter's general multi-precision path.  A kernel returns
``None`` when the bounds do not prove its int64 arithmetic exact; the engine then runs
the interpreter's code for that instruction, so a ``None`` costs speed, never bits.

Why each is exact (docs/numerics.md, "The execution engine"):
- :func:`round_shift` rounds v / 2**s with one add and one arithmetic shift:
  floor((v + 2**(s-1) - 1 + lsb) / 2**s) is round-half-to-even when lsb is the parity of
  floor(v / 2**s), and floor((v + 2**(s-1)) / 2**s) is round-half-up; |v| < 2**62 keeps
  the add inside int64; floor((v + (2**s - 1 if v < 0 else 0)) / 2**s) rounds toward
  zero.
- :func:`blend` forms x * c1 + y * c2 exactly: when a product could reach 2**60 the
  constants are split at bit s (c = ch * 2**s + cl, 0 <= cl < 2**s), giving
  V = H * 2**s + L with |H|, |L| < 2**61; V / 2**shift is then floored from
  top = H + (L >> s) and its remainder rebuilt below 2**shift <= 2**62.  Where two
  limbs do not keep the products below 2**60 (adam_s's squares against a 32-bit
  beta2), :func:`split3` gives three, and the low and middle sums are carried up
  the same way.  Beyond three (adam_s's squares of 25 to 32 bits, gradients and roots
  of 1.0 and more in Q8.24), :func:`square_blend` splits the squares instead.
- :func:`isqrt_nearest` takes the float64 root (off by at most one for v < 2**62) and
  checks every element with integer arithmetic (s*s - s < v <= s*s + s picks the
  nearest root, there are no ties); any element still off is recomputed exactly.
- :func:`floor_divide` divides in float64 and checks 0 <= num - q * den < den in int64;
  the elements that fail are recomputed with integer division.
"""

from __future__ import annotations

import numpy as np

from . import golden
from .numerics import FixedFormat

SAFE = 61             # |value| < 2**61: a sum of two stays below 2**62
_I64 = np.int64


def bits_of(hi: int, lo: int) -> int:
    """Bits of the largest magnitude among values in [lo, hi]."""
    return max(int(hi).bit_length(), (-int(lo)).bit_length() if lo < 0 else 0)


def array_bits(x: np.ndarray) -> int:
    if x.size == 0:
        return 0
    return bits_of(x.max(), x.min())


def fit(q: np.ndarray, fmt: FixedFormat) -> tuple[np.ndarray, int, int]:
    """q fitted to ``fmt`` in place: (q, overflow count, bits of the result)."""
    hi, lo = int(q.max()), int(q.min())
    if lo >= fmt.min_int and hi <= fmt.max_int:
        return q, 0, bits_of(hi, lo)
    count = int(np.count_nonzero(q > fmt.max_int)) + int(np.count_nonzero(q < fmt.min_int))
    if fmt.overflow == "saturate":
        np.clip(q, fmt.min_int, fmt.max_int, out=q)
    else:
        width = fmt.width
        if not (fmt.signed and width == 64):
            np.bitwise_and(q, _I64((1 << width) - 1), out=q)
            if fmt.signed:
                sign = _I64(1 << (width - 1))
                np.bitwise_xor(q, sign, out=q)
                np.subtract(q, sign, out=q)
    return q, count, array_bits(q)


def round_shift(v: np.ndarray, s: int, rounding: str) -> np.ndarray:
    """v / 2**s rounded by ``rounding`` (a new array); needs |v| < 2**62, 0 <= s <= 62."""
    if s == 0:
        return v.copy()
    if rounding == "truncate":
        return np.right_shift(v, s)
    if rounding == "toward_zero":        # a negative v is raised by 2**s - 1 first
        out = np.right_shift(v, 63)
        np.bitwise_and(out, _I64((1 << s) - 1), out=out)
        out += v
        np.right_shift(out, s, out=out)
        return out
    half = 1 << (s - 1)
    if rounding == "nearest_up":
        out = np.add(v, _I64(half))
    else:
        out = np.right_shift(v, s)
        np.bitwise_and(out, _I64(1), out=out)
        out += _I64(half - 1)
        out += v
    np.right_shift(out, s, out=out)
    return out


def requantize(v: np.ndarray, bits: int, shift: int, fmt: FixedFormat, tight: bool = True):
    """R(v / 2**shift) in ``fmt`` for int64 v with |v| < 2**bits: (raw, overflow count,
    bits of raw), or None when the bounds do not allow the fast path.  ``tight=False``
    skips the scan for overflow when the bound proves there is none (a signed ``fmt``
    wider than the rounded bound) and returns that bound instead of the raw's bits."""
    if bits > 62 or shift < 0 or shift > 62:
        return None
    q = round_shift(np.asarray(v, dtype=np.int64), shift, fmt.rounding)
    bound = bits - shift + 1 if shift else bits      # |round(v / 2**shift)| <= 2**(bits-shift)
    if not tight and fmt.signed and bound <= fmt.width - 1:
        return q, 0, bound
    return fit(q, fmt)


def split(bx: int, c1: int, by: int, c2: int, shift: int, limit: int = 60):
    """How :func:`blend` splits its constants: (c1h, c1l, c2h, c2l, s) with
    c = ch * 2**s + cl, every product below 2**limit and s <= shift; s = 0 when no
    split is needed; None when no s works.  (The float64 Adam pass asks for products
    below 2**51: :mod:`fixar_gen.engine_float`.)"""
    bc1, bc2 = abs(c1).bit_length(), abs(c2).bit_length()
    if bx + bc1 <= limit and by + bc2 <= limit:
        return c1, 0, c2, 0, 0
    s = max(bx + bc1, by + bc2) - limit
    if s > min(limit - bx, limit - by) or s > shift:
        return None
    mask = (1 << s) - 1
    return c1 >> s, c1 & mask, c2 >> s, c2 & mask, s


def split3(bx: int, c1: int, by: int, c2: int, shift: int):
    """The constants of x * c1 + y * c2 in three limbs where :func:`split`'s two do not
    keep every product below 2**60 (the numba kernels' adam_s: a 21-bit s and a 24-bit
    gradient squared, against beta2 in 32 fraction bits): (c1h, c1m, c1l, c2h, c2m,
    c2l, s1, s2) with c = ch * 2**(s1 + s2) + cm * 2**s1 + cl, 0 <= cm < 2**s2,
    0 <= cl < 2**s1, every product of a limb below 2**60 and s1 + s2 <= shift.
    :func:`split`'s answer when it has one (s2 = 0, cm = 0); None when no limbs work."""
    two = split(bx, c1, by, c2, shift)
    if two is not None:
        c1h, c1l, c2h, c2l, s = two
        return c1h, 0, c1l, c2h, 0, c2l, s, 0
    bc1, bc2 = abs(c1).bit_length(), abs(c2).bit_length()
    s = -(-(max(bx + bc1, by + bc2) - 60) // 2)      # the top limbs' products < 2**60
    if s > min(60 - bx, 60 - by) or 2 * s > shift:
        return None
    mask = (1 << s) - 1
    return (c1 >> 2 * s, (c1 >> s) & mask, c1 & mask,
            c2 >> 2 * s, (c2 >> s) & mask, c2 & mask, s, s)


#: s1 of adam_s's limbs (:func:`v_limbs`) when the squares, not the constants, are split
SQUARES = -1


def square_operand(bits: int, fmt: FixedFormat) -> bool:
    """Whether |x| <= 2**31 for a buffer in ``fmt`` with |x| < 2**bits, so that x*x <=
    2**62 (a 32-bit signed format's -2**31 included)."""
    return bits <= 31 or (bits <= 32 and fmt.signed and fmt.width <= 32)


def v_limbs(bx: int, fx: FixedFormat, by: int, fy: FixedFormat, beta: int, fc: int):
    """How the kernels form adam_s's v = R((x*x * beta + y*y * (2**fc - beta)) / 2**fc)
    for x the root s (|x| < 2**bx, in ``fx``) and y the gradient (``by``, ``fy``):
    :func:`split3`'s limbs of the constants where they keep the squares' products below
    2**60 (squares of about 24 bits at most against a 32-bit beta2); else, where
    |x|, |y| <= 2**31 and fc <= 32, the squares split (:func:`square_blend`):
    (beta, 0, 0, 2**fc - beta, 0, 0, SQUARES, 0); else None.  Both need 0 <= beta <=
    2**fc."""
    if not 0 <= beta <= 1 << fc:
        return None
    if max(bx, by) <= 30:
        parts = split3(2 * bx, beta, 2 * by, (1 << fc) - beta, fc)
        if parts is not None:
            return parts
    if fc <= 32 and square_operand(bx, fx) and square_operand(by, fy):
        return beta, 0, 0, (1 << fc) - beta, 0, 0, SQUARES, 0
    return None


def square_blend(x: np.ndarray, y: np.ndarray, c1: int, c2: int, shift: int,
                 rounding: str) -> np.ndarray:
    """R((x*x * c1 + y*y * c2) / 2**shift) exactly, for |x|, |y| <= 2**31, c1, c2 >= 0
    and c1 + c2 <= 2**min(shift, 32) (then the result is at most 2**62): each square
    split into 32, 16 and 16 bits, x*x = xh * 2**32 + xm * 2**16 + xl, every partial
    sum below 2**62 (xh * c1 + yh * c2 <= 2**30 * (c1 + c2)), the middle and low sums
    carried up, V = top * 2**32 + low with 0 <= low < 2**32."""
    xx, yy = x * x, y * y
    m16, a, b = _I64(0xFFFF), _I64(c1), _I64(c2)
    top = (xx >> 32) * a + (yy >> 32) * b
    mid = ((xx >> 16) & m16) * a + ((yy >> 16) & m16) * b
    low = (xx & m16) * a + (yy & m16) * b
    mid += low >> 16
    top += mid >> 16
    low = ((mid & m16) << 16) | (low & m16)
    r = max(shift - 32, 0)
    floor = ((top >> r) << max(32 - shift, 0)) + (low >> min(shift, 32))
    if shift == 0 or rounding in ("truncate", "toward_zero"):       # V >= 0
        return floor
    rem = (((top & _I64((1 << r) - 1)) << 32) | low) & _I64((1 << shift) - 1)
    half = _I64(1 << (shift - 1))
    if rounding == "nearest_up":
        return floor + (rem >= half)
    return floor + ((rem > half) | ((rem == half) & ((floor & 1) == 1)))


def blend(x: np.ndarray, bx: int, c1: int, y: np.ndarray | None, by: int, c2: int,
          shift: int, fmt: FixedFormat):
    """R((x * c1 + y * c2) / 2**shift) in ``fmt``, exactly, for |x| < 2**bx,
    |y| < 2**by and integer constants c1, c2 (y may be None): (raw, overflow count, bits),
    or None when int64 cannot hold the computation."""
    if y is None:
        y, by, c2 = x, 0, 0
    if not 0 <= shift <= 62:
        return None
    parts = split3(bx, c1, by, c2, shift)
    if parts is None:
        return None
    c1h, c1m, c1l, c2h, c2m, c2l, s, s2 = parts
    if s == 0:
        v = np.multiply(x, _I64(c1))
        if c2:
            v += np.multiply(y, _I64(c2))
        return fit(round_shift(v, shift, fmt.rounding), fmt)
    top = np.multiply(x, _I64(c1h))
    if c2h:
        top += np.multiply(y, _I64(c2h))
    low = np.multiply(x, _I64(c1l))
    if c2l:
        low += np.multiply(y, _I64(c2l))
    if s2:                                           # three limbs: V = top * 2**(s + s2)
        mid = np.multiply(x, _I64(c1m))              # + mid * 2**s + low
        if c2m:
            mid += np.multiply(y, _I64(c2m))
        mid += low >> s
        np.bitwise_and(low, _I64((1 << s) - 1), out=low)
        top += mid >> s2
        np.bitwise_and(mid, _I64((1 << s2) - 1), out=mid)
        np.left_shift(mid, s, out=mid)
        low += mid                                   # below 2**(s + s2)
        s += s2
    else:
        top += low >> s                              # V = top * 2**s + (low & mask)
        np.bitwise_and(low, _I64((1 << s) - 1), out=low)
    r = shift - s
    floor = top >> r
    rounding = fmt.rounding
    if rounding != "truncate" and shift > 0:
        rem = np.bitwise_and(top, _I64((1 << r) - 1))
        np.left_shift(rem, s, out=rem)
        rem += low                                   # V - floor * 2**shift, < 2**62
        half = _I64(1 << (shift - 1))
        if rounding == "toward_zero":                # V < 0 exactly when floor < 0
            floor += (floor < 0) & (rem != 0)
        elif rounding == "nearest_up":
            floor += rem >= half
        else:
            up = rem > half
            up |= (rem == half) & ((floor & 1) == 1)
            floor += up
    return fit(floor, fmt)


def step(x: np.ndarray, bx: int, y: np.ndarray, by: int, c: int, shift: int,
         fmt: FixedFormat):
    """R(x + y * c / 2**shift) in ``fmt``, exactly, for |x| < 2**bx at fmt's resolution
    (the weight of an optimizer step) and |y| < 2**by: (raw, overflow count, bits), or
    None when y * c could reach 2**61 or x 2**61."""
    if bx > 61 or by + abs(c).bit_length() > 61 or not 0 <= shift <= 62:
        return None
    p = np.multiply(np.broadcast_to(y, x.shape), _I64(c))
    if shift == 0:
        p += x
        return fit(p, fmt)
    rounding = fmt.rounding
    out = np.right_shift(p, shift)
    if rounding == "truncate":
        out += x
        return fit(out, fmt)
    if rounding == "toward_zero":          # up by one where the sum is negative, inexact
        out += x
        out += (out < 0) & (np.bitwise_and(p, _I64((1 << shift) - 1)) != 0)
        return fit(out, fmt)
    if rounding == "nearest_even":         # the parity of the final floor decides ties
        out += x
        np.bitwise_and(out, _I64(1), out=out)
        out += _I64((1 << (shift - 1)) - 1)
    else:
        out[...] = _I64(1 << (shift - 1))
    out += p
    np.right_shift(out, shift, out=out)
    out += x
    return fit(out, fmt)


def isqrt_nearest(v: np.ndarray) -> np.ndarray:
    """round(sqrt(v)) for int64 0 <= v < 2**62 (the golden model's integer root)."""
    s = np.rint(np.sqrt(v.astype(np.float64))).astype(np.int64)
    sq = s * s
    s += v > sq + s
    s -= (s > 0) & (v <= sq - s)
    sq = s * s
    bad = (v > sq + s) | ((s > 0) & (v <= sq - s))
    if bad.any():
        s[bad] = golden.isqrt_nearest(v[bad])
    return s


def floor_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num // den for int64 0 <= num < 2**62 and 0 < den < 2**40."""
    q = np.floor(num.astype(np.float64) / den.astype(np.float64)).astype(np.int64)
    r = num - q * den
    bad = (r < 0) | (r >= den)
    if bad.any():
        num_b, den_b = np.broadcast_arrays(num, den)
        q[bad] = num_b[bad] // den_b[bad]
    return q
