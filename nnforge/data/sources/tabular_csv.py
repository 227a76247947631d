"""Tabular classification from a CSV file with a named target column (``csv:PATH``).

A complete, all-numeric table is read as it is. Text columns and missing cells are encoded
with statistics of the training rows alone (:mod:`nnforge.data.tabular_encoding`: one-hot
categories, the median and a missing indicator; learned again once a validation part is held out,
from the rows that train), and the encoding is saved with the model.
Errors quote the file's header and cells (short and escaped) only where the
user named the file on the command line: a path in a run's ``config.yaml`` may be any file
(``csv:/etc/passwd``), so those messages give line and column numbers alone. The target may be text
or numbers; classes are its distinct values (:func:`target_classes`: spellings of one number are one
class), numbers first by value, then text. A fixed stratified 80/20 split gives the test set.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import numpy as np
import torch

from nnforge.data.dataset import Dataset, split_80_20
from nnforge.data.tabular_encoding import TabularRows, _column, is_missing, label_key, line_of, needs_encoding
from nnforge.errors import DataError, excerpt, file_excerpt


def _read_rows(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """(header, data rows, the line in the file where each data row starts), every row as wide as the
    header (:func:`check_row_widths`: training, ``eval --data`` and ``predict`` all read a csv here, so
    a short row is the same message, checked first, whichever reads it). Blank rows are skipped
    and a quoted cell may span lines, so a row's line is counted by the reader, not from its index."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            sample = fh.read(4096)
            fh.seek(0)
            try:
                dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
            except csv.Error:
                dialect = csv.excel
            # a quote inside a quoted cell is doubled ("5"" screen", RFC 4180, as Excel and pandas write it);
            # the sniffer only sees the first 4 KB and, finding no doubled quote there, read a later one as text
            reader = csv.reader(fh, dialect, doublequote=True)
            rows, lines, start = [], [], 1
            try:
                for row in reader:
                    if any(cell.strip() for cell in row):
                        rows.append(row)
                        lines.append(start)
                    start = reader.line_num + 1
            except csv.Error as exc:  # 'field larger than field limit (131072)': was a traceback
                raise DataError(f"{path}: cannot read the row that starts at line {start} ({excerpt(exc, 80)}): most often an "
                                f"unclosed quote (\") that runs on through the rest of the file; close it") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not UTF-8 text; expected a CSV file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror})") from None
    if len(rows) < 2:
        raise DataError(f"{path}: expected a header row and at least one data row")
    header = [h.strip() for h in rows[0]]
    check_row_widths(header, rows[1:], str(path), lines[1:])  # here, so every reader of a csv says it alike, first
    for row, line in zip(rows[1:], lines[1:]):
        # files joined with their headers (cat a.csv b.csv): the header's cells became a class of their own and
        # turned numeric columns into categories, silently, or a puzzling 'line N has text' where they fell in test
        if [c.strip().lstrip("\ufeff") for c in row] == header:
            raise DataError(f"{path}: line {line} repeats the header row (files joined with their headers?); remove it")
    return header, rows[1:], lines[1:]


def check_header(header: list[str], source) -> None:
    """Every column has a name, and its own: columns are picked by name (the target, and every column
    of a file given to predict or the service), so of two columns named alike the second was silently
    read as the first, or the target taken from one and the other kept as a feature. A column without
    a name is most often pandas' row index (``to_csv`` without ``index=False``), which trained as a
    feature named '' (the row number: where rows are sorted by class, a perfect and useless predictor),
    or the empty columns a spreadsheet adds past the last one."""
    for j, name in enumerate(header):
        if not name:
            why = ("pandas writes its row index so: save with DataFrame.to_csv(path, index=False)" if j == 0 else
                   "a spreadsheet may save empty columns past the last")
            raise DataError(f"{source}: column {j + 1} of the header has no name ({why}); name it or drop it")
    seen: dict[str, int] = {}
    for j, name in enumerate(header):
        if name in seen:
            shown = file_excerpt(source, name)
            named = f"'{shown}'" if shown else "the same name"
            raise DataError(f"{source}: columns {seen[name] + 1} and {j + 1} of the header are both named {named}; "
                            "give each column its own name")
        seen[name] = j


def check_row_widths(header: list[str], rows: list[list[str]], source: str, lines: list[int] | None = None) -> None:
    """Every row has as many fields as the header; the error names the first line that does not."""
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise DataError(f"{source}: line {line_of(lines, i)} has {len(row)} fields, the header has {len(header)}")


