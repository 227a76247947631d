"""SIGKILL a real `nnforge train` at random points (mid-epoch, epoch end, inside a checkpoint write),
resume it, and get the uninterrupted run's weights bit for bit."""

import json
import os
import random
import signal
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

RECIPE = """
seed: 3
deterministic: true
threads: 1
data: {name: digits, batch_size: 64, augment: {shift: 0.1}}
model: {name: mlp, hidden: [32], dropout: 0.1}
train:
  epochs: 3
  optimizer: {name: adam, lr: 0.01}
  scheduler: {name: onecycle}
  progress: none
  checkpoint: {every_steps: 4}
"""
STEPS_PER_EPOCH = 21  # 1293 training digits / 64


def _train(args, fault=None):
    env = dict(os.environ, PYTHONHASHSEED="0")
    env.pop("NNFORGE_FAULT", None)
    if fault:
        env["NNFORGE_FAULT"] = fault
    return subprocess.Popen([sys.executable, "-m", "nnforge.cli", "train", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_all(procs):
    return [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in procs]


def _epochs(run):
    keep = ("epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr")
    return [{k: row[k] for k in keep} for row in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]


@pytest.mark.slow
def test_killed_runs_resume_bit_identical(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE)
    rng = random.Random(7)
    total = 3 * STEPS_PER_EPOCH
    mid = [s for s in range(2, total - 1) if s % STEPS_PER_EPOCH]
    kills = {
        "mid_epoch": [f"kill_at_step:{rng.choice(mid)}"],
        "epoch_end": [f"kill_at_step:{2 * STEPS_PER_EPOCH}"],  # last batch done, epoch-end checkpoint not yet
        "in_write_then_again": [f"kill_in_write:{rng.randint(2, 12)}", f"kill_at_step:{rng.choice(mid[30:])}"],
    }
    ref = tmp_path / "ref"
    procs = [_train([recipe, "--out", ref])]
    procs += [_train([recipe, "--out", tmp_path / name], faults[0]) for name, faults in kills.items()]
    results = _wait_all(procs)
    assert results[0][0] == 0, results[0][2]
    for (rc, _, err), name in zip(results[1:], kills):
        assert rc == -signal.SIGKILL, (name, err)
        assert not (tmp_path / name / "model.safetensors").exists()
    # the chained case is killed once more while resuming; the other resume forms are both exercised
    first = [_train(["--resume", tmp_path / n] if i % 2 else [recipe, "--out", tmp_path / n, "--resume"],
                    kills[n][1] if len(kills[n]) > 1 else None) for i, n in enumerate(kills)]
    results = _wait_all(first)
    again = [n for n, (rc, _, _) in zip(kills, results) if rc == -signal.SIGKILL]
    assert again == ["in_write_then_again"], results
    for rc, _, err in results:
        assert rc in (0, -signal.SIGKILL), err
    assert _wait_all([_train(["--resume", tmp_path / n]) for n in again])[0][0] == 0

    want = load_file(str(ref / "model.safetensors"))
    for name in kills:
        run = tmp_path / name
        got = load_file(str(run / "model.safetensors"))
        assert got.keys() == want.keys()
        for key in want:
            assert torch.equal(got[key], want[key]), (name, key)
        assert _epochs(run) == _epochs(ref), name
        assert not list((run / "checkpoints").glob(".*.tmp"))
