"""The ``scratch`` training engine: ``engine: scratch`` in a recipe trains with NumPy.

``nnforge.train.fit`` prepares data, builds the zoo's (torch) model and then hands over here.
This module builds the scratch twin of that model (:mod:`.models`, same parameter names),
starts it from the torch model's initial weights, trains it with scratch optimizers on the same
batches, and finally writes the trained weights back into the torch model, so evaluation, the
run directory and serving work exactly as for a torch run.

Nothing here imports torch: batches arrive as CPU tensors and are read with ``.numpy()``, and
the weights go back by writing into the NumPy views of the torch parameters.
"""
from __future__ import annotations

import contextlib
import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterable

import numpy as np

from ..errors import ConfigError
from . import optim
from .autograd import no_grad
from .models import build_from_config
from .nn import Module
from .nn import functional as F
from .nn.utils import clip_grad_norm_, clip_grad_value_
from .tensor import Tensor


def _np(t: Any) -> np.ndarray:
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def _unsupported(train_cfg: dict) -> list[str]:
    """Recipe settings the scratch engine does not implement (defaults are fine)."""
    sched, opt = train_cfg.get("scheduler", {}), train_cfg.get("optimizer", {})
    checks = {
        "train.scheduler.name": sched.get("name", "none") not in ("none", "step", "cosine"),
        "train.scheduler.warmup_epochs": bool(sched.get("warmup_epochs", 0)),
        "train.optimizer.lr_mult": bool(opt.get("lr_mult")),
        "train.l1": bool(train_cfg.get("l1", 0)),
        "train.early_stopping.patience": bool(train_cfg.get("early_stopping", {}).get("patience", 0)),
        "train.freeze": bool(train_cfg.get("freeze")),
        "train.init.weights": bool(train_cfg.get("init", {}).get("weights")),
        "train.precision": train_cfg.get("precision", "fp32") != "fp32",
        "train.compile": bool(train_cfg.get("compile")),
    }
    return [key for key, bad in checks.items() if bad]


def check_config(config: dict) -> None:
    """A one-line ConfigError for a recipe this engine cannot train (called before a run folder exists)."""
    from .models import BUILDERS

    if config["model"]["name"] not in BUILDERS:
        raise ConfigError(f"engine 'scratch' trains the models {', '.join(BUILDERS)}, not '{config['model']['name']}'; "
                          "use engine: torch for it")
    bad = _unsupported(config["train"])
    if bad:
        raise ConfigError(f"engine 'scratch' does not support {', '.join(bad)}; use engine: torch for these")


def build_optimizer(params: Iterable, cfg: dict) -> optim.Optimizer:
    """The optimizer a recipe's ``train.optimizer`` names, with the same hyperparameters."""
    name, lr, wd = cfg["name"], cfg["lr"], cfg.get("weight_decay", 0.0)
    params = list(params)
    if name == "sgd":
        momentum = cfg.get("momentum", 0.0)
        return optim.SGD(params, lr=lr, momentum=momentum, weight_decay=wd,
                         nesterov=bool(cfg.get("nesterov")) and momentum > 0)
    betas, eps = tuple(cfg.get("betas", (0.9, 0.999))), cfg.get("eps", 1e-8)
    if name == "adam":
        return optim.Adam(params, lr=lr, betas=betas, eps=eps, weight_decay=wd)
    if name == "adamw":
        return optim.AdamW(params, lr=lr, betas=betas, eps=eps, weight_decay=wd)
    if name == "rmsprop":
        return optim.RMSprop(params, lr=lr, alpha=cfg.get("alpha", 0.99), eps=eps,
                             momentum=cfg.get("momentum", 0.0), weight_decay=wd)
    raise ConfigError(f"'train.optimizer.name' is {name!r}; accepted by engine scratch: sgd, adam, adamw, rmsprop")


def build_scheduler(optimizer: optim.Optimizer, cfg: dict, epochs: int):
    name = cfg.get("name", "none")
    if name == "step":
        return optim.lr_scheduler.StepLR(optimizer, step_size=cfg["step_size"], gamma=cfg["gamma"])
    if name == "cosine":
        return optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs, eta_min=cfg.get("min_lr", 0.0))
    return None


def _class_weights(spec: Any, targets: np.ndarray, num_classes: int) -> np.ndarray | None:
    if spec is None:
        return None
    if spec == "balanced":
        counts = np.bincount(targets, minlength=num_classes).astype(np.float64)
        return (len(targets) / (num_classes * np.maximum(counts, 1))).astype(np.float32)
    if len(spec) != num_classes:
        raise ConfigError(f"'train.loss.class_weight' has {len(spec)} entries; accepted: {num_classes} numbers")
    return np.asarray(spec, dtype=np.float32)


def build_loss(cfg: dict, num_classes: int, targets: np.ndarray):
    """cross_entropy (label smoothing, class weights), focal, or the seed's MSE on one-hot."""
    name = cfg.get("name", "cross_entropy")
    weight = _class_weights(cfg.get("class_weight"), targets, num_classes)
    if name == "cross_entropy":
        smoothing = cfg.get("label_smoothing", 0.0)
        return lambda logits, y: F.cross_entropy(logits, y, weight=weight, label_smoothing=smoothing)
    if name == "focal":
        gamma = cfg.get("focal_gamma", 2.0)
        return lambda logits, y: F.focal_loss(logits, y, gamma=gamma, alpha=weight)
    if name == "mse":
        eye = np.eye(num_classes, dtype=np.float32)
        return lambda logits, y: F.mse_loss(F.softmax(logits, 1), eye[y])
    raise ConfigError(f"'train.loss.name' is {name!r}; accepted by engine scratch: cross_entropy, focal, mse")


