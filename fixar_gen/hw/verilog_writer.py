"""PyRTL's Verilog writer with registers that have no reset.

``pyrtl.output_to_verilog`` gives every register a branch of its synchronous (or
asynchronous) ``rst``; a register with a reset cannot become part of a shift register
(SRL16E / SRLC32E) in synthesis, so a pipeline's delay lines stay flip-flops.  The
registers :func:`fixar_gen.hw.build.reset_less_names` names (made by
``data_register``: a pipeline's data, read only beside a valid bit that has a reset,
and feeding only other registers) are written here in an ``always`` block of their
own, without one; the rest is PyRTL's text unchanged.  Every register still starts
at its reset value in PyRTL's simulators and, with ``initialize_registers``, in
Verilog.
"""

from __future__ import annotations

import io

import pyrtl
from pyrtl.importexport import _VerilogOutput   # private: the writer this one extends

from .build import reset_less_names


def _sign_extension_of(gate) -> bool:
    """Whether ``gate`` is a concatenation ``{k {x[top]}, x}`` (k >= 1): PyRTL's
    ``sign_extended``."""
    if gate.op != "c" or len(gate.args) < 2:
        return False
    x, top = gate.args[-1], gate.args[0]
    if any(arg is not top for arg in gate.args[:-1]):
        return False
    if x.bitwidth == 1:
        return top is x
    return top.op == "s" and top.args[0] is x and tuple(top.op_param) == (x.bitwidth - 1,)


def _sign_extended_product(gate) -> bool:
    """Whether ``gate`` is the multiply of ``pyrtl.signed_mult``: two n-bit sign
    extensions multiplied into 2n bits, of which only the low n bits are read (n =
    the operands' own widths summed, so those bits are the exact signed product)."""
    if gate.op != "*" or len(gate.args) != 2:
        return False
    n = gate.args[0].bitwidth
    if gate.args[1].bitwidth != n or gate.bitwidth != 2 * n or not gate.dests:
        return False
    if not all(_sign_extension_of(arg) for arg in gate.args):
        return False
    return all(d.op == "s" and max(d.op_param) < n for d in gate.dests)


class _Writer(_VerilogOutput):
    """PyRTL's writer, but registers named in ``reset_less`` outside the reset, and
    ``signed_mult``'s multiplies written at their product's width."""

    def _verilog_expr(self, gate, lhs=None) -> str:
        """As PyRTL's, except ``pyrtl.signed_mult``'s multiply of two n-bit sign
        extensions into 2n bits: written ``{n'd0, ($signed(a) * $signed(b))}``, an n-bit
        signed multiply (self-determined inside the concatenation) whose bits are the
        ones read -- the same low n bits as the 2n-bit product, which Verilator then
        computes in native 64-bit arithmetic (n <= 64) instead of wide words, and which
        synthesis reads as a signed multiply."""
        if _sign_extended_product(gate) and not (gate in self.declared_gates
                                                 and lhs is not gate):
            n = gate.args[0].bitwidth
            a, b = (self._verilog_expr(arg, lhs) for arg in gate.args)
            return f"{{{n}'d0, ($signed({a}) * $signed({b}))}}"
        return super()._verilog_expr(gate, lhs)

    def __init__(self, block: pyrtl.Block, add_reset, module_name: str,
                 reset_less: frozenset[str]):
        super().__init__(block, add_reset, module_name=module_name)
        self.reset_less = reset_less

    def _to_verilog_sequential(self, file) -> None:
        registers = self._name_sorted(self.gate_graph.registers)
        free = [r for r in registers if r.name in self.reset_less]
        if not self.add_reset or not free:
            super()._to_verilog_sequential(file)
            return
        kept = [r for r in registers if r.name not in self.reset_less]
        print("\n    // Register logic", file=file)
        if kept:
            if self.add_reset == "asynchronous":
                print("    always @(posedge clk or posedge rst) begin", file=file)
            else:
                print("    always @(posedge clk) begin", file=file)
            print("        if (rst) begin", file=file)
            for r in kept:
                print(f"            {self._verilog_name(r.name)} <= "
                      f"{r.bitwidth}'d{r.reset_value};", file=file)
            print("        end else begin", file=file)
            for r in kept:
                print(f"            {self._verilog_name(r.name)} <= "
                      f"{self._verilog_expr(r.args[0])};", file=file)
            print("        end", file=file)
            print("    end", file=file)
        print("\n    // Registers without reset (pipeline data)", file=file)
        print("    always @(posedge clk) begin", file=file)
        for r in free:
            print(f"        {self._verilog_name(r.name)} <= "
                  f"{self._verilog_expr(r.args[0])};", file=file)
        print("    end", file=file)


def write_verilog(block: pyrtl.Block, module: str, *, add_reset=True,
                  initialize_registers: bool = False) -> str:
    """``block`` as the Verilog module ``module``, as ``pyrtl.output_to_verilog``
    writes it (``add_reset``: True, "asynchronous" or False), except that the block's
    :func:`~fixar_gen.hw.build.reset_less_names` have no reset branch."""
    text = io.StringIO()
    _Writer(block, add_reset, module, reset_less_names(block)).output_to_verilog(
        text, initialize_registers)
    return text.getvalue()
