"""The run directory: what ``nnforge train`` writes and every other command reads. This module is
its one owner: the layout, default names, the emptiness check, the lock, reading the resolved
recipe (and the test split it was trained against), and saving and loading the model.

    config.yaml          the resolved recipe
    model.safetensors    the weights (no pickle anywhere)
    model.json           architecture, classes, preprocessing: enough to rebuild and serve
    metrics.jsonl        one line per epoch
    metrics.json         final metrics (written last: its presence means the run is complete)
    failed.json          written when training raised (what, where); removed when the run resumes
    .lock                held (flock) by the process training the run
    curves.png, confusion.png (classify), forecast.png (forecast)
    summary.json         the model's layers, parameters, MACs, activation memory and measured latency
    checkpoints/         resumable training state
    tensorboard/, mlflow.json, metrics.csv   with train.loggers (see nnforge.train.tracking)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nnforge import io
from nnforge.io import is_finite, is_number
from nnforge.startup import process_start
from nnforge.errors import ConfigError, DataError, RunError, StorageError

if TYPE_CHECKING:  # torch is imported by what uses it: `nnforge --help` reads this module and needs none of it
    from collections.abc import Mapping

    import torch

    from nnforge.config import Recipe

MODEL_FORMAT = 1
CONFIG = "config.yaml"
METRICS = "metrics.json"
HISTORY = "metrics.jsonl"
CHECKPOINTS = "checkpoints"
SUMMARY = "summary.json"  # the model's layers, MACs and latency (nnforge.train.summary)
LOCK = ".lock"
FAILED = "failed.json"
RECIPES = Path(__file__).parent / "configs"


@dataclass
class Run:
    """A finished run: where it lives, the trained model, its recipe, and what it scored."""

    dir: Path
    model: Any
    config: Any
    metrics: dict
    history: list[dict] = field(default_factory=list)

    def __repr__(self) -> str:
        """One line a notebook can show: the folder, the epochs and the test metrics (the dataclass's
        own repr printed the whole model, the recipe and the confusion matrix)."""
        shown = [f"epochs={len(self.history)}"] + [f"{k}={v:.4g}" for k, v in self.metrics.items()
                                                     if k.startswith("test_") and is_number(v)]
        return f"Run('{self.dir}', {', '.join(shown)})"


def recipe_path(name: str | Path) -> Path:
    """A recipe file, or the name of a packaged one (``mnist_cnn`` -> configs/mnist_cnn.yaml)."""
    path = Path(name)
    if path.is_file():
        return path
    packaged = RECIPES / (path.name if str(name).endswith(".yaml") else f"{name}.yaml")
    if packaged.is_file() and path.parent == Path("."):
        return packaged
    if (path / CONFIG).is_file():  # `nnforge train runs/x`: said to be "not found" before, though it is right there
        raise ConfigError(f"'{name}' is a run directory, not a recipe; its recipe is {path / CONFIG} "
                          f"(to continue the run: nnforge train --resume {name})")
    available = ", ".join(sorted(p.stem for p in RECIPES.glob("*.yaml")))
    what = "is a folder, not a recipe file" if path.is_dir() else "not found"
    raise ConfigError(f"recipe '{name}' {what}; pass a YAML file or one of: {available}")


def as_recipe(recipe: str | Path | Mapping | Recipe | None, overrides: Mapping[str, Any] | None = None) -> tuple[Recipe, str]:
    """A resolved recipe and a name for its run folder, from a path, a packaged recipe's name, a
    mapping (resolved here) or a resolved recipe; ``overrides`` are dotted keys (``{"train.epochs": 3}``)."""
    import copy
    from collections.abc import Mapping

    from nnforge.config import Recipe, read_yaml, resolve, set_value

    try:
        overrides = dict(overrides or {})
    except (TypeError, ValueError):  # "train.epochs=3", the command line's spelling
        raise ConfigError(f"overrides map dotted keys to values, like {{'train.epochs': 3}}; got {type(overrides).__name__} "
                          f"{str(overrides)[:60]!r}") from None
    if not all(isinstance(k, str) and k for k in overrides):
        raise ConfigError(f"overrides map dotted keys to values, like {{'train.epochs': 3}}; got keys {list(overrides)!r}")
    if isinstance(recipe, Recipe):
        return (recipe.with_overrides(overrides) if overrides else recipe), "run"
    if recipe is None or isinstance(recipe, Mapping):
        raw = dict(recipe or {})
        name = "run"
    elif isinstance(recipe, (str, Path)):
        path = recipe_path(recipe)
        raw, name = read_yaml(path), path.stem
    else:
        raise ConfigError(f"a recipe is a YAML path, a packaged recipe's name, a dict or a resolved recipe; got {type(recipe).__name__}")
    raw = copy.deepcopy(raw)
    for dotted, value in overrides.items():
        set_value(raw, dotted.split("."), copy.deepcopy(value), f"override {dotted}")
    return resolve(raw), name


def default_run_dir(name: str, root: str | Path = "runs") -> Path:
    """``runs/NAME-YYYYmmdd-HHMMSS`` (with ``-2``, ``-3`` ... when that exists already)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(root) / f"{name}-{stamp}"
    n = 1
    while path.exists():
        n += 1
        path = Path(root) / f"{name}-{stamp}-{n}"
    return path


