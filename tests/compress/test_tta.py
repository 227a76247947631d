"""Test-time augmentation in `nnforge eval --tta`: exact shifts, and the averaged views on real data."""

from __future__ import annotations

import json

import torch

from nnforge.cli import main
from nnforge.compress.tta import shift, tta_views


def test_shift_moves_pixels_and_fills_with_the_background():
    x = torch.arange(16, dtype=torch.uint8).view(1, 1, 4, 4)
    right = shift(x, 0, 1, 0)
    assert right[0, 0, :, 1:].tolist() == x[0, 0, :, :3].tolist() and right[0, 0, :, 0].tolist() == [0] * 4
    up = shift(x, -1, 0, 255)
    assert up[0, 0, :3].tolist() == x[0, 0, 1:].tolist() and up[0, 0, 3].tolist() == [255] * 4
    assert len(tta_views(x)) == 5 and len(tta_views(x, hflip=True)) == 6


def test_eval_with_tta_averages_views_of_the_test_split(mlp_run, capsys):
    assert main(["eval", str(mlp_run), "--json"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main(["eval", str(mlp_run), "--tta", "--json"]) == 0
    tta = json.loads(capsys.readouterr().out)
    assert tta["examples"] == plain["examples"]
    assert tta["loss"] != plain["loss"]  # the views changed the probabilities
    assert abs(tta["accuracy"] - plain["accuracy"]) < 0.05
