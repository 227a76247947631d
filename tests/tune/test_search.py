"""Real studies on digits: validation-judged, resumable after an interruption, shareable by two processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from nnforge.config import load_config
from nnforge.tune.search import run_study

BASE = {"seed": 0, "data": {"name": "digits", "batch_size": 64, "val_fraction": 0.2},
        "model": {"name": "mlp", "hidden": [16]},
        "train": {"epochs": 2, "optimizer": {"name": "sgd", "lr": 0.01}, "progress": "none"}}


def _recipe(space, **tune):
    return {**BASE, "tune": {"space": space, **tune}}


def _trials(storage, name):
    return optuna.load_study(study_name=name, storage=storage).get_trials()


@pytest.mark.slow
def test_tpe_search_resumes_after_an_interruption_without_repeating_trials(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    recipe = _recipe({"train.optimizer.lr": {"low": 0.001, "high": 0.5, "log": True},
                      "train.optimizer.name": {"choices": ["sgd", "adam"]}})
    lines = []

    def interrupting_log(line):
        lines.append(line)
        if line.startswith("trial 2:"):
            raise KeyboardInterrupt  # Ctrl-C in the middle of trial 2

    with pytest.raises(KeyboardInterrupt):
        run_study(recipe, tmp_path / "out", trials=4, sampler="tpe", storage=storage, study_name="s", log=interrupting_log)
    before = _trials(storage, "s")
    assert [t.state for t in before] == [TrialState.COMPLETE, TrialState.COMPLETE, TrialState.FAIL]

    result = run_study(recipe, tmp_path / "out", trials=4, sampler="tpe", storage=storage, study_name="s", log=lines.append)
    after = _trials(storage, "s")
    finished = [t for t in after if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    assert len(finished) == 4 and [t.number for t in after] == [0, 1, 2, 3, 4]
    for old, new in zip(before[:2], after[:2]):  # finished trials were read back, not rerun
        assert (old.value, old.params, old.datetime_complete) == (new.value, new.params, new.datetime_complete)
    assert sum(line.startswith(("trial 0:", "trial 1:")) for line in lines) == 2

    # trial 0 is the recipe as given (sgd, lr 0.01); the search is never worse than it
    assert after[0].user_attrs["baseline"] and after[0].params == {"train.optimizer.lr": 0.01, "train.optimizer.name": "sgd"}
    assert result.best_value >= result.baseline_value
    assert result.best_value == max(t.value for t in finished if t.state == TrialState.COMPLETE)
    # every trial was judged on validation accuracy, taken from its own run directory
    for t in finished:
        history = [json.loads(line) for line in open(os.path.join(t.user_attrs["run_dir"], "metrics.jsonl"))]
        if t.state == TrialState.COMPLETE:
            assert t.value == pytest.approx(history[-1]["val_accuracy"])
    best = load_config(result.best_recipe)  # a ready recipe
    assert best.train.optimizer.lr == pytest.approx(result.best_params["train.optimizer.lr"])
    assert best.tune == {}
    assert (tmp_path / "out" / "history.png").stat().st_size > 0 and (tmp_path / "out" / "importances.png").exists()


@pytest.mark.slow
def test_the_median_pruner_stops_a_trial_that_trails(tmp_path):
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    recipe = _recipe({"train.optimizer.lr": {"choices": [0.2, 0.1, 0.05, 0.00001]}}, baseline=False)
    recipe = {**recipe, "train": {**recipe.get("train", {}), "epochs": 3}}
    study = optuna.create_study(study_name="p", storage=storage, direction="maximize")
    for lr in (0.2, 0.1, 0.05, 0.00001):  # the hopeless learning rate comes last
        study.enqueue_trial({"train.optimizer.lr": lr})
    run_study(recipe, tmp_path / "out", trials=4, sampler="random", storage=storage, study_name="p", log=lambda _: None)
    trials = _trials(storage, "p")
    assert [t.state for t in trials] == [TrialState.COMPLETE] * 3 + [TrialState.PRUNED]
    epochs = sum(1 for _ in open(os.path.join(trials[-1].user_attrs["run_dir"], "metrics.jsonl")))
    assert epochs < 3  # stopped early, yet a complete run directory
    assert os.path.exists(os.path.join(trials[-1].user_attrs["run_dir"], "model.json"))


@pytest.mark.slow
def test_two_processes_share_one_sqlite_study_without_running_a_trial_twice(tmp_path):
    recipe = _recipe({"train.optimizer.lr": {"low": 0.001, "high": 0.5, "log": True},
                      "model.hidden": {"choices": [[8], [16], [32]]}}, pruner="none")
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    worker = os.path.join(os.path.dirname(__file__), "two_workers.py")  # each worker's first trial waits for the other's
    cmd = [sys.executable, worker, "tune", str(path), "--trials", "6", "--sampler", "random",
           "--storage", storage, "--study", "shared", "--out", str(tmp_path / "out")]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    workers = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env) for _ in range(2)]
    outputs = [w.communicate(timeout=300)[0] for w in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs
    trials = _trials(storage, "shared")
    finished = [t for t in trials if t.state == TrialState.COMPLETE]
    assert 6 <= len(finished) <= 7  # a worker may finish the trial it had started when the 6th completed
    numbers = [t.number for t in trials]
    assert len(numbers) == len(set(numbers))
    params = [json.dumps(t.params, sort_keys=True) for t in finished]
    assert len(params) == len(set(params))  # no configuration was trained twice
    dirs = [t.user_attrs["run_dir"] for t in finished]
    assert len(set(dirs)) == len(dirs) and all(os.path.exists(os.path.join(d, "model.json")) for d in dirs)
    assert len({t.user_attrs["worker"] for t in finished}) == 2  # both processes did work, side by side


@pytest.mark.parametrize("where", ["missing/folder/study.db", "notes.txt", "."])
def test_a_storage_that_cannot_be_opened_is_one_line_at_once(tmp_path, where):
    """A folder that does not exist, a file that is not a database, a folder: no retries, no traceback."""
    from nnforge.errors import StorageError
    from nnforge.tune.search import make_storage

    (tmp_path / "notes.txt").write_text("not a database\n")
    url = f"sqlite:///{tmp_path / where}"
    with pytest.raises(StorageError, match="--storage .* cannot be opened .*sqlite:///study.db"):
        make_storage(url)


def test_a_storage_error_hides_the_password(monkeypatch):
    from sqlalchemy.exc import OperationalError

    from nnforge.errors import StorageError
    from nnforge.tune import search

    def refuse(*args, **kwargs):
        raise OperationalError("connect", {}, Exception("connection refused"))

    monkeypatch.setattr(optuna.storages, "RDBStorage", refuse)
    with pytest.raises(StorageError, match="connection refused") as info:
        search.make_storage("postgresql://me:s3cret@127.0.0.1:1/db")
    assert "s3cret" not in str(info.value)


@pytest.mark.parametrize("new", [{"choices": [0.01, 0.1]}, {"low": 0.001, "high": 0.3}])
def test_resuming_a_study_with_a_different_space_is_one_line_before_any_trial(tmp_path, new):
    """The study's trial drew train.optimizer.lr from a log range; choices (or a linear range) now
    would make Optuna raise mid-trial, and the old trial's value would not decode."""
    from nnforge.errors import ConfigError

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    study.add_trial(optuna.trial.create_trial(
        params={"train.optimizer.lr": 0.05}, value=0.5,
        distributions={"train.optimizer.lr": optuna.distributions.FloatDistribution(0.001, 0.3, log=True)}))
    for trials in (1, 3):  # nothing left to run (summary only), and more to run
        with pytest.raises(ConfigError, match="searched tune.space.train.optimizer.lr as a range 0.001..0.3 .log."):
            run_study(_recipe({"train.optimizer.lr": new}), tmp_path / "out", trials=trials, storage=storage, study_name="s",
                      log=lambda _: None)
    assert not (tmp_path / "out" / "trial-001").exists()


