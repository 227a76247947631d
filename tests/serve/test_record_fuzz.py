"""Hypothesis against the served record path of a model trained on a CSV with a text column and
empty cells: rows as ``{column: value}`` objects of every wrong shape (wrong types, unknown and
missing columns, long text, nested values, NaN and infinities, numbers as text, unseen categories,
duplicate keys, raw JSON). Each answer is 200 or a 4xx JSON error, never a 500; and the server
accepts exactly the rows the library accepts (``TabularEncoding.transform_records``), with its
prediction."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnforge.errors import UserError
from tests.serve.test_service import IRIS_ROW, call

COLUMNS = list(IRIS_ROW)
FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**20, 10**20), st.integers(-10**99, 10**99),
    st.floats(allow_nan=False, allow_infinity=False), st.floats(-10, 10),
    st.sampled_from(["red", "green", "blue", "purple", "", " red ", "NA", "nan", "(missing)", "5.1", "1e400", "inf", "\ud800"]),
    st.text(max_size=20), st.text(min_size=990, max_size=1010),
)
values = st.one_of(scalars, st.lists(scalars, max_size=3), st.dictionaries(st.text(max_size=5), scalars, max_size=2))


@st.composite
def records(draw):
    """A row near the real one: each column kept, dropped or changed, maybe an unknown one added."""
    record = {}
    for name, value in IRIS_ROW.items():
        choice = draw(st.sampled_from(["keep", "keep", "drop", "change"]))
        if choice == "keep":
            record[name] = value
        elif choice == "change":
            record[name] = draw(values)
    if draw(st.booleans()):
        record[draw(st.sampled_from(["colour", "", "Color", "sepal length", "__proto__"]) | st.text(max_size=8))] = draw(values)
    return record


@st.composite
def bodies(draw) -> tuple[bytes, list | None, bool]:
    """(raw JSON body, its rows where every example is a record, else None; whether a key is given twice)."""
    kind = draw(st.sampled_from(["records", "records", "bare", "mixed", "duplicate", "raw"]))
    if kind == "records":
        rows = draw(st.lists(records(), min_size=1, max_size=3))
        return json.dumps({"inputs": rows}).encode(), rows, False
    if kind == "bare":  # one object, not in a list
        return json.dumps({"inputs": draw(records())}).encode(), None, False
    if kind == "mixed":  # an object beside something that is not a row
        return json.dumps({"inputs": [IRIS_ROW, draw(values)]}).encode(), None, False
    if kind == "duplicate":  # a column given twice: which one counts depends on the parser
        name = draw(st.sampled_from(COLUMNS))
        row = json.dumps(IRIS_ROW)[:-1] + f", {json.dumps(name)}: {json.dumps(draw(scalars))}}}"
        return ('{"inputs": [' + row + "]}").encode(), None, True
    raw = draw(st.sampled_from([
        '{"inputs": [{1: 2}]}', '{"inputs": [{"color": NaN}]}', '{"inputs": [{"sepal length (cm)": Infinity}]}',
        '{"inputs": [{"sepal length (cm)": 1e999}]}', '{"inputs": [{"sepal length (cm)": -1e999}]}',
        '{"inputs": [{"color": ' + "9" * 5000 + "}]}", '{"inputs": [{"color": [[[[[[[[[["red"]]]]]]]]]]}]}',
        '{"inputs": [{"color": "red"}', '{"inputs": [{}]}', '{"inputs": {}}', '{"inputs": [{"color": "\\ud800"}]}',
        '{"inputs": [' + '{"a": ' * 200 + "1" + "}" * 200 + "]}",
    ]))
    return raw.encode(), None, False


@pytest.fixture(scope="module")
def served(encoded_run):
    import nnforge
    from nnforge.serve.app import create_app

    return create_app(encoded_run), nnforge.load(encoded_run)


@FUZZ
@given(body=bodies())
def test_any_record_body_is_answered_200_or_4xx_as_the_library_decides(served, body):
    app, predictor = served
    data, rows, duplicate = body
    (response,) = call(app, [("POST", "/v1/predict/batch?k=3", {"content": data, "headers": {"Content-Type": "application/json"}})])
    assert response.status_code < 500, response.text
    answer = response.json()
    if response.status_code != 200:
        assert 400 <= response.status_code < 500 and set(answer) >= {"error", "detail"}, answer
        assert "\n" not in answer["detail"] and "Traceback" not in answer["detail"]
    if duplicate:
        assert response.status_code == 400 and "appears twice in one object" in answer["detail"], answer
    if rows is None:
        return
    try:
        expected = predictor.predict(rows)
    except UserError as exc:
        assert response.status_code in (400, 422), (response.status_code, answer, str(exc))  # 400: an int of 100+ digits
        return
    assert response.status_code == 200, answer
    assert [p["class"] for p in answer["predictions"]] == [e.label for e in expected]


@pytest.mark.parametrize("body", [
    ('{"inputs": [{"sepal length (cm)": 5.1, "sepal width (cm)": 3.5, "color": "red", "petal length (cm)": 1.4, '
     '"petal width (cm)": 0.2, "color": null}]}'),
    '{"inputs": [[5.1, 3.5, 0, 0, 1, 1.4, 0.2, 0]], "inputs": [{}]}',
])
def test_a_key_given_twice_is_400(served, body):
    """A column (or the field 'inputs') given twice in one object was answered with the last one's
    prediction; parsers disagree on which one counts, so it is refused, naming the key."""
    (response,) = call(served[0], [("POST", "/v1/predict", {"content": body.encode(), "headers": {"Content-Type": "application/json"}})])
    assert response.status_code == 400 and response.json()["error"] == "invalid JSON"
    assert "appears twice in one object; send each key once" in response.json()["detail"]
