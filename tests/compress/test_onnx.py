"""ONNX: the export gives torch's logits in ONNX Runtime; static int8 keeps accuracy at a quarter of the size."""

from __future__ import annotations

import json

import numpy as np
import onnx
import torch

from nnforge.cli import main
from nnforge.compress.export import export_onnx, onnx_session
from nnforge.compress.measure import onnx_runner
from nnforge.compress.pipeline import compress_run
from nnforge.config import load_config
from nnforge.data import load_dataset
from nnforge.predictor import load
from nnforge.train import fit


def test_onnx_matches_torch_on_real_test_images(cnn_run):
    path = export_onnx(cnn_run)
    assert path == cnn_run / "model.onnx"
    predictor = load(cnn_run)
    x_test = load_dataset({"name": "mnist-sample"}).x_test
    session = onnx_session(path)
    for batch in (1, 64, 300):  # the batch axis is dynamic
        xb = predictor.preprocessing(x_test[:batch])
        with torch.no_grad():
            expected = predictor.model(xb).numpy()
        (got,) = session.run(["logits"], {"input": xb.numpy()})
        assert got.shape == (batch, 10)
        assert np.abs(got - expected).max() < 1e-4
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(meta["nnforge.classes"]) == predictor.classes


def test_export_command_for_an_mlp(tmp_path, capsys):
    cfg = load_config(None, ["data.name=digits", "model.name=mlp", "model.hidden=[32]", "train.epochs=1", "train.progress=none"])
    run = fit(cfg, tmp_path / "mlp").dir
    out = tmp_path / "digits.onnx"
    assert main(["export", str(run), "--format", "onnx", "--out", str(out)]) == 0
    ds = load_dataset({"name": "digits"})
    predictor = load(run)
    xb = predictor.preprocessing(ds.x_test)
    (got,) = onnx_session(out).run(None, {"input": xb.numpy()})
    assert np.abs(got - predictor.model(xb).detach().numpy()).max() < 1e-4
    assert main(["export", str(run), "--format", "tflite"]) == 2
    assert "accepted: onnx" in capsys.readouterr().err
    for mistake in (run / "model.safetensors", run / "config.yaml", tmp_path):  # the run's own files, a folder
        before = mistake.read_bytes() if mistake.is_file() else None
        assert main(["export", str(run), "--out", str(mistake)]) == 2
        assert "must be a file name ending in .onnx" in capsys.readouterr().err
        assert (mistake.read_bytes() if mistake.is_file() else None) == before
    assert load(run).classes == predictor.classes  # the weights are still there


def test_static_int8_cnn_is_at_most_a_third_of_the_size_within_one_point(cnn_run):
    table = compress_run(cnn_run, prune=None, quantize="int8", log=lambda _: None)
    original, fp32, int8 = table["rows"]
    assert int8["method"] == "int8 static"
    assert int8["size_bytes"] <= original["size_bytes"] / 3
    assert abs(int8["test_accuracy"] - original["test_accuracy"]) <= 0.01
    assert fp32["test_accuracy"] == original["test_accuracy"]
    # predictions agree with the fp32 model on nearly every real test image
    predictor = load(cnn_run)
    x = predictor.preprocessing(load_dataset({"name": "mnist-sample"}).x_test).numpy()
    agree = (onnx_runner(int8["file"])(x).argmax(1) == onnx_runner(fp32["file"])(x).argmax(1)).mean()
    assert agree >= 0.98
    saved = json.loads((cnn_run / "compress" / "compress.json").read_text())
    assert [r["model"] for r in saved["rows"]] == [r["model"] for r in table["rows"]]
    assert "| int8 static (ONNX Runtime) |" in (cnn_run / "compress" / "compress.md").read_text()


def test_sigterm_during_an_export_is_one_line_and_leaves_no_partial_file(mlp_run):
    """SIGTERM (kill, a service manager) killed a command on the spot: exit status -15, no message,
    and the temporary file of the write in progress left in the run folder. Now it ends like Ctrl-C:
    one line, exit status 143, the temporary file removed, model.onnx never written."""
    import os
    import subprocess
    import sys

    script = (
        "import os, signal, sys\n"
        "import nnforge.compress.export as export\n"
        "def half_then_sigterm(model, example, path):\n"
        "    path.write_bytes(b'half an onnx file')\n"
        "    os.kill(os.getpid(), signal.SIGTERM)\n"
        "export._export = half_then_sigterm\n"
        "from nnforge.cli import main\n"
        "sys.exit(main(['export', sys.argv[1], '--format', 'onnx']))\n")
    before = sorted(p.name for p in mlp_run.iterdir())
    result = subprocess.run([sys.executable, "-c", script, str(mlp_run)], capture_output=True, text=True, timeout=120, check=False,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert (result.returncode, result.stderr) == (143, "terminated (SIGTERM)\n")
    assert sorted(p.name for p in mlp_run.iterdir()) == before


def test_the_onnx_files_of_compress_carry_classes_and_preprocessing_as_export_does(mlp_run, tmp_path):
    """Before, compress wrote model-fp32.onnx and model-int8.onnx with no nnforge metadata: a user
    shipping the int8 file had no classes, no preprocessing (nor a regressor's target scale)."""
    import shutil

    run = shutil.copytree(mlp_run, tmp_path / "run", ignore=shutil.ignore_patterns("compress"))
    compress_run(run, prune=None, quantize="int8", log=lambda _: None)
    predictor = load(run)
    for name in ("model-fp32.onnx", "model-int8.onnx"):
        meta = {p.key: p.value for p in onnx.load(str(run / "compress" / name)).metadata_props}
        assert json.loads(meta["nnforge.classes"]) == predictor.classes
        assert json.loads(meta["nnforge.preprocessing"]) == predictor.meta["preprocessing"]