def test_resuming_a_study_with_new_bounds_keeps_its_trials(tmp_path):
    """A range's bounds may change between runs of a study (Optuna allows it)."""
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    study.add_trial(optuna.trial.create_trial(
        params={"train.optimizer.lr": 0.05}, value=0.5,
        distributions={"train.optimizer.lr": optuna.distributions.FloatDistribution(0.001, 0.3, log=True)}))
    result = run_study(_recipe({"train.optimizer.lr": {"low": 0.01, "high": 0.5, "log": True}}), tmp_path / "out", trials=1,
                       storage=storage, study_name="s", log=lambda _: None)
    assert result.best_params == {"train.optimizer.lr": 0.05}


def test_an_out_folder_with_trials_of_another_study_is_one_line_before_any_trial(tmp_path):
    """A deleted study.db (or another --study) with the same --out: the new study's trial 0 stopped on
    'trial-000 already holds a run; ... --resume' (an option tune does not have) after Optuna's traceback."""
    from nnforge.errors import RunError

    (tmp_path / "out" / "trial-000").mkdir(parents=True)
    (tmp_path / "out" / "trial-000" / "config.yaml").write_text("seed: 0\n")
    storage = f"sqlite:///{tmp_path / 'fresh.db'}"
    with pytest.raises(RunError, match="'.*out' holds trial runs \\(trial-000\\) that study 's' in .* did not make"):
        run_study(_recipe({"train.optimizer.lr": {"low": 0.001, "high": 0.1}}), tmp_path / "out", trials=1, storage=storage,
                  study_name="s", log=lambda _: None)
    assert all(t.state == TrialState.WAITING for t in _trials(storage, "s"))  # no trial was started (the baseline waits)


