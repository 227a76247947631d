"""``explain_run``: the error analysis and attribution pictures of a run, in ``RUN/explain/``.

    report.json, report.md       per-class precision/recall/F1, most-confused pairs, top losses
    top_losses.png               image runs: the highest-loss test images with true and predicted labels
    attributions-METHOD.png      image runs: chosen test images with the method's heat map over them;
                                 tabular runs: each chosen row's strongest features as signed bars
    importance-METHOD.png        tabular runs: features ranked by mean |attribution| over the test split

A regression run is explained by :mod:`nnforge.explain.regression` (largest errors, attributions of
the predicted value, permutation importance); :func:`explain_run` hands it over.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from nnforge import io
from nnforge.errors import UserError
from nnforge.explain.errors import error_analysis
from nnforge.explain.figures import (_plt, _save, feature_importance, literal, md_cell, plot_feature_attributions,  # noqa: F401
                                     plot_importance, short_source, source_column, where_from, write_report)

BACKGROUND_ROWS = 64  # training inputs that SHAP draws its baselines from
IMPORTANCE_ROWS = 200  # tabular runs: test rows averaged for the feature importance


def _show(ax, image: np.ndarray) -> None:
    """image: uint8 (C, H, W)."""
    if image.shape[0] == 1:
        ax.imshow(image[0], cmap="gray", vmin=0, vmax=255)
    else:
        ax.imshow(image.transpose(1, 2, 0))
    ax.set_xticks([])
    ax.set_yticks([])


def plot_top_losses(images: np.ndarray, rows: list[dict], classes: list[str], path: Path) -> Path:
    plt = _plt()
    n = len(rows)
    cols = min(8, n)
    fig, axes = plt.subplots((n + cols - 1) // cols, cols, figsize=(1.7 * cols, 2.0 * ((n + cols - 1) // cols)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, row in zip(axes.flat, rows):
        ax.axis("on")
        _show(ax, images[row["index"]])
        ax.set_title(f"{literal(short_source(row['source'])) + chr(10) if 'source' in row else ''}true {literal(classes[row['true']])}\npred {literal(classes[row['predicted']])} ({row['probability']:.0%})\nloss {row['loss']:.2f}",
                     fontsize=7)
    fig.suptitle("top losses on the test split")
    return _save(fig, path)


def plot_attributions(images: np.ndarray, maps: np.ndarray, labels: list[str], method: str, path: Path) -> Path:
    """Each chosen image, then its heat map laid over it (red: evidence for the class)."""
    plt = _plt()
    n = len(images)
    fig, axes = plt.subplots(2, n, figsize=(1.7 * n, 3.8), squeeze=False)
    for i in range(n):
        _show(axes[0, i], images[i])
        axes[0, i].set_title(literal(labels[i]), fontsize=7)
        _show(axes[1, i], images[i])
        m = maps[i]
        bound = float(np.abs(m).max()) or 1.0
        axes[1, i].imshow(m, cmap="bwr", vmin=-bound, vmax=bound, alpha=0.6, interpolation="bilinear")
    fig.suptitle(f"{method}: attributions for the predicted class")
    return _save(fig, path)


def choose_examples(probabilities: np.ndarray, targets: np.ndarray, n: int = 8) -> list[int]:
    """Half mistakes (highest loss first), half correct predictions, for a balanced picture."""
    wrong = np.flatnonzero(probabilities.argmax(1) != targets)
    losses = -np.log(np.clip(probabilities[wrong, targets[wrong]], 1e-12, None))
    wrong = wrong[np.argsort(-losses, kind="stable")][: n // 2]
    right = np.flatnonzero(probabilities.argmax(1) == targets)[: n - len(wrong)]
    return sorted(int(i) for i in np.concatenate([wrong, right]))


def explain_run(run_dir: str | Path, methods: Sequence[str] | None = None, examples: Sequence[int] | None = None,
                layer: str | None = None, top_k: int = 16, log: Callable[[str], None] = print) -> dict:
    from nnforge.explain.attribution import METHODS, attribute
    from nnforge.predictor import load
    from nnforge.rundir import load_run_test_split

    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:  # 0 divided by zero drawing the grid
        raise UserError(f"--top is {top_k!r}; accepted: a positive whole number (how many top-loss examples to show)")
    run_dir = Path(run_dir)
    predictor = load(run_dir)
    if predictor.regression:
        from nnforge.explain.regression import explain_regression

        return explain_regression(predictor, methods, examples, top_k, log)
    if methods is None:  # Grad-CAM needs convolutions; gradient SHAP suits any differentiable model
        has_conv = any(isinstance(m, torch.nn.Conv2d) for m in predictor.model.modules())
        methods = ("gradcam",) if predictor.kind == "image" and has_conv else ("shap",)
    for m in methods:
        if m == "permutation":  # the regression methods' own: how much shuffling a column raises the test RMSE
            raise UserError(f"--method permutation ranks the features of regression runs (test RMSE); this run is a classifier: "
                            f"use {'ig, shap or lime' if predictor.kind != 'image' else ', '.join(METHODS)}")
        if m not in METHODS:
            raise UserError(f"--method '{m}' is not known; accepted: {', '.join(METHODS)}")
    if predictor.kind != "image" and "gradcam" in methods:
        raise UserError("--method gradcam needs an image model with a convolutional layer; this run is tabular: use ig, shap or lime")
    dataset = load_run_test_split(run_dir, encoding=predictor.preprocessing.encoding)
    predictor.check_dataset(dataset, f"; {run_dir}/config.yaml names another dataset than the one it was trained on")
    probs = predictor.predict_stored(dataset.x_test)
    y = dataset.y_test.numpy()
    report = error_analysis(probs, y, predictor.classes, top_k)
    sources = dataset.test_sources  # a csv's lines, a folder's files: where to look at an example
    if sources is not None:
        for row in report["top_losses"]:
            row["source"] = sources[row["index"]]
    chosen = list(examples) if examples else choose_examples(probs, y)
    bad = [i for i in chosen if not 0 <= i < len(y)]
    if bad:
        raise UserError(f"--examples {bad[0]} is outside the test split (0..{len(y) - 1})")
    out = run_dir / "explain"
    io.make_dir(out)
    files = {}
    report["examples"] = chosen
    target = torch.from_numpy(probs[chosen].argmax(1))
    labels = [f"#{i}{where_from(sources, i)} true {predictor.classes[y[i]]}\npred {predictor.classes[int(t)]}" for i, t in zip(chosen, target)]
    background = predictor.preprocessing(dataset.x_train[:BACKGROUND_ROWS]) if getattr(dataset, "x_train", None) is not None else None
    if predictor.kind == "image":
        images = dataset.x_test.numpy()
        files["top_losses"] = str(plot_top_losses(images, report["top_losses"], predictor.classes, out / "top_losses.png"))
        x = predictor.preprocessing(dataset.x_test[chosen])
        baseline = predictor.preprocessing(torch.zeros_like(dataset.x_test[:1]) if predictor.preprocessing.background == "dark"
                                           else torch.full_like(dataset.x_test[:1], 255))
        for method in methods:
            maps = attribute(predictor.model, x, target, method, layer=layer, baseline=baseline, background=background).numpy()
            files[method] = str(plot_attributions(images[chosen], maps, labels, method, out / f"attributions-{method}.png"))
            log(f"{method}: {files[method]}")
    else:
        # The baseline is the training mean (zero after standardising); importance is averaged
        # over the first IMPORTANCE_ROWS test rows, each explained for its predicted class.
        features = predictor.preprocessing.feature_labels()
        rows = list(range(min(len(y), IMPORTANCE_ROWS)))
        x_all = predictor.preprocessing(dataset.x_test[rows])
        target_all = torch.from_numpy(probs[rows].argmax(1))
        report["feature_importance"] = {}
        for method in methods:
            maps = attribute(predictor.model, x_all, target_all, method, background=background).numpy()
            report["feature_importance"][method] = importance = feature_importance(maps, features)
            files[f"importance-{method}"] = str(plot_importance(importance, method, out / f"importance-{method}.png"))
            chosen_maps = attribute(predictor.model, predictor.preprocessing(dataset.x_test[chosen]), target, method,
                                    background=background).numpy()
            files[method] = str(plot_feature_attributions(chosen_maps, features, labels, method, out / f"attributions-{method}.png"))
            log(f"{method}: most important features {', '.join(r['feature'] for r in importance[:3])} ({files[f'importance-{method}']})")
    return write_report(out, report, files, lambda r: markdown(r, run_dir))


def markdown(report: dict, run_dir: Path) -> str:
    lines = [f"# Error analysis of {run_dir}", "", f"test accuracy {report['accuracy']:.2%}", "",
             "| class | precision | recall | F1 | support |", "| --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {md_cell(r['class'])} | {r['precision']:.3f} | {r['recall']:.3f} | {r['f1']:.3f} | {r['support']} |" for r in report["per_class"]]
    lines += ["", "## Most confused pairs", "", "| true | predicted | count | share of true |", "| --- | --- | ---: | ---: |"]
    lines += [f"| {md_cell(p['true'])} | {md_cell(p['predicted'])} | {p['count']} | {p['share_of_true']:.1%} |" for p in report["confused_pairs"]]
    classes = [r["class"] for r in report["per_class"]]
    head, align, source = source_column(report["top_losses"])
    lines += ["", "## Top losses", "", f"| test example |{head} true | predicted | confidence | loss |",
              f"| ---: |{align} --- | --- | ---: | ---: |"]
    lines += [f"| {r['index']} |{source(r)}"
              + f" {md_cell(classes[r['true']])} | {md_cell(classes[r['predicted']])} | {r['probability']:.1%} | {r['loss']:.3f} |" for r in report["top_losses"]]
    for method, importance in report.get("feature_importance", {}).items():
        lines += ["", f"## Feature importance ({method})", "", "| rank | feature | mean abs attribution |", "| ---: | --- | ---: |"]
        lines += [f"| {i} | {r['feature']} | {r['mean_abs_attribution']:.4g} |" for i, r in enumerate(importance[:15], 1)]
    if report.get("files"):
        earlier = set(report.get("files_from_earlier_calls", ()))
        lines += ["", "## Pictures", ""] + [f"- {k}: {v}" + (" (an earlier explain call)" if k in earlier else "")
                                            for k, v in report["files"].items()]
    return "\n".join(lines) + "\n"
