"""The ``tune`` section of a recipe: what to optimise and over which keys.

    tune:
      metric: val_accuracy          # or val_loss (task=regress: val_rmse, the default, val_mae, val_r2): always a
                                    # validation metric, never a training one
      direction: maximize           # default: maximize for accuracy, minimize for loss
      pruner: median                # or none: stop trials whose validation curve trails the median
      space:
        train.optimizer.lr: {low: 0.0001, high: 0.1, log: true}
        train.epochs: {low: 2, high: 4}            # ints give an int parameter
        model.hidden: {choices: [[64], [128]]}
        train.optimizer.name: {choices: [sgd, adam]}

Architecture search is the same section with a second objective and, optionally, a budget
(``nnforge.tune.nas``): ``objectives: [val_accuracy, params]`` (or ``latency_ms``) makes the study
multi-objective and ``budget: {params: 20000, latency_ms: 2.0}`` refuses any trial whose model is
larger or slower before it trains.

A range may carry ``step`` (a grid of values) and ``points`` (how many values the grid sampler
tries, default 3). Every key of ``space`` is a dotted recipe path, checked against the schema
by resolving the recipe with each parameter at its extremes, so a typo fails before any trial.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

from nnforge.config import unknown_key_error
from nnforge.errors import ConfigError, shown
from nnforge.io import is_finite

METRICS = {"val_accuracy": "maximize", "val_loss": "minimize", "val_rmse": "minimize", "val_mae": "minimize", "val_r2": "maximize"}
#: what each task measures on its validation split (a search must be judged on one of these)
TASK_METRICS = {"classify": ("val_accuracy", "val_loss"), "regress": ("val_rmse", "val_mae", "val_r2", "val_loss"),
                "forecast": ("val_loss",)}
SECTION_KEYS = {"metric", "direction", "pruner", "space", "baseline", "objectives", "budget"}
COSTS = ("params", "latency_ms")  # what architecture search minimises beside the metric, and what a budget caps
GRID_LIMIT = 100_000  # grid combinations: Optuna's GridSampler holds them all in a list
PARAM_KEYS = {"low", "high", "log", "step", "points", "choices"}


@dataclass(frozen=True)
class Param:
    """One searched key: a numeric range or a list of choices."""

    path: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    points: int = 3
    choices: tuple | None = None
    integer: bool = False

    # Optuna's categorical values must be scalars; lists (layer widths) travel as JSON text.
    def _encoded(self) -> list:
        return [c if c is None or isinstance(c, (bool, int, float, str)) else json.dumps(c) for c in self.choices]

    def decode(self, value: Any, exact: bool = False) -> Any:
        if self.choices is not None:
            return self.choices[self._encoded().index(value)]
        if not self.integer and isinstance(value, float) and not exact:
            return self.readable(value)
        return value

    def readable(self, value: float) -> float:
        """A sampled float as a person would write it: 3 significant digits (a step grid's values
        without float noise), unless rounding would leave the range.

        Trials train with this value, so the value printed, stored in ``study.json`` and written to
        ``best.yaml`` is the one that was trained; three digits are finer than the difference in
        learning rate that one short run can tell apart.
        """
        from nnforge.tune.best import significant

        rounded = significant(value, 12 if self.step else 3)
        return rounded if self.low <= rounded <= self.high else value

    def suggest(self, trial, exact: bool = False) -> Any:
        if self.choices is not None:
            return self.decode(trial.suggest_categorical(self.path, self._encoded()))
        if self.integer:
            return trial.suggest_int(self.path, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)
        return self.decode(trial.suggest_float(self.path, self.low, self.high, step=self.step, log=self.log), exact)

    def distribution(self):
        """The Optuna distribution :meth:`suggest` draws from (a resumed study checks its trials against it)."""
        from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

        if self.choices is not None:
            return CategoricalDistribution(self._encoded())
        if self.integer:
            return IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))
        return FloatDistribution(self.low, self.high, log=self.log, step=self.step)

    def holds(self, value: Any) -> bool:
        """Whether a range's trial can draw ``value``: inside it, on a step of it, an integer for an integer range."""
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not self.low <= value <= self.high:
            return False
        if self.integer and not float(value).is_integer():
            return False
        steps = (value - self.low) / self.step if self.step else 0
        return abs(steps - round(steps)) < 1e-8  # Optuna's own tolerance

    def grid(self) -> list:
        """The values the grid sampler visits (choices as they are; ranges at ``points`` values)."""
        if self.choices is not None:
            return self._encoded()
        self.check_grid()
        if self.step:
            n = self.grid_size()
            values = [self.low + i * self.step for i in range(n)]
        elif self.log:
            values = [math.exp(math.log(self.low) + i * (math.log(self.high) - math.log(self.low)) / max(1, self.points - 1))
                      for i in range(self.points)]
        else:
            values = [self.low + i * (self.high - self.low) / max(1, self.points - 1) for i in range(self.points)]
        if self.integer:
            values = sorted({int(round(v)) for v in values})
        return values

    def grid_size(self) -> int:
        """How many values :meth:`grid` visits (an upper bound for an integer range)."""
        if self.choices is not None:
            return len(self.choices)
        if self.step:
            return int(math.floor((self.high - self.low) / self.step + 1e-9)) + 1
        return self.points

    def check_grid(self) -> None:
        """Before a grid is built: a step of 1e-300 or ``points: 1000000000`` would fill the memory."""
        if self.grid_size() > GRID_LIMIT:
            raise ConfigError(f"'tune.space.{self.path}' gives {self.grid_size():.3g} grid values; the grid sampler takes at most "
                              f"{GRID_LIMIT:,} in all: a larger step, fewer points, or --sampler tpe")

    def reach(self) -> tuple:
        """The smallest and the largest value a trial can draw (a step range stops at its last step)."""
        if self.choices is not None:
            return min(self.choices), max(self.choices)
        high = self.low + (self.grid_size() - 1) * self.step if self.step else self.high
        return (int(self.low), int(high)) if self.integer else (self.low, high)

    def shown_range(self) -> str:
        if self.choices is not None:
            return f"choices {shown(list(self.choices))}"
        return f"{self.low:g}..{self.high:g}" + (f" step {self.step:g}" if self.step else "")

    def extremes(self) -> list:
        if self.choices is not None:
            return list(self.choices)
        # a range that is not all integers draws floats (3.0, 1.5), which an integer key refuses
        return [int(self.low), int(self.high)] if self.integer else [float(self.low), float(self.high)]


