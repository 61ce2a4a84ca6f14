"""Quantization-aware training (QAT): when the core drops to FXP16 activations, and the
16-bit format each activation tensor gets.

FIXAR (after QuaRL) trains in 32-bit fixed point while the activation ranges are
monitored, then, after a quantization delay, quantizes activations to 16 bits with formats
chosen from the observed ranges; weights and gradients stay FXP32.  This module owns

- :func:`choose_format`: one tensor's 16-bit format from its observed range
  ``[lo, hi]`` (quantizer ``pow2`` or ``affine``, plus ``margin_bits`` of headroom);
- :class:`QATSchedule`: per DDPG update count, whether and when to switch a
  :class:`~fixar_gen.backends.Core` to FXP16, with the formats for every tensor of
  :func:`~fixar_gen.compiler.precision_keys` (the activations, and with
  ``numerics.fxp16_deltas`` the streamed backward deltas); :func:`describe` for logs; a plain
  JSON ``state_dict`` so a resumed run switches identically.

Formats
-------
Every format is a signed binary-point :class:`~fixar_gen.numerics.FixedFormat` of
exactly ``width`` bits (``numerics.fxp16_width``) with the spec's rounding and overflow.
A format *holds* a value when quantizing it does not overflow (rounding included, so
``Q1.15`` holds -1.0 but not +1.0).  ``frac`` is clamped to ``[0, 2 * width]``
(:func:`frac_limits`; ``[0, 32]`` for 16 bits).  The lower bound is the cores': a layer
adds its bias (weight format) to the accumulator whose fraction bits are
``frac(A16) + frac(weight)``, so a negative ``frac(A16)`` cannot be aligned (the golden
model refuses it).  ``frac = 0`` spans ``+-2**(width - 1)``, +-32768 at 16 bits, which
is the whole range of the default FXP32 activation format Q16.16 the ranges are
monitored in.  The upper bound ``2 * width`` is a step of ``2**-(2 width)``, far finer
than the FXP32 step every hidden activation has already been rounded to.  A range too
large for ``frac = 0`` (with its margin) gets ``frac = 0`` and saturates beyond it
(counted by the core); a range too small for the upper clamp gets ``frac = 2 width``
(it is held, just not with the finest possible step).

``pow2``: the finest format holding ``2**margin_bits * lo`` and ``2**margin_bits * hi``:
the integer bits (sign included) needed for ``max(|lo|, |hi|)``, plus ``margin_bits``,
the rest fraction.  One more fraction bit would overflow on the scaled range.

``affine``: see the limitation below.

An all-zero range (``lo == hi == 0``, e.g. a ReLU layer that never fired) carries no
scale: both quantizers treat it as the unit range ``[-1, 1]`` (``Q2.14`` at 16 bits
without margin, ``Q3.13`` with one margin bit).  A dead ReLU layer stays at zero in any
format; a tensor that wakes up later gets the scale of a normalised activation.

LIMITATION: ``affine`` is an approximation of FIXAR's quantizer, not that quantizer
-------------------------------------------------------------------------------------
FIXAR quantizes an activation A as ``Q(A) = floor(A / delta) + z`` with
``delta = (|Amin| + |Amax|) / 2**16`` and a zero point ``z``: any real step, 2**16 codes
laid over ``[Amin, Amax]``.  Our cores only implement power-of-two steps with zero point
0 (a binary point; the PE shifts, it does not subtract ``z`` or multiply by ``delta``).
``affine`` here picks the finest binary-point format such that

1. its step is at least FIXAR's step times the margin, ``2**-frac >= delta * 2**margin_bits``
   with ``delta = (|lo| + |hi|) / 2**width`` (FIXAR's formula, computed exactly), and
2. it holds ``lo`` and ``hi`` (so it is never finer than a format that would clip the
   observed range, and never coarser than needed for 1 and 2).

How this differs from FIXAR's quantizer:

- The step is a power of two ``>= delta``, not ``delta``: up to 2x coarser (one bit).
- No zero point: the codes are centred on 0, not laid over ``[lo, hi]``.  A format that
  holds ``[lo, hi]`` needs a step of about ``max(|lo|, |hi|) / 2**(width-1)``, which is
  at least ``delta`` (the larger magnitude is at least the mean of the two).  So
  condition 1 does not bind without margin: with ``margin_bits = 0``, ``affine`` chooses
  the ``pow2`` format.  (One exception: an all-negative range whose ends both round into
  the most negative code, e.g. ``[-1.25, -1]`` at 2 bits, is held by a step up to a
  factor ``1 + 2**-width`` below ``delta``; ``affine`` then keeps its step ``>= delta``
  and takes one bit less than ``pow2``.)  For a one-sided range (ReLU outputs
  ``[0, hi]``, Q values that are all negative) half of the codes go unused, another
  factor of up to 2 against FIXAR's ``delta``: in all, up to 4x (two bits) coarser than
  FIXAR.
- The margin scales FIXAR's ``delta`` (the span of the 2**width codes is ``2**margin_bits``
  times ``|lo| + |hi|``), whereas ``pow2`` scales the magnitude ``max(|lo|, |hi|)``.  For
  ranges symmetric about zero the two agree; for one-sided ranges ``affine`` keeps one
  more fraction bit than ``pow2`` (its headroom above the range is smaller: the range may
  grow to about ``2**margin_bits`` times its span, centred on zero, before saturating).
- Rounding is the spec's (``nearest_even`` by default); FIXAR floors (``truncate`` here).
- FIXAR's ``|Amin| + |Amax|`` is the width of the range only when ``Amin <= 0 <= Amax``; we
  use the formula as written, as FIXAR does.
- Unsigned formats (which would give a ReLU output its sign bit back) are not used: every
  activation format stays signed, like the FXP32 activation format it replaces.

The schedule
------------
``precision: qat``: FXP32 until ``qat_delay`` updates have been done, then FXP16 with
formats from the ranges the core observed (``Core.read_ranges()``: every activation
tensor seen in training since the last reset, i.e. the whole FXP32 phase) merged with
what the host knows (below).  ``fxp32``: never switches.  ``fxp16`` (FIXAR's ablation,
where FXP16 from the start collapses): switches at the first call, before any update, so
nothing has been observed; each tensor then gets the format of the range the host and the
spec know for it, and otherwise :func:`default_format`, the FXP32 activation format
scaled to 16 bits with the same split of integer and fraction bits (Q16.16 -> Q8.8;
the uniform FXP16 precision of :func:`fixar_gen.estimate.fxp16_precision`).

What the host and spec know, merged (interval union) into the observed ranges:

- actions are in ``[-1, 1]`` (the Batch contract; exploration clamps) and travel in the
  actor output format and the action columns of ``critic.in``: both always include
  ``[-1, 1]``;
- ``host_ranges["states"]`` (e.g. the replay buffer's states) widens ``actor.in`` and
  ``critic.in``;
- ``host_ranges["rewards"]`` (as the core sees them, after ``reward_scale``): rewards and
  the Bellman target ``y = r + gamma (1 - done) Q'`` travel in the critic output format,
  which is monitored only for Q.  The critic output range is widened by the rewards and
  by the bound ``[r_lo + gamma min(0, q_lo), r_hi + gamma max(0, q_hi)]`` on y.  When no Q
  has been observed (``fxp16``) and ``gamma < 1``, Q's prior is the discounted-return
  bound ``[min(r_lo, 0), max(r_hi, 0)] / (1 - gamma)``;
- any activation key in ``host_ranges`` widens that tensor.

Without ``host_ranges["rewards"]`` the rewards must fit the observed Q range; a trainer
should pass its replay buffer's reward range.

Revisions after the switch
--------------------------
With ``numerics.qat_revise_every: 0`` (the default) the formats chosen at the switch are
kept: a tensor whose range later grows beyond its format saturates, and the core counts
every saturation (``core.stats.saturations``, per buffer; NUMERICS-NOTES, "after the
quantisation delay").  With ``qat_revise_every: K > 0`` the formats are revised after
every K updates in FXP16 (update counts ``switched_at + K``, ``+ 2K``, ...), from the
range monitors, which have observed every activation tensor in its current format since
the formats last changed (:func:`revise_formats`):

- the monitors hold quantized values, so a tensor that saturated shows a range that
  reaches its format's bound; such an end counts as twice the bound (the one integer bit
  it provably needed, the size of the overflow being unknown);
- each tensor's format is chosen from that range exactly as at the switch (the same
  quantizer, ``margin_bits``, and what the host knows: actions, states, rewards and the
  Bellman bound on the critic output, from the Q range of the window);
- a tensor gets the new format only when it is coarser than its current one: formats
  only widen.  That is the hysteresis: a range that shrinks for a while keeps its
  format, so a range that returns costs no saturation, and the formats cannot oscillate.
  Widening costs a tensor one bit of step per integer bit gained.

Deltas (``numerics.fxp16_deltas``): the hidden layers' backward deltas that the
backward-data products stream (:func:`~fixar_gen.compiler.delta_keys`) get 16-bit formats
too, chosen by the same quantizer and margin from the range of the 32-bit gradient each
is made from (``dz = dh * act'(z)``, ``|act'| <= 1``, so that range bounds the delta's).
Gradients shrink and grow over training, so at every revision a delta's format follows
its window's range both ways (the activations' only widen); a delta beyond its format
saturates (counted per buffer), like a gradient clipped element by element.  Before the
switch, and in ``fxp32``, the deltas have the gradient format.

When a format changes, the core's precision is set again (``Core.set_precision``: the
programs are compiled with the new formats, the usual path, and the range monitors
restart in them); otherwise the monitors keep accumulating.  A tensor at ``frac = 0``
cannot widen further and keeps saturating (counted).  Revisions depend only on the
update count and on the core's state, so they are deterministic.  Note that the
saturations of the window before a revision have already happened: revising bounds how
long a growing range saturates (at most K updates per integer bit, less with margin),
it does not prevent it.

Checkpoints: :meth:`QATSchedule.state_dict` is plain JSON data.  Pass the core
(``state_dict(core)``) so the ranges observed so far are saved (before the switch, and
after it when revisions are on: the window of the next revision): a resumed core may
start with fresh range monitors, and the schedule merges the saved ranges with the new
ones, so the switch and every revision see exactly the ranges of the uninterrupted run
(min/max is associative and idempotent, so a core whose monitors were restored as well
gives the same union, and the monitored values are exact).  After the switch, the
current formats are saved, with the revision log; the first
:meth:`~QATSchedule.maybe_switch` on a resumed core whose precision differs re-applies
them.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING, Mapping

import numpy as np

from ..compiler import Precision, is_delta_key, precision_keys
from ..numerics import OVERFLOW_MODES, ROUNDING_MODES, FixedFormat
from ..spec import PRECISIONS, QUANTIZERS, Spec

if TYPE_CHECKING:                                    # pragma: no cover
    from ..backends import Core

__all__ = ["HOST_INPUTS", "QATSchedule", "choose_format", "covers", "default_format",
           "describe", "frac_limits", "saturated_range"]

#: host-side quantities whose ranges :meth:`QATSchedule.maybe_switch` accepts
HOST_INPUTS = ("states", "actions", "rewards")

STATE_VERSION = 1
MAX_MARGIN_BITS = 64

Interval = tuple[float, float]


# --------------------------------------------------------------------------- formats

def frac_limits(width: int) -> tuple[int, int]:
    """The fraction bits :func:`choose_format` may choose for ``width``-bit formats:
    ``[0, 2 * width]`` (see the module docstring)."""
    return 0, 2 * width


def covers(fmt: FixedFormat, lo: float, hi: float) -> bool:
    """Whether ``fmt`` holds ``lo`` and ``hi``: quantizing them overflows nothing
    (rounding by ``fmt.rounding`` included)."""
    return fmt.quantize_counted(np.array([lo, hi], dtype=np.float64))[1] == 0


def _finest_frac(lo: float, hi: float, width: int, rounding: str, overflow: str,
                 f_min: int, f_max: int) -> int:
    """The largest frac in [f_min, f_max] whose width-bit format holds lo and hi, or
    f_min when none does.  Holding is monotone in frac (a coarser format holds all a
    finer one holds), so a frexp estimate plus a short walk finds it."""
    def holds(f: int) -> bool:
        return covers(FixedFormat(width, f, rounding=rounding, overflow=overflow), lo, hi)

    magnitude = max(abs(lo), abs(hi))
    _, e = math.frexp(magnitude)                     # magnitude < 2**e
    f = min(max(width - 1 - e, f_min), f_max)
    while f > f_min and not holds(f):
        f -= 1
    while f < f_max and holds(f + 1):
        f += 1
    return f


def _ceil_log2(x: Fraction) -> int:
    """The smallest c with 2**c >= x, for x > 0, exactly."""
    c = x.numerator.bit_length() - x.denominator.bit_length()
    while Fraction(2) ** c < x:
        c += 1
    while Fraction(2) ** (c - 1) >= x:
        c -= 1
    return c


def _check_range(lo, hi, where: str) -> tuple[float, float]:
    try:
        lo, hi = float(lo), float(hi)
    except (TypeError, ValueError):
        raise ValueError(f"{where}: range ({lo!r}, {hi!r}) is not a pair of numbers") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{where}: range ({lo}, {hi}) is not finite")
    if lo > hi:
        raise ValueError(f"{where}: range ({lo}, {hi}) has lo > hi")
    return lo, hi


def choose_format(lo: float, hi: float, width: int, quantizer: str = "pow2",
                  margin_bits: int = 0, rounding: str = "nearest_even",
                  overflow: str = "saturate") -> FixedFormat:
    """The ``width``-bit signed format for a tensor observed in ``[lo, hi]``.

    ``pow2``: the finest format holding ``2**margin_bits * [lo, hi]``.  ``affine``: the
    finest format holding ``[lo, hi]`` whose step is at least FIXAR's
    ``delta * 2**margin_bits``, ``delta = (|lo| + |hi|) / 2**width`` (see the module
    docstring for how that differs from FIXAR's affine quantizer).  ``frac`` is clamped to
    :func:`frac_limits`; an all-zero range is treated as ``[-1, 1]``.
    """
    lo, hi = _check_range(lo, hi, "choose_format")
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) \
            or not 2 <= width <= 64:
        raise ValueError(f"choose_format: width {width!r} is not an integer in 2..64")
    if quantizer not in QUANTIZERS:
        raise ValueError(f"choose_format: quantizer {quantizer!r} is not one of "
                         f"{', '.join(QUANTIZERS)}")
    if isinstance(margin_bits, bool) or not isinstance(margin_bits, (int, np.integer)) \
            or not 0 <= margin_bits <= MAX_MARGIN_BITS:
        raise ValueError(f"choose_format: margin_bits {margin_bits!r} is not an integer "
                         f"in 0..{MAX_MARGIN_BITS}")
    if rounding not in ROUNDING_MODES:
        raise ValueError(f"choose_format: rounding {rounding!r} is not one of "
                         f"{', '.join(ROUNDING_MODES)}")
    if overflow not in OVERFLOW_MODES:
        raise ValueError(f"choose_format: overflow {overflow!r} is not one of "
                         f"{', '.join(OVERFLOW_MODES)}")
    width, margin = int(width), int(margin_bits)
    if lo == 0.0 and hi == 0.0:
        lo, hi = -1.0, 1.0                           # no scale observed: the unit range
    f_min, f_max = frac_limits(width)
    if quantizer == "pow2":
        # holding 2**m x at frac f is holding x at frac f + m (the same raw integers)
        frac = _finest_frac(lo, hi, width, rounding, overflow,
                            f_min + margin, f_max + margin) - margin
    else:
        cover = _finest_frac(lo, hi, width, rounding, overflow, f_min, f_max)
        # 2**-f >= (|lo| + |hi|) * 2**(margin - width)  <=>  f <= width - margin - c
        step_bound = width - margin - _ceil_log2(Fraction(abs(lo)) + Fraction(abs(hi)))
        frac = min(cover, step_bound)
    frac = min(max(frac, f_min), f_max)
    return FixedFormat(width, frac, rounding=rounding, overflow=overflow)


def saturated_range(fmt: FixedFormat, lo: float, hi: float) -> Interval:
    """The range a revision chooses from, for a tensor monitored in ``fmt`` at
    ``[lo, hi]``: an end at (or beyond) the format's bound is taken as twice the bound
    (the tensor saturated there: it needed at least one more integer bit)."""
    lo, hi = _check_range(lo, hi, "saturated_range")
    if lo <= fmt.min_value:
        lo = 2.0 * fmt.min_value
    if hi >= fmt.max_value:
        hi = 2.0 * fmt.max_value
    return lo, hi


def default_format(spec: Spec, key: str = "") -> FixedFormat:
    """The FXP16 format of a tensor nothing is known about: the FXP32 activation format
    (a delta's: the gradient format) scaled to ``fxp16_width`` bits with the same split
    of integer and fraction bits (fraction bits rounded down; Q16.16 -> Q8.8, Q8.24 ->
    Q4.12)."""
    n = spec.numerics
    width = n.fxp16_width
    full = n.gradient if is_delta_key(key) else n.activation
    frac = (full.frac * width) // full.width
    return FixedFormat(width, frac, rounding=n.rounding, overflow=n.overflow)


def describe(precision: Precision) -> dict[str, str]:
    """``{key: "Q4.12", ...}`` for an FXP16 precision (log-friendly); ``{}`` for FXP32."""
    if precision.mode != "fxp16":
        return {}
    return {key: str(fmt) for key, fmt in precision.formats}


# --------------------------------------------------------------------------- schedule

def _union(a: Interval | None, b: Interval) -> Interval:
    return b if a is None else (min(a[0], b[0]), max(a[1], b[1]))


def _ranges_from_json(data, where: str) -> dict[str, Interval]:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a mapping of key -> [lo, hi], got {data!r}")
    out = {}
    for key, value in data.items():
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise ValueError(f"{where}: {key!r} -> {value!r} is not a [lo, hi] pair")
        out[str(key)] = _check_range(value[0], value[1], f"{where}[{key!r}]")
    return out


class QATSchedule:
    """When the core switches to FXP16 activations, and with which formats.

    Call :meth:`maybe_switch` before every DDPG update (and before the first one) with
    the number of updates done so far::

        schedule = QATSchedule(spec)
        for updates in range(total):
            if (p := schedule.maybe_switch(core, updates, {"rewards": replay.reward_range})):
                log(updates, describe(p))
            core.train_step(batch)

    ``qat``: switches at the first call with ``updates >= qat_delay`` (so exactly
    ``qat_delay`` updates run in FXP32); ``fxp16``: at the first call (update 0);
    ``fxp32``: never.  With ``qat_revise_every`` K > 0, the formats are revised at the
    calls with ``updates = switched_at + K, + 2K, ...`` (see the module docstring).
    """

    def __init__(self, spec: Spec):
        self.spec = spec
        n = spec.numerics
        self.mode: str = n.precision
        self.keys: list[str] = precision_keys(spec)
        self._formats: dict[str, FixedFormat] | None = None
        self._carried: dict[str, Interval] = {}      # ranges observed before a resume
        self.switched_at: int | None = None           # update count of the switch
        self.ranges: dict[str, Interval] = {}         # ranges the formats were chosen from
        self.revise_every: int = n.qat_revise_every
        #: every revision that changed a format: (update count, {key: new format})
        self.revisions: list[tuple[int, dict[str, str]]] = []
        self._revised_at: int | None = None           # update count of the last revision

    # -- queries -------------------------------------------------------------------------

    @property
    def switch_at(self) -> int | None:
        """The update count at which the schedule switches (None: never)."""
        return {"qat": self.spec.numerics.qat_delay, "fxp16": 0, "fxp32": None}[self.mode]

    @property
    def switched(self) -> bool:
        return self._formats is not None

    def due(self, updates: int) -> bool:
        """Whether the schedule is (or should by now be) in FXP16 after ``updates``."""
        at = self.switch_at
        return self.switched or (at is not None and updates >= at)

    @property
    def formats(self) -> dict[str, FixedFormat] | None:
        """The FXP16 format of every activation key, once switched."""
        return None if self._formats is None else dict(self._formats)

    @property
    def precision(self) -> Precision:
        """The precision the core runs at now: FXP32 before the switch."""
        if self._formats is None:
            return Precision()
        return Precision("fxp16", tuple((k, self._formats[k]) for k in self.keys))

    def describe(self) -> dict[str, str]:
        return describe(self.precision)

    def _out_key(self, net: str) -> str:
        return f"{net}.l{len(getattr(self.spec.networks, net).layer_sizes) - 2}"

    # -- the switch ------------------------------------------------------------------------

    def _observed(self, core: Core | None) -> dict[str, Interval]:
        ranges = dict(self._carried)
        # only training programs run range monitors: a core without updates has seen
        # nothing (and may not have allocated its monitors yet)
        if core is not None and core.updates > 0:
            for key, r in core.read_ranges().items():
                ranges[key] = _union(ranges.get(key), r)
        return ranges

    def choose_formats(self, observed: Mapping[str, Interval],
                       host_ranges: Mapping[str, Interval] | None = None
                       ) -> tuple[dict[str, FixedFormat], dict[str, Interval]]:
        """Every key's format from the observed ranges and what the host knows (see the
        module docstring); returns (formats, the range each format was chosen from;
        keys left to :func:`default_format` are absent)."""
        n, gamma = self.spec.numerics, self.spec.algorithm.gamma
        ranges = {k: _check_range(*r, f"observed[{k!r}]") for k, r in observed.items()
                  if k in self.keys}
        host = {}
        for key, r in (host_ranges or {}).items():
            if key not in HOST_INPUTS and key not in self.keys:
                raise ValueError(f"host_ranges: {key!r} is neither a host input "
                                 f"({', '.join(HOST_INPUTS)}) nor an activation key "
                                 f"({', '.join(self.keys)})")
            host[key] = _check_range(*r, f"host_ranges[{key!r}]")
        a_out, c_out = self._out_key("actor"), self._out_key("critic")
        for key in (a_out, "critic.in"):                 # actions are in [-1, 1]
            ranges[key] = _union(ranges.get(key), (-1.0, 1.0))
        if "states" in host:
            for key in ("actor.in", "critic.in"):
                ranges[key] = _union(ranges.get(key), host["states"])
        if "actions" in host:
            for key in (a_out, "critic.in"):
                ranges[key] = _union(ranges.get(key), host["actions"])
        if "rewards" in host:
            r_lo, r_hi = host["rewards"]
            q = ranges.get(c_out)
            if q is None and gamma < 1.0:                 # discounted-return bound on Q
                q = (min(r_lo, 0.0) / (1.0 - gamma), max(r_hi, 0.0) / (1.0 - gamma))
            out = _union(q, (r_lo, r_hi))
            if q is not None:                             # Bellman target y
                out = _union(out, (r_lo + gamma * min(0.0, q[0]),
                                   r_hi + gamma * max(0.0, q[1])))
            ranges[c_out] = out
        for key, r in host.items():
            if key in self.keys:
                ranges[key] = _union(ranges.get(key), r)
        formats = {}
        for key in self.keys:
            if key in ranges:
                formats[key] = choose_format(*ranges[key], n.fxp16_width, n.quantizer,
                                             n.margin_bits, n.rounding, n.overflow)
            else:
                formats[key] = default_format(self.spec, key)
        return formats, ranges

    def maybe_switch(self, core: Core, updates: int | None = None,
                     host_ranges: Mapping[str, Interval] | None = None) -> Precision | None:
        """Bring ``core`` to the precision the schedule prescribes after ``updates`` DDPG
        updates (default ``core.updates``).  When the switch is due, the formats are
        chosen from ``core.read_ranges()``, any ranges restored from a checkpoint and
        ``host_ranges`` (keys ``states``, ``actions``, ``rewards``, or activation keys;
        see the module docstring); afterwards they change only at a revision
        (:meth:`revision_due`, :meth:`revise_formats`), from the same sources.

        Returns the new Precision when it changed the core's precision (the switch, a
        revision that widened a format, or re-applying the formats to a fresh core after
        a resume), else None.  Parameters and
        optimizer state are kept (``Core.set_precision``), and the core's range
        monitors restart in the new formats.
        """
        if self.mode not in PRECISIONS:
            raise ValueError(f"QATSchedule: precision {self.mode!r} is not one of "
                             f"{', '.join(PRECISIONS)}")
        updates = core.updates if updates is None else int(updates)
        if not self.due(updates):
            return None
        if self._formats is None:
            self._formats, self.ranges = self.choose_formats(self._observed(core),
                                                             host_ranges)
            self.switched_at = updates
            self._carried = {}
        elif self.revision_due(updates):
            window = self._observed(core)
            self._revised_at = updates
            changed = self.revise_formats(window, host_ranges)
            if changed:
                self._formats.update(changed)
                self.revisions.append((updates, {k: str(f) for k, f in changed.items()}))
                self._carried = {}                   # the monitors restart (set_precision)
            else:
                self._carried = window               # the window goes on
        target = self.precision
        if core.precision == target:
            return None
        core.set_precision(target)
        return target

    # -- revisions -------------------------------------------------------------------------

    def revision_due(self, updates: int) -> bool:
        """Whether the formats are revised at the call with ``updates`` (after the switch,
        every ``qat_revise_every`` updates; once per update count)."""
        if not self.switched or not self.revise_every or updates == self._revised_at:
            return False
        done = updates - self.switched_at
        return done > 0 and done % self.revise_every == 0

    def revise_formats(self, window: Mapping[str, Interval],
                       host_ranges: Mapping[str, Interval] | None = None
                       ) -> dict[str, FixedFormat]:
        """The formats a revision changes, from the ranges observed in the current
        formats (``window``) and what the host knows: a tensor whose range end reaches
        its format's bound counts as saturated there (:func:`saturated_range`), every
        tensor's format is chosen as at the switch, and a key changes only to a coarser
        format (formats only widen).  Returns {key: new format} for the keys that change;
        keys without an observed range keep theirs."""
        if self._formats is None:
            raise ValueError("QATSchedule.revise_formats: not switched yet")
        # a delta's monitors fold the 32-bit gradient it is made from, which saturates
        # only in the gradient format: its range is the window's as read
        extended = {}
        for k, r in window.items():
            if k in self._formats:
                r = _check_range(*r, f"window[{k!r}]")
                extended[k] = r if is_delta_key(k) else saturated_range(self._formats[k], *r)
        chosen, ranges = self.choose_formats(extended, host_ranges)
        # the deltas follow their range both ways; the activations only widen
        return {k: chosen[k] for k in self.keys
                if k in ranges and (chosen[k].frac < self._formats[k].frac or
                                    (is_delta_key(k) and chosen[k] != self._formats[k]))}

    # -- checkpoints -----------------------------------------------------------------------

    def state_dict(self, core: Core | None = None) -> dict:
        """Plain JSON data.  Before the switch, pass the core so the ranges it observed
        so far are saved (a resumed core's monitors start empty)."""
        n = self.spec.numerics
        observed = self._observed(core) if not self.switched or self.revise_every else {}
        return {
            "version": STATE_VERSION,
            "mode": self.mode,
            "quantizer": n.quantizer,
            "margin_bits": n.margin_bits,
            "qat_delay": n.qat_delay,
            "width": n.fxp16_width,
            "switched": self.switched,
            "switched_at": self.switched_at,
            "formats": (None if self._formats is None else
                        {k: [self._formats[k].width, self._formats[k].frac]
                         for k in self.keys}),
            "ranges": {k: [lo, hi] for k, (lo, hi) in self.ranges.items()},
            "observed": {k: [lo, hi] for k, (lo, hi) in observed.items()},
            "revise_every": self.revise_every,
            "revised_at": self._revised_at,
            "revisions": [[u, dict(changed)] for u, changed in self.revisions],
        }

    def load_state_dict(self, state: Mapping) -> None:
        """Restore :meth:`state_dict` data (also after a JSON round trip).  The spec must
        agree with the one the state was saved under (mode, quantizer, margin, delay,
        width, activation keys)."""
        if not isinstance(state, Mapping):
            raise ValueError(f"QATSchedule.load_state_dict: expected a mapping, got {state!r}")
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"QATSchedule.load_state_dict: version {state.get('version')!r} "
                             f"is not {STATE_VERSION}")
        n = self.spec.numerics
        for field, mine in (("mode", self.mode), ("quantizer", n.quantizer),
                            ("margin_bits", n.margin_bits), ("qat_delay", n.qat_delay),
                            ("width", n.fxp16_width), ("revise_every", self.revise_every)):
            # a state saved before revisions existed has none: formats fixed (0)
            theirs = state.get(field, 0) if field == "revise_every" else state.get(field)
            if theirs != mine:
                raise ValueError(f"QATSchedule.load_state_dict: the checkpoint's {field} is "
                                 f"{state.get(field)!r} but the spec's is {mine!r}")
        formats = state.get("formats")
        if bool(state.get("switched")) != (formats is not None):
            raise ValueError("QATSchedule.load_state_dict: 'switched' and 'formats' disagree")
        if formats is not None:
            if not isinstance(formats, Mapping) or set(formats) != set(self.keys):
                raise ValueError("QATSchedule.load_state_dict: formats must name exactly the "
                                 f"activation keys {', '.join(self.keys)}")
            parsed = {}
            for key in self.keys:
                pair = formats[key]
                if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                    raise ValueError(f"QATSchedule.load_state_dict: format of {key!r} is "
                                     f"{pair!r}, not a [width, frac] pair")
                width, frac = pair
                if width != n.fxp16_width:
                    raise ValueError(f"QATSchedule.load_state_dict: format of {key!r} has "
                                     f"width {width}, not {n.fxp16_width}")
                parsed[key] = FixedFormat(int(width), int(frac), rounding=n.rounding,
                                          overflow=n.overflow)
            self._formats = parsed
        else:
            self._formats = None
        at = state.get("switched_at")
        self.switched_at = None if at is None else int(at)
        self.ranges = _ranges_from_json(state.get("ranges"), "state['ranges']")
        self._carried = _ranges_from_json(state.get("observed"), "state['observed']")
        at = state.get("revised_at")
        self._revised_at = None if at is None else int(at)
        revisions = state.get("revisions") or []
        if not isinstance(revisions, list) or not all(
                isinstance(r, (list, tuple)) and len(r) == 2 and isinstance(r[1], Mapping)
                for r in revisions):
            raise ValueError("QATSchedule.load_state_dict: revisions must be a list of "
                             "[update, {key: format}] pairs")
        self.revisions = [(int(u), {str(k): str(v) for k, v in changed.items()})
                          for u, changed in revisions]
