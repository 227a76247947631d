"""Training on mixed (soft) targets: the classification losses of both engines take them, with label
smoothing and class weights; evaluation never sees mixing; a mixup run learns mnist-sample digits."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nnforge.scratch.tensor import Tensor
from nnforge.train import prepare, run
from nnforge.train.engines.scratch_engine import build_loss as scratch_loss
from nnforge.train.engines.torch_engine import build_loss as torch_loss
from nnforge.train.tasks.base import LossSpec
from tests.train.conftest import fast_config


@pytest.fixture(scope="module")
def batch():
    g = torch.Generator().manual_seed(0)
    logits, y = torch.randn(32, 5, generator=g), torch.randint(0, 5, (32,), generator=g)
    return logits, y


SPECS = [LossSpec("classify", "cross_entropy", 5, 0.1), LossSpec("classify", "focal", 5, focal_gamma=1.5),
         LossSpec("classify", "mse", 5)]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.name)
@pytest.mark.parametrize("build", [torch_loss, scratch_loss], ids=["torch", "scratch"])
def test_one_hot_probabilities_give_the_class_index_loss(batch, spec, build):
    logits, y = batch
    loss = build(spec)
    wrap = (lambda t: t) if build is torch_loss else (lambda t: Tensor._wrap(t.numpy()))
    raw = (lambda t: t) if build is torch_loss else (lambda t: t.numpy())
    hard = float(loss(wrap(logits), raw(y)).item())
    soft = float(loss(wrap(logits), raw(F.one_hot(y, 5).float())).item())
    assert soft == pytest.approx(hard, rel=1e-5)


@pytest.mark.parametrize("name", ["cross_entropy", "focal"])
@pytest.mark.parametrize("build", [torch_loss, scratch_loss], ids=["torch", "scratch"])
def test_class_weights_weigh_soft_targets_per_class(batch, name, build):
    """With probabilities the weighted sum is averaged over the N examples (PyTorch's rule for
    probability targets), so it is the index loss times sum(w[y]) / N — the same per-class weighting."""
    logits, y = batch
    w = np.array([1.0, 4.0, 0.5, 2.0, 1.0])
    spec = LossSpec("classify", name, 5, 0.0, w, 2.0)
    loss = build(spec)
    wrap = (lambda t: t) if build is torch_loss else (lambda t: Tensor._wrap(t.numpy()))
    raw = (lambda t: t) if build is torch_loss else (lambda t: t.numpy())
    hard = float(loss(wrap(logits), raw(y)).item())
    soft = float(loss(wrap(logits), raw(F.one_hot(y, 5).float())).item())
    assert soft == pytest.approx(hard * w[y.numpy()].sum() / len(y), rel=1e-5)


def test_scratch_and_torch_agree_on_a_mixed_batch(batch):
    logits, y = batch
    q = 0.7 * F.one_hot(y, 5).float() + 0.3 * F.one_hot(y.roll(1), 5).float()
    for spec in [LossSpec("classify", "cross_entropy", 5, 0.1, np.arange(1.0, 6.0)), *SPECS[1:]]:
        ours = scratch_loss(spec)(Tensor._wrap(logits.numpy()), q.numpy()).item()
        assert ours == pytest.approx(torch_loss(spec)(logits, q).item(), rel=1e-5)


def test_training_batches_are_mixed_and_evaluation_batches_are_not():
    plain = prepare(fast_config())
    mixed = prepare(fast_config("data.augment.mixup=0.4", "data.augment.cutmix=1.0", "data.augment.policy=randaugment"))
    xb, yb = next(iter(mixed.train))
    assert yb.shape == (len(xb), 10) and torch.allclose(yb.sum(1), torch.ones(len(xb)))
    assert (yb.max(1).values < 1).float().mean() > 0.5
    for split in ("val", "test"):
        (xa, ya), (xm, ym) = next(iter(getattr(plain, split))), next(iter(getattr(mixed, split)))
        assert torch.equal(xa, xm) and torch.equal(ya, ym) and ym.dim() == 1


@pytest.mark.slow
def test_a_mixup_run_learns_mnist_digits(tmp_path, cached_mnist_sample):
    recipe = fast_config("data.name=mnist-sample", "data.train_fraction=0.3", "model.name=cnn", "model.channels=[8, 16]",
                         "model.hidden=32", "train.epochs=3", "data.augment.mixup=0.2", "data.augment.cutmix=1.0")
    done = run(recipe, tmp_path / "run")
    assert done.metrics["test_accuracy"] > 0.8  # 0.849 when written (chance: 0.1)
    assert all(h["train_accuracy"] < 1.0 for h in done.history)  # accuracy against the larger share of mixed targets


def test_clean_epochs_switch_mixing_off_in_a_run(tmp_path, monkeypatch):
    from nnforge.train.callbacks import Callback
    from nnforge.train.tasks import Classify

    loaders, mixing = [], {}

    def spying_prepare(self, recipe, device, _original=Classify.prepare):
        data = _original(self, recipe, device)
        loaders.append(data.train)
        return data

    class Spy(Callback):
        def on_epoch_begin(self, trainer, epoch):
            mixing[epoch] = loaders[0].mix(loaders[0].x[:32].float(), loaders[0].y[:32])[1].max(1).values.lt(1).any().item()

    monkeypatch.setattr(Classify, "prepare", spying_prepare)
    run(fast_config("data.augment.mixup=0.4", "data.augment.clean_epochs=1"), tmp_path / "run", callbacks=[Spy()])
    assert mixing == {0: True, 1: True, 2: False}


@pytest.mark.slow
def test_a_run_resumed_mid_epoch_mixes_the_same_batches(tmp_path):
    """The mixer draws from the augmentation generator, which checkpoints save: a run stopped mid-epoch
    and resumed ends with the uninterrupted run's weights, bit for bit."""
    from nnforge.train import resume_run
    from nnforge.train.callbacks import Callback

    class Crash(Callback):
        def on_batch_end(self, trainer, step, logs):
            if trainer.global_step == 14:  # after the checkpoint of step 12 (every 4 steps), mid second epoch
                raise KeyboardInterrupt

    recipe = fast_config("deterministic=true", "threads=1", "train.epochs=2", "data.batch_size=128", "train.checkpoint.every_steps=4",
                         "data.augment.mixup=0.4", "data.augment.cutmix=1.0", "data.augment.policy=trivialaugment")
    whole = run(recipe, tmp_path / "whole")
    with pytest.raises(KeyboardInterrupt):
        run(recipe, tmp_path / "cut", callbacks=[Crash()])
    resumed = resume_run(None, tmp_path / "cut")
    for key, value in whole.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
