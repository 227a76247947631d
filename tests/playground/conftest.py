"""Fixtures: a real `nnforge playground` process on a free port, a WebSocket client, headless Chromium."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from tests import browser

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("wsproto")
pytest.importorskip("websockets", reason="the tests' WebSocket client: pip install 'nnforge[dev]'")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Playground:
    """`python -m nnforge.cli playground` in its own process group; ``close()`` stops it."""

    def __init__(self, *flags: str):
        self.port = free_port()
        cmd = [sys.executable, "-m", "nnforge.cli", "playground", "--port", str(self.port), *flags]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"playground exited: {self.proc.stdout.read().decode()}")
            try:
                self.get("/api/health")
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            body = response.read()
            return json.loads(body) if response.headers.get_content_type() == "application/json" else body.decode()

    def socket(self, origin: str | None = None):
        """A tab's WebSocket; ``origin``: the page's site, as a browser sends it (none: a client that is not a browser)."""
        from websockets.sync.client import connect

        return Client(connect(f"ws://127.0.0.1:{self.port}/ws", open_timeout=10, max_size=None, max_queue=None,
                              origin=origin))  # websockets' sync client

    def close(self) -> str:
        """Stop the server; returns everything it printed (tests check it holds no traceback)."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.stdout.read().decode()


class Client:
    """One tab's WebSocket: send messages, wait for the next message of a type."""

    def __init__(self, connection):
        self.connection = connection
        self.ws = connection.__enter__()  # websockets >= 17 wants connect() entered as a context manager

    def send(self, **message) -> None:
        self.ws.send(json.dumps(message))

    def next(self, kind: str, timeout: float = 20.0) -> dict:
        deadline = time.time() + timeout
        while True:
            msg = json.loads(self.ws.recv(timeout=max(0.01, deadline - time.time())))
            if msg["type"] == kind:
                return msg

    def close(self) -> None:
        self.connection.__exit__(None, None, None)


@pytest.fixture(scope="module")
def playground():
    """One server for a test module; every test opens its own sessions (that is what sessions are for)."""
    srv = Playground()
    yield srv
    log = srv.close()
    assert "Traceback" not in log and "Warning" not in log, log


def chromium(tmp_path, size: str = "1280,1000"):
    """Headless Chromium as every browser test starts it (tests/browser.py), at the playground's size."""
    return browser.chromium(tmp_path, size)
