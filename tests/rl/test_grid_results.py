"""The experiment grid's table (fixar_gen/rl/grid_results.py) against the statistics
computed directly from the runs' evaluations: any number of seeds (one: no std), runs
without evaluations, runs still going."""

import csv
import statistics
import tempfile
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from fixar_gen.rl.grid_results import (RunRef, results_csv, results_markdown, run_status,
                                       spread_verdicts, variant_rows)
from fixar_gen.rl.trainer import EVALS

returns = st.floats(-2_000, 2_000, allow_nan=False).map(lambda x: round(x, 4))
#: one run: its evaluation returns (steps 100, 200, ...) and whether it finished
runs = st.tuples(st.lists(returns, max_size=6), st.booleans())


def write_run(folder: Path, evals: list[float], finished: bool) -> None:
    folder.mkdir(parents=True)
    if evals:
        with open(folder / "evals.csv", "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=EVALS)
            writer.writeheader()
            for i, value in enumerate(evals):
                writer.writerow({"step": 100 * (i + 1), "eval_return": value,
                                 "precision": "fxp32", "saturations": i,
                                 "fxp16_since_step": "", "wall_seconds": i})
    if finished:
        (folder / "summary.json").write_text("{}")


@given(grid=st.dictionaries(st.sampled_from(["float32", "qat", "fxp16"]),
                            st.lists(runs, min_size=1, max_size=5), min_size=1),
       last=st.integers(1, 4))
def test_variant_rows_are_the_statistics_of_the_runs(grid, last):
    with tempfile.TemporaryDirectory() as tmp:
        statuses = []
        for variant, seeds in grid.items():
            for seed, (evals, finished) in enumerate(seeds):
                ref = RunRef(variant, seed, Path(tmp) / f"{variant}-s{seed}", 600)
                write_run(ref.folder, evals, finished)
                statuses.append(run_status(ref, last))
        rows = variant_rows(statuses, list(grid))
        assert [r["variant"] for r in rows] == list(grid)
        for row in rows:
            seeds = grid[row["variant"]]
            finals = [statistics.fmean(e[-last:]) for e, _ in seeds if e]
            reached = [600 if done else 100 * len(e) for e, done in seeds]
            assert row["seeds"] == len(seeds)
            assert row["finished"] == sum(done for _, done in seeds)
            assert row["with_evals"] == len(finals)
            assert (row["steps_min"], row["steps_max"]) == (min(reached), max(reached))
            if finals:
                assert abs(row["final_mean"] - statistics.fmean(finals)) < 1e-6
                assert row["final_min"] == min(finals) and row["final_max"] == max(finals)
            else:
                assert row["final_mean"] is row["final_min"] is row["final_max"] is None
            if len(finals) > 1:
                assert abs(row["final_std"] - statistics.stdev(finals)) < 1e-6
            else:
                assert row["final_std"] is None
        # the CSV has one line per variant and the Markdown one row per run
        assert len(results_csv(rows).splitlines()) == 1 + len(grid)
        md = results_markdown("t", [], statuses, list(grid), last)
        assert sum(line.startswith(f"| {s.ref.folder.name} |") for s in statuses
                   for line in md.splitlines()) == len(statuses)


def test_a_run_going_counts_at_its_last_evaluation_or_checkpoint(tmp_path):
    ref = RunRef("qat", 0, tmp_path / "run", 5_000)
    write_run(ref.folder, [-900.0, -800.0], finished=False)     # evaluated at 100, 200
    assert run_status(ref, 3).steps == 200
    (ref.folder / "metrics.csv").write_text("step,episode\n200,0\n400,1\n")
    assert run_status(ref, 3).steps == 400
    (ref.folder / "summary.json").write_text("{}")
    assert run_status(ref, 3).steps == 5_000


def test_spread_verdicts_need_two_reference_seeds_and_say_unfinished():
    row = {"variant": "float32", "with_evals": 2, "final_min": -200.0, "final_max": -150.0,
           "finished": 2, "seeds": 2, "final_mean": -175.0}
    inside = dict(row, variant="qat", final_mean=-150.0, finished=1)
    outside = dict(row, variant="fxp16", final_mean=-200.5)
    lines = spread_verdicts([row, inside, outside])
    assert lines == [
        "- qat: final mean -150.0 is within the float32 seeds' range [-200.0, -150.0] "
        "(runs still going: not a result yet)",
        "- fxp16: final mean -200.5 is outside the float32 seeds' range [-200.0, -150.0]"]
    assert spread_verdicts([dict(row, with_evals=1), inside]) == []
    assert spread_verdicts([inside, outside]) == []


def test_the_table_says_where_each_run_saturated(tmp_path):
    """Per run, the buffers that saturated, most first: a finished run's from its
    summary, a run going from its current checkpoint (the manifest only); a run with
    none, or with a damaged checkpoint, is left out of that list."""
    import json
    import numpy as np
    from fixar_gen.rl.checkpoint import current_meta, save_checkpoint
    done, going, clean, damaged = (tmp_path / n for n in ("done", "going", "clean", "bad"))
    write_run(done, [1.0, 2.0], True)
    (done / "summary.json").write_text(json.dumps(
        {"saturations_by_buffer": {"critic.x": 5, "critic.l0.w.grad": 1_234, "a": 0}}))
    write_run(going, [3.0], False)
    save_checkpoint(going / "checkpoint", {"x": np.zeros(1)},
                    {"agent": {"saturations": {"cq.critic.dh0": 7, "critic.l0.w.grad": 9}}})
    write_run(clean, [4.0], True)
    write_run(damaged, [5.0], False)
    (damaged / "checkpoint").mkdir()
    (damaged / "checkpoint" / "CURRENT").write_text("not a pointer\n")
    assert current_meta(damaged / "checkpoint") is None
    assert current_meta(tmp_path / "nowhere") is None
    refs = [RunRef("qat", i, f, 200) for i, f in enumerate((done, going, clean, damaged))]
    statuses = [run_status(r, 2) for r in refs]
    assert statuses[0].saturations_by_buffer == (("critic.l0.w.grad", 1_234),
                                                  ("critic.x", 5))
    assert statuses[1].saturations_by_buffer == (("critic.l0.w.grad", 9),
                                                  ("cq.critic.dh0", 7))
    assert statuses[2].saturations_by_buffer == statuses[3].saturations_by_buffer == ()
    text = results_markdown("t", [], statuses, ["qat"], 2)
    assert "- done: `critic.l0.w.grad` 1,234, `critic.x` 5" in text
    assert "- going: `critic.l0.w.grad` 9, `cq.critic.dh0` 7" in text
    assert "- clean:" not in text and "- bad:" not in text
