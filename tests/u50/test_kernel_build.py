"""The cocotb simulation cache (tests/u50/kernel_build.py) survives the environment
that built it: a binary built against one cocotb library folder is not reused once
that folder is gone (issue: exit 127, "libcocotbvpi_verilator.so: not found"); the
key changes with the environment, and an entry whose libraries are missing is rebuilt.

The "environments" are copies of cocotb's library folder (``cocotb_tools.config.libs_dir``,
which the runner links against with an rpath), as two virtual environments would have.
Two builds of a tiny design (about 15 s)."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from tests.u50.kernel_build import (SimEnvironment, build_sim, cache_key, cocotb_or_skip,
                                    reusable, run_cocotb)

TOP = "cache_probe"
VERILOG = """\
module cache_probe(input wire clk, input wire rst, output reg [7:0] count);
    always @(posedge clk) count <= rst ? 8'd0 : count + 8'd1;
endmodule
"""


def _venv_libs(tmp_path: Path, name: str, real: Path) -> Path:
    libs = tmp_path / name / "cocotb_libs"
    shutil.copytree(real, libs)
    return libs


def _simulate(build: Path, tool, tmp_path: Path, name: str) -> dict:
    folder = tmp_path / f"run_{name}"
    folder.mkdir()
    return run_cocotb(build, TOP, ["counter_counts"], folder / "results.xml", tool,
                      "tests.u50.probe_cocotb")


def test_the_key_covers_the_environment():
    env = SimEnvironment("2.1.0", "/a/libs", "5.0", "/v", "/a/bin/python", "/lib/libpy.so")
    base = cache_key(VERILOG, TOP, env)
    for field, value in (("cocotb_version", "2.0.0"), ("cocotb_libs", "/b/libs"),
                         ("verilator_version", "5.1"), ("verilator_root", "/w"),
                         ("python", "/b/bin/python"), ("libpython", "/lib/other.so")):
        assert cache_key(VERILOG, TOP, replace(env, **{field: value})) != base, field
    assert cache_key(VERILOG, TOP, env) == base
    assert env.runtime_files() == ["/a/libs/libcocotbvpi_verilator.so", "/lib/libpy.so"]


@pytest.mark.slow       # two cocotb builds; the Verilator cache's own rebuild test stays default
@pytest.mark.tools
def test_a_build_whose_environment_is_gone_is_rebuilt_not_run(verilator_tool, tmp_path,
                                                               monkeypatch):
    cocotb_or_skip()
    import cocotb_tools.config as config
    real = Path(config.libs_dir)
    cache = tmp_path / "cache"
    rebuilt: list[str] = []

    # environment A builds and runs
    libs_a = _venv_libs(tmp_path, "venv_a", real)
    monkeypatch.setattr(config, "libs_dir", libs_a)
    build_a, built = build_sim(VERILOG, TOP, verilator_tool, root=cache)
    assert built and reusable(build_a, TOP) is None
    assert _simulate(build_a, verilator_tool, tmp_path, "a") == {"counter_counts": ""}
    assert build_sim(VERILOG, TOP, verilator_tool, root=cache) == (build_a, False)

    # environment A is deleted: its binary cannot run any more (what the old cache reused)
    shutil.rmtree(libs_a.parent)
    done = subprocess.run([str(build_a / TOP)], capture_output=True, text=True,
                          cwd=tmp_path)
    assert done.returncode == 127 and "libcocotbvpi_verilator.so" in done.stderr
    why = reusable(build_a, TOP)
    assert why is not None and "libcocotbvpi_verilator.so" in why

    # environment B: a different key; and even A's stale entry filed under B's key (as a
    # cache keyed by the Verilog alone would have it) is checked and rebuilt, not run
    libs_b = _venv_libs(tmp_path, "venv_b", real)
    monkeypatch.setattr(config, "libs_dir", libs_b)
    key_b = cache_key(VERILOG, TOP, SimEnvironment.current(verilator_tool))
    assert key_b != build_a.name
    shutil.copytree(build_a, cache / key_b)
    build_b, built = build_sim(VERILOG, TOP, verilator_tool, root=cache, log=rebuilt.append)
    assert built and build_b == cache / key_b
    assert len(rebuilt) == 1 and "libcocotbvpi_verilator.so" in rebuilt[0]
    assert reusable(build_b, TOP) is None
    assert _simulate(build_b, verilator_tool, tmp_path, "b") == {"counter_counts": ""}
    assert build_sim(VERILOG, TOP, verilator_tool, root=cache) == (build_b, False)
