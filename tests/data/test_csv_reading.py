"""Reading a user's own csv: the class names of a numeric target, and one row-width check for every reader."""

import json
import re

import numpy as np
import pytest

from nnforge.cli import main
from nnforge.data import load_dataset
from nnforge.errors import DataError


def _spelt(path, spellings):
    """40 rows: a, b (class 2's rows shifted, so a model can tell), y spelt in turn as ``spellings`` gives for the class."""
    rows = []
    for i in range(40):
        c = i % 2
        rows.append(f"{i % 5 + 4 * c},{(i * 7) % 3 + 4 * c},{spellings[c][i // 2 % len(spellings[c])]}")
    path.write_text("a,b,y\n" + "\n".join(rows) + "\n")
    return path


def test_spellings_of_one_number_in_a_target_are_one_class_everywhere(tmp_path, capsys):
    """Before: '1', '1.0', '01' and ' 1' were four classes of a column holding two numbers (their order
    among themselves even hung on the string hash); a file that spelt the run's classes otherwise
    could not be evaluated. Now one class each, named as first seen, in training, predict, the
    service, and `eval --data` of a file written '1.0, 2'."""
    from nnforge.config import load_config
    from nnforge.serve.service import ServeSettings, Service
    from nnforge.train import fit

    train = _spelt(tmp_path / "train.csv", [["1", "1.0", "01", " 1"], ["2.0", "2", "+2", "2e0"]])
    ds = load_dataset({"name": f"csv:{train}", "target": "y"})
    assert ds.classes == ["1", "2.0"]
    y = np.concatenate([ds.y_train.numpy(), ds.y_test.numpy()])
    assert np.bincount(y).tolist() == [20, 20]

    run = fit(load_config(None, [f"data.name=csv:{train}", "data.target=y", "model.name=mlp", "model.hidden=[8]",
                                 "train.epochs=2", "train.progress=none", "train.checkpoint.enabled=false"]), tmp_path / "run")
    assert json.loads((run.dir / "model.json").read_text())["classes"] == ["1", "2.0"]
    service = Service(ServeSettings(run_dir=str(run.dir), backend="torch"))
    try:
        assert service.metadata["classes"] == ["1", "2.0"]
    finally:
        service.close()

    rows = tmp_path / "rows.csv"
    rows.write_text("a,b\n0,0\n9,9\n")
    capsys.readouterr()
    assert main(["predict", str(run.dir), str(rows), "--top", "2"]) == 0
    out = [line for line in capsys.readouterr().out.splitlines() if line.startswith(str(rows))]
    assert len(out) == 2 and all(set(re.findall(r"(?:: |\[)(\S+) ", line)) == {"1", "2.0"} for line in out), out

    other = _spelt(tmp_path / "other.csv", [["1.0"], ["2"]])
    assert load_dataset({"name": f"csv:{other}", "target": "y"}).classes == ["1.0", "2"]
    assert main(["eval", str(run.dir), "--data", f"csv:{other}"]) == 0, capsys.readouterr().err
    assert "accuracy" in capsys.readouterr().out


def test_a_target_of_text_labels_keeps_every_spelling():
    from nnforge.data.sources.tabular_csv import target_classes

    classes, y = target_classes(["cat", "Cat", "dog", "10", "9", "nan", "NaN", "1e3", "1000"])
    assert classes == ["9", "10", "1e3", "Cat", "NaN", "cat", "dog", "nan"]
    assert y.tolist() == [5, 3, 6, 1, 0, 7, 4, 2, 2]


def _gapped_target(path):
    """A missing target at line 3 and a short row at line 5."""
    path.write_text("a,b,y\n1,2,x\n3,4,\n5,6,y\n7,8\n9,10,x\n11,12,y\n")
    return path


