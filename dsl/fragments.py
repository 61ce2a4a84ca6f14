"""The Python DSL: specs composed from named fragments, Chipyard style.

    spec = (Default() + U50() + Cores(4) + Array(16, 16) + QAT(delay=20_000)
            + Actor(400, 300) + Critic(400, 300)).spec()

A fragment is a small located tree of overrides; ``a + b`` applies ``b`` over ``a`` (a
later fragment wins), and ``.spec()`` validates the result into a frozen
:class:`~fixar_gen.spec.Spec`.  YAML files name the same fragments under
``fragments:`` (``[U50, {Cores: 4}, {Array: [16, 16]}]``), so both front ends produce
equal objects.  An error points at the Python line that called the fragment.
"""

from __future__ import annotations

import inspect
import os
import sys
from typing import Any, Callable

from fixar_gen.params import SpecError

from .tree import Loc, Node, at_path, from_plain, merge

_DSL_DIR = os.path.dirname(os.path.abspath(__file__))


def _caller_loc(note: str) -> Loc:
    """The first frame outside this package: where the user called the fragment."""
    frame = sys._getframe(1)
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) \
            == _DSL_DIR:
        frame = frame.f_back
    if frame is None:
        return Loc("<dsl>", note=note)
    info = inspect.getframeinfo(frame, context=0)
    pos = info.positions
    col = (pos.col_offset + 1) if pos is not None and pos.col_offset is not None else 1
    return Loc(info.filename, info.lineno, col, note)


class Fragment:
    """A named set of overrides, composable with ``+``."""

    def __init__(self, label: str, settings: dict[str, Any], loc: Loc | None = None,
                 tree: Node | None = None):
        self.label = label
        self.loc = loc or _caller_loc(label)
        self.tree = tree if tree is not None else _settings_tree(settings, self.loc)

    def __add__(self, other: "Fragment") -> "Fragment":
        if not isinstance(other, Fragment):
            return NotImplemented
        return Fragment(f"{self.label} + {other.label}", {}, self.loc,
                        merge(self.tree, other.tree) or Node({}, self.loc))

    def spec(self):
        """The validated, frozen spec (raises SpecError with the fragment's location)."""
        from fixar_gen.spec import Spec

        from .build import build
        return build(Spec, self.tree)

    def __repr__(self) -> str:
        return self.label


def _settings_tree(settings: dict[str, Any], loc: Loc) -> Node:
    tree = Node({}, loc)
    for path, value in settings.items():
        if value is not None:
            tree = merge(tree, at_path(path, value, loc))
    return tree


def _label(name: str, *args: Any, **kwargs: Any) -> str:
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()
                                        if v is not None]
    return f"{name}({', '.join(parts)})"


# ---------------------------------------------------------------------------
# the fragments (each one a few fields; Set() reaches any field)


def Default() -> Fragment:
    """The defaults of every field (docs/spec.md lists them)."""
    return Fragment("Default()", {})


def Name(name: str) -> Fragment:
    """The design's name (generated files and modules are named after it)."""
    return Fragment(_label("Name", name), {"name": name})


def Env(id: str, seed: int | None = None) -> Fragment:
    """The gymnasium environment (and seed)."""
    return Fragment(_label("Env", id, seed=seed), {"env.id": id, "env.seed": seed})


def Seed(seed: int) -> Fragment:
    """The seed of the environment, the agent and the on-chip PRNG."""
    return Fragment(_label("Seed", seed), {"env.seed": seed})


def _network(which: str, hidden: tuple[int, ...], **fields: Any) -> Fragment:
    settings = {f"networks.{which}.hidden": list(hidden) if hidden else None}
    settings.update({f"networks.{which}.{k}": v for k, v in fields.items()})
    return Fragment(_label(which.capitalize(), *hidden, **fields), settings)


def Actor(*hidden: int, activation: str | None = None, output: str | None = None,
          leaky_slope: float | None = None) -> Fragment:
    """The actor's hidden widths and activations, e.g. ``Actor(400, 300)``."""
    return _network("actor", hidden, activation=activation, output=output,
                    leaky_slope=leaky_slope)


def Critic(*hidden: int, activation: str | None = None, output: str | None = None,
           leaky_slope: float | None = None) -> Fragment:
    """The critic's hidden widths and activations, e.g. ``Critic(400, 300)``."""
    return _network("critic", hidden, activation=activation, output=output,
                    leaky_slope=leaky_slope)


def DDPG(**fields: Any) -> Fragment:
    """Any algorithm field, e.g. ``DDPG(gamma=0.99, batch_size=256)``."""
    return Fragment(_label("DDPG", **fields), {f"algorithm.{k}": v for k, v in fields.items()})


