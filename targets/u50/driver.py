"""The ``u50`` Core backend: the generated kernel on an Alveo U50, through XRT.

    core = open_core(spec, "u50")        # FIXAR_XCLBIN, else build/<spec>/fixar_kernel.xclbin
    core.load_params(params); core.train_step(batch); core.infer("actor", states)

Layers, top down (everything above :class:`U50Executor` is shared with the simulators):

- :class:`fixar_gen.backends.HardwareCore` -- the Core interface;
- :class:`fixar_gen.hw.host.HardwareMachine` -- buffer placement, program loading;
- :class:`.batch.CommandDriver` -- queues writes, runs and reads as one command list
  and an HBM image per kernel invocation (:mod:`.commands`);
- :class:`U50Executor` -- one invocation on the card with pyxrt: write the command list
  and the image into two buffer objects in the kernel's memory bank
  (``kernel.group_id(argument)``), sync them to the device, start the kernel with the
  arguments in :data:`.commands.ARGUMENTS` order (the order of kernel.xml), wait, read
  the kernel's status registers (:mod:`.status`: a run the kernel stopped on an AXI
  error raises :class:`.status.KernelError` naming the failing transfer), sync the image
  back and return it.  Reading registers needs the compute unit opened with exclusive
  access (``cu_access_mode.exclusive``): one process drives the kernel.

pyxrt (XRT's Python binding) is not on PyPI; it is imported only here, when a U50
executor is made, and its absence raises :class:`fixar_gen.tools.ToolMissing` with a
one-line message naming XRT.  The xclbin comes from the ``xclbin`` argument, else the
``FIXAR_XCLBIN`` environment variable, else ``build/<spec name>/fixar_kernel.xclbin``
(where ``fixar generate`` + ``make xclbin`` put it); the card from ``device_index``,
else ``FIXAR_U50_DEVICE``, else 0.

Tested here: everything above pyxrt, against a fake pyxrt module that plays the card
with a software model of the kernel (tests/u50/test_driver.py).  Not tested here: a
real card -- this machine has none (docs/u50.md says what to run on one).

``python -m fixar_gen.targets.u50.driver SPEC --xclbin K.xclbin`` runs DDPG updates and
inferences on the card and on the golden model and compares them (``make run``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from ...tools import ToolFailed, ToolMissing
from .package import KERNEL_NAME, KernelPackage
from .status import check_status

ENV_XCLBIN = "FIXAR_XCLBIN"
ENV_DEVICE = "FIXAR_U50_DEVICE"
XRT_MISSING = ("pyxrt (the Python binding of Xilinx XRT) cannot be imported: install XRT "
               "2022.2 or later for the Alveo U50 and run `source /opt/xilinx/xrt/setup.sh` "
               "(it puts pyxrt on PYTHONPATH); pyxrt is not on PyPI")
#: buffer objects are allocated in whole pages and reused while they are large enough
PAGE = 4096


class XclbinMissing(ToolMissing):
    """The kernel binary is not there (build it with ``make xclbin``)."""


class DeviceError(ToolFailed):
    """The card reported a failed or timed-out kernel run."""

    def __init__(self, message: str):
        super().__init__(message, returncode=None, stdout="", stderr="")


def import_pyxrt():
    """XRT's Python binding, or :class:`ToolMissing` saying how to get it."""
    try:
        import pyxrt
    except ImportError:
        raise ToolMissing(XRT_MISSING) from None
    return pyxrt


def default_xclbin(spec, package: KernelPackage | None = None) -> Path:
    """``FIXAR_XCLBIN``, else where ``fixar generate`` + ``make xclbin`` put it."""
    env = os.environ.get(ENV_XCLBIN)
    if env:
        return Path(env)
    return Path("build") / spec.name / (package or KernelPackage()).xclbin


def package_beside(xclbin: Path) -> KernelPackage:
    """The kernel's description from the ``kernel_registers.json`` that ``fixar generate``
    wrote beside the xclbin (its name and AXI data width), else the defaults."""
    registers = xclbin.parent / "kernel_registers.json"
    try:
        data = json.loads(registers.read_text(encoding="utf-8"))
        return KernelPackage(name=data["kernel"],
                             axi_data_bits=int(data["masters"][0]["data_bits"]))
    except FileNotFoundError:
        return KernelPackage()
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise ToolFailed(f"{registers} cannot be read ({exc}): write the folder again "
                         "with fixar generate", returncode=None, stdout="",
                         stderr="") from None


def default_device() -> int:
    value = os.environ.get(ENV_DEVICE, "0")
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{ENV_DEVICE}={value!r} is not a device index") from None


