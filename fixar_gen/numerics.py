"""Fixed-point numerics: the one format type and exact integer arithmetic on raw values.

This module owns
- :class:`FixedFormat`, the frozen value type every part of fixar_gen uses to name a
  fixed-point format (width, fraction bits, signedness, rounding, overflow);
- conversion between floats and raw integers (:meth:`FixedFormat.quantize`,
  :meth:`FixedFormat.to_float`) and between formats (:meth:`FixedFormat.requantize`),
  with overflow counts for the saturation counters (the ``*_counted`` twins);
- format arithmetic: :meth:`FixedFormat.add`, :func:`multiply`;
- :class:`WideInt`, exact signed integers wider than 64 bits (accumulators), and
  :func:`exact_matmul`, an exact integer matrix product run on float64 BLAS by splitting
  operands into 16-bit limbs, as the PE splits a 32-bit word into 16-bit halves.

Raw values are numpy ``int64`` arrays holding ``value * 2**frac``.  Apart from
``quantize``/``to_float`` and the exact-by-construction BLAS trick, no float is ever
used, and no result is ever computed through float32.  docs/numerics.md explains the
rules with worked examples.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

#: truncate = floor (toward -inf); toward_zero drops the magnitude's fraction (a value
#: that is not already on the grid moves toward 0: what decays under repeated scaling by
#: a factor below 1, e.g. Adam's first moment, docs/numerics.md)
ROUNDING_MODES = ("nearest_even", "nearest_up", "truncate", "toward_zero")
OVERFLOW_MODES = ("saturate", "wrap")

MAX_WIDTH = 64
MAX_ABS_FRAC = 256
LIMB_BITS = 16                     # exact_matmul operand limb, like the PE's 32x16 multipliers
MATMUL_MAX_K = 2 ** 21             # K * 2**32 <= 2**53: every BLAS partial sum is exact

_MASK32 = (1 << 32) - 1
_MASK16 = (1 << 16) - 1


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _as_raw(q, what: str = "raw values") -> np.ndarray:
    """Raw integers as an int64 array; floats are refused (they would hide a bug)."""
    arr = np.asarray(q)
    kind = arr.dtype.kind
    if kind == "i":
        return arr.astype(np.int64, copy=False)
    if kind == "u":
        if arr.dtype.itemsize == 8 and arr.size and int(arr.max()) > np.iinfo(np.int64).max:
            raise ValueError(f"{what}: uint64 value {int(arr.max())} does not fit int64")
        return arr.astype(np.int64)
    if kind == "O":
        try:
            return arr.astype(np.int64)
        except (OverflowError, TypeError) as exc:
            raise ValueError(f"{what}: object array is not all int64-range integers ({exc})") from None
    raise ValueError(f"{what}: expected integers, got dtype {arr.dtype}")


def _check_rounding(rounding, where: str) -> None:
    if rounding not in ROUNDING_MODES:
        raise ValueError(f"{where}: {rounding!r} is not one of {', '.join(ROUNDING_MODES)}")


def _check_overflow(overflow, where: str) -> None:
    if overflow not in OVERFLOW_MODES:
        raise ValueError(f"{where}: {overflow!r} is not one of {', '.join(OVERFLOW_MODES)}")


# --------------------------------------------------------------------------- int64 kernels

def _shl_mod64(q: np.ndarray, shift: int) -> np.ndarray:
    """(q * 2**shift) mod 2**64 as int64 (two's complement); any shift >= 0."""
    if shift >= 64:
        return np.zeros_like(q)
    return (q.view(np.uint64) << np.uint64(shift)).view(np.int64)


def _wrap_bits(q: np.ndarray, width: int, signed: bool) -> np.ndarray:
    """q mod 2**width, read as a signed or unsigned width-bit integer."""
    if signed and width == 64:
        return q.copy()
    low = q & np.int64((1 << width) - 1)
    if not signed:
        return low
    sign_bit = np.int64(1 << (width - 1))
    return (low ^ sign_bit) - sign_bit


def _round_shift_right(q: np.ndarray, shift: int, rounding: str) -> np.ndarray:
    """q / 2**shift rounded by `rounding`, for shift >= 1 (floor and remainder, no q + half)."""
    if shift >= 64:
        # |q / 2**shift| <= 1/2, equal only for q = -2**63, shift = 64, where both
        # nearest modes give 0 (-0.5 rounds up to 0, and 0 is even); so does toward_zero.
        return q >> np.int64(63) if rounding == "truncate" else np.zeros_like(q)
    floor = q >> np.int64(shift)
    if rounding == "truncate":
        return floor
    rem = q & np.int64((1 << shift) - 1)
    half = np.int64(1 << (shift - 1))
    if rounding == "toward_zero":
        up = (floor < 0) & (rem != 0)
    elif rounding == "nearest_up":
        up = rem >= half
    else:
        up = (rem > half) | ((rem == half) & ((floor & np.int64(1)) == 1))
    return floor + up.astype(np.int64)         # |floor| <= 2**62: no overflow


def _fit(q: np.ndarray, fmt: "FixedFormat") -> tuple[np.ndarray, int]:
    over = q > fmt.max_int
    under = q < fmt.min_int
    count = int(np.count_nonzero(over) + np.count_nonzero(under))
    if fmt.overflow == "saturate":
        out = np.where(over, np.int64(fmt.max_int), np.where(under, np.int64(fmt.min_int), q))
    else:
        out = _wrap_bits(q, fmt.width, fmt.signed)
    return out.astype(np.int64, copy=False), count


def _shift_left_fit(q: np.ndarray, shift: int, to: "FixedFormat") -> tuple[np.ndarray, int]:
    """q * 2**shift brought into `to`'s range, overflow decided before shifting."""
    hi = to.max_int >> shift                   # q * 2**shift <= max_int  <=>  q <= hi
    lo = -((-to.min_int) >> shift)             # q * 2**shift >= min_int  <=>  q >= lo
    over = q > hi
    under = q < lo
    count = int(np.count_nonzero(over) + np.count_nonzero(under))
    if to.overflow == "saturate":
        inside = _shl_mod64(np.where(over | under, np.int64(0), q), shift)   # exact: in range
        out = np.where(over, np.int64(to.max_int), np.where(under, np.int64(to.min_int), inside))
    else:
        out = _wrap_bits(_shl_mod64(q, shift), to.width, to.signed)         # 2**width | 2**64
    return out, count


def _requantize(q: np.ndarray, frac: int, to: "FixedFormat") -> tuple[np.ndarray, int]:
    """Raw int64 values with `frac` fraction bits, requantised to `to`, plus overflow count."""
    shift = frac - to.frac
    if shift > 0:
        return _fit(_round_shift_right(q, shift, to.rounding), to)
    if shift < 0:
        return _shift_left_fit(q, -shift, to)
    return _fit(q, to)


def _entry(q) -> tuple[np.ndarray, tuple]:
    """int64 view with at least one dimension (ufuncs on 0-d arrays return scalars)."""
    arr = _as_raw(q)
    return np.atleast_1d(arr), arr.shape


# --------------------------------------------------------------------------- FixedFormat

@dataclass(frozen=True)
class FixedFormat:
    """A fixed-point format: raw integer q stands for q * 2**-frac.

    ``width`` counts every bit including the sign; ``frac`` may be negative or exceed
    ``width`` (scaled formats).  Signed formats hold [-2**(width-1), 2**(width-1) - 1],
    unsigned ones [0, 2**width - 1] (width <= 63, since raw values are int64).
    ``rounding`` decides dropped fraction bits, ``overflow`` what happens out of range.
    """

    width: int
    frac: int
    signed: bool = True
    rounding: str = "nearest_even"
    overflow: str = "saturate"

    def __post_init__(self):
        for name in ("width", "frac"):
            value = getattr(self, name)
            if not _is_int(value):
                raise ValueError(f"FixedFormat.{name}: {value!r} is not an integer")
            object.__setattr__(self, name, int(value))
        if not isinstance(self.signed, (bool, np.bool_)):
            raise ValueError(f"FixedFormat.signed: {self.signed!r} is not a bool (True or False)")
        object.__setattr__(self, "signed", bool(self.signed))
        if not 1 <= self.width <= MAX_WIDTH:
            raise ValueError(f"FixedFormat.width: {self.width} is not in 1..{MAX_WIDTH}")
        if self.signed and self.width < 2:
            raise ValueError(f"FixedFormat.width: {self.width} is too narrow for a signed format "
                             "(signed needs width 2..64)")
        if not self.signed and self.width > 63:
            raise ValueError(f"FixedFormat.width: {self.width} is too wide for an unsigned format "
                             "(raw values are int64, so unsigned allows width 1..63)")
        if not -MAX_ABS_FRAC <= self.frac <= MAX_ABS_FRAC:
            raise ValueError(f"FixedFormat.frac: {self.frac} is not in "
                             f"{-MAX_ABS_FRAC}..{MAX_ABS_FRAC}")
        _check_rounding(self.rounding, "FixedFormat.rounding")
        _check_overflow(self.overflow, "FixedFormat.overflow")

    def __str__(self) -> str:
        return f"{'Q' if self.signed else 'UQ'}{self.width - self.frac}.{self.frac}"

    def with_(self, **changes) -> "FixedFormat":
        """A copy with some fields changed (validated like a new format)."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise TypeError(f"FixedFormat.with_: unknown field(s) {', '.join(unknown)}; "
                            f"fields are {', '.join(f.name for f in dataclasses.fields(self))}")
        return dataclasses.replace(self, **changes)

    # -- range
    @property
    def min_int(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_int(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def step(self) -> float:
        """Value of one LSB, 2**-frac."""
        return 2.0 ** -self.frac

    @property
    def min_value(self) -> float:
        return float(np.ldexp(float(self.min_int), -self.frac))

    @property
    def max_value(self) -> float:
        """max_int * step as a float (rounded to float64 when width > 53)."""
        return float(np.ldexp(float(self.max_int), -self.frac))

    # -- float conversion
    def quantize(self, x) -> np.ndarray:
        """Floats -> raw int64: x * 2**frac rounded by `rounding`, then fitted by `overflow`."""
        return self.quantize_counted(x)[0]

    def quantize_counted(self, x) -> tuple[np.ndarray, int]:
        """quantize, plus the number of elements out of range (saturated or wrapped)."""
        x = np.asarray(x, dtype=np.float64)      # float32 -> float64 is exact
        shape = x.shape
        x = np.atleast_1d(x)
        if np.isnan(x).any():
            raise ValueError(f"quantize to {self}: input contains NaN")
        infinite = np.isinf(x)
        if self.overflow == "wrap" and infinite.any():
            raise ValueError(f"quantize to {self}: cannot wrap an infinite input "
                             "(use overflow='saturate')")
        with np.errstate(over="ignore", under="ignore"):
            y = np.ldexp(x, self.frac)           # exact unless it overflows or goes subnormal
        huge = np.isinf(y)                       # |x * 2**frac| >= 2**1024 (or x was inf)
        y = np.where(huge, 0.0, y)
        if self.rounding == "truncate":
            r = np.floor(y)
            # a tiny negative value may underflow to -0.0; its floor is still -1
            r = np.where((r == 0) & (x < 0) & ~huge, -1.0, r)
        elif self.rounding == "nearest_even":
            r = np.rint(y)                       # IEEE round-half-even, exact
        elif self.rounding == "toward_zero":
            r = np.trunc(y)
        else:
            f = np.floor(y)
            r = f + (y - f >= 0.5)               # y - floor(y) decides correctly; no y + 0.5
        bound = 2.0 ** (self.width - 1) if self.signed else 2.0 ** self.width
        over = (r >= bound) | (huge & (x > 0))
        under = (r < float(self.min_int)) | (huge & (x < 0))
        count = int(np.count_nonzero(over) + np.count_nonzero(under))
        if self.overflow == "saturate":
            inside = np.where(over | under, 0.0, r).astype(np.int64)
            out = np.where(over, np.int64(self.max_int),
                           np.where(under, np.int64(self.min_int), inside))
        else:
            # A finite x with |x * 2**frac| >= 2**1024 is a multiple of 2**971: wraps to 0.
            m = np.fmod(r, 2.0 ** self.width)    # exact in IEEE; |m| < 2**width
            if self.signed:
                half = 2.0 ** (self.width - 1)
                m = np.where(m >= half, m - 2.0 ** self.width, m)    # exact (Sterbenz)
                m = np.where(m < -half, m + 2.0 ** self.width, m)
                out = m.astype(np.int64)
            else:
                out = m.astype(np.int64) & np.int64(self.max_int)
        return out.astype(np.int64, copy=False).reshape(shape), count

    def to_float(self, q) -> np.ndarray:
        """Raw ints -> float64 q * 2**-frac; exact when |q| < 2**53, else correctly rounded."""
        return np.asarray(np.ldexp(_as_raw(q).astype(np.float64), -self.frac))

    # -- integer operations
    def requantize(self, q, to: "FixedFormat") -> np.ndarray:
        """Raw ints in self -> raw ints in `to` (to.rounding, to.overflow); exact, no float."""
        return self.requantize_counted(q, to)[0]

    def requantize_counted(self, q, to: "FixedFormat") -> tuple[np.ndarray, int]:
        if not isinstance(to, FixedFormat):
            raise ValueError(f"requantize: `to` must be a FixedFormat, got {to!r}")
        arr, shape = _entry(q)
        out, count = _requantize(arr, self.frac, to)
        return out.reshape(shape), count

    def fit(self, q) -> np.ndarray:
        """Any int64 values brought into this format's range by its overflow mode."""
        return self.fit_counted(q)[0]

    def fit_counted(self, q) -> tuple[np.ndarray, int]:
        arr, shape = _entry(q)
        out, count = _fit(arr, self)
        return out.reshape(shape), count

    def add(self, a, b) -> np.ndarray:
        """a + b (raw values of this format), fitted to this format; exact even at width 64."""
        return self.add_counted(a, b)[0]

    def add_counted(self, a, b) -> tuple[np.ndarray, int]:
        a_arr, b_arr = np.broadcast_arrays(_as_raw(a, "add: a"), _as_raw(b, "add: b"))
        shape = a_arr.shape
        a_arr, b_arr = np.atleast_1d(a_arr), np.atleast_1d(b_arr)
        total = (a_arr.view(np.uint64) + b_arr.view(np.uint64)).view(np.int64)   # mod 2**64
        carried = ((a_arr ^ total) & (b_arr ^ total)) < 0      # the int64 sum overflowed
        fitted, count = _fit(total, self)
        if carried.any():
            if self.overflow == "saturate":
                # the true sum is beyond int64, so beyond the format, on a's side
                fitted = np.where(carried, np.where(a_arr < 0, np.int64(self.min_int),
                                                    np.int64(self.max_int)), fitted)
            # wrap: total == true sum mod 2**64, and 2**width divides 2**64: already right
            in_range = (total >= self.min_int) & (total <= self.max_int)
            count += int(np.count_nonzero(carried & in_range))
        return fitted.reshape(shape), count


def multiply(a, fa: FixedFormat, b, fb: FixedFormat, to: FixedFormat) -> np.ndarray:
    """a * b: the exact product (fa.frac + fb.frac fraction bits) requantised to `to`."""
    return multiply_counted(a, fa, b, fb, to)[0]


def multiply_counted(a, fa: FixedFormat, b, fb: FixedFormat,
                     to: FixedFormat) -> tuple[np.ndarray, int]:
    """multiply, plus the number of products that overflowed `to`."""
    if fa.width + fb.width > 64 or (not fa.signed and not fb.signed and fa.width + fb.width > 63):
        raise ValueError(f"multiply: {fa} x {fb} needs {fa.width + fb.width} product bits; "
                         "the exact int64 product allows fa.width + fb.width <= 64 "
                         "(63 when both are unsigned)")
    a_arr, b_arr = np.broadcast_arrays(_as_raw(a, "multiply: a"), _as_raw(b, "multiply: b"))
    for name, arr, fmt in (("a", a_arr, fa), ("b", b_arr, fb)):
        if arr.size and (arr.min() < fmt.min_int or arr.max() > fmt.max_int):
            raise ValueError(f"multiply: {name} has values outside {fmt} "
                             f"[{fmt.min_int}, {fmt.max_int}]")
    shape = a_arr.shape
    product = np.atleast_1d(a_arr) * np.atleast_1d(b_arr)          # exact: fits int64
    out, count = _requantize(product, fa.frac + fb.frac, to)
    return out.reshape(shape), count


# --------------------------------------------------------------------------- WideInt

class WideInt:
    """Exact signed integers of any width, element-wise over a numpy shape.

    value = sum(limbs[i] * 2**(32*i)): every limb is an int64 array; the lower limbs hold
    [0, 2**32), the top limb is signed in [-2**31, 2**31).  The limb count grows and
    shrinks as needed (at least two's complement width of the widest element).  With two
    limbs this is value = hi * 2**32 + lo; the ``hi``/``lo`` properties give that view.
    """

    __slots__ = ("_limbs",)
    __array_ufunc__ = None            # `int64 array + WideInt` comes to __radd__, not numpy

    def __init__(self, limbs):
        """From int64 limb arrays of any sign with |limb| < 2**62 (carries are propagated)."""
        limbs = [np.asarray(l, dtype=np.int64) for l in limbs]
        if not limbs:
            raise ValueError("WideInt: at least one limb is needed")
        limbs = [l.copy() for l in np.broadcast_arrays(*limbs)]
        for i in range(len(limbs) - 1):
            carry = limbs[i] >> np.int64(32)
            limbs[i] &= np.int64(_MASK32)
            limbs[i + 1] += carry
        while np.any((limbs[-1] < -(1 << 31)) | (limbs[-1] >= (1 << 31))):
            top = limbs[-1]
            limbs[-1] = top & np.int64(_MASK32)
            limbs.append(top >> np.int64(32))
        while len(limbs) > 1:                      # drop pure sign-extension limbs
            top, below = limbs[-1], limbs[-2]
            upper_half = below >= (1 << 31)
            if not np.all(np.where(upper_half, top == -1, top == 0)):
                break
            limbs.pop()
            limbs[-1] = np.where(upper_half, below - np.int64(1 << 32), below)
        self._limbs = tuple(limbs)

    # -- construction and inspection
    @classmethod
    def from_int64(cls, x) -> "WideInt":
        x = _as_raw(x)
        return cls([x & np.int64(_MASK32), x >> np.int64(32)])

    @classmethod
    def from_python(cls, obj) -> "WideInt":
        """From (object arrays of) Python ints of any size; meant for tests."""
        arr = np.asarray(obj, dtype=object)
        values = [int(v) for v in arr.flat]
        bits = max((v.bit_length() for v in values), default=0) + 1
        n = max(1, -(-bits // 32))
        limbs = [np.array([(v >> (32 * i)) & _MASK32 for v in values], dtype=np.int64)
                 for i in range(n - 1)]
        limbs.append(np.array([v >> (32 * (n - 1)) for v in values], dtype=np.int64))
        return cls([l.reshape(arr.shape) for l in limbs])

    @classmethod
    def _const(cls, value: int, shape) -> "WideInt":
        return cls([np.full(shape, l, dtype=np.int64) for l in cls.from_python(value)._limbs])

    @property
    def limbs(self) -> tuple[np.ndarray, ...]:
        return self._limbs

    @property
    def shape(self) -> tuple:
        return self._limbs[0].shape

    @property
    def lo(self) -> np.ndarray:
        """value mod 2**32 (the lo of value = hi * 2**32 + lo)."""
        return self._limbs[0] & np.int64(_MASK32)

    @property
    def hi(self) -> np.ndarray:
        """value >> 32 as int64; OverflowError if some element needs more than 96 bits."""
        limbs = self._limbs
        if len(limbs) == 1:
            return limbs[0] >> np.int64(32)
        if len(limbs) == 2:
            return limbs[1].copy()
        if len(limbs) == 3:                       # top limb in [-2**31, 2**31): fits
            return limbs[1] | (limbs[2] << np.int64(32))
        raise OverflowError(f"WideInt.hi: value needs {32 * len(limbs)} bits, hi is int64")

    def to_python(self) -> np.ndarray:
        """Object ndarray of Python ints (for tests)."""
        columns = [l.ravel().tolist() for l in self._limbs]
        out = np.empty(len(columns[0]), dtype=object)
        out[:] = [sum(int(c[k]) << (32 * i) for i, c in enumerate(columns))
                  for k in range(len(columns[0]))]
        return out.reshape(self.shape)

    def __repr__(self) -> str:
        return f"WideInt({self.to_python()!r})"

    # -- arithmetic
    def _padded(self, n: int) -> list[np.ndarray]:
        limbs = list(self._limbs)
        if n > len(limbs):
            sign = limbs[-1] >> np.int64(63)
            limbs[-1] = limbs[-1] & np.int64(_MASK32)
            limbs += [sign & np.int64(_MASK32) for _ in range(n - len(limbs) - 1)] + [sign]
        return limbs

    @staticmethod
    def _coerce(other) -> "WideInt":
        return other if isinstance(other, WideInt) else WideInt.from_int64(other)

    def __add__(self, other) -> "WideInt":
        other = self._coerce(other)
        n = max(len(self._limbs), len(other._limbs)) + 1
        return WideInt([x + y for x, y in zip(self._padded(n), other._padded(n))])

    __radd__ = __add__

    def __neg__(self) -> "WideInt":
        return WideInt([-l for l in self._padded(len(self._limbs) + 1)])

    def __sub__(self, other) -> "WideInt":
        return self + (-self._coerce(other))

    def __rsub__(self, other) -> "WideInt":
        return self._coerce(other) + (-self)

    @staticmethod
    def where(mask, a: "WideInt", b: "WideInt") -> "WideInt":
        """Element-wise choice, like np.where."""
        n = max(len(a._limbs), len(b._limbs))
        return WideInt([np.where(mask, x, y) for x, y in zip(a._padded(n), b._padded(n))])

    def _negative(self) -> np.ndarray:
        return self._limbs[-1] < 0

    def _compare(self, value: int) -> tuple[np.ndarray, np.ndarray]:
        """(self < value, self > value) element-wise, for a Python int value."""
        diff = self - WideInt._const(value, self.shape)
        less = diff._negative()
        zero = np.logical_and.reduce([l == 0 for l in diff._limbs])
        return less, ~less & ~zero

    def _bit(self, k: int) -> np.ndarray:
        """Bit k of the two's complement value (0 or 1)."""
        i, o = divmod(k, 32)
        if i < len(self._limbs) - 1:
            return (self._limbs[i] >> np.int64(o)) & np.int64(1)
        top_shift = min(k - 32 * (len(self._limbs) - 1), 63)
        return (self._limbs[-1] >> np.int64(top_shift)) & np.int64(1)

    def _any_low_bits(self, k: int) -> np.ndarray:
        """Whether any of bits [0, k) is set."""
        found = np.zeros(self.shape, dtype=bool)
        for i, limb in enumerate(self._limbs):
            count = min(max(k - 32 * i, 0), 32)
            if count:
                found |= (limb & np.int64((1 << count) - 1)) != 0
        # Bits above the top limb copy its sign bit (bit 31), which the loop already saw.
        return found

    def _floor_shift(self, shift: int) -> "WideInt":
        whole, bits = divmod(shift, 32)
        if whole >= len(self._limbs):
            return WideInt([self._limbs[-1] >> np.int64(63)])
        src = self._limbs[whole:]
        low_mask = np.int64((1 << bits) - 1)
        out = [(src[j] >> np.int64(bits)) | ((src[j + 1] & low_mask) << np.int64(32 - bits))
               for j in range(len(src) - 1)]
        out.append(src[-1] >> np.int64(bits))
        return WideInt(out)

    def shift_round(self, shift: int, rounding: str) -> "WideInt":
        """self / 2**shift (shift >= 0) rounded by `rounding`, exactly."""
        if not _is_int(shift) or shift < 0:
            raise ValueError(f"WideInt.shift_round: shift {shift!r} is not an integer >= 0")
        _check_rounding(rounding, "WideInt.shift_round: rounding")
        if shift == 0:
            return self
        floor = self._floor_shift(int(shift))
        if rounding == "truncate":
            return floor
        half_bit = self._bit(shift - 1) == 1
        if rounding == "toward_zero":
            up = (self._limbs[-1] < 0) & self._any_low_bits(shift)
        elif rounding == "nearest_up":
            up = half_bit
        else:
            odd = (floor._limbs[0] & np.int64(1)) == 1
            up = half_bit & (self._any_low_bits(shift - 1) | odd)
        return floor + WideInt([up.astype(np.int64)])

    def _low64(self) -> np.ndarray:
        """value mod 2**64 as int64 (two's complement)."""
        if len(self._limbs) == 1:
            return self._limbs[0].copy()
        hi = self._limbs[1].view(np.uint64) << np.uint64(32)
        return (hi | self._limbs[0].view(np.uint64)).view(np.int64)

    def to_format(self, frac: int, to: FixedFormat) -> tuple[np.ndarray, int]:
        """This value read with `frac` fraction bits, requantised to `to`, plus overflow count."""
        if not _is_int(frac):
            raise ValueError(f"WideInt.to_format: frac {frac!r} is not an integer")
        if not isinstance(to, FixedFormat):
            raise ValueError(f"WideInt.to_format: `to` must be a FixedFormat, got {to!r}")
        shift = int(frac) - to.frac
        value = self.shift_round(shift, to.rounding) if shift > 0 else self
        left = max(0, -shift)
        hi = to.max_int >> left
        lo = -((-to.min_int) >> left)
        _, over = value._compare(hi)
        under, _ = value._compare(lo)
        count = int(np.count_nonzero(over) + np.count_nonzero(under))
        low = np.atleast_1d(value._low64())
        over, under = np.atleast_1d(over), np.atleast_1d(under)
        if to.overflow == "saturate":
            inside = _shl_mod64(np.where(over | under, np.int64(0), low), left)
            out = np.where(over, np.int64(to.max_int), np.where(under, np.int64(to.min_int), inside))
        else:
            out = _wrap_bits(_shl_mod64(low, left), to.width, to.signed)
        return out.reshape(self.shape), count

    def fit_width(self, width: int, overflow: str) -> tuple["WideInt", int]:
        """Saturate or wrap to a signed `width`-bit accumulator, plus overflow count."""
        if not _is_int(width) or width < 2:
            raise ValueError(f"WideInt.fit_width: width {width!r} is not an integer >= 2")
        _check_overflow(overflow, "WideInt.fit_width: overflow")
        width = int(width)
        lo, hi = -(1 << (width - 1)), (1 << (width - 1)) - 1
        under, _ = self._compare(lo)
        _, over = self._compare(hi)
        count = int(np.count_nonzero(over) + np.count_nonzero(under))
        if overflow == "saturate":
            shape = self.shape
            out = WideInt.where(over, WideInt._const(hi, shape),
                                WideInt.where(under, WideInt._const(lo, shape), self))
            return out, count
        n = -(-width // 32)
        limbs = self._padded(n)[:n]
        limbs = [l & np.int64(_MASK32) for l in limbs]
        top_bits = width - 32 * (n - 1)
        sign_bit = np.int64(1 << (top_bits - 1))
        limbs[-1] = ((limbs[-1] & np.int64((1 << top_bits) - 1)) ^ sign_bit) - sign_bit
        return WideInt(limbs), count


# --------------------------------------------------------------------------- exact matmul

def _operand(x, bits: int, name: str) -> np.ndarray:
    if not _is_int(bits) or not 1 <= bits <= 64:
        raise ValueError(f"exact_matmul: {name}_bits {bits!r} is not an integer in 1..64")
    return _as_raw(x, f"exact_matmul: {name}")


def _limbs16(x: np.ndarray, bits: int) -> list[np.ndarray]:
    """16-bit limbs as float64: lower ones unsigned [0, 2**16), the top one signed."""
    n = -(-bits // LIMB_BITS)
    limbs = [(x >> np.int64(LIMB_BITS * i)) & np.int64(_MASK16) for i in range(n - 1)]
    limbs.append(x >> np.int64(LIMB_BITS * (n - 1)))
    return [l.astype(np.float64) for l in limbs]


def exact_matmul(a, b, a_bits: int, b_bits: int) -> WideInt:
    """Exact integer a @ b for signed a_bits-bit a and b_bits-bit b (each <= 64 bits).

    Each operand is split into 16-bit limbs; every limb pair is one float64 BLAS matmul.
    A limb product is below 2**32 in magnitude, so with K <= 2**21 every partial sum of
    a classical sum-of-products stays below 2**53 and float64 is exact, in any summation
    order.  The limb results are recombined exactly into a WideInt.  Shapes follow
    np.matmul (1-D operands and stacked matrices too).
    """
    a = _operand(a, a_bits, "a")
    b = _operand(b, b_bits, "b")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError("exact_matmul: operands must have at least one dimension")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(f"exact_matmul: inner dimensions differ: a {a.shape} @ b {b.shape}")
    if k_a > MATMUL_MAX_K:
        raise ValueError(f"exact_matmul: K = {k_a} exceeds 2**21 = {MATMUL_MAX_K}; beyond it a "
                         "sum of 16-bit limb products (each below 2**32) may pass 2**53 and "
                         "float64 BLAS is no longer exact. Split K and add the WideInt results.")
    for name, x, bits in (("a", a, a_bits), ("b", b, b_bits)):
        lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        if x.size and (x.min() < lo or x.max() > hi):
            raise ValueError(f"exact_matmul: {name} has values outside signed {bits}-bit "
                             f"[{lo}, {hi}]: min {x.min()}, max {x.max()}")
    a_limbs, b_limbs = _limbs16(a, a_bits), _limbs16(b, b_bits)
    # digits[s] collects every limb pair with weight 2**(16 s); each term < 2**53, at most 4
    digits: list = [0] * (len(a_limbs) + len(b_limbs) - 1)
    for i, al in enumerate(a_limbs):
        for j, bl in enumerate(b_limbs):
            digits[i + j] = digits[i + j] + np.matmul(al, bl).astype(np.int64)
    digits = [np.asarray(d, dtype=np.int64) for d in digits]
    digits += [np.zeros_like(digits[0]) for _ in range(4)]   # room for the top carry
    for s in range(len(digits) - 1):                          # 16-bit carry propagation
        digits[s + 1] = digits[s + 1] + (digits[s] >> np.int64(LIMB_BITS))
        digits[s] = digits[s] & np.int64(_MASK16)
    if len(digits) % 2:
        digits.append(digits[-1] >> np.int64(63))             # sign digit
        digits[-2] = digits[-2] & np.int64(_MASK16)
    limbs = [digits[2 * k] + digits[2 * k + 1] * np.int64(1 << LIMB_BITS)
             for k in range(len(digits) // 2)]
    return WideInt(limbs)
