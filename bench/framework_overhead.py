"""Benchmark: what a training framework costs per epoch, against a bare torch loop (the floor).

The same network (the seed's MLP 784-512-256-10 or its SimpleCNN), data (the 4,000 training
digits of the MNIST sample), optimiser (Adam 1e-3) and batch size (64), trained by:

- ``torch``: a bare loop over pre-batched, pre-normalised tensors (the floor);
- ``seed``: the seed's loop, a ``DataLoader`` over a ``TensorDataset`` (../shared/anchors/seed_torch_mlp.py);
- ``lightning``: PyTorch Lightning with no logger, no checkpointing, no progress bar;
- ``keras``: Keras 3 on the torch backend (``KERAS_BACKEND=torch``), ``model.fit`` with accuracy;
- ``nnforge``: ``nnforge train`` (through :func:`nnforge.train.run`) with its defaults: the
  non-finite guard, checkpoints every epoch, ``metrics.jsonl``, a line per epoch;
- ``scratch``: the same with ``engine: scratch`` (NumPy);
- ``torch-fused``: the floor with ``Adam(fused=True)``, the optimiser step nnforge uses: what is
  left between it and ``nnforge`` is nnforge's own cost.

Every side runs in a fresh child process per round (as ``nnforge train`` does), so none inherits
another's threads, allocator or imports; ``--before DIR`` adds both nnforge sides again from another
checkout (its ``PYTHONPATH``), for a before/after table from one run. The sides alternate, round by round, so
background load hits each alike. Every round trains each side afresh for ``--epochs`` epochs; an epoch is timed from its
start to the next one's (so everything the framework does at an epoch's end counts). Prints each
side's median seconds per epoch and its ratio to the floor. Lightning and Keras come with the
``bench`` extra (``pip install -e .[bench]``); a side whose library is missing is reported, not run.

    python bench/framework_overhead.py [--models mlp,cnn] [--rounds 3] [--epochs 3] [--sides torch,seed,...] [--threads N]
                                       [--before DIR]

The first epoch of every run is a warm-up (first-call allocations, lazy imports) and is not counted.
"""

from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "torch"  # before anything imports keras

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from torch import nn  # noqa: E402

SIDES = ("torch", "torch-fused", "seed", "lightning", "keras", "nnforge", "scratch")
LABELS = {"torch": "bare torch loop (the floor)", "torch-fused": "bare torch loop, fused Adam", "seed": "the seed's DataLoader loop",
          "lightning": "PyTorch Lightning", "keras": "Keras 3, torch backend", "nnforge": "nnforge train, engine torch (defaults)",
          "scratch": "nnforge train, engine scratch"}
NEEDS = {"lightning": "lightning", "keras": "keras"}
BATCH, LR = 64, 1e-3


def load_data():
    """The MNIST sample as the seed anchors split it, normalised with MNIST's mean and std."""
    from nnforge.data.sources.packaged import load_mnist_sample

    ds = load_mnist_sample()
    x = (ds.x_train.float() / 255.0 - 0.1307) / 0.3081
    return x.contiguous(), ds.y_train.clone()


# -- the seed's networks, as the anchor writes them -------------------------------------------
class MNISTNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.flatten = nn.Flatten()
        self.stack = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))

    def forward(self, x):
        return self.stack(self.flatten(x))


class SimpleCNN(nn.Module):
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


NETS = {"mlp": MNISTNet, "cnn": SimpleCNN}


# -- the sides: each trains `epochs` epochs afresh and returns the seconds of each ----------------
def side_torch(model_name, x, y, epochs, seed, fused=False):
    torch.manual_seed(seed)
    model = NETS[model_name]()
    opt = torch.optim.Adam(model.parameters(), lr=LR, **({"fused": True} if fused else {}))
    crit = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    times = []
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=gen)
        batches = [(x[i], y[i]) for i in order.split(BATCH)]  # pre-batched: outside the clock
        start = time.perf_counter()
        model.train()
        for xb, yb in batches:
            opt.zero_grad()
            loss = crit(model(xb), yb)
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
    return times


def side_seed(model_name, x, y, epochs, seed):
    from torch.utils.data import DataLoader, TensorDataset

    torch.manual_seed(seed)
    train = DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True)
    model = NETS[model_name]()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    crit = nn.CrossEntropyLoss()
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        model.train()
        for data, target in train:
            opt.zero_grad()
            loss = crit(model(data), target)
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - start)
    return times


def side_lightning(model_name, x, y, epochs, seed):
    import logging

    import lightning as L
    from torch.utils.data import DataLoader, TensorDataset

    import warnings

    warnings.filterwarnings("ignore", message=".*LeafSpec.*")  # lightning 2.6 on torch 2.13: its own deprecation
    for name in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.ERROR)

    class Module(L.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = NETS[model_name]()

        def training_step(self, batch, _):
            xb, yb = batch
            return nn.functional.cross_entropy(self.net(xb), yb)

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=LR)

    class Clock(L.Callback):
        def __init__(self):
            self.times = []

        def on_train_epoch_start(self, *_):
            self.start = time.perf_counter()

        def on_train_epoch_end(self, *_):
            self.times.append(time.perf_counter() - self.start)

    torch.manual_seed(seed)
    clock = Clock()
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[clock], num_sanity_val_steps=0)
    trainer.fit(Module(), DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True))
    return clock.times


