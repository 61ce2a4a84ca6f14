"""Agents: who chooses actions and runs the algorithm's update.

:class:`CoreAgent` runs every DNN operation on a Core backend (golden, pyrtl,
verilator, u50): the host only converts between float observations/actions and the
core's fixed-point formats.  :class:`FloatAgent` is the float32 reference: the same
algorithm in plain numpy (its float twin, :class:`fixar_gen.rl.float_ddpg.FloatDDPG`
or :class:`fixar_gen.rl.float_td3.FloatTD3`) with host-side noise.  Both take and
return floats: observations, actions in [-1, 1], scaled rewards.
"""

from __future__ import annotations

import numpy as np

from ..backends import Batch, Core, open_core, random_params
from ..spec import Spec
from .. import algorithms
from .noise import GaussianNoise, OUNoise
from .qat import QATSchedule, describe


class CoreAgent:
    """DDPG on the accelerator, with FIXAR's QAT schedule."""

    def __init__(self, spec: Spec, backend: str = "golden", seed: int = 0,
                 core: Core | None = None):
        """``core``: an open core to drive instead of ``open_core(spec, backend)``."""
        self.spec = spec
        self.core = core if core is not None else open_core(spec, backend)
        self.core.load_params(random_params(spec, seed))
        self.core.seed_prng(seed)
        self.qat = QATSchedule(spec)
        self.input_saturations = 0
        #: ranges of what the host sends (states, rewards): QAT sizes the 16-bit
        #: formats of the core's inputs and of Q from them as well
        self.host_ranges: dict[str, tuple[float, float]] = {}
        self.qat.maybe_switch(self.core, 0)

    @property
    def precision(self) -> str:
        return self.core.precision.mode

    @property
    def formats(self) -> dict[str, str]:
        return describe(self.core.precision)

    @property
    def revisions(self) -> list[tuple[int, dict[str, str]]]:
        """The QAT schedule's format revisions after the switch: (update, changes)."""
        return list(self.qat.revisions)

    @property
    def saturations(self) -> int:
        return self.core.stats.total_saturations + self.input_saturations

    @property
    def saturations_by_buffer(self) -> dict[str, int]:
        """Where the values were saturated (buffer names; "inputs" for the host's)."""
        out = dict(self.core.stats.saturations)
        if self.input_saturations:
            out["inputs"] = self.input_saturations
        return dict(sorted(out.items(), key=lambda kv: -kv[1]))

    def _quantize(self, key: str, x: np.ndarray) -> np.ndarray:
        raw, n = self.core.formats[key].quantize_counted(np.asarray(x, dtype=np.float64))
        self.input_saturations += n
        return raw

    def act(self, obs: np.ndarray, explore: bool) -> np.ndarray:
        states = self._quantize("states", np.atleast_2d(obs))
        raw = self.core.infer("actor", states, explore=explore)
        return self.core.formats["actions"].to_float(raw)

    def episode_start(self) -> None:
        """A new episode: the OU noise process starts again from zero."""
        if self.spec.algorithm.noise.kind == "ou":
            self.core.reset_noise_state()

    def _observe(self, key: str, values: np.ndarray) -> None:
        lo, hi = float(np.min(values)), float(np.max(values))
        old = self.host_ranges.get(key)
        self.host_ranges[key] = (lo, hi) if old is None else (min(old[0], lo), max(old[1], hi))

    def update(self, batch: dict[str, np.ndarray]) -> None:
        if not self.qat.switched:
            self._observe("states", batch["states"])
            self._observe("states", batch["next_states"])
            self._observe("rewards", batch["rewards"])
        self.core.train_step(Batch(
            states=self._quantize("states", batch["states"]),
            actions=self._quantize("actions", batch["actions"]),
            rewards=self._quantize("rewards", batch["rewards"]),
            next_states=self._quantize("states", batch["next_states"]),
            dones=np.asarray(batch["dones"], dtype=np.int64).reshape(-1, 1)))
        self.qat.maybe_switch(self.core, self.core.updates, host_ranges=self.host_ranges)

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict]:
        arrays, meta = self.core.export_state()
        meta = {"core": meta, "qat": self.qat.state_dict(self.core),
                "host_ranges": self.host_ranges,
                "input_saturations": self.input_saturations,
                "saturations": dict(self.core.stats.saturations)}
        return arrays, meta

    def load_state_dict(self, arrays: dict[str, np.ndarray], meta: dict) -> None:
        self.qat.load_state_dict(meta["qat"])
        self.core.import_state(arrays, meta["core"])
        self.input_saturations = int(meta["input_saturations"])
        self.host_ranges = {k: (float(lo), float(hi)) for k, (lo, hi)
                            in meta["host_ranges"].items()}
        self.core.stats.saturations.clear()
        self.core.stats.saturations.update(meta["saturations"])


class FloatAgent:
    """The float32 reference agent: the same update, no core, host-side noise."""

    precision = "float32"
    formats: dict[str, str] = {}
    revisions: list = []
    saturations = 0
    saturations_by_buffer: dict[str, int] = {}

    def __init__(self, spec: Spec, seed: int = 0):
        self.spec = spec
        self.ddpg = algorithms.of(spec).float_twin(spec, np.float32, seed=seed)
        noise = spec.algorithm.noise
        shape = (spec.action_dim,)
        self.noise_rng = np.random.default_rng(seed + 1)
        self.noise = (GaussianNoise(noise.sigma, shape) if noise.kind == "gaussian"
                      else OUNoise(noise.sigma, noise.theta, noise.dt, shape))

    def act(self, obs: np.ndarray, explore: bool) -> np.ndarray:
        action = self.ddpg.act(np.atleast_2d(obs).astype(np.float32)).astype(np.float64)
        if explore:
            action = np.clip(action + self.noise.sample(self.noise_rng), -1.0, 1.0)
        return action

    def episode_start(self) -> None:
        self.noise.reset()

    def update(self, batch: dict[str, np.ndarray]) -> None:
        self.ddpg.train_step(*(np.asarray(batch[k], dtype=np.float32) for k in
                               ("states", "actions", "rewards", "next_states", "dones")))

    def state_dict(self) -> tuple[dict[str, np.ndarray], dict]:
        arrays = {f"param.{k}": v for k, v in self.ddpg.params.items()}
        noise = self.noise.state_dict()
        arrays.update({f"noise.{k}": np.asarray(v) for k, v in noise.items()})
        meta = {"updates": self.ddpg.updates,
                "noise_rng": self.noise_rng.bit_generator.state}
        if hasattr(self.ddpg, "rng_state"):        # TD3's target smoothing noise
            meta["twin_rng"] = self.ddpg.rng_state()
        return arrays, meta

    def load_state_dict(self, arrays: dict[str, np.ndarray], meta: dict) -> None:
        self.ddpg.params = {k[6:]: np.array(v) for k, v in arrays.items()
                            if k.startswith("param.")}
        self.noise.load_state_dict({k[6:]: v for k, v in arrays.items()
                                    if k.startswith("noise.")})
        self.ddpg.updates = int(meta["updates"])
        self.noise_rng.bit_generator.state = meta["noise_rng"]
        if "twin_rng" in meta:
            self.ddpg.set_rng_state(meta["twin_rng"])


def make_agent(spec: Spec, backend: str, seed: int):
    if backend == "float32":
        return FloatAgent(spec, seed)
    return CoreAgent(spec, backend, seed)
