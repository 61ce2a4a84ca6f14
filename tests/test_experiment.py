"""`fixar experiment` (fixar_gen/experiment.py): a variants x seeds grid of ordinary
training runs, its table and plot, the resume and overwrite rules, option errors."""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fixar_gen.cli import main
from fixar_gen.experiment import VARIANTS, ExperimentError, Grid, parse_variants
from fixar_gen.rl.trainer import Trainer
from fixar_gen.sweep import ray_available

SMALL = {
    "name": "small", "env": {"id": "Pendulum-v1", "seed": 2},
    "networks": {"actor": {"hidden": [8]}, "critic": {"hidden": [8]}},
    "algorithm": {"batch_size": 16, "warmup_steps": 200, "total_steps": 600,
                  "eval_every": 200, "eval_episodes": 1, "replay_size": 1000},
    "numerics": {"qat_delay": 50},
    "hardware": {"cores": 2, "array": [2, 2]},
}


def spec_file(folder: Path, name: str = "small.yaml", **algorithm) -> str:
    data = json.loads(json.dumps(SMALL))
    data["algorithm"].update(algorithm)
    path = folder / name
    path.write_text(yaml.safe_dump(data))
    return str(path)


def experiment(spec: str, out: Path, *extra: str) -> int:
    return main(["experiment", spec, "-o", str(out), "--workers", "1", "--engine", "local",
                 "--checkpoint-every", "200", *extra])


def csv_rows(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def without_wall(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if not k.startswith("wall")} for r in rows]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fixar: error: "), err
    return err