def parse_features(header: list[str], rows: list[list[str]], source: str, lines: list[int] | None = None) -> np.ndarray:
    """Numeric matrix from text rows; the error names the line and column of the first bad cell."""
    out = np.empty((len(rows), len(header)), dtype=np.float32)
    check_row_widths(header, rows, source, lines)
    with np.errstate(over="ignore"):  # beyond float32 (1e308) becomes inf: refused below in one line, not warned about
        for i, row in enumerate(rows):
            for j, cell in enumerate(row):
                text = cell.strip()
                if is_missing(text):
                    raise DataError(f"{source}: missing value at line {line_of(lines, i)}, {_column(source, header[j], j)}; fill or drop it first")
                try:
                    out[i, j] = float(text)
                except ValueError:
                    cell = file_excerpt(source, text)
                    shown = f": '{cell}'" if cell else ""
                    raise DataError(
                        f"{source}: {_column(source, header[j], j)} is not numeric (line {line_of(lines, i)}{shown}); "
                        f"encode it as numbers or drop it"
                    ) from None
    if not np.isfinite(out).all():
        raise DataError(f"{source}: contains infinite values (or beyond ±3.4e38, the 32-bit float range); accepted: finite numbers")
    return out


def load_csv(path: str, target: str | None, seed: int = 0) -> Dataset:
    given, path = path, Path(path).expanduser()  # quoting asks whether the user typed `given`
    if not path.is_file():
        what = "is a folder, not a file" if path.is_dir() else "not found"  # 'not found' of a folder that is there misled
        raise DataError(f"csv file '{path}' {what}; expected csv:PATH to a CSV with a header row")
    header, rows, lines = _read_rows(path)
    check_header(header, given)
    if target is None:
        raise DataError(f"{path}: say which column to predict with --set data.target=COLUMN ({_columns(given, header)})")
    if target not in header:
        raise DataError(f"{path}: no column '{excerpt(target)}' in the header row ({_columns(given, header)})")
    t = header.index(target)
    labels_text = []
    for i, row in enumerate(rows):
        if not row[t].strip():
            raise DataError(f"{path}: missing target at line {lines[i]}")
        labels_text.append(row[t].strip())
    feature_names = [h for j, h in enumerate(header) if j != t]
    if not feature_names:
        raise DataError(f"{path}: no feature columns besides the target '{excerpt(target)}'")
    features = [[c for j, c in enumerate(r) if j != t] for r in rows]
    classes, y = target_classes(labels_text)
    if len(classes) < 2:
        raise DataError(f"{path}: target '{excerpt(target)}' has a single value; a classifier needs at least two classes")
    encoding = text = None
    train, test, y_tr, y_te = split_80_20(np.arange(len(rows)), y, seed)  # the same split as of the rows themselves
    if needs_encoding(features):  # text columns or missing cells: encoded with the training rows' statistics
        text = TabularRows.of(feature_names, features, train, test, given, lines)
        encoding, x_tr, x_te = text.encoded()
        feature_names = encoding.feature_names()
    else:
        x = parse_features(feature_names, features, given, lines)
        x_tr, x_te = x[train], x[test]
    return Dataset(
        name=f"csv:{path}",
        kind="tabular",
        x_train=torch.from_numpy(x_tr),
        y_train=torch.from_numpy(y_tr),
        x_test=torch.from_numpy(x_te),
        y_test=torch.from_numpy(y_te),
        classes=classes,
        feature_names=feature_names,
        encoding=encoding.to_dict() if encoding else None,
        text_rows=text,
        test_sources=[f"line {lines[i]}" for i in test],
    )


def _columns(source, header: list[str]) -> str:
    listed = file_excerpt(source, ", ".join(header), 120)
    return f"columns: {listed}" if listed else f"the header has {len(header)} columns"


def _sort_key(key):
    return (0, key, "") if isinstance(key, Decimal) else (1, 0, key)


def target_classes(labels: list[str]) -> tuple[list[str], np.ndarray]:
    """(class names, each label's class index): the distinct values of a target column, numbers
    first by value, then text.

    Cells that spell one number differently (``1`` and ``1.0`` from two exports, ``01``, `` 1``) are
    one class, named by the spelling seen first in the file. That name, rather than a canonical form
    (``1`` for ``1.0``), keeps every file without two spellings of a number reading exactly as it
    did before: a run trained on a column of ``1.0, 2.0`` keeps its class names and indices, so
    ``eval`` and ``resume`` of it still match; and it is a spelling the user wrote. Another file
    may spell the same numbers otherwise: :func:`same_classes` takes them for the model's."""
    names: dict = {}
    keys = [label_key(v) for v in labels]
    for key, text in zip(keys, labels):
        names.setdefault(key, text)
    ordered = sorted(names, key=_sort_key)
    index = {k: i for i, k in enumerate(ordered)}  # classes.index per row took seconds with thousands of classes
    return [names[k] for k in ordered], np.array([index[k] for k in keys], dtype=np.int64)


def same_classes(a: list[str], b: list[str]) -> bool:
    """Whether two class lists name the same classes in the same order, a number in any spelling
    (a model trained on ``1, 2`` scores a file that writes ``1.0, 2.0``: the same indices)."""
    return len(a) == len(b) and all(x == y or label_key(str(x)) == label_key(str(y)) for x, y in zip(a, b))
