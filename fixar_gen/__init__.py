"""fixar_gen: a hardware generator for fixed-point deep-RL training accelerators.

It implements FIXAR (Yang, Hong, Kim, DAC 2021) as a generator: a spec (YAML or the
Python DSL in :mod:`fixar_gen.dsl`) describes the networks, the DDPG run, the numerics
and the accelerator; fixar_gen validates it, models it and elaborates it with PyRTL.
"""

from __future__ import annotations

from typing import Any

from .numerics import FixedFormat
from .params import SpecError

__version__ = "0.1.0"


def load_spec(source: Any):
    """A validated :class:`fixar_gen.spec.Spec` from a YAML path, a Python DSL file, a
    mapping in the YAML shape, a DSL Fragment or a Spec."""
    from .dsl import load_spec as _load
    return _load(source)


__all__ = ["FixedFormat", "SpecError", "load_spec", "__version__"]
