"""Fusion passes of the golden model's execution engine (:mod:`fixar_gen.engine`): which
consecutive steps of a compiled plan may run as one kernel without changing a bit.

A pass only finds groups; the engine builds each group's kernel and falls back to the
group's own steps, one by one, whenever the fused kernel's bounds do not hold.  Each
pass is a pure function of the instructions, testable alone.

- :func:`adam_groups`: ``adam_m``, ``adam_s``, ``adam_w`` of one parameter (the same
  whole-buffer region, m and s read by adam_w being what adam_m and adam_s wrote, one
  gradient for both moments, no buffer shared otherwise).  Every result of the three is
  element-wise, so computing the three per element gives what the three instructions
  give in program order.  :func:`soft_into_adam` then moves the parameter's soft target
  update (later in the program) into the same pass when nothing in between touches
  the target or writes the parameter or tau, so the target's new value comes from the
  weight just computed, as it would later.
- :func:`mm_drain_groups`: a matrix product (not accumulating) and the drain of exactly
  its result, with the range monitors after it: the drain reads the product where BLAS
  left it (float64, exact) and writes the accumulator in the same pass.
- :func:`ksplit_groups`: the two per-core pieces of a product split along its reduction
  range (each into its own accumulator), the acc_add that sums them and the drain of
  the sum: both pieces into float64 scratch, the second piece's accumulator written,
  the exact sum drained straight from scratch into the first's.
- :func:`dact_into_drain`: the dact_relu right after a fused drain that reads its
  output (relu's derivative of a backpropagated gradient): computed in the drain's pass.
- :func:`range_groups`: range monitors of one buffer over disjoint rows, one after the
  other (the per-core monitors of a layer's input): one pass over the rows.
- :func:`drain_range_groups`: a drain followed by the range monitors of what it just
  wrote (each monitor reading rows of the drain's region, all of its columns, the
  monitors' rows disjoint): the monitors' minimum and maximum come out of the drain's
  own pass.
"""

from __future__ import annotations

from typing import NamedTuple

from . import isa
from .isa import NO_BUFFER, Drain, MatMul, Vector


class Fused(NamedTuple):
    """Steps run as one kernel: ``kind`` names the fusion, ``parts`` the (pc, kernel,
    instruction) steps it replaces, in program order."""

    kind: str
    parts: tuple


def _fn(instr) -> str | None:
    return isa.VECTOR_FUNCTIONS[instr.fn] if isinstance(instr, Vector) else None


def _whole(instr: Vector, table) -> bool:
    """The instruction covers its destination buffer, and every operand it names has
    the destination's shape (no broadcast row or column)."""
    d = table[instr.dst]
    if (instr.rows.start, instr.rows.count, instr.cols.start, instr.cols.count,
            instr.src_col) != (0, d.rows, 0, d.cols, 0):
        return False
    return all(table[b].rows == d.rows and table[b].cols == d.cols
               for b in (instr.a, instr.b) if b != NO_BUFFER)


def _leading(instr: Vector, table) -> bool:
    """The instruction covers every row and the first ``cols.count`` columns of its
    destination, and every operand it names has those rows and at least those
    columns (no broadcast row or column): a whole buffer, or a weight's logical
    columns left of its padded row stride."""
    d, n = table[instr.dst], instr.cols.count
    if (instr.rows.start, instr.rows.count, instr.cols.start, instr.src_col) != \
            (0, d.rows, 0, 0) or n > d.cols:
        return False
    return all(table[b].rows == d.rows and n <= table[b].cols
               for b in (instr.a, instr.b) if b != NO_BUFFER)


