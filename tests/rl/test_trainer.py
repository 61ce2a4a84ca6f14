"""The training loop: a smoke run on every backend, same seed -> same metrics, and a
run killed with SIGKILL and resumed ends exactly where the uninterrupted run ends."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from fixar_gen import load_spec
from fixar_gen.cli import main
from fixar_gen.rl.checkpoint import load_checkpoint
from fixar_gen.rl.trainer import Trainer

TINY = {
    "name": "tiny", "env": {"id": "Pendulum-v1", "seed": 3},
    "networks": {"actor": {"hidden": [8]}, "critic": {"hidden": [8]}},
    "algorithm": {"batch_size": 16, "warmup_steps": 200, "total_steps": 600,
                  "eval_every": 400, "eval_episodes": 1, "replay_size": 5000},
    "numerics": {"qat_delay": 150},
    "hardware": {"cores": 2, "array": [2, 2]},
}


def _write_spec(tmp_path: Path, **changes) -> Path:
    import yaml
    data = json.loads(json.dumps(TINY))
    for key, value in changes.items():
        section, field = key.split("__")
        data[section][field] = value
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("backend", ["golden", "float32"])
def test_smoke_run_writes_everything(tmp_path, backend):
    spec = load_spec(_write_spec(tmp_path))
    out = tmp_path / "run"
    summary = Trainer(spec, backend, out, progress=False).run()
    assert summary["steps"] == 600 and summary["updates"] == 400
    rows = (out / "metrics.csv").read_text().splitlines()
    assert rows[0] == ("step,episode,return,eval_return,precision,saturations,"
                       "updates_per_s,steps_per_s")
    assert len(rows) == 1 + 3                      # three 200-step episodes
    assert json.loads((out / "summary.json").read_text())["backend"] == backend
    arrays, meta = load_checkpoint(out / "checkpoint")
    assert meta["step"] == 600
    if backend == "golden":
        # QAT: FXP32 for 150 updates, then FXP16 with per-layer formats
        assert summary["precision"] == "fxp16" and summary["switched_to_fxp16_at_step"]
        assert all(v.startswith("Q") for v in summary["fxp16_formats"].values())
        assert rows[1].split(",")[4] == "fxp32" and rows[-1].split(",")[4] == "fxp16"


def test_kept_checkpoints_are_the_runs_earlier_states_and_a_resume_from_one_agrees(tmp_path):
    """--keep-checkpoints 3 with a checkpoint every 200 steps: the three newest
    generations stay (the last two both at the end: the periodic one and the final
    save); the run resumed (another folder) from the oldest one's state ends bit for
    bit where the run itself ended."""
    import shutil
    path = _write_spec(tmp_path)
    out = tmp_path / "run"
    assert main(["train", str(path), "--backend", "float32", "--out", str(out), "--quiet",
                 "--checkpoint-every", "200", "--keep-checkpoints", "3"]) == 0
    gens = sorted((out / "checkpoint").glob("gen-*"))
    assert len(gens) == 3
    steps = [load_checkpoint(g)[1]["step"] for g in gens]
    assert steps == sorted(steps) and steps[0] < 600 and steps[-1] == 600
    again = tmp_path / "again"
    (again / "checkpoint").mkdir(parents=True)
    shutil.copytree(gens[0], again / "checkpoint" / gens[0].name)
    (again / "checkpoint" / "CURRENT").write_text(gens[0].name + "\n")
    spec = load_spec(path)
    Trainer(spec, "float32", again, progress=False).run(resume=True)
    ref_arrays, ref = load_checkpoint(out / "checkpoint")
    got_arrays, got = load_checkpoint(again / "checkpoint")
    for name, value in ref_arrays.items():
        np.testing.assert_array_equal(got_arrays[name], value, err_msg=name)
    def evals(meta):                        # (the wall time of each evaluation aside)
        return [{k: v for k, v in e.items() if k != "wall_seconds"} for e in meta["evals"]]
    assert got["step"] == ref["step"] == 600 and evals(got) == evals(ref)


def test_same_seed_same_metrics(tmp_path):
    spec = load_spec(_write_spec(tmp_path))
    runs = []
    for i in range(2):
        Trainer(spec, "golden", tmp_path / f"r{i}", progress=False).run()
        rows = (tmp_path / f"r{i}" / "metrics.csv").read_text().splitlines()
        runs.append([",".join(r.split(",")[:6]) for r in rows])   # not the timings
    assert runs[0] == runs[1]
    other = load_spec(_write_spec(tmp_path, env__seed=4))
    Trainer(other, "golden", tmp_path / "r2", progress=False).run()
    rows = (tmp_path / "r2" / "metrics.csv").read_text().splitlines()
    assert [",".join(r.split(",")[:6]) for r in rows] != runs[0]


def test_kill_and_resume_is_bit_exact(tmp_path):
    # QAT's formats revised every 100 updates after the switch at 150: the tiny run widens
    # formats at updates 350, 450 and 550, around the kill
    spec_path = _write_spec(tmp_path, algorithm__total_steps=1400,
                            numerics__qat_revise_every=100)
    reference = tmp_path / "reference"
    assert main(["train", str(spec_path), "--out", str(reference), "--quiet",
                 "--checkpoint-every", "200"]) == 0
    killed = tmp_path / "killed"
    cmd = [sys.executable, "-m", "fixar_gen", "train", str(spec_path), "--out", str(killed),
           "--quiet", "--checkpoint-every", "200"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:             # kill once a mid-run checkpoint exists
        if (killed / "checkpoint" / "CURRENT").exists():
            _, meta = load_checkpoint(killed / "checkpoint")
            if 400 <= meta["step"] < 1400:
                break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _, meta = load_checkpoint(killed / "checkpoint")
    assert meta["step"] < 1400, "the run finished before it could be killed"
    resumed = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    ref_arrays, ref_meta = load_checkpoint(reference / "checkpoint")
    got_arrays, got_meta = load_checkpoint(killed / "checkpoint")
    assert set(ref_arrays) == set(got_arrays)
    for name, value in ref_arrays.items():
        np.testing.assert_array_equal(got_arrays[name], value, err_msg=name)
    strip = lambda rows: [{k: r[k] for k in r if k not in ("updates_per_s", "steps_per_s")}  # noqa
                          for r in rows]
    assert strip(got_meta["rows"]) == strip(ref_meta["rows"])
    assert ref_meta["agent"]["qat"]["revisions"], "no format was revised: the test is void"
    assert got_meta["agent"]["qat"] == ref_meta["agent"]["qat"]


def _final_state(out: Path) -> tuple[dict, dict]:
    arrays, meta = load_checkpoint(out / "checkpoint")
    timing = ("updates_per_s", "steps_per_s", "wall_seconds")
    strip = lambda rows: [{k: r[k] for k in r if k not in timing} for r in rows]  # noqa
    kept = {k: meta[k] for k in ("step", "episode", "rng", "switched_at", "updates_done",
                                 "agent", "last_eval")}
    return arrays, {**kept, "rows": strip(meta["rows"]), "evals": strip(meta["evals"])}


@pytest.mark.parametrize("backend", ["golden", "float32"])
def test_resume_extends_a_finished_run_to_the_uninterrupted_result(tmp_path, backend):
    """A 600-step run (evaluated at 400 and at its end, off the 400-step grid), resumed
    with total_steps 1000, ends bit for bit where a 1000-step run ends."""
    spec = load_spec(_write_spec(tmp_path))
    Trainer(spec, backend, tmp_path / "reference", total_steps=1000, progress=False).run()
    short = Trainer(spec, backend, tmp_path / "extended", progress=False).run()
    assert short["steps"] == 600
    _, meta = load_checkpoint(tmp_path / "extended" / "checkpoint")
    assert [e["step"] for e in meta["evals"]] == [400, 600]
    summary = Trainer(spec, backend, tmp_path / "extended", total_steps=1000,
                      progress=False).run(resume=True)
    assert summary["steps"] == 1000 and summary["updates"] == 800
    ref_arrays, ref = _final_state(tmp_path / "reference")
    got_arrays, got = _final_state(tmp_path / "extended")
    assert set(got_arrays) == set(ref_arrays)
    for name, value in ref_arrays.items():
        np.testing.assert_array_equal(got_arrays[name], value, err_msg=name)
    assert got == ref
    assert [e["step"] for e in got["evals"]] == [400, 800, 1000]
    reference = json.loads((tmp_path / "reference" / "summary.json").read_text())
    for key in ("steps", "episodes", "updates", "final_eval_return", "best_eval_return",
                "switched_to_fxp16_at_step", "fxp16_formats", "saturations"):
        assert summary[key] == reference[key], key
    evals = (tmp_path / "extended" / "evals.csv").read_text().splitlines()
    assert [row.split(",")[0] for row in evals[1:]] == ["400", "800", "1000"]


def test_a_run_that_ended_mid_episode_is_not_extended(tmp_path, capsys):
    spec_path = _write_spec(tmp_path, algorithm__total_steps=500)   # 200-step episodes
    out = tmp_path / "run"
    assert main(["train", str(spec_path), "--out", str(out), "--quiet",
                 "--backend", "float32"]) == 0
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert main(["train", str(spec_path), "--out", str(out), "--quiet", "--backend",
                 "float32", "--resume", "--steps", "800"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "in the middle of an episode" in err, err
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before
    # the same length resumes (a no-op on a finished run)
    assert main(["train", str(spec_path), "--out", str(out), "--quiet", "--backend",
                 "float32", "--resume"]) == 0


def test_errors_are_one_line_exit_2(tmp_path, capsys):
    spec_path = _write_spec(tmp_path)
    assert main(["train", str(spec_path), "--out", str(tmp_path / "none"), "--resume",
                 "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("fixar: error: ") and "\n" not in err
    bad_env = _write_spec(tmp_path, env__id="NoSuchEnv-v0")
    assert main(["train", str(bad_env), "--quiet"]) == 2
    assert "NoSuchEnv-v0" in capsys.readouterr().err


def test_corrupt_checkpoint_is_refused_and_kept(tmp_path, capsys):
    spec_path = _write_spec(tmp_path)
    out = tmp_path / "run"
    assert main(["train", str(spec_path), "--out", str(out), "--quiet"]) == 0
    current = (out / "checkpoint" / "CURRENT").read_text().strip()
    npz = out / "checkpoint" / current / "checkpoint.npz"
    data = bytearray(npz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    npz.write_bytes(bytes(data))
    before = npz.read_bytes()
    assert main(["train", str(spec_path), "--out", str(out), "--resume", "--quiet"]) == 2
    assert "checksum" in capsys.readouterr().err
    assert npz.read_bytes() == before              # the evidence is left alone


def test_plot_overlays_runs(tmp_path, capsys):
    spec_path = _write_spec(tmp_path)
    for backend in ("golden", "float32"):
        assert main(["train", str(spec_path), "--backend", backend, "--quiet",
                     "--out", str(tmp_path / backend)]) == 0
        assert (tmp_path / backend / "rewards.png").stat().st_size > 1000
    out = tmp_path / "both.png"
    assert main(["plot", str(tmp_path / "golden"), str(tmp_path / "float32"),
                 "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["plot", str(tmp_path / "nothing"), "-o", str(out)]) == 2
    assert "no metrics.csv" in capsys.readouterr().err


def test_missing_mujoco_extra_is_named(tmp_path, capsys):
    try:
        import mujoco  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("mujoco is installed here, so HalfCheetah-v5 can be created")
    # no --steps: the environment is created before the first step, and a short run
    # would be refused first (the spec's warm-up and QAT delay must fit in it)
    code = main(["train", str(Path(__file__).parents[2] / "examples" / "halfcheetah.yaml"),
                 "--quiet", "--out", str(tmp_path / "hc")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "HalfCheetah-v5" in err and "fixar_gen[mujoco]" in err
