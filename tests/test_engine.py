"""The execution engine (:mod:`fixar_gen.engine`) against the interpreter
(:mod:`fixar_gen.golden`), the executable specification: every buffer, host slot and
saturation count identical, on random single instructions (every vector function, drain
activation, mm transpose and DMA, formats of 2..32 bits with every rounding and overflow
mode, values at the formats' extremes), on whole compiled programs for random tiny specs
(every policy and precision, FXP16/QAT formats, saturating batches) and over many DDPG
updates of the examples.  The engine's kernels are also checked alone at their bounds."""

from __future__ import annotations

import copy
import dataclasses
import resource

import numpy as np
import pytest
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

from fixar_gen import engine_kernels as K
from fixar_gen import engine_numba
from fixar_gen import golden
from fixar_gen.backends import GoldenCore, open_core, random_params
from fixar_gen.compiler import Precision
from fixar_gen.dsl import load_spec
from fixar_gen.engine import EngineMachine, _exact_product
from fixar_gen.golden import GoldenMachine
from fixar_gen.isa import (ACTIVATIONS, NO_BUFFER, VECTOR_FUNCTIONS, Buffer, Drain, Halt,
                           MatMul, Program)
from fixar_gen.numerics import OVERFLOW_MODES, ROUNDING_MODES, FixedFormat
from fixar_gen.rl.qat import QATSchedule
from fixar_gen.testing import uniform_batch

from .conftest import EXAMPLES, examples
from .test_golden_reference import (Builder, Case, _batch, aligned_within_62_bits, as_ints,
                                    bounds, dma_cases, drain_cases, formats, matmul_cases,
                                    raw_values, regions, tiny_precisions, tiny_specs,
                                    vector_cases)


# --------------------------------------------------------------------------- comparison


def _same_machines(engine, interp, names, what):
    for name in names:
        np.testing.assert_array_equal(as_ints(engine.read(name)), as_ints(interp.read(name)),
                                      err_msg=f"{what}: buffer {name}")


def _same_runs(engine_stats, interp_stats, what):
    assert +engine_stats.by_buffer == +interp_stats.by_buffer, f"{what}: per buffer"
    assert +engine_stats.saturations == +engine_stats.by_step(interp_stats.saturations), \
        f"{what}: per instruction"


#: the engine's kernel sets: numpy only (what runs where numba is missing) and numba
KERNELS = ["numpy", pytest.param("numba", marks=pytest.mark.skipif(
    not engine_numba.AVAILABLE, reason="numba is not installed (or FIXAR_NUMBA=0): the "
    "engine runs its numpy kernels, tested by the numpy cases"))]


def run_both(case, kernels="numpy"):
    """One case on the engine and on the interpreter: same results or the same error.
    Returns the two machines (engine first)."""
    machines = [EngineMachine(case.acc_overflow, kernels), GoldenMachine(case.acc_overflow)]
    hosts, results = [], []
    for machine in machines:
        machine.allocate(case.program.buffers)
        for name, value in case.values.items():
            machine.write(name, value)
        host = copy.deepcopy(case.host)
        try:
            results.append(machine.run(case.program, host))
        except (golden.GoldenError, ValueError) as exc:
            results.append(f"{type(exc).__name__}: {exc}")
        hosts.append(host)
    if isinstance(results[1], str) or isinstance(results[0], str):
        assert results[0] == results[1]
        return machines
    _same_machines(*machines, [b.name for b in case.program.buffers], "engine vs interpreter")
    assert hosts[0].keys() == hosts[1].keys()
    for name in hosts[1]:
        np.testing.assert_array_equal(hosts[0][name], hosts[1][name], err_msg=name)
    _same_runs(*results, "engine vs interpreter")
    return machines


# --------------------------------------------------------------------------- single steps


@pytest.mark.parametrize("fn", [f for f in VECTOR_FUNCTIONS if f not in ("acc_add", "ou_noise")])
@settings(max_examples=examples(40))
@given(data=st.data())
def test_vector_function(fn, data):
    run_both(data.draw(vector_cases(fn)))


@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.parametrize("fn", ["adam_s", "adam_w", "adam_m", "soft_update", "momentum",
                                "dact_relu"])
@settings(max_examples=examples(100))
@given(data=st.data())
def test_numba_vector_kernels(fn, kernels, data):
    """The functions with numba kernels besides the numpy ones (adam_s, adam_w, the
    blends of adam_m, soft_update and momentum, dact_relu): both against the
    interpreter."""
    run_both(data.draw(vector_cases(fn)), kernels)


@st.composite
def adam_group_cases(draw, products: bool = False):
    """adam_m, adam_s and adam_w of one parameter (what the engine fuses into one pass),
    sometimes with the target's soft update after them: random formats and shapes,
    values at the formats' extremes, s sometimes negative (the ratio's denominator then
    fails the kernel's bounds), step sizes up to the constants' range (ratios beyond
    the kernel's limit).  With ``products``, matrix products read the parameter (and
    the target) before and after the group: the engine's float64 mirrors of them,
    which the fused pass writes, are what the later products read."""
    from fractions import Fraction
    import math

    from fixar_gen.isa import Range, Vector
    B = Builder(draw)
    rows, cols = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    g_fmt = draw(formats(min_frac=0))
    s_fmt = draw(formats(min_frac=g_fmt.frac, max_frac=g_fmt.frac))
    m_fmt = draw(formats(min_frac=max(0, s_fmt.frac - 24), max_frac=s_fmt.frac + 8))
    assume(m_fmt.width + 24 + s_fmt.frac - m_fmt.frac <= 62)
    w_fmt = draw(formats(min_frac=0))
    floor = -(2**31 - 1)                   # v < 2^62 (see vector_cases)
    g = B.add("g", rows, cols, g_fmt, lo=floor)
    m = B.add("m", rows, cols, m_fmt, "state")
    s = B.add("s", rows, cols, s_fmt, "state", lo=floor if draw(st.booleans()) else 0)
    w = B.add("w", rows, cols, w_fmt, "param")
    betas = []
    for name in ("beta1", "beta2"):
        c_fmt = draw(formats(min_width=2, max_width=48, min_frac=0, signed=False))
        betas.append(B.add(name, 1, 1, c_fmt, "const", lo=0, hi=1 << c_fmt.frac))
    o_fmt = draw(formats(min_width=2, max_width=48, min_frac=0, signed=None))
    opt = B.add("opt", 1, 2, o_fmt, "const")
    lo, hi = bounds(o_fmt)
    s_lo, s_hi = bounds(s_fmt)
    scale = Fraction(2) ** (o_fmt.frac - s_fmt.frac)
    B.values["opt"][0, 1] = draw(raw_values(max(lo, math.ceil(s_lo * scale)),
                                            min(hi, math.floor(s_hi * scale))))
    region = {"rows": Range(0, rows), "cols": Range(0, cols)}
    fn = VECTOR_FUNCTIONS.index
    code = [Vector(fn=fn("adam_m"), dst=m, a=g, c=betas[0], **region),
            Vector(fn=fn("adam_s"), dst=s, a=g, c=betas[1], **region),
            Vector(fn=fn("adam_w"), dst=w, a=m, b=s, c=opt, **region)]
    target = None
    if draw(st.booleans()):
        # the target's soft update (moved into the pass), maybe after a copy of w to
        # another buffer (still movable) or into the target (then not)
        t_fmt = draw(formats())
        assume(aligned_within_62_bits(w_fmt, t_fmt))
        target = B.add("target", rows, cols, t_fmt, "param")
        tau = B.add("tau", 1, 1, draw(formats(min_width=2, max_width=48, signed=None)),
                    "const")
        between = draw(st.sampled_from(["none", "other", "target"]))
        if between != "none":
            dst = target if between == "target" else B.add("other", rows, cols, w_fmt)
            code.append(Vector(fn=fn("copy"), dst=dst, a=w, **region))
        code.append(Vector(fn=fn("soft_update"), dst=target, a=w, c=tau, **region))
    if products:
        x_rows = draw(st.integers(1, 3))
        x = B.add("x", x_rows, rows, draw(formats(min_frac=0)))
        before, after = [], []
        for k, p in enumerate([w] if target is None else [w, target]):
            frac = B.buffers[x].fmt.frac + B.buffers[p].fmt.frac
            accs = [B.add(f"acc{k}{when}", x_rows, cols, FixedFormat(64, frac), "acc", 94,
                          -(1 << 63), (1 << 63) - 1) for when in "ba"]
            mm = dict(a=x, b=p, ta=0, tb=0, mode=0, accumulate=0, m=Range(0, x_rows),
                      n=Range(0, cols), k=Range(0, rows))
            before.append(MatMul(dst=accs[0], **mm))
            after.append(MatMul(dst=accs[1], **mm))
        # without the later products, a run that writes the parameter ends with no
        # valid mirror of it (but where the fused pass wrote one)
        code = before + code + (after if draw(st.booleans()) else [])
    return B.case(code)


# a negative s can make the interpreter's denominator 0 (numpy's floor_divide then
# warns and gives 0, which is the specification's result the engine must match)
@pytest.mark.filterwarnings("ignore:divide by zero encountered:RuntimeWarning")
@settings(max_examples=examples(300))
@given(data=st.data())
def test_fused_adam_equals_the_three_steps(data):
    """The fused adam pass (numba) against the interpreter: random formats, extremes,
    saturating and wrapping m, s and w, and cases beyond the kernel's bounds (which run
    the three steps alone)."""
    if not engine_numba.AVAILABLE:
        pytest.skip("numba is not installed (or FIXAR_NUMBA=0): no fused kernels")
    case = data.draw(adam_group_cases())
    steps = EngineMachine(case.acc_overflow, "numba")._plan(case.program).steps
    kinds = [type(instr).__name__ for _, _, instr in steps]
    note(f"plan: {kinds}")
    run_both(case, "numba")


