"""The Vision Transformer: it learns real digits, knows patches apart only by their positions, and exports."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nnforge.config import load_config
from nnforge.errors import ConfigError
from nnforge.models import build_model, check_model_config
from nnforge.train import fit


def test_vit_learns_the_digits(tmp_path):
    cfg = load_config(None, ["data.name=digits", "model.name=vit", "model.patch=2", "model.dim=32", "model.depth=2",
                             "train.epochs=12", "train.optimizer.name=adamw", "train.optimizer.lr=0.003", "train.progress=none"])
    assert fit(cfg, tmp_path / "run").metrics["test_accuracy"] > 0.9


def test_without_positions_the_order_of_patches_is_invisible():
    """Self-attention treats its tokens as a set: with the position embeddings zeroed, swapping two
    patches of the image leaves the answer unchanged; with them, it does not."""
    torch.manual_seed(0)
    model = build_model(check_model_config({"name": "vit", "patch": 4, "dim": 32, "depth": 2}), (1, 8, 8), 10).eval()
    x = torch.rand(3, 1, 8, 8)
    swapped = x.clone()
    swapped[..., :4, :4], swapped[..., 4:, 4:] = x[..., 4:, 4:], x[..., :4, :4]
    with torch.no_grad():
        assert not torch.allclose(model(x), model(swapped), atol=1e-4)
        model.pos.zero_()
        torch.testing.assert_close(model(x), model(swapped), rtol=1e-5, atol=1e-5)


def test_patch_size_must_divide_the_image():
    with pytest.raises(ConfigError, match="'model.patch' is 3; accepted: a size that divides the 28x28 images, e.g. 4"):
        build_model(check_model_config({"name": "vit", "patch": 3}), (1, 28, 28), 10)


def test_vit_exports_with_a_dynamic_batch(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from nnforge.compress.export import export_model

    torch.manual_seed(0)
    model = build_model(check_model_config({"name": "vit", "patch": 4, "dim": 32, "depth": 2}), (1, 28, 28), 10).eval()
    path = export_model(model, (1, 28, 28), tmp_path / "vit.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for n in (1, 5):
        x = torch.rand(n, 1, 28, 28)
        with torch.no_grad():
            expected = model(x).numpy()
        np.testing.assert_allclose(session.run(None, {"input": x.numpy()})[0], expected, rtol=1e-4, atol=1e-5)
