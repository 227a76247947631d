"""CSV tables with a text column and missing cells (nnforge/data/tabular_encoding.py): the encoding
against scikit-learn's OneHotEncoder and SimpleImputer on the same training rows, the test rows
encoded with training statistics only, and the encoding carried by the run to predict and eval."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnforge.api import as_recipe
from nnforge.cli import main
from nnforge.data import Preprocessing, load_dataset
from nnforge.data.tabular_encoding import TabularEncoding, check_encoding
from nnforge.errors import DataError, UserError
from nnforge.train import run

NUMERIC = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]
GAPPY = "petal width (cm)"
QUICK = {"train.progress": "none", "train.checkpoint.enabled": False, "train.epochs": 40, "data.val_fraction": 0.0}


def iris_frame(seed: int = 0) -> pd.DataFrame:
    """Iris with the species by name, a text column ``color`` of 3 values and 10 empty petal widths."""
    from sklearn.datasets import load_iris

    bunch = load_iris(as_frame=True)
    df = bunch.frame.copy()
    df["target"] = df["target"].map(dict(enumerate(bunch.target_names)))
    rng = np.random.RandomState(seed)
    df.insert(2, "color", rng.choice(["red", "green", "blue"], len(df)))
    df.loc[rng.choice(len(df), 10, replace=False), GAPPY] = np.nan
    return df


def the_split(df: pd.DataFrame, seed: int = 0):
    """The documented fixed split: scikit-learn's stratified 80/20 with random_state=seed."""
    from sklearn.model_selection import train_test_split

    return train_test_split(np.arange(len(df)), test_size=0.2, random_state=seed, stratify=df["target"])


@pytest.fixture
def iris_color(tmp_path):
    path = tmp_path / "iris_color.csv"
    iris_frame().to_csv(path, index=False)
    return path


def test_the_encoding_is_sklearns_one_hot_and_median_imputer_on_the_training_rows(iris_color, capsys):
    from sklearn.impute import SimpleImputer
    from sklearn.preprocessing import OneHotEncoder

    ds = load_dataset({"name": f"csv:{iris_color}", "target": "target"})
    assert capsys.readouterr().out == ""  # said once, by the split that trains (test_the_encoding_is_learned_after...)
    assert ds.split_validation(0.0, 0).encoding == ds.encoding
    assert capsys.readouterr().out.strip() == ("csv: 1 categorical column one-hot encoded (color: 3 values); "
                                               f"{iris_frame().iloc[the_split(iris_frame())[0]][GAPPY].isna().sum()} missing "
                                               "values in 1 column filled with the training median (+1 indicator)")
    df = iris_frame()
    train, test = the_split(df)
    hot = OneHotEncoder(handle_unknown="ignore").fit(df.iloc[train][["color"]])
    imputer = SimpleImputer(strategy="median", add_indicator=True).fit(df.iloc[train][NUMERIC])
    assert ds.feature_names == ["sepal length (cm)", "sepal width (cm)", "color=blue", "color=green", "color=red",
                                "petal length (cm)", "petal width (cm)", "petal width (cm)_missing"]
    for rows, x in ((train, ds.x_train.numpy()), (test, ds.x_test.numpy())):
        part = df.iloc[rows]
        want = dict(zip([f"color={c}" for c in hot.categories_[0]], hot.transform(part[["color"]]).toarray().T))
        filled = imputer.transform(part[NUMERIC])
        want.update(zip(NUMERIC, filled[:, :4].T))
        want[f"{GAPPY}_missing"] = filled[:, 4]
        got = dict(zip(ds.feature_names, x.T))
        assert set(got) == set(want)
        for name, values in got.items():
            np.testing.assert_allclose(values, want[name].astype(np.float32), rtol=1e-6, err_msg=name)
    assert ds.encoding["columns"][4]["median"] == float(df.iloc[train][GAPPY].median())