@st.composite
def wide_adam_cases(draw):
    """adam_m, adam_s and adam_w of one Q8.24 parameter (and sometimes its target's soft
    update) with beta2 in 32 fraction bits at or above 0.5, s up to 21 bits and
    gradients up to 24 bits (what the trainer's early updates reach): adam_s's blend of
    s squared and the gradient squared needs the constants in three limbs
    (engine_kernels.split3), two leaving a product at or above 2**60."""
    B = Builder(draw)
    rows, cols = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    q24, c32 = FixedFormat(32, 24), FixedFormat(34, 32, signed=False)
    g = B.add("g", rows, cols, q24)
    # m and s as a gradient's moments (|m| below 2**24, s at least 2**16): adam_w's
    # ratio within the kernels' limit, so no other bound sends the group to its steps
    m = B.add("m", rows, cols, q24, "state", lo=-(2**24), hi=2**24)
    s = B.add("s", rows, cols, q24, "state", lo=2**16, hi=2**21 - 1)
    w = B.add("w", rows, cols, q24, "param", lo=-(2**28), hi=2**28)
    # the widest gradient and s of the bounds the engine tracks: 24 and 21 bits
    B.values["g"][-1, -1] = draw(st.sampled_from([-(2**24) + 1, -(2**23), 2**23, 2**24 - 1]))
    B.values["s"][0, 0] = draw(st.integers(2**20, 2**21 - 1))
    B.values["g"] = np.clip(B.values["g"], -(2**24) + 1, 2**24 - 1)
    beta1 = B.add("beta1", 1, 1, c32, "const", lo=0, hi=1 << 32)
    beta2 = B.add("beta2", 1, 1, c32, "const", lo=1 << 31, hi=1 << 32)
    return B.case(adam_code(draw, B, rows, cols, m, s, w, g, beta1, beta2, q24))


def adam_code(draw, B, rows, cols, m, s, w, g, beta1, beta2, target_fmt) -> list:
    """adam_m, adam_s and adam_w over the whole ``rows`` x ``cols`` region of ``B``'s
    buffers (ids ``m``, ``s``, ``w``, ``g``; ``beta1``, ``beta2``: the constants'), the
    optimizer's constants added here, and sometimes the target's soft update (a
    parameter in ``target_fmt``)."""
    from fixar_gen.isa import Range, Vector
    c32 = FixedFormat(34, 32, signed=False)
    opt = B.add("opt", 1, 2, FixedFormat(40, 32), "const", lo=1, hi=1 << 20)
    region = {"rows": Range(0, rows), "cols": Range(0, cols)}
    fn = VECTOR_FUNCTIONS.index
    code = [Vector(fn=fn("adam_m"), dst=m, a=g, c=beta1, **region),
            Vector(fn=fn("adam_s"), dst=s, a=g, c=beta2, **region),
            Vector(fn=fn("adam_w"), dst=w, a=m, b=s, c=opt, **region)]
    if draw(st.booleans()):
        target = B.add("target", rows, cols, target_fmt, "param")
        tau = B.add("tau", 1, 1, c32, "const", lo=0, hi=1 << 32)
        code.append(Vector(fn=fn("soft_update"), dst=target, a=w, c=tau, **region))
    return code


@pytest.mark.filterwarnings("ignore:divide by zero encountered:RuntimeWarning")
@pytest.mark.parametrize("kernels", KERNELS)
@settings(max_examples=examples(100), deadline=None)
@given(case=wide_adam_cases())
def test_adam_splits_adam_s_in_three_limbs(kernels, case):
    """adam_s's constants in three limbs: the fused adam pass (numba) and the numpy
    kernels equal the interpreter and run without falling back (the fused group to its
    steps alone, adam_s to the interpreter's code).  Catches a kernel that drops the
    middle limbs' carry (values differ) and an engine whose split refuses three limbs
    (fallbacks > 0); each mutation tried: the test failed."""
    beta = int(case.values["beta2"][0, 0])
    assert K.split(42, beta, 48, (1 << 32) - beta, 32) is None      # two limbs do not do
    if kernels == "numba":
        steps = EngineMachine(case.acc_overflow, "numba")._plan(case.program).steps
        assert [type(ins).__name__ for _, _, ins in steps[:-1]] == ["Fused"]
    engine, _ = run_both(case, kernels)
    assert engine.fallbacks == 0


@st.composite
def square_adam_cases(draw):
    """adam_m, adam_s and adam_w of one Q8.24 parameter (and sometimes its target's soft
    update) late in training: gradients and roots of 1.0 and more (25 to 32 bits), a
    saturated gradient (-2**31) among them.  adam_s's squares are then beyond what any
    split of the constants keeps below 2**60, and the kernels split the squares
    (engine_kernels.v_limbs, square_blend)."""
    B = Builder(draw)
    rows, cols = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    q24 = FixedFormat(32, 24)
    c32 = FixedFormat(34, 32, signed=False)
    g = B.add("g", rows, cols, q24)
    # |m| below 2**24 and s at least 2**16: adam_w's ratio within the kernels' limit
    m = B.add("m", rows, cols, q24, "state", lo=-(2**24), hi=2**24)
    s = B.add("s", rows, cols, q24, "state", lo=2**16)
    w = B.add("w", rows, cols, q24, "param", lo=-(2**28), hi=2**28)
    B.values["g"][-1, -1] = draw(st.sampled_from([-(2**31), 2**31 - 1, -(2**25), 2**30]))
    B.values["s"][0, 0] = draw(st.sampled_from([2**31 - 1, 2**25, 2**30 + 12345]))
    beta1 = B.add("beta1", 1, 1, c32, "const", lo=0, hi=1 << 32)
    beta2 = B.add("beta2", 1, 1, c32, "const", lo=0, hi=1 << 32)
    return B.case(adam_code(draw, B, rows, cols, m, s, w, g, beta1, beta2, q24))


@pytest.mark.filterwarnings("ignore:divide by zero encountered:RuntimeWarning")
@pytest.mark.parametrize("kernels", KERNELS)
@settings(max_examples=examples(100), deadline=None)
@given(case=square_adam_cases())
def test_adam_splits_the_squares_beyond_the_limbs(kernels, case):
    """adam_s with roots and gradients of 25 to 32 bits (the critic's in a HalfCheetah
    run after 100,000 steps, where the interpreter's code took 40% of an update): the
    fused adam pass (numba) and the numpy kernels equal the interpreter without falling
    back.  Catches an engine that refuses the squares split (fallbacks > 0) and a
    kernel whose carries or rounding are wrong (values differ)."""
    q24 = FixedFormat(32, 24)
    beta = int(case.values["beta2"][0, 0])
    bits = [K.array_bits(case.values[name]) for name in ("s", "g")]
    assert max(bits) >= 26
    assert K.v_limbs(bits[0], q24, bits[1], q24, beta, 32)[6] == K.SQUARES
    if kernels == "numba":
        steps = EngineMachine(case.acc_overflow, "numba")._plan(case.program).steps
        assert [type(ins).__name__ for _, _, ins in steps[:-1]] == ["Fused"]
    engine, _ = run_both(case, kernels)
    assert engine.fallbacks == 0


@settings(max_examples=examples(400))
@given(data=st.data(), shift=st.integers(0, 62), rounding=st.sampled_from(ROUNDING_MODES))
def test_square_blend_is_exact(data, shift, rounding):
    """engine_kernels.square_blend (numpy) and the numba kernels' round_squares against
    R((x*x * c1 + y*y * c2) / 2**shift) in Python integers, over their whole domain:
    |x|, |y| <= 2**31 with the extremes, c1, c2 >= 0, c1 + c2 <= 2**min(shift, 32)."""
    size = data.draw(st.integers(1, 6))
    edge = st.sampled_from([-(2**31), 2**31, 2**31 - 1, -(2**16) - 1, 2**16, 0, 1])
    value = st.integers(-(2**31), 2**31) | edge
    x = data.draw(st.lists(value, min_size=size, max_size=size))
    y = data.draw(st.lists(value, min_size=size, max_size=size))
    room = 1 << min(shift, 32)
    c1 = data.draw(st.integers(0, room) | st.sampled_from([0, room, room - 1]))
    c2 = data.draw(st.integers(0, room - c1) | st.just(room - c1))
    want = [_round_exact(p * p * c1 + q * q * c2, shift, rounding) for p, q in zip(x, y)]
    assert max(want) <= 2**62
    got = K.square_blend(np.array(x, dtype=np.int64), np.array(y, dtype=np.int64), c1, c2,
                         shift, rounding)
    np.testing.assert_array_equal(got, np.array(want, dtype=np.int64))
    if engine_numba.AVAILABLE:
        from fixar_gen import engine_numba_kernels as NK
        half, mode = NK.half_of(np.int64(shift)), engine_numba.ROUNDING_CODES[rounding]
        got = [NK.round_squares(np.int64(p), np.int64(q), np.int64(c1), np.int64(c2),
                                np.int64(shift), half, np.int64(mode)) for p, q in zip(x, y)]
        assert got == want


def test_v_limbs_split_the_squares_only_beyond_the_constants_limbs():
    """engine_kernels.v_limbs: split3's limbs while they keep the squares' products
    below 2**60, the squares split from there up to |x| = 2**31 (a signed 32-bit
    format's -2**31, bound 32), nothing beyond (33 bits, an unsigned 32-bit format's
    2**32 - 1, beta2 with more than 32 fraction bits or outside [0, 1])."""
    q24, u32 = FixedFormat(32, 24), FixedFormat(32, 24, signed=False)
    beta = (1 << 32) - (1 << 22)                      # 0.999 or so, in UQ1.32
    assert K.v_limbs(21, q24, 24, q24, beta, 32) == K.split3(42, beta, 48, (1 << 32) - beta,
                                                               32)
    for bits in ((25, 24), (31, 31), (32, 32), (24, 32)):
        assert K.v_limbs(*bits[:1], q24, bits[1], q24, beta, 32) == \
            (beta, 0, 0, (1 << 32) - beta, 0, 0, K.SQUARES, 0)
    assert K.v_limbs(33, FixedFormat(34, 24), 20, q24, beta, 32) is None
    assert K.v_limbs(32, u32, 20, q24, beta, 32) is None
    assert K.v_limbs(31, q24, 31, q24, beta << 8, 40) is None
    assert K.v_limbs(31, q24, 31, q24, (1 << 32) + 1, 32) is None
    assert K.v_limbs(31, q24, 31, q24, -1, 32) is None


