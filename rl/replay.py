"""The replay buffer: the host's memory of past transitions.

This module owns :class:`ReplayBuffer`, a fixed-capacity ring buffer of transitions
``(state, action, reward, next_state, done)``. As in FIXAR, the host keeps it and the
accelerator only ever sees sampled batches. ``done`` is 1.0 where the episode
*terminated* (not where it was merely truncated by a time limit), so the Bellman target
stops bootstrapping exactly there.

Everything is a plain float array, so :meth:`ReplayBuffer.state_dict` is a handful of
numeric arrays that a checkpoint stores without pickling, and sampling draws only from
the generator it is given, so a seeded run samples the same batches every time.
"""

from __future__ import annotations

import numpy as np

FIELDS = ("states", "actions", "rewards", "next_states", "dones")


class ReplayBuffer:
    """A ring buffer of the newest ``capacity`` transitions."""

    def __init__(self, capacity: int, obs_dim: int, act_dim: int, dtype=np.float64):
        for name, value in (("capacity", capacity), ("obs_dim", obs_dim),
                            ("act_dim", act_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
                    or value < 1:
                raise ValueError(f"ReplayBuffer {name}: {value!r} is not allowed "
                                 "(a positive integer)")
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise ValueError(f"ReplayBuffer dtype: {self.dtype} is not allowed "
                             "(a floating-point dtype)")
        self.capacity, self.obs_dim, self.act_dim = int(capacity), int(obs_dim), int(act_dim)
        self.states = np.zeros((self.capacity, self.obs_dim), self.dtype)
        self.actions = np.zeros((self.capacity, self.act_dim), self.dtype)
        self.rewards = np.zeros(self.capacity, self.dtype)
        self.next_states = np.zeros((self.capacity, self.obs_dim), self.dtype)
        self.dones = np.zeros(self.capacity, self.dtype)
        self.position = 0   # where the next transition goes
        self.size = 0       # how many slots hold a transition

    def __len__(self) -> int:
        return self.size

    def add(self, state, action, reward, next_state, terminated) -> None:
        """Store one transition, or a batch of them (leading axis = transitions).

        When a batch holds more than ``capacity`` transitions only its newest
        ``capacity`` are kept, exactly as if they had been added one at a time.
        """
        states = np.asarray(state, self.dtype).reshape(-1, self.obs_dim)
        count = len(states)
        columns = {
            "states": states,
            "actions": np.asarray(action, self.dtype).reshape(-1, self.act_dim),
            "rewards": np.asarray(reward, self.dtype).reshape(-1),
            "next_states": np.asarray(next_state, self.dtype).reshape(-1, self.obs_dim),
            "dones": np.asarray(terminated, self.dtype).reshape(-1),
        }
        for name, column in columns.items():
            if len(column) != count:
                raise ValueError(f"ReplayBuffer.add: {name} holds {len(column)} transitions "
                                 f"but states hold {count} (the same number)")
        # Slots written in order; a batch larger than the buffer keeps its tail.
        slots = (self.position + np.arange(count)) % self.capacity
        keep = slice(max(0, count - self.capacity), count)
        for name, column in columns.items():
            getattr(self, name)[slots[keep]] = column[keep]
        self.position = int((self.position + count) % self.capacity)
        self.size = min(self.size + count, self.capacity)

    def sample(self, batch: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """``batch`` transitions drawn uniformly with replacement, using only ``rng``."""
        if self.size == 0:
            raise ValueError("ReplayBuffer.sample: the buffer is empty")
        index = rng.integers(0, self.size, size=batch)
        return {name: getattr(self, name)[index] for name in FIELDS}

    # -- checkpoints ---------------------------------------------------------------

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of the filled slots (the first ``size``: the buffer fills from slot 0)
        plus the write position and size, as numeric arrays.  A checkpoint early in a
        run is then a fraction of the buffer's capacity."""
        state = {name: getattr(self, name)[:self.size].copy() for name in FIELDS}
        state["position"] = np.array(self.position, np.int64)
        state["size"] = np.array(self.size, np.int64)
        state["capacity"] = np.array(self.capacity, np.int64)
        return state

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`state_dict` returned (or a copy of every slot, as earlier
        versions stored); the row shape and dtype must match."""
        missing = [name for name in (*FIELDS, "position", "size") if name not in state]
        if missing:
            raise ValueError(f"ReplayBuffer.load_state_dict: missing {', '.join(missing)}")
        position, size = int(state["position"]), int(state["size"])
        # (a state without "capacity" holds every slot: its length is the capacity)
        capacity = int(state["capacity"]) if "capacity" in state else len(state["states"])
        if capacity != self.capacity:
            raise ValueError(f"ReplayBuffer.load_state_dict: the state is of a buffer of "
                             f"capacity {capacity} but this buffer holds {self.capacity}")
        if not (0 <= position < self.capacity and 0 <= size <= self.capacity) \
                or (size < self.capacity and position != size):    # fills from slot 0
            raise ValueError(f"ReplayBuffer.load_state_dict: position {position} / size "
                             f"{size} do not fit capacity {self.capacity}")
        for name in FIELDS:
            stored, own = np.asarray(state[name]), getattr(self, name)
            if stored.shape[1:] != own.shape[1:] or stored.dtype != own.dtype \
                    or len(stored) != (size if "capacity" in state else capacity):
                raise ValueError(f"ReplayBuffer.load_state_dict: {name} is {stored.dtype}"
                                 f"{list(stored.shape)} but this buffer holds "
                                 f"{own.dtype}{list(own.shape)} with {size} filled")
        for name in FIELDS:
            stored = np.asarray(state[name])
            column = np.zeros_like(getattr(self, name))
            column[:size] = stored[:size]
            setattr(self, name, column)
        self.position, self.size = position, size
