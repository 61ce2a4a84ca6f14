"""Checkpoints: exact round trips, survival of SIGKILL mid-write, clear errors, no pickle."""

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from fixar_gen.rl import checkpoint as ckpt
from fixar_gen.rl.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from fixar_gen.rl.replay import ReplayBuffer


def sample_arrays() -> dict[str, np.ndarray]:
    return {
        "actor.l0.w": np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32),
        "raw": np.arange(-5, 7, dtype=np.int64).reshape(3, 4),
        "flags": np.array([True, False, True]),
        "z": np.array([1 + 2j, -3j]),
        "scalar": np.array(2.5),
        "empty": np.zeros((0, 3), np.uint16),
        "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
        "file": np.array([1.0]),            # names np.savez could not take
        "allow_pickle": np.array([2.0]),
    }


def assert_same_arrays(got: dict, expected: dict) -> None:
    assert set(got) == set(expected)
    for name, array in expected.items():
        assert got[name].dtype == array.dtype, name
        np.testing.assert_array_equal(got[name], array, err_msg=name)


def only_current_generation(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def test_round_trip_of_arrays_and_meta(tmp_path):
    arrays = sample_arrays()
    meta = {"step": 12, "nested": {"rows": [[1, 0.5], [2, None]], "name": "π"}, "f": 1e-300}
    generation = save_checkpoint(tmp_path / "run", arrays, meta)
    assert generation.parent == tmp_path / "run"
    got, got_meta = load_checkpoint(tmp_path / "run")
    assert_same_arrays(got, arrays)
    assert got_meta == meta


def test_manifest_records_shapes_dtypes_checksum_and_version(tmp_path):
    generation = save_checkpoint(tmp_path, {"w": np.zeros((2, 5), np.float32)}, {"a": 1})
    manifest = json.loads((generation / "checkpoint.json").read_text())
    assert manifest["format"] == ckpt.FORMAT and manifest["version"] == ckpt.VERSION
    assert manifest["arrays"] == {"w": {"shape": [2, 5], "dtype": "<f4"}}
    assert len(manifest["npz_sha256"]) == 64
    assert manifest["meta"] == {"a": 1}


def test_a_new_save_replaces_the_old_and_cleans_up(tmp_path):
    for version in range(3):
        save_checkpoint(tmp_path, {"v": np.array([version])}, {"version": version})
    arrays, meta = load_checkpoint(tmp_path)
    assert meta == {"version": 2} and arrays["v"][0] == 2
    assert only_current_generation(tmp_path) == ["CURRENT", "gen-000003"]


def test_keep_leaves_the_newest_complete_generations_each_loadable(tmp_path):
    """keep=3: after five saves the three newest generations are left, CURRENT names
    the newest, and each older one loads by its folder with its own arrays; a
    half-written generation (no manifest) goes at the next save whatever keep says."""
    for i in range(5):
        save_checkpoint(tmp_path, {"x": np.full(3, i)}, {"i": i}, keep=3)
    gens = sorted(p.name for p in tmp_path.glob("gen-*"))
    assert gens == ["gen-000003", "gen-000004", "gen-000005"]
    assert (tmp_path / "CURRENT").read_text().strip() == "gen-000005"
    for name, i in zip(gens, (2, 3, 4)):
        arrays, meta = load_checkpoint(tmp_path / name)
        assert meta == {"i": i} and arrays["x"].tolist() == [i] * 3
    assert load_checkpoint(tmp_path)[1] == {"i": 4}
    (tmp_path / "gen-000004" / ckpt.META_FILE).unlink()        # as if never finished
    (tmp_path / "gen-000009").mkdir()                           # half-written, above
    save_checkpoint(tmp_path, {"x": np.zeros(1)}, {"i": 5}, keep=3)
    assert sorted(p.name for p in tmp_path.glob("gen-*")) == [
        "gen-000003", "gen-000005", "gen-000010"]
    save_checkpoint(tmp_path, {"x": np.zeros(1)}, {"i": 6})     # keep=1: only the new one
    assert sorted(p.name for p in tmp_path.glob("gen-*")) == ["gen-000011"]
    for bad in (0, -1, True, 2.0):
        with pytest.raises(ValueError, match="keep"):
            save_checkpoint(tmp_path, {"x": np.zeros(1)}, {}, keep=bad)


def test_replay_state_survives_a_checkpoint_exactly(tmp_path):
    buffer = ReplayBuffer(7, 3, 2)
    for i in range(11):
        buffer.add(np.full(3, i), np.full(2, -i), i, np.full(3, i + 1), i % 2)
    save_checkpoint(tmp_path, buffer.state_dict(), {})
    restored = ReplayBuffer(7, 3, 2)
    restored.load_state_dict(load_checkpoint(tmp_path)[0])
    assert_same_arrays(restored.state_dict(), buffer.state_dict())


# -- crashes ------------------------------------------------------------------------

# Saves ~50 MB checkpoints forever, announcing each before and after.
WRITER = """
import itertools, sys
import numpy as np
from fixar_gen.rl.checkpoint import save_checkpoint

directory, first = sys.argv[1], int(sys.argv[2])
base = np.arange(6_250_000, dtype=np.float64)
for version in itertools.count(first):
    print("start", version, flush=True)
    save_checkpoint(directory, {"big": base + version, "version": np.array(version)},
                    {"version": version})
    print("done", version, flush=True)
"""


def assert_complete_version(directory: Path, allowed: set[int]) -> int:
    arrays, meta = load_checkpoint(directory)
    version = meta["version"]
    assert version in allowed
    assert arrays["version"] == version
    big = arrays["big"]
    assert big.shape == (6_250_000,)
    # the whole array, not just its ends: every element is its index + version
    np.testing.assert_array_equal(big - np.arange(big.size, dtype=np.float64), version)
    return version


def test_sigkill_during_saves_always_leaves_a_complete_checkpoint(tmp_path):
    directory = tmp_path / "checkpoint"
    save_checkpoint(directory, {"big": np.arange(6_250_000, dtype=np.float64),
                                "version": np.array(0)}, {"version": 0})
    last_done, next_version, interrupted = 0, 1, 0
    delays = np.random.default_rng(2021).uniform(0.0, 1.2, size=6)
    for delay in delays:
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(directory),
                                   str(next_version)], stdout=subprocess.PIPE, text=True)
        try:
            assert writer.stdout.readline().split() == ["start", str(next_version)]
            time.sleep(delay)
        finally:
            writer.send_signal(signal.SIGKILL)
            writer.wait()
        events = [line.split() for line in
                  [f"start {next_version}", *writer.stdout.read().splitlines()]]
        writer.stdout.close()
        assert writer.returncode == -signal.SIGKILL
        started = [int(v) for kind, v in events if kind == "start"]
        done = [int(v) for kind, v in events if kind == "done"]
        in_flight = set(started) - set(done)
        interrupted += bool(in_flight)
        last_done = max(done, default=last_done)
        # the last finished save, or the one in flight if it got past its switch
        version = assert_complete_version(directory, {last_done} | in_flight)
        last_done, next_version = version, max(started) + 1
    assert interrupted >= 1, "no kill landed inside a save; the test proved nothing"

    # the next good save removes whatever the killed writers left half-done
    save_checkpoint(directory, {"v": np.array(1)}, {})
    current = (directory / "CURRENT").read_text().strip()
    assert only_current_generation(directory) == ["CURRENT", current]


