"""``engine: torch``: PyTorch trains the zoo's model; the reference engine, implementing every key."""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

from nnforge.train.accumulate import optimizer_steps
from nnforge.train.keys import AVERAGING, DATA, FEDERATED, GUARDS, LOOP, LOSS, OPTIMIZATION, keys
from nnforge.train.engines.base import Engine
from nnforge.train.gradients import layer_grad_norms
from nnforge.train.imbalance import focal_loss
from nnforge.train.nonfinite import all_finite
from nnforge.train.optim import build_optimizer, build_scheduler
from nnforge.train.tasks.base import LossSpec
from nnforge.train.tasks.contrastive import nt_xent
from nnforge.train.transfer import setup_model


def build_loss(spec: LossSpec):
    """The torch loss a :class:`LossSpec` describes; classification targets are class indices (N,)
    or, from mixup and cutmix, probabilities (N, C) (``cross_entropy`` takes both as PyTorch does)."""
    if spec.kind == "regress":  # targets standardised by the task; huber's delta is in standard deviations
        return {"mse": F.mse_loss, "l1": F.l1_loss, "huber": F.huber_loss}[spec.name]
    if spec.kind == "contrastive":
        return lambda z, _y: nt_xent(z, spec.temperature)
    weight = torch.from_numpy(spec.class_weight).float() if spec.class_weight is not None else None
    if spec.name == "cross_entropy":
        return lambda logits, y: F.cross_entropy(logits, y, label_smoothing=spec.label_smoothing,
                                                 weight=None if weight is None else weight.to(logits.device, logits.dtype))
    if spec.name == "focal":
        return lambda logits, y: focal_loss(logits, y, spec.focal_gamma, weight)
    # mse: the seed's regression loss applied to classification: probabilities against one-hot (or mixed) targets
    return lambda logits, y: F.mse_loss(torch.softmax(logits, 1), (y if y.dim() == 2 else F.one_hot(y, spec.num_outputs)).to(logits.dtype))


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    """The module itself, also when wrapped by DistributedDataParallel or torch.compile."""
    while hasattr(model, "module") or hasattr(model, "_orig_mod"):
        model = getattr(model, "module", None) or model._orig_mod
    return model


class TorchEngine(Engine):
    name = "torch"
    implements = (keys("", "deterministic device") | DATA | LOOP | LOSS | OPTIMIZATION | GUARDS | AVERAGING | FEDERATED
                  | keys("forecast", "window horizon test_fraction") | keys("contrastive", "temperature projection_dim probe_labels")
                  | keys("train", "freeze unfreeze_epoch precision channels_last compile"))

    def __init__(self, recipe, task, data, model: torch.nn.Module, device: torch.device):
        train = recipe.train
        self.device = device
        self.model = setup_model(model.to(device), train)  # train.freeze, channels_last, compile
        self.channels_last = train.channels_last and data.kind == "image"
        self.optimizer = build_optimizer(self.model, train)
        self.schedule = build_scheduler(self.optimizer, train.scheduler, train.epochs, optimizer_steps(len(data.train), train.accumulate),
                                        train.optimizer.lr, monitor=task.monitor(recipe))
        self.loss_fn = build_loss(task.loss_spec(recipe, data))
        self.autocast = (lambda: torch.autocast(device.type if device.type in ("cuda", "cpu", "mps") else "cpu", dtype=torch.bfloat16)) \
            if train.precision == "bf16" else contextlib.nullcontext
        self._params: tuple[object, list] = (None, [])  # (the model they belong to, its parameters)

    def batch(self, xb, yb):
        xb, yb = xb.to(self.device, non_blocking=True), yb.to(self.device, non_blocking=True)
        if self.channels_last:
            xb = xb.contiguous(memory_format=torch.channels_last)
        return xb, yb

    def forward(self, x):
        with self.autocast():
            return self.model(x)

    def loss(self, out, y):
        with self.autocast():
            return self.loss_fn(out, y)

    def zero_grad(self) -> None:
        self.optimizer.zero_grad(set_to_none=True)

    def outputs(self, out):
        return out.detach()

    @torch.inference_mode()
    def predict(self, batches):
        was = self.model.training
        self.model.eval()
        outs, targets = [], []
        for xb, yb in batches:
            x, _ = self.batch(xb, yb)
            outs.append(self.model(x).float().cpu())
            targets.append(yb.cpu())
        self.model.train(was)
        return torch.cat(outs).numpy(), torch.cat(targets).numpy()

    def batch_end(self) -> None:
        self.schedule.batch_end()

    # callbacks
    def _grads(self):
        """The parameters that have a gradient (the list of parameters is walked once per model, not every step)."""
        model, params = self._params
        if model is not self.model:
            self._params = (self.model, params := list(self.model.parameters()))
        return [p for p in params if p.grad is not None]

    def grad_norms(self) -> dict[str, float]:
        return layer_grad_norms(self.model)

    def clip_grad_norm(self, max_norm: float) -> float:
        return float(torch.nn.utils.clip_grad_norm_(self._grads(), max_norm))

    def clip_grad_value(self, value: float) -> None:
        torch.nn.utils.clip_grad_value_(self._grads(), value)

    def total_grad_norm(self) -> float:
        grads = [p.grad.float() for p in self._grads()]
        return float(torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))) if grads else 0.0

    def grads_finite(self) -> bool:
        return all_finite([p.grad for p in self._grads()])

    def weights_finite(self) -> bool:
        opt = [t for s in self.optimizer.state.values() for t in s.values() if isinstance(t, torch.Tensor)]
        return all_finite(list(self.model.parameters()) + opt)

    @torch.no_grad()
    def add_l1_grad(self, strength: float) -> None:
        for p in self.model.parameters():
            if p.dim() > 1 and p.grad is not None:
                p.grad.add_(torch.sign(p), alpha=strength)

    def set_trainable(self, names, trainable: bool) -> None:
        names = set(names)
        for n, p in self.network().named_parameters():
            if n in names:
                p.requires_grad_(trainable)

    def snapshot(self) -> dict:
        return {k: v.detach().clone() for k, v in self.network().state_dict().items()}

    def weights(self) -> dict:
        return {k: v.detach().cpu().contiguous() for k, v in self.network().state_dict().items()}

    def network(self) -> torch.nn.Module:
        return unwrap(self.model)

    torch_model = network  # the trained network is a torch module already
