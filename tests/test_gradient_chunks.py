"""Weight gradients in chunks of output columns (``Emitter.weight_gradient``,
docs/hardware.md "Accumulators only for the chunk in flight"): no weight gradient's
accumulator over the bound (``compiler.accumulator_bound``), and the same bits as the
gradient in one chunk, on the shared and the per-core golden models, both policies,
1 to 3 cores."""

import dataclasses
from functools import partial

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fixar_gen import backends, load_spec
from fixar_gen.backends import GoldenCore, random_params, uniform_batch
from fixar_gen.compiler import (Precision, accumulator_bound, build_layout, compile_program,
                                compile_programs, layer_sizes, nets)
from fixar_gen.isa import Barrier, Drain, MatMul
from fixar_gen.memory_kinds import accumulator_half_line, accumulator_stride
from fixar_gen.percore import PerCoreCore
from fixar_gen.spec import ParallelismSpec
from fixar_gen.testing import precisions, specs

from .conftest import EXAMPLES, examples

#: a bound no accumulator reaches: every gradient in one chunk (the programs as before)
WHOLE = 10 ** 12
POLICIES = ("intra_layer", "intra_batch")


def _variant(spec, cores, policy):
    return dataclasses.replace(
        spec, hardware=dataclasses.replace(spec.hardware, cores=cores),
        parallelism=ParallelismSpec(training=policy, inference=policy))


def _half(spec):
    return accumulator_half_line(spec.hardware.cols, spec.hardware.lanes)


def _gradient_accs(program):
    return [b for b in program.buffers if b.kind == "acc"
            and (".gw" in b.name or ".gb" in b.name)]


