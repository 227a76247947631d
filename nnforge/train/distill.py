"""Knowledge distillation (``train.distill``): a student learns from a trained run's soft targets.

Hinton, Vinyals and Dean (2015): the teacher's probabilities at a temperature ``T`` carry how
alike the classes look to it ("dark knowledge") that one-hot labels do not. The student's loss is

    (1 - alpha) * task_loss(student, labels) + alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T))

(``T^2`` keeps the soft term's gradient on the scale of the hard one as ``T`` grows). The teacher
is any finished classification run, rebuilt by the run directory's model loader
(:class:`nnforge.predictor.Predictor`); it must see the same kind and shape of input and predict
the same classes. Inputs reach it re-standardised with its own preprocessing statistics. The
wrapper sits around the engine's loss, whatever that loss is, so it composes with label
smoothing, class weights or soft-target losses.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from nnforge.errors import ConfigError, UserError
from nnforge.predictor import Predictor
from nnforge.train.callbacks import Callback, Stateless


def load_teacher(path: str, data, device) -> "Teacher":
    """The teacher run at ``path``, checked against the student's data; a one-line ConfigError otherwise."""
    try:
        predictor = Predictor(Path(path))
    except UserError as exc:
        raise ConfigError(f"'train.distill.teacher': {exc}") from None
    pre, ours = predictor.preprocessing, data.preprocessing
    problems = []
    other_shape = ours is None or pre.kind != ours.kind or list(pre.input_shape) != list(ours.input_shape)
    if _same_columns(pre, ours) and pre.encoding != ours.encoding:  # the same csv, other rows trained: other medians or categories
        width = f"; it takes {pre.input_shape[0]} features, this run {ours.input_shape[0]}" if other_shape else ""
        problems.append("it encodes the csv's text columns and empty cells differently (learned from other training rows: "
                        f"train both with the same data.val_fraction and seed){width}")
    elif other_shape:
        problems.append(f"it takes {pre.kind} inputs of shape {pre.input_shape}, this run "
                        f"{getattr(ours, 'kind', data.kind)} of shape {list(data.input_shape)}")
    elif (pre.fit_content, pre.denoise) != (ours.fit_content, ours.denoise):
        problems.append("its images are prepared differently (fit_content/denoise)")
    elif pre.encoding != ours.encoding:
        problems.append("it encodes the csv's text columns and empty cells differently (one of the two has no encoding)")
    if len(predictor.classes) != data.num_outputs:
        problems.append(f"it predicts {len(predictor.classes)} classes, this run {data.num_outputs}")
    if problems:
        raise ConfigError(f"'train.distill.teacher' {path} does not fit this run: {'; '.join(problems)}")
    return Teacher(predictor.model.to(device).eval(), ours.mean, ours.std, pre.mean, pre.std, pre.kind)


def _same_columns(pre, ours) -> bool:
    """Both encode a csv with the same raw columns (so a difference is in what their training rows held)."""
    if ours is None or not pre.encoding or not ours.encoding:
        return False
    return [c["name"] for c in pre.encoding["columns"]] == [c["name"] for c in ours.encoding["columns"]]


class Teacher:
    """The teacher's network plus the affine map from the student's standardised inputs to its own."""

    def __init__(self, model: torch.nn.Module, mean, std, teacher_mean, teacher_std, kind: str):
        self.model = model
        to = torch.tensor
        self.scale = to(std) / to(teacher_std)
        self.shift = (to(mean) - to(teacher_mean)) / to(teacher_std)
        self.image = kind == "image"

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1, 1, 1) if self.image else (1, -1)
        scale = self.scale.to(x.device, x.dtype).view(shape)
        shift = self.shift.to(x.device, x.dtype).view(shape)
        return self.model(x * scale + shift).float()


def distillation_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float) -> torch.Tensor:
    """``T^2 * KL(softmax(teacher/T) || softmax(student/T))``, averaged over the batch."""
    t = temperature
    return F.kl_div(F.log_softmax(student.float() / t, 1), F.log_softmax(teacher / t, 1), log_target=True,
                    reduction="batchmean") * (t * t)


class Distillation(Stateless, Callback):
    """Wraps the engine's forward (to run the teacher on the same batch) and loss (to add the soft term)."""

    def __init__(self, teacher: Teacher, temperature: float, alpha: float):
        self.teacher, self.temperature, self.alpha = teacher, temperature, alpha
        self._soft: torch.Tensor | None = None
        self._saved = None

    def on_train_begin(self, trainer):
        engine = trainer.engine
        forward, task_loss = engine.forward, engine.loss_fn
        self._saved = (forward, task_loss)
        alpha, t = self.alpha, self.temperature

        def distilled_forward(x):
            self._soft = self.teacher(x)
            return forward(x)

        def distilled_loss(out, y):
            soft = distillation_loss(out, self._soft, t)
            return soft if alpha == 1 else (1 - alpha) * task_loss(out, y) + alpha * soft

        engine.forward, engine.loss_fn = distilled_forward, distilled_loss

    def on_train_end(self, trainer):
        if self._saved is not None:
            trainer.engine.forward, trainer.engine.loss_fn = self._saved
            self._saved = None
