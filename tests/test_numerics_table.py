"""docs/numerics.md's table of formats per phase matches what the compiler emits for the
default spec."""

from fixar_gen.compiler import compile_program
from fixar_gen.isa import MatMul
from fixar_gen.spec import Spec

from .conftest import ROOT


def _accumulator_fracs():
    program = compile_program(Spec(), "train")
    out = {}
    for ins in program.code:
        if isinstance(ins, MatMul):
            a, b, d = (program.buffers[i] for i in (ins.a, ins.b, ins.dst))
            kind = ("bias" if a.name == "c.ones" else "bwd_data" if ins.tb
                    else "bwd_weight" if ins.ta else "forward")
            out.setdefault(kind, set()).add((str(a.fmt), str(b.fmt), d.fmt.frac))
    return out


def test_table_matches_the_compiled_training_step():
    fracs = _accumulator_fracs()
    assert fracs["forward"] == {("Q16.16", "Q8.24", 40)}
    assert fracs["bwd_data"] == {("Q8.24", "Q8.24", 48)}
    assert fracs["bwd_weight"] == {("Q16.16", "Q8.24", 40)}
    assert fracs["bias"] == {("Q2.0", "Q8.24", 24)}
    text = (ROOT / "docs" / "numerics.md").read_text()
    for row in ("| forward, FXP32 | `mm` x @ W | activation Q16.16 | weight Q8.24 | 40 |",
                "| backward-data (both modes) | `mm` dz @ W^T | gradient Q8.24 (FXP32 rate) "
                "| weight Q8.24 | 48 |",
                "| bias gradient | `mm` 1^T @ dz | ones Q2.0 | gradient Q8.24 | 24 |"):
        assert row in text
