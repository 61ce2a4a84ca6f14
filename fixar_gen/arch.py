"""Architecture constants of the instruction set: the fixed tables and formats every
executor of a program shares (the golden model, the hardware generator, the docs).

They belong to the machine's definition, not to any one executor: :mod:`fixar_gen.golden`
and :mod:`fixar_gen.hw` both import them from here (the hardware never imports the
golden model).  docs/isa.md states them in words (:mod:`fixar_gen.isa` generates it).
"""

from __future__ import annotations

import numpy as np

#: tanh is piecewise linear on [0, 2**TANH_RANGE_BITS) with 2**-TANH_SEGMENT_FRAC wide
#: segments, odd-symmetric, and exactly +-1 beyond the table.
TANH_RANGE_BITS = 3
TANH_SEGMENT_FRAC = 6
TANH_TABLE_FRAC = 30
TANH_TABLE = np.array(
    [round(np.tanh(i / (1 << TANH_SEGMENT_FRAC)) * (1 << TANH_TABLE_FRAC))
     for i in range(1 << (TANH_RANGE_BITS + TANH_SEGMENT_FRAC))] + [1 << TANH_TABLE_FRAC],
    dtype=np.int64)

#: the exploration-noise PRNG has this many xorshift32 lanes, whatever the array shape
PRNG_LANES = 16
#: Adam's ratio m / (sqrt(v) + eps) is formed with this many fraction bits
RATIO_FRAC = 24
#: the PRNG's Gaussian: the sum of four 16-bit uniforms, centred, times sqrt(3) (Q2.14)
SQRT3_Q14 = round(3 ** 0.5 * (1 << 14))
NOISE_FRAC = 16
PRNG_DRAWS = 4

#: buffer kinds whose contents outlive a program (kept between runs by every executor)
PERSISTENT_KINDS = ("param", "state", "const", "prng")
