"""The Verilator driver's zero tracking (fixar_gen.hw.zero_words): writing only the
runs ``to_write`` returns leaves every memory as writing every word would.

Mutations these catch: skipping a zero over a word that was written non-zero (the
word keeps its old value), not forgetting after a run (a zero over a word the core
wrote is left out), vouching for words beyond a memory, runs off by one."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fixar_gen.hw.zero_words import ZeroWords
from tests.conftest import examples

DEPTHS = {"a": 1, "b": 7, "c": 64}


def _event():
    write = st.tuples(st.just("write"), st.sampled_from(sorted(DEPTHS)),
                      st.one_of(st.integers(0, 8), st.integers(-2, 70)),
                      st.lists(st.sampled_from([0, 0, 0, 1, -1, 2 ** 31, -2 ** 63]),
                               min_size=0, max_size=20))
    run = st.tuples(st.just("run"), st.sampled_from(sorted(DEPTHS)),
                    st.integers(0, 8), st.integers(-5, 5))
    return st.one_of(write, write, write, run)


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(_event(), max_size=25))
def test_written_runs_give_the_same_memories(events):
    """A reference memory written word by word, and one written only where to_write
    says, hold the same words after every event; a 'run' (the core writing a word
    of its own) makes the tracker forget, as the driver does."""
    full = {m: np.zeros(d + 100, dtype=object) for m, d in DEPTHS.items()}
    sent = {m: np.zeros(d + 100, dtype=object) for m, d in DEPTHS.items()}
    zeros = ZeroWords(DEPTHS)
    for kind, memory, offset, values in events:
        if kind == "run":
            zeros.forget()
            for mem in (full, sent):
                mem[memory][offset % DEPTHS[memory]] = values
            continue
        if offset < 0:
            values, offset = values[-offset:], 0
        runs = zeros.to_write(memory, offset, values)
        assert all(0 <= a < b <= len(values) for a, b in runs)
        assert all(b1 < a2 for (_, b1), (a2, _) in zip(runs, runs[1:]))   # disjoint
        for k, v in enumerate(values):
            full[memory][offset + k] = v
        for a, b in runs:
            for k in range(a, b):
                sent[memory][offset + k] = values[k]
        for m in DEPTHS:
            np.testing.assert_array_equal(full[m], sent[m])


def test_zeros_over_fresh_memory_are_left_out():
    zeros = ZeroWords({"m": 16})
    assert zeros.to_write("m", 0, [0] * 16) == []
    assert zeros.to_write("m", 4, [0, 3, 0, 0, 5]) == [(1, 2), (4, 5)]
    # words 5 and 8 now hold non-zero values: zeros over them are written
    assert zeros.to_write("m", 0, [0] * 16) == [(5, 6), (8, 9)]
    np.testing.assert_array_equal(zeros.known_zero("m", 4, 6),
                                  [True, False, True, True, False, True])


def test_after_a_run_everything_is_written():
    zeros = ZeroWords({"m": 4})
    zeros.forget()
    assert zeros.to_write("m", 0, [0, 0, 0, 0]) == [(0, 4)]
    assert not zeros.known_zero("m", 0, 4).any()


def test_a_write_beyond_the_memory_vouches_for_nothing():
    zeros = ZeroWords({"m": 4})
    assert zeros.to_write("m", 2, [0, 0, 0]) == [(0, 3)]
    assert zeros.to_write("m", 0, [0]) == [(0, 1)]
    assert zeros.to_write("other", 0, [0]) == [(0, 1)]     # a memory it does not know
