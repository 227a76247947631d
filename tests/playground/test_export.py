"""The code the page shows is what the server ran: executed, it lands on the session's exact weights;
the recipe it shows is a valid nnforge recipe that trains with `nnforge train`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nnforge.data.sources.toy2d import DataSpec
from nnforge.playground.export import epochs_for, python_code, recipe
from nnforge.playground.network import NetSpec
from nnforge.playground.session import TrainingSession

CASES = [
    (DataSpec(kind="xor", samples=200, noise=5), NetSpec(hidden=(4,), activation="tanh", optimizer="adam", lr=0.03)),
    (DataSpec(kind="spiral", samples=150, features=("x1", "x2", "sin(x1)", "x1*x2")),
     NetSpec(hidden=(3, 2), activation="relu", optimizer="momentum", lr=0.01, l1=0.002, l2=0.001, batch_size=16)),
    (DataSpec(kind="gauss", samples=100, train_ratio=30, seed=5), NetSpec(hidden=(), optimizer="sgd", lr=0.1)),
]


@pytest.mark.parametrize("data, net", CASES)
def test_shown_code_reproduces_the_sessions_weights_exactly(data, net, capsys):
    session = TrainingSession(data, net)
    steps = 2 * session.batches_per_epoch + 3
    for _ in range(steps):
        session.step()
    namespace: dict = {}
    exec(compile(python_code(data, net, steps), "playground_code.py", "exec"), namespace)
    shown = namespace["model"].state_dict()
    for name, value in session.model.state_dict().items():
        np.testing.assert_array_equal(shown[name], value, err_msg=name)
    assert f"after {steps} steps" in capsys.readouterr().out


def test_recipe_is_valid_and_names_the_same_network(tmp_path):
    import yaml

    from nnforge.config import load_config

    data, net = CASES[1]
    text = recipe(data, net, epochs_for(37, 10))
    doc = yaml.safe_load(text)
    assert doc["model"] == {"name": "mlp", "hidden": [3, 2], "activation": "relu"}
    assert doc["train"]["optimizer"] == {"name": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 0.001}
    assert doc["train"]["l1"] == 0.002 and doc["engine"] == "scratch"  # the engine the page trains with, L1 included
    assert doc["train"]["epochs"] == 4
    assert DataSpec.parse(doc["data"]["name"].removeprefix("playground:")) == data
    (tmp_path / "r.yaml").write_text(text)
    config = load_config(tmp_path / "r.yaml")  # the schema accepts every key it names
    assert config.data.val_fraction == 0.0 and config.data.normalize is False
    assert config.data.batch_size == 16 and config.model["hidden"] == [3, 2]


@pytest.mark.slow
def test_exported_recipe_trains_with_nnforge_train(tmp_path):
    data = DataSpec(kind="xor", samples=300, noise=5)
    net = NetSpec(hidden=(4,), activation="tanh", optimizer="adam", lr=0.03)
    path = tmp_path / "playground.yaml"
    path.write_text(recipe(data, net, 30))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run([sys.executable, "-m", "nnforge.cli", "train", str(path), "--out", str(tmp_path / "run"),
                          "--set", "train.progress=none"], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    accuracy = float(out.stdout.split("test accuracy ")[1].split("%")[0])
    assert accuracy > 90, out.stdout  # XOR is not linearly separable: only the hidden layer gets it right
    assert (tmp_path / "run" / "model.json").is_file()