def test_plans_fuse_every_adam_triple_and_monitor():
    """Both DDPG examples' train plans run each parameter's adam_m, adam_s, adam_w and
    its target's soft update as one fused step (numba), every identity or relu drain
    with the matrix product before it and every range monitor of its output; without
    numba, nothing is fused."""
    if not engine_numba.AVAILABLE:
        pytest.skip("numba is not installed (or FIXAR_NUMBA=0): no fused kernels")
    from fixar_gen.engine_fusion import Fused, is_drain_of, is_monitor_of
    from fixar_gen.isa import Drain, Vector
    for path in ("pendulum.yaml", "halfcheetah.yaml"):
        spec = load_spec(EXAMPLES / path)
        params = 2 * (len(spec.networks.actor.layer_sizes) - 1) + \
            2 * (len(spec.networks.critic.layer_sizes) - 1)
        for kernels in ("numba", "numpy"):
            core = GoldenCore(spec, kernels=kernels)
            program = core.program("train", spec.algorithm.batch_size)
            steps = core.machine._plan(program).steps
            kinds = [instr.kind for _, _, instr in steps if isinstance(instr, Fused)]
            if kernels == "numpy":
                assert kinds == [], path
                continue
            assert kinds.count("adam") == params, path
            assert kinds.count("mm_drain") >= 2 * (len(spec.networks.actor.layer_sizes)
                                                   - 1), path
            assert kinds.count("ksplit") >= params, path           # weight and bias grads
            adam = [i for _, _, i in steps if isinstance(i, Fused) and i.kind == "adam"]
            assert all(len(i.parts) == 4 for i in adam), path     # with the soft update
            assert not any(isinstance(i, Vector) and VECTOR_FUNCTIONS[i.fn] == "soft_update"
                           for _, _, i in steps), path
            for (_, _, first), (_, _, second) in zip(steps, steps[1:]):
                if isinstance(first, Drain) and ACTIVATIONS[first.act] in ("identity",
                                                                           "relu"):
                    assert not is_monitor_of(first, second, program.buffers), (path, first)
                if isinstance(second, Drain) and ACTIVATIONS[second.act] in ("identity",
                                                                            "relu"):
                    assert not is_drain_of(first, second), (path, second)


def _drain_with_monitors(draw):
    """A drain (identity or relu, with or without bias) followed by range monitors of
    row blocks of its output (what the compiler emits after each layer per core)."""
    from fixar_gen.isa import Range, Vector
    case = draw(drain_cases(draw(st.sampled_from(["identity", "relu"])), draw(st.booleans())))
    (drain,) = [i for i in case.program.code if isinstance(i, Drain)]
    program = case.program
    d_fmt = program.buffers[drain.dst].fmt
    buffers, values, code = list(program.buffers), dict(case.values), [drain]
    for k in range(draw(st.integers(1, 3))):
        start = draw(st.integers(drain.rows.start, drain.rows.start + drain.rows.count - 1))
        count = draw(st.integers(1, drain.rows.start + drain.rows.count - start))
        name = f"mon{k}"
        buffers.append(Buffer(name, 1, 2, d_fmt, "monitor"))
        lo, hi = bounds(d_fmt)
        values[name] = np.array([[draw(st.integers(lo, hi)), draw(st.integers(lo, hi))]],
                                dtype=np.int64)
        code.append(Vector(fn=VECTOR_FUNCTIONS.index("range"), dst=len(buffers) - 1,
                           a=drain.dst, rows=Range(start, count), cols=drain.cols))
    return Case(Program("case", tuple(buffers), (), tuple(code) + (Halt(),), 1,
                        program.pre_format), values, {}, case.acc_overflow)


@pytest.mark.filterwarnings("ignore:divide by zero encountered:RuntimeWarning")
@pytest.mark.parametrize("kernels", KERNELS)
@settings(max_examples=examples(150))
@given(data=st.data())
def test_float_mirrors_follow_the_parameters(kernels, data):
    """Products reading a parameter and its target before (and maybe after) their Adam
    step and soft update, the program run three times with a host write of the parameter before
    the third: the engine's float64 mirrors of the operands (written by the fused pass,
    kept from one run to the next while the buffer's array is unchanged) give what the
    interpreter gives.  Catches a fused pass that leaves its mirror stale, a mirror kept
    across a run that wrote its buffer, or across a host write."""
    case = data.draw(adam_group_cases(products=True))
    machines = [EngineMachine(case.acc_overflow, kernels), GoldenMachine(case.acc_overflow)]
    for machine in machines:
        machine.allocate(case.program.buffers)
        for name, value in case.values.items():
            machine.write(name, value)
    new_w = data.draw(st.none() | st.just(1))
    names = [b.name for b in case.program.buffers]
    for run in range(3):
        if run == 2 and new_w is not None:        # the host writes the parameter
            for machine in machines:
                machine.write("w", np.flip(as_ints(machine.read("w"))))
        results = []
        for machine in machines:
            try:
                results.append(machine.run(case.program, {}))
            except (golden.GoldenError, ValueError) as exc:
                results.append(f"{type(exc).__name__}: {exc}")
        if isinstance(results[0], str) or isinstance(results[1], str):
            assert results[0] == results[1]
            return
        _same_machines(*machines, names, f"run {run}")
        _same_runs(*results, f"run {run}")


@st.composite
def mm_drain_cases(draw):
    """A matrix product (any transposes, sub-ranges of its operands) and the drain of its
    result (identity or relu, with or without bias, into formats that saturate), then
    range monitors of row blocks of the drain's output and maybe a dact_relu of it."""
    from fixar_gen.isa import Range, Vector
    from .test_golden_reference import matmul_cases
    mm_case = draw(matmul_cases(draw(st.integers(0, 1)), draw(st.integers(0, 1)), 0))
    (mm,) = [i for i in mm_case.program.code if isinstance(i, MatMul)]
    buffers, values = list(mm_case.program.buffers), dict(mm_case.values)
    acc_fmt = buffers[mm.dst].fmt

    def add(name, rows, cols, fmt, kind="data"):
        buffers.append(Buffer(name, rows, cols, fmt, kind))
        lo, hi = bounds(fmt)
        values[name] = np.array([[draw(raw_values(lo, hi)) for _ in range(cols)]
                                 for _ in range(rows)], dtype=np.int64)
        return len(buffers) - 1
    d_fmt = draw(formats())
    dst_rows = mm.m.start + mm.m.count + draw(st.integers(0, 1))
    dst = add("d", dst_rows, mm.n.count + draw(st.integers(0, 1)), d_fmt)
    bias = NO_BUFFER
    if draw(st.booleans()):
        bias = add("bias", 1, mm.n.start + mm.n.count, draw(formats(max_frac=acc_fmt.frac)),
                   "param")
    act = draw(st.sampled_from(["identity", "relu"]))
    drain = Drain(dst=dst, acc=mm.dst, bias=bias, act=ACTIVATIONS.index(act), rows=mm.m,
                  cols=Range(0, mm.n.count), src_col=mm.n.start)
    code = [mm, drain]
    for k in range(draw(st.integers(0, 2))):
        start = draw(st.integers(mm.m.start, mm.m.start + mm.m.count - 1))
        count = draw(st.integers(1, mm.m.start + mm.m.count - start))
        mon = add(f"mon{k}", 1, 2, d_fmt, "monitor")
        code.append(Vector(fn=VECTOR_FUNCTIONS.index("range"), dst=mon, a=dst,
                           rows=Range(start, count), cols=drain.cols))
    if draw(st.booleans()):            # relu's derivative of the drained gradient
        h = add("h", dst_rows, mm.n.count, draw(formats()))
        dz = add("dz", dst_rows, mm.n.count, draw(formats(max_frac=max(d_fmt.frac, -2))))
        code.append(Vector(fn=VECTOR_FUNCTIONS.index("dact_relu"), dst=dz, a=dst, b=h,
                           rows=mm.m, cols=Range(0, mm.n.count)))
    return Case(Program("case", tuple(buffers), (), tuple(code) + (Halt(),), 1,
                        draw(formats(min_width=4))), values, {}, mm_case.acc_overflow)


