"""Open a generated core for a spec on a simulator: build (cached per design in this
process), pick the driver, wrap it in a :class:`~fixar_gen.hw.host.HardwareMachine`."""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from ..progress import QUIET, task
from ..spec import Spec
from .core import CoreConfig, build_core
from .design import config_for, random_program_words, with_memories
from .drivers import PyrtlDriver, VerilatorDriver
from .host import HardwareMachine

SIMULATORS = ("pyrtl", "verilator")
#: (slot table, instruction memory) address bits a simulated design with per-core
#: memories has at least: a random program of ``fixar verify`` (up to 4 instructions,
#: their buffers) with its readback, a slot and a store a core for each buffer
PER_CORE_RANDOM_TABLE_BITS = (6, 7)


@lru_cache(maxsize=8)
def elaborated(cfg: CoreConfig):
    """The design's PyRTL block (elaborated once per configuration)."""
    with task(f"elaborating {cfg.name} in PyRTL", f"elaborated {cfg.name}",
              after=QUIET):
        return build_core(cfg)


@lru_cache(maxsize=8)
def verilog_of(cfg: CoreConfig) -> str:
    from .verilate import emit_verilog
    block = elaborated(cfg)
    with task(f"writing the Verilog of {cfg.name}", f"wrote the Verilog of {cfg.name}",
              after=QUIET):
        return emit_verilog(block, cfg.name)


def verilator_model(cfg: CoreConfig):
    """The design compiled by Verilator (cached on disk by content hash).  A missing
    Verilator, C++ compiler or make is said before the design is elaborated."""
    from .verilate import VerilatorModel, _toolchain
    _toolchain()
    return VerilatorModel.build(verilog_of(cfg), cfg.name, cfg.hostmap.ports())


def simulation_config(spec: Spec, per_core_memories: bool = False) -> CoreConfig:
    """The configuration a simulated design of ``spec`` gets: :func:`config_for`, with
    every data memory at least :func:`random_program_words` deep, so that the random
    programs of ``fixar verify`` fit it as well as the spec's own.  Its memories are
    powers of two without tail RAMs: half the memory ports of a generated design to
    simulate, the same words at the same addresses (tests/hw/test_data_memories.py
    checks the tail RAMs on their own).  ``per_core_memories``: each core its copy of
    the memories, sized for the programs with their transfers (the spec's
    ``hardware.per_core_memories`` is not read here: ``backends.open_core`` and
    ``fixar verify`` read it and ask for this).  With per-core memories the slot tables
    and instruction memories are at least :data:`PER_CORE_RANDOM_TABLE_BITS` deep: a
    random program's readback (:func:`fixar_gen.percore_cases.with_readback`, a
    slot and a store a core for each buffer) fits them, and ``amem``, where the slots
    are, is as wide as the widest other data memory (a slot holds any buffer's words)."""
    cfg = config_for(spec, min_words=random_program_words(spec), tails=False,
                     per_core_memories=per_core_memories)
    if cfg.per_core_memories:
        slot_bits, imem_bits = PER_CORE_RANDOM_TABLE_BITS
        # the readback's slots (in amem) hold any data memory's words
        slots = max(m.width for m in cfg.memories if m.name != "cmem")
        cfg = with_memories(replace(cfg, slot_bits=max(cfg.slot_bits, slot_bits),
                                    imem_bits=max(cfg.imem_bits, imem_bits)),
                            [replace(m, width=slots) if m.name == "amem" else m
                             for m in cfg.memories])
    return cfg


def open_machine(spec: Spec, simulator: str, cfg: CoreConfig | None = None
                 ) -> HardwareMachine:
    """The spec's design on ``simulator`` (default ``cfg``: :func:`simulation_config`)."""
    cfg = cfg or simulation_config(spec)
    if simulator == "pyrtl":
        block = elaborated(cfg)
        with task(f"compiling {cfg.name} for PyRTL's FastSimulation",
                  f"compiled {cfg.name} for FastSimulation", after=QUIET):
            driver = PyrtlDriver(cfg, block)
    elif simulator == "verilator":
        driver = VerilatorDriver(cfg, verilator_model(cfg).start())
    else:
        raise ValueError(f"simulator {simulator!r} is not one of {', '.join(SIMULATORS)}")
    return HardwareMachine(cfg, driver)
