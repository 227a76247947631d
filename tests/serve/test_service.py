"""The service in-process (ASGI, no sockets): answers, batching, limits, metadata, metrics, docs."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from tests.serve.conftest import multipart, png_bytes


@pytest.fixture(scope="module")
def app(run_dir):
    from nnforge.serve.app import create_app

    return create_app(run_dir)


def call(app, requests):
    """Send (method, path, kwargs) requests concurrently; returns the responses."""
    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await asyncio.gather(*[client.request(m, p, **kw) for m, p, kw in requests])
    return asyncio.run(go())


def upload(data: bytes, name="file"):
    body, content_type = multipart({name: ("x.png", data)})
    return {"content": body, "headers": {"Content-Type": content_type}}


def test_predictions_are_the_training_pipelines(app, run_dir, digits):
    """Uploaded PNGs give the probabilities of nnforge.load(run).predict_images on the same images."""
    from PIL import Image

    import nnforge

    predictor = nnforge.load(run_dir)
    images, labels = digits
    responses = call(app, [("POST", "/v1/predict?k=10", upload(png_bytes(im))) for im in images[:12]])
    expected = predictor.predict_images([Image.fromarray(im) for im in images[:12]])
    for response, probs in zip(responses, expected):
        assert response.status_code == 200
        got = np.zeros(10)
        for t in response.json()["top"]:
            got[t["index"]] = t["probability"]
        np.testing.assert_allclose(got, probs, atol=1e-4)
    predicted = [int(r.json()["class"]) for r in responses]
    # The one-epoch test CNN scores about 80 % on stored digits; uploads are normalised as MNIST was.
    assert np.mean(np.array(predicted) == labels[:12]) >= 0.65


def test_answers_do_not_depend_on_the_c_modules(app, digits, monkeypatch):
    """Plain PNGs are decoded and framed in C where it was built (nnforge/data/_png.c, _framing.c);
    a machine without a C compiler uses Pillow and Python instead, and must answer the same."""
    from PIL import Image

    from nnforge.data import png, preprocess

    images, _ = digits
    uploads = [png_bytes(im) for im in images[:8]] + [png_bytes(np.asarray(Image.fromarray(im).resize((90, 70)).convert("RGB")))
                                                      for im in images[8:12]]
    requests = [("POST", "/v1/predict?k=10", upload(data)) for data in uploads]
    with_c = [r.json() for r in call(app, requests)]
    monkeypatch.setattr(png, "_png", None)
    monkeypatch.setattr(preprocess, "_framing", None)
    without_c = [r.json() for r in call(app, requests)]
    assert with_c == without_c and all("class" in answer for answer in with_c)


def test_a_photo_of_any_size_and_mode_is_converted_like_training_data(app, run_dir, digits):
    """A large RGB JPEG with a dark digit on white paper gets the prediction of its MNIST original."""
    from PIL import Image

    import nnforge

    image, _ = digits[0][1], None
    paper = Image.fromarray(255 - image).resize((300, 300), Image.Resampling.BICUBIC).convert("RGB")
    canvas = Image.new("RGB", (420, 360), (255, 255, 255))
    canvas.paste(paper, (70, 30))
    jpeg = png_bytes(np.asarray(canvas), fmt="JPEG")
    photo, = call(app, [("POST", "/v1/predict", upload(jpeg))])
    original, = call(app, [("POST", "/v1/predict", upload(png_bytes(image)))])
    assert photo.status_code == 200
    assert photo.json()["class"] == original.json()["class"]
    # ...and says what was done to it; an image already in the model's form says nothing.
    assert photo.json()["converted"] == "converted from RGB to one channel (greyscale) and resized from 420x360 to 28x28"
    assert "converted" not in original.json()
    predictor = nnforge.load(run_dir)
    expected = predictor.predict_images([Image.open(io.BytesIO(jpeg))])[0]
    assert photo.json()["probability"] == pytest.approx(float(expected.max()), abs=1e-4)


def test_json_pixels_and_batch(app, run_dir, digits):
    import nnforge

    predictor = nnforge.load(run_dir)
    images = digits[0][:5]
    one, many = call(app, [
        ("POST", "/v1/predict", {"json": {"inputs": images[0].tolist()}}),
        ("POST", "/v1/predict/batch?k=1", {"json": {"inputs": images.reshape(5, -1).tolist()}}),
    ])
    import torch

    expected = predictor.predict_stored(torch.from_numpy(images[:, None]))
    assert one.json()["probability"] == pytest.approx(float(expected[0].max()), abs=1e-4)
    assert [p["class"] for p in many.json()["predictions"]] == [predictor.classes[i] for i in expected.argmax(1)]
    assert all(len(p["top"]) == 1 for p in many.json()["predictions"])


def test_micro_batching_groups_concurrent_requests(run_dir, digits):
    """32 concurrent requests run in a few forward passes, with the same answers as one by one."""
    from nnforge.serve.app import create_app

    app = create_app(run_dir, max_batch=16, max_wait_ms=50)
    sizes = []
    forward = app.service.batcher.forward
    app.service.batcher.forward = lambda x: (sizes.append(len(x)), forward(x))[1]
    requests = [("POST", "/v1/predict?k=10", upload(png_bytes(im))) for im in digits[0][:32]]
    together = call(app, requests)
    assert sum(sizes) == 32 and len(sizes) <= 4 and max(sizes) == 16
    sizes.clear()
    alone = [call(app, [r])[0] for r in requests[:4]]
    assert sizes == [1, 1, 1, 1]
    for a, b in zip(together, alone):
        assert a.json()["class"] == b.json()["class"]
        np.testing.assert_allclose([t["probability"] for t in a.json()["top"]], [t["probability"] for t in b.json()["top"]], atol=1e-5)
    metrics = call(app, [("GET", "/metrics", {})])[0].text
    assert 'nnforge_batch_size_bucket{le="16.0"}' in metrics


def test_concurrency_cap_answers_503_at_once_and_probes_pass_it(app, digit_png):
    """At the cap a prediction is 503 at once; /health (liveness) and /ready (readiness) still answer 200."""
    app.metrics.in_flight = app.limits.max_concurrency
    try:
        busy, health, ready = call(app, [("POST", "/v1/predict", upload(digit_png)), ("GET", "/health", {}), ("GET", "/ready", {})])
    finally:
        app.metrics.in_flight = 0
    assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
    assert busy.json()["error"] == "server busy"
    assert health.status_code == 200 and health.json()["status"] == "ok"
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert ready.json()["in_flight"] == app.limits.max_concurrency
    ok, = call(app, [("POST", "/v1/predict", upload(digit_png))])
    assert ok.status_code == 200


def test_memory_budget_answers_503_and_is_released(app, digit_png):
    """Past --max-inflight-mb of body bytes held, a request is 503; the bytes are given back after each answer."""
    budget = app.limits.max_bytes_in_flight
    request = upload(digit_png)
    app.limits.max_bytes_in_flight = len(request["content"]) - 1
    try:
        over, = call(app, [("POST", "/v1/predict", request)])
    finally:
        app.limits.max_bytes_in_flight = budget
    assert over.status_code == 503 and "bytes in flight" in over.json()["detail"]
    responses = call(app, [("POST", "/v1/predict", request)] * 20)
    assert {r.status_code for r in responses} == {200}
    assert app.bytes_in_flight == 0


def test_request_timeout_answers_504_and_the_service_recovers(run_dir, digit_png):
    from nnforge.serve.app import create_app

    app = create_app(run_dir)
    app.limits.timeout_s = 0.2
    forward = app.service.batcher.forward
    app.service.batcher.forward = lambda x: (time.sleep(0.6), forward(x))[1]
    slow, = call(app, [("POST", "/v1/predict", upload(digit_png))])
    assert slow.status_code == 504 and slow.json()["error"] == "request timed out"
    app.service.batcher.forward = forward
    app.limits.timeout_s = 10.0  # the slow pass still occupies the inference thread for a moment
    ok, = call(app, [("POST", "/v1/predict", upload(digit_png))])
    assert ok.status_code == 200


def test_metadata_health_metrics_and_docs(app):
    meta, health, docs, schema, page, js = call(app, [("GET", p, {}) for p in
                                                      ("/metadata", "/health", "/docs", "/openapi.json", "/", "/static/app.js")])
    m = meta.json()
    assert m["classes"] == [str(i) for i in range(10)] and m["input_shape"] == [1, 28, 28]
    assert m["preprocessing"]["kind"] == "image" and len(m["model_version"]) == 12
    assert m["limits"]["image_formats"] == ["PNG", "JPEG"]
    assert health.json() == {"status": "ok", "model_version": m["model_version"], "worker": os.getpid()}
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    paths = schema.json()["paths"]
    predict = paths["/v1/predict"]["post"]
    assert {"multipart/form-data", "application/json"} <= set(predict["requestBody"]["content"])
    assert "Prediction" in json.dumps(predict["responses"]["200"]) and "413" in predict["responses"]
    assert {"/v1/predict/batch", "/v1/explain", "/health", "/metadata", "/metrics"} <= set(paths)
    assert "<canvas" in page.text and "fetch(" in js.text
    metrics = call(app, [("GET", "/metrics", {})])[0]
    assert metrics.headers["content-type"].startswith("text/plain")
    assert 'nnforge_requests_total{endpoint="metadata",status="200"}' in metrics.text
    assert "nnforge_request_seconds_bucket" in metrics.text and "nnforge_requests_in_flight" in metrics.text


def test_explain_shows_where_the_network_looked(app, digits):
    """The saliency map is a 28x28 map whose mass lies on the digits' strokes, not the background
    (a one-epoch test model: judged over several digits, not one)."""
    from PIL import Image, ImageFilter

    ratios = []
    for image in digits[0][:8]:
        response, = call(app, [("POST", "/v1/explain", upload(png_bytes(image)))])
        assert response.status_code == 200
        body = response.json()
        heat = np.array(body["saliency"])
        assert heat.shape == (28, 28) and heat.max() == pytest.approx(1.0) and heat.min() >= 0
        for key in ("saliency_png", "input_png"):
            assert body[key].startswith("data:image/png;base64,")
            png = Image.open(io.BytesIO(base64.b64decode(body[key].split(",", 1)[1])))
            assert png.size == (224, 224)
        # the stroke as the network saw it (after the training preprocessing)
        seen = np.asarray(Image.open(io.BytesIO(base64.b64decode(body["input_png"].split(",", 1)[1]))).convert("L").resize((28, 28)))
        near_stroke = np.asarray(Image.fromarray((seen > 64).astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(5))) > 0
        ratios.append(heat[near_stroke].mean() / heat[~near_stroke].mean())
    assert np.median(ratios) > 2, ratios


def test_onnx_backend_gives_the_torch_answers(run_dir, digits, tmp_path):
    pytest.importorskip("onnxruntime")
    from nnforge.serve.app import create_app

    run = tmp_path / "run"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("model.onnx", "checkpoints"))
    onnx_app = create_app(run, backend="onnx")
    assert (run / "model.onnx").is_file()  # exported on first use
    torch_app = create_app(run, backend="torch")
    requests = [("POST", "/v1/predict?k=10", upload(png_bytes(im))) for im in digits[0][:6]]
    for a, b in zip(call(onnx_app, requests), call(torch_app, requests)):
        assert a.json()["class"] == b.json()["class"]
        assert a.json()["probability"] == pytest.approx(b.json()["probability"], abs=1e-4)
    assert call(onnx_app, [("GET", "/metadata", {})])[0].json()["backend"] == "onnx"
    # Preprocessing and softmax run inside the ONNX graph (one session.run per batch), exactly.
    onnx_backend, torch_backend = onnx_app.service.backend, torch_app.service.backend
    assert onnx_backend.whole_pipeline
    stored = digits[0][:16, None]
    assert np.abs(onnx_backend(stored) - torch_backend(stored)).max() < 1e-5


def test_auto_backend_is_onnx_runtime_only_where_it_gives_the_torch_answers(run_dir, tmp_path, capfd, monkeypatch):
    pytest.importorskip("onnxruntime")
    import importlib.util

    import torch

    import nnforge
    from nnforge.compress.export import export_model
    from nnforge.serve.backends import build_backend

    run = tmp_path / "run"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("model.onnx", "checkpoints"))
    assert build_backend("auto", nnforge.load(run)).name == "onnx"
    assert (run / "model.onnx").is_file()  # exported on first use, as --backend onnx does
    assert capfd.readouterr().err == ""
    # A model.onnx that is not this run's model (say, left from an earlier training): PyTorch serves, saying why.
    other = nnforge.load(run)
    with torch.no_grad():
        for parameter in other.model.parameters():
            parameter.add_(0.05)
    export_model(other.model, other.input_shape, run / "model.onnx")
    assert build_backend("auto", nnforge.load(run)).name == "torch"
    err = capfd.readouterr().err
    assert "serving with PyTorch" in err and "does not give this run's answers" in err and len(err.splitlines()) == 1
    # Without ONNX Runtime installed, PyTorch serves without a word.
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnxruntime" else find_spec(name, *a))
    assert build_backend("auto", nnforge.load(run)).name == "torch"
    assert capfd.readouterr().err == ""


def test_backend_onnx_refuses_a_damaged_or_stale_model_onnx_in_one_line(run_dir, tmp_path):
    """--backend onnx serves model.onnx only as this run's model: a file cut short (onnx's parser
    raised DecodeError) or one of other weights (it answered differently, silently) is a RunError."""
    pytest.importorskip("onnxruntime")
    import torch

    import nnforge
    from nnforge.compress.export import export_model
    from nnforge.errors import RunError
    from nnforge.serve.app import create_app

    run = tmp_path / "run"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("model.onnx", "checkpoints"))
    other = nnforge.load(run)
    with torch.no_grad():
        for parameter in other.model.parameters():
            parameter.add_(0.05)
    export_model(other.model, other.input_shape, run / "model.onnx")
    with pytest.raises(RunError, match="model.onnx does not give this run's answers"):
        create_app(run, backend="onnx")
    (run / "model.onnx").write_bytes((run / "model.onnx").read_bytes()[:3000])
    with pytest.raises(RunError, match="model.onnx: ONNX Runtime cannot load it"):
        create_app(run, backend="onnx")


def test_the_int8_model_of_compress_is_served_and_answers_as_it_does_in_process(run_dir, digits, tmp_path):
    """Before, `nnforge serve RUN/compress/model-int8.onnx` was refused ('a file, not a run directory')
    and `--backend onnx` serves RUN/model.onnx only: nothing served the int8 model compress writes."""
    pytest.importorskip("onnxruntime")
    import torch

    import nnforge
    from nnforge.compress import measure
    from nnforge.compress.export import export_model, onnx_metadata
    from nnforge.compress.quantize import quantize_int8
    from nnforge.errors import RunError
    from nnforge.rundir import save_model
    from nnforge.serve.app import create_app
    from nnforge.serve.backends import build_backend

    run = tmp_path / "run"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("model.onnx", "checkpoints", "compress"))
    predictor = nnforge.load(run)
    images, labels = digits
    x = predictor.preprocessing(torch.from_numpy(images[:, None])).numpy()
    # what `nnforge compress RUN --quantize int8` writes (compress_run's two calls), calibrated here on the test digits for speed
    fp32 = export_model(predictor.model, predictor.input_shape, run / "compress" / "model-fp32.onnx", onnx_metadata(predictor))
    int8, mode = quantize_int8(fp32, run / "compress" / "model-int8.onnx", [x[:25], x[25:]])
    assert mode == "static"
    app = create_app(int8)
    served, meta = call(app, [("POST", "/v1/predict/batch?k=1", {"json": {"inputs": images.reshape(len(images), -1).tolist()}}),
                              ("GET", "/metadata", {})])
    in_process = measure.onnx_runner(int8)(x).argmax(1)
    assert [p["class"] for p in served.json()["predictions"]] == [predictor.classes[i] for i in in_process]
    assert (in_process == labels).mean() > 0.8
    assert meta.json()["backend"] == "onnx" and meta.json()["model_file"] == "model-int8.onnx"
    with pytest.raises(RunError, match="--backend torch serves the run's PyTorch model"):
        create_app(int8, backend="torch")
    with pytest.raises(RunError, match="gone.onnx' not found"):  # a file named that went: never an export served in its place
        build_backend("onnx", predictor, onnx_file=run / "compress" / "gone.onnx")
    assert not (run / "model.onnx").exists()
    # the run trained further since: its old int8 file is refused, never served as this run's model
    with torch.no_grad():
        for parameter in predictor.model.parameters():
            parameter.add_(0.05)
    save_model(run, predictor.model, {k: v for k, v in predictor.meta.items() if k != "format"})
    with pytest.raises(RunError, match="model-int8.onnx was not made from .*model.safetensors; make it again"):
        create_app(int8)


def test_explain_of_a_served_onnx_file_answers_the_class_predict_answers(run_dir, digits, tmp_path):
    """An int8 file answers a little differently from the run's PyTorch model; /v1/explain answered (and
    explained) the PyTorch model's class while /v1/predict answered the served file's."""
    pytest.importorskip("onnxruntime")
    import torch

    import nnforge
    from nnforge.compress.export import export_model, onnx_metadata
    from nnforge.serve.app import create_app

    run = tmp_path / "run"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("model.onnx", "checkpoints", "compress"))
    predictor = nnforge.load(run)
    other = nnforge.load(run).model  # a file of this run's that answers otherwise, as a coarse int8 one can
    with torch.no_grad():
        other.classifier[-1].bias.copy_(torch.arange(10.0) * 3)
    served = export_model(other, predictor.input_shape, run / "compress" / "model-int8.onnx", onnx_metadata(predictor))
    app = create_app(served)
    images = digits[0][:2]
    answers = call(app, [("POST", "/v1/" + p, {"json": {"inputs": im.tolist()}}) for im in images for p in ("predict", "explain")])
    answers = [answers[i : i + 2] for i in range(0, len(answers), 2)]
    torch_classes = [predictor.classes[i] for i in predictor.predict_stored(torch.from_numpy(images[:, None])).argmax(1)]
    assert [a.json()["class"] for a, _ in answers] != torch_classes  # the served file does answer otherwise
    for predicted, explained in answers:
        assert explained.status_code == 200 and explained.json()["class"] == predicted.json()["class"]
        assert explained.json()["explained_class"] == predicted.json()["class"]
        assert explained.json()["probability"] == pytest.approx(predicted.json()["probability"], abs=1e-6)
        assert "gradients of the run's PyTorch model, for the class model-int8.onnx answers" in explained.json()["method"]


def test_a_dynamic_int8_model_answers_a_request_the_same_whatever_is_batched_with_it(run_dir, digits, tmp_path):
    """Dynamic int8 scales activations over the whole batch: before, a served request's probabilities
    changed with the other requests the micro-batcher ran beside it."""
    pytest.importorskip("onnxruntime")
    import nnforge
    from nnforge.compress.export import export_model, onnx_metadata
    from nnforge.compress.quantize import quantize_int8
    from nnforge.serve.app import create_app

    run = tmp_path / "run"
    shutil.copytree(run_dir, run, ignore=shutil.ignore_patterns("model.onnx", "checkpoints", "compress"))
    predictor = nnforge.load(run)
    fp32 = export_model(predictor.model, predictor.input_shape, run / "compress" / "model-fp32.onnx", onnx_metadata(predictor))
    int8, _ = quantize_int8(fp32, run / "compress" / "model-int8.onnx", mode="dynamic")
    backend = create_app(int8).service.backend
    stored = digits[0][:8, None]
    alone = np.concatenate([backend(stored[i : i + 1]) for i in range(len(stored))])
    np.testing.assert_array_equal(backend(stored), alone)
    np.testing.assert_array_equal(backend(stored[::-1])[::-1], alone)


def test_cli_reports_a_bad_run_directory_in_one_line(tmp_path):
    nnforge = str(Path(sys.executable).with_name("nnforge"))
    result = subprocess.run([nnforge, "serve", str(tmp_path / "missing"), "--port", "0"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("error:") and len(result.stderr.strip().splitlines()) == 1
    assert "http://" not in result.stdout  # no banner announcing a server that will not start
    result = subprocess.run([nnforge, "serve", str(tmp_path), "--workers", "0"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "--workers" in result.stderr


def test_tabular_rows(tabular_run):
    from nnforge.serve.app import create_app

    app = create_app(tabular_run)
    setosa, batch, image, bad, explain, meta = call(app, [
        ("POST", "/v1/predict", {"json": {"inputs": [5.1, 3.5, 1.4, 0.2]}}),
        ("POST", "/v1/predict/batch?k=1", {"json": {"inputs": [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]}}),
        ("POST", "/v1/predict", upload(png_bytes(np.zeros((28, 28), np.uint8)))),
        ("POST", "/v1/predict", {"json": {"inputs": [5.1, 3.5, 1.4]}}),
        ("POST", "/v1/explain", {"json": {"inputs": [5.1, 3.5, 1.4, 0.2]}}),
        ("GET", "/metadata", {}),
    ])
    assert setosa.status_code == 200 and setosa.json()["class"] == "setosa"
    assert [p["class"] for p in batch.json()["predictions"]] == ["setosa", "virginica"]
    assert image.status_code == 422 and "tabular" in image.json()["error"]
    assert bad.status_code == 422 and bad.json()["error"] == "wrong input shape"
    assert explain.status_code == 200 and explain.json()["class"] == "setosa"
    assert meta.json()["kind"] == "tabular" and meta.json()["preprocessing"]["feature_names"][0] == "sepal_length"


def test_explaining_a_tabular_row_shares_out_the_probability(tabular_run):
    """Integrated gradients are complete: the features' shares add up to the change in probability
    from the training mean to the row, and the petals (which separate iris species) dominate."""
    from nnforge.serve.app import create_app

    app = create_app(tabular_run)
    for row, far_from_average in (([5.1, 3.5, 1.4, 0.2], True), ([6.7, 3.0, 5.2, 2.3], True), ([5.9, 3.0, 4.2, 1.5], False)):
        (response,) = call(app, [("POST", "/v1/explain", {"json": {"inputs": row}})])
        assert response.status_code == 200
        body = response.json()
        assert body["explained_class"] == body["class"] and "input_png" not in body
        features = body["features"]
        assert [f["value"] for f in sorted(features, key=lambda f: f["feature"])] == pytest.approx(
            [row[i] for i in (2, 3, 0, 1)])  # petal_length, petal_width, sepal_length, sepal_width
        total = sum(f["attribution"] for f in features)
        assert total == pytest.approx(body["probability"] - body["baseline_probability"], abs=0.02)
        if far_from_average:  # a setosa and a virginica; the versicolor is close to the average flower
            assert abs(total) > 0.3
            assert any(f["feature"].startswith("petal") for f in features[:2]), features
        assert [abs(f["attribution"]) for f in features] == sorted((abs(f["attribution"]) for f in features), reverse=True)


def test_onnx_backend_on_tabular_rows(tabular_run, tmp_path):
    pytest.importorskip("onnxruntime")
    from nnforge.serve.app import create_app

    run = tmp_path / "run"
    shutil.copytree(tabular_run, run, ignore=shutil.ignore_patterns("model.onnx", "checkpoints"))
    onnx_backend, torch_backend = create_app(run, backend="onnx").service.backend, create_app(run, backend="torch").service.backend
    assert onnx_backend.whole_pipeline
    rows = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3], [5.9, 3.0, 4.2, 1.5]], np.float32)
    assert np.abs(onnx_backend(rows) - torch_backend(rows)).max() < 1e-5


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2, reason="needs 2+ CPUs and affinity")
def test_inference_threads_follow_the_cpus_the_server_may_use(run_dir):
    """`taskset -c 1 nnforge serve` must not run two inference threads on its one CPU (2.5x fewer answers)."""
    import torch

    from nnforge.cpus import usable_cpus
    from nnforge.serve.service import ServeSettings, Service

    allowed, threads = os.sched_getaffinity(0), torch.get_num_threads()
    try:
        os.sched_setaffinity(0, {min(allowed)})
        assert usable_cpus() == 1
        Service(ServeSettings(run_dir=str(run_dir), backend="torch")).close()
        assert torch.get_num_threads() == 1
        os.sched_setaffinity(0, allowed)
        Service(ServeSettings(run_dir=str(run_dir), backend="torch")).close()
        assert torch.get_num_threads() == len(allowed)
    finally:
        os.sched_setaffinity(0, allowed)
        torch.set_num_threads(threads)


@pytest.mark.parametrize("content", ["[0.9]", '{"test_accuracy": 0.9', "", '{"test_accuracy": "high"}', '{"test_accuracy": true}'])
def test_a_damaged_metrics_json_is_served_without_its_scores(run_dir, tmp_path, content):
    """metrics.json only adds the test scores to /metadata: a damaged one must not stop the server starting."""
    from nnforge.serve.app import create_app

    run = shutil.copytree(run_dir, tmp_path / "run")
    (run / "metrics.json").write_text(content)
    meta = call(create_app(run), [("GET", "/metadata", {})])[0]
    assert meta.status_code == 200 and meta.json()["test_accuracy"] is None


def test_rows_whose_answer_would_not_be_finite_are_422_not_a_nan_body(tabular_run):
    """1e308 is a finite JSON number but infinite in the model's float32; 3e38 fits float32 and
    overflows once standardised. Either way the answer would hold NaN, which JSON cannot carry."""
    from nnforge.serve.app import create_app

    app = create_app(tabular_run)
    for row in ([1e308, 3.5, 1.4, 0.2], [3e38, 3e38, -3e38, 3e38]):
        single, batch, explain = call(app, [("POST", "/v1/predict", {"json": {"inputs": row}}),
                                            ("POST", "/v1/predict/batch", {"json": {"inputs": [[5.1, 3.5, 1.4, 0.2], row]}}),
                                            ("POST", "/v1/explain", {"json": {"inputs": row}})])
        for response in (single, batch, explain):
            assert response.status_code == 422 and response.json()["error"] == "invalid values", response.text
            assert "NaN" not in response.text
    (ok,) = call(app, [("POST", "/v1/predict", {"json": {"inputs": [5.1, 3.5, 1.4, 0.2]}})])
    assert ok.status_code == 200


@pytest.mark.parametrize("flag, value", [("--max-body-mb", "inf"), ("--max-inflight-mb", "1e400"), ("--max-wait-ms", "inf"),
                                         ("--timeout", "inf"), ("--grace-seconds", "inf"), ("--body-timeout", "inf")])
def test_an_infinite_or_nan_limit_is_a_one_line_error(tmp_path, capsys, flag, value):
    """--max-body-mb inf failed with an OverflowError traceback; --max-wait-ms inf started a server
    that held every request until its 504."""
    from nnforge.cli import main

    assert main(["serve", str(tmp_path), flag, value]) == 2
    err = capsys.readouterr().err
    assert flag in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_default_k_above_the_class_count_is_reported_as_what_is_answered(run_dir):
    """Before: /metadata said top_k 50 for a 10-class model, whose answers held 10 classes."""
    from nnforge.serve.service import ServeSettings, Service

    service = Service(ServeSettings(run_dir=str(run_dir), backend="torch", top_k=50))
    try:
        assert len(service.classes) == 10
        assert service.metadata["top_k"] == 10 and service.top_k(b"") == 10
    finally:
        service.close()


IRIS_ROW = {"sepal length (cm)": 5.1, "sepal width (cm)": 3.5, "color": "red", "petal length (cm)": 1.4, "petal width (cm)": 0.2}


def test_a_model_with_an_encoding_takes_rows_as_objects_with_text_and_nulls(encoded_run):
    """Rows {column: value} are encoded as in training (nnforge.load(run) gives the same numbers);
    a missing or unknown column, or text in a numeric column, is a 422 naming it."""
    import nnforge
    from nnforge.serve.app import create_app

    predictor = nnforge.load(encoded_run)
    virginica = {**IRIS_ROW, "sepal length (cm)": 6.7, "sepal width (cm)": 3.0, "color": "purple", "petal length (cm)": 5.2,
                 "petal width (cm)": None}
    app = create_app(encoded_run)
    one, batch, numbers, absent, unknown, text, meta = call(app, [
        ("POST", "/v1/predict", {"json": {"inputs": [IRIS_ROW]}}),
        ("POST", "/v1/predict/batch?k=3", {"json": {"inputs": [IRIS_ROW, virginica]}}),
        ("POST", "/v1/predict", {"json": {"inputs": [[5.1, 3.5, 0, 0, 1, 1.4, 0.2, 0]]}}),  # the encoded numbers still work
        ("POST", "/v1/predict", {"json": {"inputs": [{k: v for k, v in IRIS_ROW.items() if k != "color"}]}}),
        ("POST", "/v1/predict", {"json": {"inputs": [{**IRIS_ROW, "colour": "red"}]}}),
        ("POST", "/v1/predict", {"json": {"inputs": [{**IRIS_ROW, "sepal width (cm)": "wide"}]}}),
        ("GET", "/metadata", {}),
    ])
    assert one.status_code == 200 and one.json()["class"] == "setosa"
    expected = predictor.predict([IRIS_ROW, virginica])
    got = batch.json()["predictions"]
    assert [p["class"] for p in got] == [e.label for e in expected] == ["setosa", "virginica"]
    for p, e in zip(got, expected):
        assert {t["class"]: t["probability"] for t in p["top"]} == pytest.approx(e.probabilities, abs=1e-5)
    assert numbers.status_code == 200 and numbers.json()["probability"] == pytest.approx(one.json()["probability"], abs=1e-6)
    assert absent.status_code == 422 and "missing column 'color'" in absent.json()["detail"]
    assert unknown.status_code == 422 and "unknown column 'colour'" in unknown.json()["detail"]
    assert text.status_code == 422 and "'sepal width (cm)' is a string; accepted: a number or null" in text.json()["detail"]
    assert meta.json()["preprocessing"]["encoding"]["columns"][2]["categories"] == ["blue", "green", "red"]


def test_one_row_object_not_in_a_list_is_told_to_go_in_one(encoded_run):
    """Before: 'expected a non-empty list (one example, or a list of examples)', though one example was sent."""
    from nnforge.serve.app import create_app

    (response,) = call(create_app(encoded_run), [("POST", "/v1/predict", {"json": {"inputs": IRIS_ROW}})])
    assert response.status_code == 422
    assert response.json()["detail"] == 'got one {column: value} object; put it in a list: {"inputs": [{...}]}'


def test_objects_sent_to_a_model_without_an_encoding_are_422(tabular_run):
    from nnforge.serve.app import create_app

    (response,) = call(create_app(tabular_run), [("POST", "/v1/predict", {"json": {"inputs": [{"sepal_length": 5.1}]}})])
    assert response.status_code == 422 and "not {column: value} objects" in response.json()["detail"]
