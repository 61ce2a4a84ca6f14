"""Where the host finds a buffer's (or host slot's) words on a design with per-core
memories: in each core's copy, the rows that copy holds, at that copy's address
(:mod:`fixar_gen.percore_placement`).

A host write puts each word into every copy that holds it (one run of words a copy);
a word no copy holds (a temporary no core touches) stays with the host, which answers
its reads with what it wrote.  A host read takes each word from the copy of the core
that wrote it last (always a copy that holds it), or, for a word no core wrote since
the host did, from any copy that holds it (all hold the host's value).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..percore_placement import CorePlacements
from .hostmap import HostMap


@dataclass(frozen=True)
class Run:
    """``words`` row-major words of a buffer from word ``first``, in core ``copy``'s
    copy at host data address ``address`` (without the core field)."""

    copy: int
    first: int
    words: int
    address: int


def runs(hm: HostMap, copies: CorePlacements, key) -> tuple[Run, ...]:
    """The runs of buffer or slot ``key`` (``("buffer", i)``, ``("slot", k)``), one per
    copy that holds any of its words."""
    out = []
    for c in range(copies.cores):
        first, words = copies.held(c, key)
        if words:
            p = copies.placed(c, key)
            out.append(Run(c, first, words, hm.data_address(p.memory, p.offset)))
    return tuple(out)


def unheld(runs_: tuple[Run, ...], size: int) -> np.ndarray:
    """Per word of a buffer of ``size`` words: True where no copy holds it."""
    held = np.zeros(size, bool)
    for r in runs_:
        held[r.first:r.first + r.words] = True
    return ~held


def source(runs_: tuple[Run, ...], owner: np.ndarray | None, size: int) -> np.ndarray:
    """Per word: the index into ``runs_`` of the run a host read takes it from (the
    copy of its last writer, ``owner`` >= 0; else the first copy that holds it), -1
    where no copy holds it."""
    out = np.full(size, -1, np.int32)
    for k in reversed(range(len(runs_))):         # the first holder wins
        r = runs_[k]
        out[r.first:r.first + r.words] = k
    if owner is not None:
        owner = owner.reshape(-1)
        for k, r in enumerate(runs_):
            mine = np.zeros(size, bool)
            mine[r.first:r.first + r.words] = owner[r.first:r.first + r.words] == r.copy
            out[mine] = k
    return out
