"""The spec: frozen, validated dataclasses, the one in-memory form of an accelerator
and its training run.

Every field is declared with :func:`fixar_gen.params.param` (documentation and what is
allowed); ``__post_init__`` checks the fields and the combinations between them and
raises :class:`SpecError` naming the field.  YAML files and the Python DSL
(:mod:`fixar_gen.dsl`) both end here, so they produce equal objects.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from .algorithms import ALGORITHMS
from .boards import BOARDS, dsps_per_pe
from .envs import EnvUnavailable, check_env_id, env_info
from .numerics import FixedFormat
from .params import SpecError, check_fields, nested, param
from .resources import check_fit

ACTIVATIONS = ("relu", "tanh", "identity", "leaky_relu")
OPTIMIZERS = ("adam", "sgd", "momentum")
NOISE_KINDS = ("gaussian", "ou")
#: ``hardware.vector_functions``: every element function, or the spec's programs' only
VECTOR_FUNCTION_SETS = ("all", "programs")
QUANTIZERS = ("pow2", "affine")
PRECISIONS = ("qat", "fxp32", "fxp16")
ROUNDINGS = ("nearest_even", "nearest_up", "truncate")
OVERFLOWS = ("saturate", "wrap")
POLICIES = ("intra_layer", "intra_batch", "auto")
TARGETS = ("sim", "u50")

MAX_WIDTH = 65_536
#: the largest per-core scratchpad (memory words) fixar_gen generates, on every target:
#: 2^26 words is 512 MiB of 64-bit words in the golden model's arrays, already beyond
#: what the simulators run at a useful speed; a U50 design is bounded by its board first
MAX_SCRATCHPAD_WORDS = 1 << 26


@dataclass(frozen=True)
class EnvSpec:
    """The gymnasium environment the agent trains on."""

    id: str = param("Pendulum-v1", "a registered gymnasium environment id (MuJoCo ids "
                    "need the `mujoco` extra; a module-qualified id, module:Env-v0, only "
                    "with fixar's --allow-env-module)", pattern=r"[A-Za-z0-9_./:-]{1,100}")
    seed: int = param(0, "seed of the environment, the agent and the on-chip PRNG",
                      min=0, max=2**32 - 1)

    def __post_init__(self) -> None:
        check_fields(self)
        try:
            check_env_id(self.id)
        except EnvUnavailable as exc:
            raise SpecError("id", str(exc)) from None


@dataclass(frozen=True)
class NetworkSpec:
    """One multi-layer perceptron: inputs -> hidden... -> outputs."""

    hidden: tuple[int, ...] = param((400, 300), "widths of the hidden layers",
                                    min=1, max=MAX_WIDTH, min_items=1, max_items=16)
    activation: str = param("relu", "activation of the hidden layers", choices=ACTIVATIONS)
    output: str = param("identity", "activation of the output layer", choices=ACTIVATIONS)
    inputs: int | None = param(None, "input width; null derives it from the environment "
                               "(actor: observation size; critic: observation + action size)",
                               min=1, max=MAX_WIDTH)
    outputs: int | None = param(None, "output width; null derives it from the environment "
                                "(actor: action size; critic: 1)", min=1, max=MAX_WIDTH)
    leaky_slope: float = param(0.01, "negative slope of leaky_relu", min=0.0, max=1.0,
                               min_exclusive=True, max_exclusive=True)

    def __post_init__(self) -> None:
        check_fields(self)

    @property
    def layer_sizes(self) -> tuple[int, ...]:
        """(inputs, hidden..., outputs); only complete once the spec is resolved."""
        if self.inputs is None or self.outputs is None:
            raise ValueError("network sizes are not resolved yet")
        return (self.inputs, *self.hidden, self.outputs)

    @property
    def param_count(self) -> int:
        sizes = self.layer_sizes
        return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


@dataclass(frozen=True)
class ActorSpec(NetworkSpec):
    """The policy network: state -> action (tanh output scaled to the action bound)."""

    output: str = param("tanh", "activation of the output layer", choices=ACTIVATIONS)


@dataclass(frozen=True)
class CriticSpec(NetworkSpec):
    """The Q network: (state, action) -> Q; the action is concatenated with the state at
    the input layer, as in FIXAR."""

    outputs: int | None = param(None, "output width: 1 (Q); null means 1", min=1, max=1)


@dataclass(frozen=True)
class NetworksSpec:
    """The DDPG actor and critic."""

    actor: ActorSpec = param(doc="the policy network", default_factory=ActorSpec)
    critic: CriticSpec = param(doc="the Q network", default_factory=CriticSpec)

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class NoiseSpec:
    """Exploration noise added to the actor's action while collecting samples."""

    kind: str = param("gaussian", "noise process", choices=NOISE_KINDS)
    sigma: float = param(0.1, "standard deviation, as a fraction of the action bound",
                         min=0.0, max=10.0)
    theta: float = param(0.15, "mean reversion rate (ou only)", min=0.0, max=10.0)
    dt: float = param(0.01, "time step (ou only)", min=0.0, max=1.0, min_exclusive=True)

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class AlgorithmSpec:
    """The training algorithm and its hyper-parameters (DDPG, or TD3)."""

    name: str = param("ddpg", "training algorithm: ddpg, or td3 (twin critics, clipped "
                      "double-Q target, target policy smoothing, delayed actor and target "
                      "updates)", choices=ALGORITHMS)
    policy_delay: int = param(2, "td3: critic updates per actor and target update",
                              min=1, max=64)
    target_noise: float = param(0.2, "td3: standard deviation of the Gaussian noise on "
                                "the target action (target policy smoothing), as a "
                                "fraction of the action bound", min=0.0, max=10.0)
    noise_clip: float = param(0.5, "td3: the target action's noise clipped to "
                              "[-noise_clip, noise_clip]", min=0.0, max=2.0)
    gamma: float = param(0.99, "discount factor", min=0.0, max=1.0)
    tau: float = param(0.005, "soft target update rate: w' <- tau w + (1 - tau) w'",
                       min=0.0, max=1.0, min_exclusive=True)
    batch_size: int = param(64, "samples per update", min=1, max=65_536)
    actor_lr: float = param(1e-4, "actor learning rate", min=0.0, max=1.0, min_exclusive=True)
    critic_lr: float = param(1e-3, "critic learning rate", min=0.0, max=1.0,
                             min_exclusive=True)
    optimizer: str = param("adam", "optimizer run on the core", choices=OPTIMIZERS)
    momentum: float = param(0.9, "momentum coefficient (momentum only)", min=0.0, max=1.0,
                            max_exclusive=True)
    adam_beta1: float = param(0.9, "Adam first-moment decay", min=0.0, max=1.0,
                              max_exclusive=True)
    adam_beta2: float = param(0.999, "Adam second-moment decay", min=0.0, max=1.0,
                              max_exclusive=True)
    adam_eps: float = param(1e-8, "Adam epsilon (rounded to the optimizer-state format "
                            "on the core)", min=0.0, max=1.0, min_exclusive=True)
    replay_size: int = param(100_000, "replay buffer capacity (kept by the host)",
                             min=1, max=100_000_000)
    warmup_steps: int = param(1_000, "environment steps with uniform random actions "
                              "before the first update", min=0, max=10**9)
    noise: NoiseSpec = param(doc="exploration noise", default_factory=NoiseSpec)
    total_steps: int = param(20_000, "environment steps of the whole run", min=1, max=10**9)
    updates_per_step: int = param(1, "DDPG updates per environment step after warm-up",
                                  min=1, max=64)
    eval_every: int = param(5_000, "environment steps between evaluation rounds "
                            "(0: never)", min=0, max=10**9)
    eval_episodes: int = param(5, "deterministic episodes per evaluation round",
                               min=1, max=1_000)
    reward_scale: float = param(1.0, "rewards are multiplied by this before they reach "
                                "the core (returns are reported unscaled)",
                                min=0.0, max=1e6, min_exclusive=True)

    def __post_init__(self) -> None:
        check_fields(self)
        if self.batch_size > self.replay_size:
            raise SpecError("batch_size", f"{self.batch_size} is larger than replay_size "
                            f"{self.replay_size} (at most replay_size)", also=("replay_size",))
        if self.warmup_steps >= self.total_steps:
            raise SpecError("warmup_steps", f"{self.warmup_steps} leaves no training steps "
                            f"in total_steps {self.total_steps} (fewer than total_steps)",
                            also=("total_steps",))

    @property
    def total_updates(self) -> int:
        """DDPG updates in the whole run (one per step after warm-up, times updates_per_step)."""
        return (self.total_steps - self.warmup_steps) * self.updates_per_step


