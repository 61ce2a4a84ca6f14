"""Specs written as Python files: a module that defines ``spec`` (a Fragment or a Spec),
or a function ``spec()`` returning one."""

from __future__ import annotations

import runpy
import traceback
from pathlib import Path

from fixar_gen.params import SpecError


def load_python_spec(path: Path):
    from fixar_gen.spec import Spec

    from .fragments import Fragment

    shown = f"{path}:1:1"
    if not path.is_file():
        raise SpecError("", "no such file", shown)
    try:
        namespace = runpy.run_path(str(path), run_name="fixar_spec")
        value = namespace.get("spec")
        if callable(value) and not isinstance(value, (Fragment, Spec)):
            value = value()
    except SpecError:
        raise
    except Exception as exc:  # the user's code failed: report where, without a traceback
        frames = [f for f in traceback.extract_tb(exc.__traceback__)
                  if Path(f.filename).resolve() == path.resolve()]
        line = frames[-1].lineno if frames else 1
        raise SpecError("", f"the Python spec raised {type(exc).__name__}: {exc}",
                        f"{path}:{line}:1") from None
    if isinstance(value, Fragment):
        return value.spec()
    if isinstance(value, Spec):
        return value
    raise SpecError("spec", "a Python spec file must define `spec` (a Fragment such as "
                    "Default() + U50(), a Spec, or a function returning one)", shown)
