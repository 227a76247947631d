"""The playground page in real headless Chromium: XOR with one hidden layer of 4 tanh neurons learns to
a test loss below 0.1 and the boundary picture changes; Step advances exactly one batch (button and
key S); Reset restores the start pixel for pixel; hover shows a value and a gradient; the code is
shown; two tabs train independently. The spiral test takes the screenshots docs/playground.md shows
(set NNFORGE_DOCS_SCREENSHOTS=docs/images to refresh them)."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest

from tests.playground.conftest import Playground, chromium

pytestmark = pytest.mark.slow


def wait(driver, script: str, timeout: float = 60):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: d.execute_script("return " + script))


def dataset(driver, key: str) -> str:
    return driver.execute_script(f"return document.body.dataset.{key}")


def boundary(driver) -> np.ndarray:
    from PIL import Image
    from selenium.webdriver.common.by import By

    png = driver.find_element(By.ID, "boundary").screenshot_as_png
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def click(driver, css: str, times: int = 1) -> None:
    for _ in range(times):  # through the DOM each time: a rebuilt network replaces its buttons
        driver.execute_script("document.querySelector(arguments[0]).click()", css)


def configured(driver, sizes: str) -> None:
    """Wait until the server has answered the page's settings with a fresh network of these sizes."""
    wait(driver, f"document.querySelectorAll('canvas.neuron[data-col]').length === {sum(map(int, sizes.split('-')[1:-1])) + int(sizes.split('-')[0]) + 1}"
                 " && document.body.dataset.step === '0'")


def open_page(driver, srv) -> None:
    driver.get(srv.url + "/")
    wait(driver, "document.body.dataset.ready === '1'", 30)


def setup_xor(driver) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    click(driver, "#datasets button[data-kind=xor]")
    click(driver, "#remove-layer")  # [4, 2] -> [4]
    Select(driver.find_element(By.ID, "activation")).select_by_value("tanh")
    Select(driver.find_element(By.ID, "optimizer")).select_by_value("adam")
    wait(driver, "document.querySelectorAll('.neuron-ctl').length === 1")
    configured(driver, "2-4-2")


