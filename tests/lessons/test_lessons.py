"""Every lesson runs, prints, and writes the pictures it promises; key claims are checked."""
import warnings

import numpy as np
import pytest

from nnforge.errors import UserError
from nnforge.lessons import LESSONS, run_lesson
from nnforge.lessons._figcheck import FigureWarning

EXPECTED_PNGS = {
    "perceptron": ["perceptron_gates.png"],
    "activations": ["activations.png"],
    "losses": ["focal_loss.png"],
    "backprop": ["backprop_gradients.png", "backprop_graph.png"],
    "xor": ["xor_decision_boundary.png"],
    "optimizers": ["optimizers.png"],
    "linear-algebra": ["linear_map.png"],
    "calculus": ["derivative.png"],
    "probability": ["probability.png"],
    "vanishing": ["vanishing_gradients.png"],
    "overfitting": ["overfitting.png"],
    "imbalance": ["imbalance.png"],
    "attention": ["attention.png"],
    "gan": ["gan_samples.png", "gan_training.png"],
    "reinforcement": ["q_learning.png"],
    "federated": ["federated.png"],
    "selfsupervised": ["ssl_embedding.png", "ssl_comparison.png"],
    "nas": ["nas_front.png"],
}


def test_registry_is_complete_and_described():
    assert set(LESSONS) == set(EXPECTED_PNGS)
    for name, lesson in LESSONS.items():
        assert lesson.name == name
        assert lesson.title and "\n" not in lesson.title
        assert lesson.seed_section
        assert callable(lesson.run)


# The lessons that train for tens of seconds run here, as scripts; every other lesson runs once, as
# its notebook in a real kernel (tests/lessons/test_notebooks.py), with the same checks.
TRAIN_FOR_LONG = {"selfsupervised", "gan", "nas", "overfitting"}


