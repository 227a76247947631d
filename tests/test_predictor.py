"""``nnforge predict``'s input checks: a file that does not fit the model is a one-line error."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from nnforge.cli import main


def test_csv_rows_sent_to_an_image_model_are_a_one_line_error(tmp_path, digits_run):
    (tmp_path / "rows.csv").write_text("a,b,c\n1,2,3\n4,5,6\n7,8,9\n10,11,12\n")
    proc = subprocess.run([sys.executable, "-m", "nnforge.cli", "predict", str(digits_run.dir), str(tmp_path / "rows.csv")],
                          capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: ") and "Traceback" not in proc.stderr
    assert "1x8x8 images" in proc.stderr and "64 pixel values" in proc.stderr and "rows of 3 values" in proc.stderr


def test_csv_rows_of_the_right_width_are_pixels(tmp_path, digits_run, capsys):
    from nnforge.data import load_dataset

    ds = load_dataset({"name": "digits"})
    pixels = ds.x_test[:4].reshape(4, -1).numpy()
    header = ",".join(f"p{i}" for i in range(pixels.shape[1]))
    (tmp_path / "pixels.csv").write_text(header + "\n" + "\n".join(",".join(map(str, r)) for r in pixels) + "\n")
    assert main(["predict", str(digits_run.dir), str(tmp_path / "pixels.csv"), "--top", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4
    predicted = np.array([int(line.split(": ")[1].split()[0]) for line in lines])
    assert (predicted == ds.y_test[:4].numpy()).sum() >= 3


def test_an_image_past_pils_decompression_bomb_limit_is_one_line(tmp_path, digits_run, monkeypatch, capsys):
    """Before: PIL's DecompressionBombError (not an OSError) escaped as a traceback. The limit is
    lowered so a small real PNG stands for a 20,000 x 20,000 one."""
    from PIL import Image

    Image.new("L", (64, 64)).save(tmp_path / "big.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    assert main(["predict", str(digits_run.dir), str(tmp_path / "big.png")]) == 2
    err = capsys.readouterr().err
    assert err == f"error: '{tmp_path / 'big.png'}': too large to read (Image size (4096 pixels) exceeds limit of 2000 pixels); resize it first\n"


def _truncated_ihdr_png() -> bytes:
    """A PNG whose IHDR chunk is 12 bytes (13 are needed): Pillow's Image.open raises ValueError."""
    import struct
    import zlib

    body = struct.pack(">IIBBBB", 8, 8, 8, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 12) + b"IHDR" + body + struct.pack(">I", zlib.crc32(b"IHDR" + body))


def _jpeg_with_exif(exif: bytes) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


