"""HTTP/1.0 keep-alive (what ab speaks): the connection stays open when the client asks for it."""

import socket

from tests.serve.conftest import multipart, read_response


def test_http10_keep_alive_serves_many_requests_on_one_connection(server, digit_png):
    body, content_type = multipart({"file": ("digit.png", digit_png)})
    request = (f"POST /v1/predict HTTP/1.0\r\nHost: x\r\nConnection: Keep-Alive\r\nContent-Type: {content_type}\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        buf = b""
        for _ in range(5):
            sock.sendall(request)
            head, answer, buf = read_response(sock, buf)
            head = head.lower()
            assert head.startswith(b"http/1.1 200")
            assert b"connection: keep-alive" in head
            assert b'"top"' in answer
        # Without the keep-alive header an HTTP/1.0 connection is closed after the answer, as before.
        sock.sendall(request.replace(b"Connection: Keep-Alive\r\n", b""))
        head, _, buf = read_response(sock, buf)
        assert b"connection: close" in head.lower()
        assert sock.recv(1) == b""
