"""``nnforge report RUN``: the HTML report of a run."""


def cmd_report(args) -> int:
    from nnforge.report.html import build_report

    path = build_report(args.run)
    print(f"report written: {path}")
    return 0


def register(sub, add, add_set) -> None:
    p = add(sub, "report", "write the HTML report of a run (metrics, curves, confusion, per-class table, pictures)",
            "nnforge report runs/quickstart-20260101-120000", cmd_report)
    p.add_argument("run", help="run directory")
