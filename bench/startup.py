"""Benchmark: how long nnforge makes you wait before anything happens.

Prints, as the median of ``--repeat`` fresh processes:

- ``nnforge --help``: from starting the process to the help text (target: under 0.2 s);
- ``nnforge train RECIPE``: from starting the process to the first training batch reaching the
  loop (target: 2 s on a warm machine), and which heavy modules were imported by then;
- ``python -c pass``: the interpreter alone, the floor both stand on (on a busy machine every
  number here grows; compare them with it).

The train child is the real command line, with the loop's ``train_step`` replaced by one that
reports the time and exits; nothing is written but the run folder in a temporary directory.

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
import nnforge.train.trainer as trainer

HEAVY = ("matplotlib", "scipy", "sklearn", "pandas", "torch._inductor", "torch._dynamo", "onnx", "onnxruntime", "PIL",
         "fastapi", "optuna", "captum", "statsmodels", "mlxtend")

def first_batch(self, x, y):
    print(f"FIRST_BATCH {time.time():.6f} {time.process_time():.4f}", " ".join(m for m in HEAVY if m in sys.modules), flush=True)
    os._exit(0)

trainer.Trainer.train_step = first_batch
from nnforge.cli import main
sys.exit(main(sys.argv[1:]))
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
    names = ["python -c pass", "nnforge --help", f"nnforge train {args.recipe} (to the first batch)"]
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    heavy = ""
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeat):  # interleaved, so load changes hit all three alike
            cmds = [[sys.executable, "-c", "pass"], [sys.executable, "-m", "nnforge.cli", "--help"],
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
    print(f"  heavy modules imported before the first batch: {heavy or 'none'}")
    print("  (torch._dynamo: torch.optim imports it when an optimizer is built; a bare torch loop pays it too)")


if __name__ == "__main__":
    main()
