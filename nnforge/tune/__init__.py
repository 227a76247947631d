"""Hyperparameter search with Optuna: the search space lives in the recipe's ``tune`` section.

Kept light: ``nnforge.tune.space`` parses the section, ``nnforge.tune.search`` runs the study.
"""

SAMPLERS = ("tpe", "random", "grid")
DEFAULT_STORAGE = "sqlite:///study.db"
