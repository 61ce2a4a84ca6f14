"""Sizes are bounded on every target: a spec whose networks or batch would generate an
absurd scratchpad is refused with a located message that says what would be generated,
and `fixar generate` refuses a design its programs would need too large a memory for."""

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from fixar_gen import load_spec
from fixar_gen.cli import main
from fixar_gen.hw.design import PHASES
from fixar_gen.compiler import Precision, compile_program
from fixar_gen.spec import MAX_SCRATCHPAD_WORDS
from tests.conftest import examples


def write(tmp_path, data, name="spec.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return str(path)


@pytest.mark.parametrize("target", ["sim", "u50"])
def test_huge_networks_are_refused_on_every_target(tmp_path, capsys, target):
    path = tmp_path / "huge.yaml"
    path.write_text(f"name: huge\ntarget: {target}\nnetworks:\n"
                    "  actor: {hidden: [65536, 65536]}\n"
                    "  critic: {hidden: [65536, 65536]}\n")
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"{path}:5:20: networks.critic.hidden: [65536, 65536] is "
                          "too large: "), err
    assert "would generate a core whose scratchpad holds at least" in err
    assert f"at most {MAX_SCRATCHPAD_WORDS:,} words" in err


def test_huge_batch_names_the_batch(tmp_path, capsys):
    path = write(tmp_path, {
        "name": "batchy", "networks": {"actor": {"hidden": [4096]},
                                       "critic": {"hidden": [4096]}},
        "algorithm": {"batch_size": 65536, "replay_size": 100000}})
    assert main(["validate", path]) == 2
    err = capsys.readouterr().err
    line = next(i for i, text in enumerate(open(path), 1) if "batch_size" in text)
    assert err.startswith(f"{path}:{line}:")
    assert "algorithm.batch_size: 65536 is too large" in err


def test_generate_refuses_a_memory_beyond_the_bound(tmp_path, capsys):
    """Within the spec's lower bound but not within the compiled programs' real needs:
    generate says so in one line and writes nothing."""
    path = write(tmp_path, {
        "name": "wide", "networks": {"actor": {"hidden": [250, 250]},
                                     "critic": {"hidden": [250, 250]}},
        "algorithm": {"batch_size": 65536, "replay_size": 100000}})
    load_spec(path)                                  # a valid spec
    out = tmp_path / "build"
    assert main(["generate", path, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and " words in data memory amem " in err
    assert f"at most {MAX_SCRATCHPAD_WORDS:,} words" in err
    assert not out.exists()


def programs_words(spec) -> int:
    """The words the generator lays out: every phase's placed buffers and host slots."""
    words = 0
    for phase, batch in PHASES:
        program = compile_program(spec, phase, Precision(), batch)
        assert program.placement.words >= sum(s.rows * s.cols for s in program.slots)
        words = max(words, program.placement.words)       # the slots are placed too
    return words


@settings(max_examples=examples(25), deadline=None)
@given(st.lists(st.integers(1, 96), min_size=1, max_size=3),
       st.lists(st.integers(1, 96), min_size=1, max_size=3),
       st.integers(1, 256), st.sampled_from(["adam", "sgd", "momentum"]))
def test_the_spec_bound_never_exceeds_what_the_compiler_lays_out(actor, critic, batch,
                                                                opt):
    """The spec's check is a lower bound of the real layout, so it never refuses a
    design the generator could build within the bound."""
    spec = load_spec({"networks": {"actor": {"hidden": actor}, "critic": {"hidden": critic}},
                      "algorithm": {"batch_size": batch, "optimizer": opt},
                      "hardware": {"cores": 1, "array": [2, 2]}})
    assert sum(spec.scratchpad_words_at_least().values()) <= programs_words(spec)
