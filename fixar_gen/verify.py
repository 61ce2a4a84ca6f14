"""`fixar verify` and `fixar cosim`: the generated RTL against the golden model.

``verify`` draws random programs for the spec's hardware (:func:`fixar_gen.programs.
programs`), runs each on the golden model and on the simulated RTL, and compares every
buffer, host slot, saturation count and the cycle count (against the RTL's cycle
model).  On a difference hypothesis shrinks the program; the smallest failing one is
printed as assembly with the differing tensor.

``cosim`` runs whole training steps of the spec's algorithm and inferences on random
data on both, comparing every parameter and output after every step.

``cosim`` needs only the runtime install; ``verify`` needs hypothesis (the ``verify``
extra) and says so (:class:`fixar_gen.extras.ExtraMissing`, exit 2 from the CLI).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np

from . import algorithms
from .cases import Case, Difference, compare
from .extras import require
from .progress import Progress
from .spec import Spec


@dataclass
class VerifyResult:
    examples: int
    failure: Case | None = None
    difference: Difference | str | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None


def check_program(case: Case, machine) -> Difference | str | None:
    """The first difference of one program between golden and ``machine``, or a
    cycle count that differs from the RTL's cycle model, or None."""
    diff = compare(case, machine)
    if diff is not None:
        return diff
    modeled = machine.modeled_cycles(case.program)
    if machine.cycles != modeled:
        return f"cycles: RTL {machine.cycles}, cycle model {modeled}"
    return None


def _ready_to_search() -> None:
    """Hypothesis is installed (else :class:`~fixar_gen.extras.ExtraMissing` naming the
    extra), and no ``@given`` test is running (a search inside one is a nested
    ``@given``, which hypothesis refuses with a confusing health check)."""
    require("hypothesis", "fixar verify (random programs)")
    from hypothesis import currently_in_test_context
    if currently_in_test_context():
        raise RuntimeError(
            "check_equivalence / verify_machine run a hypothesis search of their own and "
            "cannot run inside @given: call them from a plain test, or draw "
            "programs(spec) in your @given and check each case with "
            "fixar_gen.testing.assert_equivalent(case, machine) (docs/testing.md)")


def verify_machine(spec: Spec, machine, examples: int, seed: int | None = 0,
                   max_instructions: int = 3) -> VerifyResult:
    """Hypothesis-driven random programs on ``machine``; shrinks the first failure."""
    _ready_to_search()
    from hypothesis import HealthCheck, assume, given, settings
    from hypothesis import seed as hseed

    from .percore_cases import per_core_case
    from .programs import programs

    result = VerifyResult(0)
    progress = Progress(f"verify {spec.name}", total=examples, unit="programs")

    cfg = getattr(machine, "cfg", None)
    per_core = bool(cfg is not None and cfg.per_core_memories and cfg.cores > 1)

    @settings(max_examples=examples, deadline=None, database=None, print_blob=False,
              suppress_health_check=list(HealthCheck), derandomize=seed is None)
    @given(programs(spec, max_instructions=max_instructions))
    def check(case: Case) -> None:
        if per_core:          # each core its copy: the readback, transfers and copies
            case = per_core_case(case, cfg.acc_half)
            assume(case is not None)
        result.examples += 1
        progress.update(result.examples, "shrinking a difference" if result.failure
                        else None)
        diff = check_program(case, machine)
        if diff is not None:
            result.failure, result.difference = case, diff
            raise AssertionError(str(diff))

    if seed is not None:
        check = hseed(seed)(check)
    with progress:
        try:
            check()
        except AssertionError:
            if result.failure is None:
                raise
    return result


def verify_backend(spec: Spec, backend: str, examples: int, seed: int | None = 0
                   ) -> VerifyResult:
    """:func:`verify_machine` on a fresh machine of ``spec``'s design on ``backend``."""
    _ready_to_search()                  # before the (maybe long) build of the machine
    from .hw.session import open_machine, simulation_config
    cfg = simulation_config(spec, per_core_memories=spec.hardware.memories_per_core)
    with open_machine(spec, backend, cfg) as machine:
        return verify_machine(spec, machine, examples, seed)


def check_equivalence(spec: Spec, backend: str = "pyrtl", examples: int = 50,
                      seed: int | None = 0) -> None:
    """Raise AssertionError (with the shrunk program's listing) unless ``examples``
    random programs give identical results on ``backend`` and the golden model."""
    result = verify_backend(spec, backend, examples, seed)
    if not result.ok:
        raise AssertionError(f"{result.difference}\n{result.failure.listing()}")


