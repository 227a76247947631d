"""``train.loggers: [mlflow]``: the run in an MLflow tracking store, by default a real database.

With no ``train.mlflow.tracking_uri`` the store is ``sqlite:///RUNS_ROOT/mlflow.db`` (RUNS_ROOT is
the folder holding the run directory), an embedded database: nothing to start, and
``mlflow ui --backend-store-uri sqlite:///runs/mlflow.db`` browses it. Any tracking URI MLflow
takes works unchanged: a PostgreSQL database (``postgresql://user@host/db``, shared by a team),
a tracking server (``http://host:5000``). With a database URI the artifacts go to
``RUNS_ROOT/mlartifacts``; a tracking server keeps them where it was told to.

What is logged: params = the flattened resolved recipe (text as is, other values as JSON),
metrics per epoch with step = epoch, the final numbers of ``metrics.json`` at step = epochs, the
run directory's files as artifacts (``checkpoints/`` left out), and the model as ``model`` in
MLflow's PyTorch flavour saved with ``torch.export`` (``pt2``, no pickle). The logged model
takes inputs in stored form (uint8 images, raw table rows, raw series windows) and returns what
``nnforge.load(run).predict`` returns (class probabilities; a regression's values in the target's
units), or the forecast in the series' units (:func:`nnforge.predictor.served_model`).
Inside a ``tune`` study every trial is a run nested under the study's parent run (:func:`parent_run`).
The client API is used throughout (no global active run), so trials and threads do not interfere.
"""

from __future__ import annotations

import contextlib
import contextvars
import tempfile
import time
import warnings
from pathlib import Path

import torch

from nnforge import io
from nnforge.train.callbacks import Callback
from nnforge.runlist import flatten
from nnforge.train.tracking.params import as_text, scalars

_PARENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("mlflow_parent_run", default=None)
DB_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")
SKIPPED = ("checkpoints", ".lock")  # resumable state and the lock are not results


def tracking_uri(recipe, runs_root: Path) -> str:
    return recipe.train.mlflow.tracking_uri or f"sqlite:///{runs_root.resolve() / 'mlflow.db'}"


