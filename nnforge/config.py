"""The run configuration: one schema, validated on load.

A recipe is a YAML mapping. :data:`SCHEMA` below is the complete list of keys, each with its
type, default and accepted values. :func:`load_config` reads a recipe, applies ``--set``
overrides (``train.epochs=3``), fills in defaults and validates everything, so that the rest of
nnforge can rely on a complete, well-typed dictionary. Mistakes raise
:class:`~nnforge.errors.ConfigError` with a one-line message naming the key path, what was
given and what is accepted (and, for an unknown key, the nearest valid one).

Two sections are open-ended because their keys depend on a choice made elsewhere:
``model`` (``name`` plus that model's own parameters, checked against the model's builder by
:mod:`nnforge.models`) and ``tune`` (the search space, checked by :mod:`nnforge.tune`).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml

from nnforge.errors import ConfigError, did_you_mean, excerpt, shown
from nnforge.io import is_finite, is_number

__all__ = ["Field", "SCHEMA", "Recipe", "FrozenMap", "load_config", "resolve", "plain", "set_value", "apply_overrides", "default_config", "dump_config",
           "leaf_paths"]


@dataclass(frozen=True)
class Field:
    """One leaf of the schema: its type(s), default, and what values are accepted."""

    types: tuple[type, ...]
    default: Any
    choices: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None
    nullable: bool = False
    help: str = ""
    positive: bool = False  # the minimum (0) itself is refused: a learning rate or clipping bound of 0 stops all learning

    def accepted(self) -> str:
        if self.choices:
            return "one of " + ", ".join(map(str, self.choices))
        names = "/".join(t.__name__ for t in self.types)
        bounds = []
        if self.minimum is not None:
            bounds.append(f"> {self.minimum}" if self.positive else f">= {self.minimum}")
        if self.maximum is not None:
            bounds.append(f"<= {self.maximum}")
        text = f"{names} {' and '.join(bounds)}".strip()
        return text + (" or null" if self.nullable else "")


def _num(default, lo=None, hi=None, help="", nullable=False):
    return Field((int, float), default, minimum=lo, maximum=hi, help=help, nullable=nullable)


def _positive(default, help="", nullable=False):
    return Field((int, float), default, minimum=0.0, help=help, nullable=nullable, positive=True)


def _int(default, lo=None, hi=None, help="", nullable=False):
    return Field((int,), default, minimum=lo, maximum=hi, help=help, nullable=nullable)


def _bool(default, help=""):
    return Field((bool,), default, help=help)


def _str(default, choices=None, help="", nullable=False):
    return Field((str,), default, choices=tuple(choices) if choices else None, help=help, nullable=nullable)


def _list(default, help="", nullable=False):
    return Field((list,), default, help=help, nullable=nullable)


TASK_LOSS = {"classify": "cross_entropy", "forecast": "mse", "contrastive": "nt_xent", "regress": "mse"}  # each task's loss when train.loss.name is not given
OPEN = "open"  # marker: a section whose keys are checked by the component it configures
MAX_THREADS = 1024  # torch.set_num_threads(100_000) crashes the process (a segfault at the first matmul)

SCHEMA: dict[str, Any] = {
    "engine": _str("torch", ["torch", "scratch"], "torch: PyTorch; scratch: nnforge.scratch (NumPy)"),
    "seed": _int(0, 0, 2**63 - 1, help="seeds Python, NumPy and torch (torch takes at most 2**63 - 1)"),
    "deterministic": _bool(False, "bit-identical reruns (torch deterministic algorithms)"),
    "device": _str("auto", ["auto", "cpu", "cuda", "mps"], "auto picks cuda when available"),
    "threads": _int(0, 0, MAX_THREADS, help="CPU threads for torch; 0 keeps torch's default"),
    "task": _str("classify", ["classify", "forecast", "contrastive", "regress"], "classify: classes from images or tables; forecast: a sequence model on a time series (see forecast.*); "
                  "contrastive: self-supervised pretraining of an encoder on unlabelled images (see contrastive.*); regress: numbers from a table"),
    "data": {
        "name": _str("mnist-sample", help="a dataset name: see `nnforge datasets`"),
        "root": _str(None, nullable=True, help="data directory for file-based datasets"),
        "target": _str(None, nullable=True, help="target column for csv: datasets"),
        "url": _str(None, nullable=True, help="mirror base URL to download standard files from"),
        "download": _bool(False, "download missing standard files (checked by SHA-256)"),
        "batch_size": _int(128, 1),
        "eval_batch_size": _int(1000, 1),
        "image_size": Field((int, list), None, nullable=True, help="resize images to N or [H, W] (any image dataset)"),
        "fit_content": _bool(False, "crop images to their strokes and centre them in MNIST's 20-in-28 margin (then image_size)"),
        "train_fraction": _num(1.0, 0.0, 1.0, "keep a stratified, seeded part of the training split (transfer learning)"),
        "sampling": _str("none", ["none", "oversample", "undersample"], "rebalance classes in each training epoch"),
        "imbalance": Field((dict,), {}, help="make training imbalanced on purpose: {class: fraction kept}"),
        "denoise": _str("none", ["none", "median", "gaussian"], "filter every image (train, eval and predict)"),
        "denoise_size": _int(3, 3, 9, "denoise: kernel size (odd)"),
        "val_fraction": _num(0.1, 0.0, 0.9, "part of the training split held out for validation"),
        "normalize": _bool(True, "standardise inputs with statistics of the training split"),
        "augment": {
            "rotate": _num(0.0, 0.0, 180.0, "max rotation in degrees"),
            "shift": _num(0.0, 0.0, 0.5, "max translation as a fraction of the size"),
            "scale": _num(0.0, 0.0, 0.5, "max zoom in or out as a fraction"),
            "shear": _num(0.0, 0.0, 45.0, "max shear in degrees"),
            "hflip": _bool(False, "random horizontal flips"),
            "crop_padding": _int(0, 0, help="pad by N pixels, then crop a random window of the original size"),
            "noise": _num(0.0, 0.0, 1.0, "Gaussian noise std as a fraction of the pixel range"),
            "cutout": _num(0.0, 0.0, 1.0, "erase one random square of this fraction of the side"),
            "clean_epochs": _int(0, 0, help="train the last N epochs on unaugmented images"),
            "mixup": _num(0.0, 0.0, help="mixup: blend pairs of inputs and their targets, ratio ~ Beta(a, a); 0: off"),
            "cutmix": _num(0.0, 0.0, help="cutmix: paste a box of another image, targets by its area, ratio ~ Beta(a, a); 0: off"),
            "mix_prob": _num(1.0, 0.0, 1.0, "mixup/cutmix: probability that an example is mixed (both set: each picks one)"),
            "policy": _str("none", ["none", "randaugment", "trivialaugment"], "an automatic augmentation policy of image ops"),
            "magnitude": _int(None, 0, 30, nullable=True,
                              help="policy strength in 0-30; default: randaugment 9, trivialaugment a random 0-30 per image"),
            "num_ops": _int(None, 1, 10, nullable=True, help="randaugment: ops applied to each image; default 2"),
        },
    },
    "model": OPEN,
    "train": {
        "epochs": _int(10, 1),
        "loss": {
            "name": _str(None, ["cross_entropy", "mse", "focal", "nt_xent", "l1", "huber"], "default: the task's own (classify: cross_entropy, forecast and regress: mse, contrastive: nt_xent)",
                     nullable=True),
            "label_smoothing": _num(0.0, 0.0, 0.99),
            "class_weight": Field((str, list), None, nullable=True, help="'balanced' or one weight per class"),
            "focal_gamma": _num(2.0, 0.0, help="focal: down-weighting of easy examples"),
        },
        "optimizer": {
            "name": _str("sgd", ["sgd", "adam", "adamw", "rmsprop"]),
            "lr": _positive(0.1),
            "momentum": _num(0.0, 0.0, 1.0),
            "nesterov": _bool(False),
            "weight_decay": _num(0.0, 0.0),
            "betas": _list([0.9, 0.999]),
            "eps": _num(1e-8, 0.0),
            "alpha": _num(0.99, 0.0, 1.0, "RMSprop smoothing constant"),
            "lr_mult": Field((dict,), {}, help="discriminative LRs: {parameter-name pattern: lr multiplier}"),
        },
        "scheduler": {
            "name": _str("none", ["none", "step", "cosine", "onecycle", "plateau"]),
            "step_size": _int(20, 1, help="step: epochs between decays"),
            "gamma": _num(0.1, 0.0, 1.0, "step: decay factor"),
            "max_lr": _positive(None, nullable=True, help="onecycle: peak lr (default: optimizer.lr)"),
            "pct_start": _num(0.25, 0.0, 1.0, "onecycle: fraction of steps spent warming up"),
            "min_lr": _num(0.0, 0.0, help="cosine: final lr; plateau: lowest lr"),
            "patience": _int(3, 0, help="plateau: epochs without improvement before the lr is cut by gamma"),
            "warmup_epochs": _num(0.0, 0.0, help="linear warm-up from ~0 to the lr over this many epochs, then the schedule"),
        },
        "monitor": _str("val_loss", ["val_loss", "val_accuracy", "train_loss", "train_accuracy"],
                        "what early stopping, best-model saving and plateau watch (train_* when there is no val split)"),
        "early_stopping": {
            "patience": _int(0, 0, help="stop after this many epochs without improvement; 0: off"),
            "min_delta": _num(0.0, 0.0, help="smallest change that counts as an improvement"),
            "restore_best": _bool(True, "put back the best epoch's weights when stopping"),
        },
        "save_best": _bool(False, "write best_model.safetensors whenever the monitored metric improves"),
        "log_csv": _bool(False, "also write metrics.csv (one row per epoch)"),
        "l1": _num(0.0, 0.0, help="L1 penalty coefficient on weights (not biases or norm layers)"),
        "gradients": {
            "clip_norm": _positive(None, nullable=True, help="clip the global gradient norm to this value"),
            "clip_value": _positive(None, nullable=True, help="clip every gradient element to [-v, v]"),
            "log_norms": _bool(False, "log per-layer gradient norms to grad_norms.jsonl"),
            "check": _bool(False, "warn, naming the layer, when gradients vanish or explode"),
            "vanish_below": _num(1e-7, 0.0, help="check: a layer's gradient norm below this is 'vanishing'"),
            "explode_above": _num(1e3, 0.0, help="check: a layer's gradient norm above this is 'exploding'"),
        },
        "init": {
            "weights": _str(None, nullable=True, help="initialise from a run directory or a .safetensors/.pt file (matching names)"),
            "skip": _list([], help="parameter-name patterns not to load (for example the head: classifier.*)"),
        },
        "freeze": _list([], help="parameter-name patterns to freeze (fnmatch, e.g. features.*)"),
        "unfreeze_epoch": _int(0, 0, help="unfreeze the frozen layers at the start of this epoch (1-based); 0: never"),
        "precision": _str("fp32", ["fp32", "bf16"], "bf16: autocast the forward pass to bfloat16"),
        "channels_last": _bool(False, "store image tensors and conv weights channels-last"),
        "compile": _bool(False, "torch.compile the model (opt-in; slow first epoch)"),
        "lr_finder": {
            "start": _positive(1e-7, help="--find-lr: first lr of the sweep"),
            "end": _positive(10.0, help="--find-lr: last lr of the sweep"),
            "steps": _int(100, 5, help="--find-lr: number of batches in the sweep"),
        },
        "progress": _str("auto", ["auto", "bar", "lines", "none"], "auto: a bar on a terminal, else lines"),
        "checkpoint": {
            "enabled": _bool(True, "write checkpoints/ (resumable state) during training"),
            "every_steps": _int(0, 0, help="also checkpoint every N optimizer steps; 0: at the end of each epoch only"),
            "keep": _int(2, 1, help="recent checkpoints kept (besides best); an unreadable one falls back to the one before"),
        },
        "nonfinite": _str("stop", ["stop", "skip"], "a NaN/Inf loss or gradient stops the run, or skips that step"),
        "accumulate": _int(1, 1, help="gradient accumulation: one optimizer step every K batches (the update of a K-times-larger batch)"),
        "ema": {
            "decay": _num(None, 0.0, 1.0, nullable=True, help="keep an exponential moving average of the weights (e.g. 0.99); "
                                                              "evaluation and the saved model use it"),
            "every": _int(1, 1, help="ema: update the average every N optimizer steps"),
        },
        "swa": {
            "start_epoch": _int(0, 0, help="stochastic weight averaging from this epoch on (1-based), BatchNorm recomputed at the end; 0: off"),
            "lr": _positive(None, nullable=True, help="swa: the constant lr while averaging (default: optimizer.lr)"),
        },
        "distill": {
            "teacher": _str(None, nullable=True, help="knowledge distillation: learn from the soft targets of this trained run directory"),
            "temperature": _num(4.0, 1e-3, help="distill: softmax temperature of the soft targets"),
            "alpha": _num(0.5, 0.0, 1.0, "distill: weight of the teacher's soft targets (1 - alpha: the true labels)"),
        },
        "max_time": Field((int, float, str), None, nullable=True,
                          help="stop at this wall-clock budget per start (seconds or HH:MM:SS) with a resumable checkpoint"),
        "overfit_batches": _int(0, 0, help="debugging: train on N fixed batches; a healthy model drives their loss to ~0"),
        "fast_dev_run": _bool(False, "debugging: one batch of train/val/test through every part of the run; nothing is kept"),
        "log_lr": _str("epoch", ["epoch", "step"], "step: also log the learning rate of every optimizer step to metrics.jsonl"),
        "loggers": Field((list,), [], choices=("tensorboard", "mlflow", "csv"),
                         help="trackers besides metrics.jsonl (always written): tensorboard, mlflow, csv (metrics.csv)"),
        "mlflow": {
            "tracking_uri": _str(None, nullable=True, help="MLflow tracking URI (default: sqlite:///RUNS_ROOT/mlflow.db)"),
            "experiment": _str("nnforge", help="MLflow experiment the run is logged to"),
        },
    },
    "forecast": {
        "window": _int(24, 1, help="task=forecast: past steps the model sees"),
        "horizon": _int(1, 1, help="task=forecast: steps ahead it predicts"),
        "test_fraction": _num(0.2, 0.0, 0.9, "task=forecast: the held-out end of the series"),
    },
    "contrastive": {
        "temperature": _num(0.5, 0.01, 10.0, "task=contrastive: NT-Xent temperature (lower: harder negatives)"),
        "projection_dim": _int(64, 2, help="task=contrastive: outputs of the projection head (the model's last layer)"),
        "probe_labels": _int(100, 10, help="task=contrastive: labelled training images the linear probe is fitted on at the end"),
    },
    "tune": OPEN,  # `nnforge tune`: metric, direction, pruner and the search space; see nnforge.tune.space
    "federated": {
        "clients": _int(0, 0, help="FedAvg: simulated clients, each training on a private part of the training split; 0: off"),
        "rounds": _int(None, 1, nullable=True, help="federated: rounds of local training and averaging (default: train.epochs)"),
        "local_epochs": _int(1, 1, help="federated: epochs each client trains on its part per round"),
        "split": _str("iid", ["iid", "dirichlet"], "federated: iid parts, or dirichlet (non-IID: each client sees few classes)"),
        "alpha": _num(0.5, 0.0, help="federated.split dirichlet: concentration; smaller gives each client fewer classes"),
    },
}


def _nearest(word: str, options: Iterable[str]) -> str:
    return did_you_mean(word, options, cutoff=0.5)


def unknown_key_error(path: str, key: str, valid: Iterable[str]) -> ConfigError:
    """The one error for an unknown key, shared by every section's validator."""
    valid = sorted(valid)
    return ConfigError(f"unknown key '{path}'{_elsewhere(path, key) or _nearest(key, valid)}; valid keys here: {', '.join(valid)}")


