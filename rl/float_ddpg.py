"""DDPG in plain floating point: the core's training step, written as ordinary numpy.

This module owns :class:`FloatDDPG`, the floating-point twin of one DDPG update as the
core runs it (:func:`fixar_gen.algorithms.ddpg.emit_train`), in the same order and with the same
conventions, so that the only difference between the two is number representation:

1. Bellman target: the target actor on the next states, the target critic on
   ``[next_state | target action]``, ``y = r + gamma (1 - done) Q'``;
2. critic update: the critic on ``[state | action]``, ``L = mean((Q - y)^2)`` so
   ``dL/dQ = 2 (Q - y) / B``; backprop; weight and bias gradients summed over the batch;
   optimizer step;
3. actor update through the *updated* critic: the actor on the states, the critic on
   ``[state | mu(state)]``, ``dL/dQ = -1 / B``; backprop through the critic to the action
   columns of its input, then through the actor; optimizer step;
4. soft target updates ``w' <- w' + tau (w - w')`` for all four parameter sets.

Layers are ``x @ W + b`` with ``W`` of shape (in, out) and ``b`` of shape (1, out).
Parameters use the core's names (``actor.l0.w``, ``target.critic.l1.b``, optimizer state
``actor.l0.w.m`` / ``actor.l0.w.s`` for Adam, ``.mom`` for momentum), so
:func:`from_core_params` turns a core's raw integers into a starting point.

Adam is kept in the core's form: ``s`` is the root of Adam's second moment,
``s = sqrt(b2 s^2 + (1 - b2) g^2)``, and ``w -= alpha_t m / (s + eps)`` with the
bias-corrected ``alpha_t = lr sqrt(1 - b2^t) / (1 - b1^t)``, t = 1, 2, ...

Use float64 to check the fixed-point core (tests/test_float_reference.py) and float32 as
the speed baseline (benchmarks/bench_golden_step.py) and the float reference agent.
"""

from __future__ import annotations

import math

import numpy as np

from .. import algorithms
from ..compiler import network_spec, nets, optimizer_state_suffixes, param_names, role
from ..spec import Spec

# ---------------------------------------------------------------------------
# activations


def activate(name: str, z: np.ndarray, slope: float) -> np.ndarray:
    if name == "relu":
        return np.maximum(z, 0)
    if name == "tanh":
        return np.tanh(z)
    if name == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    if name == "identity":
        return z
    raise ValueError(f"unknown activation {name!r}")


def activation_grad(name: str, h: np.ndarray, dh: np.ndarray, slope: float) -> np.ndarray:
    """dL/dz from dL/dh, written in terms of the layer's output h (as the core does)."""
    if name == "relu":
        return np.where(h > 0, dh, 0)
    if name == "tanh":
        return dh * (1 - h * h)
    if name == "leaky_relu":
        return np.where(h > 0, dh, slope * dh)
    if name == "identity":
        return dh
    raise ValueError(f"unknown activation {name!r}")


# ---------------------------------------------------------------------------
# parameters


def init_params(spec: Spec, seed: int = 0, dtype=np.float32) -> dict[str, np.ndarray]:
    """DDPG's usual initialisation, as :func:`fixar_gen.backends.random_params` draws it
    (uniform +-1/sqrt(fan_in); output layers +-3e-3), unquantized; targets are copies and
    the optimizer state starts at zero."""
    rng = np.random.default_rng(seed)
    params = {}
    for net in nets(spec):
        sizes = network_spec(spec, net).layer_sizes
        for i, (k, m) in enumerate(zip(sizes, sizes[1:])):
            bound = 3e-3 if i == len(sizes) - 2 else 1.0 / math.sqrt(k)
            w = rng.uniform(-bound, bound, size=(k, m)).astype(dtype)
            b = rng.uniform(-bound, bound, size=(1, m)).astype(dtype)
            for prefix in ("", "target."):
                params[f"{prefix}{net}.l{i}.w"] = w.copy()
                params[f"{prefix}{net}.l{i}.b"] = b.copy()
    return _with_optimizer_state(spec, params, dtype)


