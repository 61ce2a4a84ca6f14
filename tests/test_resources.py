"""The analytic resource model (fixar_gen.resources): its calibration against the Yosys
runs it was fitted to, its shape (monotonic in cores and array), the memory mapping,
the fit check on the U50 and what `fixar estimate` shows of it.  The one Yosys run
(a held-out 2x4 array) is marked ``tools``."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixar_gen import SpecError, load_spec, resource_calibration
from fixar_gen.boards import U50
from fixar_gen.cli import main
from fixar_gen.hw.design import config_for
from fixar_gen.hw.inventory import FLIP_FLOP_READ_LUTS
from fixar_gen.hw.vector import lane_operations
from fixar_gen.lane_resources import LaneEstimate, calibration_points, generated_lane
from fixar_gen.estimate import estimate, format_estimate
from fixar_gen.resources import (FIXAR_PUBLISHED, RESOURCES, Resources, array_fits,
                                 bram36_count, check_fit, estimate_resources, max_cores,
                                 uram_count)
from fixar_gen.spec import ActorSpec, CriticSpec, MemorySpec, NetworksSpec, Spec

from .conftest import EXAMPLES, examples

FIXAR = load_spec(EXAMPLES / "fixar_u50.yaml")
SMALL = Spec(networks=NetworksSpec(actor=ActorSpec(hidden=(64, 64)),
                                   critic=CriticSpec(hidden=(64, 64))))


def at(spec: Spec, **hardware) -> Spec:
    return dataclasses.replace(spec, hardware=dataclasses.replace(spec.hardware, **hardware))


def sim(spec: Spec, **hardware) -> Spec:
    return at(dataclasses.replace(spec, target="sim"), **hardware)


# ----------------------------------------------------------------------- calibration

def test_the_calibration_covers_enough_arrays():
    arrays = [m for m in resource_calibration.MEASURED if m["design"] == "array"]
    assert len(arrays) >= 5
    assert max(m["rows"] * m["cols"] for m in arrays) >= 64
    assert resource_calibration.FAMILY == "xcup"


@pytest.mark.parametrize("m", [m for m in resource_calibration.MEASURED
                               if m["design"] in ("pe", "array")],
                         ids=lambda m: f"{m['design']}-{m['rows']}x{m['cols']}")
def test_every_calibration_run_has_four_dsps_per_pe(m):
    assert m["dsps"] == 4 * m["rows"] * m["cols"]


@pytest.mark.parametrize("m", [m for m in resource_calibration.MEASURED
                               if m["design"] == "array"],
                         ids=lambda m: f"{m['rows']}x{m['cols']}")
def test_the_model_is_within_15_percent_of_each_calibration_run(m):
    """Issue 7: the analytic model within 15% of Yosys on the calibration specs."""
    for resource, fit in array_fits().items():
        model = fit(m["rows"], m["cols"])
        assert abs(model - m[resource]) <= 0.15 * m[resource], (resource, m, model)


def test_fixar_design_point_is_near_fixars_published_dsp_count():
    total = estimate_resources(FIXAR).total
    assert total.dsps == 2 * 256 * 4 + 2 * 16 * 8          # PEs + vector lanes
    assert abs(total.dsps - FIXAR_PUBLISHED.dsps) <= 0.01 * FIXAR_PUBLISHED.dsps


# -------------------------------------------------------------------- memory primitives

@pytest.mark.parametrize("width, depth, bram, uram", [
    (1, 32_768, 1, 8), (72, 512, 1, 1), (72, 513, 2, 1), (36, 1_024, 1, 1),
    (512, 512, 8, 8), (72, 4_096, 8, 1), (73, 4_096, 9, 2), (32, 1, 1, 1), (0, 10, 0, 0)])
def test_primitive_counts_follow_ug573_shapes(width, depth, bram, uram):
    assert bram36_count(width, depth) == bram
    assert uram_count(width, depth) == uram


@given(st.integers(1, 4_096), st.integers(1, 200_000))
def test_primitives_always_hold_the_bits(width, depth):
    assert bram36_count(width, depth) * 36 * 1024 >= width * depth
    assert uram_count(width, depth) * 288 * 1024 >= width * depth


def test_explicit_memory_sizes_larger_than_needed_cost_more():
    base = estimate_resources(sim(SMALL)).total
    need = SMALL.memory_needs()["weight_kib"]
    bigger = at(SMALL, memory=MemorySpec(weight_kib=8 * need // 1024))
    total = estimate_resources(bigger).total
    assert total.bram36 * 36 + total.uram * 288 > base.bram36 * 36 + base.uram * 288


# ------------------------------------------------------------------ shape of the model

@settings(max_examples=examples(40))
@given(cores=st.integers(1, 7), rows=st.integers(1, 48), cols=st.integers(1, 48))
def test_resources_grow_with_cores(cores, rows, cols):
    """Without a board (no spill between BRAM and URAM) every resource is
    non-decreasing in the number of cores; on the U50 all but the two memory kinds
    (which trade against each other) are, and so are the memory bits."""
    spec = sim(SMALL, array=(rows, cols))
    one = estimate_resources(spec, cores).total
    more = estimate_resources(spec, cores + 1).total
    assert all(getattr(more, r) >= getattr(one, r) for r in RESOURCES), (one, more)
    one = estimate_resources(spec, cores, U50).total
    more = estimate_resources(spec, cores + 1, U50).total
    assert all(getattr(more, r) >= getattr(one, r) for r in ("luts", "ffs", "dsps"))
    assert more.bram36 * 36 + more.uram * 288 >= one.bram36 * 36 + one.uram * 288


@settings(max_examples=examples(40))
@given(cores=st.integers(1, 4), rows=st.integers(1, 64), cols=st.integers(1, 64),
       grow=st.sampled_from(["rows", "cols"]))
def test_logic_grows_with_the_array(cores, rows, cols, grow):
    small = estimate_resources(sim(SMALL, cores=cores, array=(rows, cols))).total
    bigger = (rows + 1, cols) if grow == "rows" else (rows, cols + 1)
    large = estimate_resources(sim(SMALL, cores=cores, array=bigger)).total
    assert all(getattr(large, r) > getattr(small, r) for r in ("luts", "ffs", "dsps"))


def test_other_widths_scale_the_calibrated_array():
    wide = dataclasses.replace(SMALL, numerics=dataclasses.replace(
        SMALL.numerics, accumulator_width=94))
    narrow, scaled = estimate_resources(SMALL), estimate_resources(wide)
    assert not narrow.scaled and scaled.scaled
    assert dict(scaled.parts)["PE arrays"].luts > dict(narrow.parts)["PE arrays"].luts


# ---------------------------------------------------------------------- the fit check

def test_fixar_design_point_fits_the_u50():
    report = estimate_resources(FIXAR)
    assert report.fits and report.fit.board == "u50" and report.problems() == []
    fraction = report.fit.fraction(report.total)
    assert 0 < fraction["dsps"] < 1 and 0 < fraction["luts"] < 1


def test_sim_targets_have_no_board_and_always_fit():
    report = estimate_resources(sim(FIXAR, cores=8, array=(8, 8)))
    assert report.fit is None and report.fits


def test_memory_spills_from_uram_to_bram_before_giving_up():
    report = estimate_resources(sim(FIXAR, cores=4, array=(8, 8)), board=U50)
    kinds = {(m.core, m.name): m.kind for m in report.memories}
    assert report.fits
    assert "bram36" in {kinds[(c, "state")] for c in range(4)}       # one moved over
    assert report.total.uram <= U50.usable("uram")


def test_a_spec_that_does_not_fit_is_rejected_with_fewer_cores_allowed():
    with pytest.raises(SpecError) as err:
        at(FIXAR, cores=8, array=(8, 8))
    message = str(err.value)
    assert re.match(r"^hardware\.cores: 8 cores x 8x8 PEs do not fit the u50 after the "
                    r"shell margin: URAM \d+ > 544 usable \(at most 4 cores of 8x8 PEs", message)
    assert max_cores(sim(FIXAR, cores=8, array=(8, 8)), U50) == 4


def test_a_core_too_large_for_the_board_names_the_array():
    huge = dataclasses.replace(FIXAR, target="sim", networks=NetworksSpec(
        actor=ActorSpec(hidden=(2_048, 2_048)), critic=CriticSpec(hidden=(2_048, 2_048))))
    with pytest.raises(SpecError, match=r"^hardware\.array: 2 cores x 16x16 PEs do not fit .*"
                                        r"not even one core of this size fits"):
        check_fit(dataclasses.replace(huge, target="u50"))


# ------------------------------------------------------------------ fixar estimate

def test_estimate_reports_the_resources_and_the_fit(capsys):
    """fixar estimate describes the generated design: its memories and its vector lanes
    as measured (the lane fixar_u50 generates, 17,122 LUT, does not fit 32 times on the
    U50), where
    the design-space model with FIXAR's lane fits."""
    report = estimate(FIXAR)
    res = report["resources"]
    assert set(res["total"]) == set(RESOURCES) and res["modeled"] is True
    assert set(res["parts"]) == {"PE arrays", "vector units", "controllers", "memories",
                                 "memory line ports", "drains' write-back folds",
                                 "flip-flop memories"}
    # smem, each core's copy 64 x 49 bits with lane 0's ports (7 reads, 4 writes:
    # 17,816 LUT measured alone, inventory.FLIP_FLOP_READ_LUTS); fixar_u50's operands
    # read it as b, d and e, not a (CoreConfig.operand_memories): 6 reads, one read's
    # LUTs fewer by the model
    flops = res["parts"]["flip-flop memories"]
    assert flops["ffs"] == 2 * 64 * 49
    assert flops["luts"] == report["generated_memories"]["flip_flop_luts"] \
        == pytest.approx(2 * (17_816 - 64 * 49 * FLIP_FLOP_READ_LUTS), rel=0.001)
    assert res["parts"]["drains' write-back folds"]["luts"] == 2 * 16 * 232
    # the banked memories' line ports, one per core (inventory.bank_port_luts)
    ports = res["parts"]["memory line ports"]["luts"]
    assert ports == report["generated_memories"]["port_luts"] > 100_000
    # its lanes carry its programs' functions (hardware.vector_functions: programs)
    cfg = config_for(FIXAR)
    (lane,) = calibration_points(functions=lane_operations(True, cfg.functions))
    (other,) = calibration_points(False, lane_operations(False, cfg.parallel_functions))
    assert lane["design"] == "lane_u50_programs" and res["lane"]["measured"] is True
    assert other["design"] == "lane_u50_programs_parallel" and other["luts"] < lane["luts"]
    # each core: lane 0 with the serial functions, 15 lanes without them
    assert res["parts"]["vector units"]["luts"] == 2 * (lane["luts"] + 15 * other["luts"]) \
        == 2 * (16_340 + 15 * 13_560)
    assert res["lane"]["other_lanes"]["luts"] == other["luts"]
    assert res["fit"]["fits"] is False and res["fit"]["usable_fraction"] == 0.85
    text = format_estimate(report)
    assert "resources (modeled):" in text and "fit on the u50: does NOT fit (LUT" in text
    assert estimate_resources(FIXAR).fits                      # FIXAR's lane: fits
    assert main(["estimate", str(EXAMPLES / "fixar_u50.yaml"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["resources"]["total"]["dsps"] == 2_048 + 2 * (lane["dsps"] + 15 * other["dsps"])
    assert "each other lane (no serial functions, nor fill, dact_tanh, mse_grad, bellman, " \
        "drain_tanh, which lane 0 runs alone): 13,560 LUT" in text


def test_a_design_beyond_the_board_names_the_most_lanes_that_fit():
    """fixar_u50 does not fit as generated; lanes_that_fit finds 10 lanes a core (with
    smem's flip-flops and the controller measured for a design built for its programs
    counted; 8 with the controller measured before the operands' memories were
    narrowed, 12 without either): that design fits and 11 do not (each the whole
    generated design); a design that fits, and one off a board, get None; `fixar
    estimate` prints the line."""
    from fixar_gen.estimate import generated_fit, lanes_that_fit
    fewer = lanes_that_fit(FIXAR)
    assert fewer["vector_lanes"] == 10 and max(fewer["utilization"].values()) <= 1

    def with_lanes(lanes):
        return dataclasses.replace(FIXAR, hardware=dataclasses.replace(
            FIXAR.hardware, vector_lanes=lanes))
    assert generated_fit(with_lanes(10)).fits and not generated_fit(with_lanes(11)).fits
    assert lanes_that_fit(with_lanes(10)) is None
    assert lanes_that_fit(load_spec(EXAMPLES / "pendulum.yaml")) is None
    text = format_estimate(estimate(FIXAR, fewer_lanes=True))
    assert "with `hardware.vector_lanes: 10` (the most lanes per core that fit) it " \
        "would: LUT 98%" in text
    assert "fits_with_lanes" not in estimate(FIXAR)["resources"]      # not in a sweep


@pytest.mark.parametrize("lanes", [8, 4])
def test_fewer_vector_lanes_are_fewer_lane_luts_and_the_u50_fits(lanes):
    """hardware.vector_lanes counts L lanes per core (not the columns): FIXAR's point
    with 8 or fewer lanes fits the U50 as generated (with the memories' line ports), at
    fewer training IPS on the RTL's model; the memories and the PE arrays are the
    same."""
    at = dataclasses.replace(FIXAR, hardware=dataclasses.replace(FIXAR.hardware,
                                                                vector_lanes=lanes))
    full, fewer = estimate(FIXAR), estimate(at)
    assert fewer["vector_lanes"] == lanes and full["vector_lanes"] == 16
    lane = fewer["resources"]["lane"]
    assert lane == full["resources"]["lane"]
    parts, full_parts = fewer["resources"]["parts"], full["resources"]["parts"]
    assert parts["vector units"]["luts"] == 2 * (lane["luts"]
                                                 + (lanes - 1) * lane["other_lanes"]["luts"])
    assert parts["PE arrays"] == full_parts["PE arrays"]
    assert parts["memories"] == full_parts["memories"]
    assert fewer["resources"]["fit"]["fits"] and not full["resources"]["fit"]["fits"]
    for mode in ("fxp32", "fxp16"):
        assert fewer[mode]["rtl"]["train_ips"] < full[mode]["rtl"]["train_ips"]
        assert fewer[mode]["rtl"]["train_cycles_by_unit"]["vector"] > \
            full[mode]["rtl"]["train_cycles_by_unit"]["vector"]
    assert f"{lanes} vector lanes per core" in format_estimate(fewer)
    # the design-space model counts them too: FIXAR's lanes, the state memory L wide
    model = estimate_resources(at)
    assert dict(model.parts)["vector units"].luts == 2 * lanes * 5_500
    assert next(m.width for m in model.memories if m.name == "state") == lanes * 32


def test_estimate_of_a_sim_spec_has_resources_but_no_fit():
    res = estimate(load_spec(EXAMPLES / "pendulum.yaml"))["resources"]
    assert "fit" not in res and res["total"]["luts"] > 0


# ------------------------------------------------------------- Yosys (held-out array)

@pytest.mark.tools
def test_the_model_predicts_a_held_out_array_within_15_percent(tmp_path, yosys_tool):
    """A 2x4 array (not in the calibration) through Yosys against the model."""
    from fixar_gen.hw.array import build_array
    from fixar_gen.hw.pe import PEWidths
    from fixar_gen.hw.synth import NETLIST, block_verilog, cell_counts, dsp_register_flops

    block = build_array(2, 4, PEWidths(32, 16, 80)).block
    cells = cell_counts(block_verilog(block, "held_out"), "held_out", tmp_path, timeout=900,
                        tool=yosys_tool, netlist=True)
    netlist = json.loads((tmp_path / NETLIST).read_text())["modules"]["held_out"]
    in_dsps = dsp_register_flops(netlist)          # the PEs' MREG/PREG, as the calibration
    assert in_dsps == 8 * 264                      # 4 products x 2 registers a PE
    measured = {"luts": sum(n for k, n in cells.items() if re.fullmatch(r"LUT[1-6]", k)),
                "ffs": sum(n for k, n in cells.items() if re.fullmatch(r"FD[RSCP]E", k))
                - in_dsps}
    for resource, fit in array_fits().items():
        model = fit(2, 4)
        assert abs(model - measured[resource]) <= 0.15 * measured[resource], \
            (resource, measured, model)
    assert cells.get("DSP48E2") == 32


# ------------------------------------------------------------- the generated lane's model

def _narrow(spec: Spec, width: int) -> Spec:
    from fixar_gen.spec import FormatSpec
    n = spec.numerics
    return dataclasses.replace(spec, numerics=dataclasses.replace(
        n, weight=FormatSpec(width, width // 2), activation=FormatSpec(width, width // 2),
        gradient=FormatSpec(width, width // 2), fxp16_width=width // 2))


def test_the_lane_follows_the_specs_formats():
    """fixar_u50's own lane counts as measured; narrower formats derive a narrower lane
    (hw/lane_limits), counted as lane_u50 scaled by the datapath widths."""
    from fixar_gen.estimate import lane_estimate
    from fixar_gen.hw.design import config_for
    from fixar_gen.hw.vector import internal_width
    u50 = config_for(FIXAR)
    (point,) = calibration_points(functions=lane_operations(True, u50.functions))
    own = lane_estimate(FIXAR)
    assert own.measured and own.basis.startswith("measured: `lane_u50_programs`")
    assert (own.resources.luts, own.resources.ffs, own.resources.dsps) == (
        point["luts"], point["ffs"], point["dsps"])
    cfg = config_for(FIXAR)
    assert (internal_width(cfg.word, cfg.lane), cfg.word) == (point["datapath_bits"],
                                                             point["word"])
    narrow = _narrow(FIXAR, 24)
    cfg = config_for(narrow)
    bits = internal_width(cfg.word, cfg.lane)
    assert bits < point["datapath_bits"]
    lane = lane_estimate(narrow)
    assert not lane.measured and f"W_INT {bits} / {point['datapath_bits']}" in lane.basis
    assert lane.resources.luts == -(-point["luts"] * bits // point["datapath_bits"])
    assert lane.resources.luts < own.resources.luts
    (other,) = calibration_points(False, lane_operations(False, u50.parallel_functions))
    assert lane.parallel.luts == -(-other["luts"] * bits // other["datapath_bits"])
    report = estimate(narrow)
    hw = narrow.hardware
    assert report["resources"]["parts"]["vector units"]["luts"] == hw.cores * (
        lane.resources.luts + (hw.lanes - 1) * lane.parallel.luts)
    assert report["resources"]["lane"]["basis"] == lane.basis
    assert lane.basis in format_estimate(report)


@given(st.integers(1, 400), st.integers(1, 400))
def test_the_scaled_lane_grows_with_its_datapath(a, b):
    (point,) = calibration_points()
    small, large = sorted((a, b))
    word = point["word"] + 1             # never the measured word: always scaled
    lo, hi = generated_lane(small, word).resources, generated_lane(large, word).resources
    assert lo.luts <= hi.luts and lo.ffs <= hi.ffs and lo.dsps <= hi.dsps
    assert hi.luts == -(-point["luts"] * large // point["datapath_bits"])


@given(st.integers(0, 64), st.integers(1, 8))
def test_a_cores_lanes_are_lane_0_and_the_others(lanes, cores):
    """lane 0 once a core, the other lanes' resources for the rest; without a measured
    other lane, every lane counts as lane 0."""
    lane0, other = Resources(luts=10, ffs=20, dsps=3), Resources(luts=7, ffs=11, dsps=2)
    units = LaneEstimate(lane0, "b", True, other).vector_units(lanes, cores)
    expect = 0 if lanes == 0 else cores * (10 + 7 * (lanes - 1))
    assert units.luts == expect
    assert units.dsps == (0 if lanes == 0 else cores * (3 + 2 * (lanes - 1)))
    assert LaneEstimate(lane0, "b", True).vector_units(lanes, cores).luts == 10 * lanes * cores


def test_a_bad_lane_size_is_refused():
    with pytest.raises(ValueError, match="must be positive"):
        generated_lane(0, 82)


def test_the_design_space_model_keeps_fixars_lane():
    res = estimate_resources(FIXAR)
    assert res.lane_basis.startswith("FIXAR's lane")
    assert dict(res.parts)["vector units"].luts == 32 * 5_500
