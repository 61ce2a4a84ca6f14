"""What one DDPG update asks of the core, counted from the networks alone: the
multiply-accumulates (MACs) of every matmul and the parameters the vector unit touches.

The count follows FIXAR's: for HalfCheetah with 400-300 networks it gives 1,268,600
MACs per training sample (the figure the paper's IPS numbers rest on).
"""

from __future__ import annotations

from dataclasses import dataclass

from .spec import Spec


def _fwd(sizes: tuple[int, ...]) -> int:
    return sum(a * b for a, b in zip(sizes, sizes[1:]))


@dataclass(frozen=True)
class Workload:
    actor_forward: int
    critic_forward: int
    critic_update: int
    actor_update: int
    params: int

    @property
    def macs_per_sample(self) -> int:
        """MACs of one sample through a complete DDPG update (critic and actor)."""
        return self.critic_update + self.actor_update


def workload(spec: Spec) -> Workload:
    actor = spec.networks.actor.layer_sizes
    critic = spec.networks.critic.layer_sizes
    a_fwd, c_fwd = _fwd(actor), _fwd(critic)
    c_back_hidden = _fwd(critic[1:])           # backward-data, all but the input layer
    a_back_hidden = _fwd(actor[1:])
    critic_update = (c_fwd                     # Q(s, a)
                     + a_fwd + c_fwd           # target: Q'(s', mu'(s'))
                     + c_back_hidden           # dL/d(hidden) of the critic
                     + c_fwd)                  # critic weight gradients
    actor_update = (a_fwd + c_fwd              # Q(s, mu(s))
                    + c_back_hidden            # back through the critic's hidden layers
                    + spec.action_dim * critic[1]   # dQ/da: the action columns only
                    + a_back_hidden            # back through the actor
                    + a_fwd)                   # actor weight gradients
    return Workload(a_fwd, c_fwd, critic_update, actor_update, spec.param_count)
