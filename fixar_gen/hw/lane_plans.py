"""The vector lane's datapath plan of every element operation, one entry per operation
of :mod:`fixar_gen.ops` (a test checks they match one to one).

The lane (:mod:`fixar_gen.hw.vector`) has shared resources in a fixed pipeline: two
squarers (``sq`` .. ``pre``), two multipliers ``ma = x * y`` and ``mb = xb * yb``
(``mulop`` .. ``macc2``), a first rounder that aligns up to three (value, frac)
terms, sums them exactly and rounds and fits the sum to a target format (``sel1`` ..
``round1``), the square root and the divider (``iter``), a third multiplier and
tanh's table (``mul2`` .. ``mul2acc2``), and a second rounder of up to two terms
(``sel2`` .. ``fit2``).  A plan says what an operation feeds
each resource it uses; the lane builds its per-operation multiplexers from the plans.

The callables receive a :class:`Stage`: the wires of one pipeline stage by name (only
the ones a plan reads are built).  Names: ``a b d e c0 c1`` the operands as registered,
``A B D E C0 C1`` the same as signed wires (data operands W + 2 bits, constants
max(Wc, Fc) + 2 bits: :class:`~fixar_gen.hw.lane_limits.LaneLimits`); ``fa fb fc fd fe fpre`` fracs;
``fmt_d fmt_e fmt_pre`` format descriptors; see :func:`fixar_gen.hw.vector.vector_unit`
for the rest of each stage's names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyrtl

from .. import arch
from .lane_wires import FORMAT_BITS, FRAC, MUL_X, OPND, fsum, neg, smux


class Stage:
    """The wires of one pipeline stage by attribute; a value given as a callable is
    built the first time a plan reads it."""

    def __init__(self, **wires):
        self._wires = wires

    def __getattr__(self, name: str):
        try:
            value = self._wires[name]
        except KeyError:
            raise AttributeError(f"the lane's stage has no wire {name!r} "
                                 f"(it has {', '.join(sorted(self._wires))})") from None
        if callable(value) and not isinstance(value, pyrtl.WireVector):
            value = self._wires[name] = value()
        return value


Terms = Callable[[Stage], tuple[list, object]]


class _Recording(Stage):
    """A stage whose every wire exists (of a plausible width) and records its reads."""

    def __init__(self):
        super().__init__()
        self.read: set[str] = set()

    def __getattr__(self, name: str):
        if name.startswith("_") or name == "read":
            raise AttributeError(name)
        self.read.add(name)
        if name in ("b_positive", "b_zero", "leaky_neg"):
            return pyrtl.WireVector(1)
        if name.startswith("fmt_"):
            return pyrtl.WireVector(FORMAT_BITS)
        if name in ("fa", "fb", "fc", "fd", "fe", "fpre", "tanh_frac", "zero_frac"):
            return pyrtl.WireVector(FRAC)
        if name in ("A", "B", "C0", "C1", "D", "E"):
            return pyrtl.WireVector(OPND)
        if name == "drain0":
            return [(pyrtl.WireVector(MUL_X), pyrtl.WireVector(FRAC))] * 2
        return pyrtl.WireVector(MUL_X)


def wires_read(plan: "LanePlan") -> dict[str, set[str]]:
    """The stage wires each hook of ``plan`` reads (elaborated in a scratch block):
    {"products": {...}, "round1": {...}, "round2": {...}} and the multipliers it
    feeds under "products_keys"."""
    out: dict[str, set[str]] = {}
    with pyrtl.set_working_block(pyrtl.Block()):          # loose wires, thrown away
        for hook in ("products", "round1", "round2"):
            fn = getattr(plan, hook)
            stage = _Recording()
            result = fn(stage) if fn is not None else None
            out[hook] = stage.read
            if hook == "products":
                out["products_keys"] = set(result or ())
    return out


@dataclass(frozen=True)
class LanePlan:
    """What one operation feeds the lane's shared resources.

    ``square``: the operand the first squarer squares, "b" (default) or "d";
    ``products``: stage ``pre`` -> the multiplier operands it uses, of ``x, y`` (ma)
    and ``xb, yb`` (mb); ``round1``: stage ``macc2`` -> ([(value, frac), ...] up to 3
    terms, target format descriptor); ``clip``: the first rounder takes clip's
    min(max(t0, -t1), t1) instead of the sum; ``min_max``: d = min(a, d), e = max(e, a)
    instead of a rounding (range); ``clamp``: the result clamped to [-1, 1] after the
    "first" or "second" rounding; ``e_from_first``: e is written the first rounding's
    value; ``first_counts``: where the first rounding's overflow is counted ("d", "e"
    or None); ``ratio``: the third multiplier takes adam_w's -ratio (else the
    pre-activation); ``round2``: stage ``mul2acc2`` -> (up to 2 terms, target) of a second
    rounding, whose overflow is counted against d; ``limits``: the operation's own
    format limits beyond the lane's (formats by role -> a problem, or None)."""

    square: str = "b"
    products: Callable[[Stage], dict] | None = None
    round1: Terms | None = None
    clip: bool = False
    min_max: bool = False
    clamp: str | None = None
    e_from_first: bool = False
    first_counts: str | None = "d"
    ratio: bool = False
    round2: Terms | None = None
    limits: Callable[[dict], str | None] | None = None