def test_a_signal_during_a_trial_is_one_line_naming_the_tune_command(tmp_path, monkeypatch, capsys):
    """SIGINT or SIGTERM while a trial trains: the run stops at a step (as a train would), and the command
    ends with one line that says to rerun the tune command. It printed Optuna's "Trial 0 failed" warning
    with a traceback, then the trial run's own hint (`nnforge train trial-000/... --resume`), which would
    finish a run the study never hears of."""
    import logging
    import signal

    from nnforge.cli import main
    from nnforge.train.trainer import Trainer

    step = Trainer.train_step

    def signalled(self, x, y):
        os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, handled by the run's StopOnSignal at the step's end
        return step(self, x, y)

    monkeypatch.setattr(Trainer, "train_step", signalled)
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("optuna").addHandler(handler)
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(_recipe({"train.optimizer.lr": {"low": 0.001, "high": 0.5, "log": True}})))
    try:
        code = main(["tune", str(path), "--trials", "2", "--storage", f"sqlite:///{tmp_path / 'study.db'}",
                     "--out", str(tmp_path / "out")])
    finally:
        logging.getLogger("optuna").removeHandler(handler)
    err = capsys.readouterr().err
    assert code == 130
    assert err.strip().splitlines() == [("error: SIGINT: the search stopped during trial 0; its finished trials are kept in the "
                                         "study: run the same `nnforge tune` command again to continue")]
    assert not [r for r in records if "failed" in r.getMessage()]
    # the same command again: the study goes on, and the recipe's own trial it stopped in runs again
    monkeypatch.undo()
    assert main(["tune", str(path), "--trials", "2", "--storage", f"sqlite:///{tmp_path / 'study.db'}",
                 "--out", str(tmp_path / "out")]) == 0
    assert "the recipe as given" in capsys.readouterr().out
    trials = _trials(f"sqlite:///{tmp_path / 'study.db'}", "recipe")
    assert [(t.user_attrs.get("baseline", False), t.state.name) for t in trials if t.state.name == "COMPLETE"].count((True, "COMPLETE")) == 1


