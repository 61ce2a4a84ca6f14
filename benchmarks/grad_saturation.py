"""Which gradients saturate in a training run, and what the clipping does to the update.

    python benchmarks/grad_saturation.py RUN_OR_CHECKPOINT_DIR [--batches 300] [--seed 0]
        [--consecutive] [--gradient WIDTH,FRAC] [--json OUT.json]

Loads a golden-core checkpoint (a run folder, or its ``checkpoint/`` folder; the one
``CURRENT`` names), restores the agent (weights, target networks, optimizer state,
precision and activation formats) and the replay buffer, and runs the spec's training
program on the golden core for ``--batches`` batches sampled from the replay buffer
(``--seed``), each from the checkpoint's state (or, with ``--consecutive``, one after
another as training would).  For every update it reports, per buffer:

- the saturations the core counted in that update (every buffer that counted any: the
  weight and bias gradients, the deltas ``*.dz*``, activations), and for the gradient
  buffers the elements at the format's bounds;
- for every weight and bias gradient, the exact unclipped value: the drain's operands
  (the layer's input and delta buffers, left in the core's memory by the program) are
  multiplied again exactly and rounded to the gradient format's LSB without
  saturation.  The clipped value computed the same way must equal the gradient buffer
  bit for bit (checked on every update; a mismatch stops the tool), so the unclipped
  gradient is the one the same update would have drained into a format without bounds;
- the unclipped values' largest magnitude, the cosine between the clipped and the
  unclipped gradient, and for Adam the change of the step this update makes: from the
  checkpoint's ``m`` and ``s = sqrt(v)`` (float64), ``d = m' / (s' + eps)`` with the
  clipped and with the unclipped gradient; reported are ``|d_c - d_u| / |d_u|`` over the
  layer, the cosine of the two, and the largest element-wise ``|d_c - d_u|`` (in units
  of the step size alpha_t, which cancels from the rest);
- as the scale to judge those by, the same relative change between the unclipped Adam
  directions of two successive batches (``batch to batch``: what sampling another batch
  does to the step).

``--gradient 32,20`` runs the same updates with another gradient format (the optimizer
state, kept in it, requantized from the checkpoint's): what a spec with that format
would do from the same state.

Only the gradient of the update itself is unclipped: the moments come from the run's
own, clipped, history, and a layer updated after a clipped one (the actor after the
critic) sees the update the core made.  The delta buffers' own saturations are counted,
not undone.  The golden core's compiled engine is used, as in training.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from fixar_gen import algorithms
from fixar_gen import exact as X
from fixar_gen import load_spec
from fixar_gen.isa import Drain, MatMul
from fixar_gen.numerics import FixedFormat
from fixar_gen.rl.agent import CoreAgent
from fixar_gen.rl.checkpoint import load_checkpoint
from fixar_gen.rl.replay import ReplayBuffer


# -- loading ---------------------------------------------------------------------------


def checkpoint_dir(path: Path) -> Path:
    """A run folder's ``checkpoint/``, or ``path`` itself when it is one."""
    path = Path(path)
    return path / "checkpoint" if (path / "checkpoint").is_dir() else path


@dataclass
class Restored:
    """An agent and replay buffer at a checkpoint's state."""

    spec: object
    agent: CoreAgent
    replay: ReplayBuffer
    agent_arrays: dict[str, np.ndarray]
    agent_meta: dict
    step: int

    @property
    def core_meta(self) -> dict:
        return self.agent_meta["core"]

    def reset(self) -> None:
        """The agent back at the checkpoint's state (the core's parameters, moments and
        precision, the QAT schedule, the host's ranges and counters)."""
        self.agent.load_state_dict(self.agent_arrays, self.agent_meta)


def with_gradient_format(spec, width: int, frac: int):
    """``spec`` with another gradient format (validated as a whole)."""
    import dataclasses
    from fixar_gen.spec import FormatSpec
    numerics = dataclasses.replace(spec.numerics, gradient=FormatSpec(width, frac))
    return dataclasses.replace(spec, numerics=numerics)