#: |d|, |a| < 2^31 so golden's int64 d*d (adam_s) is exact
ADAM_S_MAGNITUDE_BITS = 31
#: golden's tanh_fixed works in int64: T[i] << (f(pre) - 6) and 2^(30 + f(pre) - 6) must
#: stay below 2^63, so drain_tanh needs f(pre) <= 38 (the hardware itself goes to 48)
TANH_MAX_PRE_FRAC = 62 - arch.TANH_TABLE_FRAC + arch.TANH_SEGMENT_FRAC


def _adam_s_limits(formats: dict) -> str | None:
    for role in ("d", "a"):
        fmt = formats[role]
        if fmt.width - fmt.signed > ADAM_S_MAGNITUDE_BITS:
            return (f"adam_s squares {role} ({fmt}) in int64 in the golden model; its "
                    f"magnitude must stay below 2^{ADAM_S_MAGNITUDE_BITS} (signed width <= "
                    f"{ADAM_S_MAGNITUDE_BITS + 1}, unsigned <= {ADAM_S_MAGNITUDE_BITS})")
    return None


def _tanh_limits(formats: dict) -> str | None:
    frac = formats["pre"].frac
    if frac > TANH_MAX_PRE_FRAC:
        return (f"drain_tanh with a pre-activation frac of {frac}: the golden model's int64 "
                f"tanh table needs frac <= {TANH_MAX_PRE_FRAC}")
    return None


def _same_format_limits(formats: dict) -> str | None:
    a, d = formats["a"], formats["d"]
    if (a.width, a.frac, a.signed) != (d.width, d.frac, d.signed):
        return (f"minimum compares a ({a}) and d ({d}) as raw words: they must have one "
                f"format")
    return None


def _one(value, frac):
    return lambda s: ([(getattr(s, value), getattr(s, frac))], s.fmt_d)


