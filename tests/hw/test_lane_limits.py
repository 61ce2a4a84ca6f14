"""The vector lane's format limits (fixar_gen.hw.lane_limits): derived from a spec at
elaboration, every format the spec's programs use inside them, the lane narrower for
them, and the refusals (a format beyond the generated lane, a spec beyond the widest
lane).  Bit-exactness of the narrowed lane is tests/hw/test_vector.py's (the ``narrow``
lane)."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixar_gen import load_spec
from fixar_gen.compiler import Precision, activation_keys, compile_program
from fixar_gen.hw.design import HardwareLimit, config_for, lane_limits, program_limits
from fixar_gen.hw.lane_limits import WIDEST, LaneLimits
from fixar_gen.hw.vector import build_vector_unit, check_supported, internal_width
from fixar_gen.numerics import FixedFormat
from fixar_gen.rl.qat import frac_limits
from tests.conftest import EXAMPLES, examples

U50 = load_spec(EXAMPLES / "fixar_u50.yaml")
FIELDS = ("data_width", "data_frac", "const_width", "const_frac", "const_int", "acc_frac")


def Q(width, frac, signed=True):
    return FixedFormat(width, frac, signed)


def with_numerics(spec, **fields):
    return dataclasses.replace(spec, numerics=dataclasses.replace(spec.numerics, **fields))


@pytest.mark.parametrize("frac", sorted(set(frac_limits(U50.numerics.fxp16_width))))
def test_every_program_format_of_the_spec_is_inside_its_lane(frac):
    """FXP32 and FXP16 programs (every activation at QAT's smallest and largest frac)
    of fixar_u50 pass the generated lane's checks."""
    cfg = config_for(U50, memory_words=1 << 16)
    width = U50.numerics.fxp16_width
    fxp16 = Precision("fxp16", tuple((k, Q(width, frac)) for k in activation_keys(U50)))
    for precision in (Precision(), fxp16):
        for phase, batch in (("train", None), ("infer", 1), ("explore", 1)):
            program = compile_program(U50, phase, precision, batch)
            assert program_limits(program, cfg.pe, cfg.word, cfg.lane) == [], phase


def test_qat_frac_bound_is_the_lanes():
    """lane_limits states QAT's FXP16 frac bound (2 fxp16_width) without importing rl."""
    width = U50.numerics.fxp16_width
    assert frac_limits(width)[1] <= lane_limits(U50).data_frac
    assert lane_limits(U50).data_width >= width


def test_the_u50_lane_is_narrower_than_the_widest():
    limits = lane_limits(U50)
    assert WIDEST.covers(limits) and not limits.covers(WIDEST)
    assert internal_width(82, limits) < internal_width(82)


@settings(max_examples=examples(40), deadline=None)
@given(st.data())
def test_wider_limits_never_narrow_the_datapath(data):
    """internal_width is monotone in every limit."""
    lo = {k: data.draw(st.integers(2 if "width" in k else 0, getattr(WIDEST, k)), label=k)
          for k in FIELDS}
    hi = {k: data.draw(st.integers(v, getattr(WIDEST, k)), label=f"{k}+") for k, v in lo.items()}
    word = data.draw(st.integers(49, 128))
    assert internal_width(word, LaneLimits(**lo)) <= internal_width(word, LaneLimits(**hi))


def test_a_format_beyond_the_generated_lane_is_refused():
    limits = lane_limits(U50)
    wide = limits.data_width + 1
    with pytest.raises(ValueError, match=f"width <= {limits.data_width}.*generated for"):
        check_supported("copy", word=82, fmt_a=Q(wide, 0), fmt_d=Q(8, 0), limits=limits)
    with pytest.raises(ValueError, match=f"frac <= {limits.data_frac}"):
        check_supported("copy", word=82, fmt_a=Q(8, limits.data_frac + 1), fmt_d=Q(8, 0),
                        limits=limits)
    with pytest.raises(ValueError, match=f"at most {limits.const_int} integer bits"):
        check_supported("scale", word=82, fmt_a=Q(8, 0), fmt_d=Q(8, 0),
                        fmt_c=Q(limits.const_int + 2, 1), limits=limits)
    with pytest.raises(ValueError, match=f"accumulator fracs must be <= {limits.acc_frac}"):
        check_supported("drain_identity", word=82, fmt_a=Q(64, limits.acc_frac + 1),
                        fmt_d=Q(8, 0), limits=limits)
    # the same formats are fine for the widest lane
    check_supported("copy", word=82, fmt_a=Q(wide, 0), fmt_d=Q(8, 0))


def test_a_program_beyond_the_generated_lane_is_a_hardware_limit():
    """A design generated for fixar_u50 refuses the programs of a spec with wider data."""
    cfg = config_for(U50, memory_words=1 << 16)
    wider = with_numerics(U50, weight=dataclasses.replace(U50.numerics.weight, width=40),
                          accumulator_width=90)
    program = compile_program(wider, "train", Precision(), None)
    problems = program_limits(program, cfg.pe, cfg.word, cfg.lane)
    assert any("generated for" in p for p in problems)


def test_a_spec_beyond_the_widest_lane_is_refused():
    activation = dataclasses.replace(U50.numerics.activation, width=50, frac=16)
    with pytest.raises(HardwareLimit, match="numerics.activation .*widest vector lane"):
        lane_limits(with_numerics(U50, activation=activation, fxp16_width=25,
                                  accumulator_width=94))
    with pytest.raises(ValueError, match="LaneLimits.data_width"):
        LaneLimits(data_width=49)


def test_the_lane_records_its_limits():
    limits = lane_limits(U50)
    _, design = build_vector_unit(82, limits=limits)
    assert design.limits == limits
    assert design.internal_width == internal_width(82, limits)


def test_generate_refuses_a_spec_beyond_the_widest_lane_in_one_line(tmp_path, capsys):
    from fixar_gen.cli import main
    spec = tmp_path / "wide_lane.yaml"
    spec.write_text(f"name: wide_lane\nbase: {EXAMPLES / 'pendulum.yaml'}\nnumerics:\n"
                    "  activation: {width: 50, frac: 16}\n  fxp16_width: 25\n"
                    "  accumulator_width: 94\n")
    assert main(["generate", str(spec), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "numerics.activation (width 50, frac 16) is beyond the widest vector lane" in err
