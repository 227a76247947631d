"""Pruning: removing the weights (unstructured) or whole channels (structured) that matter least.

* :func:`magnitude_prune` — global magnitude pruning (Han et al., 2015): the fraction ``F`` of
  smallest-magnitude weights across all Conv/Linear layers (and LSTM/GRU matrices) is set to zero, the same threshold
  for every layer. The tensor keeps its shape, so the file only shrinks once compressed, and
  dense CPU kernels run no faster; it shows how much redundancy the network has.
* :func:`channel_prune` — structured pruning (Li et al., 2017): in each hidden Conv/Linear layer,
  the fraction ``F`` of output channels (units) with the smallest L1 norm is removed together with
  the matching inputs of the next layer. The result is a smaller dense network of the same
  family (``cnn`` with fewer channels, ``mlp`` with narrower layers): smaller on disk and faster.
  In a residual network the skip connections tie every block's input and output widths
  together, so each block is pruned inside: the channels between its two convolutions
  (``resnet`` with a smaller ``inner``), scored by the L1 norm of the filter as BatchNorm scales it.

Both are followed by a short fine-tune (:func:`finetune`) that lets the remaining weights
compensate; during it, pruned weights stay zero.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils import prune as torch_prune

from nnforge.errors import UserError

PRUNABLE = (nn.Conv2d, nn.Linear)
CHANNEL_MODELS = ("mlp", "cnn", "resnet", "resnet18")


def _weights(model: nn.Module) -> list[tuple[nn.Module, str]]:
    """Every weight matrix magnitude pruning ranks: Conv/Linear weights and an LSTM/GRU's input and recurrent matrices."""
    out = []
    for m in model.modules():
        if isinstance(m, PRUNABLE):
            out.append((m, "weight"))
        elif isinstance(m, nn.RNNBase):  # while pruned, 'weight_ih_l0' is 'weight_ih_l0_orig' times a mask
            out.extend((m, n.removesuffix("_orig")) for n, _ in m.named_parameters(recurse=False) if n.startswith("weight_"))
    return out


def magnitude_prune(model: nn.Module, fraction: float) -> nn.Module:
    """Zero the globally smallest ``fraction`` of Conv/Linear (and LSTM/GRU) weights; masks stay attached (see :func:`finalize`)."""
    if not 0 < fraction < 1:
        raise UserError(f"--prune is {fraction}; accepted: a fraction between 0 and 1 (e.g. 0.5)")
    torch_prune.global_unstructured(_weights(model), pruning_method=torch_prune.L1Unstructured, amount=fraction)
    return model


def finalize(model: nn.Module) -> nn.Module:
    """Make pruning permanent: fold the masks into plain weight tensors (zeros stay zeros)."""
    for module, name in _weights(model):
        if torch_prune.is_pruned(module) and hasattr(module, f"{name}_mask"):
            torch_prune.remove(module, name)
    return model


def sparsity(model: nn.Module) -> float:
    """Fraction of the weights magnitude pruning ranks (Conv/Linear, LSTM/GRU matrices) that are exactly zero."""
    total = zeros = 0
    for module, name in _weights(model):
        w = getattr(module, name)
        total += w.numel()
        zeros += int((w == 0).sum())
    return zeros / max(1, total)


def _ordered_layers(model: nn.Module) -> list[nn.Module]:
    """Conv/Linear/BatchNorm modules in forward order (registration order in the zoo's chains)."""
    return [m for m in model.modules() if isinstance(m, (*PRUNABLE, nn.BatchNorm1d, nn.BatchNorm2d))]