def test_a_forecast_trial_is_scored_by_the_epoch_its_model_keeps(tmp_path):
    """A forecaster keeps its best validation epoch, but its trial was scored by its last: a trial
    whose model was good enough was ranked by a worse epoch it did not keep."""
    recipe = {"task": "forecast", "seed": 0, "threads": 1, "forecast": {"window": 6},
              "data": {"name": "sunspots", "batch_size": 32, "val_fraction": 0.2}, "model": {"name": "lstm", "hidden": 4},
              "train": {"epochs": 3, "optimizer": {"name": "adam", "lr": 1.0}, "progress": "none"},
              "tune": {"space": {"train.optimizer.lr": {"choices": [1.0]}}}}
    result = run_study(recipe, tmp_path / "s", 1, storage=f"sqlite:///{tmp_path / 's.db'}", log=lambda _: None)
    history = [json.loads(line)["val_loss"] for line in (tmp_path / "s" / "trial-000" / "metrics.jsonl").read_text().splitlines()]
    assert history[-1] > min(history)  # this recipe's validation loss rises after its best epoch
    assert result.study.best_value == pytest.approx(min(history))


def test_the_kept_epoch_is_the_best_one_only_where_the_run_restores_it():
    from nnforge.train.run import kept_epoch

    history = [{"epoch": 1, "val_loss": 0.5, "val_accuracy": 0.8}, {"epoch": 2, "val_loss": 0.3, "val_accuracy": 0.9},
               {"epoch": 3, "val_loss": 0.4, "val_accuracy": 0.85}]
    forecast = {"task": "forecast", "data": {"name": "sunspots"}, "model": {"name": "lstm"}}
    assert kept_epoch(forecast, history)["epoch"] == 2
    assert kept_epoch({"task": "regress", "data": {"name": "diabetes"}}, history)["epoch"] == 2
    assert kept_epoch(BASE, history)["epoch"] == 3  # a classifier keeps its last epoch
    stopping = {**BASE, "train": {**BASE["train"], "early_stopping": {"patience": 5}}}
    assert kept_epoch(stopping, history)["epoch"] == 2
    no_restore = {**BASE, "train": {**BASE["train"], "early_stopping": {"patience": 5, "restore_best": False}}}
    assert kept_epoch(no_restore, history)["epoch"] == 3


def test_resuming_a_study_with_another_recipe_or_cv_is_one_line_before_any_trial(tmp_path):
    """The study's trial trained 1 epoch; a rerun with train.epochs=2 ran its new trials with 2 epochs, ranked
    them with the old one, and wrote the old best trial's values into best.yaml with epochs: 2 (a score that
    recipe never had). A rerun that only changes how a worker runs or what it logs (threads, train.progress,
    train.loggers) goes on."""
    from nnforge.errors import ConfigError

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    recipe = _recipe({"train.optimizer.lr": {"low": 0.001, "high": 0.1, "log": True}})
    recipe["train"] = {**recipe["train"], "epochs": 1}
    run_study(recipe, tmp_path / "out", trials=1, storage=storage, study_name="s", log=lambda _: None)
    longer = {**recipe, "train": {**recipe["train"], "epochs": 2}}
    with pytest.raises(ConfigError, match="study 's' in .* ran its trials with train.epochs = 1; this run gives 2"):
        run_study(longer, tmp_path / "out", trials=2, storage=storage, study_name="s", log=lambda _: None)
    with pytest.raises(ConfigError, match="ran its trials with --cv = none \\(scored on the validation split\\); this run gives 3"):
        run_study(recipe, tmp_path / "out", trials=1, storage=storage, study_name="s", log=lambda _: None, cv=3)
    assert len(_trials(storage, "s")) == 1 and not (tmp_path / "out" / "trial-001").exists()
    shown = {**recipe, "threads": 1, "train": {**recipe["train"], "progress": "lines", "loggers": ["csv"]}}
    assert run_study(shown, tmp_path / "out", trials=1, storage=storage, study_name="s", log=lambda _: None).best_value is not None
    assert "epochs: 1" in (tmp_path / "out" / "best.yaml").read_text()
    # train.epochs searched from now on: the study's trial trained 1 epoch, which the recipe must still give
    widened = {**recipe, "tune": {"space": {**recipe["tune"]["space"], "train.epochs": {"low": 1, "high": 2}}}}
    assert run_study(widened, tmp_path / "out", trials=1, storage=storage, study_name="s", log=lambda _: None).best_value is not None
    widened["train"] = longer["train"]
    with pytest.raises(ConfigError, match="ran its trials with train.epochs = 1; this run gives 2"):
        run_study(widened, tmp_path / "out", trials=1, storage=storage, study_name="s", log=lambda _: None)