def restore(path: Path, gradient: tuple[int, int] | None = None) -> Restored:
    """The checkpoint's agent and replay buffer; with ``gradient`` (width, frac) the
    spec's gradient format is replaced and the optimizer state, which is kept in it,
    is requantized to the new format (the format's rounding and overflow)."""
    arrays, meta = load_checkpoint(checkpoint_dir(path))
    if meta.get("backend") == "float32":
        raise ValueError(f"{path}: a float32 run has no core to measure")
    spec = load_spec(meta["settings"]["spec"])
    agent_arrays = {k[6:]: v for k, v in arrays.items() if k.startswith("agent.")}
    if gradient is not None:
        old = spec.numerics.gradient_format
        spec = with_gradient_format(spec, *gradient)
        new = spec.numerics.gradient_format
        moments = {n for n in agent_arrays if n.endswith((".m", ".s", ".mom"))}
        agent_arrays = {n: old.requantize(v, new) if n in moments else v
                        for n, v in agent_arrays.items()}
    agent = CoreAgent(spec, "golden", int(meta["seed"]))
    agent.load_state_dict(agent_arrays, meta["agent"])
    replay = ReplayBuffer(spec.algorithm.replay_size, spec.obs_dim, spec.action_dim)
    replay.load_state_dict({k[7:]: v for k, v in arrays.items() if k.startswith("replay.")})
    return Restored(spec, agent, replay, agent_arrays, meta["agent"], int(meta["step"]))


# -- one update ------------------------------------------------------------------------


@dataclass(frozen=True)
class GradientSource:
    """How the program computes a gradient buffer: ``grad = x^T @ dz`` over the batch."""

    grad: str
    x: str
    dz: str


def gradient_sources(program) -> list[GradientSource]:
    """Every buffer of kind ``grad`` the program drains, with the operands of the
    matmuls that feed the drained accumulator (per-core partial accumulators
    ``acc.T.cN`` count as ``acc.T``)."""
    names = [b.name for b in program.buffers]
    kinds = {b.name: b.kind for b in program.buffers}

    def base(name: str) -> str:
        return re.sub(r"\.c\d+$", "", name)

    feeds: dict[str, tuple[str, str]] = {}
    for ins in program.code:
        if isinstance(ins, MatMul):
            feeds.setdefault(base(names[ins.dst]), (names[ins.a], names[ins.b]))
    out = {}
    for ins in program.code:
        if isinstance(ins, Drain) and kinds[names[ins.dst]] == "grad":
            grad = names[ins.dst]
            if grad not in out:
                x, dz = feeds[base(names[ins.acc])]
                out[grad] = GradientSource(grad, x, dz)
    return list(out.values())


@dataclass
class Gradient:
    """One gradient buffer after one update: the core's (clipped) raw values, the exact
    unclipped values at the same LSB, and the format."""

    clipped: np.ndarray
    unclipped: np.ndarray
    fmt: FixedFormat
    recomputed_saturations: int

    @property
    def at_bounds(self) -> int:
        return int(np.count_nonzero((self.clipped == self.fmt.max_int)
                                    | (self.clipped == self.fmt.min_int)))


def recompute(core, program, source: GradientSource, batch: int) -> Gradient:
    table = {b.name: b for b in program.buffers}
    g, xb, db = table[source.grad], table[source.x], table[source.dz]
    clipped = core._read(source.grad)
    rows, cols = clipped.shape
    x = np.ascontiguousarray(core._read(source.x)[:batch, :rows].T)
    dz = np.ascontiguousarray(core._read(source.dz)[:batch, :cols])
    z = X.matmul(x, dz, xb.fmt.width, db.fmt.width)
    frac = xb.fmt.frac + db.fmt.frac
    again, n = X.to_format(z, frac, g.fmt)
    if not np.array_equal(again, clipped):
        raise RuntimeError(f"{source.grad}: x^T dz of {source.x} and {source.dz} does not "
                           "give the core's gradient; the operands were not left in memory")
    wide = FixedFormat(64, g.fmt.frac, rounding=g.fmt.rounding, overflow="saturate")
    unclipped, n_wide = X.to_format(z, frac, wide)
    if n_wide:
        raise RuntimeError(f"{source.grad}: unclipped values beyond 64 bits")
    return Gradient(np.asarray(clipped, np.int64), np.asarray(unclipped, np.int64), g.fmt,
                    int(n))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    if np.array_equal(a, b):
        return 1.0
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0.0 or nb == 0.0:
        return 1.0 if na == nb else 0.0
    return float(a @ b / (na * nb))


def adam_directions(m: np.ndarray, s: np.ndarray, g: np.ndarray, beta1: float,
                    beta2: float, eps: float) -> np.ndarray:
    """``m' / (s' + eps)`` of one Adam update in float64 (``s = sqrt(v)``); the step is
    alpha_t times it."""
    m2 = beta1 * m + (1.0 - beta1) * g
    s2 = np.sqrt(beta2 * s * s + (1.0 - beta2) * g * g)
    return m2 / (s2 + eps)