def test_the_test_rows_are_encoded_with_training_statistics_only(tmp_path):
    df = iris_frame()
    train, test = the_split(df)
    df.loc[test[0], "color"] = "purple"  # a category only a test row has
    df.loc[test[1], "sepal length (cm)"] = np.nan  # a column complete in training
    df.loc[test, "sepal width (cm)"] = 100.0  # test values that would move a median taken over every row
    path = tmp_path / "t.csv"
    df.to_csv(path, index=False)
    ds = load_dataset({"name": f"csv:{path}", "target": "target"})
    names = ds.feature_names
    assert "color=purple" not in names and "sepal length (cm)_missing" not in names
    colors = [names.index(n) for n in ("color=blue", "color=green", "color=red")]
    assert ds.x_test[0, colors].tolist() == [0.0, 0.0, 0.0]
    assert ds.x_test[1, names.index("sepal length (cm)")].item() == pytest.approx(df.iloc[train]["sepal length (cm)"].median())
    medians = {c["name"]: c.get("median") for c in ds.encoding["columns"]}
    assert medians["sepal width (cm)"] == df.iloc[train]["sepal width (cm)"].median() < 100


def test_a_complete_numeric_csv_gives_the_same_bytes_as_before_and_no_encoding(tmp_path):
    from sklearn.datasets import load_wine
    from sklearn.model_selection import train_test_split

    frame = load_wine(as_frame=True).frame
    path = tmp_path / "wine.csv"
    frame.to_csv(path, index=False)
    ds = load_dataset({"name": f"csv:{path}", "target": "target"})
    x = np.array([[float(v) for v in line.split(",")[:-1]] for line in path.read_text().splitlines()[1:]], dtype=np.float32)
    x_tr, x_te = train_test_split(x, test_size=0.2, random_state=0, stratify=frame["target"])
    assert ds.x_train.numpy().tobytes() == x_tr.tobytes() and ds.x_test.numpy().tobytes() == x_te.tobytes()
    assert ds.encoding is None and ds.feature_names == list(frame.columns[:-1])
    assert "encoding" not in Preprocessing.fit(ds).to_dict()


def test_a_text_column_of_many_values_is_one_line_naming_it(tmp_path):
    df = iris_frame()
    df["id"] = [f"row-{i}" for i in range(len(df))]
    path = tmp_path / "ids.csv"
    df.to_csv(path, index=False)
    with pytest.raises(DataError, match=r"column 'id' holds text with 120 distinct values .*more than 50.*drop it or encode it"):
        load_dataset({"name": f"csv:{path}", "target": "target"})
    df = iris_frame().drop(columns="color")
    df[GAPPY] = np.nan
    df.to_csv(path, index=False)
    with pytest.raises(DataError, match="column 'petal width \\(cm\\)' is empty in every training row; drop it"):
        load_dataset({"name": f"csv:{path}", "target": "target"})


@pytest.fixture(scope="module")
def iris_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("encoded")
    path = folder / "iris_color.csv"
    iris_frame().to_csv(path, index=False)
    recipe, _ = as_recipe("digits_mlp", {**QUICK, "data.name": f"csv:{path}", "data.target": "target"})
    return run(recipe, folder / "run"), path


def test_training_on_the_encoded_csv_learns_iris(iris_run):
    result, _ = iris_run
    assert result.metrics["test_accuracy"] >= 0.85
    pre = json.loads((result.dir / "model.json").read_text())["preprocessing"]
    assert pre["input_shape"] == [8] and [c["kind"] for c in pre["encoding"]["columns"]] == [
        "numeric", "numeric", "categorical", "numeric", "numeric"]


