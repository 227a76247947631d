"""Test images of an image dataset written as PNG files: real inputs to try ``nnforge predict`` on.

``nnforge datasets --export mnist-sample --count 10 DIR`` writes the first ``count`` images of
the dataset's fixed test split as ``test-INDEX-label-CLASS.png``, exactly as stored (28x28,
one channel for MNIST), so a model trained on the dataset never saw them.
"""

from __future__ import annotations

from pathlib import Path

from nnforge import io
from nnforge.errors import DataError


def export_test_images(name: str, count: int, out: str | Path, root: str | None = None) -> list[Path]:
    """Write the first ``count`` test images of dataset ``name`` to ``out``; return their paths.
    ``root``: the folder holding the standard files of mnist, fashion-mnist and cifar10 (``data.root``)."""
    from PIL import Image

    from nnforge.data import load_dataset

    if count < 1:
        raise DataError(f"--count is {count}; accepted: a positive number")
    if name.startswith("csv:"):  # before loading: a table asks for a target column that --export has no way to give
        raise DataError(f"dataset '{name}' holds table rows, not images; --export writes image datasets as PNG")
    from nnforge.data.registry import FROM_FILES

    if name in FROM_FILES and root is None:  # before: 'add --set data.root=DIR', an option this command has not
        raise DataError(f"dataset '{name}' is read from its standard files: add --root DIR, the folder holding them")
    if root is not None and name not in FROM_FILES:
        raise DataError(f"--root is for datasets read from standard files ({', '.join(FROM_FILES)}); '{name}' does not use it")
    ds = load_dataset({"name": name, "root": root})
    if ds.kind != "image":
        raise DataError(f"dataset '{name}' holds table rows, not images; --export writes image datasets as PNG")
    out = Path(out)
    if (path := io.file_in_the_way(out)) is not None:  # the folder, or one above it (before: mkdir's NotADirectoryError traceback)
        raise DataError(f"'{path}' is a file; pass a folder to write the images into")
    io.make_dir(out)  # a folder that cannot be made: one line
    images = ds.x_test[:count].numpy()
    paths = []
    for i, (image, label) in enumerate(zip(images, ds.y_test[:count].tolist())):
        pixels = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(ds.classes[label]))
        path = out / f"test-{i:04d}-label-{safe}.png"
        paths.append(io.atomic_write(path, lambda p, px=pixels: Image.fromarray(px).save(p, format="PNG")))
    return paths