def client_for(uri: str):
    """An :class:`mlflow.MlflowClient` for ``uri`` with its store ready, quiet about its schema migrations.

    Two workers meeting a new database both try to create MLflow's tables; the one that loses the
    race gets an integrity error, waits, and finds them made (as Optuna's storage does in tune)."""
    import logging

    import mlflow
    from mlflow.exceptions import MlflowException
    from sqlalchemy.exc import SQLAlchemyError

    for name in ("alembic", "mlflow.store.db.utils", "mlflow.store.tracking.sqlalchemy_store"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for attempt in range(6):
        try:
            client = mlflow.MlflowClient(tracking_uri=uri)
            client.search_experiments(max_results=1)
            return client
        except (SQLAlchemyError, MlflowException):
            if attempt == 5:
                raise
            time.sleep(0.5 * (attempt + 1))


def experiment_id(client, name: str, uri: str, runs_root: Path) -> str:
    """The experiment's id, created on first use (artifacts beside the runs for a database store)."""
    from mlflow.exceptions import MlflowException

    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = (runs_root.resolve() / "mlartifacts" / name).as_uri() if uri.split(":")[0].split("+")[0] in DB_SCHEMES else None
    try:
        return client.create_experiment(name, artifact_location=location)
    except MlflowException:  # another worker created it between our two calls
        return client.get_experiment_by_name(name).experiment_id


@contextlib.contextmanager
def parent_run(recipe, runs_root: Path, name: str):
    """Nest the MLflow runs of the trainings inside this block (run directories in ``runs_root``)
    under one parent run: a ``tune`` study's, found again by its tag when a second worker or a
    resume joins the study."""
    uri = tracking_uri(recipe, runs_root)
    client = client_for(uri)
    exp = experiment_id(client, recipe.train.mlflow.experiment, uri, runs_root)
    query = f"tags.`nnforge.study` = '{name}'"

    def first():
        return client.search_runs([exp], query, max_results=1, order_by=["attributes.start_time ASC"])

    if found := first():
        run_id = found[0].info.run_id
    else:  # two workers starting together may both create one: the earlier stays, the other is deleted
        ours = client.create_run(exp, tags={"nnforge.study": name}, run_name=f"study {name}").info.run_id
        run_id = first()[0].info.run_id
        if run_id != ours:
            client.delete_run(ours)
    token = _PARENT.set(run_id)
    try:
        yield run_id
    finally:
        _PARENT.reset(token)
        client.set_terminated(run_id)


class MLflowLogger(Callback):
    def __init__(self, out: Path, recipe):
        self.out, self.recipe = Path(out), recipe
        self.client = self.run_id = None

    def on_train_begin(self, trainer):
        self.uri = uri = tracking_uri(self.recipe, self.out.parent)
        self.client = client_for(uri)
        exp = experiment_id(self.client, self.recipe.train.mlflow.experiment, uri, self.out.parent)
        previous = self.out / "mlflow.json"
        if trainer.resumed and previous.is_file():  # a resumed run goes on logging into its MLflow run
            try:
                known = io.loads_json(previous.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                known = None  # damaged: log into a new MLflow run, as for a run that had none
            if isinstance(known, dict) and known.get("tracking_uri") == uri and isinstance(known.get("run_id"), str):
                self.run_id = known["run_id"]
                self.client.update_run(self.run_id, status="RUNNING")
                return
        tags = {"nnforge.run_dir": str(self.out.resolve()), "nnforge.engine": self.recipe.engine, "nnforge.task": self.recipe.task}
        if _PARENT.get() is not None:
            tags["mlflow.parentRunId"] = _PARENT.get()
        self.run_id = self.client.create_run(exp, tags=tags, run_name=self.out.name).info.run_id
        # where to find this run again (nnforge runs/compare, a person): written before anything is logged
        io.write_json(self.out / "mlflow.json", {"tracking_uri": uri, "experiment_id": exp, "run_id": self.run_id})
        from mlflow.entities import Param

        params = [Param(k, as_text(v)) for k, v in flatten(self.recipe.to_dict()).items()]
        for start in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
            self.client.log_batch(self.run_id, params=params[start:start + 100])

    def _log_metrics(self, values: dict, step: int) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        metrics = [Metric(k, v, now, step) for k, v in scalars(values).items()]
        if metrics:
            self.client.log_batch(self.run_id, metrics=metrics)

    def on_epoch_end(self, trainer, epoch, logs):
        self._log_metrics({k: v for k, v in logs.items() if k != "epoch"}, epoch + 1)

    def on_run_end(self, trainer, metrics):
        self._log_metrics(metrics, trainer.epoch)
        for path in sorted(self.out.rglob("*")):
            rel = path.relative_to(self.out)
            if path.is_file() and rel.parts[0] not in SKIPPED:
                self.client.log_artifact(self.run_id, str(path), None if len(rel.parts) == 1 else rel.parent.as_posix())
        try:
            self._log_model()
        except Exception as exc:  # a finished run stays finished: its files are logged, the model is named missing
            warnings.warn(f"mlflow: the model could not be exported with torch.export ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''}); the run's files, model.safetensors included, are logged")
        self.client.set_terminated(self.run_id)
        print(f"mlflow: run {self.run_id} in {self.uri}, experiment '{self.recipe.train.mlflow.experiment}'")

    def on_exception(self, trainer, exc: BaseException) -> None:
        """A run that raises ends its MLflow run too: KILLED when it was interrupted (a signal, Ctrl-C:
        ``--resume`` continues it, and sets it RUNNING again), FAILED otherwise; never left RUNNING."""
        if self.run_id is None:
            return
        from nnforge.train.signals import Interrupted

        status = "KILLED" if isinstance(exc, (Interrupted, KeyboardInterrupt)) else "FAILED"
        try:
            self.client.set_terminated(self.run_id, status=status)
        except Exception as err:  # the run's own error is what the user must see; this one is a note
            warnings.warn(f"mlflow: could not mark run {self.run_id} {status} ({type(err).__name__}: {err})")

    def _log_model(self) -> None:
        import mlflow.pytorch

        from nnforge.predictor import served_model

        module, example = served_model(self.out)
        with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
            # torch.export notes that nn.LSTM re-assigns its flat weight list while tracing; the graph is right
            warnings.filterwarnings("ignore", message="The tensor attributes .*_flat_weights")
            # requirements given, not inferred: inference imports the model in a subprocess (seconds)
            mlflow.pytorch.save_model(module, str(Path(tmp) / "model"), serialization_format="pt2", input_example=example,
                                      pip_requirements=[f"torch=={torch.__version__.split('+')[0]}", "numpy"])
            self.client.log_artifacts(self.run_id, str(Path(tmp) / "model"), "model")

