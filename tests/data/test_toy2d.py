"""The playground's datasets: each kind has the shape its name promises, splits and features are
as specified, a spec is reproducible and survives the trip through a recipe's data.name."""

from __future__ import annotations

import numpy as np
import pytest

from nnforge.errors import DataError
from nnforge.data.sources.toy2d import DOMAIN, KINDS, DataSpec, feature_columns, make_dataset


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_is_balanced_in_the_plane_and_reproducible(kind):
    spec = DataSpec(kind=kind, samples=400, noise=10, train_ratio=70, seed=3)
    pts = make_dataset(spec)
    assert len(pts.y_train) == 280 and len(pts.y_test) == 120
    labels = np.concatenate([pts.y_train, pts.y_test])
    assert set(labels) == {0, 1} and 0.35 < labels.mean() < 0.65
    assert np.abs(np.concatenate([pts.xy_train, pts.xy_test])).max() <= DOMAIN
    again = make_dataset(spec)
    np.testing.assert_array_equal(pts.xy_train, again.xy_train)
    assert not np.array_equal(pts.xy_train, make_dataset(DataSpec(kind=kind, samples=400, noise=10, seed=4)).xy_train[:280])


def test_the_shapes_are_what_the_names_say():
    xy = np.concatenate([(p := make_dataset(DataSpec(kind="circle", samples=400))).xy_train, p.xy_test])
    y = np.concatenate([p.y_train, p.y_test])
    radius = np.hypot(xy[:, 0], xy[:, 1])
    assert radius[y == 1].max() < radius[y == 0].min()  # noise 0: the inner ring is one class
    p = make_dataset(DataSpec(kind="xor", samples=400))
    assert np.array_equal(p.y_train, (p.xy_train[:, 0] * p.xy_train[:, 1] < 0).astype(int))
    p = make_dataset(DataSpec(kind="gauss", samples=400))
    assert np.array_equal(p.y_train, (p.xy_train.sum(1) < 0).astype(int))  # well separated at noise 0
    # noise moves points: the same spec with noise differs from the clean one
    assert not np.allclose(make_dataset(DataSpec(kind="moons", noise=30)).xy_train, make_dataset(DataSpec(kind="moons")).xy_train)


def test_features_are_the_named_functions_of_the_coordinates():
    xy = np.array([[1.0, -2.0], [0.5, 3.0]])
    cols = feature_columns(xy, ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"])
    a, b = xy.T
    np.testing.assert_allclose(cols, np.stack([a, b, a * a, b * b, a * b, np.sin(a), np.sin(b)], 1))


def test_spec_round_trips_through_a_recipe_name_and_loads_as_a_dataset():
    from nnforge.data import load_dataset

    spec = DataSpec(kind="spiral", samples=300, noise=15, train_ratio=60, seed=2, features=("x1", "x2", "sin(x1)"))
    assert DataSpec.parse(spec.query()) == spec
    ds = load_dataset({"name": f"playground:{spec.query()}"})
    pts = make_dataset(spec)
    assert ds.kind == "tabular" and ds.input_shape == (3,) and ds.classes == ["orange", "blue"]
    np.testing.assert_allclose(ds.x_train.numpy(), pts.x_train, rtol=1e-6)
    np.testing.assert_array_equal(ds.y_test.numpy(), pts.y_test)


@pytest.mark.parametrize("text, words", [
    ("nosuch?samples=100", "unknown playground dataset"),
    ("xor?colour=red", "option 'colour' unknown"),
    ("xor?samples=many", "not a number"),
    ("xor?features=x1,x3", "not accepted"),
    ("xor?samples=5", "samples 10-2000"),
])
def test_bad_recipe_names_are_one_line_data_errors(text, words):
    with pytest.raises(DataError, match=words):
        DataSpec.parse(text)
