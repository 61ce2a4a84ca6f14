"""`fixar sweep` and `fixar train --seeds` (fixar_gen.sweep): the --over language and its
errors, dropped points and their reasons, the table (CSV, Markdown) and the Pareto
plot, the same results on every engine (Ray skipped with a reason when absent), and
several seeds through the same mechanism."""

from __future__ import annotations

import builtins
import csv
import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixar_gen import load_spec
from fixar_gen.cli import main
from fixar_gen.sweep import (AXES, COLUMNS, Point, SweepError, csv_text, evaluate_point,
                             markdown, pareto_front, parse_over, parse_seeds, points,
                             ray_available, resolve_engine, run_parallel, sweep, train_seeds,
                             worker_environment, write_outputs)

from .conftest import EXAMPLES

U50_SPEC = EXAMPLES / "fixar_u50.yaml"
FIXAR = load_spec(U50_SPEC)
# the sweep plus 8 cores: 8 x 8x8 runs out of URAM (the parameters are held by
# every core) and 8 x 16x16 out of DSPs by the spec's own check; FIXAR's point (2 x 16x16)
# and above run out of LUTs as generated (the generated vector lanes), as `fixar estimate`
# says, though they would fit with FIXAR's 5,500-LUT lanes
OVER = parse_over(["cores=1,2,4,8", "array=8x8,16x16"])
#: a point that fits as generated (the RTL figures are compared with `fixar estimate`)
FITS = "cores=1 array=16x16"


@pytest.fixture(scope="module")
def result():
    return sweep(FIXAR, OVER, workers=1, engine="local")


# -------------------------------------------------------------------------- --over

def test_over_is_parsed_in_order_with_typed_values():
    over = parse_over(["policy=intra_layer,auto", "array=8x8,32x16", "cores=1,4",
                       "clock=164,200.5", "batch=64"])
    assert list(over) == ["policy", "array", "cores", "clock", "batch"]
    assert over["array"] == ((8, 8), (32, 16)) and over["cores"] == (1, 4)
    assert over["clock"] == (164.0, 200.5) and over["policy"] == ("intra_layer", "auto")
    pts = points(over)
    assert len(pts) == 2 * 2 * 2 * 2 * 1
    assert pts[0].label == "policy=intra_layer array=8x8 cores=1 clock=164 batch=64"


def test_the_lanes_axis_sets_the_vector_lanes():
    over = parse_over(["lanes=4,8"])
    assert over == {"lanes": (4, 8)}
    four, eight = (p.apply(FIXAR) for p in points(over))
    assert (four.hardware.vector_lanes, eight.hardware.lanes) == (4, 8)
    assert four.hardware.array == FIXAR.hardware.array
    row = evaluate_point(FIXAR, points(over)[1], "u50")
    assert row["status"] == "ok" and row["lanes"] == 8 and row["point"] == "lanes=8"
    spec_row = evaluate_point(FIXAR, Point(()), "u50")     # the spec: 16 lanes, over LUTs
    assert spec_row["lanes"] == 16 and spec_row["status"] == "dropped"
    assert row["fxp16_rtl_train_ips"] < 54_000 and row["luts"] < spec_row["luts"]
    with pytest.raises(SweepError, match="'0' is not allowed"):
        parse_over(["lanes=0"])


