"""Environment facts the spec needs before any environment is created: observation and
action sizes (which fix the networks' input and output widths), the action bound and
which optional extra provides the environment.

Known ids are answered from the table; any other gymnasium id is created once to read
its spaces.

Which ids a spec may name (:func:`check_env_id`): the ids of the table and the ids
registered with gymnasium. A module-qualified id (``package.module:Env-v0``) makes
gymnasium import that module, that is, run its code; a spec alone can never ask for
that: it is allowed only inside :func:`allow_env_modules`, which the ``fixar`` command
enters only when given ``--allow-env-module``.
"""

from __future__ import annotations

import contextlib
import contextvars
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator


@dataclass(frozen=True)
class EnvInfo:
    obs_dim: int
    action_dim: int
    action_bound: float
    max_episode_steps: int
    extra: str | None = None      # pip extra that provides it


KNOWN_ENVS: dict[str, EnvInfo] = {
    "Pendulum-v1": EnvInfo(3, 1, 2.0, 200),
    "MountainCarContinuous-v0": EnvInfo(2, 1, 1.0, 999),
    "HalfCheetah-v5": EnvInfo(17, 6, 1.0, 1000, "mujoco"),
    "Hopper-v5": EnvInfo(11, 3, 1.0, 1000, "mujoco"),
    "Swimmer-v5": EnvInfo(8, 2, 1.0, 1000, "mujoco"),
    "Walker2d-v5": EnvInfo(17, 6, 1.0, 1000, "mujoco"),
    "Ant-v5": EnvInfo(105, 8, 1.0, 1000, "mujoco"),
    "InvertedPendulum-v5": EnvInfo(4, 1, 3.0, 1000, "mujoco"),
    "Reacher-v5": EnvInfo(10, 2, 1.0, 50, "mujoco"),
}


class EnvUnavailable(LookupError):
    """The environment cannot be created here (unknown id or a missing extra)."""


_MODULES_ALLOWED = contextvars.ContextVar("fixar_env_modules_allowed", default=False)


@contextlib.contextmanager
def allow_env_modules(allowed: bool = True) -> Iterator[None]:
    """Within this block, specs may name module-qualified environment ids."""
    token = _MODULES_ALLOWED.set(allowed)
    try:
        yield
    finally:
        _MODULES_ALLOWED.reset(token)


def check_env_id(env_id: str) -> None:
    """Raise :class:`EnvUnavailable` unless ``env_id`` is one a spec may name: known
    here, registered with gymnasium, or module-qualified inside
    :func:`allow_env_modules`. Never imports the module of a module-qualified id."""
    if env_id in KNOWN_ENVS:
        return
    if ":" in env_id:
        if _MODULES_ALLOWED.get():
            return
        module = env_id.split(":", 1)[0]
        raise EnvUnavailable(
            f"{env_id!r} is module-qualified: creating it imports and runs module "
            f"{module!r}, which a spec cannot ask for; pass --allow-env-module to fixar "
            "to allow it (or use a registered gymnasium id such as Pendulum-v1)")
    import gymnasium
    if env_id not in gymnasium.envs.registry:
        raise EnvUnavailable(f"{env_id!r} is not a registered gymnasium environment "
                             f"(known here: {', '.join(KNOWN_ENVS)})")


@lru_cache(maxsize=None)
def env_info(env_id: str) -> EnvInfo:
    """Facts about a gymnasium environment id, without creating it when it is known."""
    if env_id in KNOWN_ENVS:
        return KNOWN_ENVS[env_id]
    try:
        import gymnasium
        env = gymnasium.make(env_id)
    except Exception as exc:  # gymnasium raises several types for unknown/missing envs
        known = ", ".join(KNOWN_ENVS)
        raise EnvUnavailable(
            f"cannot create environment {env_id!r} ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else 'no detail'}); known ids: {known}"
        ) from None
    try:
        obs, act = env.observation_space, env.action_space
        if len(getattr(obs, "shape", ()) or ()) != 1 or len(getattr(act, "shape", ()) or ()) != 1 \
                or not hasattr(act, "high"):
            raise EnvUnavailable(f"environment {env_id!r} needs a flat Box observation and a "
                                 "continuous Box action space (DDPG)")
        bound = float(max(abs(act.high).max(), abs(act.low).max()))
        steps = env.spec.max_episode_steps if env.spec and env.spec.max_episode_steps else 1000
        return EnvInfo(int(obs.shape[0]), int(act.shape[0]), bound, int(steps))
    finally:
        env.close()
