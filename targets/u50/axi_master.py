"""The U50 kernel's AXI4 master (``m_axi_gmem0``): bursts that keep the 4 KB rule at any
data width, a reader that checks every R beat (RRESP, RLAST), and a writer that sends a
W beat only for an accepted burst, checks every BRESP and, after an error, writes
nothing more while still giving the interconnect every beat it was promised.

The channel functions take ``p``, the kernel's ports, and use ``p.g(signal)`` (the
master's signal without the ``m_axi_gmem0_`` prefix).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pyrtl

from ...hw.build import Scope, named
from .commands import AXI_DATA_BITS, DEFAULT_AXI_DATA_BITS
from .wires import align_down, drive, fit, register, smaller

GMEM_ADDR_BITS = 64
#: AxCACHE of every burst: normal non-cacheable bufferable (what Vitis HLS issues)
GMEM_CACHE = 0b0011
BEATS_BITS = 36                # beats of one command's transfer
OWED_BITS = BEATS_BITS + 1     # beats asked for and not yet received (or sent)
OUTSTANDING_BITS = 5           # write bursts awaiting their response (at most 31)


@dataclass(frozen=True)
class AxiShape:
    """The AXI4 master's data width and burst rule."""

    data_bits: int = DEFAULT_AXI_DATA_BITS
    max_burst: int = 256

    def __post_init__(self) -> None:
        if self.data_bits not in AXI_DATA_BITS:
            raise ValueError(f"axi_data_bits = {self.data_bits}: the kernel supports "
                             f"{', '.join(map(str, AXI_DATA_BITS))}")
        if self.max_burst not in tuple(1 << i for i in range(1, 9)):
            raise ValueError(f"max_burst = {self.max_burst}: a power of two from 2 to 256")

    @property
    def beat_bytes(self) -> int:
        return self.data_bits // 8

    @property
    def burst_bytes(self) -> int:
        """Bursts stay inside one aligned block of this many bytes (divides 4096)."""
        return min(4096, self.max_burst * self.beat_bytes)


def burst(s: Scope, shape: AxiShape, start, addr, nbytes, ready, stop):
    """The address channel of a transfer of ``nbytes`` (whole beats) from the
    beat-aligned byte ``addr``: INCR bursts that stay inside aligned ``burst_bytes``
    blocks.  While ``stop`` is high no new burst is offered; a burst already offered
    stays valid until it is accepted (as AXI requires).
    Returns (valid, address, len, handshake, every burst issued)."""
    lb = int(math.log2(shape.beat_bytes))
    lbb = int(math.log2(shape.burst_bytes))
    cur = register(GMEM_ADDR_BITS, s("addr"))
    end = register(GMEM_ADDR_BITS, s("end"))
    held = register(1, s("held"))             # offered last cycle and not accepted
    block_end = fit(align_down(cur, lbb) + shape.burst_bytes, GMEM_ADDR_BITS)
    burst_end = named(smaller(block_end, end), s("burst_end"))
    beats = fit(burst_end - cur, GMEM_ADDR_BITS)[lb:lb + 9]
    length = fit(beats - 1, 8)
    pending = cur != end
    valid = named(pending & (held | ~stop), s("valid"))
    hs = valid & ready
    held.next <<= valid & ~ready
    with pyrtl.conditional_assignment:
        with start:
            cur.next |= addr
            end.next |= fit(addr + nbytes, GMEM_ADDR_BITS)
        with hs:
            cur.next |= burst_end
    return valid, cur, length, hs, ~pending


def address_outputs(p, ch: str, shape: AxiShape, valid, addr, length) -> None:
    drive(p.g(f"{ch}VALID"), valid)
    drive(p.g(f"{ch}ADDR"), addr)
    drive(p.g(f"{ch}LEN"), length)
    drive(p.g(f"{ch}ID"), 0)
    drive(p.g(f"{ch}SIZE"), int(math.log2(shape.beat_bytes)))
    drive(p.g(f"{ch}BURST"), 1)           # INCR
    drive(p.g(f"{ch}LOCK"), 0)
    drive(p.g(f"{ch}CACHE"), GMEM_CACHE)
    drive(p.g(f"{ch}PROT"), 0)
    drive(p.g(f"{ch}QOS"), 0)
    drive(p.g(f"{ch}REGION"), 0)


