"""The CIFAR-10 errors say what to do, and a failed download leaves no folder behind."""

import socket

import pytest

from nnforge.data.sources.cifar import load_cifar10
from nnforge.errors import DataError

WHAT_TO_DO = ("--set data.root=DIR", "cifar-10-batches-py", "--set data.download=true")


@pytest.mark.parametrize("root", [None, "missing", "empty"])
def test_without_the_batches_the_error_says_where_to_put_them_or_how_to_fetch_them(tmp_path, root):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as caught:
        load_cifar10(None if root is None else tmp_path / root)
    assert all(part in str(caught.value) for part in WHAT_TO_DO), str(caught.value)
    assert not (tmp_path / "missing").exists()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_failed_download_leaves_no_empty_folder(tmp_path):
    root = tmp_path / "data" / "cifar10"
    with pytest.raises(DataError, match="could not download"):
        load_cifar10(root, url=f"http://127.0.0.1:{_closed_port()}/", download=True)
    assert list(tmp_path.iterdir()) == []  # neither data/cifar10 nor data/


def test_a_failed_download_into_an_existing_folder_keeps_that_folder(tmp_path):
    (tmp_path / "mine").mkdir()
    with pytest.raises(DataError, match="could not download"):
        load_cifar10(tmp_path / "mine", url=f"http://127.0.0.1:{_closed_port()}/", download=True)
    assert (tmp_path / "mine").is_dir() and list((tmp_path / "mine").iterdir()) == []


def _archive(path, members):
    """A cifar-10-python.tar.gz holding ``members``: (name, bytes) files or (name, '->target') links."""
    import io
    import tarfile

    with tarfile.open(path, "w:gz") as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            if isinstance(content, str):
                info.type, info.linkname = tarfile.SYMTYPE, content[2:]
                tar.addfile(info)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return path


def _batch_bytes():
    import pickle

    import numpy as np

    return pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1]}, protocol=2)


COMPLETE = [f"cifar-10-batches-py/{name}" for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4",
                                                         "data_batch_5", "test_batch")]


def test_an_archive_extracts_to_the_batches(tmp_path):
    _archive(tmp_path / "cifar-10-python.tar.gz", [(name, _batch_bytes()) for name in COMPLETE])
    assert len(load_cifar10(tmp_path).x_train) == 10
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cifar-10-batches-py", "cifar-10-python.tar.gz"]


def test_an_archive_without_every_batch_is_refused_and_leaves_nothing_extracted(tmp_path):
    """Before: an archive holding data_batch_1 and test_batch alone extracted, and trained on a fifth of CIFAR-10."""
    _archive(tmp_path / "cifar-10-python.tar.gz", [(name, _batch_bytes()) for name in COMPLETE if not name.endswith(("_3", "_5"))])
    with pytest.raises(DataError) as caught:
        load_cifar10(tmp_path)
    assert str(caught.value) == (f"{tmp_path / 'cifar-10-python.tar.gz'}: holds no cifar-10-batches-py/data_batch_3, data_batch_5; "
                                 "expected the python version of CIFAR-10 (a complete cifar-10-batches-py holds data_batch_1 to "
                                 "data_batch_5 and test_batch): delete it and download it again")
    assert [p.name for p in tmp_path.iterdir()] == ["cifar-10-python.tar.gz"]


@pytest.mark.parametrize("damage, problem", [
    ("garbage", "not a readable cifar-10-python.tar.gz"),
    ("truncated", "not a readable cifar-10-python.tar.gz"),
    ("outside", "not a readable cifar-10-python.tar.gz ('../evil' would be extracted"),
    ("absolute link", "not a readable cifar-10-python.tar.gz ('cifar-10-batches-py/data_batch_1' is a link to an absolute path"),
    ("no batches", "holds no cifar-10-batches-py/data_batch_1"),
])
def test_a_damaged_or_doctored_archive_is_one_line_and_leaves_nothing_extracted(tmp_path, damage, problem):
    """Before: tarfile.ReadError, EOFError, OutsideDestinationError or AbsoluteLinkError escaped as a
    traceback, and a truncated archive left a half-extracted cifar-10-batches-py (with data_batch_1)
    that the next run took for the real batches."""
    archive = tmp_path / "cifar-10-python.tar.gz"
    good = [("cifar-10-batches-py/data_batch_1", _batch_bytes()), ("cifar-10-batches-py/test_batch", _batch_bytes() * 50)]
    if damage == "garbage":
        archive.write_bytes(b"not an archive")
    elif damage == "truncated":
        raw = _archive(archive, good).read_bytes()
        archive.write_bytes(raw[: len(raw) * 2 // 3])
    elif damage == "outside":
        _archive(archive, [("../evil", b"x")])
    elif damage == "absolute link":
        _archive(archive, [("cifar-10-batches-py/data_batch_1", "->/etc/passwd")])
    else:
        _archive(archive, [("other/file", b"x")])
    with pytest.raises(DataError) as caught:
        load_cifar10(tmp_path)
    assert problem in str(caught.value) and "\n" not in str(caught.value)
    assert [p.name for p in tmp_path.iterdir()] == ["cifar-10-python.tar.gz"]


@pytest.mark.parametrize("bomb", ["bytes", "members"])
def test_an_archive_that_would_fill_the_disk_is_refused_and_leaves_nothing(tmp_path, monkeypatch, bomb):
    """Before: every member was written out, whatever the total (a few MB of gzip can hold
    gigabytes of zeros). The budget is scaled down here; the real one is 400 MB and 100 files."""
    from nnforge.data.sources import cifar

    monkeypatch.setattr(cifar, "MAX_EXTRACTED_BYTES", 2**20)
    monkeypatch.setattr(cifar, "MAX_EXTRACTED_MEMBERS", 10)
    archive = tmp_path / "cifar-10-python.tar.gz"
    if bomb == "bytes":
        _archive(archive, [("cifar-10-batches-py/data_batch_1", _batch_bytes()), ("cifar-10-batches-py/big", bytes(2**20))])
    else:
        _archive(archive, [("cifar-10-batches-py/data_batch_1", _batch_bytes())] + [(f"cifar-10-batches-py/f{i}", b"x") for i in range(10)])
    with pytest.raises(DataError, match="would extract more than 1 MB or 10 files") as caught:
        load_cifar10(tmp_path)
    assert "\n" not in str(caught.value)
    assert [p.name for p in tmp_path.iterdir()] == ["cifar-10-python.tar.gz"]
