"""The training algorithms the core runs, each in its own module, chosen by
``spec.algorithm.name``.

An algorithm module declares:

- ``NETS``: its networks, name -> the :class:`~fixar_gen.spec.NetworksSpec` network it
  is an instance of (its shape, activations and activation formats; TD3's twin critic
  ``critic2`` is a second ``critic``); every network has a target copy;
- ``TRAIN_PHASES``: the training programs it compiles (the first is its full update),
  ``train_phase(spec, t)``, the program of update ``t`` (0, 1, ...), and
  ``optimizer_steps(spec, t)``, each network role's optimizer step count then (Adam's
  bias correction), and ``phase_counts(spec)``, how often each program runs in one
  period of updates (the cycle models average one update over it);
- ``add_constants(layout, spec)``: its constant buffers beyond the ones every
  algorithm shares (:func:`fixar_gen.compiler.build_layout`), and
  ``host_constants(spec)``: their values, written by the host once;
- ``BACKWARD``: the (pass, networks) its training programs backpropagate through, whose
  hidden layers' deltas get 16-bit formats with ``numerics.fxp16_deltas``
  (:func:`fixar_gen.compiler.delta_keys`);
- ``emit_train(E, phase, ...)``: the training program, lowered through the compiler's
  :class:`~fixar_gen.compiler.Emitter`;
- ``float_twin(spec, dtype, params, seed)``: the same update in plain floating point
  (:mod:`fixar_gen.rl`).

Adding an algorithm is one such module and its name in :data:`ALGORITHMS`.
"""

from __future__ import annotations

import importlib

#: algorithm name -> its module (``fixar_gen.algorithms.<name>``)
ALGORITHMS = ("ddpg", "td3")


def algorithm(name: str):
    """The module of algorithm ``name``."""
    if name not in ALGORITHMS:
        raise ValueError(f"algorithm {name!r} is not one of {', '.join(ALGORITHMS)}")
    return importlib.import_module(f"{__name__}.{name}")


def of(spec):
    """The module of ``spec``'s algorithm."""
    return algorithm(spec.algorithm.name)