@dataclass
class UpdateFigures:
    saturations: dict[str, int]             # the core's counters, this update
    at_bounds: dict[str, int]               # gradient elements at the format's bounds
    max_unclipped: dict[str, float]
    grad_cosine: dict[str, float]
    step_change: dict[str, float]           # |d_c - d_u| / |d_u|
    step_cosine: dict[str, float]
    step_max_diff: dict[str, float]         # max |d_c - d_u|, in units of alpha_t
    directions: dict[str, np.ndarray] = field(default_factory=dict)   # d_u


def measure_update(r: Restored, batch: dict[str, np.ndarray]) -> UpdateFigures:
    core, spec = r.agent.core, r.spec
    a = spec.algorithm
    before_moments = core.read_params([n for n in core.param_names()
                                       if n.endswith((".m", ".s"))]) \
        if a.optimizer == "adam" else {}
    before = Counter(core.stats.saturations)
    r.agent.update(batch)
    after = core.stats.saturations
    sat = {k: int(after[k] - before.get(k, 0)) for k in after if after[k] != before.get(k, 0)}
    size = len(batch["rewards"])
    program = core.program(algorithms.of(spec).train_phase(spec, core.updates - 1), size)
    figures = UpdateFigures(sat, {}, {}, {}, {}, {}, {})
    for source in gradient_sources(program):
        grad = recompute(core, program, source, size)
        if grad.recomputed_saturations != sat.get(source.grad, 0):
            raise RuntimeError(f"{source.grad}: {grad.recomputed_saturations} saturations "
                               f"recomputed, the core counted {sat.get(source.grad, 0)}")
        name = source.grad
        scale = 2.0 ** -grad.fmt.frac
        gc, gu = grad.clipped * scale, grad.unclipped * scale
        figures.at_bounds[name] = grad.at_bounds
        figures.max_unclipped[name] = float(np.max(np.abs(gu))) if gu.size else 0.0
        figures.grad_cosine[name] = cosine(gc, gu)
        param = name[:-len(".grad")]
        if a.optimizer == "adam" and f"{param}.m" in before_moments:
            m = before_moments[f"{param}.m"] * scale
            s = before_moments[f"{param}.s"] * scale
            dc = adam_directions(m, s, gc, a.adam_beta1, a.adam_beta2, a.adam_eps)
            du = adam_directions(m, s, gu, a.adam_beta1, a.adam_beta2, a.adam_eps)
            norm = np.linalg.norm(du)
            figures.step_change[name] = float(np.linalg.norm(dc - du) / norm) if norm \
                else 0.0
            figures.step_cosine[name] = cosine(dc, du)
            figures.step_max_diff[name] = float(np.max(np.abs(dc - du))) if dc.size else 0.0
            figures.directions[name] = du
    return figures


# -- many updates ----------------------------------------------------------------------