@st.composite
def ksplit_cases(draw):
    """What the compiler emits for a product split along its reduction range across
    two cores: the two pieces into their accumulators, acc_add, the drain of the sum
    (identity or relu, maybe bias), then range monitors of its output or a dact_relu of
    it; operands at the formats' extremes, accumulators narrow enough to saturate
    sometimes."""
    from fixar_gen.isa import Range, Vector
    B = Builder(draw)
    m, n, k = (draw(st.integers(1, 4)) for _ in range(3))
    k += 1
    cut = draw(st.integers(1, k - 1))
    ta, tb = draw(st.integers(0, 1)), draw(st.integers(0, 1))
    a_fmt, b_fmt = draw(formats(min_frac=0)), draw(formats(min_frac=0))
    a = B.add("a", *((k, m) if ta else (m, k)), a_fmt)
    b = B.add("b", *((n, k) if tb else (k, n)), b_fmt)
    acc_bits = draw(st.integers(4, 94))
    lim = min(1 << (acc_bits - 1), 1 << 63)
    acc_fmt = FixedFormat(64, a_fmt.frac + b_fmt.frac)
    accs = [B.add(f"acc{c}", m, n, acc_fmt, "acc", acc_bits, -lim, lim - 1) for c in (0, 1)]
    region = {"m": Range(0, m), "n": Range(0, n)}
    pieces = [MatMul(core=c, dst=accs[c], a=a, b=b, ta=ta, tb=tb, k=kr, **region)
              for c, kr in enumerate((Range(0, cut), Range(cut, k - cut)))]
    add = Vector(fn=VECTOR_FUNCTIONS.index("acc_add"), dst=accs[0], a=accs[1],
                 rows=Range(0, m), cols=Range(0, n))
    d_fmt = draw(formats())
    dst = B.add("d", m, n, d_fmt)
    bias = B.add("bias", 1, n, draw(formats(max_frac=acc_fmt.frac)), "param") \
        if draw(st.booleans()) else NO_BUFFER
    drain = Drain(dst=dst, acc=accs[0], bias=bias,
                  act=ACTIVATIONS.index(draw(st.sampled_from(["identity", "relu"]))),
                  rows=Range(0, m), cols=Range(0, n))
    code = pieces + [add, drain]
    if draw(st.booleans()):            # relu's derivative of the drained gradient
        h = B.add("h", m, n, draw(formats()))
        dz = B.add("dz", m, n, draw(formats(max_frac=max(d_fmt.frac, -2))))
        code.append(Vector(fn=VECTOR_FUNCTIONS.index("dact_relu"), dst=dz, a=dst, b=h,
                           rows=Range(0, m), cols=Range(0, n)))
    elif m > 1 and draw(st.booleans()):
        half = draw(st.integers(1, m - 1))
        for c, rows in enumerate((Range(0, half), Range(half, m - half))):
            mon = B.add(f"mon{c}", 1, 2, d_fmt, "monitor")
            code.append(Vector(fn=VECTOR_FUNCTIONS.index("range"), dst=mon, a=dst,
                               rows=rows, cols=Range(0, n)))
    return B.case(code, pre_format=draw(formats(min_width=4)),
                  acc_overflow=draw(st.sampled_from(OVERFLOW_MODES)))


@settings(max_examples=examples(300))
@given(data=st.data())
def test_ksplit_equals_the_steps(data):
    """Two K-split pieces, their acc_add and the drain of the sum fused (numba) against
    the interpreter: both accumulators, the drain's output, monitors and counts."""
    if not engine_numba.AVAILABLE:
        pytest.skip("numba is not installed (or FIXAR_NUMBA=0): no fused kernels")
    case = data.draw(ksplit_cases())
    note(f"plan: {EngineMachine(kernels='numba')._plan(case.program).steps}")
    run_both(case, "numba")


@settings(max_examples=examples(300))
@given(data=st.data())
def test_mm_drain_equals_the_steps(data):
    """A matrix product fused with its drain and monitors (numba) against the
    interpreter: the accumulator, the drain's output, the monitors and the counts."""
    if not engine_numba.AVAILABLE:
        pytest.skip("numba is not installed (or FIXAR_NUMBA=0): no fused kernels")
    case = data.draw(mm_drain_cases())
    note(f"plan: {EngineMachine(kernels='numba')._plan(case.program).steps}")
    run_both(case, "numba")


@settings(max_examples=examples(200))
@given(data=st.data())
def test_drain_with_monitors_equals_the_steps(data):
    """A drain with its range monitors folded in (numba) against the interpreter: every
    monitor's minimum and maximum, the drain's output and its saturation counts."""
    if not engine_numba.AVAILABLE:
        pytest.skip("numba is not installed (or FIXAR_NUMBA=0): no fused kernels")
    run_both(_drain_with_monitors(data.draw), "numba")


@pytest.mark.parametrize("fn", ["acc_add", "ou_noise"])
@settings(max_examples=examples(40))
@given(data=st.data())
def test_vector_function_in_place(fn, data):
    run_both(data.draw(vector_cases(fn, same_src_col=True)))


@pytest.mark.parametrize("kernels", KERNELS)
@pytest.mark.parametrize("act", ACTIVATIONS)
@pytest.mark.parametrize("with_bias", [False, True], ids=["no_bias", "bias"])
@settings(max_examples=examples(40))
@given(data=st.data())
def test_drain(act, with_bias, kernels, data):
    """Every activation (identity, relu and tanh drains have numba kernels too)."""
    run_both(data.draw(drain_cases(act, with_bias)), kernels)


@st.composite
def tanh_drain_cases(draw):
    """tanh drains inside the numba kernel's domain: pre-activation formats with fewer
    and more fraction bits than the table's segments (the clamped and the interpolated
    path), accumulators at their extremes (pre saturating or wrapping), every rounding
    and overflow of pre and dst."""
    B = Builder(draw)
    rows, cols, rr, cr = draw(regions())
    src_col = draw(st.integers(0, 3))
    pre = draw(formats(min_width=4, max_width=40, min_frac=0, max_frac=24))
    acc_frac = draw(st.integers(pre.frac, min(pre.frac + 40, 62)))
    acc_bits = draw(st.integers(8, 60))
    lim = 1 << (acc_bits - 1)
    acc = B.add("acc", rows, src_col + cr.count, FixedFormat(64, acc_frac), "acc", acc_bits,
                -lim, lim - 1)
    seg = max(pre.frac - golden.TANH_SEGMENT_FRAC, 0)
    dst = B.add("d", rows, cols, draw(formats(min_frac=0, max_frac=golden.TANH_TABLE_FRAC + seg)))
    bias = NO_BUFFER
    if draw(st.booleans()):
        # |bias| * 2**(f(acc) - f(bias)) below 2**54: the kernel's bound holds
        bias_fmt = draw(formats(max_width=24, min_frac=max(0, acc_frac - 30), max_frac=acc_frac))
        bias = B.add("bias", 1, src_col + cr.count, bias_fmt, "param")
    ins = Drain(dst=dst, acc=acc, bias=bias, slope=NO_BUFFER, act=ACTIVATIONS.index("tanh"),
                rows=rr, cols=cr, src_col=src_col)
    return B.case([ins], pre_format=pre)


@pytest.mark.skipif(not engine_numba.AVAILABLE, reason="numba is not installed (or "
                    "FIXAR_NUMBA=0): the numpy tanh drain is tested by test_drain")
@settings(max_examples=examples(150))
@given(case=tanh_drain_cases())
def test_numba_tanh_drain_equals_the_interpreter(case):
    """The numba tanh drain runs (no fallback) and gives the interpreter's results and
    saturation counts."""
    run_both(case, "numba")
    engine = EngineMachine(case.acc_overflow, "numba")
    engine.allocate(case.program.buffers)
    for name, value in case.values.items():
        engine.write(name, value)
    (step,) = [s for s in engine._plan(case.program).steps if isinstance(s[2], Drain)]
    assert step[1].__qualname__.startswith("EngineMachine._nb_drain_tanh")
    engine.run(case.program, {})
    assert engine.fallbacks == 0


@pytest.mark.parametrize("ta,tb", [(0, 0), (0, 1), (1, 0), (1, 1)])
@pytest.mark.parametrize("accumulate", [0, 1])
@settings(max_examples=examples(40))
@given(data=st.data())
def test_matmul(ta, tb, accumulate, data):
    run_both(data.draw(matmul_cases(ta, tb, accumulate)))


@pytest.mark.parametrize("kind", ["load", "store"])
@settings(max_examples=examples(40))
@given(data=st.data())
def test_dma(kind, data):
    run_both(data.draw(dma_cases(kind)))


# --------------------------------------------------------------------------- whole programs


def _cores(spec, precision=None, kernels=None):
    kw = {} if precision is None else {"precision": precision}
    engine = GoldenCore(spec, engine="compiled", **kw)
    if kernels is not None:
        engine.machine = EngineMachine(spec.numerics.overflow, kernels)
    return engine, GoldenCore(spec, engine="interpreter", **kw)


def _same_cores(engine, interp, what):
    assert engine.machine.memory.keys() == interp.machine.memory.keys()
    _same_machines(engine.machine, interp.machine, sorted(interp.machine.memory), what)
    assert engine.stats.saturations == interp.stats.saturations, what


@pytest.mark.parametrize("kernels", KERNELS)
@settings(max_examples=examples(30))
@given(data=st.data())
def test_compiled_programs(kernels, data):
    """infer, explore, several train steps and infer_critic on a random tiny spec (every
    optimizer, activation, noise, policy, core count, FXP32 or per-layer FXP16 formats,
    batches at the formats' extremes): every buffer equal after every program."""
    spec = data.draw(tiny_specs())
    precision = data.draw(tiny_precisions(spec))
    seed = data.draw(st.integers(0, 2**16))
    extremes = data.draw(st.booleans())
    note(f"spec={spec!r}\nprecision={precision!r}\nseed={seed} extremes={extremes}")
    cores = _cores(spec, precision, kernels)
    for core in cores:
        core.load_params(random_params(spec, seed=seed))
    rng = np.random.default_rng(seed)
    batch = _batch(cores[0], spec.algorithm.batch_size, rng, extremes)
    outs = [core.infer("actor", batch.states) for core in cores]
    np.testing.assert_array_equal(*outs)
    _same_cores(*cores, "infer")
    for step in range(2):
        outs = [core.infer("actor", batch.states, explore=True) for core in cores]
        np.testing.assert_array_equal(*outs)
        _same_cores(*cores, f"explore {step}")
    for step in range(3):
        batch = _batch(cores[0], spec.algorithm.batch_size, rng, extremes)
        for core in cores:
            core.train_step(batch)
        _same_cores(*cores, f"train {step}")
    outs = [core.infer("critic", batch.states, batch.actions) for core in cores]
    np.testing.assert_array_equal(*outs)
    _same_cores(*cores, "infer_critic")
    assert cores[0].read_ranges() == cores[1].read_ranges()


