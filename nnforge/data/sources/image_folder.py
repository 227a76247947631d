"""Images from a folder tree: one sub-folder per class (``folder:PATH``).

If PATH holds ``train/`` and ``test/`` sub-folders, those are the splits (a ``val/`` beside them is
named, not left out); otherwise a fixed
stratified 80/20 split is drawn. Only PNG and JPEG files are read (an image in another format is an
error, not left out); hidden files and folders (``.DS_Store``, macOS' ``._name.png``,
``.ipynb_checkpoints/``) and a Mac zip's ``__MACOSX/`` are skipped. All images must share one
size unless ``data.image_size`` says what to resize to; a colour image in either split makes the
dataset RGB. Each image is converted the way ``predict`` and the service convert an upload
(:class:`~nnforge.data.preprocess.Preprocessing`: EXIF orientation, transparency onto white,
16-bit grey scaled, Lanczos resize), so a model sees its training images as it sees requests.

Class indices follow the class folder names sorted as text (``10`` before ``2``), as torchvision's
``ImageFolder`` sorts them (``sorted(entry.name ...)``): a folder tree means the same class indices
here and there, and a run trained before keeps its names and indices. Numbered classes sort by
number when written with leading zeros (``02``, ``10``).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import numpy as np
import torch

from nnforge.data.dataset import Dataset, split_80_20
from nnforge.data.preprocess import WIDE_GREY
from nnforge.errors import DataError, excerpt

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg"}
# images in other formats: left out silently, a class folder of .webp and .png files trained on its PNGs alone
OTHER_IMAGE_SUFFIXES = {".webp", ".gif", ".bmp", ".tif", ".tiff", ".heic", ".heif", ".avif", ".jfif", ".jpe", ".jp2"}


def _skipped(name: str) -> bool:
    """Hidden files and folders, and the ``__MACOSX/`` folder of AppleDouble files that a zip made on
    a Mac unpacks beside the class folders (read as a class, it stopped loading: 'holds no PNG or JPEG images')."""
    return name.startswith(".") or name == "__MACOSX"


def _class_files(root: Path) -> dict[str, list[Path]]:
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not _skipped(p.name))
    if len(classes) < 2:
        raise DataError(f"folder '{root}' needs one sub-folder per class (at least two); found {len(classes)}")
    files = {}
    for c in classes:
        if not c.name.isprintable():  # also False for the surrogates that stand for bytes that are not UTF-8
            # A class name is shown in pictures, reports and served JSON: a Latin-1 folder name failed
            # training at its last step (the confusion matrix) with a traceback.
            raise DataError(f"class folder '{excerpt(os.fsencode(c.name), 60)}' in '{root}' has a name that is not "
                            "printable UTF-8 text; rename it (the class names are shown in pictures, reports and the service)")
        found = [p for p in c.rglob("*") if not any(_skipped(part) for part in p.relative_to(c).parts)]
        images = sorted(p for p in found if p.suffix.lower() in IMAGE_SUFFIXES)
        other = sorted(p for p in found if p.suffix.lower() in OTHER_IMAGE_SUFFIXES)
        if other:
            kinds = ", ".join(sorted({p.suffix.lower() for p in other}))
            raise DataError(f"class folder '{c}' holds {len(other)} image{'s' if len(other) > 1 else ''} in another format "
                            f"({kinds}: {excerpt(str(other[0].relative_to(c)), 60)}); only PNG and JPEG are read: convert "
                            f"{'them' if len(other) > 1 else 'it'}, or move {'them' if len(other) > 1 else 'it'} out")
        if not images:
            raise DataError(f"class folder '{c}' holds no PNG or JPEG images")
        files[c.name] = images
    return files


def _open_images(paths: list[Path]) -> list:
    """The decoded images, as they are in the files."""
    from PIL import Image, UnidentifiedImageError

    images = []
    for p in paths:
        try:
            with Image.open(p) as im:
                if im.format not in ("PNG", "JPEG"):
                    raise DataError(f"{p}: is {im.format}, only PNG and JPEG are read")
                im.load()
                images.append(im.copy())
        except Image.DecompressionBombError as exc:  # more pixels than PIL will decode
            raise DataError(f"{p}: too large to read ({excerpt(exc.args[0].split(',')[0], 100)}); resize it first") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError, struct.error) as exc:  # ValueError: 'Truncated IHDR chunk'
            raise DataError(f"{p}: not a readable image ({excerpt(exc, 100)})") from None
    return images


def _is_colour(images: list) -> bool:
    return any(im.mode not in ("L", "1", "LA", *WIDE_GREY) for im in images)


def _to_array(paths: list[Path], images: list, size: tuple[int, int] | None, mode: str) -> np.ndarray:
    from nnforge.data.preprocess import Preprocessing, _lanczos

    convert = Preprocessing(kind="image", input_shape=[1, 1, 1], mode=mode)
    target = size
    out = []
    for p, im in zip(paths, images):
        try:
            im = convert._in_mode(im)  # upright (EXIF), transparency onto white, 16-bit grey scaled, in mode
        except DataError as exc:  # damaged EXIF
            raise DataError(f"{p}: {exc}") from None
        target = target or im.size[::-1]  # the first image's, upright
        if size is None and im.size[::-1] != tuple(target):
            raise DataError(
                f"{p}: is {im.size[0]}x{im.size[1]} but {paths[0].name} is {target[1]}x{target[0]}; "
                f"resize them all with --set data.image_size=[H,W]"
            )
        im = _lanczos(im, target[1], target[0])
        arr = np.asarray(im, dtype=np.uint8)
        out.append(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1))
    return np.stack(out)


SPLIT_NAMES = ("train", "training", "test", "testing", "val", "valid", "validation")


def _split_folders(root: Path, besides: tuple[str, ...] = ()) -> list[str]:
    """The sub-folders of ``root`` named as a split (any case), but those of ``besides``."""
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name.lower() in SPLIT_NAMES and p.name not in besides)


def _refuse_a_split_layout(root: Path) -> None:
    """A tree split as train/ + val/ (or train/ alone) is not one folder per class: its splits were
    read as two classes, 'train' and 'val', each holding every class's images, and trained on silently."""
    splits = _split_folders(root)
    if splits:
        raise DataError(f"folder '{root}' holds {', '.join(s + '/' for s in splits)}: read as a split, it needs exactly "
                        "train/ and test/ (each with one sub-folder per class; validation is carved from train/ by "
                        "data.val_fraction); as classes, rename them")


