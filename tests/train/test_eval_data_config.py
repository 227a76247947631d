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


def test_eval_data_of_another_kind_than_the_run_is_judged_by_its_own_labels(tmp_path):
    """--data digits for a run trained on a csv: table used to keep the run's data.target and fail with
    'remove data.target' (which eval cannot do); --data csv:T for a run without one asked for
    `--set data.target`, which eval does not take."""
    from nnforge.config import dump_config, resolve
    from nnforge.errors import DataError

    table, image = tmp_path / "table", tmp_path / "image"
    csv = tmp_path / "t.csv"
    csv.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{'xy'[i % 2]}\n" for i in range(20)))
    for folder, data in ((table, {"name": f"csv:{csv}", "target": "label"}), (image, {"name": "digits"})):
        folder.mkdir()
        (folder / "config.yaml").write_text(dump_config(resolve({"data": data, "model": {"name": "mlp"}})))
    assert load_run_test_split(table, data="digits").input_shape == (1, 8, 8)
    assert load_run_test_split(table, data=f"csv:{csv}").classes == ["x", "y"]
    with pytest.raises(DataError, match=f"--data csv:{csv}: a csv: table needs the column to predict, and '{image}' was not"):
        load_run_test_split(image, data=f"csv:{csv}")