@pytest.mark.parametrize("items, message", [
    (["core=1,2"], "--over core=1,2: unknown axis 'core' (did you mean 'cores'? axes: "
                   "cores, array, policy, inference, batch, clock, lanes)"),
    (["cores"], "--over cores: expected AXIS=V1,V2,... (axes: cores, array, policy, "
                "inference, batch, clock, lanes)"),
    (["cores=1,two"], "--over cores=1,two: 'two' is not allowed (integers from 1 to 64)"),
    (["cores=0"], "--over cores=0: '0' is not allowed (integers from 1 to 64)"),
    (["array=16"], "--over array=16: '16' is not allowed (RxC with R and C from 1 to 256, "
                   "e.g. 16x16)"),
    (["array=16x0"], "--over array=16x0: '16x0' is not allowed (RxC with R and C from 1 "
                     "to 256, e.g. 16x16)"),
    (["policy=intra_core"], "--over policy=intra_core: 'intra_core' is not allowed (one "
                            "of intra_layer, intra_batch, auto)"),
    (["cores=1,,2"], "--over cores=1,,2: empty value (integers from 1 to 64, "
                     "comma-separated)"),
    (["cores=1,1"], "--over cores=1,1: '1' is given twice"),
    (["cores=1", "cores=2"], "--over cores=2: axis 'cores' is given twice"),
    (["clock=nan"], "--over clock=nan: 'nan' is not allowed (numbers from 1 to 1000)"),
])
def test_bad_over_values_are_one_clear_line(items, message):
    with pytest.raises(SweepError) as err:
        parse_over(items)
    assert str(err.value) == message


@pytest.mark.parametrize("argv, message", [
    (["--over", "core=1,2"], "fixar: error: --over core=1,2: unknown axis 'core' (did you "
                             "mean 'cores'?"),
    (["--over", "array=8by8"], "fixar: error: --over array=8by8: '8by8' is not allowed"),
    (["--over", "cores=1", "--board", "vcu118"], "fixar: error: --board vcu118: not one "
                                                 "of u50"),
])
def test_cli_errors_exit_2_without_a_traceback(capsys, tmp_path, argv, message):
    code = main(["sweep", str(U50_SPEC), "--out", str(tmp_path), "--engine", "local", *argv])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(message) and err.count("\n") == 1 and "Traceback" not in err


def test_cli_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", str(U50_SPEC)])                       # --over is required
    assert exit_.value.code == 2
    with pytest.raises(SystemExit) as exit_:
        main(["sweep", str(U50_SPEC), "--over", "cores=1", "--engine", "dask"])
    assert exit_.value.code == 2
    assert "invalid choice: 'dask'" in capsys.readouterr().err


