"""Benchmark: how long nnforge makes you wait before anything happens.

Prints, as the median of ``--repeat`` fresh processes:

- ``nnforge --help``: from starting the process to the help text (target: under 0.2 s);
- ``nnforge train RECIPE``: from starting the process to the end of the first optimizer step
  (target: 2 s on a warm machine), and which heavy modules were imported by then;
- a bare torch script to the end of its first optimizer step (the quickstart's network, AdamW, one
  batch of random digits): what a plain torch program pays, torch's imports and the
  ``torch._dynamo`` import its ``torch.optim`` optimizer makes (nnforge's skip it:
  :mod:`nnforge.train.eager_optim`);
- the same script with Python's garbage collector paused (``gc.disable()`` first), as nnforge's
  training commands start (:mod:`nnforge.startup`);
- ``python -c pass``: the interpreter alone, the floor both stand on (on a busy machine every
  number here grows; compare them with it).

The train child is the real command line, with the loop's ``train_step`` wrapped (once the command
has started) to report the time after the first step and exit; nothing is written but the run folder in a temporary directory.

    python bench/startup.py [--recipe quickstart] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import os, sys, time
import nnforge.cli as cli

HEAVY = ("matplotlib", "scipy", "sklearn", "pandas", "torch._inductor", "torch._dynamo", "onnx", "onnxruntime", "PIL",
         "fastapi", "optuna", "captum", "statsmodels", "mlxtend")
train = cli._train

def patched_train(args):  # the trainer imported where the command imports it: after it paused the collector
    import nnforge.train.trainer as trainer
    step = trainer.Trainer.train_step

    def first_step(self, x, y):
        step(self, x, y)
        print(f"FIRST_BATCH {time.time():.6f} {time.process_time():.4f}", " ".join(m for m in HEAVY if m in sys.modules), flush=True)
        os._exit(0)

    trainer.Trainer.train_step = first_step
    return train(args)

cli._train = patched_train
sys.exit(cli.main(sys.argv[1:]))
"""

BARE = r"""
import time, torch
from torch import nn
model = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(32 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
nn.functional.cross_entropy(model(x), y).backward()
optimizer.step()
print(f"FIRST_BATCH {time.time():.6f} {time.process_time():.4f}", flush=True)
"""


def timed(cmd: list[str], env: dict) -> tuple[float, float, str]:
    """Wall seconds from spawning ``cmd`` to its end (or its first batch), the CPU seconds it used, the heavy modules."""
    start = time.time()
    before = os.times()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    end, after = time.time(), os.times()
    if done.returncode != 0:
        sys.exit(f"failed: {' '.join(cmd)}\n{done.stderr[-2000:]}")
    for line in done.stdout.splitlines():
        if line.startswith("FIRST_BATCH "):
            _, stamp, cpu, *heavy = line.split(" ")
            return float(stamp) - start, float(cpu), " ".join(heavy)
    return end - start, (after.children_user - before.children_user) + (after.children_system - before.children_system), ""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="quickstart")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    # a warm machine has nnforge's bytecode cached, as pip leaves it: with PYTHONDONTWRITEBYTECODE set
    # (some sandboxes set it), every start would compile nnforge's ~120 modules again, 0.13 s here
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    names = ["python -c pass", "nnforge --help", "bare torch (to its first step)", "bare torch, collector paused",
             f"nnforge train {args.recipe} (to its first step)"]
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    heavy = ""
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):  # interleaved, so load changes hit all three alike
            cmds = [[sys.executable, "-c", "pass"], [sys.executable, "-m", "nnforge.cli", "--help"], [sys.executable, "-c", BARE],
                    [sys.executable, "-c", "import gc; gc.disable()\n" + BARE],
                    [sys.executable, "-c", CHILD, "train", args.recipe, "--out", str(Path(tmp) / f"run{i}"), "--set", "train.progress=none"]]
            for name, cmd in zip(names, cmds):
                w, c, h = timed(cmd, env)
                wall[name].append(w)
                cpu[name].append(c)
                heavy = h or heavy
    print(f"median of {args.repeat} fresh processes; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} "
          "(CPU seconds: what the wall time would be on an idle machine)")
    for name in names:
        print(f"  {name:<48} {statistics.median(wall[name]):6.2f} s wall  [{min(wall[name]):.2f}-{max(wall[name]):.2f}]"
              f"  {statistics.median(cpu[name]):5.2f} s CPU")
    bare, paused, ours = (statistics.median(cpu[n]) for n in names[2:])
    print(f"  nnforge's own start-up: {ours - bare:+.2f} s CPU over the bare torch script, {ours - paused:+.2f} s over it "
          "with the collector paused")
    print(f"  heavy modules imported by the end of the first step: {heavy or 'none'}")
    print("  (the bare script's torch.optim optimizer imports torch._dynamo when it is built and at every step, about 1 s; "
          "nnforge's optimizers skip it: nnforge/train/eager_optim.py)")


if __name__ == "__main__":
    main()