def is_adam_group(m_ins, s_ins, w_ins, table) -> bool:
    """adam_m, adam_s, adam_w of one parameter that may run as one element-wise pass
    (over whole buffers, but for the parameter's padding columns)."""
    if (_fn(m_ins), _fn(s_ins), _fn(w_ins)) != ("adam_m", "adam_s", "adam_w"):
        return False
    if not (_whole(m_ins, table) and _whole(s_ins, table) and _leading(w_ins, table)) \
            or w_ins.cols.count != table[m_ins.dst].cols:
        return False
    grad, m, s, w = m_ins.a, m_ins.dst, s_ins.dst, w_ins.dst
    if s_ins.a != grad or (w_ins.a, w_ins.b) != (m, s):
        return False
    return len({grad, m, s, w}) == 4 and NO_BUFFER not in (grad, m, s, w)


def adam_groups(steps: list, table) -> list:
    """The plan's steps with each fusable adam_m, adam_s, adam_w triple (all three with
    a kernel) replaced by one ``(pc, None, Fused("adam", parts))`` step."""
    out: list = []
    i = 0
    while i < len(steps):
        window = steps[i:i + 3]
        if len(window) == 3 and all(k is not None for _, k, _ in window) and \
                is_adam_group(*(ins for _, _, ins in window), table):
            out.append((window[0][0], None, Fused("adam", tuple(window))))
            i += 3
            continue
        out.append(steps[i])
        i += 1
    return out


def is_monitor_of(drain, rng, table) -> bool:
    """A range step that reads rows of what ``drain`` wrote, over the same columns, into
    a monitor the drain does not touch."""
    if _fn(rng) != "range" or not isinstance(drain, Drain) or rng.a != drain.dst:
        return False
    inside = drain.rows.start <= rng.rows.start and \
        rng.rows.start + rng.rows.count <= drain.rows.start + drain.rows.count
    return inside and rng.rows.count > 0 and rng.cols == drain.cols and \
        rng.dst not in (drain.dst, drain.acc, drain.bias)


def _monitors_after(steps: list, i: int, drain, table) -> int:
    """How many steps from i on are range monitors of ``drain``'s output (with kernels,
    distinct monitors over disjoint rows)."""
    monitors: set = set()
    rows: set = set()
    j = i
    while j < len(steps) and steps[j][1] is not None and \
            is_monitor_of(drain, steps[j][2], table):
        rng = steps[j][2]
        span = set(range(rng.rows.start, rng.rows.start + rng.rows.count))
        if rng.dst in monitors or span & rows:
            break
        monitors.add(rng.dst)
        rows |= span
        j += 1
    return j - i


def _numba_drain(instr) -> bool:
    """A drain whose activation the fused kernels compute (identity, relu)."""
    return isinstance(instr, Drain) and isa.ACTIVATIONS[instr.act] in ("identity", "relu")


def drain_range_groups(steps: list, table) -> list:
    """The plan's steps with each drain and the range monitors right after it that read
    its output (all with kernels; distinct monitors over disjoint rows) replaced by one
    ``(pc, None, Fused("drain_range", parts))`` step."""
    out: list = []
    i = 0
    while i < len(steps):
        pc, kernel, instr = steps[i]
        n = _monitors_after(steps, i + 1, instr, table) \
            if kernel is not None and _numba_drain(instr) else 0
        if n:
            out.append((pc, None, Fused("drain_range", tuple(steps[i:i + 1 + n]))))
        else:
            out.append(steps[i])
        i += 1 + n
    return out


def is_drain_of(mm, drain) -> bool:
    """A drain of exactly what a (non-accumulating) matrix product wrote, which the
    product does not read and which does not feed the drain's bias."""
    if not isinstance(mm, MatMul) or not isinstance(drain, Drain) or mm.accumulate:
        return False
    return drain.acc == mm.dst and drain.rows == mm.m and \
        (drain.src_col, drain.cols.count) == (mm.n.start, mm.n.count) and \
        drain.dst not in (mm.a, mm.b, mm.dst) and mm.dst != drain.bias


