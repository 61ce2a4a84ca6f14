"""How far a core's units could overlap on the compiled programs: a bound for issue 14.

The generated RTL runs one instruction at a time per core: it fetches, decodes and
finishes each before the next (:func:`fixar_gen.perf.schedule_with` with the RTL's own
rule, exact against the simulated RTL).  This module schedules the same programs, with
the same per-instruction cycles, on a machine the RTL does not implement yet, so that
the gain of decoupling the units is known before they are built:

- each core dispatches its instructions in program order, one every
  ``dispatch_interval`` cycles, into one queue per unit (``array``, ``vector``,
  ``sync``, ``dma``; the units of :func:`fixar_gen.hw.core.execution_cycles`) of
  ``queue_depth`` entries; an instruction starts ``issue_latency`` cycles after its
  dispatch at the earliest, in its queue's order;
- a scoreboard on buffer regions (:func:`fixar_gen.core_traffic.regions`, the golden
  model's operand rules) holds it until every earlier instruction that wrote a region it
  reads or writes has finished (RAW, WAW) and every earlier one that read a region it
  writes has finished (WAR);
- a unit is busy for the instruction's whole cycles, or, with ``pipelined`` units, only
  for the part that streams (a MatMul's tiles, a vec's steps): the next instruction of
  the same unit then starts under the previous one's fill and drain, its results still
  ready at the previous rule's cycles (issue 14's "no fill/drain per instruction");
- a ``Barrier`` waits for every earlier instruction of its cores to finish, then the
  RTL's barrier latency; an ``Xfer`` (per-core memories) reads and writes its region
  of the buffer (:func:`operand_regions`).

Nothing here is the RTL: the figures are bounds on what decoupled queues could reach
with today's unit timings and today's instruction order (no software pipelining, no
memory-port conflicts between units), labelled as such wherever they are reported.
With ``decoupled=False`` the same code runs the RTL's own rule (one instruction at a
time, issue then execution), and equals :func:`fixar_gen.perf.schedule_with`'s cycles
exactly (tests/test_overlap.py): the check that the scheduler reads the programs as the
exact model does.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field, replace

from .core_traffic import regions
from .isa import VECTOR_FUNCTIONS, Barrier, Drain, Halt, MatMul, Program, Vector, Xfer
from .perf import _participants, walk_cores

#: the queues of a decoupled core (the units of the RTL's cycle rule but ``issue``)
QUEUES = ("array", "vector", "sync", "dma")


def queue_of(unit: str) -> str:
    """The queue of an instruction the cycle rule charges to ``unit`` (``issue``:
    ``sync``)."""
    return unit if unit in QUEUES else "sync"


@dataclass(frozen=True)
class Machine:
    """The scheduling rules (module docstring)."""

    decoupled: bool = True
    pipelined: bool = False
    issue_latency: int = 4          # FETCH, DECODE, PRODUCT, BASES (core.ISSUE_CYCLES)
    dispatch_interval: int = 1
    queue_depth: int = 8
    barrier_latency: int = 2
    halt_cycles: int = 1


@dataclass
class OverlapSchedule:
    """One program on a :class:`Machine`: cycles until the last core is done, the
    cycles each unit was busy (summed over the cores), and each instruction's (start,
    finish) by its index in the program (barriers and halts: absent)."""

    total_cycles: int
    unit_busy: dict = field(default_factory=dict)
    times: dict = field(default_factory=dict)


def operand_regions(instr, program: Program) -> tuple[list, list]:
    """(regions read, regions written) for the scoreboard: :func:`regions`, and for an
    ``xfer`` its rows and columns of the buffer, read from the sender's copy and written
    into the receivers' (one region of the buffer: the receivers' copies are ordered
    with the sender's own uses of it, a conservative rule)."""
    if isinstance(instr, Xfer):
        region = (instr.buf, instr.rows.slice, instr.cols.slice)
        return [region], [region]
    return regions(instr, program)


def _overlaps(a: slice, b: slice) -> bool:
    return a.start < b.stop and b.start < a.stop


