"""Element-wise arithmetic: copy, add, sub, mul, scale, fill, clip, abs, minimum."""

from .declare import DATA, SCALE, Operand, vec

CONST = Operand("const", "c[0]")

COPY = vec("copy", 0, "d = R(a, f(a))", a=DATA, d=DATA, engine="_k_copy")
ADD = vec("add", 1, "d = R(a + b) at the larger of f(a), f(b)", a=DATA, b=DATA, d=DATA)
SUB = vec("sub", 2, "d = R(a - b) at the larger of f(a), f(b)", a=DATA, b=DATA, d=DATA)
MUL = vec("mul", 3, "d = R(a * b, f(a) + f(b))", a=DATA, b=DATA, d=DATA)
SCALE_ = vec("scale", 4, "d = R(a * c[0], f(a) + f(c))", a=DATA, c=CONST, d=DATA,
             constants=SCALE)
FILL = vec("fill", 5, "d = R(c[0], f(c))", c=CONST, d=DATA, constants=SCALE,
           engine="_k_fill")
CLIP = vec("clip", 6, "d = R(min(max(a, -c[0]), c[0])) at the larger of f(a), f(c)",
           a=DATA, c=CONST, d=DATA, constants=SCALE)
ABS = vec("abs", 22, "d = R(|a|, f(a))", a=DATA, d=DATA)

MINIMUM = vec("minimum", 23, "d = min(d, a), in place (needs a's format = d's: exact, "
              "nothing rounded)   (TD3's clipped double-Q: min(Q1', Q2'))",
              a=Operand("data", "the other value", format_of_dst=True),
              d=Operand("data", "the value kept if smaller"), reads_dst=True)

OPERATIONS = (COPY, ADD, SUB, MUL, SCALE_, FILL, CLIP, ABS, MINIMUM)
