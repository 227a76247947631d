"""Headless Chromium for the browser tests (serve page, report, playground): one way to start it."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

import pytest

# The network blocked, as on a machine without internet: every name but the server's address
# fails to resolve, and anything else goes to a dead proxy.
OFFLINE = ("--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", "--proxy-server=127.0.0.1:9",
           "--proxy-bypass-list=127.0.0.1")


def chromium_paths() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = "/usr/bin/chromedriver" if os.path.exists("/usr/bin/chromedriver") else shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@contextlib.contextmanager
def chromium(tmp_path, size: str = "1200,900", offline: bool = False):
    """Headless Chromium through chromedriver (skips the test where either is missing); ``offline``
    blocks every address but 127.0.0.1."""
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed")
    paths = chromium_paths()
    if paths is None:
        pytest.skip("chromium and chromedriver are not installed (apt-get install -y chromium chromium-driver)")
    from selenium.webdriver.chrome.service import Service as DriverService

    options = webdriver.ChromeOptions()
    options.binary_location = paths[0]
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--window-size={size}", f"--user-data-dir={tempfile.mkdtemp(dir=tmp_path)}",
                 *(OFFLINE if offline else ())):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=DriverService(paths[1]), options=options)
    try:
        yield driver
    finally:
        driver.quit()