def _elsewhere(path: str, key: str) -> str:
    """`` (did you mean 'train.epochs'?)`` for ``--set epochs=3``: the recipe's other keys of that name
    (up to three), or ''."""
    found, stack = [], [("", SCHEMA)]
    while stack:
        prefix, section = stack.pop(0)
        for name, spec in section.items():
            if isinstance(spec, dict):
                stack.append((f"{prefix}{name}.", spec))
            elif name == key and prefix + name != path:
                found.append(prefix + name)
    return f" (did you mean {' or '.join(repr(p) for p in found)}?)" if 0 < len(found) <= 3 else ""


def check_value(path: str, value: Any, field: Field) -> Any:
    """Validate one value against its field and return it (ints are accepted where floats are)."""
    if value is None:
        if field.nullable or field.default is None:
            return None
        raise ConfigError(f"'{path}' must not be empty; accepted: {field.accepted()}")
    if isinstance(value, str) and float in field.types:
        value = _yaml_float(value)
    ok = isinstance(value, field.types) and not (isinstance(value, bool) and bool not in field.types)
    if not ok:
        raise ConfigError(f"'{path}' is {shown(value)} ({type(value).__name__}); accepted: {field.accepted()}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"'{path}' is {shown(value)}; accepted: a finite number")
    if is_number(value) and not is_finite(value):  # a 400-digit int: OverflowError wherever it met a float
        raise ConfigError(f"'{path}' is {shown(value)}; accepted: {field.accepted()}, within a float's range (1.8e308)")
    if field.choices and isinstance(value, list):  # a list of choices: each item is one of them
        for item in value:
            if item not in field.choices:
                raise ConfigError(f"'{path}' lists {shown(item)}{_nearest(str(item), map(str, field.choices))}; "
                                  f"accepted: a list of {', '.join(map(str, field.choices))}")
    elif field.choices and value not in field.choices:
        raise ConfigError(f"'{path}' is {shown(value)}{_nearest(str(value), map(str, field.choices))}; accepted: {field.accepted()}")
    if field.minimum is not None and (value < field.minimum or (field.positive and value == field.minimum)):
        raise ConfigError(f"'{path}' is {shown(value)}; accepted: {field.accepted()}")
    if field.maximum is not None and value > field.maximum:
        raise ConfigError(f"'{path}' is {shown(value)}; accepted: {field.accepted()}")
    return value


def _yaml_float(text: str):
    """YAML 1.1 reads ``1e-3`` as text; a number field takes it as the float it means."""
    try:
        return float(text)
    except ValueError:
        return text


def _validate(section: dict, schema: dict, prefix: str) -> dict:
    if not isinstance(section, dict):
        where, name = prefix.rstrip(".") or "recipe", schema.get("name")
        meant = isinstance(name, Field) and name.choices and isinstance(section, str) and section in name.choices
        hint = f"; did you mean '{where}.name: {section}'?" if meant else ""  # `scheduler: cosine`, as Keras' strings read
        raise ConfigError(f"'{where}' must be a mapping of keys ({', '.join(schema)}), got {shown(section)}{hint}")
    for key in section:
        if key not in schema:
            raise unknown_key_error(prefix + str(key), str(key), schema)
    out = {}
    for key, spec in schema.items():
        path = prefix + key
        if spec is OPEN:
            value = section.get(key, {}) or {}
            if not isinstance(value, dict):
                raise ConfigError(f"'{path}' must be a mapping, got {shown(value)}")
            out[key] = copy.deepcopy(value)
        elif isinstance(spec, dict):
            out[key] = _validate(section.get(key, {}) or {}, spec, path + ".")
        else:
            out[key] = check_value(path, section.get(key, copy.deepcopy(spec.default)), spec)
    return out


def default_config() -> "Recipe":
    """The complete default recipe (what an empty YAML file means)."""
    return resolve({})


def parse_override(item: str) -> tuple[list[str], Any]:
    """``a.b=value`` -> (['a', 'b'], value); the value is read as YAML (3 -> int, [1,2] -> list)."""
    if "=" not in item:
        raise ConfigError(f"--set expects key=value (for example train.epochs=3), got '{excerpt(item, 60)}'")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise ConfigError(f"--set has an empty key in '{excerpt(item, 60)}'; expected a dotted path like train.epochs")
    try:
        value = load_yaml(raw) if raw.strip() else None
    except DuplicateKeyError as exc:
        raise ConfigError(f"--set {excerpt(item, 60)}: {exc.problem}") from None
    except ConfigError as exc:
        raise ConfigError(f"--set {excerpt(item, 60)}: {exc}") from None
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(raw: dict, overrides: Iterable[str]) -> dict:
    """Apply ``--set`` overrides to a raw (unvalidated) recipe; validation happens afterwards."""
    raw = copy.deepcopy(raw)
    for item in overrides or ():
        parts, value = parse_override(item)
        set_value(raw, parts, value, f"--set {item}")
    return raw


def set_value(raw: dict, parts: list[str], value: Any, source: str) -> None:
    """Set ``raw[parts[0]][parts[1]]... = value`` in a raw recipe, making sections as needed; a path
    through a value is a one-line error that names ``source`` (the ``--set`` item or the override)."""
    node = raw
    for i, part in enumerate(parts[:-1]):
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        if not isinstance(nxt, dict):
            raise ConfigError(f"{source}: '{'.'.join(parts[: i + 1])}' is a value, not a section")
        node = nxt
    node[parts[-1]] = value


def duration_seconds(value: int | float | str) -> float:
    """``train.max_time`` in seconds: a number of seconds, or ``"HH:MM:SS"`` (``"MM:SS"``, fractions allowed)."""
    if isinstance(value, str):
        parts = value.strip().split(":")
        try:
            numbers = [float(p) for p in parts]
        except ValueError:
            numbers = []
        if not 1 <= len(numbers) <= 3 or any(n < 0 or not math.isfinite(n) for n in numbers):
            raise ConfigError(f"'train.max_time' is {shown(value)}; accepted: seconds (e.g. 3600) or 'HH:MM:SS' (e.g. '01:30:00')")
        return sum(n * 60 ** i for i, n in enumerate(reversed(numbers)))
    if value < 0:
        raise ConfigError(f"'train.max_time' is {shown(value)}; accepted: seconds >= 0 or 'HH:MM:SS'")
    return float(value)


def resolve(raw: dict | "Recipe" | None) -> "Recipe":
    """Fill defaults and validate a raw recipe into a typed, immutable :class:`Recipe`.

    Model parameters are checked by the model registry; the ``tune`` section is left to
    :mod:`nnforge.tune`, which validates it when a search starts (only ``nnforge tune`` reads it).
    """
    if isinstance(raw, Recipe):
        return raw
    if raw is None:
        raw = {}
    config = _validate(raw, SCHEMA, "")
    from nnforge.models import check_model_config  # late import: models import torch

    config["model"] = check_model_config(config["model"])
    if config["train"]["loss"]["name"] is None:
        config["train"]["loss"]["name"] = TASK_LOSS[config["task"]]
    if config["data"]["val_fraction"] >= 0.9:
        raise ConfigError("'data.val_fraction' must be below 0.9 so that something is left to train on")
    if config["train"]["max_time"] is not None:
        duration_seconds(config["train"]["max_time"])  # a malformed budget is refused here, not at the first step
    for path, patterns in (("train.freeze", config["train"]["freeze"]), ("train.init.skip", config["train"]["init"]["skip"])):
        if not all(isinstance(p, str) for p in patterns):  # fnmatch of a number is a TypeError when the model is built
            raise ConfigError(f"'{path}' is {shown(patterns)}; accepted: a list of parameter-name patterns (text), e.g. ['features.*']")
    betas = config["train"]["optimizer"]["betas"]
    if len(betas) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas):
        raise ConfigError(f"'train.optimizer.betas' is {shown(betas)}; accepted: two numbers in [0, 1)")
    return _freeze(config, SCHEMA, RECIPE_TYPES[""])


