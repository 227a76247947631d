"""Benchmark: what the loggers cost. The quickstart trained with no logger and with all three
(``train.loggers=[tensorboard,mlflow,csv]``), alternating, in the same invocation; prints the ratio.

Each run is a fresh ``nnforge quickstart`` process, timed from start to exit (wall seconds):
imports, MLflow's store, per-step TensorBoard scalars, the end-of-run artifacts and the exported
model are all counted. All runs share one runs root, so the MLflow database already exists after
a warm-up run that is not counted (creating it is a one-time cost per runs root). The ratio is of
the medians over ``--repeats`` pairs; the runs alternate (none, all, none, all, ...) so a machine
getting busier or quieter weighs on both sides. Aim: <= 1.05x.

    .venv/bin/python bench/logging_overhead.py [--epochs 10] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ALL = "train.loggers=[tensorboard,mlflow,csv]"


def quickstart(out: Path, epochs: int, loggers: str | None) -> tuple[float, float]:
    """(wall seconds of the whole process, train_seconds from metrics.json)."""
    cmd = [sys.executable, "-m", "nnforge.cli", "quickstart", "--out", str(out), "--set", f"train.epochs={epochs}",
           "--set", "train.progress=none"] + (["--set", loggers] if loggers else [])
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{proc.stdout[-1000:]}{proc.stderr[-2000:]}")
    return wall, json.loads((out / "metrics.json").read_text())["train_seconds"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10, help="quickstart epochs (its recipe has 10)")
    p.add_argument("--repeats", type=int, default=2, help="pairs of runs (none, all)")
    args = p.parse_args()
    times: dict[str, list[tuple[float, float]]] = {"none": [], "all": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        quickstart(root / "warm-up", 1, ALL)  # creates runs/mlflow.db once, as a user's first tracked run does
        for i in range(args.repeats):
            for side, loggers in (("none", None), ("all", ALL)):
                times[side].append(quickstart(root / f"{side}-{i}", args.epochs, loggers))
                print(f"{side:4s} run {i + 1}: {times[side][-1][0]:6.1f} s wall, {times[side][-1][1]:6.1f} s training", flush=True)
    wall = {k: statistics.median(w for w, _ in v) for k, v in times.items()}
    train = {k: statistics.median(t for _, t in v) for k, v in times.items()}
    print(f"quickstart, {args.epochs} epochs, median of {args.repeats}: no logger {wall['none']:.1f} s, "
          f"tensorboard+mlflow+csv {wall['all']:.1f} s wall")
    print(f"overhead ratio (wall, whole process): {wall['all'] / wall['none']:.3f}x   "
          f"(training loop only: {train['all'] / train['none']:.3f}x)   aim <= 1.05x")


if __name__ == "__main__":
    main()