def TD3(policy_delay: int | None = None, target_noise: float | None = None,
        noise_clip: float | None = None, **fields: Any) -> Fragment:
    """TD3 instead of DDPG, e.g. ``TD3(policy_delay=2)``; other fields as ``DDPG``'s.

    ``TD3(policy_delay=2, target_noise=0.2, noise_clip=0.5)`` are TD3's defaults."""
    given = dict(policy_delay=policy_delay, target_noise=target_noise,
                 noise_clip=noise_clip, **fields)
    settings = {"algorithm.name": "td3"}
    settings.update({f"algorithm.{k}": v for k, v in given.items() if v is not None})
    return Fragment(_label("TD3", **given), settings)


def Batch(size: int) -> Fragment:
    """Samples per DDPG update."""
    return Fragment(_label("Batch", size), {"algorithm.batch_size": size})


def Steps(total: int, warmup: int | None = None, eval_every: int | None = None) -> Fragment:
    """Environment steps of the run, of the random warm-up, between evaluations."""
    return Fragment(_label("Steps", total, warmup=warmup, eval_every=eval_every),
                    {"algorithm.total_steps": total, "algorithm.warmup_steps": warmup,
                     "algorithm.eval_every": eval_every})


def Optimizer(name: str, actor_lr: float | None = None,
              critic_lr: float | None = None) -> Fragment:
    """The optimizer run on the core (adam, sgd, momentum) and its learning rates."""
    return Fragment(_label("Optimizer", name, actor_lr=actor_lr, critic_lr=critic_lr),
                    {"algorithm.optimizer": name, "algorithm.actor_lr": actor_lr,
                     "algorithm.critic_lr": critic_lr})


def Noise(kind: str, sigma: float | None = None, theta: float | None = None) -> Fragment:
    """Exploration noise: gaussian or ou, with its sigma (and theta for ou)."""
    return Fragment(_label("Noise", kind, sigma=sigma, theta=theta),
                    {"algorithm.noise.kind": kind, "algorithm.noise.sigma": sigma,
                     "algorithm.noise.theta": theta})


def Formats(weight: tuple[int, int] | None = None, activation: tuple[int, int] | None = None,
            gradient: tuple[int, int] | None = None) -> Fragment:
    """FXP32 formats as (width, frac), e.g. ``Formats(weight=(32, 24))``."""
    settings: dict[str, Any] = {}
    for name, fmt in (("weight", weight), ("activation", activation),
                      ("gradient", gradient)):
        if fmt is not None:
            width, frac = fmt
            settings[f"numerics.{name}"] = {"width": width, "frac": frac}
    return Fragment(_label("Formats", weight=weight, activation=activation,
                           gradient=gradient), settings)


def QAT(delay: int | None = None, quantizer: str | None = None,
        margin_bits: int | None = None, revise_every: int | None = None,
        deltas: bool | None = None) -> Fragment:
    """Quantization-aware training: FXP32 for ``delay`` updates, then FXP16 activations
    (formats widened every ``revise_every`` updates where the ranges outgrew them);
    ``deltas``: the streamed backward deltas 16-bit too (``numerics.fxp16_deltas``)."""
    return Fragment(_label("QAT", delay=delay, quantizer=quantizer, margin_bits=margin_bits,
                           revise_every=revise_every, deltas=deltas),
                    {"numerics.precision": "qat", "numerics.qat_delay": delay,
                     "numerics.quantizer": quantizer, "numerics.margin_bits": margin_bits,
                     "numerics.qat_revise_every": revise_every,
                     "numerics.fxp16_deltas": deltas})


def FXP32() -> Fragment:
    """FXP32 throughout (no QAT)."""
    return Fragment("FXP32()", {"numerics.precision": "fxp32"})


def FXP16() -> Fragment:
    """FXP16 activations from the start (the ablation that collapses in FIXAR)."""
    return Fragment("FXP16()", {"numerics.precision": "fxp16"})


def Numerics(**fields: Any) -> Fragment:
    """Any numerics field, e.g. ``Numerics(rounding="truncate")``."""
    return Fragment(_label("Numerics", **fields), {f"numerics.{k}": v for k, v in fields.items()})


def Cores(n: int) -> Fragment:
    """The number of AAP cores."""
    return Fragment(_label("Cores", n), {"hardware.cores": n})


def Array(rows: int, cols: int) -> Fragment:
    """Each core's PE array: rows x cols."""
    return Fragment(_label("Array", rows, cols), {"hardware.array": [rows, cols]})


def Lanes(n: int) -> Fragment:
    """Vector lanes per core (by default one per array column)."""
    return Fragment(_label("Lanes", n), {"hardware.vector_lanes": n})


def LaneFunctions(which: str = "programs") -> Fragment:
    """The element functions the vector lanes are built with: ``"programs"`` (those the
    spec's own programs use) or ``"all"``."""
    return Fragment(_label("LaneFunctions", which), {"hardware.vector_functions": which})


