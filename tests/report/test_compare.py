"""``nnforge compare``: the recipe keys that differ, the metrics with the best marked, the curves overlaid."""

from __future__ import annotations

import io
import json
import re

import pytest

from nnforge.cli import main
from nnforge.rundir import read_metrics


def _compare(capsys, *args) -> tuple[int, str, str]:
    rc = main(["compare", *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def _differing_keys(out: str) -> list[str]:
    lines = out.split("recipe keys that differ")[1].split("\n\n")[0].splitlines()[2:]
    return [line.split()[0] for line in lines]


def test_compare_lists_exactly_the_keys_that_differ_and_marks_the_best(run_folder, tmp_path, capsys):
    rc, out, err = _compare(capsys, run_folder / "strong", run_folder / "weak", "--out", tmp_path / "cmp")
    assert rc == 0 and err == ""
    assert out.startswith("2 classify runs on digits: strong, weak")
    assert sorted(_differing_keys(out)) == ["model.hidden", "train.optimizer.lr"]
    assert re.search(r"^model\.hidden\s+\[32\]\s+\[8\]$", out, re.M) and re.search(r"^train\.optimizer\.lr\s+0\.01\s+0\.0003$", out, re.M)
    accuracy = {name: read_metrics(run_folder / name)["test_accuracy"] for name in ("strong", "weak")}
    best = max(accuracy, key=accuracy.get)
    row = next(line for line in out.splitlines() if line.startswith(best + " "))
    assert f"{accuracy[best]:.2%} *" in row
    assert (tmp_path / "cmp" / "compare.png").stat().st_size > 10_000 and (tmp_path / "cmp" / "compare.html").is_file()


def test_a_glob_a_default_folder_and_a_partial_run(run_folder, capsys):
    rc, out, err = _compare(capsys, f"{run_folder}/st*")  # as quoted: expanded here (stopped, strong)
    assert rc == 0 and out.startswith("2 classify runs on digits: stopped, strong")
    assert "the recipes are the same: every resolved key is equal" in out
    assert re.search(r"^stopped\s.*\bpartial$", out, re.M)  # a partial run has curves and a status, no test metrics
    assert (run_folder / "compare-stopped-vs-strong" / "compare.html").is_file()
    assert main(["runs", str(run_folder)]) == 0
    listed, note = capsys.readouterr()
    assert "compare-" not in listed + note  # nnforge runs skips its own output folders, without a note


def test_runs_of_different_tasks_are_refused_in_one_line(digits_run, forecast_run, tmp_path, capsys):
    rc, out, err = _compare(capsys, digits_run.dir, forecast_run.dir, "--out", tmp_path / "x")
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "classify run" in err and "forecast run" in err and "compare runs of one task" in err
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("args, words", [
    (["{root}/strong"], "compare needs two runs or more; got 1"),
    (["{root}/strong", "{root}/holiday-photos"], "got 1"),
    (["{root}/nothing-*"], "matched no run directory"),
    (["{root}/strong", "{root}/no-such-run"], "not found"),
])
def test_mistakes_are_one_line(run_folder, capsys, args, words):
    rc, _, err = _compare(capsys, *(a.format(root=run_folder) for a in args))
    assert rc == 2 and words in err and len([line for line in err.splitlines() if line.startswith("error")]) == 1


def test_the_page_shows_every_run_in_chromium(run_folder, tmp_path, capsys):
    from PIL import Image

    from tests.browser import chromium

    runs = ["strong", "weak", "stopped"]
    assert main(["compare", *(str(run_folder / r) for r in runs), "--out", str(tmp_path / "cmp")]) == 0
    page = (tmp_path / "cmp" / "compare.html").read_text()
    assert not re.search(r"(src|href)=[\"']?(https?:|//)|url\((?!#)|@import", page)  # self-contained: nothing fetched
    with chromium(tmp_path, size="1200,1400") as driver:  # skips where selenium, chromium or chromedriver is missing
        from selenium.webdriver.common.by import By

        driver.get((tmp_path / "cmp" / "compare.html").as_uri())
        shot = Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("L")
        assert max(shot.getextrema()) - min(shot.getextrema()) > 100 and len(shot.getcolors(1 << 16)) > 20  # not blank
        for i in range(len(runs)):
            for curve in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
                line = driver.find_element(By.ID, f"run{i}-{curve}")
                size = driver.execute_script("var b = arguments[0].getBBox(); return [b.width, b.height]", line)
                assert size[0] > 0, (runs[i], curve, size)  # drawn, across the epochs it trained
        legend = [t.text for t in driver.find_elements(By.CSS_SELECTOR, ".curves svg text")]
        for name in runs:
            assert f"{name} (training)" in legend and f"{name} (validation)" in legend
        best = driver.find_elements(By.CSS_SELECTOR, "table.metrics td.best")
        accuracy = {r: read_metrics(run_folder / r)["test_accuracy"] for r in runs[:2]}
        row = driver.find_element(By.CSS_SELECTOR, f"table.metrics tr[data-run='{runs.index(max(accuracy, key=accuracy.get))}']")
        assert f"{max(accuracy.values()):.2%}" in [c.text.strip(" ★") for c in row.find_elements(By.CSS_SELECTOR, "td.best")]
        assert best and all(c.is_displayed() for c in best)


def test_runs_shows_each_task_its_own_test_metric(digits_run, forecast_run, tmp_path, capsys):
    import shutil

    for run in (digits_run, forecast_run):
        shutil.copytree(run.dir, tmp_path / "runs" / run.dir.name)
    assert main(["runs", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert f"MAE {forecast_run.metrics['test_mae']:.4g}" in next(line for line in out.splitlines() if line.startswith("sunspots"))
    assert f"accuracy {digits_run.metrics['test_accuracy']:.2%}" in out
    assert main(["runs", str(tmp_path / "runs"), "--sort", "metric"]) == 2
    assert "different test metrics (test_accuracy, test_mae)" in capsys.readouterr().err


def test_the_diff_walks_sections_and_compares_other_values_whole():
    from nnforge.report.compare import MISSING, recipe_diff

    a = {"seed": 0, "model": {"name": "mlp", "hidden": [32, 16]}, "train": {"optimizer": {"lr_mult": {}}}}
    b = {"seed": 0, "model": {"name": "mlp", "hidden": [32]}, "train": {"optimizer": {"lr_mult": {"features": 0.1}}}}
    c = {"seed": 1, "model": {"name": "mlp", "hidden": [32, 16]}}
    assert recipe_diff([a, b]) == [("model.hidden", [[32, 16], [32]]), ("train.optimizer.lr_mult.features", [MISSING, 0.1])]
    assert recipe_diff([a, a]) == []
    assert recipe_diff([a, b, c])[0] == ("seed", [0, 0, 1])


def test_runs_of_different_datasets_are_refused_in_one_line(run_folder):
    from dataclasses import replace

    from nnforge.report.compare import NotComparable, check_comparable
    from nnforge.runlist import read_run

    strong, weak = read_run(run_folder / "strong"), read_run(run_folder / "weak")
    check_comparable([strong, weak])
    elsewhere = replace(weak, recipe={**weak.recipe, "data": {**weak.recipe["data"], "name": "mnist-sample"}})
    with pytest.raises(NotComparable, match="a digits run and .* a mnist-sample run \\(datasets differ\\)"):
        check_comparable([strong, elsewhere])


def test_run_names_with_dollars_and_markup_are_drawn_and_escaped_as_text(run_folder, tmp_path, capsys):
    """Run folders are user text: "x$\\foo$y" was parsed as TeX math by matplotlib and the comparison
    failed with a traceback; markup in a name is shown, never run, in the table and the SVG."""
    import shutil

    names = ["x$\\foo$y", "<img src=x onerror=alert(1)>"]
    for source, name in zip(("strong", "weak"), names):
        shutil.copytree(run_folder / source, tmp_path / name)
    rc, out, err = _compare(capsys, *(tmp_path / n for n in names), "--out", tmp_path / "cmp")
    assert rc == 0 and err == "", err
    page = (tmp_path / "cmp" / "compare.html").read_text()
    assert "<img src=x" not in page and page.count("&lt;img src=x onerror=alert(1)&gt;") >= 4
    assert "x$\\foo$y (training)" in page  # the legend, as written


def test_a_file_among_the_runs_is_skipped_and_a_folder_of_runs_is_named(run_folder, tmp_path, capsys):
    """`compare runs/tune-STUDY/*` names the study's best.yaml and pictures too: it stopped on "run directory
    '.../best.yaml' not found" (the file is there). `compare runs/tune-STUDY` said "got 0", without why."""
    notes = tmp_path / "best.yaml"
    notes.write_text("seed: 0\n")
    rc, _, err = _compare(capsys, run_folder / "strong", run_folder / "weak", notes, "--out", tmp_path / "cmp")
    assert rc == 0 and f"skipped 1 file that is not a run: {notes}" in err
    rc, _, err = _compare(capsys, run_folder)
    assert rc == 2 and f"skipped '{run_folder}': not a run directory (it holds runs, such as '{run_folder}/" in err


def test_the_files_of_a_study_folder_are_skipped_in_one_note(run_folder, tmp_path, capsys):
    """`compare 'runs/tune-X/*'` printed one note per file of the study (best.yaml, study.json, pictures)."""
    import shutil

    study = tmp_path / "tune-x"
    for name in ("trial-000", "trial-001"):
        shutil.copytree(run_folder / "strong", study / name)
    files = ["best.yaml", "history.png", "importance.png", "parallel.png", "slices.png", "study.json", "trials.csv"]
    for name in files:
        (study / name).write_text("not a run\n")
    rc, _, err = _compare(capsys, f"{study}/*", "--out", tmp_path / "cmp")
    assert rc == 0 and err.splitlines() == [f"nnforge compare: note: skipped 7 files in '{study}' that are not runs: "
                                            "best.yaml, history.png, importance.png, parallel.png, slices.png and 2 more"], err


def test_eleven_runs_have_eleven_colours_in_the_picture_and_the_page(run_folder, tmp_path, capsys):
    """Ten colours went round: the 11th run was drawn, and its swatch shown, in the 1st run's colour."""
    import shutil

    for i in range(11):
        shutil.copytree(run_folder / "strong", tmp_path / "runs" / f"r{i:02d}")
    rc, _, _ = _compare(capsys, f"{tmp_path}/runs/r*", "--out", tmp_path / "cmp")
    page = (tmp_path / "cmp" / "compare.html").read_text()
    header = page.split("<table class='metrics'>")[1].split("</table>")[0]
    assert rc == 0 and len(set(re.findall(r"background:(#[0-9a-f]{6})", header))) == 11
    lines = {re.search(r'stroke: (#[0-9a-f]{6})', part).group(1) for part in page.split('<g id="run')[1:] if "-train_loss" in part[:20]}
    assert len(lines) == 11


def test_losses_of_different_loss_functions_are_not_ranked(run_folder, tmp_path, capsys):
    """A focal-loss run beside a cross-entropy one: test_loss marked the focal run best, for a smaller number
    on another scale. The loss columns are left unmarked, with a note; the accuracy still is marked."""
    import shutil

    shutil.copytree(run_folder / "strong", tmp_path / "focal")
    config = tmp_path / "focal" / "config.yaml"
    config.write_text(config.read_text().replace("name: cross_entropy", "name: focal", 1))
    metrics = json.loads((tmp_path / "focal" / "metrics.json").read_text())
    metrics.update(test_loss=metrics["test_loss"] / 3, test_accuracy=metrics["test_accuracy"] - 0.01)  # focal loss is smaller
    (tmp_path / "focal" / "metrics.json").write_text(json.dumps(metrics))
    rc, out, err = _compare(capsys, run_folder / "strong", tmp_path / "focal", "--out", tmp_path / "cmp")
    assert rc == 0 and "train.loss.name" in _differing_keys(out)
    assert "no best marked for test_loss: the runs differ in train.loss.name" in err
    header, *rows = out.split("metrics (* the best of each column):\n")[1].split("\n\n")[0].splitlines()
    rows = [row for row in rows if row.startswith(("strong ", "focal "))]
    column = header.split().index("test_loss")
    assert not any("*" in _cells(row)[column] for row in rows)
    assert "*" in _cells(next(row for row in rows if row.startswith("strong")))[header.split().index("test_accuracy")]


@pytest.mark.parametrize("edit, marked", [
    (("class_weight: null", "class_weight: balanced"), True),  # weighs training only: the same test criterion
    (("sampling: none", "sampling: oversample"), True),  # samples the training split only
    (("label_smoothing: 0.0", "label_smoothing: 0.1"), False),  # another criterion
])
def test_a_loss_is_ranked_exactly_when_the_runs_test_losses_measure_one_criterion(run_folder, tmp_path, capsys, edit, marked):
    """test_loss is the training criterion without class weights (nnforge.train.evaluate): runs that differed
    only in train.loss.class_weight were left unmarked though their losses measure the same thing."""
    import shutil

    shutil.copytree(run_folder / "strong", tmp_path / "other")
    config = tmp_path / "other" / "config.yaml"
    assert edit[0] in config.read_text()
    config.write_text(config.read_text().replace(*edit, 1))
    metrics = json.loads((tmp_path / "other" / "metrics.json").read_text())
    metrics.update(test_loss=metrics["test_loss"] / 2)
    (tmp_path / "other" / "metrics.json").write_text(json.dumps(metrics))
    rc, out, err = _compare(capsys, run_folder / "strong", tmp_path / "other", "--out", tmp_path / "cmp")
    assert rc == 0 and len(_differing_keys(out)) == 1
    header, *rows = out.split("metrics (* the best of each column):\n")[1].split("\n\n")[0].splitlines()
    other = _cells(next(row for row in rows if row.startswith("other ")))
    assert ("*" in other[header.split().index("test_loss")]) == marked
    assert ("no best marked for test_loss" in err) == (not marked), err


def _cells(row: str) -> list[str]:
    return re.split(r"\s{2,}", row.strip())


def test_an_option_the_runs_optimizer_never_read_is_a_dash(run_folder, tmp_path, capsys):
    """An SGD run with momentum 0.9 beside an Adam run: the diff showed `momentum 0.0` for Adam, an option
    torch's Adam never reads (the recipe's default), as if it had trained without momentum. Now its cell is "—",
    in the terminal and in the page."""
    import nnforge

    base = {"data.name": "digits", "model.name": "mlp", "model.hidden": [32], "train.epochs": 2, "train.optimizer.name": "sgd",
            "train.optimizer.lr": 0.01, "train.optimizer.momentum": 0.9, "train.progress": "none", "threads": 1}
    nnforge.fit(None, tmp_path / "sgd", overrides=base)
    rc, out, _ = _compare(capsys, run_folder / "strong", tmp_path / "sgd", "--out", tmp_path / "cmp")
    assert rc == 0 and sorted(_differing_keys(out)) == ["train.optimizer.momentum", "train.optimizer.name"]
    assert re.search(r"^train\.optimizer\.momentum\s+—\s+0\.9$", out, re.M)
    assert "<td>—</td><td>0.9</td>" in (tmp_path / "cmp" / "compare.html").read_text()


def test_an_unread_option_at_its_default_in_every_run_that_reads_it_is_no_row():
    """SGD without momentum beside Adam: momentum 0.0 against "—" says nothing the optimizer's row does
    not. Rows where the runs that read an option differ, or hold more than its default, stay."""
    from nnforge.report.compare import NOT_READ, recipe_diff, unread_options

    def recipe(name, momentum=0.0, betas=(0.9, 0.999)):
        return {"train": {"optimizer": {"name": name, "momentum": momentum, "betas": list(betas)},
                          "scheduler": {"name": "none", "gamma": 0.1}}}

    recipes = [recipe("sgd"), recipe("adam", betas=(0.8, 0.99)), recipe("sgd", momentum=0.9), recipe("adam")]
    rows = dict(unread_options(recipe_diff(recipes), recipes))
    assert rows == {"train.optimizer.name": ["sgd", "adam", "sgd", "adam"],
                    "train.optimizer.momentum": [0.0, NOT_READ, 0.9, NOT_READ],
                    "train.optimizer.betas": [NOT_READ, [0.8, 0.99], NOT_READ, [0.9, 0.999]]}
    two = recipes[:1] + recipes[3:]
    assert dict(unread_options(recipe_diff(two), two)) == {"train.optimizer.name": ["sgd", "adam"]}


def test_an_option_of_a_feature_the_run_left_off_is_a_dash():
    """Early stopping with min_delta 0.01 beside a run without early stopping: the other run's min_delta 0.0
    read as a setting it trained with. It is "—" now; a run that no longer resolves keeps its values."""
    from nnforge.config import default_config
    from nnforge.report.compare import NOT_READ, recipe_diff, unread_options

    off = default_config().to_dict()
    on = default_config().with_overrides({"train.early_stopping.patience": 3, "train.early_stopping.min_delta": 0.01}).to_dict()
    rows = dict(unread_options(recipe_diff([on, off]), [on, off]))
    assert rows == {"train.early_stopping.patience": [3, 0], "train.early_stopping.min_delta": [0.01, NOT_READ]}
    old = {**off, "train": {**off["train"], "no_longer_a_key": 1}}
    rows = dict(unread_options(recipe_diff([on, old]), [on, old]))
    assert rows["train.early_stopping.min_delta"] == [0.01, 0.0]
