"""fixar_gen.dsl: the two front ends of the spec language.

YAML files (:func:`load_spec`) and Python fragments (``Default() + U50() + Cores(4)``)
both produce the frozen :class:`fixar_gen.spec.Spec`; errors name
``file:line:col: field: message``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .fragments import (FRAGMENTS, DDPG, FXP16, FXP32, QAT, U50, Actor, Array, Batch, Clock,
                        Cores, Critic, Default, Env, Formats, Fragment, FromMapping, Lanes,
                        LaneFunctions, Memory, Name, Noise, Numerics, Optimizer, Parallelism, PerCoreMemories,
                        Seed, Set, Sim, Steps, TD3)
from .tree import Loc, from_plain


def load_spec(source: Any):
    """A validated Spec from a YAML path, a Python DSL file (defining ``spec``), a plain
    mapping in the YAML shape, a Fragment, or a Spec (returned as is)."""
    from fixar_gen.spec import Spec

    from .build import build
    from .pyfile import load_python_spec
    from .yaml_loader import load_tree

    if isinstance(source, Spec):
        return source
    if isinstance(source, Fragment):
        return source.spec()
    if isinstance(source, dict):
        return build(Spec, _mapping_tree(source))
    path = Path(source)
    if path.suffix == ".py":
        return load_python_spec(path)
    return build(Spec, load_tree(path))


def _mapping_tree(mapping: dict):
    from .yaml_loader import apply_base_and_fragments
    return apply_base_and_fragments(from_plain(mapping, Loc("<mapping>")), Path("."), ())


__all__ = ["load_spec", "Fragment", "FRAGMENTS", "Default", "Name", "Env", "Seed", "Actor",
           "Critic", "DDPG", "TD3", "Batch", "Steps", "Optimizer", "Noise", "Formats", "QAT",
           "FXP32", "FXP16", "Numerics", "Cores", "Array", "Lanes",
           "LaneFunctions", "PerCoreMemories", "Clock", "Memory", "Parallelism",
           "U50", "Sim", "Set", "FromMapping"]