def PerCoreMemories(on: bool = True) -> Fragment:
    """Each core its own copy of the memories (``False``: shared by the cores)."""
    return Fragment(_label("PerCoreMemories", on), {"hardware.per_core_memories": on})


def Clock(mhz: float) -> Fragment:
    """The core clock in MHz."""
    return Fragment(_label("Clock", mhz), {"hardware.clock_mhz": mhz})


def Memory(**fields: Any) -> Fragment:
    """On-chip memory sizes (KiB) and banks, e.g. ``Memory(weight_kib=1088)``."""
    return Fragment(_label("Memory", **fields),
                    {f"hardware.memory.{k}": v for k, v in fields.items()})


def Parallelism(inference: str | None = None, training: str | None = None) -> Fragment:
    """The policy per phase: intra_layer, intra_batch or auto."""
    return Fragment(_label("Parallelism", inference=inference, training=training),
                    {"parallelism.inference": inference, "parallelism.training": training})


def U50() -> Fragment:
    """The Alveo U50 target, at the 164 MHz FIXAR closed timing at on this card."""
    return Fragment("U50()", {"target": "u50", "hardware.clock_mhz": 164.0})


def Sim() -> Fragment:
    """Simulation only (no board budget is checked)."""
    return Fragment("Sim()", {"target": "sim"})


def Set(path: str, value: Any) -> Fragment:
    """Any field by its dotted path, e.g. ``Set("algorithm.gamma", 0.98)``."""
    return Fragment(_label("Set", path, value), {path: value})


def FromMapping(mapping: dict[str, Any]) -> Fragment:
    """A fragment written as data, in the YAML shape."""
    loc = _caller_loc("FromMapping(...)")
    return Fragment("FromMapping(...)", {}, loc, from_plain(mapping, loc))


#: fragments by the name YAML uses under ``fragments:``
FRAGMENTS: dict[str, Callable[..., Fragment]] = {
    f.__name__: f for f in (Default, Name, Env, Seed, Actor, Critic, DDPG, TD3, Batch, Steps,
                            Optimizer, Noise, Formats, QAT, FXP32, FXP16, Numerics, Cores,
                            Array, Lanes, LaneFunctions, PerCoreMemories, Clock, Memory, Parallelism, U50,
                            Sim, Set)
}


def fragment_from_yaml(entry: Node, field: str) -> Fragment:
    """A fragment named in YAML: ``U50``, ``{Cores: 4}``, ``{Array: [16, 16]}`` or
    ``{QAT: {delay: 20000}}``; its values are located at the entry."""
    from .tree import to_plain

    if isinstance(entry.value, str):
        name, args = entry.value, None
    elif entry.is_map and len(entry.value) == 1:
        name, node = next(iter(entry.value.items()))
        args = to_plain(node)
    else:
        raise SpecError(field, "expected a fragment name or {Name: arguments}, e.g. U50 or "
                        "{Cores: 4}", str(entry.loc))
    fn = FRAGMENTS.get(name)
    if fn is None:
        import difflib
        close = difflib.get_close_matches(name, FRAGMENTS, n=1, cutoff=0.6)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise SpecError(field, f"unknown fragment {name!r} ({hint}known: "
                        f"{', '.join(FRAGMENTS)})", str(entry.loc))
    loc = Loc(entry.loc.file, entry.loc.line, entry.loc.col, f"fragment {name}")
    try:
        if args is None:
            frag = fn()
        elif isinstance(args, dict):
            frag = fn(**args)
        elif isinstance(args, list):
            frag = fn(*args)
        else:
            frag = fn(args)
    except TypeError as exc:
        signature = _signature(name, fn)
        detail = str(exc).split(") ", 1)[-1] if ") " in str(exc) else str(exc)
        raise SpecError(field, f"wrong arguments for {name}: {detail} (takes "
                        f"{signature})", str(entry.loc)) from None
    return Fragment(frag.label, {}, loc, _relocate(frag.tree, loc))


def _signature(name: str, fn: Callable) -> str:
    """``Array(rows, cols)``, ``QAT(delay=None, ...)``: a fragment's call shape."""
    parts = []
    for p in inspect.signature(fn).parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            parts.append(f"*{p.name}")
        elif p.kind is p.VAR_KEYWORD:
            parts.append(f"**{p.name}")
        elif p.default is p.empty:
            parts.append(p.name)
        else:
            parts.append(f"{p.name}={p.default!r}")
    return f"{name}({', '.join(parts)})"


def _relocate(node: Node, loc: Loc) -> Node:
    if node.is_map:
        value = {k: _relocate(v, loc) for k, v in node.value.items()}
        for child in value.values():
            child.key_loc = loc
    elif node.is_seq:
        value = [_relocate(v, loc) for v in node.value]
    else:
        value = node.value
    return Node(value, loc, loc if node.key_loc else None)
