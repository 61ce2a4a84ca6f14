"""The element unit (fixar_gen.hw.vector) simulated with PyRTL FastSimulation, bit-exact
against the golden model run on 1x1 buffers: every element operation with random
formats (widths 1..48, fracs 0..48, signed and unsigned, every rounding and overflow
mode) and extreme values, hand-picked edge cases (ties, saturation and wrap, tanh's table
end, noise clamps, Adam's root and divider corners), the measured latency of every op,
back-to-back elements, and the Python-side descriptors and limits."""

from __future__ import annotations

import itertools
import math
import random

import numpy as np
import pyrtl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from fixar_gen import golden, isa, ops
from fixar_gen.golden import GoldenError, GoldenMachine
from fixar_gen.hw import vector
from fixar_gen.hw.build import fresh_block, to_signed
from fixar_gen.hw.vector import (DRAIN_OPS, ELEMENT_OPS, FORMAT_BITS,
                                 MAX_DATA_FRAC, MAX_DATA_WIDTH, OPERAND_ROLES, OP_BITS,
                                 ROOT_BITS, TANH_MAX_PRE_FRAC,
                                 LANE_DEPTH, PARALLEL_OPS, PIPELINE_STAGES, ElementInputs,
                                 build_vector_unit,
                                 check_supported, element_latency, run_elements,
                                 internal_width, pack_format, run_element,
                                 unpack_format_value)
from fixar_gen import load_spec
from fixar_gen.hw.design import config_for, lane_limits
from fixar_gen.hw.lane_limits import WIDEST, LaneLimits
from fixar_gen.isa import NO_BUFFER, Buffer, Drain, Halt, Program, Range, Vector
from tests.conftest import EXAMPLES, examples
from fixar_gen.numerics import OVERFLOW_MODES, ROUNDING_MODES, FixedFormat, WideInt

WORD = 80
SMALL = MAX_DATA_WIDTH + 1
LANE_FMT = FixedFormat(33, 0, signed=False)


# ------------------------------------------------------------------------------- fixtures

class Unit:
    """One elaborated unit and its simulation (built once per module)."""

    def __init__(self, word: int, acc_overflow: str, limits: LaneLimits = WIDEST,
                 serial_outputs: bool = True, functions=None):
        self.block, self.design = build_vector_unit(word, acc_overflow, limits=limits,
                                                    serial_outputs=serial_outputs,
                                                    functions=functions)
        self.sim = pyrtl.FastSimulation(tracer=None, block=self.block)
        self.acc_overflow = acc_overflow
        self.limits = limits

    def run(self, op, values, formats, acc_bits=2, lane=1, garbage=0):
        return run_element(self.sim, self.design, op, **values, formats=formats,
                           acc_bits=acc_bits, lane=lane, garbage=garbage)


@pytest.fixture(scope="module")
def unit() -> Unit:
    return Unit(WORD, "saturate")


@pytest.fixture(scope="module")
def unit_wrap() -> Unit:
    return Unit(WORD, "wrap")


#: the lane examples/fixar_u50.yaml generates: narrower than the widest
U50_LIMITS = lane_limits(load_spec(EXAMPLES / "fixar_u50.yaml"))


@pytest.fixture(scope="module")
def narrow() -> Unit:
    return Unit(WORD, "saturate", U50_LIMITS)


@pytest.fixture(scope="module")
def parallel() -> Unit:
    """fixar_u50's lanes other than lane 0 with every function: no serial functions."""
    return Unit(WORD, "saturate", U50_LIMITS, serial_outputs=False)


#: the functions examples/fixar_u50.yaml's lanes other than lane 0 are built with (its
#: programs', but the narrow ones lane 0 runs alone)
U50_FUNCTIONS = config_for(load_spec(EXAMPLES / "fixar_u50.yaml")).parallel_functions


@pytest.fixture(scope="module")
def u50_programs() -> Unit:
    """examples/fixar_u50.yaml's lanes other than lane 0 as it generates them: its
    programs' functions only (``hardware.vector_functions: programs``), not the narrow
    ones lane 0 runs alone."""
    return Unit(WORD, "saturate", U50_LIMITS, serial_outputs=False, functions=U50_FUNCTIONS)


# ---------------------------------------------------------------------- golden reference

def _as_int(value) -> int:
    if isinstance(value, WideInt):
        return int(value.to_python().reshape(-1)[0])
    return int(np.asarray(value).reshape(-1)[0])


def _cell(value: int, wide: bool = False):
    if wide:
        return WideInt.from_python(np.array([[value]], dtype=object))
    return np.array([[value]], dtype=np.int64)


def golden_element(op: str, values: dict, formats: dict, *, acc_bits: int = 2,
                   lane: int = 1, acc_overflow: str = "saturate"):
    """Run one element of ``op`` on the golden model with 1x1 buffers: (d, e, lane,
    saturations of d, of e).  Raises GoldenError where golden refuses."""
    v = {k: values.get(k, 0) for k in ("a", "b", "d", "e", "c0", "c1")}
    f = formats
    one = Range(0, 1)
    if op in DRAIN_OPS:
        act = isa.ACTIVATIONS.index(op[len("drain_"):])
        has_bias = "b" in f
        buffers = [Buffer("d", 1, 1, f["d"]),
                   Buffer("acc", 1, 1, FixedFormat(64, f["a"].frac), "acc", WORD),
                   Buffer("bias", 1, 1, f.get("b", FixedFormat(2, 0))),
                   Buffer("slope", 1, 1, f.get("c", FixedFormat(2, 0)), "const")]
        init = {"d": v["d"], "acc": v["a"], "bias": v["b"], "slope": v["c0"]}
        instr = Drain(dst=0, acc=1, bias=2 if has_bias else NO_BUFFER,
                      slope=3 if op == "drain_leaky_relu" else NO_BUFFER, act=act,
                      rows=one, cols=one, src_col=0)
        pre = f.get("pre", FixedFormat(32, 16))
    else:
        fn = isa.VECTOR_FUNCTIONS.index(op)
        default = FixedFormat(2, 0)
        if op == "acc_add":
            dst = Buffer("d", 1, 1, f["d"], "acc", acc_bits)
            a_buf = Buffer("a", 1, 1, f["a"], "acc", acc_bits)
        else:
            dst = Buffer("d", 1, 2 if op == "range" else 1, f.get("d", default))
            a_buf = Buffer("a", 1, 1, f.get("a", default))
        buffers = [dst, a_buf, Buffer("b", 1, 1, f.get("b", default)),
                   Buffer("e", 1, 1, f.get("e", default)),
                   Buffer("c", 1, 2, f.get("c", default), "const"),
                   Buffer("lanes", 1, 1, LANE_FMT, "prng")]
        init = {"d": [v["d"], v["e"]] if op == "range" else v["d"], "a": v["a"],
                "b": v["b"], "e": v["e"], "c": [v["c0"], v["c1"]], "lanes": lane}
        noisy = op in ("noise", "ou_noise")
        instr = Vector(fn=fn, dst=0, a=1, b=5 if noisy else 2, c=4, e=3, rows=one,
                       cols=one, src_col=0)
        pre = FixedFormat(32, 16)
    program = Program("element", tuple(buffers), (), (instr, Halt()), 1, pre)
    machine = GoldenMachine(acc_overflow=acc_overflow)
    machine.allocate(program.buffers)
    for name, value in init.items():
        if isinstance(value, list):
            machine.memory[name] = np.array([value], dtype=np.int64)
        else:
            wide = name in ("acc", "a", "d") and (op in DRAIN_OPS or op == "acc_add") \
                and not -2**62 <= value < 2**62
            machine.memory[name] = _cell(value, wide)
    with np.errstate(all="ignore"):
        stats = machine.run(program, {})
    d_mem = machine.memory["d"]
    if op == "range":
        d_out, e_out = int(d_mem[0, 0]), int(d_mem[0, 1])
    else:
        d_out = _as_int(d_mem)
        e_out = int(machine.memory["e"][0, 0]) if op == "ou_noise" else v["e"]
    lane_out = int(machine.memory["lanes"][0, 0]) if "lanes" in machine.memory else None
    return d_out, e_out, lane_out, stats.by_buffer["d"], stats.by_buffer["e"]