def test_predict_on_raw_rows_equals_the_runs_own_predictions(iris_run, tmp_path, capsys):
    import nnforge

    result, path = iris_run
    predictor = nnforge.load(result.dir)
    ds = load_dataset({"name": f"csv:{path}", "target": "target"})
    expected = predictor.predict_stored(ds.x_test)
    capsys.readouterr()
    df = iris_frame()
    raw = df.iloc[the_split(df)[1]].drop(columns="target")
    rows = tmp_path / "rows.csv"
    raw[list(reversed(raw.columns))].to_csv(rows, index=False)  # columns by name: any order
    np.testing.assert_allclose(np.stack([p for _, p in predictor.predict_files([rows])]), expected, rtol=1e-5, atol=1e-6)
    records = [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in raw.to_dict("records")]
    got = predictor.predict(records)
    assert [g.label for g in got] == [predictor.classes[i] for i in expected.argmax(1)]
    assert main(["predict", str(result.dir), str(rows)]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == len(raw)
    assert main(["eval", str(result.dir)]) == 0
    assert "accuracy" in capsys.readouterr().out


def test_a_dataframe_and_its_records_with_nan_predict_as_the_csv_file_does(iris_run, tmp_path):
    """Before: predict(df) was 'cannot predict from DataFrame; accepted: file paths, PIL images, ...'
    (dicts not named), and df.to_dict('records') stopped on pandas' NaN ('column ... is nan'): each
    NaN had to become None by hand. Now a DataFrame reads as a CSV file (columns by name, the target
    ignored) and NaN, like None, is a missing cell."""
    import nnforge

    result, _ = iris_run
    predictor = nnforge.load(result.dir)
    df = iris_frame()
    raw = df.iloc[the_split(df)[1]]  # with the target column, as a CSV to predict may hold it
    rows = tmp_path / "rows.csv"
    raw.to_csv(rows, index=False)
    expected = np.stack([p for _, p in predictor.predict_files([rows])])
    assert raw[GAPPY].isna().any()
    frame = [p.probabilities for p in predictor.predict(raw[list(reversed(raw.columns))])]
    records = [p.probabilities for p in predictor.predict(raw.drop(columns="target").to_dict("records"))]
    for got in (frame, records):
        np.testing.assert_allclose([[g[c] for c in predictor.classes] for g in got], expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(DataError, match=r"^cannot predict from set; accepted: file paths, PIL images, \{column: value\} dicts, "):
        predictor.predict({1, 2})


def test_a_row_with_an_unseen_category_and_empty_cells_is_predicted(iris_run, tmp_path, capsys):
    result, _ = iris_run
    rows = tmp_path / "new.csv"
    rows.write_text("sepal length (cm),sepal width (cm),color,petal length (cm),petal width (cm)\n"
                    "5.1,3.5,purple,1.4,\n,,,6.0,2.2\n")
    assert main(["predict", str(result.dir), str(rows)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{rows}:2: setosa") and out[1].startswith(f"{rows}:3: virginica")
    rows.write_text("sepal length (cm),sepal width (cm),color,petal length (cm),petal width (cm)\n5.1,abc,red,1.4,0.2\n")
    assert main(["predict", str(result.dir), str(rows)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("column 'sepal width (cm)' holds numbers in training but line 2 has text: 'abc'; "
                        "accepted: a number or an empty cell") and len(err.splitlines()) == 1
    rows.write_text("sepal length (cm),color\n5.1,red\n")
    assert main(["predict", str(result.dir), str(rows)]) == 2
    assert "the header lacks 3 of the model's columns" in capsys.readouterr().err


@pytest.mark.parametrize("change, words", [
    (lambda e: e["columns"][0].update(median=1e999), "'median' must be a finite number"),
    (lambda e: e["columns"][0].update(median="5.8"), "'median' must be a finite number"),
    (lambda e: e["columns"][2].update(categories=[f"c{i}" for i in range(100_000)]), "1 to 50 distinct strings"),
    (lambda e: e["columns"][2].update(categories=["red", "red", "blue"]), "1 to 50 distinct strings"),
    (lambda e: e["columns"][2].update(kind="ordinal"), "'kind' must be numeric or categorical"),
    (lambda e: e["columns"][4].update(indicator="yes"), "'indicator' (true or false)"),
    (lambda e: e["columns"][4].update(indicator=False), "makes 7 features for inputs of shape [8]"),
    (lambda e: e.update(columns={"a": 1}), "'encoding.columns' must be a list"),
    (lambda e: e["columns"].append(dict(e["columns"][0])), "described twice"),
])
def test_a_crafted_encoding_in_model_json_is_one_line(iris_run, tmp_path, capsys, change, words):
    import shutil

    result, _ = iris_run
    copy = tmp_path / "run"
    shutil.copytree(result.dir, copy)
    meta = json.loads((copy / "model.json").read_text())
    change(meta["preprocessing"]["encoding"])
    (copy / "model.json").write_text(json.dumps(meta))
    rows = tmp_path / "rows.csv"
    iris_frame().drop(columns="target").head(3).to_csv(rows, index=False)
    assert main(["predict", str(copy), str(rows)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err and "model.json" in err, err


def test_regression_on_a_csv_with_a_text_column_and_missing_cells(tmp_path, capsys):
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(scaled=False, as_frame=True).frame
    frame["sex"] = frame["sex"].map({1.0: "female", 2.0: "male"})
    frame.loc[np.random.RandomState(1).choice(len(frame), 20, replace=False), "bmi"] = np.nan
    path = tmp_path / "diabetes.csv"
    frame.to_csv(path, index=False)
    recipe, _ = as_recipe("diabetes_mlp", {**QUICK, "task": "regress", "train.epochs": 5, "data.name": f"csv:{path}",
                                           "data.target": "target"})
    result = run(recipe, tmp_path / "run")
    assert "csv: 1 categorical column one-hot encoded (sex: 2 values); " in capsys.readouterr().out
    pre = json.loads((result.dir / "model.json").read_text())["preprocessing"]
    assert "sex=female" in pre["feature_names"] and "bmi_missing" in pre["feature_names"]
    rows = tmp_path / "rows.csv"
    frame.drop(columns="target").head(4).to_csv(rows, index=False)
    assert main(["predict", str(result.dir), str(rows)]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 4


def test_eval_on_another_csv_encodes_its_rows_as_the_model_does(iris_run, tmp_path, capsys):
    """Another file whose categories differ is scored with the model's encoding, its columns by
    name as predict reads them (a category the model never saw is none of its slots)."""
    import nnforge

    result, _ = iris_run
    df = iris_frame()
    df["color"] = df["color"].replace({"red": "yellow"})  # still 3 categories, 8 features
    other = tmp_path / "other.csv"
    df.to_csv(other, index=False)
    predictor = nnforge.load(result.dir)
    rows = tmp_path / "rows.csv"
    df.iloc[the_split(df)[1]].drop(columns="target").to_csv(rows, index=False)
    predicted = np.stack([p for _, p in predictor.predict_files([rows])]).argmax(1)
    truth = [predictor.classes.index(v) for v in df.iloc[the_split(df)[1]]["target"]]
    capsys.readouterr()
    assert main(["eval", str(result.dir), "--data", f"csv:{other}"]) == 0
    assert f"accuracy {np.mean(predicted == truth):.2%}" in capsys.readouterr().out


def test_eval_on_a_csv_with_as_many_classes_but_another_names_them(iris_run, tmp_path, capsys):
    """Before: "dataset 'csv:...' (3 classes, (8,)) does not match the model (3 classes, (8,))": the
    same numbers on both sides, and not a word of what differs."""
    result, _ = iris_run
    df = iris_frame()
    df["target"] = df["target"].replace({"virginica": "virginia", "setosa": "sitosa"})
    other = tmp_path / "other.csv"
    df.to_csv(other, index=False)
    assert main(["eval", str(result.dir), "--data", f"csv:{other}"]) == 2
    assert capsys.readouterr().err == (f"error: dataset 'csv:{other}' does not match the model: it holds the classes sitosa, "
                                       "virginia, which the model does not predict (the model's: setosa, versicolor, virginica)\n")


def expected_encoding(frame: pd.DataFrame) -> dict:
    """The encoding of ``frame``'s feature columns (iris_frame's), worked out with pandas."""
    columns = []
    for name in frame.columns.drop("target"):
        if name == "color":
            columns.append({"name": name, "kind": "categorical", "categories": sorted(frame[name].unique())})
        else:
            columns.append({"name": name, "kind": "numeric", "median": float(frame[name].median()),
                            "indicator": bool(frame[name].isna().any())})
    return {"columns": columns}


# -- Hypothesis: the record path and crafted encodings ------------------------------------------
FUZZ = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow])
ENCODING = {"columns": [{"name": "age", "kind": "numeric", "median": 38.5, "indicator": True},
                        {"name": "city", "kind": "categorical", "categories": ["(missing)", "Lyon", "Paris", "7"]},
                        {"name": "income", "kind": "numeric", "median": 1200.0, "indicator": False}]}
any_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.just(10**5000), st.just(-(10**4400)), st.floats(),
    st.sampled_from([np.float32(1.5), np.int64(3), np.float64(2.0), np.bool_(True), np.nan, b"Lyon", 1j, Ellipsis]),
    st.sampled_from(["Lyon", "Paris", "7", "Berlin", "", "  ", "NA", "(missing)", "12", "1e3", "\ud800", "x" * 1001]),
    st.text(max_size=12),
)
any_value = st.one_of(any_scalar, st.lists(any_scalar, max_size=2), st.dictionaries(st.text(max_size=3), any_scalar, max_size=2),
                      st.tuples(any_scalar), st.frozensets(st.integers(), max_size=2))
any_key = st.one_of(st.sampled_from(["age", "city", "income", "Age", "city ", ""]), st.text(max_size=6),
                    st.none(), st.integers(), st.floats(allow_nan=False), st.tuples(st.integers()), st.just(10**5000))


@st.composite
def records(draw):
    record = {}
    for name in ("age", "city", "income"):
        if draw(st.integers(0, 5)):  # most columns present
            record[name] = draw(st.one_of(any_value, st.sampled_from([None, 30, 41.5, "Lyon", "Paris"])))
    for _ in range(draw(st.integers(0, 2) if draw(st.booleans()) else st.just(0))):
        record[draw(any_key)] = draw(any_value)
    return record


def one_line_user_error(call):
    """The call's result, or None where it raised a UserError of one line (anything else fails the test)."""
    try:
        return call()
    except UserError as exc:
        assert str(exc) and "\n" not in str(exc) and len(str(exc)) < 600, str(exc)
        return None


@FUZZ
@given(rows=st.one_of(st.lists(st.one_of(records(), any_value), min_size=0, max_size=3), records(), any_value))
def test_any_records_encode_or_are_a_one_line_user_error(rows):
    """transform_records takes a list of {column: value}: anything else, any wrong key or value, is a
    one-line DataError (it was a ValueError for a whole number of 4,300 digits and more, a TypeError for
    records that are not a list; an unknown key None was ignored)."""
    enc = TabularEncoding.from_dict(ENCODING)
    out = one_line_user_error(lambda: enc.transform_records(rows))
    if out is None:
        return
    assert isinstance(rows, list) and all(isinstance(r, dict) and set(r) == {"age", "city", "income"} for r in rows)
    assert out.dtype == np.float32 and out.shape == (len(rows), enc.width) and np.isfinite(out).all()
    for record, encoded in zip(rows, out):
        assert encoded[3:7].sum() <= 1  # one category at most
        if record["age"] is None:
            assert encoded[:2].tolist() == [38.5, 1.0]


crafted_column = st.one_of(
    st.fixed_dictionaries({"name": st.one_of(st.text(max_size=4), st.none(), st.integers()),
                           "kind": st.sampled_from(["numeric", "categorical", "ordinal", None, ["numeric"]])},
                          optional={"median": st.one_of(st.floats(), st.integers(), st.just(10**5000), st.booleans(), st.text(max_size=3)),
                                    "indicator": st.one_of(st.booleans(), st.integers(0, 1), st.none()),
                                    "categories": st.one_of(st.lists(st.one_of(st.text(max_size=3), st.integers()), max_size=4),
                                                            st.text(max_size=3), st.none()),
                                    "extra": st.integers()}),
    any_value,
)


@FUZZ
@given(encoding=st.one_of(st.fixed_dictionaries({"columns": st.lists(crafted_column, max_size=3)}),
                          st.dictionaries(st.text(max_size=8), any_value, max_size=2), any_value))
def test_a_crafted_encoding_is_accepted_whole_or_is_one_line(encoding):
    """check_encoding on a model.json 'encoding' as anyone may have edited it: a one-line DataError, or
    an encoding that encodes a row of missing cells into finite numbers."""
    checked = one_line_user_error(lambda: check_encoding(encoding))
    if checked is None:
        return
    enc = TabularEncoding.from_dict(checked)
    assert len(enc.feature_names()) == enc.width
    out = enc.transform_records([dict.fromkeys(enc.raw_names)])
    assert out.shape == (1, enc.width) and np.isfinite(out).all()
    json.dumps(enc.record_schema())


ROW = {"age": 41, "city": "Lyon", "income": None}


@pytest.mark.parametrize("records, words", [
    ([{**ROW, "age": 10**5000}], "column 'age' is a whole number of about 5000 digits; accepted: numbers within ±1e+15"),
    ([{**ROW, "city": -(10**4400)}], "column 'city' is a whole number of about 4400 digits"),
    ([{**ROW, None: 1}], "input 0: a column name is a null, not text; accepted: age, city, income"),
    ([{**ROW, 10**5000: 1}], "input 0: a column name is a whole number, not text"),
    ([{**ROW, "age": float("nan")}], "column 'age' is nan; accepted: numbers within ±1e+15 (null for a missing value)"),
    (None, "rows are a list of objects {column: value}; got a null"),
    (5, "rows are a list of objects {column: value}; got a whole number"),
    (ROW, "got one object (put it in a list)"),
    ([ROW, "Lyon"], "input 1 is a string; expected an object {column: value}"),
])
def test_bad_records_are_one_line_data_errors(records, words):
    """A whole number of 4,300 digits or more was a ValueError from str() (writing the message), rows that
    are not a list a TypeError (a dict was read as its keys: 'input 0 is a string'), an unknown key None
    was taken for 'no unknown key' and ignored."""
    with pytest.raises(DataError) as info:
        TabularEncoding.from_dict(ENCODING).transform_records(records)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_numpy_numbers_in_records_are_numbers():
    """np.int64 and np.float32 (a row from a DataFrame's iterrows) were refused: 'column 'age' is a int64;
    accepted: a number or null'. NumPy's booleans are still refused."""
    enc = TabularEncoding.from_dict(ENCODING)
    plain = enc.transform_records([{"age": 41, "city": 7, "income": 1500.5}])
    got = enc.transform_records([{"age": np.int64(41), "city": np.int32(7), "income": np.float32(1500.5)}])
    assert got.tolist() == plain.tolist() and plain[0, 5] == 1.0  # city "7" is a category seen in training
    with pytest.raises(DataError, match="column 'age' is a bool; accepted: a number or null"):
        enc.transform_records([{**ROW, "age": np.bool_(True)}])


def test_the_encoding_is_learned_after_the_validation_rows_are_held_out(tmp_path, capsys):
    """Validation rows with a category of their own, values that would move a median and a gap in a
    column complete elsewhere: the saved encoding is that of the rows that train, where it was the
    whole 80 % training split's (the validation score saw statistics of its own rows)."""
    import torch

    import nnforge

    df = iris_frame()
    train, _ = the_split(df)
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0)).numpy()  # Dataset.split_validation's
    n_val = round(len(train) * 0.2)
    val, kept = train[order[:n_val]], train[order[n_val:]]
    df.loc[val[:3], "color"] = "purple"  # a category only validation rows have
    df.loc[val, "sepal width (cm)"] = 100.0  # would move the median
    df.loc[val[3], "sepal length (cm)"] = np.nan  # would add an indicator
    assert df.loc[kept, GAPPY].isna().any()
    path = tmp_path / "iris.csv"
    df.to_csv(path, index=False)
    recipe, _ = as_recipe("digits_mlp", {**QUICK, "train.epochs": 1, "data.val_fraction": 0.2, "data.name": f"csv:{path}",
                                         "data.target": "target"})
    result = run(recipe, tmp_path / "run")
    assert capsys.readouterr().out.count("csv: 1 categorical column one-hot encoded") == 1
    pre = json.loads((result.dir / "model.json").read_text())["preprocessing"]
    want = expected_encoding(df.loc[kept])
    assert pre["encoding"] == want and want != expected_encoding(df.loc[train])
    assert "color=purple" not in pre["feature_names"] and "sepal length (cm)_missing" not in pre["feature_names"]
    assert result.history[-1]["val_accuracy"] is not None

    predictor = nnforge.load(result.dir)  # eval encodes the test rows with the saved encoding, as predict does
    rows = tmp_path / "rows.csv"
    df.iloc[the_split(df)[1]].drop(columns="target").to_csv(rows, index=False)
    predicted = np.stack([p for _, p in predictor.predict_files([rows])]).argmax(1)
    truth = [predictor.classes.index(v) for v in df.iloc[the_split(df)[1]]["target"]]
    capsys.readouterr()
    assert main(["eval", str(result.dir)]) == 0
    assert f"accuracy {np.mean(predicted == truth):.2%}" in capsys.readouterr().out


def test_the_validation_rows_and_a_fold_are_encoded_with_the_remaining_training_rows(tmp_path, capsys):
    df = iris_frame()
    train, test = the_split(df)
    df.loc[train[:30], "sepal width (cm)"] = 100.0
    path = tmp_path / "iris.csv"
    df.to_csv(path, index=False)
    ds = load_dataset({"name": f"csv:{path}", "target": "target"})
    from sklearn.model_selection import StratifiedKFold

    k_train, k_val = list(StratifiedKFold(3, shuffle=True, random_state=0).split(np.zeros(len(train)), ds.y_train.numpy()))[1]
    part = ds.fold(1, 3, 0)
    assert part.encoding == expected_encoding(df.iloc[train[k_train]]) != ds.encoding
    width = part.feature_names.index("sepal width (cm)")
    np.testing.assert_array_equal(part.x_val[:, width].numpy(), df.iloc[train[k_val]]["sepal width (cm)"].to_numpy(np.float32))
    median = df.iloc[train[k_train]][GAPPY].median()
    gap = part.feature_names.index(GAPPY)
    assert part.x_test.numpy()[df.iloc[test][GAPPY].isna().to_numpy(), gap].tolist() == pytest.approx([median] * df.iloc[test][GAPPY].isna().sum())
    assert capsys.readouterr().out.count("csv:") == 1


def test_a_column_only_validation_rows_fill_or_hold_text_in_is_one_line(tmp_path):
    import torch

    df = iris_frame().drop(columns="color")
    train, _ = the_split(df)
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0)).numpy()
    df["note"] = np.nan
    df.loc[train[order[:5]], "note"] = 1.0  # filled in validation rows alone
    path = tmp_path / "iris.csv"
    df.to_csv(path, index=False)
    ds = load_dataset({"name": f"csv:{path}", "target": "target"})
    with pytest.raises(DataError, match=r"^.*iris.csv: column 'note' is empty in every training row; drop it$"):
        ds.split_validation(0.2, 0)
    df = df.drop(columns="note").astype({"sepal width (cm)": object})
    row = train[order[0]]
    df.loc[row, "sepal width (cm)"] = "wide"  # text in a column numeric in every row that trains: as in a row to predict
    df.to_csv(path, index=False)
    ds = load_dataset({"name": f"csv:{path}", "target": "target"})
    assert "sepal width (cm)=wide" in ds.feature_names
    with pytest.raises(DataError, match=rf"^.*iris.csv: column 'sepal width \(cm\)' holds numbers in training but line {row + 2} "
                                        "has text: 'wide'; accepted: a number or an empty cell$"):
        ds.split_validation(0.2, 0)


def test_regression_learns_the_encoding_from_the_rows_left_after_validation(tmp_path, capsys):
    from nnforge.data.registry import load_table

    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"a": rng.normal(size=60).round(3), "kind": rng.choice(["x", "y"], 60), "target": rng.normal(size=60).round(3)})
    from sklearn.model_selection import train_test_split

    train, _ = train_test_split(np.arange(60), test_size=0.2, random_state=0)  # regression's fixed split
    order = np.random.RandomState(0).permutation(len(train))  # Table.split_validation's
    val, kept = train[order[:10]], train[order[10:]]
    frame.loc[val, "a"] = 50.0
    frame.loc[val[:2], "kind"] = "z"
    frame.loc[kept[:3], "a"] = np.nan
    path = tmp_path / "t.csv"
    frame.to_csv(path, index=False)
    want = {"columns": [{"name": "a", "kind": "numeric", "median": float(frame.loc[kept, "a"].median()), "indicator": True},
                        {"name": "kind", "kind": "categorical", "categories": ["x", "y"]}]}
    cfg = {"name": f"csv:{path}", "target": "target"}
    table = load_table(cfg).split_validation(0.2, 0)
    assert table.encoding == want and table.feature_names == ["a", "a_missing", "kind=x", "kind=y"]
    assert table.x_val[:2, 2:].tolist() == [[0.0, 0.0], [0.0, 0.0]]  # 'z': unseen in training, as in a row to predict
    assert load_table(cfg).fold(0, 3, 0).encoding["columns"][0]["median"] != load_table(cfg).encoding["columns"][0]["median"]
    recipe, _ = as_recipe("diabetes_mlp", {**QUICK, "task": "regress", "train.epochs": 1, "data.val_fraction": 0.2,
                                           "data.name": f"csv:{path}", "data.target": "target"})
    result = run(recipe, tmp_path / "run")
    assert json.loads((result.dir / "model.json").read_text())["preprocessing"]["encoding"] == want
    capsys.readouterr()
    assert main(["eval", str(result.dir)]) == 0 and "rmse" in capsys.readouterr().out.lower()


