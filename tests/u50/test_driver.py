"""The u50 backend's host driver above pyxrt, against a fake pyxrt module.

No Alveo card and no XRT exist here.  ``FakePyxrt`` stands in for XRT's Python binding
with the calls the driver makes (device, load_xclbin, kernel, group_id, bo, write,
sync, read, run, set_arg, start, wait) and plays the card: a buffer object has a host
copy and a device copy that only ``sync`` moves between, and a started run executes
the kernel's command semantics (:func:`fixar_gen.targets.u50.batch.model_executor`)
over the PyRTL core on the *device* copies, with the arguments taken in kernel.xml's
order.  So a missing or misdirected sync, swapped arguments or a wrong bank shows up as
wrong results, and the log records every call for the tests that check them directly.

What this does not test: XRT itself, the xclbin, the kernel RTL on the card, HBM
timing -- the real-card path is untested here (docs/u50.md, "What is tested").
"""

from __future__ import annotations

import enum
import re
import sys
import types
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from fixar_gen.backends import BACKENDS
from fixar_gen.hw.core import build_core
from fixar_gen.hw.design import config_for
from fixar_gen.hw.drivers import PyrtlDriver
from fixar_gen.hw.host import HardwareMachine
from fixar_gen.programs import programs
from fixar_gen.targets.u50 import driver as u50_driver
from fixar_gen.targets.u50.batch import CommandDriver, model_executor
from fixar_gen.targets.u50.commands import (ARGUMENTS, COMMAND_WORDS, OPCODES, REGISTER,
                                            Layout)
from fixar_gen.targets.u50.package import KernelPackage
from fixar_gen.targets.u50.status import KernelError
from fixar_gen.tools import ToolFailed, ToolMissing
from fixar_gen.verify import check_program
from tests.hw.test_core import small_config, small_spec, tiny_ddpg
from tests.conftest import examples

PACKAGE = KernelPackage()


# ------------------------------------------------------------------------ the fake pyxrt

class SyncDirection(enum.Enum):
    XCL_BO_SYNC_BO_TO_DEVICE = 0
    XCL_BO_SYNC_BO_FROM_DEVICE = 1


class CmdState(enum.Enum):
    ERT_CMD_STATE_NEW = 1
    ERT_CMD_STATE_COMPLETED = 4
    ERT_CMD_STATE_ERROR = 5
    ERT_CMD_STATE_TIMEOUT = 8


class AccessMode(enum.Enum):
    exclusive = 0
    shared = 1


class BoFlags(enum.Enum):
    normal = 0
    device_only = 1


def kernel_xml_arguments(text: str) -> list[str]:
    """Argument names by id, as XRT reads them from the kernel's metadata."""
    kernel = ET.fromstring(text).find("kernel")
    args = sorted(kernel.find("args"), key=lambda a: int(a.get("id")))
    return [a.get("name") for a in args]


