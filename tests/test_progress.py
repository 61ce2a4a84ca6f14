"""Progress lines on stderr (fixar_gen.progress) and where the long operations write
them: cosim and verify on the RTL, sweeps.  (The Verilator build's lines are tested in
tests/hw/test_verilate.py, which needs the tool; a PyRTL cosim's lines in the same run as
its results, tests/hw/test_commands.py, since that run takes a minute.)"""

from __future__ import annotations

import io
import re
from types import SimpleNamespace

import pytest

from fixar_gen import progress as P
from fixar_gen.cli import main
from fixar_gen.hw import drivers
from fixar_gen.progress import Progress, task


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def every_update(monkeypatch):
    """No throttling: every update is written."""
    monkeypatch.setattr(P, "LIVE_EVERY", 0.0)
    monkeypatch.setattr(P, "LOG_EVERY", 0.0)


def test_the_mode_follows_the_terminal_and_fixar_progress(monkeypatch):
    monkeypatch.delenv("FIXAR_PROGRESS", raising=False)
    assert P.output_mode(Terminal()) == "live"
    assert P.output_mode(io.StringIO()) == "log"
    monkeypatch.setenv("FIXAR_PROGRESS", "0")
    assert P.output_mode(Terminal()) == "off"
    monkeypatch.setenv("FIXAR_PROGRESS", "1")
    assert P.output_mode(io.StringIO()) == "live"
    monkeypatch.setattr(P.sys, "stderr", None)              # no stderr: nothing to write to
    assert P.output_mode() == "off"
    monkeypatch.delenv("FIXAR_PROGRESS")
    assert P.output_mode() == "off"
    with task("building z"):
        pass


def test_a_live_line_is_rewritten_in_place_then_ended(monkeypatch, every_update):
    monkeypatch.delenv("FIXAR_PROGRESS", raising=False)
    out = Terminal()
    with Progress("cosim x", total=4, unit="updates", stream=out) as bar:
        bar.update(1)
        bar.update(2, note="update 3: 4,096 cycles simulated")
    text = out.getvalue()
    assert text.startswith("\rcosim x: 1/4 updates, ") and text.endswith("\n")
    assert text.count("\n") == 1
    lines = text.strip("\n").split("\r")[1:]
    assert re.fullmatch(r"cosim x: 2/4 updates, [\d.]+ s, .*update 3: 4,096 cycles simulated"
                        r" *", lines[1]), lines


def test_the_rate_reads_per_second_or_per_item(monkeypatch):
    bar = Progress("x", total=10, unit="updates", stream=io.StringIO())
    monkeypatch.setattr(P, "time", SimpleNamespace(monotonic=lambda: bar.started + 20.0))
    bar.done = 5
    assert bar.text() == "x: 5/10 updates, 20 s, 4.0 s per update"
    bar.done = 10 ** 4
    assert bar.text() == "x: 10,000/10 updates, 20 s, 500 updates/s"
    monkeypatch.setattr(P, "time", SimpleNamespace(monotonic=lambda: bar.started + 125.0))
    bar.note = "update 3"
    assert bar.text() == "x: 10,000/10 updates, 2 min 05 s, 80 updates/s, update 3"


def test_a_log_gets_a_line_only_when_it_is_time(monkeypatch):
    monkeypatch.delenv("FIXAR_PROGRESS", raising=False)
    out = io.StringIO()
    with Progress("sweep x", total=3, unit="points", stream=out) as bar:
        for i in range(3):
            bar.update(i + 1)
    assert out.getvalue() == ""                      # fast: silent in a log
    monkeypatch.setattr(P, "LOG_EVERY", 0.0)
    with Progress("sweep x", total=3, unit="points", stream=out) as bar:
        bar.update(1)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("sweep x: 1/3 points, ") and len(lines) == 2


def test_off_writes_nothing(monkeypatch, every_update):
    monkeypatch.setenv("FIXAR_PROGRESS", "0")
    out = Terminal()
    with task("building y", stream=out):
        with Progress("z", total=1, stream=out) as bar:
            bar.update(1)
    assert out.getvalue() == ""


def test_a_task_announces_itself_and_its_time_even_in_a_log(monkeypatch):
    monkeypatch.delenv("FIXAR_PROGRESS", raising=False)
    out = io.StringIO()
    with task("building model of top", "built model of top", stream=out):
        pass
    assert out.getvalue().splitlines()[0] == "building model of top ..."
    assert re.fullmatch(r"built model of top in [\d.]+ s", out.getvalue().splitlines()[1])
    out = io.StringIO()
    with pytest.raises(KeyError):
        with task("building model of top", stream=out):
            raise KeyError("x")
    assert re.fullmatch(r"building model of top: stopped after [\d.]+ s",
                        out.getvalue().splitlines()[-1])


def test_a_task_that_is_usually_quick_speaks_only_when_it_is_not(monkeypatch):
    monkeypatch.delenv("FIXAR_PROGRESS", raising=False)
    out = io.StringIO()
    with task("elaborating x", after=5.0, stream=out):
        pass
    assert out.getvalue() == ""
    with task("elaborating x", "elaborated x", after=0.01, stream=out):
        P.time.sleep(0.2)
    lines = out.getvalue().splitlines()
    assert lines[0] == "elaborating x ..." and lines[1].startswith("elaborated x in ")


def test_verify_shows_the_programs_checked(tiny, capsys, monkeypatch, every_update):
    monkeypatch.setenv("FIXAR_PROGRESS", "1")
    assert main(["verify", tiny, "--backend", "pyrtl", "--examples", "4"]) == 0
    err = capsys.readouterr().err
    assert "verify tiny: 4/4 programs" in err
    assert re.search(r"programs/s|per program", err), err


def test_a_sweep_shows_the_points_done(tiny, tmp_path, capsys, monkeypatch, every_update):
    monkeypatch.delenv("FIXAR_PROGRESS", raising=False)         # a log: lines
    assert main(["sweep", tiny, "--over", "cores=1,2,3", "--out", str(tmp_path / "sweep"),
                 "--engine", "local", "--jobs", "1"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [line.split(",")[0] for line in err if line.startswith("sweep tiny: ")] == [
        "sweep tiny: 1/3 points", "sweep tiny: 2/3 points", "sweep tiny: 3/3 points",
        "sweep tiny: 3/3 points"]


@pytest.mark.slow       # ~50 s (a Verilator build); a PyRTL cosim's lines stay (test_commands)
@pytest.mark.tools
def test_cosim_on_verilator_reports_cycles_between_slices(tiny_one_core, capsys,
                                                          monkeypatch, every_update,
                                                          verilator_tool):
    """The Verilator driver runs a long program in slices of 8 x PROGRESS_CYCLES to
    report between them; the results stay identical to the golden model's (the tiny
    spec's one-core twin: the slicing is the driver's, not the cores')."""
    monkeypatch.setenv("FIXAR_PROGRESS", "1")
    monkeypatch.setattr(drivers, "PROGRESS_CYCLES", 16)
    assert main(["cosim", tiny_one_core, "--backend", "verilator", "--updates", "1"]) == 0
    captured = capsys.readouterr()
    assert re.search(r"update 1: 1,\d{3} cycles simulated", captured.err), captured.err
    assert "update 1: 128 cycles simulated" in captured.err
    assert "all parameters, outputs and saturation counts identical" in captured.out
