"""The issue's bar for the NumPy engine: the MNIST MLP recipe, trained by nnforge.scratch."""

import pytest

from nnforge.cli import RECIPES
from nnforge.config import load_config
from nnforge.train import fit


@pytest.mark.slow
def test_mnist_mlp_recipe_on_the_scratch_engine_reaches_96_percent(tmp_path):
    run = fit(load_config(RECIPES / "mnist_mlp.yaml", ["engine=scratch", "train.progress=none"]), tmp_path / "run")
    assert run.metrics["test_accuracy"] >= 0.96
    assert (tmp_path / "run" / "model.safetensors").is_file() and (tmp_path / "run" / "curves.png").is_file()
