"""Checkpoints that survive a crash at any instant and never pickle.

This module owns the on-disk checkpoint format, :func:`save_checkpoint`,
:func:`load_checkpoint` and :class:`CheckpointError`. A checkpoint directory looks like::

    checkpoint/
      CURRENT                   one line: the name of the complete generation, e.g. gen-000007
      gen-000007/
        checkpoint.npz          the arrays (the .npz format, numeric dtypes only)
        checkpoint.json         meta + each array's shape and dtype + SHA-256 of the npz
                                + the format version

Saving writes a *new* generation directory, fsyncs it, reads it back and verifies it
against what it was asked to write, and only then switches ``CURRENT`` with one atomic
``os.replace``; older generations are removed after the switch. A crash before the
switch leaves ``CURRENT`` naming the old, untouched generation; a crash after it leaves
it naming the new, complete one. A half-written generation is never named by
``CURRENT`` and is removed by the next successful save. ``keep`` > 1 keeps that many
complete generations (the current one and the newest before it, each with its
manifest and checksum), so that a run's earlier states can be loaded again:
:func:`load_checkpoint` of a ``gen-N`` directory loads that generation.

Loading reads ``CURRENT``, checks the version and the checksum, and reports any problem
as a one-line :class:`CheckpointError` naming the file. Arrays are read with
``allow_pickle=False``; saving refuses object, string and structured arrays.

One writer at a time per directory. A reader that races a writer retries when the
generation it was reading is switched away under it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np

FORMAT = "fixar_gen.checkpoint"
VERSION = 1
POINTER = "CURRENT"
ARRAYS_FILE = "checkpoint.npz"
META_FILE = "checkpoint.json"
GENERATION = re.compile(r"gen-(\d{6,})")
NUMERIC_KINDS = "biufc"   # bool, signed, unsigned, float, complex


class CheckpointError(Exception):
    """A checkpoint is missing, damaged or not one this version can read."""


# -- saving --------------------------------------------------------------------------


def save_checkpoint(directory, arrays: dict[str, np.ndarray], meta: dict,
                    keep: int = 1) -> Path:
    """Write ``arrays`` and ``meta`` as the new current checkpoint in ``directory``.

    ``meta`` must be JSON-serialisable (it comes back as JSON types: lists, not tuples).
    Returns the generation directory that now holds the checkpoint. If the new files
    cannot be read back intact, raises :class:`CheckpointError` and leaves the previous
    checkpoint current. ``keep``: the complete generations left afterwards (this one
    and the newest ``keep - 1`` before it; 1, the default, keeps only this one).
    """
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ValueError(f"save_checkpoint: keep {keep!r} is not a positive integer")
    arrays = _checked_arrays(arrays)
    if not isinstance(meta, dict):
        raise TypeError(f"save_checkpoint: meta is a {type(meta).__name__}, not a dict")
    meta_text = json.dumps(meta)  # fail on unserialisable meta before touching the disk
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)

    generation = _new_generation_directory(directory)
    try:
        # Nobody reads this directory until CURRENT names it, so the final file names
        # can be written directly; it is the temporary until the switch.
        _write_npz(generation / ARRAYS_FILE, arrays)
        _fsync_file(generation / ARRAYS_FILE)
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "npz_sha256": _sha256(generation / ARRAYS_FILE),
            "npz_bytes": (generation / ARRAYS_FILE).stat().st_size,
            "arrays": {name: {"shape": list(a.shape), "dtype": a.dtype.str}
                       for name, a in arrays.items()},
            "meta": json.loads(meta_text),
        }
        _write_text(generation / META_FILE, json.dumps(manifest, indent=1) + "\n")
        _fsync_directory(generation)
        _fsync_directory(directory)  # the generation's own entry
        _verify(generation, arrays)
    except BaseException:
        shutil.rmtree(generation, ignore_errors=True)
        raise

    # The switch: one atomic rename of a fully written, fsynced pointer file.
    pointer_tmp = directory / f"{POINTER}.tmp-{os.getpid()}"
    _write_text(pointer_tmp, generation.name + "\n")
    os.replace(pointer_tmp, directory / POINTER)
    _fsync_directory(directory)

    _remove_all_but(directory, generation.name, keep)
    return generation


def _checked_arrays(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    checked = {}
    for name, value in arrays.items():
        if not isinstance(name, str) or not name:
            raise TypeError(f"save_checkpoint: array name {name!r} is not a non-empty string")
        array = np.asarray(value)
        if array.dtype.kind not in NUMERIC_KINDS:
            raise TypeError(f"save_checkpoint: array {name!r} has dtype {array.dtype} "
                            "(only bool, integer, float and complex arrays are stored)")
        checked[name] = array
    return checked


def _new_generation_directory(directory: Path) -> Path:
    """A fresh ``gen-N`` directory, N above every generation present (even half-written
    ones left by a crash), so nothing of an earlier save is ever reused."""
    numbers = [int(m.group(1)) for p in directory.iterdir()
               if (m := GENERATION.fullmatch(p.name))]
    number = max(numbers, default=0) + 1
    while True:
        path = directory / f"gen-{number:06d}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            number += 1


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """The .npz layout of ``np.savez`` (one ``name.npy`` member per array, stored), with
    pickling refused. Written by hand because ``np.savez(f, **arrays)`` cannot store
    arrays named like its own parameters (``file``, ``allow_pickle``)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, array in arrays.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(generation: Path, arrays: dict[str, np.ndarray]) -> None:
    """Read the new generation back as a loader would and compare it bit for bit."""
    stored, _ = _load_generation(generation)
    for name, array in arrays.items():
        back = stored.get(name)
        if back is None or back.dtype != array.dtype or back.shape != array.shape \
                or back.tobytes() != array.tobytes():
            raise CheckpointError(f"{generation / ARRAYS_FILE}: array {name!r} did not read "
                                  "back as written; the previous checkpoint is kept")


