"""``engine: scratch``: the same run trained by :mod:`nnforge.scratch` (NumPy only).

The task builds the zoo's torch model as for any run; this adapter builds its scratch twin
(:mod:`nnforge.scratch.models`, same parameter names), starts it from the torch model's initial
weights (so both engines start from the same point, pretrained weights included), trains it with
scratch optimizers on the same batches, and at the end writes the weights back into the torch
model, so evaluation, the run directory and serving work exactly as for a torch run.

Everything that reads the recipe lives here, not in :mod:`nnforge.scratch`, which stays a
NumPy library with a PyTorch-shaped API and no training driver.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from nnforge.cpus import usable_cpus
from nnforge.errors import ConfigError
from nnforge.scratch import optim
from nnforge.scratch.autograd import no_grad
from nnforge.scratch.creation import generator, manual_seed
from nnforge.scratch.models import BUILDERS, build_from_config
from nnforge.scratch.nn import functional as F
from nnforge.scratch.nn.utils import clip_grad_norm_, clip_grad_value_
from nnforge.scratch.tensor import Tensor
from nnforge.train.engines.base import Engine
from nnforge.train.keys import DATA, GUARDS, LOOP, LOSS, keys
from nnforge.train.optim import build_optimizer, build_scheduler
from nnforge.train.tasks.base import LossSpec


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)


def build_loss(spec: LossSpec):
    """The scratch loss a :class:`LossSpec` describes (same formulas as the torch engine's, soft targets included)."""
    if spec.kind == "regress":
        if spec.name not in ("mse", "l1"):
            raise ConfigError(f"'train.loss.name' is '{spec.name}', which engine 'scratch' does not implement for regression; "
                              "accepted with engine scratch: mse, l1 (or use engine: torch)")
        return F.mse_loss if spec.name == "mse" else F.l1_loss
    if spec.kind == "contrastive":
        raise ConfigError("task=contrastive (NT-Xent over paired views) is not implemented on engine 'scratch'; use engine: torch")
    weight = spec.class_weight.astype(np.float32) if spec.class_weight is not None else None
    if spec.name == "cross_entropy":
        return lambda logits, y: F.cross_entropy(logits, y, weight=weight, label_smoothing=spec.label_smoothing)
    if spec.name == "focal":
        return lambda logits, y: _focal(logits, y, spec.focal_gamma, weight)
    eye = np.eye(spec.num_outputs, dtype=np.float32)
    return lambda logits, y: F.mse_loss(F.softmax(logits, 1), y if y.ndim == 2 else eye[y])


def _focal(logits, y, gamma: float, weight):
    """Focal loss normalised as the torch engine's: a weighted mean over class indices (by the summed
    weights of the targets), a mean over the examples for probability targets."""
    if weight is None or y.ndim == 2:
        return F.focal_loss(logits, y, gamma=gamma, alpha=weight)
    return F.focal_loss(logits, y, gamma=gamma, alpha=weight, reduction="sum") * (1.0 / float(weight[y].sum()))


def scratch_twin(model_cfg, input_shape, num_outputs: int, torch_model):
    """The scratch twin of a zoo model (same parameter names and shapes), holding its weights;
    ``None`` for a model :mod:`nnforge.scratch.models` does not have."""
    if model_cfg["name"] not in BUILDERS:
        return None
    twin = build_from_config(dict(model_cfg), input_shape, num_outputs)
    twin.load_state_dict(torch_model.state_dict())
    return twin


def scratch_forward(twin):
    """``twin`` as a function of a NumPy batch, without recording a graph (for timing it)."""
    def forward(x: np.ndarray):
        with no_grad():
            return twin(Tensor._wrap(x))
    return forward


def _quiet():
    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


def all_finite(arrays) -> bool:
    """True when no array holds NaN or Inf: one BLAS dot product per array (NaN and Inf propagate
    through it), and an element-by-element look only when that sum overflows or is not finite.
    ``np.isfinite(a).all()`` for every gradient cost twice that, and allocates a mask for each."""
    total = 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        for a in arrays:
            flat = a.reshape(-1)
            total += float(np.dot(flat, flat))
    return math.isfinite(total) or all(bool(np.isfinite(a).all()) for a in arrays)


class ScratchEngine(Engine):
    name = "scratch"
    # not (yet): train.optimizer.lr_mult, train.scheduler.warmup_epochs, freeze/unfreeze_epoch, precision,
    # channels_last, compile, weight averaging and distillation (torch modules) — each refused in one line;
    # and no recurrent model, so no forecasting
    implements = (keys("", "deterministic device") | DATA | LOOP | GUARDS | LOSS
                  | keys("train.optimizer", "name lr momentum nesterov weight_decay betas eps alpha")
                  | keys("train.scheduler", "name step_size gamma min_lr patience"))
    accepts = {"device": ("auto", "cpu"), "train.scheduler.name": ("none", "step", "cosine", "plateau")}

    @staticmethod
    def check_model(model_cfg) -> None:
        if model_cfg["name"] not in BUILDERS:
            raise ConfigError(f"engine 'scratch' trains the models {', '.join(BUILDERS)}, not '{model_cfg['name']}'; "
                              "use engine: torch for it")

    def __init__(self, recipe, task, data, model, device):
        if device.type != "cpu":
            raise ConfigError(f"engine 'scratch' runs on the CPU; 'device' is {recipe.device}")
        self.device, self.torch = device, model
        train = recipe.train
        manual_seed(recipe.seed)
        self.model = scratch_twin(recipe.model, data.input_shape, data.num_outputs, model)
        self.optimizer = build_optimizer(self.model, train, optim)
        # step, cosine and plateau (ScratchEngine.accepts): no per-batch schedule, so no steps per epoch
        self.schedule = build_scheduler(self.optimizer, train.scheduler, train.epochs, 0, train.optimizer.lr,
                                        monitor=task.monitor(recipe), lib=optim)
        spec = task.loss_spec(recipe, data)
        self.loss_fn = build_loss(spec)
        self.regress = spec.kind == "regress"
        from threadpoolctl import threadpool_limits

        # the recipe's threads for NumPy's BLAS too; without them, the count that trains this model fastest here
        # (deterministic: BLAS's own count, the same every run on this machine, since a timed choice
        # can differ between a run and its rerun and a matmul's bits with it)
        self.blas_threads = recipe.threads or (None if recipe.deterministic else self.measure_blas_threads(data))
        self._threads = threadpool_limits(limits=self.blas_threads, user_api="blas")  # undone by close()

    def measure_blas_threads(self, data, repeats: int = 2) -> int:
        """BLAS threads by measurement: forward and backward passes on one training batch with 1, 2, ...
        up to the CPUs this process may use; the fastest count wins (ties go to fewer threads).

        A fixed count is wrong one way or the other: on an idle 2-core machine two threads speed up
        the CNN's im2col matmuls, while on a busy one (or for the small MLP) a second thread only waits
        for the first. The model's weights, gradients, BatchNorm statistics and random generator
        are left as they were, so the run is the same whatever count is chosen.
        """
        from threadpoolctl import threadpool_limits

        cpus = usable_cpus()
        if cpus <= 1:
            return 1
        x, y = self.batch(data.train.x[:data.train.batch_size], data.train.y[:data.train.batch_size])
        saved, rng = self.model.state_dict(), generator().bit_generator.state
        best, best_time = 1, math.inf
        for threads in range(1, min(cpus, 8) + 1):
            with threadpool_limits(limits=threads, user_api="blas"):
                times = []
                for _ in range(repeats + 1):  # the first pass warms the pool up
                    start = time.perf_counter()
                    self.loss_fn(self.model(Tensor._wrap(x)), y).backward()
                    times.append(time.perf_counter() - start)
            if min(times[1:]) < best_time * 0.95:
                best, best_time = threads, min(times[1:])
        self.model.load_state_dict(saved)
        generator().bit_generator.state = rng
        self.model.zero_grad()
        return best

    def close(self) -> None:
        """Give NumPy's BLAS back the threads it had before this run: a later run or computation in the
        same process (a tune trial, a notebook cell) must not inherit this run's count."""
        self._threads.restore_original_limits()

    def batch(self, xb, yb):
        x = np.ascontiguousarray(_np(xb), dtype=np.float32)
        soft = np.ndim(yb) == 2  # mixup/cutmix probabilities
        y = _np(yb).astype(np.float32 if self.regress or soft else np.int64, copy=False)
        return x, y

    # NumPy's overflow and invalid-value warnings are left out of the training step, as torch gives none:
    # a diverging run is reported in one line by the non-finite guard, not by warnings quoting nnforge.scratch's source
    def forward(self, x):
        with _quiet():
            return self.model(Tensor._wrap(x))

    def loss(self, out, y):
        with _quiet():
            return self.loss_fn(out, y)

    def backward(self, loss) -> None:
        with _quiet():
            loss.backward()

    def step(self) -> None:
        with _quiet():
            self.optimizer.step()

    def zero_grad(self) -> None:
        self.optimizer.zero_grad()

    def outputs(self, out):
        return out.data

    def predict(self, batches):
        was = self.model.training
        self.model.eval()
        outs, targets = [], []
        with no_grad():
            for xb, yb in batches:
                x, y = self.batch(xb, yb)
                outs.append(self.model(Tensor._wrap(x)).data.astype(np.float32))
                targets.append(y)
        self.model.train(was)
        return np.concatenate(outs), np.concatenate(targets)

    # callbacks
    def _params(self):
        return [p for p in self.model.parameters() if p.grad is not None]

    def grad_norms(self) -> dict[str, float]:
        squares: dict[str, float] = {}
        for name, p in self.model.named_parameters():
            if p.grad is not None:
                layer = name.rsplit(".", 1)[0]
                squares[layer] = squares.get(layer, 0.0) + float((p.grad.data.astype(np.float64) ** 2).sum())
        return {k: math.sqrt(v) for k, v in squares.items()}

    def clip_grad_norm(self, max_norm: float) -> float:
        return float(clip_grad_norm_(self._params(), max_norm).item())

    def clip_grad_value(self, value: float) -> None:
        clip_grad_value_(self._params(), value)

    def total_grad_norm(self) -> float:
        return math.sqrt(sum(float((p.grad.data.astype(np.float64) ** 2).sum()) for p in self._params()))

    def grads_finite(self) -> bool:
        return all_finite([p.grad.data for p in self._params()])

    def weights_finite(self) -> bool:
        """The weights and the optimizer's moments, as the torch engine checks them: an Adam second moment
        that overflowed to Inf freezes its weight silently, and must not reach a checkpoint either."""
        moments = [v for s in self.optimizer.state.values() for v in s.values() if isinstance(v, np.ndarray)]
        return all_finite([p.data for p in self.model.parameters()] + moments)

    def add_l1_grad(self, strength: float) -> None:
        for p in self._params():
            if p.data.ndim > 1:
                p.grad.data += strength * np.sign(p.data)

    def snapshot(self) -> dict:
        return self.model.state_dict()

    def weights(self) -> dict:
        return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in self.model.state_dict().items()}

    # checkpoints
    def rng_state(self) -> dict:
        return {"scratch": generator().bit_generator.state}

    def set_rng_state(self, state: dict) -> None:
        generator().bit_generator.state = state["scratch"]

    def torch_model(self):
        self.torch.load_state_dict(self.weights())  # same names and shapes
        return self.torch
