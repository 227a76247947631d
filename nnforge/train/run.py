"""``run(recipe, out, resume=...)``: the one entry to training.

The command line, ``nnforge tune``, the LR finder and the ``--nproc`` launcher all come here. It
resolves the recipe, picks the engine and the task, refuses keys either does not implement
(before a run folder exists), builds the callbacks, and drives the one
:class:`~nnforge.train.trainer.Trainer`. What a run writes is described in :mod:`nnforge.rundir`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Sequence

import torch

from nnforge import io
from nnforge.config import dump_config, resolve
from nnforge.errors import UserError
from nnforge.rundir import (CHECKPOINTS, HISTORY, METRICS, Run, RunLock, check_empty, default_run_dir, read_history, read_metrics,
                            read_recipe, update_latest_link)
from nnforge.train.callbacks import BestModelCheckpoint, Callback, CleanFinalEpochs, CSVLogger, EarlyStopping, JSONLLogger, Progress
from nnforge.train.engines import ENGINES
from nnforge.train.keys import check_recipe
from nnforge.train.seeding import pick_device, seed_everything
from nnforge.train.tasks import TASKS


def technique_callbacks(recipe, task, out: Path) -> list[Callback]:
    """The callbacks a recipe's technique keys ask for, in the order they must run after backward:
    the L1 penalty joins the gradient before it is measured and clipped."""
    train = recipe.train
    cbs: list[Callback] = []
    if train.freeze and train.unfreeze_epoch:
        from nnforge.train.transfer import Unfreeze

        cbs.append(Unfreeze(train.freeze, train.unfreeze_epoch))
    if train.l1:
        from nnforge.train.gradients import L1Penalty

        cbs.append(L1Penalty(train.l1))
    g = train.gradients
    if g.clip_norm is not None or g.clip_value is not None or g.log_norms or g.check:
        from nnforge.train.gradients import GradientControl

        cbs.append(GradientControl(g.clip_norm, g.clip_value, out / "grad_norms.jsonl" if g.log_norms else None,
                                   g.check, g.vanish_below, g.explode_above))
    if train.log_csv:
        cbs.append(CSVLogger(out / "metrics.csv"))
    monitor = task.monitor(recipe)
    if train.save_best:
        cbs.append(BestModelCheckpoint(out / "best_model.safetensors", monitor))
    es = train.early_stopping
    if es.patience:
        cbs.append(EarlyStopping(monitor, es.patience, es.min_delta, es.restore_best))
    elif task.keeps_best_epoch:  # never stops; ends holding the best epoch's weights
        cbs.append(EarlyStopping(monitor, None, 0.0, True, verbose=False))
    return cbs


def prepare(recipe, task=None, device=None):
    """The data a recipe trains on, as its task prepares it (seeded): loaders, dataset, preprocessing."""
    recipe = resolve(recipe)
    seed_everything(recipe.seed, recipe.deterministic)
    if recipe.threads:
        torch.set_num_threads(recipe.threads)
    return (task or TASKS[recipe.task]()).prepare(recipe, device or pick_device(recipe.device))


def _start(recipe, engine_cls, task, device):
    """Seed, prepare the task's data, build the model and the engine."""
    from nnforge.train.transfer import init_weights

    data = prepare(recipe, task, device)
    model = task.build_model(recipe, data)
    init_weights(model, recipe.train.init)
    return data, engine_cls(recipe, task, data, model, device)


def check(recipe, distributed: bool = False):
    """The engine class and the task a recipe picks, once neither is asked for a key it does not
    implement (``distributed``: under ``--nproc``, which only the torch engine has)."""
    engine_cls, task = ENGINES[recipe.engine], TASKS[recipe.task]()
    check_recipe(recipe, engine_cls, task)
    if distributed and recipe.engine != "torch":
        raise UserError(f"--nproc trains with DistributedDataParallel, which engine '{recipe.engine}' does not have; use engine: torch")
    return engine_cls, task