def side_keras(model_name, x, y, epochs, seed):
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    if model_name == "mlp":
        net = keras.Sequential([keras.Input((28, 28, 1)), layers.Flatten(), layers.Dense(512, activation="relu"),
                                layers.Dense(256, activation="relu"), layers.Dense(10)])
    else:
        net = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(32, 3, padding="same", activation="relu"), layers.MaxPooling2D(),
                                layers.Conv2D(64, 3, padding="same", activation="relu"), layers.MaxPooling2D(), layers.Flatten(),
                                layers.Dense(128, activation="relu"), layers.Dense(10)])
    net.compile(optimizer=keras.optimizers.Adam(LR), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                metrics=["accuracy"])

    class Clock(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times.append(time.perf_counter() - self.start)

    clock = Clock()
    net.fit(x.permute(0, 2, 3, 1).numpy(), y.numpy(), batch_size=BATCH, epochs=epochs, shuffle=True, verbose=0, callbacks=[clock])
    return clock.times


def nnforge_recipe(model_name: str, engine: str, epochs: int, seed: int, threads: int) -> dict:
    model = {"name": "mlp", "hidden": [512, 256]} if model_name == "mlp" else {"name": "cnn", "channels": [32, 64], "hidden": 128}
    return {"engine": engine, "seed": seed, "threads": threads, "data": {"name": "mnist-sample", "batch_size": BATCH, "val_fraction": 0.0},
            "model": model, "train": {"epochs": epochs, "optimizer": {"name": "adam", "lr": LR}, "progress": "lines"}}


def nnforge_epoch_seconds(recipe) -> list[float]:
    """Train ``recipe`` through nnforge.train.run in a temporary folder; the seconds of each epoch,
    from its start to the next one's, so the epoch-end work (checkpoints, logs) counts. The per-epoch
    lines are written (and cost) as usual, into a buffer."""
    import io

    from nnforge.train import run
    from nnforge.train.callbacks import Callback

    class Clock(Callback):
        def __init__(self):
            self.marks = []

        def on_epoch_begin(self, trainer, epoch):
            self.marks.append(time.perf_counter())

        def on_train_end(self, trainer):
            self.marks.append(time.perf_counter())

    clock = Clock()
    with tempfile.TemporaryDirectory() as tmp:
        stderr, sys.stderr = sys.stderr, io.StringIO()
        try:
            run(recipe, Path(tmp) / "run", callbacks=[clock])
        finally:
            sys.stderr = stderr
    return [b - a for a, b in zip(clock.marks, clock.marks[1:])]


def side_nnforge(model_name, x, y, epochs, seed, engine="torch", threads=0):
    return nnforge_epoch_seconds(nnforge_recipe(model_name, engine, epochs, seed, threads))


def in_child(side: str, model_name: str, epochs: int, seed: int, threads: int, pythonpath: str) -> list[float]:
    """One side in a fresh interpreter (the checkout on ``pythonpath``); its epoch seconds."""
    env = dict(os.environ, PYTHONPATH=pythonpath)
    cmd = [sys.executable, __file__, "--child", side, "--models", model_name, "--epochs", str(epochs), "--seed", str(seed),
           "--threads", str(threads)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{side} from {pythonpath} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="mlp,cnn")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3, help="epochs per side per round; the first is a warm-up, not counted")
    ap.add_argument("--sides", default=",".join(SIDES))
    ap.add_argument("--threads", type=int, default=0, help="torch threads for every side (0: torch's default)")
    ap.add_argument("--before", metavar="DIR", help="also run the nnforge sides from this checkout (before/after in one run)")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    runners = {"torch": side_torch, "torch-fused": lambda *a: side_torch(*a, fused=True), "seed": side_seed,
               "lightning": side_lightning, "keras": side_keras,
               "nnforge": lambda *a: side_nnforge(*a, engine="torch", threads=args.threads),
               "scratch": lambda *a: side_nnforge(*a, engine="scratch", threads=args.threads)}
    if args.child:  # one side, in this (child) process
        x, y = load_data()
        print(json.dumps(runners[args.child](args.models, x, y, args.epochs, args.seed)))
        return
    sides = [s for s in args.sides.split(",") if s]
    missing = {s: NEEDS[s] for s in sides if s in NEEDS and importlib.util.find_spec(NEEDS[s]) is None}
    for side, pkg in missing.items():
        print(f"{side}: not run, '{pkg}' is not installed (pip install -e '.[bench]')")
    sides = [s for s in sides if s not in missing]
    here = str(Path(__file__).resolve().parents[1])
    children = {s: here for s in sides}
    if args.before:
        for s in [s for s in sides if s in ("nnforge", "scratch")]:
            sides.append(f"{s}@before")
            children[f"{s}@before"] = str(Path(args.before).resolve())
    versions = [f"torch {torch.__version__}"] + [f"{p} {__import__(p).__version__}" for p in ("lightning", "keras") if p in sides]
    x, _ = load_data()
    print(f"{', '.join(versions)}; {torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs; batch {BATCH}, Adam {LR:g}, "
          f"{len(x)} training digits; {args.rounds} rounds x {args.epochs} epochs per side (first not counted), alternating")
    for model_name in args.models.split(","):
        times: dict[str, list[float]] = {s: [] for s in sides}
        for r in range(args.rounds):
            order = sides if r % 2 == 0 else sides[::-1]  # alternate who goes first
            for side in order:
                got = in_child(side.split("@")[0], model_name, args.epochs, r, args.threads, children[side])
                times[side] += got[1:] if len(got) > 1 else got
        floor = statistics.median(times["torch"]) if "torch" in times else None
        print(f"\n{model_name}: median s/epoch over {len(times[sides[0]])} epochs (ratio to the floor) [fastest-slowest]")
        for side in sides:
            med = statistics.median(times[side])
            ratio = f"{med / floor:5.2f}x" if floor else "  -  "
            label = LABELS[side.split("@")[0]] + (" (before)" if side.endswith("@before") else "")
            print(f"  {label:<46} {med:7.3f} s  {ratio}  [{min(times[side]):.3f}-{max(times[side]):.3f}]")


if __name__ == "__main__":
    main()