def burst_last(shape: AxiShape, addr, end) -> pyrtl.WireVector:
    """The beat at byte ``addr`` is the last of its burst (the next beat starts a new
    ``burst_bytes`` block, or the transfer ends at ``end``)."""
    lbb = int(math.log2(shape.burst_bytes))
    after = fit(addr + shape.beat_bytes, GMEM_ADDR_BITS)
    return (after[:lbb] == 0) | (after == end)


@dataclass
class Reader:
    beat: pyrtl.WireVector     # the beat waiting in the buffer
    full: pyrtl.WireVector     # a beat waits (a register)
    fault: pyrtl.WireVector    # this cycle's R beat is bad (dropped)
    resp: pyrtl.WireVector     # its RRESP
    bad_last: pyrtl.WireVector  # its RLAST is not where the burst ends
    quiet: pyrtl.WireVector    # no burst offered, no beat owed


def reader(p, s: Scope, shape: AxiShape, start, addr, beats, take, abort) -> Reader:
    """Reads ``beats`` beats from the beat-aligned byte ``addr`` into a one-beat buffer
    (``take``, a function of registers, empties it).  Every R beat is checked: RRESP
    must be OKAY and RLAST high exactly on the last beat of each burst asked for; a bad
    beat is dropped and reported.  After ``abort`` no new burst is asked for and the
    beats still owed are received and dropped (``quiet`` when none is owed).  RREADY
    depends on registers only."""
    lb = int(math.log2(shape.beat_bytes))
    nbytes = fit(pyrtl.concat(beats, pyrtl.Const(0, lb)), GMEM_ADDR_BITS)
    valid, cur, length, ar_hs, _ = burst(s.sub("ar"), shape, start, addr, nbytes,
                                         p.g("ARREADY"), abort)
    address_outputs(p, "AR", shape, valid, cur, length)

    buf = register(shape.data_bits, s("buf"))
    full = register(1, s("full"))
    raddr = register(GMEM_ADDR_BITS, s("raddr"))      # byte address of the next R beat
    rend = register(GMEM_ADDR_BITS, s("rend"))
    owed = register(OWED_BITS, s("owed"))             # beats asked for, not yet received
    rready = ~full | take | abort
    drive(p.g("RREADY"), rready)
    r_hs = named(p.g("RVALID") & rready, s("r_hs"))
    bad_resp = p.g("RRESP") != 0
    bad_last = named(p.g("RLAST") != burst_last(shape, raddr, rend), s("bad_last"))
    fault = named(r_hs & (bad_resp | bad_last) & ~abort, s("fault"))
    good = r_hs & ~bad_resp & ~bad_last & ~abort
    with pyrtl.conditional_assignment:
        with start:
            raddr.next |= addr
            rend.next |= fit(addr + nbytes, GMEM_ADDR_BITS)
        with r_hs:
            raddr.next |= fit(raddr + shape.beat_bytes, GMEM_ADDR_BITS)
    asked = named(pyrtl.select(ar_hs, fit(fit(length, 9) + 1, OWED_BITS),
                               pyrtl.Const(0, OWED_BITS)), s("asked"))
    owed.next <<= fit(owed + asked - fit(r_hs, OWED_BITS), OWED_BITS)
    with pyrtl.conditional_assignment:
        with good:
            buf.next |= p.g("RDATA")
            full.next |= 1
        with take | abort:
            full.next |= 0
    quiet = named(~valid & (owed == 0), s("quiet"))
    return Reader(buf, full, fault, p.g("RRESP"), bad_last, quiet)


@dataclass
class Writer:
    accept: pyrtl.WireVector   # the source's beat is taken this cycle
    fault: pyrtl.WireVector    # a write response other than OKAY this cycle
    resp: pyrtl.WireVector     # its BRESP
    done: pyrtl.WireVector     # every beat written and acknowledged
    quiet: pyrtl.WireVector    # no burst offered, no beat owed, no response awaited


