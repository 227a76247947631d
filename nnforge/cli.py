"""The command line: thin — every command parses its arguments and calls the library.

A user's mistake (:class:`~nnforge.errors.UserError`) is printed as one line and exits with
status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nnforge.errors import UserError, command_line

from nnforge.rundir import RECIPES, recipe_path


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def _print_summary(run, stream=None) -> None:
    from nnforge.train.tasks import TASKS

    (stream or sys.stdout).write(f"{TASKS[run.config.task]().summary(run.metrics)}\nrun directory: {run.dir}\n")


# -- commands -----------------------------------------------------------------------------

def cmd_quickstart(args) -> int:
    from nnforge.config import load_config
    from nnforge.train import run

    config = load_config(RECIPES / "quickstart.yaml", args.set)
    print("nnforge quickstart: a small BatchNorm CNN on 5,000 real MNIST digits (4,000 train / 1,000 test)")
    result = run(config, args.out, name="quickstart")
    _print_summary(result)
    print(f"next: nnforge eval {result.dir}   |   nnforge predict {result.dir} some_digit.png")
    return 0


def cmd_train(args) -> int:
    from nnforge.config import load_config
    from nnforge.errors import RunError
    from nnforge.train import run

    if args.nproc and args.nproc > 1:
        from nnforge.train.distributed import launch  # torchrun + DistributedDataParallel

        return launch(args)
    if args.resume and args.out is None:  # nnforge train --resume RUN
        if not Path(args.config).is_dir():
            raise RunError(f"run directory '{args.config}' not found; --resume RUN continues a run that `nnforge train --out RUN` "
                           "started (or pass CONFIG --out RUN --resume)")
        args.out, args.config = args.config, str(Path(args.config) / "config.yaml")
    path = recipe_path(args.config)
    config = load_config(path, args.set)
    hint = f"nnforge train {path} --out {args.out} --resume" if args.out else None
    result = run(config, args.out, resume=args.resume, name=path.stem, find_lr=args.find_lr, hint=hint)
    if args.find_lr:
        return 0
    if result.model is not None:  # a complete run given to --resume is reported as it is
        _print_summary(result)
    return 0


def cmd_eval(args) -> int:
    from nnforge.compress.ensemble import evaluate_runs

    result = evaluate_runs(args.runs, data=args.data, root=args.root, combine="vote" if args.vote else "mean",
                          tta=getattr(args, "tta", False))
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    label = "ensemble of " + str(len(args.runs)) + " runs" if len(args.runs) > 1 else args.runs[0]
    print(f"{label} on {result['dataset']} ({result['examples']} test examples)")
    for member in result.get("members", []):
        print(f"  {member['run']}: accuracy {member['accuracy']:.2%}")
    print(f"accuracy {result['accuracy']:.2%}  loss {result['loss']:.4f}")
    return 0


def cmd_predict(args) -> int:
    from nnforge.predictor import load

    predictor = load(args.run)
    results = predictor.predict_files(args.files)
    for name, note in predictor.notes.items():
        print(f"nnforge predict: note: {name}: {note}, as in training", file=sys.stderr)
    if args.json:
        print(json.dumps([{"input": name, "top": predictor.top_k(p, args.top)} for name, p in results], indent=2))
        return 0
    for name, probs in results:
        top = predictor.top_k(probs, args.top)
        alts = ", ".join(f"{t['class']} {t['probability']:.1%}" for t in top[1:])
        print(f"{name}: {top[0]['class']} ({top[0]['probability']:.1%})" + (f"   [{alts}]" if alts else ""))
    return 0


def cmd_datasets(args) -> int:
    from nnforge.data import DATASETS, PATTERNS

    width = max(map(len, list(DATASETS) + list(PATTERNS)))
    for name, info in DATASETS.items():
        print(f"{name:<{width}}  {info.summary}")
    for name, summary in PATTERNS.items():
        print(f"{name:<{width}}  {summary}")
    return 0


def cmd_models(args) -> int:
    from nnforge.models import MODELS

    width = max(map(len, MODELS))
    for name, info in MODELS.items():
        print(f"{name:<{width}}  {info.summary}")
    return 0


def cmd_lesson(args) -> int:
    try:
        from nnforge.lessons import LESSONS
    except ImportError:
        raise UserError("lessons are not installed in this build") from None
    if args.notebook is not None:
        from nnforge.lessons import notebooks

        if not args.name:
            paths = notebooks.write_all(args.notebook)
            print(f"wrote {len(paths) - 1} lesson notebooks and {paths[-1]}")
            return 0
        if args.name in LESSONS:
            print(f"wrote {notebooks.write_notebook(args.name, args.notebook)}")
            return 0
    if not args.name:
        width = max(map(len, LESSONS))
        for name, lesson in LESSONS.items():
            print(f"{name:<{width}}  [{lesson.seed_section}] {lesson.title}")
        print("\nrun one with: nnforge lesson NAME")
        return 0
    if args.name not in LESSONS:
        import difflib

        near = difflib.get_close_matches(args.name, list(LESSONS), n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        raise UserError(f"no lesson '{args.name}'{hint}; `nnforge lesson` lists them")
    out = Path(args.out or Path("lessons_out") / args.name)
    out.mkdir(parents=True, exist_ok=True)
    LESSONS[args.name].run(out)
    return 0


# -- parser -------------------------------------------------------------------------------

COMMANDS: list[tuple[str, str, str, callable]] = []


def _add(sub, name: str, summary: str, example: str, func) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=summary, description=summary, epilog=f"example:\n  {example}", formatter_class=_Formatter)
    p.set_defaults(func=func)
    return p


def _add_set(p):
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a recipe key by its dotted path (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnforge",
        description="nnforge: from a single neuron to a deployed model.",
        epilog="start here:\n  nnforge quickstart\n  nnforge lesson",
        formatter_class=_Formatter,
    )
    from nnforge.version import __version__

    parser.add_argument("--version", action="version", version=f"nnforge {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = _add(sub, "quickstart", "train the default CNN on the bundled MNIST sample, evaluate, and write a run directory",
             "nnforge quickstart --out runs/first", cmd_quickstart)
    p.add_argument("--out", help="run directory to write (default: runs/quickstart-TIMESTAMP)")
    _add_set(p)

    p = _add(sub, "train", "one training run from a YAML recipe",
             "nnforge train configs/mnist_cnn.yaml --out runs/cnn --set train.epochs=3", cmd_train)
    p.add_argument("config", help="recipe file, or the name of a packaged recipe (mnist_mlp, mnist_cnn, digits_mlp, ...)")
    p.add_argument("--out", help="run directory to write (default: runs/RECIPE-TIMESTAMP)")
    _add_set(p)
    p.add_argument("--resume", action="store_true", help="continue a run from its last checkpoint: train --resume RUN, or train CONFIG --out RUN --resume")
    p.add_argument("--nproc", type=int, default=1, help="train with N processes (torchrun, DistributedDataParallel)")
    p.add_argument("--find-lr", action="store_true", help="sweep the learning rate, plot loss against it, and suggest one")

    p = _add(sub, "eval", "evaluate a run's model on its test split, or an ensemble of several runs",
             "nnforge eval runs/cnn runs/mlp", cmd_eval)
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories (several: averaged probabilities)")
    p.add_argument("--data", help="evaluate on another dataset with the same classes and input shape")
    p.add_argument("--root", help="data directory for --data")
    p.add_argument("--vote", action="store_true", help="ensemble by majority vote instead of averaging probabilities")
    p.add_argument("--tta", action="store_true", help="test-time augmentation: average over shifted (and, if trained so, mirrored) views")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = _add(sub, "predict", "predict classes for image files (PNG/JPEG) or CSV rows",
             "nnforge predict runs/cnn digit.png", cmd_predict)
    p.add_argument("run", help="run directory")
    p.add_argument("files", nargs="+", metavar="FILE", help="PNG/JPEG images or CSV files")
    p.add_argument("--top", type=int, default=3, help="how many classes to show (default 3)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    _add(sub, "datasets", "list the datasets nnforge can load by name", "nnforge datasets", cmd_datasets)
    _add(sub, "models", "list the models in the zoo", "nnforge models", cmd_models)

    p = _add(sub, "lesson", "the curriculum: runnable chapters of the seed documents; without NAME, the list",
             "nnforge lesson xor", cmd_lesson)
    p.add_argument("name", nargs="?", help="lesson name")
    p.add_argument("--out", help="folder for the lesson's pictures (default: lessons_out/NAME)")
    p.add_argument("--notebook", nargs="?", const="notebooks", metavar="DIR",
                   help="write the lesson as DIR/NAME.ipynb instead of running it (without NAME: every lesson "
                        "and index.ipynb; DIR defaults to notebooks/)")

    for module in _command_modules():
        module.register(sub, _add, _add_set)
    return parser


# Later parts of nnforge bring their own subcommands: each of these modules, when present,
# has ``register(subparsers, add, add_set)`` and keeps its command code beside its library.
COMMAND_MODULES = (
    "nnforge.tune.command",
    "nnforge.explain.command",
    "nnforge.compress.command",
    "nnforge.serve.command",
    "nnforge.report.command",
    "nnforge.playground.command",
)


def _command_modules():
    import importlib

    for name in COMMAND_MODULES:
        try:
            yield importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name is None or not name.startswith(exc.name):
                raise


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        with command_line(sys.argv[1:] if argv is None else argv):  # which files' content errors may quote
            return args.func(args) or 0
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
