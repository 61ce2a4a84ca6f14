"""benchmarks/cycle_breakdown.py: where an update's RTL cycles go, by instruction kind."""

import sys
from pathlib import Path

from fixar_gen import load_spec
from fixar_gen.isa import Barrier, Halt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import cycle_breakdown  # noqa: E402


def test_the_kinds_cover_the_core_and_never_exceed_its_cycles():
    """Every instruction of the core is counted once under its kind, and the charged
    cycles plus the issue cycles fit within the core's schedule (the waits left over
    are never negative: no cycles charged twice), on both cores of a two-core spec."""
    from fixar_gen.estimate import precision_for, rtl_programs
    spec = load_spec(ROOT / "examples" / "pendulum.yaml")
    program = rtl_programs(spec, precision_for(spec, "fxp16"))("train")
    for core in range(spec.hardware.cores):
        lines, totals = cycle_breakdown.breakdown(spec, "fxp16", core)
        (run,) = totals.values()
        mine = [i for i in program.code if i.core == core
                and not isinstance(i, (Barrier, Halt))]
        assert sum(n for n, _, _ in run["kinds"].values()) == len(mine)
        assert run["waits"] >= 0
        assert run["work"] + run["issue"] + run["waits"] == run["total"]
        assert any(k.startswith("mm (") for k in run["kinds"])
        assert lines[0].startswith(f"### {spec.name}, train, fxp16, core {core}")
