"""nnforge: from a single neuron to a deployed model.

``nnforge.scratch`` builds neural networks from first principles (NumPy only); the rest trains,
tunes, explains, compresses and serves real PyTorch models from one recipe format.
"""

__version__ = "0.1.0"


def load(run_dir, device: str = "cpu"):
    """Rebuild a trained model from its run directory (see :class:`nnforge.predictor.Predictor`)."""
    from nnforge.predictor import load as _load

    return _load(run_dir, device)


def fit(config, out_dir=None, **kwargs):
    """Train from a resolved recipe (see :func:`nnforge.train.fit`)."""
    from nnforge.train.fit import fit as _fit

    return _fit(config, out_dir, **kwargs)
