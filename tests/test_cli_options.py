"""Every option value is checked by the parser: a bad one is refused with exit 2 and one
line naming the option, before any work starts; an output path that cannot be written
is refused the same way; anything unexpected is a traceback plus a line saying it is a
bug (exit 1)."""

import json
import os
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fixar_gen.cli import build_parser, main
from tests.conftest import examples

ROOT = Path(__file__).resolve().parents[1]
PENDULUM = str(ROOT / "examples" / "pendulum.yaml")


def refused(capsys, argv, option):
    """``argv`` exits 2 with one line on stderr that names ``option``."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and option in err and "Traceback" not in err, err
    return err


# (command line, the option the error must name): the cases the issue lists and the
# other numeric options of every command
BAD_VALUES = [
    (["train", PENDULUM, "--steps", "0"], "--steps"),
    (["train", PENDULUM, "--steps", "-5"], "--steps"),
    (["train", PENDULUM, "--steps", "ten"], "--steps"),
    (["train", PENDULUM, "--checkpoint-every", "0"], "--checkpoint-every"),
    (["train", PENDULUM, "--seed", "-1"], "--seed"),
    (["train", PENDULUM, "--seed", str(2**32)], "--seed"),
    (["train", PENDULUM, "--jobs", "0", "--seeds", "0-1"], "--jobs"),
    (["cosim", PENDULUM, "--updates", "0"], "--updates"),
    (["cosim", PENDULUM, "--seed", "-3"], "--seed"),
    (["verify", PENDULUM, "--examples", "0"], "--examples"),
    (["generate", PENDULUM, "--memory-words", "-1"], "--memory-words"),
    (["generate", PENDULUM, "--memory-words", "0"], "--memory-words"),
    (["compile", PENDULUM, "--batch", "-1"], "--batch"),
    (["compile", PENDULUM, "--batch", "0"], "--batch"),
    (["sweep", PENDULUM, "--over", "cores=1", "--jobs", "-2"], "--jobs"),
    (["train", PENDULUM, "--resume", "--overwrite"], "--overwrite"),
    (["experiment", PENDULUM, "--steps", "0"], "--steps"),
    (["experiment", PENDULUM, "--workers", "0"], "--workers"),
    (["experiment", PENDULUM, "--seeds", "2-1"], "--seeds"),
    (["experiment", PENDULUM, "--variants", "fp8"], "--variants"),
]


@pytest.mark.parametrize("argv,option", BAD_VALUES, ids=lambda v: " ".join(v)
                         if isinstance(v, list) else v)
def test_bad_value_is_one_line_naming_the_option(capsys, argv, option):
    refused(capsys, argv, option)


@settings(max_examples=examples(60), deadline=None)
@given(st.sampled_from([("train", "--steps", 1, 10**9),
                        ("train", "--checkpoint-every", 1, 10**9),
                        ("compile", "--batch", 1, 65_536),
                        ("cosim", "--updates", 1, 10**6),
                        ("verify", "--examples", 1, 10**6),
                        ("generate", "--memory-words", 2, 2**26)]),
       st.integers(-2**70, 2**70))
def test_integer_options_accept_exactly_their_range(option, value):
    command, flag, low, high = option
    parser = build_parser()
    if low <= value <= high:
        args = parser.parse_args([command, PENDULUM, flag, str(value)])
        assert getattr(args, flag.lstrip("-").replace("-", "_")) == value
    else:
        with pytest.raises(SystemExit) as stop:
            parser.parse_args([command, PENDULUM, flag, str(value)])
        assert stop.value.code == 2


@pytest.mark.parametrize("value", [0, 1, 10**9, 10**9 + 1])
def test_range_edges(value):
    parser = build_parser()
    ok = 1 <= value <= 10**9
    if ok:
        assert parser.parse_args(["train", PENDULUM, "--steps", str(value)]).steps == value
    else:
        with pytest.raises(SystemExit):
            parser.parse_args(["train", PENDULUM, "--steps", str(value)])


def test_steps_cannot_skip_the_qat_delay(tmp_path, capsys):
    """examples/pendulum.yaml switches to FXP16 after 3,000 updates: 2,000 steps with a
    1,000-step warm-up never would, so --steps 2000 is refused, naming --steps."""
    out = tmp_path / "run"
    assert main(["train", PENDULUM, "--steps", "2000", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--steps 2000" in err and "qat_delay" in err
    assert not out.exists()
    assert main(["train", PENDULUM, "--steps", "1000", "--out", str(out), "--quiet"]) == 2
    assert "warmup_steps" in capsys.readouterr().err


def _unwritable_folders(tmp_path):
    """Folders a write into must fail: under a file; /sys (read-only even for root);
    a folder without write permission (only when not running as root, who may write
    there anyway)."""
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    folders = [a_file / "out"]
    if Path("/sys").is_dir() and not os.access("/sys", os.W_OK):
        folders.append(Path("/sys/fixar-out"))
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        folders.append(locked / "out")
    return folders


@pytest.mark.parametrize("command", ["generate", "train", "sweep", "plot", "experiment"])
def test_output_that_cannot_be_written_is_one_line(tmp_path, capsys, command):
    for folder in _unwritable_folders(tmp_path):
        argv = {"generate": ["generate", PENDULUM, "-o", str(folder)],
                "train": ["train", PENDULUM, "--out", str(folder), "--quiet"],
                "sweep": ["sweep", PENDULUM, "--over", "cores=1", "--out", str(folder)],
                "plot": ["plot", str(tmp_path), "-o", str(folder / "r.png")],
                "experiment": ["experiment", PENDULUM, "-o", str(folder)]}[command]
        option = {"generate": "-o/--out", "train": "--out", "sweep": "--out",
                  "plot": "-o/--output", "experiment": "-o/--out"}[command]
        refused(capsys, argv, option)


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a mode-500 folder anyway")
def test_read_only_folder_is_refused(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    refused(capsys, ["generate", PENDULUM, "-o", str(locked / "out")], "-o/--out")


def _fake_run(folder: Path) -> Path:
    folder.mkdir()
    (folder / "metrics.csv").write_text(
        "step,episode,return,eval_return,precision,saturations,updates_per_s,steps_per_s\n"
        + "".join(f"{200 * (i + 1)},{i},{-1000 + 50 * i},,fxp32,0,,\n" for i in range(8)))
    return folder


def test_plot_into_a_folder_writes_a_file_inside_it(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="plot needs the plot extra (matplotlib)")
    run = _fake_run(tmp_path / "run")
    target = tmp_path / "figures"
    target.mkdir()
    assert main(["plot", str(run), "-o", str(target)]) == 0
    written = target / "rewards.png"
    assert capsys.readouterr().out.strip() == str(written)
    assert written.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not Path(f"{target}.png").exists()
    # a path ending in a slash names a folder too (created)
    assert main(["plot", str(run), "-o", f"{tmp_path / 'new'}/"]) == 0
    assert (tmp_path / "new" / "rewards.png").is_file()


def test_an_unexpected_error_is_a_traceback_and_a_bug_line(monkeypatch, capsys):
    import fixar_gen.cli as cli

    def broken(args):
        raise RuntimeError("an internal inconsistency")
    monkeypatch.setattr(cli, "cmd_schema", broken)
    code = main(["schema"])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" in err and "RuntimeError: an internal inconsistency" in err
    assert err.strip().splitlines()[-1].startswith("fixar: internal error:")
    assert "bug in fixar_gen" in err


def test_the_command_line_entry_point_exits_with_the_code(tmp_path):
    import subprocess
    proc = subprocess.run([sys.executable, "-m", "fixar_gen", "train", PENDULUM,
                           "--steps", "0"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "--steps" in proc.stderr


def test_the_documented_train_commands_are_accepted(monkeypatch):
    """Every `fixar train` line of docs/training.md passes the parser and the spec's
    check of the run length (its old `--steps 2000` example never reached FXP16)."""
    import shlex

    from fixar_gen import load_spec
    from fixar_gen.rl.trainer import with_run_length
    monkeypatch.chdir(ROOT)
    lines = [line.split("#")[0] for line in
             (ROOT / "docs" / "training.md").read_text(encoding="utf-8").splitlines()
             if line.startswith("fixar train ")]
    assert any("--steps" in line for line in lines)
    for line in lines:
        args = build_parser().parse_args(shlex.split(line)[1:])
        spec = with_run_length(load_spec(args.spec), seed=args.seed, total_steps=args.steps)
        if spec.numerics.precision == "qat":
            assert spec.numerics.qat_delay < spec.algorithm.total_updates, line


def test_compile_batch_obeys_the_spec_bounds(tmp_path, capsys):
    """--batch of the training step is checked like the spec's batch_size (the size
    bound, the board's memory fit and the replay buffer), naming --batch."""
    wide = tmp_path / "wide.yaml"
    wide.write_text("networks:\n  actor: {hidden: [1100]}\n  critic: {hidden: [1100]}\n"
                    "algorithm: {replay_size: 100000}\n", encoding="utf-8")
    assert main(["compile", str(wide), "--batch", "65536"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fixar: error: --batch 65536: ")
    assert "algorithm.batch_size" in err and "at most" in err
    u50 = str(ROOT / "examples" / "fixar_u50.yaml")
    assert main(["compile", u50, "--batch", "65536"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("fixar: error: --batch 65536: ")
    assert "do not fit the u50" in err
    assert main(["compile", u50, "--batch", "8", "--hex"]) == 0


@pytest.mark.parametrize("argv,option", [
    (["estimate", PENDULUM, "--cores", "0"], "--cores"),
    (["train", PENDULUM, "-o", "runs/x"], "-o runs/x"),
    (["compile", PENDULUM, "--format", "hexx"], "--format"),
])
def test_an_unknown_option_is_named_by_its_command(capsys, argv, option):
    err = refused(capsys, argv, option)
    assert err.startswith(f"fixar {argv[0]}: error: unrecognized arguments: "), err
    assert f"(see fixar {argv[0]} --help)" in err


def test_a_memory_smaller_than_the_programs_need_is_said(capsys, tmp_path, tiny):
    """--memory-words is a trial size for synthesis: below what the spec's programs need
    the command still writes the design, and says it cannot run them."""
    assert main(["generate", tiny, "-o", str(tmp_path / "g"),
                 "--memory-words", "3"]) == 0
    err = capsys.readouterr().err
    assert "warning: --memory-words 3: each data memory has 4 words, the spec's " \
           "programs need up to" in err and "cannot run them" in err
    report = json.loads((tmp_path / "g" / "report.json").read_text())
    assert report["memory"]["words"] == 4 < report["memory"]["words_needed"]


@pytest.mark.parametrize("value", ["two", "0", "-1"])
def test_a_bad_verilator_threads_variable_is_refused_before_any_work(
        monkeypatch, capsys, tmp_path, value):
    monkeypatch.setenv("FIXAR_VERILATOR_THREADS", value)
    out = tmp_path / "g"
    assert main(["generate", PENDULUM, "-o", str(out), "--verilate"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"fixar: error: FIXAR_VERILATOR_THREADS={value!r}: give a whole number "
                   "of threads, 1 or more"]
    assert not out.exists()