class _Scoreboard:
    """Per buffer, the regions earlier instructions read and wrote, each with a tag
    (when it finishes, or which instruction it is)."""

    def __init__(self) -> None:
        self.writes: dict[int, list] = {}
        self.reads: dict[int, list] = {}

    @staticmethod
    def _meeting(accesses, region):
        _, rows, cols = region
        return (tag for r, c, tag in accesses if _overlaps(r, rows) and _overlaps(c, cols))

    def conflicts(self, reads, writes):
        """The tags of the earlier accesses an instruction reading ``reads`` and writing
        ``writes`` must follow: the writes of what it reads or writes (RAW, WAW), the
        reads of what it writes (WAR)."""
        for region in reads:
            yield from self._meeting(self.writes.get(region[0], ()), region)
        for region in writes:
            yield from self._meeting(self.writes.get(region[0], ()), region)
            yield from self._meeting(self.reads.get(region[0], ()), region)

    def ready(self, reads, writes) -> int:
        """When the conflicting accesses have all finished (their tags: finish times)."""
        return max(self.conflicts(reads, writes), default=0)

    def record(self, reads, writes, tag) -> None:
        for buf, rows, cols in reads:
            self.reads.setdefault(buf, []).append((rows, cols, tag))
        for buf, rows, cols in writes:
            self.writes.setdefault(buf, []).append((rows, cols, tag))


def streaming_cycles(instr, unit: str, cycles: int, rows: int, cols: int) -> int:
    """The cycles ``instr`` keeps its unit busy when the unit takes the next instruction
    under this one's fill and drain: a MatMul without the array's latency and the
    words' register, a pipelined vec or drain without its step latency (serial and
    folded functions, transfers and the rest: all of their cycles)."""
    from .hw.array import latency as array_latency
    from .hw.core import (FOLDED_FUNCTIONS, SERIAL_FUNCTIONS, WORD_REGISTERS, element_op,
                          step_latency)
    if isinstance(instr, MatMul):
        return cycles - array_latency(rows, cols, "broadcast") - WORD_REGISTERS
    if unit == "vector" and isinstance(instr, (Vector, Drain)):
        if isinstance(instr, Vector) and VECTOR_FUNCTIONS[instr.fn] in \
                (*SERIAL_FUNCTIONS, *FOLDED_FUNCTIONS):
            return cycles
        return cycles - (step_latency(element_op(instr)) - 1)
    return cycles


def overlap_schedule(program: Program, execution, machine: Machine = Machine(),
                     rows: int = 1, cols: int = 1) -> OverlapSchedule:
    """Schedule ``program`` on ``machine``; ``execution(pc, instr)`` gives (unit, cycles)
    as :func:`fixar_gen.hw.host.rtl_execution` does; ``rows`` x ``cols`` the array (for
    :func:`streaming_cycles`)."""
    n = program.cores
    board = _Scoreboard()
    times = {}
    m = machine
    dispatch = [-m.dispatch_interval] * n   # the last dispatch of each core
    floor = [0] * n                          # no dispatch before (the last barrier)
    finish_all = [0] * n                     # the latest finish of each core so far
    unit_free = [dict.fromkeys(QUEUES, 0) for _ in range(n)]
    queued = [{q: [] for q in QUEUES} for _ in range(n)]     # start times per queue
    busy = dict.fromkeys(QUEUES, 0)
    arrival = [0] * n                        # each core's arrival at its barrier

    def sequential(c: int, pc: int, instr) -> bool:
        start = finish_all[c] + m.issue_latency
        if isinstance(instr, Barrier):
            arrival[c] = start
            return False
        unit, cycles = execution(pc, instr)
        if unit in busy:
            busy[unit] += cycles
        finish_all[c] = start + cycles
        if isinstance(instr, Halt):
            return True
        times[pc] = (start, start + cycles)
        return False

    def decoupled(c: int, pc: int, instr) -> bool:
        d = max(dispatch[c] + m.dispatch_interval, floor[c])
        if isinstance(instr, Barrier):
            dispatch[c] = d
            arrival[c] = max(finish_all[c], d + m.issue_latency)
            return False
        if isinstance(instr, Halt):
            finish_all[c] = max(finish_all[c], d + m.issue_latency + m.halt_cycles)
            return True
        unit, cycles = execution(pc, instr)
        queue = queue_of(unit)
        starts = queued[c][queue]
        if len(starts) >= m.queue_depth:       # the entry queue_depth back left
            d = max(d, starts[-m.queue_depth])
        dispatch[c] = d
        reads, writes = operand_regions(instr, program)
        start = max(d + m.issue_latency, unit_free[c][queue], board.ready(reads, writes))
        end = start + cycles
        held = streaming_cycles(instr, unit, cycles, rows, cols) if m.pipelined else cycles
        unit_free[c][queue] = start + held
        starts.append(start)
        busy[queue] += held
        board.record(reads, writes, end)
        times[pc] = (start, end)
        finish_all[c] = max(finish_all[c], end)
        return False

    def meet(group: list[int]) -> None:
        leave = max(arrival[d] for d in group) + m.barrier_latency
        for d in group:
            finish_all[d] = floor[d] = leave

    walk_cores(program, decoupled if m.decoupled else sequential, meet)
    return OverlapSchedule(max(finish_all), busy, times)