def _remove_all_but(directory: Path, current: str, keep: int = 1) -> None:
    """Old generations beyond the ``keep`` newest complete ones (``current`` among
    them), half-written ones (no manifest) and stray pointer temporaries — nothing
    else."""
    number = int(GENERATION.fullmatch(current).group(1))
    earlier = sorted((int(m.group(1)), path) for path in directory.iterdir()
                     if (m := GENERATION.fullmatch(path.name)) and int(m.group(1)) < number
                     and (path / META_FILE).is_file())
    kept = {current}
    if keep > 1:
        kept |= {path.name for _, path in earlier[-(keep - 1):]}
    for path in directory.iterdir():
        if GENERATION.fullmatch(path.name) and path.name not in kept:
            shutil.rmtree(path, ignore_errors=True)
        elif path.name.startswith(f"{POINTER}.tmp-"):
            path.unlink(missing_ok=True)


# -- loading -------------------------------------------------------------------------


def load_checkpoint(directory) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays and meta of the current checkpoint in ``directory``, or of the
    generation ``directory`` is (a ``gen-N`` folder a save with ``keep`` left).

    Raises :class:`CheckpointError` (one line: the file and what is wrong) when there is
    no complete checkpoint or it is damaged.
    """
    directory = Path(directory)
    if GENERATION.fullmatch(directory.name) and (directory / META_FILE).is_file():
        return _load_generation(directory)
    for attempt in range(3):
        name = _read_pointer(directory)
        try:
            return _load_generation(directory / name)
        except CheckpointError:
            # Retry only if a writer switched CURRENT and removed this generation while
            # we were reading it; otherwise the damage is real.
            if attempt == 2 or _read_pointer(directory) == name:
                raise
    raise AssertionError("unreachable")


def current_meta(directory) -> dict | None:
    """The meta of the current checkpoint in ``directory`` from its manifest alone (the
    arrays neither read nor checked: for reports of a run still going), or None when
    there is none or it cannot be read."""
    directory = Path(directory)
    try:
        return _read_manifest(directory / _read_pointer(directory) / META_FILE)["meta"]
    except (CheckpointError, KeyError, TypeError):
        return None


def _read_pointer(directory: Path) -> str:
    path = directory / POINTER
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: missing (no checkpoint directory)")
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing (no complete checkpoint in {directory})") \
            from None
    except (OSError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path}: unreadable ({_one_line(error)})") from None
    if not GENERATION.fullmatch(text):
        raise CheckpointError(f"{path}: not a checkpoint pointer (expected a line like "
                              f"gen-000001, found {text[:40]!r})")
    return text


def _load_generation(generation: Path) -> tuple[dict[str, np.ndarray], dict]:
    manifest = _read_manifest(generation / META_FILE)
    npz = generation / ARRAYS_FILE
    try:
        size = npz.stat().st_size
    except FileNotFoundError:
        raise CheckpointError(f"{npz}: missing") from None
    expected = manifest["npz_bytes"]
    if size < expected:
        raise CheckpointError(f"{npz}: truncated ({size} of {expected} bytes)")
    if size > expected:
        raise CheckpointError(f"{npz}: {size} bytes, the manifest says {expected}")
    if _sha256(npz) != manifest["npz_sha256"]:
        raise CheckpointError(f"{npz}: checksum mismatch (the file was changed or "
                              "damaged after it was written)")
    try:
        with np.load(npz, allow_pickle=False) as stored:
            arrays = {name: stored[name] for name in stored.files}
    except Exception as error:  # noqa: BLE001 - any parse failure is a damaged file
        raise CheckpointError(f"{npz}: unreadable ({_one_line(error)})") from None

    listed = manifest["arrays"]
    if set(arrays) != set(listed):
        raise CheckpointError(f"{npz}: holds arrays {sorted(arrays)} but the manifest "
                              f"lists {sorted(listed)}")
    for name, array in arrays.items():
        if list(array.shape) != listed[name].get("shape") \
                or array.dtype.str != listed[name].get("dtype"):
            raise CheckpointError(f"{npz}: array {name!r} is {array.dtype.str}"
                                  f"{list(array.shape)}, the manifest says "
                                  f"{listed[name].get('dtype')}{listed[name].get('shape')}")
    return arrays, manifest["meta"]


def _read_manifest(path: Path) -> dict:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        raise CheckpointError(f"{path}: not a checkpoint (unreadable JSON: "
                              f"{_one_line(error)})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a checkpoint (no \"format\": \"{FORMAT}\")")
    if manifest.get("version") != VERSION:
        raise CheckpointError(f"{path}: written by unknown format version "
                              f"{manifest.get('version')!r} (this fixar_gen reads "
                              f"version {VERSION})")
    fields = {"npz_sha256": str, "npz_bytes": int, "arrays": dict, "meta": dict}
    for field, kind in fields.items():
        if not isinstance(manifest.get(field), kind):
            raise CheckpointError(f"{path}: not a checkpoint (field {field!r} missing or "
                                  f"not a {kind.__name__})")
    if not all(isinstance(v, dict) for v in manifest["arrays"].values()):
        raise CheckpointError(f"{path}: not a checkpoint (field 'arrays' is malformed)")
    return manifest


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__
