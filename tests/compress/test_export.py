"""ONNX export: ONNX Runtime gives the same logits as torch on real test images, at any batch size."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
import torch

from nnforge.cli import main
from nnforge.compress.export import export_onnx, onnx_session
from nnforge.config import load_config
from nnforge.data import load_dataset
from nnforge.predictor import load
from nnforge.train import fit


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    cfg = load_config(None, ["data.name=mnist-sample", "data.val_fraction=0", "model.name=cnn", "model.channels=[8, 16]",
                             "model.hidden=32", "model.batch_norm=true", "train.epochs=1", "train.optimizer.name=adam",
                             "train.optimizer.lr=0.003", "train.progress=none"])
    return fit(cfg, tmp_path_factory.mktemp("export") / "run").dir


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