@dataclass(frozen=True)
class TuneSpec:
    metric: str
    direction: str
    pruner: str
    params: tuple[Param, ...]
    baseline: bool = True  # first trial: the recipe's own values, so the search never reports worse
    cost: str | None = None  # multi-objective (architecture search): the metric against this cost
    budget: tuple[tuple[str, float], ...] = ()  # caps on params / latency_ms, checked before a trial trains

    def suggest(self, trial) -> dict[str, Any]:
        """Values for one trial; the baseline trial (the recipe as given) keeps its values exactly."""
        exact = bool(trial.user_attrs.get("baseline"))
        return {p.path: p.suggest(trial, exact) for p in self.params}

    def grid(self) -> dict[str, list]:
        """Every key's grid values; Optuna's grid sampler lists all their combinations, so their
        number is capped at :data:`GRID_LIMIT` (a one-line error, not an exhausted memory)."""
        for p in self.params:
            p.check_grid()
        total = math.prod(p.grid_size() for p in self.params)
        if total > GRID_LIMIT:
            sizes = " x ".join(f"{p.grid_size():.3g}" for p in self.params)
            raise ConfigError(f"tune.space gives {sizes} = {total:.3g} grid combinations; the grid sampler takes at most "
                              f"{GRID_LIMIT:,}: larger steps, fewer points or choices, or --sampler tpe")
        return {p.path: p.grid() for p in self.params}

    def decode(self, params: dict, exact: bool = False) -> dict[str, Any]:
        """A trial's stored parameters as the values it trained with (``exact``: the baseline's)."""
        by_path = {p.path: p for p in self.params}
        return {k: by_path[k].decode(v, exact) if k in by_path else v for k, v in params.items()}


def _number(path: str, value: Any) -> float:
    # YAML 1.1 reads 1e-4 (no dot) as text; accept it as the number it plainly is.
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if not is_finite(value):  # an int past a float's range (400 digits of YAML) too: an OverflowError before
        raise ConfigError(f"'{path}' is {shown(value)}; accepted: a finite number")
    return value


