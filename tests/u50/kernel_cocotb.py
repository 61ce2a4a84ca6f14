"""cocotb tests of the U50 kernel (run by tests/u50/test_kernel.py through cocotb's
Python runner on Verilator; not collected by pytest itself).

:class:`Kernel` is the test bench: a 250 MHz ``ap_clk``, an AxiRam on ``m_axi_gmem0``
playing HBM, an AxiLiteMaster on ``s_axi_control``, a monitor of every AR / AW burst,
and :meth:`Kernel.execute`, the executor of :mod:`fixar_gen.targets.u50.batch` (write
the command list and the image into the RAM, program the arguments, start, wait for the
interrupt, read the image back).  The golden comparisons run the host code (which is
synchronous) in a :func:`cocotb.task.bridge` thread; its executor is :func:`cocotb.task.resume`
of :meth:`Kernel.execute`.
"""

from __future__ import annotations

import dataclasses
import logging
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.task import bridge, resume
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiRam

from fixar_gen.backends import open_core, random_params
from fixar_gen.hw.host import HardwareMachine
from fixar_gen.targets.u50.batch import CommandDriver
from fixar_gen.hw.hostmap import STAT_KINDS
from fixar_gen.targets.u50.commands import (REGISTER, Command, command_problem,
                                             encode_commands, layout)
from fixar_gen.targets.u50.driver import open_u50_core
from fixar_gen.targets.u50.package import KernelPackage
from fixar_gen.targets.u50.kernel import CONTROL_BITS, LOAD, RUN_WAIT, STORE
from fixar_gen.targets.u50.status import STATUS_REGISTERS, RunStatus, check_status
from fixar_gen.testing import uniform_batch
from tests.u50.kernel_setup import current

DESIGN = current()
SPEC, CFG, BATCH = DESIGN.spec, DESIGN.cfg, DESIGN.batch
BITS = DESIGN.axi_data_bits
BEAT = BITS // 8
DATA = layout(CFG.hostmap, "data", BITS)
#: the data memory the transfer tests round-trip through: the widest, so that every
#: bit of a bus word's data entry is exercised; RT_BASE is its first host address
RT_MEMORY = max(CFG.data_memories, key=lambda m: m.width)
RT_BASE = CFG.hostmap.data_address(RT_MEMORY.name, 0)

CMD_BASE = 0x1000
IMAGE_BASE = 0x10000
RAM_SIZE = 1 << 20
CLOCK_NS = 4
TIMEOUT = 2_000_000          # cycles of one kernel invocation

START, DONE, IDLE, READY, AUTO = (1 << CONTROL_BITS[b] for b in
                                  ("ap_start", "ap_done", "ap_idle", "ap_ready",
                                   "auto_restart"))


def random_pauses(seed: int, probability: float):
    rng = random.Random(seed)
    while True:
        yield rng.random() < probability


