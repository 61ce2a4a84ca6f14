"""The build cache of the kernel's cocotb simulations.

cocotb's Verilator runner links the simulator binary against cocotb's VPI library
(``libcocotbvpi_verilator.so``, through an rpath to ``cocotb_tools.config.libs_dir``) and
the binary later loads the Python it was built for.  A cached binary is therefore only
good while those files exist: a cache keyed by the Verilog alone reuses, from a second
clone or after a virtual environment is deleted, a binary whose library is "not found"
(the simulator exits with 127).  So:

* the key is the Verilog, the top, the build flags and every outside thing the binary
  depends on (:class:`SimEnvironment`: cocotb's version and library folder, Verilator's
  version and root, the Python executable and its shared libpython);
* each entry keeps a manifest of the files the binary needs at run time, and before an
  entry is reused :func:`reusable` checks them (the files exist, and ``ldd`` finds every
  shared library); an entry that fails the check is rebuilt, never run.

(The Verilator C++ harness cache of the core, fixar_gen/hw/verilate.py, is a separate
cache with its own key.)
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

#: flags of every kernel build (part of the key)
BUILD_ARGS = ("--x-assign", "fast", "-Wno-fatal", "-Wno-lint", "-Wno-style")
# -O0: on a 2-core machine the compile (not the simulation, which is mostly cocotb's
# Python) dominates; the wheel's make needs the PCH include flag spelled out
MAKEFLAGS = "OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O1 CFG_CXXFLAGS_PCH_I=-include"
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class SimEnvironment:
    """What a cocotb Verilator binary depends on outside its own folder."""

    cocotb_version: str
    cocotb_libs: str           # the folder of libcocotbvpi_verilator.so (the rpath)
    verilator_version: str
    verilator_root: str
    python: str                # the Python executable that runs the tests
    libpython: str             # the shared libpython the simulator loads

    @classmethod
    def current(cls, tool) -> "SimEnvironment":
        """This process's environment (``tool``: the Verilator :class:`fixar_gen.tools.Tool`)."""
        import cocotb_tools.config
        import find_libpython
        return cls(cocotb_version=importlib.metadata.version("cocotb"),
                   cocotb_libs=str(Path(cocotb_tools.config.libs_dir).resolve()),
                   verilator_version=_dist_version("verilator") or tool.origin,
                   verilator_root=tool.env.get("VERILATOR_ROOT", tool.origin),
                   python=sys.executable,
                   libpython=str(find_libpython.find_libpython() or ""))

    def runtime_files(self) -> list[str]:
        """Files the built binary needs when it runs."""
        vpi = Path(self.cocotb_libs) / "libcocotbvpi_verilator.so"
        return [str(vpi)] + ([self.libpython] if self.libpython else [])


