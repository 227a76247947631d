"""``nnforge explain RUN``: per-class scores, confusions, top losses, attribution images or feature importance."""

from __future__ import annotations

from nnforge.errors import UserError


def _indices(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserError(f"--examples '{text}': accepted: test-split indices separated by commas, e.g. 0,7,42") from None


def cmd_explain(args) -> int:
    from nnforge.explain.report import explain_run

    methods = [m for item in args.method for m in item.split(",") if m] if args.method else None
    report = explain_run(args.run, methods, _indices(args.examples), layer=args.layer, top_k=args.top)
    if report.get("task") == "regress":
        print(f"test RMSE {report['rmse']:.4g}  MAE {report['mae']:.4g}  R² {report['r2']:.3f}")
        for r in report["largest_errors"][:5]:
            print(f"  row {r['index']}: true {r['true'][0]:.4g}, predicted {r['predicted'][0]:.4g}")
        print(f"wrote {args.run}/explain/ (report.md, report.json, pictures)")
        return 0
    print(f"test accuracy {report['accuracy']:.2%}")
    worst = sorted(report["per_class"], key=lambda r: r["f1"])[:3]
    print("lowest F1: " + ", ".join(f"{r['class']} {r['f1']:.3f}" for r in worst))
    for p in report["confused_pairs"][:5]:
        print(f"  {p['true']} -> {p['predicted']}: {p['count']} ({p['share_of_true']:.1%} of {p['true']})")
    print(f"wrote {args.run}/explain/ (report.md, report.json" + (", pictures)" if report["files"] else ")"))
    return 0


def register(sub, add, add_set) -> None:
    p = add(sub, "explain", "error analysis (per-class scores, confused pairs, top losses) and attributions (images or features)",
            "nnforge explain runs/cnn --method gradcam ig --examples 0,7,42", cmd_explain)
    p.add_argument("run", help="run directory")
    p.add_argument("--method", nargs="+", default=None, metavar="METHOD",
                   help="gradcam (images only), ig (integrated gradients), shap (gradient SHAP), lime, permutation "
                        "(regression runs); several allowed (default: gradcam for image runs, shap for tabular runs, "
                        "shap and permutation for regression runs)")
    p.add_argument("--layer", help="Grad-CAM layer by name (default: the last conv layer)")
    p.add_argument("--examples", help="test-split indices to explain, comma-separated (default: 4 mistakes + 4 correct)")
    p.add_argument("--top", type=int, default=16, help="how many top-loss examples to show (default 16)")
