import json
from pathlib import Path

import pytest
from filelock import FileLock

from nnforge.config import load_config
from nnforge.train import fit


def _shared_run(tmp_path_factory, name: str, overrides: list[str]) -> Path:
    """Train once per test session, even with pytest-xdist workers (they share the base temp dir)."""
    root = tmp_path_factory.getbasetemp().parent
    run = root / f"compress-{name}"
    with FileLock(str(root / f"compress-{name}.lock")):
        if not (run / "metrics.json").is_file():
            fit(load_config(None, overrides), run)
    assert json.loads((run / "metrics.json").read_text())["test_accuracy"] > 0.85
    return run


@pytest.fixture(scope="session")
def cnn_run(tmp_path_factory):
    """A small BatchNorm CNN trained for one epoch on the real MNIST sample (~95% test accuracy)."""
    return _shared_run(tmp_path_factory, "cnn", [
        "data.name=mnist-sample", "data.val_fraction=0", "model.name=cnn", "model.channels=[8, 16]",
        "model.hidden=64", "model.batch_norm=true", "train.epochs=1", "train.optimizer.name=adam", "train.optimizer.lr=0.003",
        "train.progress=none", "train.checkpoint.enabled=false"])


@pytest.fixture(scope="session")
def mlp_run(tmp_path_factory):
    return _shared_run(tmp_path_factory, "mlp", [
        "data.name=digits", "data.val_fraction=0", "model.name=mlp", "model.hidden=[64, 32]", "train.epochs=5",
        "train.optimizer.name=adam", "train.optimizer.lr=0.01", "train.progress=none", "train.checkpoint.enabled=false"])


@pytest.fixture(scope="session")
def resnet_run(tmp_path_factory):
    """A small residual network trained on scikit-learn's 8x8 digits (~97% test accuracy)."""
    return _shared_run(tmp_path_factory, "resnet", [
        "data.name=digits", "data.val_fraction=0", "model.name=resnet", "model.blocks=[1, 1]", "model.width=16",
        "train.epochs=6", "train.optimizer.name=adam", "train.optimizer.lr=0.003", "train.progress=none",
        "train.checkpoint.enabled=false"])
