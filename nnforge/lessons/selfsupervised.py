"""What the self-supervised lesson runs: the packaged recipe pair, through the one training loop.

``pretrain`` trains ``ssl_pretrain_mnist`` (SimCLR on the MNIST sample's images, labels unused),
``finetune`` trains ``ssl_finetune_mnist`` on 100 labelled digits from given weights (or from
random ones), and ``supervised_pretrain`` trains ``transfer_pretrain_mnist``, the supervised
pretraining the transfer-learning recipes use: the same encoder taught *with* all 3,600 labels,
which is the ceiling a label-free method is measured against. Tests call the same functions.
"""
from __future__ import annotations

from pathlib import Path

from nnforge.config import load_config
from nnforge.rundir import recipe_path

#: what the lesson shortens so that it runs in about a minute on 2 cores (the recipes train longer)
PRETRAIN_EPOCHS = 6
LABELS = 100  # the labelled part: 2.5 % of the 4,000 training digits


def _train(recipe: str, out: Path, overrides: dict):
    from nnforge.train import run

    sets = [f"{k}={v}" for k, v in {"train.progress": "none", **overrides}.items()]
    return run(load_config(recipe_path(recipe), sets), out)


def pretrain(out: Path, seed: int = 0, epochs: int = PRETRAIN_EPOCHS):
    """Contrastive pretraining without labels; the run's metrics hold the linear probes."""
    return _train("ssl_pretrain_mnist", out, {"seed": seed, "train.epochs": epochs})


def supervised_pretrain(out: Path, seed: int = 0):
    """The same CNN trained with every label of the training split (the transfer recipe's step 1)."""
    return _train("transfer_pretrain_mnist", out, {"seed": seed})


def finetune(out: Path, weights: Path | None, seed: int = 0):
    """Fine-tune on the 100 labelled digits, from ``weights`` (a run directory) or from random weights."""
    return _train("ssl_finetune_mnist", out, {"seed": seed, "train.init.weights": weights or "null",
                                              "data.train_fraction": LABELS / 4000})