def test_a_number_category_matches_its_other_spellings():
    """Before: a JSON 7.0, or a CSV cell "7.0" written by pandas, was an unseen category (all zeros)
    beside the training file's "7"; text that is no number of a category stays unseen."""
    enc = TabularEncoding.from_dict(ENCODING)
    seven = enc.transform_records([{**ROW, "city": "7"}])
    assert seven[0, 5] == 1.0
    for spelling in (7, 7.0, "7.0", " 7.00 ", np.float32(7.0)):
        assert enc.transform_records([{**ROW, "city": spelling}]).tolist() == seven.tolist(), spelling
    for other in (7.5, "seven", 8):
        assert enc.transform_records([{**ROW, "city": other}])[0, 2:6].tolist() == [0, 0, 0, 0], other
    rows = enc.transform_table(["income", "city", "age"], [["", "7.0", "41"]], "rows.csv")
    assert rows.tolist() == seven.tolist()


def test_spellings_of_one_number_in_training_are_one_category():
    """Before: a text column holding '1' and '1.0' (two exports joined) made two one-hot features for
    one number, and a row to predict went to one of them or the other by its spelling."""
    enc = TabularEncoding.fit(["size"], [["1"], ["1.0"], ["large"], ["01"], ["2"], [""]], "t.csv")
    assert enc.columns[0]["categories"] == ["(missing)", "1", "2", "large"]
    one = enc.transform([["1"]], "rows.csv").tolist()
    for spelling in ("1.0", "01", " 1e0"):
        assert enc.transform([[spelling]], "rows.csv").tolist() == one, spelling
