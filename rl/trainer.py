"""The training loop, top to bottom (CleanRL style): collect with the actor, keep the
replay buffer on the host, update on the core, evaluate, log, checkpoint.

    trainer = Trainer(spec, backend="golden", out="runs/pendulum")
    summary = trainer.run()

Writes into ``out``: ``metrics.csv`` (one row per training episode), ``evals.csv``
(one row per evaluation, rewritten as each one finishes), ``summary.json``,
``checkpoint/`` (atomic; every ``checkpoint_every`` steps, at the next episode end,
and at the end) and ``rewards.png`` when matplotlib is installed (the ``plot`` extra).
``on_evaluation`` (optional) is called after every evaluation, once ``evals.csv``
holds it: `fixar experiment` updates its grid table there.
A folder that already holds a run is refused unless the run is resumed or
``run(overwrite=True)`` is asked for. A run resumed from its checkpoint
(``run(resume=True)``, only with the settings the checkpoint records:
:mod:`fixar_gen.rl.run_settings`) ends bit for bit where the uninterrupted run ends: checkpoints are taken at episode boundaries, episode ``i``
starts from ``reset(seed=seed + i)``, and every random number comes from state that
the checkpoint holds.  The run's length alone may differ from the checkpoint's
(``total_steps``, ``fixar train --resume --steps``): a finished run continues to the
new length and ends where an uninterrupted run of that length ends, provided its last
checkpoint is at an episode's end (a run whose length ended an episode midway cannot
be continued: the environment's state is not in the checkpoint) and the new length is
not below the step it reached.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..files import atomic_write
from ..params import nested
from ..spec import Spec
from .agent import make_agent
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .env import action_bound, make_env
from .replay import ReplayBuffer
from .run_settings import (at_length, check_same_run, run_length, run_settings,
                           settings_digest)

METRICS = ("step", "episode", "return", "eval_return", "precision", "saturations",
           "updates_per_s", "steps_per_s")
#: evals.csv: one row per evaluation; ``fxp16_since_step`` is the step of the switch to
#: FXP16 once it happened (empty before, and always for float32 and FXP32 runs)
EVALS = ("step", "eval_return", "precision", "saturations", "fxp16_since_step",
         "wall_seconds")
EVAL_SEED_OFFSET = 1_000_000
#: what a run writes into its folder; a folder holding any of them is a run already
RUN_OUTPUTS = ("checkpoint", "metrics.csv", "evals.csv", "summary.json", "rewards.png")


class RunExists(Exception):
    """The run folder already holds a run (finished or not) and neither resume nor
    overwrite was asked for."""


def run_outputs(folder: Path) -> list[str]:
    """The names of the run outputs (:data:`RUN_OUTPUTS`) that ``folder`` holds."""
    return [name for name in RUN_OUTPUTS if (Path(folder) / name).exists()
            or (Path(folder) / name).is_symlink()]


def remove_run_outputs(folder: Path) -> None:
    """Remove a run's own files from ``folder``; other files are left alone."""
    import shutil
    for name in run_outputs(folder):
        path = Path(folder) / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def with_run_length(spec: Spec, seed: int | None = None,
                    total_steps: int | None = None) -> Spec:
    """``spec`` with another seed and/or run length, validated again as a whole (so a
    QAT delay beyond the shortened run is refused: :class:`SpecError` on
    ``algorithm.total_steps``, ``algorithm.warmup_steps`` or ``numerics.qat_delay``)."""
    import dataclasses
    if seed is not None:
        env = nested("env", lambda: dataclasses.replace(spec.env, seed=seed))
        spec = dataclasses.replace(spec, env=env)
    if total_steps is not None:
        algorithm = nested("algorithm", lambda: dataclasses.replace(
            spec.algorithm, total_steps=total_steps))
        spec = dataclasses.replace(spec, algorithm=algorithm)
    return spec


@dataclass
class Progress:
    """A one-line progress display on stderr (steps/s, last return, precision)."""

    total: int
    enabled: bool = True
    _last: float = field(default=0.0)

    def show(self, step: int, steps_per_s: float, ret: float | None, precision: str,
             final: bool = False) -> None:
        now = time.monotonic()
        if not self.enabled or (not final and now - self._last < 0.5):
            return
        self._last = now
        width = 24
        done = int(width * step / max(self.total, 1))
        ret_text = f"{ret:9.1f}" if ret is not None else "        -"
        sys.stderr.write(f"\r[{'#' * done}{'.' * (width - done)}] {step}/{self.total} "
                         f"{steps_per_s:6.0f} steps/s  return {ret_text}  {precision:7s}")
        if final:
            sys.stderr.write("\n")
        sys.stderr.flush()


