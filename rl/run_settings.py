"""What makes two training runs the same run: the whole resolved spec and the backend.

A checkpoint records them (:func:`run_settings`) with a SHA-256 digest of their
canonical JSON; ``--resume`` continues only when the settings of the command equal the
checkpoint's (:func:`check_same_run`), and otherwise names the first field that
differs, e.g. ``numerics.weight.frac: 24 in the checkpoint, 20 now``; a spec field
added since the checkpoint was written counts at its default (:func:`with_defaults`). Everything else
a ``fixar train`` option sets either is part of the spec (``--steps`` sets
``algorithm.total_steps``, ``--seed`` sets ``env.seed``) or does not change the result
(``--checkpoint-every``, ``--quiet``, ``--progress``: checkpoints are taken at episode
ends and draw no random numbers).  The run's length is the one setting a resume may
change (:func:`at_length`): the steps before the end do not depend on it, so the
trainer lets ``--resume --steps`` extend a run (:meth:`fixar_gen.rl.trainer.Trainer.run`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ..spec import Spec, spec_data
from .checkpoint import CheckpointError


def run_settings(spec: Spec, backend: str) -> dict:
    """The settings that decide a run's result, as plain JSON data."""
    return {"backend": backend, "spec": spec_data(spec)}


def run_length(settings: dict) -> int | None:
    """The run's length (``spec.algorithm.total_steps``) in ``settings``, or None when
    they do not record one (a damaged or older checkpoint: :func:`check_same_run` says
    which)."""
    try:
        value = settings["spec"]["algorithm"]["total_steps"]
    except (KeyError, TypeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def at_length(settings: dict, total_steps: int) -> dict:
    """A copy of ``settings`` whose run length is ``total_steps``."""
    out = json.loads(json.dumps(settings))
    out["spec"]["algorithm"]["total_steps"] = total_steps
    return out


def settings_digest(settings: dict) -> str:
    canonical = json.dumps(settings, sort_keys=True, separators=(",", ":"),
                           allow_nan=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def first_difference(old: Any, new: Any, path: str = "") -> str | None:
    """``field: OLD in the checkpoint, NEW now`` for the first field (in field order)
    where ``old`` and ``new`` differ, or None when they are equal."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in [*old, *(k for k in new if k not in old)]:
            where = f"{path}.{key}" if path else key
            if key not in old:
                return f"{where}: absent in the checkpoint, {_show(new[key])} now"
            if key not in new:
                return f"{where}: {_show(old[key])} in the checkpoint, absent now"
            found = first_difference(old[key], new[key], where)
            if found:
                return found
        return None
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new)):
            found = first_difference(a, b, f"{path}[{i}]")
            if found:
                return found
        return None
    if old != new or type(old) is not type(new):
        return f"{path or 'settings'}: {_show(old)} in the checkpoint, {_show(new)} now"
    return None


def _show(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if value is None:
        return "null"
    return str(value)


def with_defaults(settings: dict) -> dict:
    """``settings`` with every spec field that a checkpoint of an older fixar_gen does
    not record filled in with its default (a field is added with the default that
    keeps what the older version built, e.g. ``hardware.vector_lanes: null``), so such
    a checkpoint still resumes; fields it does record are kept as they are."""
    def fill(recorded, default):
        if not isinstance(recorded, dict) or not isinstance(default, dict):
            return recorded
        out = dict(recorded)
        for key, value in default.items():
            out[key] = fill(recorded[key], value) if key in recorded else value
        return out
    out = dict(settings)
    if isinstance(settings.get("spec"), dict):
        out["spec"] = fill(settings["spec"], spec_data(Spec()))
    return out


def check_same_run(directory, meta: dict, settings: dict) -> None:
    """Raise :class:`CheckpointError` unless the checkpoint in ``directory`` (its
    ``meta``) was written by a run with exactly these ``settings``."""
    stored, digest = meta.get("settings"), meta.get("settings_sha256")
    if not isinstance(stored, dict) or not isinstance(digest, str):
        raise CheckpointError(
            f"{directory}: written by an older fixar_gen that did not record the run's "
            "settings, so --resume cannot check that it continues the same run; start "
            "again with --overwrite")
    if settings_digest(stored) != digest:
        raise CheckpointError(f"{directory}: the recorded settings do not match their "
                              "digest (the checkpoint was edited or damaged)")
    if digest == settings_digest(settings):
        return
    stored = with_defaults(stored)
    if settings_digest(stored) == settings_digest(settings):
        return
    difference = first_difference(stored, settings) or "settings differ"
    raise CheckpointError(f"{directory}: --resume with other settings than the "
                          f"checkpoint's: {difference} (resume with the same spec and "
                          "options, or start again with --overwrite)")
