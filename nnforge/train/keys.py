"""Allow-lists: which recipe keys an engine and a task implement, checked before a run starts.

Every key of the schema that is set away from its default must be implemented by both the chosen
engine and the chosen task; otherwise the run is refused with one line naming the key, the
engine or task, and what to use instead. Nothing is silently ignored: a key added to the schema
is refused everywhere until an engine and a task list it (a test checks each key is listed by
at least one engine and one task, and that on each engine it changes the run or is refused).
An option of a feature the recipe leaves off (``train.swa.lr`` without ``train.swa.start_epoch``,
momentum for Adam) and a part of the run counted in epochs that takes all of them are refused the
same way (:func:`check_feature_options`, :func:`check_epoch_counts`).
"""

from __future__ import annotations

from nnforge.config import FEATURE_OPTIONS, OPEN, SPECIFIC_KEYS, Recipe, field_at, leaf_paths, plain, resolve
from nnforge.errors import ConfigError, shown

#: keys every engine and task implements: they choose the run, or only say how it reports
CORE = frozenset({"engine", "task", "seed", "model", "tune", "train.epochs", "train.progress", "threads"})


def keys(section: str, names: str) -> frozenset[str]:
    """``keys("train.loss", "name label_smoothing")`` -> {"train.loss.name", "train.loss.label_smoothing"}:
    how engines and tasks spell out, key by key, what they implement."""
    return frozenset(f"{section}.{n}" if section else n for n in names.split())


#: what every image/table dataset offers, whichever engine trains on its batches
DATA = keys("data", "name root target url download batch_size eval_batch_size image_size fit_content train_fraction sampling "
                    "imbalance denoise denoise_size val_fraction normalize") | \
    keys("data.augment", "rotate shift scale shear hflip crop_padding noise cutout clean_epochs") | \
    keys("data.augment", "mixup cutmix mix_prob policy magnitude num_ops")
#: the callbacks of the one loop, which act through the engine interface
LOOP = keys("train", "monitor save_best log_csv l1 nonfinite") | keys("train.early_stopping", "patience min_delta restore_best") | \
    keys("train.gradients", "clip_norm clip_value log_norms check vanish_below explode_above") | \
    keys("train.checkpoint", "enabled every_steps keep") | keys("train.lr_finder", "start end steps") | keys("train.init", "weights skip") | \
    keys("train", "loggers") | keys("train.mlflow", "tracking_uri experiment")
#: the torch engine's losses, optimizers and schedules (the scratch engine has a subset)
LOSS = keys("train.loss", "name label_smoothing class_weight focal_gamma")
OPTIMIZATION = keys("train.optimizer", "name lr momentum nesterov weight_decay betas eps alpha lr_mult") | \
    keys("train.scheduler", "name step_size gamma max_lr pct_start min_lr patience warmup_epochs")
#: guard rails and gradient accumulation, which act through the loop and any engine
GUARDS = keys("train", "accumulate max_time overfit_batches fast_dev_run log_lr")
#: weight averaging and distillation, built on torch modules (torch.optim.swa_utils, a torch teacher)
AVERAGING = keys("train.ema", "decay every") | keys("train.swa", "start_epoch lr") | keys("train.distill", "teacher temperature alpha")


def changed_keys(recipe: Recipe) -> list[str]:
    """Leaf keys whose resolved value differs from the schema default (the task's loss counts as default)."""
    defaults = resolve({"task": recipe.task})
    return [path for path in leaf_paths() if field_at(path) is not OPEN and plain(recipe.at(path)) != plain(defaults.at(path))]


def check_recipe(recipe: Recipe, engine, task) -> None:
    """One-line :class:`ConfigError` for the first changed key the engine or task does not implement."""
    changed = [path for path in changed_keys(recipe) if path not in CORE]
    for owner, kind, alternative in ((task, "task", "a task that has it"), (engine, "engine", "engine: torch")):
        for path in changed:
            value = recipe.at(path)
            if path not in owner.implements:
                raise ConfigError(f"'{path}' is {shown(plain(value))}, but {kind} '{owner.name}' does not implement it; "
                                  f"leave it at its default ({plain(field_at(path).default)!r}) or use {alternative}")
            accepted = owner.accepts.get(path)
            if accepted is not None and value not in accepted:
                raise ConfigError(f"'{path}' is {shown(value)}, which {kind} '{owner.name}' does not implement; "
                                  f"accepted with {kind} {owner.name}: {', '.join(map(str, accepted))}")
    for owner in (task, engine):
        check = getattr(owner, "check_model", None)
        if check is not None:
            check(recipe.model)