def writer(p, s: Scope, shape: AxiShape, start, addr, beats, beat, has_beat,
           abort) -> Writer:
    """Writes ``beats`` beats to the beat-aligned byte ``addr``, taking each from
    ``beat`` when ``has_beat`` (``accept`` says when).  AW bursts go ahead (at most 31
    awaiting their response); a W beat is sent only for a burst already accepted, with
    WLAST on each burst's last beat.  Every BRESP is checked.  After ``abort`` no new
    burst is asked for, the beats owed to bursts already accepted go out with WSTRB 0
    (nothing more is written) and the responses are awaited.  Every AXI output is a
    register (or a function of registers only)."""
    lb = int(math.log2(shape.beat_bytes))
    nbytes = fit(pyrtl.concat(beats, pyrtl.Const(0, lb)), GMEM_ADDR_BITS)
    outstanding = register(OUTSTANDING_BITS, s("outstanding"))
    room = outstanding != (1 << OUTSTANDING_BITS) - 1
    valid, cur, length, aw_hs, issued = burst(s.sub("aw"), shape, start, addr, nbytes,
                                              p.g("AWREADY"), abort | ~room)
    address_outputs(p, "AW", shape, valid, cur, length)
    b_hs = p.g("BVALID")
    drive(p.g("BREADY"), 1)
    outstanding.next <<= fit(outstanding + fit(aw_hs, OUTSTANDING_BITS)
                            - fit(b_hs, OUTSTANDING_BITS), OUTSTANDING_BITS)
    fault = named(b_hs & (p.g("BRESP") != 0) & ~abort, s("fault"))

    credit = register(OWED_BITS, s("credit"))       # W beats owed to accepted bursts
    left = register(BEATS_BITS, s("left"))          # beats still to take from the source
    waddr = register(GMEM_ADDR_BITS, s("waddr"))    # byte address of the next W beat
    wend = register(GMEM_ADDR_BITS, s("wend"))
    data = register(shape.data_bits, s("wdata"))
    strb = register(shape.beat_bytes, s("wstrb"))
    last = register(1, s("wlast"))
    wvalid = register(1, s("wvalid"))
    drive(p.g("WDATA"), data)
    drive(p.g("WSTRB"), strb)
    drive(p.g("WLAST"), last)
    drive(p.g("WVALID"), wvalid)
    sent = wvalid & p.g("WREADY")
    free = (~wvalid | p.g("WREADY")) & (credit != 0)
    kill = abort | fault                          # from the cycle a bad response arrives
    accept = named(free & has_beat & (left != 0) & ~kill, s("accept"))
    void = free & kill                            # a beat owed after an error: no bytes
    load = accept | void
    granted = named(pyrtl.select(aw_hs, fit(fit(length, 9) + 1, OWED_BITS),
                                 pyrtl.Const(0, OWED_BITS)), s("granted"))
    credit.next <<= fit(credit + granted - fit(load, OWED_BITS), OWED_BITS)
    with pyrtl.conditional_assignment:
        with start:
            left.next |= beats
            waddr.next |= addr
            wend.next |= fit(addr + nbytes, GMEM_ADDR_BITS)
        with load:
            with accept:
                left.next |= left - 1
            waddr.next |= fit(waddr + shape.beat_bytes, GMEM_ADDR_BITS)
    with pyrtl.conditional_assignment:
        with load:
            data.next |= pyrtl.select(kill, pyrtl.Const(0, shape.data_bits), beat)
            strb.next |= pyrtl.select(kill, pyrtl.Const(0, shape.beat_bytes),
                                      pyrtl.Const((1 << shape.beat_bytes) - 1,
                                                  shape.beat_bytes))
            last.next |= burst_last(shape, waddr, wend)
            wvalid.next |= 1
        with sent:
            wvalid.next |= 0
    quiet = named(~valid & (credit == 0) & ~wvalid & (outstanding == 0), s("quiet"))
    done = quiet & issued & (left == 0)
    return Writer(accept, fault, p.g("BRESP"), named(done, s("done")), quiet)
