"""Bad requests against a real server: each gets the right 4xx and a JSON error, and the server
keeps answering /health and normal predictions afterwards."""

from __future__ import annotations

import io
import json
import socket
import struct
import time
import zlib

import numpy as np
import pytest

from tests.serve.conftest import multipart, read_response

BOUNDARY = "testBoundary1234"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def huge_png(width=30000, height=30000) -> bytes:
    """A valid PNG header claiming width x height pixels, with (almost) no pixel data."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + _chunk(b"IEND", b"")


def fits_file() -> bytes:
    cards = ["SIMPLE  =                    T", "BITPIX  =                    8", "NAXIS   =                    2",
             "NAXIS1  =                   28", "NAXIS2  =                   28", "END"]
    header = "".join(c.ljust(80) for c in cards).ljust(2880).encode()
    return header + bytes(2880)


def pil_bytes(fmt: str) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((28, 28), 128, np.uint8)).save(buf, format=fmt)
    return buf.getvalue()


def upload(data: bytes) -> tuple[bytes, dict]:
    body, content_type = multipart({"file": ("x.png", data)}, BOUNDARY)
    return body, {"Content-Type": content_type}


def as_json(obj) -> tuple[bytes, dict]:
    return json.dumps(obj).encode() if not isinstance(obj, (bytes, str)) else (obj.encode() if isinstance(obj, str) else obj), \
        {"Content-Type": "application/json"}


def cases(digit_png: bytes):
    blank = [[0] * 28] * 28
    yield "truncated png", "/v1/predict", *upload(digit_png[: len(digit_png) // 2]), 400
    yield "png claiming 30000x30000", "/v1/predict", *upload(huge_png()), 413
    yield "gif", "/v1/predict", *upload(pil_bytes("GIF")), 415
    yield "tiff", "/v1/predict", *upload(pil_bytes("TIFF")), 415
    yield "fits", "/v1/predict", *upload(fits_file()), 415
    yield "bmp declared as png", "/v1/predict", pil_bytes("BMP"), {"Content-Type": "image/png"}, 415
    yield "random bytes as image", "/v1/predict", *upload(bytes(range(256)) * 4), 415
    yield "empty file", "/v1/predict", *upload(b""), 400
    yield "empty body", "/v1/predict", b"", {"Content-Type": MULTIPART}, 400
    yield "empty json body", "/v1/predict", b"", {"Content-Type": "application/json"}, 400
    yield "wrong content type", "/v1/predict", b"hello", {"Content-Type": "text/plain"}, 415
    yield "no content type", "/v1/predict", digit_png, {}, 415
    yield "multipart without boundary", "/v1/predict", b"--x\r\n", {"Content-Type": "multipart/form-data"}, 400
    yield "multipart truncated", "/v1/predict", upload(digit_png)[0][:200], {"Content-Type": MULTIPART}, 400
    yield "multipart without a file", "/v1/predict", *(lambda b: (b[0], {"Content-Type": b[1]}))(
        (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--{BOUNDARY}--\r\n'.encode(), MULTIPART)), 422
    yield "invalid json", "/v1/predict", *as_json('{"inputs": [1, 2'), 400
    yield "json NaN", "/v1/predict", *as_json('{"inputs": [NaN]}'), 400
    yield "json infinity by overflow", "/v1/predict", *as_json('{"inputs": [' + ",".join(["1e999"] * 784) + "]}"), 422
    yield "json strings", "/v1/predict", *as_json({"inputs": [["a"] * 28] * 28}), 422
    yield "json nulls", "/v1/predict", *as_json({"inputs": [None] * 784}), 422
    yield "json ragged", "/v1/predict", *as_json({"inputs": [[0] * 28, [0] * 27]}), 422
    yield "json wrong shape", "/v1/predict", *as_json({"inputs": [[0] * 10] * 10}), 422
    yield "json pixels out of range", "/v1/predict", *as_json({"inputs": [[300] * 28] * 28}), 422
    yield "json missing field", "/v1/predict", *as_json({"input": blank}), 422
    yield "json not an object", "/v1/predict", *as_json([1, 2, 3]), 422
    yield "json deeply nested", "/v1/predict", *as_json("[" * 100000 + "]" * 100000), 400
    yield "json 10^6 rows", "/v1/predict/batch", *as_json("{\"inputs\": [" + ",".join(["[0]"] * 1_000_000) + "]}"), 413
    yield "json two inputs to /v1/predict", "/v1/predict", *as_json({"inputs": [blank, blank]}), 422
    yield "json two inputs to /v1/explain", "/v1/explain", *as_json({"inputs": [blank, blank]}), 422  # was 413
    yield "json unknown field", "/v1/predict", *as_json({"inputs": blank, "k": 1}), 422  # the schema forbids other keys; was 200
    yield "batch over max inputs", "/v1/predict/batch", *as_json({"inputs": [[0] * 784] * 300}), 413
    yield "bad k", "/v1/predict?k=abc", *upload(digit_png), 422
    yield "k too large", "/v1/predict?k=11", *upload(digit_png), 422
    yield "explain truncated png", "/v1/explain", *upload(digit_png[: len(digit_png) // 2]), 400
    many_big = multipart({f"f{i}": ("x.png", huge_png(3000, 3000)) for i in range(3)}, BOUNDARY)[0]
    yield "batch over the pixel budget", "/v1/predict/batch", many_big, {"Content-Type": MULTIPART}, 413
    yield "50 MB of noise", "/v1/predict", *upload(np.random.default_rng(0).bytes(50 * 1024 * 1024)), 413


@pytest.fixture(scope="module")
def all_cases(digit_png):
    return {c[0]: c[1:] for c in cases(digit_png)}


CASE_NAMES = [c[0] for c in cases(b"\x89PNG\r\n\x1a\n" + b"0" * 64)]


def check_still_serving(server, digit_png):
    status, body = server.request("GET", "/health")
    assert status == 200 and body["status"] == "ok"
    status, body = server.upload("/v1/predict", digit_png)
    assert status == 200 and len(body["top"]) == 3


def assert_json_error(status, body, expected):
    assert status == expected, body
    assert isinstance(body, dict) and isinstance(body["error"], str) and "detail" in body, body
    assert "Traceback" not in json.dumps(body)


@pytest.mark.parametrize("name", CASE_NAMES)
def test_bad_request(server, all_cases, digit_png, name):
    path, body, headers, expected = all_cases[name]
    status, answer = server.request("POST", path, body, headers)
    assert_json_error(status, answer, expected)
    check_still_serving(server, digit_png)


def test_chunked_body_over_limit(server, digit_png):
    """No Content-Length: the limit is enforced while reading (the server's limit is 8 MB)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"x" * (1 << 20)
        for _ in range(9):
            sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        sock.sendall(b"0\r\n\r\n")
        head, body, _ = read_response(sock)
    assert head.startswith(b"HTTP/1.1 413"), head
    assert_json_error(413, json.loads(body), 413)
    check_still_serving(server, digit_png)


def test_huge_header(server, digit_png):
    status, answer = server.request("POST", "/v1/predict", b"{}", {"Content-Type": "application/json", "X-Padding": "a" * 64_000})
    assert_json_error(status, answer, 431)
    check_still_serving(server, digit_png)


@pytest.mark.parametrize("method,path,expected", [("GET", "/v1/predict", 405), ("GET", "/nowhere", 404), ("DELETE", "/metadata", 405)])
def test_wrong_route(server, digit_png, method, path, expected):
    status, answer = server.request(method, path)
    assert_json_error(status, answer, expected)
    check_still_serving(server, digit_png)


@pytest.mark.parametrize("path, kind", [("/health", "application/json"), ("/ready", "application/json"),
                                         ("/metadata", "application/json"), ("/", "text/html"), ("/static/app.js", "javascript")])
def test_head_answers_like_get_without_a_body(server, digit_png, path, kind):
    """HEAD (uptime monitors, curl -I) was 405 on every GET endpoint but the static files."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("HEAD", path)
        response = conn.getresponse()
        assert response.status == 200 and kind in response.getheader("content-type") and response.read() == b""
        conn.request("HEAD", "/v1/predict")  # a POST endpoint: still 405, naming POST
        response = conn.getresponse()
        assert response.status == 405 and response.getheader("allow") == "POST" and response.read() == b""
    finally:
        conn.close()
    check_still_serving(server, digit_png)


def test_slow_client(server, digit_png):
    """A client that stops sending its body is answered 408 after --body-timeout (1 s here)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: image/png\r\nContent-Length: 1000\r\n\r\n" + digit_png[:20])
        started = time.time()
        head, body, _ = read_response(sock)
    assert head.startswith(b"HTTP/1.1 408"), head
    assert json.loads(body)["error"]
    assert time.time() - started < 8
    check_still_serving(server, digit_png)


def test_bad_request_does_not_disturb_concurrent_good_ones(server, digit_png):
    """Good predictions running while bad requests arrive all succeed."""
    import concurrent.futures as cf
    import http.client

    def good(_):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        body, headers = upload(digit_png)
        conn.request("POST", "/v1/predict", body, headers)
        return conn.getresponse().status

    def bad(_):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        body, headers = upload(huge_png())
        conn.request("POST", "/v1/predict", body, headers)
        return conn.getresponse().status

    with cf.ThreadPoolExecutor(8) as pool:
        goods = pool.map(good, range(40))
        bads = pool.map(bad, range(40))
        assert set(goods) == {200}
        assert set(bads) == {413}


def test_a_number_of_thousands_of_digits_is_named_as_such(server, digit_png):
    """Before: the detail was Python's advice to call sys.set_int_max_str_digits(), which a client cannot."""
    status, answer = server.request("POST", "/v1/predict", *as_json('{"inputs": [' + "9" * 5000 + "]}"))
    assert_json_error(status, answer, 400)
    assert answer["detail"] == "a whole number of 5000 digits; inputs are numbers of at most 100 digits"
    status, answer = server.request("POST", "/v1/predict", *as_json('{"inputs": [-' + "9" * 101 + "]}"))
    assert_json_error(status, answer, 400)
    assert answer["detail"] == "a whole number of 101 digits; inputs are numbers of at most 100 digits"  # the sign is no digit
    check_still_serving(server, digit_png)


def test_integer_limits_count_digits_not_the_sign_and_long_digit_text_is_no_number():
    """Before: -(a 100-digit number) was refused as 'a whole number of 100 digits' (the sign was counted
    against the limit of 100). Digits inside a string are text, whatever their length."""
    from nnforge.serve.inputs import parse_json
    from nnforge.serve.limits import ApiError

    assert parse_json(b'{"inputs": [-' + b"9" * 100 + b"]}")["inputs"] == [-int("9" * 100)]
    assert parse_json(b'{"inputs": ["' + b"7" * 300 + b'", 12]}')["inputs"] == ["7" * 300, 12]
    with pytest.raises(ApiError) as refused:
        parse_json(b'{"inputs": [1, "' + b"7" * 300 + b'", -' + b"9" * 101 + b"]}")
    assert (refused.value.status, refused.value.detail) == (400, "a whole number of 101 digits; inputs are numbers of at most 100 digits")