@pytest.mark.parametrize("name, data, problem", [
    ("short.png", _truncated_ihdr_png(), "not a readable image .Truncated IHDR chunk."),
    ("exif.jpg", _jpeg_with_exif(b"Exif\x00\x00MM\x00\x01\x00\x00\x00\x08"), "the image's EXIF data is damaged .not a TIFF"),  # SyntaxError
    ("ifd.jpg", _jpeg_with_exif(b"Exif\x00\x00MM\x00*\x00\x00"), "the image's EXIF data is damaged .unpack"),  # struct.error
])
def test_an_image_pillow_fails_on_with_another_exception_is_one_line(tmp_path, digits_run, capsys, name, data, problem):
    """Before: ValueError out of Image.open, SyntaxError out of exif_transpose: tracebacks (found by fuzzing)."""
    (tmp_path / name).write_bytes(data)
    assert main(["predict", str(digits_run.dir), str(tmp_path / name)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: '{tmp_path / name}': ") and err.count("\n") == 1
    assert __import__("re").search(problem, err), err


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    """A run on scikit-learn's iris table, written as a CSV: a model with named feature columns."""
    from sklearn.datasets import load_iris

    from nnforge.config import load_config
    from nnforge.train import fit
    from tests.conftest import quick_overrides

    folder = tmp_path_factory.mktemp("iris")
    load_iris(as_frame=True).frame.to_csv(folder / "iris.csv", index=False)
    return fit(load_config(None, quick_overrides(f"data.name=csv:{folder / 'iris.csv'}", "data.target=target")), folder / "run")


def test_csv_rows_of_another_width_than_the_header_are_one_line(tmp_path, capsys, iris_run):
    """Before: with the columns found by name, a short row (or an unclosed quote) was an IndexError
    and a long row's extra values were dropped silently."""
    run = iris_run
    header = "sepal length (cm),sepal width (cm),petal length (cm),petal width (cm)"
    for name, row, fields in (("short", "5.1,3.5,1.4", 3), ("long", "5.1,3.5,1.4,0.2,9", 5), ("quote", '"5.1,3.5,1.4,0.2', 1)):
        (tmp_path / f"{name}.csv").write_text(f"{header}\n5.0,3.4,1.5,0.2\n{row}\n")
        assert main(["predict", str(run.dir), str(tmp_path / f"{name}.csv")]) == 2
        assert capsys.readouterr().err == f"error: {tmp_path / name}.csv: line 3 has {fields} fields, the header has 4\n"


def test_predictions_for_csv_rows_name_their_lines_in_the_file(tmp_path, capsys, iris_run):
    """A header cell with a line break in it (quoted) and blank lines: before, the rows were labelled
    file:index+2 (file:2, file:3), and a bad cell's error named line 4 for line 8."""
    path = tmp_path / "rows.csv"
    header = '"row\nid",sepal length (cm),sepal width (cm),petal length (cm),petal width (cm)'
    path.write_text(f"{header}\n\n1,5.0,3.4,1.5,0.2\n\n2,6.7,3.0,5.2,2.3\n")  # the rows are at lines 4 and 6
    assert main(["predict", str(iris_run.dir), str(path)]) == 0, capsys.readouterr().err
    labels = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.startswith(str(path))]
    assert labels == [f"{path}:4:", f"{path}:6:"]
    path.write_text(path.read_text() + "\n3,6.1,x,4.7,1.4\n")
    assert main(["predict", str(iris_run.dir), str(path)]) == 2
    assert "is not numeric (line 8" in capsys.readouterr().err


def test_a_tab_separated_file_that_trains_also_predicts(tmp_path, capsys, iris_run):
    """csv:data.tsv trains (the delimiter is sniffed); before, predict refused the same file's rows
    ('unsupported file type .tsv'), so the table had to be renamed to be predicted."""
    header = "sepal length (cm)\tsepal width (cm)\tpetal length (cm)\tpetal width (cm)"
    (tmp_path / "rows.tsv").write_text(f"{header}\n5.0\t3.4\t1.5\t0.2\n6.7\t3.0\t5.2\t2.3\n")
    (tmp_path / "rows.csv").write_text(f"{header}\n5.0\t3.4\t1.5\t0.2\n6.7\t3.0\t5.2\t2.3\n".replace("\t", ","))
    assert main(["predict", str(iris_run.dir), str(tmp_path / "rows.tsv"), str(tmp_path / "rows.csv")]) == 0, capsys.readouterr().err
    lines = [line.split(":", 2)[2] for line in capsys.readouterr().out.splitlines() if line.startswith(str(tmp_path))]
    assert len(lines) == 4 and lines[:2] == lines[2:]


@pytest.mark.parametrize("top", ["0", "-1"])
def test_a_top_below_one_is_one_line(tmp_path, digits_run, capsys, top):
    """Before: --top 0 was an IndexError after the model loaded; -1 left out the last class silently."""
    from PIL import Image

    Image.new("L", (8, 8)).save(tmp_path / "digit.png")
    assert main(["predict", str(digits_run.dir), str(tmp_path / "digit.png"), "--top", top]) == 2
    assert capsys.readouterr().err == f"error: --top is {top}; accepted: a positive whole number (how many classes to show)\n"


def test_a_csv_naming_some_of_the_models_columns_but_not_all_is_one_line(tmp_path, capsys, iris_run):
    """Before: a header with one column misspelt (or given twice) fell back to reading by position, so
    a reordered file fed one feature's values to another, silently."""
    path = tmp_path / "rows.csv"
    path.write_text("petal width (cm),sepal length (cm),Sepal Width,petal length (cm)\n0.2,5.1,3.5,1.4\n")
    assert main(["predict", str(iris_run.dir), str(path)]) == 2
    assert capsys.readouterr().err == (f"error: {path}: the header lacks 1 of the model's columns (sepal width (cm)); "
                                       "name every column as in training (their order does not matter)\n")
    path.write_text("petal width (cm),sepal length (cm),sepal width (cm),petal length (cm)\n0.2,5.1,3.5,1.4\n")
    assert main(["predict", str(iris_run.dir), str(path)]) == 0  # every name there, in another order: read by name


def predict_with_altered_weights(tmp_path, digits_run, capsys, alter) -> tuple[str, str]:
    """``nnforge predict`` on a copy of the run whose first or last float weight ``alter(state, name)``
    changed; the weight's name and what predict printed on stderr (it must exit 2)."""
    import shutil

    from safetensors.torch import load_file, save_file

    run = tmp_path / "altered-run"
    shutil.copytree(digits_run.dir, run)
    state = load_file(str(run / "model.safetensors"))
    name = alter(state, sorted(k for k, v in state.items() if v.is_floating_point()))
    save_file(state, str(run / "model.safetensors"))
    (tmp_path / "digit.csv").write_text(",".join(f"p{i}" for i in range(64)) + "\n" + ",".join(["0"] * 64) + "\n")
    assert main(["predict", str(run), str(tmp_path / "digit.csv")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    return name, err


def test_a_run_whose_weights_hold_nan_is_refused_at_load(tmp_path, digits_run, capsys):
    """NaN weights would answer NaN for every digit; predict names the weight instead of printing garbage."""
    def nan(state, names):
        state[names[-1]][0] = float("nan")
        return names[-1]

    name, err = predict_with_altered_weights(tmp_path, digits_run, capsys, nan)
    assert f"weight '{name}' holds NaN or Inf" in err


def test_a_run_whose_weights_are_whole_numbers_is_refused_at_load(tmp_path, digits_run, capsys):
    """Before: integer weights were converted by load_state_dict (0.73 stored as 0) and predict
    answered with a different model's labels as if they meant something."""
    def whole(state, names):
        state[names[0]] = state[names[0]].round().to(torch.int32)
        return names[0]

    name, err = predict_with_altered_weights(tmp_path, digits_run, capsys, whole)
    assert f"weight '{name}' holds int32 values where the model has real numbers" in err


def test_a_run_in_a_folder_named_in_latin_1_is_evaluated_and_its_checkpoint_read(tmp_path, digits_run, capsys):
    """Linux names are bytes: before, safetensors refused such a path ("not valid UTF-8"), so a run
    trained into it could be neither evaluated, predicted with, served nor resumed."""
    import os
    import shutil

    from nnforge.train.checkpoint.format import load_checkpoint

    run = os.fsdecode(bytes(tmp_path) + b"/caf\xe9")
    try:
        shutil.copytree(digits_run.dir, run)
    except (OSError, UnicodeError):
        pytest.skip("this file system takes only UTF-8 names")
    assert main(["eval", run]) == 0
    assert "accuracy" in capsys.readouterr().out
    step = sorted((Path(run) / "checkpoints").glob("step-*.safetensors"))[-1]
    assert load_checkpoint(step).state["history"]


def test_a_model_folder_without_its_recipe_is_evaluated_on_the_dataset_model_json_names(tmp_path, digits_run, capsys):
    """Before: it fell back to mnist-sample and failed, saying that config.yaml (absent) named another dataset."""
    import shutil

    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("model.json", "model.safetensors"):
        shutil.copy(Path(digits_run.dir) / name, folder / name)
    assert main(["eval", str(folder)]) == 0
    assert f"{folder} on digits" in capsys.readouterr().out


def test_an_onnx_file_given_as_the_run_is_a_file_not_a_missing_folder(tmp_path, capsys):
    """`nnforge eval RUN/compress/model-int8.onnx`: before, 'run directory ... not found' of a file that is there."""
    onnx_file = tmp_path / "model-int8.onnx"
    onnx_file.write_bytes(b"an onnx file")
    assert main(["eval", str(onnx_file)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: '{onnx_file}' is a file, not a run directory;") and "ONNX Runtime" in err and err.count("\n") == 1, err
