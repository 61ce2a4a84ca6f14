"""Optional dependencies (the pyproject extras) and the one-line error a command gives
when the one it needs is missing.

The runtime install (``pip install .``) runs every command but ``fixar verify``, which
draws random programs with hypothesis: :func:`require` imports a module an extra
provides, or raises :class:`ExtraMissing` naming the extra to install.  The CLI turns it
into ``fixar: error: ...`` and exit 2 (it is a :class:`fixar_gen.tools.ToolMissing`).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from .tools import ToolMissing

#: the extra (pyproject ``[project.optional-dependencies]``) that provides each module
#: :func:`require` is asked for (plots and Ray name their extras where they are used)
EXTRA_OF = {"hypothesis": "verify"}


class ExtraMissing(ToolMissing):
    """A module from an optional extra is not installed; the message names the extra."""


def install_hint(extra: str) -> str:
    """How to install ``extra`` (from an index, or from a checkout)."""
    return f"pip install 'fixar_gen[{extra}]' (in a checkout: pip install -e '.[{extra}]')"


def require(module: str, purpose: str) -> ModuleType:
    """``module`` imported, or :class:`ExtraMissing`: '<purpose> needs <module>: install
    the <extra> extra: pip install ...'."""
    try:
        return importlib.import_module(module)
    except ImportError:
        extra = EXTRA_OF[module.split(".")[0]]
        raise ExtraMissing(f"{purpose} needs {module.split('.')[0]}, which is not installed: "
                           f"install the {extra} extra: {install_hint(extra)}") from None
