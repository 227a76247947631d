"""The curriculum: each seed section as a runnable lesson with printed and plotted output.

``LESSONS`` maps a lesson's name to a :class:`Lesson`; ``nnforge lesson NAME --out DIR`` calls
``LESSONS[NAME].run(Path(DIR))``, which prints what the lesson shows and writes its pictures
(PNG) into that folder. Each lesson is one script in jupytext's percent format
(``scripts/MODULE.py``: ``# %%`` code cells, ``# %% [markdown]`` prose): the CLI executes it as
a script and ``nnforge lesson NAME --notebook`` converts the same file into ``NAME.ipynb``
(``notebooks.py``), so the notebook and the printed lesson cannot drift apart. Functions a
lesson shares with its tests (a training loop, a data split) live in the module of the same
name beside this file. ``seed_section`` points back to the text: ``1.2`` ... ``2.3`` and
``7.1`` ... ``7.3`` (common problems) are sections of the first seed document; ``math.1`` to
``math.3`` are the maths foundations of the second (linear algebra, calculus, probability and
statistics); ``next.1`` to ``next.3`` are the directions both documents end on (the Transformer,
GANs, reinforcement learning). Every lesson runs in seconds.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Callable

SCRIPTS = Path(__file__).parent / "scripts"

__all__ = ["LESSONS", "Lesson", "run_lesson"]


@dataclass(frozen=True)
class Lesson:
    name: str
    title: str
    seed_section: str
    module: str

    @property
    def script(self) -> Path:
        """The lesson's percent-format source: the script the CLI runs and the notebook's cells."""
        return SCRIPTS / f"{self.module}.py"

    @property
    def run(self) -> Callable[[Path], None]:
        """``run(out_dir)``: print the lesson and write its PNGs into ``out_dir``."""
        from ._runner import run_script

        return partial(run_script, self.script)


_TABLE = [
    ("perceptron", "1.2", "perceptron", "A single neuron: weighted sum + bias + activation, and what one neuron cannot learn"),
    ("activations", "1.3", "activations", "Sigmoid, ReLU and tanh with their derivatives (by autograd)"),
    ("losses", "2.1", "losses", "MSE and cross-entropy: the seed's numbers, stable logits, smoothing, weights, focal loss"),
    ("backprop", "2.2", "backprop", "A two-layer net's gradients by hand, by autograd and by finite differences"),
    ("xor", "2.2", "xor", "Train the seed's 2-4-1 network on XOR and draw its decision boundary"),
    ("optimizers", "2.3", "optimizers", "SGD vs momentum vs Adam on the same problem, one plot of loss curves"),
    ("linear-algebra", "math.1", "linear_algebra", "Vectors, matrices, eigenvectors, and a layer as a matrix product"),
    ("calculus", "math.2", "calculus", "A derivative by SymPy, by autograd and numerically, agreeing"),
    ("probability", "math.3", "probability", "Distributions, expectation and variance, and softmax as a distribution"),
    ("vanishing", "7.1", "vanishing", "Vanishing gradients layer by layer in a 12-layer net, and how ReLU, BatchNorm and residuals cure them"),
    ("overfitting", "7.2", "overfitting", "Overfitting watched happen on 150 digits, and dropout, weight decay and early stopping against it"),
    ("imbalance", "7.3", "imbalance", "A rare class, found or missed: class weights, oversampling and focal loss against plain training"),
    ("attention", "next.1", "attention", "Self-attention written out, and a one-layer Transformer reading digits row by row"),
    ("gan", "next.2", "gan", "A generative adversarial network learns to write digits, judged by its distance to real ones"),
    ("reinforcement", "next.3", "reinforcement", "Q-learning: an agent learns to cross a frozen lake from rewards alone"),
    ("federated", "8.1", "federated", "Federated averaging: clients train on data that never leaves them, IID and non-IID, against centralised"),
    ("selfsupervised", "8.1", "selfsupervised", "Self-supervised pretraining: an encoder learns digits from images alone (SimCLR), then from 100 labels"),
    ("nas", "8.1", "nas", "Architecture search: NSGA-II designs conv nets for the digits, and the Pareto front of accuracy against size"),
]

LESSONS: dict[str, Lesson] = {name: Lesson(name, title, section, module) for name, section, module, title in _TABLE}


def run_lesson(name: str, out_dir: str | Path | None = None) -> Path:
    """Run one lesson by name (``out_dir`` defaults to ``lessons_out/NAME``); return the folder."""
    if name not in LESSONS:
        from nnforge.errors import UserError, did_you_mean
        raise UserError(f"unknown lesson '{name}'{did_you_mean(name, LESSONS)}; available: {', '.join(LESSONS)}")
    out = Path(out_dir) if out_dir is not None else Path("lessons_out") / name
    out.mkdir(parents=True, exist_ok=True)
    LESSONS[name].run(out)
    return out