class Kernel:
    """The kernel under test with its AXI models."""

    def __init__(self, dut):
        self.dut = dut
        self.clk = dut.ap_clk
        dut.ap_rst_n.value = 0
        cocotb.start_soon(Clock(dut.ap_clk, CLOCK_NS, unit="ns").start())
        self.ram = AxiRam(AxiBus.from_prefix(dut, "m_axi_gmem0"), dut.ap_clk, dut.ap_rst_n,
                          reset_active_level=False, size=RAM_SIZE)
        self.ctl = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi_control"), dut.ap_clk,
                                 dut.ap_rst_n, reset_active_level=False)
        for name in ("cocotb", "cocotb.fixar_kernel"):
            logging.getLogger(name).setLevel(logging.WARNING)
        self.data_bytes = len(dut.m_axi_gmem0_WDATA) // 8
        self.bursts: list[tuple[str, int, int]] = []     # (channel, address, beats)
        self.bursts_at: list[int] = []                   # the cycle of each burst
        #: (cycle it was first on the bus, WSTRB) of each W beat
        self.w_beats: list[tuple[int, int]] = []
        self.w_new, self.w_shown = True, 0
        self.faults = Faults(self)
        self.error_was, self.error_rose = 0, None        # the kernel's error register
        self.cycle = 0
        self.invocations: list[int] = []                 # cycles of each execute()
        cocotb.start_soon(self._monitor())

    @classmethod
    async def create(cls, dut) -> "Kernel":
        kernel = cls(dut)
        await kernel.reset()
        return kernel

    async def _monitor(self) -> None:
        d = self.dut
        while True:
            await RisingEdge(self.clk)
            self.cycle += 1
            for ch in ("AR", "AW"):
                if int(getattr(d, f"m_axi_gmem0_{ch}VALID").value) and \
                        int(getattr(d, f"m_axi_gmem0_{ch}READY").value):
                    self.bursts.append((ch, int(getattr(d, f"m_axi_gmem0_{ch}ADDR").value),
                                        int(getattr(d, f"m_axi_gmem0_{ch}LEN").value) + 1))
                    self.bursts_at.append(self.cycle)
            wvalid = int(d.m_axi_gmem0_WVALID.value)
            if wvalid and self.w_new:
                self.w_shown = self.cycle               # this beat is on the bus from now
            self.w_new = not wvalid or int(d.m_axi_gmem0_WREADY.value)
            if wvalid and int(d.m_axi_gmem0_WREADY.value):
                self.w_beats.append((self.w_shown, int(d.m_axi_gmem0_WSTRB.value)))
            error = int(d.rtl.kernel_error.value)
            if error and not self.error_was:
                self.error_rose = self.cycle
            self.error_was = error

    async def reset(self, cycles: int = 4) -> None:
        self.dut.ap_rst_n.value = 0
        await ClockCycles(self.clk, cycles)
        self.dut.ap_rst_n.value = 1
        await ClockCycles(self.clk, 2)
        await self.write("GIE", 1)
        await self.write("IER", 1)

    def backpressure(self, seed: int, probability: float = 0.4) -> None:
        """Random pauses on every channel of both AXI interfaces (None: no pauses)."""
        channels = [self.ram.write_if.aw_channel, self.ram.write_if.w_channel,
                    self.ram.write_if.b_channel, self.ram.read_if.ar_channel,
                    self.ram.read_if.r_channel, self.ctl.write_if.aw_channel,
                    self.ctl.write_if.w_channel, self.ctl.write_if.b_channel,
                    self.ctl.read_if.ar_channel, self.ctl.read_if.r_channel]
        for i, channel in enumerate(channels):
            if seed is None:
                channel.clear_pause_generator()
            else:
                channel.set_pause_generator(random_pauses(seed * 100 + i, probability))

    def state(self) -> int:
        """The command processor's state (targets/u50/kernel.py: IDLE, ..., FINISH)."""
        return int(self.dut.rtl.kernel_state.value)

    async def start_and_reset(self, commands, image, state: int, wait: int = 40) -> None:
        """Start the kernel, let it reach ``state`` and stay there ``wait`` cycles, then
        pull ap_rst_n low."""
        self.place(commands, image, CMD_BASE, IMAGE_BASE)
        await self.program(CMD_BASE, IMAGE_BASE)
        await self.write("CTRL", START)
        for _ in range(TIMEOUT):
            if self.state() == state:
                break
            await RisingEdge(self.clk)
        await ClockCycles(self.clk, wait)
        assert self.state() == state, f"left state {state} within {wait} cycles"
        ctrl = await self.read("CTRL")
        assert ctrl & START and not ctrl & IDLE, f"not running ({ctrl:#x})"
        await self.reset()

    # -- registers -----------------------------------------------------------------------
    async def write(self, register: str, value: int) -> None:
        await self.ctl.write_dword(REGISTER[register], value)

    async def read(self, register: str) -> int:
        return await self.ctl.read_dword(REGISTER[register])

    async def program(self, commands: int, image: int) -> None:
        for reg, value in (("COMMANDS_LO", commands), ("IMAGE_LO", image)):
            await self.write(reg, value & 0xFFFF_FFFF)
            await self.write(reg.replace("LO", "HI"), value >> 32)

    async def wait_interrupt(self, timeout: int = TIMEOUT) -> int:
        for n in range(timeout):
            if int(self.dut.interrupt.value):
                return n
            await RisingEdge(self.clk)
        raise AssertionError(f"no interrupt in {timeout} cycles")

    # -- the executor --------------------------------------------------------------------
    def place(self, commands, image, cmd_base: int, image_base: int) -> None:
        self.ram.write(cmd_base, np.asarray(commands, dtype="<u8").tobytes())
        self.ram.write(image_base, np.asarray(image, dtype="<u8").tobytes())

    def image_at(self, image_base: int, words: int) -> np.ndarray:
        return np.frombuffer(bytes(self.ram.read(image_base, 8 * words)), dtype="<u8").copy()

    async def execute(self, commands, image, cmd_base: int = CMD_BASE,
                      image_base: int = IMAGE_BASE) -> np.ndarray:
        """Run the kernel once on a command list and an image (uint64 words) in HBM;
        the image after the run."""
        first = self.cycle
        self.place(commands, image, cmd_base, image_base)
        await self.program(cmd_base, image_base)
        await self.write("CTRL", START)
        await self.wait_interrupt()
        ctrl = await self.read("CTRL")
        assert ctrl & DONE and ctrl & IDLE, f"CTRL = {ctrl:#x} after the interrupt"
        await self.write("ISR", 1)                     # toggle: clears the done bit
        self.invocations.append(self.cycle - first)
        values = {name: await self.read(name) for name in STATUS_REGISTERS}
        check_status(lambda offset: values[_name_at(offset)], commands)
        return self.image_at(image_base, len(image))

    async def status(self) -> RunStatus:
        return RunStatus.from_registers({n: await self.read(n) for n in STATUS_REGISTERS})


def _name_at(offset: int) -> str:
    return next(name for name, at in REGISTER.items() if at == offset)


class Faults:
    """Error injection into the AxiRam that plays HBM: the response (RRESP, BRESP) or
    RLAST of the first beat or burst that touches an address range.  ``seen``: the
    channels of the faults injected."""

    def __init__(self, kernel: "Kernel"):
        self.kernel = kernel
        self.rule = None               # (channel, lo, hi, resp, rlast) or None
        self.seen: list[str] = []
        ram = kernel.ram
        self._read_addr = 0
        self._burst_addrs: list[int] = []
        self._burst_beat = 0
        read, write = ram.read_if._read, ram.write_if._write
        r_send, b_send = ram.read_if.r_channel.send, ram.write_if.b_channel.send

        async def _read(address, length):
            self._read_addr = address
            return await read(address, length)

        async def _write(address, data):
            self._burst_addrs.append(address)
            return await write(address, data)

        async def send_r(r):
            rule = self.rule
            if rule and rule[0] == "R" and rule[1] <= self._read_addr < rule[2]:
                changed = bool(rule[3])
                if rule[3]:
                    r.rresp = rule[3]
                if rule[4] == "missing" and int(r.rlast):
                    r.rlast, changed = 0, True
                elif rule[4] == "early" and not int(r.rlast):
                    r.rlast, changed = 1, True
                if changed:
                    self.rule = None               # one bad beat
                    self.seen.append("R")
            await r_send(r)

        async def send_b(b):
            rule = self.rule
            addrs, self._burst_addrs = self._burst_addrs, []
            if rule and rule[0] == "B" and any(rule[1] <= a < rule[2] for a in addrs):
                b.bresp = rule[3]
                self.rule = None                   # one bad response
                self.seen.append("B")
            await b_send(b)

        ram.read_if._read, ram.write_if._write = _read, _write
        ram.read_if.r_channel.send, ram.write_if.b_channel.send = send_r, send_b

    def on_read(self, lo: int, hi: int, resp: int = 0, rlast: str | None = None) -> None:
        self.rule = ("R", lo, hi, resp, rlast)

    def on_write(self, lo: int, hi: int, resp: int) -> None:
        self.rule = ("B", lo, hi, resp, None)


