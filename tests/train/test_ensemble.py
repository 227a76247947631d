"""An ensemble of runs (`nnforge eval RUN1 RUN2 ...`) scores at least as well as its best member."""

from nnforge.cli import main
from nnforge.train import fit
from nnforge.compress.ensemble import evaluate_runs

from .conftest import fast_config


def test_ensemble_is_at_least_as_good_as_its_best_member(tmp_path, capsys):
    runs = [str(fit(fast_config(f"seed={s}", "train.epochs=5"), tmp_path / f"r{s}").dir) for s in range(3)]
    mean = evaluate_runs(runs)
    best_member = max(m["accuracy"] for m in mean["members"])
    assert mean["accuracy"] >= best_member
    assert evaluate_runs(runs, combine="vote")["accuracy"] >= min(m["accuracy"] for m in mean["members"])
    assert main(["eval", *runs]) == 0
    assert "ensemble of 3 runs" in capsys.readouterr().out
