"""The compiled kernels of :mod:`fixar_gen.engine_numba`, as module-level functions.

They live at module level, not inside a factory function, so that numba's on-disk cache
(``cache=True``) finds them again in the next process: a closure's cache entry is keyed on
its captured cells, which differ in every process, so closures were compiled anew by
every process that ran the engine (about 5-14 s each).  Importing this module imports
numba; :func:`fixar_gen.engine_numba.kernels` imports it on first use.
"""

import math

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic, overload


# Element functions are branch-free (selects, no early exits, no loops), so LLVM
# vectorizes the kernels' loops; a kernel flags an element its bounds do not cover
# and reports failure at the end (its outputs are scratch, so nothing is lost).
# error_model="numpy": no Python division-by-zero checks (every divisor is > 0).
jit = numba.njit(cache=True, error_model="numpy")
inline = numba.njit(cache=True, inline="always", error_model="numpy")


@intrinsic
def _bits_as_float(typingctx, x):
    # the float64 whose bits are the int64 x (a bit cast, no conversion)
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@intrinsic
def _float_as_bits(typingctx, x):
    # the int64 whose bits are the float64 x
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


# Conversions between int64 and float64 by bit casts and float64 arithmetic: without
# AVX-512, x86 has no vector instruction for them, and LLVM converts each lane of a
# vectorized loop alone (extract, convert, insert); these vectorize.
TWO52 = 4503599627370496.0                  # 2**52
TWO52_BITS = np.int64(0x4330000000000000)   # its bits: exponent 52, mantissa zero
TWO84_BITS = np.int64(0x4530000000000000)   # 2**84's
TWO84_52 = 2.0 ** 84 + TWO52                # exact in float64


@inline
def to_float(v):
    # float64(v) rounded to nearest, for 0 <= v < 2**63: the high and the low 32 bits
    # each exact in the mantissa of a power of two (2**84, 2**52), the sum rounded once
    high = _bits_as_float((v >> 32) | TWO84_BITS) - TWO84_52
    return high + _bits_as_float((v & np.int64(0xFFFFFFFF)) | TWO52_BITS)


@inline
def nearest_int(x):
    # x rounded to the nearest integer (ties to even) as int64, for 0 <= x < 2**51:
    # adding 2**52 leaves the integer in the mantissa
    return _float_as_bits(x + TWO52) - TWO52_BITS


TWO52_HALF = 6755399441055744.0             # 2**52 + 2**51
TWO52_HALF_BITS = np.int64(0x4338000000000000)


def product_int(x, narrow):
    """int64(x) in the kernels for an exact product x (an int64: x itself; an integer-
    valued float64: by adding 2**52 + 2**51 where ``narrow`` says |x| < 2**51, which
    vectorizes without AVX-512, else numba's conversion)."""


@overload(product_int, inline="always")
def _product_int(x, narrow):
    if isinstance(x, types.Float):
        def impl(x, narrow):
            # both, one kept by a mask (no branch: ``narrow`` is a constant at each
            # call, so LLVM drops the other)
            keep = -np.int64(narrow)
            return ((_float_as_bits(x + TWO52_HALF) - TWO52_HALF_BITS) & keep) | \
                (np.int64(x) & ~keep)
        return impl
    return lambda x, narrow: np.int64(x)


@inline
def rounder(shift, mode):
    # (add, odd, neg) with v / 2**shift rounded = (v + add + (floor(v / 2**shift) & odd)
    # + (neg if v < 0 else 0)) >> shift: round_shift's constants, computed once per
    # call so the loops hold no branch on the rounding mode
    if shift == 0 or mode == 0:
        return np.int64(0), np.int64(0), np.int64(0)
    half = np.int64(1) << (shift - 1)
    if mode == 1:
        return half, np.int64(0), np.int64(0)
    if mode == 3:                       # toward zero
        return np.int64(0), np.int64(0), 2 * half - 1
    return half - 1, np.int64(1), np.int64(0)