@dataclass(frozen=True)
class FormatSpec:
    """A fixed-point format: `width` bits in all, `frac` of them after the binary point."""

    width: int = param(32, "total bits, sign included", min=2, max=64)
    frac: int = param(16, "fraction bits", min=0, max=64)

    def __post_init__(self) -> None:
        check_fields(self)
        if self.frac >= self.width:
            raise SpecError("frac", f"{self.frac} leaves no integer or sign bit in width "
                            f"{self.width} (at most width - 1)", also=("width",))


@dataclass(frozen=True)
class NumericsSpec:
    """Fixed-point formats and the quantization-aware training (QAT) schedule."""

    weight: FormatSpec = param(doc="weights and biases (and target networks)",
                               default_factory=lambda: FormatSpec(32, 24))
    activation: FormatSpec = param(doc="activations in FXP32 mode",
                                   default_factory=lambda: FormatSpec(32, 16))
    gradient: FormatSpec = param(doc="gradients of activations and weights",
                                 default_factory=lambda: FormatSpec(32, 24))
    fxp16_width: int = param(16, "activation width after quantization (FXP16 mode); "
                             "half the FXP32 activation width", min=2, max=32)
    precision: str = param("qat", "precision schedule: qat (FXP32, then FXP16 after "
                           "qat_delay), fxp32 throughout, or fxp16 from the start "
                           "(the ablation)", choices=PRECISIONS)
    quantizer: str = param("pow2", "how FXP16 activation formats are chosen from the "
                           "observed ranges: pow2 (shift only) or affine (FIXAR)",
                           choices=QUANTIZERS)
    qat_delay: int = param(5_000, "DDPG updates in FXP32 before activations switch to "
                           "FXP16 (qat only)", min=0, max=10**9)
    margin_bits: int = param(1, "extra integer bits above the observed activation range "
                             "when choosing FXP16 formats", min=0, max=16)
    qat_revise_every: int = param(0, "DDPG updates between revisions of the FXP16 "
                                  "activation formats after the switch: a tensor whose "
                                  "observed range (with the margin) outgrew its format, or "
                                  "saturated, gets a wider one (formats only widen); 0: the "
                                  "formats chosen at the switch are kept", min=0,
                                  max=10**9)
    fxp16_deltas: bool = param(False, "in FXP16 precision, the backward deltas that "
                               "the backward-data products stream (every hidden layer's "
                               "dz) also get 16-bit formats, chosen like the activations' "
                               "from range monitors and revised both ways at every "
                               "revision (needs qat_revise_every > 0 with precision qat)")
    rounding: str = param("nearest_even", "rounding of dropped fraction bits",
                          choices=ROUNDINGS)
    overflow: str = param("saturate", "what happens on overflow (saturations are counted)",
                          choices=OVERFLOWS)
    accumulator_width: int = param(80, "bits of the PE column accumulators; wide enough "
                                   "that no matmul result depends on summation order",
                                   min=16, max=94)

    def __post_init__(self) -> None:
        check_fields(self)
        if self.fxp16_width * 2 != self.activation.width:
            raise SpecError("fxp16_width", f"{self.fxp16_width} is not half the FXP32 "
                            f"activation width {self.activation.width} "
                            f"(must be {self.activation.width // 2})",
                            also=("activation.width",))
        if self.fxp16_deltas and self.precision == "qat" and not self.qat_revise_every:
            raise SpecError("fxp16_deltas", "16-bit deltas follow the gradients' range "
                            "through training: set qat_revise_every > 0 (e.g. 1000)",
                            also=("qat_revise_every",))

    def fixed(self, fmt: FormatSpec) -> FixedFormat:
        return FixedFormat(fmt.width, fmt.frac, signed=True, rounding=self.rounding,
                           overflow=self.overflow)

    @property
    def weight_format(self) -> FixedFormat:
        return self.fixed(self.weight)

    @property
    def activation_format(self) -> FixedFormat:
        return self.fixed(self.activation)

    @property
    def gradient_format(self) -> FixedFormat:
        return self.fixed(self.gradient)


