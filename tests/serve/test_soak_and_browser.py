"""Slow end-to-end checks on a real server: memory stays flat under 10,000 bad requests, and the
web page works in headless Chromium (draw a stroke, get a prediction, a non-blank screenshot; for a
tabular run, paste a row and see each feature's share; for a run trained on a CSV with a text column
and empty cells, fill in its fields)."""

from __future__ import annotations

import contextlib
import http.client
import json
from pathlib import Path

import numpy as np
import pytest

from tests.browser import chromium
from tests.serve.conftest import Server, multipart
from tests.serve.test_bad_requests import huge_png, pil_bytes


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read the server's RSS")
def test_memory_stays_flat_across_10000_bad_requests(run_dir, digit_png):
    srv = Server(run_dir)
    try:
        bad = []
        for data in (digit_png[: len(digit_png) // 2], huge_png(), pil_bytes("GIF"), pil_bytes("TIFF"), b""):
            body, content_type = multipart({"file": ("x.png", data)})
            bad.append((body, {"Content-Type": content_type}))
        for doc in ('{"inputs": [NaN]}', '{"inputs": [["a"]]}', '{"inputs": [[0, 1], [2]]}', '{"x": 1}', '{"inputs": [1, 2',
                    json.dumps({"inputs": [[0] * 784] * 300})):
            bad.append((doc.encode(), {"Content-Type": "application/json"}))
        bad.append((b"hello", {"Content-Type": "text/plain"}))
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)

        def send(i):
            body, headers = bad[i % len(bad)]
            conn.request("POST", "/v1/predict", body, headers)
            response = conn.getresponse()
            response.read()
            assert 400 <= response.status < 500

        for i in range(1000):  # warm-up: allocator pools, caches, lazy imports
            send(i)
        before = rss_kib(srv.proc.pid)
        for i in range(10_000):
            send(i)
        after = rss_kib(srv.proc.pid)
        conn.close()
        status, answer = srv.upload("/v1/predict", digit_png)
        assert status == 200
        assert after - before < 20 * 1024, f"RSS grew from {before} KiB to {after} KiB"
    finally:
        srv.close()


def browser(tmp_path):
    """Headless Chromium with the network blocked, as on a machine without internet."""
    return chromium(tmp_path, "1200,900", offline=True)


def assert_not_blank(driver, path: Path) -> None:
    from PIL import Image

    driver.save_screenshot(str(path))
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)
    assert pixels.std() > 10 and len(np.unique(pixels.reshape(-1, 3), axis=0)) > 50, "screenshot looks blank"


@contextlib.contextmanager
def served_page(run_dir, tmp_path):
    """`nnforge serve RUN` in a process of its own, and its page loaded in headless Chromium: (driver, server)."""
    from selenium.webdriver.support.ui import WebDriverWait

    srv = Server(run_dir)
    try:
        with browser(tmp_path) as driver:
            driver.get(f"http://127.0.0.1:{srv.port}/")
            WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.body.dataset.ready === '1'"))
            yield driver, srv
    finally:
        srv.close()


def loaded_from_outside(driver, port: int) -> list[str]:
    """Every resource the page loaded (or tried to) from anywhere but the server."""
    urls = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    return [u for u in urls if not u.startswith(f"http://127.0.0.1:{port}/") and not u.startswith("data:")]


def broken_images(driver) -> list[str]:
    """Images on show that have nothing to show (the browser draws a broken-image icon)."""
    return driver.execute_script(
        "return [...document.images].filter(i => i.checkVisibility({visibilityProperty: true}) && "
        "!(i.complete && i.naturalWidth > 0)).map(i => i.id || i.src)")


@pytest.mark.slow
def test_docs_render_offline_and_the_page_shows_no_broken_image(run_dir, tmp_path):
    """With the network blocked, /docs renders Swagger UI (operations listed) from the package's
    assets; the page itself shows no broken image before a prediction; nothing is requested from
    outside. (ReDoc is not offered: it loads its logo from cdn.redoc.ly.)"""
    from selenium.webdriver.support.ui import WebDriverWait

    srv = Server(run_dir)
    try:
        with browser(tmp_path) as driver:
            base = f"http://127.0.0.1:{srv.port}"
            driver.get(base + "/")
            WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.body.dataset.ready === '1'"))
            assert broken_images(driver) == []
            assert driver.execute_script("return document.images.length") == 2  # present, only hidden
            assert loaded_from_outside(driver, srv.port) == []
            driver.get(base + "/docs")
            WebDriverWait(driver, 60).until(lambda d: d.execute_script(
                "return document.querySelectorAll('.swagger-ui .opblock').length >= 5"))
            paths = driver.execute_script("return [...document.querySelectorAll('.opblock-summary-path')].map(e => e.innerText)")
            assert {"/v1/predict", "/v1/predict/batch", "/v1/explain", "/health", "/ready"} <= {p.replace("\u200b", "") for p in paths}
            assert loaded_from_outside(driver, srv.port) == []
            assert_not_blank(driver, tmp_path / "docs.png")
    finally:
        srv.close()


