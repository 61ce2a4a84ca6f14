"""Shared test settings: hypothesis profiles, paths, the external tools.

Hypothesis profiles: `ci` (the default run, derandomized so that CI runs are
repeatable: 30 of hypothesis's 100 examples, and 30% of every count a test sets
through :func:`examples`, so that the default suite stays within its time), `full`
(derandomized: hypothesis's 100 and each test's own count; what `pytest -m slow` loads,
or `HYPOTHESIS_PROFILE=full`) and `thorough` (`HYPOTHESIS_PROFILE=thorough`: 2,000, 20
times each test's count, not derandomized).  The tool fixtures give the tool, or a skip
whose reason names the missing tool and how to install it.
"""

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from fixar_gen.files import locked
from fixar_gen.tools import Tool, ToolMissing, verilator, yosys

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

settings.register_profile("ci", max_examples=30, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("full", max_examples=100, derandomize=True, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=2_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])


def pytest_configure(config):
    """Load the profile before the test modules are imported (their counts read it):
    ``HYPOTHESIS_PROFILE`` if set, else `full` when the mark expression selects the
    slow tests (``pytest -m slow``), else `ci`."""
    marks = config.getoption("markexpr") or ""
    default = "full" if "slow" in marks and "not slow" not in marks else "ci"
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", default))


def examples(n: int) -> int:
    """A test's own hypothesis count ``n`` (its count in the `full` profile), scaled by
    the profile loaded: 0.3n in the default run, 20n in `thorough`."""
    return max(1, n * settings.default.max_examples // 100)


def tool_or_skip(find) -> Tool:
    """The tool, or a skip whose reason is ToolMissing's message (the missing tool and
    how to install it)."""
    try:
        return find()
    except ToolMissing as exc:
        pytest.skip(f"external tool missing: {exc}")


@pytest.fixture(scope="module")
def verilator_tool() -> Tool:
    return tool_or_skip(verilator)


@pytest.fixture(scope="module")
def yosys_tool() -> Tool:
    return tool_or_skip(yosys)


@pytest.fixture(scope="session")
def generated_example(tmp_path_factory):
    """``generated_example("examples/x.yaml") -> (folder, report)``: `fixar generate`
    of an example, once per test run (the big examples take tens of seconds).  Under
    pytest-xdist the workers share one generation: the first to ask builds it in the
    run's common temporary folder under a file lock, the others read it there."""
    from fixar_gen.dsl import load_spec
    from fixar_gen.generate import generate
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")      # one id for a run's workers
    base = (tmp_path_factory.getbasetemp().parent / f"generated_examples-{run}" if run
            else tmp_path_factory.getbasetemp() / "generated_examples")
    base.mkdir(exist_ok=True)
    cache: dict = {}

    def get(path: str):
        if path not in cache:
            name = str(Path(path).with_suffix("")).replace("/", "__")
            folder = base / name
            with locked(base / f"{name}.lock"):
                done = folder / "report.json"
                if not done.is_file():
                    generate(load_spec(ROOT / path), folder)
            cache[path] = (folder, json.loads(done.read_text()))
        return cache[path]
    return get


#: a small two-core spec the command tests run end to end (every command, quickly)
TINY_SPEC = """name: tiny
env: {id: Pendulum-v1}
networks:
  actor: {hidden: [5, 3], activation: relu, output: tanh}
  critic: {hidden: [4], activation: relu}
algorithm: {batch_size: 3}
hardware: {cores: 2, array: [2, 3]}
"""


#: the same on one core: half the netlist, so a PyRTL co-simulation of a DDPG update takes
#: 18 s instead of 41 (the tests whose subject is not the cores use it)
TINY_ONE_CORE_SPEC = TINY_SPEC.replace("hardware: {cores: 2,", "hardware: {cores: 1,")
assert TINY_ONE_CORE_SPEC != TINY_SPEC


@pytest.fixture
def tiny_one_core(tmp_path):
    """The path of TINY_ONE_CORE_SPEC written into the test's folder."""
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_ONE_CORE_SPEC)
    return str(path)


@pytest.fixture
def tiny(tmp_path):
    """The path of TINY_SPEC written into the test's folder."""
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_SPEC)
    return str(path)
