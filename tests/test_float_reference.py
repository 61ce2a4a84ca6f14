"""The float reference check: the golden core's FXP32 DDPG update against the same
update in float64 (:class:`fixar_gen.rl.float_ddpg.FloatDDPG`).

Both start from the same parameters (the core's, dequantized) and see the same batches
(drawn as floats, quantized to the core's input formats, dequantized for the float
model).  Every difference is then made by rounding inside the update, and
:class:`StepBounds` bounds it: it replays the float64 update and carries, next to every
value, the largest distance the core's value can have from it, built only from the
formats' rounding errors and the tanh table's approximation error (the rules and their
derivation: docs/numerics.md, "Float reference bounds").  The bound is rigorous, not
fitted: no tolerance below is tuned to make a test pass.

The tests check |core - float| <= bound for every parameter, target parameter and
gradient after 1 and after 3 updates; that the bound is informative (far below the
movement of every parameter whose gradient the gradient format resolves); and that the
check can fail: a core with 8 fraction bits for weights and gradients leaves the FXP32
bound, in the expected direction (updates below half an LSB vanish, so its parameters
move less than the float model's).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixar_gen import load_spec, ops
from fixar_gen.backends import Batch, open_core, random_params
from fixar_gen.compiler import COEFF, NETS, RATE, SCALE, SLOPE, param_names
from fixar_gen.golden import RATIO_FRAC, TANH_RANGE_BITS, TANH_SEGMENT_FRAC, TANH_TABLE_FRAC
from fixar_gen.numerics import FixedFormat
from fixar_gen.rl.float_ddpg import FloatDDPG, activate, activation_grad, from_core_params

from .conftest import EXAMPLES

# ---------------------------------------------------------------------------
# the rounding errors of one spec


def rounding_error(fmt: FixedFormat) -> float:
    """The largest error of one rounding into ``fmt``: half an LSB (a whole one when
    truncating or rounding toward zero)."""
    return fmt.step if fmt.rounding in ("truncate", "toward_zero") else fmt.step / 2


def tanh_table_error() -> float:
    """The table tanh's largest error: linear interpolation over segments of width h
    errs by at most h^2/8 max|tanh''| (max|tanh''| = 4 / (3 sqrt 3)), plus half an LSB of
    the table entries; beyond the table the output is exactly 1 (error 1 - tanh(2^R))."""
    h = 2.0 ** -TANH_SEGMENT_FRAC
    inside = h * h / 8 * 4 / (3 * math.sqrt(3)) + 2.0 ** -(TANH_TABLE_FRAC + 1)
    return max(inside, 1 - math.tanh(2.0 ** TANH_RANGE_BITS))


@dataclasses.dataclass(frozen=True)
class Roundings:
    """Every error term of the bound, from the spec's formats and the host constants'."""

    act: float        # one rounding into the activation format
    grad: float       # ... the gradient (and optimizer-state) format
    moment: float     # ... Adam's first moment (the state format, adam_m's own rounding)
    weight: float     # ... the weight format
    tanh: float       # the table tanh's approximation error
    coeff: float      # gamma, tau, betas, momentum as written (COEFF)
    scale: float      # 2/B as written (SCALE)
    rate: float       # alpha_t, learning rates as written (RATE)
    slope: float      # leaky_relu slope as written (SLOPE)
    ratio: float      # Adam's m / (s + eps), truncated to RATIO_FRAC bits
    sqrt_v: float     # sqrt of Adam's v rounded to an LSB^2 of the state format
    eps_core: float   # the eps the core uses: eps in the state format, at least one LSB

    @classmethod
    def of(cls, spec) -> "Roundings":
        n = spec.numerics
        G = n.gradient_format
        eps_rate = RATE.to_float(RATE.quantize([spec.algorithm.adam_eps]))   # as written
        eps_core = max(int(G.with_(rounding="nearest_even").quantize(eps_rate)[0]), 1) \
            * G.step
        return cls(act=rounding_error(n.activation_format), grad=rounding_error(G),
                   moment=rounding_error(ops.BY_NAME["adam_m"].result_format(G)),
                   weight=rounding_error(n.weight_format), tanh=tanh_table_error(),
                   coeff=rounding_error(COEFF), scale=rounding_error(SCALE),
                   rate=rounding_error(RATE), slope=rounding_error(SLOPE),
                   ratio=2.0 ** -RATIO_FRAC,
                   sqrt_v=math.sqrt(rounding_error(FixedFormat(64, 2 * G.frac,
                                                               rounding=G.rounding))),
                   eps_core=eps_core)


# ---------------------------------------------------------------------------
# the float update with error bounds


class StepBounds:
    """The float64 DDPG update of FloatDDPG, recomputed with a bound beside each value:
    ``e[name]`` bounds |core - float| of parameter (or optimizer state) ``name`` for a
    core in FXP32 mode (one activation format) that never saturates.  Values are
    checked against FloatDDPG after every step, so the bound is about the very
    computation the float model does."""

    def __init__(self, spec, params: dict[str, np.ndarray], q: Roundings):
        self.spec, self.q, self.algo = spec, q, spec.algorithm
        self.v = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
        self.e = {k: np.zeros_like(v) for k, v in self.v.items()}
        self.grad_bounds: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.updates = 0

    # -- layers ---------------------------------------------------------------------

    def forward(self, net: str, x, ex, target: bool = False) -> list[tuple]:
        """[(z, e_z, h, e_h) per layer]: pre-activation and output with their bounds."""
        spec = getattr(self.spec.networks, net)
        q, prefix = self.q, "target." if target else ""
        n_layers = len(spec.layer_sizes) - 1
        layers = []
        for i in range(n_layers):
            act = spec.output if i == n_layers - 1 else spec.activation
            w, b = self.v[f"{prefix}{net}.l{i}.w"], self.v[f"{prefix}{net}.l{i}.b"]
            ew, eb = self.e[f"{prefix}{net}.l{i}.w"], self.e[f"{prefix}{net}.l{i}.b"]
            z = x @ w + b                                         # exact on the core
            ez = ex @ np.abs(w) + (np.abs(x) + ex) @ ew + eb
            h = activate(act, z, spec.leaky_slope)
            if act == "identity":                                 # one rounding
                eh = ez + q.act
            elif act == "relu":                                   # pre-format rounding
                eh = ez + q.act
            elif act == "tanh":                                   # pre, table, output
                eh = ez + 2 * q.act + q.tanh
            else:                                                 # leaky: pre, slope, output
                eh = ez + 2 * q.act + q.slope * (np.abs(z) + ez + q.act)
            layers.append((z, ez, h, eh))
            x, ex = h, eh
        return layers

    def backward(self, net: str, x, ex, layers, dh, edh, weight_grads: bool,
                 input_grad: bool = False):
        """Backprop with bounds: ({name: (grad, bound)}, (d input, bound) or None)."""
        spec = getattr(self.spec.networks, net)
        q, slope = self.q, spec.leaky_slope
        grads, n_layers = {}, len(layers)
        for i in reversed(range(n_layers)):
            act = spec.output if i == n_layers - 1 else spec.activation
            z, ez, h, eh = layers[i]
            dz = activation_grad(act, h, dh, slope)
            # where |z| is within its bound (plus the pre-format rounding) the core's
            # relu/leaky mask may differ from the float one
            unsure = np.abs(z) <= ez + q.act
            if act == "identity":
                edz = edh
            elif act == "relu":
                edz = np.where(unsure, np.abs(dh) + edh, np.where(h > 0, edh, 0.0))
            elif act == "tanh":
                u = 1 - h * h
                eu = eh * (2 * np.abs(h) + eh)
                edz = edh * np.minimum(u + eu, 1) + np.abs(dh) * eu + q.grad
            else:
                stable = np.where(h > 0, edh, slope * edh + q.slope * (np.abs(dh) + edh))
                edz = np.where(unsure, edh + (1 - slope + q.slope) * np.abs(dh), stable) \
                    + q.grad
            layer_in, e_in = (x, ex) if i == 0 else layers[i - 1][2:]
            if weight_grads:
                g_w = layer_in.T @ dz
                e_gw = np.abs(layer_in).T @ edz + e_in.T @ (np.abs(dz) + edz) + q.grad
                grads[f"{net}.l{i}.w"] = (g_w, e_gw)
                grads[f"{net}.l{i}.b"] = (dz.sum(axis=0, keepdims=True),
                                          edz.sum(axis=0, keepdims=True) + q.grad)
            if i > 0 or input_grad:
                w, ew = self.v[f"{net}.l{i}.w"], self.e[f"{net}.l{i}.w"]
                dh = dz @ w.T
                edh = edz @ np.abs(w).T + (np.abs(dz) + edz) @ ew.T + q.grad
        return grads, ((dh, edh) if input_grad else None)

    # -- optimizer and targets -------------------------------------------------------

    def optimizer_step(self, net: str, grads: dict, lr: float) -> None:
        a, q, v, e = self.algo, self.q, self.v, self.e
        t = self.updates + 1
        for name in param_names(self.spec, net):
            g, eg = grads[name]
            self.grad_bounds[name] = (g, eg)
            if a.optimizer == "sgd":
                v[name] = v[name] - lr * g
                e[name] = e[name] + lr * eg + q.rate * (np.abs(g) + eg) + q.weight
            elif a.optimizer == "momentum":
                mom, emom = v[f"{name}.mom"], e[f"{name}.mom"]
                v[f"{name}.mom"] = a.momentum * mom + g
                e[f"{name}.mom"] = (a.momentum * emom + eg
                                    + q.coeff * (np.abs(mom) + emom) + q.grad)
                v[name] = v[name] - lr * v[f"{name}.mom"]
                e[name] = (e[name] + lr * e[f"{name}.mom"]
                           + q.rate * (np.abs(v[f"{name}.mom"]) + e[f"{name}.mom"]) + q.weight)
            else:
                b1, b2 = a.adam_beta1, a.adam_beta2
                alpha = lr * math.sqrt(1.0 - b2 ** t) / (1.0 - b1 ** t)
                m0, em0 = v[f"{name}.m"], e[f"{name}.m"]
                s0, es0 = v[f"{name}.s"], e[f"{name}.s"]
                m = b1 * m0 + (1 - b1) * g
                em = (b1 * em0 + (1 - b1) * eg
                      + q.coeff * (np.abs(m0) + em0 + np.abs(g) + eg) + q.moment)
                s = np.sqrt(b2 * s0 ** 2 + (1 - b2) * g * g)
                # s is the 2-norm of (sqrt(b2) s0, sqrt(1 - b2) g): 1-Lipschitz in each
                d_sqrt = q.coeff / (2 * math.sqrt(max(1 - b2 - q.coeff, q.coeff)))
                es = (math.sqrt(b2) * es0 + math.sqrt(1 - b2) * eg
                      + d_sqrt * (np.abs(s0) + es0 + np.abs(g) + eg) + q.sqrt_v + q.grad)
                ratio = m / (s + a.adam_eps)
                # the core's ratio lies in the box m +- em over (s +- es, >= 0) + eps_core
                den_lo = np.maximum(s - es, 0) + q.eps_core
                den_hi = s + es + q.eps_core
                corners = [(m + sm * em) / d for sm in (-1, 1) for d in (den_lo, den_hi)]
                e_ratio = np.max([np.abs(c - ratio) for c in corners], axis=0) + q.ratio
                e_ratio = np.minimum(e_ratio, np.abs(ratio) + self.ratio_cap(t))
                v[f"{name}.m"], e[f"{name}.m"] = m, em
                v[f"{name}.s"], e[f"{name}.s"] = s, es
                v[name] = v[name] - alpha * m / (s + a.adam_eps)
                e[name] = (e[name] + alpha * e_ratio + q.rate * (np.abs(ratio) + e_ratio)
                           + q.weight)

    def ratio_cap(self, t: int) -> float:
        """A bound on the core's |m / (s + eps)| at update t (from a zero optimizer
        state), whatever its gradients.
        Exactly, |m| <= K s with K = (1-b1)/sqrt(1-b2) sum_j<t (b1/sqrt(b2))^j; the core's
        m and s carry at most dm and ds of accumulated rounding, so its ratio is at most
        max over s >= 0 of (K s + dm) / (max(s - ds, 0) + eps), taken at s = ds."""
        a, q = self.algo, self.q
        b1, b2 = a.adam_beta1, a.adam_beta2
        k = (1 - b1) / math.sqrt(1 - b2) * sum((b1 / math.sqrt(b2)) ** j for j in range(t))
        dm = q.moment * t
        ds = (q.sqrt_v + q.grad) * t
        return max(k, (k * ds + dm) / q.eps_core) + q.ratio

    def soft_update(self) -> None:
        tau, q, v, e = self.algo.tau, self.q, self.v, self.e
        for net in NETS:
            for name in param_names(self.spec, net):
                t_name = f"target.{name}"
                gap = v[name] - v[t_name]
                e[t_name] = ((1 - tau + q.coeff) * e[t_name] + (tau + q.coeff) * e[name]
                             + q.coeff * np.abs(gap) + q.weight)
                v[t_name] = v[t_name] + tau * gap

    # -- one update -------------------------------------------------------------------

    def train_step(self, states, actions, rewards, next_states, dones) -> None:
        a, q = self.algo, self.q
        s, act, r, s2, done = (np.asarray(x, np.float64) for x in
                               (states, actions, rewards, next_states, dones))
        batch, obs = s.shape
        zero = np.zeros_like

        # 1. Bellman target
        t_act = self.forward("actor", s2, zero(s2), target=True)[-1]
        t_x = np.concatenate([s2, t_act[2]], axis=1)
        t_ex = np.concatenate([zero(s2), t_act[3]], axis=1)
        _, _, tq, etq = self.forward("critic", t_x, t_ex, target=True)[-1]
        y = r + a.gamma * (1 - done) * tq
        ey = a.gamma * etq + q.coeff * (np.abs(tq) + etq) + q.act

        # 2. critic
        c_x = np.concatenate([s, act], axis=1)
        c_layers = self.forward("critic", c_x, zero(c_x))
        _, _, cq, ecq = c_layers[-1]
        d_q = 2 * (cq - y) / batch
        ed_q = (2 / batch + q.scale) * (ecq + ey) + q.scale * np.abs(cq - y) + q.grad
        grads, _ = self.backward("critic", c_x, zero(c_x), c_layers, d_q, ed_q, True)
        self.optimizer_step("critic", grads, a.critic_lr)

        # 3. actor through the updated critic
        a_layers = self.forward("actor", s, zero(s))
        p_x = np.concatenate([s, a_layers[-1][2]], axis=1)
        p_ex = np.concatenate([zero(s), a_layers[-1][3]], axis=1)
        p_layers = self.forward("critic", p_x, p_ex)
        d_pq = np.full_like(p_layers[-1][2], -1.0 / batch)
        _, (dx, edx) = self.backward("critic", p_x, p_ex, p_layers, d_pq,
                                     np.full_like(d_pq, q.grad), False, input_grad=True)
        grads, _ = self.backward("actor", s, zero(s), a_layers, dx[:, obs:], edx[:, obs:],
                                 True)
        self.optimizer_step("actor", grads, a.actor_lr)

        # 4. targets
        self.soft_update()
        self.updates += 1


# ---------------------------------------------------------------------------
# running both


def small_spec(hidden=(16, 16), batch=16, cores=1, optimizer="adam", activation="relu",
               weight_frac=24, gradient_frac=24, policy="intra_batch"):
    return load_spec({
        "name": "float_reference", "env": {"id": "Pendulum-v1", "seed": 0},
        "networks": {"actor": {"hidden": list(hidden), "activation": activation},
                     "critic": {"hidden": list(hidden), "activation": activation}},
        "algorithm": {"batch_size": batch, "optimizer": optimizer},
        "numerics": {"weight": {"width": 32, "frac": weight_frac},
                     "gradient": {"width": 32, "frac": gradient_frac}},
        "hardware": {"cores": cores, "array": [4, 4]},
        "parallelism": {"training": policy}})


def pendulum_batch(rng, batch: int, formats) -> tuple[Batch, dict[str, np.ndarray]]:
    """A random Pendulum-like batch: raw for the core, dequantized floats for FloatDDPG."""
    def state():
        theta = rng.uniform(-np.pi, np.pi, (batch, 1))
        return np.hstack([np.cos(theta), np.sin(theta), rng.uniform(-8, 8, (batch, 1))])
    raw = Batch(states=formats["states"].quantize(state()),
                actions=formats["actions"].quantize(rng.uniform(-1, 1, (batch, 1))),
                rewards=formats["rewards"].quantize(rng.uniform(-16.3, 0, (batch, 1))),
                next_states=formats["states"].quantize(state()),
                dones=(rng.uniform(size=(batch, 1)) < 0.25).astype(np.int64))
    return raw, raw.to_float(formats)


@dataclasses.dataclass
class Run:
    """Core, float model and bounds after some updates from the same start."""

    spec: object
    core: object
    ref: FloatDDPG
    bounds: StepBounds
    start: dict[str, np.ndarray]

    def core_params(self) -> dict[str, np.ndarray]:
        return from_core_params(self.core.read_params(), self.spec)

    def core_grads(self) -> dict[str, np.ndarray]:
        G = self.spec.numerics.gradient_format
        return {name: G.to_float(self.core.machine.read(f"{name}.grad"))
                for net in NETS for name in param_names(self.spec, net)}


def run(spec, updates: int, seed: int = 0, bound_spec=None, scale=None) -> Run:
    """``updates`` DDPG updates of the golden core and of FloatDDPG(float64) from the
    same parameters on the same batches; ``bound_spec`` chooses whose formats the
    bound is derived from (default: ``spec``'s own)."""
    core = open_core(spec, "golden")
    core.load_params(random_params(spec, seed, scale))
    start = from_core_params(core.read_params(), spec)
    ref = FloatDDPG(spec, np.float64, start)
    bounds = StepBounds(spec, start, Roundings.of(bound_spec or spec))
    rng = np.random.default_rng(seed + 1)
    for _ in range(updates):
        raw, floats = pendulum_batch(rng, spec.algorithm.batch_size, core.formats)
        core.train_step(raw)
        ref.train_step(**floats)
        bounds.train_step(**floats)
        for name, value in ref.params.items():     # the bounds follow the float model
            np.testing.assert_allclose(bounds.v[name], value, rtol=1e-12, atol=1e-15,
                                       err_msg=name)
    return Run(spec, core, ref, bounds, start)


def excess(r: Run) -> dict[str, float]:
    """max(|core - float| - bound) per parameter (<= 0: within the bound)."""
    got = r.core_params()
    return {name: float(np.max(np.abs(got[name] - r.ref.params[name]) - r.bounds.e[name]))
            for name in r.ref.params}


# ---------------------------------------------------------------------------
# tests


def assert_within_bound(r: Run) -> None:
    """Every parameter, target parameter, optimizer state and the last update's
    gradients of the core lie within the bound of the float model's."""
    assert r.core.stats.total_saturations == 0, "the bound assumes no saturation"
    over = {k: v for k, v in excess(r).items() if v > 0}
    assert not over, f"outside the derived bound: {over}"
    grads = r.core_grads()
    for name, (g, bound) in r.bounds.grad_bounds.items():
        assert np.all(np.abs(grads[name] - g) <= bound), f"{name}.grad"


@pytest.mark.parametrize("updates", [1, 3])
def test_pendulum_example_matches_float_within_bound(updates):
    assert_within_bound(run(load_spec(EXAMPLES / "pendulum.yaml"), updates))


# a dozen examples by default, more under HYPOTHESIS_PROFILE=thorough
HYPOTHESIS_EXAMPLES = max(12, settings.default.max_examples // 10)


@settings(max_examples=HYPOTHESIS_EXAMPLES)
@given(seed=st.integers(0, 2**16), batch=st.integers(8, 32), cores=st.sampled_from([1, 2]),
       scale=st.sampled_from([None, 0.1, 0.3]),
       hidden=st.tuples(st.integers(4, 24), st.integers(4, 24)),
       optimizer=st.sampled_from(["adam", "adam", "sgd", "momentum"]),
       activation=st.sampled_from(["relu", "relu", "tanh", "leaky_relu"]),
       policy=st.sampled_from(["intra_batch", "intra_layer"]))
def test_small_specs_match_float_within_bound(seed, batch, cores, scale, hidden, optimizer,
                                              activation, policy):
    spec = small_spec(hidden, batch, cores, optimizer, activation, policy=policy)
    assert_within_bound(run(spec, 3, seed, scale=scale))


def test_bound_is_informative():
    """Where the gradient format resolves the gradients, the bound is a small fraction
    of how far the float update moves each parameter (median over each tensor), after 1
    and after 3 updates.  (At DDPG's default initialisation the actor's hidden-layer
    gradients are within a few LSB of zero in Q8.24, so there the bound is, rightly, as
    large as the update; weights drawn from +-0.3 resolve them.)"""
    spec = small_spec((16, 16), batch=16)
    for updates in (1, 3):
        r = run(spec, updates, scale=0.3)
        for name, bound in r.bounds.e.items():
            if name.endswith((".m", ".s")):
                continue
            moved = np.abs(r.ref.params[name] - r.start[name])
            active = moved > 0                      # dead relu units do not move
            assert np.median(bound[active] / moved[active]) < 0.2, (updates, name)


def test_coarse_formats_leave_the_fxp32_bound():
    """8 fraction bits for weights and gradients: every step (about lr) is below half an
    LSB (2^-9), so nothing moves on the core while the float model moves by about lr;
    the FXP32 bound catches it, and the core has moved less than the float model."""
    fxp32 = small_spec()
    coarse = small_spec(weight_frac=8, gradient_frac=8)
    r = run(coarse, 3, bound_spec=fxp32, scale=0.3)
    got = r.core_params()
    over = excess(r)
    for net in NETS:
        for name in param_names(coarse, net):
            for p in (name, f"target.{name}"):
                assert over[p] > 0, p
                core_moved = np.abs(got[p] - r.start[p]).sum()
                float_moved = np.abs(r.ref.params[p] - r.start[p]).sum()
                assert core_moved < float_moved, p
    # the same core lies within the bound derived from its own formats: the check
    # fails because the formats are coarser than FXP32, not because the bound is wrong
    assert_within_bound(run(coarse, 3, scale=0.3))
