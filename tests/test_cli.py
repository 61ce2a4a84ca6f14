"""The `fixar` command: exit codes, output shapes, help everywhere, no tracebacks."""

import json
import subprocess
import sys

import pytest
import yaml

from fixar_gen import __version__, load_spec
from fixar_gen.cli import build_parser, main

from .conftest import EXAMPLES

EXAMPLE_SPECS = sorted(EXAMPLES.glob("*.yaml")) + [EXAMPLES / "custom_dsl.py"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fixar_gen", *args], capture_output=True,
                          text=True, timeout=120)


def test_validate_all_examples(capsys):
    assert main(["validate", *map(str, EXAMPLE_SPECS)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == len(EXAMPLE_SPECS) and all(": ok: " in line for line in out)


def test_validate_mixed_good_and_bad_exits_2_and_reports_only_the_bad(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("hardware:\n  cores: -1\n")
    assert main(["validate", str(EXAMPLES / "pendulum.yaml"), str(bad)]) == 2
    captured = capsys.readouterr()
    assert captured.err == (f"{bad}:2:10: hardware.cores: -1 is out of range "
                            "(an integer from 1 to 64)\n")
    assert "pendulum.yaml: ok" in captured.out


def test_missing_file_is_a_located_error_exit_2(tmp_path):
    proc = run("validate", str(tmp_path / "nope.yaml"))
    assert proc.returncode == 2
    assert proc.stderr == f"{tmp_path / 'nope.yaml'}:1:1: no such file\n"
    proc = run("show", str(tmp_path / "nope.yaml"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_version_and_help_everywhere():
    proc = run("--version")
    assert proc.returncode == 0 and proc.stdout.strip() == f"fixar_gen {__version__}"
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert {"validate", "schema", "show", "estimate", "compile"} <= set(commands)
    for name in [None, *commands]:
        proc = run(*([name] if name else []), "--help")
        assert proc.returncode == 0 and proc.stdout.startswith("usage: fixar")


def test_usage_errors_exit_2():
    assert run().returncode == 2
    assert run("frobnicate").returncode == 2


@pytest.mark.parametrize("path", EXAMPLE_SPECS, ids=lambda p: p.name)
def test_show_prints_the_resolved_spec_as_yaml_and_json(path, capsys):
    assert main(["show", str(path)]) == 0
    data = yaml.safe_load(capsys.readouterr().out)
    spec = load_spec(path)
    assert data["name"] == spec.name
    assert data["networks"]["actor"]["inputs"] == spec.obs_dim
    assert main(["show", "--json", str(path)]) == 0
    assert json.loads(capsys.readouterr().out) == data


def test_estimate_reports_fixar_design_point(capsys):
    assert main(["estimate", "--json", str(EXAMPLES / "fixar_u50.yaml")]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["pe_count"] == 512 and report["clock_mhz"] == 164.0
    assert report["macs_per_sample"] == 1_268_600
    for mode, peak in (("fxp32", 512), ("fxp16", 1024)):
        m = report[mode]
        assert m["peak_macs_per_cycle"] == peak
        # IPS is batch / (cycles / clock); utilisation is useful MACs over the peak
        assert m["train_ips"] == pytest.approx(164e6 * 64 / m["train_cycles_per_update"])
        assert m["pe_utilization"] == pytest.approx(
            1_268_600 * 64 / (m["train_cycles_per_update"] * peak))
        assert 0 < m["pe_utilization"] <= 1
        assert m["infer_ips_batch1"] == pytest.approx(164e6 / m["infer_cycles_batch1"])
        assert sum(m["train_cycles_by_unit"].values()) == m["train_cycles_per_update"]
    # FXP16 doubles the peak: the modeled step must get faster, never slower
    assert report["fxp16"]["train_cycles_per_update"] < report["fxp32"]["train_cycles_per_update"]
    assert report["resources"]["dsp_arrays"] == 2048
    assert main(["estimate", str(EXAMPLES / "pendulum.yaml")]) == 0
    text = capsys.readouterr().out
    assert "training IPS" in text and "modeled" in text


def test_compile_prints_assembly_and_hex(capsys):
    from fixar_gen.isa import INSTRUCTION_BITS, decode
    assert main(["compile", str(EXAMPLES / "pendulum.yaml"), "--phase", "train"]) == 0
    text = capsys.readouterr().out
    assert "mm " in text and "fn=adam_w" in text and "cycles modeled" in text
    assert main(["compile", str(EXAMPLES / "pendulum.yaml"), "--phase", "infer", "--hex"]) == 0
    words = capsys.readouterr().out.split()
    assert all(len(w) == INSTRUCTION_BITS // 4 for w in words)
    assert decode(int(words[0], 16)).MNEMONIC == "load"


def test_compile_prints_the_placement(capsys):
    from fixar_gen.compiler import compile_program
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    program = compile_program(spec, "train")
    assert main(["compile", str(EXAMPLES / "pendulum.yaml"), "--placement"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"; placement of pendulum.train: "
                               f"{program.placement.words:,} words")
    pl = program.placement
    header = next(i for i, line in enumerate(lines) if "offset" in line.split())
    # one line per memory: name, width, words (cmem at the datapath word)
    memories = {line.split()[1]: line.split() for line in lines[2:header]}
    assert list(memories) == [m.name for m in pl.memories]
    assert memories["wmem"][2:4] == [str(pl.memory("wmem").width),
                                     f"{pl.memory('wmem').words:,}"]
    rows = {line.split()[-1]: line.split() for line in lines[header + 1:]}
    assert set(rows) == {b.name for b in program.buffers} | {s.name for s in program.slots}
    assert rows["states"][1] == "amem" and rows["states"][5] == "slot"
    # 3 x 64 weights at an odd row stride (65: wmem's strided read of the transpose)
    assert rows["actor.l0.w"][1:5] == ["wmem", "0", "195", "pinned"]
    assert rows["critic.l0.w.grad"][1] == "gmem"


def test_custom_dsl_example_runs_as_a_script():
    proc = subprocess.run([sys.executable, str(EXAMPLES / "custom_dsl.py")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("fixar_u50_4cores: 4 cores x 16x16 PEs = 1024 PEs")


def test_oversized_file_is_refused_quickly(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("# padding\n" * 200_000)
    proc = run("validate", str(big))
    assert proc.returncode == 2
    assert proc.stderr.startswith(f"{big}:1:1: the file has ")
    assert "limited to 1048576 bytes" in proc.stderr
