"""Which words of a simulated core's data memories still hold the zero they start with.

A Verilated core starts with every memory word at zero (the harness's ``randReset(0)``,
as PyRTL's simulators), and its host port writes one word a clock edge.  Placing a
program's buffers zeroes them through that port: on a 2 x 16x16 core, millions of
edges of a model that runs a few thousand a second.  A zero written over a word that
has held zero since the model started changes nothing, so :class:`ZeroWords` lets the
driver leave it out: it remembers, per data memory, which words have never been
written a non-zero value by the host, and forgets all of that once the core has run
(its programs write the memories).  Only non-zero words and words it cannot vouch for
are written, so the memories' contents after every host write are the same as if all
of them had been.

    zeros = ZeroWords(depths)           # {memory: words}, from the core's configuration
    for start, stop in zeros.to_write(memory, offset, values):
        ...write values[start:stop] at offset + start...
    zeros.forget()                      # the core ran
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["ZeroWords"]


class ZeroWords:
    """Per data memory, which words are known to hold zero (never written non-zero
    since the model started, and no run since)."""

    def __init__(self, depths: Mapping[str, int]):
        self._depths = dict(depths)
        self._zero: dict[str, np.ndarray] | None = {
            name: np.ones(depth, dtype=bool) for name, depth in self._depths.items()}

    def forget(self) -> None:
        """The core ran (or anything else touched the memories): vouch for nothing."""
        self._zero = None

    def known_zero(self, memory: str, offset: int, count: int) -> np.ndarray:
        """For each of ``count`` words from ``offset``: known to hold zero."""
        zero = None if self._zero is None else self._zero.get(memory)
        if zero is None or offset < 0 or offset + count > len(zero):
            return np.zeros(count, dtype=bool)
        return zero[offset:offset + count].copy()

    def to_write(self, memory: str, offset: int, values: Sequence[int]
                 ) -> list[tuple[int, int]]:
        """The runs ``[start, stop)`` of ``values`` (words from ``offset`` of
        ``memory``) that a host write must still send: every word except a zero over
        a known-zero word.  Records the write (its non-zero words are no longer known
        zero; a write that leaves the memory's words is not vouched for at all)."""
        count = len(values)
        if count == 0:
            return []
        zero = None if self._zero is None else self._zero.get(memory)
        if zero is None:
            return [(0, count)]
        if offset < 0 or offset + count > len(zero):
            del self._zero[memory]           # beyond the memory: vouch for none of it
            return [(0, count)]
        is_zero = np.fromiter((int(v) == 0 for v in values), dtype=bool, count=count)
        send = ~(is_zero & zero[offset:offset + count])
        zero[offset:offset + count] &= is_zero
        # the runs of True in send
        edges = np.flatnonzero(np.diff(np.concatenate(([False], send, [False]))
                                       .astype(np.int8)))
        return [(int(a), int(b)) for a, b in zip(edges[0::2], edges[1::2])]