class U50Executor:
    """``execute(commands, image) -> image`` on the card: one kernel invocation.

    ``commands`` and ``image`` are uint64 word arrays (:mod:`.batch`); the image that
    comes back has the same length, with the kernel's STORE and STATS results in it."""

    def __init__(self, xclbin: str | os.PathLike, device_index: int = 0,
                 package: KernelPackage | None = None, timeout_ms: int = 60_000):
        self.pyxrt = pyxrt = import_pyxrt()
        path = Path(xclbin)
        self.package = package or package_beside(path)
        if not path.is_file():
            raise XclbinMissing(f"the kernel binary {path} does not exist: build it with "
                                f"`make xclbin` in the folder `fixar generate` wrote, or "
                                f"set {ENV_XCLBIN}")
        self.xclbin = path
        self.timeout_ms = timeout_ms
        self.device = pyxrt.device(device_index)
        self.uuid = self.device.load_xclbin(str(path))
        self.kernel = pyxrt.kernel(self.device, self.uuid, self.package.name,
                                   pyxrt.kernel.cu_access_mode.exclusive)
        self.arguments = self.package.arguments
        #: the memory bank (group) of every argument, as the xclbin connects it
        self.groups = {a.name: self.kernel.group_id(a.id) for a in self.arguments}
        self.buffers: dict[str, object] = {}
        self.invocations = 0

    def _buffer(self, name: str, nbytes: int):
        bo = self.buffers.get(name)
        if bo is None or bo.size() < nbytes:
            size = max(PAGE, -(-nbytes // PAGE) * PAGE)
            bo = self.pyxrt.bo(self.device, size, self.pyxrt.bo.flags.normal,
                               self.groups[name])
            self.buffers[name] = bo
        return bo

    def __call__(self, commands: np.ndarray, image: np.ndarray) -> np.ndarray:
        xrt = self.pyxrt
        data = {"commands": commands, "image": image}
        sizes = {}
        bos = {}
        for arg in self.arguments:
            words = np.ascontiguousarray(data[arg.name], dtype="<u8")
            sizes[arg.name] = words.nbytes
            bo = bos[arg.name] = self._buffer(arg.name, words.nbytes)
            bo.write(words, 0)
            bo.sync(xrt.xclBOSyncDirection.XCL_BO_SYNC_BO_TO_DEVICE, words.nbytes, 0)
        run = xrt.run(self.kernel)
        for arg in self.arguments:
            run.set_arg(arg.id, bos[arg.name])
        run.start()
        state = run.wait(self.timeout_ms)
        self.invocations += 1
        if state != xrt.ert_cmd_state.ERT_CMD_STATE_COMPLETED:
            raise DeviceError(f"{self.package.name} on the U50 ended in "
                              f"{getattr(state, 'name', state)} (invocation "
                              f"{self.invocations}, timeout {self.timeout_ms} ms)")
        check_status(self.kernel.read_register, commands, self.package.name)
        nbytes = sizes["image"]
        bo = bos["image"]
        bo.sync(xrt.xclBOSyncDirection.XCL_BO_SYNC_BO_FROM_DEVICE, nbytes, 0)
        raw = np.asarray(bo.read(nbytes, 0))
        return np.frombuffer(raw.tobytes(), dtype="<u8").astype(np.uint64)

    def close(self) -> None:
        self.buffers.clear()


def open_u50_core(spec, precision=None, xclbin: str | os.PathLike | None = None,
                  device_index: int | None = None, cfg=None, executor=None):
    """A :class:`~fixar_gen.backends.HardwareCore` whose core is the U50 kernel
    (``open_core(spec, "u50")``).  ``cfg`` must be the configuration the xclbin was
    generated from (default: :func:`fixar_gen.hw.design.config_for`, as ``fixar
    generate`` uses); ``executor`` replaces the card (tests).  A configuration with
    per-core memories (``cfg.per_core_memories``) gets a
    :class:`~fixar_gen.backends.PerCoreHardwareCore`: the programs compiled with their
    transfers, each read naming the copy of the word's last writer."""
    from ...backends import HardwareCore, PerCoreHardwareCore
    from ...compiler import Precision
    from ...hw.design import config_for
    from ...hw.host import HardwareMachine
    from .batch import CommandDriver

    cfg = cfg or config_for(spec)
    if executor is None:
        executor = U50Executor(xclbin or default_xclbin(spec),
                               default_device() if device_index is None else device_index)
    bits = getattr(executor, "package", KernelPackage()).axi_data_bits
    machine = HardwareMachine(cfg, CommandDriver(cfg.hostmap, executor, bits))
    kind = PerCoreHardwareCore if cfg.per_core_memories else HardwareCore
    return kind(spec, precision or Precision(), backend="u50", machine=machine)


def main(argv: list[str] | None = None) -> int:
    """``make run``: DDPG updates and inferences on the card vs the golden model."""
    from ...hw.design import HardwareLimit
    from ...params import SpecError

    parser = argparse.ArgumentParser(
        prog="python -m fixar_gen.targets.u50.driver",
        description="Run DDPG training steps and inferences on random data on the U50 "
                    "kernel and on the golden model and compare every parameter and "
                    "output (fixar cosim on the card); optionally random programs too.")
    parser.add_argument("spec", metavar="SPEC", help="the spec the xclbin was generated from")
    parser.add_argument("--xclbin", default=None, help=f"kernel binary (default: "
                        f"${ENV_XCLBIN}, else build/NAME/{KERNEL_NAME}.xclbin)")
    parser.add_argument("--device", type=int, default=None, help=f"card index (default: "
                        f"${ENV_DEVICE}, else 0)")
    parser.add_argument("--updates", type=int, default=3, metavar="N")
    parser.add_argument("--examples", type=int, default=0, metavar="N",
                        help="also N random programs (fixar verify on the card)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        from ...dsl import load_spec
        from ...verify import run_cosim, verify_machine
        spec = load_spec(args.spec)
        if args.xclbin:
            os.environ[ENV_XCLBIN] = args.xclbin
        if args.device is not None:
            os.environ[ENV_DEVICE] = str(args.device)
        status = run_cosim(spec, "u50", args.updates, args.seed, out=sys.stdout)
        if status == 0 and args.examples:
            machine = open_u50_core(spec).machine
            result = verify_machine(spec, machine, args.examples, args.seed)
            if result.ok:
                print(f"verify {spec.name} on u50: {result.examples} random programs, all "
                      "identical to the golden model")
            else:
                print(f"verify {spec.name} on u50: MISMATCH: {result.difference}\n"
                      f"{result.failure.listing()}")
                status = 1
        return status
    except SpecError as err:
        print(err, file=sys.stderr)
        return 2
    except (ToolMissing, ToolFailed, HardwareLimit) as err:
        print(f"fixar: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
