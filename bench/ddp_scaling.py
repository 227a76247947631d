"""Benchmark: training throughput with 1 process against N processes (DistributedDataParallel).

Same recipe, same global batch, same seed; each run goes through the real command line
(`nnforge train RECIPE --nproc N`). Throughput is training samples per second of training time
(``epochs * train examples / train_seconds`` from the run's metrics.json; process start-up and
the final evaluation are left out). Prints samples/s for each process count and the ratio to 1.

    .venv/bin/python bench/ddp_scaling.py [--nproc 2] [--epochs 3] [--model mlp|cnn] [--threads 1]

On a CPU machine each process gets ``--threads`` threads, so N processes use N times the
cores of one; ``--threads-single`` gives the single process that many instead (a fair
same-cores comparison). On GPUs each process takes one GPU.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

RECIPES = {
    "mlp": "data: {name: mnist-sample, batch_size: 128}\nmodel: {name: mlp, hidden: [512, 256]}\n",
    "cnn": "data: {name: mnist-sample, batch_size: 128}\nmodel: {name: cnn, channels: [16, 32], hidden: 128}\n",
}


def run(recipe: Path, out: Path, nproc: int, threads: int, epochs: int) -> dict:
    cmd = [sys.executable, "-m", "nnforge.cli", "train", str(recipe), "--out", str(out), "--nproc", str(nproc),
           "--set", f"threads={threads}", "--set", f"train.epochs={epochs}", "--set", "train.progress=none"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    metrics = json.loads((out / "metrics.json").read_text())
    n_train = int(metrics["dataset"].split(": ")[1].split(" train")[0])
    return {"samples_per_second": epochs * n_train / metrics["train_seconds"], "test_accuracy": metrics["test_accuracy"],
            "train_seconds": metrics["train_seconds"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--model", choices=sorted(RECIPES), default="mlp")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process")
    p.add_argument("--threads-single", type=int, default=None, help="threads for the 1-process run (default: --threads)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        recipe = tmp / "recipe.yaml"
        recipe.write_text("seed: 0\n" + RECIPES[args.model] + "train: {optimizer: {name: adam, lr: 0.001}}\n")
        one = run(recipe, tmp / "one", 1, args.threads_single or args.threads, args.epochs)
        many = run(recipe, tmp / "many", args.nproc, args.threads, args.epochs)
    print(f"{args.model} on mnist-sample, global batch 128, {args.epochs} epochs")
    print(f"1 process  ({args.threads_single or args.threads} thr): {one['samples_per_second']:9,.0f} samples/s  "
          f"test acc {one['test_accuracy']:.4f}")
    print(f"{args.nproc} processes ({args.threads} thr each): {many['samples_per_second']:9,.0f} samples/s  "
          f"test acc {many['test_accuracy']:.4f}")
    print(f"ratio {args.nproc}/1: {many['samples_per_second'] / one['samples_per_second']:.2f}x")


if __name__ == "__main__":
    main()
