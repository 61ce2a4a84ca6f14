"""Which slot of a rounder each operation's terms take, chosen at elaboration.

A rounder (:func:`fixar_gen.hw.vector._rounder`) selects its terms by operation into
slots (an AND-OR over each slot's distinct values: operations that read the same wire
share one entry), aligns each slot by its own shifter
(:func:`~fixar_gen.hw.lane_bounds.bounded_shl`) and sums them: the sum does not depend
on which slot a term takes, but a shifter's stages are as wide as the widest value its
operations can have shifted that far.  An operation's plan lists its terms in the order
its semantics reads them; where that order puts a wide value that shifts little beside
another operation's narrow value that shifts far, each shifter pays for both.
:func:`assign_slots` places each operation's terms in distinct slots so that the
shifters' stages and the selections' entries, summed over the slots, are as narrow as a
short deterministic search finds, with no slot selecting among more entries than in
the plans' order (its AND-OR's depth; the lane's 8 LUT levels).  Measured on
examples/fixar_u50.yaml's lane: a shifter's LUTs are about 0.72 of its stages'
multiplexed bits (:func:`shifter_cost`), a selection's about 0.3 of its entries' bits.
"""

from __future__ import annotations

import functools
import itertools
import math
import random

from .lane_bounds import stage_widths

#: the search: seeded annealing runs of ``_STEPS`` moves each, then a descent
_SEEDS, _STEPS = 3, 3000


def shifter_cost(terms: list[tuple[int, int]], w_int: int) -> int:
    """The bits a shifter for ``terms`` (value bits, largest shift) multiplexes over its
    stages (:func:`~fixar_gen.hw.lane_bounds.stage_widths`); 0 for no terms."""
    return sum(top for _, top, _ in stage_widths(terms, w_int)) if terms else 0


def _cost(ops: tuple, placed: tuple, slots: int, w_int: int, most: int) -> float:
    per: list[list] = [[] for _ in range(slots)]
    for (_, terms), where in zip(ops, placed):
        for term, slot in zip(terms, where):
            per[slot].append(term)
    return sum(_slot_cost(tuple(sorted(set(t))), w_int, most) for t in per)


def slot_cost(terms: list[tuple], w_int: int) -> float:
    """What :func:`assign_slots` minimises for one slot: its shifter's multiplexed bits
    (:func:`shifter_cost`) plus its selection's entries' bits (one per distinct value)
    weighted by their LUTs' ratio (0.3 / 0.72); ``terms``: (value bits, largest shift,
    value key)."""
    entries = {key: bits for bits, _, key in terms}
    return shifter_cost([(bits, shift) for bits, shift, _ in terms], w_int) \
        + 0.3 / 0.72 * sum(entries.values())


@functools.lru_cache(maxsize=None)
def _slot_cost(terms: tuple, w_int: int, most: int) -> float:
    """:func:`slot_cost`, infinite beyond ``most`` distinct values."""
    if len({key for *_, key in terms}) > most:
        return math.inf
    return slot_cost(list(terms), w_int)


def _entries(ops: tuple, placed: tuple, slots: int) -> int:
    """The most distinct entries (keys) any slot selects among."""
    keys: list[set] = [set() for _ in range(slots)]
    for (_, terms), where in zip(ops, placed):
        for (_, _, key), slot in zip(terms, where):
            keys[slot].add(key)
    return max(len(k) for k in keys)


@functools.lru_cache(maxsize=None)
def _search(ops: tuple, slots: int, w_int: int, fixed: frozenset) -> tuple:
    choices = [[tuple(range(len(terms)))] if name in fixed
               else list(itertools.permutations(range(slots), len(terms)))
               for name, terms in ops]
    start = tuple(tuple(range(len(terms))) for _, terms in ops)
    most = _entries(ops, start, slots)
    best = (_cost(ops, start, slots, w_int, most), start)
    for seed in range(_SEEDS):
        rnd = random.Random(seed)
        placed = list(start)
        cost = _cost(ops, tuple(placed), slots, w_int, most)
        temp = 100.0
        for _ in range(_STEPS):
            i = rnd.randrange(len(ops))
            old = placed[i]
            placed[i] = rnd.choice(choices[i])
            new = _cost(ops, tuple(placed), slots, w_int, most)
            if new <= cost or rnd.random() < math.exp((cost - new) / temp):
                cost = new
            else:
                placed[i] = old
            temp = max(0.5, temp * 0.998)
        best = min(best, (cost, tuple(placed)))
    cost, placed = best
    improved = True
    while improved:                      # a descent, one operation at a time
        improved = False
        for i, options in enumerate(choices):
            for option in options:
                trial = placed[:i] + (option,) + placed[i + 1:]
                new = _cost(ops, trial, slots, w_int, most)
                if new < cost:
                    cost, placed, improved = new, trial, True
    return placed


def assign_slots(terms: dict[str, list[tuple]], slots: int, w_int: int,
                 fixed: tuple[str, ...] = ()) -> dict[str, tuple[int, ...]]:
    """Per operation, the slot of each of its ``terms`` (value bits, largest shift,
    value: terms of one value, a wire or a constant, share a slot's entry; at most
    ``slots`` of them), distinct slots, chosen to minimise the shifters' multiplexed
    bits (:func:`shifter_cost`) and the selections' entries' bits, summed over the
    slots, with no slot among more distinct values than in the order given; the
    operations in ``fixed`` keep their terms in slots 0, 1, ... (clip reads its first
    two terms by position).  Deterministic (seeded); never worse than that order."""
    index: dict = {}                     # each value by its first appearance: the search
    ops = tuple((name, tuple((bits, shift, index.setdefault(_key(value), len(index)))
                             for bits, shift, value in terms[name]))
                for name in sorted(terms))          # is cached across elaborations
    if any(len(t) > slots for _, t in ops):
        raise ValueError(f"an operation has more than {slots} terms")
    placed = _search(ops, slots, w_int, frozenset(fixed))
    return {name: where for (name, _), where in zip(ops, placed)}


def _key(value) -> object:
    """A constant by its value, a wire by itself."""
    return ("const", value) if isinstance(value, int) else id(value)
