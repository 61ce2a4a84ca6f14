"""The drain's activations (``Drain.act``): the accumulator plus the bias row,
requantized, activated (docs/isa.md, ``drain``)."""

from .declare import SLOPE, Operand, drain

ACC = Operand("acc", "accumulator")
BIAS = Operand("data", "bias row (0 without one)")
PRE = Operand("data", "the program's pre-activation format")
DST = Operand("data", "destination")

IDENTITY = drain("identity", 0, "dst = R(z)", a=ACC, b=BIAS, d=DST, engine="_k_drain")
RELU = drain("relu", 1, "dst = R(max(z', 0)), z' = z rounded to the pre-activation format",
             a=ACC, b=BIAS, pre=PRE, d=DST, engine="_k_drain")
TANH = drain("tanh", 2, "dst = R(tanh_pl(z')), the piecewise-linear table below",
             a=ACC, b=BIAS, pre=PRE, d=DST, engine="_k_drain", target_latency=6)
LEAKY_RELU = drain("leaky_relu", 3, "dst = R(z' if z' >= 0 else z' * slope) (exact, then R)",
                   a=ACC, b=BIAS, c=Operand("const", "slope"), pre=PRE, d=DST,
                   constants=SLOPE, engine="_k_drain")

OPERATIONS = (IDENTITY, RELU, TANH, LEAKY_RELU)
