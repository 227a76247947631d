"""nnforge.data.png reads plain PNGs exactly as Pillow does, and hands everything else to Pillow.

The files are written here in the real format: by Pillow's own encoder (its adaptive filters),
and by a small writer below that chooses each row's filter, so all five PNG filters are read.
"""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from nnforge.data import load_dataset
from nnforge.data import png as pngmod
from nnforge.data.png import read_plain_png
from nnforge.data.preprocess import Preprocessing

pytestmark = pytest.mark.skipif(pngmod._png is None, reason="the C PNG module is not built (no C compiler at install)")
LIMIT = 10_000_000


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(body, zlib.crc32(kind)))


def filtered_rows(pixels: np.ndarray, filters: list[int]) -> bytes:
    """PNG scanlines of an (H, W, C) uint8 array, row y filtered with filters[y] (the encoder's side)."""
    height, width, channels = pixels.shape
    rows = pixels.reshape(height, width * channels).astype(np.int64)
    out = bytearray()
    for y in range(height):
        line, up = rows[y], rows[y - 1] if y else np.zeros_like(rows[0])
        left = np.concatenate([np.zeros(channels, np.int64), line[:-channels]])
        up_left = np.concatenate([np.zeros(channels, np.int64), up[:-channels]])
        kind = filters[y]
        if kind == 0:
            predicted = np.zeros_like(line)
        elif kind == 1:
            predicted = left
        elif kind == 2:
            predicted = up
        elif kind == 3:
            predicted = (left + up) // 2
        else:
            p = left + up - up_left
            pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - up_left)
            predicted = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, up_left))
        out += bytes([kind]) + ((line - predicted) % 256).astype(np.uint8).tobytes()
    return bytes(out)


def write_png(pixels: np.ndarray, filters: list[int], colour: int = None, extra: list[bytes] = (), interlace: int = 0) -> bytes:
    height, width, channels = pixels.shape
    colour = {1: 0, 3: 2}[channels] if colour is None else colour
    header = chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, interlace))
    return (pngmod.SIGNATURE + header + b"".join(extra)
            + chunk(b"IDAT", zlib.compress(filtered_rows(pixels, filters))) + chunk(b"IEND", b""))


def pillow_pixels(data: bytes) -> bytes:
    return Image.open(io.BytesIO(data)).tobytes()


def test_every_filter_is_undone_exactly_as_pillow_does():
    rng = np.random.default_rng(0)
    for channels in (1, 3):
        for trial in range(40):
            h, w = (int(v) for v in rng.integers(1, 40, 2))
            pixels = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
            if trial % 2:
                pixels = np.cumsum(pixels, axis=1, dtype=np.uint8)  # smooth rows, as in drawings
            data = write_png(pixels, [int(f) for f in rng.integers(0, 5, h)])
            read = read_plain_png(data, LIMIT)
            assert read is not None and read.size == (w, h) and read.mode == ("L" if channels == 1 else "RGB")
            assert read.data == pillow_pixels(data) == pixels.tobytes()


def test_pillows_own_pngs_of_real_digits_and_photos():
    from sklearn.datasets import load_sample_image

    digits = load_dataset({"name": "mnist-sample"}).x_test[:50, 0].numpy()
    photo = Image.fromarray(load_sample_image("flower.jpg")).resize((90, 61))
    for image in [Image.fromarray(d) for d in digits] + [photo, photo.convert("L")]:
        buf = io.BytesIO()
        image.save(buf, "PNG")
        read = read_plain_png(buf.getvalue(), LIMIT)
        assert read is not None and read.data == image.tobytes() and read.size == image.size


def test_uploads_decoded_either_way_reach_the_model_as_the_same_array():
    ds = load_dataset({"name": "mnist-sample"})
    pre = Preprocessing.fit(ds, fit_content=True)
    colour = Preprocessing(kind="image", input_shape=[3, 32, 32], mode="RGB")
    rng = np.random.default_rng(1)
    for digit in ds.x_test[:40, 0].numpy():
        for image in (Image.fromarray(digit), Image.fromarray(255 - digit).resize((int(rng.integers(20, 90)),) * 2)):
            for p, form in ((pre, image), (pre, image.convert("RGB")), (colour, image.convert("RGB")), (colour, image)):
                buf = io.BytesIO()
                form.save(buf, "PNG")
                read = read_plain_png(buf.getvalue(), LIMIT)
                assert np.array_equal(p.pixels_to_array(read), p.image_to_array(Image.open(buf)))