# ----------------------------------------------------------------- golden comparisons

def u50_core(execute, spec=SPEC):
    """The ``u50`` backend's Core (:func:`~fixar_gen.targets.u50.driver.open_u50_core`, as
    ``open_core(spec, "u50")`` makes it: per-core memories give the per-core Core) with
    ``execute`` (a bridge thread's executor) for the card."""
    execute.package = KernelPackage(axi_data_bits=BITS)
    return open_u50_core(spec, cfg=CFG, executor=execute)


def compare_with_golden(kernel: Kernel, steps: int, seed: int, spec=SPEC) -> dict:
    """Train ``steps`` DDPG steps and run inference on the kernel and on the golden model
    from the same parameters; every parameter, output and statistic must be identical.
    Runs in a bridge thread."""
    hw = u50_core(resume(kernel.execute), spec)
    machine = hw.machine
    golden = open_core(spec, "golden")
    params = random_params(spec, seed=seed)
    golden.load_params(params)
    hw.load_params(params)
    rng = np.random.default_rng(seed)
    out = {"params": [], "actions": []}
    for _ in range(steps):
        batch = uniform_batch(spec, golden.formats, rng)
        golden.train_step(batch)
        hw.train_step(batch)
        g, h = golden.read_params(), hw.read_params()
        for name in g:
            np.testing.assert_array_equal(h[name], g[name], err_msg=name)
        out["params"].append(h)
        assert hw.stats.cycles == machine.modeled_cycles(hw.program("train", BATCH))
        assert hw.stats.saturations == golden.stats.saturations
    states = uniform_batch(spec, golden.formats, rng, size=BATCH).states
    for explore in (False, True):
        a = hw.infer("actor", states[:1], explore=explore)
        np.testing.assert_array_equal(a, golden.infer("actor", states[:1], explore=explore))
        out["actions"].append(a)
    a = hw.infer("actor", states)
    np.testing.assert_array_equal(a, golden.infer("actor", states))
    out["actions"].append(a)
    out["core_cycles"] = hw.stats.cycles
    return out


