"""DDPG (Lillicrap et al., 2016), FIXAR's algorithm: one actor, one critic, their target
copies; every update trains the critic on the Bellman target, then the actor through
the updated critic, then soft-updates both targets.

The pieces of the update are functions of the compiler's
:class:`~fixar_gen.compiler.Emitter` that TD3 (:mod:`fixar_gen.algorithms.td3`) reuses.
"""

from __future__ import annotations

from ..isa import Range

#: the networks: name -> the NetworksSpec network it is
NETS = {"actor": "actor", "critic": "critic"}
#: the training programs: one, the full update
TRAIN_PHASES = ("train",)


#: the passes that backpropagate, with their networks (``algorithms`` docstring)
BACKWARD = (("cq", ("critic",)), ("ap", ("critic", "actor")))


def train_phase(spec, update: int) -> str:
    """The training program of update ``update`` (0, 1, ...): always the full one."""
    return "train"


def phase_counts(spec) -> dict[str, int]:
    """How often each training program runs in one period of updates: the cycle
    models' cycles per update average over it."""
    return {"train": 1}


def optimizer_steps(spec, update: int) -> dict[str, int]:
    """Adam's t of each network's optimizer at update ``update`` (0, 1, ...): both
    step every update."""
    return {"actor": update + 1, "critic": update + 1}


def add_constants(layout, spec) -> None:
    """No constants beyond the shared ones."""


def host_constants(spec) -> dict[str, tuple[float, ...]]:
    return {}


def float_twin(spec, dtype, params=None, seed: int = 0):
    from ..rl.float_ddpg import FloatDDPG
    return FloatDDPG(spec, dtype, params=params, seed=seed)


# ---------------------------------------------------------------------------
# the pieces of an update


def data_buffers(E, spec, passes) -> None:
    """Each (pass, networks) pair's data buffers (:func:`compiler._data_buffers`), then
    the actor pass's dL/d action ``ap.da`` if there is an actor pass (before any
    accumulator, which the passes add as they are lowered)."""
    from ..compiler import _data_buffers
    for pass_name, nets in passes:
        for net in nets:
            _data_buffers(E, pass_name, net)
    if E.L.has("ap.actor.x") and not E.L.has("ap.da"):
        E.L.add("ap.da", E.L.batch, spec.action_dim, spec.numerics.gradient_format)


def load_batch(E, spec, load, critics=("critic",)) -> None:
    """The batch into the input buffers, then into each pass's inputs: the next states
    for the target actor, the states for the actor pass and [states | actions] for
    each critic's update pass."""
    B, obs, act = E.L.batch, spec.obs_dim, spec.action_dim
    load("in.states", "states", obs)
    load("in.next_states", "next_states", obs)
    load("in.actions", "actions", act)
    load("in.rewards", "rewards", 1)
    load("in.dones", "dones", 1)
    E.barrier()
    E.vec("copy", "tgt.actor.x", B, obs, a="in.next_states")
    if E.L.has("ap.actor.x"):             # not in TD3's critics-only update
        E.vec("copy", "ap.actor.x", B, obs, a="in.states")
    for critic in critics:
        E.vec("copy", f"cq.{critic}.x", B, obs, a="in.states")
        E.vec("copy", f"cq.{critic}.x", B, act, a="in.actions", col0=obs)
    E.barrier()


def critic_update(E, critic: str, c_out: int) -> None:
    """``critic`` on [states | actions], dL/dQ = 2 (Q - y) / B, backprop, optimizer
    step."""
    B = E.L.batch
    E.forward(critic, False, "cq")
    E.vec("mse_grad", f"cq.{critic}.dz{c_out}", B, 1, a=f"cq.{critic}.h{c_out}", b="y",
          c="c.mse")
    E.barrier()
    E.backward(critic, "cq", f"cq.{critic}.dz{c_out}", weight_grads=True)
    E.barrier()
    E.optimizer_step(critic)


def actor_update(E, spec, actor_then_critic_input, c_out: int) -> None:
    """The actor through the (updated) critic: dL/da = -(1/B) dQ/da, backprop through
    the critic to its action columns, then through the actor; optimizer step."""
    B = E.L.batch
    obs, act = spec.obs_dim, spec.action_dim
    actor_then_critic_input("ap", target=False)
    E.forward("critic", False, "ap")
    E.vec("fill", f"ap.critic.dz{c_out}", B, 1, c="c.neg_inv_batch")
    E.barrier()
    E.backward("critic", "ap", f"ap.critic.dz{c_out}", weight_grads=False,
               input_cols=Range(obs, act), d_in="ap.da")
    E.barrier()
    E.backward("actor", "ap", "ap.da", weight_grads=True)
    E.barrier()
    E.optimizer_step("actor")


def soft_updates(E, spec, nets) -> None:
    """w' <- w' + tau (w - w') for every parameter of ``nets``."""
    from ..compiler import param_names
    L = E.L
    for net in nets:
        for p in param_names(spec, net):
            E.vec("soft_update", f"target.{p}", L.buf(p).rows, L.cols(p), a=p, c="c.tau",
                  param=True)
    E.barrier()


# ---------------------------------------------------------------------------
# the update


def emit_train(E, spec, phase: str, load, actor_then_critic_input, a_out: int,
               c_out: int) -> None:
    """One DDPG update: the Bellman target y = r + gamma (1 - done) Q'(s', mu'(s')),
    the critic update, the actor update through the updated critic, the soft target
    updates."""
    B = E.L.batch
    data_buffers(E, spec, (("tgt", tuple(NETS)), ("cq", ("critic",)), ("ap", tuple(NETS))))
    load_batch(E, spec, load)
    actor_then_critic_input("tgt", target=True)
    E.forward("critic", True, "tgt")
    E.vec("bellman", "y", B, 1, a="in.rewards", b="in.dones", e=f"tgt.critic.h{c_out}",
          c="c.gamma")
    critic_update(E, "critic", c_out)
    actor_update(E, spec, actor_then_critic_input, c_out)
    soft_updates(E, spec, NETS)