def test_a_save_that_does_not_read_back_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    save_checkpoint(tmp_path, {"w": np.arange(1000.0)}, {"good": True})

    real_write = ckpt._write_npz

    def write_then_truncate(path, arrays):   # a disk that loses the end of the file
        real_write(path, arrays)
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)

    monkeypatch.setattr(ckpt, "_write_npz", write_then_truncate)
    with pytest.raises(CheckpointError):
        save_checkpoint(tmp_path, {"w": np.zeros(1000)}, {"good": False})
    arrays, meta = load_checkpoint(tmp_path)
    assert meta == {"good": True}
    np.testing.assert_array_equal(arrays["w"], np.arange(1000.0))
    assert only_current_generation(tmp_path) == ["CURRENT", "gen-000001"]


def test_unserialisable_meta_is_refused_before_anything_is_written(tmp_path):
    save_checkpoint(tmp_path, {"w": np.ones(3)}, {"n": 1})
    before = only_current_generation(tmp_path)
    with pytest.raises(TypeError):
        save_checkpoint(tmp_path, {"w": np.ones(3)}, {"n": object()})
    assert only_current_generation(tmp_path) == before
    assert load_checkpoint(tmp_path)[1] == {"n": 1}


# -- damaged checkpoints -------------------------------------------------------------


def _generation(directory: Path) -> Path:
    return directory / (directory / "CURRENT").read_text().strip()


def truncate_npz(d):
    npz = _generation(d) / "checkpoint.npz"
    npz.write_bytes(npz.read_bytes()[:-100])
    return npz


