"""ReplayBuffer: ring-buffer order, reproducible sampling, exact state round trips."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixar_gen.rl.replay import FIELDS, ReplayBuffer

OBS, ACT = 3, 2


def transition(i: int):
    """Transition number i, recognisable in every field."""
    return (np.full(OBS, i, float), np.full(ACT, -i, float), float(i), np.full(OBS, i + 0.5),
            float(i % 2))


def add_in_chunks(buffer: ReplayBuffer, count: int, chunk: int) -> None:
    """Add transitions 0..count-1, ``chunk`` at a time (1 = the single-transition form)."""
    for start in range(0, count, chunk):
        items = [transition(i) for i in range(start, min(start + chunk, count))]
        if chunk == 1:
            buffer.add(*items[0])
        else:
            buffer.add(*(np.array(column) for column in zip(*items)))


def stored_ids(buffer: ReplayBuffer) -> list[int]:
    return sorted(int(r) for r in buffer.rewards[:len(buffer)])


@given(capacity=st.integers(1, 12), count=st.integers(0, 40), chunk=st.integers(1, 15))
def test_wraparound_keeps_the_newest_capacity_transitions(capacity, count, chunk):
    buffer = ReplayBuffer(capacity, OBS, ACT)
    add_in_chunks(buffer, count, chunk)
    assert len(buffer) == min(count, capacity)
    assert stored_ids(buffer) == list(range(max(0, count - capacity), count))
    assert buffer.position == count % capacity
    # each slot holds one whole transition, never a mix of two
    for slot in range(len(buffer)):
        i = int(buffer.rewards[slot])
        expected = transition(i)
        for name, value in zip(FIELDS, expected):
            np.testing.assert_array_equal(getattr(buffer, name)[slot], value)


def test_batch_add_equals_one_at_a_time():
    one, batched = ReplayBuffer(5, OBS, ACT), ReplayBuffer(5, OBS, ACT)
    add_in_chunks(one, 13, chunk=1)
    add_in_chunks(batched, 13, chunk=13)   # larger than the buffer: its tail is kept
    for name, value in one.state_dict().items():
        np.testing.assert_array_equal(batched.state_dict()[name], value)


def test_add_rejects_batches_of_different_lengths():
    buffer = ReplayBuffer(4, OBS, ACT)
    with pytest.raises(ValueError, match="rewards holds 1 transitions but states hold 2"):
        buffer.add(np.zeros((2, OBS)), np.zeros((2, ACT)), 0.0, np.zeros((2, OBS)), [0, 0])


def test_sample_shapes_and_contents():
    buffer = ReplayBuffer(10, OBS, ACT, dtype=np.float32)
    add_in_chunks(buffer, 7, chunk=3)
    batch = buffer.sample(64, np.random.default_rng(0))
    assert set(batch) == set(FIELDS)
    assert batch["states"].shape == batch["next_states"].shape == (64, OBS)
    assert batch["actions"].shape == (64, ACT)
    assert batch["rewards"].shape == batch["dones"].shape == (64,)
    assert all(a.dtype == np.float32 for a in batch.values())
    assert set(batch["rewards"].astype(int)) <= set(range(7))   # only filled slots
    np.testing.assert_array_equal(batch["states"][:, 0], batch["rewards"])


def test_sampling_is_reproducible_from_the_rng_seed():
    buffer = ReplayBuffer(50, OBS, ACT)
    add_in_chunks(buffer, 80, chunk=7)
    first = [buffer.sample(16, np.random.default_rng(42)) for _ in range(2)]
    for name in FIELDS:
        np.testing.assert_array_equal(first[0][name], first[1][name])
    other = buffer.sample(16, np.random.default_rng(43))
    assert not np.array_equal(first[0]["rewards"], other["rewards"])


def test_sample_from_empty_buffer_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        ReplayBuffer(3, OBS, ACT).sample(1, np.random.default_rng(0))


@pytest.mark.parametrize("field, value", [("capacity", 0), ("obs_dim", -1),
                                          ("act_dim", 1.5), ("capacity", True)])
def test_bad_sizes_name_the_field(field, value):
    sizes = {"capacity": 4, "obs_dim": OBS, "act_dim": ACT, field: value}
    with pytest.raises(ValueError, match=field):
        ReplayBuffer(**sizes)


@given(capacity=st.integers(1, 12), count=st.integers(0, 40), more=st.integers(0, 10))
def test_state_dict_round_trip_is_exact(capacity, count, more):
    original = ReplayBuffer(capacity, OBS, ACT)
    add_in_chunks(original, count, chunk=3)
    state = original.state_dict()
    assert all(isinstance(v, np.ndarray) and v.dtype.kind in "if" for v in state.values())

    restored = ReplayBuffer(capacity, OBS, ACT)
    restored.load_state_dict(state)
    assert (restored.position, restored.size) == (original.position, original.size)
    # the copy is independent, and both continue identically
    for buffer in (original, restored):
        for i in range(count, count + more):
            buffer.add(*transition(i))
    for name, value in original.state_dict().items():
        np.testing.assert_array_equal(restored.state_dict()[name], value)
    if len(original):
        a = original.sample(8, np.random.default_rng(7))
        b = restored.sample(8, np.random.default_rng(7))
        for name in FIELDS:
            np.testing.assert_array_equal(a[name], b[name])


def test_load_state_dict_rejects_a_different_buffer():
    state = ReplayBuffer(4, OBS, ACT).state_dict()
    with pytest.raises(ValueError, match="capacity 4 but this buffer holds 5"):
        ReplayBuffer(5, OBS, ACT).load_state_dict(state)
    with pytest.raises(ValueError, match="float32"):
        ReplayBuffer(4, OBS, ACT, dtype=np.float32).load_state_dict(state)


def test_a_state_holds_the_filled_slots_and_an_earlier_full_state_still_loads():
    """The state of a buffer filled to 3 of 10 slots holds 3 rows of each field; a
    state of every slot (what earlier versions wrote) restores the same buffer; rows
    that match neither are refused."""
    buffer = ReplayBuffer(10, OBS, ACT)
    add_in_chunks(buffer, 3, chunk=2)
    state = buffer.state_dict()
    assert all(len(state[name]) == 3 for name in FIELDS)
    full = {name: getattr(buffer, name).copy() for name in FIELDS}
    full.update(position=state["position"], size=state["size"])
    for stored in (state, full):
        restored = ReplayBuffer(10, OBS, ACT)
        restored.load_state_dict(stored)
        for name in FIELDS:
            np.testing.assert_array_equal(getattr(restored, name), getattr(buffer, name))
    state["rewards"] = state["rewards"][:2]
    with pytest.raises(ValueError, match="rewards is float64\\[2\\]"):
        ReplayBuffer(10, OBS, ACT).load_state_dict(state)
    with pytest.raises(ValueError, match="position 2 / size 3"):     # not filled from 0
        ReplayBuffer(10, OBS, ACT).load_state_dict({**buffer.state_dict(),
                                                    "position": np.array(2)})
