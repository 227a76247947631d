"""A doctored CIFAR batch cannot run code: the restricted unpickler refuses it first."""

import os
import pickle

import numpy as np
import pytest

from nnforge.data.sources.cifar import load_cifar10, read_batch
from nnforge.errors import DataError, UnsafeFileError


class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _batch(path, n=4, extra=None):
    data = {b"data": np.zeros((n, 3072), np.uint8), b"labels": list(range(n)), **(extra or {})}
    path.write_bytes(pickle.dumps(data, protocol=2))


def test_real_format_batch_reads(tmp_path):
    _batch(tmp_path / "data_batch_1")
    x, y = read_batch(tmp_path / "data_batch_1")
    assert x.shape == (4, 3, 32, 32) and list(y) == [0, 1, 2, 3]


def test_malicious_batch_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    _batch(folder / "data_batch_1", extra={b"batch_label": Payload(marker)})
    for name in ("data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"):  # the complete set
        _batch(folder / name)
    with pytest.raises(UnsafeFileError, match="refused to load 'posix.system'|refused to load 'os.system'"):
        load_cifar10(tmp_path)
    assert not marker.exists()


def test_truncated_batch_is_a_data_error(tmp_path):
    _batch(tmp_path / "b")
    raw = (tmp_path / "b").read_bytes()
    (tmp_path / "b").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="not a readable CIFAR batch"):
        read_batch(tmp_path / "b")
