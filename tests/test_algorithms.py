"""The algorithm seam (fixar_gen.algorithms): DDPG's programs are the ones the compiler
lowered before the seam existed, word for word.

The fingerprints below were recorded from the compiler without the seam (first at
11ec703; then at 21f64eb, whose compiler places the layers' deltas in gmem and has no
seam: the merge of the two gave the same fingerprints; then with the activations the
matrix unit reads as ``a`` padded to amem's strides, ``memory_kinds.activation_stride``:
the same instruction words, buffer names, rows and formats, wider buffers and their
placement; then with intra_layer's optimizer and soft updates split by the products'
columns, not by rows, and its backprop data products as per-core partial sums where
they move fewer words: the intra_layer training programs' fingerprints re-recorded,
the others unchanged): a change to DDPG's layout,
placement, buffer formats or any instruction word of any phase of the two example
specs fails here."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from fixar_gen import algorithms, load_spec
from fixar_gen.compiler import PHASES, compile_program, phases
from fixar_gen.isa import encode_words

ROOT = Path(__file__).resolve().parents[1]

#: (spec, phase, policy) -> the program's fingerprint (21f64eb's, the activations padded;
#: intra_layer's parameter work by columns, its data products by partial sums)
PRE_SEAM = {
    ("pendulum", "infer", "intra_layer"): "dc59135d88d98d6a",
    ("pendulum", "infer", "intra_batch"): "6b3357504c90d9f4",
    ("pendulum", "infer_critic", "intra_layer"): "09b556dfee47d6ea",
    ("pendulum", "infer_critic", "intra_batch"): "3db25dc03cdbeee6",
    ("pendulum", "explore", "intra_layer"): "1ba86aa586d72fb3",
    ("pendulum", "explore", "intra_batch"): "03af803dad7dcad8",
    ("pendulum", "train", "intra_layer"): "faf05dd242e15071",
    ("pendulum", "train", "intra_batch"): "61630394b312bab2",
    ("fixar_u50", "infer", "intra_layer"): "e8bd42683c19b526",
    ("fixar_u50", "infer", "intra_batch"): "7959dc582c35e51d",
    ("fixar_u50", "infer_critic", "intra_layer"): "92cacc91ee52438e",
    ("fixar_u50", "infer_critic", "intra_batch"): "4beee1ed4001da00",
    ("fixar_u50", "explore", "intra_layer"): "9c24eaecd2939c42",
    ("fixar_u50", "explore", "intra_batch"): "d19eaf92143169e1",
    ("fixar_u50", "train", "intra_layer"): "f9a4efcca6b8822a",
    ("fixar_u50", "train", "intra_batch"): "c4d5dd1159ab18cb",
}


def fingerprint(program) -> str:
    """The program's buffers, slots, cores, pre-activation format, placement and every
    instruction word, hashed."""
    h = hashlib.sha256()
    h.update(repr((program.name, program.buffers, program.slots, program.cores,
                   program.pre_format, program.placement)).encode())
    for instruction in program.code:
        h.update(repr(encode_words(instruction)).encode())
    return h.hexdigest()[:16]


@pytest.mark.parametrize("name", ["pendulum", "fixar_u50"])
def test_ddpg_programs_identical_to_before_the_seam(name):
    spec = load_spec(ROOT / "examples" / f"{name}.yaml")
    assert spec.algorithm.name == "ddpg"
    # every weight gradient in one chunk, as before the seam (fixar_u50's 400 x 300
    # gradients go in chunks since: tests/test_gradient_chunks.py shows the same bits)
    got = {(name, phase, policy): fingerprint(compile_program(spec, phase, policy=policy,
                                                              acc_bound=10 ** 12))
           for phase in PHASES for policy in ("intra_layer", "intra_batch")}
    assert got == {k: v for k, v in PRE_SEAM.items() if k[0] == name}


def test_ddpg_phases_and_networks():
    spec = load_spec(ROOT / "examples" / "pendulum.yaml")
    assert phases(spec) == PHASES
    module = algorithms.of(spec)
    assert tuple(module.NETS) == ("actor", "critic")
    assert [module.train_phase(spec, t) for t in range(4)] == ["train"] * 4


def test_unknown_algorithm_module():
    with pytest.raises(ValueError, match="not one of"):
        algorithms.algorithm("sac")
