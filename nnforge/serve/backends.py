"""Inference backends: the PyTorch model itself, or the exported ONNX model under ONNX Runtime.

Both take a batch in stored form (uint8 images or float rows), convert it with the training
pipeline's :class:`~nnforge.data.Preprocessing`, and return class probabilities as a NumPy array.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from nnforge.errors import RunError


class TorchBackend:
    """The PyTorch model, frozen for inference when that is exact.

    A traced and frozen TorchScript copy (weights folded into the graph, BatchNorm folded into
    convolutions, oneDNN kernels) runs the zoo's CNNs several times faster on a CPU than eager mode.
    It is used only if it gives the eager model's outputs on a test batch; otherwise eager mode.
    """

    name = "torch"

    def __init__(self, predictor, threads: int = 1, freeze: bool = True):
        torch.set_num_threads(max(1, threads))
        self.preprocessing = predictor.preprocessing
        self.model = predictor.model
        self.frozen = _freeze(predictor.model, predictor.input_shape) if freeze else None
        self._affine = _image_affine(self.preprocessing)

    @torch.inference_mode()
    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self._affine is not None:  # Preprocessing.__call__'s arithmetic, its constants built once
            xb = torch.from_numpy(x).float().mul_(self._affine[0]).add_(self._affine[1])
        else:
            xb = self.preprocessing(torch.from_numpy(x))
        model = self.frozen if self.frozen is not None else self.model
        return torch.softmax(model(xb).float(), 1).numpy()


def _image_affine(preprocessing) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Per-channel scale and shift equal to ``Preprocessing.__call__`` for plain image models."""
    if preprocessing.kind != "image" or preprocessing.denoise != "none":
        return None
    c = len(preprocessing.std)
    scale = torch.tensor([1.0 / (255.0 * s) for s in preprocessing.std]).view(1, c, 1, 1)
    shift = torch.tensor([-m / s for m, s in zip(preprocessing.mean, preprocessing.std)]).view(1, c, 1, 1)
    return scale, shift


def _freeze(model: torch.nn.Module, input_shape) -> torch.jit.ScriptModule | None:
    import warnings

    example = torch.randn(8, *input_shape, generator=torch.Generator().manual_seed(0))
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(model.eval(), example)))
            for batch in (example, example[:1], example[:3]):  # twice each: the profiling executor specialises
                for _ in range(2):
                    if not torch.allclose(frozen(batch), model(batch), rtol=1e-3, atol=1e-4):
                        return None
        return frozen
    except Exception:  # noqa: BLE001 - any model TorchScript cannot trace is served in eager mode
        return None


class OnnxBackend:
    name = "onnx"

    def __init__(self, predictor, threads: int = 1):
        import onnxruntime as ort

        path = Path(predictor.run_dir) / "model.onnx"
        if not path.is_file():
            path = _export(predictor.run_dir)
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise RunError(f"{path}: ONNX Runtime cannot load it ({str(exc).splitlines()[0]})") from None
        self.input_name = self.session.get_inputs()[0].name
        self.preprocessing = predictor.preprocessing
        self.outputs_probabilities = "prob" in self.session.get_outputs()[0].name.lower()

    def __call__(self, x: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            xb = self.preprocessing(torch.from_numpy(x)).numpy()
        out = self.session.run(None, {self.input_name: xb})[0].astype(np.float32, copy=False)
        if self.outputs_probabilities:
            return out
        out = np.exp(out - out.max(axis=1, keepdims=True))
        return out / out.sum(axis=1, keepdims=True)


def _export(run_dir) -> Path:
    try:
        from nnforge.compress.export import export_onnx
    except ImportError:
        raise RunError(f"'{run_dir}' has no model.onnx and the ONNX exporter is not available; "
                       "export the model first (`nnforge export RUN --format onnx`) or use --backend torch") from None
    return Path(export_onnx(run_dir))


BACKENDS = {"torch": TorchBackend, "onnx": OnnxBackend}


def build_backend(name: str, predictor, threads: int = 1):
    if name not in BACKENDS:
        raise RunError(f"unknown backend '{name}'; accepted: {', '.join(BACKENDS)}")
    return BACKENDS[name](predictor, threads)