def mm_drain_groups(steps: list, table) -> list:
    """The plan's steps with each matrix product, its drain and the range monitors of
    the drain's output (all with kernels) replaced by one
    ``(pc, None, Fused("mm_drain", parts))`` step."""
    out: list = []
    i = 0
    while i < len(steps):
        if i + 1 < len(steps) and steps[i][1] is not None and steps[i + 1][1] is not None \
                and is_drain_of(steps[i][2], steps[i + 1][2]) and _numba_drain(steps[i + 1][2]):
            n = 2 + _monitors_after(steps, i + 2, steps[i + 1][2], table)
            out.append((steps[i][0], None, Fused("mm_drain", tuple(steps[i:i + n]))))
            i += n
            continue
        out.append(steps[i])
        i += 1
    return out


def is_ksplit(p0, p1, add, drain) -> bool:
    """Two pieces of one product over different reduction ranges into accumulators
    A0 and A1, ``acc_add`` A0 += A1 over the product's region, and a drain of A0's
    region (which reads neither piece's operand nor A1 besides)."""
    if not (isinstance(p0, MatMul) and isinstance(p1, MatMul)) or _fn(add) != "acc_add" \
            or p0.accumulate or p1.accumulate:
        return False
    same = (p0.a, p0.b, p0.ta, p0.tb, p0.mode, p0.m, p0.n) == \
        (p1.a, p1.b, p1.ta, p1.tb, p1.mode, p1.m, p1.n)
    if not same or p0.dst == p1.dst or p0.dst in (p0.a, p0.b) or p1.dst in (p1.a, p1.b):
        return False
    sums = add.dst == p0.dst and add.a == p1.dst and add.rows == p0.m and \
        add.cols == p0.n and add.src_col == p0.n.start
    return sums and is_drain_of(p0, drain) and drain.dst != p1.dst and drain.bias != p1.dst


def ksplit_groups(steps: list, table) -> list:
    """The plan's steps with each K-split product, its acc_add and drain (and the
    drain's monitors), all with kernels, replaced by one
    ``(pc, None, Fused("ksplit", parts))`` step."""
    out: list = []
    i = 0
    while i < len(steps):
        window = steps[i:i + 4]
        if len(window) == 4 and all(k is not None for _, k, _ in window) and \
                is_ksplit(*(ins for _, _, ins in window)):
            n = 4 + _monitors_after(steps, i + 4, window[3][2], table)
            out.append((steps[i][0], None, Fused("ksplit", tuple(steps[i:i + n]))))
            i += n
            continue
        out.append(steps[i])
        i += 1
    return out


def _names(instr) -> set:
    """Every buffer an instruction (or fused group) names, read or written."""
    if isinstance(instr, Fused):
        return set().union(*(_names(part) for _, _, part in instr.parts))
    fields = {"MatMul": ("dst", "a", "b"), "Drain": ("dst", "acc", "bias", "slope"),
              "Vector": ("dst", "a", "b", "c", "e"), "Load": ("dst",), "Store": ("src",)}
    return {getattr(instr, f) for f in fields.get(type(instr).__name__, ())} - {NO_BUFFER}


def _writes(instr) -> set:
    """Every buffer an instruction (or fused group) may write."""
    if isinstance(instr, Fused):
        return set().union(*(_writes(part) for _, _, part in instr.parts))
    if isinstance(instr, (MatMul, Drain)) or type(instr).__name__ == "Load":
        return {instr.dst}
    if isinstance(instr, Vector):
        extra = {instr.b, instr.e} if _fn(instr) in ("noise", "ou_noise") else set()
        return ({instr.dst} | extra) - {NO_BUFFER}
    return set()


