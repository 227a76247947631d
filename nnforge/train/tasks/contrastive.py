"""``task: contrastive``: self-supervised pretraining — an encoder learns from images without their labels.

SimCLR (Chen et al. 2020): each image is augmented twice; the network maps both views to vectors,
and the NT-Xent loss pulls the two views of one image together while pushing them away from the
other 2N-2 views of the batch. Nothing in training reads a label: the model learns what stays the
same when a digit is shifted, rotated, zoomed or partly erased. Why contrastive rather than a
masked-image objective: on 28x28 digits a masked pixel is predictable from its neighbours, so
reconstruction rewards local smoothing; telling views apart needs shape, which is what a
classifier later uses.

The model is the zoo model with ``contrastive.projection_dim`` outputs: its last Linear layer is
the projection head, and everything before it is the encoder that a fine-tuning recipe loads
through ``train.init.weights`` (skipping the last layer, as ``configs/ssl_finetune_mnist.yaml`` does).
The views come from the recipe's ``data.augment`` (which must be set: without augmentation the
two views are the same image and the task is trivial).

At the end the encoder is judged the way papers judge it, with labels it never trained on: a
linear probe (logistic regression on frozen features of ``contrastive.probe_labels`` labelled
training images, scored on the test split) against the same probe on the untrained encoder, and
``embedding.png`` draws both encoders' features in 2-D (t-SNE), coloured by the hidden labels.
"""

from __future__ import annotations

import numpy as np
import torch

from nnforge.data import Preprocessing, TensorLoader, build_augmentation, load_dataset
from nnforge.data.subset import apply_data_config
from nnforge.errors import ConfigError
from nnforge.report import plot_curves
from nnforge.report.plots import plot_embedding
from nnforge.rundir import save_model
from nnforge.train.keys import LOOP, OPTIMIZATION, keys
from nnforge.train.tasks.base import LossSpec, Task, TaskData
from nnforge.version import __version__


def _similarities(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine similarities of a batch laid out as ``[view 1 of N images; view 2 of the same N]`` (2N
    rows), and the row of each view's pair."""
    n = len(z) // 2
    z = torch.nn.functional.normalize(z.float(), dim=1)
    return z @ z.T, torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)


def nt_xent(z: torch.Tensor, temperature: float) -> torch.Tensor:
    """SimCLR's loss for a batch of paired views (see :func:`_similarities`)."""
    sim, pair = _similarities(z)
    sim = (sim / temperature).masked_fill(torch.eye(len(z), dtype=torch.bool, device=z.device), float("-inf"))  # a view is not its own pair
    return torch.nn.functional.cross_entropy(sim, pair)


def pair_hits(z: torch.Tensor) -> float:
    """How many of the 2N views find their own pair as their nearest neighbour, halved (per image)."""
    sim, pair = _similarities(z)
    return float((sim.fill_diagonal_(-2.0).argmax(1) == pair).sum()) / 2


class TwoViews:
    """The training transform: two independent augmentations of each image, preprocessed, stacked ``[v1; v2]``."""

    def __init__(self, augment, preprocess, generator: torch.Generator):
        self.augment, self.preprocess, self.generator = augment, preprocess, generator

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        return self.preprocess(torch.cat([self.augment(x, self.generator), self.augment(x, self.generator)]))


def _unstack(xb: torch.Tensor) -> torch.Tensor:
    """Fixed validation/test pairs stored as (N, 2, C, H, W) -> ``[v1; v2]``."""
    return torch.cat([xb[:, 0], xb[:, 1]])


def features(model: torch.nn.Module, x: torch.Tensor, batch: int = 1000) -> np.ndarray:
    """The encoder's output: what the model's last Linear layer (the projection head) receives."""
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    seen: list[torch.Tensor] = []
    hook = last.register_forward_hook(lambda _m, inputs, _out: seen.append(inputs[0].detach().float().cpu()))
    was = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for start in range(0, len(x), batch):
                model(x[start:start + batch])
    finally:
        hook.remove()
        model.train(was)
    return torch.cat(seen).numpy()


