"""The fast PNG path against Pillow, chunk by chunk: it never answers for a file Pillow refuses.

The attack found seven kinds of file the fast path read and Pillow refuses: an iCCP with a bad
compression method or empty, a cHRM, gAMA or sRGB shorter than Pillow reads, and image data
whose IDAT run another chunk interrupts. Each is reproduced here, beside the same file made
valid (which the fast path must still read), and a differential fuzz builds files from these
chunks at random lengths and places, checksums valid, and compares both readers on every one.
"""

import base64
import io
import random
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from nnforge.data import png as pngmod
from nnforge.data.png import read_plain_png

pytestmark = pytest.mark.skipif(pngmod._png is None, reason="the C PNG module is not built (no C compiler at install)")
LIMIT = 10_000_000
# The attack's 150-byte reproduction: IDAT, cHRM, IDAT, IDAT (Pillow: "image file is truncated").
INTERRUPTED = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAABElEQVR42mNiKdrnggAAAA1jSFJNuABHkdiNZXFi2gwTfkPp5XQAAAAESURBVAAAAA"
    "YDQEIyAAAAAklEQVQAA+Xy7AAAAAABSUVORPRrynnkAAAAAElFTkSuQmCCAAAACXpUWHRRpdh8IdKY8TqmYo81")


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(body, zlib.crc32(kind)))


def png(pixels: np.ndarray, before=(), idat_parts=1, between=(), after=()) -> bytes:
    """A PNG of (H, W, C) pixels: chunks before the image data, between its IDAT parts, after it."""
    height, width, channels = pixels.shape
    rows = b"".join(b"\x00" + pixels[y].tobytes() for y in range(height))
    data = zlib.compress(rows)
    cuts = sorted({0, len(data), *random.Random(len(data)).sample(range(1, max(2, len(data))), min(idat_parts - 1, len(data) - 1))})
    parts = [data[a:b] for a, b in zip(cuts, cuts[1:])]
    idat = chunk(b"IDAT", parts[0]) + b"".join(b"".join(between) + chunk(b"IDAT", p) for p in parts[1:])
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, {1: 0, 3: 2}[channels], 0, 0, 0))
    return pngmod.SIGNATURE + header + b"".join(before) + idat + b"".join(after) + chunk(b"IEND", b"")


def pillow(data: bytes):
    """(mode, size, pixels) as Pillow reads the file, or None where it refuses it."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            return image.mode, image.size, image.tobytes()
    except Exception:  # noqa: BLE001 - any refusal (SyntaxError, ValueError, OSError, IndexError) counts
        return None


def fast(data: bytes):
    read = read_plain_png(data, LIMIT)
    return None if read is None else (read.mode, read.size, read.data)


PIXELS = np.arange(60, dtype=np.uint8).reshape(4, 5, 3)
PROFILE = zlib.compress(b"an ICC profile" * 20)


@pytest.mark.parametrize("refused, valid", [
    (png(PIXELS, before=[chunk(b"iCCP", b"sRGB\0\x01" + PROFILE)]), png(PIXELS, before=[chunk(b"iCCP", b"sRGB\0\0" + PROFILE)])),
    (png(PIXELS, before=[chunk(b"iCCP", b"")]), png(PIXELS, before=[chunk(b"iCCP", b"\0\0" + PROFILE)])),
    (png(PIXELS, before=[chunk(b"cHRM", bytes(31))]), png(PIXELS, before=[chunk(b"cHRM", bytes(32))])),
    (png(PIXELS, before=[chunk(b"gAMA", bytes(3))]), png(PIXELS, before=[chunk(b"gAMA", bytes(4))])),
    (png(PIXELS, before=[chunk(b"sRGB", b"")]), png(PIXELS, before=[chunk(b"sRGB", b"\0")])),
    (png(PIXELS, idat_parts=2, between=[chunk(b"tIME", bytes(7))]), png(PIXELS, idat_parts=2)),
    (INTERRUPTED, None),
], ids=["iCCP method 1", "iCCP empty", "short cHRM", "short gAMA", "empty sRGB", "IDAT run interrupted", "the attack's file"])
def test_each_cause_pillow_refuses_is_left_to_it(refused, valid):
    assert pillow(refused) is None and fast(refused) is None
    if valid is not None:
        assert fast(valid) is not None and fast(valid) == pillow(valid)


def _ancillary(rng: random.Random) -> bytes:
    kind = rng.choice([b"gAMA", b"cHRM", b"sRGB", b"pHYs", b"iCCP", b"tIME", b"sBIT", b"bKGD"])
    if kind == b"iCCP":
        body = rng.choice([b"", b"name", b"\0", b"name\0", b"name\0\x01" + PROFILE, b"name\0\0" + PROFILE, b"\0\0" + PROFILE,
                           b"name\0\0" + bytes(rng.randrange(256) for _ in range(8)),
                           b"big\0\0" + zlib.compress(bytes(1024 * 1024 + 1)), b"big\0\0" + zlib.compress(bytes(1024 * 1024))])
    else:
        need = pngmod.MIN_LENGTH.get(kind, 4)
        body = bytes(rng.randrange(256) for _ in range(max(0, rng.choice([0, need - 1, need, need + 3]))))
    return chunk(kind, body)


def test_differential_fuzz_of_chunk_lengths_and_order():
    """1,500 files: whenever the fast path answers, Pillow reads the same mode, size and pixels."""
    rng = random.Random(0)
    nprng = np.random.default_rng(0)
    answered = refused_by_pillow = 0
    for _ in range(1500):
        channels = rng.choice([1, 3])
        pixels = nprng.integers(0, 256, (rng.randint(1, 9), rng.randint(1, 9), channels), dtype=np.uint8)
        place = rng.random()
        extra = [_ancillary(rng) for _ in range(rng.randint(1, 3))]
        data = png(pixels, before=extra if place < 0.6 else (), idat_parts=rng.randint(1, 3),
                   between=extra if 0.6 <= place < 0.8 else (), after=extra if place >= 0.8 else ())
        ours, reference = fast(data), pillow(data)
        if ours is not None:
            assert ours == reference
            answered += 1
        refused_by_pillow += reference is None
    assert answered > 200 and refused_by_pillow > 200  # both sides of the comparison were exercised
