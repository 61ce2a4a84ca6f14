"""The fused Adam pass of :mod:`fixar_gen.engine_numba_kernels` (adam_m, adam_s, adam_w
and the soft update of one parameter) in float64 arithmetic, where the engine's bounds
make every step exact: without AVX-512, x86 has no vector instruction for 64-bit integer
multiplies or arithmetic right shifts, and the int64 pass costs about a dozen emulated
multiplies an element; float64's multiplies, adds, floors and compares are one 256-bit
instruction each.  :mod:`fixar_gen.engine_float` chooses this pass and packs its scalars
(why each step is exact is written there and in docs/numerics.md).

Every integer here is held as an integer-valued float64 below 2**53, so it is exact; a
product or a sum is exact while its result stays below 2**53 (the blends' constants are
split so that it does); ``floor``, multiplies by powers of two and compares are exact.
Two steps are not sums of small products, and are checked instead: adam_s's root is
taken from a float64 estimate of its operand and kept only where the estimate's error
bound keeps the operand away from the two integers where the nearest root changes;
adam_w's ratio and its step's product are formed with fused multiply-adds, whose one
rounding leaves an exact remainder.  An element whose check fails (or whose value would
need wrapping, or leaves 2**51) makes the pass report failure; the engine then runs the
int64 pass, so a failure costs time, never bits.
"""

import math

import numpy as np
from numba.core import types
from numba.extending import intrinsic

from .engine_numba_kernels import (TWO52_HALF, TWO52_HALF_BITS, _bits_as_float,
                                   _float_as_bits, inline, jit)

LIMIT = 2.0 ** 51              # every value converted to or from int64 stays below


@intrinsic
def fma(typingctx, a, b, c):
    # a * b + c rounded once (llvm.fma: one instruction where the CPU has FMA)
    def codegen(context, builder, signature, args):
        return builder.fma(*args)
    return types.float64(types.float64, types.float64, types.float64), codegen


@inline
def as_float(v):
    # float64(v) for |v| < 2**51: v added to the mantissa of 2**52 + 2**51
    return _bits_as_float(v + TWO52_HALF_BITS) - TWO52_HALF


@inline
def as_int(x):
    # int64(x) for an integer-valued |x| < 2**51
    return _float_as_bits(x + TWO52_HALF) - TWO52_HALF_BITS


@inline
def rounded(floor, rem, one, rounder):
    # R(V / 2**shift) from its floor and the remainder 0 <= rem < one = 2**shift: up
    # by one where rem + add (+ 1 where the floor is odd, with ``odd``) (+ neg where
    # V < 0) reaches 2**shift; (add, odd, neg) = engine_float.rounder(shift, mode)
    add, odd, neg = rounder
    parity = floor - 2.0 * np.floor(floor * 0.5)
    carry = rem + add + odd * parity + (neg if floor < 0.0 else 0.0)
    return floor + (1.0 if carry >= one else 0.0)


@inline
def blend(x, y, limbs):
    # R((x * c1 + y * c2) / 2**shift) with c = ch * S + cl (engine_float.blend_limbs:
    # every product below 2**51, so every sum below 2**53); V = top * S + low
    c1h, c1l, c2h, c2l, big, r_big, add, odd, neg = limbs
    top = x * c1h + y * c2h
    low = x * c1l + y * c2l
    carry = np.floor(low * (1.0 / big))
    top += carry
    low -= carry * big
    floor = np.floor(top * (1.0 / r_big))
    rem = (top - floor * r_big) * big + low
    return rounded(floor, rem, big * r_big, (add, odd, neg))


@inline
def fit(q, lo, hi, saturate):
    # (q clamped to [lo, hi], 1 where it was outside, whether that was allowed: a
    # wrapping format is left to the int64 pass)
    inside = (q >= lo) & (q <= hi)
    return min(max(q, lo), hi), np.int64(1) - np.int64(inside), saturate | inside


@inline
def root(x, y, c1, c2, scale, delta):
    # (round(sqrt(v)), certain) for v = R((x*x * c1 + y*y * c2) * scale), x*x, y*y <
    # 2**52, c1, c2 >= 0: u estimates V * scale within 2**-51 of itself, and
    # floor(u + 1 - delta) v (delta 1/2 for the nearest roundings, 1 for the floors:
    # v <= K iff V * scale < K + delta); the root k is the nearest to sqrt(v) iff
    # k*k - k < v <= k*k + k, so u more than 2**-48 u inside both limits proves it
    u = (x * x * c1 + y * y * c2) * scale
    k = np.floor(math.sqrt(np.floor(max(u, 0.0) + (1.0 - delta))) + 0.5)
    kk = k * k
    e = u * 2.0 ** -48
    certain = (u + e < kk + k + delta) & ((k == 0.0) | (u - e > kk - k + delta))
    return k, certain