def linear_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> float:
    """Test accuracy of a logistic regression on frozen features (standardised with the labelled part's statistics)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.5))
    probe.fit(train_x, train_y)
    return float(probe.score(test_x, test_y))


def labelled_part(y: np.ndarray, count: int, seed: int) -> np.ndarray:
    """Indices of ``count`` training examples, as equal per class as the count allows (seeded)."""
    rng = np.random.RandomState(seed)
    classes = np.unique(y)
    per = [rng.permutation(np.nonzero(y == c)[0]) for c in classes]
    picked = [idx[: count // len(classes) + (i < count % len(classes))] for i, idx in enumerate(per)]
    return np.sort(np.concatenate(picked))


class Contrastive(Task):
    name = "contrastive"
    # images only, no labels in the loss: no class weights, sampling, imbalance or label smoothing
    implements = (LOOP | keys("", "deterministic device")
                  | keys("data", "name root url download batch_size eval_batch_size image_size fit_content train_fraction "
                                 "denoise denoise_size val_fraction normalize")
                  | keys("data.augment", "rotate shift scale shear hflip crop_padding noise cutout")
                  | keys("contrastive", "temperature projection_dim probe_labels") | keys("train.loss", "name")
                  | OPTIMIZATION | keys("train", "freeze unfreeze_epoch precision channels_last compile"))
    accepts = {"train.loss.name": ("nt_xent",)}
    metrics = ("pair_accuracy",)

    def prepare(self, recipe, device) -> TaskData:
        data_cfg, seed = recipe.data, recipe.seed
        ds = apply_data_config(load_dataset(data_cfg, seed).split_validation(data_cfg.val_fraction, seed), data_cfg, seed)
        if ds.kind != "image":
            raise ConfigError(f"task=contrastive learns from images; '{data_cfg.name}' is {ds.kind} data")
        augment = build_augmentation(data_cfg.augment)
        if not augment:
            raise ConfigError("task=contrastive needs data.augment (for example rotate: 15, shift: 0.1, scale: 0.2, cutout: 0.4): "
                              "without it both views of an image are the same")
        pre = Preprocessing.fit(ds, normalize=data_cfg.normalize, fit_content=data_cfg.fit_content)
        views = TwoViews(augment, pre, torch.Generator().manual_seed(seed + 1))

        def fixed_pairs(x: torch.Tensor, salt: int) -> torch.Tensor:  # the same views every epoch: comparable losses
            fixed = TwoViews(augment, pre, torch.Generator().manual_seed(seed + salt))
            return torch.stack(fixed(x).split(len(x)), 1).to(device)

        train = TensorLoader(ds.x_train.to(device), ds.y_train, data_cfg.batch_size, shuffle=True, drop_last=True,
                             generator=torch.Generator().manual_seed(seed), transform=views)
        train.augment_generator = views.generator  # checkpoints save its state (mid-epoch resume)
        if len(train) == 0:
            raise ConfigError(f"data.batch_size {data_cfg.batch_size} exceeds the {len(ds.x_train)} training images")
        val = None
        if ds.x_val is not None:
            val = TensorLoader(fixed_pairs(ds.x_val, 2), ds.y_val, data_cfg.eval_batch_size, transform=_unstack)
        test = TensorLoader(fixed_pairs(ds.x_test, 3), ds.y_test, data_cfg.eval_batch_size, transform=_unstack)
        return TaskData(train, val, test, tuple(ds.input_shape), recipe.contrastive.projection_dim, ds.kind, device, ds, pre,
                        extra={"eval_batch": data_cfg.eval_batch_size})

    def loss_spec(self, recipe, data: TaskData) -> LossSpec:
        self.temperature = recipe.contrastive.temperature
        self.eval_batch = data.extra["eval_batch"]
        return LossSpec("contrastive", "nt_xent", data.num_outputs, temperature=self.temperature)

    def batch_metrics(self, out, y) -> dict[str, float]:
        return {"pair_accuracy": pair_hits(out)}

    def evaluate(self, outputs: np.ndarray, targets: np.ndarray) -> dict[str, float]:
        """NT-Xent and pair accuracy within each evaluation batch, as in training (outputs come batch by batch, ``[v1; v2]``)."""
        z, loss, hits, seen = torch.from_numpy(outputs), 0.0, 0.0, 0
        for start in range(0, len(targets), self.eval_batch):
            n = min(self.eval_batch, len(targets) - start)
            chunk = z[2 * start: 2 * start + 2 * n]
            loss += float(nt_xent(chunk, self.temperature)) * n
            hits += pair_hits(chunk)
            seen += n
        return {"loss": loss / max(seen, 1), "pair_accuracy": hits / max(seen, 1)}

    def finish(self, recipe, engine, data: TaskData, history, out, train_seconds, kept=None) -> dict:
        ds, pre, model, cfg = data.dataset, data.preprocessing, engine.torch_model(), recipe.contrastive
        test_eval = self.evaluate(*engine.predict(data.test))
        device = next(model.parameters()).device
        labelled = labelled_part(ds.y_train.numpy(), cfg.probe_labels, recipe.seed)
        x_lab, x_test = (pre(ds.x_train[labelled].float()).to(device), pre(ds.x_test.float()).to(device))
        y_lab, y_test = ds.y_train[labelled].numpy(), ds.y_test.numpy()
        torch.manual_seed(recipe.seed)
        untrained = self.build_model(recipe, data).to(device)  # the same architecture and seed, before pretraining
        probe = {name: (features(m, x_lab), features(m, x_test)) for name, m in (("pretrained", model), ("random", untrained))}
        accuracy = {name: linear_probe(lab, y_lab, test, y_test) for name, (lab, test) in probe.items()}
        metrics = {
            "task": "contrastive",
            "test_loss": round(test_eval["loss"], 6),
            "test_pair_accuracy": round(test_eval["pair_accuracy"], 6),
            "probe_labels": len(labelled),
            "probe_accuracy": round(accuracy["pretrained"], 6),
            "random_encoder_probe_accuracy": round(accuracy["random"], 6),
            "train_seconds": round(train_seconds, 3),
            "epochs": len(history),
            "dataset": ds.describe(),
            "parameters": sum(p.numel() for p in model.parameters()),
        }
        meta = {"nnforge_version": __version__, "engine": recipe.engine, "task": "contrastive", "model": recipe.model.to_dict(),
                "kind": ds.kind, "input_shape": list(ds.input_shape), "num_classes": data.num_outputs, "classes": [],
                "dataset": recipe.data.name, "preprocessing": pre.to_dict()}
        save_model(out, model, meta)
        if not self.pictures:
            return metrics
        if history:
            plot_curves(history, out / "curves.png", f"{recipe.model['name']} pretrained on {recipe.data.name} (no labels)",
                        metric="pair_accuracy")
        plot_embedding({k: v[1] for k, v in probe.items()}, y_test, accuracy, out / "embedding.png")
        return metrics

    def summary(self, m: dict) -> str:
        return (f"contrastive pretraining: test NT-Xent {m['test_loss']:.3f}, each view finds its pair "
                f"{m['test_pair_accuracy']:.1%} of the time\n"
                f"linear probe with {m['probe_labels']} labels: {m['probe_accuracy']:.2%} "
                f"(the same probe on the untrained encoder: {m['random_encoder_probe_accuracy']:.2%})\n"
                f"trained in {m['train_seconds']:.1f} s")