def check(unit: Unit, op: str, values: dict, formats: dict, *, acc_bits: int = 2,
          lane: int = 1, garbage: int = 0, skip=None) -> None:
    """The unit's result for one element equals golden's (``skip`` is called instead of
    comparing when golden refuses the case)."""
    hw_formats = dict(formats)
    if op in DRAIN_OPS:
        hw_formats["a"] = FixedFormat(64, formats["a"].frac)
    try:
        ref = golden_element(op, values, formats, acc_bits=acc_bits, lane=lane,
                             acc_overflow=unit.acc_overflow)
    except GoldenError:
        if skip is None:
            raise
        skip()
        return
    check_supported(op, word=unit.design.word,
                    **{f"fmt_{r}": hw_formats.get(r) for r in ("a", "b", "c", "d", "e", "pre")},
                    acc_bits=acc_bits if op == "acc_add" else None, limits=unit.limits)
    got = unit.run(op, values, hw_formats, acc_bits=acc_bits, lane=lane, garbage=garbage)
    d_ref, e_ref, lane_ref, sat_d, sat_e = ref
    what = f"{op} {values} {formats} acc_bits={acc_bits} lane={lane}"
    assert got.d == d_ref, what
    assert (got.sat_d, got.sat_e) == (sat_d, sat_e), what
    if op in ("ou_noise", "range"):
        assert got.e == e_ref, what
    if op in ("noise", "ou_noise"):
        assert got.lane == lane_ref, what
    assert got.cycles == element_latency(op), what


def check_many(unit: Unit, op: str, cases, garbage: int = 0,
               no_bias_format: FixedFormat | None = None) -> None:
    """:func:`check` for a list of (values, formats, acc_bits, lane), streamed through
    the unit one element a cycle (cases golden refuses are left out);
    ``no_bias_format``: the lane's b format for a drain case without bias (b = 0 under
    any format)."""
    jobs, refs = [], []
    for values, formats, acc_bits, lane in cases:
        hw_formats = dict(formats)
        if op in DRAIN_OPS:
            hw_formats["a"] = FixedFormat(64, formats["a"].frac)
            if "b" not in formats and no_bias_format is not None:
                hw_formats["b"] = no_bias_format
        try:
            ref = golden_element(op, values, formats, acc_bits=acc_bits, lane=lane,
                                 acc_overflow=unit.acc_overflow)
        except GoldenError:
            continue
        check_supported(op, word=unit.design.word,
                        **{f"fmt_{r}": hw_formats.get(r) for r in ("a", "b", "c", "d", "e",
                                                                   "pre")},
                        acc_bits=acc_bits if op == "acc_add" else None, limits=unit.limits)
        jobs.append(dict(op=op, **values, formats=hw_formats, acc_bits=acc_bits, lane=lane))
        refs.append((ref, f"{op} {values} {formats} acc_bits={acc_bits} lane={lane}"))
    got_all = run_elements(unit.sim, unit.design, jobs, garbage=garbage)
    for got, ((d_ref, e_ref, lane_ref, sat_d, sat_e), what) in zip(got_all, refs):
        assert got.d == d_ref, what
        assert (got.sat_d, got.sat_e) == (sat_d, sat_e), what
        if op in ("ou_noise", "range"):
            assert got.e == e_ref, what
        if op in ("noise", "ou_noise"):
            assert got.lane == lane_ref, what
        assert got.cycles == element_latency(op), what


# ---------------------------------------------------------------------------- strategies

ROUNDING = st.sampled_from(ROUNDING_MODES)
OVERFLOW = st.sampled_from(OVERFLOW_MODES)


@st.composite
def data_formats(draw, signed=None, max_width=MAX_DATA_WIDTH, min_width=None,
                 max_frac=MAX_DATA_FRAC, max_int=None):
    """A format of at most ``max_width`` bits and ``max_frac`` fraction bits (and at
    most ``max_int`` integer bits, width - frac), the extremes often."""
    signed = draw(st.booleans()) if signed is None else signed
    lo = (2 if signed else 1) if min_width is None else min_width
    width = draw(st.one_of(st.sampled_from([lo, max_width]), st.integers(lo, max_width)))
    frac = draw(st.one_of(st.integers(0, width - 1), st.sampled_from([0, width - 1]),
                          st.integers(0, max_frac), st.just(max_frac)))
    frac = min(frac, max_frac)
    if max_int is not None:
        frac = max(frac, width - max_int)
        assume(frac <= max_frac)
    return FixedFormat(width, frac, signed, draw(ROUNDING), draw(OVERFLOW))


def role_formats(role: str, limits: LaneLimits = WIDEST, **kwargs):
    """data_formats within what a lane generated for ``limits`` takes for ``role``."""
    if role == "c":
        return data_formats(max_width=limits.const_width, max_frac=limits.const_frac,
                            max_int=limits.const_int, **kwargs)
    kwargs.setdefault("max_width", limits.data_width)
    return data_formats(max_frac=limits.data_frac, **kwargs)


def specials(lo: int, hi: int, frac: int = 0) -> list[int]:
    """Extremes and rounding ties of a range."""
    out = {lo, hi, 0, 1, -1, lo + 1, hi - 1, 2, -2}
    for f in {frac, frac - 1, frac + 1}:
        if f >= 1:
            half = 1 << (f - 1)
            out |= {half, -half, 3 * half, -3 * half, (1 << f), -(1 << f), half - 1, half + 1}
    return sorted(x for x in out if lo <= x <= hi)


def value_in(lo: int, hi: int, frac: int = 0):
    return st.one_of(st.sampled_from(specials(lo, hi, frac)), st.integers(lo, hi))


def values_of(fmt: FixedFormat):
    return value_in(fmt.min_int, fmt.max_int, fmt.frac)


def acc_value(frac: int, bits: int = WORD):
    return value_in(-2**(bits - 1), 2**(bits - 1) - 1, frac)


@st.composite
def vector_case(draw, op: str, limits: LaneLimits = WIDEST):
    """(values, formats, acc_bits, lane) for one element of vector function ``op``, its
    formats within ``limits``."""
    roles = OPERAND_ROLES[op]
    formats, values, acc_bits = {}, {}, 2
    if op == "acc_add":
        acc_bits = draw(st.one_of(st.sampled_from([2, WORD]), st.integers(2, WORD)))
        for r in ("a", "d"):
            formats[r] = FixedFormat(64, draw(st.one_of(st.integers(0, limits.acc_frac),
                                                        st.just(limits.acc_frac))))
            values[r] = draw(acc_value(0, acc_bits))
        return values, formats, acc_bits, 1
    for r in roles:
        formats[r] = draw(role_formats(r, limits))
    if op in ("range", "minimum"):     # both compare raw words of one format
        formats["a"] = formats["d"]
    if op == "adam_s":           # golden: one frac; int64 squares
        for r in ("d", "a"):
            signed = draw(st.booleans())
            formats[r] = draw(role_formats(r, limits, signed=signed,
                                           max_width=min(limits.data_width,
                                                         32 if signed else 31)))
        formats["a"] = formats["a"].with_(frac=formats["d"].frac)
    for r in roles:
        key = "c0" if r == "c" else r
        values[key] = draw(values_of(formats[r]))
    if "c" in roles:
        values["c1"] = draw(values_of(formats["c"]))
    if op == "range":
        values["e"] = draw(values_of(formats["d"]))
    if op == "bellman":
        values["b"] = draw(st.one_of(st.just(0), values_of(formats["b"])))
    if op == "adam_w":          # golden: 24 + f(s) - f(m) >= 0, |m| << that < 2^62
        fm, fs = formats["a"], formats["b"]
        # f(m) moved into 24 + f(s) - 62 .. 24 + f(s) (no rejection: the stream test
        # draws many elements per example)
        low, high = golden.RATIO_FRAC + fs.frac - 62, golden.RATIO_FRAC + fs.frac
        fm = formats["a"] = fm.with_(frac=min(max(fm.frac, low), high, limits.data_frac))
        shift = golden.RATIO_FRAC + fs.frac - fm.frac
        limit = 62 - shift
        lo, hi = max(fm.min_int, -(2**limit - 1)), min(fm.max_int, 2**limit - 1)
        values["a"] = draw(value_in(lo, hi))
    lane = draw(st.one_of(st.sampled_from([0, 1, 0xFFFFFFFF, 0x80000000]),
                          st.integers(0, 2**32 - 1)))
    return values, formats, acc_bits, lane