def state(run_dir: str | Path) -> str:
    """``empty`` (missing or holding nothing), ``complete`` (metrics.json written), ``partial``
    (a run started: config.yaml or checkpoints), or ``other`` (files that are not a run)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir() or not any(p.name != LOCK for p in run_dir.iterdir()):
        return "empty"
    if (run_dir / METRICS).is_file():
        return "complete"
    if (run_dir / CONFIG).is_file() or (run_dir / CHECKPOINTS).is_dir():
        return "partial"
    return "other"


def check_no_file_in_the_way(out: Path) -> None:
    """A file where the ``--out`` folder (or one above it) would be: one line, not mkdir's traceback."""
    if (path := io.file_in_the_way(out)) is not None:
        raise RunError(f"'{path}' is a file, not a folder; choose another --out")
    for place in (out, *out.parents):  # a dangling link (runs/latest to a deleted run): mkdir's "File exists" after the data loaded
        if place.exists():
            break
        if place.is_symlink():
            raise RunError(f"'{place}' is a link to '{os.readlink(place)}', which does not exist; choose another --out")


def make_folder(out: Path) -> Path:
    """``mkdir -p`` of a folder the user named (``--out``): a file in the way, a read-only or forbidden
    place is one line."""
    check_no_file_in_the_way(out)
    return io.make_dir(out)


def check_empty(out: Path) -> None:
    """A new run needs an empty (or missing) folder; say what to do otherwise (a file in the way is
    said here, before the data is loaded)."""
    check_no_file_in_the_way(out)
    kind = state(out)
    if kind in ("complete", "partial"):
        raise RunError(f"'{out}' already holds a run; choose a new --out (or --resume to continue it)")
    if kind == "other":
        raise RunError(f"'{out}' exists and is not empty; choose a new or empty --out folder")


def contents(run_dir: str | Path) -> tuple:
    """What a run folder holds now (each file's name, size and change time, checkpoints included; the
    lock left out), to tell whether another process wrote to it since: see :class:`RunLock`."""
    found = []
    for folder in (Path(run_dir), Path(run_dir) / CHECKPOINTS):
        try:
            entries = list(os.scandir(folder))
        except OSError:  # missing, or not a folder
            continue
        for entry in entries:
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if entry.name != LOCK:
                found.append((folder.name, entry.name, st.st_size, st.st_mtime_ns))
    return tuple(sorted(found))


