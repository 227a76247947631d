"""One end-to-end run through the command line: train -> eval -> predict, from files alone."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from nnforge.cli import main
from tests.conftest import quick_overrides


def run_cli(*args) -> int:
    return main([str(a) for a in args])


@pytest.mark.slow
def test_train_eval_predict(tmp_path, capsys):
    out = tmp_path / "run"
    sets = [x for o in quick_overrides("train.epochs=8") for x in ("--set", o)]
    assert run_cli("train", "digits_mlp", "--out", out, *sets) == 0
    printed = capsys.readouterr().out
    assert "test accuracy" in printed
    for name in ("config.yaml", "model.safetensors", "model.json", "metrics.jsonl", "metrics.json", "curves.png", "confusion.png"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.9 and metrics["train_seconds"] > 0
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 8
    assert {"precision", "recall", "f1"} <= set(metrics["per_class"][0])

    assert run_cli("eval", out, "--json") == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["accuracy"] == pytest.approx(metrics["test_accuracy"], abs=1e-6)

    # Real test digits written as image files: a bigger inverted PNG and a JPEG.
    from nnforge.data import load_dataset

    ds = load_dataset({"name": "digits"})
    files = []
    for i in range(6):
        img = Image.fromarray(255 - ds.x_test[i, 0].numpy()).resize((64, 64), Image.Resampling.NEAREST)
        path = tmp_path / f"d{i}.{'png' if i % 2 else 'jpg'}"
        img.save(path)
        files.append(path)
    assert run_cli("predict", out, *files, "--json") == 0
    predicted = json.loads(capsys.readouterr().out)
    labels = [int(p["top"][0]["class"]) for p in predicted]
    assert np.mean(np.array(labels) == ds.y_test[:6].numpy()) >= 4 / 6
    assert run_cli("predict", out, tmp_path) == 2  # a folder: say so, and how to pass its files
    assert f"'{tmp_path}' is a folder; pass the files in it" in capsys.readouterr().err


def test_predict_csv_rows(tmp_path, capsys):
    from sklearn.datasets import load_iris

    from nnforge.config import load_config
    from nnforge.train import fit

    iris = load_iris()
    lines = ["a,b,c,d,species"] + [",".join(map(str, r)) + f",{iris.target_names[t]}" for r, t in zip(iris.data, iris.target)]
    (tmp_path / "iris.csv").write_text("\n".join(lines))
    cfg = load_config(None, [f"data.name=csv:{tmp_path / 'iris.csv'}", "data.target=species", "model.name=mlp",
                             "model.hidden=[16]", "train.epochs=40", "train.optimizer.name=adam", "train.optimizer.lr=0.02",
                             "data.batch_size=16", "train.progress=none"])
    run = fit(cfg, tmp_path / "run")
    assert run.metrics["test_accuracy"] >= 0.9
    (tmp_path / "rows.csv").write_text("a,b,c,d\n5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n")
    assert run_cli("predict", tmp_path / "run", tmp_path / "rows.csv") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split(": ")[1].startswith("setosa") and out[1].split(": ")[1].startswith("virginica")


def test_user_errors_exit_2_without_traceback(tmp_path, digits_run):
    cases = [
        ["train", "configs/mnist_cnn.yaml", "--set", "train.epochz=1"],
        ["train", "no_such_recipe"],
        ["eval", str(tmp_path / "nowhere")],
        ["predict", str(digits_run.dir), str(tmp_path / "missing.png")],
        ["train", "digits_mlp", "--out", str(digits_run.dir)],
        ["lesson", "no-such-lesson"],
    ]
    for args in cases:
        proc = subprocess.run([sys.executable, "-m", "nnforge.cli", *args], capture_output=True, text=True)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


def test_every_command_has_help_with_an_example():
    parser_help = subprocess.run([sys.executable, "-m", "nnforge.cli", "--help"], capture_output=True, text=True).stdout
    for command in ("quickstart", "train", "eval", "predict", "datasets", "models", "lesson"):
        assert command in parser_help
        text = subprocess.run([sys.executable, "-m", "nnforge.cli", command, "--help"], capture_output=True, text=True).stdout
        assert "example:" in text and f"nnforge {command}" in text


def test_load_rebuilds_the_model(digits_run):
    import nnforge
    from nnforge.data import load_dataset

    predictor = nnforge.load(digits_run.dir)
    ds = load_dataset({"name": "digits"})
    probs = predictor.predict_stored(ds.x_test)
    assert np.isclose(probs.sum(1), 1, atol=1e-5).all()
    assert (probs.argmax(1) == ds.y_test.numpy()).mean() == pytest.approx(digits_run.metrics["test_accuracy"], abs=1e-6)
