"""CPU time of each numba kernel of the golden engine (:mod:`fixar_gen.engine_numba`)
alone, on the shapes of the example networks: a drain (relu, bias, a range monitor,
the product in float64), a blend, adam_s, adam_w, dact_relu, and the fused Adam pass
over 120,000 parameters with and without the soft update, and what a call itself
costs (a 1 x 1 drain with its scalars as 32 arguments and packed into one array).
Prints microseconds per call (the fastest of five batches of calls, after one compiling call); BLAS is not
involved.  ``--module FILE`` times another version of the module's kernels, e.g. an
earlier commit's (``git show REV:fixar_gen/engine_numba.py > FILE``):

    python benchmarks/bench_engine_kernels.py [--calls 300] [--module FILE]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

from fixar_gen import engine_numba

I64 = np.int64
LO, HI = -(2**31), 2**31 - 1
Q32 = (LO, HI, True, 32, True)            # lo, hi, saturate, width, signed


def three_limbs(kernel) -> bool:
    """Whether a kernel takes adam_s's constants in three limbs (engine_kernels.split3)."""
    names = kernel.py_func.__code__.co_varnames
    return "s2" in names or "v_s2" in names


def fastest(call, calls: int) -> float:
    """Microseconds per call: the fastest of five batches (load only adds time)."""
    call()
    best = float("inf")
    for _ in range(5):
        start = time.thread_time()
        for _ in range(calls):
            call()
        best = min(best, (time.thread_time() - start) / calls)
    return best * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--module", help="an engine_numba.py to time instead of the "
                        "installed one")
    args = parser.parse_args(argv)
    module = engine_numba
    if args.module:
        if not Path(args.module).is_file():
            print(f"--module {args.module}: no such file")
            return 2
        found = importlib.util.spec_from_file_location("engine_numba_other", args.module)
        if found is None:
            print(f"--module {args.module}: not a Python file")
            return 2
        module = importlib.util.module_from_spec(found)
        found.loader.exec_module(module)
    if not module.AVAILABLE:
        print("numba is not installed (or FIXAR_NUMBA=0): no kernels to time")
        return 2
    k = module.kernels()
    # the drain's last argument in kernels that take it: the float64 product below
    # 2**51, converted to int64 by one addition
    narrow = (True,) if "narrow" in k.drain.py_func.__code__.co_varnames else ()
    rng = np.random.default_rng(0)
    empty = np.empty((0, 0), dtype=I64)
    for shape in ((64, 64), (64, 400), (400, 300)):
        z = rng.random(shape) * 1e9
        acc, out = np.empty(shape, I64), np.empty(shape, I64)
        bias = rng.integers(-1000, 1000, (1, shape[1]))
        seg = np.full(shape[0], -1, I64)
        seg[:shape[0] // 2] = 0
        seg_min, seg_max = np.full(1, 2**62, I64), np.full(1, -2**62, I64)
        drain = (z, acc, bias, out, 4, True, 8, 2, *Q32, 0, 2, *Q32, seg, seg_min, seg_max,
                 empty, empty, 0, 0, 0, 0, False, 64, True, *narrow)
        x = rng.integers(-2**30, 2**30, shape)
        y = rng.integers(-2**30, 2**30, shape)
        s_old, g_new, s_pos = np.abs(x) >> 8, y >> 8, np.abs(x) + 1
        # adam_s's constants: three limbs (c1h, c1m, c1l, c2h, c2m, c2l, s1, s2) where
        # the kernel takes them, else two (c1h, c1l, c2h, c2l, s)
        v_split = (100, 0, 0, 156, 0, 0, 0, 0) if three_limbs(k.adam_s) else (100, 0, 156, 0, 0)
        times = {
            "drain": fastest(lambda: k.drain(*drain), args.calls),
            "blend": fastest(lambda: k.blend(x, y, out, 3, 0, 5, 0, 0, 8, 2, *Q32),
                             args.calls),
            "adam_s": fastest(lambda: k.adam_s(s_old, g_new, out, *v_split, 8, 2,
                                               0, HI, True, 32, True), args.calls),
            "adam_w": fastest(lambda: k.adam_w(x, y, s_pos, out, 1, 16, -1000, 2**40 - 1,
                                               20, 2, *Q32), args.calls),
            "dact_relu": fastest(lambda: k.dact_relu(x, y, out, 2, 2, *Q32), args.calls)}
        if narrow:                  # the product's conversion as numba makes it
            times["drain (product not below 2**51)"] = fastest(
                lambda: k.drain(*drain[:-1], False), args.calls)
        print(f"{shape[0]}x{shape[1]}: " + ", ".join(f"{name} {t:.1f} us"
                                                      for name, t in times.items()))
    # the same 64 x 400 drain (relu, bias, monitor, the accumulator written) into rows
    # padded to 402 words: numba's loop over strided views, and through the engine's
    # contiguous copies (fixar_gen.engine._Staging)
    from fixar_gen.engine import _Staging
    z = rng.random((64, 400)) * 1e9
    seg = np.full(64, -1, I64)
    seg[:32] = 0
    seg_min, seg_max = np.full(1, 2**62, I64), np.full(1, -2**62, I64)
    acc, out = np.empty((64, 402), I64)[:, :400], np.empty((64, 402), I64)[:, :400]
    bias = rng.integers(-1000, 1000, (1, 402))[:, :400]
    scalars = (4, True, 8, 2, *Q32, 0, 2, *Q32, seg, seg_min, seg_max, empty, empty,
               0, 0, 0, 0, False, 64, True, *narrow)
    stage = _Staging()

    def staged():
        k.drain(stage.read(0, z), stage.write(1, acc), stage.read(2, bias),
                stage.write(3, out), *scalars)
        stage.back((acc, out, empty))

    print(f"64x400 drain into padded rows: strided views "
          f"{fastest(lambda: k.drain(z, acc, bias, out, *scalars), args.calls):.1f} us, "
          f"staged through contiguous copies {fastest(staged, args.calls):.1f} us")
    if hasattr(k, "drain_packed"):
        # the call itself: a 1 x 1 drain with its scalars as arguments and packed
        z, acc, bias, out = np.ones((1, 1)), empty, np.zeros((1, 1), I64), np.empty((1, 1), I64)
        seg, seg_min, seg_max = np.full(1, -1, I64), np.empty(1, I64), np.empty(1, I64)
        scalars = (4, True, 8, 2, *Q32, 0, 2, *Q32)
        dact = (0, 0, 0, 0, False, 64, True)
        packed = np.array((*scalars, *dact, *narrow), dtype=I64)
        plain = fastest(lambda: k.drain(z, acc, bias, out, *scalars, seg, seg_min, seg_max,
                                        empty, empty, *dact, *narrow), args.calls * 10)
        short = fastest(lambda: k.drain_packed(z, acc, bias, out, seg, seg_min, seg_max,
                                               empty, empty, packed), args.calls * 10)
        print(f"1x1 drain (the call's cost): {32 + len(narrow)} arguments {plain:.2f} us, "
              f"scalars packed "
              f"(10 arguments) {short:.2f} us")
    n = 120_000
    g, m = rng.integers(-2**20, 2**20, n), rng.integers(-2**20, 2**20, n)
    s, w = rng.integers(0, 2**20, n), rng.integers(-2**24, 2**24, n)
    outs = [np.empty(n, I64) for _ in range(4)]
    none = np.empty(0, np.float64)
    # the kernel writing the weight's (and the target's) float64 mirror too, where it can
    mirrored = "w_float" in k.adam.py_func.__code__.co_varnames
    cases = [(soft, mirror) for soft in (True, False) for mirror in (False, True)
             if mirror <= mirrored]
    for soft, mirror in cases:
        floats = (np.empty(n), np.empty(n)) if mirror else (none, none)
        adam = (g, m, s, w, w.copy(), *outs, *(floats if mirrored else ()), 900, 0, 100, 0, 0, 10, 2, *Q32,
                999, 0, 1, 0, 0, 10, 2, 0, HI, True, 32, True,
                *((0, 0, 0) if three_limbs(k.adam) else ()),     # v's middle limbs, s2
                1, 16, -1000, 2**40 - 1, 20, 2, *Q32, soft, 990, 0, 10, 0, 0, 10, 2, *Q32,
                n, n)
        print(f"adam, {n:,} parameters, {'with' if soft else 'without'} the soft update"
              f"{', writing float64 mirrors' if mirror else ''}: "
              f"{fastest(lambda: k.adam(*adam), max(args.calls // 6, 1)):.1f} us")
    if three_limbs(k.adam):
        # v's constants in three limbs: beta2 = 0.999 in 32 fraction bits against the
        # bounds of a 21-bit s and a 24-bit gradient (engine_kernels.split3)
        from fixar_gen.engine_kernels import split3
        beta = int(0.999 * 2**32)
        v1h, v1m, v1l, v2h, v2m, v2l, s1, s2 = split3(42, beta, 48, 2**32 - beta, 32)
        adam = (g, m, s, w, w.copy(), *outs, none, none, 900, 0, 100, 0, 0, 10, 2, *Q32,
                v1h, v1l, v2h, v2l, s1, 32, 2, 0, HI, True, 32, True, v1m, v2m, s2,
                1, 16, -1000, 2**40 - 1, 20, 2, *Q32, True, 990, 0, 10, 0, 0, 10, 2, *Q32,
                n, n)
        print(f"adam, {n:,} parameters, with the soft update, v in three limbs: "
              f"{fastest(lambda: k.adam(*adam), max(args.calls // 6, 1)):.1f} us")
    if hasattr(k, "adam_float"):
        print(float_against_int(k, rng, max(args.calls // 6, 1)))
    return 0


def float_against_int(k, rng, calls: int) -> str:
    """The fused Adam pass in int64 and in float64 (engine_numba_float) on a 400 x 300
    weight in rows padded to 301 words, with its soft update and float64 mirrors, the
    DDPG examples' formats and constants (Q8.24 words; beta1 0.9, beta2 0.999, tau
    0.005 in 32 fraction bits; adam_m toward zero, the rest to nearest even), the
    bounds of an early update (g 22 bits, m 20, s 18, w and the target 22); both
    results compared."""
    from fixar_gen import engine_float
    from fixar_gen.engine_kernels import split, split3
    rows, n, ws = 400, 300, 301
    beta1, beta2, tau = (round(b * 2**32) for b in (0.9, 0.999, 0.005))
    c1, c2 = beta1, 2**32 - beta1
    t1, t2 = 2**32 - tau, tau
    step, eps, shift_m, shift_w, room = -355380801, 1, 24, 44, 32
    bm, bg, bs, bw, bt = 20, 22, 18, 22, 22
    g = rng.integers(-2**21, 2**21, rows * n)
    s = rng.integers(2**12, 2**17, rows * n)
    m = rng.integers(-16 * s, 16 * s)
    w, t = (rng.integers(-2**21, 2**21, rows * ws) for _ in range(2))
    fmt = (LO, HI, True, 32, True)
    v = split3(2 * bs, beta2, 2 * bg, 2**32 - beta2, 32)
    packed = np.array((*split(bm, c1, bg, c2, 32), 32, 3, *fmt,
                       v[0], v[2], v[3], v[5], v[6], 32, 2, *fmt,
                       eps, shift_m, step, 2**room - 1, shift_w, 2, *fmt, True,
                       *split(bt, t1, 32, t2, 32), 32, 2, *fmt, n, ws, v[1], v[4], v[7]),
                      dtype=I64)
    scalars = engine_float.with_step(engine_float.adam_scalars(
        (bm, c1, bg, c2, 32, (3, LO, HI, True)), (bs, bg, beta2, 32, (2, LO, HI, True)),
        (bw, eps, shift_m, shift_w, (2, LO, HI, True)),
        (bt, t1, 32, t2, 32, (2, LO, HI, True)), n, ws), step, room)
    results = []
    for run in (lambda o: k.adam_packed(g, m, s, w, t, *o, packed),
                lambda o: k.adam_float(g, m, s, w, t, *o, scalars)):
        outs = [np.zeros(rows * n, I64), np.zeros(rows * n, I64), np.zeros(rows * ws, I64),
                np.zeros(rows * ws, I64), np.zeros(rows * ws), np.zeros(rows * ws)]
        got = run(outs)
        results.append((got, outs, fastest(lambda: run(outs), calls)))
    (got_i, outs_i, t_int), (got_f, outs_f, t_float) = results
    logical = (np.arange(rows * ws) % ws) < n
    same = got_i == got_f and all(
        np.array_equal(a[logical] if a.size == logical.size else a,
                       b[logical] if b.size == logical.size else b)
        for a, b in zip(outs_i, outs_f))
    return (f"adam, {rows}x{n} parameters (rows of {ws} words), with the soft update and "
            f"mirrors, the examples' constants: int64 {t_int:.1f} us, float64 "
            f"{t_float:.1f} us ({'the same results' if same else 'RESULTS DIFFER'}, "
            f"each pass {'within' if got_f[-1] else 'beyond'} its bounds)")


if __name__ == "__main__":
    sys.exit(main())
