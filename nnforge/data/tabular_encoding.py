"""Text columns and missing values of a CSV table, encoded as numbers with training statistics.

A column whose non-missing cells in the training rows are not all numbers is *categorical*: it
becomes one 0/1 feature per category seen in training (sorted; spellings of one number, ``1`` and
``1.0``, are one category), named ``col=value``; a category
not seen in training (a test row, a row to predict) encodes as all zeros, and a missing cell is
the category ``(missing)``. A numeric column with missing cells in training gets the training
median in their place and a 0/1 indicator feature ``col_missing``; a missing cell in a numeric
column that had none in training gets the median (no indicator). A column with more than
:data:`MAX_CATEGORIES` categories (an ID, free text) is refused.

The encoding is learned from the training split alone — not the test rows, and not the
validation rows: a source keeps its text rows (:class:`TabularRows`), and holding out a validation
part (``split_validation``, ``fold``) learns the encoding again from what is left. It travels with the model in
``model.json``'s ``preprocessing.encoding``, so that ``nnforge predict``, ``nnforge.load(run)``
and ``nnforge serve`` encode new rows exactly as training did. A complete, all-numeric table
needs no encoding (:func:`needs_encoding`) and is read as before.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation

import numpy as np

from nnforge.errors import DataError, excerpt, file_excerpt
from nnforge.io import is_finite

MISSING = ("", "na", "nan", "null", "none", "?")  # the spellings of a missing cell (lower case, stripped)
MISSING_CATEGORY = "(missing)"
MAX_CATEGORIES = 50  # more distinct values in one column is an ID or free text, not a category
MAX_COLUMNS = 10_000  # raw columns a saved encoding may describe
MAX_TEXT = 1000  # characters in a saved column name or category
VALUE_LIMIT = 1e15  # a served row's numbers (|value|): far beyond a real table's, and the network's output stays finite


def is_missing(text: str) -> bool:
    return text.strip().lower() in MISSING


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def label_key(text: str):
    """What a cell (a class label, a category) stands for: its number where it reads as one (``1``, ``1.0``, ``01``, ``1e0``
    are all 1, exactly: :class:`~decimal.Decimal`, so two long integer IDs that round to one float stay
    two), else its text; NaN is text (it equals no number, itself included)."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return text
    return text if value.is_nan() else value


def needs_encoding(rows: list[list[str]]) -> bool:
    """True when any cell is missing or not a number: a complete numeric table is read as before."""
    for row in rows:
        for cell in row:
            text = cell.strip()
            if text.lower() in MISSING or _number(text) is None:
                return True
    return False


