"""int8 quantization with ONNX Runtime's quantizer.

Two kinds, chosen by what the network is made of:

* **static** (networks with convolutions): weights *and* activations in int8. Activation ranges
  come from a calibration pass over training images; per-channel weight scales and the QDQ
  format keep accuracy within a fraction of a point.
* **dynamic** (Linear/LSTM networks): weights stored in int8, activation scales computed on the
  fly per batch; no calibration data needed. (Dynamic quantization of convolutions is slow in
  ONNX Runtime, which is why CNNs go the static way.)

Both start from the fp32 ONNX export, run ONNX Runtime's pre-processing (shape inference and
graph optimisation), and write a self-contained .onnx file.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Iterable

import numpy as np

from nnforge import io


def _calibration_reader(batches: Iterable[np.ndarray]):
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._it = iter([{"input": np.ascontiguousarray(b, dtype=np.float32)} for b in batches])

        def get_next(self):
            return next(self._it, None)

    return Reader()


def has_convolutions(onnx_path: str | Path) -> bool:
    import onnx

    return any(node.op_type == "Conv" for node in onnx.load(str(onnx_path)).graph.node)


DYNAMIC_QUANTIZATION = {"DynamicQuantizeLinear", "DynamicQuantizeLSTM", "DynamicQuantizeMatMul", "MatMulIntegerToFloat"}


def scales_per_batch(path: str | Path) -> bool:
    """True for a dynamically quantized model (``quantize_int8``'s "dynamic", of an MLP or LSTM): it
    computes its activations' int8 scale over the whole batch, so an example's answer depends on the
    examples run beside it. ``nnforge serve`` runs such a model one example at a time, and compress
    scores it that way, so that its table's accuracy is the accuracy of what serve answers."""
    try:
        import onnx
    except ImportError:
        return False
    return any(node.op_type in DYNAMIC_QUANTIZATION for node in onnx.load(str(path), load_external_data=False).graph.node)


def quantize_int8(fp32_onnx: str | Path, out: str | Path, calibration: Iterable[np.ndarray] | None = None,
                  mode: str = "auto") -> tuple[Path, str]:
    """Quantize an fp32 ONNX model to int8; returns (path, "static" or "dynamic")."""
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    logging.getLogger("root").setLevel(logging.ERROR)  # the quantizer logs hints on the root logger
    if mode == "auto":
        mode = "static" if has_convolutions(fp32_onnx) and calibration is not None else "dynamic"
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(fp32_onnx), str(pre))

        def write(path: Path) -> None:
            if mode == "static":
                quantize_static(str(pre), str(path), _calibration_reader(calibration), quant_format=QuantFormat.QDQ,
                                per_channel=True, weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8)
            else:
                quantize_dynamic(str(pre), str(path), weight_type=QuantType.QInt8,
                                 op_types_to_quantize=["MatMul", "Gemm", "LSTM", "GRU"])

        path = io.atomic_write(out, write)
    return path, mode