@inline
def round_shift(v, s, add, odd, neg):
    # v / 2**s rounded (engine_kernels.round_shift), |v| < 2**62, 0 <= s <= 62,
    # (add, odd, neg) = rounder(s, mode)
    return (v + add + ((v >> s) & odd) + ((v >> 63) & neg)) >> s


@inline
def wrapper(width, signed):
    # (mask, sign) of wrapping to ``width`` bits: ((q & mask) ^ sign) - sign
    if width >= 64:
        return np.int64(-1), np.int64(0)
    mask = (np.int64(1) << width) - 1
    return mask, ((np.int64(1) << (width - 1)) if signed else np.int64(0))


@inline
def fit(q, lo, hi, saturate, mask, sign):
    # (q fitted to [lo, hi] by saturation or wrapping, 1 if it did not fit else 0);
    # both are computed and one selected, so the loop does not branch
    over = np.int64((q > hi) | (q < lo))
    clamped = min(max(q, lo), hi)
    wrapped = ((q & mask) ^ sign) - sign
    return (clamped if saturate else wrapped), over


@inline
def half_of(shift):
    return (np.int64(1) << (shift - 1)) if shift > 0 else np.int64(0)


@inline
def round_split(x, y, c1h, c1l, c2h, c2l, s, shift, half, mode):
    # the exact R((x * c1 + y * c2) / 2**shift) of engine_kernels.blend (s = 0:
    # the constants were not split, c1l = c2l = 0); half = half_of(shift)
    top = x * c1h + y * c2h
    if s == 0:
        floor = top >> shift
        rem = top & ((np.int64(1) << shift) - 1)
    else:
        low = x * c1l + y * c2l
        top += low >> s
        low &= (np.int64(1) << s) - 1
        r = shift - s
        floor = top >> r
        rem = ((top & ((np.int64(1) << r) - 1)) << s) + low
    up_half = rem >= half
    up_even = (rem > half) | ((rem == half) & ((floor & 1) == 1))
    up_zero = (floor < 0) & (rem != 0)          # toward zero: the sum is < 0 iff floor is
    up = up_half if mode == 1 else (up_zero if mode == 3 else up_even)
    return floor + np.int64(up & (mode != 0) & (shift != 0))


@inline
def round_split3(x, y, c1h, c1m, c1l, c2h, c2m, c2l, s1, s2, shift, half, mode):
    # the exact R((x * c1 + y * c2) / 2**shift) with the constants in three limbs
    # (engine_kernels.split3: c = ch * 2**(s1 + s2) + cm * 2**s1 + cl, every limb's
    # product below 2**60); two limbs (s2 = 0, cm = 0) and none (s1 = s2 = 0) are
    # special cases.  The low and middle sums carried up: V = top * 2**(s1 + s2) +
    # mid * 2**s1 + low with 0 <= mid < 2**s2, 0 <= low < 2**s1; the remainder below
    # 2**shift <= 2**62.  half = half_of(shift)
    top = x * c1h + y * c2h
    mid = x * c1m + y * c2m
    low = x * c1l + y * c2l
    mid += low >> s1
    low &= (np.int64(1) << s1) - 1
    top += mid >> s2
    mid &= (np.int64(1) << s2) - 1
    r = shift - s1 - s2
    floor = top >> r
    rem = ((top & ((np.int64(1) << r) - 1)) << (s1 + s2)) + (mid << s1) + low
    up_half = rem >= half
    up_even = (rem > half) | ((rem == half) & ((floor & 1) == 1))
    up_zero = (floor < 0) & (rem != 0)          # toward zero: the sum is < 0 iff floor is
    up = up_half if mode == 1 else (up_zero if mode == 3 else up_even)
    return floor + np.int64(up & (mode != 0) & (shift != 0))


