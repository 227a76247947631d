"""Error messages quote a file's content only where the user named that file on the command line.

A run's ``config.yaml`` may name any file as its dataset (``data.name: csv:/etc/passwd``);
``nnforge eval RUN`` then reads it, and its error must not print the file's first line.
"""

from pathlib import Path

import pytest
import yaml

from nnforge.cli import main
from nnforge.data import load_dataset
from nnforge.errors import DataError, excerpt
from nnforge.models import build_model
from nnforge.rundir import save_model

SECRET = "SECRET_TOKEN:hunter2:0:0"


@pytest.fixture
def secret_file(tmp_path):
    path = tmp_path / "secret"
    path.write_text(f"{SECRET}\nsecond:line\n")
    return path


def _run_naming(tmp_path, data: dict) -> Path:
    """A run directory whose config.yaml names ``data`` (as an attacker would edit it)."""
    run = tmp_path / "run"
    model = build_model({"name": "mlp", "hidden": [4]}, (3,), 2, "tabular")
    save_model(run, model, {"model": {"name": "mlp", "hidden": [4]}, "kind": "tabular", "input_shape": [3], "num_classes": 2,
                            "classes": ["a", "b"], "preprocessing": {"kind": "tabular", "input_shape": [3],
                                                                     "mean": [0.0] * 3, "std": [1.0] * 3}})
    (run / "config.yaml").write_text(yaml.safe_dump({"seed": 0, "data": data}))
    return run


@pytest.mark.parametrize("target", [None, "label"])
def test_eval_of_a_run_naming_another_file_does_not_quote_it(tmp_path, capsys, secret_file, target):
    run = _run_naming(tmp_path, {"name": f"csv:{secret_file}", "target": target})
    assert main(["eval", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and str(secret_file) in err
    assert "hunter2" not in err, err


def test_a_text_column_of_an_unnamed_file_is_located_not_quoted(tmp_path, capsys, secret_file):
    secret_file.write_text("a,b,y\n" + "".join(f"{i},{SECRET}{i},{'xy'[i % 2]}\n" for i in range(100)))
    run = _run_naming(tmp_path, {"name": f"csv:{secret_file}", "target": "y"})
    assert main(["eval", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert "column 2 holds text with 80 distinct values" in err and "hunter2" not in err


@pytest.mark.skipif(not Path("/etc/passwd").is_file(), reason="no /etc/passwd here")
def test_the_attack_as_found_eval_on_csv_etc_passwd(tmp_path, capsys):
    first_line = Path("/etc/passwd").read_text().splitlines()[0]
    run = _run_naming(tmp_path, {"name": "csv:/etc/passwd"})
    assert main(["eval", str(run)]) == 2
    err = capsys.readouterr().err
    assert first_line not in err and first_line[:8] not in err.replace("/etc/passwd", "")


def test_a_file_named_on_the_command_line_is_quoted_short_and_escaped(tmp_path, capsys):
    path = tmp_path / "mine.csv"
    path.write_text("a,b\x1b[2J" + "x" * 100 + ",y\n" + "".join(f"{i},red{i},{'xy'[i % 2]}\n" for i in range(100)))
    assert main(["train", "digits_mlp", "--out", str(tmp_path / "r"), "--set", f"data.name=csv:{path}", "--set", "data.target=y"]) == 2
    err = capsys.readouterr().err
    assert "column 'b\\x1b[2Jxxx" in err and "80 distinct values" in err and "x" * 60 not in err and "\x1b" not in err


def test_the_python_api_shows_its_caller_the_content(tmp_path, secret_file):
    with pytest.raises(DataError, match="columns: SECRET_TOKEN"):
        load_dataset({"name": f"csv:{secret_file}", "target": "label"})


def test_excerpt_bounds_and_escapes():
    assert excerpt("a\nb\x1b[2J" + "z" * 100, 10) == "a\\nb\\x1b[2Jzzz..."
    assert excerpt(b"\xff\xfeok") == "\\xff\\xfeok"
