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