class FakePyxrt(types.ModuleType):
    """A pyxrt module whose card runs ``execute(commands, image) -> image``."""

    def __init__(self, execute, kernel_xml: str, kernel_name: str = PACKAGE.name):
        super().__init__("pyxrt")
        self.execute = execute
        self.arg_names = kernel_xml_arguments(kernel_xml)
        self.kernel_name = kernel_name
        self.log: list[tuple] = []
        self.wait_state = CmdState.ERT_CMD_STATE_COMPLETED
        #: the compute unit's registers that read_register sees after a run (offset -> value)
        self.registers: dict[int, int] = {}
        self.loaded: str | None = None
        self.xclBOSyncDirection = SyncDirection
        self.ert_cmd_state = CmdState
        fake = self

        class uuid:
            def __init__(self, path):
                self.path = path

        class device:
            def __init__(self, index=0):
                fake.log.append(("device", index))

            def load_xclbin(self, path):
                if not Path(path).is_file():
                    raise RuntimeError(f"no xclbin {path}")
                fake.loaded = str(path)
                fake.log.append(("load_xclbin", str(path)))
                return uuid(str(path))

        class kernel:
            cu_access_mode = AccessMode

            def __init__(self, dev, xuuid, name, mode=AccessMode.shared):
                if xuuid.path != fake.loaded or name != fake.kernel_name:
                    raise RuntimeError(f"no kernel {name} in {xuuid.path}")
                self.mode = mode
                fake.log.append(("kernel", name, mode))

            def read_register(self, offset):
                if self.mode is not AccessMode.exclusive:
                    raise RuntimeError("read_register needs cu_access_mode.exclusive")
                fake.log.append(("read_register", offset))
                return fake.registers.get(offset, 0)

            def group_id(self, index):
                # every argument in its own (pretend) bank, so a mix-up is visible
                group = 100 + index
                fake.log.append(("group_id", index, group))
                return group

        class bo:
            flags = BoFlags

            def __init__(self, dev, size, flags, group):
                self.id = sum(1 for e in fake.log if e[0] == "bo")
                self._size, self.group = size, group
                self.host = bytearray(size)
                self.device = bytearray(size)
                fake.log.append(("bo", self.id, size, flags, group))

            def size(self):
                return self._size

            def write(self, data, seek):
                raw = np.ascontiguousarray(data).tobytes()
                assert seek + len(raw) <= self._size, "write past the end of a bo"
                self.host[seek:seek + len(raw)] = raw
                fake.log.append(("write", self.id, len(raw), seek))

            def sync(self, direction, size, offset):
                assert offset + size <= self._size, "sync past the end of a bo"
                if direction is SyncDirection.XCL_BO_SYNC_BO_TO_DEVICE:
                    self.device[offset:offset + size] = self.host[offset:offset + size]
                else:
                    self.host[offset:offset + size] = self.device[offset:offset + size]
                fake.log.append(("sync", self.id, direction, size, offset))

            def read(self, size, skip):
                fake.log.append(("read", self.id, size, skip))
                return np.frombuffer(bytes(self.host[skip:skip + size]), dtype=np.int8)

        class run:
            def __init__(self, krnl):
                self.args = {}

            def set_arg(self, index, value):
                self.args[index] = value
                fake.log.append(("set_arg", index, value.id))

            def start(self):
                assert sorted(self.args) == list(range(len(fake.arg_names))), self.args
                fake.log.append(("start", tuple(self.args[i].id for i in sorted(self.args))))
                by_name = {fake.arg_names[i]: bo for i, bo in self.args.items()}
                self._card(by_name["commands"], by_name["image"])

            def _card(self, commands_bo, image_bo):
                """The kernel: walk the command list in device memory until END, with
                the image in device memory."""
                words = np.frombuffer(bytes(commands_bo.device), dtype="<u8")
                for end in range(0, len(words), COMMAND_WORDS):
                    if OPCODES[int(words[end]) & 0xFF] == "END":
                        break
                image = np.frombuffer(bytes(image_bo.device), dtype="<u8").astype(np.uint64)
                out = fake.execute(words[:end + COMMAND_WORDS].astype(np.uint64), image)
                image_bo.device[:] = np.asarray(out, dtype="<u8").tobytes()

            def wait(self, timeout_ms=0):
                fake.log.append(("wait", timeout_ms))
                return fake.wait_state

        self.uuid, self.device, self.kernel, self.bo, self.run = uuid, device, kernel, bo, run

    def events(self, kind: str) -> list[tuple]:
        return [e for e in self.log if e[0] == kind]


# ------------------------------------------------------------------------ fixtures

SPEC = small_spec(2, 2, 2)
CFG = small_config(SPEC)
_INNER: dict = {}


def pyrtl_card(cfg):
    """The kernel's semantics over the PyRTL core of ``cfg`` (elaborated once)."""
    if cfg not in _INNER:
        _INNER[cfg] = PyrtlDriver(cfg, build_core(cfg))
    return model_executor(cfg.hostmap, _INNER[cfg])


@pytest.fixture
def xclbin(tmp_path):
    path = tmp_path / PACKAGE.xclbin
    path.write_bytes(b"not a real xclbin: the fake pyxrt only checks that it exists")
    return path


@pytest.fixture
def fake_xrt(monkeypatch):
    """Install a fake pyxrt playing a card with the small PyRTL core."""
    fake = FakePyxrt(pyrtl_card(CFG), PACKAGE.kernel_xml())
    monkeypatch.setitem(sys.modules, "pyxrt", fake)
    return fake


@pytest.fixture
def machine(fake_xrt, xclbin):
    executor = u50_driver.U50Executor(xclbin)
    return HardwareMachine(CFG, CommandDriver(CFG.hostmap, executor)), executor


# ------------------------------------------------------------------------ tests