class RunLock:
    """An exclusive lock on a run directory for the life of a run (``fcntl.flock`` on ``.lock``).

    Two ``nnforge train`` processes on one ``--out`` would interleave their epochs in one
    ``metrics.jsonl``; the second one gets a one-line error naming the holder instead. The lock
    dies with its process, so a killed run never leaves a stale lock behind.

    ``expect``: what :func:`contents` saw when the run was planned (before its data was loaded); a
    folder that another process wrote since (a run that finished, or checkpointed further, in between)
    is refused once the lock is held, instead of being started over or cut back to a stale checkpoint.
    """

    def __init__(self, run_dir: Path, expect: tuple | None = None):
        self.path = Path(run_dir) / LOCK
        self.fd: int | None = None
        self.expect = expect

    def __enter__(self) -> "RunLock":
        import fcntl

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:  # a folder that cannot be written, a '.lock' that is a folder
            raise StorageError(f"cannot create the run's lock file {self.path}: {exc.strerror or exc}; "
                               "choose an --out folder you can write") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = (os.read(fd, 64).decode("ascii", "replace").split() or ["another process"])[0]
            os.close(fd)
            raise RunError(f"'{self.path.parent}' is in use by a training run (PID {holder}); "
                           "wait for it or choose another --out") from None
        self.fd = fd
        if self.expect is not None and contents(self.path.parent) != self.expect:
            self.__exit__()
            raise RunError(f"'{self.path.parent}' was written by another process while this run was starting "
                           f"(now: {state(self.path.parent)} run); run the command again, or choose another --out")
        os.ftruncate(fd, 0)
        start = process_start(os.getpid())  # beside the PID: a later process given the same PID is not this run
        os.write(fd, f"{os.getpid()}{'' if start is None else f' {start}'}".encode())
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)  # released: the PID no longer names a holder (see lock_holder)
            os.close(self.fd)
            self.fd = None


def lock_holder(run_dir: str | Path) -> int | None:
    """The PID of the live process training ``run_dir`` now, else None.

    Read from ``.lock`` without taking the lock (probing it with ``flock`` could make a trainer
    starting at that instant fail): a released lock holds no PID, and a killed holder's PID names no
    live process. Beside the PID the holder writes its start time, so a process that was given the
    same PID after a kill is not taken for it (a lock file of an older nnforge, PID only, is trusted
    as it was).
    """
    try:
        fields = (Path(run_dir) / LOCK).read_text(encoding="ascii", errors="replace").split()
        pid = int(fields[0]) if fields else 0
        start = int(fields[1]) if len(fields) > 1 else None
    except (OSError, ValueError):
        return None
    if pid <= 0:
        return None
    if start is not None and process_start(pid) not in (start, None):  # that PID is another process now
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, another user's
        return pid
    return pid


def runs_inside(folder: str | Path) -> str:
    """For an error about ``folder``, not a run: where it holds finished runs (a study's
    ``runs/tune-STUDY``, a ``runs/`` folder), " ('F' holds N runs, such as 'F/R': pass one of them)"; else ""."""
    folder = Path(folder)
    try:
        inner = sorted(p for p in folder.iterdir() if p.is_dir() and (p / "model.json").is_file()) if folder.is_dir() else []
    except OSError:
        return ""
    if not inner:
        return ""
    return f" ('{folder}' holds {len(inner)} run{'s' * (len(inner) > 1)}, such as '{inner[0]}': pass one of them)"


def read_recipe(run_dir: str | Path):
    """The run's resolved recipe (``config.yaml``), validated: the one way to read it."""
    from nnforge.config import load_config

    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise RunError(f"'{run_dir}' is not a run directory (no {CONFIG}); pass a folder written by `nnforge train`"
                       + runs_inside(run_dir))
    try:
        return load_config(path)
    except ConfigError as exc:
        raise RunError(f"{path}: {exc}") from None


def read_metrics(run_dir: str | Path) -> dict:
    """``metrics.json`` of a finished run: a JSON object, or a one-line RunError naming the file."""
    path = Path(run_dir) / METRICS
    try:
        metrics = io.loads_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunError(f"{path}: not readable JSON ({exc})") from None
    if not isinstance(metrics, dict):
        raise RunError(f"{path}: holds a JSON {type(metrics).__name__}; expected an object of metrics")
    return metrics


