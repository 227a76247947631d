"""Inference backends: the PyTorch model itself, or the exported ONNX model under ONNX Runtime.

Both take a batch in stored form (uint8 images or float rows), convert it with the training
pipeline's :class:`~nnforge.data.Preprocessing`, and return class probabilities as a NumPy array.
The default, ``auto``, is ONNX Runtime wherever it is installed and reproduces the PyTorch model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from nnforge.errors import RunError
from nnforge.predictor import Pipeline, target_of


class TorchBackend:
    """The PyTorch model, frozen for inference when that is exact.

    The whole :class:`Pipeline` is traced and frozen into one TorchScript graph: weights become
    constants, BatchNorm folds into convolutions, and oneDNN kernels run the zoo's CNNs several
    times faster on a CPU than eager mode. One graph is also one call that releases the GIL: the
    inference thread needs the GIL back once per batch, not after every operation, so the event
    loop thread (which holds it while parsing requests) delays a batch once instead of at each
    step. The frozen copy is used only if it gives the eager pipeline's outputs on test batches.
    """

    name = "torch"

    def __init__(self, predictor, threads: int = 1, freeze: bool = True):
        torch.set_num_threads(max(1, threads))
        self.pipeline = Pipeline(predictor.preprocessing, predictor.model, target_of(predictor)).eval()
        self.frozen = _freeze(self.pipeline, predictor.input_shape, predictor.preprocessing.kind) if freeze else None
        self._run = self.frozen if self.frozen is not None else self.pipeline

    @torch.inference_mode()
    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self._run(torch.from_numpy(x)).numpy()


def _example_batch(input_shape, kind: str) -> torch.Tensor:
    """Eight stored-form examples (random pixels or rows) for checking a converted model against the original."""
    generator = torch.Generator().manual_seed(0)
    if kind == "image":
        return torch.randint(0, 256, (8, *input_shape), generator=generator, dtype=torch.uint8)
    return torch.randn(8, *input_shape, generator=generator)


def _reproduces(candidate, pipeline: Pipeline, example: torch.Tensor, calls: int = 1) -> bool:
    """True if ``candidate`` (stored batch -> probabilities) gives the eager ``pipeline``'s answers
    on three slices of ``example``, each called ``calls`` times."""
    with torch.no_grad():
        for batch in (example, example[:1], example[:3]):
            expected = pipeline(batch)
            for _ in range(calls):
                if not torch.allclose(torch.as_tensor(candidate(batch)), expected, rtol=1e-3, atol=1e-5):
                    return False
    return True


def _freeze(pipeline: Pipeline, input_shape, kind: str) -> torch.jit.ScriptModule | None:
    import warnings

    example = _example_batch(input_shape, kind)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            # check_trace=False: the comparison below is the check (torch's own imports half of torch.distributed)
            frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(pipeline, example, check_trace=False)))
            # twice each: the profiling executor specialises on the second call
            return frozen if _reproduces(frozen, pipeline, example, calls=2) else None
    except Exception:  # noqa: BLE001 - any model TorchScript cannot trace is served in eager mode
        return None


class OnnxBackend:
    """The exported ``model.onnx`` under ONNX Runtime, with preprocessing and softmax in its graph.

    The preprocessing (uint8 -> scaled float, or standardised rows) and the softmax are added to
    the graph as ONNX nodes when the session is built, so one ``session.run`` does the whole
    batch: like the torch backend's single frozen graph, the inference thread then gives up and
    takes back the GIL once per batch instead of around every NumPy or torch operation.
    """

    name = "onnx"

    def __init__(self, predictor, threads: int = 1, path: str | Path | None = None):
        import onnxruntime as ort

        from nnforge.compress.measure import one_at_a_time
        from nnforge.compress.quantize import scales_per_batch

        if path is not None:  # a file named to serve: that one or none, never an export in its place
            path = Path(path)
            if not path.is_file():
                raise RunError(f"'{path}' not found; pass an .onnx file inside a run, or the run directory")
        else:
            path = Path(predictor.run_dir) / "model.onnx"
            if not path.is_file():
                path = _export(predictor.run_dir)
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 4  # failures surface as exceptions; ORT's own stderr log would repeat them
        self.preprocessing = predictor.preprocessing
        self.target = target_of(predictor)
        try:  # a damaged file fails in onnx's parser (DecodeError) or in ONNX Runtime
            model, self.whole_pipeline = _with_pipeline(path, predictor.preprocessing, self.target)
            self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise RunError(f"{path}: ONNX Runtime cannot load it ({str(exc).splitlines()[0]})") from None
        self.path = path
        self.input_name = self.session.get_inputs()[0].name
        self.outputs_probabilities = "prob" in self.session.get_outputs()[0].name.lower()
        self.one_by_one = scales_per_batch(path)
        self._one_at_a_time = one_at_a_time(self._run)  # as compress scores such a model

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self._one_at_a_time(x) if self.one_by_one and len(x) > 1 else self._run(x)

    def _run(self, x: np.ndarray) -> np.ndarray:
        if self.whole_pipeline:
            return self.session.run(None, {self.input_name: x})[0]
        with torch.inference_mode():
            xb = self.preprocessing(torch.from_numpy(x)).numpy()
        out = self.session.run(None, {self.input_name: xb})[0].astype(np.float32, copy=False)
        if self.target is not None:
            return out * np.asarray(self.target["std"], np.float32) + np.asarray(self.target["mean"], np.float32)
        if self.outputs_probabilities:
            return out
        out = np.exp(out - out.max(axis=1, keepdims=True))
        return out / out.sum(axis=1, keepdims=True)


def _with_pipeline(path: Path, preprocessing, target: dict | None = None) -> tuple[str | bytes, bool]:
    """``model.onnx`` with the preprocessing before it and a softmax after it (``target``, a regression
    run's scaler: the standardised output turned into the target's units), when both can be
    written as ONNX nodes (plain images and tabular rows; not denoising); else the file as it is."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        return str(path), False
    model = onnx.load(str(path))
    graph = model.graph
    if len(graph.input) != 1 or len(graph.output) != 1 or (preprocessing.kind == "image" and preprocessing.denoise != "none"):
        return str(path), False
    original_in, original_out = graph.input[0], graph.output[0]
    if "prob" in original_out.name.lower() and target is None:  # already probabilities: no softmax to add
        return str(path), False
    shape = [d.dim_param or d.dim_value for d in original_in.type.tensor_type.shape.dim]
    if preprocessing.kind == "image":  # the same float32 arithmetic as Preprocessing.__call__
        stored_type = TensorProto.UINT8
        scale, shift = (np.array(v, np.float32).reshape(1, -1, 1, 1) for v in preprocessing.image_affine())
        steps = [("Cast", {"to": TensorProto.FLOAT}, None), ("Mul", {}, scale), ("Add", {}, shift)]
    else:
        stored_type = TensorProto.FLOAT
        steps = [("Sub", {}, np.array(preprocessing.mean, np.float32)), ("Div", {}, np.array(preprocessing.std, np.float32))]
    nodes, previous = [], "stored"
    for i, (op, attrs, constant) in enumerate(steps):
        inputs = [previous]
        if constant is not None:
            graph.initializer.append(numpy_helper.from_array(constant, f"nnforge_pre_{i}"))
            inputs.append(f"nnforge_pre_{i}")
        previous = original_in.name if i == len(steps) - 1 else f"nnforge_pre_out_{i}"
        nodes.append(helper.make_node(op, inputs, [previous], **attrs))
    for node in reversed(nodes):
        graph.node.insert(0, node)
    answer = "probabilities"
    if target is not None:
        answer = "values"
        graph.initializer.append(numpy_helper.from_array(np.array(target["std"], np.float32), "nnforge_target_std"))
        graph.initializer.append(numpy_helper.from_array(np.array(target["mean"], np.float32), "nnforge_target_mean"))
        graph.node.append(helper.make_node("Mul", [original_out.name, "nnforge_target_std"], ["nnforge_scaled"]))
        graph.node.append(helper.make_node("Add", ["nnforge_scaled", "nnforge_target_mean"], [answer]))
    else:
        graph.node.append(helper.make_node("Softmax", [original_out.name], [answer], axis=1))
    graph.input.remove(original_in)
    graph.input.append(helper.make_tensor_value_info("stored", stored_type, shape))
    graph.output.remove(original_out)
    graph.output.append(helper.make_tensor_value_info(answer, TensorProto.FLOAT, [shape[0], None]))
    return model.SerializeToString(), True


