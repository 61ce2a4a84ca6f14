"""Optimizers and the soft target update: they read their destination and update it in
place."""

from .declare import COEFF, RATE, Operand, vec

GRAD = Operand("data", "gradient")
PARAM = Operand("data", "the value updated in place")

SGD = vec("sgd", 12, "d = R(d - a * c[0]), aligned exactly   (c[0]: learning rate)",
          a=GRAD, c=Operand("const", "c[0]: learning rate"), d=PARAM, constants=RATE,
          reads_dst=True, engine="_k_sgd")
MOMENTUM = vec("momentum", 13, "d = R(d * c[0] + a), aligned exactly   (c[0]: momentum)",
               a=GRAD, c=Operand("const", "c[0]: momentum"), d=PARAM, constants=COEFF,
               reads_dst=True, engine="_k_momentum")
# Adam's first moment rounds toward zero, whatever d's rounding: with a = 0 its magnitude
# then falls by at least one LSB a step (|d| * c[0] / 2^f(c) < |d| for c[0] < 2^f(c)), so
# a moment decays to 0; to nearest, any |d| < 1 / (2 (1 - beta1)) LSB (|d| <= 4 at
# beta1 = 0.9) is its own rounded product and would stay forever (docs/numerics.md)
ADAM_M = vec("adam_m", 14, "d = R(d * c[0] + a * (2^f(c) - c[0])), aligned exactly, "
             "rounded toward zero whatever d's rounding (so d decays to 0 when a = 0)   "
             "(c[0]: beta1)", a=GRAD, c=Operand("const", "c[0]: beta1"), d=PARAM,
             constants=COEFF, reads_dst=True, engine="_k_adam_m", rounding="toward_zero")
ADAM_S = vec("adam_s", 15, "u = d^2 * c[0] + a^2 * (2^f(c) - c[0]) (needs f(d) = f(a)); "
             "v = u / 2^f(c) rounded to an integer by d's rounding (not counted: v < 2^63 "
             "always); d = R(round(sqrt(v)), f(d)) (exact integer root, nearest)   (d: sqrt "
             "of Adam's v; c[0]: beta2)",
             a=Operand("data", "gradient", frac_of_dst=True),
             c=Operand("const", "c[0]: beta2"),
             d=Operand("data", "sqrt of Adam's v", values="nonnegative"), constants=COEFF,
             reads_dst=True, engine="_k_adam_s", target_latency=34)
ADAM_W = vec("adam_w", 16, "den = b + max(eps', 1) where eps' = c[1] rounded to f(b) to "
             "nearest, ties to even (not fitted to b's width); r = sign(a) * floor(|a| * "
             "2^(24 + f(b) - f(a)) / den) (24 fraction bits; needs 24 + f(b) - f(a) >= 0 and "
             "|a| times that power below 2^62, den > 0); d = R(d - r * c[0]), aligned "
             "exactly   (a: m, b: s, c[0]: alpha_t)",
             a=Operand("data", "m"),
             b=Operand("data", "s = sqrt(v)", values="nonnegative", signed=True),
             c=Operand("const", "c[0]: alpha_t, c[1]: eps"), d=PARAM, constants=RATE,
             reads_dst=True, engine="_k_adam_w", target_latency=40)
SOFT_UPDATE = vec("soft_update", 17, "d = R(d + c[0] * (a - d)), aligned exactly   "
                  "(c[0]: tau)", a=Operand("data", "online parameter"),
                  c=Operand("const", "c[0]: tau"), d=Operand("data", "target parameter"),
                  constants=COEFF, reads_dst=True, engine="_k_soft_update")

OPERATIONS = (SGD, MOMENTUM, ADAM_M, ADAM_S, ADAM_W, SOFT_UPDATE)
