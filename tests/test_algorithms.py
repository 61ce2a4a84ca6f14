"""The algorithm seam (fixar_gen.algorithms): DDPG's programs are the ones the compiler
lowered before the seam existed, word for word.

The fingerprints below were recorded from the compiler before DDPG moved behind the
seam (commit 11ec703): a change to DDPG's layout, placement, buffer formats or any
instruction word of any phase of the two example specs fails here."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from fixar_gen import algorithms, load_spec
from fixar_gen.compiler import PHASES, compile_program, phases
from fixar_gen.isa import encode_words

ROOT = Path(__file__).resolve().parents[1]

#: (spec, phase, policy) -> the program's fingerprint at 11ec703
PRE_SEAM = {
    ("pendulum", "infer", "intra_layer"): "9d34a6dd4b9a8143",
    ("pendulum", "infer", "intra_batch"): "b9e3c98374081724",
    ("pendulum", "infer_critic", "intra_layer"): "a231a663a677bbeb",
    ("pendulum", "infer_critic", "intra_batch"): "7252a3402798247d",
    ("pendulum", "explore", "intra_layer"): "cf76b80517f63d10",
    ("pendulum", "explore", "intra_batch"): "2f38f3c15ad40f01",
    ("pendulum", "train", "intra_layer"): "77ccad5380f1ea9c",
    ("pendulum", "train", "intra_batch"): "4bbb75a309c4f25e",
    ("fixar_u50", "infer", "intra_layer"): "74a03fa1f1831c8e",
    ("fixar_u50", "infer", "intra_batch"): "bca72441fb33ca92",
    ("fixar_u50", "infer_critic", "intra_layer"): "6b5f520c118031e1",
    ("fixar_u50", "infer_critic", "intra_batch"): "4e85ff3df0fe9afa",
    ("fixar_u50", "explore", "intra_layer"): "071b0e512aa5da7b",
    ("fixar_u50", "explore", "intra_batch"): "eb122fbf794a3542",
    ("fixar_u50", "train", "intra_layer"): "633eccc966baca8e",
    ("fixar_u50", "train", "intra_batch"): "9e102253c282d889",
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
    got = {(name, phase, policy): fingerprint(compile_program(spec, phase, policy=policy))
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