def _param(path: str, spec: Any) -> Param:
    where = f"tune.space.{path}"
    if isinstance(spec, list):
        spec = {"choices": spec}
    if not isinstance(spec, dict):
        raise ConfigError(f"'{where}' is {shown(spec)}; accepted: {{low: A, high: B[, log: true]}} or {{choices: [...]}}")
    for key in spec:
        if key not in PARAM_KEYS:
            raise unknown_key_error(f"{where}.{key}", str(key), PARAM_KEYS)
    if "choices" in spec:
        choices = spec["choices"]
        if set(spec) - {"choices"}:
            raise ConfigError(f"'{where}' has choices and a range; accepted: one or the other")
        if not isinstance(choices, list) or not choices:
            raise ConfigError(f"'{where}.choices' is {shown(choices)}; accepted: a non-empty list")
        return Param(path, choices=tuple(copy.deepcopy(choices)))
    if "low" not in spec or "high" not in spec:
        raise ConfigError(f"'{where}' needs low and high (or choices); got keys {', '.join(map(str, spec)) or 'none'}")
    low, high = _number(f"{where}.low", spec["low"]), _number(f"{where}.high", spec["high"])
    if not low < high:
        raise ConfigError(f"'{where}': low ({low}) must be below high ({high})")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ConfigError(f"'{where}.log' is {shown(log)}; accepted: true or false")
    if log and low <= 0:
        raise ConfigError(f"'{where}': a log scale needs low > 0, got {low}")
    step = _number(f"{where}.step", spec["step"]) if spec.get("step") is not None else None
    if step is not None and (step <= 0 or log):
        raise ConfigError(f"'{where}.step' is {shown(step)}; accepted: a positive number, without log: true")
    if step is not None and not math.isfinite((float(high) - float(low)) / step):  # counting the steps was an OverflowError
        raise ConfigError(f"'{where}.step' is {shown(step)}: the range {low} to {high} holds too many steps to count; accepted: a larger step")
    points = spec.get("points", 3)
    if isinstance(points, bool) or not isinstance(points, int) or points < 2:
        raise ConfigError(f"'{where}.points' is {shown(points)}; accepted: an integer >= 2")
    integer = all(isinstance(spec[k], int) and not isinstance(spec[k], bool) for k in ("low", "high")) and (
        step is None or float(step).is_integer())
    return Param(path, low=low, high=high, log=log, step=step, points=points, integer=integer)


def set_path(raw: dict, path: str, value: Any) -> None:
    """Set a dotted key in a raw recipe (creating sections as needed)."""
    node = raw
    parts = path.split(".")
    for part in parts[:-1]:
        nxt = node.get(part)
        if not isinstance(nxt, dict):
            nxt = node[part] = {}
        node = nxt
    node[parts[-1]] = copy.deepcopy(value)


def parse_tune(section: dict | None, task: str = "classify") -> TuneSpec:
    """Validate a raw ``tune`` section (without touching the rest of the recipe); ``task`` picks the
    default metric (validation RMSE for a regression) and the metrics it measures."""
    section = section or {}
    if not isinstance(section, dict):
        raise ConfigError(f"'tune' must be a mapping, got {shown(section)}")
    for key in section:
        if key not in SECTION_KEYS:
            raise unknown_key_error(f"tune.{key}", str(key), SECTION_KEYS)
    measured = TASK_METRICS.get(task, tuple(METRICS))
    metric = section.get("metric", measured[0])
    if metric not in measured:
        hint = " (a search must be judged on held-out data, not on the training split)" if str(metric).startswith("train") else ""
        raise ConfigError(f"'tune.metric' is {shown(metric)}{hint}; accepted for task {task}: {', '.join(measured)}")
    direction = section.get("direction", METRICS[metric])
    if direction not in ("maximize", "minimize"):
        raise ConfigError(f"'tune.direction' is {shown(direction)}; accepted: maximize, minimize")
    pruner = section.get("pruner", "median")
    if pruner not in ("median", "none"):
        raise ConfigError(f"'tune.pruner' is {shown(pruner)}; accepted: median, none")
    baseline = section.get("baseline", True)
    if not isinstance(baseline, bool):
        raise ConfigError(f"'tune.baseline' is {shown(baseline)}; accepted: true or false")
    space = section.get("space") or {}
    if not isinstance(space, dict):
        raise ConfigError(f"'tune.space' must map recipe keys to ranges or choices, got {shown(space)}")
    params = []
    for path, spec in space.items():
        path = str(path)
        if path.split(".")[0] in ("tune", "seed"):
            raise ConfigError(f"'tune.space.{path}': the search cannot change '{path.split('.')[0]}'; accepted: data/model/train keys")
        params.append(_param(path, spec))
    cost, budget = _objectives(section, metric), _budget(section.get("budget"))
    return TuneSpec(metric=metric, direction=direction, pruner=pruner, params=tuple(params), baseline=baseline, cost=cost,
                    budget=budget)