#: FedAvg's simulated clients (nnforge.train.federated), for engines and tasks whose weights average
FEDERATED = keys("federated", "clients rounds local_epochs split alpha")


def inapplicable_keys(recipe: Recipe) -> list[tuple[str, str]]:
    """``(key, one-line reason)`` for each key set away from its default whose feature the recipe
    leaves off (``train.swa.lr`` without ``train.swa.start_epoch``, ``train.optimizer.momentum``
    with Adam, ...): it would train as if the key were not there."""
    out = []
    for path in changed_keys(recipe):
        section, _, key = path.rpartition(".")
        table = SPECIFIC_KEYS.get(section, {})
        name = recipe.at(section + ".name") if table else None
        if table and key in set().union(*table.values()) and key not in table[name]:
            users = [n for n, ks in table.items() if key in ks]
            why, instead = f"{section}.name is {name}, which does not read it", f"use {section}.name {' or '.join(users)}"
        elif path in FEATURE_OPTIONS and not FEATURE_OPTIONS[path][0](recipe):
            why, instead = FEATURE_OPTIONS[path][1:]
        else:
            continue
        out.append((path, f"'{path}' is {shown(plain(recipe.at(path)))}, but {why}; {instead}, "
                          f"or leave it at its default ({plain(field_at(path).default)!r})"))
    return out


def check_feature_options(recipe: Recipe) -> None:
    """One-line :class:`ConfigError` for the first option whose feature is off (see :func:`inapplicable_keys`)."""
    found = inapplicable_keys(recipe)
    if found:
        raise ConfigError(found[0][1])


#: the parts of a run counted in epochs, as the checks before a run bound them: True where the part
#: must be shorter than the run (:func:`check_epoch_counts`), False where it may take all of it
#: (SWA: :func:`nnforge.train.averaging.check_averaging`). ``nnforge tune`` checks its space's ranges with it.
EPOCH_PARTS = {"data.augment.clean_epochs": True, "train.scheduler.warmup_epochs": True, "train.swa.start_epoch": False}


def epoch_counts(recipe: Recipe) -> tuple[int, int]:
    """(the epochs a run logs, the epochs its learning-rate schedule spans). They differ only for a
    federated run: it logs ``federated.rounds`` rounds (``train.epochs`` when unset), and every client
    trains ``federated.local_epochs`` epochs per round, each on its own schedule over all of them."""
    fed = recipe.federated
    if not fed.clients:
        return recipe.train.epochs, recipe.train.epochs
    rounds = fed.rounds or recipe.train.epochs
    return rounds, rounds * fed.local_epochs


def check_epoch_counts(recipe: Recipe) -> None:
    """One-line :class:`ConfigError` for a part of the run counted in epochs that takes all of them:
    clean epochs that leave no augmented one, a warm-up the schedule never gets past. (The one-epoch
    recipe ``train.fast_dev_run`` derives moves both inside its epoch; see :func:`nnforge.train.guards.fast_dev_run`.)"""
    (epochs, schedule_epochs), clean = epoch_counts(recipe), recipe.data.augment.clean_epochs
    federated = bool(recipe.federated.clients)
    if clean and clean >= epochs:
        run, bound = (f"{epochs} round", "federated.rounds") if federated else (f"{epochs} epoch", "train.epochs")
        raise ConfigError(f"'data.augment.clean_epochs' is {clean}, but the run has {run}{'s' * (epochs > 1)}, so augmentation "
                          f"would never be used; accepted: fewer clean epochs than {bound} (at most {epochs - 1}), or 0")
    warmup = recipe.train.scheduler.warmup_epochs
    if warmup and warmup >= schedule_epochs:
        run, bound = (f"each client's schedule spans {schedule_epochs} epoch", "federated.rounds x federated.local_epochs") if federated \
            else (f"the run has {epochs} epoch", "train.epochs")
        raise ConfigError(f"'train.scheduler.warmup_epochs' is {warmup}, but {run}{'s' * (schedule_epochs > 1)}, so the learning rate "
                          f"would still be warming up when it ends; accepted: fewer warm-up epochs than {bound}")
