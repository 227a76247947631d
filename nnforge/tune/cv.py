"""k-fold cross-validation of one trial (``nnforge tune --cv K``), the seed's ``GridSearchCV(cv=3)``.

Each fold is a complete run through the one loop (``run(..., fold=(k, K))``): it trains on the
other K-1 folds of the training split and is judged on fold k (stratified for classifiers, as
scikit-learn's ``StratifiedKFold(K, shuffle=True, random_state=seed)`` cuts them). The test split
is never looked at for selection. After each fold the running mean is reported to Optuna, so the
pruner can stop a trial whose first folds already trail the others.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path


@dataclass
class CVResult:
    scores: list[float]
    pruned_after: int | None  # folds run before the pruner stopped the trial

    @property
    def mean(self) -> float:
        return statistics.fmean(self.scores)

    @property
    def std(self) -> float:
        return statistics.pstdev(self.scores) if len(self.scores) > 1 else 0.0


def cross_validate(config, run_dir: Path, folds: int, metric: str, trial=None) -> CVResult:
    """The validation ``metric`` of each of ``folds`` runs under ``run_dir/fold-N``, at the epoch each
    run's model holds (the last, or the best one a regression or early stopping keeps)."""
    from nnforge.errors import ConfigError
    from nnforge.train import run
    from nnforge.train.run import kept_epoch

    scores: list[float] = []
    for k in range(folds):
        result = run(config, run_dir / f"fold-{k + 1}", name=f"fold-{k + 1}", fold=(k, folds), pictures=False)
        value = kept_epoch(config, result.history).get(metric)
        if value is None:
            raise ConfigError(f"'tune.metric' {metric} was not measured on the folds; task {config.task} measures other metrics")
        scores.append(float(value))
        if trial is not None:
            trial.report(statistics.fmean(scores), k)
            if k + 1 < folds and trial.should_prune():
                return CVResult(scores, k + 1)
    return CVResult(scores, None)
