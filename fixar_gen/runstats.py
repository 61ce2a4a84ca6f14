"""What one program run reports, whoever executed it (the golden model, the generated
RTL's host): saturation counts per instruction and per buffer."""

from __future__ import annotations

import dataclasses
from collections import Counter


@dataclasses.dataclass
class RunStats:
    """What one program run reported: saturations per instruction and per buffer."""

    saturations: Counter = dataclasses.field(default_factory=Counter)   # by step (pc)
    by_buffer: Counter = dataclasses.field(default_factory=Counter)     # by buffer name
    instructions: int = 0
    #: pc -> the pc that reports its saturations (the first of its run of per-core
    #: pieces: a step split over the cores is executed, and counted, as one)
    step_of: dict = dataclasses.field(default_factory=dict)

    def by_step(self, per_pc: Counter) -> Counter:
        """Per-instruction counts (of another executor) keyed like ``saturations``."""
        out = Counter()
        for pc, n in per_pc.items():
            out[self.step_of.get(pc, pc)] += n
        return out

    @property
    def total_saturations(self) -> int:
        """Every count of the run (each is kept per buffer too; executors without
        per-instruction counters, like the generated RTL, report ``by_buffer`` only)."""
        return sum(self.by_buffer.values())

