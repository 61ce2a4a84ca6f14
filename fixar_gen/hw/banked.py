"""A banked synchronous memory: ``banks`` memories of one word each side by side, a
whole line of ``banks`` words read or written every cycle, read in either orientation
(FIXAR's "free transpose"), each bank within the ports of one block RAM.

This is the building block of the per-kind memories of docs/hardware.md ("Design
note: per-kind banked synchronous memories"); the core does not use it yet.

Layout
    The memory holds ``depth`` lines of ``banks`` words.  Word ``j`` of line ``l`` lives
    in bank ``(j + l) mod banks`` at bank address ``l`` (a rotation by the line index).
    So a line is one word in every bank (all at address ``l``), and so is a *column* of
    an aligned square block: words ``j`` of lines ``l0 .. l0 + banks - 1`` with ``l0`` a
    multiple of ``banks`` lie in banks ``(j + i) mod banks``, ``i = 0 .. banks - 1``, one
    each (bank ``b`` at address ``l0 + (b - j) mod banks``).  A weight tile stored as
    lines gives the array a row (forward) or a column (backprop, the transposed
    weights) every cycle without a copy.  ``banks`` is a power of two (the rotations
    are bit slices).

Ports (all inputs are sampled in one cycle)
    ``read_line`` (line address), ``read_transposed`` (1: the column ``read_col`` of the
    aligned block at ``read_line``, whose low ``log2(banks)`` bits are ignored);
    ``read_data`` (``banks * width`` bits, word ``k`` at bits ``[k W, (k + 1) W)``) is
    the line or column **one cycle later**, as the memory is after the writes of the
    request's cycle (a write and a read of the same word in one cycle: the read sees
    the write).  ``write_line``, ``write_data`` (word ``j`` of the line at bits
    ``[j W, (j + 1) W)``), ``write_enable`` (one bit per word).

Each bank is a ``pyrtl.MemBlock(asynchronous=False)`` with one read port (its address
from a register) and one write port: what one BRAM36 / URAM288 offers.  Its words are
rotated into place by a ``banks``-way multiplexer per word on each side.

The golden model is :class:`BankedModel`.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import pyrtl

from .build import Scope, check_width, fresh_block, named
from .build import zext as _z_bits


def _log2(banks: int, what: str) -> int:
    if isinstance(banks, bool) or not isinstance(banks, int) or banks < 1 \
            or banks & (banks - 1):
        raise ValueError(f"{what}: banks {banks!r} is not a power of two >= 1")
    return banks.bit_length() - 1


#: the banks from which a strided read's words each take one multiplexer by a bank
#: registered beside the addresses (:meth:`InterleavedBanks._gathered`): measured on the
#: 16x1 controller design (``amem``'s 64 banks), 11 -> 10 LUT levels; below, the
#: rotation and a choice after it (the default controller design, 8 banks, is within 8
#: levels that way, and its mapping changed with the registered banks).  Each strided
#: word is then a ``banks``-way multiplexer of its own, as an element's was before, and
#: the rotation's and the choice's LUTs go: fewer LUTs when the elements' addresses
#: have log2(banks) bits or more (the 16x1 design with 64-word memories: 58,679 ->
#: 49,006), more in a memory shallower than its banks, whose elements' multiplexers
#: were narrower (the 16x1 design's 8-word memories: 25,091 -> 34,052; docs/hardware.md)
WORD_BANK_REGISTERS_FROM = 16


@dataclass(frozen=True)
class BankedPorts:
    read_data: pyrtl.WireVector
    banks: tuple[pyrtl.MemBlock, ...]


def _table(low: pyrtl.WireVector, test) -> pyrtl.WireVector:
    """``test(low)`` (a start's low bits: whether bank b lies before it, or in the
    second half line) as a table of ``low``'s values, a function of its log2(banks)
    bits that fits one LUT6 up to 64 banks, rather than a compare or a subtraction
    (which Yosys maps through its arithmetic cells).  Measured on the 16x1 controller
    design: ``amem``'s write addresses at 9-10 LUT levels before (45 bits over 8), 9
    after (36)."""
    return pyrtl.mux(low, *[pyrtl.Const(int(test(a)), 1) for a in range(1 << low.bitwidth)])


#: the banks from which a rotation stays one ``n``-way multiplexer per word rather than
#: :func:`_rotation_stages`: measured (Yosys 0.70 xcup, ``benchmarks/line_ports.py``)
#: the stages cut the line ports of 16 banks (``gmem`` 4,661 -> 3,757 LUT) and 32
#: (``cmem`` 28,261 -> 18,699, ``wmem`` 22,255 -> 20,317), but ``amem``'s 64 banks
#: with their write rotation in stages took 72,814 against 62,642 (a 64-word rotation
#: alone: 11,264 -> 7,472)
MUX_ROTATION_FROM = 64


def _rotate(words: list[pyrtl.WireVector], amount: pyrtl.WireVector,
            count: int | range | None = None) -> list:
    """``out[k] = words[(k + amount) mod n]`` for k < ``count`` (default n; or the k of
    a range; n a power of two, ``amount`` log2 n bits), as :func:`_rotation_stages`."""
    n = len(words)
    keep = range(n) if count is None else count if isinstance(count, range) \
        else range(count)
    if n == 1:
        return [words[k] for k in keep]
    if n >= MUX_ROTATION_FROM:
        return [pyrtl.mux(amount, *[words[(k + r) % n] for r in range(n)]) for k in keep]
    return _rotation_stages(words, amount, keep)


def _rotation_stages(words: list, amount: pyrtl.WireVector, keep: range) -> list:
    """The rotation in stages of two bits of ``amount`` (a first stage of one, its
    lowest, when its bits are odd): each word of a stage a 4-way choice of the previous
    stage's, by those two bits decoded one-hot (an AND-OR: one LUT6 a bit), the last
    stage only for the words kept.  A rotation written as one ``n``-way multiplexer per
    word shares its 2-way levels between the words (a barrel shifter of log2 n levels
    of 2-way multiplexers, a LUT each: Yosys's ``opt_merge`` merges them, and a 4-way
    multiplexer tree would merge the same way); the one-hot 4-way choices share
    nothing and take half the levels.  The 2-way stage comes first, where a read's
    words leave the banks through the bypass Yosys adds (a word written in the cycle it
    is read): measured better there than last (below).  Yosys 0.70 ``synth_xilinx
    -family xcup`` of a rotation of 32-bit words alone: 16 words 1,224 -> 1,024 LUT, 32
    words 3,821 -> 3,072 (the 2-way stage last), 64 words 11,264 -> 7,472; ``cmem``'s
    line port with 8-bit words 4,047 -> 3,849 with the 2-way stage last, 3,207 first
    (docs/hardware.md, "Memory inventory"; from :data:`MUX_ROTATION_FROM` banks a
    rotation stays multiplexers)."""
    n = len(words)
    bits = n.bit_length() - 1
    stages = ([(0, 1)] if bits % 2 else []) + [(low, 2) for low in range(bits % 2, bits, 2)]
    out = list(words)
    for i, (low, take) in enumerate(stages):
        step = 1 << low
        here = keep if i == len(stages) - 1 else range(n)
        if take == 1:
            out = [pyrtl.select(amount[low], out[(k + step) % n], out[k]) for k in here]
        else:
            pair = amount[low:low + 2]
            hot = [pair == pyrtl.Const(v, 2) for v in range(4)]
            out = [_one_hot(hot, [out[(k + v * step) % n] for v in range(4)]) for k in here]
    return out


def _one_hot(hot: list, words: list) -> pyrtl.WireVector:
    """The word whose ``hot`` bit is 1 (exactly one is): an AND-OR."""
    zero = pyrtl.Const(0, words[0].bitwidth)
    return pyrtl.tree_reduce(operator.or_, [pyrtl.select(h, w, zero)
                                            for h, w in zip(hot, words)])


def banked_memory(scope: Scope, *, banks: int, width: int, depth_bits: int,
                  read_line: pyrtl.WireVector, read_transposed: pyrtl.WireVector,
                  read_col: pyrtl.WireVector, write_line: pyrtl.WireVector,
                  write_data: pyrtl.WireVector, write_enable: pyrtl.WireVector
                  ) -> BankedPorts:
    """Elaborate the memory in the working block (see the module docstring)."""
    lb = _log2(banks, f"banked memory {scope.prefix}")
    if depth_bits < lb:
        raise ValueError(f"banked memory {scope.prefix}: depth 2^{depth_bits} is smaller "
                         f"than one {banks} x {banks} block")
    col_bits = max(lb, 1)
    for wire, bits, what in ((read_line, depth_bits, "read_line"),
                             (read_transposed, 1, "read_transposed"),
                             (read_col, col_bits, "read_col"),
                             (write_line, depth_bits, "write_line"),
                             (write_data, banks * width, "write_data"),
                             (write_enable, banks, "write_enable")):
        check_width(wire, bits, f"banked memory {scope.prefix}: {what}")

    mems = tuple(pyrtl.MemBlock(width, depth_bits, name=scope(f"bank{b}"),
                                asynchronous=False, max_read_ports=1, max_write_ports=1)
                 for b in range(banks))
    # -- writes: bank b takes word (b - l) mod banks of line l
    w_rot = write_line[:lb] if lb else pyrtl.Const(0, 1)
    w_words = [write_data[j * width:(j + 1) * width] for j in range(banks)]
    w_enables = [write_enable[j] for j in range(banks)]
    neg = (pyrtl.Const(0, lb) - w_rot)[:lb] if lb else w_rot    # b - l = b + (-l mod n)
    by_bank = _rotate(w_words, neg) if lb else w_words
    en_bank = _rotate(w_enables, neg) if lb else w_enables
    for b, mem in enumerate(mems):
        mem[write_line] <<= pyrtl.MemBlock.EnabledWrite(by_bank[b], en_bank[b])

    # -- reads: bank b's address, registered; the words come back rotated into order
    col = read_col[:lb] if lb else pyrtl.Const(0, 1)
    words = []
    for b, mem in enumerate(mems):
        if lb:
            within = (pyrtl.Const(b, lb) - col)[:lb]            # (b - j) mod banks
            transposed = pyrtl.concat(read_line[lb:], within)
            addr_next = pyrtl.select(read_transposed, transposed, read_line)
        else:
            addr_next = read_line
        addr = pyrtl.Register(depth_bits, name=scope(f"bank{b}_raddr"))
        addr.next <<= addr_next
        word = pyrtl.WireVector(width, name=scope(f"bank{b}_rdata"))
        word <<= mem[addr]
        words.append(word)
    if lb:
        rot = pyrtl.Register(lb, name=scope("read_rot"))
        rot.next <<= pyrtl.select(read_transposed, col, read_line[:lb])
        words = _rotate(words, rot)
    read_data = named(pyrtl.concat_list(words), scope("read_data"))
    return BankedPorts(read_data, mems)


# ------------------------------------------------------------------------ build and model

@dataclass(frozen=True)
class BankedDesign:
    """A banked memory elaborated alone in a fresh block, with named ports."""

    block: pyrtl.Block = field(repr=False)
    banks: int
    width: int
    depth_bits: int
    name: str

    def port(self, what: str) -> str:
        return f"{self.name}_{what}"


def build_banked(banks: int, width: int, depth_bits: int, name: str = "mem"
                 ) -> BankedDesign:
    scope = Scope(name)
    lb = _log2(banks, name)
    with fresh_block() as block:
        def inp(what: str, bits: int) -> pyrtl.Input:
            return pyrtl.Input(bits, name=scope(what))

        ports = banked_memory(
            scope, banks=banks, width=width, depth_bits=depth_bits,
            read_line=inp("read_line", depth_bits), read_transposed=inp("read_transposed", 1),
            read_col=inp("read_col", max(lb, 1)), write_line=inp("write_line", depth_bits),
            write_data=inp("write_data", banks * width),
            write_enable=inp("write_enable", banks))
        out = pyrtl.Output(banks * width, name=scope("rdata"))
        out <<= ports.read_data
    return BankedDesign(block, banks, width, depth_bits, name)


class BankedModel:
    """What the banked memory holds, by (line, word): the golden model of
    :func:`banked_memory` (unwritten words read 0)."""

    def __init__(self, banks: int, width: int, depth_bits: int):
        self.banks, self.width, self.depth = banks, width, 1 << depth_bits
        self.words: dict[tuple[int, int], int] = {}

    def write(self, line: int, values, enables) -> None:
        for j, (value, enable) in enumerate(zip(values, enables)):
            if enable:
                self.words[line % self.depth, j] = value % (1 << self.width)

    def read(self, line: int, transposed: bool = False, col: int = 0) -> list[int]:
        line %= self.depth
        if not transposed:
            return [self.words.get((line, j), 0) for j in range(self.banks)]
        base = line - line % self.banks
        return [self.words.get((base + i, col % self.banks), 0) for i in range(self.banks)]


# ----------------------------------------------------------- interleaved: the element loop

def interleaved_bank_shape(banks: int, addr_bits: int, tail_bits: int | None
                           ) -> tuple[int, ...]:
    """Address bits of each RAM of one bank of a memory of ``2^addr_bits`` words (or
    ``2^(addr_bits - 1) + 2^tail_bits``: a main RAM and a tail above it) split over
    ``banks`` interleaved banks: ``(main,)`` or ``(main, tail)``.  A tail smaller than
    two words a bank is dropped (the main RAM doubles instead)."""
    lb = _log2(banks, "interleaved memory")
    if tail_bits is not None and addr_bits - 1 - lb >= 1 and tail_bits - lb >= 1:
        return (addr_bits - 1 - lb, tail_bits - lb)
    return (max(1, addr_bits - lb),)


class InterleavedBanks:
    """A memory of ``banks`` interleaved banks: word ``a`` lives in bank ``a mod banks``
    at bank address ``a div banks``, so any ``banks`` adjacent words ``a .. a + banks - 1``
    are one word in each bank -- a step of the element loop (up to ``banks`` lanes)
    reads or writes its words at any address, no alignment needed, and a broadcast
    operand is word 0 of the line.

    Per port ``p`` (``ports`` of each: one per core), driven by the caller:
    ``read_address[p]`` (``addr_bits``; the line ``read_words[p]``, word k = the word at
    address + k, arrives one cycle later, as the memory is after that cycle's writes),
    ``write_address[p]``, ``write_words[p]`` (word j is written at address + j) and
    ``write_enables[p]`` (one bit per word).  Each bank is a ``MemBlock(asynchronous=
    False)`` (two when the memory has a tail, :func:`interleaved_bank_shape`) with
    ``ports`` read ports at registered addresses and ``ports`` write ports: with one
    port, what one BRAM36 / URAM288 offers.  The golden model is
    :class:`InterleavedModel`.

    ``halves`` (``cmem``'s double line): each port also takes ``read_address2[p]`` and
    ``write_address2[p]``, the start of a second half line of H = ``banks`` / 2 words,
    H past the first mod ``banks`` (the caller's rule); bank b serves the first start's
    half when (b - start) mod ``banks`` < H, else the second's, so word j < H of the
    line is at start + j and word H + j at the second start + j.  A second start equal
    to the first + H is the plain line.

    ``line_words`` (default ``banks``): the words of a read line its users take (the
    first ones; ``amem``'s: the lanes' and the strided read's), so that no rotation
    multiplexer is left without a reader.

    ``strided`` (``wmem``'s weight rows and transposed columns; an int: the number of
    elements, at most ``banks``): each port also takes ``read_strided[p]`` (1 bit) and
    ``read_elements[p]``, one word address per element; when ``read_strided[p]`` is 1,
    word k of the line (k < ``strided``) is the word at ``read_elements[p][k]``.  The
    caller keeps the elements in distinct banks (``a0 + k s`` with an odd row stride
    ``s``: a column of a matrix whose row stride is padded to an odd number of words,
    or ``s`` = 1, adjacent words): bank b reads the element whose address is b mod
    ``banks`` (at its address ``div banks``; a bank no element names reads address 0),
    and word k comes from the bank its element's address names (a multiplexer per
    element beside the line's rotation).

    A bank's address is its start's line or the next one (bank b before the start's
    bank), chosen by the start's low bits from the pair ``concat(line + 1, line)``
    (:meth:`line_pair`): ``read_lines[p]`` (and ``read_lines2[p]`` with halves; none
    on one bank, which reads its address), driven
    here from the read addresses or, with ``given_lines``, by the caller (the read
    addresses then carry the starts' low log2(``banks``) bits alone), which
    computes each request's pair before it chooses among them (:class:`~fixar_gen.hw.
    data_memories.DataMemories`), so no sum lies between its choice and the banks'
    address registers.  The same for the writes: ``write_lines[p]`` (and
    ``write_lines2[p]``), from the write addresses or given by the caller (the write
    addresses then carry the starts' low log2(``banks``) bits alone, as the reads'),
    so that no sum lies between the write's choice and the banks' write addresses.

    A write's words reach the banks rotated by its start (bank b takes word (b - a) mod
    ``banks``).  With ``given_banks`` the caller gives ``write_words[p]`` and
    ``write_enables[p]`` in bank order (entry b: bank b's word and enable), each request
    rotated by its own start (:meth:`bank_order`) before it chooses among them, so that
    the rotation does not wait for the choice."""

    def __init__(self, scope: Scope, *, banks: int, width: int, addr_bits: int,
                 tail_bits: int | None = None, ports: int = 1, halves: bool = False,
                 strided: int = 0, given_lines: bool = False,
                 line_words: int | None = None, given_banks: bool = False):
        lb = _log2(banks, f"interleaved memory {scope.prefix}")
        self.line_words = banks if line_words is None else line_words
        if not max(1, strided) <= self.line_words <= banks:
            raise ValueError(f"interleaved memory {scope.prefix}: a read line of "
                             f"{self.line_words} words on {banks} banks with {strided} "
                             "strided elements")
        if halves and banks < 2:
            raise ValueError(f"interleaved memory {scope.prefix}: halves need two banks or "
                             "more")
        self.banks, self.width, self.addr_bits, self.lb = banks, width, addr_bits, lb
        self.halves, self.strided = halves, strided
        shape = interleaved_bank_shape(banks, addr_bits, tail_bits)
        self.bank_bits = shape[0] + (1 if len(shape) > 1 else 0)
        self.blocks = [[pyrtl.MemBlock(width, bits,
                                       name=scope(f"bank{b}" + ("_tail" if k else "")),
                                       asynchronous=False, max_read_ports=ports,
                                       max_write_ports=ports)
                        for k, bits in enumerate(shape)] for b in range(banks)]
        self.shape = shape
        # (with given lines a start is its word within the line: the lines are given)
        start_bits = lb if given_lines and lb else addr_bits
        self.read_address = [pyrtl.WireVector(start_bits, scope(f"p{p}_raddr"))
                             for p in range(ports)]
        self.write_address = [pyrtl.WireVector(start_bits, scope(f"p{p}_waddr"))
                              for p in range(ports)]
        if halves:
            self.read_address2 = [pyrtl.WireVector(start_bits, scope(f"p{p}_raddr2"))
                                  for p in range(ports)]
            self.write_address2 = [pyrtl.WireVector(start_bits, scope(f"p{p}_waddr2"))
                                   for p in range(ports)]
        # each start's line and line + 1 (:meth:`line_pair`; one bank reads the line
        # alone): the caller's (``given_lines``), computed before its multiplexer, or
        # from the read address
        starts = range(ports) if lb else ()
        self.read_lines = [pyrtl.WireVector(2 * self.bank_bits, scope(f"p{p}_rlines"))
                           for p in starts]
        self.write_lines = [pyrtl.WireVector(2 * self.bank_bits, scope(f"p{p}_wlines"))
                            for p in starts]
        if halves:
            self.read_lines2 = [pyrtl.WireVector(2 * self.bank_bits, scope(f"p{p}_rlines2"))
                                for p in starts]
            self.write_lines2 = [pyrtl.WireVector(2 * self.bank_bits, scope(f"p{p}_wlines2"))
                                 for p in starts]
        if not given_lines:
            for p in starts:
                self.read_lines[p] <<= self.line_pair(self.read_address[p])
                self.write_lines[p] <<= self.line_pair(self.write_address[p])
                if halves:
                    self.read_lines2[p] <<= self.line_pair(self.read_address2[p])
                    self.write_lines2[p] <<= self.line_pair(self.write_address2[p])
        if not 0 <= strided <= banks:
            raise ValueError(f"interleaved memory {scope.prefix}: {strided} strided "
                             f"elements on {banks} banks")
        if strided:
            self.read_strided = [pyrtl.WireVector(1, scope(f"p{p}_rstrided"))
                                 for p in range(ports)]
            self.read_elements = [[pyrtl.WireVector(addr_bits, scope(f"p{p}_relem{k}"))
                                   for k in range(strided)] for p in range(ports)]
        self.write_words = [[pyrtl.WireVector(width, scope(f"p{p}_wdata{j}"))
                             for j in range(banks)] for p in range(ports)]
        self.write_enables = [[pyrtl.WireVector(1, scope(f"p{p}_we{j}"))
                               for j in range(banks)] for p in range(ports)]
        self.read_words = []
        for p in range(ports):
            words = []
            for b in range(banks):
                reg = pyrtl.Register(self.bank_bits, name=scope(f"p{p}_bank{b}_raddr"))
                address = self._port_address(p, b, read=True)
                if strided:
                    address = pyrtl.select(self.read_strided[p],
                                           self._element_address(p, b), address)
                reg.next <<= address
                word = pyrtl.WireVector(width, name=scope(f"p{p}_bank{b}_rdata"))
                word <<= self._bank_read(b, reg)
                words.append(word)
            if lb and strided and banks >= WORD_BANK_REGISTERS_FROM:
                # word k from bank (a0 + k) mod banks, or (strided) from its element's
                words = self._gathered(scope, p, words)
            elif lb and strided:
                words = self._rotated_and_gathered(scope, p, words)
            elif lb:
                rot = pyrtl.Register(lb, name=scope(f"p{p}_read_rot"))
                rot.next <<= self.read_address[p][:lb]
                words = _rotate(words, rot, self.line_words)
            self.read_words.append(words)
            # writes: bank b takes word (b - a) mod banks
            words, enables = list(self.write_words[p]), list(self.write_enables[p])
            if not given_banks:
                words, enables = self.bank_order(self.write_address[p], words, enables)
            for b in range(banks):
                self._bank_write(b, self._port_address(p, b, read=False), words[b],
                                 enables[b])

    def bank_order(self, address, words: list, enables: list) -> tuple[list, list]:
        """A write of ``words`` (word j at ``address`` + j where ``enables[j]``; fewer
        than ``banks`` words: the rest disabled) in bank order: (bank b's word, bank b's
        enable) for every bank, bank b taking word (b - ``address``) mod ``banks``.  A
        one-word write gives its word to every bank and enables the bank its address
        names (no multiplexer on the word)."""
        if len(words) != len(enables) or not 1 <= len(words) <= self.banks:
            raise ValueError(f"a write of {len(words)} words and {len(enables)} enables "
                             f"on {self.banks} banks")
        if not self.lb:
            return list(words), list(enables)
        low = _z_bits(address, self.lb)
        if len(words) == 1:
            return ([words[0]] * self.banks,
                    [enables[0] & (low == pyrtl.Const(b, self.lb))
                     for b in range(self.banks)])
        pad = self.banks - len(words)
        words = list(words) + [pyrtl.Const(0, self.width)] * pad
        enables = list(enables) + [pyrtl.Const(0, 1)] * pad
        neg = (pyrtl.Const(0, self.lb) - low)[:self.lb]      # b - a = b + (-a mod n)
        return _rotate(words, neg), _rotate(enables, neg)

    def _element_address(self, p: int, b: int) -> pyrtl.WireVector:
        """Bank ``b``'s address in a strided read on port ``p``: that of the element
        whose word address is b mod banks (the elements' banks are distinct), 0 if
        none."""
        out = pyrtl.Const(0, self.bank_bits)
        for e in self.read_elements[p]:
            at = self._fit_bank(self._line(e))
            if self.lb:
                hit = _z_bits(e, self.lb) == pyrtl.Const(b, self.lb)
                at = pyrtl.select(hit, at, pyrtl.Const(0, self.bank_bits))
            out = out | at
        return out

    def _gathered(self, scope: Scope, p: int, words: list) -> list[pyrtl.WireVector]:
        """The line's words in order: word k from bank (a0 + k) mod banks, or in a
        strided read (k below the elements) from its element's bank.  Each of those
        words is one ``banks``-way multiplexer whose select, its bank, is chosen beside
        the addresses and registered (``p<p>_word<k>_bank``: the element's low bits or
        the line's ``a0 + k``), rather than a rotation and a multiplexer per element
        followed by a choice between them: the words leave the banks through one
        multiplexer (the words above the elements: the line's rotation, by a registered
        ``a0``)."""
        low = _z_bits(self.read_address[p], self.lb)
        out = []
        for k, element in enumerate(self.read_elements[p]):
            sel = pyrtl.Register(self.lb, name=scope(f"p{p}_word{k}_bank"))
            line_bank = (low + pyrtl.Const(k, self.lb))[:self.lb] if k else low
            sel.next <<= pyrtl.select(self.read_strided[p], _z_bits(element, self.lb),
                                      line_bank)
            out.append(pyrtl.mux(sel, *words))
        if len(out) < self.line_words:
            rot = pyrtl.Register(self.lb, name=scope(f"p{p}_read_rot"))
            rot.next <<= low
            out += _rotate(words, rot, range(len(out), self.line_words))
        return out

    def _rotated_and_gathered(self, scope: Scope, p: int, words: list
                              ) -> list[pyrtl.WireVector]:
        """The line's words on fewer than :data:`WORD_BANK_REGISTERS_FROM` banks: one
        rotation by a0, and for a strided read (k below the elements) a multiplexer by
        the element's registered bank, chosen after them."""
        rot = pyrtl.Register(self.lb, name=scope(f"p{p}_read_rot"))
        rot.next <<= _z_bits(self.read_address[p], self.lb)
        strided = pyrtl.Register(1, name=scope(f"p{p}_read_strided"))
        strided.next <<= self.read_strided[p]
        out = _rotate(words, rot, self.line_words)
        for k, element in enumerate(self.read_elements[p]):
            sel = pyrtl.Register(self.lb, name=scope(f"p{p}_word{k}_bank"))
            sel.next <<= _z_bits(element, self.lb)
            out[k] = pyrtl.select(strided, pyrtl.mux(sel, *words), out[k])
        return out

    def _line(self, address: pyrtl.WireVector) -> pyrtl.WireVector:
        """The bank address (``div banks``) of word ``address``."""
        if not self.lb:
            return address
        if address.bitwidth > self.lb:
            return address[self.lb:]
        return pyrtl.Const(0, 1)                  # a memory no deeper than one line

    def _fit_bank(self, line) -> pyrtl.WireVector:
        line = pyrtl.as_wires(line)
        return line[:self.bank_bits] if line.bitwidth >= self.bank_bits \
            else line.zero_extended(self.bank_bits)

    def line_pair(self, address) -> pyrtl.WireVector:
        """The line of a start at word ``address`` and the next one, each fitted to a
        bank's address (``concat(line + 1, line)``): a bank before the start's bank
        reads the second.  A caller choosing among several starts (``given_lines``)
        computes each one's pair before its multiplexer, so that the banks' addresses
        select finished sums."""
        line = self._line(address)
        return pyrtl.concat(self._fit_bank(line + 1), self._fit_bank(line))

    def line_pair_past_half(self, address) -> pyrtl.WireVector:
        """:meth:`line_pair` of the start H = banks / 2 words past word ``address``
        (modulo the address width), without adding H first: that start's line is the
        line of ``address``, or the next when its bank lies in the second half line
        (bit lb - 1), so the pair is chosen between adders of the line that run side by
        side rather than after the add (the second half line of a double line).  A bank
        address is at most as wide as the line (or the add is kept), so the line + 1
        and + 2 wrap as the start past H does in the bits a bank keeps."""
        address = pyrtl.as_wires(address)
        line = self._line(address)
        if not self.lb or address.bitwidth <= self.lb or line.bitwidth < self.bank_bits:
            past = pyrtl.as_wires(address + self.banks // 2)[:address.bitwidth]
            return self.line_pair(past)
        up = address[self.lb - 1]
        past = pyrtl.concat(self._fit_bank(line + 2), self._fit_bank(line + 1))
        return pyrtl.select(up, past, self.line_pair(address))

    def _port_address(self, p: int, b: int, read: bool) -> pyrtl.WireVector:
        """Bank ``b``'s address on port ``p``: its line's from the port's start, or with
        ``halves`` from the second start when bank b lies in the second half line."""
        first = (self.read_address if read else self.write_address)[p]
        if not self.lb:
            return self._fit_bank(first)
        lines = (self.read_lines if read else self.write_lines)[p]
        if not self.halves:
            return self._bank_address(first, lines, b)
        second = (self.read_address2 if read else self.write_address2)[p]
        lines2 = (self.read_lines2 if read else self.write_lines2)[p]
        n = self.banks
        # (bank b lies in the second half line: (b - first) mod banks >= banks / 2)
        later = _table(first[:self.lb], lambda a: (b - a) % n >= n // 2)
        return pyrtl.select(later, self._bank_address(second, lines2, b),
                            self._bank_address(first, lines, b))

    def _bank_address(self, address: pyrtl.WireVector, lines: pyrtl.WireVector, b: int
                      ) -> pyrtl.WireVector:
        """Bank ``b``'s address of the line starting at word ``address`` (``lines``: its
        :meth:`line_pair`): its line, the next when bank b lies before the start's bank
        (the line wraps into the next)."""
        line, after = lines[:self.bank_bits], lines[self.bank_bits:]
        if b == self.banks - 1:                  # the last bank is never before the start
            return line
        return pyrtl.select(_table(address[:self.lb], lambda a: b < a), after, line)

    def _bank_read(self, b: int, addr: pyrtl.WireVector) -> pyrtl.WireVector:
        main = self.blocks[b][0][addr[:self.shape[0]]]
        if len(self.shape) == 1:
            return main
        return pyrtl.select(addr[self.bank_bits - 1], self.blocks[b][1][addr[:self.shape[1]]],
                            main)

    def _bank_write(self, b: int, addr, word, enable) -> None:
        if len(self.shape) == 1:
            self.blocks[b][0][addr[:self.shape[0]]] <<= pyrtl.MemBlock.EnabledWrite(word, enable)
            return
        top = addr[self.bank_bits - 1]
        self.blocks[b][0][addr[:self.shape[0]]] <<= pyrtl.MemBlock.EnabledWrite(
            word, enable & ~top)
        self.blocks[b][1][addr[:self.shape[1]]] <<= pyrtl.MemBlock.EnabledWrite(
            word, enable & top)


class InterleavedModel:
    """What an :class:`InterleavedBanks` memory holds, by word address (unwritten words
    read 0): ``banks`` adjacent words read or written from any address."""

    def __init__(self, banks: int, width: int, depth: int):
        self.banks, self.width, self.depth = banks, width, depth
        self.words: dict[int, int] = {}

    def write(self, address: int, values, enables) -> None:
        for j, (value, enable) in enumerate(zip(values, enables)):
            if enable:
                self.words[(address + j) % self.depth] = value % (1 << self.width)

    def read(self, address: int) -> list[int]:
        return [self.words.get((address + k) % self.depth, 0) for k in range(self.banks)]

    def read_strided(self, address: int, stride: int, count: int | None = None
                     ) -> list[int]:
        """The strided read: word k (k < ``count``, default every bank) at ``address +
        k stride``; ``stride`` must be odd (the elements then lie in distinct banks,
        ``banks`` being a power of two), or anything on one bank."""
        count = self.banks if count is None else count
        if self.banks > 1 and stride % 2 == 0 or count > self.banks:
            raise ValueError(f"{count} elements {stride} apart share banks of {self.banks}")
        return [self.words.get((address + k * stride) % self.depth, 0)
                for k in range(count)]

    def read_elements(self, addresses) -> list[int]:
        """A gather (the strided read with any element addresses, ``amem``'s planned
        activation reads: :func:`fixar_gen.memory_kinds.activation_reads`): word k at
        ``addresses[k]``; the addresses must lie in distinct banks."""
        addresses = [a % self.depth for a in addresses]
        if len({a % self.banks for a in addresses}) < len(addresses):
            raise ValueError(f"elements {addresses} share banks of {self.banks}")
        return [self.words.get(a, 0) for a in addresses]

    def _double(self, address: int, second: int) -> list[int]:
        """The word addresses of a double line (``banks`` / 2 words from each start)."""
        half = self.banks // 2
        if (second - address) % self.banks != half:
            raise ValueError(f"second start {second} is not {half} past {address} mod "
                             f"{self.banks}")
        return [((address + k) if k < half else (second + k - half)) % self.depth
                for k in range(self.banks)]

    def write_double(self, address: int, second: int, values, enables) -> None:
        for at, value, enable in zip(self._double(address, second), values, enables):
            if enable:
                self.words[at] = value % (1 << self.width)

    def read_double(self, address: int, second: int) -> list[int]:
        return [self.words.get(at, 0) for at in self._double(address, second)]
