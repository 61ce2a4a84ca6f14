"""TD3 in plain floating point: the core's TD3 update
(:func:`fixar_gen.algorithms.td3.emit_train`), written as ordinary numpy on top of
:class:`~fixar_gen.rl.float_ddpg.FloatDDPG` (its layers, backprop, optimizers and
conventions):

1. target policy smoothing: ``a' = clip(mu'(s') + clip(eps, -c, c), -1, 1)``, eps
   Gaussian of ``target_noise`` (drawn on the host here; the core draws it from its
   PRNG lanes, so the two differ in the noise, not only in number representation);
2. clipped double-Q target: ``y = r + gamma (1 - done) min(Q1'(s', a'), Q2'(s', a'))``;
3. both critics trained on y (``L = mean((Q_i - y)^2)`` each);
4. every ``policy_delay``-th update: the actor through critic 1, then the soft target
   updates of the actor and both critics.
"""

from __future__ import annotations

import numpy as np

from ..spec import Spec
from .float_ddpg import FloatDDPG


class FloatTD3(FloatDDPG):
    """The TD3 update of the core in floating point (``dtype``: float64 or float32);
    the smoothing noise from ``numpy.random.default_rng(seed + 2)``."""

    def __init__(self, spec: Spec, dtype=np.float64, params: dict | None = None,
                 seed: int = 0):
        super().__init__(spec, dtype, params=params, seed=seed)
        self.noise_rng = np.random.default_rng(seed + 2)

    def target_actions(self, next_states: np.ndarray) -> np.ndarray:
        a = self.algo
        mu = self.forward("actor", next_states, target=True)[-1]
        eps = self.noise_rng.normal(0.0, a.target_noise, size=mu.shape).astype(self.dtype)
        return np.clip(mu + np.clip(eps, -a.noise_clip, a.noise_clip), -1.0, 1.0)

    def train_step(self, states, actions, rewards, next_states, dones) -> dict[str, float]:
        """One TD3 update on a batch of floats; returns critic 1's loss and, on the
        updates that train the actor, its objective (else NaN)."""
        a = self.algo
        s, act, r, s2, done = (np.asarray(v, dtype=self.dtype).reshape(len(states), -1)
                               for v in (states, actions, rewards, next_states, dones))
        target_x = np.concatenate([s2, self.target_actions(s2)], axis=1)
        target_q = np.minimum(self.forward("critic", target_x, target=True)[-1],
                              self.forward("critic2", target_x, target=True)[-1])
        y = r + a.gamma * (1 - done) * target_q
        critic_x = np.concatenate([s, act], axis=1)
        q = self.critic_step("critic", critic_x, y)
        self.critic_step("critic2", critic_x, y)
        objective = float("nan")
        if (self.updates + 1) % a.policy_delay == 0:
            objective = float(np.mean(self.actor_step(s)))
            self.soft_update()
        self.updates += 1
        return {"critic_loss": float(np.mean((q - y) ** 2)), "actor_objective": objective}

    # the checkpointed state beyond the parameters: the smoothing noise's generator
    def rng_state(self) -> dict:
        return self.noise_rng.bit_generator.state

    def set_rng_state(self, state: dict) -> None:
        self.noise_rng.bit_generator.state = state