class TabularEncoding:
    """Raw text cells -> float32 features; built by :meth:`fit`, saved by :meth:`to_dict`."""

    def __init__(self, columns: list[dict]):
        self.columns = columns
        self._index = {c["name"]: j for j, c in enumerate(columns)}

    # -- learning ------------------------------------------------------------------------
    @classmethod
    def fit(cls, header: list[str], rows: list[list[str]], source) -> TabularEncoding:
        """The encoding of the training ``rows`` (text cells, one per ``header`` column)."""
        columns = []
        for j, name in enumerate(header):
            cells = [row[j].strip() for row in rows]
            present = [c for c in cells if c.lower() not in MISSING]
            if not present:
                raise DataError(f"{source}: {_column(source, name, j)} is empty in every training row; drop it")
            numbers = [_number(c) for c in present]
            if all(n is not None for n in numbers):
                median = float(np.median(np.asarray(numbers, dtype=np.float64)))
                if not math.isfinite(median) or not np.isfinite(np.float32(median)):
                    raise DataError(f"{source}: {_column(source, name, j)} holds infinite values (or beyond ±3.4e38, "
                                    "the 32-bit float range); accepted: finite numbers")
                columns.append({"name": name, "kind": "numeric", "median": median, "indicator": len(present) < len(cells)})
                continue
            if all(n is not None or _number(c.replace(",", ".", 1)) is not None for c, n in zip(present, numbers)):
                # '0,5' (a European spreadsheet's ';' CSV) one-hot encoded each number as a category,
                # silently, or was refused as 'an ID or free text'
                comma = next(c for c, n in zip(present, numbers) if n is None)
                shown = file_excerpt(source, comma)
                raise DataError(f"{source}: {_column(source, name, j)} writes numbers with a comma"
                                + (f" ('{shown}')" if shown else "") + "; save the file with a decimal point (0.5), "
                                "and no thousands separator")
            named: dict = {}  # spellings of one number ('1', '1.0': two exports joined) are one category, named as first seen
            for c in cells:
                c = c if c.lower() not in MISSING else MISSING_CATEGORY
                named.setdefault(label_key(c), c)
            categories = sorted(named.values())
            if len(categories) > MAX_CATEGORIES:
                raise DataError(f"{source}: {_column(source, name, j)} holds text with {len(categories)} distinct values in the "
                                f"training rows (more than {MAX_CATEGORIES}: an ID or free text); drop it or encode it as numbers")
            columns.append({"name": name, "kind": "categorical", "categories": categories})
        return cls(columns)

    # -- describing ----------------------------------------------------------------------
    @property
    def raw_names(self) -> list[str]:
        return [c["name"] for c in self.columns]

    def feature_names(self) -> list[str]:
        names = []
        for c in self.columns:
            if c["kind"] == "categorical":
                names += [f"{c['name']}={v}" for v in c["categories"]]
            else:
                names += [c["name"]] + ([f"{c['name']}_missing"] if c["indicator"] else [])
        return names

    @property
    def width(self) -> int:
        return sum(len(c["categories"]) if c["kind"] == "categorical" else 1 + c["indicator"] for c in self.columns)

    def summary(self, filled: int, source) -> str | None:
        """The one line training prints (None when nothing changed); ``filled``: the training rows' missing numeric cells."""
        parts = []
        cats = [c for c in self.columns if c["kind"] == "categorical"]
        if cats:
            shown = file_excerpt(source, ", ".join(f"{c['name']}: {len(c['categories'])} values" for c in cats), 120)
            parts.append(f"{len(cats)} categorical column{'s' if len(cats) != 1 else ''} one-hot encoded" + (f" ({shown})" if shown else ""))
        flagged = [c for c in self.columns if c["kind"] == "numeric" and c["indicator"]]
        if flagged:
            parts.append(f"{filled} missing value{'s' if filled != 1 else ''} in {len(flagged)} column{'s' if len(flagged) != 1 else ''} "
                         f"filled with the training median (+{len(flagged)} indicator{'s' if len(flagged) != 1 else ''})")
        return f"csv: {'; '.join(parts)}" if parts else None

    # -- encoding ------------------------------------------------------------------------
    def transform(self, rows: list[list[str]], source, lines: list[int] | None = None) -> np.ndarray:
        """Text rows in the training column order -> float32 (N, width); a text cell in a
        numeric column is a one-line error naming its line and column."""
        out = np.zeros((len(rows), self.width), dtype=np.float32)
        k = 0
        for j, c in enumerate(self.columns):
            if c["kind"] == "categorical":
                slot = {v: i for i, v in enumerate(c["categories"])}
                # a category that reads as a number also matches another spelling of it: a JSON 7.0 or a
                # CSV written by pandas ("7.0") is the training file's "7", not an unseen category
                by_number = {_number(v): i for i, v in reversed(list(enumerate(c["categories"]))) if _number(v) is not None}
                for i, row in enumerate(rows):
                    text = row[j].strip()
                    hit = slot.get(MISSING_CATEGORY if text.lower() in MISSING else text)
                    if hit is None and by_number:
                        hit = by_number.get(_number(text))
                    if hit is not None:
                        out[i, k + hit] = 1.0
                k += len(c["categories"])
                continue
            with np.errstate(over="ignore"):
                for i, row in enumerate(rows):
                    text = row[j].strip()
                    if text.lower() in MISSING:
                        out[i, k] = c["median"]
                        if c["indicator"]:
                            out[i, k + 1] = 1.0
                        continue
                    value = _number(text)
                    if value is None:
                        line = line_of(lines, i)
                        cell = file_excerpt(source, text)
                        shown = f": '{cell}'" if cell else ""
                        raise DataError(f"{source}: {_column(source, c['name'], j)} holds numbers in training but line {line} "
                                        f"has text{shown}; accepted: a number or an empty cell")
                    out[i, k] = value
            k += 1 + c["indicator"]
        if not np.isfinite(out).all():
            raise DataError(f"{source}: contains infinite values (or beyond ±3.4e38, the 32-bit float range); accepted: finite numbers")
        return out

    def transform_table(self, header: list[str], rows: list[list[str]], source, lines: list[int] | None = None) -> np.ndarray:
        """Rows with their own ``header`` (any order, extra columns ignored) -> features."""
        missing = [n for n in self.raw_names if n not in header]
        if missing:
            shown = file_excerpt(source, ", ".join(missing), 120)
            raise DataError(f"{source}: the header lacks {len(missing)} of the model's columns" + (f" ({shown})" if shown else "")
                            + "; name every column as in training (their order does not matter)")
        idx = [header.index(n) for n in self.raw_names]
        if idx == list(range(len(header))):  # the training file's own columns: no copy
            return self.transform(rows, source, lines)
        return self.transform([[r[i] for i in idx] for r in rows], source, lines)

    def transform_records(self, records: list[dict], start: int = 0) -> np.ndarray:
        """JSON objects ``{column: number, text or null}`` (the server's tabular input) -> features
        (``start``: the first record's number in the messages); see :meth:`record_cells`."""
        if not isinstance(records, (list, tuple)):
            what = "one object (put it in a list)" if isinstance(records, dict) else _json_type(records)
            raise DataError(f"rows are a list of objects {{column: value}}; got {what}")
        rows = [self.record_cells(record, n) for n, record in enumerate(records, start)]
        return self.transform(rows, "input", list(range(start, start + len(rows))))

    def record_cells(self, record, n: int = 0) -> list[str]:
        """One JSON object ``{column: value}`` as the text cells of a CSV row, checked: every column
        present and no other; a numeric column takes a number (within ±:data:`VALUE_LIMIT`; NumPy's
        too) or null, a categorical one text, a number or null. Anything else is a DataError naming
        input ``n``."""
        if not isinstance(record, dict):
            raise DataError(f"input {n} is {_json_type(record)}; expected an object {{column: value}}")
        for key in record:  # every key: an unknown one that is None was taken for "none unknown"
            if not isinstance(key, str) or key not in self._index:
                named = f"unknown column '{excerpt(key, 60)}'" if isinstance(key, str) else f"a column name is {_json_type(key)}, not text"
                raise DataError(f"input {n}: {named}; accepted: {excerpt(', '.join(self.raw_names), 200)}")
        absent = next((name for name in self.raw_names if name not in record), None)
        if absent is not None:
            raise DataError(f"input {n}: missing column '{excerpt(absent, 60)}' (send null for a missing value)")
        row = []
        for c in self.columns:
            name, value = c["name"], record[c["name"]]
            if value is None:
                row.append("")
            elif isinstance(value, str) and c["kind"] == "categorical":
                if len(value) > MAX_TEXT:
                    raise DataError(f"input {n}: column '{excerpt(name, 60)}' holds {len(value)} characters; at most {MAX_TEXT}")
                row.append(value)
            elif isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
                try:
                    value = int(value) if isinstance(value, numbers.Integral) else float(value)
                except (OverflowError, ValueError):  # a Fraction past a float's range
                    value = math.inf
                if not abs(value) <= VALUE_LIMIT:
                    hint = " (null for a missing value)" if isinstance(value, float) and math.isnan(value) else ""
                    raise DataError(f"input {n}: column '{excerpt(name, 60)}' is {_shown(value, 30)}; accepted: numbers within "
                                    f"±{VALUE_LIMIT:.0e}{hint}")
                row.append(repr(value) if isinstance(value, float) else str(value))
            else:
                accepted = "a number or null" if c["kind"] == "numeric" else "text, a number or null"
                raise DataError(f"input {n}: column '{excerpt(name, 60)}' is {_json_type(value)}; accepted: {accepted}")
        return row

    def record_schema(self) -> dict:
        """JSON Schema of one ``{column: value}`` row, exactly as :meth:`transform_records` accepts it."""
        number = {"type": "number", "minimum": -VALUE_LIMIT, "maximum": VALUE_LIMIT}
        properties = {}
        for c in self.columns:
            kinds = [number, {"type": "null"}]
            if c["kind"] == "categorical":
                kinds.insert(0, {"type": "string", "maxLength": MAX_TEXT, "description": f"one of {len(c['categories'])} categories "
                                 "seen in training (another encodes as none of them)"})
            properties[c["name"]] = {"anyOf": kinds}
        return {"type": "object", "required": self.raw_names, "additionalProperties": False, "properties": properties}

    # -- saving --------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"columns": [dict(c) for c in self.columns]}

    @classmethod
    def from_dict(cls, data) -> TabularEncoding:
        return cls(check_encoding(data)["columns"])