class Trainer:
    def __init__(self, spec: Spec, backend: str = "golden", out: str | Path = "runs/run",
                 seed: int | None = None, total_steps: int | None = None,
                 checkpoint_every: int = 5_000, progress: bool = True,
                 on_evaluation: Callable[[], None] | None = None, keep_checkpoints: int = 1):
        spec = with_run_length(spec, seed=seed, total_steps=total_steps)
        for name, value in (("checkpoint_every", checkpoint_every),
                            ("keep_checkpoints", keep_checkpoints)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: {value!r} is not allowed (a positive integer)")
        self.spec = spec
        self.backend = backend
        self.out = Path(out)
        self.seed = spec.env.seed
        self.total_steps = spec.algorithm.total_steps
        self.checkpoint_every = checkpoint_every
        #: checkpoint generations kept (rl/checkpoint.py): the current one and the newest
        #: before it; not a setting of the run (a resume may change it)
        self.keep_checkpoints = keep_checkpoints
        self.settings = run_settings(spec, backend)
        self.progress = Progress(self.total_steps, progress)
        self.on_evaluation = on_evaluation
        algo = spec.algorithm
        self.env = make_env(spec)
        self.eval_env = make_env(spec)
        self.bound = action_bound(self.env)
        self.agent = make_agent(spec, backend, self.seed)
        self.replay = ReplayBuffer(algo.replay_size, spec.obs_dim, spec.action_dim)
        self.rng = np.random.default_rng(self.seed + 2)
        # counters (all in the checkpoint)
        self.step = 0
        self.episode = 0
        self.rows: list[dict] = []
        self.evals: list[dict] = []
        self.pending_eval: float | None = None
        self.last_eval: float | None = None
        self.switched_at: int | None = None
        self.updates_done = 0
        self.update_seconds = 0.0
        self.elapsed = 0.0

    # -- the loop ------------------------------------------------------------------------

    def run(self, resume: bool = False, overwrite: bool = False) -> dict:
        """Train to the end. A folder that already holds a run is refused
        (:class:`RunExists`) unless ``resume`` (continue from its checkpoint, which must
        have been written with the same settings) or ``overwrite`` (its outputs are
        removed first)."""
        if resume and overwrite:
            raise ValueError("resume and overwrite exclude each other")
        if resume:
            self._restore()
        else:
            self._claim_folder(overwrite)
        self.out.mkdir(parents=True, exist_ok=True)
        algo = self.spec.algorithm
        obs, _ = self.env.reset(seed=self.seed + self.episode)
        self.agent.episode_start()
        episode_return, episode_start = 0.0, time.monotonic()
        episode_updates, episode_update_s, episode_steps = 0, 0.0, 0
        next_checkpoint = (self.step // self.checkpoint_every + 1) * self.checkpoint_every
        started = time.monotonic() - self.elapsed
        while self.step < self.total_steps:
            # act: uniform random during warm-up, the actor with on-chip noise after
            if self.step < algo.warmup_steps:
                action = self.rng.uniform(-1.0, 1.0, size=self.spec.action_dim)
            else:
                action = self.agent.act(obs, explore=True)[0]
            next_obs, reward, terminated, truncated, _ = self.env.step(action * self.bound)
            self.replay.add(obs, action, reward * algo.reward_scale, next_obs, terminated)
            obs = next_obs
            episode_return += float(reward)
            self.step += 1
            episode_steps += 1
            # learn
            if self.step > algo.warmup_steps and len(self.replay) >= algo.batch_size:
                t0 = time.perf_counter()
                for _ in range(algo.updates_per_step):
                    self.agent.update(self.replay.sample(algo.batch_size, self.rng))
                    self.updates_done += 1
                    if self.switched_at is None and self.agent.precision == "fxp16" \
                            and self.spec.numerics.precision == "qat":
                        self.switched_at = self.step
                dt = time.perf_counter() - t0
                episode_updates += algo.updates_per_step
                episode_update_s += dt
                self.update_seconds += dt
            if algo.eval_every and self.step % algo.eval_every == 0:
                self.pending_eval = self.last_eval = self.evaluate()
                self._record_eval(time.monotonic() - started)
            if terminated or truncated:
                wall = time.monotonic() - episode_start
                self.rows.append({
                    "step": self.step, "episode": self.episode,
                    "return": round(episode_return, 4),
                    "eval_return": "" if self.pending_eval is None
                    else round(self.pending_eval, 4),
                    "precision": self.agent.precision,
                    "saturations": self.agent.saturations,
                    "updates_per_s": round(episode_updates / episode_update_s, 2)
                    if episode_update_s else "",
                    "steps_per_s": round(episode_steps / wall, 2) if wall else ""})
                self.pending_eval = None
                self.episode += 1
                obs, _ = self.env.reset(seed=self.seed + self.episode)
                self.agent.episode_start()
                episode_return, episode_start = 0.0, time.monotonic()
                episode_updates, episode_update_s, episode_steps = 0, 0.0, 0
                if self.step >= next_checkpoint:
                    self.elapsed = time.monotonic() - started
                    self.checkpoint()
                    next_checkpoint = (self.step // self.checkpoint_every + 1) \
                        * self.checkpoint_every
            rate = self.step / max(time.monotonic() - started, 1e-9)
            self.progress.show(self.step, rate, self.rows[-1]["return"] if self.rows else None,
                               self.agent.precision)
        self.elapsed = time.monotonic() - started
        self.progress.show(self.step, self.step / max(self.elapsed, 1e-9),
                           self.rows[-1]["return"] if self.rows else None,
                           self.agent.precision, final=True)
        if self.last_eval is None or (algo.eval_every and self.step % algo.eval_every):
            self.last_eval = self.evaluate()
            self._record_eval(self.elapsed)
        self.checkpoint()
        summary = self.summary()
        atomic_write(self.out / "summary.json", json.dumps(summary, indent=2) + "\n")
        self._plot()
        return summary

    def evaluate(self) -> float:
        """Mean return of deterministic episodes (no noise) on the evaluation seeds."""
        returns = []
        for i in range(self.spec.algorithm.eval_episodes):
            obs, _ = self.eval_env.reset(seed=self.seed + EVAL_SEED_OFFSET + i)
            total, done = 0.0, False
            while not done:
                action = self.agent.act(obs, explore=False)[0]
                obs, reward, terminated, truncated, _ = self.eval_env.step(action * self.bound)
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
        return float(np.mean(returns))

    # -- outputs -----------------------------------------------------------------------

    def _record_eval(self, wall_seconds: float) -> None:
        """``last_eval`` as a row of evals.csv (rewritten atomically), then
        ``on_evaluation``.  A run resumed from its checkpoint repeats the evaluations
        after it with the same results; a second one at the same step (the final
        evaluation of a finished run that is resumed) replaces the first."""
        row = {"step": self.step, "eval_return": round(self.last_eval, 4),
               "precision": self.agent.precision, "saturations": self.agent.saturations,
               "fxp16_since_step": "" if self.switched_at is None else self.switched_at,
               "wall_seconds": round(wall_seconds, 2)}
        if self.evals and self.evals[-1]["step"] == self.step:
            self.evals[-1] = row
        else:
            self.evals.append(row)
        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write(self.out / "evals.csv", _csv(EVALS, self.evals))
        if self.on_evaluation is not None:
            self.on_evaluation()

    def summary(self) -> dict:
        returns = [r["return"] for r in self.rows]
        evals = [r["eval_return"] for r in self.rows if r["eval_return"] != ""]
        return {
            "spec": self.spec.name, "env": self.spec.env.id, "backend": self.backend,
            "seed": self.seed, "steps": self.step, "episodes": self.episode,
            "updates": self.updates_done,
            "final_eval_return": self.last_eval,
            "best_eval_return": max(evals + [self.last_eval]) if self.last_eval is not None
            else None,
            "last_10_episode_return": float(np.mean(returns[-10:])) if returns else None,
            "precision": self.agent.precision,
            "switched_to_fxp16_at_step": self.switched_at,
            "fxp16_formats": self.agent.formats,
            "fxp16_revisions": [[u, changed] for u, changed in self.agent.revisions],
            "saturations": self.agent.saturations,
            "saturations_by_buffer": self.agent.saturations_by_buffer,
            "updates_per_s": self.updates_done / self.update_seconds
            if self.update_seconds else None,
            "steps_per_s": self.step / self.elapsed if self.elapsed else None,
            "wall_seconds": self.elapsed,
        }

    def _metrics_csv(self) -> str:
        return _csv(METRICS, self.rows)

    def _plot(self) -> None:
        """rewards.png when matplotlib is installed (the plot extra); silently not."""
        from .plots import PlotError, plot_runs
        try:
            plot_runs([self.out], self.out / "rewards.png")
        except PlotError:
            pass

    # -- checkpoints -------------------------------------------------------------------

    def checkpoint(self) -> None:
        """Everything the rest of the run depends on, written atomically."""
        agent_arrays, agent_meta = self.agent.state_dict()
        arrays = {f"agent.{k}": v for k, v in agent_arrays.items()}
        arrays.update({f"replay.{k}": v for k, v in self.replay.state_dict().items()})
        meta = {
            "spec": self.spec.name, "backend": self.backend, "seed": self.seed,
            "step": self.step, "episode": self.episode, "agent": agent_meta,
            "rng": self.rng.bit_generator.state, "rows": self.rows,
            "last_eval": self.last_eval, "evals": self.evals,
            "switched_at": self.switched_at,
            "updates_done": self.updates_done, "update_seconds": self.update_seconds,
            "elapsed": self.elapsed, "total_steps": self.total_steps,
            "settings": self.settings, "settings_sha256": settings_digest(self.settings),
        }
        save_checkpoint(self.out / "checkpoint", arrays, json.loads(json.dumps(meta,
                                                                            default=_json)),
                        keep=self.keep_checkpoints)
        atomic_write(self.out / "metrics.csv", self._metrics_csv())

    def _claim_folder(self, overwrite: bool) -> None:
        found = run_outputs(self.out)
        if not found:
            return
        if not overwrite:
            raise RunExists(f"{self.out} already holds a run ({', '.join(found)}); "
                            "continue it with --resume, or replace it with --overwrite")
        remove_run_outputs(self.out)

    def _restore(self) -> None:
        directory = self.out / "checkpoint"
        arrays, meta = load_checkpoint(directory)
        stored_length = run_length(meta.get("settings"))
        longer = stored_length is not None and stored_length != self.total_steps
        check_same_run(directory, meta, at_length(self.settings, stored_length)
                       if longer else self.settings)
        if longer:
            _check_new_length(directory, meta, self.total_steps)
        self.agent.load_state_dict({k[6:]: v for k, v in arrays.items()
                                    if k.startswith("agent.")}, meta["agent"])
        self.replay.load_state_dict({k[7:]: v for k, v in arrays.items()
                                     if k.startswith("replay.")})
        self.rng.bit_generator.state = meta["rng"]
        self.step, self.episode = int(meta["step"]), int(meta["episode"])
        self.rows = list(meta["rows"])
        self.last_eval = meta["last_eval"]
        self.evals = list(meta.get("evals", []))     # absent in checkpoints before evals.csv
        self.switched_at = meta["switched_at"]
        self.updates_done = int(meta["updates_done"])
        self.update_seconds = float(meta["update_seconds"])
        self.elapsed = float(meta["elapsed"])
        if longer and self.total_steps > self.step:
            self._drop_final_evaluation()

    def _drop_final_evaluation(self) -> None:
        """A run continued to a new length forgets the evaluation its old end added
        off the ``eval_every`` grid (an uninterrupted run does not make it; the last
        return is the previous evaluation's, as rounded in evals.csv)."""
        every = self.spec.algorithm.eval_every
        if self.evals and self.evals[-1]["step"] == self.step \
                and (not every or self.step % every):
            self.evals.pop()
            self.last_eval = self.evals[-1]["eval_return"] if self.evals else None


def _check_new_length(directory: Path, meta: dict, total_steps: int) -> None:
    """Raise :class:`CheckpointError` unless the run in ``meta`` can continue to
    ``total_steps`` as an uninterrupted run of that length would."""
    step = int(meta["step"])
    if total_steps < step:
        raise CheckpointError(f"{directory}: a run of {total_steps} steps (--steps) is "
                              f"shorter than the {step} steps the checkpoint reached (at "
                              f"least {step}, or start again with --overwrite)")
    rows = meta.get("rows") or []
    at_episode_end = step == 0 or (rows and int(rows[-1]["step"]) == step)
    if total_steps > step and not at_episode_end:
        raise CheckpointError(
            f"{directory}: the run ended at step {step}, in the middle of an episode, and "
            "the checkpoint does not hold the environment's state, so it cannot continue "
            f"to {total_steps} steps as an uninterrupted run would (start again with "
            "--overwrite; a length that ends an episode can be extended)")


def _csv(fields: tuple[str, ...], rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _json(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"not JSON-able: {type(value).__name__}")