# what the summary's readers (nnforge.report.summary) index: a file without them is not one nnforge wrote
SUMMARY_KEYS = ("rows", "input_shape", "batch_size", "total_macs", "trainable", "frozen", "activation_bytes", "latency")
SUMMARY_ROW_KEYS = ("name", "type", "output_shape", "trainable", "frozen", "macs", "activation_bytes")


def read_summary(run_dir: str | Path) -> dict | None:
    """``summary.json`` of a run (``None`` for a run trained before it was written); one whose
    layout is not the one nnforge writes is a one-line RunError, not a KeyError where it is shown."""
    path = Path(run_dir) / SUMMARY
    if not path.is_file():
        return None
    try:
        found = io.loads_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunError(f"{path}: not readable JSON ({exc})") from None
    if not _is_summary(found):
        raise RunError(f"{path}: not a model summary as nnforge writes it (damaged or edited); "
                       f"delete it and `nnforge summary {run_dir}` computes it again from {CONFIG}")
    return found


def _is_summary(found) -> bool:
    """Whether ``found`` has the keys and the value types the summary's readers format (a count
    formatted with ``:,`` that is text, a latency that is not a mapping of numbers, fails there)."""
    def shape(v) -> bool:
        return isinstance(v, list) and all(is_number(n) for n in v)

    rows = found.get("rows") if isinstance(found, dict) else None
    if not isinstance(rows, list) or any(k not in found for k in SUMMARY_KEYS):
        return False
    if not all(is_number(found[k]) for k in ("batch_size", "total_macs", "trainable", "frozen", "activation_bytes")) \
            or not shape(found["input_shape"]) or not isinstance(found["latency"], dict):
        return False
    if not all(isinstance(t, dict) and all(is_number(v) for v in t.values()) for t in found["latency"].values()):
        return False
    if "scratch" in found["latency"] and not (isinstance(found.get("scratch"), dict) and is_number(found["scratch"].get("parameters"))):
        return False
    return all(isinstance(r, dict) and all(k in r for k in SUMMARY_ROW_KEYS) and isinstance(r["name"], str) and isinstance(r["type"], str)
               and (r["output_shape"] is None or shape(r["output_shape"])) and (r["macs"] is None or is_number(r["macs"]))
               and all(is_number(r[k]) for k in ("trainable", "frozen", "activation_bytes")) for r in rows)


def read_jsonl(path: Path) -> list:
    """The lines of a JSON Lines file that parse (a torn last line, from a killed run, is left out);
    none when the file is missing."""
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if path.is_file() else []:
        try:
            rows.append(io.loads_json(line))
        except ValueError:
            continue
    return rows


def read_history(run_dir: str | Path) -> list[dict]:
    """The epochs in ``metrics.jsonl``, without the per-step rows of ``train.log_lr: step`` (no ``epoch``)."""
    return [row for row in read_jsonl(Path(run_dir) / HISTORY) if not isinstance(row, dict) or "epoch" in row]


def mark_failed(run_dir: str | Path, exc: BaseException) -> None:
    """Write ``failed.json`` (the error's type and message, the epochs finished, when): without it a
    crashed run looks like one still training or stopped on purpose. Best effort: a marker that cannot
    be written (a full disk) never hides the error that stopped the run."""
    run_dir = Path(run_dir)
    try:
        io.write_json(run_dir / FAILED, {"error": type(exc).__name__, "message": str(exc).splitlines()[0] if str(exc) else "",
                                         "epochs": len(read_history(run_dir)), "at": datetime.now().isoformat(timespec="seconds")})
    except Exception:  # noqa: BLE001 - the original error is what matters
        pass


def read_failure(run_dir: str | Path) -> dict | None:
    """What ``failed.json`` says (None when the run has not failed, or the marker is unreadable JSON:
    then ``{"error": "?"}``, since its presence alone means the run failed)."""
    path = Path(run_dir) / FAILED
    if not path.is_file():
        return None
    try:
        found = io.loads_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"error": "?", "message": f"{FAILED} is not readable JSON"}
    return found if isinstance(found, dict) else {"error": "?", "message": f"{FAILED} holds no object"}


