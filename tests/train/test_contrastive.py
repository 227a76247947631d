"""task: contrastive — SimCLR pretraining without labels, judged by a linear probe it never trained on."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nnforge.config import load_config, resolve
from nnforge.errors import ConfigError, RunError
from nnforge.rundir import recipe_path
from nnforge.train import run
from nnforge.train.tasks.contrastive import labelled_part, nt_xent, pair_hits


def test_nt_xent_matches_the_papers_formula_written_out():
    """Eq. 1 of Chen et al. 2020, one pair at a time, against the batched version."""
    torch.manual_seed(0)
    z = torch.randn(8, 5, dtype=torch.float64)
    t = 0.3
    u = z / z.norm(dim=1, keepdim=True)
    n, losses = 4, []
    for i in range(2 * n):
        j = (i + n) % (2 * n)
        others = [k for k in range(2 * n) if k != i]
        denom = sum(np.exp(float(u[i] @ u[k]) / t) for k in others)
        losses.append(-np.log(np.exp(float(u[i] @ u[j]) / t) / denom))
    assert float(nt_xent(z, t)) == pytest.approx(np.mean(losses), rel=1e-5)


def test_pairs_that_match_are_found_and_the_loss_is_lower():
    torch.manual_seed(0)
    a = torch.randn(16, 8)
    paired = torch.cat([a, a + 0.01 * torch.randn(16, 8)])
    shuffled = torch.cat([a, torch.randn(16, 8)])
    assert pair_hits(paired) == 16 and pair_hits(shuffled) < 8
    assert float(nt_xent(paired, 0.5)) < float(nt_xent(shuffled, 0.5))


def test_the_labelled_part_is_balanced_and_seeded():
    y = np.repeat(np.arange(10), 50)
    picked = labelled_part(y, 100, 0)
    assert len(picked) == 100 and np.all(np.bincount(y[picked]) == 10)
    assert np.array_equal(picked, labelled_part(y, 100, 0)) and not np.array_equal(picked, labelled_part(y, 100, 1))


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """The packaged pretraining recipe, shortened: 3 epochs on half of the training digits."""
    out = tmp_path_factory.mktemp("ssl") / "run"
    recipe = load_config(recipe_path("ssl_pretrain_mnist"), ["train.epochs=3", "data.train_fraction=0.5", "train.progress=none"])
    return run(recipe, out)


@pytest.mark.slow
def test_pretraining_without_labels_lowers_its_loss_and_beats_a_random_encoder(pretrained):
    h = pretrained.history
    assert h[-1]["train_loss"] < h[0]["train_loss"] - 0.1
    assert h[-1]["val_pair_accuracy"] > h[0]["val_pair_accuracy"]
    m = pretrained.metrics
    assert m["probe_labels"] == 100
    assert m["probe_accuracy"] > m["random_encoder_probe_accuracy"] + 0.03, m
    assert (pretrained.dir / "embedding.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
def test_the_encoder_loads_through_train_init_weights(pretrained, tmp_path, capsys):
    recipe = load_config(recipe_path("ssl_finetune_mnist"), [f"train.init.weights={pretrained.dir}", "train.epochs=1",
                                                             "train.progress=none"])
    run(recipe, tmp_path / "ft")
    assert "loaded 14 tensors; skipped 2 by pattern" in capsys.readouterr().out


def test_a_contrastive_run_is_not_a_classifier_for_predict(pretrained):
    from nnforge.predictor import classifier_meta

    with pytest.raises(RunError, match="contrastive run .*linear probe"):
        classifier_meta(pretrained.dir)


@pytest.mark.parametrize("sets, message", [
    ({"engine": "scratch"}, "engine 'scratch' does not implement it"),
    ({"engine": "scratch", "contrastive.temperature": 0.5}, "not implemented on engine 'scratch'; use engine: torch"),
    ({"data.augment.rotate": 0.0, "data.augment.shift": 0.0, "data.augment.scale": 0.0, "data.augment.cutout": 0.0},
     "needs data.augment"),
    ({"data.sampling": "oversample"}, "'data.sampling' is 'oversample', but task 'contrastive' does not implement it"),
])
def test_what_the_task_cannot_do_is_refused_in_one_line(tmp_path, sets, message):
    recipe = load_config(recipe_path("ssl_pretrain_mnist")).with_overrides(sets)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")) as err:
        run(recipe, tmp_path / "out")
    assert "\n" not in str(err.value) and not (tmp_path / "out").exists()


def test_contrastive_keys_are_refused_on_other_tasks():
    with pytest.raises(ConfigError, match="'contrastive.temperature' is 0.1, but task 'classify' does not implement it"):
        run(resolve({"data": {"name": "digits"}, "model": {"name": "mlp"}, "contrastive": {"temperature": 0.1}}))


@pytest.mark.slow
def test_a_run_without_pictures_draws_neither_curves_nor_the_embedding(tmp_path):
    """``run(..., pictures=False)`` (a run directory nobody looks at) skips the t-SNE plot too, and still judges the encoder."""
    recipe = load_config(recipe_path("ssl_pretrain_mnist"), ["train.epochs=1", "data.train_fraction=0.05", "data.batch_size=64",
                                                             "contrastive.probe_labels=50", "train.progress=none"])
    result = run(recipe, tmp_path / "run", pictures=False)
    assert not (tmp_path / "run" / "embedding.png").exists() and not (tmp_path / "run" / "curves.png").exists()
    assert (tmp_path / "run" / "model.safetensors").is_file() and 0 < result.metrics["probe_accuracy"] <= 1
