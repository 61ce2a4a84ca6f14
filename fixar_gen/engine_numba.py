"""numba versions of the engine's costliest element-wise kernels (the blends of adam_m and
the soft update, adam_s, adam_w): one pass per element instead of a dozen numpy passes.  The arithmetic is the numpy kernels' of
:mod:`fixar_gen.engine_kernels` (same splits, same rounding, same bounds), element by
element; integer division and the root's correction are exact int64 operations.

Optional: :data:`AVAILABLE` is False when numba is not installed or ``FIXAR_NUMBA=0``,
and the engine then runs the numpy kernels (tests run both).  Compiled functions are
cached on disk by numba (``cache=True``), so only the first use on a machine compiles.
"""

from __future__ import annotations

import importlib.util
import math
import os

from typing import NamedTuple

import numpy as np

AVAILABLE = importlib.util.find_spec("numba") is not None and \
    os.environ.get("FIXAR_NUMBA", "1") != "0"

ROUNDING_CODES = {"truncate": 0, "nearest_up": 1, "nearest_even": 2}
_kernels = None


class Kernels(NamedTuple):
    blend: object
    adam_s: object
    adam_w: object


def kernels() -> Kernels:
    """The compiled kernels (imports numba on first call)."""
    global _kernels
    if _kernels is None:
        _kernels = _compile()
    return _kernels


def _compile():
    import numba

    @numba.njit(cache=True, inline="always")
    def round_split(x, y, c1h, c1l, c2h, c2l, s, shift, mode):
        # the exact R((x * c1 + y * c2) / 2**shift) of engine_kernels.blend
        top = x * c1h + y * c2h
        low = x * c1l + y * c2l
        mask = (1 << s) - 1
        top += low >> s
        low &= mask
        r = shift - s
        floor = top >> r
        if mode == 0 or shift == 0:
            return floor
        rem = ((top & ((1 << r) - 1)) << s) + low
        half = 1 << (shift - 1)
        if mode == 1:
            return floor + (1 if rem >= half else 0)
        if rem > half or (rem == half and (floor & 1) == 1):
            return floor + 1
        return floor

    @numba.njit(cache=True, inline="always")
    def fit(q, lo, hi, saturate, width, signed):
        if lo <= q <= hi:
            return q, 0
        if saturate:
            return (hi if q > hi else lo), 1
        if width < 64:
            q &= (1 << width) - 1
            if signed:
                sign = 1 << (width - 1)
                q = (q ^ sign) - sign
        return q, 1

    @numba.njit(cache=True)
    def blend(x, y, out, c1h, c1l, c2h, c2l, s, shift, mode, lo, hi, saturate, width,
              signed):
        count = 0
        mn = hi
        mx = lo
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                q, n = fit(round_split(x[i, j], y[i, j], c1h, c1l, c2h, c2l, s, shift, mode),
                           lo, hi, saturate, width, signed)
                count += n
                out[i, j] = q
                mn = min(mn, q)
                mx = max(mx, q)
        return count, mn, mx

    @numba.njit(cache=True)
    def adam_s(d, a, out, c1h, c1l, c2h, c2l, s, shift, mode_v, lo, hi, saturate, width,
               signed):
        count = 0
        mn = hi
        mx = lo
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                x = d[i, j]
                y = a[i, j]
                v = round_split(x * x, y * y, c1h, c1l, c2h, c2l, s, shift, mode_v)
                if v < 0:
                    return -1, mn, mx
                root = np.int64(math.sqrt(np.float64(v)) + 0.5)
                while root * root + root < v:
                    root += 1
                while root > 0 and root * root - root >= v:
                    root -= 1
                q, n = fit(root, lo, hi, saturate, width, signed)
                count += n
                out[i, j] = q
                mn = min(mn, q)
                mx = max(mx, q)
        return count, mn, mx

    @numba.njit(cache=True)
    def adam_w(d, m, sv, out, eps_s, shift_m, c, limit, shift, mode, lo, hi, saturate,
               width, signed):
        count = 0
        mn = hi
        mx = lo
        mask = (1 << shift) - 1
        half = (1 << (shift - 1)) if shift > 0 else 0
        for i in range(out.shape[0]):
            for j in range(out.shape[1]):
                den = sv[i, j] + eps_s
                if den <= 0:
                    return -1, mn, mx
                mm = m[i, j]
                q = (abs(mm) << shift_m) // den
                if q > limit:
                    return -1, mn, mx
                p = (-q if mm < 0 else q) * c
                floor = (p >> shift) + d[i, j]
                if shift > 0 and mode != 0:
                    rem = p & mask
                    if mode == 1:
                        floor += 1 if rem >= half else 0
                    elif rem > half or (rem == half and (floor & 1) == 1):
                        floor += 1
                qq, n = fit(floor, lo, hi, saturate, width, signed)
                count += n
                out[i, j] = qq
                mn = min(mn, qq)
                mx = max(mx, qq)
        return count, mn, mx

    return Kernels(blend, adam_s, adam_w)
