"""The first minutes: sample digits to predict on, runs/latest, globs that match several runs,
and the quickstart's next steps."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image
from nnforge.config import load_config

from nnforge.cli import main


def test_export_writes_real_test_digits_as_png(tmp_path, capsys):
    from nnforge.data import load_dataset

    assert main(["datasets", "--export", "mnist-sample", "--count", "10", str(tmp_path / "digits")]) == 0
    files = sorted((tmp_path / "digits").glob("*.png"))
    assert len(files) == 10
    ds = load_dataset({"name": "mnist-sample"})
    for i, path in enumerate(files):
        assert path.name == f"test-{i:04d}-label-{ds.classes[int(ds.y_test[i])]}.png"
        with Image.open(path) as im:
            assert im.format == "PNG" and im.size == (28, 28)
            assert np.array_equal(np.asarray(im), ds.x_test[i, 0].numpy())
    assert "wrote 10 test images" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["datasets", "--export", "iris-nope", "out"], "unknown dataset"),
    (["datasets", "--export", "mnist-sample", "--count", "0", "out"], "--count is 0"),
    (["datasets", "--export", "mnist-sample"], "needs a folder"),
])
def test_export_mistakes_are_one_line_errors(tmp_path, args, message):
    proc = subprocess.run([sys.executable, "-m", "nnforge.cli", *args], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.startswith("error: ") and message in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_export_into_a_folder_under_a_file_is_one_line(tmp_path, capsys):
    """Before: mkdir's NotADirectoryError traceback (a file was checked for only as the folder itself)."""
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["datasets", "--export", "digits", "--count", "2", str(tmp_path / "notes.txt" / "digits")]) == 2
    assert capsys.readouterr().err == f"error: '{tmp_path / 'notes.txt'}' is a file; pass a folder to write the images into\n"


def test_export_into_a_folder_that_cannot_be_made_or_of_a_table_is_one_line(tmp_path, capsys):
    """Before: mkdir's FileNotFoundError traceback under /proc, and for a CSV table a hint to pass
    --set data.target, which `datasets` does not take."""
    assert main(["datasets", "--export", "digits", "--count", "2", "/proc/nnforge-digits"]) == 2
    assert capsys.readouterr().err.startswith("error: cannot write /proc/nnforge-digits")
    (tmp_path / "t.csv").write_text("a,b,label\n1,2,x\n3,4,y\n")
    assert main(["datasets", "--export", f"csv:{tmp_path / 't.csv'}", str(tmp_path / "out")]) == 2
    assert "holds table rows, not images" in capsys.readouterr().err and not (tmp_path / "out").exists()


@pytest.fixture
def two_runs(tmp_path, digits_run):
    """Two default-named runs of one recipe, as two quickstarts leave them; the second is newer."""
    runs = tmp_path / "runs"
    older, newer = runs / "digits_mlp-20260101-120000", runs / "digits_mlp-20260102-090000-1"
    for i, run in enumerate((older, newer)):
        shutil.copytree(digits_run.dir, run)
        os.utime(run / "metrics.json", (1_800_000_000 + i, 1_800_000_000 + i))
    return tmp_path, older, newer


@pytest.mark.parametrize("command", [["eval"], ["report"], ["explain"], ["serve"], ["compress"], ["export"],
                                     ["predict", "END", "digit.png"]])
def test_a_glob_matching_several_runs_is_refused_naming_the_newest(two_runs, command):
    cwd, older, newer = two_runs
    args = [command[0], "runs/digits_mlp-20260101-120000", "runs/digits_mlp-20260102-090000-1", *command[2:]]
    proc = subprocess.run([sys.executable, "-m", "nnforge.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: runs/digits_mlp-* matched 2 runs; pass one: the newest is "
                                  "runs/digits_mlp-20260102-090000-1"), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_eval_latest_evaluates_the_newest_and_ensemble_combines(two_runs, capsys, monkeypatch):
    cwd, older, newer = two_runs
    monkeypatch.chdir(cwd)
    assert main(["eval", "--latest", str(older), str(newer)]) == 0
    assert capsys.readouterr().out.startswith(f"{newer} on digits")
    assert main(["eval", "--latest"]) == 0  # none given: the newest under runs/
    assert capsys.readouterr().out.startswith(f"{os.path.join('runs', newer.name)} on digits")
    assert main(["eval", "--ensemble", str(older), str(newer)]) == 0
    assert capsys.readouterr().out.startswith("ensemble of 2 runs")
    assert main(["eval", "runs/" + older.name]) == 0  # one run is never refused


def test_train_points_runs_latest_at_the_run_it_made(tmp_path, monkeypatch):
    from tests.conftest import quick_overrides

    monkeypatch.chdir(tmp_path)
    sets = [x for o in quick_overrides("train.epochs=1", "train.checkpoint.enabled=false") for x in ("--set", o)]
    (tmp_path / "elsewhere").mkdir()
    assert main(["train", "digits_mlp", "--out", "elsewhere/a", *sets]) == 0
    assert not (tmp_path / "elsewhere" / "latest").exists()  # only a folder named runs gets the link
    for name in ("a", "b"):
        assert main(["train", "digits_mlp", "--out", f"runs/{name}", *sets]) == 0
        assert os.readlink("runs/latest") == name
    assert main(["eval", "runs/latest"]) == 0


def test_a_latest_that_is_not_a_link_is_left_alone(tmp_path):
    from nnforge.rundir import update_latest_link

    (tmp_path / "runs" / "latest").mkdir(parents=True)
    (tmp_path / "runs" / "x").mkdir()
    assert update_latest_link(tmp_path / "runs" / "x") is None
    assert (tmp_path / "runs" / "latest").is_dir() and not (tmp_path / "runs" / "latest").is_symlink()


def test_the_quickstart_next_steps_are_commands_that_work(digits_run, tmp_path, capsys):
    from nnforge.cli import _next_steps

    run = tmp_path / "run"
    shutil.copytree(digits_run.dir, run)
    text = _next_steps(SimpleNamespace(dir=run), load_config(None, ["data.name=digits"]))
    commands = [shlex.split(line.split("#")[0]) for line in text.splitlines()[1:]]
    assert [c[:2] for c in commands] == [["nnforge", "predict"], ["nnforge", "report"], ["nnforge", "lesson"]]
    assert commands[0][2] == str(run) and (run / "samples").is_dir() and os.path.isfile(commands[0][3])
    for command in commands:
        assert main(command[1:]) == 0, command
    out = capsys.readouterr().out
    label = commands[0][3].rsplit("-", 1)[1].removesuffix(".png")
    assert f"{commands[0][3]}: {label} " in out  # the sample digit is predicted as its true label


def test_the_quickstart_ends_with_its_wall_time(tmp_path, capsys):
    """`make run` says how long the whole command took (start-up and evaluation included), not only
    the training, so the figure a user compares with the docs comes from the command's own output."""
    import re

    argv = ["quickstart", "--out", str(tmp_path / "run"), "--set", "train.epochs=1", "--set", "data.augment.clean_epochs=0",
            "--set", "data.train_fraction=0.1"]
    assert main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    trained = float(re.search(r"trained in ([0-9.]+) s", "\n".join(lines)).group(1))
    wall = float(re.fullmatch(r"done in ([0-9.]+) s of wall time, start-up and evaluation included", lines[-1]).group(1))
    assert wall >= trained
