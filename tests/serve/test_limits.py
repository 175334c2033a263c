"""Request bodies are bounded in size however they are framed and in time; SIGTERM drains with a deadline.

Raw sockets on 127.0.0.1 send what well-behaved clients never do (an endless chunked body, a body that trickles
in, a body that never ends); every loop is bounded in count and time.
"""
from __future__ import annotations

import contextlib
import select
import socket
import time

import httpx

from tests.helpers.server import ServerProcess, read_response, send_request_head
from tests.serve.conftest import MAX_LENGTH

MIB = 1024 * 1024
JSON_CHUNKED = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}


def test_chunked_body_over_the_limit_is_refused_while_it_streams(dense_server):
    # dense_server: --max_request_bytes 200000; the client offers 64 MiB in 64 KiB chunks, with no Content-Length
    sock = send_request_head(dense_server, "/v1/embeddings", JSON_CHUNKED)
    chunk = b'{"input": "' + b"x" * (64 * 1024 - 11)
    frame = b"%x\r\n%s\r\n" % (len(chunk), chunk)
    sent, deadline = 0, time.monotonic() + 20
    with contextlib.suppress(OSError):  # the server answers, closes the connection, and further sends fail
        while sent < 64 * MIB and time.monotonic() < deadline:
            sock.sendall(frame)
            sent += len(chunk)
    assert sent < 16 * MIB  # it stopped reading: the rest never left this process
    status, headers, body = read_response(sock)
    assert status == 413 and headers["connection"] == "close"
    assert body["error"] == {"message": "The request body has more than 200000 bytes; at most 200000 are allowed.",
                             "type": "request_too_large", "param": None, "code": "request_too_large"}
    sock.close()
    assert httpx.get(f"{dense_server.url}/health", timeout=10).status_code == 200


def test_chunked_body_within_the_limit_is_served(dense_server):
    parts = [b'{"input": ', b'["chunked ', b'body"]}']
    response = httpx.post(f"{dense_server.url}/v1/embeddings", content=iter(parts),
                          headers={"Content-Type": "application/json"}, timeout=60)
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 200 and len(response.json()["data"]) == 1


def test_declared_length_over_the_limit_is_refused_before_the_body(dense_server):
    sock = send_request_head(dense_server, "/v1/embeddings",
                             {"Content-Type": "application/json", "Content-Length": str(64 * MIB)})
    status, headers, body = read_response(sock)  # answered without a byte of the body
    sock.close()
    assert status == 413 and headers["connection"] == "close"
    assert body["error"]["message"] == f"The request body has {64 * MIB} bytes; at most 200000 are allowed."


@contextlib.contextmanager
def serving(tiny_bert, *flags: str):
    server = ServerProcess(["--embedder", tiny_bert, "--devices", "cpu", "--passage_max_length", str(MAX_LENGTH),
                            *flags]).start()
    try:
        yield server
    finally:
        server.stop()


def test_a_slow_body_gets_408_after_request_timeout_and_does_not_hold_up_sigterm(tiny_bert):
    with serving(tiny_bert, "--request_timeout", "2", "--graceful_timeout", "60") as server:
        sock = send_request_head(server, "/v1/embeddings", {"Content-Type": "application/json",
                                                            "Content-Length": "1000"}, b'{"input": "')
        started = time.monotonic()
        for _ in range(40):  # one byte every 0.25 s: never idle, never done
            if select.select([sock], [], [], 0.25)[0]:
                break
            sock.sendall(b"x")
        status, headers, body = read_response(sock)
        elapsed = time.monotonic() - started
        assert status == 408 and headers["connection"] == "close"
        assert body["error"] == {"message": "The request body did not arrive within 2 s (--request_timeout).",
                                 "type": "request_timeout", "param": None, "code": "request_timeout"}
        assert 1.5 < elapsed < 8, elapsed
        assert sock.recv(1) == b""  # closed by the server
        sock.close()
        assert server.post("/v1/embeddings", {"input": ["prompt client"]}).status_code == 200
        # --request_timeout shorter than --graceful_timeout: a slow client gets its 408, then the drain completes
        sock = send_request_head(server, "/v1/embeddings", {"Content-Type": "application/json",
                                                            "Content-Length": "1000"}, b'{"input": ["half')
        time.sleep(0.5)
        started = time.monotonic()
        server.terminate()
        assert server.wait(timeout=30) == 0
        assert time.monotonic() - started < 10
        assert read_response(sock)[0] == 408
        sock.close()


def test_sigterm_with_a_half_sent_request_exits_zero_after_graceful_timeout(tiny_bert):
    with serving(tiny_bert, "--graceful_timeout", "2", "--request_timeout", "120") as server:
        idle = socket.create_connection(("127.0.0.1", server.port), timeout=15)  # connected, sent nothing
        sock = send_request_head(server, "/v1/embeddings", {"Content-Type": "application/json",
                                                            "Content-Length": "1000"}, b'{"input": ["half')
        time.sleep(0.5)  # the server has the head and is waiting for the rest of the body
        started = time.monotonic()
        server.terminate()
        assert server.wait(timeout=2 + 15) == 0
        assert time.monotonic() - started < 2 + 10
        status, headers, body = read_response(sock)  # answered, not dropped
        assert status == 503 and headers["retry-after"] == "1" and headers["connection"] == "close"
        assert body["error"]["code"] == "shutting_down"
        assert idle.recv(1) == b""
        sock.close()
        idle.close()
        output = server.output()
        assert "Traceback" not in output
        assert "POST /v1/embeddings was cancelled (--graceful_timeout passed); answered 503." in output


def test_a_slow_or_missing_request_head_is_closed_after_request_timeout(tiny_bert):
    with serving(tiny_bert, "--request_timeout", "2") as server:
        silent = socket.create_connection(("127.0.0.1", server.port), timeout=15)  # connects, sends nothing
        trickle = socket.create_connection(("127.0.0.1", server.port), timeout=15)
        trickle.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()
        closed_after = None
        with contextlib.suppress(OSError):  # a header line every 0.25 s, never the blank line that ends the head
            for number in range(40):
                if select.select([trickle], [], [], 0.25)[0]:
                    break
                trickle.sendall(b"X-Slow-%d: x\r\n" % number)
        assert trickle.recv(1) == b""  # closed by the server, no response to a request it never got
        closed_after = time.monotonic() - started
        assert 1.5 < closed_after < 15, closed_after
        assert silent.recv(1) == b""
        assert time.monotonic() - started < 15
        trickle.close()
        silent.close()
        # a prompt client on a kept-alive connection is not affected, even across several requests
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for _ in range(3):
                assert client.post("/v1/embeddings", json={"input": ["prompt"]}).status_code == 200
                time.sleep(1)
        assert "no complete request head within 2 s (--request_timeout)" in server.output()
