"""Each vector function and drain activation is declared once (fixar_gen/ops/), and
everything that lists operations is derived from the declarations."""

import pytest

from fixar_gen import isa, ops, perf, placement
from fixar_gen.golden import GoldenMachine
from fixar_gen.hw import core, lane_plans
from fixar_gen.hw import vector as V
from fixar_gen.numerics import FixedFormat
from fixar_gen.ops.declare import Operand, Operation

# The encoding of every existing program depends on these numbers: Vector.fn and
# Drain.act.  Never renumber; a new operation takes the next free number.
PINNED_FUNCTIONS = (
    "copy", "add", "sub", "mul", "scale", "fill", "clip", "dact_relu", "dact_leaky",
    "dact_tanh", "mse_grad", "bellman", "sgd", "momentum", "adam_m", "adam_s", "adam_w",
    "soft_update", "range", "noise", "ou_noise", "acc_add", "abs", "minimum")
PINNED_ACTIVATIONS = ("identity", "relu", "tanh", "leaky_relu")
PINNED_OPCODES = {"load": 1, "store": 2, "mm": 3, "drain": 4, "vec": 5, "barrier": 6,
                  "halt": 7, "xfer": 8}


def test_numbering_is_pinned():
    assert isa.VECTOR_FUNCTIONS[:len(PINNED_FUNCTIONS)] == PINNED_FUNCTIONS
    assert isa.ACTIVATIONS == PINNED_ACTIVATIONS
    assert {cls.MNEMONIC: cls.OPCODE for cls in isa.ALL_INSTRUCTIONS} == PINNED_OPCODES
    for number, op in enumerate(ops.VECTOR):
        assert op.number == number and op.instruction == "vec"
        assert isa.decode(isa.encode(isa.Vector(fn=number))).fn == number
    for number, op in enumerate(ops.DRAIN):
        assert (op.number, op.instruction, op.name) == (number, "drain",
                                                         f"drain_{op.activation}")


def test_encodings_of_a_known_vector_word_are_unchanged():
    # vec fn=adam_w (16) dst=3 a=4 b=5 c=6 e=NO_BUFFER rows=0:2 cols=1:4 src_col=1
    word = isa.encode(isa.Vector(fn=16, dst=3, a=4, b=5, c=6, rows=isa.Range(0, 2),
                                 cols=isa.Range(1, 3), src_col=1))
    assert word == (5 | 16 << 10 | 3 << 16 | 4 << 26 | 5 << 36 | 6 << 46
                    | isa.NO_BUFFER << 56 | (0 | 1 << 16) << 66 | (1 | 2 << 16) << 98
                    | 1 << 130)


def test_everything_lists_the_declared_operations():
    assert isa.VECTOR_FUNCTIONS == tuple(op.name for op in ops.VECTOR)
    assert isa.VECTOR_SEMANTICS == {op.name: op.semantics for op in ops.VECTOR}
    assert V.ELEMENT_OPS == tuple(op.name for op in ops.ELEMENT)
    assert V.OPERAND_ROLES == {op.name: op.lane_roles for op in ops.ELEMENT}
    assert set(lane_plans.PLANS) == set(V.ELEMENT_OPS)
    assert core.SERIAL_FUNCTIONS == ("noise", "ou_noise")
    assert core.FOLDED_FUNCTIONS == ("range",)
    assert perf.LINK_FUNCTIONS == ("acc_add",)
    assert dict(perf.DEFAULT_VECTOR_LATENCY) == {
        op.name: op.target_latency for op in ops.VECTOR if op.unit == "vector"}
    assert dict(perf.DEFAULT_DRAIN_LATENCY) == {
        op.activation: op.target_latency for op in ops.DRAIN}
    assert set(placement.READS_DST) == {op.name for op in ops.VECTOR if op.reads_dst}
    assert placement.WRITES_B == ("noise", "ou_noise")
    assert placement.WRITES_E == ("ou_noise",)


@pytest.mark.parametrize("op", ops.ELEMENT, ids=lambda op: op.name)
def test_declared_kernels_exist(op):
    from fixar_gen.engine import EngineMachine as Engine
    assert callable(getattr(GoldenMachine, op.golden))
    if op.engine is not None:
        assert callable(getattr(Engine, op.engine))


