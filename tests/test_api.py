"""The Python surface a practitioner reaches for first: nnforge.fit, nnforge.load(...).predict, nnforge.runs,
and scratch tensors that behave like torch's where a torch user's habits reach."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import nnforge
from nnforge import scratch
from nnforge.config import load_config
from nnforge.errors import DataError, UserError

QUICK = {"data.name": "digits", "model.name": "mlp", "model.hidden": [32], "train.epochs": 3, "train.optimizer.name": "adam",
         "train.optimizer.lr": 0.01, "train.progress": "none"}


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    return nnforge.fit("mnist_mlp", out=tmp_path_factory.mktemp("api") / "run", overrides={**QUICK, "data.augment.rotate": 0.0,
                                                                                              "data.augment.shift": 0.0,
                                                                                              "data.augment.clean_epochs": 0})


def test_fit_takes_a_recipe_name_a_path_a_dict_or_a_typed_recipe(tmp_path, digits_run):
    assert digits_run.config.train.epochs == 3 and digits_run.metrics["test_accuracy"] > 0.8
    as_dict = nnforge.fit({"data": {"name": "digits"}, "model": {"name": "mlp", "hidden": [8]},
                           "train": {"epochs": 1, "progress": "none"}}, tmp_path / "dict")
    assert as_dict.config.model["hidden"] == [8] and (tmp_path / "dict" / "metrics.json").is_file()
    typed = nnforge.fit(load_config(None, [f"{k}={v}" for k, v in QUICK.items()]), tmp_path / "typed", overrides={"train.epochs": 1})
    assert typed.metrics["epochs"] == 1
    from_path = nnforge.fit("nnforge/configs/digits_mlp.yaml", tmp_path / "path", overrides={"train.epochs": 1, "train.progress": "none"})
    assert from_path.config.model["hidden"] == [128, 64]


@pytest.mark.parametrize("call, words", [
    (lambda: nnforge.fit("no_such_recipe"), "recipe 'no_such_recipe' not found"),
    (lambda: nnforge.fit({"train": {"epoch": 2}}), "did you mean 'epochs'"),
    (lambda: nnforge.fit("digits_mlp", overrides={"train.optimizer.lr": "fast"}), "'train.optimizer.lr' is 'fast'"),
    (lambda: nnforge.fit(42), "a recipe is a YAML path"),
    (lambda: nnforge.load("no/such/run"), "not found"),
    (lambda: nnforge.runs("no/such/folder"), "not a folder of runs"),
    # before: tracebacks (ValueError from dict(), TypeError from Path(), TypeError from Path(None))
    (lambda: nnforge.fit("digits_mlp", overrides="train.epochs=2"), "overrides map dotted keys to values.*got str 'train.epochs=2'"),
    (lambda: nnforge.fit({"data": {"name": "digits"}}, out=3), "out is the run directory to write, a path; got int 3"),
    (lambda: nnforge.load(None), r"load takes a run directory \(a path, or the Run that nnforge.fit returned\); got NoneType"),
])
def test_bad_arguments_are_one_line_user_errors(call, words):
    with pytest.raises(UserError, match=words) as err:
        call()
    assert "\n" not in str(err.value)


def test_resume_without_out_is_refused_not_a_new_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserError, match="resume continues the run in out; pass out=RUN"):
        nnforge.fit({"data": {"name": "digits"}, "model": {"name": "mlp", "hidden": [4]}, "train": {"epochs": 1, "progress": "none"}},
                    resume=True)
    assert not (tmp_path / "runs").exists()  # before: a fresh run was trained into runs/run-TIMESTAMP


def test_predict_takes_files_images_arrays_and_tensors_one_or_a_batch(digits_run, tmp_path):
    from PIL import Image

    from nnforge.data import load_dataset

    model = nnforge.load(digits_run.dir)
    ds = load_dataset({"name": "digits"})
    x, y = ds.x_test[:20], ds.y_test[:20].numpy()
    batch = model.predict(x.numpy())
    assert isinstance(batch, list) and len(batch) == 20
    assert np.mean([int(p.label) == t for p, t in zip(batch, y)]) > 0.75
    one = model.predict(x[0])  # a (1, 8, 8) tensor: one prediction
    assert one.label == batch[0].label and abs(sum(one.probabilities.values()) - 1) < 1e-5
    assert len(one.top) == 3 and one.top[0]["class"] == one.label
    assert model.predict(x[0, 0].numpy()).label == one.label  # (H, W) works for a one-channel model
    assert [p.label for p in model.predict(x[:, 0])] == [p.label for p in batch]  # (N, H, W) too
    path = tmp_path / "digit.png"
    Image.fromarray(x[0, 0].numpy().astype(np.uint8)).save(path)
    from_file = model.predict(str(path), top=5)
    assert from_file.source == str(path) and len(from_file.top) == 5
    assert model.predict(Image.open(path)).label == from_file.label
    assert [p.label for p in model.predict([path, path])] == [from_file.label] * 2


def test_predict_takes_a_list_of_arrays_or_tensors_as_a_batch(digits_run):
    from nnforge.data import load_dataset

    model, x = nnforge.load(digits_run.dir), load_dataset({"name": "digits"}).x_test[:3].numpy()
    whole = [p.label for p in model.predict(x)]
    assert [p.label for p in model.predict([x[0], x[1], x[2]])] == whole  # was: "cannot predict from ndarray; accepted: ... a NumPy array"
    assert [p.label for p in model.predict([torch.from_numpy(x[0, 0]), x[1:]])] == whole  # one (H, W) tensor, then a batch of two
    with pytest.raises(DataError, match=r"shape \(3, 3\) does not fit"):
        model.predict([x[0], np.zeros((3, 3))])
    # nested lists of numbers are read as NumPy reads them; before: "cannot predict from list" / "from float"
    assert model.predict(x[0, 0].tolist()).label == whole[0] and [p.label for p in model.predict(x[:, 0].tolist())] == whole
    with pytest.raises(DataError, match="nested lists must hold numbers, in rows of one length"):
        model.predict([[1, 2], [3]])


@pytest.mark.parametrize("bad, words", [
    (np.zeros((3, 3)), r"shape \(3, 3\) does not fit"), (np.full((8, 8), 300.0), "0-255"),
    (np.array([True] * 64).reshape(8, 8), "bool"),
    (np.linspace(0, 1, 64).reshape(8, 8), "within 0-1, with fractions.*multiply them by 255"),  # before: read as a black image
    ([], "nothing to predict"), ({"a": 1}, "cannot predict from dict"),
])
def test_predict_refuses_what_does_not_fit_in_one_line(digits_run, bad, words):
    with pytest.raises(DataError, match=words):
        nnforge.load(digits_run.dir).predict(bad)


def test_runs_lists_runs_newest_first(digits_run):
    listed = nnforge.runs(digits_run.dir.parent)
    assert [r.dir for r in listed] == [digits_run.dir] and listed[0].state == "complete"
    assert listed[0].score.startswith("test accuracy") and listed[0].epochs == 3


def test_a_run_a_listed_run_and_a_model_show_as_one_short_line(digits_run):
    # before: the dataclasses' own reprs (the whole model, recipe, per-class table and confusion matrix: kilobytes in a notebook)
    # and "<nnforge.predictor.Predictor object at 0x...>"
    shown = [repr(digits_run), repr(nnforge.runs(digits_run.dir.parent)[0]), repr(nnforge.load(digits_run.dir))]
    assert all("\n" not in s and len(s) < 200 and str(digits_run.dir) in s for s in shown), shown
    assert "epochs=3" in shown[0] and "test_accuracy=0." in shown[0] and "score='test accuracy" in shown[1]
    assert "classify, image input (1, 8, 8), 10 classes" in shown[2]


def test_load_takes_the_run_fit_returned_and_refuses_an_unknown_device_in_one_line(digits_run):
    assert nnforge.load(digits_run).run_dir == digits_run.dir  # was: TypeError 'expected str, bytes or os.PathLike object, not Run'
    assert nnforge.load(nnforge.runs(digits_run.dir.parent)[0]).run_dir == digits_run.dir
    with pytest.raises(UserError, match="device 'tpu' is not one nnforge runs models on; accepted: cpu, cuda"):
        nnforge.load(digits_run.dir, device="tpu")  # was torch's RuntimeError listing every device type


def test_runs_takes_one_filter_as_a_string(digits_run):
    # before: the string was read letter by letter ("--filter expects KEY=VALUE ...; got 's'")
    assert [r.dir for r in nnforge.runs(digits_run.dir.parent, filters="status=finished")] == [digits_run.dir]


def test_public_functions_say_what_a_caller_may_rely_on(digits_run):
    for obj in (nnforge.fit, nnforge.load, nnforge.runs, nnforge.load(digits_run.dir).predict, type(nnforge.load(digits_run.dir))):
        assert obj.__doc__ and len(obj.__doc__.split()) > 8, obj


def test_scratch_tensors_follow_torch_habits():
    t = scratch.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert np.asarray(t) is t.data and np.asarray(t, dtype=np.float64).dtype == np.float64
    s = t.sum()
    assert float(s) == 10.0 and int(s) == 10 and s.item() == 10.0 and t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    assert t.to("cpu") is t and t.cpu() is t and t.numpy() is t.data and len(t) == 2
    rows = list(t)
    assert len(rows) == 2 and rows[1].tolist() == [3.0, 4.0]
    assert (t > 2).tolist() == [[False, False], [True, True]] and (t == 1).tolist() == [[True, False], [False, False]]
    with pytest.raises(RuntimeError):
        t.item()
    with pytest.raises(RuntimeError):
        t.to("cuda")
    x = scratch.tensor([1.0, 2.0], requires_grad=True)
    sum(r * r for r in x).backward()  # iteration keeps the graph, as in torch
    assert x.grad.tolist() == [2.0, 4.0]
    assert torch.tensor(np.asarray(scratch.tensor([1.0]))).item() == 1.0