def load_run_test_split(run_dir, data: str | None = None, root: str | None = None, encoding: dict | None = None):
    """The test split a run was trained against (or another dataset of the same shape), reshaped by
    the run's ``data`` keys exactly as training reshaped it (denoising travels in ``model.json``);
    a csv's rows encoded with ``encoding``, the model's (``model.json``'s ``preprocessing.encoding``)."""
    from nnforge.data import load_dataset
    from nnforge.data.subset import apply_data_config  # image_size, fit_content: the model's input as trained

    recipe = recipe_for_test_data(run_dir, data, root)
    return apply_data_config(load_dataset(recipe.data).encoded_with(encoding), recipe.data, recipe.seed)


def recipe_for_test_data(run_dir, data: str | None = None, root: str | None = None):
    """The recipe that loads a run's test data: its ``config.yaml``, or for a model folder (``model.json``
    and the weights) the dataset ``model.json`` names, with ``--data`` and ``--root`` applied."""
    from nnforge.config import default_config

    run_dir = Path(run_dir)
    if (run_dir / CONFIG).is_file():
        recipe = read_recipe(run_dir)
    else:
        recipe, named = default_config(), read_model_meta(run_dir).get("dataset")
        if not data and (not isinstance(named, str) or ":" in named):  # csv:/folder: need keys only config.yaml holds
            raise RunError(f"'{run_dir}' has no {CONFIG}, so the data it was trained on cannot be loaded from it; "
                           f"pass --data NAME (for example --data digits)")
        data = data or named
    return recipe_on_data(recipe, run_dir, data, root)


def recipe_on_data(recipe, run_dir, data: str | None, root: str | None = None):
    """The run's recipe with ``--data NAME`` (and ``--root``) in place of its dataset: the run's own
    data folder still applies to the dataset it was trained on; the column to predict (data.target)
    travels only to another csv: table, since any other dataset has its own labels."""
    if not data:
        return recipe
    same_dataset = data == recipe.data.name
    target = recipe.data.target if data.startswith("csv:") else None
    if data.startswith("csv:") and target is None:
        raise DataError(f"--data {data}: a csv: table needs the column to predict, and '{run_dir}' was not trained on one; "
                        "accepted: a dataset by name (e.g. digits), or a csv: table for a run trained on one (data.target)")
    return recipe.with_overrides({"data.name": data, "data.root": root or (recipe.data.root if same_dataset else None),
                                  "data.target": target})


def save_model(run_dir: Path, model: torch.nn.Module, meta: dict) -> None:
    """Write ``model.safetensors`` and ``model.json`` (weights first, so metadata never points at nothing)."""
    from safetensors.torch import save_file

    state_dict = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    io.atomic_write(run_dir / "model.safetensors", lambda p: save_file(state_dict, str(p), metadata={"format": "pt"}))
    io.write_json(run_dir / "model.json", {"format": MODEL_FORMAT, **meta})


