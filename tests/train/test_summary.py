"""``nnforge summary``: a recipe's model summarised without training (built as training builds it),
the scratch twin beside it, ``summary.json`` in every finished run, shown by ``nnforge report``."""

import json
import shutil

import pytest

from nnforge.cli import main
from nnforge.rundir import read_summary
from nnforge.train.summary import summarize_recipe
from tests.train.conftest import fast_config


def test_a_recipe_is_summarised_without_training(tmp_path):
    recipe = fast_config("model.name=cnn", "model.channels=[4, 8]", "model.hidden=16", "train.freeze=['features.0.*']",
                         "data.batch_size=32")
    s = summarize_recipe(recipe, budget_s=0.0)
    rows = {r["name"]: r for r in s["rows"]}
    assert s["input_shape"] == [1, 8, 8] and rows["classifier.3"]["output_shape"] == [10]  # digits: 8x8, 10 classes
    assert rows["features.0"]["frozen"] == 4 * 9 + 4 and rows["features.0"]["trainable"] == 0
    assert rows["features.0"]["macs"] == 4 * 8 * 8 * 9 and rows["features.0"]["activation_bytes"] == 4 * 8 * 8 * 4 * 32
    assert s["scratch"]["parameters"] == s["trainable"] + s["frozen"]  # the twin has the same weights
    for engine in ("torch", "scratch"):
        assert set(s["latency"][engine]) == {"batch_1", "batch_64"} and min(s["latency"][engine].values()) > 0
    assert not list(tmp_path.iterdir())  # nothing trained, nothing written


def test_a_run_writes_summary_json_and_the_cli_and_report_show_it(digits_run, capsys):
    s = read_summary(digits_run.dir)
    assert s["trainable"] == digits_run.metrics["parameters"] and s["total_macs"] == 64 * 64 + 64 * 10  # mlp [64] on 8x8
    assert main(["summary", str(digits_run.dir)]) == 0
    out = capsys.readouterr().out
    assert "layers.0" in out and "4,736" in out and "latency per input" in out and "scratch" in out
    assert main(["summary", str(digits_run.dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == s
    assert main(["report", str(digits_run.dir)]) == 0
    from tests.report.test_html import _Page

    page = _Page((digits_run.dir / "report.html").read_text())
    table = next(t for t in page.tables if t and t[0][0] == "layer")
    assert table[-1][0] == "total" and table[-1][5] == "4,736" and [r[0] for r in table[1:3]] == ["flatten", "layers.0"]


def test_summary_of_a_recipe_file_on_the_command_line(tmp_path, capsys):
    assert main(["summary", "digits_mlp", "--set", "model.hidden=[16]", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["total_macs"] == 64 * 16 + 16 * 10
    assert main(["summary", str(tmp_path / "missing.yaml")]) == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.parametrize("edit", [lambda s: [s], lambda s: {k: v for k, v in s.items() if k != "batch_size"},
                                  lambda s: {**s, "rows": [{"name": "x"}]},
                                  # before: these reached the formatting and escaped as ValueError / AttributeError
                                  lambda s: {**s, "total_macs": "many"}, lambda s: {**s, "latency": {"torch": "fast"}},
                                  lambda s: {**s, "rows": [{**r, "macs": "x"} for r in s["rows"]]},
                                  lambda s: {**s, "rows": [{**r, "output_shape": 64} for r in s["rows"]]},
                                  lambda s: {**s, "scratch": None}],
                         ids=["a list", "a key missing", "a row cut down", "a total as text", "a latency as text",
                              "a row's MACs as text", "an output shape as a number", "scratch parameters missing"])
def test_a_damaged_summary_json_is_one_line_naming_it(digits_run, tmp_path, capsys, edit):
    run = shutil.copytree(digits_run.dir, tmp_path / "run")
    (run / "summary.json").write_text(json.dumps(edit(read_summary(run))))
    for command in ("summary", "report"):
        assert main([command, str(run)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "summary.json: not a model summary" in err, err


def test_a_fold_run_summarised_with_overrides_has_the_models_input_width(tmp_path):
    """A `tune --cv` trial run on a csv whose held-out fold had the only 'rare' row: its model takes 6
    features. `nnforge summary RUN --set ...` built the data again by data.val_fraction, whose
    encoding has 7; now it encodes as the run's model does."""
    from nnforge.train import run
    from nnforge.train.summary import summarize
    from tests.compress.test_compress import _gappy_table

    _, config = _gappy_table(tmp_path)
    result = run(config, tmp_path / "fold", fold=(1, 3), pictures=False)
    width = json.loads((result.dir / "model.json").read_text())["preprocessing"]["input_shape"]
    assert width == [6]  # the table's seed puts 'kind=rare' in this fold's validation rows
    s = summarize(result.dir, ["model.hidden=[8]"], budget_s=0.0)
    assert s["input_shape"] == width and next(r for r in s["rows"] if r["trainable"])["trainable"] == (6 + 1) * 8
