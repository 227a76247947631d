"""``nnforge runs``: every run under a folder in one table, read from the run directories alone."""

from __future__ import annotations

import json

import pytest

import nnforge
from nnforge.cli import main
from nnforge.rundir import read_metrics


def _runs(capsys, *args) -> tuple[int, str, str]:
    rc = main(["runs", *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def _names(table: str) -> list[str]:
    return [line.split()[0] for line in table.splitlines()[1:]]


def test_every_run_is_listed_with_its_status_and_foreign_folders_are_noted(run_folder, capsys):
    rc, out, err = _runs(capsys, run_folder)
    assert rc == 0 and out.splitlines()[0].split()[:4] == ["name", "dataset", "model", "engine"]
    status = {line.split()[0]: line.split("  ")[-1].strip() for line in out.splitlines()[1:]}
    assert set(status) == {"strong", "weak", "stopped", "crashed", "damaged"}
    assert status["strong"] == status["weak"] == "finished" and status["stopped"] == "partial"
    assert status["crashed"] == "failed: RuntimeError: the disk is on fire"
    assert status["damaged"].startswith("damaged: ") and "not valid YAML" in status["damaged"]
    assert "1/2" in next(line for line in out.splitlines() if line.startswith("stopped"))  # one epoch of two
    assert err.strip() == "nnforge runs: note: skipped 1 folder holding no run: holiday-photos"
    strong = next(line for line in out.splitlines() if line.startswith("strong"))
    assert f"accuracy {read_metrics(run_folder / 'strong')['test_accuracy']:.2%}" in strong and strong.split()[1:4] == ["digits", "mlp", "torch"]


def test_sort_orders_by_the_metric_in_metrics_json(run_folder, capsys):
    accuracy = {name: read_metrics(run_folder / name)["test_accuracy"] for name in ("strong", "weak")}
    _, newest_first, _ = _runs(capsys, run_folder, "--filter", "status=finished")
    _, best_first, _ = _runs(capsys, run_folder, "--filter", "status=finished", "--sort", "test_accuracy")
    _, worst_first, _ = _runs(capsys, run_folder, "--filter", "status=finished", "--sort", "test_accuracy", "--reverse")
    assert _names(best_first) == sorted(accuracy, key=accuracy.get, reverse=True) == list(reversed(_names(worst_first)))
    assert _names(newest_first) != _names(best_first)  # the older run scored better: the sort did something
    _, by_loss, _ = _runs(capsys, run_folder, "--sort", "test_loss")  # lower is better: ascending; unfinished runs last
    loss = {name: read_metrics(run_folder / name)["test_loss"] for name in ("strong", "weak")}
    assert _names(by_loss)[:2] == sorted(loss, key=loss.get) and set(_names(by_loss)[2:]) == {"stopped", "crashed", "damaged"}


def test_filter_takes_recipe_keys_metrics_and_columns(run_folder, capsys):
    assert _names(_runs(capsys, run_folder, "--filter", "model.hidden=[8]")[1]) == ["weak"]
    assert _names(_runs(capsys, run_folder, "--filter", "train.optimizer.lr=0.01", "--filter", "status!=damaged",
                        "--sort", "name")[1]) == ["crashed", "stopped", "strong"]
    low = min(read_metrics(run_folder / name)["test_accuracy"] for name in ("strong", "weak"))
    assert _names(_runs(capsys, run_folder, "--filter", f"test_accuracy>{low}")[1]) == ["strong"]
    assert _names(_runs(capsys, run_folder, "--filter", "status=failed")[1]) == ["crashed"]


def test_a_filter_number_past_a_floats_range_matches_nothing_without_a_traceback(run_folder, capsys):
    """Before: math.isclose(2, 10**400) raised OverflowError out of `nnforge runs --filter`."""
    big = "1" + "0" * 400
    assert _names(_runs(capsys, run_folder, "--filter", f"train.epochs={big}")[1]) == []
    assert set(_names(_runs(capsys, run_folder, "--filter", f"train.epochs!={big}")[1])) == {"strong", "weak", "stopped", "crashed"}


def test_json_holds_columns_metrics_and_recipe(run_folder, capsys):
    rc, out, _ = _runs(capsys, run_folder, "--json", "--filter", "status=finished")
    rows = {row["name"]: row for row in json.loads(out)}
    assert rc == 0 and set(rows) == {"strong", "weak"}
    for name, row in rows.items():
        assert row["metrics"] == read_metrics(run_folder / name) and row["metric"] == row["metrics"]["test_accuracy"]
        assert row["status"] == "finished" and row["recipe"]["model"]["name"] == "mlp" and row["dataset"] == "digits"
    assert rows["weak"]["recipe"]["train"]["optimizer"]["lr"] == 0.0003


@pytest.mark.parametrize("args, words", [
    (["--sort", "test_acuracy"], "no listed run has that key (did you mean 'test_accuracy'?)"),
    (["--filter", "model.hiden=[8]"], "did you mean 'model.hidden'?"),
    (["--filter", "test_accuracy"], "--filter expects KEY=VALUE"),
])
def test_mistakes_are_one_line(run_folder, capsys, args, words):
    rc, _, err = _runs(capsys, run_folder, *args)
    assert rc == 2 and words in err and len(err.strip().splitlines()) == 1


def test_a_missing_folder_is_one_line(tmp_path, capsys):
    rc, _, err = _runs(capsys, tmp_path / "nowhere")
    assert rc == 2 and "not a folder of runs" in err


def test_the_python_api_is_the_same_listing(run_folder):
    listed = nnforge.runs(run_folder, sort="test_accuracy", filters=["status=finished"])
    assert [r.dir.name for r in listed] == [r.dir.name for r in nnforge.runs(run_folder, filters=["status=finished"],
                                                                                sort="test_loss")]
    assert all(r.score.startswith("test accuracy ") for r in listed)
    crashed = next(r for r in nnforge.runs(run_folder) if r.dir.name == "crashed")
    assert crashed.status == "failed" and crashed.epochs == 1 and "RuntimeError" in crashed.problem


def test_a_failed_run_resumes_and_is_finished(run_folder, tmp_path):
    import shutil

    run = tmp_path / "crashed"
    shutil.copytree(run_folder / "crashed", run)
    assert (run / "failed.json").is_file()
    nnforge.fit(run / "config.yaml", run, resume=True)
    assert not (run / "failed.json").exists()
    assert [r.status for r in nnforge.runs(tmp_path)] == ["finished"]


def test_every_task_names_its_test_metric():
    from nnforge.runlist import HEADLINE, direction
    from nnforge.train.tasks import TASKS

    assert set(HEADLINE) == set(TASKS)
    assert direction("test_accuracy") == 1 and direction("skill_vs_naive") == 1
    assert direction("test_mae") == direction("val_loss") == direction("train_seconds") == -1
    assert direction("epochs") == direction("parameters") == 0


def test_a_run_whose_lock_is_held_is_running_and_partial_once_released(run_folder, tmp_path):
    import shutil

    from nnforge.rundir import RunLock

    run = tmp_path / "live"
    shutil.copytree(run_folder / "stopped", run)
    with RunLock(run):  # what a training process holds for the life of the run
        assert [r.status for r in nnforge.runs(tmp_path)] == ["running"]
    assert [r.status for r in nnforge.runs(tmp_path)] == ["partial"]


def test_a_lock_naming_a_pid_another_process_was_given_since_is_not_running(run_folder, tmp_path):
    """Before: .lock held only the PID, so after a SIGKILL a live unrelated process that got the same
    PID made the run 'running' (and `nnforge runs` said so) for as long as that process lived."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from nnforge.rundir import RunLock, lock_holder

    run = tmp_path / "killed"
    shutil.copytree(run_folder / "stopped", run)
    with RunLock(run):
        written = (run / ".lock").read_text()  # what a trainer leaves in .lock when it is SIGKILLed
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        if not Path(f"/proc/{other.pid}/stat").exists():
            pytest.skip("no /proc/PID/stat here")
        (run / ".lock").write_text(written.replace(str(os.getpid()), str(other.pid), 1))  # the PID now names another process
        assert lock_holder(run) is None
        assert [r.status for r in nnforge.runs(tmp_path)] == ["partial"]
        (run / ".lock").write_text(str(other.pid))  # a lock file of an older nnforge: the PID is trusted as before
        assert lock_holder(run) == other.pid
    finally:
        other.kill()
        other.wait()


def test_sort_by_the_test_metric_column(run_folder, capsys):
    by_metric = _names(_runs(capsys, run_folder, "--sort", "metric")[1])
    assert by_metric[:2] == _names(_runs(capsys, run_folder, "--sort", "test_accuracy")[1])[:2]


def test_a_config_yaml_or_a_filter_nested_hundreds_deep_is_no_traceback(digits_run, tmp_path, capsys):
    """Before: PyYAML's RecursionError escaped both the listing of a run whose config.yaml was
    rewritten so and a --filter value (``[[[[...``)."""
    import shutil

    run = tmp_path / "runs" / "deep"
    shutil.copytree(digits_run.dir, run)
    shutil.copytree(digits_run.dir, tmp_path / "runs" / "plain")
    (run / "config.yaml").write_text("tune: " + "[" * 3000 + "\n")
    rc, out, err = _runs(capsys, tmp_path / "runs")
    assert rc == 0 and "damaged:" in out and "nested too deeply" in out
    rc, out, err = _runs(capsys, tmp_path / "runs", "--filter", "model.hidden=" + "[" * 3000)
    assert rc == 0 and "match the filters" in out and not err


def test_json_is_strict_json_when_a_metric_is_not_a_number(run_folder, tmp_path, capsys):
    """A diverged run's NaN loss is null in --json output (bare NaN breaks jq and JavaScript)."""
    import shutil

    shutil.copytree(run_folder / "strong", tmp_path / "diverged")
    metrics = read_metrics(tmp_path / "diverged")
    (tmp_path / "diverged" / "metrics.json").write_text(json.dumps({**metrics, "test_loss": float("nan")}))
    rc, out, _ = _runs(capsys, tmp_path, "--json")

    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    rows = json.loads(out, parse_constant=refuse)
    assert rc == 0 and rows[0]["metrics"]["test_loss"] is None
    assert rows[0]["metrics"]["test_accuracy"] == metrics["test_accuracy"]
