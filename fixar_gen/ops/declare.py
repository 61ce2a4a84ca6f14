"""What a declaration of one vector or drain operation states (:class:`Operation`), and
the formats of the constants the host writes for them.

A declaration is data: the instruction set, the golden model's dispatch, the vector
lane's operand roles, the cycle models, the docs and the random-program generator read
it (docs/adding-an-operation.md lists them).  The lane's datapath selection for an
operation -- its *hardware plan* -- is the one thing declared beside it, in
:mod:`fixar_gen.hw.lane_plans`, because it is made of wires.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..numerics import ROUNDING_MODES, FixedFormat

#: formats of the constants the host writes (unsigned; see docs/numerics.md)
COEFF = FixedFormat(33, 32, signed=False)       # gamma, tau, betas, momentum: [0, 2)
SCALE = FixedFormat(35, 32, signed=False)       # 2 / batch: [0, 8)
RATE = FixedFormat(48, 44, signed=False)        # alpha_t, eps, learning rates: [0, 16)
NOISE = FixedFormat(36, 32, signed=False)       # sigma, OU constants: [0, 16)
SLOPE = FixedFormat(17, 16, signed=False)       # leaky_relu slope
UNIT = FixedFormat(2, 0)                        # ones, done flags
PRNG = FixedFormat(33, 0, signed=False)         # xorshift32 lane states

#: operand roles: a, b, e and the constants c come from the instruction's fields (for a
#: drain: a = acc, b = bias, c = slope); d is the destination; pre is the program's
#: pre-activation format (drains with an activation)
ROLES = ("a", "b", "c", "d", "e", "pre")
#: what an operand holds: a data value, an exact accumulator, constants (c[0], c[1], in
#: the operation's constant format), PRNG lane states (never a format the lane reads)
KINDS = ("data", "acc", "const", "prng")
#: the values the random-program generator draws for an operand: any in its format,
#: 0 or 1 (a done flag), or >= 0
VALUES = ("any", "flag", "nonnegative")
#: where an operand is read: at ``src_col`` (broadcast when it has one row or column),
#: at ``src_col`` never broadcast, at the destination's columns, a 1 x 2 monitor
#: (min, max), the PRNG lanes
LAYOUTS = ("source", "unbroadcast", "destination", "monitor", "lanes")
#: how the core issues an operation's elements: one step a cycle through the lanes
#: (``steps + 1 + LANE_DEPTH``: the words' register, then the lane; ``SHORT_DEPTH`` for
#: an operation without a second rounding, ``hw.vector.SHORT_OPS``), one element at a
#: time (they share the PRNG lanes: ``elements * (2 + LANE_DEPTH)``), or folded into
#: the controller without a lane
#: (``steps``)
ISSUES = ("pipelined", "serial", "folded")
#: which unit the FIXAR target model charges: the vector unit, or the inter-core link
UNITS = ("vector", "link")


@dataclass(frozen=True)
class Operand:
    """One operand of an operation: its kind, what it means (for the docs), and how the
    random-program generator draws it."""

    kind: str
    means: str = ""
    values: str = "any"
    layout: str = "source"
    frac_of_dst: bool = False        # drawn with the destination's fraction bits
    format_of_dst: bool = False      # drawn with the destination's format
    signed: bool | None = None       # drawn signed (True) whatever format is drawn

    def __post_init__(self) -> None:
        for name, allowed in (("kind", KINDS), ("values", VALUES), ("layout", LAYOUTS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"Operand.{name}: {getattr(self, name)!r} is not one of "
                                 f"{', '.join(allowed)}")


@dataclass(frozen=True)
class Operation:
    """One vector function (``instruction == "vec"``, ``number`` = ``Vector.fn``) or
    drain activation (``"drain"``, ``number`` = ``Drain.act``), declared once.

    ``operands`` maps roles (:data:`ROLES`; ``d``: the destination) to
    :class:`Operand`; ``constants`` is the format of the constants operand c (None
    without one); ``semantics`` is docs/isa.md's line; ``golden`` names the golden
    model's kernel (a method of :class:`fixar_gen.golden.GoldenMachine`, ``_v_<name>``
    by default; drains share ``_drain``); ``engine`` the execution engine's fast kernel
    (None: the golden kernel runs); ``issue``/``unit`` how the RTL and the FIXAR target
    model schedule it; ``target_latency`` the target model's pipeline latency (the
    default of ``perf.Timing``; None on the link); ``reads_dst`` and ``writes`` what it
    reads and writes beyond its operands and destination (placement, hazards)."""

    name: str
    number: int
    semantics: str
    operands: dict[str, Operand]
    instruction: str = "vec"
    constants: FixedFormat | None = None
    golden: str = ""
    engine: str | None = None
    issue: str = "pipelined"
    unit: str = "vector"
    target_latency: int | None = 4
    reads_dst: bool = False
    writes: tuple[str, ...] = ()
    activation: str | None = None    # drains: the activation (an isa.ACTIVATIONS name)
    rounding: str | None = None

    def __post_init__(self) -> None:
        where = f"operation {self.name}"
        if self.instruction not in ("vec", "drain"):
            raise ValueError(f"{where}: instruction {self.instruction!r} is not vec or drain")
        unknown = set(self.operands) - set(ROLES)
        if unknown:
            raise ValueError(f"{where}: unknown operand role(s) {sorted(unknown)} "
                             f"(allowed: {', '.join(ROLES)})")
        if "d" not in self.operands:
            raise ValueError(f"{where}: every operation declares its destination d")
        if ("c" in self.operands) != (self.constants is not None):
            raise ValueError(f"{where}: an operand c needs a constants format, and only it")
        if self.issue not in ISSUES or self.unit not in UNITS:
            raise ValueError(f"{where}: issue {self.issue!r} / unit {self.unit!r} not in "
                             f"{ISSUES} / {UNITS}")
        if (self.target_latency is None) != (self.unit == "link"):
            raise ValueError(f"{where}: a target latency, unless it runs on the link")
        if not set(self.writes) <= {"b", "e"}:
            raise ValueError(f"{where}: writes {self.writes} (only b and e can be written)")
        if self.rounding is not None and self.rounding not in ROUNDING_MODES:
            raise ValueError(f"{where}: rounding {self.rounding!r} is not one of "
                             f"{', '.join(ROUNDING_MODES)}")
        if not self.golden:
            object.__setattr__(self, "golden",
                               "_drain" if self.instruction == "drain" else f"_v_{self.name}")

    def result_format(self, fmt: FixedFormat) -> FixedFormat:
        """The format the result is rounded and fitted to, given the destination's: the
        destination's, with the operation's own rounding when it declares one."""
        return fmt if self.rounding is None else fmt.with_(rounding=self.rounding)

    @property
    def lane_roles(self) -> dict[str, str]:
        """The formats the vector lane reads: role -> "data" or "acc" (the lane's
        ``OPERAND_ROLES``; PRNG lanes carry no format)."""
        return {role: ("acc" if op.kind == "acc" else "data")
                for role, op in self.operands.items() if op.kind != "prng"}


def vec(name: str, number: int, semantics: str, **operands_and_fields) -> Operation:
    """A vector function's declaration: roles (a, b, c, d, e) as keyword Operands, the
    rest :class:`Operation` fields."""
    operands = {k: operands_and_fields.pop(k) for k in ROLES if k in operands_and_fields}
    return Operation(name, number, semantics, operands, **operands_and_fields)


def drain(activation: str, number: int, semantics: str, **operands_and_fields) -> Operation:
    """A drain activation's declaration (the lane's ``drain_<activation>``)."""
    operands = {k: operands_and_fields.pop(k) for k in ROLES if k in operands_and_fields}
    return Operation(f"drain_{activation}", number, semantics, operands, instruction="drain",
                     activation=activation, **operands_and_fields)


DATA = Operand("data")
