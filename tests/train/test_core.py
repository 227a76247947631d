"""The one training core: every engine x task pair goes through one loop, with the same hooks, or is
refused in one line; keys are declared by allow-lists; --resume does what a requeued job needs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from nnforge.cli import main
from nnforge.config import leaf_paths, load_config
from nnforge.errors import ConfigError, RunError
from nnforge.train import Callback, fit
from nnforge.train.engines import ENGINES
from nnforge.train.keys import CORE
from nnforge.train.tasks import TASKS

CLASSIFY = ["data.name=digits", "model.name=mlp", "model.hidden=[16]", "train.epochs=2", "data.batch_size=256",
            "train.optimizer.name=adam", "train.optimizer.lr=0.01", "train.progress=none"]
REGRESS = ["task=regress", "data.name=diabetes", "model.name=mlp", "model.hidden=[8]", "train.epochs=2", "data.batch_size=128",
           "train.optimizer.name=adam", "train.optimizer.lr=0.01", "train.progress=none"]
FORECAST = ["task=forecast", "data.name=sunspots", "model.name=lstm", "model.hidden=8", "train.epochs=2", "data.batch_size=64",
            "train.optimizer.name=adam", "train.optimizer.lr=0.01", "train.progress=none"]
CONTRASTIVE = ["task=contrastive", "data.name=digits", "data.augment.rotate=15", "model.name=mlp", "model.hidden=[16]", "train.epochs=2",
               "data.batch_size=256", "train.optimizer.name=adam", "train.optimizer.lr=0.01", "train.progress=none"]
BASES = {"classify": CLASSIFY, "forecast": FORECAST, "regress": REGRESS, "contrastive": CONTRASTIVE}


class Recorder(Callback):
    def __init__(self):
        self.calls: list[str] = []

    def on_train_begin(self, trainer):
        self.calls.append("train_begin")

    def on_epoch_begin(self, trainer, epoch):
        self.calls.append(f"epoch_begin {epoch}")

    def on_after_backward(self, trainer):
        self.calls.append("after_backward")

    def on_batch_end(self, trainer, step, logs):
        self.calls.append(f"batch_end {step}")

    def on_epoch_end(self, trainer, epoch, logs):
        self.calls.append(f"epoch_end {epoch}")

    def on_train_end(self, trainer):
        self.calls.append("train_end")


def _expected(epochs: int, steps: int) -> list[str]:
    calls = ["train_begin"]
    for e in range(epochs):
        calls.append(f"epoch_begin {e}")
        for s in range(steps):
            calls += ["after_backward", f"batch_end {s}"]
        calls.append(f"epoch_end {e}")
    return calls + ["train_end"]


@pytest.mark.parametrize("engine, task", [("torch", "classify"), ("scratch", "classify"), ("torch", "forecast"), ("torch", "regress"),
                                          ("scratch", "regress"), ("torch", "contrastive")])
def test_every_hook_fires_in_order_for_each_engine_and_task(tmp_path, engine, task):
    base = BASES[task]
    recorder = Recorder()
    run = fit(load_config(None, [*base, f"engine={engine}"]), tmp_path / "run", callbacks=[recorder])
    steps = len([c for c in recorder.calls if c.startswith("batch_end")]) // 2
    assert steps > 1 and recorder.calls == _expected(2, steps)
    assert (tmp_path / "run" / "metrics.json").is_file() and (tmp_path / "run" / "checkpoints").is_dir()
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and all(r["val_loss"] is not None for r in rows)


@pytest.mark.parametrize("callbacks, words", [
    ([lambda trainer: None], "must subclass nnforge.train.Callback; got function"), (Recorder(), "a list of nnforge.train.Callback"),
    ([Recorder], r"pass Recorder\(\), not the class"),
])
def test_callbacks_that_are_not_callbacks_are_one_line_before_a_folder_exists(tmp_path, callbacks, words):
    # before: an AttributeError (or TypeError) traceback, after the data loaded, and a failed run folder left behind
    with pytest.raises(ConfigError, match=words.replace("; got", r".*; got")):
        fit(load_config(None, CLASSIFY), tmp_path / "run", callbacks=callbacks)
    assert not (tmp_path / "run").exists()


def test_train_fit_takes_a_recipe_name_or_path_as_nnforge_fit_does(tmp_path):
    # before: "'recipe' must be a mapping of keys, got 'no_such_recipe'" for any name or path
    with pytest.raises(ConfigError, match="recipe 'no_such_recipe' not found; pass a YAML file or one of: .*digits_mlp"):
        fit("no_such_recipe", tmp_path / "run")
    path = tmp_path / "r.yaml"
    path.write_text("data: {name: digits}\nmodel: {name: mlp, hidden: [4]}\ntrain: {epochs: 1, progress: none, checkpoint: {enabled: false}}\n")
    assert fit(str(path), tmp_path / "run").config.model["hidden"] == [4]


def test_a_callback_failing_in_on_exception_neither_hides_the_error_nor_silences_the_others(tmp_path):
    class Crash(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            raise ValueError("the real problem")

    class BadCleanup(Callback):
        def on_exception(self, trainer, exc):
            raise RuntimeError("cleanup broke")

    class Listener(Callback):
        heard = None

        def on_exception(self, trainer, exc):
            Listener.heard = exc

    # before: RuntimeError('cleanup broke') was raised and recorded in failed.json, and the callbacks after it
    # (the Listener here; nnforge's checkpoint writer and MLflow logger in a real run) never heard of the failure
    with pytest.raises(ValueError, match="the real problem") as err:
        fit(load_config(None, CLASSIFY), tmp_path / "run", callbacks=[Crash(), BadCleanup(), Listener()])
    assert Listener.heard is err.value and "BadCleanup.on_exception then failed too: RuntimeError: cleanup broke" in err.value.__notes__
    assert json.loads((tmp_path / "run" / "failed.json").read_text())["message"] == "the real problem"


def test_a_pair_no_engine_has_is_refused_in_one_line_before_a_folder_exists(tmp_path, capsys):
    assert main(["train", "sunspots_lstm", "--set", "engine=scratch", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "engine 'scratch' trains the models" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_every_schema_key_is_declared_by_an_engine_and_a_task_and_nothing_else_is():
    """The allow-lists name real keys, and a key added to the schema fails here until something implements it."""
    keys = set(leaf_paths()) - CORE
    for owners in (ENGINES.values(), TASKS.values()):
        declared = set().union(*(o.implements for o in owners))
        assert keys - declared == set(), f"schema keys no {owners} implements"
        assert declared - set(leaf_paths()) == set(), "declared keys that are not in the schema"


@pytest.mark.parametrize("override, owner", [
    ("train.freeze=[layers.0.*]", "engine 'scratch'"), ("train.scheduler.name=onecycle", "engine scratch"),
    ("train.optimizer.lr_mult={layers.0.*: 0.1}", "engine 'scratch'"),
])
def test_keys_the_scratch_engine_does_not_implement_are_refused(tmp_path, override, owner):
    with pytest.raises(ConfigError, match=owner):
        fit(load_config(None, [*CLASSIFY, "engine=scratch", override]), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_keys_a_forecast_does_not_have_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="task 'forecast' does not implement it"):
        fit(load_config(None, [*FORECAST, "data.augment.rotate=10"]), tmp_path / "run")
    with pytest.raises(ConfigError, match="accepted with task forecast: mse"):
        fit(load_config(None, [*FORECAST, "train.loss.name=cross_entropy"]), tmp_path / "run")


def test_a_forecast_without_a_test_window_says_to_raise_the_test_fraction(tmp_path):
    with pytest.raises(ConfigError, match=r"test_fraction 0 holds out 0 of the 309 values of 'sunspots', fewer than "
                                          r"forecast.horizon 1: no test window; raise forecast.test_fraction$"):
        fit(load_config(None, [*FORECAST, "forecast.test_fraction=0"]), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_a_forecast_recipe_resolves_to_the_loss_it_trains_with():
    assert load_config("nnforge/configs/sunspots_lstm.yaml").train.loss.name == "mse"
    assert load_config(None).train.loss.name == "cross_entropy"


def test_balanced_class_weights_are_the_same_on_both_engines_even_for_an_absent_class():
    from nnforge.train.engines.scratch_engine import build_loss as scratch_loss
    from nnforge.train.engines.torch_engine import build_loss as torch_loss
    from nnforge.train.tasks.base import TaskData
    from nnforge.data import load_dataset

    ds = load_dataset({"name": "digits"})
    keep = ds.y_train != 3  # class 3 never seen in training
    ds = type(ds)(**{**ds.__dict__, "x_train": ds.x_train[keep], "y_train": ds.y_train[keep]})
    recipe = load_config(None, ["data.name=digits", "train.loss.class_weight=balanced"])
    spec = TASKS["classify"]().loss_spec(recipe, TaskData(None, None, None, (1, 8, 8), 10, "image", dataset=ds))
    assert spec.class_weight[3] == 0 and spec.class_weight[0] > 0
    logits = np.random.default_rng(0).standard_normal((64, 10)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 10, 64)
    from nnforge import scratch

    ours = scratch_loss(spec)(scratch.tensor(logits), y).item()
    theirs = torch_loss(spec)(torch.from_numpy(logits), torch.from_numpy(y)).item()
    assert ours == pytest.approx(theirs, rel=1e-5)


def test_a_typed_recipe_cannot_be_changed_and_says_what_it_holds():
    recipe = load_config(None, CLASSIFY)
    with pytest.raises(Exception):
        recipe.train.epochs = 5
    hidden = recipe.model["hidden"]
    hidden.append(99)
    assert recipe.model["hidden"] == [16]
    changed = recipe.with_overrides({"train.epochs": 5})
    assert changed.train.epochs == 5 and recipe.train.epochs == 2
    with pytest.raises(ConfigError, match="did you mean 'epochs'"):
        recipe.with_overrides({"train.epoch": 5})


# -- resume --------------------------------------------------------------------------------

def test_resume_on_an_empty_folder_starts_and_on_a_finished_run_changes_nothing(tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "digits_mlp", "--out", str(run), "--resume", *sum((["--set", s] for s in CLASSIFY), [])]
    assert main(args) == 0 and (run / "metrics.json").is_file()  # nothing there: it starts
    before = {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()}
    capsys.readouterr()
    assert main(args) == 0  # complete: says so, exits 0
    assert capsys.readouterr().out == f"'{run}' is already complete; nothing to do\n"
    assert main([*args, "--set", "train.epochs=5"]) == 0  # before: the same words, as if 5 epochs had been trained
    assert capsys.readouterr().out == (f"'{run}' is already complete; nothing to do (train.epochs=5 does not extend a finished "
                                       f"run of 2: train a new one with another --out)\n")
    assert {p: p.stat().st_mtime_ns for p in run.rglob("*") if p.is_file()} == before


def test_resume_of_a_folder_that_does_not_exist_speaks_of_a_run(tmp_path, capsys):
    assert main(["train", "--resume", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert "run directory" in err and "recipe" not in err.split(";")[0]


@pytest.mark.parametrize("resume", [False, True])
@pytest.mark.parametrize("below", ["", "sub/run"])
def test_an_out_that_is_a_file_or_lies_under_one_is_one_line_and_the_file_is_kept(tmp_path, capsys, below, resume):
    """Before: mkdir's FileExistsError / NotADirectoryError traceback, after the data was loaded."""
    (tmp_path / "notes.txt").write_text("mine")
    out = tmp_path / "notes.txt" / below if below else tmp_path / "notes.txt"
    args = ["train", "digits_mlp", "--out", str(out), *(["--resume"] if resume else []), *sum((["--set", s] for s in CLASSIFY), [])]
    assert main(args) == 2
    assert capsys.readouterr().err == f"error: '{tmp_path / 'notes.txt'}' is a file, not a folder; choose another --out\n"
    assert (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc, where no folder can be made")
@pytest.mark.parametrize("resume", [False, True])
def test_an_out_that_is_a_dangling_link_is_named_as_one(tmp_path, capsys, resume):
    """--out runs/latest after its run was deleted: before, 'cannot create the run's lock file ...: File exists'
    once the data had loaded; now the link and where it points, before anything is loaded."""
    (tmp_path / "runs").mkdir()
    (tmp_path / "runs" / "latest").symlink_to("gone")
    out = tmp_path / "runs" / "latest"
    assert main(["train", "digits_mlp", "--out", str(out), *(["--resume"] if resume else [])]) == 2
    assert capsys.readouterr().err == f"error: '{out}' is a link to 'gone', which does not exist; choose another --out\n"
    assert os.readlink(out) == "gone"


def test_a_run_folder_that_cannot_be_made_is_a_storage_error():
    from nnforge.errors import StorageError
    from nnforge.rundir import RunLock

    with pytest.raises(StorageError, match="cannot create the run's lock file /proc/nnforge-run/.lock"):
        with RunLock(Path("/proc/nnforge-run")):
            pass


def test_a_run_directory_given_as_the_recipe_is_named_as_one(tmp_path, capsys, digits_run):
    """Before: 'recipe RUN not found', of a folder that is there."""
    assert main(["train", str(digits_run.dir)]) == 2
    assert capsys.readouterr().err == (f"error: '{digits_run.dir}' is a run directory, not a recipe; its recipe is "
                                       f"{digits_run.dir / 'config.yaml'} (to continue the run: nnforge train --resume {digits_run.dir})\n")
    assert main(["train", str(tmp_path)]) == 2
    assert capsys.readouterr().err.startswith(f"error: recipe '{tmp_path}' is a folder, not a recipe file; pass a YAML file or one of: ")


@pytest.mark.parametrize("nproc", ["0", "-2"])
def test_nproc_below_one_is_one_line(tmp_path, capsys, nproc):
    """Before: trained in one process without a word."""
    assert main(["train", "digits_mlp", "--nproc", nproc, "--out", str(tmp_path / "run")]) == 2
    assert capsys.readouterr().err == f"error: --nproc is {nproc}; accepted: 1 or more processes\n"
    assert not (tmp_path / "run").exists()


def _train(args):
    env = dict(os.environ, PYTHONHASHSEED="0")
    return subprocess.Popen([sys.executable, "-m", "nnforge.cli", "train", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


SLOW_RECIPE = """
seed: 1
deterministic: true
threads: 1
data: {name: mnist-sample, batch_size: 32, val_fraction: 0.1}
model: {name: mlp, hidden: [64]}
train: {epochs: 6, optimizer: {name: adam, lr: 0.001}, progress: lines}
"""


@pytest.mark.slow
def test_sigterm_writes_a_checkpoint_at_the_next_step_and_resume_continues_bit_identical(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(SLOW_RECIPE)
    ref, run = tmp_path / "ref", tmp_path / "run"
    reference = _train([recipe, "--out", ref])
    proc = _train([recipe, "--out", run])
    deadline = time.time() + 120
    while not (run / "metrics.jsonl").exists() and time.time() < deadline:  # the first epoch is done
        time.sleep(0.05)
    time.sleep(0.3)  # into the second epoch
    proc.send_signal(signal.SIGTERM)
    rc, err = proc.wait(timeout=120), proc.stderr.read()
    assert reference.wait(timeout=300) == 0, reference.stderr.read()
    assert rc == 130, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: SIGTERM: stopped at step") and f"continue with: nnforge train --resume {run}" in last
    assert not (run / "metrics.json").exists() and list((run / "checkpoints").glob("step-*.safetensors"))
    resumed = _train(["--resume", run])
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    from safetensors.torch import load_file

    want, got = load_file(str(ref / "model.safetensors")), load_file(str(run / "model.safetensors"))
    assert all(torch.equal(want[k], got[k]) for k in want)


def test_two_runs_on_one_folder_the_second_is_refused_naming_the_holder(tmp_path):
    from nnforge.rundir import RunLock

    with RunLock(tmp_path / "run"):
        with pytest.raises(RunError, match=f"PID {os.getpid()}"):
            with RunLock(tmp_path / "run"):
                pass
    with RunLock(tmp_path / "run"):  # released with its holder
        pass


def _finish_while_loading(monkeypatch, other_run: Path, out: Path):
    """Another `nnforge train` on ``out`` finishes (copying ``other_run`` there) while this one loads its data."""
    import shutil

    run_module = sys.modules["nnforge.train.run"]
    start = run_module._start

    def slow_start(*args):
        loaded = start(*args)
        shutil.copytree(other_run, out, dirs_exist_ok=True)
        return loaded

    monkeypatch.setattr(run_module, "_start", slow_start)


@pytest.mark.parametrize("resume", [False, True])
def test_a_run_another_process_finishes_while_this_one_starts_is_kept(tmp_path, monkeypatch, capsys, resume):
    """Two trains on one --out: the second took the lock only after the first had finished, and trained the
    finished run over again (resume: cut it back to the checkpoint it had planned from); now it is refused."""
    other, out = tmp_path / "other", tmp_path / "run"
    args = ["train", "digits_mlp", "--set", "train.epochs=1", "--set", "train.progress=none"]
    assert main([*args, "--out", str(other)]) == 0
    if resume:  # a run killed at its first checkpoint; the other process resumes and finishes it first
        assert main([*args, "--out", str(out), "--set", "train.epochs=2"]) == 0
        (out / "metrics.json").unlink()
        assert list((out / "checkpoints").glob("step-*"))
    capsys.readouterr()
    _finish_while_loading(monkeypatch, other, out)
    finished = (other / "metrics.json").read_bytes()
    assert main([*args, "--out", str(out), *(["--resume"] if resume else [])]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: '{out}' was written by another process while this run was starting") and err.count("\n") == 1, err
    assert (out / "metrics.json").read_bytes() == finished


def test_resume_of_a_run_still_training_before_its_first_checkpoint_leaves_its_files(tmp_path, capsys):
    """--resume on a run another process is training, before its first checkpoint: the in-use error, and the
    trainer's checkpoints/ (a write under way) kept; before, it was deleted as a crash's leftovers first."""
    from nnforge.rundir import RunLock

    run = tmp_path / "run"
    assert main(["train", "digits_mlp", "--out", str(run), "--set", "train.epochs=1", "--set", "train.progress=none"]) == 0
    for name in ("metrics.json", "model.json", "model.safetensors"):
        (run / name).unlink()
    for path in (run / "checkpoints").iterdir():
        path.unlink()
    (run / "checkpoints" / ".step-00000010.safetensors.tmp").write_bytes(b"being written")
    capsys.readouterr()
    with RunLock(run):  # the trainer
        assert main(["train", "--resume", str(run)]) == 2
    assert f"error: '{run}' is in use by a training run (PID {os.getpid()})" in capsys.readouterr().err
    assert (run / "checkpoints" / ".step-00000010.safetensors.tmp").read_bytes() == b"being written"
    assert main(["train", "--resume", str(run)]) == 0  # the trainer was killed: the run starts again, the leftover gone
    assert "stopped before its first checkpoint; starting it again" in capsys.readouterr().err
    assert (run / "metrics.json").is_file() and not (run / "checkpoints" / ".step-00000010.safetensors.tmp").exists()


def test_a_run_folder_that_cannot_hold_its_lock_is_one_line(tmp_path, capsys):
    """A run whose .lock is a folder: a StorageError naming the lock file, not a traceback (an --out under
    a file is refused before that, by check_empty: see test_an_out_that_is_a_file_or_lies_under_one_is_one_line...)."""
    run = tmp_path / "run"
    (run / ".lock").mkdir(parents=True)
    assert main(["train", "digits_mlp", "--out", str(run), "--set", "train.epochs=1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot create the run's lock file {run / '.lock'}") and err.count("\n") == 1, err
    assert [p.name for p in run.iterdir()] == [".lock"]


def test_tune_prunes_a_scratch_and_a_forecast_study(tmp_path):
    from nnforge.tune.search import run_study

    scratch = {"engine": "scratch", "seed": 0, "data": {"name": "digits", "batch_size": 128, "val_fraction": 0.2},
               "model": {"name": "mlp", "hidden": [16]}, "train": {"epochs": 3, "optimizer": {"name": "sgd", "lr": 0.05}},
               "tune": {"metric": "val_accuracy", "space": {"train.optimizer.lr": {"low": 1e-4, "high": 0.5, "log": True}}}}
    forecast = {"task": "forecast", "seed": 0, "data": {"name": "sunspots", "batch_size": 256, "val_fraction": 0.2},
                "model": {"name": "lstm", "hidden": 8}, "train": {"epochs": 3, "optimizer": {"name": "adam", "lr": 0.01}},
                "tune": {"metric": "val_loss", "space": {"train.optimizer.lr": {"low": 1e-5, "high": 0.05, "log": True}}}}
    for name, recipe in (("scratch", scratch), ("forecast", forecast)):
        result = run_study(recipe, tmp_path / name, trials=8, sampler="random", storage=f"sqlite:///{tmp_path / name}.db",
                           study_name=name, log=lambda _: None)
        states = [t.state.name for t in result.study.trials]
        assert "PRUNED" in states, (name, states)


def test_the_resume_command_a_stopped_run_prints_continues_it_with_its_set_keys(tmp_path, capsys):
    """Before: 'continue with: nnforge train RECIPE --out RUN --resume' left out the --set keys, so a
    run on another dataset (--set data.name=csv:...) was refused: 'data.name' differs from config.yaml."""
    import shlex

    path = tmp_path / "t.csv"
    path.write_text("a,kind,target\n" + "".join(f"{i % 7},{'xy'[i % 2]},{'no' if i % 3 else 'yes'}\n" for i in range(60)))
    out = tmp_path / "run"
    sets = [f"data.name=csv:{path}", "data.target=target", "train.max_time=0", *CLASSIFY[1:]]
    assert main(["train", "digits_mlp", "--out", str(out), *sum((["--set", s] for s in sets), [])]) == 0
    hint = capsys.readouterr().out.split("continue with: ")[1].splitlines()[0]
    assert main([*shlex.split(hint)[1:], "--set", "train.max_time=null"]) == 0, capsys.readouterr().err
    assert (out / "metrics.json").is_file()


def test_a_multi_step_forecast_plot_says_its_lines_are_one_step_ahead(tmp_path, monkeypatch):
    """With horizon 3 the title gave the MAE over 3 steps above lines drawn 1 step ahead: the naive line
    hugged the truth under a naive MAE twice the 1-step one."""
    from nnforge.train.tasks import forecast

    titles = []
    monkeypatch.setattr(forecast, "plot_forecast", lambda *args: titles.append(args[-1]))
    run = fit(load_config(None, [*FORECAST, "forecast.horizon=3", "train.epochs=1"]), tmp_path / "run")
    assert titles == [f"lstm forecast of sunspots: MAE {run.metrics['test_mae']:.2f} vs naive {run.metrics['naive_mae']:.2f} "
                      "over steps 1-3 (drawn: 1 step ahead)"]


def test_train_fit_names_the_run_directory_out_as_nnforge_fit_does(tmp_path):
    """``nnforge.fit(recipe, out=...)`` and ``nnforge.train.fit(recipe, out=...)``: before, the second
    took ``out_dir`` alone, and the first's keyword was a TypeError there."""
    import nnforge
    from nnforge.train import fit

    from .conftest import fast_config

    cfg = fast_config("train.epochs=1", "train.checkpoint.enabled=false")
    a, b = fit(cfg, out=tmp_path / "a"), nnforge.fit(cfg, out=tmp_path / "b")
    assert a.dir == tmp_path / "a" and b.dir == tmp_path / "b"
    assert a.metrics["test_accuracy"] == b.metrics["test_accuracy"]  # one recipe, one seed: one run