def evaluate(model: Module, batches: Iterable) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over ``batches`` in evaluation mode."""
    model.eval()
    loss_sum, correct, seen = 0.0, 0, 0
    with no_grad():
        for xb, yb in batches:
            x, y = _np(xb), _np(yb)
            logits = model(Tensor._wrap(np.ascontiguousarray(x, dtype=np.float32)))
            loss_sum += F.cross_entropy(logits, y, reduction="sum").item()
            correct += int((logits.data.argmax(1) == y).sum())
            seen += len(y)
    model.train()
    return loss_sum / max(1, seen), correct / max(1, seen)


def copy_weights_into(torch_model: Any, scratch_model: Module) -> None:
    """Write scratch weights into a torch model in place (same names and shapes)."""
    ours = scratch_model.state_dict()
    for key, tensor in torch_model.state_dict().items():
        _np(tensor)[...] = ours[key]  # state_dict tensors share storage with the parameters


def _blas_threads(threads: int) -> contextlib.AbstractContextManager:
    """Honour the recipe's ``threads`` for NumPy's BLAS too (threadpoolctl, when installed)."""
    if not threads:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn brings it
        return contextlib.nullcontext()
    return threadpool_limits(limits=threads)


def fit_scratch(model: Any, prepared: Any, train_cfg: dict, out: str | Path | None = None,
                progress: Any = None) -> list[dict]:
    """Train the zoo ``model``'s scratch twin on ``prepared``'s batches; return per-epoch logs.

    ``model`` is the torch model ``fit`` built: it provides the initial weights and receives the
    trained ones. Logs have the torch Trainer's keys (``train_loss``, ``val_accuracy``, ``lr``,
    ``seconds``, ...), are appended to ``out/metrics.jsonl`` and reported to ``progress`` (a
    callback with ``on_epoch_begin``/``on_batch_end``/``on_epoch_end``).
    """
    check_config(prepared.config)
    config, ds = prepared.config, prepared.dataset
    from .creation import manual_seed
    manual_seed(int(config.get("seed", 0)))
    net = build_from_config(config["model"], ds.input_shape, ds.num_classes)
    net.load_state_dict(model.state_dict())
    optimizer = build_optimizer(net.parameters(), train_cfg["optimizer"])
    epochs = int(train_cfg["epochs"])
    scheduler = build_scheduler(optimizer, train_cfg.get("scheduler", {}), epochs)
    loss_fn = build_loss(train_cfg.get("loss", {}), ds.num_classes, _np(ds.y_train).astype(np.int64))
    clip = train_cfg.get("gradients", {})
    log_path = Path(out) / "metrics.jsonl" if out is not None else None
    if log_path is not None:
        log_path.unlink(missing_ok=True)
    state = SimpleNamespace(epochs=epochs, steps_per_epoch=len(prepared.train_batches), epoch=0, stop_training=False)
    with _blas_threads(int(config.get("threads") or 0)):
        history = _train(net, optimizer, scheduler, loss_fn, clip, prepared, epochs, state, log_path, progress)
    copy_weights_into(model, net)
    return history


def _train(net, optimizer, scheduler, loss_fn, clip, prepared, epochs, state, log_path, progress) -> list[dict]:
    history: list[dict] = []
    augmentation = getattr(prepared.train_batches, "augmentation", None)
    for epoch in range(epochs):
        state.epoch = epoch
        if augmentation is not None:  # data.augment.clean_epochs: the last epochs see plain images
            augmentation.start_epoch(epoch, epochs)
        if progress is not None:
            progress.on_epoch_begin(state, epoch)
        net.train()
        start = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        for step, (xb, yb) in enumerate(prepared.train_batches):
            x = np.ascontiguousarray(_np(xb), dtype=np.float32)
            y = _np(yb).astype(np.int64, copy=False)
            optimizer.zero_grad()
            logits = net(Tensor._wrap(x))
            loss = loss_fn(logits, y)
            loss.backward()
            if clip.get("clip_value") is not None:
                clip_grad_value_(net.parameters(), clip["clip_value"])
            if clip.get("clip_norm") is not None:
                clip_grad_norm_(net.parameters(), clip["clip_norm"])
            optimizer.step()
            n, batch_correct = len(y), int((logits.data.argmax(1) == y).sum())
            loss_sum += loss.item() * n
            correct += batch_correct
            seen += n
            if progress is not None:
                progress.on_batch_end(state, step, {"loss": loss.item(), "accuracy": batch_correct / n, "batch_size": n})
        seconds = time.perf_counter() - start
        logs = {"epoch": epoch + 1, "train_loss": loss_sum / max(1, seen), "train_accuracy": correct / max(1, seen),
                "val_loss": None, "val_accuracy": None, "lr": optimizer.param_groups[0]["lr"],
                "seconds": round(seconds, 4), "samples_per_second": round(seen / max(seconds, 1e-9), 1)}
        if prepared.val_batches is not None:
            logs["val_loss"], logs["val_accuracy"] = evaluate(net, prepared.val_batches)
        if scheduler is not None:
            scheduler.step()
        history.append(logs)
        if log_path is not None:
            with open(log_path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(logs) + "\n")
        if progress is not None:
            progress.on_epoch_end(state, epoch, logs)
    return history
