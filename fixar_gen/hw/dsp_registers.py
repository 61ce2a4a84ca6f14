"""The pipeline registers of each DSP48E2 in a Yosys ``write_json`` netlist: set in
the cell (its MREG and PREG parameters) or written as flip-flops right after it.

Yosys 0.70's ``synth_xilinx -family xcup`` sets no register of a DSP48E2: its
``xilinx_dsp`` pass runs the register-packing pattern (``xilinx_dsp_pack``, whose
first match is ``dsp->type.in(\\DSP48E1)``) for ``xc7`` only, and the C-register and
cascade patterns match DSP48A/DSP48A1/DSP48E1 cells only (docs/hardware.md, "What
Yosys makes of the multiplies").  A multiply written with its two registers then maps
to a DSP48E2 with MREG = PREG = 0 followed by two levels of FDRE, which Vivado packs
into the DSP.  :func:`dsp_registers` reads, for each DSP48E2, both: the parameters,
and the *fabric stages* after its P output that a DSP48E2 can take in:

- a first stage: every P bit that anything reads (a cell or an output port) goes to
  exactly one load, the D pin of an FDRE (no logic between, no other reader); all of
  them on one clock, one clock enable and one reset net (a DSP48E2 stage has one CEx
  and one RSTx, and its registers reset to 0: a set or an asynchronous flip-flop does
  not qualify);
- a second stage: every first-stage flip-flop's Q goes to exactly one load, the D pin
  of an FDRE, all of them on the first stage's clock and on one enable and one reset.

A fabric stage stands for the MREG only when the DSP's ALU passes the product alone
(OPMODE = 0b000000101: X and Y from the multiplier, W = Z = 0, as Yosys maps every
multiply), so that a register after P and one between the multiplier and the ALU hold
the same value; otherwise the first fabric stage is the PREG.
"""

from __future__ import annotations

from dataclasses import dataclass

from .netlist_names import param

#: OPMODE of a DSP48E2 whose ALU passes the multiplier's product alone (X = Y = M,
#: W = Z = 0), bit 0 first as Yosys writes a connection
PRODUCT_ONLY_OPMODE = [str((0b000000101 >> k) & 1) for k in range(9)]
#: flip-flops a DSP48E2 stage can take in: a synchronous reset to 0 and an enable
ABSORBABLE_FLOP = "FDRE"


def input_loads(module: dict) -> dict[int, list[tuple[dict, str]]]:
    """Of a Yosys ``write_json`` module: for each net bit, the (cell, input pin) pairs
    that read it."""
    loads: dict[int, list[tuple[dict, str]]] = {}
    for cell in module.get("cells", {}).values():
        for pin, bits in cell["connections"].items():
            if cell.get("port_directions", {}).get(pin) == "input":
                for bit in bits:
                    loads.setdefault(bit, []).append((cell, pin))
    return loads


@dataclass(frozen=True)
class DspRegisters:
    """One DSP48E2's pipeline registers: ``packed_mreg`` / ``packed_preg`` (its
    parameters), ``used_bits`` (P bits something reads), ``fabric_stages`` (0, 1 or 2
    whole stages of flip-flops right after P that it can take in, the module doc) and
    ``passes_product`` (its ALU passes the product alone)."""

    cell: str
    used_bits: int
    packed_mreg: bool
    packed_preg: bool
    fabric_stages: int
    passes_product: bool

    @property
    def fabric_mreg(self) -> bool:
        """The MREG is the first fabric stage (not set in the cell)."""
        return (not self.packed_mreg and not self.packed_preg and self.passes_product
                and self.fabric_stages >= 1)

    @property
    def fabric_preg(self) -> bool:
        """The PREG is a fabric stage (the first, or the second after a fabric MREG)."""
        return not self.packed_preg and self.fabric_stages >= 1 + self.fabric_mreg

    @property
    def mreg(self) -> bool:
        """An MREG, set in the cell or as the flip-flops right after it."""
        return self.packed_mreg or self.fabric_mreg

    @property
    def preg(self) -> bool:
        """A PREG, set in the cell or as flip-flops right after it."""
        return self.packed_preg or self.fabric_preg

    @property
    def absorbed_flops(self) -> int:
        """The flip-flops of the fabric stages that are its MREG and PREG."""
        return self.used_bits * (self.fabric_mreg + self.fabric_preg)


def _stage(bits: list, loads: dict) -> list[dict] | None:
    """The flip-flops of a stage a DSP48E2 can take in, one per bit of ``bits`` (each
    bit's only load is an FDRE's D; one clock, one enable, one reset), else None."""
    flops = []
    for bit in bits:
        users = loads.get(bit, [])
        if len(users) != 1 or users[0][1] != "D" or users[0][0]["type"] != ABSORBABLE_FLOP:
            return None
        flops.append(users[0][0])
    controls = {tuple(tuple(f["connections"].get(pin, [])) for pin in ("C", "CE", "R"))
                for f in flops}
    return flops if flops and len(controls) == 1 else None


def dsp_registers(module: dict) -> list[DspRegisters]:
    """Every DSP48E2 of a Yosys ``write_json`` module with its pipeline registers, set
    in the cell or as flip-flops right after it (the module doc), in cell order."""
    loads = input_loads(module)
    for port in module.get("ports", {}).values():     # an output port reads its bits too
        if port.get("direction") != "input":
            for bit in port["bits"]:
                loads.setdefault(bit, []).append(({"type": "port"}, "port"))
    found = []
    for name, cell in module.get("cells", {}).items():
        if cell["type"] != "DSP48E2":
            continue
        used = [b for b in cell["connections"].get("P", []) if loads.get(b)]
        stages = 0
        first = _stage(used, loads)
        if first is not None:
            stages = 1
            second = _stage([f["connections"]["Q"][0] for f in first], loads)
            if second is not None and \
                    second[0]["connections"].get("C") == first[0]["connections"].get("C"):
                stages = 2
        opmode = [str(b) for b in cell["connections"].get("OPMODE", [])]
        found.append(DspRegisters(name, len(used), bool(param(cell, "MREG")),
                                  bool(param(cell, "PREG")), stages,
                                  opmode == PRODUCT_ONLY_OPMODE))
    return found


def dsp_register_flops(module: dict) -> int:
    """Flip-flops of a Yosys ``write_json`` module that are a DSP48E2's own pipeline
    registers in Vivado (its MREG and PREG as the flip-flops right after it,
    :func:`dsp_registers`); a U50 build does not have them in the fabric, so the
    resource model leaves them out."""
    return sum(d.absorbed_flops for d in dsp_registers(module))