def from_core_params(raw: dict[str, np.ndarray], spec: Spec, dtype=np.float64
                     ) -> dict[str, np.ndarray]:
    """Float parameters from a core's raw integers: weights, biases and target copies
    in the weight format, optimizer state in the gradient format (the formats the core
    keeps them in).  Optimizer state that is not given starts at zero."""
    n = spec.numerics
    state_suffixes = tuple(f".{s}" for s in optimizer_state_suffixes(spec))
    params = {}
    for name, values in raw.items():
        fmt = n.gradient_format if name.endswith(state_suffixes) else n.weight_format
        params[name] = fmt.to_float(np.asarray(values)).astype(dtype)
    return _with_optimizer_state(spec, params, dtype)


def _with_optimizer_state(spec: Spec, params: dict, dtype) -> dict[str, np.ndarray]:
    for net in nets(spec):
        for p in param_names(spec, net):
            for suffix in optimizer_state_suffixes(spec):
                params.setdefault(f"{p}.{suffix}", np.zeros_like(params[p], dtype=dtype))
    return params


# ---------------------------------------------------------------------------
# the agent


class FloatDDPG:
    """The DDPG update of the core in floating point (``dtype``: float64 or float32).

    ``params`` maps the core's parameter names to float arrays (``params=None`` draws
    them as :func:`init_params` does); ``updates`` counts the updates done (Adam's t of
    the next update is ``updates + 1``)."""

    def __init__(self, spec: Spec, dtype=np.float64, params: dict | None = None,
                 seed: int = 0):
        self.spec = spec
        self.dtype = np.dtype(dtype)
        self.algo = spec.algorithm
        source = params if params is not None else init_params(spec, seed, self.dtype)
        self.params = {k: np.array(v, dtype=self.dtype) for k, v in source.items()}
        self.params = _with_optimizer_state(spec, self.params, self.dtype)
        self.updates = 0

    # -- networks -------------------------------------------------------------------

    def forward(self, net: str, x: np.ndarray, target: bool = False) -> list[np.ndarray]:
        """The layer outputs [h0, h1, ..., output] of ``net`` (or its target) on x."""
        spec = network_spec(self.spec, net)
        prefix = "target." if target else ""
        n_layers = len(spec.layer_sizes) - 1
        outputs = []
        for i in range(n_layers):
            act = spec.output if i == n_layers - 1 else spec.activation
            w, b = self.params[f"{prefix}{net}.l{i}.w"], self.params[f"{prefix}{net}.l{i}.b"]
            x = activate(act, x @ w + b, spec.leaky_slope)
            outputs.append(x)
        return outputs

    def backward(self, net: str, x: np.ndarray, outputs: list[np.ndarray],
                 d_out: np.ndarray, weight_grads: bool = True, input_grad: bool = False
                 ) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        """Backprop dL/d(output) through ``net`` (its current weights): the weight and
        bias gradients summed over the batch (when ``weight_grads``) and dL/d(input)
        (when ``input_grad``, else None)."""
        spec = network_spec(self.spec, net)
        n_layers = len(outputs)
        grads = {}
        dh = d_out
        for i in reversed(range(n_layers)):
            act = spec.output if i == n_layers - 1 else spec.activation
            dz = activation_grad(act, outputs[i], dh, spec.leaky_slope)
            layer_in = x if i == 0 else outputs[i - 1]
            if weight_grads:
                grads[f"{net}.l{i}.w"] = layer_in.T @ dz
                grads[f"{net}.l{i}.b"] = dz.sum(axis=0, keepdims=True)
            dh = dz @ self.params[f"{net}.l{i}.w"].T if i > 0 or input_grad else None
        return grads, dh

    def act(self, states: np.ndarray) -> np.ndarray:
        """The actor's actions in [-1, 1] (deterministic; no exploration noise)."""
        return self.forward("actor", np.asarray(states, dtype=self.dtype))[-1]

    # -- optimizer ------------------------------------------------------------------

    def step_size(self, lr: float, net: str = "actor") -> float:
        """The step size of ``net``'s optimizer at this update (Adam: bias-corrected
        alpha_t, t its step count from the algorithm's ``optimizer_steps``: DDPG's
        updates + 1 for both networks)."""
        a = self.algo
        if a.optimizer != "adam":
            return lr
        t = algorithms.of(self.spec).optimizer_steps(self.spec, self.updates)[
            role(self.spec, net)]
        return lr * math.sqrt(1.0 - a.adam_beta2 ** t) / (1.0 - a.adam_beta1 ** t)

    def optimizer_step(self, net: str, grads: dict[str, np.ndarray], lr: float) -> None:
        a, p = self.algo, self.params
        alpha = self.step_size(lr, net)
        for name in param_names(self.spec, net):
            g = grads[name]
            if a.optimizer == "sgd":
                p[name] -= lr * g
            elif a.optimizer == "momentum":
                p[f"{name}.mom"] = a.momentum * p[f"{name}.mom"] + g
                p[name] -= lr * p[f"{name}.mom"]
            else:
                m = a.adam_beta1 * p[f"{name}.m"] + (1 - a.adam_beta1) * g
                s = np.sqrt(a.adam_beta2 * p[f"{name}.s"] ** 2 + (1 - a.adam_beta2) * g * g)
                p[f"{name}.m"], p[f"{name}.s"] = m, s
                p[name] -= alpha * m / (s + a.adam_eps)

    def soft_update(self) -> None:
        tau = self.algo.tau
        for net in nets(self.spec):
            for name in param_names(self.spec, net):
                target = self.params[f"target.{name}"]
                target += tau * (self.params[name] - target)

    # -- one update -----------------------------------------------------------------

    def train_step(self, states, actions, rewards, next_states, dones) -> dict[str, float]:
        """One DDPG update on a batch of floats (rewards and dones shaped (B, 1),
        actions in [-1, 1]); returns the critic loss and the actor's objective."""
        a = self.algo
        s, act, r, s2, done = (np.asarray(v, dtype=self.dtype).reshape(len(states), -1)
                               for v in (states, actions, rewards, next_states, dones))

        # 1. Bellman target from the target networks
        target_actions = self.forward("actor", s2, target=True)[-1]
        target_x = np.concatenate([s2, target_actions], axis=1)
        target_q = self.forward("critic", target_x, target=True)[-1]
        y = r + a.gamma * (1 - done) * target_q

        # 2. critic: mean squared TD error
        q = self.critic_step("critic", np.concatenate([s, act], axis=1), y)

        # 3. actor: maximise Q(s, mu(s)) under the updated critic
        policy_q = self.actor_step(s)

        # 4. targets track the online networks
        self.soft_update()

        self.updates += 1
        return {"critic_loss": float(np.mean((q - y) ** 2)),
                "actor_objective": float(np.mean(policy_q))}

    def critic_step(self, critic: str, critic_x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``critic`` on [state | action]: dL/dQ = 2 (Q - y) / B, backprop, optimizer
        step; returns Q before the step."""
        critic_out = self.forward(critic, critic_x)
        q = critic_out[-1]
        d_q = 2 * (q - y) / critic_x.shape[0]
        critic_grads, _ = self.backward(critic, critic_x, critic_out, d_q)
        self.optimizer_step(critic, critic_grads, self.algo.critic_lr)
        return q

    def actor_step(self, s: np.ndarray) -> np.ndarray:
        """The actor through the (updated) critic: dL/dQ = -1 / B, backprop through the
        critic to the action columns, then through the actor; optimizer step.  Returns
        Q(s, mu(s))."""
        batch = s.shape[0]
        actor_out = self.forward("actor", s)
        policy_x = np.concatenate([s, actor_out[-1]], axis=1)
        policy_out = self.forward("critic", policy_x)
        d_policy_q = np.full_like(policy_out[-1], -1.0 / batch)
        _, d_policy_x = self.backward("critic", policy_x, policy_out, d_policy_q,
                                      weight_grads=False, input_grad=True)
        d_action = d_policy_x[:, s.shape[1]:]
        actor_grads, _ = self.backward("actor", s, actor_out, d_action)
        self.optimizer_step("actor", actor_grads, self.algo.actor_lr)
        return policy_out[-1]