@st.composite
def drain_case(draw, op: str, bias: bool | None = None, limits: LaneLimits = WIDEST):
    top = limits.acc_frac
    frac = draw(st.one_of(st.sampled_from([0, top]), st.integers(0, top)))
    formats = {"a": FixedFormat(64, frac), "d": draw(role_formats("d", limits))}
    values = {"a": draw(st.one_of(acc_value(frac), acc_value(frac, 50), acc_value(frac, 20)))}
    if op != "drain_identity":
        formats["pre"] = draw(role_formats("pre", limits))
    if op == "drain_tanh":
        formats["pre"] = formats["pre"].with_(frac=min(formats["pre"].frac,
                                                       TANH_MAX_PRE_FRAC))
    if op == "drain_leaky_relu":
        formats["c"] = draw(role_formats("c", limits))
        values["c0"] = draw(values_of(formats["c"]))
    bias = draw(st.booleans()) if bias is None else bias
    bias_fmt = draw(role_formats("b", limits))
    if bias:
        bias_fmt = bias_fmt.with_(frac=min(bias_fmt.frac, frac))
        formats["b"] = bias_fmt
        values["b"] = draw(values_of(bias_fmt))
    return values, formats, bias_fmt


# ---------------------------------------------------------------------------- properties

VECTOR_OPS = [op for op in ELEMENT_OPS if op not in DRAIN_OPS]
#: hypothesis examples per op in the default run, each a stream of 1..BATCH elements
#: (one a cycle); `HYPOTHESIS_PROFILE=thorough` runs 20 times as many
OP_EXAMPLES = {"adam_w": 15, "adam_s": 20}                # 25 for the others
BATCH = 8


#: the widest lane, and the narrower one examples/fixar_u50.yaml generates (its formats
#: drawn within its limits); "parallel": fixar_u50's lanes other than lane 0 with every
#: function, "u50_programs" with its programs' functions
LANES = ("unit", "narrow", "parallel", "u50_programs")
#: each lane with every operation it runs (the parallel lanes: not the serial functions
#: nor range, vector.PARALLEL_OPS)
LANE_OPS = {"unit": ELEMENT_OPS, "narrow": ELEMENT_OPS, "parallel": PARALLEL_OPS,
            "u50_programs": vector.lane_operations(False, U50_FUNCTIONS)}


def lanes_with(ops):
    return [(lane, op) for lane in LANES for op in ops if op in LANE_OPS[lane]]


@pytest.mark.parametrize(("lane", "op"), lanes_with(VECTOR_OPS))
def test_vector_functions_match_golden(request, lane, op):
    unit = request.getfixturevalue(lane)

    @settings(max_examples=examples(OP_EXAMPLES.get(op, 25)), deadline=None)
    @given(cases=st.lists(vector_case(op, unit.limits), min_size=1, max_size=BATCH),
           garbage=st.integers(0, 2**64))
    def prop(cases, garbage):
        check_many(unit, op, cases, garbage)
    prop()


@pytest.mark.parametrize(("lane", "op"), lanes_with(DRAIN_OPS))
def test_drains_match_golden(request, lane, op):
    unit = request.getfixturevalue(lane)

    @settings(max_examples=examples(25), deadline=None)
    @given(cases=st.lists(drain_case(op, limits=unit.limits), min_size=1, max_size=BATCH),
           garbage=st.integers(0, 2**64))
    def prop(cases, garbage):
        jobs, refs = [], []
        for values, formats, bias_fmt in cases:
            hw_formats = dict(formats)
            if "b" not in formats:                    # no bias: b = 0, any descriptor
                hw_formats["b"] = bias_fmt
            check_supported(op, word=WORD, fmt_a=formats["a"], fmt_b=formats.get("b"),
                            fmt_c=formats.get("c"), fmt_d=formats["d"],
                            fmt_pre=formats.get("pre"), limits=unit.limits)
            refs.append((golden_element(op, values, formats), (values, formats)))
            jobs.append(dict(op=op, **values, formats={**hw_formats, "a": formats["a"]}))
        got_all = run_elements(unit.sim, unit.design, jobs, garbage=garbage)
        for got, (ref, what) in zip(got_all, refs):
            assert (got.d, got.sat_d, got.sat_e) == (ref[0], ref[3], ref[4]), what
            assert got.cycles == element_latency(op)
    prop()


def test_narrowest_word():
    """A unit with the smallest word (49 bits: a 48-bit unsigned value), accumulators
    of up to 49 bits; adam's 64-bit intermediates are internal."""
    small = Unit(SMALL, "saturate")

    @settings(max_examples=examples(40), deadline=None)
    @given(op=st.sampled_from(["drain_identity", "drain_leaky_relu", "acc_add", "sgd",
                               "soft_update", "adam_s", "adam_w", "dact_tanh", "range",
                               "ou_noise"]), data=st.data())
    def prop(op, data):
        if op in DRAIN_OPS:
            values, formats, bias_fmt = data.draw(drain_case(op))
            values["a"] = to_signed(values["a"], SMALL)
            ref = golden_element(op, values, formats)
            got = small.run(op, values, {"b": bias_fmt, **formats})
            assert (got.d, got.sat_d) == (ref[0], ref[3])
            return
        values, formats, acc_bits, lane = data.draw(vector_case(op))
        if op == "acc_add":
            acc_bits = min(acc_bits, SMALL)
            values = {k: to_signed(v, acc_bits) for k, v in values.items()}
        check(small, op, values, formats, acc_bits=acc_bits, lane=lane,
              skip=lambda: assume(False))
    prop()


def test_acc_add_wraps_with_the_machine_mode(unit_wrap):
    @settings(max_examples=examples(40), deadline=None)
    @given(case=vector_case("acc_add"))
    def prop(case):
        values, formats, acc_bits, _ = case
        check(unit_wrap, "acc_add", values, formats, acc_bits=acc_bits)
    prop()


# ------------------------------------------------------------------------------ edge grid

EDGE_FORMATS = [FixedFormat(48, 0), FixedFormat(48, 47), FixedFormat(48, 48, signed=False),
                FixedFormat(2, 0), FixedFormat(2, 1), FixedFormat(1, 0, signed=False),
                FixedFormat(16, 8, rounding="nearest_up", overflow="wrap"),
                FixedFormat(32, 24, rounding="truncate"), FixedFormat(8, 48),
                FixedFormat(33, 32, signed=False), FixedFormat(48, 44, signed=False,
                                                             overflow="wrap"),
                FixedFormat(20, 3, rounding="nearest_up")]


def edge_values(fmt: FixedFormat) -> list[int]:
    return specials(fmt.min_int, fmt.max_int, fmt.frac)


@pytest.mark.parametrize("op", [op for op in VECTOR_OPS if op not in ("acc_add",)])
def test_edge_grid(unit, op):
    """Extreme formats x extreme values (a fixed pseudo-random sample of the grid)."""
    rng = random.Random(op)
    roles = OPERAND_ROLES[op]
    cases = []
    for _ in range(400):
        formats = {r: rng.choice(EDGE_FORMATS) for r in roles}
        if op in ("range", "minimum"):
            formats["a"] = formats["d"]
        if op == "adam_s":
            formats["d"] = rng.choice([f for f in EDGE_FORMATS if f.width - f.signed <= 31])
            formats["a"] = rng.choice([f for f in EDGE_FORMATS
                                       if f.width - f.signed <= 31]).with_(
                frac=formats["d"].frac)
        values = {("c0" if r == "c" else r): rng.choice(edge_values(formats[r]))
                  for r in roles}
        if "c" in roles:
            values["c1"] = rng.choice(edge_values(formats["c"]))
        if op == "range":
            values["e"] = rng.choice(edge_values(formats["d"]))
        lane = rng.getrandbits(32)
        try:
            golden_element(op, values, formats, lane=lane, acc_overflow=unit.acc_overflow)
        except GoldenError:
            continue
        cases.append((values, formats, 2, lane))
        if len(cases) >= 40:
            break
    assert len(cases) >= 10, f"{op}: golden refused most edge cases"
    # streamed, one element a cycle, then idle cycles of garbage
    check_many(unit, op, cases, garbage=rng.getrandbits(64))