def test_one_invocation_allocates_in_the_argument_banks_and_syncs_around_the_run(
        fake_xrt, machine):
    hw, executor = machine
    hw.driver.write("data", 5, [11, 22, 33])
    assert fake_xrt.events("start") == []          # writes are queued, not sent
    assert hw.driver.read(5, 3) == [11, 22, 33]

    assert fake_xrt.events("load_xclbin")[0][1] == str(executor.xclbin)
    # one bo per argument, in the bank XRT reports for that argument (group_id(id))
    assert [e[1] for e in fake_xrt.events("group_id")] == [0, 1]
    bos = fake_xrt.events("bo")
    assert [(b[1], b[4]) for b in bos] == [(0, 100), (1, 101)]
    assert all(b[2] % 4096 == 0 and b[3] is BoFlags.normal for b in bos)

    # both synced to the device before the start, the image back after the wait
    log = [e for e in fake_xrt.log if e[0] in ("write", "sync", "start", "wait", "read")]
    kinds = [(e[0], e[1] if e[0] != "start" else None) for e in log]
    assert kinds == [("write", 0), ("sync", 0), ("write", 1), ("sync", 1), ("start", None),
                     ("wait", executor.timeout_ms), ("sync", 1), ("read", 1)]
    # the status registers are read after the wait, before the image comes back
    reads = [e[1] for e in fake_xrt.log if e[0] == "read_register"]
    assert reads == [REGISTER[n] for n in ("STATUS", "ERROR_COMMAND", "ERROR_ADDR_LO",
                                           "ERROR_ADDR_HI")]
    assert fake_xrt.events("kernel")[0][2] is AccessMode.exclusive
    syncs = fake_xrt.events("sync")
    assert [s[2] for s in syncs] == [SyncDirection.XCL_BO_SYNC_BO_TO_DEVICE] * 2 + \
        [SyncDirection.XCL_BO_SYNC_BO_FROM_DEVICE]
    writes = fake_xrt.events("write")
    # exactly the bytes of the command list and of the image, from offset 0
    assert all(s[3] == w[2] and s[4] == 0 for s, w in zip(syncs, writes))
    assert syncs[2][3] == writes[1][2]
    n_commands = writes[0][2] // (8 * COMMAND_WORDS)
    assert n_commands == 3                           # LOAD, STORE, END


def test_arguments_are_set_in_kernel_xml_order(fake_xrt, machine):
    hw, _ = machine
    hw.driver.write("data", 0, [7])
    hw.driver.read(0, 1)
    names = kernel_xml_arguments(PACKAGE.kernel_xml())
    assert names == [name for name, _ in ARGUMENTS] == ["commands", "image"]
    set_args = fake_xrt.events("set_arg")
    assert [(i, bo) for _, i, bo in set_args] == [(0, 0), (1, 1)]
    assert fake_xrt.events("start") == [("start", (0, 1))]
    # kernel.xml: commands at 0x10, image at 0x18, both pointers on m_axi_gmem0
    root = ET.fromstring(PACKAGE.kernel_xml())
    offsets = {a.get("name"): int(a.get("offset"), 16) for a in root.iter("arg")}
    assert offsets == dict(ARGUMENTS)


def test_buffers_are_reused_and_grown(fake_xrt, machine):
    hw, executor = machine
    hw.driver.write("data", 0, [1])
    hw.driver.read(0, 1)
    n = 200                                   # loaded and stored: more than one page
    hw.driver.write("data", 0, list(range(n)))
    assert hw.driver.read(0, n) == list(range(n))
    hw.driver.read(0, 2)
    image_bytes = 2 * 8 * Layout(CFG.word, PACKAGE.axi_data_bits).words(n)
    pages = -(-image_bytes // 4096)
    assert pages > 1
    sizes = [(b[1], b[2]) for b in fake_xrt.events("bo")]
    assert sizes == [(0, 4096), (1, 4096), (2, 4096 * pages)]   # only the image bo grew
    assert executor.invocations == 3


@settings(max_examples=examples(12), deadline=None, suppress_health_check=list(HealthCheck))
@given(case=programs(SPEC))
def test_random_programs_through_the_u50_driver_equal_golden(case):
    fake = FakePyxrt(pyrtl_card(CFG), PACKAGE.kernel_xml())
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "pyxrt", fake)
        path = Path(__file__).with_name("test_driver.py")     # any existing file
        executor = u50_driver.U50Executor(path, package=KernelPackage(name="fixar_kernel"))
        hw = HardwareMachine(CFG, CommandDriver(CFG.hostmap, executor))
        diff = check_program(case, hw)
    assert diff is None, f"{diff}\n{case.listing()}"
    assert executor.invocations >= 2


