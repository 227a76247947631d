"""On an imbalanced MNIST sample (classes 3 and 8 cut to 3 %), class weights, focal loss and
over-sampling each raise the minority classes' recall; the per-class table is printed."""

import numpy as np
import pytest

from nnforge.train import fit
from nnforge.train.evaluate import format_per_class

from .conftest import load_config

BASE = ["data.name=mnist-sample", "model.name=mlp", "model.hidden=[64]", "train.epochs=4", "train.optimizer.name=adam",
        "train.optimizer.lr=0.001", "train.progress=none", "data.val_fraction=0.0", "data.batch_size=64",
        "data.imbalance={3: 0.03, 8: 0.03}"]


def minority_recall(run) -> float:
    per_class = run.metrics["per_class"]
    return (per_class[3]["recall"] + per_class[8]["recall"]) / 2


@pytest.mark.slow
def test_remedies_raise_minority_recall(tmp_path, cached_mnist_sample):
    baseline = fit(load_config(None, BASE), tmp_path / "base")
    assert baseline.metrics["per_class"][3]["support"] > 80  # the test split stays balanced
    base = minority_recall(baseline)
    for name, extra in {"class_weight": ["train.loss.class_weight=balanced"], "focal": ["train.loss.name=focal"],
                        "oversample": ["data.sampling=oversample"]}.items():
        run = fit(load_config(None, BASE + extra), tmp_path / name)
        assert minority_recall(run) > base + 0.1, name
    table = format_per_class(baseline.metrics["per_class"])
    assert table.splitlines()[0].split() == ["class", "precision", "recall", "f1", "support"] and len(table.splitlines()) == 11


def test_class_weight_balanced_and_focal_loss_match_references():
    import torch
    import torch.nn.functional as F

    from nnforge.train.imbalance import class_weights, focal_loss

    y = torch.tensor([0] * 90 + [1] * 10)
    w = class_weights("balanced", y, 2)
    from sklearn.utils.class_weight import compute_class_weight

    assert torch.allclose(w, torch.tensor(compute_class_weight("balanced", classes=np.array([0, 1]), y=y.numpy()), dtype=torch.float32))
    logits = torch.randn(100, 2, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(focal_loss(logits, y, gamma=0.0), F.cross_entropy(logits, y), atol=1e-6)
    assert torch.allclose(focal_loss(logits, y, 0.0, w), F.cross_entropy(logits, y, weight=w), atol=1e-6)
    p = torch.softmax(logits, 1)[torch.arange(100), y]
    assert torch.allclose(focal_loss(logits, y, 2.0), (-(1 - p) ** 2 * p.log()).mean(), atol=1e-6)


@pytest.mark.parametrize("weight, message", [(float("nan"), "entry 1 is nan"), (float("inf"), "entry 1 is inf")])
def test_a_non_finite_class_weight_is_one_line_naming_the_entry(weight, message):
    """Before: NaN was said to be a wrong count ("has 3 entries; accepted: 3 ..."), and Inf passed,
    to stop the run at its first loss with a run folder already written."""
    import torch

    from nnforge.errors import ConfigError
    from nnforge.train.imbalance import class_weights

    with pytest.raises(ConfigError, match=f"'train.loss.class_weight' {message}; accepted: 3 finite non-negative numbers"):
        class_weights([1.0, weight, 1.0], torch.tensor([0, 1, 2]), 3)


@pytest.mark.parametrize("engine", ["torch", "scratch"])
@pytest.mark.parametrize("loss, option", [("mse", "train.loss.class_weight=balanced"), ("mse", "train.loss.label_smoothing=0.1"),
                                          ("focal", "train.loss.label_smoothing=0.1"), ("cross_entropy", "train.loss.focal_gamma=1.0")])
def test_a_loss_option_the_chosen_loss_does_not_use_is_refused_before_the_run_folder(tmp_path, engine, loss, option):
    """Before: mse trained without the class weights or the smoothing asked for, focal without the
    smoothing, cross-entropy without the gamma: the run looked like it had them, with no word said."""
    from nnforge.errors import ConfigError

    from .conftest import fast_config

    key = option.split("=")[0]
    with pytest.raises(ConfigError, match=f"'{key}' is .* which loss '{loss}' does not use"):
        fit(fast_config(f"engine={engine}", "train.epochs=1", f"train.loss.name={loss}", option), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_data_imbalance_naming_a_class_the_dataset_lacks_is_refused(tmp_path):
    """Before: digits has classes 0-9, and {12: 0.1} cut nothing: the run trained on balanced data."""
    from nnforge.errors import ConfigError

    from .conftest import fast_config

    with pytest.raises(ConfigError, match=r"'data.imbalance' names class 12, but the dataset's classes are 0-9"):
        fit(fast_config("train.epochs=1", "data.imbalance={12: 0.1}"), tmp_path / "run")
