"""``task: classify``: classes from images or table rows, judged by accuracy on the test split.

The data is split and preprocessed once (statistics of the training split only), then batched
as tensors; augmentation runs on training batches only and stops for ``data.augment.clean_epochs``.
The run directory gets ``metrics.json`` (test accuracy and loss, per-class precision/recall/F1,
the confusion matrix), ``curves.png`` and ``confusion.png``. Validation and test losses are the
training criterion (``train.loss``) without class weights; ``final_train_accuracy`` and
``final_val_accuracy`` are those of the epoch whose weights are saved (with early stopping's
``restore_best``, the best epoch, not the last one trained).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from nnforge.version import __version__
from nnforge.config import field_at, plain
from nnforge.errors import ConfigError, shown
from nnforge.data import Preprocessing, TensorLoader, transformed_once, build_augmentation, dataset_info, load_dataset
from nnforge.data.augment import AugmentThenPreprocess
from nnforge.data.mix import build_mix
from nnforge.data.sampling import balanced_sampler, make_imbalanced
from nnforge.data.subset import apply_data_config
from nnforge.report import plot_confusion, plot_curves
from nnforge.rundir import save_model
from nnforge.train.evaluate import evaluate, evaluation_from_probabilities, format_per_class, per_class_report
from nnforge.train.imbalance import class_weights
from nnforge.train.keys import AVERAGING, DATA, FEDERATED, GUARDS, LOOP, LOSS, OPTIMIZATION, keys
from nnforge.train.tasks.base import LossSpec, Task, TaskData


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float32) - logits.max(1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(1, keepdims=True)


#: the loss options and the losses that use them (any other loss would leave them out without a word)
LOSS_OPTIONS = {"label_smoothing": ("cross_entropy",), "class_weight": ("cross_entropy", "focal"), "focal_gamma": ("focal",)}


def check_loss_options(loss) -> None:
    """One-line :class:`ConfigError` for a ``train.loss`` option set away from its default that the chosen loss does not use."""
    for key, losses in LOSS_OPTIONS.items():
        value = getattr(loss, key)
        if loss.name not in losses and plain(value) != field_at(f"train.loss.{key}").default:
            raise ConfigError(f"'train.loss.{key}' is {shown(plain(value))}, which loss '{loss.name}' does not use; "
                              f"use train.loss.name {' or '.join(losses)}, or leave it at its default "
                              f"({field_at(f'train.loss.{key}').default!r})")


class Classify(Task):
    name = "classify"
    implements = (DATA | LOOP | keys("", "deterministic device") | LOSS | OPTIMIZATION
                  | keys("train", "freeze unfreeze_epoch precision channels_last compile") | GUARDS | AVERAGING | FEDERATED)
    metrics = ("accuracy",)
    accepts = {"train.loss.name": ("cross_entropy", "mse", "focal")}
    #: the recipe's ``train.loss`` section, set by prepare(): the criterion validation is scored with (None: cross-entropy)
    criterion = None

    def prepare(self, recipe, device) -> TaskData:
        data_cfg, seed = recipe.data, recipe.seed
        self.criterion = recipe.train.loss
        ds = load_dataset(data_cfg, seed).encoded_with(self.encoding)
        ds = ds.fold(*self.fold, seed) if self.fold else ds.split_validation(data_cfg.val_fraction, seed)
        if data_cfg.imbalance:
            x, y = make_imbalanced(ds.x_train, ds.y_train, dict(data_cfg.imbalance), seed, ds.num_classes)
            ds = replace(ds, x_train=x, y_train=y)
        ds = apply_data_config(ds, data_cfg, seed)  # train_fraction, fit_content, image_size (shared with eval)
        info = dataset_info(data_cfg.name)
        pre = Preprocessing.fit(ds, normalize=data_cfg.normalize, fit_content=bool(info and info.fit_content) or data_cfg.fit_content)
        if pre.kind == "image":
            pre.denoise, pre.denoise_size = data_cfg.denoise, data_cfg.denoise_size
        augment = build_augmentation(data_cfg.augment) if ds.kind == "image" else None
        aug_gen = torch.Generator().manual_seed(seed + 1)
        train_tf = AugmentThenPreprocess(augment, pre, aug_gen, data_cfg.augment.clean_epochs) if augment else pre
        to = (lambda t: t.to(device)) if device.type != "cpu" else (lambda t: t)
        x_train = to(ds.x_train)
        if not augment:
            x_train, train_tf = transformed_once(x_train, pre)  # every epoch would redo it batch by batch
        train = TensorLoader(x_train, to(ds.y_train), data_cfg.batch_size, shuffle=True,
                             generator=torch.Generator().manual_seed(seed), transform=train_tf)
        train.augment_generator = aug_gen  # checkpoints save its state (mid-epoch resume)
        train.augmentation = train_tf if augment else None  # switched off for data.augment.clean_epochs
        train.mix = build_mix(data_cfg.augment, ds.num_classes, ds.kind, aug_gen)  # mixup, cutmix: soft targets
        if data_cfg.sampling != "none":
            train.sampler = balanced_sampler(ds.y_train, data_cfg.sampling)
        val = None
        if ds.x_val is not None:
            x_val, val_tf = transformed_once(to(ds.x_val), pre)
            val = TensorLoader(x_val, to(ds.y_val), data_cfg.eval_batch_size, transform=val_tf)
        test = TensorLoader(to(ds.x_test), to(ds.y_test), data_cfg.eval_batch_size, transform=pre)
        return TaskData(train, val, test, tuple(ds.input_shape), ds.num_classes, ds.kind, device, ds, pre)

    def loss_spec(self, recipe, data: TaskData) -> LossSpec:
        loss = recipe.train.loss
        check_loss_options(loss)
        weight = class_weights(loss.class_weight, data.dataset.y_train, data.num_outputs)  # None: no class weights
        return LossSpec("classify", loss.name, data.num_outputs, loss.label_smoothing, None if weight is None else weight.numpy(),
                        loss.focal_gamma)

    def batch_metrics(self, out, y) -> dict[str, float]:
        if y.ndim == 2:  # mixed (soft) targets: the class with the larger share
            y = y.argmax(1)
        return {"accuracy": int((out.argmax(1) == y).sum())}

    def evaluate(self, outputs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        """``loss`` is the training criterion without class weights (:mod:`nnforge.train.evaluate` says why)."""
        ev = evaluation_from_probabilities(softmax(outputs), targets, self.criterion)
        return {"loss": ev.loss, "accuracy": ev.accuracy}

    def finish(self, recipe, engine, data: TaskData, history, out, train_seconds, kept=None) -> dict:
        ds, model = data.dataset, engine.torch_model()
        test = evaluate(model, data.test, data.device, recipe.train.loss)
        confusion = test.confusion(ds.num_classes)
        vals = [h["val_accuracy"] for h in history if h.get("val_accuracy") is not None]
        kept = kept or (history[-1] if history else None)  # the epoch whose weights are saved (restore_best: the best)
        metrics = {
            "task": "classify",
            "test_accuracy": round(test.accuracy, 6),
            "test_loss": round(test.loss, 6),
            "train_seconds": round(train_seconds, 3),
            "epochs": len(history),
            "final_train_accuracy": kept["train_accuracy"] if kept else None,
            "final_val_accuracy": kept["val_accuracy"] if kept else None,
            "best_val_accuracy": max(vals, default=None),
            "per_class": per_class_report(confusion, ds.classes),
            "confusion": confusion.tolist(),
            "dataset": ds.describe(),
            "parameters": sum(p.numel() for p in model.parameters()),
        }
        meta = {"nnforge_version": __version__, "engine": recipe.engine, "task": "classify", "model": recipe.model.to_dict(),
                "kind": ds.kind, "input_shape": list(ds.input_shape), "num_classes": ds.num_classes, "classes": ds.classes,
                "dataset": recipe.data.name, "preprocessing": data.preprocessing.to_dict()}
        save_model(out, model, meta)
        if history and self.pictures:
            plot_curves(history, out / "curves.png", f"{recipe.model['name']} on {recipe.data.name}")
        if self.pictures:
            plot_confusion(confusion, ds.classes, out / "confusion.png")
        return metrics

    def summary(self, metrics: dict) -> str:
        return (f"test accuracy {metrics['test_accuracy']:.2%} on {metrics['dataset']}\n"
                f"trained in {metrics['train_seconds']:.1f} s\n{format_per_class(metrics['per_class'])}")
