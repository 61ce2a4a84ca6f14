"""Weight gradients in chunks (``compiler.Emitter.weight_gradient``) on the generated
RTL: a training step whose gradients are chunked gives golden's bits, and its cycles
are the RTL cycle model's (the chunks' copies, barriers and drains included); on
per-core memories too, where intra_batch's chunks are reduced in rounds."""

from __future__ import annotations

import dataclasses
from functools import partial

import pytest

from fixar_gen import backends, compiler
from fixar_gen.backends import PerCoreHardwareCore, open_core
from fixar_gen.hw import design
from fixar_gen.isa import VECTOR_FUNCTIONS, MatMul, Vector
from fixar_gen.transfers import transfers_of

from tests.hw.test_core import steps_and_inferences_identical, tiny_ddpg

#: words: the tiny networks' gradients (5 x 3, 4 x 1, ...) chunked to one column each
BOUND = 6


@pytest.mark.slow          # 30 s to minutes of PyRTL each (tests/test_gradient_chunks.py
                           # checks the chunked programs on the golden models by default)
@pytest.mark.parametrize("rows,cols,cores,batch,training", [
    (1, 1, 1, 3, "intra_batch"),
    (2, 2, 2, 5, "intra_batch"),
    (2, 2, 2, 5, "intra_layer"),
    (1, 2, 3, 4, "intra_batch")])
def test_chunked_training_step_on_the_rtl(rows, cols, cores, batch, training):
    spec = tiny_ddpg(rows, cols, cores, batch, training)
    whole = compiler.compile_program(spec, "train")
    chunked = compiler.compile_program(spec, "train", acc_bound=BOUND)
    assert len(chunked.code) > len(whole.code)           # some gradient is chunked
    seen = _steps_with_bound(spec, lambda: open_core(spec, "pyrtl"))
    assert seen and all(p.code == chunked.code for p in seen)


def _steps_with_bound(spec, open_hw):
    """The programs of ``steps_and_inferences_identical`` on ``open_hw()``, every
    program compiled with the accumulator bound :data:`BOUND`."""
    with pytest.MonkeyPatch.context() as mp:
        for module in (backends, design):
            mp.setattr(module, "compile_program",
                       partial(compiler.compile_program, acc_bound=BOUND))
            mp.setattr(module, "compile_programs",
                       partial(compiler.compile_programs, acc_bound=BOUND))
        seen = []
        steps_and_inferences_identical(spec, open_hw(), each_program=seen.append)
    return seen


@pytest.mark.slow          # (about 2 minutes of PyRTL)
def test_chunked_gradients_reduced_in_rounds_on_the_per_core_rtl():
    """Per-core memories, intra_batch: each chunk of a weight gradient's products split
    by rows, the second round accumulating onto the sums the first round's core
    transferred (``acc_add`` only for the one-row bias gradients): golden's bits and
    the cycle model's cycles."""
    spec = tiny_ddpg(2, 2, 2, 5, "intra_batch")
    spec = dataclasses.replace(spec, hardware=dataclasses.replace(
        spec.hardware, per_core_memories=True))
    seen = _steps_with_bound(spec, lambda: PerCoreHardwareCore(spec))
    acc_add = VECTOR_FUNCTIONS.index("acc_add")
    for program in seen:
        added = {program.buffers[i.dst].name for i in program.code
                 if isinstance(i, Vector) and i.fn == acc_add}
        assert added and all(".gb" in name for name in added), added
        assert any(isinstance(i, MatMul) and i.ta and i.accumulate for i in program.code)
        assert transfers_of(program).by_kind["acc"]