def line_of(lines: list[int] | None, i: int) -> int:
    """The file line of data row ``i`` (``lines``: where the csv reader saw each row start, blank rows
    and cells spanning lines counted; None: rows with no gaps from line 2)."""
    return lines[i] if lines is not None else i + 2


@dataclass(frozen=True)
class TabularRows:
    """The text rows behind a table's encoded training and test parts, with their lines in the file.

    A source keeps them so that the encoding can be learned again from the rows that train once a
    validation part is held out (:meth:`held_out`), and so that evaluation encodes the test rows
    with a saved model's encoding (:meth:`encoded`)."""

    header: list[str]
    source: object  # the file as named: messages quote it only where the user typed it (errors.file_excerpt)
    train: list[list[str]]
    train_lines: list[int]
    test: list[list[str]]
    test_lines: list[int]

    @classmethod
    def of(cls, header: list[str], rows: list[list[str]], train, test, source, lines: list[int] | None = None) -> TabularRows:
        """The ``train`` and ``test`` rows (indices into a file's data ``rows``; ``lines``: the line each
        starts at, as the csv reader counted; None: rows with no gaps from line 2)."""
        train, test = [int(i) for i in train], [int(i) for i in test]
        return cls(header, source, [rows[i] for i in train], [line_of(lines, i) for i in train], [rows[i] for i in test],
                   [line_of(lines, i) for i in test])

    def encoded(self, encoding: TabularEncoding | None = None) -> tuple[TabularEncoding, np.ndarray, np.ndarray]:
        """(encoding, training features, test features): ``encoding`` (a saved model's), or else
        the one learned from the training rows."""
        if encoding is None:
            encoding = TabularEncoding.fit(self.header, self.train, self.source)
        return (encoding, encoding.transform_table(self.header, self.train, self.source, self.train_lines),
                encoding.transform_table(self.header, self.test, self.source, self.test_lines))

    def held_out(self, train, val) -> tuple[TabularEncoding, np.ndarray, np.ndarray, np.ndarray]:
        """(encoding, training, validation and test features) once the training rows at ``val`` are
        held out for validation: the encoding is learned from the rows at ``train`` alone, and a
        category that only validation rows hold encodes as all zeros, as it does in a row to predict.
        Prints what was encoded, in one line."""
        train, val = [int(i) for i in train], [int(i) for i in val]
        kept = TabularRows(self.header, self.source, [self.train[i] for i in train], [self.train_lines[i] for i in train],
                           self.test, self.test_lines)
        encoding, x_train, x_test = kept.encoded()
        x_val = encoding.transform([self.train[i] for i in val], self.source, [self.train_lines[i] for i in val])
        kept.announce(encoding)
        return encoding, x_train, x_val, x_test

    def announce(self, encoding: TabularEncoding) -> None:
        """Print :meth:`TabularEncoding.summary` of the training rows' own ``encoding`` (nothing when it changed nothing)."""
        numeric = [j for j, c in enumerate(encoding.columns) if c["kind"] == "numeric"]
        line = encoding.summary(sum(is_missing(r[j]) for r in self.train for j in numeric), self.source)
        if line:
            print(line, flush=True)


