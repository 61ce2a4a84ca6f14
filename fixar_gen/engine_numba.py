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

AVAILABLE = importlib.util.find_spec("numba") is not None and \
    os.environ.get("FIXAR_NUMBA", "1") != "0"

#: the fused Adam pass in float64 where exact (engine_float); FIXAR_NUMBA_FLOAT=0: int64
FLOAT_ADAM = os.environ.get("FIXAR_NUMBA_FLOAT", "1") != "0"
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
    #: the fused Adam pass in float64 arithmetic (engine_numba_float.adam)
    adam_float: object


#: how many scalars the packed kernels take (their arguments after the arrays)
DRAIN_SCALARS = 24
ADAM_SCALARS = 53


def kernels() -> Kernels:
    """The compiled kernels (imports numba on first call)."""
    global _kernels
    if _kernels is None:
        _kernels = _compile()
    return _kernels


def wide_vectors() -> bool:
    """Let LLVM vectorize the kernels' loops with 512-bit registers where the CPU has
    AVX-512 (LLVM's default tuning for such CPUs keeps 256-bit ones): numba's CPU
    features set to the host's with ``-prefer-256-bit``.  The kernels' results are the
    same integers (the same operations, lane by lane); the fused Adam pass takes about
    a quarter less time (``python benchmarks/bench_engine_kernels.py``, docs/numerics.md).
    It applies to what numba compiles in this process from then on, so it is left alone
    when numba's features are already set (``NUMBA_CPU_FEATURES``), or when
    ``FIXAR_NUMBA_WIDE=0``.  Returns whether it is in effect."""
    import numba
    from numba.core.codegen import get_host_cpu_features
    if os.environ.get("FIXAR_NUMBA_WIDE", "1") == "0":
        return False
    if numba.config.CPU_FEATURES is None:
        features = get_host_cpu_features()
        if "+avx512f" not in features.split(","):
            return False
        numba.config.CPU_FEATURES = features + ",-prefer-256-bit"
    return numba.config.CPU_FEATURES.endswith(",-prefer-256-bit")


def _compile():
    wide_vectors()
    from . import engine_numba_float as f
    from . import engine_numba_kernels as k
    return Kernels(k.blend, k.adam_s, k.adam_w, k.adam, k.drain, k.dact_relu, k.ranges,
                   k.drain_packed, k.adam_packed, k.drain_tanh, f.adam)
