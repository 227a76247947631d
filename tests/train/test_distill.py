"""Knowledge distillation on real data: a small student trained on 5% of the MNIST sample learns more
from a teacher's soft targets than from the labels alone; a missing or unfit teacher is a one-line
error before the run folder exists."""

from __future__ import annotations

import pytest
import torch

from nnforge.errors import ConfigError
from nnforge.train import run
from nnforge.train.distill import distillation_loss



def _recipe(model: dict, epochs: int, **extra) -> dict:
    data = {"name": "mnist-sample", "batch_size": 32, **extra.pop("data", {})}
    return {"data": data, "model": model, "train": {"epochs": epochs, "optimizer": {"name": "adam", "lr": 0.003},
                                                    "progress": "none", "checkpoint": {"enabled": False}, **extra}}


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    out = tmp_path_factory.mktemp("teacher") / "run"
    run(_recipe({"name": "mlp", "hidden": [128]}, 3), out)
    return out


@pytest.mark.slow
def test_a_distilled_student_beats_the_same_student_without_its_teacher(tmp_path, teacher):
    student = {"name": "mlp", "hidden": [32]}
    few = {"data": {"train_fraction": 0.05}}  # 180 training images
    alone = run(_recipe(student, 15, **few), tmp_path / "alone").metrics["test_accuracy"]
    taught = run(_recipe(student, 15, **few, distill={"teacher": str(teacher), "temperature": 4.0, "alpha": 0.9}),
                 tmp_path / "taught").metrics["test_accuracy"]
    print(f"student test accuracy on the MNIST sample: alone {alone:.4f}, distilled {taught:.4f}")
    assert taught > alone


def test_the_soft_term_is_zero_when_the_student_matches_the_teacher_and_scales_with_t_squared():
    logits = torch.randn(8, 10, generator=torch.Generator().manual_seed(0))
    assert float(distillation_loss(logits, logits, 4.0)) == pytest.approx(0.0, abs=1e-6)
    other = torch.randn(8, 10, generator=torch.Generator().manual_seed(1))
    t = 3.0
    p = torch.softmax(other / t, 1)
    by_hand = (p * (torch.log(p) - torch.log_softmax(logits / t, 1))).sum(1).mean() * t * t
    assert float(distillation_loss(logits, other, t)) == pytest.approx(float(by_hand), rel=1e-5)


def test_a_missing_teacher_is_one_line_before_the_run_folder(tmp_path):
    with pytest.raises(ConfigError, match="^'train.distill.teacher': .*not found") as info:
        run(_recipe({"name": "mlp", "hidden": [8]}, 1, distill={"teacher": str(tmp_path / "nowhere")}), tmp_path / "out")
    assert "\n" not in str(info.value) and not (tmp_path / "out").exists()


def test_a_teacher_for_other_inputs_is_refused(tmp_path, teacher):
    digits = {"data": {"name": "digits"}, "model": {"name": "mlp", "hidden": [8]},
              "train": {"epochs": 1, "progress": "none", "distill": {"teacher": str(teacher)}}}
    with pytest.raises(ConfigError, match="does not fit this run: it takes image inputs of shape \\[1, 28, 28\\]") as info:
        run(digits, tmp_path / "out")
    assert "\n" not in str(info.value) and not (tmp_path / "out").exists()


def csv_recipes(frame, tmp_path):
    """``frame`` (with a text column 'kind' of x and y) written as t.csv with the target yes where
    kind is x; gives ``recipe(val_fraction, **train)``: a one-epoch MLP run classifying it."""
    import numpy as np

    frame["target"] = np.where(frame["kind"] == "x", "yes", "no")
    frame.to_csv(tmp_path / "t.csv", index=False)

    def recipe(val_fraction: float, **train) -> dict:
        return {"data": {"name": f"csv:{tmp_path / 't.csv'}", "target": "target", "val_fraction": val_fraction},
                "model": {"name": "mlp", "hidden": [8]}, "train": {"epochs": 1, "progress": "none", **train}}

    return recipe


def test_a_teacher_whose_csv_encoding_differs_is_refused(tmp_path):
    """A teacher trained on the same csv with another validation part learned other medians: before,
    it was fed the student's encoded rows (its empty cells holding the student's medians) without a
    word; now a one-line error says why and what to do."""
    import numpy as np
    import pandas as pd

    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"a": rng.normal(size=80).round(2), "kind": rng.choice(["x", "y"], 80)})
    frame.loc[rng.choice(80, 20, replace=False), "a"] = np.nan
    recipe = csv_recipes(frame, tmp_path)

    teacher = run(recipe(0.5), tmp_path / "teacher").dir
    run(recipe(0.5, distill={"teacher": str(teacher)}), tmp_path / "same")  # the same rows train: the same encoding
    with pytest.raises(ConfigError, match=r"does not fit this run: it encodes the csv's text columns and empty cells differently "
                                          r"\(learned from other training rows: train both with the same data.val_fraction and seed\)$"):
        run(recipe(0.1, distill={"teacher": str(teacher)}), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_teacher_whose_csv_encoding_is_wider_is_refused_for_its_encoding(tmp_path):
    """The same csv, and the student's training rows hold the one empty cell of column 'b' (a
    missing indicator more: 6 features against the teacher's 5). Before: 'it takes tabular inputs
    of shape [5], this run tabular of shape [6]', no word of why; now the encoding, and the widths."""
    import numpy as np
    import pandas as pd

    rng = np.random.RandomState(0)
    frame = pd.DataFrame({"a": rng.normal(size=80).round(2), "kind": rng.choice(["x", "y"], 80), "b": rng.normal(size=80).round(2)})
    frame.loc[rng.choice(80, 20, replace=False), "a"] = np.nan
    frame.loc[[28], "b"] = np.nan  # in the rows that train with val_fraction 0.1, held out with 0.5
    recipe = csv_recipes(frame, tmp_path)

    teacher = run(recipe(0.5), tmp_path / "teacher").dir
    with pytest.raises(ConfigError, match=r"it encodes the csv's text columns and empty cells differently \(learned from other "
                                          r"training rows: train both with the same data.val_fraction and seed\); "
                                          r"it takes 5 features, this run 6$"):
        run(recipe(0.1, distill={"teacher": str(teacher)}), tmp_path / "out")
    assert not (tmp_path / "out").exists()