def test_a_grid_search_trains_the_recipes_own_values_once_and_every_grid_point(tmp_path):
    """The recipe's own values were queued as trial 0 and the grid sampler, which does not count a queued
    trial, trained them again: `--trials 2` over a grid of 2 trained lr 0.01 twice and never tried 0.1
    (diabetes_mlp_tune --trials 6 --sampler grid left out its best point). Now the grid's own trial of those
    values is the recipe as given. A rerun asking for more trials than the grid holds runs none."""
    recipe = _recipe({"train.optimizer.lr": {"choices": [0.01, 0.1]}})  # seed 0 shuffles the grid to 0.1, 0.01
    recipe["train"] = {**recipe["train"], "epochs": 1}
    result = run_study(recipe, tmp_path / "out", trials=2, sampler="grid", storage=f"sqlite:///{tmp_path / 'study.db'}",
                       study_name="s", log=lambda _: None)
    trials = _trials(f"sqlite:///{tmp_path / 'study.db'}", "s")
    assert sorted(t.params["train.optimizer.lr"] for t in trials) == [0.01, 0.1]
    assert [t.params["train.optimizer.lr"] for t in trials if t.user_attrs.get("baseline")] == [0.01]
    assert result.baseline_value == next(t.value for t in trials if t.params["train.optimizer.lr"] == 0.01)
    # asked for more than the grid holds: Optuna warned that it re-evaluates a configuration and trained one again
    lines = []
    run_study(recipe, tmp_path / "out", trials=3, sampler="grid", storage=f"sqlite:///{tmp_path / 'study.db'}", study_name="s",
              log=lines.append)
    assert len(_trials(f"sqlite:///{tmp_path / 'study.db'}", "s")) == 2
    assert lines == ["study 's' has tried all 2 points of its grid (2 finished trials; asked for 3); nothing to run"]


def test_a_grid_search_stopped_during_a_trial_resumes_to_every_grid_point(tmp_path, monkeypatch):
    """Ctrl-C during a grid's trial: Optuna's grid counts the failed trial's point as visited, and the rerun
    ordered the grid by another seed, so it trained a point again, never the stopped one, and ended with 2
    of the 3 points. Now the stopped point is queued again and the rerun orders the grid as the study did."""
    import nnforge.train
    from nnforge.train.signals import Interrupted

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    recipe = _recipe({"train.optimizer.lr": {"choices": [0.01, 0.1, 0.3]}}, baseline=False)
    recipe["train"] = {**recipe["train"], "epochs": 1}
    real, calls = nnforge.train.run, []

    def stopped_in_the_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise Interrupted("SIGINT: stopped")
        return real(*args, **kwargs)

    monkeypatch.setattr(nnforge.train, "run", stopped_in_the_second)
    with pytest.raises(Interrupted):
        run_study(recipe, tmp_path / "out", trials=3, sampler="grid", storage=storage, study_name="s", log=lambda _: None)
    monkeypatch.undo()
    run_study(recipe, tmp_path / "out", trials=3, sampler="grid", storage=storage, study_name="s", log=lambda _: None)
    done = [t.params["train.optimizer.lr"] for t in _trials(storage, "s") if t.state == TrialState.COMPLETE]
    assert sorted(done) == [0.01, 0.1, 0.3]


