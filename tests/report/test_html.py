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