@inline
def weight(d, m, den, w_args):
    # (d + R(sign(m) * (|m| * 2**shift_m // den) * c / 2**shift), exact): the ratio's
    # float64 quotient corrected by an fma remainder (exact: it is an integer below
    # 2**53), the step's product split by an fma into hi + lo, floored by parts.  The
    # quotient's floor is the exact one or one above (rounding to nearest never goes
    # below an integer the exact quotient reaches), so one correction, then checked
    scale_m, c, limit, big, add, odd, neg = w_args
    num = abs(m) * scale_m
    q = np.floor(num / den)
    rem = fma(-q, den, num)
    low = rem < 0.0
    q -= 1.0 if low else 0.0
    rem += den if low else 0.0
    exact = (rem >= 0.0) & (rem < den) & (q <= limit) & (den > 0.0)
    p_hi = (-q if m < 0.0 else q) * c
    p_lo = fma(-q if m < 0.0 else q, c, -p_hi)
    f = np.floor(p_hi * (1.0 / big))
    r = p_hi - f * big + p_lo
    low = r < 0.0
    f -= 1.0 if low else 0.0
    r += big if low else 0.0
    high = r >= big
    f += 1.0 if high else 0.0
    r -= big if high else 0.0
    exact &= (r >= 0.0) & (r < big)
    return rounded(f + d, r, big, (add, odd, neg)), exact


@inline
def adam_rows(g, m, sv, w, t, m_out, s_out, w_out, t_out, w_float, t_float, p, soft):
    # the pass over rows of n elements (g, m, sv, m_out, s_out n apart; w, t, w_out,
    # t_out ws apart); ``soft`` a constant at each call (a loop for each)
    m_limbs = (p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8])
    m_lo, m_hi, m_sat = p[9], p[10], p[11] != 0.0
    v1, v2, v_scale, delta = p[12], p[13], p[14], p[15]
    s_lo, s_hi, s_sat = p[16], p[17], p[18] != 0.0
    eps = p[19]
    w_args = (p[20], p[21], p[22], p[23], p[24], p[25], p[26])
    w_lo, w_hi, w_sat = p[27], p[28], p[29] != 0.0
    t_limbs = (p[30], p[31], p[32], p[33], p[34], p[35], p[36], p[37], p[38])
    t_lo, t_hi, t_sat = p[39], p[40], p[41] != 0.0
    n, ws = np.int64(p[42]), np.int64(p[43])
    cm = cs = cw = ct = 0
    # minima and maxima as int64 (a float64 min or max does not vectorize); every
    # value kept is below 2**51
    mn_m = mn_s = mn_w = mn_t = np.int64(1) << 62
    mx_m = mx_s = mx_w = mx_t = -mn_m
    ok = True
    for r in range(g.size // max(n, 1)):
        gr, mr, sr, mo, so = (g[r * n:r * n + n], m[r * n:r * n + n], sv[r * n:r * n + n],
                              m_out[r * n:r * n + n], s_out[r * n:r * n + n])
        wr, wo = w[r * ws:r * ws + n], w_out[r * ws:r * ws + n]
        tr, to = t[r * ws:r * ws + n], t_out[r * ws:r * ws + n]
        wf, tf = w_float[r * ws:r * ws + n], t_float[r * ws:r * ws + n]
        # a loop for each step (each reads the last one's results back from the row
        # it wrote, in cache): one loop over all of them has too many arrays for LLVM
        # to vectorize it well
        for i in range(n):
            mq, over, fine = fit(blend(as_float(mr[i]), as_float(gr[i]), m_limbs), m_lo,
                                 m_hi, m_sat)
            cm += over
            ok &= fine & (abs(mq) < LIMIT)
            mi = as_int(mq)
            mo[i] = mi
            mn_m = min(mn_m, mi)
            mx_m = max(mx_m, mi)
        for i in range(n):
            k, certain = root(as_float(sr[i]), as_float(gr[i]), v1, v2, v_scale, delta)
            sq, over, fine = fit(k, s_lo, s_hi, s_sat)
            cs += over
            ok &= certain & fine
            si = as_int(sq)
            so[i] = si
            mn_s = min(mn_s, si)
            mx_s = max(mx_s, si)
        for i in range(n):
            step, exact = weight(as_float(wr[i]), as_float(mo[i]), as_float(so[i]) + eps,
                                 w_args)
            wq, over, fine = fit(step, w_lo, w_hi, w_sat)
            cw += over
            ok &= exact & fine & (abs(wq) < LIMIT)
            wi = as_int(wq)
            wo[i] = wi
            wf[i] = wq
            mn_w = min(mn_w, wi)
            mx_w = max(mx_w, wi)
        if soft:
            for i in range(n):
                tq, over, fine = fit(blend(as_float(tr[i]), wf[i], t_limbs), t_lo, t_hi,
                                     t_sat)
                ct += over
                ok &= fine & (abs(tq) < LIMIT)
                ti = as_int(tq)
                to[i] = ti
                tf[i] = tq
                mn_t = min(mn_t, ti)
                mx_t = max(mx_t, ti)
    return cm, mn_m, mx_m, cs, mn_s, mx_s, cw, mn_w, mx_w, ct, mn_t, mx_t, ok


@jit
def adam(g, m, sv, w, t, m_out, s_out, w_out, t_out, w_float, t_float, p):
    """engine_numba_kernels.adam's pass with its scalars in the float64 array p
    (engine_float.adam_scalars' layout; p[44] != 0: with the soft update), the new w
    and t always written to w_float and t_float too (laid out as w_out and t_out; a
    branch on whether to write them would keep LLVM from vectorizing).  Returns
    what that pass returns (the minima and maxima of an empty pass: +-2**62)."""
    if p[44] != 0.0:
        return adam_rows(g, m, sv, w, t, m_out, s_out, w_out, t_out, w_float, t_float, p,
                         True)
    return adam_rows(g, m, sv, w, t, m_out, s_out, w_out, t_out, w_float, t_float, p,
                     False)