def read_model_meta(run_dir: str | Path) -> dict:
    run_dir = Path(run_dir)
    if run_dir.is_file():  # e.g. RUN/compress/model-int8.onnx: before, 'not found' of a file that is there
        onnx = " (an .onnx file runs in ONNX Runtime on its own, its metadata says the classes and preprocessing; " \
               "`nnforge serve` takes one inside its run)" \
            if run_dir.suffix == ".onnx" else ""
        raise RunError(f"'{run_dir}' is a file, not a run directory; pass the folder written by `nnforge train`{onnx}")
    if not run_dir.is_dir():
        raise RunError(f"run directory '{run_dir}' not found; pass a folder written by `nnforge train`")
    meta_path = run_dir / "model.json"
    if not meta_path.is_file() or not (run_dir / "model.safetensors").is_file():
        raise RunError(f"'{run_dir}' has no model.json/model.safetensors; is it a finished `nnforge train` run?"
                       + runs_inside(run_dir))
    try:
        meta = io.loads_json(meta_path.read_text(encoding="utf-8"))
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, nesting too deep
        raise RunError(f"{meta_path}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict):
        raise RunError(f"{meta_path}: holds a JSON {type(meta).__name__}; expected an object")
    for key in ("model", "classes", "preprocessing", "input_shape", "kind"):  # what every reader indexes
        if key not in meta:
            raise RunError(f"{meta_path}: missing '{key}'; the run directory is incomplete")
    _check_meta(meta, meta_path)
    return meta


def _check_meta(meta: dict, meta_path: Path) -> None:
    """What every reader of ``model.json`` relies on, checked once here: a one-line RunError."""
    from nnforge.data.preprocess import Preprocessing
    from nnforge.data.preprocess_check import check_input_shape
    from nnforge.errors import DataError

    if not isinstance(meta["model"], dict):
        raise RunError(f"{meta_path}: 'model' must be an object (the model's name and parameters)")
    if not isinstance(meta["kind"], str):
        raise RunError(f"{meta_path}: 'kind' must be text (image, tabular or sequence)")
    if not isinstance(meta.get("task", "classify"), str):  # looked up in dicts by its readers: a list was a TypeError
        raise RunError(f"{meta_path}: 'task' must be text (classify, regress, forecast or contrastive)")
    if meta.get("task") == "forecast" and not _is_series(meta.get("series")):
        raise RunError(f"{meta_path}: a forecast run needs 'series' with its mean, std (> 0), window and horizon as numbers")
    classes = meta["classes"]
    if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes) or len(classes) > 100_000:
        raise RunError(f"{meta_path}: 'classes' must be a list of class names (strings)")
    try:
        if "input_shape" in meta:
            check_input_shape(meta["input_shape"], meta.get("kind") == "image")
        pre = Preprocessing.from_dict(meta["preprocessing"])
        if "input_shape" in meta and meta.get("task") != "forecast" and pre.input_shape != meta["input_shape"]:
            raise DataError(f"the preprocessing's input_shape {pre.input_shape} is not the model's {meta['input_shape']}")
    except DataError as exc:
        raise RunError(f"{meta_path}: {exc}") from None


def _is_series(series) -> bool:
    """A forecast run's ``series`` scaler and window as :func:`nnforge.predictor.served_model` reads them."""
    return (isinstance(series, dict) and all(is_finite(series.get(k)) for k in ("mean", "std")) and series["std"] > 0
            and all(isinstance(series.get(k), int) and not isinstance(series.get(k), bool) and series[k] >= 1 for k in ("window", "horizon")))


def load_state(path: str | Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        with io.utf8_name(path) as name:
            return load_file(name)
    except (SafetensorError, OSError, ValueError) as exc:
        raise RunError(f"{path}: not a readable safetensors file ({exc})") from None


def update_latest_link(run_dir: str | Path) -> Path | None:
    """Point ``runs/latest`` at ``run_dir`` when the run lives in a folder named ``runs``.

    ``nnforge eval runs/latest`` then always means the run trained last, where the glob
    ``runs/quickstart-*`` would match every quickstart so far. The link is relative (the folder
    can move) and swapped in by a rename, so a reader sees the old target or the new one. Runs
    written elsewhere, a ``latest`` that is not a link, or a file system without symlinks leave
    things as they are (None).
    """
    run_dir = Path(run_dir)
    if run_dir.parent.name != "runs" or run_dir.name == "latest":
        return None
    link = run_dir.parent / "latest"
    if link.exists() and not link.is_symlink():
        return None
    tmp = run_dir.parent / f".latest.{os.getpid()}.tmp"
    try:
        tmp.unlink(missing_ok=True)
        os.symlink(run_dir.name, tmp, target_is_directory=True)
        os.replace(tmp, link)
    except OSError:
        tmp.unlink(missing_ok=True)
        return None
    return link
