"""What a new user meets first (issue 21): the port check, offline API docs, the favicon, the
OpenAPI examples of the served model, booleans refused as pixels, and the colour-photo note."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.serve.conftest import png_bytes
from tests.serve.test_service import call

NNFORGE = str(Path(sys.executable).with_name("nnforge"))


@pytest.fixture(scope="module")
def app(run_dir):
    from nnforge.serve.app import create_app

    return create_app(run_dir)


def test_a_port_in_use_is_one_line_and_exit_2(run_dir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run([NNFORGE, "serve", str(run_dir), "--port", str(port)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stdout == ""  # no banner
    assert result.stderr.startswith("error: cannot listen on 127.0.0.1:") and len(result.stderr.strip().splitlines()) == 1
    assert "uvicorn" not in result.stderr.lower() and "Traceback" not in result.stderr


def local_urls(html: str) -> list[str]:
    return re.findall(r'(?:src|href)=["\']([^"\']+)["\']', html) + re.findall(r'url:\s*["\']([^"\']+)["\']', html)


def test_docs_pages_load_nothing_from_outside(app):
    """/docs (Swagger UI) and the page reference only the server's own assets, and those assets are
    served; ReDoc, which loads its logo from a CDN even when self-hosted, is not offered."""
    docs, redoc, page, favicon = call(app, [("GET", p, {}) for p in ("/docs", "/redoc", "/", "/favicon.ico")])
    assert redoc.status_code == 404
    for response in (docs, page):
        assert response.status_code == 200
        for url in local_urls(response.text):
            assert url.startswith("/"), f"{url} is loaded from outside"
    assert "validatorUrl" in docs.text and "null" in docs.text.split("validatorUrl", 1)[1][:20]
    assets = [u for u in local_urls(docs.text) if u.startswith("/static-docs/")]
    assert {"/static-docs/swagger-ui-bundle.js", "/static-docs/swagger-ui.css"} <= set(assets)
    for response in call(app, [("GET", u, {}) for u in set(assets)]):
        assert response.status_code == 200 and len(response.content) > 10_000
    assert favicon.status_code == 200 and favicon.content.startswith(b"\x89PNG")
    assert favicon.headers["content-type"] == "image/png"


def test_openapi_examples_are_the_served_models(app):
    """An image model's examples are pictures of its input shape, and each is answered 200 as documented."""
    schema = call(app, [("GET", "/openapi.json", {})])[0].json()
    for path in ("/v1/predict", "/v1/predict/batch", "/v1/explain"):
        example = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]["example"]
        pixels = example["inputs"][0] if path.endswith("batch") else example["inputs"]
        assert len(pixels) == 1 and len(pixels[0]) == 28 and all(len(row) == 28 for row in pixels[0])
        assert {v for row in pixels[0] for v in row} == {0, 255}
        response, = call(app, [("POST", path, {"json": example})])
        assert response.status_code == 200, response.text


def test_tabular_openapi_example_is_a_row_of_its_features(tabular_run):
    from nnforge.serve.app import create_app

    tabular = create_app(tabular_run)
    schema = call(tabular, [("GET", "/openapi.json", {})])[0].json()
    example = schema["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["application/json"]["example"]
    assert len(example["inputs"]) == 1 and len(example["inputs"][0]) == 4
    assert call(tabular, [("POST", "/v1/predict", {"json": example})])[0].status_code == 200


@pytest.mark.parametrize("inputs", [[[True] * 28] * 28, [0] * 783 + [False], [[[0] * 28] * 27 + [[0] * 27 + [True]]]])
def test_booleans_are_not_pixels(app, inputs):
    response, = call(app, [("POST", "/v1/predict", {"json": {"inputs": inputs}})])
    assert response.status_code == 422 and "boolean" in response.json()["detail"]


def test_cli_predict_says_a_colour_photo_was_converted(run_dir, digits, tmp_path):
    import numpy as np

    photo = tmp_path / "photo.png"
    photo.write_bytes(png_bytes(np.stack([255 - np.kron(digits[0][0], np.ones((4, 4), np.uint8))] * 3, axis=-1)))
    plain = tmp_path / "digit.png"
    plain.write_bytes(png_bytes(digits[0][0]))
    result = subprocess.run([NNFORGE, "predict", str(run_dir), str(photo), str(plain)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if "note:" in line]
    assert notes == [f"nnforge predict: note: {photo}: converted from RGB to one channel (greyscale) "
                     "and resized from 112x112 to 28x28, as in training"]
    assert len(result.stdout.splitlines()) == 2


def test_the_openapi_example_of_a_text_column_with_empty_cells_is_a_category_not_the_missing_slot(tmp_path):
    """Before: the example row sent a text column with empty cells as "(missing)", the encoding's name
    for its empty-cell slot (sorted first), teaching clients to send that text for a missing value."""
    import numpy as np
    import pandas as pd

    from nnforge.config import load_config
    from nnforge.serve.app import create_app
    from nnforge.train import fit

    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"a": rng.normal(size=40).round(2), "kind": rng.choice(["x", "y"], 40)})
    frame.loc[:4, "kind"] = np.nan
    frame["target"] = np.where(frame["a"] > 0, "up", "down")
    frame.to_csv(tmp_path / "t.csv", index=False)
    fit(load_config(None, [f"data.name=csv:{tmp_path / 't.csv'}", "data.target=target", "model.name=mlp", "model.hidden=[4]",
                           "train.epochs=1", "train.progress=none", "data.val_fraction=0"]), tmp_path / "run")
    app = create_app(tmp_path / "run")
    schema = call(app, [("GET", "/openapi.json", {})])[0].json()
    example = schema["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["application/json"]["example"]
    assert example["inputs"][0]["kind"] == "x"
    response, = call(app, [("POST", "/v1/predict", {"json": example})])
    assert response.status_code == 200, response.text


def test_the_openapi_schema_of_a_model_with_an_encoding_describes_rows_as_objects(encoded_run):
    from nnforge.serve.app import create_app

    app = create_app(encoded_run)
    schema = call(app, [("GET", "/openapi.json", {})])[0].json()
    body = schema["paths"]["/v1/predict/batch"]["post"]["requestBody"]["content"]["application/json"]
    record = body["schema"]["properties"]["inputs"]["items"]["oneOf"][0]
    assert record["required"] == ["sepal length (cm)", "sepal width (cm)", "color", "petal length (cm)", "petal width (cm)"]
    assert record["additionalProperties"] is False and {"type": "null"} in record["properties"]["color"]["anyOf"]
    assert body["example"]["inputs"][0]["color"] == "blue"
    for path in ("/v1/predict", "/v1/predict/batch", "/v1/explain"):
        example = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]["example"]
        response, = call(app, [("POST", path, {"json": example})])
        assert response.status_code == 200, response.text
