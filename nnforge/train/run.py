"""``run(recipe, out, resume=...)``: the one entry to training.

The command line, ``nnforge tune``, the LR finder and the ``--nproc`` launcher all come here. It
resolves the recipe, picks the engine and the task, refuses keys either does not implement
(before a run folder exists), builds the callbacks, and drives the one
:class:`~nnforge.train.trainer.Trainer`. What a run writes is described in :mod:`nnforge.rundir`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import Sequence

import torch

from nnforge import io
from nnforge.config import dump_config, resolve
from nnforge.errors import ConfigError, RunError, UserError
from nnforge.rundir import (CHECKPOINTS, CONFIG, FAILED, HISTORY, METRICS, SUMMARY, Run, RunLock, as_recipe, check_empty, contents, default_run_dir, read_history,
                            read_metrics, mark_failed, read_recipe, update_latest_link)
from nnforge.train import ddp, federated
from nnforge.train.averaging import EMA, SWA, check_averaging
from nnforge.train.callbacks import BestModelCheckpoint, Callback, CleanFinalEpochs, EarlyStopping, JSONLLogger, Progress, ResumeGC
from nnforge.train.checkpoint import Checkpointer, plan_resume
from nnforge.train.checkpoint.callback import restore_engine
from nnforge.train.checkpoint.resume import prepare_resumed_dir
from nnforge.train.distill import Distillation, load_teacher
from nnforge.train.engines import ENGINES
from nnforge.train.gradients import GradientControl, L1Penalty
from nnforge.train.guards import FastDevRun, MaxTime, OverfitCheck, fast_dev_run, limit_batches
from nnforge.train.keys import check_epoch_counts, check_feature_options, check_recipe
from nnforge.train.lr_finder import find_lr_run
from nnforge.train.lr_monitor import LearningRateMonitor
from nnforge.train.monitor import Monitor
from nnforge.train.nonfinite import NonFiniteGuard
from nnforge.train.seeding import pick_device, seed_everything
from nnforge.train.signals import Interrupted, StopOnSignal
from nnforge.train.tasks import TASKS
from nnforge.train.tracking import check_loggers, logger_callbacks
from nnforge.train.transfer import Unfreeze, init_weights


def technique_callbacks(recipe, task, data, teacher, out: Path, hint: str) -> list[Callback]:
    """The callbacks a recipe's technique keys ask for, in the order they must run after backward
    (the L1 penalty joins the gradient before it is measured and clipped), then weight averaging,
    distillation, the LR monitor and the guard rails. (Gradient accumulation needs none: it is the
    trainer's ``accumulate``.)"""
    train = recipe.train
    cbs: list[Callback] = []
    if train.freeze and train.unfreeze_epoch:
        cbs.append(Unfreeze(train.freeze, train.unfreeze_epoch))
    if train.l1:
        cbs.append(L1Penalty(train.l1))
    g = train.gradients
    if g.clip_norm is not None or g.clip_value is not None or g.log_norms or g.check:
        cbs.append(GradientControl(g.clip_norm, g.clip_value, out / "grad_norms.jsonl" if g.log_norms else None,
                                   g.check, g.vanish_below, g.explode_above))
    monitor = task.monitor(recipe)
    if train.save_best:
        cbs.append(BestModelCheckpoint(out / "best_model.safetensors", monitor))
    es = train.early_stopping
    if es.patience:
        cbs.append(EarlyStopping(monitor, es.patience, es.min_delta, es.restore_best))
    elif keeps_best(recipe, task):  # never stops; ends holding the best epoch's weights
        cbs.append(EarlyStopping(monitor, None, 0.0, True, verbose=False))
    if train.ema.decay is not None:
        cbs.append(EMA(train.ema.decay, train.ema.every))
    if train.swa.start_epoch:
        cbs.append(SWA(train.swa.start_epoch, train.swa.lr if train.swa.lr is not None else train.optimizer.lr, data.train))
    if teacher is not None:
        cbs.append(Distillation(teacher, train.distill.temperature, train.distill.alpha))
    if train.log_lr == "step":
        cbs.append(LearningRateMonitor(out / HISTORY))
    if train.overfit_batches:
        cbs.append(OverfitCheck(train.overfit_batches))
    if train.max_time is not None:
        cbs.append(MaxTime(train.max_time, hint, train.checkpoint.enabled))
    return cbs


def keeps_best(recipe, task) -> bool:
    """Whether a run ends holding its best epoch's weights (by ``train.monitor``), as
    :func:`technique_callbacks` sets it up: early stopping that restores them, or, without early
    stopping, a task that keeps them (a forecast, a regression)."""
    es = recipe.train.early_stopping
    return bool(es.restore_best) if es.patience else task.keeps_best_epoch


def kept_epoch(recipe, history: list[dict]) -> dict:
    """The row of ``history`` whose weights a finished run's model holds: the best epoch where the run
    :func:`keeps_best`, else the last. What a tune trial is scored by, so that its value is its model's."""
    recipe = resolve(recipe)
    task, es = TASKS[recipe.task](), recipe.train.early_stopping
    if not history or not keeps_best(recipe, task):
        return history[-1] if history else {}
    monitor = Monitor(task.monitor(recipe), es.min_delta if es.patience else 0.0)
    for row in history:
        monitor.update(row)
    return next((row for row in history if row["epoch"] == monitor.best_epoch), history[-1])


def _loop_metrics(callbacks) -> dict:
    """What the guard rails add to ``metrics.json``: why the run stopped early, the overfit check's loss."""
    out = {}
    for cb in callbacks:
        if isinstance(cb, MaxTime) and cb.stopped:
            out["stopped"] = cb.stopped
        if isinstance(cb, OverfitCheck) and cb.final_loss is not None:
            out["overfit_batches_loss"] = cb.final_loss
    return out


def prepare(recipe, task=None, device=None):
    """The data a recipe trains on, as its task prepares it (seeded): loaders, dataset, preprocessing."""
    recipe = resolve(recipe)
    seed_everything(recipe.seed, recipe.deterministic)
    if recipe.threads:
        torch.set_num_threads(recipe.threads)
    return (task or TASKS[recipe.task]()).prepare(recipe, device or pick_device(recipe.device))


def _start(recipe, engine_cls, task, device):
    """Seed, prepare the task's data, build the model and the engine."""
    data = limit_batches(recipe.train, prepare(recipe, task, device))  # train.overfit_batches, train.fast_dev_run
    model = task.build_model(recipe, data)
    init_weights(model, recipe.train.init)
    return data, engine_cls(recipe, task, data, model, device)


def trained_recipe(out) -> object | None:
    """The recipe the run folder ``out`` was started with (its ``config.yaml``), for a resume; None
    when there is none to read (:func:`~nnforge.train.checkpoint.plan_resume` says why)."""
    if out is None or not (Path(out) / CONFIG).is_file():
        return None
    try:
        return read_recipe(out)
    except UserError:
        return None


def _passes(cross_check, recipe) -> bool:
    try:
        cross_check(recipe)
    except ConfigError:
        return False
    return True


def check(recipe, distributed: bool = False, find_lr: bool = False, trained=None):
    """The engine class and the task a recipe picks, once neither is asked for a key it does not
    implement and the techniques it combines can run together (``distributed``: under ``--nproc``,
    which only the torch engine has; ``find_lr``: the LR range test instead of training).

    ``trained``: the recipe of the run being resumed (:func:`trained_recipe`). A run started before
    the cross-key checks existed (an older nnforge wrote momentum for Adam, or as many clean epochs
    as epochs, into its resolved ``config.yaml``) resumes as it trained: a check its own recipe
    already fails is not made again; one it passes still is (``--set train.epochs`` may change)."""
    engine_cls, task = ENGINES[recipe.engine], TASKS[recipe.task]()
    check_recipe(recipe, engine_cls, task)
    federated.check(recipe, find_lr)
    for cross_check in (check_feature_options, check_epoch_counts):
        if trained is None or _passes(cross_check, trained):
            cross_check(recipe)
    check_averaging(recipe)
    check_loggers(recipe)
    if distributed and recipe.engine != "torch":
        raise UserError(f"--nproc trains with DistributedDataParallel, which engine '{recipe.engine}' does not have; use engine: torch")
    if distributed and recipe.train.max_time is not None:  # each process would stop at its own step, and the others wait
        raise UserError("'train.max_time' stops one process at a time, which --nproc cannot do; stop the job with SIGTERM instead "
                        "(it checkpoints and resumes)")
    return engine_cls, task


def check_folds(recipe) -> None:
    """One-line ConfigError unless the recipe's task can be cross-validated (``tune --cv``)."""
    if recipe.task not in ("classify", "regress"):
        raise ConfigError(f"k-fold cross-validation is for task classify or regress, not {recipe.task} "
                          "(a series is validated on its latest part)")


def run(recipe, out: str | Path | None = None, resume: bool = False, callbacks: Sequence[Callback] = (),
        name: str = "run", find_lr: bool = False, hint: str | None = None, pictures: bool = True,
        fold: tuple[int, int] | None = None) -> Run:
    """Train the model a recipe describes; write the run directory ``out``; return the :class:`Run`.

    ``recipe``: a resolved recipe (or a raw mapping, resolved here). ``resume``: continue ``out`` from
    its last good checkpoint when it holds a partial run, start it when it is empty, and return the
    finished run unchanged when it is complete. ``callbacks`` join the loop after nnforge's own.
    ``find_lr``: run the learning-rate range test instead (see :mod:`nnforge.train.lr_finder`).
    ``pictures``: False leaves out the task's plots (a run directory nobody will look at).
    ``fold``: (k, K) validates on fold k (0-based) of K folds of the training split (``tune --cv``).
    """
    recipe = resolve(recipe)
    callbacks = _checked_callbacks(callbacks)
    if out is not None and not isinstance(out, (str, os.PathLike)):
        raise RunError(f"out is the run directory to write, a path; got {type(out).__name__} {out!r}")
    if resume and out is None:  # before: a new run folder was started, as if resume had not been asked for
        raise RunError("resume continues the run in out; pass out=RUN (the folder the stopped run wrote)")
    engine_cls, task = check(recipe, distributed=ddp.is_active(), find_lr=find_lr, trained=trained_recipe(out) if resume else None)
    task.pictures = pictures
    if fold is not None:
        check_folds(recipe)
        task.fold = fold
    device = pick_device(recipe.device)
    if find_lr:
        data, engine = _start(recipe, engine_cls, task, device)
        with contextlib.closing(engine):
            return find_lr_run(recipe, Path(out) if out else default_run_dir("lr_find"), data, engine, task)
    if recipe.train.fast_dev_run and not any(isinstance(cb, FastDevRun) for cb in callbacks):  # not the run inside the smoke test
        return fast_dev_run(recipe, lambda r, tmp, cb: run(r, tmp, callbacks=[*callbacks, cb]))
    out = Path(out) if out is not None else default_run_dir(name)
    checkpoint = None
    if resume:
        action, checkpoint = plan_resume(recipe, out)
        if action == "done":
            trained = read_recipe(out)
            longer = recipe.train.epochs != trained.train.epochs  # --set train.epochs=M: continues a stopped run, not a finished one
            print(f"'{out}' is already complete; nothing to do" + (
                f" (train.epochs={recipe.train.epochs} does not extend a finished run of {trained.train.epochs}: "
                f"train a new one with another --out)" if longer else ""))
            return Run(out, None, trained, read_metrics(out), read_history(out))
    else:
        check_empty(out)
    planned = contents(out)  # what the plan above saw; another process writing here while the data loads is refused below
    data, engine = _start(recipe, engine_cls, task, device)  # a user error here leaves no half-made run folder
    with contextlib.closing(engine):  # however the run ends, what the engine set for the whole process is undone
        if checkpoint is not None:  # one of another model is refused before prepare_resumed_dir rewrites the run's files
            restore_engine(engine, checkpoint)
        teacher = load_teacher(recipe.train.distill.teacher, data, device) if recipe.train.distill.teacher else None
        hint = hint or f"nnforge train {out / 'config.yaml'} --out {out} --resume"
        writer = not ddp.is_active() or ddp.rank() == 0
        with RunLock(out, planned), _marks_failure(out, writer):
            if checkpoint is None:
                if resume:  # stopped before its first checkpoint: what a crash mid-write left goes, now that no other process writes it
                    shutil.rmtree(out / CHECKPOINTS, ignore_errors=True)
                io.write_text(out / "config.yaml", dump_config(recipe))
            trainer = federated.make_trainer(engine, task, recipe, data, engine_cls)  # a Trainer, or FedAvg's server
            if checkpoint is not None:
                prepare_resumed_dir(out, checkpoint)
                trainer.resumed = True
            if ddp.is_active():
                ddp.setup_trainer(trainer, data)
            trainer.callbacks += [ResumeGC(), Progress(recipe.train.progress), JSONLLogger(out / HISTORY),
                                  *technique_callbacks(recipe, task, data, teacher, out, hint), *logger_callbacks(recipe, out, writer)]
            if recipe.data.augment.clean_epochs:
                for transform in (data.train.augmentation, data.train.mix):
                    if transform is not None:
                        trainer.callbacks.append(CleanFinalEpochs(transform))
            trainer.callbacks += list(callbacks)
            trainer.callbacks.append(NonFiniteGuard(recipe.train.nonfinite, recipe.train.optimizer.lr))
            ck = recipe.train.checkpoint
            trainer.callbacks.append(StopOnSignal(out, hint, ck.enabled))
            if ck.enabled or checkpoint is not None:
                trainer.callbacks.append(Checkpointer(out / CHECKPOINTS, data.train, task.monitor(recipe), ck.every_steps, ck.keep,
                                                      checkpoint, write=ck.enabled and writer))
            start = time.perf_counter()
            history = trainer.fit(data.train, data.val, recipe.train.epochs)
            train_seconds = time.perf_counter() - start
            try:
                metrics = task.finish(recipe, engine, data, history, out, train_seconds, kept=kept_epoch(recipe, history))
                metrics.update(_loop_metrics(trainer.callbacks))
                if writer:  # summary.json: layers, MACs and CPU latency from a few timed calls (`nnforge summary` times longer)
                    from nnforge.train.model_summary import model_summary  # torch's FLOP counter: imported once a run has trained

                    io.write_json(out / SUMMARY, model_summary(engine.torch_model(), recipe.model, data.input_shape, data.num_outputs,
                                                               recipe.data.batch_size, budget_s=0.0))
                io.write_json(out / METRICS, metrics)  # last: its presence marks the run complete
                trainer.run_end(metrics)
            except BaseException as exc:  # finishing failed after training: the callbacks hear of it as of a failed step
                trainer.exception(exc)
                raise
        if writer:
            update_latest_link(out)  # runs/latest: the run trained last
        return Run(dir=out, model=engine.torch_model(), config=recipe, metrics=metrics, history=history)


_HOOKS = [name for name in vars(Callback) if name.startswith("on_")]


def _checked_callbacks(callbacks) -> list[Callback]:
    """The caller's callbacks as a list, each a :class:`Callback` (or an object with every hook the
    loop calls): anything else is refused before a run folder exists, not an AttributeError at the
    first hook that left a failed run behind."""
    if callbacks is None:
        return []
    if hasattr(callbacks, "on_train_begin") or isinstance(callbacks, (str, bytes)) or not hasattr(callbacks, "__iter__"):
        raise ConfigError(f"callbacks is a list of nnforge.train.Callback instances, like callbacks=[MyCallback()]; "
                          f"got {type(callbacks).__name__}")
    callbacks = list(callbacks)
    for cb in callbacks:
        if isinstance(cb, type) and issubclass(cb, Callback):
            raise ConfigError(f"callbacks takes instances: pass {cb.__name__}(), not the class {cb.__name__}")
        if not all(hasattr(cb, hook) for hook in _HOOKS):
            raise ConfigError(f"each callback must subclass nnforge.train.Callback (the loop calls every one of its hooks); "
                              f"got {type(cb).__name__}")
    return callbacks


@contextlib.contextmanager
def _marks_failure(out: Path, writer: bool):
    """Write ``failed.json`` when training raises, so ``nnforge runs`` can tell a crash from a run
    stopped on purpose; a signal's :class:`~nnforge.train.signals.Interrupted` leaves a partial run
    (it resumes). A run that starts again (``--resume`` on a failed one) clears the marker. A failure
    once ``metrics.json`` is written (a logger shipping the finished run) is raised, but the run is
    complete: it is not marked failed."""
    if writer:
        (out / FAILED).unlink(missing_ok=True)
    try:
        yield
    except Exception as exc:
        if writer and not isinstance(exc, Interrupted) and not (out / METRICS).is_file():
            mark_failed(out, exc)
        raise


def fit(config, out: str | Path | None = None, callbacks: Sequence[Callback] = (), name: str | None = None, resume: bool = False) -> Run:
    """``nnforge.train.fit(recipe) -> Run``: the public name of :func:`run`, taking a recipe in any
    form :func:`nnforge.fit` takes (a packaged recipe's name, a YAML path, a dict or a resolved recipe).
    ``out``: the run directory, as in :func:`nnforge.fit` and :func:`run` (it was ``out_dir`` here alone).
    ``name``: the run folder's prefix when ``out`` is not given (default: the recipe file's name)."""
    recipe, stem = as_recipe(config)
    return run(recipe, out, resume=resume, callbacks=callbacks, name=name or stem)


def resume_run(recipe, out: str | Path | None) -> Run:
    """Continue the run in ``out`` (``recipe`` None: the run's own ``config.yaml``)."""
    if out is None:
        raise RunError("--resume needs the run directory: nnforge train --resume RUN (or CONFIG --out RUN --resume)")
    out = Path(out)
    if recipe is None:
        if not out.is_dir():
            raise RunError(f"run directory '{out}' not found; --resume RUN continues a run that `nnforge train --out RUN` started")
        recipe = read_recipe(out)
    return run(recipe, out, resume=True)
