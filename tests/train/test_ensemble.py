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


def test_a_vote_reports_no_loss_instead_of_one_its_shares_cannot_have(tmp_path, capsys):
    """Before: the cross-entropy of vote shares, -log(1e-12) for every unanimous mistake: two copies of
    one run (loss ~0.3) "scored" a loss several times higher than either."""
    run = str(fit(fast_config("train.epochs=2"), tmp_path / "r").dir)
    single = evaluate_runs([run])
    assert single["loss"] < 5 and evaluate_runs([run, run], combine="vote")["loss"] is None
    assert main(["eval", run, run, "--vote"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"accuracy {single['accuracy']:.2%}  (no loss: a vote gives no probabilities)"