@pytest.fixture(scope="module", autouse=True)
def no_sb3_interpreter_from_the_environment():
    """The grids here have an SB3 row only when a test gives --sb3-python: a
    FIXAR_SB3_PYTHON of the caller's (as tests/test_sb3_reference.py uses) would add one."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("FIXAR_SB3_PYTHON", raising=False)
        yield


@pytest.fixture(scope="module")
def grid(tmp_path_factory):
    """float32 and qat, seeds 0 and 1, 600 steps: finished, shared (copy to change)."""
    tmp = tmp_path_factory.mktemp("grid")
    spec = spec_file(tmp)
    out = tmp / "grid"
    assert experiment(spec, out, "--seeds", "0-1") == 0
    return spec, out


def copy_grid(grid, tmp_path) -> Path:
    out = tmp_path / "grid"
    shutil.copytree(grid[1], out)
    return out


# ------------------------------------------------------------------------ the outputs

def test_every_run_has_its_own_folder_and_the_table_covers_the_grid(grid):
    _, out = grid
    for variant in ("float32", "qat"):
        for seed in (0, 1):
            run = out / "runs" / f"{variant}-s{seed}"
            summary = json.loads((run / "summary.json").read_text())
            assert summary["seed"] == seed and summary["steps"] == 600
            assert summary["backend"] == ("float32" if variant == "float32" else "golden")
            assert (run / "checkpoint" / "CURRENT").is_file()
            evals = csv_rows(run / "evals.csv")
            assert [int(r["step"]) for r in evals] == [200, 400, 600]
            assert float(evals[-1]["eval_return"]) == pytest.approx(
                summary["final_eval_return"], abs=1e-4)
    rows = {r["variant"]: r for r in csv_rows(out / "results.csv")}
    assert list(rows) == ["float32", "qat"]
    for variant, row in rows.items():
        finals = []
        for seed in (0, 1):
            evals = csv_rows(out / "runs" / f"{variant}-s{seed}" / "evals.csv")
            finals.append(sum(float(r["eval_return"]) for r in evals[-3:]) / 3)
        assert row["seeds"] == row["finished"] == "2"
        assert row["steps_min"] == row["steps_max"] == row["total_steps"] == "600"
        assert float(row["final_mean"]) == pytest.approx(sum(finals) / 2, abs=1e-3)
        assert float(row["final_min"]) == pytest.approx(min(finals), abs=1e-3)
        assert float(row["final_max"]) == pytest.approx(max(finals), abs=1e-3)
        assert float(row["final_std"]) == pytest.approx(abs(finals[0] - finals[1]) / 2**0.5,
                                                        abs=1e-3)
    # QAT switches after 50 updates: updates start after the 200-step warm-up
    qat = json.loads((out / "runs" / "qat-s0" / "summary.json").read_text())
    assert rows["qat"]["fxp16_since_step"] == str(qat["switched_to_fxp16_at_step"]) == "250"
    assert rows["float32"]["fxp16_since_step"] == ""
    md = (out / "results.md").read_text()
    assert "| qat | 2 (2) | 600 of 600 |" in md and "| 250 |" in md
    assert "- qat: final mean" in md and "float32 seeds' range" in md
    assert md.count("| float32-s") == 2 and md.count("| qat-s") == 2


def test_the_plot_is_written_when_matplotlib_is_installed(grid):
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    png = grid[1] / "curves.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_without_matplotlib_the_tables_are_written_and_the_plot_is_named(
        tmp_path, capsys, monkeypatch):
    from fixar_gen.rl import plots

    def no_matplotlib(*args, **kwargs):
        raise plots.PlotError("plotting needs matplotlib: pip install 'fixar_gen[plot]'")
    monkeypatch.setattr(plots, "plot_grid", no_matplotlib)
    out = tmp_path / "grid"
    assert experiment(spec_file(tmp_path), out, "--variants", "float32", "--seeds", "0",
                      "--steps", "400") == 0
    captured = capsys.readouterr()
    assert "fixar experiment: no curves.png: plotting needs matplotlib" in captured.err
    assert not (out / "curves.png").exists() and (out / "results.md").is_file()
    assert csv_rows(out / "results.csv")[0]["steps_max"] == "400"


def test_the_table_is_rewritten_after_every_evaluation(tmp_path, monkeypatch):
    import fixar_gen.experiment as experiment_module
    seen = []
    update = experiment_module.update_outputs

    def watching(out, plot=None):
        problem = update(out, plot)
        rows = csv_rows(Path(out) / "results.csv")
        seen.append((rows[0]["with_evals"], rows[0]["steps_max"]))
        return problem
    monkeypatch.setattr(experiment_module, "update_outputs", watching)
    out = tmp_path / "grid"
    assert experiment(spec_file(tmp_path), out, "--variants", "float32", "--seeds", "0") == 0
    # before the run, after each of its three evaluations, at its end, at the grid's end
    assert seen == [("0", "0"), ("1", "200"), ("1", "400"), ("1", "600"), ("1", "600"),
                    ("1", "600")]


def test_trainer_calls_on_evaluation_once_evals_csv_holds_it(tmp_path):
    from fixar_gen import load_spec
    spec = load_spec(spec_file(tmp_path))
    seen = []
    trainer = Trainer(spec, "float32", tmp_path / "run", progress=False,
                      on_evaluation=lambda: seen.append(
                          [r["step"] for r in csv_rows(tmp_path / "run" / "evals.csv")]))
    trainer.run()
    assert seen == [["200"], ["200", "400"], ["200", "400", "600"]]


def _float32_grid(grid, tmp_path, engine: str, workers: str) -> list[list[dict]]:
    out = tmp_path / engine
    assert main(["experiment", grid[0], "-o", str(out), "--variants", "float32", "--seeds",
                 "0-1", "--workers", workers, "--engine", engine]) == 0
    return [without_wall(csv_rows(out / "runs" / f"float32-s{seed}" / "evals.csv"))
            for seed in (0, 1)]


def test_the_process_pool_runs_the_same_runs(grid, tmp_path):
    reference = [without_wall(csv_rows(grid[1] / "runs" / f"float32-s{seed}" /
                                       "evals.csv")) for seed in (0, 1)]
    assert _float32_grid(grid, tmp_path, "local", "2") == reference


@pytest.mark.skipif(not ray_available(), reason="Ray is not installed (the optional "
                    "`scale` extra: pip install -e \".[scale]\")")
def test_ray_runs_the_same_runs(grid, tmp_path):
    reference = [without_wall(csv_rows(grid[1] / "runs" / f"float32-s{seed}" /
                                       "evals.csv")) for seed in (0, 1)]
    assert _float32_grid(grid, tmp_path, "ray", "2") == reference


# --------------------------------------------------------------- resume and overwrite

def test_an_interrupted_grid_resumes_to_the_uninterrupted_result(grid, tmp_path, capsys,
                                                                  monkeypatch):
    import fixar_gen.experiment as experiment_module
    spec, reference = grid
    out = tmp_path / "grid"
    update = experiment_module.update_outputs

    def crash_in_qat_s0(grid_out, plot=None):
        update(grid_out, plot)
        if len(csv_rows(out / "runs" / "qat-s0" / "evals.csv")
               if (out / "runs" / "qat-s0" / "evals.csv").exists() else []) == 2:
            raise KeyboardInterrupt       # at step 400: its checkpoint is at step 200
    monkeypatch.setattr(experiment_module, "update_outputs", crash_in_qat_s0)
    assert experiment(spec, out, "--seeds", "0-1") == 130
    assert (out / "runs" / "float32-s0" / "summary.json").is_file()
    assert not (out / "runs" / "qat-s0" / "summary.json").exists()
    assert not (out / "runs" / "float32-s1").exists()
    partial = {r["variant"]: r for r in csv_rows(out / "results.csv")}
    assert partial["qat"]["finished"] == "0" and partial["qat"]["steps_max"] == "400"
    monkeypatch.setattr(experiment_module, "update_outputs", update)
    finished_before = snapshot(out / "runs" / "float32-s0")
    capsys.readouterr()
    assert experiment(spec, out, "--seeds", "0-1", "--resume") == 0
    printed = capsys.readouterr().out
    assert "float32 seed 0: 600 steps" in printed and "[finished before: skipped]" in printed
    assert printed.count("skipped") == 1
    assert snapshot(out / "runs" / "float32-s0") == finished_before
    for run in ("float32-s0", "qat-s0", "float32-s1", "qat-s1"):
        assert without_wall(csv_rows(out / "runs" / run / "evals.csv")) == \
            without_wall(csv_rows(reference / "runs" / run / "evals.csv")), run
    assert without_wall(csv_rows(out / "results.csv")) == \
        without_wall(csv_rows(reference / "results.csv"))


def test_a_damaged_checkpoint_fails_its_run_only_in_one_line(grid, tmp_path, capsys):
    out = copy_grid(grid, tmp_path)
    run = out / "runs" / "qat-s1"
    (run / "summary.json").unlink()                  # unfinished: resumed from checkpoint
    current = (run / "checkpoint" / "CURRENT").read_text().strip()
    npz = run / "checkpoint" / current / "checkpoint.npz"
    data = bytearray(npz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    npz.write_bytes(bytes(data))
    assert experiment(grid[0], out, "--seeds", "0-1", "--resume") == 2
    captured = capsys.readouterr()
    assert captured.out.count("[finished before: skipped]") == 3
    err = captured.err.strip().splitlines()[-1]
    assert err.startswith(f"fixar: error: {run}: ") and "checksum" in err
    assert npz.read_bytes() == bytes(data)           # the evidence is left alone
    assert {r["variant"]: r["finished"] for r in csv_rows(out / "results.csv")} == \
        {"float32": "2", "qat": "1"}


def test_resuming_a_finished_grid_trains_nothing(grid, tmp_path, capsys, monkeypatch):
    out = copy_grid(grid, tmp_path)
    runs = snapshot(out / "runs")

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run was trained again")
    monkeypatch.setattr(Trainer, "run", no_training)
    assert experiment(grid[0], out, "--seeds", "0-1", "--resume") == 0
    assert capsys.readouterr().out.count("[finished before: skipped]") == 4
    assert snapshot(out / "runs") == runs
    # --last and --band may change: only the table and the plot do
    assert experiment(grid[0], out, "--seeds", "0-1", "--resume", "--last", "1",
                      "--band", "std") == 0
    record = json.loads((out / "experiment.json").read_text())
    assert (record["last"], record["band"]) == (1, "std")
    for row in csv_rows(out / "results.csv"):
        lasts = [float(csv_rows(out / "runs" / f"{row['variant']}-s{seed}" /
                                "evals.csv")[-1]["eval_return"]) for seed in (0, 1)]
        assert float(row["final_mean"]) == pytest.approx(sum(lasts) / 2, abs=1e-3)
    assert snapshot(out / "runs") == runs


@pytest.mark.parametrize("change,options,expected", [
    ({"gamma": 0.9}, [], "variants.float32.spec.algorithm.gamma: 0.99 in the grid, 0.9 now"),
    ({}, ["--steps", "400", "--seeds", "0-1"],
     "variants.float32.spec.algorithm.total_steps: 600 in the grid, 400 now"),
    ({}, ["--seeds", "0-2"], "seeds: [0, 1] in the grid"),
    ({}, ["--seeds", "0-1", "--variants", "float32,fxp16"],
     "variants: float32,qat in the grid, float32,fxp16 now"),
])
def test_resume_with_other_settings_is_refused_naming_the_difference(
        grid, tmp_path, capsys, change, options, expected):
    out = copy_grid(grid, tmp_path)
    before = snapshot(out)
    spec = spec_file(tmp_path, "changed.yaml", **change)
    assert experiment(spec, out, "--resume", *(options or ["--seeds", "0-1"])) == 2
    err = one_line_error(capsys)
    assert expected in err and "--overwrite" in err, err
    assert snapshot(out) == before


def test_a_second_grid_into_the_folder_is_refused_and_overwrite_replaces_it(
        grid, tmp_path, capsys):
    out = copy_grid(grid, tmp_path)
    (out / "notes.txt").write_text("mine")
    before = snapshot(out)
    assert experiment(grid[0], out, "--seeds", "0-1") == 2
    err = one_line_error(capsys)
    assert "already holds an experiment (experiment.json" in err and "--resume" in err
    assert snapshot(out) == before
    assert experiment(grid[0], out, "--seeds", "0", "--variants", "float32", "--steps",
                      "400", "--overwrite") == 0
    record = json.loads((out / "experiment.json").read_text())
    assert record["settings"]["seeds"] == [0] and record["total_steps"] == 400
    assert json.loads((out / "runs" / "float32-s0" / "summary.json").read_text())[
        "steps"] == 400
    assert (out / "notes.txt").read_text() == "mine"
    assert [r["variant"] for r in csv_rows(out / "results.csv")] == ["float32"]


def test_a_run_folder_of_the_grid_holding_a_run_is_refused(tmp_path, capsys):
    spec = spec_file(tmp_path)
    out = tmp_path / "grid"
    assert main(["train", spec, "--backend", "float32", "--steps", "400", "--quiet",
                 "--out", str(out / "runs" / "float32-s0")]) == 0
    assert experiment(spec, out, "--variants", "float32", "--seeds", "0") == 2
    assert "runs/float32-s0" in one_line_error(capsys)


def test_resume_without_a_grid_is_refused(tmp_path, capsys):
    assert experiment(spec_file(tmp_path), tmp_path / "none", "--resume") == 2
    assert "no experiment to resume" in one_line_error(capsys)


# ---------------------------------------------------------------------- bad options

@pytest.mark.parametrize("options,option", [
    (["--variants", "fp8"], "--variants"),
    (["--variants", ""], "--variants"),
    (["--variants", "qat,,float32"], "--variants"),
    (["--variants", "qat,qat"], "--variants"),
    (["--seeds", "4-0"], "--seeds"),
    (["--seeds", "x"], "--seeds"),
    (["--seeds", "0-1,1"], "--seeds"),
    (["--steps", "0"], "--steps"),
    (["--workers", "0"], "--workers"),
    (["--jobs", "-1"], "--workers"),
    (["--last", "0"], "--last"),
    (["--checkpoint-every", "0"], "--checkpoint-every"),
    (["--backend", "float32"], "--backend"),
    (["--engine", "slurm"], "--engine"),
    (["--band", "iqr"], "--band"),
    (["--sb3-python", "python3", "--no-sb3"], "--no-sb3"),
    (["--resume", "--overwrite"], "--overwrite"),
])
def test_bad_option_values_are_one_line_naming_the_option(tmp_path, capsys, options,
                                                          option):
    with pytest.raises(SystemExit) as stop:
        main(["experiment", spec_file(tmp_path), "-o", str(tmp_path / "g"), *options])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and option in err and "Traceback" not in err, err
    assert not (tmp_path / "g").exists()


def test_an_output_under_a_file_is_refused(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    with pytest.raises(SystemExit) as stop:
        main(["experiment", spec_file(tmp_path), "-o", str(tmp_path / "file" / "g")])
    assert stop.value.code == 2
    assert "-o/--out" in capsys.readouterr().err


def test_a_run_too_short_for_a_variant_names_steps_and_the_variant(tmp_path, capsys):
    # 220 steps: 20 updates, fewer than the 50 of QAT's delay (fxp32 would be fine)
    assert experiment(spec_file(tmp_path), tmp_path / "g", "--variants", "fxp32,qat",
                      "--steps", "220") == 2
    err = one_line_error(capsys)
    assert "--steps 220: variant qat: numerics.qat_delay" in err
    assert not (tmp_path / "g").exists()


def test_a_missing_environment_extra_is_one_line_before_the_folder(tmp_path, capsys):
    try:
        import mujoco  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("mujoco is installed here, so HalfCheetah-v5 can be created")
    spec = Path(__file__).resolve().parents[1] / "benchmarks" / "specs" / \
        "halfcheetah_10k_qat.yaml"
    assert experiment(str(spec), tmp_path / "g", "--seeds", "0") == 2
    err = one_line_error(capsys)
    assert "HalfCheetah-v5" in err and "fixar_gen[mujoco]" in err
    assert not (tmp_path / "g").exists()


def test_a_spec_too_short_for_a_variant_names_the_variant(tmp_path, capsys):
    data = yaml.safe_load(Path(spec_file(tmp_path, total_steps=220)).read_text())
    data["numerics"]["precision"] = "fxp32"     # valid: 20 updates, QAT would wait for 50
    (tmp_path / "short.yaml").write_text(yaml.safe_dump(data))
    assert experiment(str(tmp_path / "short.yaml"), tmp_path / "g", "--variants",
                      "float32,fxp16,qat") == 2
    assert "--variants qat: numerics.qat_delay" in one_line_error(capsys)


def test_the_float32_variant_needs_no_room_for_the_qat_delay(tmp_path):
    # 220 steps: 20 updates, fewer than QAT's 50; the float32 agent has no QAT
    out = tmp_path / "g"
    assert experiment(spec_file(tmp_path), out, "--variants", "float32", "--seeds", "0",
                      "--steps", "220") == 0
    assert json.loads((out / "runs" / "float32-s0" / "summary.json").read_text())[
        "steps"] == 220


@pytest.mark.parametrize("text,names", [("float32,qat", ["float32", "qat"]),
                                        (" fxp16 , fxp32", ["fxp16", "fxp32"]),
                                        ("qat", ["qat"])])
def test_variants_are_parsed_in_order(text, names):
    assert parse_variants(text) == names


# ------------------------------------------------------- the SB3 reference row

FAKE_SB3 = '''#!{python}
"""A stand-in for an interpreter with SB3: it accepts the real script's options
(fixar_gen/rl/sb3_run.py's parser) and writes what the script writes."""
import csv, json, runpy, sys
from pathlib import Path
if sys.argv[1] == "-c":
    sys.exit(0)
script = Path(sys.argv[1])
assert script.name == "sb3_run.py" and script.is_file(), script
real = runpy.run_path(str(script))          # the script file itself, not run
EVALS, args = real["EVALS"], real["parse_args"](sys.argv[2:])
args.out.mkdir(parents=True, exist_ok=True)
steps = list(range(args.eval_every, args.total_steps + 1, args.eval_every))
with open(args.out / "evals.csv", "w", newline="") as fh:
    writer = csv.DictWriter(fh, fieldnames=EVALS)
    writer.writeheader()
    for step in steps:
        writer.writerow({{"step": step, "eval_return": -100.0 - args.seed, "precision":
                         "float32", "saturations": 0, "fxp16_since_step": "",
                         "wall_seconds": 0.1}})
print("actor lr", args.actor_lr, "critic lr", args.critic_lr, "sigma", args.sigma)
print("algorithm", args.algorithm, "policy delay", args.policy_delay)
(args.out / "summary.json").write_text(json.dumps({{
    "backend": "sb3", "seed": args.seed, "steps": args.total_steps,
    "final_eval_return": -100.0 - args.seed, "precision": "float32", "saturations": 0}}))
'''


def td3_spec_file(folder: Path, **algorithm) -> str:
    """The small spec with TD3 as its algorithm."""
    path = spec_file(folder, "td3.yaml", **algorithm)
    data = yaml.safe_load(Path(path).read_text())
    data["algorithm"]["name"] = "td3"
    Path(path).write_text(yaml.safe_dump(data))
    return path


def fake_sb3_python(tmp_path: Path) -> str:
    import sys
    path = tmp_path / "fake-sb3-python"
    path.write_text(FAKE_SB3.format(python=sys.executable))
    path.chmod(0o755)
    return str(path)


def test_the_sb3_reference_is_a_row_of_the_table_and_skipped_when_done(tmp_path, capsys):
    python = fake_sb3_python(tmp_path)
    out = tmp_path / "grid"
    spec = spec_file(tmp_path)
    assert experiment(spec, out, "--variants", "float32", "--seeds", "0-1",
                      "--sb3-python", python) == 0
    printed = capsys.readouterr().out
    assert "sb3-s0: sb3 seed 0: 600 steps, final eval return -100.0" in printed
    rows = {r["variant"]: r for r in csv_rows(out / "results.csv")}
    assert list(rows) == ["float32", "sb3"]
    assert rows["sb3"]["finished"] == "2" and float(rows["sb3"]["final_mean"]) == -100.5
    log = (out / "runs" / "sb3-s1" / "sb3.log").read_text()
    assert "actor lr 0.0001 critic lr 0.001 sigma 0.1" in log      # the spec's values
    assert "Stable-Baselines3's DDPG" in (out / "results.md").read_text()
    (out / "runs" / "sb3-s1" / "summary.json").unlink()             # cut short
    assert experiment(spec, out, "--variants", "float32", "--seeds", "0-1", "--resume",
                      "--sb3-python", python) == 0
    printed = capsys.readouterr().out
    assert printed.count("[finished before: skipped]") == 3        # all but sb3-s1
    assert "sb3-s1: sb3 seed 1: 600 steps" in printed


def test_a_grid_of_the_sb3_row_alone_joins_a_grid_of_the_variants(tmp_path, capsys):
    """`--variants none`: the SB3 reference row alone (the seeds a variants grid ran
    without it), which `fixar results` puts beside that grid's rows as one table."""
    python = fake_sb3_python(tmp_path)
    spec = spec_file(tmp_path)
    variants, reference = tmp_path / "variants", tmp_path / "reference"
    assert experiment(spec, variants, "--variants", "float32", "--seeds", "0",
                      "--no-sb3") == 0
    assert experiment(spec, reference, "--variants", "none", "--seeds", "0",
                      "--sb3-python", python) == 0
    assert sorted(p.name for p in (reference / "runs").iterdir()) == ["sb3-s0"]
    assert [r["variant"] for r in csv_rows(reference / "results.csv")] == ["sb3"]
    capsys.readouterr()
    out = tmp_path / "all"
    assert main(["results", str(variants), str(reference), "-o", str(out)]) == 0
    rows = {r["variant"]: r for r in csv_rows(out / "results.csv")}
    assert list(rows) == ["float32", "sb3"]
    assert rows["sb3"]["finished"] == rows["float32"]["finished"] == "1"
    # the row alone is a grid of the spec's settings: resumed with other steps it is
    # refused, and its runs do not join a grid of another spec
    assert experiment(spec, reference, "--variants", "none", "--seeds", "0", "--resume",
                      "--steps", "800", "--sb3-python", python) == 2
    assert "--resume with other settings than the grid's" in capsys.readouterr().err
    other = tmp_path / "other"
    assert experiment(spec_file(tmp_path, "small.yaml", batch_size=8), other,
                      "--variants", "float32", "--seeds", "1", "--no-sb3") == 0
    capsys.readouterr()
    assert main(["results", str(other), str(reference), "-o",
                 str(tmp_path / "mixed")]) == 2
    assert "variant float32's run settings differ between the grids" in \
        capsys.readouterr().err


def test_a_grid_with_nothing_to_run_is_refused(tmp_path, capsys):
    assert experiment(spec_file(tmp_path), tmp_path / "g", "--variants", "none",
                      "--no-sb3") == 2
    err = one_line_error(capsys)
    assert "--variants none: the grid would run nothing: Stable-Baselines3 DDPG " \
        "reference: not run (--no-sb3)" in err
    assert not (tmp_path / "g").exists()


def test_without_an_sb3_interpreter_the_row_is_a_named_skip(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("FIXAR_SB3_PYTHON", raising=False)
    out = tmp_path / "grid"
    assert experiment(spec_file(tmp_path), out, "--variants", "float32", "--seeds", "0",
                      "--steps", "400", "--sb3-python", str(tmp_path / "no-python")) == 0
    err = capsys.readouterr().err
    line = f"Stable-Baselines3 DDPG reference: not run: {tmp_path / 'no-python'} does not run"
    assert f"fixar experiment: {line}" in err
    assert line in (out / "results.md").read_text()
    assert [r["variant"] for r in csv_rows(out / "results.csv")] == ["float32"]


def test_a_spec_sb3_cannot_express_is_a_named_skip(tmp_path, capsys):
    import yaml as _yaml
    data = _yaml.safe_load(Path(spec_file(tmp_path)).read_text())
    data["algorithm"]["optimizer"] = "sgd"
    (tmp_path / "sgd.yaml").write_text(_yaml.safe_dump(data))
    out = tmp_path / "grid"
    assert experiment(str(tmp_path / "sgd.yaml"), out, "--variants", "float32", "--seeds",
                      "0", "--steps", "400", "--sb3-python", fake_sb3_python(tmp_path)) == 0
    assert "not run: the spec's optimizer is sgd" in capsys.readouterr().err
    assert not (out / "runs" / "sb3-s0").exists()


def test_a_td3_spec_has_an_sb3_td3_row(tmp_path):
    """Catches the TD3 reference refused again, or run as DDPG."""
    out = tmp_path / "grid"
    spec = td3_spec_file(tmp_path, policy_delay=3)
    assert experiment(spec, out, "--variants", "float32", "--seeds", "0", "--steps", "400",
                      "--sb3-python", fake_sb3_python(tmp_path)) == 0
    assert [r["variant"] for r in csv_rows(out / "results.csv")] == ["float32", "sb3"]
    assert "algorithm td3 policy delay 3" in (out / "runs" / "sb3-s0" / "sb3.log").read_text()
    assert "Stable-Baselines3's TD3" in (out / "results.md").read_text()


def test_the_documented_experiment_commands_are_accepted(monkeypatch):
    """Every `fixar experiment` command of docs/training.md (continued lines joined)
    passes the parser and every variant's check of the run length."""
    import shlex

    from fixar_gen import load_spec
    from fixar_gen.cli import build_parser
    from fixar_gen.experiment import make_grid
    root = Path(__file__).resolve().parents[1]
    monkeypatch.chdir(root)
    commands = []
    text = (root / "docs" / "training.md").read_text(encoding="utf-8")
    for line in text.replace("\\\n", " ").splitlines():
        if line.startswith("fixar experiment "):
            commands.append(line.split("#")[0])
    assert len(commands) >= 3
    for line in commands:
        args = build_parser().parse_args(shlex.split(line)[1:])
        make_grid(load_spec(args.spec), args.variants, args.seeds, Path("unused"),
                  steps=args.steps, core_backend=args.backend, last=args.last)


FAKE_TORCH = '''
__version__ = "fake"
def set_num_threads(n):
    pass
class nn:
    class ReLU: pass
    class Tanh: pass
'''

FAKE_SB3_PACKAGE = {
    "stable_baselines3/__init__.py": '''
import json, os
import numpy as np
__version__ = "fake"

class _Optimizer:
    def __init__(self, lr):
        self.param_groups = [{"lr": lr}]

class _Net:
    def __init__(self, lr):
        self.optimizer = _Optimizer(lr)

class TD3:
    """Steps the environment with random actions and calls the callback, as SB3's
    learn loop does; records what the script configured."""
    def __init__(self, policy, env, learning_rate, **kwargs):
        self.env, self.kwargs, self.rate = env, kwargs, learning_rate
        self.actor, self.critic = _Net(learning_rate), _Net(learning_rate)

    def _update_learning_rate(self, optimizers):      # what SB3 does at every update
        for optimizer in optimizers:
            for group in optimizer.param_groups:
                group["lr"] = self.rate

    def learn(self, total_timesteps, callback):
        self.env.reset(seed=0)
        for t in range(1, total_timesteps + 1):
            self._update_learning_rate([self.actor.optimizer, self.critic.optimizer])
            _, _, terminated, truncated, _ = self.env.step(self.env.action_space.sample())
            if terminated or truncated:
                self.env.reset()
            callback.num_timesteps = t
            callback._on_step()
        with open(os.environ["FAKE_SB3_RECORD"], "w") as fh:
            json.dump({"class": type(self).__name__,
                       "td3": {k: self.kwargs.get(k) for k in ("policy_delay",
                               "target_policy_noise", "target_noise_clip")},
                       "actor_lr": self.actor.optimizer.param_groups[0]["lr"],
                       "critic_lr": self.critic.optimizer.param_groups[0]["lr"],
                       "net_arch": self.kwargs["policy_kwargs"]["net_arch"],
                       "learning_starts": self.kwargs["learning_starts"],
                       "sigma": float(self.kwargs["action_noise"].sigma[0])}, fh)

    def predict(self, obs, deterministic):
        assert deterministic
        return np.zeros(self.env.action_space.shape, dtype=np.float32), None

class DDPG(TD3):
    """SB3's DDPG is its TD3 without the three TD3 keywords."""
    def __init__(self, policy, env, learning_rate, **kwargs):
        assert not {"policy_delay", "target_policy_noise", "target_noise_clip"} & set(kwargs)
        super().__init__(policy, env, learning_rate, **kwargs)
''',
    "stable_baselines3/common/__init__.py": "",
    "stable_baselines3/common/callbacks.py": '''
class BaseCallback:
    num_timesteps = 0
''',
    "stable_baselines3/common/noise.py": '''
class NormalActionNoise:
    def __init__(self, mean, sigma):
        self.sigma = sigma
class OrnsteinUhlenbeckActionNoise(NormalActionNoise):
    def __init__(self, mean, sigma, theta, dt):
        self.sigma = sigma
''',
}


@pytest.mark.parametrize("algorithm", ["ddpg", "td3"])
def test_the_sb3_script_evaluates_and_writes_what_the_table_reads(tmp_path, algorithm):
    """rl/sb3_run.py run for real, with stand-ins for torch and SB3's DDPG and TD3
    (which take random actions; the evaluated policy always says 0): its evaluation
    protocol, evals.csv, summary.json, and the settings it gives SB3 (the TD3 keywords
    to TD3 only: the stand-in DDPG refuses them, as SB3's does)."""
    import subprocess
    import sys

    import gymnasium as gym

    from fixar_gen import load_spec
    from fixar_gen.sb3_reference import SCRIPT, arguments
    fake = tmp_path / "fake"
    for name, text in {"torch.py": FAKE_TORCH, **FAKE_SB3_PACKAGE}.items():
        (fake / name).parent.mkdir(parents=True, exist_ok=True)
        (fake / name).write_text(text)
    make = {"ddpg": spec_file, "td3": td3_spec_file}[algorithm]
    args = arguments(load_spec(make(tmp_path, total_steps=500, target_noise=0.3)))
    out = tmp_path / "sb3"
    env = {**__import__("os").environ, "PYTHONPATH": str(fake),
           "FAKE_SB3_RECORD": str(tmp_path / "record.json")}
    done = subprocess.run([sys.executable, str(SCRIPT), *args, "--seed", "7", "--out",
                           str(out)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "record.json").read_text())
    td3 = {"policy_delay": 2, "target_policy_noise": 0.3, "target_noise_clip": 0.5}
    assert record == {"class": algorithm.upper(),
                      "td3": td3 if algorithm == "td3" else dict.fromkeys(td3),
                      "actor_lr": 1e-4, "critic_lr": 1e-3, "learning_starts": 200,
                      "net_arch": {"pi": [8], "qf": [8]}, "sigma": 0.1}
    # the zero action on the evaluation seed, as the trainer evaluates
    pendulum = gym.make("Pendulum-v1")
    pendulum.reset(seed=7 + 1_000_000)
    expected, over = 0.0, False
    while not over:
        _, reward, terminated, truncated, _ = pendulum.step(np.zeros(1, dtype=np.float32))
        expected += float(reward)
        over = terminated or truncated
    evals = csv_rows(out / "evals.csv")
    assert [int(r["step"]) for r in evals] == [200, 400, 500]   # every 200 and the end
    assert all(float(r["eval_return"]) == round(expected, 4) for r in evals)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 500 and summary["seed"] == 7
    assert summary["algorithm"] == algorithm
    assert summary["final_eval_return"] == round(expected, 4)


@pytest.mark.parametrize("band", ["minmax", "std"])
def test_the_plot_draws_either_band(tmp_path, band):
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    from fixar_gen.rl.plots import plot_grid
    curves = {"float32": [[(100, -5.0), (200, -3.0)], [(100, -7.0), (200, -1.0)]],
              "qat": [[(100, -6.0)]]}
    out = plot_grid(curves, {"qat": [150]}, tmp_path / "c.png", band=band)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="band"):
        plot_grid(curves, {}, tmp_path / "d.png", band="iqr")


@given(st.permutations(list(VARIANTS)).flatmap(
    lambda names: st.integers(1, len(names)).map(lambda n: names[:n])))
def test_any_variants_in_any_order_parse_to_themselves(names):
    assert parse_variants(",".join(names)) == names
    with pytest.raises(ValueError, match="given twice"):
        parse_variants(",".join(names + names[:1]))
    with pytest.raises(ValueError, match="is not a variant"):
        parse_variants(",".join(names + ["fxp8"]))


@pytest.mark.parametrize("changes,message", [
    ({"variants": ("qat", "qat")}, "variants"),
    ({"variants": ("int8",)}, "variants"), ({"seeds": ()}, "seeds: []"),
    ({"seeds": (1, 1)}, "seeds"), ({"core_backend": "float32"}, "--backend float32"),
    ({"band": "iqr"}, "--band iqr"), ({"last": 0}, "--last 0"), ({"last": True}, "--last"),
])
def test_a_grid_is_validated_when_made(tmp_path, changes, message):
    from fixar_gen import load_spec
    fields = dict(spec=load_spec(spec_file(tmp_path)), variants=("float32",), seeds=(0,),
                  out=tmp_path)
    Grid(**fields)
    with pytest.raises(ExperimentError, match=message.replace("[", r"\[").replace(
            "]", r"\]")):
        Grid(**{**fields, **changes})


# ------------------------------------------------------------------------ fixar results

def _final(folder: Path, variant: str, seed: int) -> float:
    evals = csv_rows(folder / "runs" / f"{variant}-s{seed}" / "evals.csv")
    return sum(float(r["eval_return"]) for r in evals[-3:]) / 3


def test_results_gathers_the_runs_of_several_grids_into_one_table(grid, tmp_path):
    """`fixar results`: the runs of two grids of one experiment (seeds 0-1 of float32
    and qat, seed 2 of float32) in one table, one row per run, the sources named; a
    second call into its own output rewrites it."""
    spec, first = grid
    second = tmp_path / "second"
    assert experiment(spec, second, "--seeds", "2", "--variants", "float32") == 0
    out = tmp_path / "all"
    assert main(["results", str(first), str(second), "-o", str(out)]) == 0
    rows = {r["variant"]: r for r in csv_rows(out / "results.csv")}
    assert list(rows) == ["float32", "qat"]
    finals = [_final(first, "float32", 0), _final(first, "float32", 1),
              _final(second, "float32", 2)]
    assert rows["float32"]["seeds"] == rows["float32"]["finished"] == "3"
    assert float(rows["float32"]["final_mean"]) == pytest.approx(sum(finals) / 3, abs=1e-3)
    assert float(rows["float32"]["final_min"]) == pytest.approx(min(finals), abs=1e-3)
    assert rows["qat"]["seeds"] == "2"
    md = (out / "results.md").read_text()
    assert md.count("| float32-s") == 3 and md.count("| qat-s") == 2
    assert f"`{second}`: float32 seed 2" in md
    sources = json.loads((out / "sources.json").read_text())
    assert sources["grids"] == [str(first.resolve()), str(second.resolve())]
    if (first / "curves.png").is_file():          # the plot extra
        assert (out / "curves.png").read_bytes()[:4] == b"\x89PNG"
    assert main(["results", str(second), "-o", str(out)]) == 0
    assert [r["seeds"] for r in csv_rows(out / "results.csv")] == ["1"]


def test_a_run_planned_in_one_grid_and_run_in_another_is_taken_from_the_other(
        grid, tmp_path):
    """A grid that planned a run it never began (its folder without evaluations or
    checkpoints) leaves that run to the grid that ran it."""
    _, first = grid
    planned = copy_grid(grid, tmp_path)
    shutil.rmtree(planned / "runs" / "qat-s1")
    shutil.rmtree(planned / "runs" / "float32-s1")
    record = json.loads((first / "experiment.json").read_text())
    ran = tmp_path / "ran"
    (ran / "runs").mkdir(parents=True)
    shutil.copytree(first / "runs" / "qat-s1", ran / "runs" / "qat-s1")
    record["runs"] = [r for r in record["runs"] if r["folder"] == "runs/qat-s1"]
    (ran / "experiment.json").write_text(json.dumps(record))
    out = tmp_path / "out"
    assert main(["results", str(planned), str(ran), "-o", str(out)]) == 0
    rows = {r["variant"]: r for r in csv_rows(out / "results.csv")}
    assert rows["qat"]["seeds"] == "2" and rows["float32"]["seeds"] == "1"


def test_results_joins_float32_runs_whose_specs_differ_only_where_float32_reads_nothing(
        grid, tmp_path, capsys):
    """The float32 agent reads neither the spec's numerics nor its hardware: its run is
    the same with other formats and another design (checked here: evaluations and
    metrics), so `fixar results` joins float32 runs of two grids whose specs differ
    only there; a qat run reads both, and its runs of such grids do not join."""
    _, first = grid
    data = json.loads(json.dumps(SMALL))
    data["numerics"]["gradient"] = {"width": 32, "frac": 18}
    data["hardware"] = {"cores": 1, "array": [4, 4]}
    other_spec = tmp_path / "small.yaml"
    other_spec.write_text(yaml.safe_dump(data))
    other = tmp_path / "other"
    assert experiment(str(other_spec), other, "--variants", "float32", "--seeds", "0,2") == 0

    def results(folder):            # the run's figures, not its speed
        return [{k: v for k, v in row.items() if not k.endswith("_per_s")}
                for name in ("evals.csv", "metrics.csv")
                for row in without_wall(csv_rows(folder / "runs" / "float32-s0" / name))]
    assert results(other) == results(first)
    shutil.rmtree(other / "runs" / "float32-s0")     # seed 0 counted from the first grid
    out = tmp_path / "joined"
    assert main(["results", str(first), str(other), "-o", str(out)]) == 0
    assert {r["variant"]: r["seeds"] for r in csv_rows(out / "results.csv")} \
        == {"float32": "3", "qat": "2"}
    capsys.readouterr()

    def qat_formats(record):
        record["settings"]["variants"]["qat"]["spec"]["numerics"]["gradient"]["frac"] = 18
    edited = _edited(grid, tmp_path, "qat_other", qat_formats)
    assert main(["results", str(first), str(edited), "-o", str(tmp_path / "no")]) == 2
    assert "variant qat's run settings differ between the grids: " \
        "spec.numerics.gradient.frac: 24 in" in one_line_error(capsys)

    def older(record):               # a grid of a fixar_gen before the field existed
        del record["settings"]["variants"]["qat"]["spec"]["hardware"]["vector_functions"]
    assert main(["results", str(first), str(_edited(grid, tmp_path, "older", older)),
                 "-o", str(tmp_path / "older_joined")]) == 0


def test_results_last_sets_the_final_return_over_grids_of_another_last(grid, tmp_path,
                                                                        capsys):
    """`fixar results --last N`: each run's final return is the mean of its last N
    evaluations, whatever the grids recorded (a noisy task's table over more
    evaluations); without it, grids of different ``--last`` do not join."""
    _, first = grid
    other = _edited(grid, tmp_path, "other_last", lambda r: r.update(last=2))
    assert main(["results", str(first), str(other), "-o", str(tmp_path / "no")]) == 2
    assert "last 2, but 3 in" in one_line_error(capsys)
    out = tmp_path / "last1"
    assert main(["results", str(first), str(other), "-o", str(out), "--last", "1"]) == 0
    rows = {r["variant"]: r for r in csv_rows(out / "results.csv")}
    lasts = [float(csv_rows(first / "runs" / f"float32-s{seed}" / "evals.csv")[-1]
                   ["eval_return"]) for seed in (0, 1)]
    assert float(rows["float32"]["final_mean"]) == pytest.approx(sum(lasts) / 2, abs=1e-3)
    assert "the mean of each run's last 1 evaluation" in (out / "results.md").read_text()
    with pytest.raises(SystemExit) as stop:
        main(["results", str(first), "-o", str(tmp_path / "bad"), "--last", "0"])
    assert stop.value.code == 2 and "--last" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def _edited(grid, tmp_path, name: str, edit) -> Path:
    folder = tmp_path / name
    shutil.copytree(grid[1], folder)
    record = json.loads((folder / "experiment.json").read_text())
    edit(record)
    (folder / "experiment.json").write_text(json.dumps(record))
    for run in (folder / "runs").iterdir():      # no run of its own: no duplicate
        shutil.rmtree(run)
    return folder


@pytest.mark.parametrize("case, message", [
    ("same runs twice", "float32 seed 0 has run in"),
    ("other steps", "total_steps 900, but 600 in"),
    ("other settings", "variant float32's run settings differ between the grids: "
                       "spec.algorithm.batch_size: 16 in"),
    ("not a grid", "not an experiment grid (no experiment.json)"),
    ("output is a grid", "is one of the grids"),
    ("output holds files", "holds notes.txt"),
])
def test_results_refuses_what_is_not_one_experiment_and_writes_nothing(
        grid, tmp_path, capsys, case, message):
    """Grids that are not parts of one experiment, and outputs that would replace what
    a user wrote: one line naming the cause, exit 2, nothing written."""
    _, first = grid
    out = tmp_path / "out"
    grids = [first, first]
    if case == "other steps":
        grids = [first, _edited(grid, tmp_path, "g", lambda r: r.update(total_steps=900))]
    elif case == "other settings":
        def batch(record):
            record["settings"]["variants"]["float32"]["spec"]["algorithm"]["batch_size"] = 8
        grids = [first, _edited(grid, tmp_path, "g", batch)]
    elif case == "not a grid":
        grids = [first, tmp_path]
    elif case == "output is a grid":
        grids, out = [first], first
    elif case == "output holds files":
        grids = [first]
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    before = snapshot(first)
    assert main(["results", *map(str, grids), "-o", str(out)]) == 2
    assert message in one_line_error(capsys)
    assert snapshot(first) == before
    if case == "output holds files":
        assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    elif case != "output is a grid":
        assert not out.exists()


def test_an_archived_grid_keeps_its_figures_without_the_checkpoints(grid, tmp_path,
                                                                     monkeypatch):
    """benchmarks/archive_grid.py: the archive holds the record, the table and every
    run's evaluations and metrics, none of the checkpoints; `fixar results` reads it to
    the grid's own table; archiving again replaces the earlier copy."""
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "benchmarks"))
    import archive_grid
    _, first = grid
    assert any(first.rglob("checkpoint"))
    dest = archive_grid.archive(first, tmp_path / "kept")
    assert dest == tmp_path / "kept" / first.name
    assert not any(dest.rglob("checkpoint")) and not any(dest.rglob("*.lock"))
    for run in ("float32-s0", "float32-s1", "qat-s0", "qat-s1"):
        for name in ("evals.csv", "metrics.csv", "summary.json"):
            assert (dest / "runs" / run / name).read_bytes() == \
                (first / "runs" / run / name).read_bytes()
    out = tmp_path / "out"
    assert main(["results", str(dest), "-o", str(out)]) == 0
    assert (out / "results.csv").read_text() == (first / "results.csv").read_text()
    (dest / "stale.txt").write_text("from an earlier archive")
    assert archive_grid.archive(first, tmp_path / "kept") == dest
    assert not (dest / "stale.txt").exists()