def test_a_bad_spec_exits_2_with_its_location(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("hardware: {cores: 0}\n")
    assert main(["sweep", str(bad), "--over", "cores=1"]) == 2
    assert capsys.readouterr().err.startswith(f"{bad}:1:19: hardware.cores: 0 is out of range")


# ----------------------------------------------------------------------- the points

def test_points_that_do_not_fit_are_dropped_with_the_reason(result):
    by_point = {r["point"]: r for r in result.rows}
    assert len(result.rows) == 8 and len(result.dropped) == 5
    assert [r["point"] for r in result.kept] == [
        "cores=1 array=8x8", "cores=1 array=16x16", "cores=2 array=8x8"]
    fixar = by_point["cores=2 array=16x16"]      # the generated design: LUTs, as estimated
    assert fixar["reason"].startswith("does not fit the u50 after the shell margin: LUT ")
    # (with FIXAR's 5,500-LUT lanes it would: the generated lanes are what stand
    # between it and the card)
    assert fixar["reason"].endswith("(the generated design; it would with FIXAR's "
                                    "5,500-LUT lanes)")
    assert fixar["luts_pct"] > 100 >= fixar["luts_pct_fixar_lane"]
    from fixar_gen.estimate import estimate
    generated = estimate(FIXAR)["resources"]
    assert fixar["luts"] == generated["total"]["luts"]
    assert fixar["lane_basis"] == generated["lane_basis"]
    uram = by_point["cores=8 array=8x8"]
    assert uram["status"] == "dropped"
    assert uram["reason"].startswith("hardware.cores: 8 cores x 8x8 PEs do not fit the u50 "
                                     "after the shell margin: URAM ")
    assert "(at most 4 cores of 8x8 PEs" in uram["reason"]
    dsp = by_point["cores=8 array=16x16"]
    assert dsp["status"] == "dropped"
    assert dsp["reason"].startswith("hardware.array: 8 cores x 16x16 PEs need 8192 DSP48E2")
    # dropped points keep their resources (the generated design's), not performance
    assert uram["luts"] > 0 and uram.get("fxp16_rtl_train_ips") is None
    assert uram.get("fxp16_target_train_ips") is None


def test_fitting_points_have_performance_and_resources(result):
    for r in result.kept:
        assert r["reason"] == "" and r["dsps"] <= 5_059
        for mode in ("fxp32", "fxp16"):
            for model in ("rtl", "target"):
                assert 0 < r[f"{mode}_{model}_train_ips"] < r[f"{mode}_peak_ips"]
                assert 0 < r[f"{mode}_{model}_pe_util"] <= 1
                assert r[f"{mode}_{model}_bound"].split()[0] in (
                    "array", "vector", "dma", "sync", "issue")
            # (the utilisation from the unrounded IPS, the row's IPS rounded to a
            # sample per second: within a rounding step of 4 decimals)
            assert r[f"{mode}_rtl_pe_util"] == pytest.approx(
                r[f"{mode}_rtl_train_ips"] / r[f"{mode}_peak_ips"], abs=1e-4)
    fixar = next(r for r in result.rows if r["point"] == FITS)
    from fixar_gen.estimate import estimate
    report = estimate(Point((("cores", 1), ("array", (16, 16)))).apply(FIXAR))
    for mode in ("fxp32", "fxp16"):
        rtl = report[mode]["rtl"]
        assert fixar[f"{mode}_rtl_train_ips"] == round(rtl["train_ips"], 1)
        assert fixar[f"{mode}_rtl_cycles"] == rtl["train_cycles_per_update"]
        assert fixar[f"{mode}_rtl_infer_ips"] == round(rtl["infer_ips_batch1"], 1)
        assert fixar[f"{mode}_target_train_ips"] == round(report[mode]["train_ips"], 1)
        assert fixar[f"{mode}_target_cycles"] == report[mode]["train_cycles_per_update"]
    assert fixar["fxp16_rtl_cycles"] != fixar["fxp16_target_cycles"]   # two models
    assert fixar["dsps"] == report["resources"]["total"]["dsps"]


def test_auto_policy_says_what_it_chose():
    res = sweep(FIXAR, parse_over(["policy=auto", "cores=2", "array=8x8"]), workers=1,
                engine="local")
    (row,) = res.rows
    assert row["policy"] in ("auto:intra_layer", "auto:intra_batch")
    assert "(auto chose intra_" in markdown(res)


def test_a_sim_spec_drops_nothing_unless_a_board_is_named():
    spec = load_spec(EXAMPLES / "pendulum.yaml")
    over = parse_over(["cores=1,64", "array=4x4"])
    free = sweep(spec, over, workers=1, engine="local")
    assert free.board is None and not free.dropped
    boxed = sweep(spec, parse_over(["cores=1,64", "array=16x16"]), board="u50", workers=1,
                  engine="local")
    assert [r["status"] for r in boxed.rows] == ["ok", "dropped"]
    assert boxed.rows[1]["reason"].startswith("does not fit the u50 after the shell margin: ")


# ------------------------------------------------------------------------ the table

def test_csv_has_every_point_and_column(result):
    rows = list(csv.DictReader(io.StringIO(csv_text(result))))
    assert tuple(rows[0]) == COLUMNS
    assert [r["point"] for r in rows] == [r["point"] for r in result.rows]
    assert [r["status"] for r in rows].count("dropped") == 5
    dropped = next(r for r in rows if r["point"] == "cores=8 array=8x8")
    assert dropped["fxp16_rtl_train_ips"] == "" and "URAM" in dropped["reason"]


def test_csv_puts_the_rtl_cycle_model_before_the_target_schedule(result):
    for mode in ("fxp32", "fxp16"):
        assert COLUMNS.index(f"{mode}_rtl_train_ips") < COLUMNS.index(
            f"{mode}_target_train_ips")
    first_ips = next(c for c in COLUMNS if c.endswith("_train_ips"))
    assert first_ips == "fxp32_rtl_train_ips"


def test_markdown_table_lists_points_reasons_and_the_best(result):
    text = markdown(result)
    assert "8 points, 3 fit, 5 dropped" in text
    for r in result.rows:
        assert f"| {r['point']} |" in text
    assert "| dropped: hardware.cores: 8 cores x 8x8 PEs do not fit the u50" in text
    best = result.best()
    assert best["point"] == max(result.kept,
                                key=lambda r: r["fxp16_rtl_train_ips"])["point"]
    assert f"**{best['point']}**" in text
    assert text.count("\n|") == 2 + len(result.rows)


def test_markdown_reports_the_rtl_first_and_labels_the_target_schedule(result):
    text = markdown(result)
    header = next(line for line in text.splitlines() if line.startswith("| point |"))
    cells = [c.strip() for c in header.strip("|").split("|")]
    ips = [i for i, c in enumerate(cells) if "train IPS" in c]
    assert [cells[i] for i in ips] == [
        "RTL FXP32 train IPS", "RTL FXP16 train IPS",
        "target schedule FXP16 train IPS (not run by the RTL)"]
    assert text.index("generated RTL's own cycle model") < text.index("target schedule")
    assert "a schedule the RTL does not run" in text
    fixar = next(r for r in result.rows if r["point"] == FITS)
    row = next(line for line in text.splitlines() if line.startswith(f"| {fixar['point']} |"))
    values = [c.strip() for c in row.strip("|").split("|")]
    assert values[ips[1]] == f"{fixar['fxp16_rtl_train_ips']:,.0f}"
    assert values[ips[2]] == f"{fixar['fxp16_target_train_ips']:,.0f}"
    best = result.best()
    assert (f"Best fitting point (the generated RTL's FXP16 training IPS): "
            f"**{best['point']}**") in text
    assert f"{best['fxp16_rtl_train_ips']:,.0f} IPS" in text


def test_outputs_are_written_and_the_plot_is_optional(result, tmp_path, monkeypatch):
    written, problem = write_outputs(result, tmp_path / "a")
    assert problem is None
    assert sorted(p.name for p in written) == ["pareto.png", "sweep.csv", "sweep.md"]
    assert (tmp_path / "a" / "pareto.png").read_bytes()[:4] == b"\x89PNG"

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    written, problem = write_outputs(result, tmp_path / "b")
    assert sorted(p.name for p in written) == ["sweep.csv", "sweep.md"]
    assert problem.startswith("the Pareto plot needs matplotlib: pip install -e \".[plot]\"")


@given(st.lists(st.tuples(st.integers(1, 20), st.integers(1, 20)), min_size=1, max_size=12))
def test_pareto_front_is_exactly_the_undominated_points(pairs):
    rows = [{"status": "ok", "ips": ips, "cost": cost} for ips, cost in pairs]
    front = set(pareto_front(rows, "ips", "cost"))

    def beats(o, r):
        return (o["ips"] >= r["ips"] and o["cost"] <= r["cost"]
                and (o["ips"] > r["ips"] or o["cost"] < r["cost"]))
    for i, r in enumerate(rows):
        assert (i in front) == (not any(beats(o, r) for o in rows))
    assert front


def test_cli_sweep_writes_the_table_and_plot(capsys, tmp_path):
    code = main(["sweep", str(U50_SPEC), "--over", "cores=1,2", "array=8x8",
                 "--out", str(tmp_path), "--jobs", "1", "--engine", "local"])
    out, err = capsys.readouterr()
    assert code == 0
    assert out.startswith("# Sweep of fixar_u50") and "| cores=2 array=8x8 |" in out
    assert "2 points (2 fit, 0 dropped) on the local engine" in err
    assert {p.name for p in tmp_path.iterdir()} == {"sweep.csv", "sweep.md", "pareto.png"}
    assert (tmp_path / "sweep.md").read_text() == out


# ------------------------------------------------------------------------ engines

def test_the_process_pool_gives_the_same_table(result):
    """Two workers over two of the module's points (one that fits, one that does
    not) give the rows the one-process sweep gave them, in the same order."""
    over = parse_over(["cores=1,2", "array=16x16"])
    pooled = sweep(FIXAR, over, workers=2, engine="local")
    assert pooled.engine == "local"
    by_label = {row["point"]: row for row in result.rows}
    labels = [p.label for p in points(over)]
    assert [row["point"] for row in pooled.rows] == labels
    assert pooled.rows == [by_label[label] for label in labels]
    assert {row["status"] for row in pooled.rows} == {"ok", "dropped"}


@pytest.mark.skipif(not ray_available(), reason="Ray is not installed (the optional "
                    "`scale` extra: pip install -e \".[scale]\")")
def test_ray_gives_the_same_table(result):
    on_ray = sweep(FIXAR, OVER, workers=2, engine="ray")
    assert on_ray.engine == "ray"
    assert on_ray.rows == result.rows


def test_engine_choice():
    assert resolve_engine("local") == "local"
    assert resolve_engine("auto") == ("ray" if ray_available() else "local")
    with pytest.raises(SweepError, match="--engine dask: not one of auto, ray, local"):
        resolve_engine("dask")


def test_asking_for_ray_without_it_is_a_clear_error(monkeypatch):
    import fixar_gen.sweep as sweep_module
    monkeypatch.setattr(sweep_module, "ray_available", lambda: False)
    assert resolve_engine("auto") == "local"
    with pytest.raises(SweepError, match=r"^--engine ray: Ray is not installed \(pip install"):
        resolve_engine("ray")


def test_run_parallel_keeps_the_order():
    values, engine = run_parallel(abs, [-3, 1, -2, 5, -4], workers=2, engine="local")
    assert values == [3, 1, 2, 5, 4] and engine == "local"


BLAS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _thread_variables(_job) -> dict:
    import os
    return {name: os.environ.get(name) for name in BLAS}


def _openblas_threads(_job=None) -> int | None:
    """The threads numpy's bundled OpenBLAS runs in this process (None: not found)."""
    import ctypes
    import glob
    import os

    import numpy
    libs = glob.glob(os.path.join(os.path.dirname(numpy.__file__), os.pardir,
                                  "numpy.libs", "*openblas*"))
    for path in libs:
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                     "openblas_get_num_threads"):
            if hasattr(lib, name):
                return getattr(lib, name)()
    return None


