"""The designs the kernel's cocotb tests run on (shared by the pytest side,
tests/u50/test_kernel.py, and the simulator side, tests/u50/kernel_cocotb.py, which
reads the design's name from ``$FIXAR_KERNEL_DESIGN``).

``main``: a tiny DDPG (actor 3-5-3-1, critic 4-4-1, batch 4) on two cores of 2x1 PEs
(one vector lane each: most of the build is the lanes), with the default
``m_axi_gmem0`` (256 bits); ``narrow`` and ``wide``: the same networks
(batch 3) on one 1x1 core behind a 64-bit and a 512-bit ``m_axi_gmem0`` (smaller, so
that their builds stay quick); ``percore``: the same networks (batch 3) on two cores
of 1x1 PEs with per-core memories (``CoreConfig.per_core_memories``: each core its own
copy of the data memories and tables), its slot table, instruction memories and host
slots (``amem``, as wide as ``smem``) large enough for the random programs' read-back
stores."""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from fixar_gen.hw.core import CoreConfig
from fixar_gen.hw.design import config_for, with_memories
from fixar_gen.spec import Spec
from fixar_gen.targets.u50.commands import DEFAULT_AXI_DATA_BITS
from tests.hw.test_core import tiny_ddpg

NAME = "fixar_kernel"
ENV = "FIXAR_KERNEL_DESIGN"


@dataclass(frozen=True)
class Design:
    name: str
    spec: Spec
    cfg: CoreConfig
    batch: int
    axi_data_bits: int


#: scratchpad words of the test designs: the AXI tests move transfers of up to three
#: 4 KB pages and 512 beats (1,539 words at 256 bits), more than the tiny specs' placed
#: buffers need
TEST_MEMORY_WORDS = 2048


def _design(name: str, shape: tuple[int, int, int], batch: int, bits: int,
            per_core_memories: bool = False) -> Design:
    spec = tiny_ddpg(*shape, batch)
    need = config_for(spec, per_core_memories=per_core_memories)
    words = max(TEST_MEMORY_WORDS, 1 << need.addr_bits)
    cfg = config_for(spec, memory_words=words, per_core_memories=per_core_memories)
    if per_core_memories:
        # room for with_readback's stores (tests/test_transfers.py): more slots and
        # instructions, and host slots (amem) as wide as a constant (smem), which a
        # random program's read-back may store
        wide = {s.name: s.width for s in cfg.memories}["smem"]
        cfg = with_memories(cfg, [dataclasses.replace(s, width=max(s.width, wide))
                                  if s.name == "amem" else s for s in cfg.memories])
        cfg = dataclasses.replace(cfg, slot_bits=max(cfg.slot_bits, 6),
                                  imem_bits=max(cfg.imem_bits, 7))
    return Design(name, spec, cfg, batch, bits)


DESIGNS = {"main": _design("main", (2, 1, 2), 4, DEFAULT_AXI_DATA_BITS),
           "narrow": _design("narrow", (1, 1, 1), 3, 64),
           "wide": _design("wide", (1, 1, 1), 3, 512),
           "percore": _design("percore", (1, 1, 2), 3, DEFAULT_AXI_DATA_BITS, True)}


def current() -> Design:
    """The design of this simulator process."""
    return DESIGNS[os.environ.get(ENV, "main")]