@pytest.mark.parametrize("op", DRAIN_OPS)
def test_drain_edge_grid(unit, op):
    rng = random.Random(op)
    cases = []
    for _ in range(40):
        frac = rng.choice([0, 1, 47, 48, 95, 96])
        formats = {"a": FixedFormat(64, frac), "d": rng.choice(EDGE_FORMATS)}
        values = {"a": rng.choice(specials(-2**(WORD - 1), 2**(WORD - 1) - 1, frac)
                                  + specials(-2**47, 2**47, frac))}
        if op != "drain_identity":
            formats["pre"] = rng.choice(EDGE_FORMATS)
        if op == "drain_tanh" and formats["pre"].frac > TANH_MAX_PRE_FRAC:
            formats["pre"] = formats["pre"].with_(frac=TANH_MAX_PRE_FRAC)
        if op == "drain_leaky_relu":
            formats["c"] = rng.choice(EDGE_FORMATS)
            values["c0"] = rng.choice(edge_values(formats["c"]))
        if rng.random() < 0.7:
            formats["b"] = rng.choice(EDGE_FORMATS)
            formats["b"] = formats["b"].with_(frac=min(formats["b"].frac, frac))
            values["b"] = rng.choice(edge_values(formats["b"]))
        cases.append((values, formats, 2, 1))
    # without a bias, b = 0 under a format no drain case has
    check_many(unit, op, cases, garbage=rng.getrandbits(64),
               no_bias_format=FixedFormat(8, 48))


# ----------------------------------------------------------------------- hand-picked cases

Q = FixedFormat


@pytest.mark.parametrize("rounding", ROUNDING_MODES)
def test_rounding_ties(unit, rounding):
    """x.5 and -x.5 for every rounding mode, through copy, add and mul."""
    dst = Q(8, 0, rounding=rounding)
    src = Q(16, 1)
    for a in (1, 3, 5, -1, -3, -5, 2, -2, 0):
        check(unit, "copy", {"a": a}, {"a": src, "d": dst})
        check(unit, "add", {"a": a, "b": 0}, {"a": src, "b": Q(4, 0), "d": dst})
        check(unit, "mul", {"a": a, "b": 1}, {"a": src, "b": Q(4, 0), "d": dst})
    # a tie decided by a far-away sticky bit
    check(unit, "sub", {"a": 1 << 46, "b": 1}, {"a": Q(48, 47), "b": Q(48, 47),
                                                "d": Q(4, 0, rounding=rounding)})


@pytest.mark.parametrize("overflow", OVERFLOW_MODES)
def test_saturate_and_wrap(unit, overflow):
    for signed in (True, False):
        dst = Q(5, 0, signed=signed, overflow=overflow)
        for a in (-40, -17, -16, -1, 0, 15, 16, 31, 32, 33, 100, 2**47 - 1, -2**47):
            check(unit, "copy", {"a": a}, {"a": Q(48, 0), "d": dst})
    # a huge product aligned far up: saturates (or wraps) exactly
    check(unit, "mul", {"a": -2**47, "b": -2**47},
          {"a": Q(48, 0), "b": Q(48, 0), "d": Q(48, 48, signed=False, overflow=overflow)})
    check(unit, "sgd", {"d": 2**47 - 1, "a": -2**47, "c0": 2**47 - 1, "c1": 0},
          {"d": Q(48, 0, overflow=overflow), "a": Q(48, 48), "c": Q(48, 48)})


def test_cancelling_terms(unit):
    """Large terms at very different fractions that cancel exactly."""
    # soft_update: d + c (a - d) with c = 1: d + a - d = a
    check(unit, "soft_update", {"d": -2**47, "a": 2**47 - 1, "c0": 1 << 47, "c1": 0},
          {"d": Q(48, 0), "a": Q(48, 0), "c": Q(48, 47, signed=False)})
    check(unit, "momentum", {"d": 2**47 - 1, "a": -(2**47 - 1), "c0": 1, "c1": 0},
          {"d": Q(48, 0), "a": Q(48, 0), "c": Q(2, 0)})
    check(unit, "mse_grad", {"a": 2**47 - 1, "b": 2**47 - 1, "c0": 2**47 - 1},
          {"a": Q(48, 0), "b": Q(48, 0), "c": Q(48, 48), "d": Q(8, 4)})


