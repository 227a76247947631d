"""A run's ``model.json`` edited by hand or by an attacker: each problem is one line naming the file."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import nnforge
from nnforge.data import load_dataset
from nnforge.data.preprocess import Preprocessing
from nnforge.errors import RunError
from nnforge.models import build_model
from nnforge.rundir import save_model

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A run in the real format: digits' preprocessing fitted on its data, an MLP's weights."""
    ds = load_dataset({"name": "digits"})
    pre = Preprocessing.fit(ds)
    model = build_model({"name": "mlp", "hidden": [16]}, tuple(ds.input_shape), ds.num_classes, ds.kind)
    run = tmp_path_factory.mktemp("run")
    save_model(run, model, {"model": {"name": "mlp", "hidden": [16]}, "kind": ds.kind, "input_shape": list(ds.input_shape),
                            "num_classes": ds.num_classes, "classes": ds.classes, "preprocessing": pre.to_dict()})
    return run


def edited(run: Path, tmp_path: Path, edit) -> Path:
    copy = tmp_path / "edited"
    copy.mkdir()
    (copy / "model.safetensors").write_bytes((run / "model.safetensors").read_bytes())
    meta = json.loads((run / "model.json").read_text())
    edit(meta)
    (copy / "model.json").write_text(json.dumps(meta))
    return copy


def test_the_real_run_loads(run_dir):
    assert nnforge.load(run_dir).preprocessing.input_shape == [1, 8, 8]


@pytest.mark.parametrize("edit, problem", [
    (lambda m: m["preprocessing"].update(normalise=True), "unknown preprocessing key 'normalise'"),
    (lambda m: m["preprocessing"].update(fit_contents=True), "did you mean 'fit_content'"),
    (lambda m: m.update(classes=5), "'classes' must be a list of class names"),
    (lambda m: m.update(input_shape=[1, 10**9, 10**9]), "each side at most 4096"),
    (lambda m: m["preprocessing"].update(input_shape=[1, 4000, 4000]), "preprocessing's input_shape .1, 4000, 4000. is not the model's .1, 8, 8."),
    (lambda m: m["preprocessing"].update(input_shape=[3, 4096, 4096]), "holds 50,331,648 values; at most 16,777,216"),
    (lambda m: m["preprocessing"].update(input_shape="28x28"), "must be a list of 1 to 3 positive integers"),
    (lambda m: m["preprocessing"].update(mean=["a"]), "'mean' must be a list of finite numbers"),
    (lambda m: m["preprocessing"].update(std=[0.0]), "'std' must be positive"),
    (lambda m: m["preprocessing"].update(mean=[10**400]), "'mean' must be a list of finite numbers"),  # before: OverflowError
    (lambda m: m["preprocessing"].update(mode="CMYK"), "'mode' is 'CMYK'; accepted: L, RGB"),
    (lambda m: m["preprocessing"].update(denoise_size=10**9), "'denoise_size' must be an integer"),
    (lambda m: m.update(preprocessing=[1, 2]), "'preprocessing' is a list"),
    # the model section: checked as a recipe's, and built on the meta device before any memory is taken
    (lambda m: m["model"].update(hidden=[10**7, 10**7]), r"'layers.0.bias' is \[16\] in model.safetensors, \[10000000\] in the model"),
    (lambda m: m["model"].update(hidden=[-5]), r"'model.hidden' is \[-5\]; accepted: a list of whole numbers >= 1"),
    (lambda m: m["model"].update(dropout=5), "'model.dropout' is 5; accepted: a probability >= 0 and < 1"),
    (lambda m: m["model"].update(activation="os.system"), "'model.activation' is 'os.system'; accepted: relu"),
    (lambda m: m["model"].update(hiden=[16]), "unknown key 'model.hiden' for model 'mlp' .did you mean 'hidden'"),
    (lambda m: m.update(model=["mlp"]), "'model' must be an object"),
    (lambda m: m.update(classes=m["classes"][:3]), r"'layers.2.bias' is \[10\] in model.safetensors, \[3\] in the model"),
])
def test_edited_model_json_is_a_one_line_error_naming_it(run_dir, tmp_path, edit, problem):
    run = edited(run_dir, tmp_path, edit)
    with pytest.raises(RunError, match=problem) as err:
        nnforge.load(run)
    assert str(err.value).startswith(f"{run / 'model.json'}: ") and "\n" not in str(err.value)


def test_the_command_line_exits_2_with_one_line(run_dir, tmp_path):
    run = edited(run_dir, tmp_path, lambda m: m.update(classes=5))
    out = subprocess.run([sys.executable, "-m", "nnforge.cli", "predict", str(run), str(tmp_path / "x.png")],
                         capture_output=True, text=True, timeout=300, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and "model.json" in out.stderr, out.stderr


DEEP = "[" * 100_000 + "]" * 100_000  # 200 KB: far past the JSON parser's recursion limit


@pytest.mark.parametrize("name, command", [("model.json", "eval"), ("metrics.json", "report"), ("summary.json", "summary")])
def test_a_run_file_nested_too_deeply_for_the_json_parser_is_one_line(run_dir, tmp_path, capsys, name, command):
    """Before: json.loads raised RecursionError (a RuntimeError, not the ValueError the readers catch):
    eval, report and summary printed a traceback."""
    from nnforge.cli import main

    run = edited(run_dir, tmp_path, lambda m: None)
    (run / "metrics.json").write_text('{"task": "classify"}')
    (run / name).write_text(DEEP)
    assert main([command, str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {run / name}: ") and "nested too deeply" in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.parametrize("edit, problem", [
    (lambda m: m.pop("input_shape"), "missing 'input_shape'"),
    (lambda m: m.pop("kind"), "missing 'kind'"),
    (lambda m: m.update(kind=["image"]), "'kind' must be text"),
    (lambda m: m.update(task=["forecast"]), "'task' must be text"),  # before: TypeError (unhashable) in nnforge.load
])
def test_a_model_json_without_what_every_reader_indexes_is_one_line(run_dir, tmp_path, edit, problem):
    """Before: KeyError 'input_shape' / 'kind' (TypeError for a list) escaped from eval, predict,
    compress, export and explain."""
    run = edited(run_dir, tmp_path, edit)
    with pytest.raises(RunError, match=problem):
        nnforge.load(run)


@pytest.mark.parametrize("series", [None, {"mean": 0.0}, {"mean": "x", "std": 1.0, "window": 8, "horizon": 1},
                                    {"mean": 0.0, "std": 0.0, "window": 8, "horizon": 1},
                                    {"mean": 10**400, "std": 1.0, "window": 8, "horizon": 1}])  # before: OverflowError
def test_a_forecast_model_json_with_a_damaged_series_is_one_line(run_dir, tmp_path, series):
    """Before: served_model (export, serve) read meta['series']['mean'] unchecked: KeyError/TypeError,
    or a zero std that made every forecast NaN."""
    from nnforge.predictor import served_model

    run = edited(run_dir, tmp_path, lambda m: m.update(task="forecast", series=series))
    with pytest.raises(RunError, match="a forecast run needs 'series'"):
        served_model(run)
