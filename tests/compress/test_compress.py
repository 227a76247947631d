"""`nnforge compress` on an MLP: magnitude and channel pruning with a fine-tune, dynamic int8; pruned runs stay runs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from nnforge.cli import main
from nnforge.compress.ensemble import evaluate_runs


def test_compress_command_prunes_and_quantizes_an_mlp(mlp_run, capsys):
    assert main(["compress", str(mlp_run), "--prune", "0.5", "--quantize", "int8"]) == 0
    assert "| channel pruned 50% (torch) |" in capsys.readouterr().out
    rows = {r["method"]: r for r in json.loads((mlp_run / "compress" / "compress.json").read_text())["rows"]}
    original = rows["none"]
    magnitude = rows["global magnitude, unstructured"]
    channels = rows["L1 channels, structured"]
    assert magnitude["sparsity"] >= 0.5 and magnitude["gzip_bytes"] < original["gzip_bytes"]
    assert channels["architecture"]["hidden"] == [32, 16] and channels["size_bytes"] < original["size_bytes"] / 1.8
    for row in (magnitude, channels):  # a short fine-tune keeps the pruned networks close to the original
        assert row["test_accuracy"] >= original["test_accuracy"] - 0.05
    assert rows["int8 dynamic"]["size_bytes"] < rows["export"]["size_bytes"] / 2
    # a pruned variant is a run directory in its own right
    result = evaluate_runs([mlp_run / "compress" / "channels-50"])
    assert np.isclose(result["accuracy"], channels["test_accuracy"])
    assert main(["compress", str(mlp_run), "--prune", "1.5"]) == 2


def test_channel_pruning_a_residual_network_narrows_its_blocks(resnet_run):
    from nnforge.compress.pipeline import compress_run

    table = compress_run(resnet_run, prune=0.5, quantize=None, methods=("channels",), log=lambda _: None)
    original, channels = table["rows"]
    assert channels["architecture"]["inner"] == [8, 16] and channels["architecture"]["blocks"] == [1, 1]
    assert channels["parameters"] < 0.7 * original["parameters"] and channels["size_bytes"] < 0.7 * original["size_bytes"]
    assert channels["test_accuracy"] >= original["test_accuracy"] - 0.03
    result = evaluate_runs([resnet_run / "compress" / "channels-50"])  # a run directory of its own
    assert np.isclose(result["accuracy"], channels["test_accuracy"])


def test_a_distilled_student_is_listed_beside_the_original(tmp_path):
    """digits: a teacher MLP and a 4x smaller student distilled from it, measured on the same test images."""
    from nnforge.compress.pipeline import compress_run
    from nnforge.train import run

    base = {"data": {"name": "digits"}, "train": {"epochs": 2, "optimizer": {"name": "adam", "lr": 0.01}, "progress": "none"}}
    teacher = run({**base, "model": {"name": "mlp", "hidden": [64]}}, tmp_path / "teacher")
    student = run({**base, "model": {"name": "mlp", "hidden": [16]},
                   "train": {**base["train"], "distill": {"teacher": str(tmp_path / "teacher")}}}, tmp_path / "student")
    table = compress_run(tmp_path / "teacher", prune=None, quantize=None, students=(tmp_path / "student",), log=lambda _: None)
    original, row = table["rows"]
    assert row["method"] == "knowledge distillation" and "distilled from" in row["model"]
    assert np.isclose(row["test_accuracy"], student.metrics["test_accuracy"], atol=1e-6)
    assert np.isclose(original["test_accuracy"], teacher.metrics["test_accuracy"], atol=1e-6)
    assert row["parameters"] < original["parameters"] / 3 and row["size_ratio"] < 0.5


def test_a_run_whose_config_names_another_dataset_is_one_line(digits_run, tmp_path, capsys):
    """config.yaml edited to another dataset: the model (8x8 digits) cannot score MNIST's 28x28 images."""
    import shutil

    from nnforge.config import dump_config
    from nnforge.rundir import read_recipe

    run = shutil.copytree(digits_run.dir, tmp_path / "run")
    (run / "config.yaml").write_text(dump_config(read_recipe(run).with_overrides({"data.name": "mnist-sample"})))
    assert main(["compress", str(run), "--finetune-epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not match the model" in err and "config.yaml" in err, err


def test_a_file_in_the_way_of_the_compress_folder_is_one_line(digits_run, tmp_path, capsys):
    import shutil

    run = shutil.copytree(digits_run.dir, tmp_path / "run", ignore=shutil.ignore_patterns("compress"))
    (run / "compress").write_text("my notes")
    assert main(["compress", str(run), "--finetune-epochs", "0", "--method", "magnitude"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot write {run / 'compress'}: a file is in the way of a folder on that path") and err.count("\n") == 1, err
    assert (run / "compress").read_text() == "my notes"


def test_negative_finetune_epochs_are_one_line(digits_run, capsys):
    """Before: --finetune-epochs -1 was taken as 0 without a word."""
    assert main(["compress", str(digits_run.dir), "--prune", "0.5", "--finetune-epochs", "-1"]) == 2
    assert capsys.readouterr().err == "error: --finetune-epochs is -1; accepted: 0 (none) or more\n"


def _gappy_table(tmp_path, task: str = "classify", recipe: str = "digits_mlp", **keys):
    """A csv of 150 rows with a text column and empty cells, and the recipe of a 2-epoch run on it."""
    from nnforge.api import as_recipe

    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"a": rng.normal(size=150).round(3), "kind": rng.choice(["x", "y", "z"], 150),
                          "b": rng.normal(size=150).round(3)})
    frame.loc[rng.choice(150, 15, replace=False), "a"] = np.nan
    frame.loc[1, "kind"] = "rare"  # in the rows that train with val_fraction 0.15, not with 0.5
    value = frame["b"] + (frame["kind"] == "x") + frame["a"].fillna(0)
    frame["target"] = value.round(3) if task == "regress" else np.where(value > 0.3, "high", "low")
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    config, _ = as_recipe(recipe, {"task": task, "data.name": f"csv:{path}", "data.target": "target", "data.val_fraction": 0.15,
                                   "train.epochs": 2, "train.progress": "none", "train.checkpoint.enabled": False, **keys})
    return frame, config


def test_a_student_of_a_csv_is_scored_on_the_rows_encoded_as_it_trained(tmp_path, capsys):
    """A student trained on the same csv without a validation part learned other medians. Before, it
    was scored on the test rows encoded with the teacher's encoding (another accuracy than its own
    eval's, or a shape error inside the network); now with its own."""
    from nnforge.train import run

    _, teacher = _gappy_table(tmp_path)
    _, student = _gappy_table(tmp_path, **{"data.val_fraction": 0.5, "model.hidden": [8]})
    teacher, student = run(teacher, tmp_path / "teacher", pictures=False), run(student, tmp_path / "student", pictures=False)
    shapes = [json.loads((r.dir / "model.json").read_text())["preprocessing"]["input_shape"] for r in (teacher, student)]
    assert shapes[0] != shapes[1]  # 'kind=rare' in one run's features only
    capsys.readouterr()
    assert main(["compress", str(teacher.dir), "--quantize", "int8", "--student", str(student.dir)]) == 0, capsys.readouterr().err
    rows = json.loads((teacher.dir / "compress" / "compress.json").read_text())["rows"]
    assert rows[-1]["method"] == "smaller model" and rows[-1]["test_accuracy"] == pytest.approx(student.metrics["test_accuracy"], abs=1e-4)


@pytest.mark.parametrize("task, recipe", [("classify", "digits_mlp"), ("regress", "diabetes_mlp")])
def test_compress_of_a_cross_validation_fold_run_scores_it_as_eval_does(tmp_path, capsys, task, recipe):
    """A trial run of `tune --cv` on a csv with a text column and gaps: compress prepared the data
    again by data.val_fraction, not the run's fold, so it learned another encoding (a classifier:
    'encodes ... differently', exit 2) and other scalers (a regressor: a test RMSE other than the
    run's). Now it encodes and scales the rows with the model's own, and scores the original as
    training did."""
    from nnforge.train import run

    frame, config = _gappy_table(tmp_path, task, recipe)
    result = run(config, tmp_path / "fold", fold=(0, 3), pictures=False)
    trained = json.loads((result.dir / "model.json").read_text())["preprocessing"]["encoding"]
    assert trained["columns"][0]["median"] != float(frame["a"].median())  # the fold's, not the whole file's
    capsys.readouterr()
    assert main(["compress", str(result.dir), "--prune", "0.5", "--method", "magnitude", "--finetune-epochs", "1"]) == 0, \
        capsys.readouterr().err
    metric = "test_rmse" if task == "regress" else "test_accuracy"
    rows = json.loads((result.dir / "compress" / "compress.json").read_text())["rows"]
    assert rows[0][metric] == pytest.approx(result.metrics[metric], abs=1e-4)
    assert rows[1][metric] > (0 if task == "regress" else 0.3)  # the pruned network, fine-tuned on rows encoded as it expects
    # latency of csv rows is per row (before: 'per image' in the table's line, and 'ms/image' for a classifier)
    assert "ms per row" in (result.dir / "compress" / "compress.md").read_text()
    assert "| ms/row batch 1 |" in (result.dir / "compress" / "compress.md").read_text()


@pytest.mark.parametrize("model", [{"name": "mlp", "hidden": []}, {"name": "vit", "patch": 4, "dim": 8, "depth": 1, "heads": 1}])
def test_channels_asked_alone_of_a_model_with_none_to_remove_is_one_line(tmp_path, capsys, model):
    """--method channels on a linear mlp (no hidden layer) printed a 'channel pruned 50%' row that
    was the original, unchanged; on a vit only the original's row. Both exited 0. Now one line;
    with --method both the channel row is skipped with a word, as before for a vit."""
    from nnforge.train import run

    recipe = {"data": {"name": "digits"}, "model": model, "train": {"epochs": 1, "progress": "none",
                                                                     "checkpoint": {"enabled": False}}}
    trained = run(recipe, tmp_path / "run", pictures=False)
    capsys.readouterr()
    assert main(["compress", str(trained.dir), "--method", "channels", "--prune", "0.5"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --method channels: ") and "use --method magnitude" in err and err.count("\n") == 1, err
    assert not (trained.dir / "compress").exists()
    if model["name"] == "mlp":
        assert main(["compress", str(trained.dir), "--prune", "0.5", "--finetune-epochs", "0"]) == 0
        methods = [r["method"] for r in json.loads((trained.dir / "compress" / "compress.json").read_text())["rows"]]
        assert "L1 channels, structured" not in methods and "global magnitude, unstructured" in methods
        assert "channel pruning skipped (this 'mlp' has no hidden layer" in capsys.readouterr().out


def test_a_wrong_student_is_said_before_any_pruning(digits_run, tmp_path, capsys):
    """Before, a --student that is not a run (or of other data) was found only after the pruning,
    fine-tuning and quantizing: minutes later, with the variants rewritten beside the old table."""
    import shutil

    run = shutil.copytree(digits_run.dir, tmp_path / "run", ignore=shutil.ignore_patterns("compress"))
    (tmp_path / "notes").mkdir()
    assert main(["compress", str(run), "--prune", "0.5", "--method", "magnitude", "--student", str(tmp_path / "notes")]) == 2
    err = capsys.readouterr().err
    assert "has no model.json/model.safetensors" in err and err.count("\n") == 1, err
    assert not (run / "compress").exists()


def test_a_student_given_alone_is_the_only_comparison(mlp_run, tmp_path, capsys):
    """`compress RUN --student S` without --prune or --quantize: before, it pruned, fine-tuned and
    quantized as well (the defaults when neither is given), minutes of work nobody asked for."""
    import shutil

    student = shutil.copytree(mlp_run, tmp_path / "student", ignore=shutil.ignore_patterns("compress"))
    teacher = shutil.copytree(mlp_run, tmp_path / "teacher", ignore=shutil.ignore_patterns("compress"))
    assert main(["compress", str(teacher), "--student", str(student)]) == 0, capsys.readouterr().err
    rows = json.loads((teacher / "compress" / "compress.json").read_text())["rows"]
    assert [r["method"] for r in rows] == ["none", "smaller model"]  # the original, and the student
    assert sorted(p.name for p in (teacher / "compress").iterdir()) == ["compress.json", "compress.md"]


def _listing(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_a_rerun_leaves_only_what_its_table_lists_and_a_failed_one_leaves_the_last_results(mlp_run, tmp_path, monkeypatch):
    """Before, a rerun wrote its files beside the last run's: magnitude-50/ and channels-50/ of a first
    `--prune 0.5` stayed in RUN/compress/ after `--quantize int8` alone, listed by no table."""
    import shutil

    import nnforge.compress.quantize
    from nnforge.compress import measure
    from nnforge.compress.pipeline import compress_run

    monkeypatch.setattr(measure, "latency_per_image", lambda *args: 1e-3)  # not what this test is about: seconds saved
    # mlp_run is shared: another test's compress of it may be under way, its folder staged under a hidden name
    run = shutil.copytree(mlp_run, tmp_path / "run", ignore=shutil.ignore_patterns("compress", ".compress.*"))
    out = run / "compress"
    compress_run(run, prune=0.5, quantize=None, finetune_epochs=0, log=lambda _: None)
    assert {"magnitude-50", "channels-50"} <= set(_listing(out))
    table = compress_run(run, prune=None, quantize="int8", log=lambda _: None)
    assert _listing(out) == ["compress.json", "compress.md", "model-fp32.onnx", "model-int8.onnx"]
    assert [r["file"] for r in table["rows"][1:]] == [str(out / "model-fp32.onnx"), str(out / "model-int8.onnx")]
    assert json.loads((out / "compress.json").read_text()) == json.loads(json.dumps(table))
    before, before_json = _listing(out), (out / "compress.json").read_bytes()

    def fails(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl+C halfway: the pruned models written, the int8 one not yet

    monkeypatch.setattr(nnforge.compress.quantize, "quantize_int8", fails)
    with pytest.raises(KeyboardInterrupt):
        compress_run(run, prune=0.3, quantize="int8", methods=("magnitude",), finetune_epochs=0, log=lambda _: None)
    assert _listing(out) == before and (out / "compress.json").read_bytes() == before_json
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".compress")) == []  # no half-filled folder left


def test_a_student_inside_the_compress_folder_is_refused_before_the_folder_is_replaced(mlp_run, tmp_path, capsys):
    """RUN/compress/ is replaced whole by each compress: a student run kept there (say a copy of a pruned
    variant) would be deleted with the old results while the new table still named its files."""
    import shutil

    run = shutil.copytree(mlp_run, tmp_path / "run", ignore=shutil.ignore_patterns("compress", ".compress.*"))
    student = shutil.copytree(mlp_run, run / "compress" / "student", ignore=shutil.ignore_patterns("compress", ".compress.*"))
    assert main(["compress", str(run), "--student", str(student)]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: --student {student} lies inside {run / 'compress'}/, which every compress of this run replaces; "
                   "pass a run directory outside it\n")
    assert (student / "model.safetensors").is_file() and sorted(p.name for p in (run / "compress").iterdir()) == ["student"]


def test_the_table_scores_a_dynamic_int8_model_one_example_at_a_time_as_serve_answers(mlp_run, tmp_path, monkeypatch):
    """Dynamic int8 scales activations over the whole batch, so `nnforge serve` runs it one example at a
    time; before, the table scored it in batches of 500, an accuracy off by about 1 in 360 from serve's."""
    import shutil

    from nnforge.compress import measure
    from nnforge.compress.pipeline import compress_run
    from nnforge.data import load_dataset
    from nnforge.predictor import load

    monkeypatch.setattr(measure, "latency_per_image", lambda *args: 1e-3)  # not what this test is about: seconds saved
    run = shutil.copytree(mlp_run, tmp_path / "run", ignore=shutil.ignore_patterns("compress", ".compress.*"))
    int8 = compress_run(run, prune=None, quantize="int8", log=lambda _: None)["rows"][-1]
    assert int8["method"] == "int8 dynamic"
    ds = load_dataset({"name": "digits"})
    x, y = load(run).preprocessing(ds.x_test).numpy(), ds.y_test.numpy()
    session = measure.onnx_runner(int8["file"])
    alone = np.array([session(x[i : i + 1])[0].argmax() for i in range(len(x))])
    assert int8["test_accuracy"] == (alone == y).mean()
