"""The C framing step (nnforge/data/_framing.c) gives the Python version's bytes, exactly.

Preprocessing.image_to_array runs the C version when it is built (setup.py builds it wherever a
C compiler is) and the Python version otherwise; training data is framed by the Python
fit_to_frame. Any difference would mean an upload reaches the model differently from the
training images, so they are compared on real digits, real photos and random images of many
sizes, in every mode and setting the framing has.
"""

import dataclasses
import shutil

import numpy as np
import pytest
from PIL import Image

from nnforge.data import load_dataset
from nnforge.data import preprocess
from nnforge.data.preprocess import Preprocessing

framing = preprocess._framing
needs_native = pytest.mark.skipif(framing is None, reason="the C framing module is not built (no C compiler at install)")


def python_version(pre: Preprocessing, image) -> np.ndarray:
    saved, preprocess._framing = preprocess._framing, None
    try:
        return pre.image_to_array(image)
    finally:
        preprocess._framing = saved


def sample_images() -> list:
    """Real digits as sent (grey, RGB, black on white, rescaled), two real photos, random images."""
    from sklearn.datasets import load_sample_image

    rng = np.random.default_rng(0)
    digits = load_dataset({"name": "mnist-sample"}).x_test[:60, 0].numpy()
    images = []
    for i, digit in enumerate(digits):
        images.append(Image.fromarray(digit))
        images.append(Image.fromarray(255 - digit).convert("RGB"))
        size = int(rng.integers(5, 160))
        images.append(Image.fromarray(digit).resize((size, int(size * rng.uniform(0.4, 2.5)) + 1), Image.Resampling.BILINEAR))
    for name in ("china.jpg", "flower.jpg"):
        photo = Image.fromarray(load_sample_image(name))
        images += [photo, photo.resize((61, 47)), photo.convert("L").resize((200, 37))]
    for i in range(150):
        h, w = (int(v) for v in rng.integers(1, 90, 2))
        grey = rng.integers(0, 256, (h, w), dtype=np.uint8)
        if i % 3 == 0:
            grey = (grey > 240).astype(np.uint8) * 255  # sparse strokes
        elif i % 3 == 1:
            grey = np.where(grey > 200, grey, 255 - grey // 10).astype(np.uint8)  # light background
        images += [Image.fromarray(grey), Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))]
    images += [Image.new("L", (1, 1)), Image.new("L", (40, 30), 255), Image.new("L", (1, 50), 128),
               Image.new("RGB", (3, 70), (10, 200, 30))]
    return images


@needs_native
def test_c_framing_gives_the_python_versions_bytes():
    images = sample_images()
    grey = Preprocessing(kind="image", input_shape=[1, 28, 28], mode="L")
    settings = [dataclasses.replace(grey, fit_content=fit, background=background, mode=mode, input_shape=shape)
                for fit in (True, False) for background in ("dark", "light")
                for mode, shape in (("L", [1, 28, 28]), ("RGB", [3, 32, 32]), ("L", [1, 20, 36]))]
    compared = 0
    for pre in settings:
        for image in images:
            native, reference = pre.image_to_array(image), python_version(pre, image)
            assert native.shape == reference.shape == tuple(pre.input_shape)
            assert native.dtype == np.uint8
            assert np.array_equal(native, reference), (pre.mode, pre.fit_content, pre.background, image.size, image.mode)
            compared += 1
    assert compared == len(settings) * len(images) > 5000


@needs_native
def test_uploads_are_framed_like_the_training_images():
    """mnist-sample with fit_content frames its training digits with the Python fit_to_frame
    (data/subset.py); an upload of the same digit, through the C version, must match it."""
    from nnforge.data.preprocess import fit_to_frame

    ds = load_dataset({"name": "mnist-sample"})
    pre = Preprocessing.fit(ds, fit_content=True)
    for digit in ds.x_test[:100, 0].numpy():
        assert np.array_equal(pre.image_to_array(Image.fromarray(digit))[0], fit_to_frame(digit[:, :, None], (28, 28))[:, :, 0])


@needs_native
def test_c_framing_refuses_inconsistent_arguments():
    pixels = bytes(28 * 28)
    with pytest.raises(ValueError, match="buffer"):
        framing.to_frame(pixels, 28, 27, 1, 28, 28, True, False, 20 / 28)
    with pytest.raises(ValueError, match="channels"):
        framing.to_frame(pixels, 14, 28, 2, 28, 28, True, False, 20 / 28)
    with pytest.raises(ValueError, match="fraction"):
        framing.to_frame(pixels, 28, 28, 1, 28, 28, True, False, 1.5)
    out = framing.to_frame(pixels, 28, 28, 1, 28, 28, True, False, 20 / 28)
    assert isinstance(out, bytearray) and out == bytearray(28 * 28)  # blank stays blank


def test_the_c_modules_are_built_wherever_a_compiler_is():
    """setup.py marks the extensions optional, so a failed build would pass unnoticed: this says so."""
    from nnforge.data import png

    if shutil.which("cc") is None and shutil.which("gcc") is None:
        pytest.skip("no C compiler here: the Python framing and Pillow's PNG decoding are used")
    assert framing is not None, "a C compiler is installed but nnforge/data/_framing.c was not built (pip install -e . builds it)"
    assert png._png is not None, "a C compiler is installed but nnforge/data/_png.c was not built (pip install -e . builds it)"