def soft_into_adam(steps: list, table) -> list:
    """Each fused adam group followed, later, by the soft update of its parameter's
    target (``soft_update`` d=target a=parameter, buffers of one shape, over the
    parameter's region, with a kernel) gets that step as its fourth part, when no step
    in between names the target or writes the parameter or the constants row (moving it
    keeps every value)."""
    out = list(steps)
    i = 0
    while i < len(out):
        pc, kernel, instr = out[i]
        if isinstance(instr, Fused) and instr.kind == "adam" and len(instr.parts) == 3:
            w = instr.parts[2][2].dst
            for j in range(i + 1, len(out)):
                cand = out[j][2]
                if _fn(cand) == "soft_update" and cand.a == w and out[j][1] is not None \
                        and _leading(cand, table) and \
                        cand.cols.count == instr.parts[2][2].cols.count and \
                        table[cand.dst].cols == table[w].cols and \
                        cand.dst not in _names(instr) and \
                        cand.c != NO_BUFFER and cand.c not in _writes(instr):
                    between = out[i + 1:j]
                    if all(cand.dst not in _names(x) and not _writes(x) & {w, cand.c}
                           for _, _, x in between):
                        out[i] = (pc, kernel, Fused("adam", instr.parts + (out[j],)))
                        del out[j]
                    break
                if w in _writes(cand):
                    break
        i += 1
    return out


def range_groups(steps: list, table) -> list:
    """The plan's steps with each run of two or more range monitors of one buffer (same
    columns, disjoint rows, distinct monitors, all with kernels) replaced by one
    ``(pc, None, Fused("ranges", parts))`` step."""
    out: list = []
    i = 0
    while i < len(steps):
        pc, kernel, first = steps[i]
        j = i
        if kernel is not None and _fn(first) == "range":
            monitors: set = set()
            rows: set = set()
            while j < len(steps) and steps[j][1] is not None and _fn(steps[j][2]) == "range":
                rng = steps[j][2]
                span = set(range(rng.rows.start, rng.rows.start + rng.rows.count))
                if rng.a != first.a or rng.cols != first.cols or rng.dst in monitors or \
                        span & rows or rng.dst == rng.a or not span:
                    break
                monitors.add(rng.dst)
                rows |= span
                j += 1
        if j - i >= 2:
            out.append((pc, None, Fused("ranges", tuple(steps[i:j]))))
            i = j
        else:
            out.append(steps[i])
            i += 1
    return out


def dact_into_drain(steps: list, table) -> list:
    """Each fused drain group (mm_drain, ksplit, drain_range) followed by a dact_relu
    (with a kernel) of exactly the drain's output gets it as its last part, when the
    dact writes none of the group's buffers and reads neither the accumulator nor its
    own output, and its other operand b is read element for element (no broadcast)."""
    out: list = []
    i = 0
    while i < len(steps):
        pc, kernel, group = steps[i]
        if isinstance(group, Fused) and group.kind in ("mm_drain", "ksplit", "drain_range") \
                and i + 1 < len(steps) and steps[i + 1][1] is not None:
            dact = steps[i + 1][2]
            (drain,) = [ins for _, _, ins in group.parts if isinstance(ins, Drain)]
            if _fn(dact) == "dact_relu" and dact.a == drain.dst and \
                    dact.rows == drain.rows and dact.cols.count == drain.cols.count and \
                    dact.src_col == drain.cols.start and _elementwise(dact.b, dact, table) \
                    and dact.dst not in _names(group) | {dact.b} and \
                    dact.b not in (drain.acc, drain.dst):
                out.append((pc, kernel, Fused(group.kind, group.parts + (steps[i + 1],))))
                i += 2
                continue
        out.append(steps[i])
        i += 1
    return out


def _elementwise(buf: int, ins, table) -> bool:
    """Operand ``buf`` of a vector step is read at the step's own rows and columns (the
    vector unit broadcasts a one-row or one-column operand)."""
    b = table[buf]
    return (b.rows > 1 or (ins.rows.start, ins.rows.count) == (0, 1)) and \
        (b.cols > 1 or (ins.src_col, ins.cols.count) == (0, 1))


__all__ = ["Fused", "adam_groups", "dact_into_drain", "drain_range_groups", "is_adam_group", "is_drain_of",
           "is_ksplit", "is_monitor_of", "ksplit_groups", "mm_drain_groups",
           "range_groups", "soft_into_adam"]
