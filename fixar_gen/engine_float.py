"""When the fused Adam pass may run in float64 (:mod:`fixar_gen.engine_numba_float`), and
its scalars.  Pure Python: the engine calls :func:`adam_scalars` with the operands'
bounds (``|x| < 2**bits``, tracked as the buffers are written) and the constants, and
:func:`with_step` each run with the step's; None sends the run to the int64 pass.

Why the float64 pass is exact under these conditions (docs/numerics.md):

- Every operand converted to float64 is below 2**51 in magnitude (the bounds), and so
  is every result converted back (the kernel checks each one).
- adam_m's and the soft update's blends split their constants (:func:`blend_limbs`)
  so that each product of an operand and a limb is below 2**51: the two-term sums stay
  below 2**52, the low sum's carry keeps the top below 2**53, and the remainder below
  2**shift <= 2**52.  Multiplying by a power of two and ``floor`` are exact.
- adam_s: with |s|, |g| < 2**25 the squares are exact, the root below 2**26 and
  k*k +- k + 1/2 exact; the estimate of the blend has a relative error below 2**-51,
  and the kernel keeps a root only where the estimate is 2**-48 of itself inside the
  two limits of that root (else the pass fails).
- adam_w: the quotient's floor is off by at most one below 2**53 (checked against the
  limit), and num - q * den, an integer below 2**53, is exact from one fma; the step
  q * c (below 2**62, the int64 pass's own limit) is hi + lo exactly with lo from an
  fma, |lo| <= 2**8, and its floor by 2**shift (10 <= shift <= 52) is taken from hi
  and corrected by lo, checked.
"""

from __future__ import annotations

import numpy as np

from .engine_kernels import split
from .engine_numba import ROUNDING_CODES

LIMB_BITS = 51          # each product of an operand and a limb below 2**51
MAX_SHIFT = 52          # a remainder below 2**shift is exact
ROOT_BITS = 25          # adam_s's operands: exact squares, roots below 2**26
#: the scalars' positions (engine_numba_float.adam_rows reads them in this order)
SCALARS = 45


def rounder(shift: int, mode: int) -> tuple[float, float, float]:
    """(add, odd, neg) of the float64 pass's rounding (engine_numba_float.rounded) of
    V / 2**shift with rounding code ``mode``: R(V / 2**shift) = floor + 1 where
    rem + add + odd * (floor's parity) + (neg if V < 0) >= 2**shift."""
    if shift == 0 or mode == ROUNDING_CODES["truncate"]:
        return 0.0, 0.0, 0.0
    half = 2.0 ** (shift - 1)
    if mode == ROUNDING_CODES["nearest_up"]:
        return half, 0.0, 0.0
    if mode == ROUNDING_CODES["toward_zero"]:
        return 0.0, 0.0, 2.0 * half - 1
    return half - 1, 1.0, 0.0


def blend_limbs(bx: int, c1: int, by: int, c2: int, shift: int, mode: int):
    """The float64 blend's nine scalars for R((x * c1 + y * c2) / 2**shift) with
    |x| < 2**bx, |y| < 2**by: (c1h, c1l, c2h, c2l, 2**s, 2**(shift - s), *rounder),
    or None."""
    if not 0 <= shift <= MAX_SHIFT:
        return None
    parts = split(bx, c1, by, c2, shift, LIMB_BITS)
    if parts is None:
        return None
    c1h, c1l, c2h, c2l, s = parts
    return (c1h, c1l, c2h, c2l, 2.0 ** s, 2.0 ** (shift - s), *rounder(shift, mode))


#: where the step's two scalars sit in :func:`adam_scalars`' array (:func:`with_step`)
STEP_AT, LIMIT_AT = 21, 22


def adam_scalars(m, v, w, t, n: int, ws: int):
    """The float64 pass's scalars but the step's, or None where its conditions do not
    hold (the step's two, which change every update, are :func:`with_step`'s: the
    engine keeps this array while the bounds and constants stay).

    m = (bits of m, c1, bits of g, c2, shift, format args), adam_m's blend;
    v = (bits of s, bits of g, beta, fraction bits of beta, format args), adam_s;
    w = (bits of w, eps, shift_m, shift, format args), adam_w; t = (bits of t, c1, bits
    of the new w, c2, shift, format args) or None, the soft update.  Format args:
    (rounding code, min, max, saturate) of the result, as the int64 pass takes them."""
    bm, c1, bg, c2, m_shift, (m_mode, *m_fit) = m
    bs, bg_v, beta, fc, (v_mode, *s_fit) = v
    bw, eps, shift_m, w_shift, (w_mode, *w_fit) = w
    m_limbs = blend_limbs(bm, c1, bg, c2, m_shift, m_mode)
    if m_limbs is None or max(bs, bg_v) > ROOT_BITS or not 0 <= beta <= 1 << fc or \
            fc > MAX_SHIFT or bw > 50 or eps >= 1 << 52 or not 10 <= w_shift <= MAX_SHIFT:
        return None
    if t is None:
        t_limbs, t_fit, soft = (0, 0, 0, 0, 1.0, 1.0, 0.0, 0.0, 0.0), (0, 0, 0), 0
    else:
        bt, t1, bw_new, t2, t_shift, (t_mode, *t_fit) = t
        t_limbs, soft = blend_limbs(bt, t1, bw_new, t2, t_shift, t_mode), 1
        if t_limbs is None:
            return None
    delta = 0.5 if v_mode in (ROUNDING_CODES["nearest_up"], ROUNDING_CODES["nearest_even"]) \
        and fc > 0 else 1.0
    p = np.array((*m_limbs, *m_fit, beta, (1 << fc) - beta, 2.0 ** -fc, delta, *s_fit,
                  eps, 2.0 ** shift_m, 0.0, 0.0, 2.0 ** w_shift,
                  *rounder(w_shift, w_mode), *w_fit, *t_limbs, *t_fit, n, ws, soft),
                 dtype=np.float64)
    assert p.size == SCALARS
    return p


def with_step(p: np.ndarray, step: int, room: int):
    """:func:`adam_scalars`' ``p`` with this update's adam_w step (``step``, the
    constant -alpha_t at the step's resolution) and the limit on the ratio (``room``:
    the int64 pass's bits for it), written into ``p``; None where the float64 pass's
    conditions on them do not hold."""
    if room < 0 or abs(step) >= 1 << 53:
        return None
    p[STEP_AT], p[LIMIT_AT] = step, min((1 << room) - 1, 1 << 52)
    return p