@pytest.mark.parametrize("case", [
    "palette", "grey+alpha", "rgba", "16-bit", "interlaced", "transparency", "text", "exif", "unknown chunk",
    "bad checksum", "truncated", "no IEND", "short data", "long data", "bad filter", "not zlib", "over the limit",
    "not a png", "IHDR not first"])
def test_anything_not_plain_goes_to_pillow(case):
    """None for each: Pillow then decodes it or names what is wrong, as for any other upload."""
    pixels = np.arange(48, dtype=np.uint8).reshape(6, 8, 1)
    rows = filtered_rows(pixels, [0] * 6)
    plain = write_png(pixels, [0] * 6)
    assert read_plain_png(plain, LIMIT) is not None
    header, iend = plain[8:33], plain.index(b"IEND") - 4

    def with_idat(body: bytes) -> bytes:
        return pngmod.SIGNATURE + header + chunk(b"IDAT", body) + chunk(b"IEND", b"")

    data = {
        "palette": write_png(pixels, [0] * 6, colour=3),
        "grey+alpha": write_png(np.dstack([pixels, pixels]), [0] * 6, colour=4),
        "rgba": write_png(np.dstack([pixels] * 4), [0] * 6, colour=6),
        "16-bit": pngmod.SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 6, 16, 0, 0, 0, 0)) + plain[33:],
        "interlaced": write_png(pixels, [0] * 6, interlace=1),
        "transparency": write_png(pixels, [0] * 6, extra=[chunk(b"tRNS", b"\x00\x00")]),
        "text": write_png(pixels, [0] * 6, extra=[chunk(b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00<x/>")]),
        "exif": write_png(pixels, [0] * 6, extra=[chunk(b"eXIf", b"MM\x00*")]),
        "unknown chunk": write_png(pixels, [0] * 6, extra=[chunk(b"zzZz", b"?")]),
        "bad checksum": plain[: iend - 1] + bytes([plain[iend - 1] ^ 1]) + plain[iend:],
        "truncated": plain[: len(plain) // 2],
        "no IEND": plain[:iend],
        "short data": with_idat(zlib.compress(rows[: 5 * 9])),
        "long data": with_idat(zlib.compress(rows + rows[:9])),
        "bad filter": with_idat(zlib.compress(b"\x07" + rows[1:])),
        "not zlib": with_idat(b"\x00" * 20),
        "over the limit": plain,
        "not a png": b"GIF89a" + plain[6:],
        "IHDR not first": pngmod.SIGNATURE + chunk(b"pHYs", bytes(9)) + plain[8:],
    }[case]
    assert read_plain_png(data, 47 if case == "over the limit" else LIMIT) is None


def test_mutated_pngs_are_read_as_pillow_reads_them_or_left_to_it():
    """Untrusted bytes reach C here: 3,000 PNGs with a header field, the inflated rows (filter
    bytes, length) or the compressed stream damaged, checksums made valid again so the damage gets
    through. Each is either refused (None) or read exactly as Pillow reads it; nothing crashes."""
    rng = np.random.default_rng(0)
    seeds = []
    for channels in (1, 3):
        for _ in range(10):
            h, w = (int(v) for v in rng.integers(1, 40, 2))
            seeds.append((write_png(rng.integers(0, 256, (h, w, channels), dtype=np.uint8), [int(f) for f in rng.integers(0, 5, h)])))
    read_count = 0
    for trial in range(3000):
        data = seeds[trial % len(seeds)]
        header, compressed = data[16:29], data[41 : data.index(b"IEND") - 8]
        kind = trial % 3
        if kind == 0:
            header = bytearray(header)
            header[int(rng.integers(0, 13))] = int(rng.integers(0, 256))
        elif kind == 1:
            raw = bytearray(zlib.decompress(compressed))
            for _ in range(int(rng.integers(1, 5))):
                raw[int(rng.integers(0, len(raw)))] = int(rng.integers(0, 256))
            if rng.random() < 0.3:
                raw = raw[: int(rng.integers(0, len(raw) + 1))]
            compressed = zlib.compress(bytes(raw))
        else:
            compressed = bytearray(compressed)
            compressed[int(rng.integers(0, len(compressed)))] ^= 1 << int(rng.integers(0, 8))
        damaged = pngmod.SIGNATURE + chunk(b"IHDR", bytes(header)) + chunk(b"IDAT", bytes(compressed)) + chunk(b"IEND", b"")
        read = read_plain_png(damaged, LIMIT)
        if read is not None:
            read_count += 1
            image = Image.open(io.BytesIO(damaged))
            assert read.data == image.tobytes() and read.size == image.size and read.mode == image.mode
    assert 100 < read_count < 3000  # both outcomes were exercised
