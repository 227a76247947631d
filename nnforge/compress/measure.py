"""What a compressed model is judged by: bytes on disk, CPU latency per image, test accuracy.

Latency is measured on one CPU thread (``torch.set_num_threads(1)``, ONNX Runtime's
``intra_op_num_threads=1``) as the median of several timed repeats, so that numbers from a busy
machine stay comparable between rows of one table.
"""

from __future__ import annotations

import gzip
import statistics
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import numpy as np
import torch


def file_size(path: str | Path) -> int:
    return Path(path).stat().st_size


def gzip_size(path: str | Path) -> int:
    """Bytes after gzip: how much a file shrinks when zeros (pruned weights) compress."""
    return len(gzip.compress(Path(path).read_bytes(), compresslevel=6))


@contextmanager
def torch_threads(n: int):
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def latency_per_image(run: Callable[[np.ndarray], object], x: np.ndarray, batch: int, min_seconds: float = 0.3,
                      repeats: int = 5) -> float:
    """Median seconds per image of ``run(batch of inputs)``, after a warm-up.

    The batch always holds ``batch`` rows: a test split smaller than it is repeated to fill it
    (before, 10 test rows were timed as the "batch 64" latency)."""
    xb = np.ascontiguousarray(x[np.arange(batch) % len(x)])
    for _ in range(3):
        run(xb)
    times = []
    for _ in range(repeats):
        n, start = 0, time.perf_counter()
        while True:
            run(xb)
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_seconds / repeats:
                break
        times.append(elapsed / n / len(xb))
    return statistics.median(times)


def torch_runner(model: torch.nn.Module) -> Callable[[np.ndarray], np.ndarray]:
    model = model.eval()

    def run(xb: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return model(torch.from_numpy(xb)).numpy()

    return run


def onnx_runner(path: str | Path, threads: int = 1) -> Callable[[np.ndarray], np.ndarray]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return lambda xb: session.run(["logits"], {"input": xb})[0]


def one_at_a_time(run: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], np.ndarray]:
    """``run`` on each example of a batch alone: how ``nnforge serve`` runs a model whose answers
    depend on the batch (``quantize.scales_per_batch``)."""
    return lambda xb: np.concatenate([run(xb[i : i + 1]) for i in range(len(xb))])


def accuracy(run: Callable[[np.ndarray], np.ndarray], x: np.ndarray, y: np.ndarray, batch: int = 500) -> float:
    correct = 0
    for start in range(0, len(x), batch):
        correct += int((run(np.ascontiguousarray(x[start : start + batch])).argmax(1) == y[start : start + batch]).sum())
    return correct / max(1, len(x))


def rmse(run: Callable[[np.ndarray], np.ndarray], x: np.ndarray, y: np.ndarray, scale, batch: int = 500) -> float:
    """RMSE in the target's units of a model whose outputs and targets ``y`` are standardised (``scale``: the target's std)."""
    out = np.concatenate([run(np.ascontiguousarray(x[s : s + batch])) for s in range(0, len(x), batch)])
    d = (out.astype(np.float64) - y) * np.asarray(scale, np.float64)
    return float(np.sqrt((d * d).mean()))
