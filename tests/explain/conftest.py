import json
from pathlib import Path

import pytest
from filelock import FileLock

from nnforge.config import load_config
from nnforge.train import fit


@pytest.fixture(scope="session")
def digits_cnn(tmp_path_factory) -> Path:
    """A small CNN trained on scikit-learn's 8x8 digits (~95% test accuracy); trained once per session."""
    root = tmp_path_factory.getbasetemp().parent
    run = root / "explain-digits-cnn"
    with FileLock(str(root / "explain-digits-cnn.lock")):
        if not (run / "metrics.json").is_file():
            cfg = load_config(None, ["data.name=digits", "data.val_fraction=0", "model.name=cnn", "model.channels=[16, 32]",
                                     "model.hidden=64", "train.epochs=8", "train.optimizer.name=adam", "train.optimizer.lr=0.005",
                                     "train.progress=none", "train.checkpoint.enabled=false"])
            fit(cfg, run)
    assert json.loads((run / "metrics.json").read_text())["test_accuracy"] > 0.9
    return run
