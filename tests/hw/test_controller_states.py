"""The controller's transition table (fixar_gen.hw.core): the next state as one
multiplexer over each state's first taken choice, and whether the next cycle enters a
state as a sum of products of the same table, agree on every state and every value of
the choices' conditions (random tables, simulated in PyRTL)."""

import pyrtl
from hypothesis import given, settings
from hypothesis import strategies as st

from fixar_gen.hw.core import STATE_BITS, _entering, _next_state
from tests.conftest import examples

STATES = 1 << STATE_BITS


@st.composite
def tables(draw):
    """A transition table over ``n`` states (1 to 16): per state up to 4 choices, each
    on a condition input (or None: always, which ends the list) to any state."""
    n = draw(st.integers(1, STATES))
    conds = draw(st.integers(1, 6))
    table = {}
    for k in range(n):
        choices = []
        for _ in range(draw(st.integers(0, 4))):
            always = draw(st.integers(0, 4)) == 0
            choices.append((None if always else draw(st.integers(0, conds - 1)),
                            draw(st.integers(0, n - 1))))
            if always:
                break
        table[k] = choices
    return n, conds, table


@settings(max_examples=examples(60), deadline=None)
@given(tables(), st.data())
def test_entering_a_state_is_the_next_state_equal_to_it(drawn, data):
    """Mutations caught: a choice taken although an earlier one is (the ``~earlier``
    dropped), a state that holds counted as entering another, a choice after an
    unconditional one counted."""
    n, conds, table = drawn
    pyrtl.reset_working_block()
    state = pyrtl.Input(STATE_BITS, "state")
    cond_in = [pyrtl.Input(1, f"c{i}") for i in range(conds)]
    wired = {k: [(None if c is None else cond_in[c], t) for c, t in choices]
             for k, choices in table.items()}
    nxt = pyrtl.Output(STATE_BITS, "next")
    nxt <<= pyrtl.mux(state, *(_next_state(k, wired[k]) for k in range(n)), default=state)
    enters = {}
    for v in range(n):
        enters[v] = pyrtl.Output(1, f"enters{v}")
        enters[v] <<= _entering(state, wired, v)
    sim = pyrtl.Simulation()
    for _ in range(12):
        inputs = {"state": data.draw(st.integers(0, n - 1))}
        inputs.update({f"c{i}": data.draw(st.integers(0, 1)) for i in range(conds)})
        sim.step(inputs)
        after = sim.inspect("next")
        for v in range(n):
            assert sim.inspect(f"enters{v}") == int(after == v), (inputs, table, v)