@pytest.mark.slow       # 40 s; the driver's programs are cosimulated by the default run too
def test_make_run_entry_point_cosimulates_through_the_driver(monkeypatch, tmp_path, xclbin,
                                                             capsys):
    """``make run`` (the driver's entry point) opens the ``u50`` backend of the Core
    interface on the (fake) card, trains and infers beside the golden model: every
    parameter and output identical, the kernel's cycles those of the RTL cycle model,
    the xclbin loaded once."""
    spec = tiny_ddpg(2, 2, 2, 3)
    fake = FakePyxrt(pyrtl_card(config_for(spec)), PACKAGE.kernel_xml())
    monkeypatch.setitem(sys.modules, "pyxrt", fake)
    monkeypatch.setattr("fixar_gen.dsl.load_spec", lambda path: spec)
    monkeypatch.setenv(u50_driver.ENV_XCLBIN, "")          # restored after the test
    assert "u50" in BACKENDS
    status = u50_driver.main(["spec.yaml", "--xclbin", str(xclbin), "--updates", "1"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "cosim" in out and "on u50" in out and "identical" in out
    assert "differs" not in out
    cycles = re.findall(r"(\d+) cycles measured, (\d+) RTL model", out)
    assert cycles and all(measured == model for measured, model in cycles), out
    assert fake.events("load_xclbin") == [("load_xclbin", str(xclbin))]


def test_missing_pyxrt_is_a_one_line_error_naming_xrt(monkeypatch, xclbin, capsys):
    monkeypatch.setitem(sys.modules, "pyxrt", None)      # import pyxrt -> ImportError
    with pytest.raises(ToolMissing) as err:
        u50_driver.U50Executor(xclbin)
    message = str(err.value)
    assert "\n" not in message
    for needed in ("pyxrt", "XRT", "setup.sh", "not on PyPI"):
        assert needed in message
    # the CLI-style entry point turns it into exit 2 and one line on stderr
    monkeypatch.setattr("fixar_gen.dsl.load_spec", lambda path: tiny_ddpg(1, 1, 1, 2))
    assert u50_driver.main(["spec.yaml", "--xclbin", str(xclbin)]) == 2
    err_text = capsys.readouterr().err
    assert err_text.startswith("fixar: error: pyxrt") and err_text.count("\n") == 1


def test_missing_xclbin_and_failed_runs_are_clear_errors(fake_xrt, tmp_path, xclbin):
    with pytest.raises(ToolMissing, match="make xclbin"):
        u50_driver.U50Executor(tmp_path / "nope.xclbin")
    executor = u50_driver.U50Executor(xclbin, timeout_ms=5)
    fake_xrt.wait_state = CmdState.ERT_CMD_STATE_TIMEOUT
    driver = CommandDriver(CFG.hostmap, executor)
    with pytest.raises(ToolFailed, match="ERT_CMD_STATE_TIMEOUT"):
        driver.read(0, 1)


def test_default_xclbin_follows_generate_and_the_environment(monkeypatch):
    monkeypatch.delenv(u50_driver.ENV_XCLBIN, raising=False)
    assert u50_driver.default_xclbin(SPEC) == Path("build", SPEC.name, "fixar_kernel.xclbin")
    monkeypatch.setenv(u50_driver.ENV_XCLBIN, "/cards/k.xclbin")
    assert u50_driver.default_xclbin(SPEC) == Path("/cards/k.xclbin")


def test_the_real_card_path_is_documented_as_untested():
    doc = Path(__file__).parents[2] / "docs" / "u50.md"
    text = doc.read_text(encoding="utf-8")
    assert "untested" in text.lower() and "fake pyxrt" in text.lower()
    assert "untested" in (u50_driver.__doc__ or "").lower() or \
        "not tested here" in (u50_driver.__doc__ or "").lower()


@pytest.mark.parametrize("status, kind, words", [
    (1 | 2 << 1 | 2 << 4, "load", ["load", "SLVERR response", "command 1 (LOAD data"]),
    (1 | 3 << 1 | 3 << 4, "store", ["store", "DECERR response", "command 1 (STORE data"]),
    (1 | 1 << 1 | 1 << 6, "fetch", ["fetch", "RLAST missing or early", "command 1"]),
])
def test_a_run_stopped_on_an_axi_error_raises_naming_the_transfer(fake_xrt, xclbin, status,
                                                                  kind, words):
    executor = u50_driver.U50Executor(xclbin)
    driver = CommandDriver(CFG.hostmap, executor)
    fake_xrt.registers = {REGISTER["STATUS"]: status, REGISTER["ERROR_COMMAND"]: 1,
                          REGISTER["ERROR_ADDR_LO"]: 0x4000_0040,
                          REGISTER["ERROR_ADDR_HI"]: 0x1}
    driver.write("data", 3, [5, 6])
    driver.write("data", 9, [7])
    with pytest.raises(KernelError) as err:
        driver.read(0, 2)          # LOAD, LOAD, STORE, END: command 1 is the second LOAD
    message = str(err.value)
    assert "\n" not in message and err.value.status.kind == kind
    for word in words:
        assert word.replace("STORE data", "LOAD data") in message if kind == "store" \
            else word in message, message
    assert "HBM address 0x140000040" in message
    assert "fixar_kernel stopped on an error" in message


def test_make_run_reports_a_kernel_error_in_one_line(monkeypatch, xclbin, capsys):
    spec = tiny_ddpg(2, 2, 2, 3)
    fake = FakePyxrt(pyrtl_card(config_for(spec)), PACKAGE.kernel_xml())
    fake.registers = {REGISTER["STATUS"]: 1 | 2 << 1 | 3 << 4, REGISTER["ERROR_COMMAND"]: 0}
    monkeypatch.setitem(sys.modules, "pyxrt", fake)
    monkeypatch.setattr("fixar_gen.dsl.load_spec", lambda path: spec)
    assert u50_driver.main(["spec.yaml", "--xclbin", str(xclbin), "--updates", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fixar: error: fixar_kernel stopped on an error: load")
    assert "DECERR" in err and err.count("\n") == 1


def test_the_kernel_width_comes_from_the_registers_file_beside_the_xclbin(fake_xrt, tmp_path):
    folder = tmp_path / "build"
    folder.mkdir()
    (folder / PACKAGE.xclbin).write_bytes(b"x")
    assert u50_driver.U50Executor(folder / PACKAGE.xclbin).package.axi_data_bits == 256
    narrow = KernelPackage(axi_data_bits=64)
    (folder / "kernel_registers.json").write_text(narrow.registers_json())
    executor = u50_driver.U50Executor(folder / PACKAGE.xclbin)
    assert executor.package.axi_data_bits == 64
    (folder / "kernel_registers.json").write_text("{")
    with pytest.raises(ToolFailed, match="kernel_registers.json cannot be read"):
        u50_driver.U50Executor(folder / PACKAGE.xclbin)


@pytest.mark.slow       # a DDPG update and inferences on a per-core PyRTL core (~2 min)
def test_fixar_cosim_on_u50_runs_a_per_core_design(monkeypatch, xclbin, capsys):
    """``fixar cosim SPEC --backend u50`` on a design with per-core memories: the u50
    Core compiles the programs with their transfers, and every parameter and output
    equals golden (the fake card runs the kernel's commands over the per-core PyRTL
    core: each STORE reads the copy its core names).  The design comes from
    ``config_for(spec)``, which a spec asks for per-core memories through; here it is
    made to answer per-core directly."""
    from fixar_gen import cli
    from fixar_gen.hw import design

    spec = tiny_ddpg(1, 1, 2, 3)
    cfg = config_for(spec, per_core_memories=True)
    card, store_cores = pyrtl_card(cfg), set()

    def execute(commands, image):
        from fixar_gen.targets.u50.commands import decode_commands
        store_cores.update(c.core for c in decode_commands(commands) if c.opcode == "STORE")
        return card(commands, image)

    fake = FakePyxrt(execute, PACKAGE.kernel_xml())
    monkeypatch.setitem(sys.modules, "pyxrt", fake)
    monkeypatch.setattr(cli, "_load", lambda path: spec)
    monkeypatch.setattr(design, "config_for",
                        lambda s, **kw: cfg if s is spec and not kw else config_for(s, **kw))
    monkeypatch.setenv(u50_driver.ENV_XCLBIN, str(xclbin))
    status = cli.main(["cosim", "spec.yaml", "--backend", "u50", "--updates", "1"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "on u50" in out and "identical" in out and "differs" not in out, out
    cycles = re.findall(r"(\d+) cycles measured, (\d+) RTL model", out)
    assert cycles and all(measured == model for measured, model in cycles), out
    # the programs ran with their transfers, and reads named core 1's copy too
    assert store_cores == {0, 1}
    core = u50_driver.open_u50_core(spec, cfg=cfg, executor=card)
    assert core.backend == "u50-per-core"
    assert any(type(i).__name__ == "Xfer" for i in core.program("train", 3).code)
