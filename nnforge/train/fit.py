"""``fit(config) -> Run``: one training run from a resolved recipe, written to a run directory."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Sequence

import torch
from torch import nn

import nnforge
from nnforge import io
from nnforge.config import dump_config
from nnforge.data import Dataset, Preprocessing, TensorLoader, build_augmentation, dataset_info, load_dataset
from nnforge.data.augment import AugmentThenPreprocess
from nnforge.errors import RunError
from nnforge.models import build_model
from nnforge.report import plot_confusion, plot_curves
from nnforge.rundir import save_model
from nnforge.train import techniques
from nnforge.train.callbacks import Callback, CleanFinalEpochs, JSONLLogger
from nnforge.train.evaluate import evaluate, per_class_report
from nnforge.train.loop import Trainer
from nnforge.train.losses import build_loss
from nnforge.train.optim import build_optimizer, build_scheduler, trainable
from nnforge.train.progress import Progress
from nnforge.train.seeding import pick_device, seed_everything


@dataclass
class Run:
    """A finished run: where it lives, the trained model, and what it scored."""

    dir: Path
    model: nn.Module
    config: dict
    metrics: dict
    history: list[dict] = field(default_factory=list)


@dataclass
class Prepared:
    """Everything a run needs before its first step; shared by train, tune and the LR finder."""

    config: dict
    dataset: Dataset
    preprocessing: Preprocessing
    train_batches: TensorLoader
    val_batches: TensorLoader | None
    test_batches: TensorLoader
    device: torch.device


def default_run_dir(name: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path("runs") / f"{name}-{stamp}"
    n = 1
    while path.exists():
        n += 1
        path = Path("runs") / f"{name}-{stamp}-{n}"
    return path


def prepare(config: dict) -> Prepared:
    """Seed, load and split the data, fit preprocessing on the training split, build loaders."""
    seed_everything(config["seed"], config["deterministic"])
    if config["threads"]:
        torch.set_num_threads(config["threads"])
    device = pick_device(config["device"])
    data_cfg = config["data"]
    dataset = load_dataset(data_cfg, config["seed"]).split_validation(data_cfg["val_fraction"], config["seed"])
    dataset = techniques.prepare_dataset(dataset, config)  # imbalance, train_fraction, image_size
    info = dataset_info(data_cfg["name"])
    pre = Preprocessing.fit(dataset, normalize=data_cfg["normalize"], fit_content=bool(info and info.fit_content) or data_cfg.get("fit_content", False))
    techniques.configure_preprocessing(pre, config)  # data.denoise
    augment = build_augmentation(data_cfg["augment"]) if dataset.kind == "image" else None
    aug_gen = torch.Generator().manual_seed(config["seed"] + 1)
    train_tf = AugmentThenPreprocess(augment, pre, aug_gen, data_cfg["augment"]["clean_epochs"]) if augment else pre
    to = (lambda t: t.to(device)) if device.type != "cpu" else (lambda t: t)
    train = TensorLoader(to(dataset.x_train), to(dataset.y_train), data_cfg["batch_size"], shuffle=True,
                         generator=torch.Generator().manual_seed(config["seed"]), transform=train_tf)
    train.augment_generator = aug_gen  # checkpoints save its state (mid-epoch resume)
    train.augmentation = train_tf if augment else None  # switched off for data.augment.clean_epochs
    val = None
    if dataset.x_val is not None:
        val = TensorLoader(to(dataset.x_val), to(dataset.y_val), data_cfg["eval_batch_size"], transform=pre)
    test = TensorLoader(to(dataset.x_test), to(dataset.y_test), data_cfg["eval_batch_size"], transform=pre)
    prepared = Prepared(config, dataset, pre, train, val, test, device)
    techniques.configure_loaders(prepared)  # data.sampling, train.channels_last
    return prepared


def model_meta(config: dict, prepared: Prepared) -> dict:
    ds = prepared.dataset
    return {
        "nnforge_version": nnforge.__version__,
        "engine": config["engine"],
        "model": config["model"],
        "kind": ds.kind,
        "input_shape": list(ds.input_shape),
        "num_classes": ds.num_classes,
        "classes": ds.classes,
        "dataset": config["data"]["name"],
        "preprocessing": prepared.preprocessing.to_dict(),
    }


def _augmentation_callbacks(prepared: Prepared) -> list[Callback]:
    augmentation = prepared.train_batches.augmentation
    return [CleanFinalEpochs(augmentation)] if augmentation is not None and augmentation.clean_epochs else []


def _check_out_dir(out: Path) -> None:
    if out.exists() and any(out.iterdir()):
        if (out / "model.json").exists() or (out / "metrics.jsonl").exists():
            raise RunError(f"'{out}' already holds a run; choose a new --out (or --resume to continue it)")
        raise RunError(f"'{out}' exists and is not empty; choose a new or empty --out folder")


def fit(config: dict, out_dir: str | Path | None = None, callbacks: Sequence[Callback] = (), name: str = "run",
        resume=None) -> Run:
    """Train the model a resolved recipe describes; write the run directory; return the :class:`Run`.

    ``resume`` (a loaded :class:`nnforge.train.checkpoint.Checkpoint`) continues the run in ``out_dir``
    from that state; :func:`nnforge.train.checkpoint.resume_run` finds and loads it.
    """
    if config.get("task") == "forecast":
        from nnforge.train.forecast import fit_forecast  # sequence models on a time series

        return fit_forecast(config, out_dir, name=name)
    out = Path(out_dir) if out_dir is not None else default_run_dir(name)
    if resume is None:
        _check_out_dir(out)
    if config["engine"] == "scratch":
        from nnforge.scratch.engine import check_config

        check_config(config)
    prepared = prepare(config)
    ds = prepared.dataset
    model = build_model(config["model"], ds.input_shape, ds.num_classes, ds.kind).to(prepared.device)
    model, technique_cbs = techniques.setup_model(model, config)  # train.init, freeze, channels_last, compile
    out.mkdir(parents=True, exist_ok=True)  # only now: a user error above leaves no half-made run folder
    io.write_text(out / "config.yaml", dump_config(config))
    train_cfg = config["train"]
    start = time.perf_counter()
    if config["engine"] == "scratch":
        from nnforge.scratch.engine import fit_scratch  # the NumPy engine, same data and run directory

        history = fit_scratch(model, prepared, train_cfg, out, progress=Progress(train_cfg["progress"]))
    else:
        optimizer = build_optimizer(techniques.optimizer_params(model, train_cfg), train_cfg["optimizer"])
        schedule = build_scheduler(optimizer, train_cfg["scheduler"], train_cfg["epochs"], len(prepared.train_batches), train_cfg["optimizer"]["lr"],
                                   monitor=train_cfg["monitor"])
        trainer = Trainer(model, optimizer, build_loss(train_cfg["loss"], ds.num_classes, ds.y_train), schedule,
                          [Progress(train_cfg["progress"]), JSONLLogger(out / "metrics.jsonl"),
                           *techniques.callbacks(config, out, technique_cbs), *_augmentation_callbacks(prepared), *callbacks],
                          prepared.device)
        techniques.configure_trainer(trainer, config)  # train.precision
        from nnforge.train.checkpoint import attach  # checkpoints, resume, non-finite guard, DistributedDataParallel

        attach(trainer, config, out, prepared, resume)
        history = trainer.fit(prepared.train_batches, prepared.val_batches, train_cfg["epochs"])
    train_seconds = time.perf_counter() - start

    test = evaluate(model, prepared.test_batches, prepared.device)
    confusion = test.confusion(ds.num_classes)
    metrics = {
        "test_accuracy": round(test.accuracy, 6),
        "test_loss": round(test.loss, 6),
        "train_seconds": round(train_seconds, 3),
        "epochs": len(history),
        "final_train_accuracy": history[-1]["train_accuracy"] if history else None,
        "final_val_accuracy": history[-1]["val_accuracy"] if history else None,
        "best_val_accuracy": max((h["val_accuracy"] for h in history if h["val_accuracy"] is not None), default=None),
        "per_class": per_class_report(confusion, ds.classes),
        "confusion": confusion.tolist(),
        "dataset": ds.describe(),
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    save_model(out, model, model_meta(config, prepared))
    io.write_json(out / "metrics.json", metrics)
    title = f"{config['model']['name']} on {config['data']['name']}"
    if history:
        plot_curves(history, out / "curves.png", title)
    plot_confusion(confusion, ds.classes, out / "confusion.png")
    return Run(dir=out, model=model, config=config, metrics=metrics, history=history)
