"""Run a hyperparameter study: every trial is a real training run, judged on the validation split.

The study lives in an Optuna RDB storage (``sqlite:///study.db`` by default; any SQLAlchemy URL
Optuna accepts), which is what makes a search resumable — finished trials are read back, never
rerun — and lets several processes or machines share one study: each asks the database for
the next trial, so no trial number is handed out twice. ``trials`` is the study's total of
finished (complete or pruned) trials; a worker stops once the study has that many. A worker killed
during a trial (SIGKILL, a machine that went down) stops recording its trial's heartbeat: the next
worker to ask for a trial after :data:`GRACE_S` marks it failed and, where the study must train its
values (a grid point, the recipe's own), queues them again (:func:`retry_lost_trial`).

A median pruner stops a trial whose validation metric after some epoch is worse than the median
of earlier trials at that epoch (:class:`PruningCallback`); the pruned run still finishes its
epoch, evaluates and saves, so every trial folder is a complete run directory.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
import warnings
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from nnforge import io
from nnforge.config import dump_config, plain, resolve
from nnforge.errors import ConfigError, RunError, StorageError, UserError, shown
from nnforge.rundir import make_folder
from nnforge.train.callbacks import Callback
from nnforge.tune.space import TuneSpec, check_tune_config, parse_tune, trial_recipe

from nnforge.tune import DEFAULT_STORAGE, SAMPLERS


class PruningCallback(Callback):
    """Reports the validation metric after each epoch; asks Optuna whether to stop the trial."""

    def __init__(self, trial, metric: str):
        self.trial, self.metric, self.pruned_at = trial, metric, None

    def on_epoch_end(self, trainer, epoch, logs):
        value = logs.get(self.metric)
        if value is None:
            raise ConfigError(f"'tune.metric' {self.metric} was not measured; set data.val_fraction above 0")
        self.trial.report(float(value), epoch)
        if self.trial.should_prune():
            self.pruned_at = epoch + 1
            trainer.stop_training = True


@dataclass
class StudyResult:
    study: object
    out: Path
    best_recipe: Path | None
    best_value: float | None
    best_params: dict
    baseline_value: float | None


def make_sampler(name: str, spec: TuneSpec, seed: int, trials: int):
    import optuna

    if name == "tpe":
        # A third of a short budget explores at random before TPE models the good region.
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(10, max(3, trials // 3)), constant_liar=True)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        return optuna.samplers.GridSampler(spec.grid(), seed=seed)
    raise UserError(f"--sampler '{name}' is not known; accepted: {', '.join(SAMPLERS)}")


#: a running trial records a heartbeat every HEARTBEAT_S seconds; one silent for GRACE_S is a lost
#: trial (its worker was killed, or its machine stopped): the next worker to ask for a trial marks it failed
HEARTBEAT_S, GRACE_S = 10, 60
#: how many times a lost trial's values are queued again (a point that kills its worker each time, by
#: running the machine out of memory, say, is given up after that)
LOST_RETRIES = 2


def make_storage(url: str):
    """An Optuna RDB storage with a heartbeat, so trials of a killed worker are marked failed (and,
    where the study must train their values, queued again: :func:`retry_lost_trial`)."""
    import inspect

    import optuna
    from sqlalchemy.exc import ArgumentError, DatabaseError, IntegrityError, OperationalError

    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    # Optuna 4.9 renamed failed_trial_callback (which now warns) to heartbeat_stale_trial_callback
    names = inspect.signature(optuna.storages.RDBStorage.__init__).parameters
    callback = "heartbeat_stale_trial_callback" if "heartbeat_stale_trial_callback" in names else "failed_trial_callback"
    for attempt in range(6):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S,
                                              **{callback: retry_lost_trial})
        except (ArgumentError, ValueError, ImportError) as exc:
            raise UserError(f"--storage '{url}' is not a usable database URL ({exc}); e.g. sqlite:///study.db") from None
        except (IntegrityError, OperationalError) as exc:
            # Two workers starting together race to create the schema; the loser finds it made.
            if attempt == 5 or not _may_be_a_race(exc):
                raise _storage_error(url, exc) from None
            time.sleep(0.5 * (attempt + 1))
        except DatabaseError as exc:  # e.g. sqlite:///notes.txt: a file that is not a database
            raise _storage_error(url, exc) from None


def _may_be_a_race(exc) -> bool:
    """Whether retrying may help: a schema race or a locked database, not a file or server that cannot be reached."""
    text = str(getattr(exc, "orig", exc)).lower()
    return not any(s in text for s in ("unable to open", "connection refused", "could not translate host", "is the server running",
                                       "authentication failed", "does not exist", "readonly", "read-only"))


def _storage_error(url: str, exc) -> StorageError:
    from sqlalchemy.engine import make_url

    reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    shown = make_url(url).render_as_string(hide_password=True)  # a parsed URL: only a reachable one fails here
    return StorageError(f"--storage '{shown}' cannot be opened ({reason}); pass a database URL this machine can reach and write, "
                        "e.g. sqlite:///study.db")


def open_study(storage_url: str, name: str, spec: TuneSpec, sampler, baseline: dict | None, recipe: dict | None = None):
    """Create the study, or join it; only its creator queues the recipe's own values as trial 0.
    ``recipe`` (:func:`study_recipe`): what every trial shares; the creator stores it, and a run that
    joins or resumes the study must bring the same."""
    import optuna

    storage = make_storage(storage_url)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=0) if spec.pruner == "median" else optuna.pruners.NopPruner()
    try:
        study = optuna.create_study(storage=storage, study_name=name, direction=spec.direction, sampler=sampler, pruner=pruner)
        created = True
    except optuna.exceptions.DuplicatedStudyError:
        study = optuna.load_study(storage=storage, study_name=name, sampler=sampler, pruner=pruner)
        created = False
    if len(study.directions) != 1:  # Study.direction raised a RuntimeError
        raise UserError(f"study '{name}' in {storage_url} weighs {len(study.directions)} objectives (an architecture search, "
                        "tune.objectives); the recipe has one, tune.metric. Use another --study name, or the recipe's tune.objectives")
    if study.direction.name.lower() != spec.direction:
        raise UserError(f"study '{name}' in {storage_url} was created to {study.direction.name.lower()}; "
                        f"the recipe asks to {spec.direction}. Use another --study name")
    if recipe is not None:
        check_same_recipe(study, recipe, spec, storage_url)
    if not created:
        check_same_space(study, spec, storage_url)
        with warnings.catch_warnings():  # ExperimentalWarning
            warnings.simplefilter("ignore")
            optuna.storages.fail_stale_trials(study)  # a killed worker's trial: failed, and queued again (retry_lost_trial)
        grid = isinstance(sampler, optuna.samplers.GridSampler)
        for params, attrs in _interrupted(study, grid):  # Ctrl-C during the recipe's own trial, or a grid's: it runs again
            study.enqueue_trial(params, user_attrs=attrs)
    if created:
        study.set_user_attr("metric", spec.metric)
        if baseline:
            study.enqueue_trial(baseline, user_attrs={"baseline": True}, skip_if_exists=True)
    return study, created


def retry_lost_trial(study, trial) -> None:
    """Called for a trial whose worker stopped beating (SIGKILL, a machine that went down), once it
    is marked failed: under the grid sampler, or for the recipe's own trial, its values are queued
    again (as Optuna's RetryHeartbeatStaleTrialCallback does, keeping its grid point), unless another
    trial holds them. Optuna's grid counts a failed trial's point as visited: the study ended without
    ever training that point, and a rerun said it had tried them all."""
    import optuna
    from optuna.trial import TrialState

    if not (isinstance(study.sampler, optuna.samplers.GridSampler) or trial.user_attrs.get("baseline")):
        return  # TPE and random draw other values for the trials still to run
    history = [*trial.system_attrs.get("retry_history", []), trial.number]
    if len(history) > LOST_RETRIES:
        return
    point = trial.system_attrs.get("grid_id")
    for other in study.get_trials(deepcopy=False):
        if other.number != trial.number and other.state != TrialState.FAIL and (
                (other.params == trial.params and trial.params)
                or (point is not None and other.system_attrs.get("grid_id") == point)):
            return
    study.add_trial(optuna.trial.create_trial(
        state=TrialState.WAITING, params=trial.params, distributions=trial.distributions,
        user_attrs={k: v for k, v in trial.user_attrs.items() if k == "baseline"},
        system_attrs={**trial.system_attrs, "failed_trial": history[0], "retry_history": history}))


def _interrupted(study, grid: bool) -> list[tuple[dict, dict]]:
    """The values (and user attributes) of trials stopped by a signal that no other trial holds,
    finished, queued or running: the recipe's own, which a study stopped during its first trial
    would otherwise lose for good, and, under the grid sampler, any: Optuna's grid counts a failed
    trial's point as visited, so a resumed grid search never tried it and stopped short of --trials."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    held = [t.params for t in trials if t.state != TrialState.FAIL]
    out = []
    for t in trials:
        if t.user_attrs.get("interrupted") and (grid or t.user_attrs.get("baseline")) and t.params not in held:
            held.append(t.params)
            out.append((dict(t.params), {"baseline": True} if t.user_attrs.get("baseline") else {}))
    return out


def check_same_space(study, spec: TuneSpec, storage_url: str) -> None:
    """A study joined or resumed must search the space its trials were drawn from: Optuna refuses a key
    whose kind (range or choices), log scale or list of choices changed, and earlier trials' values
    would not decode. A range's bounds may change (Optuna allows it)."""
    from optuna.distributions import check_distribution_compatibility

    new = {p.path: p.distribution() for p in spec.params}
    for trial in study.get_trials(deepcopy=False):
        for path, old in trial.distributions.items():
            if path not in new:
                continue
            try:
                check_distribution_compatibility(old, new[path])
            except ValueError:
                raise ConfigError(f"study '{study.study_name}' in {storage_url} searched tune.space.{path} as {_shown(old)}; "
                                  f"the recipe now gives {_shown(new[path])}. Use another --study name, or the space "
                                  "the study was made with") from None


#: recipe keys a study's trials may differ in: where and how fast a worker runs, what it logs and
#: keeps, not what a trial scores (workers on several machines set them each their own way)
UNSCORED_KEYS = ("device", "threads", "data.root", "train.progress", "train.log_csv", "train.log_lr", "train.gradients.log_norms",
                 "train.loggers", "train.mlflow", "train.checkpoint")


def study_recipe(resolved, spec: TuneSpec, cv: int | None) -> dict:
    """What trials of a study share, as flat ``{dotted key: value}``: the resolved recipe (less
    :data:`UNSCORED_KEYS`), ``tune.metric`` (and ``tune.objectives``) and ``--cv``. The study keeps
    the keys outside its ``tune.space`` (:func:`outside_space`); :func:`check_same_recipe` compares them on each rerun."""
    from nnforge.runlist import flatten

    keys = {k: v for k, v in flatten(resolved.to_dict()).items() if not _under(k, UNSCORED_KEYS)}
    shared = {**keys, "tune.metric": spec.metric, "--cv": cv, **({"tune.objectives": [spec.metric, spec.cost]} if spec.cost else {})}
    return json.loads(json.dumps(shared))  # as the storage gives it back


def _under(key: str, paths) -> bool:
    return any(key == p or key.startswith(p + ".") for p in paths)


def outside_space(recipe: dict, spec: TuneSpec) -> dict:
    """:func:`study_recipe` without the keys ``tune.space`` searches (their trials' values are their own)."""
    return {k: v for k, v in recipe.items() if not _under(k, [p.path for p in spec.params])}


def check_same_recipe(study, flat: dict, spec: TuneSpec, storage_url: str) -> None:
    """A study joined or resumed must train its trials as its first trials were trained: with another
    ``train.epochs`` (or metric, or ``--cv``) the new trials' scores would be ranked against the old
    ones, and ``best.yaml`` would pair the best old trial's values with the new recipe. Every key the
    study kept must hold its value in ``flat`` (the recipe by dotted key, :func:`study_recipe`), one it
    searches now too (its earlier trials trained with that value); a key it searched before may now
    be fixed. A study with no trial finished or running (a new one, or one whose trials all failed)
    takes this recipe as its own; one made before the recipe was stored is not checked."""
    from optuna.trial import TrialState

    before = study.user_attrs.get("recipe")
    scored = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
    if not any(t.state in scored for t in study.get_trials(deepcopy=False)):
        kept = outside_space(flat, spec)
        if before != kept:
            study.set_user_attr("recipe", kept)
            study.set_user_attr("metric", spec.metric)
        return
    if not isinstance(before, dict):
        return
    changed = [k for k in before if before[k] != flat.get(k, _UNSET) and not _under(k, UNSCORED_KEYS)]
    if not changed:
        return

    def value(data, key):
        v = data.get(key, _UNSET)
        if key == "--cv" and v is None:
            return "none (scored on the validation split)"
        return "not set" if v is _UNSET else shown(v)

    key = changed[0]
    more = f" (and {len(changed) - 1} other key{'s' * (len(changed) > 2)}: {', '.join(changed[1:4])}{', ...' * (len(changed) > 4)})" \
        if len(changed) > 1 else ""
    raise ConfigError(f"study '{study.study_name}' in {storage_url} ran its trials with {key} = {value(before, key)}; this run "
                      f"gives {value(flat, key)}{more}. Its trials would be ranked with trials of another recipe: run it "
                      "as it was made, or use another --study name")


_UNSET = object()


def check_trial_folders(study, out: Path, storage_url: str) -> None:
    """Every ``trial-NNN`` folder in ``out`` must be a trial of this study: a study started afresh
    (a deleted study.db, another --study) numbers its trials from 0 again, and its first trial would
    stop on a folder that already holds a run, after Optuna's traceback."""
    ours = {Path(t.user_attrs["run_dir"]).name for t in study.get_trials(deepcopy=False) if "run_dir" in t.user_attrs}
    foreign = sorted(p.name for p in out.glob("trial-*") if p.is_dir() and p.name not in ours)
    if foreign:
        raise RunError(f"'{out}' holds trial runs ({foreign[0]}{', ...' if len(foreign) > 1 else ''}) that study "
                       f"'{study.study_name}' in {storage_url} did not make; choose a new --out, or pass the --storage "
                       "and --study that made them to resume that study")


def _shown(distribution) -> str:
    from optuna.distributions import CategoricalDistribution

    if isinstance(distribution, CategoricalDistribution):
        return f"choices {list(distribution.choices)}"
    return f"a range {distribution.low}..{distribution.high}{' (log)' if distribution.log else ''}"


def _grid_point(spec: TuneSpec, values: dict) -> dict | None:
    """The grid sampler's point holding ``values`` (a range's grid value within rounding of the
    recipe's: 0.1 + 2 * 0.1 for 0.3), or None when the grid does not hold them."""
    point = {}
    for path, grid in spec.grid().items():
        value = values[path]
        same = [g for g in grid if g == value or (isinstance(g, float) and isinstance(value, (int, float))
                                                  and not isinstance(value, bool) and math.isclose(g, value, rel_tol=1e-9))]
        if not same:
            return None
        point[path] = same[0]
    return point


def _encode_baseline(spec: TuneSpec, resolved: dict) -> dict | None:
    """The recipe's current value for each searched key, if it lies inside the space."""
    values = {}
    for p in spec.params:
        value = plain(resolved.at(p.path))
        if p.choices is not None:
            if value not in p.choices:
                return None
            values[p.path] = p._encoded()[list(p.choices).index(value)]
        else:
            if not p.holds(value):  # off the range, or between its steps (Optuna warned, and trained it anyway)
                return None
            values[p.path] = value
    return values


def study_tracking(recipe, out: Path, name: str):
    """With ``train.loggers: [mlflow]`` the study is one parent MLflow run and each trial a run nested
    under it (every worker of the study finds the same parent); otherwise nothing."""
    if "mlflow" not in recipe.train.loggers:
        return contextlib.nullcontext()
    from nnforge.train.tracking import check_loggers
    from nnforge.train.tracking.mlflow_logger import parent_run

    check_loggers(recipe)
    return parent_run(recipe, out, name)


class _ReportedByTheCaller(logging.Filter):
    """Drops Optuna's "Trial N failed" warnings for an exception out of the objective: with
    ``catch=()`` it stops the study and reaches the caller, which reports it (the CLI: one line for
    a user's error or Ctrl-C, a traceback for a bug), so Optuna's copy was a second report, with a
    traceback, even for Ctrl-C. A trial that failed without an exception (a NaN value) keeps its warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info or record.getMessage().endswith("failed with value None."))


def quiet_optuna_failures() -> None:
    """Install :class:`_ReportedByTheCaller` on Optuna's optimize logger (once)."""
    logger = logging.getLogger("optuna.study._optimize")
    if not any(isinstance(f, _ReportedByTheCaller) for f in logger.filters):
        logger.addFilter(_ReportedByTheCaller())


@contextlib.contextmanager
def study_stop_on_signal(trial):
    """A trial's run stopped by SIGINT/SIGTERM ends the study's command with a tune hint: the run's own
    (``nnforge train ... --resume`` of the trial folder) would finish a run the study never hears of.
    The trial is marked ``interrupted``, so that the recipe's own trial, or a grid's, is queued again (:func:`open_study`)."""
    from nnforge.train.signals import Interrupted

    try:
        yield
    except Interrupted as exc:
        trial.set_user_attr("interrupted", True)
        signal_name = str(exc).split(":", 1)[0]
        raise Interrupted(f"{signal_name}: the search stopped during trial {trial.number}; its finished trials are kept in "
                          "the study: run the same `nnforge tune` command again to continue") from None
    except KeyboardInterrupt:  # Ctrl-C outside the run's training loop (loading the data, say): the same trial
        trial.set_user_attr("interrupted", True)
        raise


def run_study(raw_recipe: dict, out: str | Path, trials: int, sampler: str = "tpe", storage: str = DEFAULT_STORAGE,
              study_name: str = "study", seed: int | None = None, log: Callable[[str], None] = print,
              cv: int | None = None) -> StudyResult:
    """Run (or resume, or join) a study until it holds ``trials`` finished trials; write the best recipe.

    ``cv``: score each trial by the mean validation metric over ``cv`` folds of the training split
    (:mod:`nnforge.tune.cv`) instead of by the recipe's validation split."""
    import optuna
    from optuna.trial import TrialState

    from nnforge.train import run
    from nnforge.train.run import check_folds, kept_epoch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    logging.getLogger("optuna").setLevel(logging.WARNING)
    quiet_optuna_failures()
    if trials < 1:
        raise UserError(f"--trials is {trials}; accepted: a positive number")
    resolved = resolve({k: v for k, v in raw_recipe.items() if k != "tune"})
    spec = parse_tune(check_tune_config(raw_recipe.get("tune"), raw_recipe), resolved.task)
    if not spec.params:
        raise ConfigError("the recipe has no 'tune.space'; add e.g. tune: {space: {train.optimizer.lr: {low: 0.0001, high: 0.1, log: true}}}")
    if cv is not None and (cv < 2 or cv > 20):
        raise UserError(f"--cv is {cv}; accepted: 2 to 20 folds")
    if cv is not None:
        check_folds(resolved)  # before the study and its folder exist
    if cv is None and resolved.data.val_fraction <= 0:
        raise ConfigError("'data.val_fraction' is 0; a search needs a validation split (e.g. data.val_fraction=0.1)")
    out = make_folder(Path(out))  # a file in the way: one line
    base_seed = resolved.seed if seed is None else seed
    baseline = _encode_baseline(spec, resolved) if spec.baseline else None
    on_grid = _grid_point(spec, baseline) if sampler == "grid" and baseline is not None else None
    if on_grid is not None:
        # The grid sampler visits the recipe's own values itself. Queued as well, they were trained twice
        # (Optuna's grid does not count a queued trial) and a grid point was left out of a --trials that
        # covers the grid; the grid's own trial of them is the recipe's instead.
        own, baseline = baseline, None
    # The creator samples with the base seed (reproducible); a worker joining or resuming the
    # study draws from another stream so that two workers never propose the same values.
    study, created = open_study(storage, study_name, spec, make_sampler(sampler, spec, base_seed, trials), baseline,
                                study_recipe(resolved, spec, cv))
    check_trial_folders(study, out, storage)
    if created:
        study.set_user_attr("seed", base_seed)
    elif sampler == "grid":  # the seed orders the grid, whose points the study knows by number: every worker orders it alike
        study.sampler = make_sampler(sampler, spec, study.user_attrs.get("seed", base_seed), trials)
    else:
        study.sampler = make_sampler(sampler, spec, (base_seed * 1_000_003 + os.getpid() + len(study.trials)) % 2**31, trials)
    worker = f"{socket.gethostname()}:{os.getpid()}"
    finished = (TrialState.COMPLETE, TrialState.PRUNED)

    def objective(trial):
        values = spec.suggest(trial)
        if on_grid is not None and trial.params == on_grid:
            trial.set_user_attr("baseline", True)
            values = spec.decode(own, exact=True)  # 0.3, not the grid's 0.1 + 2 * 0.1
        config = resolve(trial_recipe(raw_recipe, values)).with_overrides({"train.progress": "none"})
        run_dir = out / f"trial-{trial.number:03d}"
        trial.set_user_attr("run_dir", str(run_dir))
        trial.set_user_attr("worker", worker)
        shown = ", ".join(f"{k}={v}" for k, v in values.items())
        if cv:
            with study_stop_on_signal(trial):
                return _cross_validated_trial(trial, config, run_dir, cv, spec.metric, shown, log)
        pruning = PruningCallback(trial, spec.metric)
        with study_stop_on_signal(trial):
            result = run(config, run_dir, callbacks=[pruning], name=f"trial-{trial.number}")
        value = kept_epoch(config, result.history)[spec.metric]  # the epoch the trial's model holds
        trial.set_user_attr("test_accuracy", result.metrics.get("test_accuracy"))
        if "test_rmse" in result.metrics:
            trial.set_user_attr("test_rmse", result.metrics["test_rmse"])
        if pruning.pruned_at is not None:
            log(f"trial {trial.number}: pruned after epoch {pruning.pruned_at} ({spec.metric} {value:.4f})  {shown}")
            raise optuna.TrialPruned()
        log(f"trial {trial.number}: {spec.metric} {value:.4f}  {shown}")
        return float(value)

    done = sum(t.state in finished for t in study.get_trials(deepcopy=False))
    if done >= trials:
        log(f"study '{study_name}' already has {done} finished trials (asked for {trials}); nothing to run")
    elif sampler == "grid" and study.sampler.is_exhausted(study) and not study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        # Optuna would warn that it re-evaluates a configuration, and train a grid point again
        log(f"study '{study_name}' has tried all {math.prod(map(len, spec.grid().values()))} points of its grid ({done} finished "
            f"trials; asked for {trials}); nothing to run")
    else:
        log(f"study '{study_name}' in {storage}: {done} finished, running up to {trials} ({sampler} sampler)")
        with study_tracking(resolved, out, study_name):
            study.optimize(objective, callbacks=[optuna.study.MaxTrialsCallback(trials, states=finished)],
                           catch=(), gc_after_trial=False)
    return summarize(study, raw_recipe, spec, out)


def _cross_validated_trial(trial, config, run_dir: Path, folds: int, metric: str, shown: str, log) -> float:
    """One trial scored by k-fold cross-validation; pruned on the running mean over the folds."""
    import optuna

    from nnforge.tune.cv import cross_validate

    result = cross_validate(config, run_dir, folds, metric, trial)
    trial.set_user_attr("cv_scores", result.scores)
    trial.set_user_attr("cv_std", result.std)
    if result.pruned_after is not None:
        log(f"trial {trial.number}: pruned after fold {result.pruned_after} of {folds} (running mean {metric} {result.mean:.4f})  {shown}")
        raise optuna.TrialPruned()
    log(f"trial {trial.number}: {metric} {result.mean:.4f} ± {result.std:.4f} over {folds} folds  {shown}")
    return result.mean


def summarize(study, raw_recipe: dict, spec: TuneSpec, out: Path) -> StudyResult:
    """Write ``best.yaml`` (a ready recipe with only the keys that apply), ``study.json`` and the
    plots; return the result."""
    from optuna.trial import TrialState

    from nnforge.tune.plots import plot_history, plot_importances

    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    baseline = next((t.value for t in complete if t.user_attrs.get("baseline")), None)
    rows = [{"number": t.number, "state": t.state.name.lower(), "value": t.value,
             "params": spec.decode(t.params, exact=bool(t.user_attrs.get("baseline"))), "run_dir": t.user_attrs.get("run_dir"),
             "worker": t.user_attrs.get("worker"), "baseline": bool(t.user_attrs.get("baseline")),
             "test_accuracy": t.user_attrs.get("test_accuracy"), "test_rmse": t.user_attrs.get("test_rmse"),
             **({"cv_scores": t.user_attrs["cv_scores"], "cv_std": t.user_attrs.get("cv_std")} if "cv_scores" in t.user_attrs else {})}
            for t in trials]
    summary = {"study": study.study_name, "metric": spec.metric, "direction": spec.direction, "trials": rows}
    best_path = None
    best_value, best_params = None, {}
    if complete:
        best = study.best_trial
        best_value, best_params = best.value, spec.decode(best.params, exact=bool(best.user_attrs.get("baseline")))
        recipe = trial_recipe(raw_recipe, best_params)
        header = (f"# best of study '{study.study_name}': {spec.metric} {best_value:.4f} (trial {best.number}"
                  f"{', the recipe as given' if best.user_attrs.get('baseline') else ''})\n")
        best_path = io.write_text(out / "best.yaml", header + dump_config(recipe))
        summary.update(best={"number": best.number, "value": best_value, "params": best_params}, baseline_value=baseline)
        plot_history([t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)], spec, out / "history.png")
        summary["importances"] = plot_importances(study, out / "importances.png")
    io.write_json(out / "study.json", summary)
    return StudyResult(study, out, best_path, best_value, best_params, baseline)
