"""A run folder is never overwritten or resumed by another run: a second `fixar train`
into a folder holding a run (finished or partial) is refused unless --resume or
--overwrite, and --resume continues only when the whole resolved spec and the backend
equal what the checkpoint records, naming the first field that differs."""

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from fixar_gen.cli import main
from fixar_gen.rl.checkpoint import load_checkpoint, save_checkpoint
from fixar_gen.rl.run_settings import first_difference, settings_digest

SMALL = {
    "name": "small", "env": {"id": "Pendulum-v1", "seed": 2},
    "networks": {"actor": {"hidden": [8]}, "critic": {"hidden": [8]}},
    "algorithm": {"batch_size": 16, "warmup_steps": 200, "total_steps": 400,
                  "eval_every": 0, "eval_episodes": 1, "replay_size": 1000},
    "numerics": {"qat_delay": 50},
    "hardware": {"cores": 2, "array": [2, 2]},
}


def spec_file(tmp_path: Path, name: str = "small.yaml", **changes) -> str:
    data = json.loads(json.dumps(SMALL))
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = data
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return str(path)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def train(spec: str, out: Path, *extra: str) -> int:
    return main(["train", spec, "--out", str(out), "--quiet", *extra])


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One finished run, shared (the tests copy it before changing anything)."""
    tmp = tmp_path_factory.mktemp("finished")
    spec = spec_file(tmp)
    out = tmp / "run"
    assert train(spec, out, "--checkpoint-every", "200") == 0
    return spec, out


def copy_run(finished, tmp_path) -> Path:
    import shutil
    out = tmp_path / "run"
    shutil.copytree(finished[1], out)
    return out


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fixar: error: "), err
    return err


def test_a_second_train_into_a_finished_run_is_refused(finished, tmp_path, capsys):
    out = copy_run(finished, tmp_path)
    before = snapshot(out)
    assert train(finished[0], out) == 2
    err = one_line_error(capsys)
    assert "already holds a run" in err and "--resume" in err and "--overwrite" in err
    assert snapshot(out) == before


def test_a_partial_run_is_refused_too(finished, tmp_path, capsys):
    out = copy_run(finished, tmp_path)
    for name in ("metrics.csv", "summary.json", "rewards.png"):
        (out / name).unlink(missing_ok=True)       # as a run killed before its end
    before = snapshot(out)
    assert train(finished[0], out) == 2
    assert "checkpoint" in one_line_error(capsys)
    assert snapshot(out) == before


def test_overwrite_replaces_the_run_and_resume_of_a_finished_run_is_a_no_op(
        finished, tmp_path, capsys):
    out = copy_run(finished, tmp_path)
    (out / "notes.txt").write_text("mine")          # not a run output: kept
    assert train(finished[0], out, "--resume") == 0
    _, meta = load_checkpoint(out / "checkpoint")
    assert meta["step"] == 400
    other = spec_file(tmp_path, "other.yaml", env__seed=5)
    assert train(other, out, "--overwrite") == 0
    _, meta = load_checkpoint(out / "checkpoint")
    assert meta["settings"]["spec"]["env"]["seed"] == 5
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("changes,options,expected", [
    ({"numerics__weight": {"width": 32, "frac": 20}}, [],
     "numerics.weight.frac: 24 in the checkpoint, 20 now"),
    ({"algorithm__gamma": 0.9}, [], "algorithm.gamma: 0.99 in the checkpoint, 0.9 now"),
    ({"algorithm__critic_lr": 0.002}, [], "algorithm.critic_lr: 0.001 in the checkpoint"),
    ({"networks__critic__hidden": [16]}, [],
     "networks.critic.hidden[0]: 8 in the checkpoint, 16 now"),
    ({}, ["--steps", "300"], "a run of 300 steps (--steps) is shorter than the 400 steps "
     "the checkpoint reached"),
    ({"algorithm__gamma": 0.9}, ["--steps", "600"],
     "algorithm.gamma: 0.99 in the checkpoint, 0.9 now"),      # a longer run, changed
    ({}, ["--seed", "7"], "env.seed: 2 in the checkpoint, 7 now"),
    ({}, ["--backend", "float32"], "backend: golden in the checkpoint, float32 now"),
])
def test_resume_with_other_settings_names_the_first_difference(
        finished, tmp_path, capsys, changes, options, expected):
    out = copy_run(finished, tmp_path)
    before = snapshot(out)
    spec = spec_file(tmp_path, "changed.yaml", **changes)
    assert train(spec, out, "--resume", *options) == 2
    err = one_line_error(capsys)
    assert expected in err, err
    assert snapshot(out) == before


def test_resume_with_more_steps_extends_a_finished_run(finished, tmp_path, capsys):
    out = copy_run(finished, tmp_path)
    assert train(finished[0], out, "--resume", "--steps", "600") == 0
    assert "600 steps, 400 updates" in capsys.readouterr().out
    _, meta = load_checkpoint(out / "checkpoint")
    assert meta["step"] == 600 and meta["total_steps"] == 600
    assert meta["settings"]["spec"]["algorithm"]["total_steps"] == 600
    assert json.loads((out / "summary.json").read_text())["steps"] == 600


def _rewrite_meta(out: Path, edit) -> None:
    arrays, meta = load_checkpoint(out / "checkpoint")
    edit(meta)
    save_checkpoint(out / "checkpoint", arrays, meta)


def test_a_checkpoint_without_the_settings_digest_is_refused(finished, tmp_path, capsys):
    out = copy_run(finished, tmp_path)
    _rewrite_meta(out, lambda meta: (meta.pop("settings"), meta.pop("settings_sha256")))
    assert train(finished[0], out, "--resume") == 2
    err = one_line_error(capsys)
    assert "older fixar_gen" in err and "--overwrite" in err


def test_edited_settings_do_not_pass_as_the_same_run(finished, tmp_path, capsys):
    out = copy_run(finished, tmp_path)
    _rewrite_meta(out, lambda meta: meta["settings"]["spec"]["algorithm"].update(gamma=0.5))
    assert train(finished[0], out, "--resume") == 2
    assert "digest" in one_line_error(capsys)


leaves = st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=3),
                   st.booleans(), st.none())
trees = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=3),
    st.dictionaries(st.text("abc", min_size=1, max_size=2), inner, max_size=3)),
    max_leaves=12)


@given(trees)
def test_first_difference_of_equal_settings_is_none(tree):
    assert first_difference(tree, json.loads(json.dumps(tree))) is None


@given(st.dictionaries(st.text("abc", min_size=1, max_size=2), leaves, min_size=1),
       st.data())
def test_first_difference_names_the_changed_field(tree, data):
    key = data.draw(st.sampled_from(sorted(tree)))
    changed = {**tree, key: ["changed"]}
    found = first_difference({"spec": tree}, {"spec": changed})
    assert found is not None and found.startswith(f"spec.{key}: ")


def _written_before_the_field(meta: dict) -> None:
    """The checkpoint of an older fixar_gen: no ``hardware.vector_lanes`` recorded."""
    del meta["settings"]["spec"]["hardware"]["vector_lanes"]
    meta["settings_sha256"] = settings_digest(meta["settings"])


def test_a_checkpoint_from_before_a_new_spec_field_resumes_at_its_default(
        finished, tmp_path, capsys):
    out = copy_run(finished, tmp_path)
    _rewrite_meta(out, _written_before_the_field)
    assert train(finished[0], out, "--resume", "--steps", "600") == 0
    capsys.readouterr()


def test_a_checkpoint_from_before_a_new_spec_field_refuses_another_value(
        finished, tmp_path, capsys):
    out = copy_run(finished, tmp_path)
    _rewrite_meta(out, _written_before_the_field)
    before = snapshot(out)
    spec = spec_file(tmp_path, "lanes.yaml", hardware__vector_lanes=1)
    assert train(spec, out, "--resume") == 2
    err = one_line_error(capsys)
    assert "hardware.vector_lanes: null in the checkpoint, 1 now" in err, err
    assert snapshot(out) == before