@inline
def round_squares(x, y, c1, c2, shift, half, mode):
    # the exact R((x*x * c1 + y*y * c2) / 2**shift) for |x|, |y| <= 2**31, c1, c2 >= 0
    # and c1 + c2 <= 2**min(shift, 32) (adam_s's v beyond split3's limbs: the squares,
    # not the constants, split; engine_kernels.square_blend): each square in 32, 16 and
    # 16 bits, x*x = xh * 2**32 + xm * 2**16 + xl, so every partial sum stays below
    # 2**62 (xh * c1 + yh * c2 <= 2**30 * (c1 + c2)); the sum V = top * 2**32 + low,
    # 0 <= low < 2**32, and V / 2**shift <= 2**62.  half = half_of(shift)
    xx = x * x
    yy = y * y
    m16 = np.int64(0xFFFF)
    top = (xx >> 32) * c1 + (yy >> 32) * c2
    mid = ((xx >> 16) & m16) * c1 + ((yy >> 16) & m16) * c2
    low = (xx & m16) * c1 + (yy & m16) * c2
    mid += low >> 16
    top += mid >> 16
    low = ((mid & m16) << 16) | (low & m16)
    # V >> shift and V's bits below shift, without a branch on shift (a constant)
    r = max(shift - 32, 0)
    floor = ((top >> r) << max(32 - shift, 0)) + (low >> min(shift, 32))
    rem = (((top & ((np.int64(1) << r) - 1)) << 32) | low) & ((np.int64(1) << shift) - 1)
    up_half = rem >= half
    up_even = (rem > half) | ((rem == half) & ((floor & 1) == 1))
    up = up_half if mode == 1 else (up_even if mode == 2 else False)   # V >= 0
    return floor + np.int64(up & (shift != 0))


@inline
def root_nearest(v):
    # (round(sqrt(v)), exact) for 0 <= v < 2**62: the float64 root is off by at
    # most one, corrected once each way in int64; exact is False if still off
    # one product: (r + 1)**2 = r*r + 2r + 1 and (r - 1)**2 = r*r - 2r + 1
    root = nearest_int(math.sqrt(to_float(max(v, 0))))
    sq = root * root
    up = sq + root < v
    sq = sq + 2 * root + 1 if up else sq
    root += np.int64(up)
    down = (root > 0) & (sq - root >= v)
    sq = sq - 2 * root + 1 if down else sq
    root -= np.int64(down)
    ok = (sq + root >= v) & ((root == 0) | (sq - root < v)) & (v >= 0)
    return root, ok


@inline
def weight_step(dd, mm, ss, eps_s, shift_m, c, limit, shift, half, mode):
    # adam_w for one element: (d + R(ratio * c / 2**shift), ok), the ratio
    # |m| * 2**shift_m // (s + eps) estimated in float64 and corrected in int64;
    # ok is False where the engine's bounds do not hold (den <= 0, |m| << shift_m
    # beyond 2**62, a ratio above limit, an estimate still off)
    den = ss + eps_s
    am = abs(mm)
    ok = (den > 0) & (am < (np.int64(1) << (62 - shift_m)))
    num = am << shift_m
    qf = to_float(num) / to_float(max(den, 1))
    ok &= (qf <= np.float64(limit)) & (qf < 2.0 ** 50)
    q = nearest_int(min(qf, np.float64(limit), 2.0 ** 50))
    rem = num - q * den
    low = rem < 0
    q -= np.int64(low)
    rem += den * np.int64(low)
    high = rem >= den
    q += np.int64(high)
    rem -= den * np.int64(high)
    ok &= (rem >= 0) & (rem < den) & (q <= limit)
    p = (-q if mm < 0 else q) * c
    floor = (p >> shift) + dd
    rest = p & ((np.int64(1) << shift) - 1)
    up_half = rest >= half
    up_even = (rest > half) | ((rest == half) & ((floor & 1) == 1))
    up_zero = (floor < 0) & (rest != 0)
    up = up_half if mode == 1 else (up_zero if mode == 3 else up_even)
    return floor + np.int64(up & (mode != 0) & (shift != 0)), ok


@jit
def blend(x, y, out, c1h, c1l, c2h, c2l, s, shift, mode, lo, hi, saturate, width,
          signed):
    half = half_of(shift)
    mask, sign = wrapper(width, signed)
    count = 0
    mn = hi
    mx = lo
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            q, n = fit(round_split(x[i, j], y[i, j], c1h, c1l, c2h, c2l, s, shift, half,
                                   mode), lo, hi, saturate, mask, sign)
            count += n
            out[i, j] = q
            mn = min(mn, q)
            mx = max(mx, q)
    return count, mn, mx