def _train_both(path, updates, batch_size=None, qat_after=None, reward_range=(-16.0, 0.0),
                kernels=None):
    """``updates`` DDPG updates of an example on both engines, compared after each; at
    ``qat_after`` both switch to the FXP16 formats the QAT schedule picks."""
    spec = load_spec(EXAMPLES / path)
    cores = _cores(spec, kernels=kernels)
    for core in cores:
        core.load_params(random_params(spec, seed=1))
    rng = np.random.default_rng(2)
    for step in range(updates):
        if step == qat_after:
            schedule = QATSchedule(spec)
            formats, _ = schedule.choose_formats(cores[1].read_ranges())
            precision = Precision("fxp16", tuple((k, formats[k]) for k in schedule.keys))
            for core in cores:
                core.set_precision(precision)
        batch = uniform_batch(spec, cores[0].formats, rng, size=batch_size,
                              reward_range=reward_range)
        for core in cores:
            core.train_step(batch)
        _same_cores(*cores, f"{path} update {step}")
    return cores


@pytest.mark.parametrize("kernels", KERNELS)
def test_pendulum_updates_equal_and_use_the_fast_kernels(kernels):
    """40 pendulum updates (FXP32, then per-layer FXP16 from the observed ranges, with
    rewards large enough to saturate): the same bits, and most steps run compiled."""
    engine, interp = _train_both("pendulum.yaml", 40, qat_after=20, reward_range=(-400, 0),
                                 kernels=kernels)
    assert sum(engine.stats.saturations.values()) > 0        # saturating batches covered
    per_run = engine.machine.fallbacks / engine.stats.runs
    steps = len(engine.machine._plan(engine.program("train", 64)).steps)
    assert per_run < 0.1 * steps, (per_run, steps)


@pytest.mark.slow
def test_many_pendulum_updates_equal():
    """1,000 updates through the QAT switch (about a minute: slow-marked)."""
    _train_both("pendulum.yaml", 1_000, qat_after=500, reward_range=(-100, 0))


def test_halfcheetah_updates_equal():
    """The 400-300 networks: three updates at batch 64, the same bits."""
    _train_both("halfcheetah.yaml", 3)


def test_memory_does_not_grow_over_updates():
    """Peak RSS stops growing after the first updates (no per-update growth)."""
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    core = open_core(spec, "golden")
    core.load_params(random_params(spec, seed=0))
    rng = np.random.default_rng(0)
    batches = [uniform_batch(spec, core.formats, rng) for _ in range(4)]
    for i in range(50):
        core.train_step(batches[i % 4])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for i in range(300):
        core.train_step(batches[i % 4])
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert after - before < 4096, (before, after)          # KiB


def test_open_core_selects_the_engine():
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    assert isinstance(open_core(spec, "golden").machine, EngineMachine)
    interp = open_core(spec, "golden", engine="interpreter").machine
    assert type(interp) is GoldenMachine
    with pytest.raises(ValueError, match="not one of compiled, interpreter"):
        open_core(spec, "golden", engine="jit")
    with pytest.raises(ValueError, match="only the golden backend"):
        open_core(spec, "pyrtl", engine="compiled")


# --------------------------------------------------------------------------- kernels alone


def _exact_matmul(a, b):
    return np.array(a, dtype=object) @ np.array(b, dtype=object)


@settings(max_examples=examples(40))
@given(ka=st.integers(1, 32), kb=st.integers(1, 32), k=st.sampled_from([1, 2, 7, 400, 2048]),
       seed=st.integers(0, 2**32 - 1), extremes=st.booleans())
def test_exact_product_limbs(ka, kb, k, seed, extremes):
    """Every limb split (one BLAS call up to four) gives the exact product, with
    operands at their bounds (-2^(b-1) has b bits)."""
    rng = np.random.default_rng(seed)
    a = rng.integers(-(1 << (ka - 1)), 1 << (ka - 1), size=(3, k), dtype=np.int64)
    b = rng.integers(-(1 << (kb - 1)), 1 << (kb - 1), size=(k, 2), dtype=np.int64)
    if extremes:
        a[0, :] = -(1 << (ka - 1))
        b[:, 0] = -(1 << (kb - 1))
        b[:, 1] = (1 << (kb - 1)) - 1
    kbits = (k - 1).bit_length()
    got = _exact_product(a, ka, b, kb, kbits)
    if got is None:
        assert ka + kb + kbits > 53
        return
    np.testing.assert_array_equal(as_ints(got), _exact_matmul(a, b))


@settings(max_examples=examples(200))
@given(x=st.lists(st.integers(-(2**31), 2**31 - 1), min_size=1, max_size=8),
       c1=st.integers(-(2**48), 2**48), c2=st.integers(-(2**48), 2**48),
       shift=st.integers(0, 62), rounding=st.sampled_from(ROUNDING_MODES),
       overflow=st.sampled_from(OVERFLOW_MODES), width=st.integers(2, 40))
def test_blend_is_the_exact_rounded_sum(x, c1, c2, shift, rounding, overflow, width):
    from fixar_gen import exact
    xa = np.array(x, dtype=np.int64)
    ya = xa[::-1].copy()
    fmt = FixedFormat(width, 0, rounding=rounding, overflow=overflow)
    got = K.blend(xa, 32, c1, ya, 32, c2, shift, fmt)
    if got is None:
        return
    want = exact.combine([(exact.wide_mul(xa, np.int64(c1)), shift),
                          (exact.wide_mul(ya, np.int64(c2)), shift)], fmt)
    np.testing.assert_array_equal(got[0], want[0])
    assert got[1] == want[1]


def _roots():
    """Values at and around the nearest root's boundaries s*s +- s."""
    s = st.integers(0, 2**31 - 1)
    return st.one_of(st.integers(0, 2**62 - 1),
                     s.flatmap(lambda r: st.sampled_from(
                         [max(r * r + d, 0) for d in (-r - 1, -r, -r + 1, -1, 0, 1, r - 1,
                                                     r, r + 1)])))


@settings(max_examples=examples(300))
@given(v=st.lists(_roots(), min_size=1, max_size=16))
def test_isqrt_nearest_matches_golden(v):
    arr = np.array([min(x, 2**62 - 1) for x in v], dtype=np.int64)
    np.testing.assert_array_equal(K.isqrt_nearest(arr), golden.isqrt_nearest(arr))


@settings(max_examples=examples(300))
@given(pairs=st.lists(st.tuples(st.integers(0, 2**62 - 1), st.integers(1, 2**40 - 1)),
                      min_size=1, max_size=16))