@pytest.fixture
def no_thread_variables(monkeypatch):
    for name in BLAS:
        monkeypatch.delenv(name, raising=False)


def test_pool_workers_start_with_one_blas_thread(no_thread_variables):
    import os
    seen, engine = run_parallel(_thread_variables, [0, 1], workers=2, engine="local")
    assert engine == "local"
    assert seen == [dict.fromkeys(BLAS, "1")] * 2
    assert all(name not in os.environ for name in BLAS)     # the parent is restored


def test_pool_workers_run_openblas_on_one_thread(no_thread_variables):
    if _openblas_threads() is None:
        pytest.skip("numpy's bundled OpenBLAS was not found (numpy.libs), so its thread "
                    "count cannot be read; the variables are checked above")
    threads, _ = run_parallel(_openblas_threads, [0, 1], workers=2, engine="local")
    assert threads == [1, 1]


def test_the_users_thread_choice_stands(monkeypatch, no_thread_variables):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert worker_environment() == {}
    seen, _ = run_parallel(_thread_variables, [0, 1], workers=2, engine="local")
    assert seen == [{"OPENBLAS_NUM_THREADS": None, "OMP_NUM_THREADS": "2",
                     "MKL_NUM_THREADS": None}] * 2


def test_worker_environment_fills_every_variable_or_none():
    assert worker_environment({}) == dict.fromkeys(BLAS, "1")
    for name in BLAS:
        assert worker_environment({name: "4", "PATH": "/bin"}) == {}


