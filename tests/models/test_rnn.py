"""LSTM/GRU: forecasting the real sunspot series beats the naive last-value forecast on its
held-out end; the same models classify sequences (digits read row by row)."""

import json

import pytest

from nnforge.cli import main
from nnforge.config import load_config
from nnforge.train import fit


@pytest.mark.slow
def test_lstm_beats_naive_forecast_on_sunspots(tmp_path, capsys):
    recipe = "nnforge/configs/sunspots_lstm.yaml"
    assert main(["train", recipe, "--out", str(tmp_path / "run"), "--set", "train.epochs=40"]) == 0
    assert "vs naive last-value MAE" in capsys.readouterr().out
    m = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert m["test_mae"] < 0.8 * m["naive_mae"] and m["test_rmse"] < m["naive_rmse"]
    assert m["test_from"] >= 1940  # the held-out part is the end of the series
    assert (tmp_path / "run" / "forecast.png").stat().st_size > 20_000


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_recurrent_net_runs_under_cpu_bf16_autocast(cell):
    """train.precision=bf16 on a CPU: the LSTM raised oneDNN's 'could not create a primitive descriptor'
    on CPUs without bfloat16 support; the recurrence runs in float32, the head autocast."""
    import torch

    from nnforge.models.rnn import RecurrentNet

    torch.manual_seed(0)
    net, x = RecurrentNet((12, 1), 2, cell=cell, hidden=8), torch.randn(4, 12, 1)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = net(x)
    out.float().sum().backward()
    assert out.dtype == torch.bfloat16 and all(p.grad is not None for p in net.parameters())
    assert torch.allclose(out.float(), net(x), atol=0.05)


def test_gru_classifies_digits_row_by_row(tmp_path):
    cfg = load_config(None, ["data.name=digits", "model.name=gru", "model.hidden=48", "train.epochs=8", "train.optimizer.name=adam",
                             "train.optimizer.lr=0.01", "train.progress=none"])
    assert fit(cfg, tmp_path / "run").metrics["test_accuracy"] > 0.8


def test_commands_for_classifiers_refuse_a_forecast_run_in_one_line(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "nnforge/configs/sunspots_lstm.yaml", "--out", str(run), "--set", "train.epochs=1"]) == 0
    capsys.readouterr()
    for command in (["eval", str(run)], ["explain", str(run)], ["serve", str(run), "--port", "0"],
                    ["export", str(run), "--format", "onnx"], ["predict", str(run), str(run / "forecast.png")]):
        assert main(command) == 2, command
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.startswith("error:") and "is a forecast run" in captured.err, command
        assert len(captured.err.strip().splitlines()) == 1, captured.err
    (run / "metrics.json").unlink()  # as if it had been stopped after its last checkpoint
    assert main(["train", "--resume", str(run)]) == 0  # forecast runs go through the one loop: they resume too
    assert (run / "metrics.json").is_file() and "sunspots: test MAE" in capsys.readouterr().out
