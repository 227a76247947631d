"""Tasks by name: what a run learns and how it is judged (``task:`` in a recipe)."""

from nnforge.train.tasks.base import LossSpec, Task, TaskData
from nnforge.train.tasks.classify import Classify
from nnforge.train.tasks.contrastive import Contrastive
from nnforge.train.tasks.forecast import Forecast
from nnforge.train.tasks.regress import Regress

TASKS: dict[str, type[Task]] = {"classify": Classify, "forecast": Forecast, "contrastive": Contrastive, "regress": Regress}

__all__ = ["TASKS", "Task", "TaskData", "LossSpec", "Classify", "Forecast", "Contrastive", "Regress"]