def _objectives(section: dict, metric: str) -> str | None:
    """``objectives: [METRIC, COST]`` -> COST (None: a single-objective study of ``metric``)."""
    objectives = section.get("objectives")
    if objectives is None:
        return None
    if not (isinstance(objectives, list) and len(objectives) == 2 and objectives[0] == metric and objectives[1] in COSTS):
        raise ConfigError(f"'tune.objectives' is {shown(objectives)}; accepted: [{metric}, params] or [{metric}, latency_ms] "
                          "(the study's metric against the model's size or speed)")
    return objectives[1]


def _budget(budget) -> tuple[tuple[str, float], ...]:
    if budget is None:
        return ()
    if not isinstance(budget, dict) or not budget:
        raise ConfigError(f"'tune.budget' is {shown(budget)}; accepted: a mapping such as {{params: 20000}} or {{latency_ms: 2.0}}")
    out = []
    for key, value in budget.items():
        if key not in COSTS:
            raise unknown_key_error(f"tune.budget.{key}", str(key), COSTS)
        if _number(f"tune.budget.{key}", value) <= 0:
            raise ConfigError(f"'tune.budget.{key}' is {shown(value)}; accepted: a positive number")
        out.append((key, float(value)))
    return tuple(out)


def check_tune_config(section: dict, raw_recipe: dict | None = None) -> dict:
    """Validate ``tune`` and, given the recipe, that every searched key and value resolves.

    Returns the section unchanged; :func:`nnforge.tune.search.run_study` calls it before any trial.
    """
    task = (raw_recipe or {}).get("task", "classify")
    spec = parse_tune(section, task if isinstance(task, str) else "classify")
    if raw_recipe is not None and spec.params:
        from nnforge.config import resolve

        base = {k: v for k, v in copy.deepcopy(raw_recipe).items() if k != "tune"}
        for param in spec.params:
            for value in param.extremes():
                trial = copy.deepcopy(base)
                set_path(trial, param.path, value)
                try:
                    resolve(trial)
                except ConfigError as exc:
                    hint = ("; its low, high and step must all be integers for it to draw integers"
                            if param.choices is None and not param.integer and "(float)" in str(exc) else "")
                    raise ConfigError(f"tune.space.{param.path} = {shown(value)}: {exc}{hint}") from None
        _check_trials(base, spec)
        _check_epoch_parts(base, spec)
    return section


def _trial_error(values: dict, error: ConfigError) -> ConfigError:
    if not values:
        return ConfigError(f"every trial of tune.space would be refused: {error}")
    return ConfigError(f"tune.space gives a trial with {', '.join(f'{k} = {shown(v)}' for k, v in values.items())}: {error}")


#: up to this many combinations of the space's end values, every one is checked (about 5 ms each)
EVERY_COMBINATION = 256


def _trial_values(spec: TuneSpec) -> list[dict]:
    """The trials :func:`_check_trials` checks, the first values of every key first: every combination
    of the keys' end values (each range's ends, each choice) while there are at most
    :data:`EVERY_COMBINATION`; beyond that, every pair of keys at every pair of their end values, the
    others at their first, which still finds any refusal that two keys make together (a key an
    engine does not implement, an option without its feature)."""
    paths, ends = [p.path for p in spec.params], [p.extremes() for p in spec.params]
    if math.prod(len(e) for e in ends) <= EVERY_COMBINATION:
        return [dict(zip(paths, values)) for values in itertools.product(*ends)]
    first = {path: e[0] for path, e in zip(paths, ends)}
    out = [first]
    for i, j in itertools.combinations(range(len(paths)), 2):
        out += [{**first, paths[i]: a, paths[j]: b} for a in ends[i] for b in ends[j]]
    return out