def dependency_bound(program: Program, execution, barrier_latency: int = 2) -> int:
    """The program's critical path through its data dependencies alone (the scoreboard's
    RAW, WAW and WAR rules; barriers as fences of their cores): what no
    order of issue and no number of units can go below, each instruction taking its
    cycles from its operands' readiness (no issue, no unit conflicts)."""
    board = _Scoreboard()
    fence = [0] * program.cores          # earliest start after the last barrier
    latest = [0] * program.cores         # latest finish so far per core
    pending: dict[int, int] = {}
    for pc, instr in enumerate(program.code):
        c = instr.core
        if isinstance(instr, Barrier):
            pending[c] = latest[c]
            members = sorted(_participants(instr, c, program))
            if all(d in pending for d in members):
                leave = max(pending[d] for d in members) + barrier_latency
                for d in members:
                    fence[d] = latest[d] = leave
                    del pending[d]
            continue
        if isinstance(instr, Halt):
            continue
        _, cycles = execution(pc, instr)
        reads, writes = operand_regions(instr, program)
        end = max(fence[c], board.ready(reads, writes)) + cycles
        board.record(reads, writes, end)
        latest[c] = max(latest[c], end)
    return max(latest)


def split_work(program: Program, pieces: int, array_cols: int = 1, lanes: int = 1
               ) -> Program:
    """The program with each MatMul and each pipelined drain and vec cut by columns into
    up to ``pieces`` consecutive parts, one instruction each (a MatMul's result columns
    ``n``, a drain's or vec's ``cols`` with ``src_col`` following).  A what-if for the
    bound: the finer dependencies a compiler splitting its work would give the
    scoreboard; nothing runs it.  Serial, folded and link functions and range monitors stay whole.
    Column cuts fall on multiples of ``array_cols`` (a MatMul) and ``lanes`` (a drain,
    a vec), so that no piece pads a tile or a step the whole did not."""
    from .hw.core import FOLDED_FUNCTIONS, LINK_FUNCTIONS, SERIAL_FUNCTIONS
    from .isa import Range
    whole = {*SERIAL_FUNCTIONS, *FOLDED_FUNCTIONS, *LINK_FUNCTIONS, "range"}

    def parts(r: Range, align: int) -> list[Range]:
        units = -(-r.count // align)
        k = min(pieces, units)
        cuts = sorted({min(r.count, units * i // k * align) for i in range(k + 1)})
        return [Range(r.start + a, b - a) for a, b in zip(cuts, cuts[1:])]

    code = []
    for instr in program.code:
        if isinstance(instr, MatMul):
            code += [replace(instr, n=p) for p in parts(instr.n, array_cols)]
        elif isinstance(instr, Drain) or isinstance(instr, Vector) and \
                VECTOR_FUNCTIONS[instr.fn] not in whole:
            code += [replace(instr, cols=p, src_col=instr.src_col + p.start
                             - instr.cols.start) for p in parts(instr.cols, lanes)]
        else:
            code.append(instr)
    return replace(program, code=tuple(code))


def list_schedule(program: Program, execution, pipelined: bool = True, rows: int = 1,
                  cols: int = 1, barrier_latency: int = 2) -> OverlapSchedule:
    """The program's dependency graph (the scoreboard's rules in program order; a
    barrier orders everything of its cores before it before everything after it) on
    one unit of each kind per core, greedily: the instruction that can
    start first goes first (program order on ties).  A bound on what reordering the
    instructions (a compiler's schedule, or out-of-order issue) could give with
    decoupled units, with no issue cost; not the RTL."""
    code = program.code
    n = program.cores
    preds: list[set] = [set() for _ in code]
    since: list[list[int]] = [[] for _ in range(n)]     # nodes since the core's fence
    fence: list[int | None] = [None] * n
    groups: dict[int, list[int]] = {}                   # barrier node -> its group
    seen_barriers = [0] * n
    by_index: dict[tuple, list[int]] = {}
    board = _Scoreboard()                               # tags: instruction indices
    for j, instr in enumerate(code):
        c = instr.core
        if fence[c] is not None:
            preds[j].add(fence[c])
        if isinstance(instr, Barrier):
            preds[j].update(since[c])
            since[c] = []
            fence[c] = j
            key = (seen_barriers[c], instr.mask)
            seen_barriers[c] += 1
            by_index.setdefault(key, []).append(j)
            continue
        if isinstance(instr, Halt):
            preds[j].update(since[c])
            continue
        since[c].append(j)
        r, w = operand_regions(instr, program)
        preds[j].update(board.conflicts(r, w))
        board.record(r, w, j)
    for members in by_index.values():
        for j in members:
            groups[j] = members
    succs: list[list[int]] = [[] for _ in code]
    for j, ps in enumerate(preds):
        for i in ps:
            succs[i].append(j)
    waiting = [len(ps) for ps in preds]
    finish = [0] * len(code)
    ready_at = [0] * len(code)
    unit_free = [dict.fromkeys(QUEUES, 0) for _ in range(n)]
    busy = dict.fromkeys(QUEUES, 0)
    times = {}
    heap: list = []
    charged: dict[int, tuple] = {}         # instruction -> (unit, cycles)
    arrived: dict[int, int] = {}           # barrier node -> when its core arrived

    def release(j: int) -> None:
        for k in succs[j]:
            ready_at[k] = max(ready_at[k], finish[j])
            waiting[k] -= 1
            if waiting[k] == 0:
                push(k)

    def push(j: int) -> None:
        instr = code[j]
        if isinstance(instr, Barrier):
            arrived[j] = ready_at[j]
            members = groups[j]
            if all(m in arrived for m in members):
                leave = max(arrived[m] for m in members) + barrier_latency
                for m in members:
                    finish[m] = leave
                for m in members:
                    release(m)
            return
        if isinstance(instr, Halt):
            finish[j] = ready_at[j]
            return
        unit, _ = charged[j] = execution(j, instr)
        heapq.heappush(heap, (max(ready_at[j], unit_free[instr.core][queue_of(unit)]), j))

    for j in range(len(code)):
        if waiting[j] == 0:
            push(j)
    while heap:
        t, j = heapq.heappop(heap)
        instr = code[j]
        unit, cycles = charged[j]
        queue = queue_of(unit)
        start = max(ready_at[j], unit_free[instr.core][queue])
        if start > t:                       # the unit was taken meanwhile: try again
            heapq.heappush(heap, (start, j))
            continue
        held = streaming_cycles(instr, unit, cycles, rows, cols) if pipelined else cycles
        unit_free[instr.core][queue] = start + held
        busy[queue] += held
        finish[j] = start + cycles
        times[j] = (start, finish[j])
        release(j)
    if len(times) + sum(isinstance(x, (Barrier, Halt)) for x in code) != len(code):
        raise ValueError(f"program {program.name!r}: a barrier of its cores never met")
    return OverlapSchedule(max(finish, default=0), busy, times)


def segment_bound(program: Program, execution, rows: int = 1, cols: int = 1) -> int:
    """The sum, over the stretches between a core's barriers (the same stretch on every
    core), of the busiest unit's streaming cycles (:func:`streaming_cycles`) on the
    busiest core: what no schedule that keeps the barriers as fences goes below with
    one unit of each kind a core, however it orders and overlaps the work between
    them."""
    spans: list[list[dict]] = [[{}] for _ in range(program.cores)]
    for pc, instr in enumerate(program.code):
        if isinstance(instr, Barrier):
            spans[instr.core].append({})
            continue
        if isinstance(instr, Halt):
            continue
        unit, cycles = execution(pc, instr)
        here = spans[instr.core][-1]
        here[unit] = here.get(unit, 0) + streaming_cycles(instr, unit, cycles, rows, cols)
    count = max(len(s) for s in spans)
    return sum(max((max(s[i].values(), default=0) for s in spans if i < len(s)),
                   default=0) for i in range(count))
