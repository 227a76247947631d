"""Differentiable operations grouped by kind; :mod:`nnforge.scratch.nn.functional` re-exports them."""