def _json_type(value) -> str:
    """``a string``, ``an object``, ``a float32``: what a value is, as a message says it."""
    name = {bool: "boolean", str: "string", list: "list", dict: "object", int: "whole number", float: "number",
            type(None): "null"}.get(type(value), type(value).__name__)
    return f"{'an' if name[0] in 'aeiou' else 'a'} {name}"


def _shown(value, limit: int) -> str:
    """:func:`~nnforge.errors.excerpt` of a value, and a whole number too long to write out (``str``
    refuses one of 4,300 digits and more: a ValueError) by its size."""
    if isinstance(value, int) and value.bit_length() > 1000:
        return f"a whole number of about {int(value.bit_length() * math.log10(2))} digits"
    return excerpt(value, limit)


def _column(source, name: str, j: int) -> str:
    """``column 'age'`` where the file may be quoted, else ``column 3``."""
    shown = file_excerpt(source, name)
    return f"column '{shown}'" if shown else f"column {j + 1}"


def check_encoding(data) -> dict:
    """``data`` if it describes a valid encoding (as :meth:`TabularEncoding.to_dict` writes it), else a one-line DataError."""
    if not isinstance(data, dict) or set(data) != {"columns"}:
        raise DataError("preprocessing 'encoding' must be an object with one key, 'columns'")
    columns = data["columns"]
    if not isinstance(columns, list) or not 1 <= len(columns) <= MAX_COLUMNS:
        raise DataError(f"preprocessing 'encoding.columns' must be a list of 1 to {MAX_COLUMNS} columns")
    seen = set()
    for j, c in enumerate(columns):
        where = f"preprocessing 'encoding.columns[{j}]'"
        if not isinstance(c, dict) or not isinstance(c.get("name"), str) or not 0 < len(c["name"]) <= MAX_TEXT:
            raise DataError(f"{where} must be an object with a 'name' of 1 to {MAX_TEXT} characters")
        if c["name"] in seen:
            raise DataError(f"{where}: column '{excerpt(c['name'])}' is described twice")
        seen.add(c["name"])
        if c.get("kind") == "numeric":
            if set(c) != {"name", "kind", "median", "indicator"} or type(c["indicator"]) is not bool:
                raise DataError(f"{where}: a numeric column has 'name', 'kind', 'median' and 'indicator' (true or false)")
            if not is_finite(c["median"]) or not abs(c["median"]) <= 3.4e38:  # a float32 feature
                raise DataError(f"{where}: 'median' must be a finite number")
        elif c.get("kind") == "categorical":
            cats = c.get("categories")
            if set(c) != {"name", "kind", "categories"} or not isinstance(cats, list) or not 1 <= len(cats) <= MAX_CATEGORIES \
                    or not all(isinstance(v, str) and len(v) <= MAX_TEXT for v in cats) or len(set(cats)) != len(cats):
                raise DataError(f"{where}: a categorical column has 'name', 'kind' and 'categories' "
                                f"(1 to {MAX_CATEGORIES} distinct strings)")
        else:
            raise DataError(f"{where}: 'kind' must be numeric or categorical")
    return data


