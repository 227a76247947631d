import re
from html.parser import HTMLParser

import pytest

from nnforge.cli import main


def test_report_is_self_contained_and_shows_the_run(digits_run, capsys):
    assert main(["report", str(digits_run.dir)]) == 0
    page = (digits_run.dir / "report.html").read_text()
    assert f"{digits_run.metrics['test_accuracy']:.2%}" in page
    assert len(re.findall(r"data:image/png;base64,", page)) >= 2  # curves and confusion inlined
    assert "<table>" in page and "precision" in page
    assert "http://" not in page and "https://" not in page


def test_report_of_a_non_run_is_a_user_error(tmp_path):
    from nnforge.errors import RunError
    from nnforge.report.html import build_report

    with pytest.raises(RunError, match="metrics.json"):
        build_report(tmp_path)


def test_a_folder_of_runs_is_one_line_naming_a_run_inside(digits_run, tmp_path, capsys):
    """`nnforge report runs/tune-STUDY` after a search (or `nnforge serve` of it): "has no metrics.json; pass
    a finished run directory", with no word that the folder holds the runs. Now the line names one of them."""
    import shutil

    from nnforge.errors import RunError
    from nnforge.rundir import read_model_meta, read_recipe

    study = tmp_path / "tune-s"
    for name in ("trial-001", "trial-000"):
        shutil.copytree(digits_run.dir, study / name, ignore=shutil.ignore_patterns("checkpoints"))
    (study / "best.yaml").write_text("seed: 0\n")
    assert main(["report", str(study)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"('{study}' holds 2 runs, such as '{study / 'trial-000'}': pass one of them)" in err
    for read in (read_model_meta, read_recipe):
        with pytest.raises(RunError, match="holds 2 runs, such as .*trial-000'"):
            read(study)
    with pytest.raises(RunError) as info:  # a folder with no run inside: the line as it was
        read_model_meta(tmp_path)  # it holds tune-s, a folder of runs, not a run
    assert "holds" not in str(info.value)


def test_the_weakest_class_is_marked_only_when_there_is_one():
    from nnforge.report.html import _per_class_table

    row = lambda name, f1: {"class": name, "precision": f1, "recall": f1, "f1": f1, "support": 5}  # noqa: E731
    assert _per_class_table([row("a", 0.9), row("b", 0.7), row("c", 0.95)]).count("class=low") == 1
    assert "class=low" not in _per_class_table([row("a", 1.0), row("b", 1.0)])


class _Page(HTMLParser):
    """The parts of report.html the tests look at: tables (as rows of cell texts), <pre> texts,
    gallery images, card texts."""

    def __init__(self, text: str):
        super().__init__()
        self.tables, self.pres, self.gallery_images, self.cards = [], [], [], []
        self._stack: list[str] = []
        self._cell: list[str] | None = None
        self._in_gallery = self._in_card = 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self._stack.append(tag)
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "pre":
            self.pres.append("")
        elif tag == "div" and "gallery" in (attrs.get("class") or ""):
            self._in_gallery = len(self._stack)
        elif tag == "div" and attrs.get("class") == "card":
            self.cards.append("")
            self._in_card = len(self._stack)
        elif tag == "img" and self._in_gallery:
            self.gallery_images.append(attrs)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        if tag == "div" and self._in_gallery == len(self._stack):
            self._in_gallery = 0
        if tag == "div" and self._in_card == len(self._stack):
            self._in_card = 0
        while self._stack and self._stack.pop() != tag:
            pass

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        if "pre" in self._stack:
            self.pres[-1] += data
        if self._in_card:
            self.cards[-1] += data + " "


def test_a_forecast_run_shows_its_errors_the_naive_baseline_and_the_plot(forecast_run, capsys):
    assert main(["report", str(forecast_run.dir)]) == 0
    text = (forecast_run.dir / "report.html").read_text()
    page = _Page(text)
    m = forecast_run.metrics
    cards = " ".join(page.cards)
    assert "nan" not in cards.lower() and "accuracy" not in cards
    assert f"{m['test_mae']:.2f} test MAE" in cards and f"{m['test_rmse']:.2f} test RMSE" in cards
    assert f"{m['naive_mae']:.2f} / {m['naive_rmse']:.2f} naive" in cards
    assert f"{m['skill_vs_naive']:+.1%} skill vs naive" in cards
    assert "<h2>Forecast (test)</h2><img" in text  # forecast.png, inlined as its own section


def test_markdown_tables_are_html_tables_and_thumbnails_open_full_size(digits_run, tmp_path):
    import shutil

    from nnforge.compress.pipeline import markdown_table
    from nnforge.explain.report import explain_run
    from nnforge.report.html import build_report

    run = tmp_path / "run"
    shutil.copytree(digits_run.dir, run)
    explain_run(run, ["ig"], log=lambda _: None)
    row = {"model": "fp32", "size_bytes": 90_000, "size_ratio": 1.0, "gzip_bytes": 80_000, "latency_ms_batch1": 0.05,
           "latency_ms_batch64": 0.004, "test_accuracy": 0.9, "accuracy_change_points": 0.0}
    (run / "compress").mkdir()
    (run / "compress" / "compress.md").write_text(markdown_table({"run": str(run), "dataset": "digits", "latency": "ms", "rows": [row]}))
    page = _Page(build_report(run).read_text())
    assert not any("|" in pre for pre in page.pres)  # no Markdown left raw
    headers = [table[0] for table in page.tables]
    assert ["true", "predicted", "count", "share of true"] in headers  # explain's confused pairs
    assert any(h[:2] == ["model", "size KiB"] for h in headers)
    compress = next(t for t in page.tables if t[0][:2] == ["model", "size KiB"])
    assert compress[1][:2] == ["fp32", "87.9"]
    assert page.gallery_images and all(img["src"].startswith("data:image/png;base64,") for img in page.gallery_images)
    text = (run / "report.html").read_text()
    assert "id='zoom'" in text and ".gallery img" in text


def test_a_thumbnail_opens_full_size_in_chromium(digits_run, tmp_path):
    import shutil

    from tests.serve.test_soak_and_browser import browser

    run = tmp_path / "run"
    shutil.copytree(digits_run.dir, run)
    from nnforge.explain.report import explain_run
    from nnforge.report.html import build_report

    explain_run(run, ["ig"], log=lambda _: None)
    page = build_report(run)
    with browser(tmp_path) as driver:
        from selenium.webdriver.common.by import By

        driver.get(page.as_uri())
        thumb = driver.find_elements(By.CSS_SELECTOR, ".gallery img")[0]
        natural = driver.execute_script("return arguments[0].naturalWidth", thumb)
        assert thumb.size["width"] < natural  # a thumbnail
        thumb.click()
        big = driver.find_element(By.CSS_SELECTOR, "#zoom img")
        assert driver.find_element(By.ID, "zoom").is_displayed()
        assert big.size["width"] == natural
        driver.find_element(By.ID, "zoom").click()
        assert not driver.find_element(By.ID, "zoom").is_displayed()


@pytest.mark.parametrize("content, words", [
    ('{"test_accuracy": 0.9, "epo', "not readable JSON"),  # cut short
    ("", "not readable JSON"),
    ("[1, 2]", "holds a JSON list"),
    ('{"train_seconds": "long"}', "a value is not of the kind nnforge writes"),  # edited by hand
    ('{"per_class": [1]}', "a value is not of the kind nnforge writes"),
    ('{"task": "regress", "baselines": [1]}', "a value is not of the kind nnforge writes"),
])
def test_a_damaged_metrics_json_is_one_line_naming_it(digits_run, tmp_path, capsys, content, words):
    import shutil

    run = shutil.copytree(digits_run.dir, tmp_path / "run")
    (run / "report.html").unlink(missing_ok=True)  # another test's report
    (run / "metrics.json").write_text(content)
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "metrics.json" in err and words in err, err
    assert not (run / "report.html").exists()


def test_a_folder_where_report_html_goes_is_one_line(digits_run, tmp_path, capsys):
    import shutil

    run = shutil.copytree(digits_run.dir, tmp_path / "run", ignore=shutil.ignore_patterns("report.html"))
    (run / "report.html").mkdir()
    assert main(["report", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot write {run / 'report.html'}: a folder of that name is in the way") and err.count("\n") == 1, err


def test_class_names_with_dollars_are_drawn_as_written(tmp_path):
    """A class named "$\\alpha$ ray" (a folder name or a CSV target value) was parsed as TeX math:
    "$\\foo$" failed the confusion matrix, and with it the end of training, with a traceback."""
    import matplotlib
    import numpy as np

    from nnforge.report.plots import plot_confusion

    path = plot_confusion(np.array([[3, 1], [0, 4]]), ["$\\foo$ ray", "$5 and $10"], tmp_path / "confusion.png")
    assert path.stat().st_size > 1000
    # Escaped where it is drawn; math text stays on for the process (log axes' ticks and a notebook's plots use it).
    assert matplotlib.rcParams["text.parse_math"] is True