def check_lesson_output(name: str, folder, printed: str) -> None:
    """What every lesson promises: a few lines printed and its pictures written (the figure check,
    no overlap, labelled axes, no blank panel, is a FigureWarning: an error here, stderr in a kernel)."""
    assert len(printed.splitlines()) >= 3, (name, printed)
    for png in EXPECTED_PNGS[name]:
        data = (folder / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, (name, png)


@pytest.mark.parametrize("name", sorted(TRAIN_FOR_LONG))
def test_lesson_runs_and_writes_pngs(name, tmp_path, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error", FigureWarning)
        LESSONS[name].run(tmp_path)
    check_lesson_output(name, tmp_path, capsys.readouterr().out)


def test_seed_numbers_are_reproduced(tmp_path, capsys):
    LESSONS["perceptron"].run(tmp_path)
    LESSONS["losses"].run(tmp_path)
    out = capsys.readouterr().out
    assert "output: 0.5597" in out
    assert "MSE: 0.0333" in out and "cross-entropy: 0.2899" in out


def test_xor_network_solves_xor():
    from nnforge.lessons.xor import X, Y, train
    from nnforge import scratch

    model, history = train()
    with scratch.no_grad():
        pred = model(scratch.tensor(X)).data
    assert np.array_equal(pred > 0.5, Y > 0.5)
    assert history[-1] < history[0] / 10


def test_backprop_three_ways_agree():
    from nnforge.lessons.backprop import by_hand, loss_fn, numeric
    from nnforge import scratch

    rng = np.random.default_rng(3)
    X, Y = rng.standard_normal((5, 3)), (rng.random((5, 2)) > 0.5).astype(float)
    params = [rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal((4, 2)), rng.standard_normal(2)]
    leaves = [scratch.tensor(p, dtype=scratch.float64, requires_grad=True) for p in params]
    f = loss_fn(scratch.tensor(X, dtype=scratch.float64), Y)
    f(*leaves).backward()
    hand = by_hand(X, Y, *params)
    num = numeric(f, [p.copy() for p in params])
    for k, name in enumerate(["W1", "b1", "W2", "b2"]):
        np.testing.assert_allclose(leaves[k].grad.data, hand[name], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(leaves[k].grad.data, num[k], rtol=1e-5, atol=1e-7)


def test_adam_beats_plain_sgd_in_the_race():
    from nnforge.lessons.optimizers import race

    curves = race(steps=150)
    assert curves["Adam (lr 0.01)"][-1] < curves["SGD (lr 0.05)"][-1]


def test_run_lesson_default_folder_and_unknown_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = run_lesson("activations")
    assert out.resolve() == (tmp_path / "lessons_out" / "activations").resolve()
    assert (out / "activations.png").exists()
    with pytest.raises(UserError, match="did you mean 'xor'"):
        run_lesson("xo")


def test_attention_is_the_formula_and_the_transformer_reads_digits():
    import torch

    from nnforge.lessons.attention import attention, train

    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 4, 5, 8).unbind(0)
    out, weights = attention(q, k, v)
    torch.testing.assert_close(out, torch.nn.functional.scaled_dot_product_attention(q, k, v), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 5))
    model, accuracies, final = train(epochs=10)
    assert final > 0.9 and accuracies[-1] > accuracies[0] - 0.02


def test_gan_learns_the_digits_without_labels():
    """The generated digits move toward the real ones (Fréchet distance), and a classifier trained
    on real digits recognises them as several different digits (no collapse onto one)."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    from nnforge.lessons import gan

    digits = load_digits()
    classifier = LogisticRegression(max_iter=2000).fit(digits.data / 8.0 - 1.0, digits.target)
    generator, history, _ = gan.train(steps=1500)
    assert history[-1][3] < history[0][3] / 4
    trained = classifier.predict_proba(gan.sample(generator, 200).numpy())
    untrained = classifier.predict_proba(gan.sample(gan.build()[0], 200).numpy())
    assert len(set(trained.argmax(1))) >= 8
    assert trained.max(1).mean() > 0.6 and trained.max(1).mean() > untrained.max(1).mean() + 0.4
    assert gan.frechet_distance(digits.data[:900] / 8.0 - 1.0, digits.data[900:] / 8.0 - 1.0) < history[-1][3]


def test_q_learning_finds_the_shortest_safe_path():
    from nnforge.lessons.reinforcement import LAKE, greedy_walk, q_learning, shortest_path_length

    q, returns, reached = q_learning()
    assert np.mean(reached[:100]) < 0.2 and np.mean(reached[-100:]) > 0.8  # it learnt, from rewards only
    path = greedy_walk(q)
    assert LAKE[path[-1][0]][path[-1][1]] == "G"
    assert len(path) - 1 == shortest_path_length() == 10


def test_vanishing_gradients_and_their_cures():
    """Through 12 sigmoid layers the first layer gets a millionth of the last one's gradient and
    the network does not learn; He init, BatchNorm and residual connections keep it flowing."""
    from nnforge.lessons.vanishing import build, digits, layer_gradient_norms, train

    x, y = digits()
    ratio = {}
    for kind in ("sigmoid", "relu + He init", "relu + BatchNorm", "residual"):
        norms = layer_gradient_norms(build(kind), x[:256], y[:256])
        ratio[kind] = norms[0] / norms[-1]
    assert ratio["sigmoid"] < 1e-4
    assert all(0.1 < ratio[kind] < 100 for kind in ("relu + He init", "relu + BatchNorm", "residual"))
    stuck, cured = train(build("sigmoid"), x, y, steps=200), train(build("relu + BatchNorm"), x, y, steps=200)
    assert np.mean(stuck[-20:]) > 2.2 and np.mean(cured[-20:]) < 0.8


def test_overfitting_happens_and_each_remedy_helps():
    from nnforge.lessons.overfitting import fit

    plain, dropout, decay = fit(), fit(dropout=0.5), fit(weight_decay=2.0)
    best = int(np.argmin(plain["val_loss"]))
    assert plain["train_loss"][-1] < 0.05  # the training set, wrong labels included, is memorised
    assert plain["val_loss"][-1] > 1.4 * plain["val_loss"][best] and best < len(plain["val_loss"]) // 2
    assert plain["val_accuracy"][best] > plain["val_accuracy"][-1] + 0.05  # stopping early would have kept more
    for remedy in (dropout, decay):
        assert remedy["val_loss"][-1] < 0.8 * plain["val_loss"][-1]
        assert remedy["val_accuracy"][-1] > plain["val_accuracy"][-1] + 0.02


def test_class_weights_and_oversampling_find_the_rare_class():
    from nnforge.lessons.imbalance import fit

    plain_recall, plain_accuracy = fit("plain")
    for method in ("class weights", "oversampling", "focal + weights"):
        recall, accuracy = fit(method)
        assert recall > plain_recall + 0.25 and accuracy > plain_accuracy - 0.02, (method, recall, plain_recall)


def test_a_lesson_picture_is_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    """A lesson stopped (killed, disk full) while writing a picture left a torn PNG in place of the
    previous one; the write is atomic now: the previous picture stays and nothing else is left."""
    import errno
    from pathlib import Path

    from matplotlib.figure import Figure

    from nnforge.errors import StorageError
    from nnforge.lessons._common import save

    (tmp_path / "plot.png").write_bytes(b"the previous picture")
    fig = Figure()
    fig.add_subplot().plot([0, 1], [0, 1])
    real = Path.write_bytes

    def torn(self, data):
        real(self, data[:10])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", torn)
    with warnings.catch_warnings(), pytest.raises(StorageError, match="no space left"):
        warnings.simplefilter("ignore", FigureWarning)
        save(fig, tmp_path, "plot.png")
    monkeypatch.undo()
    assert (tmp_path / "plot.png").read_bytes() == b"the previous picture"
    assert [p.name for p in tmp_path.iterdir()] == ["plot.png"]


@pytest.mark.parametrize("name, shown", [("\x1b[31mred", "\\x1b[31mred"), ("two\nlines", "two lines"), ("bell\a", "bell\\x07")])
def test_a_value_from_the_command_line_cannot_break_the_line_or_rewrite_the_terminal(capsys, name, shown):
    """A user error quoting what was typed (here an unknown lesson name): before, an ANSI escape in it reached
    the terminal as is (the rest of the terminal turned red) and a bell rang; now control characters are escaped."""
    from nnforge.cli import main

    assert main(["lesson", name]) == 2
    err = capsys.readouterr().err
    assert err.endswith("\n") and err[:-1].isprintable()
    assert f"'{shown}'" in err