def test_xor_learns_step_reset_hover_and_code(tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    srv = Playground()
    try:
        with chromium(tmp_path) as driver:
            open_page(driver, srv)
            setup_xor(driver)
            start = boundary(driver)
            start_loss = float(dataset(driver, "testLoss"))
            click(driver, "#step")
            wait(driver, "document.body.dataset.step === '1'")
            driver.find_element(By.TAG_NAME, "body").send_keys("s")  # the keyboard's Step
            wait(driver, "document.body.dataset.step === '2'")
            frames = int(dataset(driver, "frames"))
            wait(driver, f"+document.body.dataset.frames >= {frames}")
            assert dataset(driver, "step") == "2" and dataset(driver, "playing") == "0"  # exactly one batch each
            # hover a hidden neuron: its bias and the gradient of the last batch
            ActionChains(driver).move_to_element(driver.find_element(By.CSS_SELECTOR, "canvas.neuron[data-col='1'][data-j='2']")).perform()
            tip = driver.find_element(By.ID, "tooltip")
            assert "layer 1, neuron 3" in tip.text and "∂L/∂b" in tip.text and "step 2" in tip.text
            ActionChains(driver).move_to_element(driver.find_element(By.ID, "boundary")).perform()
            click(driver, "#reset")
            wait(driver, "document.body.dataset.step === '0'")
            wait(driver, f"Math.abs(+document.body.dataset.testLoss - {start_loss}) < 1e-12")
            assert np.array_equal(boundary(driver), start)  # the start again, pixel for pixel
            click(driver, "#play")
            wait(driver, "+document.body.dataset.testLoss < 0.1", 180)
            click(driver, "#play")  # pause
            wait(driver, "document.body.dataset.playing === '0'")
            solved = boundary(driver)
            changed = np.abs(solved - start).max(axis=2) > 40
            assert changed.mean() > 0.2, f"only {changed.mean():.1%} of the boundary's pixels changed"
            # the output picture is XOR's: opposite quadrants share a colour (blue = 2nd channel high)
            h, w, _ = solved.shape
            q = {name: solved[y0:y0 + h // 4, x0:x0 + w // 4].mean(axis=(0, 1))
                 for name, (y0, x0) in {"tl": (h // 8, w // 8), "tr": (h // 8, 5 * w // 8), "bl": (5 * h // 8, w // 8), "br": (5 * h // 8, 5 * w // 8)}.items()}
            assert (q["tl"][2] > q["tl"][0]) == (q["br"][2] > q["br"][0]) != (q["tr"][2] > q["tr"][0])
            click(driver, "#show-code")
            wait(driver, "!document.getElementById('code').hidden")
            code = driver.find_element(By.ID, "code-python").text
            assert "nn.Linear(2, 4), nn.Tanh()," in code and "optim.Adam" in code
            assert f"STEPS = 10, {dataset(driver, 'step')}" in code.replace("BATCH, STEPS = ", "STEPS = ")
            assert "playground:xor?" in driver.find_element(By.ID, "code-recipe").text
            following = int(dataset(driver, "step")) + 1
            click(driver, "#step")  # the open panel follows the network
            wait(driver, f"document.body.dataset.codeStep === '{following}'")
            assert driver.find_element(By.ID, "error").get_attribute("hidden") is not None
            errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
            assert not errors, errors
    finally:
        log = srv.close()
    assert "Traceback" not in log, log


def test_two_tabs_train_independently(tmp_path):
    srv = Playground()
    try:
        with chromium(tmp_path) as driver:
            open_page(driver, srv)
            setup_xor(driver)
            first = driver.current_window_handle
            driver.switch_to.new_window("tab")
            open_page(driver, srv)
            assert srv.get("/api/health")["sessions"] == 2
            click(driver, "#step", 3)
            wait(driver, "document.body.dataset.step === '3'")
            driver.switch_to.window(first)
            assert dataset(driver, "step") == "0"  # tab 2's steps are its own
            click(driver, "#play")
            wait(driver, "+document.body.dataset.step > 200", 120)
            click(driver, "#play")
            driver.switch_to.window(driver.window_handles[1])
            assert dataset(driver, "step") == "3"  # and tab 1's training left tab 2 alone
            driver.close()
            driver.switch_to.window(first)
            wait(driver, "true")
            for _ in range(50):
                if srv.get("/api/health")["sessions"] == 1:
                    break
                __import__("time").sleep(0.1)
            assert srv.get("/api/health")["sessions"] == 1  # a closed tab ends its session
    finally:
        srv.close()


def test_spiral_two_layers_of_8_relu_solves_and_screenshots(tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    shots = tmp_path / "shots"
    shots.mkdir()
    srv = Playground()
    try:
        with chromium(tmp_path, size="1280,760") as driver:
            open_page(driver, srv)
            click(driver, "#datasets button[data-kind=spiral]")
            click(driver, ".neuron-ctl button", 4)  # layer 1: 4 -> 8
            driver.execute_script("for (let k = 0; k < 6; k++) document.querySelectorAll('.neuron-ctl')[1].children[0].click()")
            Select(driver.find_element(By.ID, "activation")).select_by_value("relu")
            Select(driver.find_element(By.ID, "optimizer")).select_by_value("adam")
            Select(driver.find_element(By.ID, "lr")).select_by_visible_text("0.01")
            driver.find_element(By.ID, "show-test").click()
            configured(driver, "2-8-8-2")
            driver.save_screenshot(str(shots / "playground-start.png"))
            start = boundary(driver)
            click(driver, "#play")
            wait(driver, "+document.body.dataset.step >= 400", 120)
            click(driver, "#play")
            wait(driver, "document.body.dataset.playing === '0'")
            driver.save_screenshot(str(shots / "playground-mid.png"))
            click(driver, "#play")
            wait(driver, "+document.body.dataset.testLoss < 0.05", 240)
            click(driver, "#play")
            wait(driver, "document.body.dataset.playing === '0'")
            driver.save_screenshot(str(shots / "playground-spiral-solved.png"))
            assert (np.abs(boundary(driver) - start).max(axis=2) > 40).mean() > 0.2
    finally:
        srv.close()
    target = os.environ.get("NNFORGE_DOCS_SCREENSHOTS")
    if target:  # 256 colours: a third of the size, no visible change on these flat pictures
        from PIL import Image

        Path(target).mkdir(parents=True, exist_ok=True)
        for png in shots.iterdir():
            Image.open(png).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE) \
                .save(Path(target) / png.name, optimize=True)