@dataclass(frozen=True)
class MemorySpec:
    """On-chip memories of one core; null sizes are fitted to the networks."""

    weight_kib: int | None = param(None, "weight memory (online and target parameters)",
                                   min=1, max=1_048_576)
    state_kib: int | None = param(None, "gradient and optimizer-state memory", min=1,
                                  max=1_048_576)
    activation_kib: int | None = param(None, "activation memory", min=1, max=1_048_576)
    banks: int = param(16, "weight-memory banks (one weight word each per cycle)",
                       min=1, max=256)

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class HardwareSpec:
    """The accelerator: N adaptive-array-processing cores of R x C dual-mode PEs."""

    cores: int = param(2, "number of AAP cores", min=1, max=64)
    array: tuple[int, int] = param((16, 16), "PE array of each core: [rows, cols]",
                                   min=1, max=256)
    vector_lanes: int | None = param(None, "vector lanes per core: the element loop "
                                     "(vec, drain, load, store) takes a row's elements "
                                     "this many a cycle; null: one per array column",
                                     min=1, max=256)
    vector_functions: str = param(
        "all", "the element functions the vector lanes are built with: all (any "
        "program's) or programs (those the spec's own programs use, training and "
        "inference in FXP32 and FXP16, the narrow ones in lane 0 alone, one element a "
        "step; the serial functions stay in lane 0 either way): fewer LUTs, and the core "
        "refuses a program with another function",
        choices=VECTOR_FUNCTION_SETS)
    clock_mhz: float = param(164.0, "core clock", min=1.0, max=1_000.0)
    per_core_memories: bool | None = param(
        None, "each core its own copy of the data memories, descriptor and slot tables "
        "(the cores exchange words by xfer; every bank a one-core design's ports, so "
        "banks of more than 64 words map to block RAM); false or null: one set of "
        "memories shared by the cores (a line port per core on every bank); on one core "
        "the same design either way")
    memory: MemorySpec = param(doc="on-chip memories", default_factory=MemorySpec)

    def __post_init__(self) -> None:
        check_fields(self)

    @property
    def rows(self) -> int:
        return self.array[0]

    @property
    def cols(self) -> int:
        return self.array[1]

    @property
    def lanes(self) -> int:
        """Vector lanes per core: ``vector_lanes``, or the array's columns when null."""
        return self.cols if self.vector_lanes is None else self.vector_lanes

    @property
    def pe_count(self) -> int:
        return self.cores * self.rows * self.cols

    @property
    def memories_per_core(self) -> bool:
        """Whether the generated design gives each core its own memories:
        ``per_core_memories`` on more than one core (one core's memories are its own
        already: the design is the shared one)."""
        return bool(self.per_core_memories) and self.cores > 1