#: how adam_s's v = R((x*x * c1 + y*y * c2) / 2**shift) is computed (engine_kernels.v_limbs)
LIMBS2, LIMBS3, SQUARES = 0, 1, 2


@inline
def v_blend(x, y, c1h, c1m, c1l, c2h, c2m, c2l, s1, s2, shift, half, mode, kind):
    # adam_s's v: the constants in two or three limbs (the squares below 2**60), or the
    # squares split (|x|, |y| <= 2**31, c1 = c1h, c2 = c2h); ``kind`` is a constant at
    # each call, so LLVM keeps one of the three
    if kind == SQUARES:
        return round_squares(x, y, c1h, c2h, shift, half, mode)
    if kind == LIMBS3:
        return round_split3(x * x, y * y, c1h, c1m, c1l, c2h, c2m, c2l, s1, s2, shift,
                            half, mode)
    return round_split(x * x, y * y, c1h, c1l, c2h, c2l, s1, shift, half, mode)


@inline
def adam_s_rows(d, a, out, limbs, shift, mode_v, lo, hi, saturate, width, signed, kind):
    # adam_s's loop, v's blend (``kind``, a constant at each call: LIMBS2, LIMBS3 or
    # SQUARES, see v_blend)
    c1h, c1m, c1l, c2h, c2m, c2l, s1, s2 = limbs
    half = half_of(shift)
    mask, sign = wrapper(width, signed)
    count = 0
    mn = hi
    mx = lo
    ok = True
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            x = d[i, j]
            y = a[i, j]
            v = v_blend(x, y, c1h, c1m, c1l, c2h, c2m, c2l, s1, s2, shift, half, mode_v,
                        kind)
            root, exact = root_nearest(v)
            ok &= exact
            q, n = fit(root, lo, hi, saturate, mask, sign)
            count += n
            out[i, j] = q
            mn = min(mn, q)
            mx = max(mx, q)
    return (count if ok else -1), mn, mx


@jit
def adam_s(d, a, out, c1h, c1m, c1l, c2h, c2m, c2l, s1, s2, shift, mode_v, lo, hi,
           saturate, width, signed):
    # the constants in the limbs of engine_kernels.split3 (s2 = 0: two, or none), or
    # s1 < 0: the squares split (engine_kernels.v_limbs)
    limbs = (c1h, c1m, c1l, c2h, c2m, c2l, s1, s2)
    if s1 < 0:
        return adam_s_rows(d, a, out, limbs, shift, mode_v, lo, hi, saturate, width,
                           signed, SQUARES)
    if s2 > 0:
        return adam_s_rows(d, a, out, limbs, shift, mode_v, lo, hi, saturate, width,
                           signed, LIMBS3)
    return adam_s_rows(d, a, out, limbs, shift, mode_v, lo, hi, saturate, width, signed,
                       LIMBS2)


@jit
def adam_w(d, m, sv, out, eps_s, shift_m, c, limit, shift, mode, lo, hi, saturate,
           width, signed):
    half = half_of(shift)
    mask, sign = wrapper(width, signed)
    count = 0
    mn = hi
    mx = lo
    ok = True
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            floor, fine = weight_step(d[i, j], m[i, j], sv[i, j], eps_s, shift_m, c,
                                      limit, shift, half, mode)
            ok &= fine
            qq, n = fit(floor, lo, hi, saturate, mask, sign)
            count += n
            out[i, j] = qq
            mn = min(mn, qq)
            mx = max(mx, qq)
    return (count if ok else -1), mn, mx