PLANS: dict[str, LanePlan] = {
    # -- arithmetic
    "copy": LanePlan(round1=_one("a", "fa")),
    "add": LanePlan(round1=lambda s: ([(s.a, s.fa), (s.b, s.fb)], s.fmt_d)),
    "sub": LanePlan(round1=lambda s: ([(s.a, s.fa), (neg(s.b), s.fb)], s.fmt_d)),
    "mul": LanePlan(products=lambda s: {"x": s.A, "y": s.B},
                    round1=lambda s: ([(s.ma, fsum(s.fa, s.fb))], s.fmt_d)),
    "scale": LanePlan(products=lambda s: {"x": s.A, "y": s.C0},
                      round1=lambda s: ([(s.ma, fsum(s.fa, s.fc))], s.fmt_d)),
    "fill": LanePlan(round1=_one("c0", "fc")),
    "clip": LanePlan(round1=lambda s: ([(s.a, s.fa), (s.c0, s.fc)], s.fmt_d), clip=True),
    "abs": LanePlan(round1=lambda s: ([(smux(s.A[-1], neg(s.A), s.A, s.A.bitwidth + 1),
                                        s.fa)], s.fmt_d)),
    # the range monitor's comparator: d = min(a, d), the raw words of one format
    "minimum": LanePlan(min_max=True, first_counts=None, limits=_same_format_limits),
    # -- backpropagation
    "dact_relu": LanePlan(round1=lambda s: (
        [(pyrtl.select(s.b_positive, s.A, pyrtl.Const(0, s.A.bitwidth)), s.fa)], s.fmt_d)),
    "dact_leaky": LanePlan(
        products=lambda s: {"x": s.A, "y": s.C0},
        round1=lambda s: ([(smux(s.b_positive, s.A, s.ma, s.ma.bitwidth),
                            pyrtl.select(s.b_positive, s.fa, fsum(s.fa, s.fc)))], s.fmt_d)),
    "dact_tanh": LanePlan(   # a * (1 - y^2), 1 - y^2 split in two halves over ma and mb
        products=lambda s: {"x": s.t_lo, "y": s.A, "xb": s.t_hi, "yb": s.A},
        round1=lambda s: ([(s.ma, fsum(s.fa, s.fb, s.fb)),
                           (s.mb_hi, fsum(s.fa, s.fb, s.fb))], s.fmt_d)),
    "mse_grad": LanePlan(
        products=lambda s: {"x": s.C0, "y": s.A, "xb": s.C0, "yb": neg(s.B)[:s.B.bitwidth]},
        round1=lambda s: ([(s.ma, fsum(s.fa, s.fc)), (s.mb, fsum(s.fb, s.fc))], s.fmt_d)),
    "bellman": LanePlan(
        products=lambda s: {"x": pyrtl.select(s.b_zero, s.E, pyrtl.Const(0, s.E.bitwidth)),
                            "y": s.C0},
        round1=lambda s: ([(s.a, s.fa), (s.ma, fsum(s.fe, s.fc))], s.fmt_d)),
    # -- optimizers
    "sgd": LanePlan(products=lambda s: {"x": neg(s.A), "y": s.C0},
                    round1=lambda s: ([(s.d, s.fd), (s.ma, fsum(s.fa, s.fc))], s.fmt_d)),
    "momentum": LanePlan(products=lambda s: {"x": s.D, "y": s.C0},
                         round1=lambda s: ([(s.ma, fsum(s.fd, s.fc)), (s.a, s.fa)], s.fmt_d)),
    "adam_m": LanePlan(
        products=lambda s: {"x": s.D, "y": s.C0, "xb": s.A, "yb": s.one_minus_c},
        round1=lambda s: ([(s.ma, fsum(s.fd, s.fc)), (s.mb, fsum(s.fa, s.fc))], s.fmt_d)),
    "adam_s": LanePlan(      # v = (d^2 c + a^2 (1 - c)) / 2^f(c), then its rounded root
        square="d",
        products=lambda s: {"x": s.square_1, "y": s.C0, "xb": s.square_2,
                            "yb": s.one_minus_c},
        round1=lambda s: ([(s.ma, s.fc), (s.mb, s.fc)], s.fmt_v), first_counts=None,
        round2=lambda s: ([(s.root, s.fd)], s.fmt_d), limits=_adam_s_limits),
    "adam_w": LanePlan(      # eps' first, then the divider, then d - ratio * alpha
        round1=lambda s: ([(s.c1, s.fc)], s.fmt_eps), first_counts=None, ratio=True,
        round2=lambda s: ([(s.d, s.fd), (s.ma2, fsum(arch.RATIO_FRAC, s.fc))], s.fmt_d)),
    "soft_update": LanePlan(
        products=lambda s: {"x": s.A, "y": s.C0, "xb": neg(s.D), "yb": s.C0},
        round1=lambda s: ([(s.d, s.fd), (s.ma, fsum(s.fa, s.fc)), (s.mb, fsum(s.fd, s.fc))],
                          s.fmt_d)),
    # -- range monitor and exploration noise
    "range": LanePlan(min_max=True, first_counts=None),
    "noise": LanePlan(products=lambda s: {"x": s.gauss, "y": s.C0},
                      round1=lambda s: ([(s.a, s.fa), (s.ma, fsum(arch.NOISE_FRAC, s.fc))],
                                        s.fmt_d), clamp="first"),
    "ou_noise": LanePlan(    # the state e first (counted against e), then d = a + e
        products=lambda s: {"x": neg(s.E), "y": s.C1, "xb": s.gauss, "yb": s.C0},
        round1=lambda s: ([(s.e, s.fe), (s.ma, fsum(s.fe, s.fc)),
                           (s.mb, fsum(arch.NOISE_FRAC, s.fc))], s.fmt_e),
        e_from_first=True, first_counts="e", clamp="second",
        round2=lambda s: ([(s.a, s.fa), (s.d1, s.fe)], s.fmt_d)),
    # -- the inter-core link's accumulator add
    "acc_add": LanePlan(round1=lambda s: ([(s.d, s.zero_frac), (s.a, s.zero_frac)],
                                          s.fmt_acc)),
    # -- drains: the accumulator plus the bias, rounded (to dst, or to the
    #    pre-activation format and then activated by the second rounding)
    "drain_identity": LanePlan(round1=lambda s: (s.drain0, s.fmt_d)),
    "drain_relu": LanePlan(round1=lambda s: (s.drain0, s.fmt_pre),
                           round2=lambda s: ([(s.relu_zp, s.fpre)], s.fmt_d)),
    "drain_tanh": LanePlan(round1=lambda s: (s.drain0, s.fmt_pre),
                           round2=lambda s: ([(s.tanh_value, s.tanh_frac)], s.fmt_d),
                           limits=_tanh_limits),
    "drain_leaky_relu": LanePlan(
        round1=lambda s: (s.drain0, s.fmt_pre),
        round2=lambda s: ([(smux(s.leaky_neg, s.ma2, s.zp, s.ma2.bitwidth),
                            pyrtl.select(s.leaky_neg, fsum(s.fpre, s.fc), s.fpre))], s.fmt_d)),
}
