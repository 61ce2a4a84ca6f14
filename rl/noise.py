"""Host-side exploration noise for the float32 reference agent.

This module owns the two noise processes a DDPG actor's action is perturbed with while
collecting samples: :class:`GaussianNoise` (independent draws) and :class:`OUNoise`
(an Ornstein-Uhlenbeck process, temporally correlated, as in the DDPG paper). The
accelerator draws its own noise from an on-chip PRNG; these are for the float agent.

Neither owns a random generator: ``sample(rng)`` draws from the one it is given, so the
caller decides how runs are seeded and checkpoints the generator itself. Each draws the
same amount from ``rng`` whatever its parameters (even at sigma 0), so changing sigma
never shifts the rest of a seeded run.
"""

from __future__ import annotations

import math

import numpy as np


def _shape(shape) -> tuple[int, ...]:
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n >= 1
               for n in shape):
        raise ValueError(f"noise shape: {shape!r} is not allowed (positive integers)")
    return tuple(int(n) for n in shape)


def _non_negative(name: str, value: float) -> float:
    if not (math.isfinite(value) and value >= 0):
        raise ValueError(f"noise {name}: {value!r} is not allowed (a finite number >= 0)")
    return float(value)


class GaussianNoise:
    """``sigma * N(0, 1)``, drawn afresh every step."""

    def __init__(self, sigma: float, shape):
        self.sigma = _non_negative("sigma", sigma)
        self.shape = _shape(shape)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        return self.sigma * rng.standard_normal(self.shape)

    def reset(self) -> None:
        """Nothing carries over between episodes."""

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"sigma": np.array(self.sigma)}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        self.sigma = _non_negative("sigma", float(state["sigma"]))


class OUNoise:
    """Ornstein-Uhlenbeck noise around 0, one Euler-Maruyama step per sample:

    ``x <- x - theta x dt + sigma sqrt(dt) N(0, 1)``

    ``reset()`` (at the start of an episode) puts ``x`` back to 0.
    """

    def __init__(self, sigma: float, theta: float, dt: float, shape):
        self.sigma = _non_negative("sigma", sigma)
        self.theta = _non_negative("theta", theta)
        self.dt = _non_negative("dt", dt)
        if self.dt == 0:
            raise ValueError(f"noise dt: {dt!r} is not allowed (a finite number > 0)")
        self.shape = _shape(shape)
        self.x = np.zeros(self.shape)

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        kick = self.sigma * math.sqrt(self.dt) * rng.standard_normal(self.shape)
        self.x = self.x - self.theta * self.x * self.dt + kick
        return self.x.copy()

    def reset(self) -> None:
        self.x = np.zeros(self.shape)

    def state_dict(self) -> dict[str, np.ndarray]:
        return {"sigma": np.array(self.sigma), "theta": np.array(self.theta),
                "dt": np.array(self.dt), "x": self.x.copy()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        x = np.asarray(state["x"], np.float64)
        if x.shape != self.shape:
            raise ValueError(f"OUNoise.load_state_dict: x has shape {x.shape}, "
                             f"this process has {self.shape}")
        self.sigma = _non_negative("sigma", float(state["sigma"]))
        self.theta = _non_negative("theta", float(state["theta"]))
        self.dt = _non_negative("dt", float(state["dt"]))
        self.x = x.copy()