def run_verify(spec: Spec, backend: str, examples: int, seed: int | None, out=None) -> int:
    out = out or sys.stdout
    result = verify_backend(spec, backend, examples, seed)
    memories = (" (per-core memories: each program with its transfers and each core's "
                "readback)" if spec.hardware.memories_per_core else "")
    if result.ok:
        print(f"verify {spec.name} on {backend}: {result.examples} random programs"
              f"{memories}, all identical to the golden model (values, saturations, "
              "cycles)", file=out)
        return 0
    print(f"verify {spec.name} on {backend}: MISMATCH after shrinking", file=out)
    print(f"first difference: {result.difference}", file=out)
    print(result.failure.listing(), file=out)
    return 1


# ---------------------------------------------------------------------------- cosim

def _first_param_difference(golden: dict, hardware: dict) -> str | None:
    for name in golden:
        g, h = np.asarray(golden[name]), np.asarray(hardware[name])
        if g.shape != h.shape or not np.array_equal(g, h):
            if g.shape != h.shape:
                return f"{name}: shape {g.shape} vs {h.shape}"
            index = tuple(int(i) for i in np.argwhere(g != h)[0])
            return f"{name}{list(index)}: golden {g[index]}, hardware {h[index]}"
    return None


def run_cosim(spec: Spec, backend: str, updates: int, seed: int, out=None) -> int:
    """``updates`` DDPG training steps plus inferences on both; 0 if all identical."""
    out = out or sys.stdout
    from .backends import open_core, random_params, uniform_batch
    from .perf import schedule

    golden = open_core(spec, "golden")
    hardware = open_core(spec, backend)
    params = random_params(spec, seed)
    golden.load_params(params)
    hardware.load_params(params)
    rng = np.random.default_rng(seed)
    print(f"cosim {spec.name} on {backend}: {updates} update(s), batch "
          f"{spec.algorithm.batch_size}, {spec.hardware.cores} core(s) of "
          f"{spec.hardware.rows}x{spec.hardware.cols}, {spec.hardware.lanes} vector "
          f"lane(s) each", file=out)

    def compare_all(what: str) -> str | None:
        diff = _first_param_difference(golden.read_params(), hardware.read_params())
        if diff is None and golden.stats.saturations != hardware.stats.saturations:
            diff = (f"saturations: golden {dict(golden.stats.saturations)}, hardware "
                    f"{dict(hardware.stats.saturations)}")
        if diff:
            progress.clear()
            print(f"MISMATCH after {what}: {diff}", file=out)
        return diff

    def report(what: str, phase: str, batch: int) -> None:
        progress.clear()
        program = hardware.program(phase, batch)
        rtl_model = hardware.machine.modeled_cycles(program)
        fixar = schedule(program, spec).total_cycles
        measured = hardware.stats.cycles
        flag = "" if measured == rtl_model else "  <-- differs from the RTL model"
        print(f"  {what}: {measured} cycles measured, {rtl_model} RTL model, "
              f"{fixar} FIXAR model{flag}", file=out)

    progress = Progress(f"cosim {spec.name} on {backend}", total=updates, unit="updates")
    machine = getattr(hardware, "machine", None)          # a simulated core (not u50)
    try:
        for step in range(updates):
            if machine is not None:
                machine.driver.on_cycles = (
                    lambda cycles, step=step: progress.update(
                        note=f"update {step + 1}: {cycles:,} cycles simulated"))
            batch = uniform_batch(spec, golden.formats, rng)
            golden.train_step(batch)
            hardware.train_step(batch)
            progress.update(step + 1, note="")
            if compare_all(f"update {step + 1}"):
                return 1
            report(f"update {step + 1}", algorithms.of(spec).train_phase(spec, step),
                   batch.size)
        for size, explore in ((1, False), (1, True), (spec.algorithm.batch_size, False)):
            states = uniform_batch(spec, golden.formats, rng, size=size).states
            g = golden.infer("actor", states, explore=explore)
            h = hardware.infer("actor", states, explore=explore)
            what = f"actor inference (batch {size}{', exploring' if explore else ''})"
            if not np.array_equal(g, h):
                index = tuple(int(i) for i in np.argwhere(g != h)[0])
                print(f"MISMATCH in {what}: actions{list(index)}: golden {g[index]}, "
                      f"hardware {h[index]}", file=out)
                return 1
            report(what, "explore" if explore else "infer", size)
        if compare_all("inference"):
            return 1
    finally:
        progress.finish()
        hardware.close()
    print("all parameters, outputs and saturation counts identical", file=out)
    return 0
