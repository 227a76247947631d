"""Attributions: which input pixels or features a prediction rests on, by four methods through Captum.

* ``gradcam`` — Grad-CAM (Selvaraju et al., 2017): the chosen conv layer's activations weighted
  by the spatially averaged gradient of the class score, ReLU'd and upsampled to the image.
  Coarse (the layer's resolution) but class-discriminative and cheap: one backward pass.
* ``ig`` — integrated gradients (Sundararajan et al., 2017): gradients averaged along the straight
  path from a baseline (the all-background image) to the input, times the difference; the
  attributions sum to the change in the class score (completeness).
* ``shap`` — gradient SHAP (Lundberg & Lee, 2017): expected gradients with baselines drawn from
  training images and Gaussian noise; approximates SHAP values.
* ``lime`` — LIME (Ribeiro et al., 2016): a sparse linear model fitted to the class probability of
  randomly masked versions of the image, over square superpixels.

Every method returns one map per example, with larger values meaning more evidence *for* the
target class: shape (N, H, W) for images, summed over colour channels, and (N, F) for tabular
rows, one value per feature (Grad-CAM needs a convolutional layer, so it is for images only; LIME
then treats each feature as one interpretable component).
"""

from __future__ import annotations

import torch
from torch import nn

from nnforge.errors import UserError, did_you_mean

METHODS = ("gradcam", "ig", "shap", "lime")


def find_layer(model: nn.Module, name: str | None = None) -> tuple[str, nn.Module]:
    """The named layer, or by default the last Conv2d (Grad-CAM's usual choice)."""
    modules = dict(model.named_modules())
    if name:
        if name not in modules:
            hint = did_you_mean(name, [n for n in modules if n])
            raise UserError(f"--layer '{name}' is not a layer of this model{hint}; layers: {', '.join(n for n in modules if n)}")
        return name, modules[name]
    convs = [(n, m) for n, m in modules.items() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise UserError("gradcam needs a convolutional layer and this model has none; pass --layer NAME or use ig, shap or lime")
    return convs[-1]


def _superpixels(height: int, width: int, cell: int) -> torch.Tensor:
    rows = torch.arange(height) // cell
    cols = torch.arange(width) // cell
    return (rows[:, None] * ((width + cell - 1) // cell) + cols[None, :]).long()


def attribute(model: nn.Module, x: torch.Tensor, target: torch.Tensor, method: str, layer: str | None = None,
              baseline: torch.Tensor | None = None, background: torch.Tensor | None = None, seed: int = 0,
              n_steps: int = 32, n_samples: int = 32, lime_samples: int = 200, probabilities: bool = True) -> torch.Tensor:
    """Attributions of ``model`` for classes ``target`` on preprocessed images (N, C, H, W) -> (N, H, W)
    or tabular rows (N, F) -> (N, F).

    ``baseline``: the "absent" input for IG (default zeros: the training mean after standardisation);
    ``background``: a batch of training inputs for SHAP's baselines (default: ``baseline``).
    ``probabilities``: LIME explains softmax probabilities (a classifier); False: the raw output
    ``target`` (a regression model's predicted value), as the gradient methods always do.
    """
    from captum.attr import GradientShap, IntegratedGradients, LayerAttribution, LayerGradCam, Lime

    if x.dim() not in (2, 4):
        raise UserError(f"attributions need images (N, C, H, W) or tabular rows (N, F); got inputs of shape {tuple(x.shape)}")
    if method not in METHODS:
        raise UserError(f"--method '{method}' is not known; accepted: {', '.join(METHODS)}")
    if method == "gradcam" and x.dim() == 2:
        raise UserError("gradcam needs an image model with a convolutional layer; for tabular rows use ig, shap or lime")
    model = model.eval()
    target = target.long()
    base = torch.zeros_like(x[:1]) if baseline is None else baseline.reshape(1, *x.shape[1:])
    torch.manual_seed(seed)  # Captum's samplers draw from the global generator
    if method == "gradcam":
        _, module = find_layer(model, layer)
        cam = LayerGradCam(model, module).attribute(x, target=target, relu_attributions=True)
        if cam.dim() != 4:
            raise UserError(f"--layer '{layer}' has no spatial output; choose a convolutional layer")
        maps = LayerAttribution.interpolate(cam, tuple(x.shape[2:]), interpolate_mode="bilinear")
    elif method == "ig":
        maps = IntegratedGradients(model).attribute(x, baselines=base.expand_as(x), target=target, n_steps=n_steps)
    elif method == "shap":
        pool = base if background is None else background
        maps = GradientShap(model).attribute(x, baselines=pool, target=target, n_samples=n_samples, stdevs=0.1)
    else:
        probs = (lambda inp: torch.softmax(model(inp), 1)) if probabilities else model  # noqa: E731 - LIME explains probabilities
        if x.dim() == 4:
            cell = max(1, min(x.shape[2:]) // 7)
            mask = _superpixels(x.shape[2], x.shape[3], cell).expand(1, x.shape[1], -1, -1)
        else:
            mask = torch.arange(x.shape[1])[None]  # each feature is its own component
        lime = Lime(probs)
        maps = torch.cat([
            lime.attribute(x[i : i + 1], baselines=base, target=int(target[i]), feature_mask=mask, n_samples=lime_samples,
                           perturbations_per_eval=lime_samples)
            for i in range(len(x))
        ])
    return maps.detach().sum(1) if x.dim() == 4 else maps.detach()
