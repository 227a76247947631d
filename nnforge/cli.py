"""The command line: thin — every command parses its arguments and calls the library.

A user's mistake (:class:`~nnforge.errors.UserError`) is printed as one line and exits with
status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from pathlib import Path

from nnforge.errors import UserError, command_line, did_you_mean
from nnforge.io import json_text
from nnforge.rundir import RECIPES, recipe_path
from nnforge.startup import gc_paused, seconds_since_start


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def _print_summary(run, stream=None) -> None:
    from nnforge.train.tasks import TASKS

    (stream or sys.stdout).write(f"{TASKS[run.config.task]().summary(run.metrics)}\nrun directory: {run.dir}\n")


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
        sample = export_test_images(config.data.name, 3, Path(run.dir) / "samples")[0]
        lines.append(f"  {prog} predict {run.dir} {sample}   # a real test digit the model never saw")
    except UserError:  # a tabular dataset: nothing to draw
        lines.append(f"  {prog} eval {run.dir}   # re-evaluate from the run directory alone")
    lines.append(f"  {prog} report {run.dir}   # curves, confusion matrix and per-class scores in one HTML page")
    lines.append(f"  {prog} lesson   # the lessons, from a single neuron to attention")
    return "\n".join(lines)


# -- commands -----------------------------------------------------------------------------

def cmd_quickstart(args) -> int:
    with gc_paused():  # until the first training step: start-up 0.6 s sooner (nnforge.startup)
        return _quickstart(args)


def _quickstart(args) -> int:
    from nnforge.config import load_config
    from nnforge.train import run

    config = load_config(RECIPES / "quickstart.yaml", args.set)
    print("nnforge quickstart: a small BatchNorm CNN on 5,000 real MNIST digits (4,000 train / 1,000 test)")
    result = run(config, args.out, name="quickstart")
    _print_summary(result)
    print(_next_steps(result, config))
    print(f"done in {seconds_since_start():.1f} s of wall time, start-up and evaluation included")
    return 0


def cmd_train(args) -> int:
    with gc_paused():  # until the first training step: start-up 0.6 s sooner (nnforge.startup)
        return _train(args)


def _train(args) -> int:
    from nnforge.config import load_config
    from nnforge.errors import RunError
    from nnforge.train import run

    if args.nproc < 1:  # before: 0 and -2 trained in one process without a word
        raise UserError(f"--nproc is {args.nproc}; accepted: 1 or more processes")
    if args.nproc > 1:
        from nnforge.train.distributed import launch  # torchrun + DistributedDataParallel

        return launch(args)
    if args.resume and args.out is None:  # nnforge train --resume RUN
        if not Path(args.config).is_dir():
            raise RunError(f"run directory '{args.config}' not found; --resume RUN continues a run that `nnforge train --out RUN` "
                           "started (or pass CONFIG --out RUN --resume)")
        args.out, args.config = args.config, str(Path(args.config) / "config.yaml")
    path = recipe_path(args.config)
    config = load_config(path, args.set)
    hint = f"nnforge train --resume {args.out}" if args.out else None  # the run's config.yaml holds every --set
    result = run(config, args.out, resume=args.resume, name=path.stem, find_lr=args.find_lr, hint=hint)
    if args.find_lr:
        return 0
    if result.model is not None:  # a complete run given to --resume is reported as it is
        _print_summary(result)
    return 0


def cmd_eval(args) -> int:
    from nnforge.compress.ensemble import evaluate_runs
    from nnforge.runpick import newest, refuse_glob, runs_in

    if args.latest:
        args.runs = [str(newest(args.runs or runs_in("runs")))]
    elif not args.runs:
        raise UserError("pass a run directory (or several, for an ensemble), or --latest for the newest run under runs/")
    elif not args.ensemble:
        refuse_glob(args.runs, also="; or add --latest (evaluates {newest}), or --ensemble to combine them")
    result = evaluate_runs(args.runs, data=args.data, root=args.root, combine="vote" if args.vote else "mean",
                          tta=getattr(args, "tta", False))
    if args.json:
        print(json_text(result))
        return 0
    label = "ensemble of " + str(len(args.runs)) + " runs" if len(args.runs) > 1 else args.runs[0]
    print(f"{label} on {result['dataset']} ({result['examples']} test examples)")
    if result.get("task") == "regress":
        for member in result.get("members", []):
            print(f"  {member['run']}: RMSE {member['rmse']:.4g}")
        print(f"RMSE {result['rmse']:.4g}  MAE {result['mae']:.4g}  R² {result['r2']:.3f} ({', '.join(result['targets'])})")
        return 0
    for member in result.get("members", []):
        print(f"  {member['run']}: accuracy {member['accuracy']:.2%}")
    loss = f"loss {result['loss']:.4f}" if result["loss"] is not None else "(no loss: a vote gives no probabilities)"
    if result["loss"] is not None and result.get("loss_name") not in (None, "cross_entropy"):  # as training reported it
        loss += f" ({result['loss_name']}: the training criterion)"
    print(f"accuracy {result['accuracy']:.2%}  {loss}")
    return 0


def cmd_predict(args) -> int:
    if args.top < 1:  # before: 0 was an IndexError after the model loaded, -1 dropped the last class silently
        raise UserError(f"--top is {args.top}; accepted: a positive whole number (how many classes to show)")
    with gc_paused():  # while torch is imported and the model loaded: 0.25 s sooner (nnforge.startup)
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
    for name, note in predictor.notes.items():
        print(f"nnforge predict: note: {name}: {note}, as in training", file=sys.stderr)
    if predictor.regression:  # numbers in the target's own units
        estimates = [predictor.estimate(v, name) for name, v in results]
        if args.json:
            print(json_text([{"input": e.source, "value": e.value, "values": e.values} for e in estimates]))
            return 0
        for e in estimates:
            print(f"{e.source}: " + ", ".join(f"{n} {v:.6g}" for n, v in e.values.items()))
        return 0
    if args.json:
        print(json_text([{"input": name, "top": predictor.top_k(p, args.top)} for name, p in results]))
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
        paths = export_test_images(args.export, args.count, args.dir, args.root)
        print(f"wrote {len(paths)} test images of {args.export} to {args.dir}/ ({paths[0].name} ... {paths[-1].name}); "
              f"try: nnforge predict RUN {Path(args.dir) / '*.png'}")
        return 0
    if args.dir or args.root:
        raise UserError(f"'{args.dir or args.root}': a folder is only taken with --export NAME")

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
        raise UserError(f"no lesson '{args.name}'{did_you_mean(args.name, LESSONS)}; `nnforge lesson` lists them")
    from nnforge.rundir import make_folder

    out = make_folder(Path(args.out or Path("lessons_out") / args.name))  # a file in the way: one line
    LESSONS[args.name].run(out)
    return 0


def cmd_runs(args) -> int:
    from nnforge.runlist import filter_runs, list_runs, runs_table, sort_runs

    notes: list[str] = []
    found = filter_runs(list_runs(args.root, notes), args.filter)
    if args.sort:
        found = sort_runs(found, args.sort, args.reverse)
    if args.json:
        print(json_text([r.to_json() for r in found], default=str))
    elif found:
        print(runs_table(found))
    else:
        print(f"no runs under {args.root}" + (" match the filters" if args.filter else "; train one with: nnforge quickstart"))
    for note in notes:
        print(f"nnforge runs: note: {note}", file=sys.stderr)
    return 0


def cmd_compare(args) -> int:
    from nnforge.report.compare import as_text, compare_runs, write_comparison

    comparison = compare_runs(args.runs)
    for note in comparison.notes:
        print(f"nnforge compare: note: {note}", file=sys.stderr)
    png, page = write_comparison(comparison, args.out)
    print(as_text(comparison))
    print(f"\ncurves and tables written: {page} and {png.name}")
    return 0


def cmd_summary(args) -> int:
    from nnforge.report.summary import summary_text
    from nnforge.train.summary import summarize

    result = summarize(args.target, args.set)
    print(json_text(result) if args.json else summary_text(result))
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
    parser.set_defaults(commands=sub.choices)  # for main's "did you mean" on a mistyped command or option

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
    p.add_argument("files", nargs="+", metavar="FILE", help="PNG/JPEG images or CSV (or .tsv) files")
    p.add_argument("--top", type=int, default=3, help="how many classes to show (default 3)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")

    p = _add(sub, "datasets", "list the datasets nnforge can load by name; --export writes test images as PNG",
             "nnforge datasets --export mnist-sample --count 10 digits", cmd_datasets)
    p.add_argument("dir", nargs="?", metavar="DIR", help="with --export: the folder to write the PNG files into")
    p.add_argument("--export", metavar="NAME", help="write the first --count test images of image dataset NAME to DIR")
    p.add_argument("--count", type=int, default=10, help="how many test images --export writes (default 10)")
    p.add_argument("--root", metavar="DIR", help="with --export mnist, fashion-mnist or cifar10: the folder holding its standard files")
    _add(sub, "models", "list the models in the zoo", "nnforge models", cmd_models)

    p = _add(sub, "lesson", "the curriculum: runnable chapters of the seed documents; without NAME, the list",
             "nnforge lesson xor", cmd_lesson)
    p.add_argument("name", nargs="?", help="lesson name")
    p.add_argument("--out", help="folder for the lesson's pictures (default: lessons_out/NAME)")
    p.add_argument("--notebook", nargs="?", const="notebooks", metavar="DIR",
                   help="write the lesson as DIR/NAME.ipynb instead of running it (without NAME: every lesson "
                        "and index.ipynb; DIR defaults to notebooks/)")

    p = _add(sub, "runs", "every run under a folder in one table: dataset, model, test metric, time, status",
             "nnforge runs --sort test_accuracy --filter model.name=mlp", cmd_runs)
    p.add_argument("root", nargs="?", default="runs", metavar="ROOT", help="the folder of runs (default: runs)")
    p.add_argument("--sort", metavar="KEY", help="a column, a metrics.json key or a dotted recipe key; metrics sort best first "
                   "(accuracy-like names descending, losses and errors ascending), started newest first, anything else ascending")
    p.add_argument("--reverse", action="store_true", help="flip the --sort order")
    p.add_argument("--filter", action="append", default=[], metavar="KEY=VALUE",
                   help="keep runs whose KEY (column, metric or recipe key) equals VALUE; also !=, >, >=, <, <= (repeatable: all must hold)")
    p.add_argument("--json", action="store_true", help="print the runs as JSON (columns, metrics and recipe)")

    p = _add(sub, "compare", "overlay runs' curves, mark the best metrics and show the recipe keys that differ",
             "nnforge compare runs/cnn runs/mlp", cmd_compare)
    p.add_argument("runs", nargs="+", metavar="RUN", help="run directories, or a glob such as 'runs/digits_mlp-*'")
    p.add_argument("--out", help="folder for compare.html and compare.png (default: compare-A-vs-B beside the runs)")

    p = _add(sub, "summary", "per-layer shapes, parameters, MACs and activation memory, and measured CPU latency, "
             "of a recipe's model (without training) or a run's", "nnforge summary configs/mnist_cnn.yaml", cmd_summary)
    p.add_argument("target", metavar="RECIPE|RUN", help="recipe file (or packaged recipe name), or run directory")
    _add_set(p)
    p.add_argument("--json", action="store_true", help="print the summary as JSON (as in a run's summary.json)")

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


def print_any_file_name() -> None:
    """Linux file names are bytes: one that is not UTF-8 (a Latin-1 'caf\\xe9') reaches Python with
    surrogates, and printing it to a UTF-8 terminal raised UnicodeEncodeError after the command's
    work was done. Its odd bytes are printed escaped instead (as Python does in the C locale)."""
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the command is, as Ctrl-C is: a KeyboardInterrupt, so whatever cleans up
    after Ctrl-C (an unfinished file's temporary copy, a tune trial's state) does so for SIGTERM too."""


