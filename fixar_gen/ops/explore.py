"""The range monitor and exploration noise (the on-chip PRNG)."""

from .declare import DATA, NOISE, Operand, vec

LANES = Operand("prng", "PRNG lanes", layout="lanes")

RANGE = vec("range", 18, "over rows x cols of a (src_col is not used): d[0] = min(d[0], "
            "min a), d[1] = max(d[1], max a); d has a's format",
            a=Operand("data", "monitored values", layout="destination"),
            d=Operand("data", "monitor (min, max)", layout="monitor"), reads_dst=True,
            issue="folded", engine="_k_range", target_latency=8)
NOISE_ = vec("noise", 19, "N = Gaussian from the PRNG lanes in b (below); d = clamp(R(a + "
             "N * c[0]), -1, 1) in d's format (the clamp is not counted; needs f(d) >= 0)"
             "   (c[0]: sigma)", b=LANES, a=Operand("data", "action"),
             c=Operand("const", "c[0]: sigma"), d=DATA, constants=NOISE, issue="serial",
             writes=("b",))
OU_NOISE = vec("ou_noise", 20, "e (read and written at rows x src_col..., shaped like the "
               "region, never broadcast) = R_e(e - e * c[1] + N * c[0]) in e's format; d = "
               "clamp(R(a + e), -1, 1)   (c[0]: sigma sqrt(dt), c[1]: theta dt)",
               b=LANES, a=Operand("data", "action"),
               c=Operand("const", "c[0]: sigma sqrt(dt), c[1]: theta dt"),
               e=Operand("data", "OU state", layout="unbroadcast"), d=DATA,
               constants=NOISE, issue="serial", writes=("b", "e"), target_latency=6)

OPERATIONS = (RANGE, NOISE_, OU_NOISE)