def test_the_recipes_own_values_are_found_on_a_grid_of_computed_floats():
    """A step grid holds 0.1 + 2 * 0.1 = 0.30000000000000004 and a log grid exp(log(0.001)) = 0.0010000000000000002:
    a recipe's 0.3 or 0.001 is that grid point (else it is queued besides the grid and trained twice)."""
    from nnforge.tune.search import _grid_point
    from nnforge.tune.space import parse_tune

    spec = parse_tune({"space": {"train.optimizer.lr": {"low": 0.1, "high": 0.5, "step": 0.1},
                                 "train.optimizer.weight_decay": {"low": 0.001, "high": 0.1, "log": True},
                                 "model.hidden": {"choices": [[8], [16]]}}})
    point = _grid_point(spec, {"train.optimizer.lr": 0.3, "train.optimizer.weight_decay": 0.001, "model.hidden": "[16]"})
    assert point == {"train.optimizer.lr": spec.grid()["train.optimizer.lr"][2],
                     "train.optimizer.weight_decay": spec.grid()["train.optimizer.weight_decay"][0], "model.hidden": "[16]"}
    assert _grid_point(spec, {"train.optimizer.lr": 0.35, "train.optimizer.weight_decay": 0.001, "model.hidden": "[16]"}) is None


@pytest.mark.parametrize("lr, epochs, queued", [(0.3, 3, True), (0.25, 3, False), (0.3, 2, False)])
def test_the_recipes_own_values_between_a_ranges_steps_are_not_queued(lr, epochs, queued):
    """lr 0.25 in {low: 0.1, high: 0.5, step: 0.1} (or 2 epochs in 1..3 step 2) was queued as trial 0: Optuna
    printed two 'UserWarning: Fixed parameter ... is out of range' with its file paths, and the study held a
    value none of its trials can draw. Only values on a step are the recipe's own trial."""
    from nnforge.config import resolve
    from nnforge.tune.search import _encode_baseline
    from nnforge.tune.space import parse_tune

    spec = parse_tune({"space": {"train.optimizer.lr": {"low": 0.1, "high": 0.5, "step": 0.1},
                                 "train.epochs": {"low": 1, "high": 3, "step": 2}}})
    recipe = resolve({**BASE, "train": {**BASE["train"], "epochs": epochs, "optimizer": {"name": "sgd", "lr": lr}}})
    assert (_encode_baseline(spec, recipe) is not None) is queued


def test_a_single_objective_search_on_an_architecture_searchs_study_is_one_line(tmp_path):
    """digits_nas run again without tune.objectives: Optuna's RuntimeError 'A single direction cannot be
    retrieved from a multi-objective study', with a traceback."""
    from nnforge.errors import UserError

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    optuna.create_study(study_name="s", storage=storage, directions=["maximize", "minimize"])
    with pytest.raises(UserError, match="study 's' in .* weighs 2 objectives .*; the recipe has one, tune.metric"):
        run_study(_recipe({"train.optimizer.lr": {"low": 0.001, "high": 0.1}}), tmp_path / "out", trials=1, storage=storage,
                  study_name="s", log=lambda _: None)