@inline
def adam_rows(g, m, sv, w, m_out, s_out, w_out, w_float, n, ws, m_args, v_limbs, s_args,
              w_args, kind):
    # adam's first loop (adam_m, adam_s, adam_w per element, see adam), v's blend by
    # ``kind`` (v_blend's; a constant at each call: LLVM compiles a loop for each)
    m1h, m1l, m2h, m2l, m_s, m_shift, m_half, m_mode, m_lo, m_hi, m_sat, m_mask, \
        m_sign = m_args
    v1h, v1m, v1l, v2h, v2m, v2l, v_s, v_s2, v_shift, v_half, v_mode = v_limbs
    s_lo, s_hi, s_sat, s_mask, s_sign = s_args
    eps_s, shift_m, c, limit, shift, w_half, w_mode, w_lo, w_hi, w_sat, w_mask, \
        w_sign = w_args
    cm = 0
    cs = 0
    cw = 0
    mn_m = m_hi
    mx_m = m_lo
    mn_s = s_hi
    mx_s = s_lo
    mn_w = w_hi
    mx_w = w_lo
    ok = True
    mirror_w = w_float.size > 0
    for r in range(g.size // max(n, 1)):
        # row r's slices: an index from range() is known non-negative, so the loop
        # vectorizes (a computed index r * n + j would need numba's wraparound check)
        gr, mr, sr, mo, so = (g[r * n:r * n + n], m[r * n:r * n + n], sv[r * n:r * n + n],
                              m_out[r * n:r * n + n], s_out[r * n:r * n + n])
        wr, wo = w[r * ws:r * ws + n], w_out[r * ws:r * ws + n]
        wf = w_float[r * ws:r * ws + n] if mirror_w else w_float
        for i in range(n):
            gg = gr[i]
            mq, n1 = fit(round_split(mr[i], gg, m1h, m1l, m2h, m2l, m_s, m_shift, m_half,
                                     m_mode), m_lo, m_hi, m_sat, m_mask, m_sign)
            cm += n1
            mo[i] = mq
            mn_m = min(mn_m, mq)
            mx_m = max(mx_m, mq)
            x = sr[i]
            v = v_blend(x, gg, v1h, v1m, v1l, v2h, v2m, v2l, v_s, v_s2, v_shift, v_half,
                        v_mode, kind)
            root, exact = root_nearest(v)
            sq, n1 = fit(root, s_lo, s_hi, s_sat, s_mask, s_sign)
            cs += n1
            so[i] = sq
            mn_s = min(mn_s, sq)
            mx_s = max(mx_s, sq)
            floor, fine = weight_step(wr[i], mq, sq, eps_s, shift_m, c, limit, shift,
                                      w_half, w_mode)
            ok &= exact & fine
            wq, n1 = fit(floor, w_lo, w_hi, w_sat, w_mask, w_sign)
            cw += n1
            wo[i] = wq
            if mirror_w:
                wf[i] = wq
            mn_w = min(mn_w, wq)
            mx_w = max(mx_w, wq)
    return cm, mn_m, mx_m, cs, mn_s, mx_s, cw, mn_w, mx_w, ok


@jit
def adam(g, m, sv, w, t, m_out, s_out, w_out, t_out, w_float, t_float,
         m1h, m1l, m2h, m2l, m_s, m_shift, m_mode, m_lo, m_hi, m_sat, m_width, m_signed,
         v1h, v1l, v2h, v2l, v_s, v_shift, v_mode, s_lo, s_hi, s_sat, s_width, s_signed,
         v1m, v2m, v_s2,
         eps_s, shift_m, c, limit, shift, w_mode, w_lo, w_hi, w_sat, w_width, w_signed,
         soft, t1h, t1l, t2h, t2l, t_s, t_shift, t_mode, t_lo, t_hi, t_sat, t_width,
         t_signed, n, ws):
    # adam_m, adam_s and adam_w of one parameter in one pass over flat arrays, each
    # element's results from that element alone (what the instructions give in
    # program order): new m, s and w into m_out, s_out, w_out; with ``soft``, the
    # soft update of the target t from the new w too, into t_out (a second loop, so
    # neither loop branches).  The parameter has rows of n elements: g, m, sv, m_out
    # and s_out hold them n apart, w, t, w_out and t_out ws >= n apart (a weight's
    # padded row stride; their padding is neither read nor written).  w_float and
    # t_float, when not empty, get the new w and t as float64 too (the engine's float64
    # mirrors of the weights, which the products read: exact, |w| < 2**53), laid out
    # as w_out and t_out.  Returns the
    # saturation count, min and max of m, of s, of w and of t, and whether every
    # element was within the kernels' bounds.
    m_half, v_half, w_half, t_half = (half_of(m_shift), half_of(v_shift),
                                      half_of(shift), half_of(t_shift))
    m_mask, m_sign = wrapper(m_width, m_signed)
    s_mask, s_sign = wrapper(s_width, s_signed)
    w_mask, w_sign = wrapper(w_width, w_signed)
    t_mask, t_sign = wrapper(t_width, t_signed)
    ct = 0
    mn_t = t_hi
    mx_t = t_lo
    # v's constants in three limbs (split3) or two, or the squares split (v_s < 0):
    # each its own loop (a branch or a select in one loop costs every element about a
    # fifth of the pass)
    v_limbs = (v1h, v1m, v1l, v2h, v2m, v2l, v_s, v_s2, v_shift, v_half, v_mode)
    m_args = (m1h, m1l, m2h, m2l, m_s, m_shift, m_half, m_mode, m_lo, m_hi, m_sat, m_mask,
              m_sign)
    s_args = (s_lo, s_hi, s_sat, s_mask, s_sign)
    w_args = (eps_s, shift_m, c, limit, shift, w_half, w_mode, w_lo, w_hi, w_sat, w_mask,
              w_sign)
    if v_s < 0:
        cm, mn_m, mx_m, cs, mn_s, mx_s, cw, mn_w, mx_w, ok = adam_rows(
            g, m, sv, w, m_out, s_out, w_out, w_float, n, ws, m_args, v_limbs, s_args,
            w_args, SQUARES)
    elif v_s2 > 0:
        cm, mn_m, mx_m, cs, mn_s, mx_s, cw, mn_w, mx_w, ok = adam_rows(
            g, m, sv, w, m_out, s_out, w_out, w_float, n, ws, m_args, v_limbs, s_args,
            w_args, LIMBS3)
    else:
        cm, mn_m, mx_m, cs, mn_s, mx_s, cw, mn_w, mx_w, ok = adam_rows(
            g, m, sv, w, m_out, s_out, w_out, w_float, n, ws, m_args, v_limbs, s_args,
            w_args, LIMBS2)
    mirror_t = t_float.size > 0
    if soft:
        for r in range(g.size // max(n, 1)):
            row = slice(r * ws, r * ws + n)
            tr, wr, to = t[row], w_out[row], t_out[row]
            tf = t_float[row] if mirror_t else t_float
            for i in range(n):
                tq, n1 = fit(round_split(tr[i], wr[i], t1h, t1l, t2h, t2l, t_s, t_shift,
                                         t_half, t_mode), t_lo, t_hi, t_sat, t_mask, t_sign)
                ct += n1
                to[i] = tq
                if mirror_t:
                    tf[i] = tq
                mn_t = min(mn_t, tq)
                mx_t = max(mx_t, tq)
    return cm, mn_m, mx_m, cs, mn_s, mx_s, cw, mn_w, mx_w, ct, mn_t, mx_t, ok


@jit
def drain(z, acc, bias, out, bias_shift, relu, shift1, mode1, p_lo, p_hi, p_sat,
          p_width, p_signed, shift2, mode2, lo, hi, saturate, width, signed, seg,
          seg_min, seg_max, b2, out2, shift3, mode3, lo3, hi3, sat3, width3, signed3,
          narrow):
    # narrow: z is a float64 product with |z| < 2**51 (its conversion to int64 then
    # vectorizes: product_int), each case a loop of its own
    args = (z, acc, bias, out, bias_shift, relu, shift1, mode1, p_lo, p_hi, p_sat,
            p_width, p_signed, shift2, mode2, lo, hi, saturate, width, signed, seg,
            seg_min, seg_max, b2, out2, shift3, mode3, lo3, hi3, sat3, width3, signed3)
    if narrow:
        return drain_rows(args, True)
    return drain_rows(args, False)


@inline
def drain_rows(args, narrow):
    # a drain: v = z + bias * 2**bias_shift (bias one row), rounded by shift1 and
    # fitted to the first format; with relu, max(., 0) rounded by shift2 and fitted
    # to the second (the destination's).  z is the accumulator (int64) or, fused
    # with its matrix product, the exact float64 product, then also written to acc
    # (a (0, 0) array: not written).  Row i's values also go into the minimum and
    # maximum of segment seg[i] (a range monitor folded in; -1: none).  With out2
    # not empty, the dact_relu of the output folded in too: out2 = the output where
    # b2 > 0, else 0, rounded by shift3 and fitted.  Returns the saturation count,
    # min, max of out, then of out2.  The inner loops hold no branch (both
    # activations computed, one selected; the optional outputs in loops of their
    # own), so they vectorize.
    z, acc, bias, out, bias_shift, relu, shift1, mode1, p_lo, p_hi, p_sat, p_width, \
        p_signed, shift2, mode2, lo, hi, saturate, width, signed, seg, seg_min, seg_max, \
        b2, out2, shift3, mode3, lo3, hi3, sat3, width3, signed3 = args
    add1, odd1, neg1 = rounder(shift1, mode1)
    add2, odd2, neg2 = rounder(shift2, mode2)
    add3, odd3, neg3 = rounder(shift3, mode3)
    mask1, sign1 = wrapper(p_width, p_signed)
    mask2, sign2 = wrapper(width, signed)
    mask3, sign3 = wrapper(width3, signed3)
    write_acc = acc.shape[0] > 0
    count = 0
    mn = hi
    mx = lo
    count2 = 0
    mn2 = hi3
    mx2 = lo3
    dact = out2.shape[0] > 0
    for i in range(out.shape[0]):
        row_mn = hi
        row_mx = lo
        for j in range(out.shape[1]):
            v = product_int(z[i, j], narrow) + (bias[0, j] << bias_shift)
            q, n = fit(round_shift(v, shift1, add1, odd1, neg1), p_lo, p_hi, p_sat, mask1,
                       sign1)
            r, n2 = fit(round_shift(max(q, 0), shift2, add2, odd2, neg2), lo, hi, saturate,
                        mask2, sign2)
            q = r if relu else q
            count += n + (n2 if relu else np.int64(0))
            out[i, j] = q
            row_mn = min(row_mn, q)
            row_mx = max(row_mx, q)
        if write_acc:
            for j in range(out.shape[1]):
                acc[i, j] = product_int(z[i, j], narrow)
        if dact:
            for j in range(out.shape[1]):
                q = out[i, j]
                q2, n = fit(round_shift(q if b2[i, j] > 0 else np.int64(0), shift3,
                                        add3, odd3, neg3), lo3, hi3, sat3, mask3, sign3)
                count2 += n
                out2[i, j] = q2
                mn2 = min(mn2, q2)
                mx2 = max(mx2, q2)
        mn = min(mn, row_mn)
        mx = max(mx, row_mx)
        k = seg[i]
        if k >= 0:
            seg_min[k] = min(seg_min[k], row_mn)
            seg_max[k] = max(seg_max[k], row_mx)
    return count, mn, mx, count2, mn2, mx2


@jit
def dact_relu(a, b, out, shift, mode, lo, hi, saturate, width, signed):
    # a where b > 0, else 0, rounded by shift and fitted
    add, odd, neg = rounder(shift, mode)
    mask, sign = wrapper(width, signed)
    count = 0
    mn = hi
    mx = lo
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            v = a[i, j] if b[i, j] > 0 else np.int64(0)
            q, n = fit(round_shift(v, shift, add, odd, neg), lo, hi, saturate, mask, sign)
            count += n
            out[i, j] = q
            mn = min(mn, q)
            mx = max(mx, q)
    return count, mn, mx


@jit
def ranges(a, seg, seg_min, seg_max):
    # the minimum and maximum of each segment's rows (range monitors of one buffer
    # over disjoint rows; seg[i] = -1: row i is in none)
    for i in range(a.shape[0]):
        k = seg[i]
        if k >= 0:
            lo = seg_min[k]
            hi = seg_max[k]
            for j in range(a.shape[1]):
                lo = min(lo, a[i, j])
                hi = max(hi, a[i, j])
            seg_min[k] = lo
            seg_max[k] = hi


@jit
def drain_packed(z, acc, bias, out, seg, seg_min, seg_max, b2, out2, p):
    # drain(z, acc, bias, out, bias_shift, relu, <first format>, <second format>,
    # seg, seg_min, seg_max, b2, out2, <dact's format>, narrow), the scalars from p
    return drain(z, acc, bias, out, p[0], p[1] != 0,
                 p[2], p[3], p[4], p[5], p[6] != 0, p[7], p[8] != 0,
                 p[9], p[10], p[11], p[12], p[13] != 0, p[14], p[15] != 0,
                 seg, seg_min, seg_max, b2, out2,
                 p[16], p[17], p[18], p[19], p[20] != 0, p[21], p[22] != 0, p[23] != 0)


@jit
def adam_packed(g, m, sv, w, t, m_out, s_out, w_out, t_out, w_float, t_float, p):
    # adam(g, m, sv, w, t, m_out, s_out, w_out, t_out, w_float, t_float, *p), booleans
    # as 0 / 1 (v's middle limbs and second split, p[50:53], after v's format)
    return adam(g, m, sv, w, t, m_out, s_out, w_out, t_out, w_float, t_float,
                p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9] != 0,
                p[10], p[11] != 0,
                p[12], p[13], p[14], p[15], p[16], p[17], p[18], p[19], p[20],
                p[21] != 0, p[22], p[23] != 0, p[50], p[51], p[52],
                p[24], p[25], p[26], p[27], p[28], p[29], p[30], p[31], p[32] != 0,
                p[33], p[34] != 0,
                p[35] != 0, p[36], p[37], p[38], p[39], p[40], p[41], p[42], p[43],
                p[44], p[45] != 0, p[46], p[47] != 0, p[48], p[49])


@jit
def drain_tanh(z, bias, out, table, p):
    # a tanh drain (golden.tanh_fixed between two requantisations): v = z +
    # bias * 2**p[0] (bias one row), rounded by p[1] (mode p[2]) and fitted to the
    # pre-activation format (p[3:8]); |q| clamped to p[9] and shifted left p[10]
    # when p[8] (the table's segments finer than q's fraction bits), then the
    # table's segment u >> p[11] and its remainder interpolated, p[12] beyond the
    # table's end, the sign put back; rounded by p[13] (mode p[14]) and fitted to
    # the destination's format (p[15:20]).  Returns the saturation count (both
    # fits), min and max.
    bias_shift, shift1 = p[0], p[1]
    add1, odd1, neg1 = rounder(shift1, p[2])
    lo1, hi1, sat1 = p[3], p[4], p[5] != 0
    mask1, sign1 = wrapper(p[6], p[7] != 0)
    clamp, end, left, seg_shift, one = p[8] != 0, p[9], p[10], p[11], p[12]
    add2, odd2, neg2 = rounder(p[13], p[14])
    shift2, lo, hi, saturate = p[13], p[15], p[16], p[17] != 0
    mask2, sign2 = wrapper(p[18], p[19] != 0)
    last = table.shape[0] - 1
    low_mask = (np.int64(1) << seg_shift) - 1
    count = 0
    mn = hi
    mx = lo
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            v = z[i, j] + (bias[0, j] << bias_shift)
            q, n1 = fit(round_shift(v, shift1, add1, odd1, neg1), lo1, hi1, sat1, mask1, sign1)
            u = abs(q)
            u = (min(u, end) << left) if clamp else u
            index = u >> seg_shift
            rem = u & low_mask
            beyond = index >= last
            index = min(index, last - 1)
            y0 = table[index]
            num = (y0 << seg_shift) + (table[index + 1] - y0) * rem
            num = one if beyond else num
            num = -num if q < 0 else num
            r, n2 = fit(round_shift(num, shift2, add2, odd2, neg2), lo, hi, saturate, mask2,
                        sign2)
            count += n1 + n2
            out[i, j] = r
            mn = min(mn, r)
            mx = max(mx, r)
    return count, mn, mx