def channel_prune(model: nn.Module, model_cfg: dict, fraction: float) -> tuple[dict, dict]:
    """Remove the ``fraction`` of lowest-L1 channels/units of every hidden layer.

    Returns ``(new_model_cfg, new_state_dict)``; build the smaller model from the config and
    load the state. Supported for the zoo's chain-shaped ``mlp`` and ``cnn``, and inside the
    blocks of ``resnet`` (see :func:`_prune_block_insides`).
    """
    if model_cfg["name"] not in CHANNEL_MODELS:
        raise UserError(f"channel pruning supports models {', '.join(CHANNEL_MODELS)}; this run is '{model_cfg.get('name')}'")
    if not 0 < fraction < 1:
        raise UserError(f"--prune is {fraction}; accepted: a fraction between 0 and 1 (e.g. 0.5)")
    if model_cfg["name"].startswith("resnet"):
        return _prune_block_insides(model, model_cfg, fraction)
    layers = _ordered_layers(model)
    names = {m: n for n, m in model.named_modules()}
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    producers = [m for m in layers if isinstance(m, PRUNABLE)][:-1]  # the output layer keeps its classes
    widths: dict[nn.Module, int] = {}
    keep_prev: torch.Tensor | None = None
    prev: nn.Module | None = None
    for layer in layers:
        name = names[layer]
        if isinstance(layer, (nn.BatchNorm1d, nn.BatchNorm2d)):
            for key in ("weight", "bias", "running_mean", "running_var"):
                state[f"{name}.{key}"] = state[f"{name}.{key}"][keep_prev]
            continue
        if keep_prev is not None:  # slice this layer's inputs to the kept channels of the previous one
            w = state[f"{name}.weight"]
            if isinstance(layer, nn.Linear) and isinstance(prev, nn.Conv2d):
                spatial = layer.in_features // prev.out_channels  # Flatten: channel-major blocks
                w = w.view(w.shape[0], prev.out_channels, spatial)[:, keep_prev].reshape(w.shape[0], -1)
            else:
                w = w[:, keep_prev]
            state[f"{name}.weight"] = w
        keep_prev = None
        if layer in producers:
            w = state[f"{name}.weight"]
            keep = _keep(w.abs().flatten(1).sum(1), fraction)
            state[f"{name}.weight"] = w[keep]
            if f"{name}.bias" in state:
                state[f"{name}.bias"] = state[f"{name}.bias"][keep]
            widths[layer] = len(keep)
            keep_prev = keep
        prev = layer
    new_cfg = copy.deepcopy(model_cfg)
    if model_cfg["name"] == "mlp":
        new_cfg["hidden"] = [widths[m] for m in producers]
    else:
        convs = [m for m in producers if isinstance(m, nn.Conv2d)]
        new_cfg["channels"] = [widths[m] for m in convs]
        new_cfg["hidden"] = widths[[m for m in producers if isinstance(m, nn.Linear)][-1]]
    return new_cfg, state


def _keep(score: torch.Tensor, fraction: float) -> torch.Tensor:
    """Indices (ascending) of the ``1 - fraction`` highest-scoring channels, at least one."""
    n_keep = max(1, int(round(len(score) * (1 - fraction))))
    return torch.sort(torch.topk(score, n_keep).indices).values


def _prune_block_insides(model: nn.Module, model_cfg: dict, fraction: float) -> tuple[dict, dict]:
    """Residual blocks: remove the weakest channels between each block's two convolutions.

    A channel's score is the L1 norm of its conv1 filter times the factor its BatchNorm applies
    (|gamma| / sqrt(running_var + eps)): what actually reaches the ReLU, so a channel that BN
    silences scores zero whatever its filter. Its conv1 filter, BN entries and conv2 input slice go.
    """
    from nnforge.models.resnet import BasicBlock

    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    inner = []
    for name, block in model.named_modules():
        if not isinstance(block, BasicBlock):
            continue
        score = state[f"{name}.conv1.weight"].abs().flatten(1).sum(1)
        if isinstance(block.bn1, nn.BatchNorm2d):
            score = score * state[f"{name}.bn1.weight"].abs() / torch.sqrt(state[f"{name}.bn1.running_var"] + block.bn1.eps)
        keep = _keep(score, fraction)
        for key in ("conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var"):
            if f"{name}.{key}" in state:
                state[f"{name}.{key}"] = state[f"{name}.{key}"][keep]
        state[f"{name}.conv2.weight"] = state[f"{name}.conv2.weight"][:, keep]
        inner.append(len(keep))
    new_cfg = copy.deepcopy(model_cfg)
    new_cfg["inner"] = inner
    return new_cfg, state


def finetune(model: nn.Module, recipe, data, epochs: int = 1, lr_scale: float = 0.1, min_steps: int = 100, loss=None) -> nn.Module:
    """Retrain on the run's training split (``data``, from :func:`nnforge.train.prepare`) at a tenth of
    its learning rate: ``epochs`` epochs, and at least ``min_steps`` steps (one epoch of a small
    dataset is too short to recover). ``loss``: default cross-entropy (a classifier)."""
    import math

    from nnforge.train.optim import build_optimizer

    train = recipe.with_overrides({"train.optimizer.lr": recipe.train.optimizer.lr * lr_scale,
                                   "train.optimizer.lr_mult": {}, "train.freeze": []}).train
    optimizer = build_optimizer(model, train)
    epochs = max(epochs, math.ceil(min_steps / max(1, len(data.train)))) if epochs > 0 else 0
    model.train()
    for _ in range(epochs):
        for xb, yb in data.train:
            value = (loss or nn.functional.cross_entropy)(model(xb), yb)
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            optimizer.step()
    return model.eval()