# -- the typed recipe -------------------------------------------------------------------------
# One class per schema section, generated from SCHEMA itself: the schema stays the single list of
# keys (with the one-line errors above), and every module reads attributes of frozen objects
# (``recipe.train.optimizer.lr``) instead of dictionaries with their own fallbacks. Hand-written
# pydantic models would state every key a second time, and the two lists would drift.

class FrozenMap(Mapping):
    """A read-only mapping for the open sections (``model``, ``tune``) and mapping-valued keys.

    Reading a list or mapping returns a copy, so nothing a caller does can change the recipe.
    """

    __slots__ = ("_data",)

    def __init__(self, data: dict):
        self._data = copy.deepcopy(dict(data))

    def __getitem__(self, key):
        value = self._data[key]
        return copy.deepcopy(value) if isinstance(value, (list, dict)) else value

    def __iter__(self):
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Mapping) and dict(self.items()) == dict(other.items())

    def __hash__(self):
        return hash(json.dumps(self._data, sort_keys=True, default=str))

    def to_dict(self) -> dict:
        return copy.deepcopy(self._data)


class Section:
    """Behaviour shared by every generated section class: plain data out, dotted reads."""

    def to_dict(self) -> dict:
        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}

    def at(self, dotted: str) -> Any:
        """The value at a dotted path (``recipe.at("train.optimizer.lr")``), for generic code such as tune."""
        node: Any = self
        for part in dotted.split("."):
            node = node[part] if isinstance(node, Mapping) else getattr(node, part)
        return node


