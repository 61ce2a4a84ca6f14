"""Weight gradients in chunks (``compiler.Emitter.weight_gradient``) on the generated
RTL: a training step whose gradients are chunked gives golden's bits, and its cycles
are the RTL cycle model's (the chunks' copies, barriers and drains included)."""

from __future__ import annotations

from functools import partial

import pytest

from fixar_gen import backends, compiler
from fixar_gen.backends import open_core
from fixar_gen.hw import design

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
    with pytest.MonkeyPatch.context() as mp:
        for module in (backends, design):
            mp.setattr(module, "compile_program",
                       partial(compiler.compile_program, acc_bound=BOUND))
            mp.setattr(module, "compile_programs",
                       partial(compiler.compile_programs, acc_bound=BOUND))
        hw = open_core(spec, "pyrtl")
        seen = []
        steps_and_inferences_identical(spec, hw, each_program=seen.append)
    assert seen and all(p.code == chunked.code for p in seen)
