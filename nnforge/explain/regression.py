"""``nnforge explain`` on a regression run: where the model errs, and which features its values rest on.

    report.json, report.md        test MAE/RMSE/R², the largest errors, feature importance per method
    errors.png                    the largest test errors (true against predicted)
    importance-METHOD.png         features ranked by mean |attribution| (``ig``, ``shap``, ``lime``: Captum,
                                  on the predicted value) or by how much shuffling a feature raises the RMSE
                                  (``permutation``: scikit-learn's ``permutation_importance``; a csv's
                                  raw columns, each shuffled with all the features it was encoded as)
    attributions-METHOD.png       the chosen rows' strongest features, signed (Captum methods)

Attributions are turned into the target's units (the network sees a standardised target), so
integrated gradients' attributions of a row add up to its prediction minus the prediction at the
training mean.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from nnforge import io
from nnforge.errors import UserError
from nnforge.explain.figures import source_column, where_from

METHODS = ("ig", "shap", "lime", "permutation")
BACKGROUND_ROWS = 64


def permutation_importance_rmse(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, y: np.ndarray,
                                groups: dict[str, list[int]], repeats: int = 10, seed: int = 0) -> list[dict]:
    """Each group's rise in test RMSE (target units) when its features are shuffled together, ranked,
    through scikit-learn's ``permutation_importance``. A group is one feature, or a csv's raw column
    with every feature it was encoded as (:func:`column_groups`): shuffling one category's 0/1 feature
    alone makes rows with two categories or none, which no table holds.

    scikit-learn shuffles columns one at a time, so it is handed one column of row numbers per group
    (all ``arange(n)``); a shuffled column says which rows that group's features come from. Its
    shuffles are then those it makes of the raw table itself."""
    from sklearn.inspection import permutation_importance

    from nnforge.train.tasks.regress import scores

    class _Fitted:  # permutation_importance only calls the scorer with it
        def fit(self, *a):
            return self

    members = list(groups.values())
    sources = np.tile(np.arange(len(x))[:, None], (1, len(members)))

    def rows(shuffled: np.ndarray) -> np.ndarray:  # the encoded rows, each group's features taken from its source rows
        out = x.copy()
        for g in np.flatnonzero((shuffled != sources).any(0)):  # the one group scikit-learn shuffled (none: the baseline)
            out[:, members[g]] = x[shuffled[:, g]][:, members[g]]
        return out

    scorer = lambda _est, idx, ys: -scores(predict(rows(idx)), ys)["rmse"]  # noqa: E731 - higher is better
    result = permutation_importance(_Fitted(), sources, y, scoring=scorer, n_repeats=repeats, random_state=seed)
    names = list(groups)
    order = np.argsort(-result.importances_mean, kind="stable")
    return [{"feature": names[i], "mean_abs_attribution": float(result.importances_mean[i]),
             "rmse_increase": float(result.importances_mean[i]), "std": float(result.importances_std[i])} for i in order]


def column_groups(encoding: dict) -> dict[str, list[int]]:
    """A csv's raw columns -> the encoded features each one became (its one-hot categories; a numeric
    value and its ``_missing`` indicator), in the encoded order."""
    groups, k = {}, 0
    for c in encoding["columns"]:
        width = len(c["categories"]) if c["kind"] == "categorical" else 1 + c["indicator"]
        groups[c["name"]], k = list(range(k, k + width)), k + width
    return groups


def explain_regression(predictor, methods: Sequence[str] | None = None, examples: Sequence[int] | None = None,
                       top_k: int = 16, log: Callable[[str], None] = print) -> dict:
    from nnforge.config import default_config
    from nnforge.data.registry import load_table
    from nnforge.explain.attribution import attribute
    from nnforge.explain.figures import feature_importance, plot_feature_attributions, plot_importance, write_report
    from nnforge.rundir import read_recipe
    from nnforge.train.tasks.regress import scores

    run_dir = predictor.run_dir
    methods = tuple(methods or ("shap", "permutation"))
    for m in methods:
        if m not in METHODS:
            raise UserError(f"--method '{m}' does not explain a regression run; accepted: {', '.join(METHODS)}")
    recipe = read_recipe(run_dir) if (run_dir / "config.yaml").is_file() else default_config()
    table = load_table(recipe.data, recipe.seed).encoded_with(predictor.preprocessing.encoding)  # a csv: as the model trained
    x_test, y_test = torch.from_numpy(table.x_test), table.y_test.astype(np.float64)
    pred = predictor.predict_stored(x_test).astype(np.float64)
    err = np.abs(pred - y_test).mean(1)
    worst = np.argsort(-err, kind="stable")[:top_k]
    chosen = list(examples) if examples else [int(i) for i in worst[:4]] + [int(i) for i in np.argsort(err, kind="stable")[:4]]
    bad = [i for i in chosen if not 0 <= i < len(y_test)]
    if bad:
        raise UserError(f"--examples {bad[0]} is outside the test split (0..{len(y_test) - 1})")
    names = predictor.classes
    report = {"task": "regress", "targets": names, **scores(pred, y_test), "examples": chosen,
              "largest_errors": [{"index": int(i), "true": y_test[i].tolist(), "predicted": pred[i].tolist(), "abs_error": float(err[i]),
                                  **({"source": table.test_sources[i]} if table.test_sources is not None else {})} for i in worst],
              "feature_importance": {}}
    out = run_dir / "explain"
    io.make_dir(out)
    files = {"errors": str(_plot_errors(y_test[:, 0], pred[:, 0], worst, names[0], out / "errors.png"))}
    features = predictor.preprocessing.feature_labels()
    pre, model = predictor.preprocessing, predictor.model
    background = pre(torch.from_numpy(table.x_train[:BACKGROUND_ROWS]))
    for method in methods:
        if method == "permutation":
            predict = lambda xs: predictor.predict_stored(torch.from_numpy(np.asarray(xs, np.float32)))  # noqa: E731
            # a csv's text and gappy columns: each raw column shuffled whole; else each feature alone
            groups = column_groups(pre.encoding) if pre.encoding is not None else {f: [i] for i, f in enumerate(features)}
            importance = permutation_importance_rmse(predict, table.x_test, y_test, groups)
        else:
            # attributions of the first target's value, in its units (the network's output times the target's std)
            scale = float(predictor.target_std[0])
            target = torch.zeros(len(x_test), dtype=torch.long)
            maps = attribute(model, pre(x_test), target, method, background=background, probabilities=False).numpy() * scale
            importance = feature_importance(maps, features)
            chosen_maps = maps[chosen]
            labels = [f"#{i}{where_from(table.test_sources, i)} true {y_test[i, 0]:.4g}\npred {pred[i, 0]:.4g}" for i in chosen]
            files[method] = str(plot_feature_attributions(chosen_maps, features, labels, method, out / f"attributions-{method}.png"))
        report["feature_importance"][method] = importance
        files[f"importance-{method}"] = str(plot_importance(importance, method, out / f"importance-{method}.png"))
        log(f"{method}: most important features {', '.join(r['feature'] for r in importance[:3])} ({files[f'importance-{method}']})")
    return write_report(out, report, files, lambda r: markdown(r, run_dir))


def _plot_errors(truth: np.ndarray, pred: np.ndarray, worst: np.ndarray, name: str, path: Path) -> Path:
    from nnforge.report.plots import _pyplot, literal, save_figure

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 5))
    ax.scatter(truth, pred, s=12, alpha=0.6, label="test rows")
    ax.scatter(truth[worst], pred[worst], s=30, color="tab:red", label=f"{len(worst)} largest errors")
    for i in worst[:8]:
        ax.annotate(f"#{i}", (truth[i], pred[i]), fontsize=7)
    lo, hi = float(min(truth.min(), pred.min())), float(max(truth.max(), pred.max()))
    ax.plot([lo, hi], [lo, hi], "k--", lw=1)
    ax.set_xlabel(f"true {literal(name)}")
    ax.set_ylabel(f"predicted {literal(name)}")
    ax.legend(fontsize=8)
    ax.set_title("largest test errors")
    return save_figure(fig, path)


def markdown(report: dict, run_dir: Path) -> str:
    lines = [f"# Error analysis of {run_dir}", "", f"test RMSE {report['rmse']:.4g}, MAE {report['mae']:.4g}, R² {report['r2']:.3f} "
             f"({', '.join(report['targets'])})", "", "## Largest errors", ""]
    head, align, source = source_column(report["largest_errors"])
    lines += [f"| test row |{head} true | predicted | abs error |", f"| ---: |{align} --- | --- | ---: |"]
    lines += [f"| {r['index']} |{source(r)}"
              + f" {', '.join(f'{v:.4g}' for v in r['true'])} | {', '.join(f'{v:.4g}' for v in r['predicted'])} | "
              f"{r['abs_error']:.4g} |" for r in report["largest_errors"]]
    for method, importance in report["feature_importance"].items():
        what = "RMSE increase when shuffled" if method == "permutation" else "mean abs attribution (target units)"
        lines += ["", f"## Feature importance ({method})", "", f"| rank | feature | {what} |", "| ---: | --- | ---: |"]
        lines += [f"| {i} | {r['feature']} | {r['mean_abs_attribution']:.4g} |" for i, r in enumerate(importance[:15], 1)]
    if report.get("files"):
        lines += ["", "## Pictures", ""] + [f"- {k}: {v}" for k, v in report["files"].items()]
    return "\n".join(lines) + "\n"