#: which operand each stage wire a lane plan may read comes from (intermediates that
#: carry no operand are not listed)
WIRE_ROLES = {
    "a": "a", "A": "a", "fa": "a", "b": "b", "B": "b", "fb": "b", "b_positive": "b", "b_zero": "b",
    "t_lo": "b", "t_hi": "b", "gauss": "b", "fmt_eps": "b", "c0": "c", "c1": "c", "C0": "c",
    "C1": "c", "fc": "c", "one_minus_c": "c", "d": "d", "D": "d", "fd": "d", "fmt_d": "d",
    "fmt_v": "d", "fmt_acc": "d", "root": "d", "e": "e", "E": "e", "fe": "e", "fmt_e": "e",
    "fpre": "pre", "fmt_pre": "pre", "drain0": ("a", "b"), "square_2": "a"}


@pytest.mark.parametrize("op", ops.ELEMENT, ids=lambda op: op.name)
def test_lane_plans_read_only_declared_operands(op):
    plan = lane_plans.PLANS[op.name]
    read = lane_plans.wires_read(plan)
    read = read["products"] | read["round1"] | read["round2"]
    roles = set()
    for name in read:
        role = WIRE_ROLES.get(name, ())
        roles |= {role} if isinstance(role, str) else set(role)
    if "square_1" in read:                      # the first squarer's operand
        roles.add(plan.square)
    declared = set(op.operands)
    assert roles <= declared, f"{op.name}'s plan reads {sorted(roles - declared)}"
    implicit = {"a", "b"} if plan.ratio else {"a", "d"} if plan.min_max else set()
    unread = declared - roles - implicit - {"d"}
    assert not unread, f"{op.name} declares {sorted(unread)} but its plan never reads them"
    assert ("e" in op.writes) == plan.e_from_first == (plan.first_counts == "e")


def test_every_engine_kernel_is_declared():
    from fixar_gen.engine import EngineMachine
    kernels = {name for name in vars(EngineMachine) if name.startswith("_k_")}
    vector_kernels = {k for k in kernels if k[3:] in isa.VECTOR_FUNCTIONS}
    assert vector_kernels == {op.engine for op in ops.VECTOR if op.engine}
    assert {op.engine for op in ops.DRAIN} == {"_k_drain"}


def test_plan_limits_refuse_what_golden_cannot_compute():
    q = FixedFormat
    V.check_supported("drain_tanh", word=82, fmt_a=q(64, 40), fmt_d=q(16, 8),
                      fmt_pre=q(40, V.TANH_MAX_PRE_FRAC))
    with pytest.raises(ValueError, match="int64 tanh table needs frac <= 38"):
        V.check_supported("drain_tanh", word=82, fmt_a=q(64, 40), fmt_d=q(16, 8),
                          fmt_pre=q(40, 39))
    with pytest.raises(ValueError, match="adam_s squares a"):
        V.check_supported("adam_s", word=82, fmt_a=q(33, 4), fmt_c=q(33, 32, signed=False),
                          fmt_d=q(32, 4))
    with pytest.raises(ValueError, match="acc_add needs acc_bits"):
        V.check_supported("acc_add", word=82, fmt_a=q(64, 4), fmt_d=q(64, 4))


def test_bad_declarations_say_what_is_wrong():
    data = Operand("data")
    with pytest.raises(ValueError, match="declares its destination d"):
        Operation("x", 0, "", {"a": data})
    with pytest.raises(ValueError, match="unknown operand role"):
        Operation("x", 0, "", {"q": data, "d": data})
    with pytest.raises(ValueError, match="constants format"):
        Operation("x", 0, "", {"c": Operand("const"), "d": data})
    with pytest.raises(ValueError, match="kind"):
        Operand("wide")
    with pytest.raises(ValueError, match="numbers must be 0..1"):
        ops._numbered([Operation("x", 0, "", {"d": data}), Operation("y", 2, "", {"d": data})],
                      "test")
    with pytest.raises(ValueError, match="a target latency"):
        Operation("x", 0, "", {"d": data}, unit="link")
    assert Operation("x", 0, "", {"c": Operand("const"), "d": data},
                     constants=FixedFormat(8, 4)).golden == "_v_x"
