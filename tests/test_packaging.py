"""The package installs as a wheel with the promised layout (fixar_gen.dsl from dsl/,
fixar_gen.rl from rl/, fixar_gen.targets.u50 from targets/u50/) and the wheel alone runs
the CLI."""

import subprocess
import sys
import zipfile

import pytest

from .conftest import EXAMPLES, ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                           "-w", str(out), str(ROOT)], capture_output=True, text=True,
                          timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{proc.stdout}\n{proc.stderr}")
    (path,) = out.glob("fixar_gen-*.whl")
    return path


def test_wheel_layout(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in ("fixar_gen/__init__.py", "fixar_gen/numerics.py", "fixar_gen/spec.py",
                   "fixar_gen/cli.py", "fixar_gen/dsl/__init__.py",
                   "fixar_gen/dsl/yaml_loader.py", "fixar_gen/rl/__init__.py",
                   "fixar_gen/targets/u50/__init__.py", "fixar_gen/hw/__init__.py"):
        assert module in names, module
    # every module of the source folders, sub-packages included (a package missing from
    # pyproject's list installs editable but not as a wheel)
    roots = {"fixar_gen": "fixar_gen", "dsl": "fixar_gen/dsl", "rl": "fixar_gen/rl",
             "targets": "fixar_gen/targets"}
    for folder, package in roots.items():
        for source in (ROOT / folder).rglob("*.py"):
            if "__pycache__" in source.parts:
                continue
            name = f"{package}/{source.relative_to(ROOT / folder).as_posix()}"
            assert name in names, f"{name} is not in the wheel (pyproject's packages list)"
    meta = next(n for n in names if n.endswith(".dist-info/METADATA"))
    text = zipfile.ZipFile(wheel).read(meta).decode()
    requires = sorted(line.split(":", 1)[1].split(";")[0].split(">")[0].split("<")[0].strip()
                      for line in text.splitlines() if line.startswith("Requires-Dist:")
                      and "extra ==" not in line)
    assert requires == ["gymnasium", "numpy", "pyrtl", "pyyaml"]
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "fixar = fixar_gen.cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_wheel_runs_the_cli(wheel, tmp_path):
    zipfile.ZipFile(wheel).extractall(tmp_path / "site")
    env = {"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"}
    where = subprocess.run([sys.executable, "-c", "import fixar_gen.dsl as d; print(d.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, env=env)
    assert where.stdout.startswith(str(tmp_path / "site")), where
    proc = subprocess.run([sys.executable, "-m", "fixar_gen", "validate",
                           *map(str, sorted(EXAMPLES.glob("*.yaml")))],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count(": ok: ") == len(list(EXAMPLES.glob("*.yaml")))
    proc = subprocess.run([sys.executable, "-m", "fixar_gen", "compile",
                           str(EXAMPLES / "pendulum.yaml"), "--phase", "infer"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert proc.returncode == 0 and "cycles modeled" in proc.stdout, proc.stderr
