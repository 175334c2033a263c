"""Every bad input gets a 4xx OpenAI-style JSON error and the server keeps serving."""
from __future__ import annotations

import httpx
import pytest

CASES = [
    # (path, raw body, content type, status, param, message fragment)
    ("/v1/embeddings", b'{"input": ', "application/json", 400, None, "not valid JSON"),
    ("/v1/embeddings", b'{"input": "x"}', "application/x-www-form-urlencoded", 415, None, "Content-Type"),
    ("/v1/embeddings", b'{"input": []}', "application/json", 422, "input", "must not be an empty list"),
    ("/v1/embeddings", b'{"input": ""}', "application/json", 422, "input", "must not be an empty string"),
    ("/v1/embeddings", b'{"input": ["a", ""]}', "application/json", 422, "input", "`input[1]` must not be an empty"),
    ("/v1/embeddings", b'{"input": [1, 2]}', "application/json", 422, "input", "token arrays are not supported"),
    ("/v1/embeddings", b'{"input": 3}', "application/json", 422, "input", "must be a string or a list of strings"),
    ("/v1/embeddings", b'{}', "application/json", 422, "input", "Field required"),
    ("/v1/embeddings", b'[1]', "application/json", 422, None, "valid dictionary"),
    ("/v1/embeddings", b'{"input": "x", "dimensions": 0}', "application/json", 422, "dimensions", "greater than 0"),
    ("/v1/embeddings", b'{"input": "x", "dimensions": 33}', "application/json", 422, "dimensions", "exceeds"),
    ("/v1/embeddings", b'{"input": "x", "encoding_format": "int8"}', "application/json", 422, "encoding_format", "float"),
    ("/v1/embeddings", b'{"input": "x", "input_type": "doc"}', "application/json", 422, "input_type", "query"),
    ("/v1/embeddings", b'{"input": "x", "return_sparse": true}', "application/json", 422, "return_sparse", "BGE-M3"),
    ("/v1/embeddings", b'{"input": "x", "colour": 1}', "application/json", 422, "colour", "Extra inputs"),
    ("/v1/embeddings", b'{"input": "x", "model": "gpt-4"}', "application/json", 404, "model", "'gpt-4' is not served"),
    ("/v1/embeddings", b'{"input": "x", "model": 5}', "application/json", 422, "model", "valid string"),
    ("/v1/rerank", b'{"query": "q", "documents": []}', "application/json", 422, "documents", "empty list"),
    ("/v1/rerank", b'{"query": "", "documents": ["d"]}', "application/json", 422, "query", "at least 1 character"),
    ("/v1/rerank", b'{"query": "q", "documents": [{"id": 1}]}', "application/json", 422, "documents",
     "`documents[0]` must be a string or an object with a `text` string"),
    ("/v1/rerank", b'{"query": "q", "documents": ["d"], "top_n": -1}', "application/json", 422, "top_n", "greater"),
    ("/v1/rerank", b'{"query": "q", "documents": ["d"], "model": "nope"}', "application/json", 404, "model", "nope"),
]


@pytest.mark.parametrize("path, body, content_type, status, param, fragment", CASES)
def test_bad_input(dense_server, path, body, content_type, status, param, fragment):
    response = httpx.post(f"{dense_server.url}{path}", content=body, headers={"content-type": content_type})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert fragment in error["message"]
    assert error["param"] == param
    assert error["type"] and set(error) == {"message", "type", "param", "code"}


def test_limits_give_413(dense_server):
    url = f"{dense_server.url}/v1/embeddings"
    too_many = httpx.post(url, json={"input": ["a"] * 65})  # --max_inputs_per_request 64
    assert too_many.status_code == 413
    assert too_many.json()["error"] == {"message": "input has 65 items; at most 64 are allowed per request.",
                                        "type": "request_too_large", "param": "input", "code": "too_many_inputs"}
    too_long = httpx.post(url, json={"input": ["ok", "x" * 2001]})  # --max_chars_per_input 2000
    assert too_long.status_code == 413 and too_long.json()["error"]["param"] == "input[1]"
    too_big = httpx.post(url, content=b'{"input": "' + b"y" * 200_001 + b'"}',  # --max_request_bytes 200000
                         headers={"content-type": "application/json"})
    assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "request_too_large"
    rerank = httpx.post(f"{dense_server.url}/v1/rerank", json={"query": "q" * 2001, "documents": ["d"]})
    assert rerank.status_code == 413 and rerank.json()["error"]["param"] == "query"


def test_unknown_route_and_method(dense_server):
    assert httpx.get(f"{dense_server.url}/v2/nothing").json()["error"]["type"] == "not_found_error"
    assert httpx.get(f"{dense_server.url}/v1/embeddings").status_code == 405


def test_server_keeps_serving_after_errors(dense_server):
    for path, body, content_type, *_ in CASES:
        httpx.post(f"{dense_server.url}{path}", content=body, headers={"content-type": content_type})
    ok = httpx.post(f"{dense_server.url}/v1/embeddings", json={"input": ["still here"]})
    assert ok.status_code == 200 and len(ok.json()["data"]) == 1
    metrics = httpx.get(f"{dense_server.url}/metrics").text
    assert 'flagembedding_http_errors_total{path="/v1/embeddings",status="422"}' in metrics
