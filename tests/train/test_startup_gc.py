"""``nnforge train`` and ``quickstart`` start with Python's garbage collector paused (nnforge.startup):
it must come back on after the first training step, and however the command ends."""

from __future__ import annotations

import gc

import numpy as np

import pytest

from nnforge.cli import main
from nnforge.train import run
from nnforge.train.trainer import Trainer
from tests.train.conftest import FAST, fast_config


@pytest.fixture
def gc_at_each_step(monkeypatch):
    """Whether the collector was on as each training step began."""
    seen: list[bool] = []
    step = Trainer.train_step

    def recording(self, x, y):
        seen.append(gc.isenabled())
        return step(self, x, y)

    monkeypatch.setattr(Trainer, "train_step", recording)
    return seen


def test_train_pauses_the_collector_for_start_up_only(tmp_path, gc_at_each_step):
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    args = ["train", "digits_mlp", "--out", str(tmp_path / "run"), *(x for kv in FAST for x in ("--set", kv)), "--set", "train.epochs=1"]
    assert main(args) == 0
    assert gc_at_each_step[0] is False  # paused from the command's start through its first step
    assert len(gc_at_each_step) > 2 and all(gc_at_each_step[1:])  # back on from the second step
    assert gc.isenabled()
    assert gc.get_freeze_count() > frozen  # what start-up made is frozen, not collected


def test_a_command_that_fails_before_training_turns_it_back_on(tmp_path, gc_at_each_step, capsys):
    args = ["train", "digits_mlp", "--out", str(tmp_path / "run"), "--set", "train.epochs=banana"]
    assert main(args) == 2
    assert "train.epochs" in capsys.readouterr().err
    assert gc_at_each_step == [] and gc.isenabled()


def test_the_python_api_leaves_the_collector_alone(tmp_path, gc_at_each_step):
    run(fast_config("train.epochs=1"), tmp_path / "run")
    assert gc_at_each_step and all(gc_at_each_step)
    gc.disable()  # a caller that turned it off itself keeps it off
    try:
        run(fast_config("train.epochs=1"), tmp_path / "run2")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_predict_pauses_it_only_to_load_the_model(tmp_path, monkeypatch, capsys):
    import nnforge.predictor
    from nnforge.predictor import Predictor

    run(fast_config("train.epochs=1"), tmp_path / "run")
    from sklearn.datasets import load_digits

    digits = load_digits()  # one real 8x8 digit, as a CSV with its header
    np.savetxt(tmp_path / "x.csv", digits.data[:1], delimiter=",", header=",".join(digits.feature_names), comments="")
    seen = []
    files = Predictor.predict_files

    def recording(self, paths):
        seen.append(gc.isenabled())
        return files(self, paths)

    load = nnforge.predictor.load

    def recording_load(path):
        seen.append(gc.isenabled())
        return load(path)

    monkeypatch.setattr(Predictor, "predict_files", recording)
    monkeypatch.setattr(nnforge.predictor, "load", recording_load)
    frozen = gc.get_freeze_count()
    assert main(["predict", str(tmp_path / "run"), str(tmp_path / "x.csv")]) == 0, capsys.readouterr().err
    assert seen == [False, True] and gc.isenabled() and gc.get_freeze_count() >= frozen


def test_seconds_since_start_counts_from_the_process_start_not_the_import():
    """The quickstart's wall time includes the interpreter's start and torch's import: a process that
    waits 0.6 s before importing nnforge.startup reads at least that much."""
    import subprocess
    import sys

    code = "import time; time.sleep(0.6); from nnforge.startup import seconds_since_start as s; print(s())"
    seconds = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    assert 0.6 <= seconds < 30