def test_axes_are_documented():
    assert all(axis.help and axis.allowed for axis in AXES.values())
    assert Point((("cores", 2), ("array", (16, 8)))).label == "cores=2 array=16x8"


# --------------------------------------------------------------------------- seeds

@pytest.mark.parametrize("text, seeds", [("0-4", [0, 1, 2, 3, 4]), ("3", [3]),
                                         ("0,3,7", [0, 3, 7]), ("0-2,10", [0, 1, 2, 10])])
def test_seeds_are_parsed(text, seeds):
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text, message", [
    ("4-0", "--seeds 4-0: range 4-0 runs backwards"),
    ("a", "--seeds a: 'a' is not a seed or a range (e.g. 0-4 or 0,3,7)"),
    ("0-2,1", "--seeds 0-2,1: seed 1 is given twice"),
    ("-1", "--seeds -1: '-1' is not a seed or a range (e.g. 0-4 or 0,3,7)"),
])
def test_bad_seeds_are_one_clear_line(text, message):
    with pytest.raises(SweepError) as err:
        parse_seeds(text)
    assert str(err.value) == message


def test_train_seeds_and_seed_together_is_an_error(capsys):
    code = main(["train", str(EXAMPLES / "pendulum.yaml"), "--seeds", "0-1", "--seed", "3"])
    assert code == 2
    assert capsys.readouterr().err == "fixar: error: --seed and --seeds: give one of them\n"


