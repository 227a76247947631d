"""Bad input: one line naming the file or key and what is accepted; no run folder left behind."""

import numpy as np
import pytest
from PIL import Image

from nnforge.cli import main


def _train(capsys, tmp_path, *sets):
    out = tmp_path / "run"
    rc = main(["train", "digits_mlp", "--out", str(out), "--set", "train.progress=none", "--set", "train.epochs=1",
               *[a for s in sets for a in ("--set", s)]])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    assert not out.exists(), "a failed start must not leave a run folder"
    return err


def _png(path, size=(8, 8), mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(size[::-1] + ((3,) if mode == "RGB" else ()), 128, np.uint8), mode).save(path)


def test_empty_class_folder(tmp_path, capsys):
    _png(tmp_path / "imgs" / "cat" / "a.png")
    (tmp_path / "imgs" / "dog").mkdir()
    err = _train(capsys, tmp_path, f"data.name=folder:{tmp_path / 'imgs'}")
    assert "dog" in err and "no PNG or JPEG" in err


def test_images_of_mixed_sizes(tmp_path, capsys):
    for i in range(3):
        _png(tmp_path / "imgs" / "cat" / f"{i}.png")
        _png(tmp_path / "imgs" / "dog" / f"{i}.png", size=(8, 8) if i else (10, 6))
    err = _train(capsys, tmp_path, f"data.name=folder:{tmp_path / 'imgs'}")
    assert "0.png" in err and "data.image_size" in err


def test_mixed_modes_become_one_mode(tmp_path):
    from nnforge.data.sources.image_folder import load_folder

    for i in range(3):
        _png(tmp_path / "cat" / f"{i}.png", mode="L")
        _png(tmp_path / "dog" / f"{i}.png", mode="RGB")
    ds = load_folder(str(tmp_path))
    assert ds.input_shape == (3, 8, 8)


def test_not_an_image(tmp_path, capsys):
    for i in range(2):
        _png(tmp_path / "imgs" / "cat" / f"{i}.png")
        _png(tmp_path / "imgs" / "dog" / f"{i}.png")
    (tmp_path / "imgs" / "dog" / "broken.png").write_bytes(b"\x89PNG but not really")
    err = _train(capsys, tmp_path, f"data.name=folder:{tmp_path / 'imgs'}")
    assert "broken.png" in err and "not a readable image" in err


@pytest.mark.parametrize("rows, words", [  # a missing cell and a text column are encoded now (tests/data/test_tabular_encoding.py)
    ("a,b,y\n1,2\n3,4,y\n", ["line 2 has 2 fields"]),
    ("a,b,y\n1,2,x\n3,4,\n", ["missing target at line 3"]),
])
def test_csv_problems(tmp_path, capsys, rows, words):
    path = tmp_path / "t.csv"
    path.write_text(rows)
    err = _train(capsys, tmp_path, f"data.name=csv:{path}", "data.target=y")
    assert str(path) in err
    for w in words:
        assert w in err


def test_a_training_split_of_one_row_is_one_line(tmp_path, capsys):
    """Before: the one row's std was NaN, every input NaN, and the run stopped on a 'non-finite loss'
    blaming the learning rate."""
    path = tmp_path / "t.csv"
    path.write_text("a,b,y\n1,2,x\n3,4,y\n")  # one row for the test split, one to train
    err = _train(capsys, tmp_path, f"data.name=csv:{path}", "data.target=y", "data.val_fraction=0")
    assert "the training split holds 1 example; standardising the inputs needs at least 2" in err


def test_malformed_idx_file(tmp_path, capsys):
    root = tmp_path / "mnist"
    root.mkdir()
    for stem in ("train-images-idx3-ubyte", "t10k-images-idx3-ubyte"):
        (root / stem).write_bytes(b"\x00\x00\x08\x03" + (2).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + b"\x00" * 100)
    for stem in ("train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"):
        (root / stem).write_bytes(b"\x00\x00\x08\x01" + (2).to_bytes(4, "big") + b"\x00\x01")
    err = _train(capsys, tmp_path, "data.name=mnist", f"data.root={root}")
    assert "train-images-idx3-ubyte" in err and "truncated or corrupt" in err


@pytest.mark.parametrize("setting, words", [
    ("train.epochs=three", ["'train.epochs'", "accepted: int"]),
    ("data.batch_size=0", ["'data.batch_size'", ">= 1"]),
    ("train.checkpoint.every_steps=-1", ["'train.checkpoint.every_steps'"]),
    ("train.nonfinite=ignore", ["'train.nonfinite'", "stop, skip"]),
    ("train.chekpoint.every_steps=5", ["train.chekpoint", "did you mean 'checkpoint'"]),
])
def test_config_with_wrong_types(tmp_path, capsys, setting, words):
    err = _train(capsys, tmp_path, setting)
    for w in words:
        assert w in err


def test_nproc_batch_not_divisible_is_one_line(tmp_path, capsys):
    from nnforge.train.ddp import ShardedLoader
    from nnforge.data import TensorLoader
    from nnforge.errors import ConfigError
    import torch

    with pytest.raises(ConfigError, match="'data.batch_size' is 63; with --nproc 2"):
        ShardedLoader(TensorLoader(torch.zeros(10, 2), torch.zeros(10), 63), 0, 2)


def test_an_image_past_pils_decompression_bomb_limit_is_one_line(tmp_path, capsys, monkeypatch):
    """Before: DecompressionBombError (not an OSError) escaped reading a folder dataset. The limit is
    lowered so a small real PNG stands for a huge one."""
    for i in range(2):
        _png(tmp_path / "imgs" / "cat" / f"{i}.png")
        _png(tmp_path / "imgs" / "dog" / f"{i}.png")
    _png(tmp_path / "imgs" / "dog" / "big.png", size=(64, 64))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    err = _train(capsys, tmp_path, f"data.name=folder:{tmp_path / 'imgs'}")
    assert "big.png: too large to read (Image size (4096 pixels) exceeds limit of 2000 pixels); resize it first" in err