class HoldsTextRows:
    """How a table of encoded csv rows (:class:`~nnforge.data.Dataset`, the regression ``Table``)
    holds out validation rows and takes a saved model's encoding: one piece for both, which differ
    only in their arrays (torch tensors, NumPy arrays: :meth:`_array` turns NumPy into theirs).

    Expects the fields ``x_train, y_train, x_val, y_val, x_test, feature_names, encoding, text_rows``
    (``text_rows``: the :class:`TabularRows` behind a csv with an encoding, else None)."""

    @staticmethod
    def _array(values: np.ndarray):
        return values

    def _without_validation(self):
        """No validation part: the encoding learned at loading is the one used; say what it encoded."""
        if self.text_rows is not None:
            self.text_rows.announce(TabularEncoding(self.encoding["columns"]))
        return replace(self, x_val=None, y_val=None, text_rows=None)

    def _held_out(self, train, val):
        """The training rows at ``train`` to train on, those at ``val`` to validate; a csv's encoding
        is learned again from the ``train`` rows alone (it then prints what it encoded)."""
        if self.text_rows is None:
            return replace(self, x_train=self.x_train[train], y_train=self.y_train[train], x_val=self.x_train[val], y_val=self.y_train[val])
        encoding, x_train, x_val, x_test = self.text_rows.held_out(np.asarray(train), np.asarray(val))
        return replace(self, x_train=self._array(x_train), y_train=self.y_train[train], x_val=self._array(x_val), y_val=self.y_train[val],
                       x_test=self._array(x_test), feature_names=encoding.feature_names(), encoding=encoding.to_dict(), text_rows=None)

    def encoded_with(self, encoding: dict | None):
        """These rows encoded by ``encoding`` (a saved model's: learned from the rows that trained,
        after the validation part was held out), so that a run is scored on rows encoded as in
        training; itself where it has no text rows, or no encoding is asked for. The encoding is then
        fixed: a validation part or fold held out afterwards does not learn another."""
        if self.text_rows is None or encoding is None:
            return self
        if encoding == self.encoding:
            return replace(self, text_rows=None)
        coded, x_train, x_test = self.text_rows.encoded(TabularEncoding(encoding["columns"]))
        return replace(self, x_train=self._array(x_train), x_test=self._array(x_test), feature_names=coded.feature_names(),
                       encoding=encoding, text_rows=None)
