"""Images whose cost is in their shape, not their pixel count: refused from the header, fast, with
the server's memory bounded; large legitimate images reduced before the Lanczos pass; decoding
that stops when its request is abandoned."""

from __future__ import annotations

import io
import struct
import threading
import zlib
from pathlib import Path

import numpy as np
import pytest

from tests.serve.conftest import Server


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def tall_png() -> bytes:
    """1 x 16,000,000 grey pixels (within the 16e6 pixel budget): 31 KB, written by Pillow."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (1, 16_000_000)).save(buf, format="PNG")
    return buf.getvalue()


def tiny_wide_png(size: int = 111) -> bytes:
    """The 111-byte variant: a 16,000,000 x 1 one-bit PNG header with a short compressed stream."""
    head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16_000_000, 1, 1, 0, 0, 0, 0))
    idat = chunk(b"IDAT", zlib.compress(b"\x00" * 4000, 9))
    end = chunk(b"IEND", b"")
    pad = size - len(head) - len(idat) - len(end) - 12
    return head + chunk(b"tEXt", b"c\x00" + b"x" * (pad - 2)) + idat + end


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read the server's RSS")
def test_extreme_aspect_ratio_pngs_are_refused_fast_and_memory_stays_bounded(run_dir, digit_png):
    tall, tiny = tall_png(), tiny_wide_png()
    assert 30_000 < len(tall) < 32_000 and len(tiny) == 111
    srv = Server(run_dir)
    try:
        assert srv.upload("/v1/predict", digit_png)[0] == 200
        before = rss_kib(srv.proc.pid)
        for data in (tall, tiny) * 10:
            status, answer = srv.upload("/v1/predict", data)
            assert status in (413, 422), answer
            assert "16000000" in answer["detail"]
        after = rss_kib(srv.proc.pid)
        assert srv.upload("/v1/predict", digit_png)[0] == 200
        assert after - before < 50 * 1024, f"RSS grew from {before} KiB to {after} KiB"
    finally:
        srv.close()


def test_large_images_are_reduced_before_lanczos_and_read_as_before(run_dir, digits):
    """A real digit blown up to 2,240 x 2,240 goes through reduce(); the 28 x 28 result is close to
    the unreduced pipeline's, and the model reads the same digit."""
    from PIL import Image

    import nnforge
    from nnforge.serve.inputs import decode_image, reduced

    predictor = nnforge.load(run_dir)
    big = Image.fromarray(digits[0][0]).resize((2240, 2240), Image.Resampling.LANCZOS)
    assert reduced(big, 28, 28).size == (224, 224)
    buf = io.BytesIO()
    big.save(buf, format="PNG")
    fast = decode_image(Image.open(io.BytesIO(buf.getvalue())), predictor.preprocessing)
    reference = predictor.preprocessing.image_to_array(Image.open(io.BytesIO(buf.getvalue())))
    assert fast.shape == reference.shape == (1, 28, 28)
    assert np.abs(fast.astype(int) - reference.astype(int)).mean() < 4
    probs = predictor.predict_stored(__import__("torch").from_numpy(np.stack([fast, reference])))
    assert probs[0].argmax() == probs[1].argmax()


def test_decoding_stops_when_the_request_is_abandoned(run_dir):
    """With the request's abandoned flag set, a 3,000 x 3,000 noise PNG stops decoding at the next block."""
    from PIL import Image

    import nnforge
    from nnforge.serve.inputs import RequestAbandoned, decode_image

    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (3000, 3000), dtype=np.uint8)).save(buf, format="PNG")
    preprocessing = nnforge.load(run_dir).preprocessing
    abandoned = threading.Event()
    abandoned.set()
    with pytest.raises(RequestAbandoned):
        decode_image(Image.open(io.BytesIO(buf.getvalue())), preprocessing, abandoned)
    assert decode_image(Image.open(io.BytesIO(buf.getvalue())), preprocessing, threading.Event()).shape == (1, 28, 28)


def _jpeg(**options) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    pixels = np.random.default_rng(0).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    Image.fromarray(pixels).convert(options.pop("mode", "RGB")).save(buf, format="JPEG", **options)
    return buf.getvalue()


def _png_with(middle: bytes = b"", tail: bytes = b"") -> bytes:
    head = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0))
    return head + middle + chunk(b"IDAT", zlib.compress(b"\x00" * 72)) + tail + chunk(b"IEND", b"")


def costly_structures():
    """Files Pillow walks chunk by chunk or byte by byte in Python before any pixel limit applies:
    at 5-6 MB each of these held the worker's event loop for 1-6 s. Small versions here, each
    just over its cap."""
    jpeg = _jpeg()
    yield "PNG text chunks", _png_with(chunk(b"tEXt", b"a\x00b") * 1100), "more than 1024 chunks"
    yield "PNG chunks after the image data", _png_with(tail=chunk(b"zzZz", b"") * 1100), "more than 1024 chunks"
    yield "PNG empty IDAT chunks", _png_with(chunk(b"IDAT", b"") * 16400), "more than 16384 IDAT chunks"
    yield "JPEG comment segments", jpeg[:2] + b"\xff\xfe\x00\x02" * 1100 + jpeg[2:], "more than 1024 marker segments"
    yield "JPEG fill bytes", jpeg[:2] + b"\xff" * 70_000 + jpeg[2:], "bytes of padding"
    yield "JPEG junk between segments", jpeg[:2] + b"\xff\xfe\x00\x02" + b"\x00" * 70_000 + jpeg[2:], "bytes of padding"


@pytest.mark.parametrize("name", [c[0] for c in costly_structures()])
def test_images_costly_to_walk_are_refused_before_pillow_walks_them(server, digit_png, name):
    data, words = next((d, w) for n, d, w in costly_structures() if n == name)
    status, answer = server.upload("/v1/predict", data)
    assert status == 400 and answer["error"] == "unreadable image" and words in answer["detail"], answer
    assert server.upload("/v1/predict", digit_png)[0] == 200


def test_real_images_pass_the_structure_check():
    """Encoders' own output, with metadata: EXIF, ICC profile, comments, progressive scans,
    restart markers, CMYK, animation frames, interlacing, text chunks."""
    from PIL import Image, PngImagePlugin

    from nnforge.serve.inputs import check_structure

    exif = Image.Exif()
    exif[0x0112] = 6
    icc = bytes(200_000)  # a large profile: spread over several APP2 segments
    files = [_jpeg(), _jpeg(progressive=True, optimize=True), _jpeg(exif=exif.tobytes(), icc_profile=icc, comment=b"hi"),
             _jpeg(mode="CMYK"), _jpeg(mode="L", restart_marker_blocks=1), _jpeg(quality=100, subsampling=0)]
    info = PngImagePlugin.PngInfo()
    info.add_text("Description", "x" * 1000, zip=True)
    frames = [Image.new("L", (20, 20), v) for v in (0, 128, 255)]
    for image, options in [(frames[0], {"pnginfo": info}), (Image.new("RGBA", (300, 300)), {"optimize": True}),
                           (frames[0], {"save_all": True, "append_images": frames[1:]}),
                           (Image.new("P", (20, 20)), {"transparency": 0}), (Image.new("RGB", (64, 64)), {"interlace": 1})]:
        buf = io.BytesIO()
        image.save(buf, format="PNG", **options)
        files.append(buf.getvalue())
    for data in files:
        check_structure(data)
        Image.open(io.BytesIO(data)).load()  # and Pillow reads each
