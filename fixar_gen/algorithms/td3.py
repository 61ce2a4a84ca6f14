"""TD3 (Fujimoto et al., 2018): DDPG with twin critics, a clipped double-Q target,
target policy smoothing and delayed actor and target updates.

- Twin critics: ``critic`` and ``critic2`` (a second instance of the spec's critic:
  same shape, activations, activation formats and range monitors, its own parameters,
  optimizer state and target copy), both trained on one target y.
- Clipped double-Q target: ``y = r + gamma (1 - done) min(Q1'(s', a'), Q2'(s', a'))``,
  the minimum by the vector function ``minimum``.
- Target policy smoothing: ``a' = clip(mu'(s') + clip(eps, -c, c), -1, 1)``, ``eps``
  Gaussian (``algorithm.target_noise`` times the action bound) from the core's PRNG
  lanes (``noise`` on a zero action, drawn by core 0 alone so that the draw does not
  depend on the split), ``c`` = ``algorithm.noise_clip``.
- Delayed updates: every update trains both critics (the program ``train_critic``);
  every ``policy_delay``-th (updates d, 2d, ... counting from 1) also trains the
  actor through critic 1 and soft-updates all three targets (the program ``train``).
  Each optimizer counts its own steps (Adam's bias correction): the critics' every
  update, the actor's every ``policy_delay``-th.
"""

from __future__ import annotations

from ..ops import NOISE, SCALE, UNIT
from . import ddpg

NETS = {"actor": "actor", "critic": "critic", "critic2": "critic"}
#: the full update (critics, actor, targets) and the critics-only one
TRAIN_PHASES = ("train", "train_critic")


#: the passes that backpropagate, with their networks (``algorithms`` docstring)
BACKWARD = (("cq", ("critic", "critic2")), ("ap", ("critic", "actor")))


def train_phase(spec, update: int) -> str:
    """Update ``update`` (0, 1, ...): the full program every ``policy_delay``-th."""
    return "train" if (update + 1) % spec.algorithm.policy_delay == 0 else "train_critic"


def phase_counts(spec) -> dict[str, int]:
    """One full update per ``policy_delay`` updates, the others critics only."""
    d = spec.algorithm.policy_delay
    return {"train": 1, "train_critic": d - 1} if d > 1 else {"train": 1}


def optimizer_steps(spec, update: int) -> dict[str, int]:
    """Adam's t of each network's optimizer at update ``update`` (0, 1, ...): the
    critics step every update, the actor every ``policy_delay``-th (t >= 1; the
    critics-only program does not read the actor's constants)."""
    return {"critic": update + 1,
            "actor": max(1, (update + 1) // spec.algorithm.policy_delay)}


def add_constants(layout, spec) -> None:
    """The smoothing noise's sigma (as ``c.noise``), its clip, the action bound and a
    zero action for the noise to be drawn on."""
    layout.add("c.target_noise", 1, 2, NOISE, "const")
    layout.add("c.noise_clip", 1, 1, SCALE, "const")
    layout.add("c.action_bound", 1, 1, SCALE, "const")
    layout.add("c.zero", 1, 1, UNIT, "const")


def host_constants(spec) -> dict[str, tuple[float, ...]]:
    a = spec.algorithm
    return {"c.target_noise": (a.target_noise, 0.0), "c.noise_clip": (a.noise_clip,),
            "c.action_bound": (1.0,), "c.zero": (0.0,)}


def float_twin(spec, dtype, params=None, seed: int = 0):
    from ..rl.float_td3 import FloatTD3
    return FloatTD3(spec, dtype, params=params, seed=seed)


def smoothed_target_action(E, spec, a_out: int) -> None:
    """a' = clip(mu'(s') + clip(eps, -c, c), -1, 1) into ``tgt.actor.h{a_out}``."""
    B, act = E.L.batch, spec.action_dim
    out, eps = f"tgt.actor.h{a_out}", "tgt.eps"
    if not E.L.has(eps):
        E.L.add(eps, B, act, E.L.buf(out).fmt)
    E.forward("actor", True, "tgt")
    E.barrier()
    E.vec("noise", eps, B, act, a="c.zero", b="prng", c="c.target_noise", single=True)
    E.barrier()
    E.vec("clip", eps, B, act, a=eps, c="c.noise_clip")
    E.vec("add", out, B, act, a=out, b=eps)
    E.vec("clip", out, B, act, a=out, c="c.action_bound")
    E.barrier()


def emit_train(E, spec, phase: str, load, actor_then_critic_input, a_out: int,
               c_out: int) -> None:
    """One TD3 update: ``train`` the full one, ``train_critic`` the critics only."""
    B, obs, act = E.L.batch, spec.obs_dim, spec.action_dim
    critics = ("critic", "critic2")
    passes = [("tgt", tuple(NETS)), ("cq", critics)]
    if phase == "train":
        passes.append(("ap", ("actor", "critic")))
    ddpg.data_buffers(E, spec, passes)
    ddpg.load_batch(E, spec, load, critics)
    # the clipped double-Q target from the smoothed target action
    smoothed_target_action(E, spec, a_out)
    for critic in critics:
        E.vec("copy", f"tgt.{critic}.x", B, obs, a="tgt.actor.x")
        E.vec("copy", f"tgt.{critic}.x", B, act, a=f"tgt.actor.h{a_out}", col0=obs)
    E.barrier()
    for critic in critics:
        E.forward(critic, True, "tgt")
    E.vec("minimum", f"tgt.critic.h{c_out}", B, 1, a=f"tgt.critic2.h{c_out}")
    E.vec("bellman", "y", B, 1, a="in.rewards", b="in.dones", e=f"tgt.critic.h{c_out}",
          c="c.gamma")
    for critic in critics:
        ddpg.critic_update(E, critic, c_out)
    if phase == "train":
        ddpg.actor_update(E, spec, actor_then_critic_input, c_out)
        ddpg.soft_updates(E, spec, NETS)