@dataclass(frozen=True)
class ParallelismSpec:
    """How work is split across cores, per phase (auto: the performance model picks)."""

    inference: str = param("intra_layer", "policy for inference (forward passes)",
                           choices=POLICIES)
    training: str = param("intra_batch", "policy for the training step (backprop, update)",
                          choices=POLICIES)

    def __post_init__(self) -> None:
        check_fields(self)


@dataclass(frozen=True)
class Spec:
    """A complete fixar_gen spec: what is computed, on which hardware, how parallelised."""

    name: str = param("default", "name of the design: it names the default output "
                      "folders (build/NAME, runs/NAME-BACKEND-sSEED, sweeps/NAME) and is "
                      "recorded in reports; generated files and modules keep fixed names "
                      "(fixar_core.v)", pattern=r"[A-Za-z][A-Za-z0-9_]{0,63}")
    env: EnvSpec = param(doc="environment", default_factory=EnvSpec)
    networks: NetworksSpec = param(doc="actor and critic", default_factory=NetworksSpec)
    algorithm: AlgorithmSpec = param(doc="the training algorithm (DDPG or TD3)",
                                     default_factory=AlgorithmSpec)
    numerics: NumericsSpec = param(doc="fixed-point formats and QAT",
                                   default_factory=NumericsSpec)
    hardware: HardwareSpec = param(doc="the accelerator", default_factory=HardwareSpec)
    parallelism: ParallelismSpec = param(doc="parallelism policy per phase",
                                         default_factory=ParallelismSpec)
    target: str = param("sim", "where the core runs: sim (golden model, PyRTL, "
                        "Verilator) or u50 (Alveo U50)", choices=TARGETS)

    def __post_init__(self) -> None:
        check_fields(self)
        object.__setattr__(self, "networks", self._resolved_networks())
        self._check_sizes()
        nested("numerics", self._check_accumulator)
        self._check_qat_delay()
        self._check_memories()
        self._check_board()

    # -- derived sizes -----------------------------------------------------------------

    def _resolved_networks(self) -> NetworksSpec:
        actor, critic = self.networks.actor, self.networks.critic
        if actor.inputs is not None and actor.outputs is not None:
            obs_dim, act_dim = actor.inputs, actor.outputs
            source = "actor.inputs + actor.outputs"
        else:
            missing = "inputs" if actor.inputs is None else "outputs"
            try:
                info = env_info(self.env.id)
            except EnvUnavailable as exc:
                raise SpecError("env.id", f"{exc}; or give networks.actor.inputs and "
                                "networks.actor.outputs", also=(f"networks.actor.{missing}",)
                                ) from None
            obs_dim, act_dim = info.obs_dim, info.action_dim
            source = f"{self.env.id}'s observation + action size"
            for field, value in (("inputs", obs_dim), ("outputs", act_dim)):
                given = getattr(actor, field)
                if given is not None and given != value:
                    raise SpecError(f"networks.actor.{field}", f"{given} does not match "
                                    f"{self.env.id} (must be {value} or null)")
        if critic.inputs is not None and critic.inputs != obs_dim + act_dim:
            raise SpecError("networks.critic.inputs", f"{critic.inputs} is not {source} = "
                            f"{obs_dim + act_dim} (the critic reads the state and the "
                            "action; or null)")
        return NetworksSpec(
            actor=dataclasses.replace(actor, inputs=obs_dim, outputs=act_dim),
            critic=dataclasses.replace(critic, inputs=obs_dim + act_dim, outputs=1),
        )

    @property
    def obs_dim(self) -> int:
        return self.networks.actor.layer_sizes[0]

    @property
    def action_dim(self) -> int:
        return self.networks.actor.layer_sizes[-1]

    @property
    def param_count(self) -> int:
        """Parameters (weights and biases) of the algorithm's networks (DDPG: the actor
        and the critic; TD3: and the twin critic)."""
        return sum(getattr(self.networks, kind).param_count for kind in self._net_roles())

    def _net_roles(self) -> tuple[str, ...]:
        """The NetworksSpec network of each of the algorithm's networks, in order."""
        from .algorithms import algorithm
        return tuple(algorithm(self.algorithm.name).NETS.values())

    @property
    def max_fan_in(self) -> int:
        """The longest sum any matmul forms: a layer's inputs (forward), outputs
        (backward-data) or the batch (weight gradients)."""
        sizes = [*self.networks.actor.layer_sizes, *self.networks.critic.layer_sizes]
        return max(max(sizes), self.algorithm.batch_size)

    # -- cross-field checks ---------------------------------------------------------------

    def scratchpad_words_at_least(self) -> dict[str, int]:
        """A lower bound of the words one core's scratchpad needs (the compiler's
        layout, :func:`fixar_gen.hw.design.config_for`, adds accumulators, host slots
        and a margin): the parameters with their target copies, gradients and optimizer
        state, and one batch of the widest layer's activations (the placement,
        :mod:`fixar_gen.placement`, reuses the space of the others)."""
        opt_words = {"sgd": 0, "momentum": 1, "adam": 2}[self.algorithm.optimizer]
        acts = max(*self.networks.actor.layer_sizes, *self.networks.critic.layer_sizes)
        return {"parameters": self.param_count * (3 + opt_words),
                "activations": self.algorithm.batch_size * acts}

    def _check_sizes(self) -> None:
        parts = self.scratchpad_words_at_least()
        words = sum(parts.values())
        if words <= MAX_SCRATCHPAD_WORDS:
            return
        actor, critic = self.networks.actor, self.networks.critic
        nets = (f"actor {'-'.join(map(str, actor.layer_sizes))} and critic "
                f"{'-'.join(map(str, critic.layer_sizes))}")
        what = (f"{nets} ({self.param_count:,} parameters) with batch "
                f"{self.algorithm.batch_size} would generate a core whose scratchpad holds "
                f"at least {words:,} words ({parts['parameters']:,} for parameters, target "
                f"copies, gradients and optimizer state, {parts['activations']:,} for a "
                f"batch of the widest layer's activations); at most "
                f"{MAX_SCRATCHPAD_WORDS:,} words are "
                "generated on any target")
        if parts["activations"] > parts["parameters"]:
            raise SpecError("algorithm.batch_size", f"{self.algorithm.batch_size} is too "
                            f"large: {what} (a smaller batch or smaller networks)",
                            also=("networks.actor.hidden", "networks.critic.hidden"))
        big = "actor" if actor.param_count >= critic.param_count else "critic"
        other = "critic" if big == "actor" else "actor"
        hidden = getattr(self.networks, big).hidden
        raise SpecError(f"networks.{big}.hidden", f"{list(hidden)} is too large: {what} "
                        "(smaller networks)", also=(f"networks.{other}.hidden",))

    def _check_accumulator(self) -> None:
        n = self.numerics
        product = max(n.weight.width + n.activation.width,
                      n.gradient.width + n.activation.width,
                      n.weight.width + n.gradient.width)
        needed = product + math.ceil(math.log2(self.max_fan_in))
        if n.accumulator_width < needed:
            raise SpecError("accumulator_width", f"{n.accumulator_width} bits can overflow: "
                            f"{product}-bit products summed {self.max_fan_in} times need "
                            f"{needed} (at least {needed}, at most 94)")

    def _check_qat_delay(self) -> None:
        n, updates = self.numerics, self.algorithm.total_updates
        if n.precision == "qat" and n.qat_delay > updates:
            raise SpecError("numerics.qat_delay", f"{n.qat_delay} updates is beyond the "
                            f"{updates} updates of the run (at most {updates}: "
                            "(total_steps - warmup_steps) * updates_per_step)",
                            also=("algorithm.total_steps",))

    def memory_needs(self) -> dict[str, int]:
        """Bytes each on-chip memory of one core needs for these networks.

        weight: online and target parameters; state: gradients plus the optimizer's
        per-parameter words (momentum 1, Adam 2); activation: one sample's activations of
        every layer of every network (one sample per core at a time, as in FIXAR)."""
        n = self.numerics
        params = self.param_count
        wbytes, gbytes = math.ceil(n.weight.width / 8), math.ceil(n.gradient.width / 8)
        opt_words = {"sgd": 0, "momentum": 1, "adam": 2}[self.algorithm.optimizer]
        acts = sum(sum(getattr(self.networks, kind).layer_sizes) for kind in self._net_roles())
        return {
            "weight_kib": 2 * params * wbytes,
            "state_kib": params * (gbytes + opt_words * wbytes),
            "activation_kib": 2 * acts * math.ceil(n.activation.width / 8),
        }

    def _check_memories(self) -> None:
        mem = self.hardware.memory
        for field, need in self.memory_needs().items():
            have = getattr(mem, field)
            if have is not None and have * 1024 < need:
                raise SpecError(f"hardware.memory.{field}", f"{have} KiB cannot hold the "
                                f"networks' {need} bytes (at least {math.ceil(need / 1024)}, "
                                "or null to fit automatically)")

    def _check_board(self) -> None:
        board = BOARDS.get(self.target)
        if board is None:
            return
        hw, n = self.hardware, self.numerics
        per_pe = dsps_per_pe(n.weight.width, n.activation.width // 2)
        need = hw.pe_count * per_pe
        have = board.usable("dsps")
        if need > have:
            raise SpecError("hardware.array", f"{hw.cores} cores x {hw.rows}x{hw.cols} PEs "
                            f"need {need} DSP48E2 ({per_pe} per PE) but the {board.name} "
                            f"leaves {have} to the kernel (at most {have // per_pe} PEs in "
                            "all)", also=("hardware.cores",))
        check_fit(self)       # every resource of the whole design (fixar_gen.resources)


def spec_data(spec) -> dict:
    """A spec (or any of its parts) as plain data: mappings in field order, lists for
    tuples; what ``fixar show`` prints and what a checkpoint records of its run."""
    def plain(value):
        if dataclasses.is_dataclass(value):
            return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        return value
    return plain(spec)