@dataclass
class Summary:
    updates: int = 0
    saturations: Counter = field(default_factory=Counter)      # total per buffer
    updates_saturating: Counter = field(default_factory=Counter)
    max_per_update: Counter = field(default_factory=Counter)
    at_bounds: Counter = field(default_factory=Counter)
    max_unclipped: dict[str, float] = field(default_factory=dict)
    cosines: dict[str, list[float]] = field(default_factory=dict)
    step_change: dict[str, list[float]] = field(default_factory=dict)
    step_cosine: dict[str, list[float]] = field(default_factory=dict)
    step_max_diff: dict[str, float] = field(default_factory=dict)
    #: the scale to compare the clipping's change with: |d_u - d_u'| / |d_u| between
    #: the (unclipped) Adam directions of two successive batches
    batch_change: dict[str, list[float]] = field(default_factory=dict)
    _last: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    def add(self, f: UpdateFigures) -> None:
        self.updates += 1
        for k, n in f.saturations.items():
            self.saturations[k] += n
            self.updates_saturating[k] += n > 0
            self.max_per_update[k] = max(self.max_per_update[k], n)
        self.at_bounds.update(f.at_bounds)
        for k, v in f.max_unclipped.items():
            self.max_unclipped[k] = max(self.max_unclipped.get(k, 0.0), v)
        for k, v in f.grad_cosine.items():
            self.cosines.setdefault(k, []).append(v)
        for k, v in f.step_change.items():
            self.step_change.setdefault(k, []).append(v)
        for k, v in f.step_cosine.items():
            self.step_cosine.setdefault(k, []).append(v)
        for k, v in f.step_max_diff.items():
            self.step_max_diff[k] = max(self.step_max_diff.get(k, 0.0), v)
        for k, du in f.directions.items():
            last = self._last.get(k)
            norm = np.linalg.norm(du)
            if last is not None and norm:
                self.batch_change.setdefault(k, []).append(
                    float(np.linalg.norm(du - last) / norm))
            self._last[k] = du

    def as_dict(self) -> dict:
        def stats(values: list[float]) -> dict:
            v = np.asarray(values, dtype=np.float64)
            return {"mean": float(v.mean()), "min": float(v.min()), "max": float(v.max())}

        return {
            "updates": self.updates,
            "saturations": dict(self.saturations),
            "updates_saturating": dict(self.updates_saturating),
            "max_saturations_per_update": dict(self.max_per_update),
            "gradients": {k: {"at_bounds": int(self.at_bounds[k]),
                              "max_unclipped": self.max_unclipped[k],
                              "cosine": stats(self.cosines[k]),
                              **({"adam_step_change": stats(self.step_change[k]),
                                  "adam_step_cosine": stats(self.step_cosine[k]),
                                  "adam_step_max_diff": self.step_max_diff[k]}
                                 if k in self.step_change else {}),
                              **({"adam_batch_change": stats(self.batch_change[k])}
                                 if self.batch_change.get(k) else {})}
                          for k in self.cosines},
        }


def run(path: Path, batches: int, seed: int = 0, consecutive: bool = False,
        gradient: tuple[int, int] | None = None) -> tuple[Restored, Summary]:
    r = restore(path, gradient)
    rng = np.random.default_rng(seed)
    summary = Summary()
    for _ in range(batches):
        if not consecutive:
            r.reset()
        summary.add(measure_update(r, r.replay.sample(r.spec.algorithm.batch_size, rng)))
    return r, summary


def table(r: Restored, summary: Summary) -> str:
    d = summary.as_dict()
    lines = [f"{r.spec.name}: {summary.updates} updates from the checkpoint at step "
             f"{r.step} (core update {r.core_meta['updates']}, precision "
             f"{r.agent.precision})", "",
             "| buffer | saturations | updates with any | max per update |",
             "|---|---:|---:|---:|"]
    for k, n in sorted(d["saturations"].items(), key=lambda kv: -kv[1]):
        lines.append(f"| `{k}` | {n} | {d['updates_saturating'][k]} | "
                     f"{d['max_saturations_per_update'][k]} |")
    if not d["saturations"]:
        lines.append("| (none) | 0 | 0 | 0 |")
    lines += ["", "| gradient | max unclipped | cosine min / mean | Adam step change "
              "mean / max | step cosine min | max step diff (alpha) | batch to batch |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    for k, g in d["gradients"].items():
        step = (f"{g['adam_step_change']['mean']:.2e} / {g['adam_step_change']['max']:.2e} "
                f"| {g['adam_step_cosine']['min']:.6f} | {g['adam_step_max_diff']:.3g}"
                if "adam_step_change" in g else "- | - | -")
        noise = (f"{g['adam_batch_change']['mean']:.3f}" if "adam_batch_change" in g
                 else "-")
        lines.append(f"| `{k}` | {g['max_unclipped']:.4g} | {g['cosine']['min']:.6f} / "
                     f"{g['cosine']['mean']:.6f} | {step} | {noise} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path, help="a run folder or its checkpoint/ folder")
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0, help="seed of the batch sampling")
    parser.add_argument("--consecutive", action="store_true",
                        help="apply the updates one after another (default: every "
                        "batch from the checkpoint's state)")
    parser.add_argument("--gradient", default=None, metavar="WIDTH,FRAC",
                        help="run with this gradient format instead of the spec's (the "
                        "optimizer state requantized to it), e.g. 32,20")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args(argv)
    gradient = tuple(int(v) for v in args.gradient.split(",")) if args.gradient else None
    r, summary = run(args.path, args.batches, args.seed, args.consecutive, gradient)
    print(table(r, summary))
    if args.json is not None:
        args.json.write_text(json.dumps({"checkpoint_step": r.step, "seed": args.seed,
                                         "consecutive": args.consecutive,
                                         "gradient": str(r.spec.numerics.gradient_format),
                                         **summary.as_dict()}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