class Recipe(Section):
    """A resolved recipe. ``with_overrides({"train.epochs": 3})`` returns a new, validated one."""

    def with_overrides(self, values: dict[str, Any]) -> "Recipe":
        raw = self.to_dict()
        for dotted, value in values.items():
            set_value(raw, dotted.split("."), copy.deepcopy(value), f"override {dotted}")
        return resolve(raw)


def _class_name(path: str) -> str:
    return "".join(part.title().replace("_", "") for part in path.split(".")) + "Config"


def _make_types(schema: dict, path: str = "", out: dict | None = None) -> dict:
    out = {} if out is None else out
    for key, spec in schema.items():
        if isinstance(spec, dict):
            _make_types(spec, f"{path}.{key}".lstrip("."), out)
    fields = [(key, Any) for key in schema]
    base = Recipe if not path else Section
    cls = dataclasses.make_dataclass(_class_name(path) if path else "ResolvedRecipe", fields, bases=(base,), frozen=True)
    cls.__module__ = __name__
    out[path] = cls
    return out


def _freeze_value(value):
    if isinstance(value, list):
        return tuple(_freeze_value(v) for v in value)
    if isinstance(value, dict):
        return FrozenMap(value)
    return value


def plain(value):
    """A recipe value as plain YAML-able data: sections and FrozenMaps as dicts, tuples as lists."""
    if isinstance(value, (Section, FrozenMap)):
        return value.to_dict()
    if isinstance(value, tuple):
        return [plain(v) for v in value]
    return value