def test_a_short_row_is_the_same_message_through_every_reader(tmp_path, capsys, monkeypatch):
    """Before, load_csv checked widths in its own loop, row by row with the target: training and
    `eval --data` said 'missing target at line 3' of a file that predict (and a regression run)
    refused for its short line 5. Now every reader checks widths first, in one place."""
    from nnforge.data.sources.regression import load_csv_table

    path = _gapped_target(tmp_path / "t.csv")
    expected = f"{path}: line 5 has 2 fields, the header has 3"
    with pytest.raises(DataError) as trained:
        load_dataset({"name": f"csv:{path}", "target": "y"})
    with pytest.raises(DataError) as regressed:
        load_csv_table(str(path), "b")
    assert str(trained.value) == str(regressed.value) == expected

    from nnforge.config import load_config
    from nnforge.train import fit

    good = tmp_path / "good.csv"
    good.write_text("a,b,y\n" + "".join(f"{i},{i % 3},{'xy'[i % 2]}\n" for i in range(20)))
    run = fit(load_config(None, [f"data.name=csv:{good}", "data.target=y", "model.name=mlp", "model.hidden=[4]",
                                 "train.epochs=1", "train.progress=none", "train.checkpoint.enabled=false"]), tmp_path / "run")
    capsys.readouterr()
    for command in (["eval", str(run.dir), "--data", f"csv:{path}"], ["predict", str(run.dir), str(path)]):
        assert main(command) == 2
        assert capsys.readouterr().err == f"error: {expected}\n", command


@pytest.mark.parametrize("header, row, message", [
    (",a,b,y", "{i},{i},{b},{y}", r"column 1 of the header has no name \(pandas writes its row index so: save with "
                                  r"DataFrame.to_csv\(path, index=False\)\); name it or drop it"),
    ("a,b,y,,", "{i},{b},{y},,", r"column 4 of the header has no name \(a spreadsheet may save empty columns past the last\)"),
])
def test_a_column_without_a_name_is_refused(tmp_path, header, row, message):
    """Before: pandas' row index (to_csv without index=False) trained as a feature named '' (the row
    number), silently; a spreadsheet's empty trailing columns were 'both named the same name'."""
    from nnforge.data.sources.regression import load_csv_table

    path = tmp_path / "t.csv"
    path.write_text(header + "\n" + "".join(row.format(i=i, b=i % 3, y="xy"[i % 2]) + "\n" for i in range(20)))
    with pytest.raises(DataError, match=message):
        load_dataset({"name": f"csv:{path}", "target": "y"})
    with pytest.raises(DataError, match=message):
        load_csv_table(str(path), "b")


def test_a_doubled_quote_past_the_first_4_kb_is_one_quote(tmp_path):
    """The sniffer saw no doubled quote in the first 4 KB and read '"5"" screen"' further down as
    '5" screen"' (another category than the same cell near the top), in training and predict alike."""
    from nnforge.data.sources.tabular_csv import _read_rows

    body = "".join(f'{i},"note {i}",x\n' for i in range(300))
    for name, text in (("late", "a,n,y\n" + body + '5,"5"" screen",y\n'), ("early", 'a,n,y\n5,"5"" screen",y\n' + body)):
        (tmp_path / f"{name}.csv").write_text(text)
        header, rows, lines = _read_rows(tmp_path / f"{name}.csv")
        assert ['5', '5" screen', 'y'] in rows, name


@pytest.mark.parametrize("cell", ['"2,x\n' + "3,4,y\n" * 40000, "9" * 200_000 + ",x\n"])
def test_a_cell_past_the_csv_field_limit_is_one_line(tmp_path, cell):
    """Before: an unclosed quote in a large file (or a cell over 131,072 characters) escaped as
    _csv.Error 'field larger than field limit' with a traceback, from training and predict alike."""
    path = tmp_path / "t.csv"
    path.write_text("a,b,y\n1,2,x\n5," + cell)
    with pytest.raises(DataError, match=rf"^{path}: cannot read the row that starts at line 3 \(field larger than field limit "
                                        r"\(131072\)\): most often an unclosed quote"):
        load_dataset({"name": f"csv:{path}", "target": "y"})


@pytest.mark.parametrize("bom", ["", "\ufeff"])
def test_a_header_repeated_by_joining_two_files_is_named(tmp_path, bom):
    """Before: `cat a.csv b.csv` put b's header at line 42; where it fell in the training rows the
    classifier learnt a third class 'label' from it and one-hot encoded the numeric columns
    ('a=0', 'a=1', 'a=a'), silently."""
    part = lambda rows: "a,b,label\n" + "".join(f"{i % 2},{i % 3},{['cat', 'dog'][i % 2]}\n" for i in rows)
    path = tmp_path / "joined.csv"
    path.write_text(part(range(40)) + bom + part(range(40, 80)))
    with pytest.raises(DataError, match=rf"^{path}: line 42 repeats the header row \(files joined with their headers\?\); remove it$"):
        load_dataset({"name": f"csv:{path}", "target": "label"})
