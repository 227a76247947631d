"""Shared fixtures: small real-format files and quick recipes."""

from __future__ import annotations

import os

import pytest
from threadpoolctl import threadpool_limits

os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True, scope="session")
def _one_thread_per_worker():
    """One torch and one BLAS thread per test process.

    The suite runs one pytest-xdist worker per core; multi-threaded pools spinning side by side
    in each worker turn a 0.2 s training test into a 15 s one on a 2-core machine.
    """
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield
    torch.set_num_threads(previous)


def quick_overrides(*extra: str) -> list[str]:
    """A recipe that trains in about a second on scikit-learn's digits."""
    return [
        "data.name=digits",
        "model.name=mlp",
        "model.hidden=[64]",
        "train.epochs=3",
        "train.optimizer.name=adam",
        "train.optimizer.lr=0.01",
        "train.progress=none",
        *extra,
    ]


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory):
    """One trained run directory shared by tests that only read it."""
    from nnforge.config import load_config
    from nnforge.train import fit

    out = tmp_path_factory.mktemp("runs") / "digits_mlp"
    return fit(load_config(None, quick_overrides()), out)


@pytest.fixture(scope="session")
def run_folder(tmp_path_factory):
    """A folder of runs as a person accumulates them (for ``nnforge runs`` and ``compare``): two
    finished digits runs that differ in exactly two recipe keys (the older one the better: a small
    learning rate and 8 hidden units leave ``weak`` behind), a partial run (stopped by Ctrl-C after its
    first epoch), a failed one (an error as its second epoch begins), a damaged one and a foreign folder."""
    import nnforge
    from nnforge.train.callbacks import Callback

    class Raise(Callback):
        def __init__(self, error):
            self.error = error

        def on_epoch_begin(self, trainer, epoch):
            if epoch == 1:
                raise self.error

    root = tmp_path_factory.mktemp("folder") / "runs"
    base = {"data.name": "digits", "model.name": "mlp", "model.hidden": [32], "train.epochs": 2, "train.optimizer.name": "adam",
            "train.optimizer.lr": 0.01, "train.progress": "none", "threads": 1}
    nnforge.fit(None, root / "strong", overrides=base)
    nnforge.fit(None, root / "weak", overrides={**base, "train.optimizer.lr": 0.0003, "model.hidden": [8]})
    for name, error in (("stopped", KeyboardInterrupt()), ("crashed", RuntimeError("the disk is on fire"))):
        try:
            nnforge.fit(None, root / name, overrides=base, callbacks=[Raise(error)])
        except (KeyboardInterrupt, RuntimeError):
            pass
    (root / "damaged").mkdir()
    (root / "damaged" / "config.yaml").write_text("train: [this is not a recipe\n")
    (root / "holiday-photos").mkdir()
    (root / "holiday-photos" / "beach.txt").write_text("not a run")
    return root
