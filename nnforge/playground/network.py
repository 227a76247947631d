"""The networks the page can build: a spec, checked, and the scratch model and optimiser it names.

The model is ``nn.Sequential`` of ``Linear`` + activation per hidden layer and a ``Linear`` head
with two logits (orange, blue) trained by cross-entropy. Two logits rather than one sigmoid
output because that is exactly what an nnforge recipe's ``mlp`` with two classes is, so the
exported recipe trains the same architecture; softmax over two logits is the sigmoid of their
difference, so the boundary is the same family of functions as the Playground's.
"""

from __future__ import annotations

from dataclasses import dataclass

from nnforge.errors import UserError

ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid", "linear": None}  # scratch.nn class names
OPTIMIZERS = ("sgd", "momentum", "adam")
MAX_LAYERS, MAX_NEURONS, MAX_BATCH = 6, 8, 100
MOMENTUM = 0.9


class PlaygroundError(UserError):
    """A setting the page (or a hand-written message) asked for is outside what the playground accepts."""


@dataclass(frozen=True)
class NetSpec:
    """Hidden widths (0-6 layers of 1-8), activation, optimiser and its settings, batch size."""

    hidden: tuple[int, ...] = (4, 2)
    activation: str = "tanh"
    optimizer: str = "sgd"
    lr: float = 0.03
    l1: float = 0.0
    l2: float = 0.0
    batch_size: int = 10

    def __post_init__(self):
        if len(self.hidden) > MAX_LAYERS or any(not 1 <= w <= MAX_NEURONS for w in self.hidden):
            raise PlaygroundError(f"hidden layers: 0-{MAX_LAYERS} layers of 1-{MAX_NEURONS} neurons, got {list(self.hidden)}")
        if self.activation not in ACTIVATIONS:
            raise PlaygroundError(f"activation '{self.activation}' unknown; accepted: {', '.join(ACTIVATIONS)}")
        if self.optimizer not in OPTIMIZERS:
            raise PlaygroundError(f"optimizer '{self.optimizer}' unknown; accepted: {', '.join(OPTIMIZERS)}")
        if not 0 < self.lr <= 10:
            raise PlaygroundError(f"learning rate must be in (0, 10], got {self.lr}")
        if not (0 <= self.l1 <= 1 and 0 <= self.l2 <= 1):
            raise PlaygroundError(f"L1 and L2 strengths must be in [0, 1], got {self.l1} and {self.l2}")
        if not 1 <= self.batch_size <= MAX_BATCH:
            raise PlaygroundError(f"batch size must be 1-{MAX_BATCH}, got {self.batch_size}")

    def layer_sizes(self, inputs: int) -> list[int]:
        return [inputs, *self.hidden, 2]


def build_model(spec: NetSpec, inputs: int, seed: int):
    """The scratch network, float64, its initial weights drawn from ``seed`` (PyTorch's default init)."""
    from nnforge import scratch
    from nnforge.scratch import nn

    scratch.manual_seed(seed)
    sizes = spec.layer_sizes(inputs)
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2 and ACTIVATIONS[spec.activation]:
            layers.append(getattr(nn, ACTIVATIONS[spec.activation])())
    return nn.Sequential(*layers).double()


def build_optimizer(spec: NetSpec, params):
    """SGD, SGD with momentum 0.9, or Adam; L2 is their ``weight_decay`` (as in a recipe)."""
    from nnforge.scratch import optim

    if spec.optimizer == "adam":
        return optim.Adam(params, lr=spec.lr, weight_decay=spec.l2)
    return optim.SGD(params, lr=spec.lr, momentum=MOMENTUM if spec.optimizer == "momentum" else 0.0, weight_decay=spec.l2)


def linear_layers(model) -> list:
    """The model's Linear layers in order (weights drawn as lines between neuron columns)."""
    from nnforge.scratch import nn

    return [m for m in model if isinstance(m, nn.Linear)]