def _terminated(signum, frame):
    raise Terminated()


@contextlib.contextmanager
def sigterm_as_interrupt():
    """SIGTERM (``kill``, a service manager, a scheduler) killed a command on the spot: no message, exit
    status -15, and a temporary file of a write in progress left behind. Commands with their own handling
    (train checkpoints and stops; serve drains) install theirs over this one while they run. A SIGTERM
    the parent set to be ignored stays ignored; outside the main thread nothing changes."""
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def main(argv: list[str] | None = None) -> int:
    print_any_file_name()
    parser = build_parser()
    words = sys.argv[1:] if argv is None else list(argv)
    commands = parser.get_default("commands")
    if words and not words[0].startswith("-") and words[0] not in commands:  # argparse would list all 17 commands
        parser.error(f"no command '{words[0]}'{did_you_mean(words[0], commands)}; `nnforge --help` lists them")
    args, extra = parser.parse_known_args(argv)
    if extra:  # report runs/quickstart-*: the shell's glob gave one run too many
        try:
            from nnforge.runpick import refuse_glob

            if getattr(args, "run", None):
                refuse_glob([args.run, *extra])
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code
        command = commands.get(args.command, parser)  # its usage line, not nnforge's
        spaced = [item for item in getattr(args, "set", None) or [] if "=" not in item]
        if spaced and not extra[0].startswith("-"):  # --set train.epochs 3: argparse took '3' for an extra argument
            command.error(f"--set takes KEY=VALUE in one word: --set {spaced[0]}={extra[0]}")
        command.error(f"unrecognized arguments: {' '.join(extra)}{did_you_mean(extra[0].split('=')[0], command._option_string_actions)}")
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        with sigterm_as_interrupt(), command_line(sys.argv[1:] if argv is None else argv):  # which files' content errors may quote
            return args.func(args) or 0
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Terminated:
        print("terminated (SIGTERM)", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
