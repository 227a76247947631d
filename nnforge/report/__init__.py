"""Plots and the HTML run report."""


def plot_curves(*args, **kwargs):
    from nnforge.report.plots import plot_curves as _plot

    return _plot(*args, **kwargs)


def plot_confusion(*args, **kwargs):
    from nnforge.report.plots import plot_confusion as _plot

    return _plot(*args, **kwargs)


__all__ = ["plot_confusion", "plot_curves"]
