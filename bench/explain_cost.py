"""Seconds per explained image for each attribution method of `nnforge explain`.

    python bench/explain_cost.py [RUN] [--images 16]

Without RUN, trains the quickstart CNN for one epoch on the MNIST sample first. The reference
is a plain gradient (saliency map, one backward pass): each method's ratio says how many
saliency maps its one explanation costs. Runs on one CPU thread for comparable numbers.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nnforge.explain.attribution import METHODS, attribute  # noqa: E402


def _run_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    from nnforge.config import load_config
    from nnforge.train import fit

    out = Path(tempfile.mkdtemp()) / "run"
    cfg = load_config(Path(__file__).resolve().parents[1] / "nnforge" / "configs" / "quickstart.yaml",
                      ["train.epochs=1", "train.progress=none"])
    fit(cfg, out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?")
    parser.add_argument("--images", type=int, default=16)
    args = parser.parse_args()
    from captum.attr import Saliency

    from nnforge.predictor import load
    from nnforge.rundir import load_run_test_split

    run = _run_dir(args.run)
    torch.set_num_threads(1)
    predictor = load(run)
    ds = load_run_test_split(run)
    x = predictor.preprocessing(ds.x_test[: args.images])
    target = predictor.model(x).argmax(1)
    kw = dict(baseline=predictor.preprocessing(torch.zeros_like(ds.x_test[:1])), background=predictor.preprocessing(ds.x_train[:16]))

    def timed(fn) -> float:
        fn()  # warm-up
        start = time.perf_counter()
        fn()
        return (time.perf_counter() - start) / len(x)

    reference = timed(lambda: Saliency(predictor.model).attribute(x.clone().requires_grad_(), target=target))
    print(f"{run} ({predictor.meta['model']['name']}, {tuple(predictor.input_shape)}), {len(x)} images, 1 CPU thread")
    print(f"{'method':<10} {'s/image':>10} {'x saliency':>11}")
    print(f"{'saliency':<10} {reference:>10.5f} {1.0:>11.1f}")
    for method in METHODS:
        sec = timed(lambda: attribute(predictor.model, x, target, method, **kw))
        print(f"{method:<10} {sec:>10.5f} {sec / reference:>11.1f}")


if __name__ == "__main__":
    main()