def test_a_study_whose_trials_all_failed_takes_the_corrected_recipe(tmp_path, monkeypatch):
    """Its first trial failed on the recipe's mistake: the corrected recipe reruns the same study (nothing of
    the old recipe was scored), and from then on the study keeps the corrected one."""
    import nnforge.train
    from nnforge.errors import RunError

    def failing(*args, **kwargs):
        raise RunError("the data is on fire")

    monkeypatch.setattr(nnforge.train, "run", failing)
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    recipe = _recipe({"train.optimizer.lr": {"low": 0.001, "high": 0.1}})
    for epochs in (1, 2):  # the rerun with other epochs reaches its trial (which fails again), not a refusal
        with pytest.raises(RunError, match="the data is on fire"):
            run_study({**recipe, "train": {**recipe["train"], "epochs": epochs}}, tmp_path / "out", trials=1, storage=storage,
                      study_name="s", log=lambda _: None)
    assert optuna.load_study(study_name="s", storage=storage).user_attrs["recipe"]["train.epochs"] == 2


def _stuck_in_its_first_trial(recipe, out, storage, started):
    """A worker (a forked process) whose first trial never ends: it says so, then waits to be killed."""
    import time

    import nnforge.train

    def stuck(*args, **kwargs):
        open(started, "w").close()
        time.sleep(600)

    nnforge.train.run = stuck
    run_study(recipe, out, trials=3, sampler="grid", storage=storage, study_name="s", log=lambda _: None)


def _scored_by_its_lr(config, run_dir, **kwargs):
    """A stand-in for a trial's training run (the sampler and the storage are under test, not training)."""
    from types import SimpleNamespace

    return SimpleNamespace(history=[{"epoch": 1, "val_accuracy": config.train.optimizer.lr}], metrics={})


def test_a_grid_point_of_a_killed_worker_is_trained_by_the_next_run(tmp_path, monkeypatch):
    """A worker killed (SIGKILL) during a grid's trial: its trial stayed running until a later worker found
    its heartbeat stale and marked it failed, which Optuna's grid counts as a visited point: the rerun
    trained the 2 other points and the study ended without the killed one. Now the lost trial's point is
    queued again, and the study holds every point of its grid."""
    import multiprocessing
    import signal
    import sqlite3
    import time

    import nnforge.train
    import nnforge.tune.plots

    storage = f"sqlite:///{tmp_path / 'study.db'}"
    recipe = _recipe({"train.optimizer.lr": {"choices": [0.01, 0.1, 0.3]}}, baseline=False)
    started = tmp_path / "started"
    worker = multiprocessing.get_context("fork").Process(target=_stuck_in_its_first_trial,
                                                        args=(recipe, tmp_path / "out", storage, started))
    worker.start()
    deadline = time.monotonic() + 60
    while not started.exists() and worker.is_alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert started.exists()
    os.kill(worker.pid, signal.SIGKILL)
    worker.join()
    assert [t.state for t in _trials(storage, "s")] == [TrialState.RUNNING]
    with sqlite3.connect(tmp_path / "study.db") as db:  # its last heartbeat, an hour ago: past the grace period
        db.execute("UPDATE trial_heartbeats SET heartbeat = datetime('now', '-1 hour')")
    monkeypatch.setattr(nnforge.train, "run", _scored_by_its_lr)
    monkeypatch.setattr(nnforge.tune.plots, "plot_history", lambda *args: None)
    monkeypatch.setattr(nnforge.tune.plots, "plot_importances", lambda *args: {})
    run_study(recipe, tmp_path / "out", trials=3, sampler="grid", storage=storage, study_name="s", log=lambda _: None)
    trials = _trials(storage, "s")
    assert trials[0].state == TrialState.FAIL
    done = [t.params["train.optimizer.lr"] for t in trials if t.state == TrialState.COMPLETE]
    assert sorted(done) == [0.01, 0.1, 0.3]
    lost = trials[0].params["train.optimizer.lr"]
    assert [t.system_attrs.get("failed_trial") for t in trials if t.params["train.optimizer.lr"] == lost] == [None, 0]
    # run again: the lost point is held by its retry, so nothing is queued or trained twice
    lines = []
    run_study(recipe, tmp_path / "out", trials=3, sampler="grid", storage=storage, study_name="s", log=lines.append)
    assert len(_trials(storage, "s")) == len(trials) and lines[0].startswith("study 's' already has 3 finished trials")
