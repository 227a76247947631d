"""Error analysis against scikit-learn, and the explain command end to end on a digits CNN."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from nnforge.cli import main
from nnforge.explain.errors import error_analysis


def test_scores_pairs_and_top_losses_match_an_independent_computation():
    rng = np.random.default_rng(0)
    targets = rng.integers(0, 4, 300)
    logits = rng.normal(size=(300, 4)) + 2.0 * np.eye(4)[targets]
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    report = error_analysis(probs, targets, ["a", "b", "c", "d"], k=5)
    p, r, f, s = precision_recall_fscore_support(targets, probs.argmax(1), labels=range(4), zero_division=0)
    for row, *ref in zip(report["per_class"], p, r, f, s):
        assert np.allclose([row["precision"], row["recall"], row["f1"], row["support"]], ref, atol=1e-4)
    cm = confusion_matrix(targets, probs.argmax(1))
    off = cm - np.diag(np.diag(cm))
    top = report["confused_pairs"][0]
    assert top["count"] == off.max() and cm["abcd".index(top["true"]), "abcd".index(top["predicted"])] == off.max()
    losses = -np.log(probs[np.arange(300), targets])
    assert [row["index"] for row in report["top_losses"]] == list(np.argsort(-losses)[:5])


def test_explain_command_writes_the_report_and_pictures(digits_cnn, capsys):
    assert main(["explain", str(digits_cnn), "--method", "gradcam", "ig", "shap", "lime", "--examples", "0,1,2"]) == 0
    out = digits_cnn / "explain"
    report = json.loads((out / "report.json").read_text())
    trained = json.loads((digits_cnn / "metrics.json").read_text())
    assert report["per_class"] == trained["per_class"]  # same numbers as the training run reported
    assert report["examples"] == [0, 1, 2]
    for name in ("top_losses", "attributions-gradcam", "attributions-ig", "attributions-shap", "attributions-lime"):
        assert (out / f"{name}.png").stat().st_size > 1000
    assert "## Most confused pairs" in (out / "report.md").read_text()
    assert "lowest F1" in capsys.readouterr().out
    assert main(["explain", str(digits_cnn), "--method", "gradcam", "--layer", "features.9"]) == 2
    assert main(["explain", str(digits_cnn), "--method", "occlusion"]) == 2


def test_the_report_lists_every_method_run_on_the_run_not_only_the_last(digits_cnn, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(digits_cnn, run, ignore=shutil.ignore_patterns("explain"))
    assert main(["explain", str(run), "--method", "gradcam", "--examples", "0,1"]) == 0
    assert main(["explain", str(run), "--method", "ig", "--examples", "0,1"]) == 0
    text = (run / "explain" / "report.md").read_text()
    for name in ("attributions-gradcam.png", "attributions-ig.png", "top_losses.png"):
        assert str(run / "explain" / name) in text, name
    report = json.loads((run / "explain" / "report.json").read_text())
    assert set(report["files"]) == {"top_losses", "gradcam", "ig"} and report["files_from_earlier_calls"] == ["gradcam"]
    assert "attributions-gradcam.png (an earlier explain call)" in text
    (run / "explain" / "attributions-gradcam.png").unlink()  # a picture that is gone is not listed
    assert main(["explain", str(run), "--method", "ig", "--examples", "0,1"]) == 0
    assert "attributions-gradcam" not in (run / "explain" / "report.md").read_text()


def test_an_image_model_without_convolutions_is_explained_by_default(digits_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "mlp"
    shutil.copytree(digits_run.dir, run)  # an MLP on 8x8 digit images: Grad-CAM has no layer to use
    assert main(["explain", str(run)]) == 0
    assert (run / "explain" / "attributions-shap.png").is_file()


def test_a_run_whose_config_names_another_dataset_is_one_line(digits_run, tmp_path, capsys):
    """config.yaml edited to another dataset: the model (8x8 digits) cannot score MNIST's 28x28 images."""
    import shutil

    from nnforge.config import dump_config
    from nnforge.rundir import read_recipe

    run = shutil.copytree(digits_run.dir, tmp_path / "run")
    (run / "config.yaml").write_text(dump_config(read_recipe(run).with_overrides({"data.name": "mnist-sample"})))
    assert main(["explain", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "does not match the model" in err and "config.yaml" in err, err


def test_a_file_or_folder_in_the_way_of_the_output_is_one_line(digits_run, tmp_path, capsys):
    import shutil

    run = shutil.copytree(digits_run.dir, tmp_path / "run", ignore=shutil.ignore_patterns("explain"))
    (run / "explain").write_text("my notes")  # a file where explain/ goes
    assert main(["explain", str(run), "--examples", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot write {run / 'explain'}: a file is in the way of a folder on that path") and err.count("\n") == 1, err
    assert (run / "explain").read_text() == "my notes"
    (run / "explain").unlink()
    (run / "explain" / "report.md").mkdir(parents=True)  # a folder where a file goes
    assert main(["explain", str(run), "--examples", "1"]) == 2
    err = capsys.readouterr().err
    assert f"cannot write {run / 'explain' / 'report.md'}: a folder of that name is in the way" in err and err.count("\n") == 1, err


@pytest.mark.parametrize("top", ["0", "-5"])
def test_a_top_below_one_is_one_line(digits_run, capsys, top):
    """Before: --top 0 divided by zero drawing the top-loss grid; -5 was taken silently."""
    assert main(["explain", str(digits_run.dir), "--top", top]) == 2
    assert capsys.readouterr().err == f"error: --top is {top}; accepted: a positive whole number (how many top-loss examples to show)\n"


def test_the_top_losses_of_a_folder_dataset_name_their_image_files(tmp_path, capsys):
    """Error analysis on a user's folder of images: each top loss names its file (relative to the
    folder), so a mislabelled image can be found and fixed; before, only a test-split index."""
    from PIL import Image
    from sklearn.datasets import load_digits

    from nnforge.config import load_config
    from nnforge.rundir import load_run_test_split
    from nnforge.train import fit

    digits = load_digits()
    for i in range(150):
        folder = tmp_path / "digits" / f"d{digits.target[i]}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray((digits.images[i] * 16).clip(0, 255).astype(np.uint8)).save(folder / f"{i:03d}.png")
    cfg = load_config(None, [f"data.name=folder:{tmp_path / 'digits'}", "data.val_fraction=0", "model.name=mlp", "model.hidden=[16]",
                             "train.epochs=2", "train.progress=none", "train.checkpoint.enabled=false"])
    run = fit(cfg, tmp_path / "run").dir
    assert main(["explain", str(run), "--method", "ig", "--top", "6"]) == 0
    report = json.loads((run / "explain" / "report.json").read_text())
    x_test = load_run_test_split(run).x_test.numpy()
    classes = json.loads((run / "model.json").read_text())["classes"]
    for row in report["top_losses"]:
        file = tmp_path / "digits" / row["source"]
        assert file.parent.name == classes[row["true"]]
        assert np.array_equal(np.asarray(Image.open(file)), x_test[row["index"], 0])
    assert f"| {row['source']} |" in (run / "explain" / "report.md").read_text()