def run(recipe, out: str | Path | None = None, resume: bool = False, callbacks: Sequence[Callback] = (),
        name: str = "run", find_lr: bool = False, hint: str | None = None) -> Run:
    """Train the model a recipe describes; write the run directory ``out``; return the :class:`Run`.

    ``recipe``: a resolved recipe (or a raw mapping, resolved here). ``resume``: continue ``out`` from
    its last good checkpoint when it holds a partial run, start it when it is empty, and return the
    finished run unchanged when it is complete. ``callbacks`` join the loop after nnforge's own.
    ``find_lr``: run the learning-rate range test instead (see :mod:`nnforge.train.lr_finder`).
    """
    from nnforge.train import ddp

    recipe = resolve(recipe)
    engine_cls, task = check(recipe, distributed=ddp.is_active())
    device = pick_device(recipe.device)
    if find_lr:
        from nnforge.train.lr_finder import find_lr_run

        return find_lr_run(recipe, Path(out) if out else default_run_dir("lr_find"), *_start(recipe, engine_cls, task, device), task)
    out = Path(out) if out is not None else default_run_dir(name)
    checkpoint = None
    if resume:
        from nnforge.train.checkpoint import plan_resume

        action, checkpoint = plan_resume(recipe, out)
        if action == "done":
            saved = read_recipe(out)
            print(f"'{out}' is already complete; nothing to do")
            return Run(out, None, saved, read_metrics(out), read_history(out))
    else:
        check_empty(out)
    data, engine = _start(recipe, engine_cls, task, device)  # a user error here leaves no half-made run folder
    writer = not ddp.is_active() or ddp.rank() == 0
    with RunLock(out):
        if checkpoint is None:
            io.write_text(out / "config.yaml", dump_config(recipe))
        from nnforge.train.trainer import Trainer

        trainer = Trainer(engine, task)
        if checkpoint is not None:
            from nnforge.train.checkpoint.resume import prepare_resumed_dir

            prepare_resumed_dir(out, checkpoint)
            trainer.resumed = True
        if ddp.is_active():
            ddp.setup_trainer(trainer, data)
        trainer.callbacks += [Progress(recipe.train.progress), JSONLLogger(out / HISTORY),
                              *technique_callbacks(recipe, task, out)]
        if data.train.augmentation is not None and recipe.data.augment.clean_epochs:
            trainer.callbacks.append(CleanFinalEpochs(data.train.augmentation))
        trainer.callbacks += list(callbacks)
        from nnforge.train.nonfinite import NonFiniteGuard
        from nnforge.train.signals import StopOnSignal

        trainer.callbacks.append(NonFiniteGuard(recipe.train.nonfinite, recipe.train.optimizer.lr))
        ck = recipe.train.checkpoint
        trainer.callbacks.append(StopOnSignal(out, hint or f"nnforge train {out / 'config.yaml'} --out {out} --resume", ck.enabled))
        if ck.enabled or checkpoint is not None:
            from nnforge.train.checkpoint import Checkpointer

            trainer.callbacks.append(Checkpointer(out / CHECKPOINTS, data.train, task.monitor(recipe), ck.every_steps, ck.keep,
                                                  checkpoint, write=ck.enabled and writer))
        start = time.perf_counter()
        history = trainer.fit(data.train, data.val, recipe.train.epochs)
        train_seconds = time.perf_counter() - start
        metrics = task.finish(recipe, engine, data, history, out, train_seconds)
        io.write_json(out / METRICS, metrics)  # last: its presence marks the run complete
    if writer:
        update_latest_link(out)  # runs/latest: the run trained last
    return Run(dir=out, model=engine.torch_model(), config=recipe, metrics=metrics, history=history)


def fit(config, out_dir: str | Path | None = None, callbacks: Sequence[Callback] = (), name: str = "run", resume: bool = False) -> Run:
    """``nnforge.train.fit(recipe) -> Run``: the public name of :func:`run` (same arguments)."""
    return run(config, out_dir, resume=resume, callbacks=callbacks, name=name)


def resume_run(recipe, out: str | Path | None) -> Run:
    """Continue the run in ``out`` (``recipe`` None: the run's own ``config.yaml``)."""
    from nnforge.errors import RunError

    if out is None:
        raise RunError("--resume needs the run directory: nnforge train --resume RUN (or CONFIG --out RUN --resume)")
    out = Path(out)
    if recipe is None:
        if not out.is_dir():
            raise RunError(f"run directory '{out}' not found; --resume RUN continues a run that `nnforge train --out RUN` started")
        recipe = read_recipe(out)
    return run(recipe, out, resume=True)
