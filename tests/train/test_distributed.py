"""DDP: each rank takes its share of every global batch; 2 processes train like 1."""

import json
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from nnforge.config import load_config
from nnforge.train import fit
from nnforge.train.ddp import rank_share

RECIPE = """
seed: 1
threads: 1
data: {name: digits, batch_size: 64}
model: {name: mlp, hidden: [32]}
train: {epochs: 3, optimizer: {name: adam, lr: 0.01}, progress: none}
"""


@pytest.mark.parametrize("n", [128, 130, 129, 127])
def test_rank_shares_tile_each_global_batch(n):
    order = torch.randperm(n, generator=torch.Generator().manual_seed(0))
    shares = [rank_share(order, 64, 2, r) for r in range(2)]
    batches0, batches1 = shares[0].split(32), shares[1].split(32)
    assert len(batches0) == len(batches1)  # every rank takes the same number of steps
    rebuilt = torch.cat([torch.cat([a, b]) for a, b in zip(batches0, batches1)])
    usable = n if n % 64 == 0 or n % 64 >= 2 else n - n % 64
    assert torch.equal(rebuilt, order[:usable])


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(RECIPE)
    proc = subprocess.run([sys.executable, "-m", "nnforge.cli", "train", str(recipe), "--out", str(tmp_path / "ddp"),
                           "--nproc", "2"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "(2 processes)" in proc.stdout
    one = fit(load_config(recipe), tmp_path / "one")
    two = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert two["test_accuracy"] == pytest.approx(one.metrics["test_accuracy"], abs=1 / 360)
    assert two["test_loss"] == pytest.approx(one.metrics["test_loss"], abs=1e-3)
    assert two["final_train_accuracy"] == pytest.approx(one.metrics["final_train_accuracy"], abs=2e-3)
    weights = load_file(str(tmp_path / "ddp" / "model.safetensors"))
    for key, value in one.model.state_dict().items():
        torch.testing.assert_close(weights[key], value, atol=1e-4, rtol=1e-3)
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == sorted(p.name for p in (tmp_path / "one").iterdir())


def test_a_data_mistake_under_nproc_is_one_line(tmp_path):
    """Every rank stops on the missing file; the user sees nnforge's line, not torchrun's report."""
    proc = subprocess.run([sys.executable, "-m", "nnforge.cli", "train", "digits_mlp", "--out", str(tmp_path / "ddp"), "--nproc", "2",
                           "--set", f"data.name=csv:{tmp_path / 'missing.csv'}"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: csv file") and len(proc.stderr.strip().splitlines()) == 1, proc.stderr[-3000:]
    assert not (tmp_path / "ddp").exists()


def test_nproc_resume_of_a_run_from_before_the_cross_key_checks_starts_its_ranks(tmp_path, monkeypatch):
    """The launcher checks the recipe before torchrun as run() does: a run whose config.yaml an older
    nnforge wrote (momentum beside Adam) resumes; before, --nproc --resume refused the run's own recipe."""
    from types import SimpleNamespace

    from nnforge.config import dump_config
    from nnforge.errors import ConfigError
    from nnforge.train import distributed

    run = tmp_path / "run"
    run.mkdir()
    old = load_config(None, ["data.name=digits", "train.optimizer.name=adam", "train.optimizer.momentum=0.9"])
    (run / "config.yaml").write_text(dump_config(old))
    started = []
    monkeypatch.setattr(distributed.subprocess, "run", lambda cmd, env: started.append(cmd) or SimpleNamespace(returncode=0))
    assert distributed.launch(SimpleNamespace(config=str(run), out=None, resume=True, set=[], nproc=2)) == 0
    assert started and "--resume" in started[0]
    fresh = tmp_path / "recipe.yaml"
    fresh.write_text(dump_config(old))
    with pytest.raises(ConfigError, match="'train.optimizer.momentum' is 0.9"):  # a new run of it is refused before torchrun
        distributed.launch(SimpleNamespace(config=str(fresh), out=str(tmp_path / "new"), resume=False, set=[], nproc=2))
    assert len(started) == 1


def test_rank_0_alone_says_what_the_run_did_and_the_process_count_is_on_its_trained_in_line(tmp_path, monkeypatch, capsys):
    """Before: every rank printed a csv's encoding line (twice under --nproc 2), and '(2 processes)'
    ended a classifier's last per-class row, as if it were part of the table."""
    import numpy as np
    import pandas as pd

    from nnforge.train import distributed

    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"a": rng.normal(size=60).round(2), "kind": rng.choice(["x", "y"], 60)})
    frame.loc[:5, "a"] = np.nan
    frame["target"] = np.where(frame["kind"] == "x", "yes", "no")
    frame.to_csv(tmp_path / "t.csv", index=False)
    monkeypatch.setattr(distributed.dist, "init_process_group", lambda backend: None)  # each rank's run, without the group
    monkeypatch.setattr(distributed, "world_size", lambda: 2)
    from nnforge.rundir import recipe_path

    args = [str(recipe_path("digits_mlp")), "--set", f"data.name=csv:{tmp_path / 't.csv'}", "--set", "data.target=target", "--set", "train.epochs=1",
            "--set", "train.progress=none", "--set", "train.checkpoint.enabled=false"]
    monkeypatch.setenv("RANK", "1")
    assert distributed.worker([*args, "--out", str(tmp_path / "rank1")]) == 0
    assert capsys.readouterr().out == ""
    monkeypatch.setenv("RANK", "0")
    assert distributed.worker([*args, "--out", str(tmp_path / "rank0")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert sum(line.startswith("csv: 1 categorical column") for line in out) == 1
    assert [line for line in out if "processes" in line] == [next(line for line in out if line.startswith("trained in "))]
    assert out[-1].startswith("run directory: ")
