import pickle

import numpy as np
import pytest

from nnforge.data import load_dataset
from nnforge.errors import DataError, UnsafeFileError


def write_batch(path, n, seed):
    rng = np.random.RandomState(seed)
    batch = {b"batch_label": b"test", b"labels": rng.randint(0, 10, n).tolist(),
             b"data": rng.randint(0, 256, (n, 3072)).astype(np.uint8), b"filenames": [b"x.png"] * n}
    with open(path, "wb") as fh:
        pickle.dump(batch, fh, protocol=2)
    return batch


@pytest.fixture
def cifar_dir(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    batches = [write_batch(folder / f"data_batch_{i}", 20, i) for i in range(1, 6)]
    test = write_batch(folder / "test_batch", 10, 99)
    return tmp_path, batches, test


def test_reads_python_batches(cifar_dir):
    root, batches, test = cifar_dir
    ds = load_dataset({"name": "cifar10", "root": str(root)})
    assert ds.x_train.shape == (100, 3, 32, 32) and ds.num_classes == 10
    assert np.array_equal(ds.x_test.numpy().reshape(10, -1), test[b"data"])
    assert ds.y_train.tolist()[:20] == batches[0][b"labels"]


class Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_pickle_that_runs_code_is_refused_and_nothing_runs(cifar_dir, tmp_path):
    root, _, _ = cifar_dir
    marker = tmp_path / "pwned"
    with open(root / "cifar-10-batches-py" / "data_batch_3", "wb") as fh:
        pickle.dump({b"data": Exploit(marker), b"labels": [1]}, fh, protocol=2)
    with pytest.raises(UnsafeFileError, match="refused to load 'posix.system'|refused to load 'os.system'"):
        load_dataset({"name": "cifar10", "root": str(root)})
    assert not marker.exists()


def test_pickle_importing_a_module_is_refused(cifar_dir):
    root, _, _ = cifar_dir
    # GLOBAL opcode naming an arbitrary module attribute, then STOP.
    (root / "cifar-10-batches-py" / "test_batch").write_bytes(b"csubprocess\nPopen\n.")
    with pytest.raises(UnsafeFileError, match="subprocess.Popen"):
        load_dataset({"name": "cifar10", "root": str(root)})


def test_truncated_batch_is_a_clear_error(cifar_dir):
    root, _, _ = cifar_dir
    path = root / "cifar-10-batches-py" / "data_batch_2"
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DataError, match="data_batch_2"):
        load_dataset({"name": "cifar10", "root": str(root)})


@pytest.mark.parametrize("removed", [["data_batch_4", "data_batch_5"], ["data_batch_1"], ["test_batch"]])
def test_a_partial_folder_names_what_it_lacks(cifar_dir, removed):
    """Before: whatever data_batch_* files were there were read, so a download stopped after
    data_batch_3 trained on 60% of CIFAR-10 without a word (and a folder lacking data_batch_1 said
    it held no batches at all)."""
    root, _, _ = cifar_dir
    folder = root / "cifar-10-batches-py"
    for name in removed:
        (folder / name).unlink()
    with pytest.raises(DataError) as caught:
        load_dataset({"name": "cifar10", "root": str(root)})
    assert str(caught.value).startswith(f"cifar10: '{folder}' lacks {', '.join(removed)} (a complete cifar-10-batches-py "
                                        "holds data_batch_1 to data_batch_5 and test_batch); put them there from")
    assert "\n" not in str(caught.value)


def test_files_beside_the_batches_are_not_read_as_batches(cifar_dir):
    """Before: data_batch_* matched a copy ('data_batch_1 (1)') or a sixth batch, trained on twice or silently."""
    root, _, _ = cifar_dir
    folder = root / "cifar-10-batches-py"
    for extra in ("data_batch_6", "data_batch_1 (1)"):
        write_batch(folder / extra, 20, 7)
    assert load_dataset({"name": "cifar10", "root": str(root)}).x_train.shape == (100, 3, 32, 32)
