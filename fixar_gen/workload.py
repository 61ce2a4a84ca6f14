"""What one update asks of the core, counted from the networks alone: the
multiply-accumulates (MACs) of every matmul and the parameters the vector unit touches.

TD3 trains two critics on a target from two target critics at every update and the
actor every ``policy_delay``-th: its MACs per sample are averaged over that period.

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
    #: the actor is updated every ``actor_every``-th update (TD3's policy_delay)
    actor_every: int = 1

    @property
    def macs_per_sample(self) -> int | float:
        """MACs of one sample through an update (critics, and the actor's share),
        averaged over TD3's delay; an integer for DDPG."""
        if self.actor_every == 1:
            return self.critic_update + self.actor_update
        return self.critic_update + self.actor_update / self.actor_every


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
    if spec.algorithm.name == "td3":    # twin critics and twin target critics
        critic_update = (2 * c_fwd + a_fwd + 2 * c_fwd + 2 * c_back_hidden + 2 * c_fwd)
        return Workload(a_fwd, c_fwd, critic_update, actor_update, spec.param_count,
                        spec.algorithm.policy_delay)
    return Workload(a_fwd, c_fwd, critic_update, actor_update, spec.param_count)