def _dist_version(name: str) -> str | None:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def cache_key(verilog: str, top: str, env: SimEnvironment) -> str:
    text = json.dumps({"verilog": verilog, "top": top, "build_args": BUILD_ARGS,
                       "makeflags": MAKEFLAGS, "environment": asdict(env)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def cache_folder() -> Path:
    """``<the Verilator cache root>/../cocotb`` (``~/.cache/fixar_gen/cocotb`` by default)."""
    from fixar_gen.hw.verilate import cache_root
    return cache_root().parent / "cocotb"


def reusable(entry: Path, top: str) -> str | None:
    """None if the cached build in ``entry`` can run here, else why not (one line)."""
    binary = entry / top
    if not binary.is_file():
        return f"no binary {binary}"
    try:
        manifest = json.loads((entry / MANIFEST).read_text())
    except (OSError, ValueError):
        return f"no readable {MANIFEST} in {entry}"
    for path in manifest.get("runtime_files", []):
        if not Path(path).is_file():
            return f"{path} (needed by the binary) no longer exists"
    if shutil.which("ldd"):
        done = subprocess.run(["ldd", str(binary)], capture_output=True, text=True)
        missing = [line.split()[0] for line in done.stdout.splitlines() if "not found" in line]
        if missing:
            return f"the binary's libraries are not found: {', '.join(missing)}"
    return None


@contextmanager
def environment(values: dict[str, str]):
    """``os.environ`` updated with ``values`` for the ``with`` body."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def build_sim(verilog: str, top: str, tool, root: Path | None = None,
              log=None) -> tuple[Path, bool]:
    """The design compiled by cocotb's Verilator runner: ``(folder, built)``, the folder
    holding the binary ``top``, and whether it was compiled now (False: a verified cache
    entry was reused).  ``log(message)`` hears why an entry was rebuilt."""
    from cocotb_tools.runner import get_runner
    from fixar_gen.files import locked

    env = SimEnvironment.current(tool)
    key = cache_key(verilog, top, env)
    root = root or cache_folder()
    root.mkdir(parents=True, exist_ok=True)
    final = root / key
    if reusable(final, top) is None:
        return final, False
    with locked(root / f"{key}.lock"):
        why = reusable(final, top)
        if why is None:
            return final, False
        if final.exists() and log is not None:
            log(f"rebuilding the cached simulation {final.name}: {why}")
        work = root / f"{key}.building"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir()
        source = work / f"{top}.v"
        source.write_text(verilog)
        tool_env = {k: tool.env[k] for k in ("PATH", "VERILATOR_ROOT") if k in tool.env}
        tool_env["MAKEFLAGS"] = MAKEFLAGS
        with environment(tool_env):
            runner = get_runner("verilator")
            runner.build(sources=[source], hdl_toplevel=top, build_dir=work,
                         build_args=list(BUILD_ARGS), log_file=work / "build.log")
        for path in work.iterdir():          # keep the binary, the source, the log
            if path.name not in (top, source.name, "build.log"):
                if path.is_dir():
                    shutil.rmtree(path)
                else:
                    path.unlink()
        (work / MANIFEST).write_text(json.dumps(
            {"environment": asdict(env), "runtime_files": env.runtime_files()}, indent=2))
        shutil.rmtree(final, ignore_errors=True)
        work.rename(final)
    return final, True


def cocotb_or_skip() -> None:
    """Skip (naming what is missing) unless cocotb, cocotbext-axi and a shared
    libpython are there."""
    import pytest
    for module in ("cocotb", "cocotb_tools.runner", "cocotbext.axi"):
        try:
            __import__(module)
        except ImportError:
            pytest.skip(f"{module.split('.')[0]} is not installed: install the dev extra "
                        '(pip install -e ".[dev]"; PyPI packages cocotb, cocotbext-axi)')
    import find_libpython
    if find_libpython.find_libpython() is None:
        pytest.skip("cocotb needs the shared libpython of this Python (libpython3.x.so), "
                    "which was not found: use a Python built with --enable-shared")


def run_cocotb(build_dir: Path, top: str, tests, results: Path, tool, module: str,
               extra_env: dict[str, str] | None = None) -> dict[str, str]:
    """Run the cocotb ``tests`` of ``module`` on the binary in ``build_dir`` in one
    simulator process; {test: "" or the failure}."""
    from cocotb_tools.runner import get_runner
    env = {k: tool.env[k] for k in ("PATH", "VERILATOR_ROOT") if k in tool.env}
    runner = get_runner("verilator")
    runner.build_dir = build_dir
    with environment(env):
        try:
            runner.test(test_module=module, hdl_toplevel=top, hdl_toplevel_lang="verilog",
                        build_dir=build_dir, test_dir=results.parent,
                        results_xml=str(results), testcase=list(tests),
                        extra_env={"COCOTB_LOG_LEVEL": "WARNING", **(extra_env or {})},
                        log_file=results.with_suffix(".log"))
        except SystemExit:
            pass              # the results file says which test failed
    outcome = {}
    if results.is_file():
        for case in ET.parse(results).getroot().iter("testcase"):
            failure = case.find("failure")
            error = case.find("error")
            bad = failure if failure is not None else error
            outcome[case.get("name")] = "" if bad is None else (
                bad.get("message") or "failed") + "\n" + (bad.text or "")
    return outcome
