"""The formats one generated vector lane computes exactly (:class:`LaneLimits`), fixed at
elaboration.

The lane's operands carry their formats as runtime descriptors, but the formats a
generated core can ever see come from its spec: the weight, activation, gradient and
FXP16 activation formats (data), the instruction set's constant formats (constants) and
the accumulators of products of two data values.  The lane's alignment datapath, its
squarers, its divider and its pipeline registers are sized from these limits
(:func:`fixar_gen.hw.vector.internal_width`); ``check_supported`` refuses any format
beyond them, and :func:`fixar_gen.hw.design.lane_limits` derives them from a spec (and
refuses a spec beyond the widest lane).
"""

from __future__ import annotations

from dataclasses import dataclass

from .lane_wires import MAX_DATA_FRAC, MAX_DATA_WIDTH


@dataclass(frozen=True)
class LaneLimits:
    """Widest width and largest frac of the data formats (operands a, b, d, e, the
    pre-activation), of the constants (operand c) and the largest accumulator frac
    (drain's a, acc_add's d and a); ``const_int`` bounds a constant's integer bits
    (width - frac: adam_w's eps, hence the divider's width).  The default is the widest lane (48-bit data and
    constants, fracs up to 48, accumulator fracs up to 96)."""

    data_width: int = MAX_DATA_WIDTH
    data_frac: int = MAX_DATA_FRAC
    const_width: int = MAX_DATA_WIDTH
    const_frac: int = MAX_DATA_FRAC
    const_int: int = MAX_DATA_WIDTH           # the most integer bits (width - frac)
    acc_frac: int = 2 * MAX_DATA_FRAC

    def __post_init__(self) -> None:
        for name, low, high in (("data_width", 2, MAX_DATA_WIDTH),
                                ("data_frac", 0, MAX_DATA_FRAC),
                                ("const_width", 2, MAX_DATA_WIDTH),
                                ("const_frac", 0, MAX_DATA_FRAC),
                                ("const_int", 0, MAX_DATA_WIDTH),
                                ("acc_frac", 0, 2 * MAX_DATA_FRAC)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"LaneLimits.{name}: {value!r} is outside the widest lane "
                                 f"({low}..{high})")

    def refuse(self, role: str, kind: str, fmt) -> str | None:
        """Why a format of operand ``role`` (kind "data" or "acc") is beyond this lane,
        or None."""
        if kind == "acc":
            if fmt.frac > self.acc_frac:
                return (f"accumulator fracs must be <= {self.acc_frac} in this lane "
                        f"(generated for {self})")
            return None
        width, frac = ((self.const_width, self.const_frac) if role == "c"
                       else (self.data_width, self.data_frac))
        if fmt.width > width or fmt.frac > frac:
            kind_name = "constant" if role == "c" else "data"
            return (f"{kind_name} formats need width <= {width} and frac <= {frac} in this "
                    f"lane (generated for {self})")
        if role == "c" and fmt.width - fmt.frac > self.const_int:
            return (f"constant formats need at most {self.const_int} integer bits (width - "
                    f"frac) in this lane (generated for {self})")
        return None

    def covers(self, other: "LaneLimits") -> bool:
        """Whether this lane computes every format ``other`` allows."""
        return all(getattr(self, k) >= getattr(other, k) for k in
                   ("data_width", "data_frac", "const_width", "const_frac", "const_int",
                    "acc_frac"))

    def __str__(self) -> str:
        return (f"data {self.data_width} bits / frac {self.data_frac}, constants "
                f"{self.const_width} bits / frac {self.const_frac} / {self.const_int} integer "
                f"bits, accumulator frac "
                f"{self.acc_frac}")


WIDEST = LaneLimits()
