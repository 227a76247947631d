"""`nnforge eval` and ensembles reshape the test split as the run's recipe did (image_size,
fit_content, denoise), so a run scores in eval exactly what it scored at the end of training."""

import pytest

from nnforge.train import fit
from nnforge.compress.ensemble import evaluate_runs
from nnforge.rundir import load_run_test_split

from .conftest import fast_config


@pytest.mark.parametrize("extra", [["data.image_size=12"], ["data.fit_content=true", "data.image_size=16"],
                                   ["data.denoise=median"]])
def test_eval_matches_the_runs_own_test_accuracy(tmp_path, extra):
    run = fit(fast_config("train.epochs=2", "model.hidden=[32]", "train.checkpoint.enabled=false", *extra), tmp_path / "run")
    result = evaluate_runs([run.dir])
    assert result["examples"] == 360
    assert result["accuracy"] == pytest.approx(run.metrics["test_accuracy"], abs=1e-6)
    # uploads are centred like the data only when the data were centred (digits have no MNIST margin)
    import nnforge

    assert nnforge.load(run.dir).preprocessing.fit_content == ("data.fit_content=true" in extra)


def test_ensemble_of_resized_runs_and_the_split_shape(tmp_path):
    runs = [fit(fast_config("train.epochs=2", "model.hidden=[32]", "data.image_size=12", f"seed={s}",
                            "train.checkpoint.enabled=false"), tmp_path / f"r{s}") for s in (0, 1)]
    assert load_run_test_split(runs[0].dir).input_shape == (1, 12, 12)
    result = evaluate_runs([r.dir for r in runs])
    assert len(result["members"]) == 2
    for member, run in zip(result["members"], runs):
        assert member["accuracy"] == pytest.approx(run.metrics["test_accuracy"], abs=1e-6)