def _freeze(config: dict, schema: dict, cls, path: str = ""):
    values = {}
    for key, spec in schema.items():
        sub = f"{path}.{key}".lstrip(".")
        if isinstance(spec, dict):
            values[key] = _freeze(config[key], spec, RECIPE_TYPES[sub], sub)
        elif spec is OPEN:
            values[key] = FrozenMap(config[key])
        else:
            values[key] = _freeze_value(config[key])
    return cls(**values)


RECIPE_TYPES = _make_types(SCHEMA)


def section(path: str, value: "Section | Mapping | None"):
    """A typed section (``data``, ``data.augment``, ...) from a partial mapping, defaults filled in.

    Lower layers (data, models) take their section typed; this lets their callers and tests
    pass ``{"name": "digits"}`` and still get the schema's defaults, never restated ones.
    """
    if isinstance(value, Section):
        return value
    raw: dict = {}
    node = raw
    *parents, leaf = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = dict(value or {})
    return resolve(raw).at(path)


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A key given twice in one mapping."""


#: deeper nesting than any recipe needs. PyYAML's composer recurses once per level, so without a
#: limit of its own a deep enough file hits the interpreter's recursion limit (where that is depends
#: on what else the process imported: some libraries raise it) or, raised far enough, the C stack.
MAX_YAML_DEPTH = 100
#: values in a recipe once aliases are expanded: a real one has a few hundred. Each ``*name`` repeats
#: what its anchor holds, so nine lines of aliases make a list of 9**9 items ("billion laughs") that
#: every reader of the value (freezing, an error message's excerpt) would walk in full.
MAX_YAML_VALUES = 100_000


class _RecipeLoader(yaml.SafeLoader):
    """``yaml.safe_load``'s loader, except that a key given twice in one mapping is an error, and so is
    nesting deeper than :data:`MAX_YAML_DEPTH`.

    The YAML spec requires unique keys, but PyYAML keeps the last value silently: a recipe with
    ``epochs: 30`` near the top and ``epochs: 3`` added below would train 3 epochs with no word
    said. Keys a merge (``<<: *base``) brings in may still be overridden, as YAML intends."""

    _depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise ConfigError(f"nested too deeply to read (more than {MAX_YAML_DEPTH} levels of [ or {{); "
                                  "a recipe needs a few")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key, line = self.construct_object(key_node, deep=deep), key_node.start_mark.line + 1
            if key in seen:
                lines = f" (lines {seen[key]} and {line})" if seen[key] != line else ""
                raise DuplicateKeyError(None, None, f"key '{excerpt(key)}' is given twice in one mapping{lines}; keep one",
                                        key_node.start_mark)
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str):
    """YAML text as plain data: ``yaml.safe_load`` with unique keys and a depth limit (:class:`_RecipeLoader`),
    the same depth limit and :data:`MAX_YAML_VALUES` applying to the data once its aliases are expanded."""
    try:
        data = yaml.load(text, Loader=_RecipeLoader)  # a SafeLoader: plain data only
        _check_expanded(data, 0, [MAX_YAML_VALUES])
        return data
    except RecursionError:  # not reached below MAX_YAML_DEPTH; kept as the last line of defence
        raise ConfigError("nested too deeply to read (hundreds of levels of [ or {); a recipe needs a few") from None
    except ValueError as exc:  # a scalar YAML types but Python cannot build: an int of 5,000 digits, a date 2001-13-45
        raise ConfigError(f"a value cannot be read ({excerpt(exc, 100)}); accepted: numbers of at most 4,300 digits, "
                          f"real dates, or text in quotes") from None


def _check_expanded(value, depth: int, budget: list[int]) -> None:
    """Refuse data that aliases make too large or too deep (an alias inside its own anchor: endless)."""
    budget[0] -= 1
    if budget[0] < 0:
        raise ConfigError(f"more than {MAX_YAML_VALUES:,} values once its aliases (*name) are expanded; a recipe needs a few hundred")
    if depth > MAX_YAML_DEPTH:
        raise ConfigError(f"nested too deeply to read (more than {MAX_YAML_DEPTH} levels once its aliases (*name) are "
                          "expanded, or an alias inside its own anchor); a recipe needs a few")
    for item in value.values() if isinstance(value, dict) else value if isinstance(value, list) else ():
        _check_expanded(item, depth + 1, budget)


def read_yaml(path: str | Path) -> dict:
    """Read a YAML recipe safely (no Python objects), with one-line errors."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"recipe '{path}' not found; pass a YAML file such as configs/mnist_cnn.yaml")
    try:
        raw = load_yaml(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"recipe '{path}' is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"recipe '{path}' is not UTF-8 text") from None
    except ConfigError as exc:
        raise ConfigError(f"recipe '{path}': {exc}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"recipe '{path}' must be a mapping of keys (engine, data, model, train, ...)")
    return raw


def load_config(path: str | Path | None = None, overrides: Iterable[str] = ()) -> Recipe:
    """Read a recipe (or start from defaults), apply overrides, validate, return the typed recipe."""
    raw = read_yaml(path) if path is not None else {}
    return resolve(apply_overrides(raw, overrides))


def dump_config(config: "Recipe | dict") -> str:
    data = config.to_dict() if isinstance(config, Section) else config
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=None)


#: the optimizer and scheduler options only some of them read (every optimizer reads name, lr,
#: weight_decay and lr_mult; every schedule name and warmup_epochs), as nnforge.train.optim passes them
#: (here, beside the schema, so that what reads run folders may ask too: :func:`unread_option`)
OPTIMIZER_KEYS = {
    "sgd": {"momentum", "nesterov"},
    "adam": {"betas", "eps"},
    "adamw": {"betas", "eps"},
    "rmsprop": {"alpha", "eps", "momentum"},
}
SCHEDULER_KEYS = {
    "none": set(),
    "step": {"step_size", "gamma"},
    "cosine": {"min_lr"},
    "onecycle": {"max_lr", "pct_start"},
    "plateau": {"gamma", "patience", "min_lr"},
}

#: section -> its table
SPECIFIC_KEYS = {"train.optimizer": OPTIMIZER_KEYS, "train.scheduler": SCHEDULER_KEYS}


# What a classifier's val_loss and test_loss measure (nnforge.train.evaluate), here so that what reads
# run folders (compare) may ask too.
def loss_name(loss) -> str:
    """The criterion a classifier's ``train.loss`` section names (None, or a name left unset: cross-entropy, the classifier's default)."""
    return getattr(loss, "name", None) or "cross_entropy"


def criterion_name(loss) -> str:
    """The criterion of a ``train.loss`` section in words, its options included: ``cross_entropy``,
    ``cross_entropy, label_smoothing 0.1``, ``focal, focal_gamma 2.0``, ``mse``."""
    name = loss_name(loss)
    smoothing = float(getattr(loss, "label_smoothing", 0.0) or 0.0)
    if name == "focal":
        return f"focal, focal_gamma {float(loss.focal_gamma):g}"
    return f"{name}, label_smoothing {smoothing:g}" if name == "cross_entropy" and smoothing else name


#: the data.augment keys that switch an augmentation on (clean_epochs switches them off at the end)
AUGMENTING = frozenset(f"data.augment.{k}" for k in "rotate shift scale shear hflip crop_padding noise cutout mixup cutmix policy".split())

#: options that act only while another key turns their feature on: (the options, is their feature
#: on?, why they do nothing now, what to set instead). Not here: train.init.skip, which the shipped
#: fine-tuning recipes keep for a --set train.init.weights=RUN
_FEATURES = [
    (("train.unfreeze_epoch",), lambda r: bool(r.train.freeze), "train.freeze is empty, so no layer is frozen to unfreeze",
     "set train.freeze to the layers to train from that epoch"),
    (("train.swa.lr",), lambda r: r.train.swa.start_epoch > 0, "train.swa.start_epoch is 0, so no weights are averaged",
     "set train.swa.start_epoch"),
    (("train.distill.temperature", "train.distill.alpha"), lambda r: r.train.distill.teacher is not None,
     "train.distill.teacher is not set, so nothing is distilled", "set train.distill.teacher to a trained run directory"),
    (("train.checkpoint.every_steps", "train.checkpoint.keep"), lambda r: r.train.checkpoint.enabled,
     "train.checkpoint.enabled is false, so no checkpoint is written", "set train.checkpoint.enabled: true"),
    (("train.ema.every",), lambda r: r.train.ema.decay is not None, "train.ema.decay is not set, so no average is kept",
     "set train.ema.decay (e.g. 0.99)"),
    (("train.early_stopping.min_delta", "train.early_stopping.restore_best"), lambda r: r.train.early_stopping.patience > 0,
     "train.early_stopping.patience is 0, so early stopping is off", "set train.early_stopping.patience"),
    (("train.gradients.vanish_below", "train.gradients.explode_above"), lambda r: r.train.gradients.check,
     "train.gradients.check is false, so no gradient is checked", "set train.gradients.check: true"),
    (("train.mlflow.tracking_uri", "train.mlflow.experiment"), lambda r: "mlflow" in r.train.loggers,
     "train.loggers does not list mlflow", "add mlflow to train.loggers"),
    (("data.denoise_size",), lambda r: r.data.denoise != "none", "data.denoise is none, so no image is filtered",
     "set data.denoise: median or gaussian"),
    (("data.augment.clean_epochs",), lambda r: any(plain(r.at(k)) != field_at(k).default for k in AUGMENTING),
     "no augmentation is on, so every epoch is clean already", "set an augmentation (e.g. data.augment.rotate, mixup or policy)"),
    (("train.optimizer.nesterov",), lambda r: r.train.optimizer.momentum > 0,
     "train.optimizer.momentum is 0, and Nesterov momentum needs momentum", "set train.optimizer.momentum (e.g. 0.9)"),
]
#: option -> (is its feature on?, why it does nothing now, what to set instead)
FEATURE_OPTIONS = {key: (on, why, instead) for options, on, why, instead in _FEATURES for key in options}


def unread_option(recipe: dict, path: str, resolved: "Recipe | None" = None) -> bool:
    """Whether the run of ``recipe`` (plain nested data, as a run folder's ``config.yaml`` holds) never
    read option ``path``: one only some optimizers (or schedules) read, and not the one it names
    (``train.optimizer.momentum`` for Adam); with ``resolved`` (the recipe resolved), also an option of
    a feature it leaves off (:data:`FEATURE_OPTIONS`: ``train.early_stopping.min_delta`` with patience 0)."""
    if resolved is not None and path in FEATURE_OPTIONS and not FEATURE_OPTIONS[path][0](resolved):
        return True
    section, _, key = path.rpartition(".")
    table = SPECIFIC_KEYS.get(section)
    if table is None or key not in set().union(*table.values()):
        return False
    node: Any = recipe
    for part in section.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    name = node.get("name", field_at(section + ".name").default) if isinstance(node, dict) else field_at(section + ".name").default
    return name in table and key not in table[name]


def leaf_paths(schema: dict | None = None, prefix: str = "") -> list[str]:
    """Every leaf key of the schema as a dotted path (open sections count as one leaf)."""
    out = []
    for key, spec in (SCHEMA if schema is None else schema).items():
        if isinstance(spec, dict):
            out += leaf_paths(spec, f"{prefix}{key}.")
        else:
            out.append(prefix + key)
    return out


def field_at(path: str) -> "Field | str":
    node: Any = SCHEMA
    for part in path.split("."):
        node = node[part]
    return node
