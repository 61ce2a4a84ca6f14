"""Argument types of the ``fixar`` command: what every option accepts, checked by the
parser before any work starts.

Each type is a callable for ``argparse`` that returns the value or raises
``argparse.ArgumentTypeError`` with what is allowed; the parser (:class:`Parser`) turns
that into one line, ``fixar COMMAND: error: argument --steps: 0 is not allowed (an
integer from 1 to 1000000000)``, and exit code 2. Output paths are checked for
writability by creating (and at once removing) a temporary file in the nearest folder
that exists, so a path under a file, in a read-only folder or on a read-only file
system is refused before a run starts, not after it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Callable, NoReturn

from .experiment import parse_variants
from .sweep import SweepError, parse_seeds

EXIT_USAGE = 2


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors are one line (exit 2) naming the command."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def integer(low: int, high: int) -> Callable[[str], int]:
    """An integer from ``low`` to ``high``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not an integer (an integer from {low:,} to {high:,})") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(
                f"{value} is not allowed (an integer from {low:,} to {high:,})")
        return value
    parse.__name__ = "integer"          # argparse names the type in some messages
    return parse


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return Path(".")


def _check_folder_writable(path: Path, shown: str) -> None:
    """``path`` (a folder that may not exist yet) can be created and written."""
    existing = _nearest_existing(path)
    if not existing.is_dir():
        raise argparse.ArgumentTypeError(
            f"{shown}: {existing} is a file, not a folder (cannot create {path} under it)")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise argparse.ArgumentTypeError(
            f"{shown}: cannot write in {existing} ({exc.strerror or exc})") from None


def output_folder(text: str) -> str:
    """A folder to write into: it exists as a folder, or can be created."""
    if not text:
        raise argparse.ArgumentTypeError("an empty path (a folder to write into)")
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: is a file, not a folder")
    _check_folder_writable(path, text)
    return text


def output_file(default_name: str) -> Callable[[str], str]:
    """A file to write: an existing folder (or a path ending in ``/``) gets
    ``default_name`` inside it; the folder that holds the file must be writable."""
    def parse(text: str) -> str:
        if not text:
            raise argparse.ArgumentTypeError("an empty path (a file to write)")
        path = Path(text)
        if path.is_dir() or text.endswith(("/", os.sep)):
            path = path / default_name
        _check_folder_writable(path.parent, text)
        if path.is_dir():
            raise argparse.ArgumentTypeError(f"{path}: is a folder, not a file")
        return str(path)
    parse.__name__ = "output_file"
    return parse


def variant_list(text: str) -> list[str]:
    """``float32,qat``: training variants of `fixar experiment`."""
    try:
        return parse_variants(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def seed_list(text: str) -> list[int]:
    """``0-4``, ``0,3,7`` or ``0-2,10``: seeds, in order, each once."""
    try:
        return parse_seeds(text)
    except SweepError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix(f"--seeds {text}: ")) \
            from None


BUG_LINE = ("fixar: internal error: the traceback above is a bug in fixar_gen, not a "
            "mistake in the spec or the options; please report it with the command and "
            "the spec")


def print_bug(exc: BaseException) -> None:
    """An unexpected exception: its traceback, then one line saying it is a bug."""
    import traceback
    traceback.print_exception(exc, file=sys.stderr)
    print(BUG_LINE, file=sys.stderr)
