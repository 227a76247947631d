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


NOISE_COLUMNS = ("noise_a", "noise_b", "noise_c")


@pytest.fixture(scope="session")
def wine_mlp(tmp_path_factory) -> Path:
    """An MLP trained on scikit-learn's real wine table (13 measurements, 3 cultivars) written as a
    CSV with three extra columns of pure noise, which a faithful attribution must rank last."""
    import numpy as np
    from sklearn.datasets import load_wine

    root = tmp_path_factory.getbasetemp().parent
    run = root / "explain-wine-mlp"
    with FileLock(str(root / "explain-wine-mlp.lock")):
        if not (run / "metrics.json").is_file():
            wine = load_wine()
            noise = np.random.default_rng(0).normal(size=(len(wine.data), len(NOISE_COLUMNS)))
            names = [n.replace("/", "_") for n in wine.feature_names] + list(NOISE_COLUMNS)
            lines = [",".join(names + ["cultivar"])]
            lines += [",".join(f"{v:g}" for v in [*row, *extra]) + f",c{t}" for row, extra, t in zip(wine.data, noise, wine.target)]
            csv = root / "wine-with-noise.csv"
            csv.write_text("\n".join(lines) + "\n")
            cfg = load_config(None, [f"data.name=csv:{csv}", "data.target=cultivar", "data.val_fraction=0", "model.name=mlp",
                                     "model.hidden=[32]", "train.epochs=40", "train.optimizer.name=adam", "train.optimizer.lr=0.01",
                                     "train.progress=none", "train.checkpoint.enabled=false"])
            fit(cfg, run)
    assert json.loads((run / "metrics.json").read_text())["test_accuracy"] > 0.9
    return run
