"""The command line: thin — every command parses its arguments and calls the library.

A user's mistake (:class:`~nnforge.errors.UserError`) is printed as one line and exits with
status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nnforge.errors import ConfigError, UserError

RECIPES = Path(__file__).parent / "configs"


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def _recipe_path(name: str) -> Path:
    """A recipe file, or the name of a packaged one (``mnist_cnn`` -> configs/mnist_cnn.yaml)."""
    path = Path(name)
    if path.is_file():
        return path
    packaged = RECIPES / (name if name.endswith(".yaml") else f"{name}.yaml")
    if packaged.is_file():
        return packaged
    available = ", ".join(sorted(p.stem for p in RECIPES.glob("*.yaml")))
    raise ConfigError(f"recipe '{name}' not found; pass a YAML file or one of: {available}")


def _print_metrics(run, stream=None) -> None:
    m = run.metrics
    (stream or sys.stdout).write(
        f"test accuracy {m['test_accuracy']:.2%} on {m['dataset']}\n"
        f"trained in {m['train_seconds']:.1f} s; run directory: {run.dir}\n"
    )


def _program() -> str:
    """How to type nnforge again: ``nnforge`` when that is on PATH, else the path it was run by
    (``.venv/bin/nnforge`` straight after ``make run``)."""
    import os
    import shutil

    argv0 = sys.argv[0] if sys.argv else ""
    if Path(argv0).name != "nnforge":
        return "nnforge"
    found = shutil.which("nnforge")
    if found and Path(found).resolve() == Path(argv0).resolve():
        return "nnforge"
    relative = os.path.relpath(argv0)
    return argv0 if relative.startswith("..") else relative


def _next_steps(run, config) -> str:
    """Three things to try after the quickstart, with real paths: a prediction on a test digit
    written into the run (never trained on), the run's report, the lessons."""
    from nnforge.data.export import export_test_images

    prog = _program()
    lines = ["next, three things to try:"]
    try:
        sample = export_test_images(config["data"]["name"], 3, Path(run.dir) / "samples")[0]
        lines.append(f"  {prog} predict {run.dir} {sample}   # a real test digit the model never saw")
    except UserError:  # a tabular dataset: nothing to draw
        lines.append(f"  {prog} eval {run.dir}   # re-evaluate from the run directory alone")
    lines.append(f"  {prog} report {run.dir}   # curves, confusion matrix and per-class scores in one HTML page")
    lines.append(f"  {prog} lesson   # the lessons, from a single neuron to attention")
    return "\n".join(lines)


# -- commands -----------------------------------------------------------------------------

def cmd_quickstart(args) -> int:
    from nnforge.config import load_config
    from nnforge.rundir import update_latest_link
    from nnforge.train import fit

    config = load_config(RECIPES / "quickstart.yaml", args.set)
    print("nnforge quickstart: a small BatchNorm CNN on 5,000 real MNIST digits (4,000 train / 1,000 test)")
    run = fit(config, args.out, name="quickstart")
    update_latest_link(run.dir)
    _print_metrics(run)
    print(_next_steps(run, config))
    return 0


def cmd_train(args) -> int:
    from nnforge.config import load_config
    from nnforge.train import fit

    if args.nproc and args.nproc > 1:
        from nnforge.train.distributed import launch  # torchrun + DistributedDataParallel

        return launch(args)
    if args.resume and args.out is None and Path(args.config).is_dir():  # nnforge train --resume RUN
        args.out, args.config = args.config, str(Path(args.config) / "config.yaml")
    path = _recipe_path(args.config)
    config = load_config(path, args.set)
    if args.find_lr:
        from nnforge.train.lr_finder import find_lr_command

        return find_lr_command(config, args.out)
    if args.resume:
        from nnforge.train.checkpoint import resume_run

        run = resume_run(config, args.out)
    else:
        run = fit(config, args.out, name=path.stem)
    from nnforge.rundir import update_latest_link

    update_latest_link(run.dir)
    if run.metrics.get("task") == "forecast":
        from nnforge.train.forecast import print_forecast_metrics

        print_forecast_metrics(run)
        return 0
    _print_metrics(run)
    from nnforge.train.evaluate import format_per_class

    print(format_per_class(run.metrics["per_class"]))
    return 0


def cmd_eval(args) -> int:
    from nnforge.runpick import newest, refuse_glob, runs_in
    from nnforge.train.evaluate import evaluate_runs

    if args.latest:
        args.runs = [str(newest(args.runs or runs_in("runs")))]
    elif not args.runs:
        raise UserError("pass a run directory (or several, for an ensemble), or --latest for the newest run under runs/")
    elif not args.ensemble:
        refuse_glob(args.runs, also="; or add --latest (evaluates {newest}), or --ensemble to combine them")
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
    from nnforge.runpick import refuse_glob

    runs = [args.run]
    for name in args.files:  # predict runs/quickstart-* digit.png: the glob's other runs come first
        if not Path(name).is_dir():
            break
        runs.append(name)
    refuse_glob(runs)
    predictor = load(args.run)
    results = predictor.predict_files(args.files)
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

    if args.export:
        from nnforge.data.export import export_test_images

        if not args.dir:
            raise UserError("--export needs a folder to write into, e.g. nnforge datasets --export mnist-sample --count 10 digits")
        paths = export_test_images(args.export, args.count, args.dir)
        print(f"wrote {len(paths)} test images of {args.export} to {args.dir}/ ({paths[0].name} ... {paths[-1].name}); "
              f"try: nnforge predict RUN {Path(args.dir) / '*.png'}")
        return 0
    if args.dir:
        raise UserError(f"'{args.dir}': a folder is only taken with --export NAME")

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
    from nnforge import __version__

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
    p.add_argument("runs", nargs="*", metavar="RUN", help="run directories (several: averaged probabilities)")
    p.add_argument("--latest", action="store_true", help="evaluate only the newest of the runs given (none given: of runs/)")
    p.add_argument("--ensemble", action="store_true",
                   help="combine several runs of one recipe (without it, RECIPE-* globs are refused as ambiguous)")
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

    p = _add(sub, "datasets", "list the datasets nnforge can load by name; --export writes test images as PNG",
             "nnforge datasets --export mnist-sample --count 10 digits", cmd_datasets)
    p.add_argument("dir", nargs="?", metavar="DIR", help="with --export: the folder to write the PNG files into")
    p.add_argument("--export", metavar="NAME", help="write the first --count test images of image dataset NAME to DIR")
    p.add_argument("--count", type=int, default=10, help="how many test images --export writes (default 10)")
    _add(sub, "models", "list the models in the zoo", "nnforge models", cmd_models)

    p = _add(sub, "lesson", "the curriculum: runnable chapters of the seed documents; without NAME, the list",
             "nnforge lesson xor", cmd_lesson)
    p.add_argument("name", nargs="?", help="lesson name")
    p.add_argument("--out", help="folder for the lesson's pictures (default: lessons_out/NAME)")

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
    args, extra = parser.parse_known_args(argv)
    if extra:  # report runs/quickstart-*: the shell's glob gave one run too many
        try:
            from nnforge.runpick import refuse_glob

            if getattr(args, "run", None):
                refuse_glob([args.run, *extra])
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args) or 0
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
