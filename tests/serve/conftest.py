"""Fixtures: one small trained CNN run per test session, and a real `nnforge serve` process on it."""

from __future__ import annotations

import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> Path:
    """Trained once per test run: pytest-xdist workers share it through a file lock."""
    import fcntl

    from nnforge.config import load_config
    from nnforge.train import fit

    root = tmp_path_factory.getbasetemp().parent
    out = root / "serve-run"
    with open(root / "serve-run.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "model.json").is_file():
            fit(load_config(None, ["data.name=mnist-sample", "model.name=cnn", "model.channels=[8,16]", "train.epochs=1",
                                   "train.optimizer.name=adam", "train.optimizer.lr=0.003", "train.progress=none"]), out)
    return out


@pytest.fixture(scope="session")
def digits():
    """Real MNIST test digits (uint8 28x28) and labels."""
    from nnforge.data import load_dataset

    ds = load_dataset({"name": "mnist-sample"})
    return ds.x_test[:50, 0].numpy(), ds.y_test[:50].numpy()


def png_bytes(array, mode=None, fmt="PNG") -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array, mode).save(buf, format=fmt)
    return buf.getvalue()


@pytest.fixture(scope="session")
def digit_png(digits) -> bytes:
    return png_bytes(digits[0][0])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A real server process and a small keep-alive client for it."""

    def __init__(self, run: Path, *flags: str):
        self.port = free_port()
        cmd = [str(Path(sys.executable).with_name("nnforge")), "serve", str(run), "--port", str(self.port), *flags]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + 120
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stdout.read().decode()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        """(status, parsed JSON or text) on a fresh-if-needed keep-alive connection."""
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                response = self.conn.getresponse()
                data = response.read()
                if response.getheader("connection", "").lower() == "close":
                    self.conn.close()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt:
                    raise
        kind = response.getheader("content-type", "")
        return response.status, (json.loads(data) if kind.startswith("application/json") else data.decode("latin-1"))

    def upload(self, path: str, data: bytes, field: str = "file", filename: str = "x.png", query: str = ""):
        body, content_type = multipart({field: (filename, data)})
        return self.request("POST", path + query, body, {"Content-Type": content_type})

    def close(self) -> None:
        self.conn.close()
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc.stdout.close()


def read_response(sock: socket.socket, buf: bytes = b"") -> tuple[bytes, bytes, bytes]:
    """(status line and headers, body, rest of the buffer) of one Content-Length-framed answer
    read from a raw socket; ``buf`` holds bytes already received on it."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, "connection closed before an answer"
        buf += chunk
    head, _, buf = buf.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0)
    while len(buf) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside an answer"
        buf += chunk
    return head, buf[:length], buf[length:]


def multipart(files: dict, boundary: str = "testBoundary1234") -> tuple[bytes, str]:
    parts = []
    for name, (filename, data) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@pytest.fixture(scope="session")
def server(run_dir):
    srv = Server(run_dir, "--body-timeout", "1", "--max-body-mb", "8")
    yield srv
    srv.close()


@pytest.fixture(scope="session")
def tabular_run(tmp_path_factory):
    """A small MLP on the real iris measurements, from a CSV file (a tabular run)."""
    from sklearn.datasets import load_iris

    from nnforge.config import load_config
    from nnforge.train import fit

    tmp = tmp_path_factory.mktemp("tabular")
    iris = load_iris()
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    lines = [",".join(names + ["species"])]
    lines += [",".join([*(f"{v:.1f}" for v in row), iris.target_names[t]]) for row, t in zip(iris.data, iris.target)]
    (tmp / "iris.csv").write_text("\n".join(lines) + "\n")
    config = load_config(None, [f"data.name=csv:{tmp / 'iris.csv'}", "data.target=species", "model.name=mlp",
                                "model.hidden=[16]", "train.epochs=30", "train.optimizer.name=adam",
                                "train.optimizer.lr=0.02", "train.progress=none"])
    fit(config, tmp / "run")
    return tmp / "run"


@pytest.fixture(scope="session")
def encoded_run(tmp_path_factory):
    """A small MLP on iris with a text column ``color`` and empty petal widths (a run whose
    model.json holds a tabular encoding: nnforge/data/tabular_encoding.py)."""
    from nnforge.config import load_config
    from nnforge.train import fit
    from tests.data.test_tabular_encoding import iris_frame

    tmp = tmp_path_factory.mktemp("encoded")
    iris_frame().to_csv(tmp / "iris_color.csv", index=False)
    config = load_config(None, [f"data.name=csv:{tmp / 'iris_color.csv'}", "data.target=target", "model.name=mlp",
                                "model.hidden=[16]", "train.epochs=30", "train.optimizer.name=adam",
                                "train.optimizer.lr=0.02", "train.progress=none"])
    fit(config, tmp / "run")
    return tmp / "run"