def _refuse_other_splits(root: Path) -> None:
    """Beside train/ and test/, a val/ (or Train/, validation/, ...) was left out silently: its images
    trained nothing and validated nothing."""
    others = _split_folders(root, besides=("train", "test"))
    if others:
        raise DataError(f"folder '{root}' holds {', '.join(s + '/' for s in others)} beside train/ and test/, and only those "
                        "two are read (validation is carved from train/ by data.val_fraction); move its images into "
                        "train/, or move it out")


def load_folder(path: str, image_size=None, seed: int = 0) -> Dataset:
    root = Path(path).expanduser()
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "not found"  # 'not found' of a file that is there misled
        raise DataError(f"folder '{root}' {what}; expected folder:PATH with one sub-folder per class")
    size = None
    if image_size is not None:
        size = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
    if (root / "train").is_dir() and (root / "test").is_dir():
        _refuse_other_splits(root)
        train, test = _class_files(root / "train"), _class_files(root / "test")
        if sorted(train) != sorted(test):
            only = [f"only in {part}/: {', '.join(sorted(set(a) - set(b)))}" for part, a, b in (("train", train, test), ("test", test, train))
                    if set(a) - set(b)]
            raise DataError(f"{root}: train/ and test/ have different class folders ({excerpt('; '.join(only), 120)}); "
                            "give both the same class folders")
        classes = sorted(train)
        split = {"train": train, "test": test}
    else:
        _refuse_a_split_layout(root)
        files = _class_files(root)
        classes = sorted(files)
        split = None
    if split is None:
        paths = [p for c in classes for p in files[c]]
        labels = np.array([i for i, c in enumerate(classes) for _ in files[c]], dtype=np.int64)
        images = _open_images(paths)
        x = _to_array(paths, images, size, "RGB" if _is_colour(images) else "L")
        train, test, y_tr, y_te = split_80_20(np.arange(len(paths)), labels, seed)  # the same split as of the images themselves
        x_tr, x_te, test_paths = x[train], x[test], [paths[i] for i in test]
    else:
        read = {}
        for name, files in split.items():
            paths = [p for c in classes for p in files[c]]
            labels = np.array([i for i, c in enumerate(classes) for _ in files[c]], dtype=np.int64)
            read[name] = (paths, _open_images(paths), labels)
        # one mode for both splits: a single colour image in test/ made its split RGB and the other grey
        mode = "RGB" if any(_is_colour(images) for _, images, _ in read.values()) else "L"
        parts = {name: (_to_array(paths, images, size, mode), labels) for name, (paths, images, labels) in read.items()}
        (x_tr, y_tr), (x_te, y_te) = parts["train"], parts["test"]
        test_paths = read["test"][0]
        if x_tr.shape[1:] != x_te.shape[1:]:
            raise DataError(f"{root}: train images are {x_tr.shape[2]}x{x_tr.shape[3]} (HxW) but test images "
                            f"{x_te.shape[2]}x{x_te.shape[3]}; resize them all with --set data.image_size=[H,W]")
    return Dataset(
        name=f"folder:{root}",
        kind="image",
        x_train=torch.from_numpy(np.ascontiguousarray(x_tr)),
        y_train=torch.from_numpy(y_tr),
        x_test=torch.from_numpy(np.ascontiguousarray(x_te)),
        y_test=torch.from_numpy(y_te),
        classes=classes,
        test_sources=[str(p.relative_to(root)) for p in test_paths],
    )