def test_tanh_table_end_and_symmetry(unit):
    """drain_tanh around the table's end, at small and large pre-activation fracs."""
    cases = []
    for pre_frac in (0, 3, 5, 6, 7, 20, 37, TANH_MAX_PRE_FRAC):
        pre = Q(48, pre_frac)
        one = 1 << pre_frac
        for z in (0, 1, -1, one, -one, 8 * one - 1, 8 * one, 8 * one + 1, -8 * one,
                  -8 * one + 1, 3 * one // 2, 2**47 - 1, -2**47):
            for d in (Q(32, 30), Q(48, 47), Q(8, 6, rounding="truncate")):
                cases.append(({"a": z}, {"a": Q(64, pre_frac), "pre": pre, "d": d}, 2, 1))
    # one element a cycle (312 of them), as check_many streams a hypothesis example
    check_many(unit, "drain_tanh", cases, no_bias_format=Q(2, 0))


def test_drain_counts_two_overflows(unit):
    values = {"a": 10**20, "c0": 3}
    formats = {"a": Q(64, 0), "pre": Q(8, 0), "d": Q(4, 0), "c": Q(4, 0)}
    for op in ("drain_relu", "drain_leaky_relu", "drain_identity"):
        ref = golden_element(op, values, formats)
        got = unit.run(op, values, {**formats, "b": Q(2, 0)})
        assert (got.d, got.sat_d) == (ref[0], ref[3])
    assert ref[3] == 1 and got.sat_d == 1
    got = unit.run("drain_relu", values, {**formats, "b": Q(2, 0)})
    assert got.sat_d == 2


def test_noise_clamps_are_not_counted(unit):
    lanes = [1, 0xDEADBEEF, 0x12345678, 0xFFFFFFFF, 0]
    noise, ou_noise = [], []
    for lane, a, e in itertools.product(lanes, (0, 1 << 16, -(1 << 16), (1 << 20) - 1),
                                        (0, 100, -2048, 2047)):
        # sigma = 8: |N sigma| up to ~28, clamped to +-1 (not counted)
        noise.append(({"a": a, "c0": 8 << 8},
                      {"a": Q(24, 16), "d": Q(24, 16), "c": Q(16, 8)}, 2, lane))
        ou_noise.append(({"a": a, "e": e, "c0": 8 << 8, "c1": 1 << 7},
                         {"a": Q(24, 16), "d": Q(24, 16), "e": Q(12, 8), "c": Q(16, 8)},
                         2, lane))
    check_many(unit, "noise", noise)
    check_many(unit, "ou_noise", ou_noise)


def test_adam_root_corners(unit):
    """v at 0, perfect squares, one off them, and saturated at 2^63 - 1."""
    fd = Q(32, 0)
    c = Q(33, 32, signed=False)
    for d, a in ((0, 0), (1, 0), (0, 1), (2**31 - 1, 2**31 - 1), (-2**31, -2**31),
                 (46341, 3), (3037000499 // 2, 12345)):
        for beta in (0, 1, 2**31, 2**32 - 1, 2**32, 2**33 - 1):
            check(unit, "adam_s", {"d": d, "a": a, "c0": beta},
                  {"d": fd, "a": fd, "c": c}, skip=lambda: None)     # beta > 1: v < 0
    # u far beyond 2^63 (beta > 1): v saturates at 2^63 - 1, root 3037000500
    check(unit, "adam_s", {"d": -2**31, "a": 0, "c0": 2**47 - 1},
          {"d": Q(32, 0), "a": Q(32, 0), "c": Q(48, 0)})


def test_adam_m_rounds_toward_zero(unit):
    """adam_m's own rounding (toward zero, declared with the operation) whatever d's
    format rounds by: small moments of either sign, with and without a gradient; g = 0
    decay to 0 element by element through the lane (|m| <= 4 LSB would never move to
    nearest); saturating and wrapping sums and the negative extremes."""
    beta = int(Q(33, 32, signed=False).quantize(0.9))
    c = Q(33, 32, signed=False)
    cases = []
    for rounding in ROUNDING_MODES:
        for overflow in OVERFLOW_MODES:
            fd = Q(32, 24, rounding=rounding, overflow=overflow)
            for d in (-5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5):
                for a in (0, 1, -1, 7, -7, 10, -10):
                    cases.append(({"d": d, "a": a, "c0": beta}, {"d": fd, "a": fd, "c": c},
                                  2, 1))
            # sums beyond d's format (a wider gradient): saturated or wrapped, counted
            narrow_d = Q(8, 0, rounding=rounding, overflow=overflow)
            for d, a in ((127, 2**47 - 1), (-128, -2**47), (-128, 2**47 - 1), (127, -2**47),
                         (-128, -1), (127, 1)):
                cases.append(({"d": d, "a": a, "c0": beta},
                              {"d": narrow_d, "a": Q(48, 0), "c": c}, 2, 1))
            # beta = 1 - 2^-32: the slowest decay, still one LSB a step
            cases.append(({"d": -2**31, "a": 0, "c0": 2**32 - 1}, {"d": fd, "a": fd, "c": c},
                          2, 1))
    check_many(unit, "adam_m", cases)
    # g = 0: 4 -> 3 -> 2 -> 1 -> 0 (and -4 likewise) through the lane itself
    fd = Q(32, 24)
    for m in (4, -4, 3, -2, 1):
        steps = 0
        while m:
            got = unit.run("adam_m", {"d": m, "a": 0, "c0": beta}, {"d": fd, "a": fd, "c": c})
            check(unit, "adam_m", {"d": m, "a": 0, "c0": beta}, {"d": fd, "a": fd, "c": c})
            assert abs(_as_int(got.d)) < abs(m)
            m, steps = _as_int(got.d), steps + 1
        assert steps <= 4


def test_adam_w_divider_corners(unit):
    """den = s + max(eps', 1) <= 0 (numpy's floor division, 0 for den = 0), eps' that
    saturates int64 (golden wraps den in int64), ratios at 2^62 - 1."""
    rate = Q(48, 44, signed=False)
    s = Q(32, 24)
    cases = [
        {"d": 0, "a": 1 << 37, "b": 0, "c0": 1 << 44, "c1": 0},        # eps' -> 1
        {"d": 5, "a": -(1 << 37), "b": -1, "c0": 1 << 44, "c1": 0},    # den = 0
        {"d": 5, "a": 12345, "b": -7, "c0": 1 << 44, "c1": 0},         # den < 0
        {"d": 5, "a": -12345, "b": -2**31, "c0": 1 << 40, "c1": 3},    # den < 0, m < 0
        {"d": -3, "a": 2**38 - 1, "b": 1, "c0": 2**48 - 1, "c1": 2**48 - 1},
        {"d": -3, "a": -(2**38 - 1), "b": 0, "c0": 2**48 - 1, "c1": 0},   # ratio 2^62 - 2^24
    ]
    for values in cases:
        check(unit, "adam_w", values, {"d": Q(32, 24), "a": Q(40, 24), "b": s, "c": rate})
    # eps' saturates int64 and s + eps' wraps in int64 (as in golden)
    check(unit, "adam_w", {"d": 1, "a": 5, "b": 2**40, "c0": 1, "c1": 2**47 - 1},
          {"d": Q(16, 8), "a": Q(48, 48), "b": Q(48, 48), "c": Q(48, 0)})


@pytest.mark.parametrize("lane", LANES)
def test_divider_and_root_at_every_width(request, lane):
    """The divider's remainder and the root's grow a bit a step (each step subtracts
    at the width it can reach, gated on the denominator's higher bits; the divider's
    later steps non-restoring): denominators at 2^n - 1, 2^n and 2^n + 1 for every n
    the lane's divider holds, with quotients up to 2^62, negative ones at every width
    (the remainder's zero test), and squares and their neighbours at every root
    width."""
    unit = request.getfixturevalue(lane)
    fmts = {"d": Q(32, 24), "a": Q(32, 8), "b": Q(32, 32), "c": Q(48, 32, signed=False)}
    cases = []
    for n in range(49):
        for den in (2**n - 1, 2**n, 2**n + 1):
            c1, b = min(max(den, 0), 2**48 - 1), max(0, den - (2**48 - 1))
            for m in (2**13 - 1, -2**13, 1, -4099):
                cases.append(({"d": 77, "a": m, "b": b, "c0": 2**47 + 3, "c1": c1},
                               fmts, 2, 1))
    # negative denominators (den = s + 1 with eps 0, alpha 1: d - ratio unsaturated):
    # numpy's floor division adds 1 to the quotient unless the remainder is 0, which
    # the non-restoring steps leave as 0 or -|den| (num = m 2^16, exact for den = -2^n,
    # n <= 16)
    whole = dict(fmts, b=Q(32, 0))
    for n in range(31):
        for b in (-2**n - 2, -2**n - 1, -2**n, -2**n + 1):
            if -2**31 <= b < -1:
                for m in (2**13 - 1, -2**13, 1, -3, 2**12, 3 << 10):
                    cases.append(({"d": 77, "a": m, "b": b, "c0": 2**32, "c1": 0}, whole,
                                  2, 1))
    check_many(unit, "adam_w", cases)
    fd = Q(32, 0)
    roots = []
    for n in range(32):
        for k in (2**n - 1, 2**n, 2**n + 1):
            if 0 <= k < 2**31:
                roots.append(({"d": k, "a": k, "c0": 1}, {"d": fd, "a": fd, "c": Q(2, 0,
                              signed=False)}, 2, 1))                       # v = k^2
                roots.append(({"d": k, "a": max(k - 1, 0), "c0": 2},       # 2 k^2 - a^2
                              {"d": fd, "a": fd, "c": Q(3, 0, signed=False)}, 2, 1))
    check_many(unit, "adam_s", roots)


@pytest.fixture(scope="module")
def root_steps():
    """The lane's square-root steps and rounding alone: ROOT_BITS non-restoring steps
    on a 2 ROOT_BITS-bit radicand, then :func:`vector._root_up`."""
    with fresh_block():
        rad = pyrtl.Input(2 * ROOT_BITS, "rad")
        _, rem, root = vector._sqrt_steps(rad, pyrtl.Const(0, 1), pyrtl.Const(0, 1),
                                          ROOT_BITS, ROOT_BITS + 2)
        for name, wire in (("root", root), ("up", vector._root_up(rem, root))):
            out = pyrtl.Output(wire.bitwidth, name=name)
            out <<= wire
        yield pyrtl.FastSimulation()


@settings(max_examples=examples(300), deadline=None)
@given(q=st.one_of(st.integers(0, 40), st.integers(0, 2**ROOT_BITS - 1),
                   st.integers(0, ROOT_BITS).map(lambda n: 2**n - 1)),
       off=st.sampled_from([-1, 0, 1, "q", "q + 1", "2q", "any"]),
       rnd=st.integers(0, 2**(2 * ROOT_BITS) - 1))
def test_root_steps_are_isqrt_and_round_to_nearest(root_steps, q, off, rnd):
    """The non-restoring steps give floor(sqrt(v)) and the rounding's R > root (R =
    v - root^2, the restoring remainder, recovered from the signed one) at the edges:
    squares and their neighbours, the rounding boundary q^2 + q | q^2 + q + 1, the
    largest remainder 2q, all-ones radicands, any v below 2^64.  Fails if a step adds
    4 root + 1 where its remainder is negative (the 3's low bits), or if the rounding
    reads the signed remainder as the restoring one."""
    v = rnd if off == "any" else q * q + {"q": q, "q + 1": q + 1, "2q": 2 * q}.get(off, off)
    assume(0 <= v < 2**(2 * ROOT_BITS))
    root_steps.step({"rad": v})
    r = math.isqrt(v)
    assert (root_steps.inspect("root"), root_steps.inspect("up")) == (r, int(v - r * r > r))


def test_range_min_max(unit):
    f = Q(16, 8, signed=True)
    check_many(unit, "range", [({"a": a, "d": lo, "e": hi}, {"a": f, "d": f}, 2, 1)
                               for a, lo, hi in itertools.product(
                                   (-2**15, -1, 0, 5, 2**15 - 1), (-2**15, 0, 3),
                                   (0, 7, 2**15 - 1))])


def test_minimum_every_order(unit):
    """minimum keeps the smaller raw word, either way round and at the extremes (a lane
    that kept d, or a, or compared unsigned, fails here)."""
    cases = []
    for f in (Q(16, 8, signed=True), Q(8, 0, signed=False), Q(48, 40, signed=True)):
        edges = (f.min_int, f.min_int + 1, -1 if f.signed else 1, 0, 3, f.max_int)
        cases += [({"a": a, "d": d}, {"a": f, "d": f}, 2, 1)
                  for a, d in itertools.product(edges, edges)]
    check_many(unit, "minimum", cases)


# --------------------------------------------------------------------------------- timing

@pytest.mark.parametrize("lane", LANES)
def test_every_multiply_fits_one_dsp48e2(request, lane):
    """Every multiply of the lane is a digit product of at most 26 x 17 bits (PyRTL
    extends the narrower operand: a product of at most 52 bits) whose operands come
    from registers through slices and at most one two-way multiplexer (the squarer's
    d or b), so synthesis maps each to one DSP48E2 with at most one LUT before it; a
    wide multiply (the 64 x 50 one before the cut) would be a cascade with LUT sums."""
    block = request.getfixturevalue(lane).block
    products = [net for net in block.logic if net.op == "*"]
    assert products and max(net.dests[0].bitwidth for net in products) <= 52
    drivers = {net.dests[0]: net for net in block.logic if net.dests}

    def levels_from_register(wire) -> int:
        """Multiplexers between ``wire`` and the registers it comes from (a large
        number for any other logic)."""
        if isinstance(wire, (pyrtl.Register, pyrtl.Const)):
            return 0
        net = drivers[wire]
        if net.op in ("s", "c", "w"):                    # slices, concatenations
            return max(levels_from_register(a) for a in net.args)
        if net.op == "x":           # a two-way multiplexer (its select: decoded op)
            return 1 + max(levels_from_register(a) for a in net.args[1:])
        return 99
    assert max(levels_from_register(a) for net in products for a in net.args) <= 1

@pytest.mark.parametrize("lane", LANES)
def test_pipeline_stages_are_the_registers(request, lane):
    """LANE_DEPTH counts PIPELINE_STAGES: every stage has registers and every named
    register of the lane belongs to one of them."""
    block = request.getfixturevalue(lane).block
    stages = {w.name[len("vu_core_"):].split("_")[0] for w in block.wirevector_subset(
        pyrtl.Register) if w.name.startswith("vu_core_")}
    assert stages == set(PIPELINE_STAGES)
    assert LANE_DEPTH == len(PIPELINE_STAGES)


def test_parallel_lanes_leave_out_the_serial_functions(narrow, parallel):
    """A core's lanes other than lane 0 run every operation but the serial functions
    (one element a step, in lane 0) and the folded range: built without the PRNG's
    draws and Gaussian (one multiply fewer), the noise clamps and ou_noise's e, with
    no e_out or lane_out port; driving them a serial function is refused by name."""
    assert set(PARALLEL_OPS) == set(ELEMENT_OPS) - set(ops.names(issue="serial")) \
        - set(ops.names(issue="folded"))
    assert {"noise", "ou_noise", "range"}.isdisjoint(PARALLEL_OPS)
    ports = {w.name for w in parallel.block.wirevector_subset(pyrtl.Output)}
    assert "vu_e_out" not in ports and "vu_lane_out" not in ports
    assert {"vu_e_out", "vu_lane_out"} <= {w.name for w in narrow.block.wirevector_subset(
        pyrtl.Output)}

    def products(unit):
        return sum(net.op == "*" for net in unit.block.logic)
    assert products(parallel) < products(narrow)
    assert not any("prng" in w.name or "gauss" in w.name
                   for w in parallel.block.wirevector_set)
    assert len(parallel.block.logic) < len(narrow.block.logic)
    for op in ("noise", "ou_noise", "range"):
        with pytest.raises(ValueError, match=f"{op} does not run on this unit"):
            run_element(parallel.sim, parallel.design, op)


def test_programs_lanes_leave_out_the_functions_no_program_runs(parallel, u50_programs):
    """fixar_u50's lanes built with its programs' functions run exactly those: fewer
    nets than the lane with every function (a function left in would cost nothing
    here), and any other function is refused by name."""
    runs = set(u50_programs.design.operations)
    assert runs == set(PARALLEL_OPS) & set(U50_FUNCTIONS)
    assert {"add", "sub", "mul", "clip", "sgd", "momentum", "drain_leaky_relu",
            "drain_tanh", "dact_tanh", "bellman"}.isdisjoint(runs)
    assert not any("tanh" in w.name for w in u50_programs.block.wirevector_set)
    assert len(u50_programs.block.logic) < len(parallel.block.logic)
    for op in sorted(set(ELEMENT_OPS) - runs):
        with pytest.raises(ValueError, match=f"{op} does not run on this unit"):
            run_element(u50_programs.sim, u50_programs.design, op)
    with pytest.raises(ValueError, match="sigmoid is not an element operation"):
        vector.lane_operations(False, ("copy", "sigmoid"))


@pytest.mark.parametrize("op", ELEMENT_OPS)
def test_latency_is_exact_and_done_pulses_once(unit, op):
    design, sim = unit.design, unit.sim
    lat = element_latency(op)
    assert lat >= 1
    fmts = {r: Q(16, 8) for r in ("a", "b", "c", "d", "e", "pre")}
    # via run_element: done first seen after exactly `lat` cycles
    assert run_element(sim, design, op, a=3, b=4, d=5, e=6, c0=7, c1=1, formats=fmts,
                       acc_bits=WORD).cycles == lat
    # and it is a one-cycle pulse: low in the following idle cycles
    for _ in range(3):
        sim.step({design.port(k): 0 for k in ("start", "op", "a", "b", "d", "e", "c0",
                                               "c1", "fmt_a", "fmt_b", "fmt_d", "fmt_e",
                                               "fmt_c", "fmt_pre", "acc_bits", "lane")})
        assert sim.inspect(design.port("done")) == 0


def _stream_inputs(op: str, values: dict, formats: dict, acc_bits: int, lane: int) -> dict:
    """The unit's input values for one element (start = 1)."""
    inputs = {"start": 1, "op": ELEMENT_OPS.index(op), "acc_bits": acc_bits,
              "lane": lane & 0xFFFFFFFF}
    for k in ("a", "b", "d", "e", "c0", "c1"):
        inputs[k] = values.get(k, 0) & ((1 << WORD) - 1)
    for r in ("a", "b", "c", "d", "e", "pre"):
        inputs[f"fmt_{r}"] = pack_format(formats.get(r, FixedFormat(2, 0)))
    return inputs


@settings(max_examples=examples(15), deadline=None)
@given(st.data())
def test_one_element_per_cycle(unit, data):
    """The unit is a pipeline: elements of any operations, one started every cycle
    (gaps allowed), each returns element_latency(op) cycles after its start, bit-exact
    with golden (d, e, the PRNG lane and both saturation counts).  An element of the
    other latency than the one before starts once every earlier one has returned (the
    unit's contract: the core runs one instruction at a time), at once when drawn so."""
    design, sim = unit.design, unit.sim
    jobs = []
    while len(jobs) < 40:
        op = data.draw(st.sampled_from(ELEMENT_OPS))
        if op in DRAIN_OPS:
            values, formats, _ = data.draw(drain_case(op))
            acc_bits, lane = 2, 1
        else:
            values, formats, acc_bits, lane = data.draw(vector_case(op))
        try:
            ref = golden_element(op, values, formats, acc_bits=acc_bits, lane=lane,
                                 acc_overflow=unit.acc_overflow)
        except GoldenError:
            continue                       # golden refuses the case: nothing to compare
        if op in DRAIN_OPS:
            formats = {**formats, "a": FixedFormat(64, formats["a"].frac)}
        gap = data.draw(st.sampled_from([0, 0, 0, 1, 3]))
        jobs.append((op, _stream_inputs(op, values, formats, acc_bits, lane), ref, gap))
    idle = {design.port(k): 0 for k in ElementInputs.widths(WORD)}
    for _ in range(LANE_DEPTH):             # empty the pipeline (the unit is shared)
        sim.step(idle)
    schedule, cycle, returned, latency = {}, 0, 0, None
    for index, (op, _, _, gap) in enumerate(jobs):
        cycle += gap
        if element_latency(op) != latency:
            # (no element of the other latency in flight: the earliest start after
            # the last return, which the gap may already have passed)
            cycle = max(cycle, returned)
            latency = element_latency(op)
        schedule[cycle] = index
        returned = max(returned, cycle + latency)
        cycle += 1
    due = {start + element_latency(jobs[index][0]): index
           for start, index in schedule.items()}
    assert len(due) == len(schedule)
    for cycle in range(max(due) + 1):
        if cycle in schedule:
            sim.step({design.port(k): v for k, v in jobs[schedule[cycle]][1].items()})
        else:
            sim.step(idle)
        done = sim.inspect(design.port("done"))
        assert done == (cycle in due), f"done in cycle {cycle}"
        if not done:
            continue
        op, _, (d_ref, e_ref, lane_ref, sat_d, sat_e), _ = jobs[due[cycle]]
        what = f"element {due[cycle]}: {op}"
        assert to_signed(sim.inspect(design.port("d_out")), WORD) == d_ref, what
        assert (sim.inspect(design.port("sat_d")), sim.inspect(design.port("sat_e"))) \
            == (sat_d, sat_e), what
        if op in ("ou_noise", "range"):
            assert to_signed(sim.inspect(design.port("e_out")), WORD) == e_ref, what
        if op in ("noise", "ou_noise"):
            assert sim.inspect(design.port("lane_out")) == lane_ref, what


# ------------------------------------------------------------------------ Python-side API

def test_op_indices_follow_the_isa():
    assert ELEMENT_OPS[:len(isa.VECTOR_FUNCTIONS)] == isa.VECTOR_FUNCTIONS
    for i, act in enumerate(isa.ACTIVATIONS):
        assert ELEMENT_OPS[len(isa.VECTOR_FUNCTIONS) + i] == f"drain_{act}"
    assert len(ELEMENT_OPS) <= 1 << OP_BITS
    assert set(OPERAND_ROLES) == set(ELEMENT_OPS)


@given(data_formats())
def test_format_descriptor_round_trip(fmt):
    word = pack_format(fmt)
    assert 0 <= word < 1 << FORMAT_BITS
    assert unpack_format_value(word) == fmt


def test_limits():
    assert internal_width(64) == internal_width(80) == 149
    assert internal_width(128) == 128 + 51
    with pytest.raises(ValueError, match="frac -1 < 0"):
        pack_format(Q(16, -1))
    with pytest.raises(ValueError, match="frac 200"):
        pack_format(Q(16, 200))
    assert internal_width(49) == 149
    with pytest.raises(ValueError, match="word 48 must be an integer >= 49"):
        internal_width(48)
    with pytest.raises(ValueError, match="word 32 must be an integer >= 49"):
        check_supported("copy", word=32, fmt_a=Q(8, 0), fmt_d=Q(8, 0))
    with pytest.raises(ValueError, match="width <= 48"):
        check_supported("add", word=80, fmt_a=Q(49, 0), fmt_b=Q(8, 0), fmt_d=Q(8, 0))
    with pytest.raises(ValueError, match="frac <= 48"):
        check_supported("copy", word=80, fmt_a=Q(8, 49), fmt_d=Q(8, 0))
    with pytest.raises(ValueError, match="pass fmt_b"):
        check_supported("add", word=80, fmt_a=Q(8, 0), fmt_d=Q(8, 0))
    with pytest.raises(ValueError, match="accumulator fracs must be <= 96"):
        check_supported("drain_identity", word=80, fmt_a=Q(64, 97), fmt_d=Q(8, 0))
    with pytest.raises(ValueError, match="acc_bits in 2..80"):
        check_supported("acc_add", word=80, fmt_a=Q(64, 0), fmt_d=Q(64, 0), acc_bits=81)
    with pytest.raises(ValueError, match="adam_s squares d"):
        check_supported("adam_s", word=80, fmt_a=Q(32, 0), fmt_d=Q(33, 0), fmt_c=Q(8, 0))
    with pytest.raises(ValueError, match="adam_s squares a"):
        check_supported("adam_s", word=80, fmt_a=Q(32, 0, signed=False), fmt_d=Q(32, 0),
                        fmt_c=Q(8, 0))
    check_supported("adam_s", word=80, fmt_a=Q(32, 0), fmt_d=Q(31, 0, signed=False),
                    fmt_c=Q(48, 44, signed=False))
    check_supported("drain_relu", word=80, fmt_a=Q(64, 96), fmt_d=Q(48, 48, signed=False),
                    fmt_pre=Q(32, 16))                         # no bias
    with pytest.raises(ValueError, match="not one of"):
        element_latency("nope")
    with pytest.raises(ValueError, match="acc_overflow"):
        build_vector_unit(80, "clamp")


@pytest.mark.tools
@pytest.mark.parametrize("lane", LANES)
def test_verilator_lint_wall_is_clean(request, lane, verilator_tool, tmp_path):
    """The unit's Verilog (the widest lane's and fixar_u50's) passes Verilator
    --lint-only -Wall with the project's waivers (PyRTL's unused temporary carry /
    product bits only)."""
    from fixar_gen.hw.lint import lint

    unit = request.getfixturevalue(lane)

    source = tmp_path / "fixar_vector_unit.v"
    with source.open("w") as f:
        pyrtl.output_to_verilog(f, block=unit.block, module_name="fixar_vector_unit")
    lint(source, "fixar_vector_unit", timeout=120)


# the rounder's fit (the fit's tests on the floor, beside the rounding adder)
FIT_SUM_BITS, FIT_WORD = 24, 12      # a rounder's sum (w) and result (w_out) bits, small


@pytest.fixture(scope="module")
def fit_unit():
    """The rounder's last two stages on their own, combinational: the floor (w bits)
    plus the rounding increment ``up``, its tests (:func:`vector._fit_tests`, from the
    floor and ``up``), the rounded value as the rounder registers it, then
    :func:`vector._fit` to a format of any width, signedness and overflow mode."""
    w, word = FIT_SUM_BITS, FIT_WORD
    with fresh_block():
        floor, up = pyrtl.Input(w, "floor"), pyrtl.Input(1, "up")
        fmt = vector.FormatWires(width=pyrtl.Input(7, "width"), frac=pyrtl.Const(0, 7),
                                 signed=pyrtl.Input(1, "signed"),
                                 rounding=pyrtl.Const(0, 2),
                                 overflow=pyrtl.Input(1, "overflow"))
        high = vector._fit_masks(fmt, w + 1, word)["fit_high"]
        derived = vector._fit_derived(fmt, high, word)
        tests = vector._fit_tests(vector._sx(floor, w + 1), up, fmt,
                                  {"fit_high": high, **derived}, word)
        rounded = pyrtl.concat(floor[-1], (floor[:word] + up.zero_extended(word))[:word])
        value, ovf = vector._fit(vector.Scope("fit"), rounded, fmt,
                                 {"fit_high": high[:word], **derived, **tests}, word)
        for name, wire in (("value", value), ("ovf", ovf)):
            out = pyrtl.Output(wire.bitwidth, name=name)
            out <<= wire
        yield pyrtl.FastSimulation()


@settings(max_examples=examples(400), deadline=None)
@given(width=st.integers(1, FIT_WORD), signed=st.booleans(), wrap=st.booleans(),
       up=st.integers(0, 1), edge=st.sampled_from(["max", "min", "-1", "0", "any"]),
       off=st.integers(-2, 2), rnd=st.integers(-2**(FIT_SUM_BITS - 1),
                                               2**(FIT_SUM_BITS - 1) - 1))
def test_fit_tests_on_the_floor(fit_unit, width, signed, wrap, up, edge, off, rnd):
    """The fit of floor + up, decided from floor and up (not from the rounded value),
    equals fitting the sum: at the format's largest and smallest values and around
    them (floor = max with up = 1 overflows, 2^p - 1 with a carry into bit p), at -1
    and 0 (the rounded sign differs from floor's), at the sum's extremes, any floor.
    Fails if the carry case is dropped (the floor's own fit: 2^p - 1 + 1 would
    fit), if -2 >> p is not accepted for a signed format (-2^p - 1 + 1 would
    overflow), or if the wrapped sign bit ignores the carry."""
    if not signed and width == FIT_WORD:
        width -= 1                   # unsigned widths up to word - 1
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    w = FIT_SUM_BITS
    floor = {"max": hi, "min": lo, "-1": -1, "0": 0}.get(edge, rnd) + off
    assume(-(1 << (w - 1)) <= floor < (1 << (w - 1)))
    fit_unit.step({"floor": floor % (1 << w), "up": up, "width": width,
                   "signed": int(signed), "overflow": int(wrap)})
    want, fits = _fitted(floor + up, width, signed, wrap)
    assert (fit_unit.inspect("value"), fit_unit.inspect("ovf")) == \
        (want % (1 << FIT_WORD), int(not fits))


def _fitted(v: int, width: int, signed: bool, wrap: bool) -> tuple[int, bool]:
    """(the fit's value of ``v`` in ``width`` bits, whether it fits): wrapped or
    saturated when it does not."""
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    if lo <= v <= hi:
        return v, True
    if wrap:
        want = v % (1 << width)
        return (want - (1 << width) if signed and want >> (width - 1) else want), False
    return (hi if v > hi else lo), False


# the rounder's floor kept at the targets' width (:func:`vector._sar_low`, the rest of
# the floor as two tests, :func:`vector._floor_kept` and :func:`vector._floor_value`)
KEPT_SUM_BITS, KEPT_K_MAX, KEPT_FIT_WIDTH, KEPT_WORD = 40, 30, 10, 16


@pytest.fixture(scope="module")
def kept_fit_unit():
    """A rounder's ``rnda`` .. fit stages on their own, combinational, with the floor
    kept at KEPT_FIT_WIDTH + 2 bits: the sum (KEPT_SUM_BITS bits) shifted by k <=
    KEPT_K_MAX, its half bit, then the fit of floor + ``up`` to a format of at most
    KEPT_FIT_WIDTH bits, as :func:`vector._rounder` builds them with ``fit_width``."""
    w, word, kept = KEPT_SUM_BITS, KEPT_WORD, KEPT_FIT_WIDTH + 2
    with fresh_block():
        total, up = pyrtl.Input(w, "total"), pyrtl.Input(1, "up")
        k = pyrtl.Input(KEPT_K_MAX.bit_length(), "k")
        fmt = vector.FormatWires(width=pyrtl.Input(7, "width"), frac=pyrtl.Const(0, 7),
                                 signed=pyrtl.Input(1, "signed"),
                                 rounding=pyrtl.Const(0, 2),
                                 overflow=pyrtl.Input(1, "overflow"))
        below = ~vector._shl(vector._const(-1, KEPT_K_MAX), k)
        t = vector._sar_low(pyrtl.concat(total, pyrtl.Const(0, 1)), k, kept + 1)
        x = vector._floor_value(vector._floor_kept(total, below, kept), t[1:])
        high = vector._fit_masks(fmt, kept + 2, word)["fit_high"]
        derived = vector._fit_derived(fmt, high, word)
        tests = vector._fit_tests(x, up, fmt, {"fit_high": high, **derived}, word)
        rounded = pyrtl.concat(x[-1], (x[:kept + 1] + up.zero_extended(kept + 1))[:kept + 1])
        value, ovf = vector._fit(vector.Scope("fit"), rounded, fmt,
                                 {"fit_high": high[:word], **derived, **tests}, word)
        for name, wire in (("value", value), ("ovf", ovf), ("half", t[0]),
                           ("floor", t[1:])):
            out = pyrtl.Output(wire.bitwidth, name=name)
            out <<= wire
        yield pyrtl.FastSimulation()


@settings(max_examples=examples(500), deadline=None)
@given(width=st.integers(1, KEPT_FIT_WIDTH), signed=st.booleans(), wrap=st.booleans(),
       up=st.integers(0, 1), k=st.integers(0, KEPT_K_MAX),
       edge=st.sampled_from(["max", "min", "-1", "0", "half", "-half", "kept", "-kept",
                             "short", "any"]),
       off=st.integers(-2, 2), rnd=st.integers(-2**(KEPT_SUM_BITS - 1),
                                               2**(KEPT_SUM_BITS - 1) - 1),
       low=st.integers(0, 2**KEPT_K_MAX - 1), short=st.integers(0, KEPT_SUM_BITS))
def test_floor_kept_at_the_targets_width(kept_fit_unit, width, signed, wrap, up, k, edge,
                                         off, rnd, low, short):
    """The floor shifted out at the targets' width plus 2 bits, its other bits as
    'all 0' and 'all 1' tests of the sum, fits floor + up exactly as the whole floor
    does: floors at the format's bounds and around them, at -1 and 0, at the kept
    bits' edges (2^(kept - 1), 2^kept, -2^(kept - 1) - 1, -2^kept - 1 and their
    neighbours: a wrong upper test or top bit fits or wraps them wrongly), of any
    length, any sum; the shifter's low bits and
    half bit are the sum's.  Fails if the shifter drops a bit the smaller shifts
    read, or if the upper tests' mask is off by one."""
    lo, hi = (-(1 << (width - 1)), (1 << (width - 1)) - 1) if signed else (0, (1 << width) - 1)
    w, kept = KEPT_SUM_BITS, KEPT_FIT_WIDTH + 2
    floor = {"max": hi, "min": lo, "-1": -1, "0": 0, "half": 1 << (kept - 1),
             "-half": -(1 << (kept - 1)) - 1, "kept": 1 << kept, "-kept": -(1 << kept) - 1,
             "short": rnd >> short}.get(edge, None)
    if floor is None:
        total = rnd
    else:
        total = ((floor + off) << k) + (low & ((1 << k) - 1))
    assume(-(1 << (w - 1)) <= total < (1 << (w - 1)))
    kept_fit_unit.step({"total": total % (1 << w), "k": k, "up": up, "width": width,
                        "signed": int(signed), "overflow": int(wrap)})
    floor = total >> k
    want, fits = _fitted(floor + up, width, signed, wrap)
    assert (kept_fit_unit.inspect("value"), kept_fit_unit.inspect("ovf")) == \
        (want % (1 << KEPT_WORD), int(not fits))
    assert kept_fit_unit.inspect("floor") == floor % (1 << kept)
    assert kept_fit_unit.inspect("half") == ((total >> (k - 1)) & 1 if k else 0)
