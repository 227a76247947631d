"""data.augment.clean_epochs: the last epochs train on the images evaluation will see."""

import torch

from nnforge.config import load_config
from nnforge.train import fit
from nnforge.train.callbacks import Callback
from nnforge.train.tasks import Classify
from tests.conftest import quick_overrides


def test_augmentation_switches_off_for_the_final_epochs(tmp_path, monkeypatch):
    loaders, augmented = [], {}

    def spying_prepare(self, config, device, _original=Classify.prepare):
        prepared = _original(self, config, device)
        loaders.append(prepared.train)
        return prepared

    class Probe(Callback):
        def on_epoch_end(self, trainer, epoch, logs):
            loader = loaders[0]
            x = loader.x[:8]
            augmented[epoch] = not torch.equal(loader.transform(x), loader.augmentation.preprocess(x))

    monkeypatch.setattr(Classify, "prepare", spying_prepare)
    cfg = load_config(None, quick_overrides("train.epochs=4", "data.augment.rotate=20", "data.augment.clean_epochs=2"))
    fit(cfg, tmp_path / "run", callbacks=[Probe()])
    assert augmented == {0: True, 1: True, 2: False, 3: False}