def roundtrip_commands(values: list[int], at: int, offset_in: int, offset_out: int):
    """LOAD ``values`` into the data memory at ``at`` and STORE them back elsewhere
    (offsets: multiples of the beat).  Returns (commands, image, words of the transfer)."""
    packed = DATA.pack(values)
    words = max(offset_in, offset_out) // 8 + len(packed)
    image = np.zeros(words, dtype=np.uint64)
    image[offset_in // 8:offset_in // 8 + len(packed)] = packed
    commands = encode_commands([Command("LOAD", "data", 0, RT_BASE + at, len(values),
                                        offset_in),
                                Command("STORE", "data", 0, RT_BASE + at, len(values),
                                        offset_out)],
                               BEAT)
    return commands, image, len(packed)


async def log_roundtrip_cycles(kernel: Kernel, dut, count: int = 600) -> int:
    """Kernel cycles of one LOAD + STORE of ``count`` data entries (no pauses), logged
    as ``roundtrip <bits>-bit bus: <count> entries, <cycles> cycles`` (docs/u50.md)."""
    values = random_words(random.Random(count), count)
    commands, image, n = roundtrip_commands(values, 0, 0, beats_bytes(count))
    out = await kernel.execute(commands, image)
    assert unpack_at(out, beats_bytes(count), count) == values
    cycles = kernel.invocations[-1]
    dut._log.warning("roundtrip %d-bit bus: %d entries, %d cycles", BITS, count, cycles)
    return cycles


def unpack_at(image: np.ndarray, offset: int, count: int) -> list[int]:
    return DATA.unpack(image[offset // 8:offset // 8 + DATA.words(count)], count)


def random_words(rng: random.Random, count: int) -> list[int]:
    """``count`` data entries a round trip through RT_MEMORY returns unchanged: random
    ``RT_MEMORY.width``-bit signed values sign-extended to the entry (a memory keeps
    the low bits of a word and sign-extends them when read)."""
    width, mask = RT_MEMORY.width, (1 << DATA.bits) - 1
    out = []
    for _ in range(count):
        v = rng.getrandbits(width)
        out.append((v - (1 << width) if v >> (width - 1) else v) & mask)
    return out


def beats_bytes(count: int) -> int:
    """Bytes of a transfer of ``count`` data entries."""
    return 8 * DATA.words(count)


# ----------------------------------------------------------------- the tests

@cocotb.test()
async def train_step_and_inference_equal_golden(dut):
    """(a) Two DDPG training steps and inferences through the AXI wrapper equal golden
    bit for bit (every parameter and optimizer state, actions, saturations) and the core's
    cycle counter (read with a STATS command) equals the RTL cycle model."""
    kernel = await Kernel.create(dut)
    await bridge(compare_with_golden)(kernel, 2, 7)
    dut._log.warning("train+infer: %d invocations, %d cycles", len(kernel.invocations),
                     sum(kernel.invocations))


@cocotb.test()
async def random_backpressure_changes_only_cycles(dut):
    """(b) Random pauses on every AXI channel (both interfaces, both directions): the
    same results (equal to golden and to the run without pauses), more cycles."""
    kernel = await Kernel.create(dut)
    plain = await bridge(compare_with_golden)(kernel, 1, 11)
    plain_cycles = sum(kernel.invocations)
    plain_calls = len(kernel.invocations)
    kernel.invocations.clear()
    kernel.backpressure(seed=3)
    paused = await bridge(compare_with_golden)(kernel, 1, 11)
    assert len(kernel.invocations) == plain_calls
    for a, b in zip(plain["params"], paused["params"]):
        for name in a:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    for a, b in zip(plain["actions"], paused["actions"]):
        np.testing.assert_array_equal(a, b)
    assert paused["core_cycles"] == plain["core_cycles"]
    assert sum(kernel.invocations) > plain_cycles
    # raw transfers too: a LOAD/STORE round trip under pauses
    rng = random.Random(5)
    values = random_words(rng, 37)
    out_at = BEAT + beats_bytes(37) + 3 * BEAT
    commands, image, n = roundtrip_commands(values, 100, BEAT, out_at)
    out = await kernel.execute(commands, image)
    assert unpack_at(out, out_at, len(values)) == values
    kernel.backpressure(seed=None)
    dut._log.warning("backpressure: %d -> %d cycles", plain_cycles, sum(kernel.invocations))


@cocotb.test()
async def ap_ctrl_hs_registers_and_back_to_back_runs(dut):
    """(c) ap_start / ap_done (clear on read) / ap_idle / ap_ready / auto_restart, GIE,
    IER, ISR (toggle on write) and the interrupt line, over back-to-back runs without a
    reset in between."""
    kernel = await Kernel.create(dut)
    await kernel.write("IER", 0)
    await kernel.write("GIE", 0)
    ctrl = await kernel.read("CTRL")
    assert ctrl == IDLE, f"after reset CTRL = {ctrl:#x}"
    assert [await kernel.read(r) for r in ("GIE", "IER", "ISR")] == [0, 0, 0]
    # arguments read back; byte strobes
    await kernel.program(0x1234_5678_9ABC_DEF0, 0x0FED_CBA9_8765_4320)
    got = [await kernel.read(r) for r in ("COMMANDS_LO", "COMMANDS_HI", "IMAGE_LO", "IMAGE_HI")]
    assert got == [0x9ABC_DEF0, 0x1234_5678, 0x8765_4320, 0x0FED_CBA9]
    await kernel.ctl.write(REGISTER["IMAGE_LO"] + 1, b"\x11")
    assert await kernel.read("IMAGE_LO") == 0x8765_1120
    # ISR toggles on write; the interrupt needs GIE and IER
    await kernel.write("ISR", 1)
    assert await kernel.read("ISR") == 1
    assert int(dut.interrupt.value) == 0                       # GIE = IER = 0
    await kernel.write("IER", 1)
    assert int(dut.interrupt.value) == 0                       # GIE = 0
    await kernel.write("GIE", 1)
    await RisingEdge(kernel.clk)
    assert int(dut.interrupt.value) == 1
    await kernel.write("ISR", 1)
    assert await kernel.read("ISR") == 0
    assert int(dut.interrupt.value) == 0

    # three back-to-back runs with different data, no reset between them
    rng = random.Random(9)
    for run in range(3):
        values = random_words(rng, 64 + 40 * run)
        commands, image, n = roundtrip_commands(values, 7 * run, 0, beats_bytes(len(values)))
        kernel.place(commands, image, CMD_BASE, IMAGE_BASE)
        await kernel.program(CMD_BASE, IMAGE_BASE)
        await kernel.write("IER", 3 if run != 1 else 0)
        await kernel.write("CTRL", START)
        ctrl = await kernel.read("CTRL")
        assert ctrl & START and not ctrl & IDLE and not ctrl & DONE, f"running: {ctrl:#x}"
        if run == 1:                                           # no interrupt: poll
            for _ in range(10_000):
                ctrl = await kernel.read("CTRL")
                if ctrl & DONE:
                    break
            assert ctrl & DONE and ctrl & READY
            assert await kernel.read("ISR") == 0 and int(dut.interrupt.value) == 0
        else:
            await kernel.wait_interrupt()
            assert await kernel.read("ISR") == 3
            ctrl = await kernel.read("CTRL")
        assert ctrl == DONE | IDLE | READY, f"done: {ctrl:#x}"
        assert await kernel.read("CTRL") == IDLE              # ap_done, ap_ready cleared
        if run != 1:
            assert int(dut.interrupt.value) == 1              # until ISR is cleared
            await kernel.write("ISR", 1)
            assert await kernel.read("ISR") == 2 and int(dut.interrupt.value) == 1
            await kernel.write("ISR", 2)
            assert await kernel.read("ISR") == 0
            await RisingEdge(kernel.clk)
            assert int(dut.interrupt.value) == 0
        out = kernel.image_at(IMAGE_BASE, len(image))
        assert unpack_at(out, 8 * n, len(values)) == values, f"run {run}"

    # auto_restart: the kernel runs again and again until it is cleared
    await kernel.write("IER", 0)
    starts = sum(1 for ch, a, _ in kernel.bursts if ch == "AR" and a == CMD_BASE)
    await kernel.write("CTRL", START | AUTO)
    seen = 0
    for _ in range(20_000):
        await RisingEdge(kernel.clk)
        seen = sum(1 for ch, a, _ in kernel.bursts if ch == "AR" and a == CMD_BASE) - starts
        if seen >= 3:
            break
    assert seen >= 3, "auto_restart did not restart the kernel"
    assert (await kernel.read("CTRL")) & (START | AUTO) == START | AUTO
    await kernel.write("CTRL", 0)                              # clear auto_restart
    for _ in range(10_000):
        ctrl = await kernel.read("CTRL")
        if ctrl & IDLE and not ctrl & START:
            break
    assert ctrl & IDLE and not ctrl & (START | AUTO), f"after auto_restart: {ctrl:#x}"


class Interrupted(Exception):
    """The invocation was cut short by a reset."""


def train_until_reset(kernel: Kernel, seed: int) -> None:
    """A training step whose RUN invocation is reset while the core runs."""
    async def execute(commands, image):
        if any(int(w) & 0xFF == 3 for w in commands[::4]):      # a RUN command
            await kernel.start_and_reset(commands, image, RUN_WAIT, 100)
            raise Interrupted
        return await kernel.execute(commands, image)
    hw = u50_core(resume(execute))
    golden = open_core(SPEC, "golden")
    hw.load_params(random_params(SPEC, seed=seed))
    try:
        hw.train_step(uniform_batch(SPEC, golden.formats, np.random.default_rng(seed)))
    except Interrupted:
        return
    raise AssertionError("the training step had no RUN")


@cocotb.test()
async def reset_in_the_middle_of_a_run_leaves_the_kernel_usable(dut):
    """(d) ap_rst_n low while the kernel loads (read bursts in flight), while the core
    runs a training step, and while it stores (write bursts in flight); each time it is
    idle afterwards, and then a complete train step + inference equals golden."""
    kernel = await Kernel.create(dut)
    rng = random.Random(21)
    for phase in ("load", "run", "store"):
        if phase == "run":
            await bridge(train_until_reset)(kernel, 3)
        else:
            values = random_words(rng, 300)
            commands, image, _ = roundtrip_commands(values, 0, 0, beats_bytes(len(values)))
            await kernel.start_and_reset(commands, image, LOAD if phase == "load" else STORE)
        assert await kernel.read("CTRL") == IDLE, phase
        assert await kernel.read("ISR") == 0, phase
        assert int(dut.interrupt.value) == 0, phase
    await bridge(compare_with_golden)(kernel, 1, 13)


@cocotb.test()
async def bursts_are_split_at_4k_and_256_beats(dut):
    """(e) Transfers that cross 4 KB boundaries and exceed 256 beats are split: every
    observed burst stays inside its 4 KB page, has at most 256 beats, and the bursts
    cover the transfer exactly; the command list itself crosses a boundary."""
    kernel = await Kernel.create(dut)
    rng = random.Random(33)
    count = 2 * 256 * DATA.per_unit // DATA.beats_per_unit     # 512 beats
    assert 3 + count <= 1 << CFG.hostmap.addr_bits
    values = random_words(rng, count)
    image_base = 0x3000 - 5 * BEAT                            # 5 beats before a boundary
    cmd_base = 0x2000 - 32                                    # one command before it
    size = beats_bytes(count)
    commands, image, n = roundtrip_commands(values, 3, 0, size + 2 * BEAT)
    before = len(kernel.bursts)
    out = await kernel.execute(commands, image, cmd_base=cmd_base, image_base=image_base)
    assert unpack_at(out, size + 2 * BEAT, count) == values
    bursts = kernel.bursts[before:]
    for ch, addr, beats in bursts:
        assert beats <= 256, (ch, hex(addr), beats)
        assert addr % BEAT == 0, (ch, hex(addr))
        assert addr // 4096 == (addr + beats * BEAT - 1) // 4096, (ch, hex(addr), beats)

    def covered(ch, start, nbytes):
        spans = sorted((a, a + b * BEAT) for c, a, b in bursts
                       if c == ch and start <= a + b * BEAT and a < start + nbytes)
        assert spans[0][0] == start and spans[-1][1] == start + nbytes, \
            (ch, spans[:2], spans[-2:])
        for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
            assert a1 == b0, (ch, hex(a1), hex(b0))
        return len(spans)
    def pages(start, nbytes):      # bursts are split at 4 KB only (256 beats > 4 KB)
        return (start + nbytes - 1) // 4096 - start // 4096 + 1
    assert covered("AR", image_base, size) == pages(image_base, size) == 5
    out_at = image_base + size + 2 * BEAT
    assert covered("AW", out_at, size) == pages(out_at, size)
    assert max(b for c, _, b in bursts if c == "AR") == min(256, 4096 // BEAT)
    # the command list: its first command before the boundary, the next after it
    first = [a for c, a, _ in bursts if c == "AR" and cmd_base - 64 <= a < cmd_base + 0x40]
    assert cmd_base - cmd_base % BEAT in first and 0x2000 in first, [hex(a) for a in first]
    await log_roundtrip_cycles(kernel, dut)


@cocotb.test()
async def other_width_roundtrip_and_inference(dut):
    """The builds with another bus width (tests/u50/kernel_setup.py, designs "narrow"
    and "wide"): round trips (partial last units, 4 KB splits) leave the memory around
    them untouched, and an inference equals golden."""
    kernel = await Kernel.create(dut)
    assert 8 * kernel.data_bytes == BITS != 256
    rng = random.Random(44)
    for count, offset_in, offset_out, base in ((1, BEAT, 5 * BEAT, IMAGE_BASE),
                                               (13, 2 * BEAT, 40 * BEAT, IMAGE_BASE + BEAT),
                                               (300, BEAT, 8 * 300 * 2 + 7 * BEAT,
                                                0x5000 - 5 * BEAT)):
        values = random_words(rng, count)
        commands, image, n = roundtrip_commands(values, 5, offset_in, offset_out)
        sentinel = np.uint64(0xA5A5_5A5A_0F0F_F0F0)
        image[:offset_in // 8] = sentinel
        image[offset_in // 8 + n:offset_out // 8] = sentinel
        kernel.ram.write(base + 8 * len(image), bytes([0x77]) * 64)
        before = len(kernel.bursts)
        out = await kernel.execute(commands, image, image_base=base)
        assert unpack_at(out, offset_out, count) == values
        # words outside the STORE are untouched
        np.testing.assert_array_equal(out[:offset_out // 8], image[:offset_out // 8])
        assert bytes(kernel.ram.read(base + 8 * len(image), 64)) == bytes([0x77]) * 64
        for ch, addr, beats in kernel.bursts[before:]:
            assert addr % kernel.data_bytes == 0 and beats <= 256
            assert addr // 4096 == (addr + beats * kernel.data_bytes - 1) // 4096
    await log_roundtrip_cycles(kernel, dut)
    await bridge(infer_only)(kernel, 17)


SLVERR, DECERR = 2, 3


def error_list(rng: random.Random):
    """LOAD (40 entries at A), LOAD (300 at B), STORE (300 to C), END; the image and the
    byte offsets of A, B and C."""
    a, b = random_words(rng, 40), random_words(rng, 300)
    off_a = 0
    off_b = off_a + beats_bytes(40) + BEAT
    off_c = off_b + beats_bytes(300) + BEAT
    image = np.zeros((off_c + beats_bytes(300)) // 8 + BEAT // 8, dtype=np.uint64)
    image[off_a // 8:off_a // 8 + DATA.words(40)] = DATA.pack(a)
    image[off_b // 8:off_b // 8 + DATA.words(300)] = DATA.pack(b)
    image[off_c // 8:] = np.uint64(0x5A5A_A5A5_1234_8765)
    commands = encode_commands([Command("LOAD", "data", 0, RT_BASE, 40, off_a),
                                Command("LOAD", "data", 0, RT_BASE + 50, 300, off_b),
                                Command("STORE", "data", 0, RT_BASE, 300, off_c)], BEAT)
    return commands, image, (off_a, off_b, off_c)


async def run_expecting_error(kernel: Kernel, commands, image, image_base=IMAGE_BASE,
                              cmd_base=CMD_BASE):
    """Start the kernel, wait for ap_done; the status and the image after the run."""
    kernel.place(commands, image, cmd_base, image_base)
    await kernel.program(cmd_base, image_base)
    kernel.faults.seen.clear()
    kernel.error_rose = None
    first = kernel.cycle
    await kernel.write("CTRL", START)
    await kernel.wait_interrupt()
    ctrl = await kernel.read("CTRL")
    assert ctrl & DONE and ctrl & IDLE, f"CTRL = {ctrl:#x} after the interrupt"
    await kernel.write("ISR", 1)
    status = await kernel.status()
    return status, kernel.image_at(image_base, len(image)), first


async def clean_run_works(kernel: Kernel, rng: random.Random) -> None:
    """After an error the next run is clean: its status is 0 and its data right."""
    values = random_words(rng, 20)
    commands, image, n = roundtrip_commands(values, 9, 0, beats_bytes(20) + BEAT)
    out = await kernel.execute(commands, image)
    assert unpack_at(out, beats_bytes(20) + BEAT, 20) == values
    assert (await kernel.status()).error is False
    assert await kernel.read("STATUS") == 0


@cocotb.test()
async def axi_read_errors_stop_the_run(dut):
    """(f) SLVERR and DECERR on a LOAD's read beat and on a command fetch, and an early
    and a missing RLAST: the run ends with ap_done, STATUS names the transfer (kind,
    response, RLAST), ERROR_COMMAND the command and ERROR_ADDR its HBM address; nothing
    is written afterwards (the list's STORE never runs: no AW, no W), no read burst is
    asked for after the error, and the next run is clean."""
    kernel = await Kernel.create(dut)
    rng = random.Random(61)
    cases = (("load", SLVERR, None, 1), ("load", DECERR, None, 1),
             ("load", 0, "early", 1), ("load", 0, "missing", 1),
             ("fetch", DECERR, None, 2), ("fetch", 0, "missing", 0))
    for kind, resp, rlast, index in cases:
        commands, image, (off_a, off_b, off_c) = error_list(rng)
        if kind == "load":
            lo = IMAGE_BASE + off_b + 2 * 4096 // 3 // BEAT * BEAT   # inside LOAD B
            hi, where = IMAGE_BASE + off_c, IMAGE_BASE + off_b
        else:
            lo = CMD_BASE + 32 * index
            hi, where = lo + 32, lo
        kernel.faults.on_read(lo, hi, resp, rlast)
        bursts = len(kernel.bursts)
        status, out, first = await run_expecting_error(kernel, commands, image)
        label = f"{kind} {resp} {rlast}"
        assert kernel.faults.seen == ["R"], label
        assert status.error and status.kind == kind, (label, status)
        assert status.response == ("OKAY", "EXOKAY", "SLVERR", "DECERR")[resp], (label, status)
        assert status.rlast == (rlast is not None), (label, status)
        assert status.command == index and status.address == where, (label, status)
        # nothing written: no AW, no W; the STORE's region keeps its contents
        assert not [b for b in kernel.bursts[bursts:] if b[0] == "AW"], label
        assert not [w for w in kernel.w_beats if w[0] >= first], label
        np.testing.assert_array_equal(out[off_c // 8:], image[off_c // 8:])
        # no read burst asked for after the error (one cycle to register it)
        error_at = kernel.error_rose - 1          # the cycle the bad response came
        late = [at for at, b in zip(kernel.bursts_at[bursts:], kernel.bursts[bursts:])
                if b[0] == "AR" and at > error_at + 1]
        assert not late, (label, late)
        await clean_run_works(kernel, rng)
    # the executor of the host code raises, naming the transfer
    commands, image, (_, off_b, _) = error_list(rng)
    kernel.faults.on_read(IMAGE_BASE + off_b, IMAGE_BASE + off_b + BEAT, SLVERR)
    try:
        await kernel.execute(commands, image)
    except Exception as exc:                               # KernelError
        message = str(exc)
        assert "load" in message and "SLVERR" in message and "command 1 (LOAD data" in message
        assert f"{IMAGE_BASE + off_b:#x}" in message, message
    else:
        raise AssertionError("a read error did not raise")


@cocotb.test()
async def axi_write_errors_stop_the_run(dut):
    """(g) SLVERR and DECERR on the write response of a STORE's first burst, and on a
    STATS: the run ends with the error in STATUS; from the bad response on, no W beat
    carries a byte strobe and no new AW burst is asked for; the list's next STORE never
    writes; the next run is clean."""
    kernel = await Kernel.create(dut)
    rng = random.Random(62)
    for kind, resp in (("store", SLVERR), ("store", DECERR), ("stats", SLVERR)):
        count = 3 * 4096 // BEAT * DATA.per_unit // DATA.beats_per_unit   # 3 pages
        assert count <= 1 << CFG.hostmap.addr_bits
        values = random_words(rng, count)
        size = beats_bytes(count)
        off_out, off_next = size + BEAT, 2 * size + 2 * BEAT
        image = np.zeros((off_next + size) // 8, dtype=np.uint64)
        image[:DATA.words(count)] = DATA.pack(values)
        image[off_out // 8:] = np.uint64(0x0123_4567_89AB_CDEF)
        if kind == "store":
            failing = Command("STORE", "data", 0, RT_BASE, count, off_out)
        else:
            failing = Command("STATS", "cycles", 0, 0, 2, off_out)
        commands = encode_commands([Command("LOAD", "data", 0, RT_BASE, count, 0), failing,
                                    Command("STORE", "data", 0, RT_BASE, count, off_next)], BEAT)
        kernel.faults.on_write(IMAGE_BASE + off_out, IMAGE_BASE + off_out + BEAT, resp)
        bursts = len(kernel.bursts)
        status, out, first = await run_expecting_error(kernel, commands, image)
        label = f"{kind} {resp}"
        assert kernel.faults.seen == ["B"], label
        assert status.error and status.kind == kind and not status.rlast, (label, status)
        assert status.response == ("SLVERR" if resp == SLVERR else "DECERR"), label
        assert status.command == 1 and status.address == IMAGE_BASE + off_out, label
        error_at = kernel.error_rose - 1          # the cycle the bad response came
        written = [w for w in kernel.w_beats if w[0] > error_at and w[1]]
        assert not written, (label, written[:3])
        late = [at for at, b in zip(kernel.bursts_at[bursts:], kernel.bursts[bursts:])
                if b[0] == "AW" and at > error_at + 1]
        assert not late, (label, late)
        # the next STORE never ran
        np.testing.assert_array_equal(out[off_next // 8:], image[off_next // 8:])
        if kind == "store":                      # some of the failing STORE was written
            assert out[off_out // 8] != image[off_out // 8]
        await clean_run_works(kernel, rng)


@cocotb.test()
async def bad_commands_and_arguments_are_errors(dut):
    """(h) An unknown opcode, an unknown memory, an offset off the beat, a count of
    2^32, a core the design does not have, an address above the memory's port and entries
    past its end stop the run with STATUS kind ``command``; an image address off the beat with kind ``argument``
    (the run does not start); nothing is read or written for them."""
    kernel = await Kernel.create(dut)
    rng = random.Random(63)
    good = Command("LOAD", "data", 0, RT_BASE, 4, 0)
    image = np.zeros(64, dtype=np.uint64)
    image[:DATA.words(4)] = DATA.pack(random_words(rng, 4))
    lists = []
    words = encode_commands([good, Command("STORE", "data", 0, RT_BASE, 4, 8 * 32)], BEAT)
    words[4] = 9                                           # opcode 9 does not exist
    lists.append(words)
    words = encode_commands([good, Command("LOAD", "data", 0, RT_BASE, 4, 0)], BEAT)
    words[4] |= 7 << 8                                     # memory 7 does not exist
    lists.append(words)
    if BEAT > 8:
        words = encode_commands([good, Command("LOAD", "data", 0, RT_BASE, 4, 0)], BEAT)
        words[7] = 8                                       # 8 bytes: off the beat
        lists.append(words)
    words = encode_commands([good, Command("LOAD", "data", 0, RT_BASE, 4, 0)], BEAT)
    words[6] = np.uint64(1 << 32)                          # a count of 2^32
    lists.append(words)
    # moves naming what the design does not have (commands.command_problem): a core
    # beyond the cores, an address above the port, entries past the memory's end
    hm, end = CFG.hostmap, 1 << CFG.hostmap.data_addr_bits
    top = end << (hm.core_bits if hm.per_core else 0)
    beyond = [Command("STORE", "data", hm.cores, RT_BASE, 4, 8 * 32),
              Command("STATS", STAT_KINDS[0], hm.cores, 0, 1, 8 * 32),
              Command("LOAD", "data", 0, top | RT_BASE, 4, 0),
              Command("LOAD", "data", 0, end - 2, 4, 0),
              Command("STORE", "data", 0, end - 2, 4, 8 * 32)]
    for c in beyond:
        assert command_problem(hm, c), c
        lists.append(encode_commands([good, c], BEAT))
    for commands in lists:
        bursts = len(kernel.bursts)
        status, _, _ = await run_expecting_error(kernel, commands, image)
        assert status.error and status.kind == "command", status
        assert status.command == 1 and status.address == CMD_BASE + 32, status
        assert [b[0] for b in kernel.bursts[bursts:]].count("AW") == 0
    if BEAT > 8:
        bursts = len(kernel.bursts)
        status, _, _ = await run_expecting_error(kernel, lists[0], image,
                                                 image_base=IMAGE_BASE + 8)
        assert status.error and status.kind == "argument", status
        assert status.address == IMAGE_BASE + 8, status
        assert kernel.bursts[bursts:] == []
    await clean_run_works(kernel, rng)


def infer_only(kernel: Kernel, seed: int) -> None:
    hw = u50_core(resume(kernel.execute))
    golden = open_core(SPEC, "golden")
    params = random_params(SPEC, seed=seed)
    golden.load_params(params)
    hw.load_params(params)
    rng = np.random.default_rng(seed)
    states = uniform_batch(SPEC, golden.formats, rng, size=BATCH).states
    np.testing.assert_array_equal(hw.infer("actor", states), golden.infer("actor", states))


# ----------------------------------------------------------------- per-core memories

def random_programs_with_transfers(kernel: Kernel, examples: int) -> int:
    """``fixar verify``'s random programs over both cores, each core then storing every
    buffer (:func:`tests.test_transfers.with_readback`), with their transfers, through
    the kernel: golden's buffers, host slots, saturations and the cycle model's cycles.
    Runs in a bridge thread; the programs that moved words."""
    from hypothesis import HealthCheck, given, settings

    from fixar_gen.programs import programs
    from fixar_gen.transfers import insert_all, transfers_of
    from fixar_gen.verify import check_program
    from tests.test_transfers import with_readback

    machine = HardwareMachine(CFG, CommandDriver(CFG.hostmap, resume(kernel.execute), BITS))
    moved_words = []

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(programs(SPEC, max_instructions=4))
    def check(case):
        case = with_readback(case)
        (moved,) = insert_all([case.program])
        moved_words.append(bool(transfers_of(moved).instructions))
        diff = check_program(dataclasses.replace(case, program=moved), machine)
        assert diff is None, f"{diff}\n{case.listing()}"

    check()
    return sum(moved_words)


@cocotb.test()
async def random_programs_with_transfers_equal_golden(dut):
    """(i) Per-core memories: random programs with their transfers (the cores' ``xfer``
    run inside the kernel's RUN) equal golden bit for bit and the RTL cycle model; the
    host writes every copy (LOAD) and reads each word from its last writer's copy
    (STORE with the command's core)."""
    kernel = await Kernel.create(dut)
    assert CFG.hostmap.per_core
    moved = await bridge(random_programs_with_transfers)(kernel, 8)
    assert moved, "no random program moved words between the copies"
    dut._log.warning("random programs with transfers: %d of 8 moved words; %d invocations",
                     moved, len(kernel.invocations))


@cocotb.test()
async def transfers_in_forty_random_programs(dut):
    """(i) with 40 programs (the slow run)."""
    kernel = await Kernel.create(dut)
    moved = await bridge(random_programs_with_transfers)(kernel, 40)
    assert moved
    dut._log.warning("forty random programs with transfers: %d moved words", moved)


def handoff(kernel: Kernel) -> None:
    """Core 0 computes y, an ``xfer`` brings it into core 1's copy, core 1 stores it
    into a host slot (tests/hw/test_percore_rtl.py): equal to golden only if the slot
    is read from core 1's copy; without the xfer core 1 stores the y the host wrote."""
    from fixar_gen.verify import check_program
    from tests.hw.test_percore_rtl import _handoff

    machine = HardwareMachine(CFG, CommandDriver(CFG.hostmap, resume(kernel.execute), BITS))
    assert check_program(_handoff(True), machine) is None
    diff = check_program(_handoff(False), machine)
    assert diff is not None and "slot out" in str(diff) and diff.hardware == 7, diff
    # core 1's copy holds what core 1 stored, at that copy's address of the slot: STORE
    # names the copy it reads (a kernel reading core 0's copy whatever the core reads
    # core 0's words there)
    held = {r.copy: r for r in machine.runs[("slot", "out")]}
    got = machine.driver.read(held[1].address, held[1].words, 1)
    assert got == [7] * held[1].words, got
    if 0 in held:
        assert machine.driver.read(held[0].address, held[0].words, 0) != got


@cocotb.test()
async def reads_name_the_copy_of_the_last_writer(dut):
    """(j) Per-core memories: a STORE reads the copy its command's core names (a kernel
    that reads core 0's copy whatever the core fails it: the slot core 1 stored is only
    in core 1's copy)."""
    kernel = await Kernel.create(dut)
    await bridge(handoff)(kernel)


@cocotb.test()
async def intra_layer_train_step_equal_golden(dut):
    """(k) Per-core memories, the other training policy (intra_layer: each core its
    output columns; the kernel built for the intra_batch spec serves the same networks):
    a DDPG step and inferences equal golden, cycles the RTL cycle model's."""
    from dataclasses import replace
    kernel = await Kernel.create(dut)
    spec = replace(SPEC, parallelism=replace(SPEC.parallelism, training="intra_layer"))
    await bridge(compare_with_golden)(kernel, 1, 23, spec)