def _train(spec, precision, bound, per_core=False, seed=0, updates=2):
    """Parameters, optimizer state (and on the shared model the gradients) after
    ``updates`` training steps compiled with accumulator bound ``bound``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(backends, "compile_program", partial(compile_program, acc_bound=bound))
        mp.setattr(backends, "compile_programs", partial(compile_programs, acc_bound=bound))
        core = PerCoreCore(spec, precision) if per_core else GoldenCore(spec, precision)
        core.load_params(random_params(spec, seed))
        rng = np.random.default_rng(seed)
        for _ in range(updates):
            core.train_step(uniform_batch(spec, core.formats, rng))
        out = core.read_params()
        if not per_core:
            program = core.program("train", spec.algorithm.batch_size)
            out.update({b.name: core._read(b.name) for b in program.buffers
                        if b.kind == "grad"})
        return out


def _races(program):
    """(pc, pc) pairs of instructions of two cores between the same barriers where one
    writes words the other reads or writes (the cores run them at the same time)."""
    from fixar_gen.core_traffic import regions
    epoch = [0] * program.cores
    seen: dict[tuple[int, int], list] = {}
    out = []

    def meet(a, b):
        return a[0] == b[0] and max(a[1].start, b[1].start) < min(a[1].stop, b[1].stop) \
            and max(a[2].start, b[2].start) < min(a[2].stop, b[2].stop)
    for pc, ins in enumerate(program.code):
        if isinstance(ins, Barrier):
            epoch[ins.core] += 1
            continue
        if ins.core >= program.cores:
            continue
        reads, writes = regions(ins, program)
        for (core, e), items in seen.items():
            if core == ins.core or e != epoch[ins.core]:
                continue
            for other_pc, o_reads, o_writes in items:
                if any(meet(w, r) for w in writes for r in o_reads + o_writes) or \
                        any(meet(w, r) for w in o_writes for r in reads):
                    out.append((other_pc, pc))
        seen.setdefault((ins.core, epoch[ins.core]), []).append((pc, reads, writes))
    return out


def _assert_same(a, b):
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


@settings(max_examples=examples(12), deadline=None)
@given(spec=specs(max_width=24, max_layers=2, max_batch=9, max_array=4),
       cores=st.integers(1, 3), policy=st.sampled_from(POLICIES), data=st.data())
def test_chunked_gradients_stay_within_the_bound_and_give_the_same_bits(spec, cores, policy,
                                                                       data):
    """A bound from 1 word up (most draws chunk some gradient; widths and chunks that
    do not divide): every weight and bias gradient's accumulator within the bound (or
    K x H, one half line a row: the least chunk), more instructions exactly when some
    gradient is chunked (one wider than the least chunk), and the same parameters, optimizer state and gradients as
    the program with every gradient in one chunk; no two cores touch the same words
    between two barriers, one of them writing.  Catches a chunk's columns drained to
    the wrong place, a copied delta's column offset, a missing reduction, and (the
    race check: the golden models run the cores one after the other) a chunk's
    accumulator overwritten before the other cores have read it."""
    spec = _variant(spec, cores, policy)
    precision = data.draw(precisions(spec))
    H = _half(spec)
    bound = data.draw(st.integers(1, 2 * H * 24))
    chunked = compile_program(spec, "train", precision, acc_bound=bound)
    whole = compile_program(spec, "train", precision, acc_bound=WHOLE)
    for b in _gradient_accs(chunked):
        assert b.rows * b.cols <= max(bound, b.rows * H), b.name
    # chunked where the whole accumulator is over the bound and wider than one chunk
    wide = any(b.rows * b.cols > max(bound, b.rows * H) for b in _gradient_accs(whole))
    assert (len(chunked.code) > len(whole.code)) == wide
    if not wide:
        assert chunked.code == whole.code
    assert _races(chunked) == []
    _assert_same(_train(spec, precision, bound), _train(spec, precision, WHOLE))


@settings(max_examples=examples(4), deadline=None)
@given(spec=specs(max_width=20, max_layers=2, max_batch=7, max_array=3),
       cores=st.integers(2, 3), policy=st.sampled_from(POLICIES), data=st.data())
def test_chunked_gradients_on_per_core_memories_give_the_shared_models_bits(spec, cores,
                                                                           policy, data):
    """Per-core memories (each core its copy, the transfers inserted over the chunked
    programs): the same parameters and optimizer state as the shared model with every
    gradient in one chunk."""
    spec = _variant(spec, cores, policy)
    bound = data.draw(st.integers(1, 4 * _half(spec)))
    got = _train(spec, Precision(), bound, per_core=True)
    expected = _train(spec, Precision(), WHOLE)
    _assert_same(got, {k: v for k, v in expected.items() if k in got})


@pytest.mark.parametrize("name", ["pendulum", "pendulum_td3"])
@pytest.mark.parametrize("policy", POLICIES)
def test_small_examples_are_not_chunked(name, policy):
    """Pendulum's 64-64 networks at batch 64: every gradient within the bound, the
    programs those of one chunk (their figures stay)."""
    spec = _variant(load_spec(EXAMPLES / f"{name}.yaml"), 2, policy)
    for phase in ("train",) + (("train_critic",) if name.endswith("td3") else ()):
        assert compile_program(spec, phase).code == \
            compile_program(spec, phase, acc_bound=WHOLE).code


@pytest.mark.parametrize("policy", POLICIES)
def test_fixar_u50_gradient_accumulators_fit_the_forward_ones(policy):
    """fixar_u50 (400-300, batch 64, H = 16): the bound is B x the widest layer (64 x
    400 = 25,600 words, the largest forward accumulator); the two 400 x 300 weight
    gradients go in 7 chunks of 48 columns (the last 12), accumulators 400 x 48; no
    accumulator of the program over the bound."""
    spec = _variant(load_spec(EXAMPLES / "fixar_u50.yaml"), 2, policy)
    L = build_layout(spec)
    widest = max(max(layer_sizes(spec, n)[1:]) for n in nets(spec))
    assert accumulator_bound(L) == 64 * accumulator_stride(widest, 16) == 25_600
    program = compile_program(spec, "train")
    accs = [b for b in program.buffers if b.kind == "acc"]
    assert max(b.rows * b.cols for b in accs) == 25_600
    gw1 = [b for b in accs if b.name.startswith("acc.cq.critic.gw1")]
    assert gw1 and all((b.rows, b.cols) == (400, 48) for b in gw1)
    copy = {b.name: b for b in program.buffers}["cq.critic.gw1.dz"]
    assert (copy.rows, copy.cols, copy.kind) == (64, 48, "delta")
    grad = {b.name: i for i, b in enumerate(program.buffers)}["critic.l1.w.grad"]
    starts = {ins.cols.start for ins in program.code
              if isinstance(ins, Drain) and ins.dst == grad}
    chunk_starts = sorted({s - s % 48 for s in starts} - {0})
    assert chunk_starts == [48, 96, 144, 192, 240, 288]
    if policy == "intra_batch":     # a barrier between chunks, the products after it
        gw = {b.name: i for i, b in enumerate(program.buffers)}["acc.cq.critic.gw1.c0"]
        pcs = [pc for pc, ins in enumerate(program.code)
               if isinstance(ins, MatMul) and ins.dst == gw]
        assert len(pcs) == 7
        for a, b in zip(pcs, pcs[1:]):
            assert any(isinstance(i, Barrier) for i in program.code[a:b])


def test_a_bound_below_one_word_is_refused():
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    with pytest.raises(ValueError, match="accumulator bound 0"):
        compile_program(spec, "train", acc_bound=0)
