import pytest


@pytest.fixture(scope="session")
def forecast_run(tmp_path_factory):
    """The packaged sunspots recipe (statsmodels' yearly series, an LSTM) for three epochs."""
    from nnforge.cli import RECIPES
    from nnforge.config import load_config
    from nnforge.train import fit

    out = tmp_path_factory.mktemp("runs") / "sunspots"
    return fit(load_config(RECIPES / "sunspots_lstm.yaml", ["train.epochs=3", "train.checkpoint.enabled=false"]), out)
