"""nnforge: from a single neuron to a deployed model.

``nnforge.scratch`` builds neural networks from first principles (NumPy only); the rest trains,
tunes, explains, compresses and serves real PyTorch models from one recipe format. From Python:

    run = nnforge.fit("mnist_cnn", out="runs/x", overrides={"train.epochs": 3})
    model = nnforge.load(run.dir)
    model.predict("digit.png")          # or PIL images, NumPy arrays, tensors; one or a batch
    nnforge.runs()                      # what is under runs/
"""

from nnforge.version import __version__  # noqa: F401


def fit(recipe=None, out=None, *, overrides=None, resume=False, callbacks=()):
    """Train a recipe (a packaged recipe's name, a YAML path, a dict or a resolved recipe); see :func:`nnforge.api.fit`."""
    from nnforge.api import fit as _fit

    return _fit(recipe, out, overrides=overrides, resume=resume, callbacks=callbacks)


def load(run_dir, device: str = "cpu"):
    """Rebuild a trained model from its run directory: a :class:`nnforge.predictor.Predictor`, whose
    ``predict`` takes files, PIL images, arrays or tensors and returns classes, probabilities and top-k."""
    from nnforge.predictor import load as _load

    return _load(run_dir, device)


def runs(root="runs", *, sort=None, filters=(), reverse=False):
    """Every run directory under ``root`` (finished, partial, running, failed or damaged), newest first,
    each with its status, task, metrics, recipe and epochs; ``sort``/``filters`` as ``nnforge runs``'s
    ``--sort``/``--filter``; see :func:`nnforge.api.runs`."""
    from nnforge.api import runs as _runs

    return _runs(root, sort=sort, filters=filters, reverse=reverse)
