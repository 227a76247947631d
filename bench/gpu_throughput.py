"""Benchmark: training throughput on a GPU, nnforge against a bare torch loop on the same GPU.

No CIFAR-10 files reach the machines this is run on, so the data is synthetic: random 32x32 colour
images and labels, written as CIFAR-10's own python batches into a temporary folder and read by
nnforge's ``cifar10`` dataset (the bare loop gets the very same tensors). Two networks: the CIFAR-10
recipe's (``configs/cifar10_cnn.yaml``, the seed's CIFAR10Net) and a ResNet-18 (``resnet18``),
each with bf16 autocast, channels-last and ``torch.compile``, Adam with the recipe's settings,
batch 128, no augmentation on either side (the loop is measured, not the augmentation).

The sides alternate, fresh runs each round: *nnforge train* (through :func:`nnforge.train.run`,
every default guard on: the non-finite check, a checkpoint every epoch, ``metrics.jsonl``), and a
bare loop over the same tensors already on the GPU. An epoch runs from its start to the next one's
(the bare loop synchronises the GPU at its end); the first epoch of each run is compile warm-up and
not counted. Prints samples per second (median), the ratio nnforge / bare (aim: at least 0.95) and
the seconds per CIFAR-10 epoch (50,000 images) that implies, with the GPU's name. airbench94
(94 % on CIFAR-10 in 3.29 s on an A100) is the reference for what a well-fed GPU does.

    python bench/gpu_throughput.py [--models cifar_cnn,resnet18] [--epochs 3] [--rounds 2] [--train-images 50000]

Without a CUDA device it says so and exits; ``--device cpu`` runs the same code on the CPU (with
``--train-images 512 --no-compile`` a smoke test of the benchmark itself, not a measurement).
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from framework_overhead import nnforge_epoch_seconds  # noqa: E402

CIFAR_EPOCH = 50_000
BATCH = 128


def write_synthetic_cifar(root: Path, train_images: int, test_images: int = 1000) -> None:
    """Random images and labels as CIFAR-10's python batches (five training batches and a test batch)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    sizes = [len(part) for part in np.array_split(np.arange(train_images), 5)]
    for name, n in [*((f"data_batch_{i + 1}", s) for i, s in enumerate(sizes)), ("test_batch", test_images)]:
        batch = {b"batch_label": name.encode(), b"labels": rng.integers(0, 10, n).tolist(),
                 b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"filenames": [b"synthetic.png"] * n}
        with open(folder / name, "wb") as fh:
            pickle.dump(batch, fh, protocol=2)


def recipe(model: str, root: Path, device: str, epochs: int, compile_: bool, seed: int):
    from nnforge.config import load_config

    overrides = [f"data.root={root}", "data.val_fraction=0", "data.augment.shift=0", "data.augment.hflip=false",
                 f"data.batch_size={BATCH}", f"device={device}", f"train.epochs={epochs}", "train.progress=none",
                 "train.precision=bf16", "train.channels_last=true", f"train.compile={str(compile_).lower()}", f"seed={seed}",
                 "train.scheduler.name=none"]
    if model != "cifar_cnn":
        overrides.append(f"model={{name: {model}}}")
    return load_config("configs/cifar10_cnn.yaml", overrides)


def side_nnforge(model: str, root: Path, device: str, epochs: int, compile_: bool, seed: int) -> list[float]:
    """Seconds of each epoch but the first, through nnforge.train.run."""
    return nnforge_epoch_seconds(recipe(model, root, device, epochs, compile_, seed))[1:]


def side_bare(model: str, root: Path, device: str, epochs: int, compile_: bool, seed: int) -> list[float]:
    """The loop people write: the same network, optimizer, precision and memory layout, the data on the device."""
    from nnforge.data import load_dataset
    from nnforge.models.registry import build_model

    cfg = recipe(model, root, device, epochs, compile_, seed)
    torch.manual_seed(seed)
    ds = load_dataset(cfg.data.to_dict(), seed)
    x = ds.x_train.float().div_(255)
    x = ((x - x.mean((0, 2, 3), keepdim=True)) / x.std((0, 2, 3), keepdim=True)).to(device)
    x = x.contiguous(memory_format=torch.channels_last)
    y = ds.y_train.to(device)
    net = build_model(cfg.model.to_dict(), ds.input_shape, len(ds.classes)).to(device, memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.train.optimizer.lr, weight_decay=cfg.train.optimizer.weight_decay,
                           fused=device.startswith("cuda"))
    forward = torch.compile(net) if compile_ else net
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    times = []
    for _ in range(epochs):
        start = time.perf_counter()
        for idx in torch.randperm(len(x), device=device).split(BATCH):
            with torch.autocast(device_type=device.split(":")[0], dtype=torch.bfloat16):
                loss = torch.nn.functional.cross_entropy(forward(x.index_select(0, idx)), y.index_select(0, idx))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sync()
        times.append(time.perf_counter() - start)
    return times[1:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="cifar_cnn,resnet18")
    ap.add_argument("--epochs", type=int, default=3, help="per run; the first is warm-up")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--train-images", type=int, default=CIFAR_EPOCH)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--no-compile", action="store_true")
    args = ap.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device here: this benchmark measures a GPU (--device cpu runs it on the CPU as a smoke test)")
        return
    if args.epochs < 2:
        sys.exit("--epochs must be at least 2: the first epoch of each run is warm-up")
    name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_synthetic_cifar(root, args.train_images)
        print(f"{name}; torch {torch.__version__}; synthetic CIFAR-10, {args.train_images:,} training images, batch {BATCH}, "
              f"bf16 autocast, channels-last, compile {'off' if args.no_compile else 'on'}; {args.rounds} rounds of "
              f"{args.epochs}-epoch runs, first epochs not counted")
        for model in args.models.split(","):
            seconds = {"bare": [], "nnforge": []}
            for r in range(args.rounds):
                for side, fn in (("bare", side_bare), ("nnforge", side_nnforge)) if r % 2 == 0 else \
                        (("nnforge", side_nnforge), ("bare", side_bare)):
                    seconds[side] += fn(model, root, args.device, args.epochs, not args.no_compile, r)
            rate = {side: args.train_images / statistics.median(s) for side, s in seconds.items()}
            print(f"{model:<9} bare loop {rate['bare']:9,.0f} samples/s ({CIFAR_EPOCH / rate['bare']:.2f} s per CIFAR-10 epoch) | "
                  f"nnforge {rate['nnforge']:9,.0f} samples/s ({CIFAR_EPOCH / rate['nnforge']:.2f} s) | "
                  f"ratio {rate['nnforge'] / rate['bare']:.2f}x (aim >= 0.95)")


if __name__ == "__main__":
    main()
