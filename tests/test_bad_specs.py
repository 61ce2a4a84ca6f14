"""The corpus of bad specs: each file in tests/bad_specs/ starts with the exact error it
must produce, `# expect: LINE:COL: field: message` (the file name is prepended), and
`# schema: reject` when the JSON Schema alone must reject it too."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from fixar_gen import SpecError, load_spec

CORPUS = Path(__file__).parent / "bad_specs"
FILES = sorted(p for p in CORPUS.iterdir() if p.suffix in (".yaml", ".yml", ".py"))


def expectation(path: Path) -> tuple[str, bool]:
    head = path.read_bytes()[:4096].decode("utf-8", "replace").splitlines()
    expect = [line.split("expect:", 1)[1].strip() for line in head
              if line.startswith("# expect:")]
    assert len(expect) == 1, f"{path.name} needs exactly one '# expect:' line"
    return expect[0], any(line.strip() == "# schema: reject" for line in head)


def test_corpus_is_large_enough():
    assert len(FILES) >= 40


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_bad_spec_message(path: Path):
    expected, _ = expectation(path)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    assert str(info.value) == f"{path}:{expected}"


def test_cli_reports_every_bad_spec_with_exit_2(tmp_path):
    """One `fixar validate` run over the whole corpus: one located line per file on
    stderr, exit 2, and no traceback."""
    proc = subprocess.run([sys.executable, "-m", "fixar_gen", "validate", "-q",
                           *map(str, FILES)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == len(FILES)
    for path, line in zip(FILES, lines):
        assert re.match(r"^[^:]+:\d+:\d+: ", line), line
        assert line == f"{path}:{expectation(path)[0]}"
