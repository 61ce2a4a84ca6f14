"""numba versions of the engine's costliest element-wise kernels (the blends of adam_m and
the soft update, adam_s, adam_w, adam_m + adam_s + adam_w fused into one pass, identity,
relu and tanh drains, dact_relu, range monitors): one pass per element instead of a dozen numpy passes.  The arithmetic is the numpy kernels'
of :mod:`fixar_gen.engine_kernels` (same splits, same rounding, same bounds), element by
element; the root's correction and the ratio's check are exact int64 operations (the
ratio m * 2**shift / den is estimated in float64 and corrected to the exact floor with
int64 remainders, as :func:`fixar_gen.engine_kernels.floor_divide` does).

Optional: :data:`AVAILABLE` is False when numba is not installed or ``FIXAR_NUMBA=0``,
and the engine then runs the numpy kernels (tests run both).  Compiled functions are
cached on disk by numba (``cache=True``), so only the first use on a machine compiles.
"""

from __future__ import annotations

import importlib.util
import os

from typing import NamedTuple

import numpy as np

AVAILABLE = importlib.util.find_spec("numba") is not None and \
    os.environ.get("FIXAR_NUMBA", "1") != "0"

ROUNDING_CODES = {"truncate": 0, "nearest_up": 1, "nearest_even": 2, "toward_zero": 3}
_kernels = None


class Kernels(NamedTuple):
    blend: object
    adam_s: object
    adam_w: object
    adam: object
    drain: object
    dact_relu: object
    ranges: object
    #: drain and adam with their scalar arguments packed into one int64 array (the
    #: order of DRAIN_SCALARS and ADAM_SCALARS): numba's dispatcher pays for every
    #: argument (benchmarks/bench_engine_kernels.py times a 1 x 1 drain both ways)
    drain_packed: object
    adam_packed: object
    drain_tanh: object


#: how many scalars the packed kernels take (their arguments after the arrays)
DRAIN_SCALARS = 23
ADAM_SCALARS = 50


def kernels() -> Kernels:
    """The compiled kernels (imports numba on first call)."""
    global _kernels
    if _kernels is None:
        _kernels = _compile()
    return _kernels


def _compile():
    from . import engine_numba_kernels as k
    return Kernels(k.blend, k.adam_s, k.adam_w, k.adam, k.drain, k.dact_relu, k.ranges,
                   k.drain_packed, k.adam_packed, k.drain_tanh)
