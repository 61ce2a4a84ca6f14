"""Backpropagation: activation derivatives, the loss gradient, the Bellman target."""

from .declare import COEFF, DATA, SCALE, SLOPE, Operand, vec

DY = Operand("data", "dL/dy")
Y = Operand("data", "the layer's output y")

DACT_RELU = vec("dact_relu", 7, "d = R(a if b > 0 else 0, f(a))   (a: dL/dy, b: the "
                "layer's output y)", a=DY, b=Y, d=DATA, engine="_k_dact_relu")
DACT_LEAKY = vec("dact_leaky", 8, "d = R(a * 2^f(c) if b > 0 else a * c[0], f(a) + f(c))",
                 a=DY, b=Y, c=Operand("const", "c[0]: slope"), d=DATA, constants=SLOPE)
DACT_TANH = vec("dact_tanh", 9, "d = R(a * max(2^(2 f(b)) - b^2, 0), f(a) + 2 f(b))   "
                "(1 - y^2 from the stored output)", a=DY, b=Y, d=DATA,
                engine="_k_dact_tanh", target_latency=6)
MSE_GRAD = vec("mse_grad", 10, "d = R((a - b) * c[0]) with a - b at the larger fraction, "
               "times c   (c[0] = 2 / batch)", a=Operand("data", "prediction"),
               b=Operand("data", "target"), c=Operand("const", "c[0]: 2 / batch"), d=DATA,
               constants=SCALE, engine="_k_mse_grad")
BELLMAN = vec("bellman", 11, "d = R(a + (e * c[0] if b == 0 else 0))   (a: reward, b: "
              "done, e: Q', c[0]: gamma), aligned exactly",
              a=Operand("data", "reward"), b=Operand("data", "done", values="flag"),
              e=Operand("data", "Q'"), c=Operand("const", "c[0]: gamma"), d=DATA,
              constants=COEFF, engine="_k_bellman", target_latency=6)

OPERATIONS = (DACT_RELU, DACT_LEAKY, DACT_TANH, MSE_GRAD, BELLMAN)
