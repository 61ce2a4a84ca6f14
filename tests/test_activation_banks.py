"""amem's planned banks (docs/hardware.md, step 4; fixar_gen/memory_kinds.py): the
matrix unit's reads of an activation operand (the line, FXP16's row pair, the
transposed column and FXP16's transposed pair) and the row stride that puts each of
them in distinct banks of 4P interleaved banks, and why 2P banks cannot."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixar_gen.memory_kinds import (activation_banks, activation_reads, activation_stride,
                                    shares_banks)


def _served(stride: int, banks: int, rows: int) -> bool:
    return not any(shares_banks(w, banks) for w in activation_reads(stride, rows).values())


def test_the_reads_are_the_words_the_matrix_unit_takes():
    """Offsets from the line's first word at a row stride of 10 on 3 rows."""
    assert activation_reads(10, 3) == {"line": (0, 1, 2), "row pair": (0, 1, 2, 10, 11, 12),
                                       "column": (0, 10, 20),
                                       "column pair": (0, 10, 20, 1, 11, 21)}
    assert shares_banks((0, 4), 4) and not shares_banks((0, 5), 4)
    assert not shares_banks((7,), 1) and shares_banks((0, 1), 1)


def test_the_banks_are_four_lines():
    assert activation_banks(16, 16, 16) == 64          # fixar_u50's cores
    assert activation_banks(3, 5, 1) == 32
    assert activation_banks(1, 1, 1) == 4


@given(cols=st.integers(1, 600), size=st.integers(1, 33), lanes=st.integers(1, 20))
def test_the_padded_stride_serves_every_read(cols, size, lanes):
    """On activation_banks(R, C, lanes) banks the least stride >= cols whose four reads
    of R elements fall in distinct banks exists, pads less than the banks, is kept by a
    second padding, and is the least (every stride below it shares a bank in some read).
    Catches a rule that checks only some reads (a stride where the transposed pair
    collides), a padding that is not the least, or banks too few to serve a pair."""
    rows = size
    banks = activation_banks(rows, size, lanes)
    stride = activation_stride(cols, banks, rows)
    assert cols <= stride < cols + banks
    assert _served(stride, banks, rows)
    assert activation_stride(stride, banks, rows) == stride
    assert not any(_served(s, banks, rows) for s in range(cols, stride))


@pytest.mark.parametrize("half_log", [2, 3, 4, 5])
def test_two_lines_of_banks_serve_no_stride(half_log):
    """On 2P banks (wmem's and cmem's count) with R = P >= 4 rows, no row stride serves
    both FXP16's row pair (it needs P mod 2P) and the transposed column (at P mod 2P its
    R elements fall in two banks): the reason amem's banks are 4P.  (R = P = 2 is served
    on 4 banks, at a stride of 2 mod 4.)"""
    P = 1 << half_log
    pair_ok = [s for s in range(2 * P)
               if not shares_banks(activation_reads(s, P)["row pair"], 2 * P)]
    assert pair_ok == [P]
    assert shares_banks(activation_reads(P, P)["column"], 2 * P)
    with pytest.raises(ValueError, match="no row stride"):
        activation_stride(1, 2 * P, P)
    with pytest.raises(ValueError, match="banks"):
        activation_stride(1, 2 * P, 2 * P)
    assert activation_stride(1, 4, 2) == 2


def test_fixar_u50s_activations():
    """fixar_u50 (16 x 16 arrays, 16 lanes: 64 banks): its activation widths' strides."""
    assert {c: activation_stride(c, 64, 16) for c in (1, 6, 17, 23, 300, 400)} == \
        {1: 18, 6: 18, 17: 18, 23: 23, 300: 300, 400: 402}
