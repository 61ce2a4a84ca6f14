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

import logging
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.task import bridge, resume
from cocotb.triggers import ClockCycles, RisingEdge
from cocotbext.axi import AxiBus, AxiLiteBus, AxiLiteMaster, AxiRam

from fixar_gen.backends import HardwareCore, open_core, random_params
from fixar_gen.hw.host import HardwareMachine
from fixar_gen.targets.u50.batch import CommandDriver
from fixar_gen.targets.u50.commands import (REGISTER, Command, encode_commands, entry_bits,
                                            entry_words, pack_entries, unpack_entries)
from fixar_gen.targets.u50.kernel import CONTROL_BITS, LOAD, RUN_WAIT, STORE
from fixar_gen.testing import uniform_batch
from tests.u50.kernel_setup import current

DESIGN = current()
SPEC, CFG, BATCH = DESIGN.spec, DESIGN.cfg, DESIGN.batch

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
        return self.image_at(image_base, len(image))


# ----------------------------------------------------------------- golden comparisons

def compare_with_golden(kernel: Kernel, steps: int, seed: int) -> dict:
    """Train ``steps`` DDPG steps and run inference on the kernel and on the golden model
    from the same parameters; every parameter, output and statistic must be identical.
    Runs in a bridge thread."""
    execute = resume(kernel.execute)
    machine = HardwareMachine(CFG, CommandDriver(CFG.hostmap, execute))
    hw = HardwareCore(SPEC, backend="u50-cocotb", machine=machine)
    golden = open_core(SPEC, "golden")
    params = random_params(SPEC, seed=seed)
    golden.load_params(params)
    hw.load_params(params)
    rng = np.random.default_rng(seed)
    out = {"params": [], "actions": []}
    for _ in range(steps):
        batch = uniform_batch(SPEC, golden.formats, rng)
        golden.train_step(batch)
        hw.train_step(batch)
        g, h = golden.read_params(), hw.read_params()
        for name in g:
            np.testing.assert_array_equal(h[name], g[name], err_msg=name)
        out["params"].append(h)
        assert hw.stats.cycles == machine.modeled_cycles(hw.program("train", BATCH))
        assert hw.stats.saturations == golden.stats.saturations
    states = uniform_batch(SPEC, golden.formats, rng, size=BATCH).states
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
    """LOAD ``values`` into the data memory at ``at`` and STORE them back elsewhere."""
    bits = entry_bits(CFG.hostmap, "data")
    n = entry_words(bits)
    packed = pack_entries(values, bits)
    words = max(offset_in, offset_out) // 8 + len(packed)
    image = np.zeros(words, dtype=np.uint64)
    image[offset_in // 8:offset_in // 8 + len(packed)] = packed
    commands = encode_commands([Command("LOAD", "data", 0, at, len(values), offset_in),
                                Command("STORE", "data", 0, at, len(values), offset_out)])
    return commands, image, n


def random_words(rng: random.Random, count: int) -> list[int]:
    bits = entry_bits(CFG.hostmap, "data")
    return [rng.getrandbits(bits) for _ in range(count)]


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
    # raw transfers too: a LOAD/STORE round trip at odd offsets under pauses
    rng = random.Random(5)
    values = random_words(rng, 37)
    commands, image, n = roundtrip_commands(values, 100, 8, 8 * 2 * 37 + 24)
    out = await kernel.execute(commands, image)
    got = unpack_entries(out[(8 * 2 * 37 + 24) // 8:][:n * len(values)],
                         entry_bits(CFG.hostmap, "data"))
    assert got == values
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
        commands, image, n = roundtrip_commands(values, 7 * run, 0, 8 * 2 * len(values))
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
        got = unpack_entries(out[len(values) * n:], entry_bits(CFG.hostmap, "data"))
        assert got == values, f"run {run}"

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
    hw = HardwareCore(SPEC, backend="u50-cocotb",
                      machine=HardwareMachine(CFG, CommandDriver(CFG.hostmap,
                                                                 resume(execute))))
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
            commands, image, _ = roundtrip_commands(values, 0, 0, 8 * 2 * len(values))
            await kernel.start_and_reset(commands, image, LOAD if phase == "load" else STORE)
        assert await kernel.read("CTRL") == IDLE, phase
        assert await kernel.read("ISR") == 0, phase
        assert int(dut.interrupt.value) == 0, phase
    await bridge(compare_with_golden)(kernel, 1, 13)


@cocotb.test()
async def bursts_are_split_at_4k_and_256_beats(dut):
    """(e) Transfers that cross 4 KB boundaries and exceed 256 beats are split: every
    observed burst stays inside its 4 KB page, has at most 256 beats, and the bursts
    cover the transfer exactly; the command list itself straddles a boundary."""
    kernel = await Kernel.create(dut)
    rng = random.Random(33)
    count = 700                                               # 1400 words: > 256 beats
    values = random_words(rng, count)
    image_base = 0x3000 - 8 * 5                               # 5 words before a boundary
    cmd_base = 0x2000 - 8 * 2                                 # the first command straddles
    commands, image, n = roundtrip_commands(values, 3, 0, 8 * n_words(count) + 16)
    before = len(kernel.bursts)
    out = await kernel.execute(commands, image, cmd_base=cmd_base, image_base=image_base)
    got = unpack_entries(out[(8 * n_words(count) + 16) // 8:], entry_bits(CFG.hostmap, "data"))
    assert got == values
    bursts = kernel.bursts[before:]
    beat = kernel.data_bytes
    for ch, addr, beats in bursts:
        assert beats <= 256, (ch, hex(addr), beats)
        assert addr // 4096 == (addr + beats * beat - 1) // 4096, (ch, hex(addr), beats)
    def covered(ch, start, words):
        spans = sorted((a, a + b * beat) for c, a, b in bursts
                       if c == ch and start <= a + b * beat and a < start + 8 * words)
        lo = start - start % beat
        hi = -(-(start + 8 * words) // beat) * beat
        assert spans[0][0] == lo and spans[-1][1] == hi, (ch, spans[:2], spans[-2:])
        for (a0, a1), (b0, b1) in zip(spans, spans[1:]):
            assert a1 == b0, (ch, hex(a1), hex(b0))
        return len(spans)
    assert covered("AR", image_base, n_words(count)) >= 2 + n_words(count) * 8 // 2048
    assert covered("AW", image_base + 8 * n_words(count) + 16, n_words(count)) >= 3
    # the first command (4 words from 0x1FD0) and the rest of the list
    first = [a for c, a, _ in bursts if c == "AR" and cmd_base <= a < cmd_base + 0x40]
    assert cmd_base in first and 0x2000 in first, [hex(a) for a in first]


def n_words(count: int) -> int:
    return count * entry_words(entry_bits(CFG.hostmap, "data"))


@cocotb.test()
async def wide_bus_roundtrip_and_inference(dut):
    """The wide-bus build (tests/u50/kernel_setup.py, design "wide"): unaligned round
    trips (WSTRB on partial beats, 4 KB splits) and an inference equal golden."""
    kernel = await Kernel.create(dut)
    assert 8 * kernel.data_bytes == DESIGN.axi_data_bits > 64
    rng = random.Random(44)
    for count, offset_in, offset_out, base in ((1, 8, 40, IMAGE_BASE),
                                               (13, 24, 24 + 8 * 26 + 8, IMAGE_BASE + 8),
                                               (300, 8, 8 * 600 + 56, 0x5000 - 40)):
        values = random_words(rng, count)
        commands, image, n = roundtrip_commands(values, 5, offset_in, offset_out)
        sentinel = np.uint64(0xA5A5_5A5A_0F0F_F0F0)
        image[:offset_in // 8] = sentinel
        image[offset_in // 8 + n * count:offset_out // 8] = sentinel
        kernel.ram.write(base + 8 * len(image), bytes([0x77]) * 64)
        before = len(kernel.bursts)
        out = await kernel.execute(commands, image, image_base=base)
        got = unpack_entries(out[offset_out // 8:offset_out // 8 + n * count],
                             entry_bits(CFG.hostmap, "data"))
        assert got == values
        # words outside the STORE are untouched (WSTRB)
        np.testing.assert_array_equal(out[:offset_out // 8], image[:offset_out // 8])
        assert bytes(kernel.ram.read(base + 8 * len(image), 64)) == bytes([0x77]) * 64
        for ch, addr, beats in kernel.bursts[before:]:
            assert addr % kernel.data_bytes == 0 and beats <= 256
            assert addr // 4096 == (addr + beats * kernel.data_bytes - 1) // 4096
    await bridge(infer_only)(kernel, 17)


def infer_only(kernel: Kernel, seed: int) -> None:
    execute = resume(kernel.execute)
    hw = HardwareCore(SPEC, backend="u50-cocotb",
                      machine=HardwareMachine(CFG, CommandDriver(CFG.hostmap, execute)))
    golden = open_core(SPEC, "golden")
    params = random_params(SPEC, seed=seed)
    golden.load_params(params)
    hw.load_params(params)
    rng = np.random.default_rng(seed)
    states = uniform_batch(SPEC, golden.formats, rng, size=BATCH).states
    np.testing.assert_array_equal(hw.infer("actor", states), golden.infer("actor", states))
