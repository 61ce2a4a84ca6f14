"""Do a spec's generated memories fit its board?  The check the spec validation of a
board target runs (from :func:`fixar_gen.dsl.build.build`, so its error is located),
and the figures ``fixar estimate`` and ``fixar generate`` report.  It sits above the
spec and the hardware generator, since it needs both: the spec gives the sizes
(:func:`fixar_gen.hw.design.config_for`, the data memories fitted to the placed programs)
and :func:`fixar_gen.hw.inventory.memory_inventory` lists what is generated.

The rule: the block RAM the generated RAMs take (all copies; each built from
BRAM36 or URAM288 banks, or both, side by side for its width, chosen together for the
board: :func:`fixar_gen.hw.inventory.joint_block_ram`) must fit the board's BRAM36 and
URAM after the shell's margin
(``Board.usable_fraction``; 85% on the U50).  That counts the memories as block RAM
with synchronous reads -- what they must become (issue 12 item 1); the inventory says
beside it how each maps as generated today: the data memories, one per memory of the
placement at its own width and depth, have a port per operand of every unit and map to
flip-flops whatever their size until they are banked.
"""

from __future__ import annotations

from functools import lru_cache

from .boards import BOARDS, Board
from .hw.design import config_for
from .hw.inventory import (BRAM36_BITS, URAM_BITS, Inventory, joint_block_ram,
                           memory_inventory)
from .params import SpecError
from .spec import Spec


@lru_cache(maxsize=16)
def generated_inventory(spec: Spec) -> Inventory:
    """The memory inventory of the design ``fixar generate`` builds for ``spec``
    (cached: validation, estimate and generate ask for the same spec)."""
    return memory_inventory(config_for(spec))


def usable_bits(board: Board) -> int:
    """Block RAM + UltraRAM bits the shell leaves to the kernel."""
    return board.usable("bram36") * BRAM36_BITS + board.usable("uram") * URAM_BITS


def memory_fit(spec: Spec, inventory: Inventory | None = None,
               board: Board | None = None) -> dict:
    """The inventory against the board (default: the spec's target; on ``sim``, the
    U50 for reference): BRAM36 and URAM as block RAM against the usable ones, the
    verdict, and the bits by today's mapping."""
    inventory = inventory or generated_inventory(spec)
    reference = board is None and spec.target not in BOARDS
    board = board or BOARDS.get(spec.target) or BOARDS["u50"]
    have_bram, have_uram = board.usable("bram36"), board.usable("uram")
    bram, uram = joint_block_ram(inventory.memories, have_bram, have_uram)
    problems = [f"{what} {need:,} > {have:,} usable" for what, need, have in
                (("BRAM36", bram, have_bram), ("URAM", uram, have_uram)) if need > have]
    return {"board": board.name, "reference": reference,
            "usable_fraction": board.usable_fraction,
            "bram36": bram, "uram": uram, "usable_bram36": have_bram,
            "usable_uram": have_uram, "fits": not problems, "problems": problems,
            "design_bits": inventory.bits, "usable_bits": usable_bits(board),
            "bits_by_mapping": inventory.bits_by_mapping()}


def check_memory_fit(spec: Spec) -> None:
    """Raise :class:`SpecError` when the generated memories of a board spec cannot fit
    the board's block RAM and UltraRAM (with the shell's margin): on
    ``hardware.per_core_memories`` when the copies do not fit and the shared memories
    would, else on ``algorithm.batch_size``."""
    board = BOARDS.get(spec.target)
    if board is None:
        return
    inventory = generated_inventory(spec)
    fit = memory_fit(spec, inventory, board)
    if fit["fits"]:
        return
    largest = max(inventory.memories, key=lambda m: m.bits)
    per_core = spec.hardware.memories_per_core
    what = (f"the generated memories ({fit['design_bits'] / 1e6:,.1f} Mbit"
            + (f", a copy for each of the {spec.hardware.cores} cores" if per_core else "")
            + f"; the largest RAM, {largest.name}, "
            + (f"{largest.banks} banks x " if largest.banks > 1 else "")
            + f"{largest.depth:,} x {largest.width}-bit words for these networks "
            f"at batch {spec.algorithm.batch_size}) take {', '.join(fit['problems'])} on the "
            f"{board.name} after the shell margin ({board.usable_fraction:.0%})")
    also = ("networks.actor.hidden", "networks.critic.hidden", "target")
    if per_core:
        shared = memory_fit(spec, memory_inventory(config_for(spec, per_core_memories=False)),
                            board)
        if shared["fits"]:
            raise SpecError(
                "hardware.per_core_memories",
                what + f" (the shared memories fit: {shared['bram36']:,} BRAM36 + "
                f"{shared['uram']:,} URAM; per_core_memories: false, a smaller batch or "
                "smaller networks; `fixar estimate` lists the memories)",
                also=("algorithm.batch_size",) + also)
    raise SpecError(
        "algorithm.batch_size",
        what + " (a smaller batch or smaller networks; `fixar estimate` lists the memories)",
        also=also + (("hardware.per_core_memories",) if per_core else ()))
