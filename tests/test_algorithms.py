"""The algorithm seam (fixar_gen.algorithms): DDPG's programs are the ones the compiler
lowered before the seam existed, word for word.

The fingerprints below were recorded from the compiler without the seam (first at
11ec703; then at 21f64eb, whose compiler places the layers' deltas in gmem and has no
seam: the merge of the two gave the same fingerprints): a change to DDPG's layout,
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

#: (spec, phase, policy) -> the program's fingerprint at 21f64eb (no seam)
PRE_SEAM = {
    ("pendulum", "infer", "intra_layer"): "c79fcaf68efcd3b7",
    ("pendulum", "infer", "intra_batch"): "4d170287191ad728",
    ("pendulum", "infer_critic", "intra_layer"): "9f84316dc679ebaa",
    ("pendulum", "infer_critic", "intra_batch"): "456f17fb81c72d36",
    ("pendulum", "explore", "intra_layer"): "7288b36fba17c5d5",
    ("pendulum", "explore", "intra_batch"): "7d91dd1a60acb883",
    ("pendulum", "train", "intra_layer"): "7d25a476490d19c8",
    ("pendulum", "train", "intra_batch"): "b36c5cb265b64dfa",
    ("fixar_u50", "infer", "intra_layer"): "ccacf091a59439cb",
    ("fixar_u50", "infer", "intra_batch"): "d601679e655496e1",
    ("fixar_u50", "infer_critic", "intra_layer"): "5d2852e515c2b589",
    ("fixar_u50", "infer_critic", "intra_batch"): "a9582f16dab99194",
    ("fixar_u50", "explore", "intra_layer"): "31d16eeba774aa50",
    ("fixar_u50", "explore", "intra_batch"): "e8c06dbf27b04493",
    ("fixar_u50", "train", "intra_layer"): "b4362315b870ccdf",
    ("fixar_u50", "train", "intra_batch"): "de7c3cb1840f813b",
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
