import re

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


def test_the_weakest_class_is_marked_only_when_there_is_one():
    from nnforge.report.html import _per_class_table

    row = lambda name, f1: {"class": name, "precision": f1, "recall": f1, "f1": f1, "support": 5}  # noqa: E731
    assert _per_class_table([row("a", 0.9), row("b", 0.7), row("c", 0.95)]).count("class=low") == 1
    assert "class=low" not in _per_class_table([row("a", 1.0), row("b", 1.0)])
