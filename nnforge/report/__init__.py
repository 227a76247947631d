"""Plots and the HTML run report."""

from nnforge.report.plots import plot_confusion, plot_curves

__all__ = ["plot_confusion", "plot_curves"]
