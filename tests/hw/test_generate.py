"""`fixar generate`: every example's Verilog, host map (JSON and C header from one
description) and report; the Verilog passes Verilator's -Wall lint with the documented
waivers only."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from fixar_gen.cli import main
from fixar_gen.dsl import load_spec
from fixar_gen.hw.hostmap import HostMap, pack, unpack, width
from fixar_gen.hw.lint import lint

EXAMPLES = sorted(str(p) for p in Path("examples").glob("*.yaml"))
#: examples whose generation (or lint) takes minutes: the default run generates
#: examples/fixar_u50.yaml once for tests/u50/test_package.py and checks its files here;
#: `pytest -m slow` lints it and covers these
#: pendulum_td3 generates pendulum's core with deeper memories (its twin critic):
#: behind slow to keep the default run's budget; tests/hw/test_core_td3.py runs TD3
#: on a generated core
BIG = {"examples/halfcheetah.yaml", "examples/hopper.yaml", "examples/swimmer.yaml",
       "examples/pendulum_td3.yaml",       # (hopper, swimmer: halfcheetah's 400-300 networks)
       "examples/fixar_u50_fit.yaml"}      # (fixar_u50 with fewer lanes: a minute more)
BIG_LINT = BIG | {"examples/fixar_u50.yaml"}


def _params(slow: set[str]):
    return [pytest.param(p, marks=pytest.mark.slow) if p in slow else p for p in EXAMPLES]


@pytest.fixture(scope="module")
def generated(generated_example):
    return generated_example


@pytest.mark.parametrize("path", _params(BIG))
def test_generate_writes_verilog_hostmap_header_and_report(generated, path):
    folder, report = generated(path)
    top = report["top"]
    verilog = (folder / f"{top}.v").read_text()
    assert re.search(rf"^module {top}\(", verilog, re.M)
    hostmap = json.loads((folder / "hostmap.json").read_text())
    header = (folder / f"{top}_hostmap.h").read_text()
    # the header states the same numbers as the JSON
    for mem, info in hostmap["memories"].items():
        assert f"#define {top.upper()}_{mem.upper()}_DEPTH {info['depth']}u" in header
        for name, (lsb, bits) in info.get("fields", {}).items():
            assert f"{top.upper()}_{mem.upper()}_{name.upper()}_LSB {lsb}u" in header
            assert f"{top.upper()}_{mem.upper()}_{name.upper()}_BITS {bits}u" in header
    # every port of the map is a port of the Verilog module with that width
    for name, info in hostmap["ports"].items():
        way = "input" if info["dir"] == "in" else "output"
        decl = rf"{way}\s*(\[{info['bits'] - 1}:0\])?\s*{name}\b" if info["bits"] > 1 \
            else rf"{way}\s*{name}\b"
        assert re.search(decl, verilog), name
    spec = load_spec(path)
    assert report["cores"] == spec.hardware.cores
    assert report["array"] == list(spec.hardware.array)
    assert report["vector_lanes"] == spec.hardware.lanes == (
        spec.hardware.vector_lanes or spec.hardware.cols)
    assert (folder / "lint_waivers.vlt").exists()


def test_descriptor_packing_round_trips():
    fields = (("base", 20), ("rows", 17), ("cols", 17), ("fmt", 18), ("acc_bits", 7))
    values = {"base": 123_456, "rows": 65_536, "cols": 3, "fmt": 0x2ABCD, "acc_bits": 80}
    word = pack(fields, **values)
    assert word < 1 << width(fields)
    assert unpack(fields, word) == values
    with pytest.raises(ValueError, match="does not fit"):
        pack(fields, base=1 << 20)


@pytest.mark.tools
@pytest.mark.parametrize("path", _params(BIG_LINT))
def test_generated_verilog_is_lint_clean(generated, path, verilator_tool):
    folder, report = generated(path)
    lint(folder / f"{report['top']}.v", report["top"])


def test_generate_command_reports_what_it_wrote(tiny, tmp_path, capsys):
    assert main(["generate", tiny, "-o", str(tmp_path / "p")]) == 0
    out = capsys.readouterr().out
    assert "fixar_core.v" in out and "hostmap.json" in out
    assert (tmp_path / "p" / "report.json").exists()


def test_generate_bad_spec_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("hardware: {cores: 0}\n")
    assert main(["generate", str(bad), "-o", str(tmp_path / "x")]) == 2
    assert "bad.yaml:1:" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.tools
def test_small_core_synthesizes_for_ultrascale_plus(tmp_path, yosys_tool):
    """`fixar generate --synth` of a one-core 1x1 design with a 32-word scratchpad
    (about 10 minutes of Yosys): the PE's two 32x16 multipliers take 4 DSP48E2, the
    vector lane the rest; report.json records the counts and the timing estimate of
    every unit."""
    spec = tmp_path / "small.yaml"
    spec.write_text("name: small\nnetworks:\n  actor: {hidden: [3], inputs: 2, outputs: 1}\n"
                    "  critic: {hidden: [3]}\nalgorithm: {batch_size: 2}\n"
                    "hardware: {cores: 1, array: [1, 1]}\n")
    assert main(["generate", str(spec), "-o", str(tmp_path / "g"), "--synth",
                 "--memory-words", "32"]) == 0
    report = json.loads((tmp_path / "g" / "report.json").read_text())
    r = report["resources"]
    assert r["DSP"] >= 4 and r["LUT"] > 0 and r["FF"] > 0
    assert r["source"] == "yosys synth_xilinx -family xcup"
    # the timing estimate of the same netlist: every unit, the PE's accumulation found
    t = report["timing"]
    assert {"pe", "vector_lane", "controller"} <= set(t["units"])
    assert t["dsp48e2"] == r["DSP"]
    assert sum(u["dsp48e2"] for u in t["units"].values()) == r["DSP"]
    assert t["max_lut_levels"] == max(u["max_lut_levels"] for u in t["units"].values())
    assert t["worst_ns"] == max(u["worst_ns"] for u in t["units"].values())
    psum = [p for p in t["units"]["pe"]["worst_paths"] if "_psum_lo" in p["end"]]
    assert psum and psum[0]["carry_cells"] >= 10           # the 80-bit accumulate
    assert (tmp_path / "g" / "synth" / "netlist.json").exists()
    assert t["unmodeled_cells"] == {}


@pytest.mark.parametrize("option,tool", [("--verilate", "verilator"), ("--synth", "yosys"),
                                         ("--synth-memories", "yosys")])
def test_a_missing_tool_is_said_before_the_design_is_elaborated(option, tool, monkeypatch,
                                                                 tmp_path, capsys):
    """One line naming the tool and how to install it, exit 2, and no minutes of
    elaboration first (nothing is written)."""
    import fixar_gen.hw.core as core
    from fixar_gen import tools

    def missing():
        raise tools.ToolMissing(f"{tool} not found: install it with ...")

    def elaborated(*args, **kwargs):
        raise AssertionError("the design was elaborated before the tool check")

    monkeypatch.setattr(tools, tool, missing)
    monkeypatch.setattr(core, "build_core", elaborated)
    out = tmp_path / "g"
    assert main(["generate", str(Path("examples") / "pendulum.yaml"), "-o", str(out), option]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{tool} not found" in err, err
    assert not out.exists()


def test_a_board_design_reports_its_estimated_fit(generated):
    """report.json states the calibrated resource model's verdict on the generated
    design (what `fixar estimate` says); off a board it is absent."""
    from fixar_gen.estimate import estimate
    _, report = generated("examples/fixar_u50.yaml")
    est = report["estimated_fit"]
    expected = estimate(load_spec("examples/fixar_u50.yaml"))["resources"]["fit"]
    assert est["fits"] == expected["fits"] and est["problems"] == expected["problems"]
    assert est["utilization"] == expected["utilization"]
    assert est["fits"] == (max(est["utilization"].values()) <= 1)
    # beyond the board: the most lanes per core that fit, as `fixar estimate` finds them
    assert est["fits_with_lanes"]["vector_lanes"] == 10
    _, sim = generated("examples/pendulum.yaml")
    assert sim["estimated_fit"] is None


def test_generate_warns_when_the_design_will_not_place(tmp_path, capsys, monkeypatch,
                                                      tiny_one_core):
    """A design the resource model puts beyond the board is generated, with one
    warning line that names the resource and its share (the report is canned here;
    the check above ties it to `fixar estimate`)."""
    import fixar_gen.generate as gen
    real = gen.generate

    def over(spec, out, **kwargs):
        report = real(spec, out, **kwargs)
        report["estimated_fit"] = {"fits": False, "board": "u50",
                                   "problems": ["LUT 900002 > 741200 usable"],
                                   "utilization": {"luts": 1.2142, "ffs": 0.52},
                                   "fits_with_lanes": {"vector_lanes": 7,
                                                       "utilization": {"luts": 0.9}}}
        return report
    monkeypatch.setattr(gen, "generate", over)
    assert main(["generate", tiny_one_core, "-o", str(tmp_path / "p")]) == 0
    err = capsys.readouterr().err
    assert "warning: the generated design needs an estimated LUT 121% of what the u50 " \
        "leaves after the shell margin (LUT 900002 > 741200 usable)" in err
    assert "FF" not in err.split("warning:")[1].split("(")[0]
    assert "(with `hardware.vector_lanes: 7`, the most lanes per core that fit, it would; " \
        "`fixar estimate` shows the parts)" in err


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc is not installed")
@pytest.mark.parametrize("cores,per_core", [(1, False), (2, False), (3, True)])
def test_c_header_states_the_address_fields_a_host_program_needs(tmp_path, cores, per_core):
    """A C host program builds its addresses from the header alone: the data address's
    offset and memory id, the memory ids, and with per-core memories the copy's core
    field of every write and read; the header's fields rebuild what the map's own
    ``write_address`` / ``table_address`` give (checked by gcc's static asserts)."""
    hm = HostMap("fixar_core", cores, 82, 12, 9, 8, 3, per_core=per_core)
    (tmp_path / "map.h").write_text(hm.c_header())
    top, last = "FIXAR_CORE", cores - 1
    checks = []
    for memory in ("wmem", "cmem"):
        for offset in (0, 5, (1 << 12) - 1):
            address = hm.write_address(hm.data_address(memory, offset), last)
            built = (f"(({offset}ull << {top}_DATA_ADDR_OFFSET_LSB) | "
                     f"((unsigned long long){top}_MEMORY_{memory.upper()} << "
                     f"{top}_DATA_ADDR_MEMORY_LSB))")
            if per_core:
                built += f" | ({last}ull << {top}_DATA_WRITE_CORE_LSB)"
            checks.append(f"_Static_assert(({built}) == {address}ull, \"{memory}\");")
    for table in ("desc", "slot"):
        address = hm.table_address(table, 2, last)
        built = "2ull" + (f" | ({last}ull << {top}_{table.upper()}_WRITE_CORE_LSB)"
                           if per_core else "")
        checks.append(f"_Static_assert(({built}) == {address}ull, \"{table}\");")
        checks.append(f"_Static_assert({top}_{table.upper()}_PER_CORE == "
                      f"{int(per_core)}u, \"{table}\");")
    src = tmp_path / "check.c"
    src.write_text('#include "map.h"\n' + "\n".join(checks) + "\nint main(void) { return 0; }\n")
    done = subprocess.run(["gcc", "-std=c11", "-Wall", "-Werror", "-fsyntax-only",
                           f"-I{tmp_path}", str(src)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