def flip_a_byte(d):
    npz = _generation(d) / "checkpoint.npz"
    data = bytearray(npz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    npz.write_bytes(bytes(data))
    return npz


def remove(name):
    def damage(d):
        path = _generation(d) / name
        path.unlink()
        return path
    return damage


def rewrite_json(change):
    def damage(d):
        path = _generation(d) / "checkpoint.json"
        path.write_text(change(path.read_text()))
        return path
    return damage


def set_version(text):
    manifest = json.loads(text)
    manifest["version"] = 99
    return json.dumps(manifest)


def drop_format(text):
    manifest = json.loads(text)
    del manifest["format"]
    return json.dumps(manifest)


def drop_checksum(text):
    manifest = json.loads(text)
    del manifest["npz_sha256"]
    return json.dumps(manifest)


def garbage_pointer(d):
    (d / "CURRENT").write_text("../../etc\n")
    return d / "CURRENT"


def remove_pointer(d):
    (d / "CURRENT").unlink()
    return d / "CURRENT"


@pytest.mark.parametrize("damage, problem", [
    (truncate_npz, "truncated"),
    (flip_a_byte, "checksum mismatch"),
    (remove("checkpoint.npz"), "missing"),
    (remove("checkpoint.json"), "missing"),
    (rewrite_json(lambda text: text[: len(text) // 2]), "not a checkpoint"),
    (rewrite_json(lambda text: "\x00\xff binary"), "not a checkpoint"),
    (rewrite_json(lambda text: "[1, 2]"), "not a checkpoint"),
    (rewrite_json(drop_format), "not a checkpoint"),
    (rewrite_json(drop_checksum), "not a checkpoint"),
    (rewrite_json(set_version), "unknown format version 99"),
    (garbage_pointer, "not a checkpoint pointer"),
    (remove_pointer, "missing"),
], ids=lambda v: getattr(v, "__name__", v))
def test_damage_gives_a_one_line_error_naming_the_file(tmp_path, damage, problem):
    save_checkpoint(tmp_path, sample_arrays(), {"x": 1})
    path = damage(tmp_path)
    with pytest.raises(CheckpointError) as error:
        load_checkpoint(tmp_path)
    message = str(error.value)
    assert message.startswith(f"{path}: ") and problem in message
    assert "\n" not in message
    # nothing chained: a user sees this line, not a KeyError's traceback
    assert error.value.__cause__ is None
    assert error.value.__context__ is None or error.value.__suppress_context__


def test_no_checkpoint_directory(tmp_path):
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(tmp_path / "nowhere")
    with pytest.raises(CheckpointError, match=r"CURRENT: missing \(no complete checkpoint"):
        load_checkpoint(tmp_path)


# -- no pickle -----------------------------------------------------------------------


def test_saving_refuses_arrays_that_would_need_pickle_or_are_not_numeric(tmp_path):
    for bad in (np.array([{"a": 1}], dtype=object), np.array(["text"]),
                np.zeros(2, dtype=[("a", "f4")])):
        with pytest.raises(TypeError, match="only bool, integer, float and complex"):
            save_checkpoint(tmp_path, {"bad": bad}, {})
    assert not (tmp_path / "CURRENT").exists()


def test_npz_holds_no_object_arrays_and_load_never_allows_pickle(tmp_path, monkeypatch):
    generation = save_checkpoint(tmp_path, sample_arrays(), {})
    with zipfile.ZipFile(generation / "checkpoint.npz") as zf:
        for member in zf.namelist():
            with zf.open(member) as f:
                version = np.lib.format.read_magic(f)
                read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                               else np.lib.format.read_array_header_2_0)
                _shape, _fortran, dtype = read_header(f)
                assert not dtype.hasobject, member

    calls = []
    real_load = np.load

    def spy(*args, **kwargs):
        calls.append(kwargs.get("allow_pickle"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(np, "load", spy)
    save_checkpoint(tmp_path, sample_arrays(), {})   # verifies by reading back
    load_checkpoint(tmp_path)
    assert calls and all(allowed is False for allowed in calls)


def test_a_smuggled_object_array_is_refused_not_unpickled(tmp_path):
    """A checkpoint whose checksum is right but which holds a pickle is still refused."""
    generation = save_checkpoint(tmp_path, {"w": np.ones(2)}, {})
    npz = generation / "checkpoint.npz"
    with zipfile.ZipFile(npz, "w") as zf, zf.open("w.npy", "w") as member:
        np.lib.format.write_array(member, np.array([print], dtype=object), allow_pickle=True)
    manifest = json.loads((generation / "checkpoint.json").read_text())
    manifest["npz_sha256"] = ckpt._sha256(npz)
    manifest["npz_bytes"] = npz.stat().st_size
    (generation / "checkpoint.json").write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match=r"checkpoint.npz: unreadable .*allow_pickle"):
        load_checkpoint(tmp_path)
