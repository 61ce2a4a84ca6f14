"""The rounders' slot assignment (fixar_gen/hw/lane_slots.py): each operation's terms
in distinct slots, clip's by position, never costlier (shifters' and selections' bits)
than the plans' order nor more distinct values in a slot, and the wide values that
shift little apart from the narrow ones that shift far.  That the lane still computes every operation exactly with its terms moved is
tests/hw/test_vector.py's (every function against golden on fixar_u50's lane)."""

from __future__ import annotations

from hypothesis import given, settings, strategies as st

from fixar_gen.hw.lane_slots import assign_slots, shifter_cost, slot_cost
from tests.conftest import examples

W_INT = 122


def per_slot(terms: dict, where: dict, slots: int) -> list[list]:
    per: list[list] = [[] for _ in range(slots)]
    for name, ts in terms.items():
        for term, slot in zip(ts, where[name]):
            per[slot].append(term)
    return per


def total(terms: dict, where: dict, slots: int) -> int:
    return sum(shifter_cost([t[:2] for t in ts], W_INT)
               for ts in per_slot(terms, where, slots))


def cost(terms: dict, where: dict, slots: int) -> float:
    return sum(slot_cost(ts, W_INT) for ts in per_slot(terms, where, slots))


def most_values(terms: dict, where: dict, slots: int) -> int:
    return max(len({value for *_, value in ts}) for ts in per_slot(terms, where, slots))


def in_order(terms: dict) -> dict:
    return {name: tuple(range(len(ts))) for name, ts in terms.items()}


def test_wide_and_narrow_terms_are_separated():
    # each operation lists a wide value that shifts by 32 and a narrow one that shifts
    # by 76, in opposite orders: in the plans' order both shifters are wide and long
    # (the values are constants here: a slot's entry per distinct value)
    terms = {"p": [(84, 32, 1), (34, 76, 2)], "q": [(34, 76, 3), (84, 32, 4)],
             "r": [(84, 32, 5), (34, 64, 6)], "s": [(34, 64, 7), (85, 32, 8)]}
    where = assign_slots(terms, 2, W_INT)
    narrow = {where[name][i] for name, ts in terms.items()
              for i, (bits, _, _) in enumerate(ts) if bits == 34}
    assert len(narrow) == 1                          # every narrow value in one slot
    assert total(terms, where, 2) < total(terms, in_order(terms), 2)


def test_fixed_operations_keep_their_order():
    terms = {"clip": [(34, 76, 1), (84, 32, 2)], "q": [(84, 32, 3), (34, 76, 4)]}
    where = assign_slots(terms, 3, W_INT, fixed=("clip",))
    assert where["clip"] == (0, 1)


term = st.tuples(st.integers(2, 120), st.integers(0, 96), st.integers(1, 6))


@settings(max_examples=examples(15), deadline=None)
@given(terms=st.dictionaries(st.sampled_from("abcdefgh"),
                             st.lists(term, min_size=1, max_size=3), min_size=1),
       fixed=st.sets(st.sampled_from("abcdefgh")))
def test_distinct_slots_and_never_worse_than_the_plans_order(terms, fixed):
    # a value's bits are the same wherever it appears
    terms = {name: [(8 * value + bits % 8, shift, value) for bits, shift, value in ts]
             for name, ts in terms.items()}
    where = assign_slots(terms, 3, W_INT, fixed=tuple(fixed))
    assert set(where) == set(terms)
    for name, ts in terms.items():
        assert len(where[name]) == len(ts)
        assert len(set(where[name])) == len(ts)
        assert all(0 <= slot < 3 for slot in where[name])
        if name in fixed:
            assert where[name] == tuple(range(len(ts)))
    assert cost(terms, where, 3) <= cost(terms, in_order(terms), 3)
    assert most_values(terms, where, 3) <= most_values(terms, in_order(terms), 3)
    assert assign_slots(terms, 3, W_INT, fixed=tuple(fixed)) == where    # deterministic