def _check_trials(base: dict, spec: TuneSpec) -> None:
    """Every trial of :func:`_trial_values` must be one its engine and task implement (the scratch
    engine has no onecycle schedule): trials of the space, not the recipe's own values, which may lie
    outside it. Otherwise the study would start and stop at the first such trial."""
    from nnforge.config import resolve
    from nnforge.train.engines import ENGINES
    from nnforge.train.keys import check_recipe
    from nnforge.train.tasks import TASKS

    def check(values):
        recipe = resolve(trial_recipe(base, values))
        check_recipe(recipe, ENGINES[recipe.engine], TASKS[recipe.task]())

    for values in _trial_values(spec):
        try:
            check(values)
        except ConfigError as exc:
            try:
                check({})
            except ConfigError as own:  # the recipe's own mistake, in a key the space leaves alone
                if str(own) == str(exc):
                    raise _trial_error({}, exc) from None
            raise _trial_error(values, exc) from None


def _check_epoch_parts(base: dict, spec: TuneSpec) -> None:
    """The trial with the fewest epochs and the most clean, warm-up and pre-SWA epochs the space
    reaches must pass the checks a run makes (:data:`nnforge.train.keys.EPOCH_PARTS`); otherwise
    the trials that draw such values would each fail after the study started."""
    from nnforge.config import AUGMENTING, field_at, plain, resolve
    from nnforge.train.averaging import check_averaging
    from nnforge.train.keys import EPOCH_PARTS, check_epoch_counts

    by_path = {p.path: p for p in spec.params}
    worst = {p.path: p.extremes()[0] for p in spec.params}  # a trial of the space (the recipe's values may lie outside it)
    for path in ("train.epochs", *EPOCH_PARTS):
        if path in by_path:
            worst[path] = by_path[path].reach()[0 if path == "train.epochs" else 1]
    for path in AUGMENTING.intersection(by_path):  # clean epochs count while a searched augmentation is on in some trial
        on = [v for v in by_path[path].extremes() if plain(v) != field_at(path).default]
        worst[path] = (on or by_path[path].extremes())[0]
    recipe = resolve(trial_recipe(base, worst))  # as a trial runs it: an option its values switch off is left out
    try:
        check_epoch_counts(recipe)
        check_averaging(recipe)
    except ConfigError as exc:
        error = exc
    else:
        return
    epochs = recipe.train.epochs
    shown_values = {k: v for k, v in worst.items() if k in ("train.epochs", *EPOCH_PARTS) or k in AUGMENTING}
    for path, shorter in EPOCH_PARTS.items():
        part = recipe.at(path)
        if not part or (part < epochs if shorter else part <= epochs) or (path not in by_path and "train.epochs" not in by_path):
            continue
        keys = [k for k in ("train.epochs", path) if k in by_path]
        given = " and ".join(f"'tune.space.{k}' ({by_path[k].shown_range()})" for k in keys)
        least = math.floor(part) + 1 if shorter else math.ceil(part)
        if shorter and not isinstance(part, int):  # a warm-up of 2.5 epochs
            most = recipe_most = f"below {epochs}"
        else:
            most = f"{epochs - shorter}{' (off)' * (epochs == shorter)}"
            most, recipe_most = f"up to {most}", f"of at most {most}"
        fixes = [f"tune.space.train.epochs from {least}" if "train.epochs" in by_path else f"train.epochs of at least {least} in the recipe",
                 f"tune.space.{path} {most}" if path in by_path else f"{path} {recipe_most} in the recipe"]
        rule = "fewer than train.epochs" if shorter else "at most train.epochs"
        raise ConfigError(f"{given} reach{'es' * (len(keys) == 1)} a trial of {epochs} epoch{'s' * (epochs > 1)} with {path} = {part}, "
                          f"which a run refuses ({path} must be {rule}); accepted: {', or '.join(fixes)}")
    raise _trial_error(shown_values, error)


def trial_recipe(raw_recipe: dict, values: dict[str, Any]) -> dict:
    """The raw recipe with the searched values set and the ``tune`` section removed, without the
    options the trial's values leave without effect (momentum for a trial of Adam: a run refuses them)."""
    from nnforge.tune.best import applicable_recipe

    out = {k: v for k, v in copy.deepcopy(raw_recipe).items() if k != "tune"}
    for path, value in values.items():
        set_path(out, path, value)
    return applicable_recipe(out)
