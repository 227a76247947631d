"""``nnforge predict``'s input checks: a file that does not fit the model is a one-line error."""

import subprocess
import sys

import numpy as np

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