def _export(run_dir) -> Path:
    try:
        from nnforge.compress.export import export_onnx
    except ImportError:
        raise RunError(f"'{run_dir}' has no model.onnx and the ONNX exporter is not available; "
                       "export the model first (`nnforge export RUN --format onnx`) or use --backend torch") from None
    return Path(export_onnx(run_dir))


def _checked_onnx(predictor, threads: int = 1) -> OnnxBackend:
    """ONNX Runtime on ``model.onnx`` once its probabilities match the eager PyTorch pipeline's on test
    batches: a stale ``model.onnx`` (another run's, a model trained since) is refused, never served."""
    backend = OnnxBackend(predictor, threads)
    pipeline = Pipeline(predictor.preprocessing, predictor.model, target_of(predictor)).eval()
    example = _example_batch(predictor.input_shape, predictor.preprocessing.kind)
    if not _reproduces(lambda batch: backend(batch.numpy()), pipeline, example):
        raise RunError(f"{backend.path} does not give this run's answers (re-export it: nnforge export RUN --format onnx)")
    return backend


def _checked_file(predictor, threads: int, path: Path) -> OnnxBackend:
    """ONNX Runtime on an .onnx file of the run (``RUN/compress/model-int8.onnx``) once it is known to be
    made from this run's weights: its ``nnforge.weights`` metadata names them, or (a file without it)
    it gives the PyTorch pipeline's answers. An int8 model answers a little differently by design, so
    the name is what tells a stale one (made before the run was trained further) from the run's own."""
    from nnforge.compress.export import WEIGHTS_KEY
    from nnforge.io import file_digest

    backend = OnnxBackend(predictor, threads, path)
    made_from = backend.session.get_modelmeta().custom_metadata_map.get(WEIGHTS_KEY)
    if made_from == file_digest(Path(predictor.run_dir) / "model.safetensors"):
        return backend
    pipeline = Pipeline(predictor.preprocessing, predictor.model, target_of(predictor)).eval()
    if made_from is None and _reproduces(lambda batch: backend(batch.numpy()), pipeline,
                                         _example_batch(predictor.input_shape, predictor.preprocessing.kind)):
        return backend
    raise RunError(f"{path} was not made from {predictor.run_dir}/model.safetensors; make it again from this run "
                   "(nnforge compress RUN --quantize int8, or nnforge export RUN --format onnx)")


