"""data.augment.clean_epochs: the last epochs train on the images evaluation will see."""

import torch

import importlib
from nnforge.config import load_config
from nnforge.train.callbacks import Callback
from tests.conftest import quick_overrides

fit_module = importlib.import_module("nnforge.train.fit")  # the package re-exports fit(), shadowing the module


def test_augmentation_switches_off_for_the_final_epochs(tmp_path, monkeypatch):
    loaders, augmented = [], {}

    def spying_prepare(config, _original=fit_module.prepare):
        prepared = _original(config)
        loaders.append(prepared.train_batches)
        return prepared

    class Probe(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            loader = loaders[0]
            x = loader.x[:8]
            augmented[epoch] = not torch.equal(loader.transform(x), loader.augmentation.preprocess(x))

    monkeypatch.setattr(fit_module, "prepare", spying_prepare)
    cfg = load_config(None, quick_overrides("train.epochs=4", "data.augment.rotate=20", "data.augment.clean_epochs=2"))
    fit_module.fit(cfg, tmp_path / "run", callbacks=[Probe()])
    assert augmented == {0: True, 1: True, 2: False, 3: False}
