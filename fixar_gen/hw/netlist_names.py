"""Names in a Yosys netlist, mapped back to the PyRTL design they come from: a net
bit by its PyRTL wire (``acc[3]``) rather than a Yosys or PyRTL temporary, and a
DSP48E2 by the multiply it implements (the operands of its Verilog line).  What
:mod:`fixar_gen.hw.timing` names start and end points with."""

from __future__ import annotations

import re

PYRTL_TEMPORARY = re.compile(r"tmp\d+|const_\d+_\d+")     # PyRTL's unnamed wires


def pin_bits(cell: dict, pin: str) -> list[int]:
    """The net bits on a cell's pin (constants left out)."""
    return [b for b in cell["connections"].get(pin, []) if isinstance(b, int)]


def param(cell: dict, name: str, default: int = 0) -> int:
    """A cell parameter as an int (Yosys writes them as bit strings or ints)."""
    value = cell.get("parameters", {}).get(name)
    if value is None:
        return default
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if re.fullmatch(r"[01xz]+", text):
        return int(text.replace("x", "0").replace("z", "0"), 2)
    try:
        return int(text)
    except ValueError:
        return default


def pretty(name: str) -> str:
    """A Yosys name without the backslash of an escaped (user) identifier."""
    return name[1:] if name.startswith("\\") else name


ALIAS = re.compile(r"\s*assign (tmp\d+) = (\{.*, )?\(?([A-Za-z_][\w$]*)"
                   r"(?:\[(\d+)(?::(\d+))?\])?\)?(\})?;")


def verilog_aliases(verilog: list[str]) -> dict[str, tuple[str, int, int | None]]:
    """PyRTL's temporaries that are a slice of a named wire (``assign tmp7 =
    (acc[75:4]);``) or have one as their low bits (``{1'd0, (acc[6:0])}``):
    ``{"tmp7": ("acc", 4, width or None)}``, the name, the offset of bit 0 and how
    many low bits it names (None: all)."""
    found = {}
    for line in verilog:
        m = ALIAS.match(line)
        if (not m or PYRTL_TEMPORARY.fullmatch(m[3]) or bool(m[2]) != bool(m[6])
                or (m[2] and m[4] is None)):      # a whole wire in a concat: width unknown
            continue
        hi, lo = m[4], m[5] if m[5] is not None else m[4]
        width = None if not m[2] else (int(hi) - int(lo) + 1 if hi is not None else 1)
        found[m[1]] = (m[3], int(lo or 0), width)
    return found


def net_names(module: dict, aliases: dict[str, tuple[str, int, int | None]] | None = None
              ) -> dict[int, str]:
    """A readable name for every named net bit: a port's name for a primary input or
    output, else the first visible (PyRTL) name, ``name[i]`` for a bus; PyRTL's
    temporaries (``tmp123``, or the wire they slice under ``aliases``) and hidden
    Yosys names only where nothing else names the bit."""
    ports = {}
    for pname, port in module.get("ports", {}).items():
        for i, b in enumerate(port["bits"]):
            if isinstance(b, int):
                ports[b] = f"{pname}[{i}]" if len(port["bits"]) > 1 else pname
    visible: dict[int, str] = {}
    temporary: dict[int, str] = {}
    hidden: dict[int, str] = {}
    for nname, net in sorted(module.get("netnames", {}).items()):
        if nname in module.get("ports", {}):
            continue                     # a port's name only where nothing else names it
        target = (hidden if net.get("hide_name") else
                  temporary if PYRTL_TEMPORARY.fullmatch(pretty(nname)) else visible)
        for i, b in enumerate(net["bits"]):
            if isinstance(b, int) and b not in target:
                target[b] = pretty(nname) + (f"[{i}]" if len(net["bits"]) > 1 else "")
    for b, name in temporary.items():     # a temporary that slices a named wire
        m = re.fullmatch(r"(tmp\d+)(?:\[(\d+)\])?", name)
        if aliases and m and m[1] in aliases:
            base, offset, width = aliases[m[1]]
            if width is None or int(m[2] or 0) < width:
                temporary[b] = f"{base}[{offset + int(m[2] or 0)}]"
    names = {**hidden, **temporary, **visible}
    for b, pname in ports.items():
        if module["ports"][pname.split("[")[0]]["direction"] == "input" or b not in visible:
            names[b] = pname
    return names


IDENTIFIER = re.compile(r"(?<!['\w$])[A-Za-z_][A-Za-z0-9_$]*")


def dsp_name(cell: dict, label: str, verilog: list[str] | None,
             names: dict[int, str] | None = None) -> str:
    """A DSP48E2 by the multiply it implements: ``dsp(a*b)@L`` with the named
    (PyRTL) operands of Verilog line ``L`` (Yosys's ``src`` attribute); where that
    line names none (PyRTL temporaries), the first named net on its A, B or P pins;
    the Yosys cell name when nothing names it."""
    src = str(cell.get("attributes", {}).get("src", "")).split("|")[0]
    found = re.fullmatch(r".*?:(\d+)(\.\d+)?(-.*)?", src)
    line = int(found.group(1)) if found else None
    ops: list[str] = []
    if line is not None and verilog is not None and 0 < line <= len(verilog):
        text = verilog[line - 1].split("=", 1)[-1]
        ops = [w for w in dict.fromkeys(IDENTIFIER.findall(text))
               if not PYRTL_TEMPORARY.fullmatch(w)]
    if not ops and names:
        ops = [re.sub(r"\[\d+\]$", "", names[b]) for pin in ("A", "B", "P")
               for b in pin_bits(cell, pin) if not names.get(b, "$").startswith("$")][:1]
    if line is None:
        return f"dsp({ops[0]})" if ops else label
    return f"dsp({'*'.join(ops[:3])})@{line}"