@pytest.mark.slow
def test_page_draw_predict_and_screenshot(run_dir, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with served_page(run_dir, tmp_path) as (driver, _):
        canvas = driver.find_element(By.ID, "canvas")
        # A "1": one vertical stroke through the middle of the 280x280 canvas (offsets from its centre).
        ActionChains(driver).move_to_element_with_offset(canvas, 0, -90).click_and_hold() \
            .move_by_offset(0, 45).move_by_offset(0, 45).move_by_offset(0, 45).move_by_offset(0, 45).release().perform()
        WebDriverWait(driver, 30).until(lambda d: d.execute_script("return !!document.body.dataset.predicted"))
        bars = driver.find_elements(By.CSS_SELECTOR, "#bars .bar")
        assert len(bars) == 10
        predicted = driver.execute_script("return document.body.dataset.predicted")
        assert predicted in [str(i) for i in range(10)]
        assert driver.find_element(By.ID, "error").get_attribute("hidden") is not None
        WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.getElementById('saliency').naturalWidth > 0"))
        assert broken_images(driver) == [] and driver.find_element(By.ID, "saliency").is_displayed()
        assert_not_blank(driver, tmp_path / "page.png")
        # The drawn stroke is on the canvas: white pixels in the middle column.
        drawn = driver.execute_script(
            "const c = document.getElementById('canvas'); const d = c.getContext('2d').getImageData(130, 40, 20, 200).data;"
            "let n = 0; for (let i = 0; i < d.length; i += 4) n += d[i] > 200; return n;")
        assert drawn > 500


@pytest.mark.slow
def test_page_explains_a_tabular_row(tabular_run, tmp_path):
    """A tabular run's page: paste a row, get the species and each measurement's signed share."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with served_page(tabular_run, tmp_path) as (driver, _):
        assert not driver.find_element(By.ID, "canvas").is_displayed()
        driver.find_element(By.ID, "row").send_keys("5.1, 3.5, 1.4, 0.2")
        driver.find_element(By.ID, "predict-row").click()
        WebDriverWait(driver, 30).until(lambda d: d.execute_script("return !!document.body.dataset.predicted"))
        assert driver.execute_script("return document.body.dataset.predicted") == "setosa"
        features = driver.find_elements(By.CSS_SELECTOR, "#features .feature")
        assert len(features) == 4 and all(f.is_displayed() for f in features)
        assert {f.find_element(By.CSS_SELECTOR, ".label").text.split(" = ")[0] for f in features} == {
            "sepal_length", "sepal_width", "petal_length", "petal_width"}
        assert "P(setosa)" in driver.find_element(By.ID, "method").text
        assert not driver.find_element(By.ID, "seen").is_displayed()
        assert_not_blank(driver, tmp_path / "page.png")


@pytest.mark.slow
def test_page_predicts_a_csv_row_with_a_category_and_an_empty_cell(encoded_run, tmp_path):
    """A run trained on a CSV with a text column and empty cells: the page has a field per training
    column (a list of the categories seen in training for the text column); a row with a category
    chosen and a number left empty shows what POST /v1/predict answers for the same record (the page
    sent {"inputs": {...}}, a 422 'expected a non-empty list'); text in a number field is a message
    naming the column, and nothing is sent; the server's refusal is shown as its words."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    record = {"sepal length (cm)": 6.3, "sepal width (cm)": 2.9, "color": "green", "petal length (cm)": 5.0, "petal width (cm)": None}
    explains = "return performance.getEntriesByType('resource').filter(e => e.name.includes('/v1/explain')).length"
    with served_page(encoded_run, tmp_path) as (driver, srv):
        assert not driver.find_element(By.ID, "row").is_displayed()
        labels = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "#fields label")]
        assert labels == list(record)
        color = Select(driver.find_element(By.ID, "field-2"))
        assert [o.text for o in color.options] == ["(missing)", "blue", "green", "red"]
        for i, (name, value) in enumerate(record.items()):
            if name == "color":
                color.select_by_visible_text(value)
            elif value is not None:
                driver.find_element(By.ID, f"field-{i}").send_keys(str(value))
        driver.find_element(By.ID, "predict-row").click()
        WebDriverWait(driver, 30).until(lambda d: d.execute_script("return !!document.body.dataset.predicted"))
        status, api = srv.request("POST", "/v1/predict?k=3", json.dumps({"inputs": [record]}).encode(),
                                  {"Content-Type": "application/json"})
        assert status == 200
        assert driver.execute_script("return document.body.dataset.predicted") == api["class"]
        assert driver.find_element(By.CSS_SELECTOR, "#answer small").text == f"{100 * api['probability']:.1f}%"
        shown = {b.find_element(By.CSS_SELECTOR, ".label").text: b.find_element(By.CSS_SELECTOR, ".pct").text
                 for b in driver.find_elements(By.CSS_SELECTOR, "#bars .bar")}
        assert shown == {t["class"]: f"{100 * t['probability']:.1f}%" for t in api["top"]}
        assert len(driver.find_elements(By.CSS_SELECTOR, "#features .feature")) == 8
        assert driver.find_element(By.ID, "error").get_attribute("hidden") is not None

        sent = driver.execute_script(explains)
        driver.find_element(By.ID, "field-1").send_keys("abc")  # "2.9abc"
        driver.find_element(By.ID, "predict-row").click()
        error = driver.find_element(By.ID, "error")
        WebDriverWait(driver, 10).until(lambda d: error.is_displayed())
        assert error.text == ("sepal width (cm): '2.9abc' is not a number; enter a number such as 5.8, "
                              "or leave it empty for a missing value")
        assert driver.find_element(By.ID, "field-1").get_attribute("aria-invalid") == "true"
        assert driver.execute_script(explains) == sent

        driver.find_element(By.ID, "field-1").clear()
        driver.find_element(By.ID, "field-0").send_keys("e30")  # "6.3e30": a number, beyond what the server takes
        driver.find_element(By.ID, "predict-row").click()
        WebDriverWait(driver, 10).until(lambda d: "1e+15" in error.text)
        assert error.text == ("invalid field 'inputs': input 0: column 'sepal length (cm)' is 6.3e+30; "
                              "accepted: numbers within ±1e+15")