def _auto(predictor, threads: int = 1):
    """ONNX Runtime when it is installed and gives the PyTorch pipeline's answers; else the PyTorch model.

    ONNX Runtime runs the zoo's models about a quarter faster per image on a CPU than the frozen
    TorchScript graph, so it is the default wherever it can be trusted: ``model.onnx`` is exported
    if missing (as ``--backend onnx`` does) and its probabilities must match the eager PyTorch
    pipeline's on test batches. Anything else — ONNX Runtime missing, a model the exporter cannot
    trace, a read-only run directory, a stale ``model.onnx`` — serves with PyTorch, saying why
    unless ONNX Runtime is simply not installed.
    """
    import importlib.util
    import sys

    if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None:
        return TorchBackend(predictor, threads)
    try:
        return _checked_onnx(predictor, threads)
    except Exception as exc:  # noqa: BLE001 - any failure here only means: serve with PyTorch
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"nnforge serve: serving with PyTorch, not ONNX Runtime: {reason}", file=sys.stderr, flush=True)
        return TorchBackend(predictor, threads)


BACKENDS = {"auto": _auto, "torch": TorchBackend, "onnx": _checked_onnx}


def build_backend(name: str, predictor, threads: int = 1, onnx_file: str | Path | None = None):
    """The backend called ``name``: ``torch``, ``onnx``, or ``auto`` (ONNX Runtime where it can be trusted);
    with ``onnx_file`` (an .onnx file of the run, such as compress's int8 model), ONNX Runtime on that file."""
    if name not in BACKENDS:
        raise RunError(f"unknown backend '{name}'; accepted: {', '.join(BACKENDS)}")
    if onnx_file is not None:
        if name == "torch":
            raise RunError(f"--backend torch serves the run's PyTorch model, not {onnx_file}; use --backend onnx or auto")
        return _checked_file(predictor, threads, Path(onnx_file))
    return BACKENDS[name](predictor, threads)
