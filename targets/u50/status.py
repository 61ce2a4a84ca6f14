"""What the kernel says about a run that stopped on an error, in words.

The kernel reports an error through its read-only registers ``STATUS``,
``ERROR_COMMAND`` and ``ERROR_ADDR_LO/HI`` (:data:`.commands.REGISTERS`); every
executor (the card's, the cocotb bench's) reads them after ap_done and calls
:func:`check_status`, which raises :class:`KernelError` naming the failing transfer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...tools import ToolFailed
from .commands import (COMMAND_WORDS, ERROR_KINDS, REGISTER, RESPONSES, STATUS_FIELDS,
                       decode_command)

#: the registers an executor reads after a run (in this order)
STATUS_REGISTERS = ("STATUS", "ERROR_COMMAND", "ERROR_ADDR_LO", "ERROR_ADDR_HI")


class KernelError(ToolFailed):
    """The kernel stopped a run on an error (the message names the transfer)."""

    def __init__(self, message: str, status: "RunStatus"):
        super().__init__(message, returncode=None, stdout="", stderr="")
        self.status = status


@dataclass(frozen=True)
class RunStatus:
    """The decoded status registers."""

    error: bool
    kind: str
    response: str
    rlast: bool
    command: int
    address: int

    @classmethod
    def from_registers(cls, values: dict[str, int]) -> "RunStatus":
        status = values["STATUS"]
        field = {name: (status >> lsb) & ((1 << bits) - 1) for name, lsb, bits in STATUS_FIELDS}
        kind = ERROR_KINDS[field["kind"]][0] if field["kind"] < len(ERROR_KINDS) \
            else f"?{field['kind']}"
        return cls(error=bool(field["error"]), kind=kind,
                   response=RESPONSES[field["response"]], rlast=bool(field["rlast"]),
                   command=values["ERROR_COMMAND"],
                   address=values["ERROR_ADDR_LO"] | values["ERROR_ADDR_HI"] << 32)

    def describe(self, commands=None, kernel: str = "fixar_kernel") -> str:
        """One line: what failed, in which command, where."""
        meaning = dict(ERROR_KINDS).get(self.kind, "an unknown error kind")
        what = []
        if self.response != "OKAY":
            what.append(f"{self.response} response")
        if self.rlast:
            what.append("RLAST missing or early")
        cause = " and ".join(what) or "rejected"
        command = f"command {self.command}"
        if commands is not None:
            words = np.asarray(commands)
            at = self.command * COMMAND_WORDS
            if at + COMMAND_WORDS <= len(words):
                c = decode_command(words[at:at + COMMAND_WORDS])
                command += (f" ({c.opcode} {c.memory}, core {c.core}, address {c.address}, "
                            f"{c.count} entries, offset {c.offset:#x})")
        return (f"{kernel} stopped on an error: {self.kind} ({meaning}): {cause}; "
                f"{command}; HBM address {self.address:#x}")


def check_status(read, commands=None, kernel: str = "fixar_kernel") -> RunStatus:
    """Read the status registers with ``read(offset) -> int``; raise :class:`KernelError`
    if the run stopped on an error."""
    status = RunStatus.from_registers({name: int(read(REGISTER[name])) & 0xFFFF_FFFF
                                       for name in STATUS_REGISTERS})
    if status.error:
        raise KernelError(status.describe(commands, kernel), status)
    return status