def test_floor_divide_is_integer_division(pairs):
    num = np.array([p[0] for p in pairs], dtype=np.int64)
    den = np.array([p[1] for p in pairs], dtype=np.int64)
    np.testing.assert_array_equal(K.floor_divide(num, den), num // den)


@settings(max_examples=examples(300))
@given(v=st.lists(st.integers(-(2**61), 2**61 - 1), min_size=1, max_size=8),
       shift=st.integers(0, 62), rounding=st.sampled_from(ROUNDING_MODES),
       overflow=st.sampled_from(OVERFLOW_MODES), width=st.integers(2, 64),
       ties=st.booleans())
def test_requantize_matches_the_format(v, shift, rounding, overflow, width, ties):
    """One rounding shift and a fit: the numerics module's requantisation, ties included
    (half-way values with odd and even quotients)."""
    arr = np.array(v, dtype=np.int64)
    if ties and shift:
        arr = (arr >> np.int64(shift)) * np.int64(2**shift) + np.int64(2 ** (shift - 1))
    fmt = FixedFormat(width, 0, rounding=rounding, overflow=overflow)
    out, n, bits = K.requantize(arr, 62, shift, fmt)
    want, want_n = FixedFormat(64, shift).requantize_counted(arr, fmt)
    np.testing.assert_array_equal(out, want)
    assert (n, bits) == (want_n, K.array_bits(want))


@settings(max_examples=examples(300))
@given(x=st.lists(st.integers(-(2**31), 2**31 - 1), min_size=1, max_size=8),
       c=st.integers(-(2**28), 2**28), shift=st.integers(0, 62),
       rounding=st.sampled_from(ROUNDING_MODES), overflow=st.sampled_from(OVERFLOW_MODES),
       width=st.integers(2, 40), ties=st.booleans())
def test_step_is_the_exact_rounded_sum(x, c, shift, rounding, overflow, width, ties):
    """x + y * c / 2^shift rounded once (ties with odd and even x)."""
    from fixar_gen import exact
    xa = np.array(x, dtype=np.int64)
    ya = xa[::-1].copy()
    if ties and shift and c:
        ya = np.full_like(xa, 1)
        c = 1 << (shift - 1) if shift <= 29 else c
    fmt = FixedFormat(width, 0, rounding=rounding, overflow=overflow)
    got = K.step(xa, 32, ya, 32, c, shift, fmt)
    assert got is not None
    want = exact.combine([(xa, 0), (exact.wide_mul(ya, np.int64(c)), shift)], fmt)
    np.testing.assert_array_equal(got[0], want[0])
    assert got[1] == want[1]


def _numba_kernels():
    if not engine_numba.AVAILABLE:
        pytest.skip("numba is not installed (or FIXAR_NUMBA=0): only the numpy kernels run")
    return engine_numba.kernels()


def _fmt_args(fmt):
    return (fmt.min_int, fmt.max_int, fmt.overflow == "saturate", fmt.width, fmt.signed)


@settings(max_examples=examples(200))
@given(d=st.lists(st.integers(-(2**31), 2**31 - 1), min_size=1, max_size=6),
       shift=st.integers(1, 37), rounding=st.sampled_from(ROUNDING_MODES),
       overflow=st.sampled_from(OVERFLOW_MODES), width=st.integers(2, 34))
def test_numba_adam_w_rounds_like_numpy(d, shift, rounding, overflow, width):
    """The numba adam_w tail against the numpy step kernel, with a step size of
    2^(shift-1) so that every odd ratio is a tie (s = 0 and eps 1: the ratio is m)."""
    adam_w = _numba_kernels().adam_w
    x = np.array([d], dtype=np.int64)
    m = x[:, ::-1].copy() >> np.int64(8)
    fmt = FixedFormat(width, 0, rounding=rounding, overflow=overflow)
    c = -(1 << (shift - 1))
    out = np.empty_like(x)
    count, lo, hi = adam_w(x, m, np.zeros_like(x), out, 1, 0, c, (1 << (61 - shift)) - 1,
                           shift, engine_numba.ROUNDING_CODES[rounding], *_fmt_args(fmt))
    want, want_n, _ = K.step(x, 32, m, 24, c, shift, fmt)
    np.testing.assert_array_equal(out, want)
    assert count == want_n and (lo, hi) == (want.min(), want.max())


_CONVERSIONS = []


def _conversions():
    """The kernels' int64 <-> float64 conversions (engine_numba_kernels.to_float and
    nearest_int) compiled over arrays, element by element."""
    _numba_kernels()
    if not _CONVERSIONS:
        import numba
        from fixar_gen import engine_numba_kernels as k

        @numba.njit
        def to_float(v, out):
            for i in range(v.size):
                out[i] = k.to_float(v[i])

        @numba.njit
        def nearest_int(x, out):
            for i in range(x.size):
                out[i] = k.nearest_int(x[i])
        _CONVERSIONS[:] = to_float, nearest_int
    return _CONVERSIONS


_EDGES = [0, 1, 2**32 - 1, 2**32, 2**52 - 1, 2**52, 2**52 + 1, 2**53 + 1, 2**62 + 2**10 + 1,
          2**63 - 1]


@settings(max_examples=examples(200))
@given(v=st.lists(st.integers(0, 2**63 - 1) | st.sampled_from(_EDGES), min_size=1,
                  max_size=40))
def test_numba_to_float_rounds_to_nearest(v):
    """The kernels' vectorizable int64 -> float64 conversion (bit casts and float64
    arithmetic) is the correctly rounded one, ties to even, from 0 to 2**63 - 1 (the
    edges, where one more bit no longer fits the mantissa, included)."""
    to_float, _ = _conversions()
    v = np.array(v, dtype=np.int64)
    out = np.empty(v.size)
    to_float(v, out)
    np.testing.assert_array_equal(out, v.astype(np.float64))
    assert [float(x) for x in out] == [float(int(x)) for x in v]


@settings(max_examples=examples(200))
@given(x=st.lists(st.floats(0, 2.0**51, exclude_max=True) |
                  st.sampled_from([0.5, 1.5, 2.5, 2.0**51 - 0.5, 2.0**51 - 1]),
                  min_size=1, max_size=40))
def test_numba_nearest_int_rounds_half_to_even(x):
    """The kernels' float64 -> int64 rounding by the addition of 2**52 is round(),
    ties to even, for 0 <= x < 2**51."""
    _, nearest_int = _conversions()
    x = np.array(x, dtype=np.float64)
    out = np.empty(x.size, dtype=np.int64)
    nearest_int(x, out)
    assert [int(q) for q in out] == [round(float(f)) for f in x]


def _round_exact(v: int, shift: int, rounding: str) -> int:
    """v / 2**shift rounded by ``rounding``, in Python integers (any size)."""
    if shift == 0 or rounding == "truncate":
        return v >> shift
    floor, rem, half = v >> shift, v & ((1 << shift) - 1), 1 << (shift - 1)
    if rounding == "nearest_up":
        return floor + (rem >= half)
    if rounding == "toward_zero":
        return floor + (floor < 0 and rem != 0)
    return floor + (rem > half or (rem == half and floor & 1 == 1))


@settings(max_examples=examples(300))
@given(d=st.lists(st.integers(-(2**30), 2**30), min_size=1, max_size=6),
       a_shift=st.integers(0, 16), fc=st.integers(1, 48), beta_frac=st.fractions(0, 1),
       rounding=st.sampled_from(ROUNDING_MODES), overflow=st.sampled_from(OVERFLOW_MODES),
       width=st.integers(2, 34))
def test_numba_adam_s_is_exact_in_limbs(d, a_shift, fc, beta_frac, rounding, overflow,
                                        width):
    """The numba adam_s, its constants in the limbs of ``engine_kernels.split3`` (two,
    or three where two do not keep the products below 2**60: squares of 21 to 30 bits
    against a 32-bit beta2), against the exact blend in Python integers, the
    interpreter's root and fit.  Catches a wrong carry between the limbs, a limb
    shifted by the wrong split, and a split3 that returns limbs whose products
    overflow (each mutation tried: the test failed)."""
    adam_s = _numba_kernels().adam_s
    x = np.array([d], dtype=np.int64)
    a = x[:, ::-1].copy() >> np.int64(a_shift)
    beta = int(beta_frac * (1 << fc))
    fmt = FixedFormat(width, 0, rounding=rounding, overflow=overflow)
    bx, ba = K.array_bits(x * x), K.array_bits(a * a)
    parts = K.split3(bx, beta, ba, (1 << fc) - beta, fc)
    if parts is None:
        assert K.split(bx, beta, ba, (1 << fc) - beta, fc) is None
        return
    note(f"limbs {parts}")
    v = [_round_exact(int(p) * int(p) * beta + int(q) * int(q) * ((1 << fc) - beta), fc,
                      rounding) for p, q in zip(x.ravel(), a.ravel())]
    assume(max(v) < 1 << 62)
    out = np.empty_like(x)
    count, lo, hi = adam_s(x, a, out, *parts, fc, engine_numba.ROUNDING_CODES[rounding],
                           *_fmt_args(fmt))
    want, want_n, _ = K.fit(golden.isqrt_nearest(np.array([v], dtype=np.int64)), fmt)
    assert count >= 0, "the kernel reported its bounds failed"
    np.testing.assert_array_equal(out, want)
    assert count == want_n


@settings(max_examples=examples(300))
@given(data=st.data(), bx=st.integers(1, 52), by=st.integers(1, 52),
       c1=st.integers(-(2**40), 2**40), c2=st.integers(-(2**40), 2**40),
       shift=st.integers(0, 62), rounding=st.sampled_from(ROUNDING_MODES),
       overflow=st.sampled_from(OVERFLOW_MODES), width=st.integers(2, 64))
def test_numpy_blend_is_exact_in_limbs(data, bx, by, c1, c2, shift, rounding, overflow,
                                       width):
    """engine_kernels.blend, with its constants in no, two or three limbs, against the
    exact blend in Python integers, values at the bounds' extremes; it answers wherever
    split3 has limbs.  Catches a dropped carry between limbs and a limb shifted by the
    wrong split (each mutation tried: the test failed)."""
    size = data.draw(st.integers(1, 6))
    edge = st.sampled_from([-(2**bx) + 1, 2**bx - 1, -(2**(bx - 1)), 0])
    x = data.draw(st.lists(st.integers(-(2**bx) + 1, 2**bx - 1) | edge, min_size=size,
                           max_size=size))
    edge = st.sampled_from([-(2**by) + 1, 2**by - 1, -(2**(by - 1)), 0])
    y = data.draw(st.lists(st.integers(-(2**by) + 1, 2**by - 1) | edge, min_size=size,
                           max_size=size))
    exact = [_round_exact(p * c1 + q * c2, shift, rounding) for p, q in zip(x, y)]
    fmt = FixedFormat(width, 0, rounding=rounding, overflow=overflow)
    got = K.blend(np.array([x], dtype=np.int64), bx, c1, np.array([y], dtype=np.int64), by,
                  c2, shift, fmt)
    parts = K.split3(bx, c1, by, c2, shift)
    assert (got is None) == (parts is None)
    assume(got is not None and max(abs(v) for v in exact) < 2**62)
    note(f"limbs {parts}")
    want, n, bits = K.fit(np.array([exact], dtype=np.int64), fmt)
    np.testing.assert_array_equal(got[0], want)
    assert (got[1], got[2]) == (n, bits)


@settings(max_examples=examples(300))
@given(bx=st.integers(0, 60), by=st.integers(0, 60), c1=st.integers(-(2**48), 2**48),
       c2=st.integers(-(2**48), 2**48), shift=st.integers(0, 62))
def test_split3_limbs(bx, by, c1, c2, shift):
    """engine_kernels.split3: the limbs recombine to the constants, every limb's product
    stays below 2**60, the splits stay within the shift; split's answer where it has one,
    and an answer wherever two limbs have none but three equal ones exist."""
    parts = K.split3(bx, c1, by, c2, shift)
    two = K.split(bx, c1, by, c2, shift)
    if two is not None:
        c1h, c1l, c2h, c2l, s = two
        assert parts == (c1h, 0, c1l, c2h, 0, c2l, s, 0)
    if parts is None:
        assert two is None
        s = -(-(max(bx + abs(c1).bit_length(), by + abs(c2).bit_length()) - 60) // 2)
        assert s > min(60 - bx, 60 - by) or 2 * s > shift
        return
    c1h, c1m, c1l, c2h, c2m, c2l, s1, s2 = parts
    assert s1 + s2 <= shift
    for c, (h, m, low) in ((c1, (c1h, c1m, c1l)), (c2, (c2h, c2m, c2l))):
        assert (h << (s1 + s2)) + (m << s1) + low == c
        assert 0 <= m < 1 << s2 or (m == 0 and s2 == 0)
        assert 0 <= low < 1 << s1 or (low == 0 and s1 == 0)
    for b, limbs in ((bx, (c1h, c1m, c1l)), (by, (c2h, c2m, c2l))):
        assert all(abs(limb) <= 1 << (60 - b) for limb in limbs)    # |x * limb| < 2**60


@settings(max_examples=examples(300))
@given(x=st.lists(st.integers(-(2**31), 2**31 - 1), min_size=1, max_size=6),
       c1=st.integers(-(2**48), 2**48), c2=st.integers(-(2**48), 2**48),
       shift=st.integers(0, 62), ties=st.booleans(), rounding=st.sampled_from(ROUNDING_MODES),
       overflow=st.sampled_from(OVERFLOW_MODES), width=st.integers(2, 40))
def test_numba_blend_rounds_like_numpy(x, c1, c2, shift, ties, rounding, overflow, width):
    """The numba blend (adam_m, soft update, and adam_s's v) against the numpy one;
    ``ties`` makes both constants 2^(shift-1), so every odd x + y is a tie."""
    blend = _numba_kernels().blend
    if ties and shift:
        c1 = c2 = 1 << (shift - 1)
    xa = np.array([x], dtype=np.int64)
    ya = xa[:, ::-1].copy()
    fmt = FixedFormat(width, 0, rounding=rounding, overflow=overflow)
    parts = K.split(32, c1, 32, c2, shift)
    want = K.blend(xa, 32, c1, ya, 32, c2, shift, fmt)
    assert (K.split3(32, c1, 32, c2, shift) is None) == (want is None)
    if parts is None:          # the numba blend takes two limbs (numpy's may take three)
        return
    out = np.empty_like(xa)
    count, lo, hi = blend(xa, ya, out, *parts, shift, engine_numba.ROUNDING_CODES[rounding],
                          *_fmt_args(fmt))
    np.testing.assert_array_equal(out, want[0])
    assert count == want[1] and K.bits_of(hi, lo) == want[2]


def _drain_format(draw, max_width: int) -> FixedFormat:
    signed = draw(st.booleans())
    width = draw(st.integers(2, max_width if signed else min(max_width, 63)))
    return FixedFormat(width, 0, signed=signed, rounding=draw(st.sampled_from(ROUNDING_MODES)),
                       overflow=draw(st.sampled_from(OVERFLOW_MODES)))


def _drain_expected(v: np.ndarray, shift: int, fmt: FixedFormat):
    """R(v / 2**shift) fitted to ``fmt`` by the numpy kernels: (values, overflow count)."""
    q, n, _ = K.fit(K.round_shift(v, shift, fmt.rounding), fmt)
    return q, n


@settings(max_examples=examples(300), deadline=None)
@given(data=st.data())
def test_numba_drain_rounds_like_numpy(data):
    """The numba drain (identity or relu, a bias row, range monitors and a dact_relu
    folded in, the accumulator written from a float64 product) against the numpy
    kernels: every rounding and overflow mode, formats of 2..64 bits signed or not,
    shifts 0..62, values at ties and near 2**61."""
    drain = _numba_kernels().drain
    draw = data.draw
    relu, from_float, with_dact = draw(st.booleans()), draw(st.booleans()), draw(st.booleans())
    d_fmt = _drain_format(draw, 62 if with_dact else 64)
    first = _drain_format(draw, 62) if relu else d_fmt
    shift1, shift2 = draw(st.integers(0, 62)), draw(st.integers(0, 62)) if relu else 0
    bias_shift = draw(st.integers(0, 20))
    rows, cols = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    z_bits = draw(st.integers(0, 52 if from_float else 60))
    z = np.array(draw(st.lists(st.integers(-(2**z_bits) + 1, 2**z_bits - 1),
                               min_size=rows * cols, max_size=rows * cols)),
                 dtype=np.int64).reshape(rows, cols)
    if shift1 and draw(st.booleans()):      # ties: exactly half an LSB below the cut
        z = (z >> np.int64(shift1)) << np.int64(shift1) | np.int64(1 << (shift1 - 1))
        if from_float:
            assume(np.abs(z).max() < 2**53)
    b_bits = 60 - bias_shift
    bias = np.array(draw(st.lists(st.integers(-(2**b_bits) + 1, 2**b_bits - 1),
                                  min_size=cols, max_size=cols)), dtype=np.int64)[None]
    seg = np.array(draw(st.lists(st.integers(-1, 1), min_size=rows, max_size=rows)),
                   dtype=np.int64)
    top, bottom = np.iinfo(np.int64).max, np.iinfo(np.int64).min
    seg_min, seg_max = np.full(2, top, dtype=np.int64), np.full(2, bottom, dtype=np.int64)
    codes = engine_numba.ROUNDING_CODES
    if with_dact:
        fmt3, shift3 = _drain_format(draw, 64), draw(st.integers(0, 62))
        b2 = np.array(draw(st.lists(st.integers(-2, 2), min_size=rows * cols,
                                    max_size=rows * cols)), dtype=np.int64).reshape(rows, cols)
        out2 = np.empty((rows, cols), dtype=np.int64)
        tail = (b2, out2, shift3, codes[fmt3.rounding], *_fmt_args(fmt3))
    else:
        empty = np.empty((0, 0), dtype=np.int64)
        tail = (empty, empty, 0, 0, 0, 0, False, 64, True)
    acc = np.empty((rows, cols), dtype=np.int64)
    out = np.empty((rows, cols), dtype=np.int64)
    # the product's conversion by one addition, where |z| < 2**51 allows it (and on an
    # int64 accumulator, where the flag changes nothing)
    narrow = (not from_float or np.abs(z).max() < 2**51) and draw(st.booleans())
    count, lo, hi, count2, lo2, hi2 = drain(
        z.astype(np.float64) if from_float else z, acc if from_float else acc[:0, :0], bias,
        out, bias_shift, relu, shift1, codes[first.rounding], *_fmt_args(first), shift2,
        codes[d_fmt.rounding], *_fmt_args(d_fmt), seg, seg_min, seg_max, *tail, narrow)
    want, n = _drain_expected(z + (bias << np.int64(bias_shift)), shift1, first)
    if relu:
        want, n2 = _drain_expected(np.maximum(want, 0), shift2, d_fmt)
        n += n2
    np.testing.assert_array_equal(out, want)
    assert (count, lo, hi) == (n, want.min(), want.max())
    if from_float:
        np.testing.assert_array_equal(acc, z)
    for k in (0, 1):
        mine = want[seg == k]
        assert (seg_min[k], seg_max[k]) == ((mine.min(), mine.max()) if mine.size
                                            else (top, bottom))
    if with_dact:
        want2, n3 = _drain_expected(np.where(b2 > 0, want, 0), shift3, fmt3)
        np.testing.assert_array_equal(out2, want2)
        assert (count2, lo2, hi2) == (n3, want2.min(), want2.max())


@settings(max_examples=examples(200), deadline=None)
@given(data=st.data())
def test_numba_dact_relu_rounds_like_numpy(data):
    """The numba dact_relu (a where b > 0, else 0, rounded and fitted) against the numpy
    kernels: every rounding and overflow mode, formats of 2..64 bits, ties."""
    dact_relu = _numba_kernels().dact_relu
    draw = data.draw
    fmt, shift = _drain_format(draw, 64), draw(st.integers(0, 62))
    size = draw(st.integers(1, 8))
    a = np.array(draw(st.lists(st.integers(-(2**61) + 1, 2**61 - 1), min_size=size,
                               max_size=size)), dtype=np.int64)[None]
    if shift and draw(st.booleans()):
        a = (a >> np.int64(shift)) << np.int64(shift) | np.int64(1 << (shift - 1))
    b = np.array(draw(st.lists(st.integers(-2, 2), min_size=size, max_size=size)),
                 dtype=np.int64)[None]
    out = np.empty_like(a)
    count, lo, hi = dact_relu(a, b, out, shift, engine_numba.ROUNDING_CODES[fmt.rounding],
                              *_fmt_args(fmt))
    want, n = _drain_expected(np.where(b > 0, a, 0), shift, fmt)
    np.testing.assert_array_equal(out, want)
    assert (count, lo, hi) == (n, want.min(), want.max())


def _layer_pieces(drain_into_operand: bool):
    """A two-core layer as the compiler splits it: mm0 drain0 mm1 drain1 (rows 0:2 and
    2:4), the drains writing h, or (``drain_into_operand``) the products' operand a."""
    from fixar_gen.isa import Buffer, Drain, Halt, MatMul, Program, Range
    q16, q24 = FixedFormat(32, 16), FixedFormat(32, 24)
    buffers = (Buffer("a", 4, 3, q16, "data"), Buffer("w", 3, 3, q24, "param"),
               Buffer("acc", 4, 3, FixedFormat(64, 40), "acc", 80),
               Buffer("h", 4, 3, q16, "data"))
    dst = 0 if drain_into_operand else 3
    code = []
    for core, rows in ((0, Range(0, 2)), (1, Range(2, 2))):
        code += [MatMul(core=core, dst=2, a=0, b=1, m=rows, n=Range(0, 3), k=Range(0, 3)),
                 Drain(core=core, dst=dst, acc=2, act=ACTIVATIONS.index("relu"), rows=rows,
                       cols=Range(0, 3))]
    return Program("layer", buffers, (), tuple(code) + (Halt(),), 2, q16)


@pytest.mark.parametrize("drain_into_operand", [False, True])
def test_interleaved_pieces_merge_only_when_legal(drain_into_operand):
    """mm0 drain0 mm1 drain1 runs as mm drain; not when a drain writes what the
    products read (the conservative rule keeps program order then)."""
    program = _layer_pieces(drain_into_operand)
    rng = np.random.default_rng(7)
    values = {"a": rng.integers(-2**20, 2**20, size=(4, 3)),
              "w": rng.integers(-2**25, 2**25, size=(3, 3))}
    run_both(Case(program, values, {}, "saturate"))
    steps = EngineMachine(kernels="numpy")._plan(program).steps
    assert len(steps) == (5 if drain_into_operand else 3)


def test_fusion_passes_refuse_what_would_change_bits():
    """The passes alone: each pattern is refused when a buffer is shared or a range
    differs (then the steps run one by one)."""
    from fixar_gen import engine_fusion as F
    from fixar_gen.isa import Range, Vector
    q = FixedFormat(32, 16)
    table = (Buffer("a", 4, 3, q), Buffer("w", 3, 3, q, "param"),
             Buffer("acc0", 4, 3, FixedFormat(64, 32), "acc", 80),
             Buffer("acc1", 4, 3, FixedFormat(64, 32), "acc", 80), Buffer("h", 4, 3, q),
             Buffer("mon", 1, 2, q, "monitor"), Buffer("g", 3, 3, q),
             Buffer("m", 3, 3, q, "state"), Buffer("s", 3, 3, q, "state"),
             Buffer("c", 1, 2, FixedFormat(34, 32, signed=False), "const"))
    fn = VECTOR_FUNCTIONS.index
    mm = MatMul(dst=2, a=0, b=1, m=Range(0, 4), n=Range(0, 3), k=Range(0, 3))
    drain = Drain(dst=4, acc=2, act=ACTIVATIONS.index("relu"), rows=Range(0, 4),
                  cols=Range(0, 3))
    assert F.is_drain_of(mm, drain)
    assert not F.is_drain_of(dataclasses.replace(mm, accumulate=1), drain)
    assert not F.is_drain_of(mm, dataclasses.replace(drain, dst=0))      # drains into a
    assert not F.is_drain_of(mm, dataclasses.replace(drain, rows=Range(0, 2)))
    mon = Vector(fn=fn("range"), dst=5, a=4, rows=Range(0, 2), cols=Range(0, 3))
    assert F.is_monitor_of(drain, mon, table)
    assert not F.is_monitor_of(drain, dataclasses.replace(mon, cols=Range(0, 2)), table)
    assert not F.is_monitor_of(drain, dataclasses.replace(mon, a=0), table)
    pieces = [dataclasses.replace(mm, core=c, dst=2 + c, k=Range(c, 2 - c)) for c in (0, 1)]
    add = Vector(fn=fn("acc_add"), dst=2, a=3, rows=Range(0, 4), cols=Range(0, 3))
    assert F.is_ksplit(*pieces, add, drain)
    assert not F.is_ksplit(pieces[0], dataclasses.replace(pieces[1], b=0), add, drain)
    assert not F.is_ksplit(*pieces, dataclasses.replace(add, a=2), drain)
    assert not F.is_ksplit(*pieces, add, dataclasses.replace(drain, bias=3))
    whole = {"rows": Range(0, 3), "cols": Range(0, 3)}
    adam = [Vector(fn=fn("adam_m"), dst=7, a=6, c=9, **whole),
            Vector(fn=fn("adam_s"), dst=8, a=6, c=9, **whole),
            Vector(fn=fn("adam_w"), dst=1, a=7, b=8, c=9, **whole)]
    assert F.is_adam_group(*adam, table)
    assert not F.is_adam_group(adam[0], dataclasses.replace(adam[1], a=7), adam[2], table)
    assert not F.is_adam_group(*adam[:2], dataclasses.replace(adam[2], dst=6), table)
    assert not F.is_adam_group(*adam[:2], dataclasses.replace(adam[2], rows=Range(0, 2)),
                               table)
    steps = [(pc, lambda: True, ins) for pc, ins in enumerate(adam)]
    assert [type(i).__name__ for _, _, i in F.adam_groups(steps, table)] == ["Fused"]
    steps[1] = (1, None, adam[1])                       # a step without a kernel
    assert [type(i).__name__ for _, _, i in F.adam_groups(steps, table)] == ["Vector"] * 3


def test_soft_update_moves_into_adam_only_when_nothing_between_depends_on_it():
    from fixar_gen import engine_fusion as F
    from fixar_gen.isa import Range, Vector
    q = FixedFormat(32, 16)
    table = (Buffer("g", 3, 3, q), Buffer("m", 3, 3, q, "state"),
             Buffer("s", 3, 3, q, "state"), Buffer("w", 3, 3, q, "param"),
             Buffer("c", 1, 2, FixedFormat(34, 32, signed=False), "const"),
             Buffer("target", 3, 3, q, "param"), Buffer("x", 3, 3, q))
    fn, whole = VECTOR_FUNCTIONS.index, {"rows": Range(0, 3), "cols": Range(0, 3)}
    adam = [Vector(fn=fn("adam_m"), dst=1, a=0, c=4, **whole),
            Vector(fn=fn("adam_s"), dst=2, a=0, c=4, **whole),
            Vector(fn=fn("adam_w"), dst=3, a=1, b=2, c=4, **whole)]
    soft = Vector(fn=fn("soft_update"), dst=5, a=3, c=4, **whole)

    def plan(between):
        steps = [(pc, lambda: True, ins) for pc, ins in enumerate(adam + between + [soft])]
        steps = F.soft_into_adam(F.adam_groups(steps, table), table)
        return [len(i.parts) if isinstance(i, F.Fused) else F._fn(i) for _, _, i in steps]
    assert plan([]) == [4]
    assert plan([Vector(fn=fn("copy"), dst=6, a=3, **whole)]) == [4, "copy"]   # reads w
    assert plan([Vector(fn=fn("copy"), dst=6, a=5, **whole)]) == [3, "copy", "soft_update"]
    assert plan([Vector(fn=fn("copy"), dst=3, a=6, **whole)]) == [3, "copy", "soft_update"]
    assert plan([Vector(fn=fn("copy"), dst=5, a=6, **whole)]) == [3, "copy", "soft_update"]


@st.composite
def range_cases(draw):
    """Range monitors of one buffer, one after the other (the engine runs those over
    disjoint rows as one pass): random rows (overlapping sometimes) and columns."""
    from fixar_gen.isa import Range, Vector
    B = Builder(draw)
    rows, cols = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    fmt = draw(formats(signed=None))
    a = B.add("a", rows, cols, fmt)
    c0 = draw(st.integers(0, cols - 1))
    col_range = Range(c0, draw(st.integers(1, cols - c0)))
    code = []
    for k in range(draw(st.integers(2, 3))):
        start = draw(st.integers(0, rows - 1))
        mon = B.add(f"mon{k}", 1, 2, fmt, "monitor")
        code.append(Vector(fn=VECTOR_FUNCTIONS.index("range"), dst=mon, a=a,
                           rows=Range(start, draw(st.integers(1, rows - start))),
                           cols=col_range))
    return B.case(code)


@settings(max_examples=examples(200))
@given(data=st.data())
def test_range_monitors_in_one_pass_equal_the_steps(data):
    if not engine_numba.AVAILABLE:
        pytest.skip("numba is not installed (or FIXAR_NUMBA=0): no fused kernels")
    run_both(data.draw(range_cases()), "numba")


def test_folded_dact_reads_its_own_columns():
    """A drain reading accumulator columns 3:4 and the dact_relu folded into it, whose
    operands start at column 0 (the shape of an actor's action gradient): the dact's
    operand b is read at the dact's columns, not the accumulator's."""
    from fixar_gen.isa import Range, Vector
    q16, q24 = FixedFormat(32, 16), FixedFormat(32, 24)
    buffers = (Buffer("a", 2, 1, q16), Buffer("w", 4, 1, q24, "param"),
               Buffer("acc", 2, 4, FixedFormat(64, 40), "acc", 80), Buffer("d", 2, 1, q24),
               Buffer("h", 2, 1, q16), Buffer("dz", 2, 1, q24))
    code = (MatMul(dst=2, a=0, b=1, tb=1, m=Range(0, 2), n=Range(3, 1), k=Range(0, 1)),
            Drain(dst=3, acc=2, act=ACTIVATIONS.index("identity"), rows=Range(0, 2),
                  cols=Range(0, 1), src_col=3),
            Vector(fn=VECTOR_FUNCTIONS.index("dact_relu"), dst=5, a=3, b=4,
                   rows=Range(0, 2), cols=Range(0, 1)), Halt())
    program = Program("case", buffers, (), code, 1, q16)
    values = {"a": np.array([[3 << 16], [-5 << 16]]), "w": np.array([[1], [2], [3], [1 << 24]]),
              "h": np.array([[0], [7]])}
    steps = EngineMachine(kernels="numba")._plan(program).steps if engine_numba.AVAILABLE \
        else []
    if engine_numba.AVAILABLE:
        assert [len(i.parts) for _, _, i in steps[:1]] == [3]
    for kernels in ["numpy"] + (["numba"] if engine_numba.AVAILABLE else []):
        run_both(Case(program, values, {}, "saturate"), kernels)


_CACHE_PROBE = """
import numpy as np
from fixar_gen import engine_numba
k = engine_numba.kernels()
z = np.zeros((1, 1), dtype=np.int64)
k.dact_relu(z, z, z.copy(), 0, 0, -8, 7, True, 4, True)
stats = k.dact_relu.stats
print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
"""


@pytest.mark.skipif(not engine_numba.AVAILABLE, reason="numba is not installed (or "
                    "FIXAR_NUMBA=0): no compiled kernels to cache")
def test_a_second_process_loads_the_kernels_from_numbas_cache(tmp_path):
    """numba's on-disk cache serves the kernels to the next process (a kernel defined as a
    closure missed it in every process: 5-14 s of compiling per process)."""
    import os
    import subprocess
    import sys
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))

    def probe():
        out = subprocess.run([sys.executable, "-c", _CACHE_PROBE], env=env, check=True,
                             capture_output=True, text=True).stdout.split()
        return int(out[0]), int(out[1])

    assert probe()[1] == 1                    # the first process compiles and stores
    assert probe() == (1, 0)                  # the second one loads, compiles nothing
