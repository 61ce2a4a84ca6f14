"""FPGA boards as data: the part, its resources and the platform the vendor flow needs.

A board is looked up by the spec's ``target``; validation uses its DSP budget, the
resource model and the U50 packaging use the rest.  Figures are from the vendor's
Alveo U50 data sheet (DS965): 872K LUTs, 1,743K registers, 5,952 DSP48E2 slices,
1,344 BRAM36 (47.3 Mb), 640 URAM (180 Mb), 8 GB HBM2 in 32 pseudo-channels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Board:
    name: str
    part: str
    platform: str
    family: str              # yosys synth_xilinx -family
    luts: int
    ffs: int
    dsps: int
    bram36: int
    uram: int
    hbm_channels: int
    hbm_bytes: int
    slrs: int
    #: fraction of each resource left to the kernel after the Vitis shell (an assumption,
    #: checked against real implementation runs when a card is available)
    usable_fraction: float

    def usable(self, resource: str) -> int:
        return math.floor(getattr(self, resource) * self.usable_fraction)


U50 = Board(
    name="u50", part="xcu50-fsvh2104-2-e", platform="xilinx_u50_gen3x16_xdma_5_202210_1",
    family="xcup", luts=872_000, ffs=1_743_000, dsps=5_952, bram36=1_344, uram=640,
    hbm_channels=32, hbm_bytes=8 * 2**30, slrs=2, usable_fraction=0.85,
)

BOARDS: dict[str, Board] = {"u50": U50}


def dsps_per_multiplier(a_bits: int, b_bits: int) -> int:
    """DSP48E2 slices for a signed a_bits x b_bits multiply: the slice multiplies
    27 x 18 signed, so wider operands are tiled (32x16 -> 2, 16x16 -> 1, 32x32 -> 4)."""
    big, small = max(a_bits, b_bits), min(a_bits, b_bits)
    return math.ceil(big / 27) * math.ceil(small / 18) if big > 27 or small > 18 else 1


def dsps_per_pe(weight_bits: int, half_activation_bits: int) -> int:
    """A dual-mode PE has two weight x half-activation multipliers."""
    return 2 * dsps_per_multiplier(weight_bits, half_activation_bits)
