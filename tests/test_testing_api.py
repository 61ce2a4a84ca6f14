"""fixar_gen.testing, the public API for property tests of a spec's RTL: what it
exports, its hypothesis settings, the docstring's pattern and the worked example
(examples/test_my_core.py, docs/testing.md) run as a user runs them -- a copy in a
folder of its own, plain pytest -- and caught failing on a core with a planted bug."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fixar_gen.testing as T

from .conftest import EXAMPLES, ROOT

TINY = """name: my_core
env: {id: Pendulum-v1}
networks:
  actor: {hidden: [4], activation: relu, output: tanh}
  critic: {hidden: [4], activation: relu}
algorithm: {batch_size: 2}
hardware: {cores: 2, array: [2, 2]}
"""

#: a conftest.py that builds every core with one flipped product bit in PE (0, 0)
PLANTED_BUG = """import fixar_gen.hw.session as session
from tests.hw.test_core import broken_pe

real = session.build_core
session.build_core = lambda cfg: real(cfg, pe_generator=broken_pe)
"""


def test_everything_a_property_test_needs_is_exported():
    needed = {"compare", "open_machine", "open_core", "random_params", "programs", "specs",
              "batches", "check_equivalence", "check_program", "assert_equivalent",
              "assert_same_state", "train_both", "uniform_batch", "load_spec",
              "hardware_settings", "HARDWARE_PROFILE"}
    assert needed <= set(T.__all__)
    for name in T.__all__:
        assert getattr(T, name) is not None, name


def test_the_hardware_profile_is_registered():
    profile = settings.get_profile(T.HARDWARE_PROFILE)
    assert profile.deadline is None
    assert HealthCheck.too_slow in profile.suppress_health_check
    assert profile.max_examples == T.HARDWARE_EXAMPLES < settings.get_profile(
        "default").max_examples


def test_hardware_settings_take_overrides_and_keep_the_rest():
    chosen = T.hardware_settings(max_examples=3, derandomize=True)
    assert (chosen.max_examples, chosen.deadline, chosen.derandomize) == (3, None, True)
    assert HealthCheck.too_slow in chosen.suppress_health_check
    assert T.hardware_settings().max_examples == T.HARDWARE_EXAMPLES


def test_a_search_inside_given_is_refused_with_the_pattern_to_use(tmp_path):
    """check_equivalence is a hypothesis search; inside @given hypothesis used to fail
    with FailedHealthCheck: nested_given.  It now says what to do instead (before
    building anything)."""
    spec = T.load_spec(TINY_PATH(tmp_path))
    messages = []

    @settings(max_examples=1, database=None)
    @given(st.integers())
    def nested(_):
        with pytest.raises(RuntimeError) as refused:
            T.check_equivalence(spec, "pyrtl", examples=2)
        messages.append(str(refused.value))

    nested()
    assert "cannot run inside @given" in messages[0]
    assert "assert_equivalent(case, machine)" in messages[0]


def TINY_PATH(folder):
    path = folder / "my_core.yaml"
    path.write_text(TINY)
    return path


def docstring_test() -> str:
    """The example at the top of fixar_gen.testing's docstring, as a test file."""
    block = []
    for line in T.__doc__.split("\n\n", 1)[1].splitlines():
        if line and not line.startswith("    "):
            break
        block.append(line[4:])
    text = "\n".join(block).strip() + "\n"
    assert "def test_" in text and "@given" in text, text
    return text


def run_pytest(folder, *args) -> subprocess.CompletedProcess:
    """Plain pytest in ``folder`` (its own rootdir: none of this project's settings)."""
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--rootdir", str(folder), *args], capture_output=True, text=True,
                          timeout=600, cwd=folder,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT),
                               "HOME": str(folder)})


@pytest.mark.slow       # 45-90 s (two subprocess pytest runs)
def test_the_docstring_pattern_and_the_worked_example_pass_as_a_user_runs_them(tmp_path):
    TINY_PATH(tmp_path)
    (tmp_path / "test_docstring.py").write_text(docstring_test())
    shutil.copy(EXAMPLES / "test_my_core.py", tmp_path)
    proc = run_pytest(tmp_path, "test_docstring.py", "test_my_core.py")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"\b4 passed\b", proc.stdout), proc.stdout


@pytest.mark.slow       # ~40 s (a subprocess pytest run); test_core's planted PE bug stays
def test_the_worked_example_catches_a_planted_bug(tmp_path):
    shutil.copy(EXAMPLES / "test_my_core.py", tmp_path)
    (tmp_path / "conftest.py").write_text(PLANTED_BUG)
    proc = run_pytest(tmp_path, "test_my_core.py", "-k", "random_programs")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "1 failed" in proc.stdout
    # the shrunk program's first difference and its listing
    assert re.search(r"AssertionError: \S+\[\d+, \d+\]: golden -?\d+, hardware -?\d+",
                      proc.stdout), proc.stdout[-3000:]
    assert re.search(r"^E\s+\d+\s+\S+\s+mm\b", proc.stdout, re.MULTILINE), proc.stdout[-3000:]