def _short_pendulum(tmp_path) -> str:
    """examples/pendulum.yaml with a warm-up and a QAT delay that fit a short run."""
    path = tmp_path / "short.yaml"
    path.write_text(f"base: {EXAMPLES / 'pendulum.yaml'}\n"
                    "algorithm: {warmup_steps: 200}\nnumerics: {qat_delay: 50}\n")
    return str(path)


def test_train_several_seeds_through_the_pool(capsys, tmp_path):
    code = main(["train", _short_pendulum(tmp_path), "--backend", "float32",
                 "--steps", "300", "--seeds", "0-1", "--out", str(tmp_path), "--jobs", "2",
                 "--engine", "local"])
    out = capsys.readouterr().out
    assert code == 0, out
    for seed in (0, 1):
        summary = json.loads((tmp_path / f"s{seed}" / "summary.json").read_text())
        assert summary["seed"] == seed and summary["steps"] == 300
        assert f"{tmp_path}/s{seed}: seed {seed}: 300 steps" in out
    assert "2 seeds (local engine): final eval return mean" in out


def _seed_runs(folder, engine: str, workers: int) -> list[tuple]:
    spec = load_spec({"base": str(EXAMPLES / "pendulum.yaml"), "numerics": {"qat_delay": 50}})
    results, used = train_seeds(spec, [0, 1],
                                backend="float32", out=str(folder), steps=1_100,
                                checkpoint_every=5_000, resume=False, workers=workers,
                                engine=engine)
    assert used == engine
    return [(r["seed"], r["updates"], r["final_eval_return"]) for r in results]


def test_seeds_give_the_same_runs_in_process_and_in_the_pool(tmp_path):
    alone = _seed_runs(tmp_path / "one", "local", 1)
    assert [seed for seed, *_ in alone] == [0, 1] and alone[0][1] == 100
    assert _seed_runs(tmp_path / "pool", "local", 2) == alone


@pytest.mark.skipif(not ray_available(), reason="Ray is not installed (the optional "
                    "`scale` extra: pip install -e \".[scale]\")")
def test_seeds_give_the_same_runs_on_ray(tmp_path):
    assert _seed_runs(tmp_path / "ray", "ray", 2) == _seed_runs(tmp_path / "local", "local", 1)
