"""Every bad input gets a 4xx OpenAI-style JSON error and the server keeps serving."""
from __future__ import annotations

import http.client
import json
from typing import Dict, Optional

import httpx
import pytest

from FlagEmbedding.serve.schemas import MAX_DOCUMENT_DEPTH, MAX_DOCUMENT_FIELDS_CHARS, EmbeddingRequest, RerankRequest

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
    ("/v1/rerank", b'{"query": "", "documents": ["d"]}', "application/json", 422, "query",
     "`query` must not be an empty string"),
    ("/v1/rerank", b'{"query": "q", "documents": [{"id": 1}]}', "application/json", 422, "documents",
     "`documents[0]` must be a string or an object with a `text` string"),
    ("/v1/rerank", b'{"query": "q", "documents": ["d"], "top_n": -1}', "application/json", 422, "top_n", "greater"),
    ("/v1/rerank", b'{"query": "q", "documents": ["d"], "model": "nope"}', "application/json", 404, "model", "nope"),
    # one text rule for every text field (FlagEmbedding.utils.validation.check_text): no lone surrogate ...
    ("/v1/embeddings", b'{"input": "\\udfff"}', "application/json", 422, "input",
     "`input` holds a lone surrogate ('\\udfff') at character 0, which is not a character"),
    ("/v1/embeddings", b'{"input": ["ok", "a\\ud83d"]}', "application/json", 422, "input",
     "`input[1]` holds a lone surrogate ('\\ud83d') at character 1"),
    ("/v1/embeddings", b'{"input": "x", "model": "\\udfff"}', "application/json", 422, "model", "`model` holds a lone"),
    ("/v1/embeddings", b'{"input": "x", "user": "\\udfff"}', "application/json", 422, "user", "`user` holds a lone"),
    ("/v1/rerank", b'{"query": "\\udfff", "documents": ["d"]}', "application/json", 422, "query", "`query` holds a lone"),
    ("/v1/rerank", b'{"query": "q", "documents": ["d", "\\udfff"]}', "application/json", 422, "documents",
     "`documents[1]` holds a lone surrogate"),
    ("/v1/rerank", b'{"query": "q", "documents": ["d", {"text": "\\udfff"}]}', "application/json", 422, "documents",
     "`documents[1].text` holds a lone surrogate"),
    ("/v1/rerank", b'{"query": "q", "documents": [{"text": "d", "id": "\\udfff"}]}', "application/json", 422,
     "documents", "`documents[0]` holds a lone surrogate"),
    ("/v1/rerank", b'{"query": "q", "documents": "d"}', "application/json", 422, "documents",
     "`documents` must be a list of strings or of objects with `text`, got str"),
    # ... and no empty text
    ("/v1/rerank", b'{"query": "q", "documents": ["d", ""]}', "application/json", 422, "documents",
     "`documents[1]` must not be an empty string"),
    ("/v1/rerank", b'{"query": "q", "documents": [{"text": ""}]}', "application/json", 422, "documents",
     "`documents[0].text` must not be an empty string"),
    # strict types: nothing is coerced
    ("/v1/embeddings", b'{"input": "x", "dimensions": true}', "application/json", 422, "dimensions", "valid integer"),
    ("/v1/embeddings", b'{"input": "x", "dimensions": "8"}', "application/json", 422, "dimensions", "valid integer"),
    ("/v1/embeddings", b'{"input": "x", "dimensions": 8.0}', "application/json", 422, "dimensions", "valid integer"),
    ("/v1/embeddings", b'{"input": "x", "return_sparse": "false"}', "application/json", 422, "return_sparse",
     "valid boolean"),
    ("/v1/embeddings", b'{"input": "x", "return_colbert": 0}', "application/json", 422, "return_colbert",
     "valid boolean"),
    ("/v1/rerank", b'{"query": "q", "documents": ["d"], "top_n": true}', "application/json", 422, "top_n",
     "valid integer"),
    ("/v1/rerank", b'{"query": "q", "documents": ["d"], "top_n": "1"}', "application/json", 422, "top_n",
     "valid integer"),
    ("/v1/rerank", b'{"query": "q", "documents": ["d"], "return_documents": 1}', "application/json", 422,
     "return_documents", "valid boolean"),
    # a body not sent as JSON: 415, also without any Content-Type
    ("/v1/embeddings", b'{"input": "x"}', None, 415, None, "Content-Type: application/json"),
    ("/v1/rerank", b'{"query": "q", "documents": ["d"]}', None, 415, None, "Content-Type: application/json"),
    ("/v1/embeddings", b'{"input": "x"}', "text/plain", 415, None, "Content-Type: application/json"),
    # echoed document fields are bounded (and JSON-safe) before the model runs
    ("/v1/rerank", b'{"query": "q", "documents": [{"text": "d", "score": NaN}]}', "application/json", 422,
     "documents", "`documents[0]` holds nan, which JSON cannot carry"),
]


def content_type_header(content_type: Optional[str]) -> Dict[str, str]:
    return {} if content_type is None else {"content-type": content_type}


@pytest.mark.parametrize("path, body, content_type, status, param, fragment", CASES)
def test_bad_input(dense_server, path, body, content_type, status, param, fragment):
    response = httpx.post(f"{dense_server.url}{path}", content=body, headers=content_type_header(content_type))
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
        httpx.post(f"{dense_server.url}{path}", content=body, headers=content_type_header(content_type))
    ok = httpx.post(f"{dense_server.url}/v1/embeddings", json={"input": ["still here"]})
    assert ok.status_code == 200 and len(ok.json()["data"]) == 1
    metrics = httpx.get(f"{dense_server.url}/metrics").text
    assert 'flagembedding_http_errors_total{path="/v1/embeddings",status="422"}' in metrics


def test_a_bad_text_keeps_the_connection(dense_server):
    # a lone surrogate used to reach the tokenizer: 500 and a dropped keep-alive connection
    connection = http.client.HTTPConnection("127.0.0.1", dense_server.port, timeout=60)
    headers = {"Content-Type": "application/json"}
    connection.request("POST", "/v1/embeddings", body=b'{"input": ["ok", "\\udfff"]}', headers=headers)
    first = connection.getresponse()
    assert first.status == 422 and json.loads(first.read())["error"]["param"] == "input"
    sock = connection.sock
    assert sock is not None  # not closed by the server
    connection.request("POST", "/v1/embeddings", body=b'{"input": ["ok"]}', headers=headers)
    second = connection.getresponse()
    assert second.status == 200 and len(json.loads(second.read())["data"]) == 1
    assert connection.sock is sock  # the same connection served both
    connection.close()


def test_json_media_types_are_accepted(dense_server):
    for content_type in ("application/json; charset=utf-8", "application/vnd.api+json"):
        response = httpx.post(f"{dense_server.url}/v1/embeddings", content=b'{"input": "x"}',
                              headers={"content-type": content_type})
        assert response.status_code == 200, content_type


def test_request_models_coerce_nothing():
    # every field of every request body, present and future, is validated strictly
    for model in (EmbeddingRequest, RerankRequest):
        assert model.model_config["strict"] is True and model.model_config["extra"] == "forbid"


def nested(depth: int) -> dict:
    value: dict = {}
    for _ in range(depth - 1):
        value = {"a": value}
    return value


def batched_rerank_inputs(server) -> float:
    text = httpx.get(f"{server.url}/metrics").text
    line = next(line for line in text.splitlines()
                if line.startswith('flagembedding_batch_inputs_count{model="bge-reranker-base"}'))
    return float(line.split()[-1])


def test_echoed_document_fields_are_bounded_before_the_model_runs(dense_server):
    assert dense_server.post("/v1/rerank", {"query": "q", "documents": ["d"]}).status_code == 200
    before = batched_rerank_inputs(dense_server)  # one batch or more
    for fields, message in [
        ({"meta": nested(200)}, f"`documents[1]` nests objects / arrays more than {MAX_DOCUMENT_DEPTH} levels deep"),
        ({"meta": nested(MAX_DOCUMENT_DEPTH)}, "levels deep"),  # + the document object itself: one level too many
        ({"meta": "m" * MAX_DOCUMENT_FIELDS_CHARS}, f"at most {MAX_DOCUMENT_FIELDS_CHARS} are allowed"),
    ]:
        response = dense_server.post("/v1/rerank", {"query": "q", "documents": ["d", {"text": "e", **fields}],
                                                    "return_documents": True})
        assert response.status_code == 422, response.text
        error = response.json()["error"]
        assert error["param"] == "documents" and message in error["message"]
    assert batched_rerank_inputs(dense_server) == before  # refused before the model ran


def test_modest_document_fields_are_echoed(dense_server):
    document = {"text": "The giant panda is a bear.", "id": "doc-1", "score": 0.5,
                "meta": {"source": "wiki", "tags": ["bear", "ünïcode"], "deep": nested(MAX_DOCUMENT_DEPTH - 2)},
                "blob": "b" * 1000}
    response = dense_server.post("/v1/rerank", {"query": "q", "documents": ["d", document], "return_documents": True})
    assert response.status_code == 200, response.text
    echoed = {result["index"]: result["document"] for result in response.json()["results"]}
    assert echoed == {0: {"text": "d"}, 1: document}


def test_an_unknown_field_named_with_a_lone_surrogate_gets_422(dense_server):
    response = httpx.post(f"{dense_server.url}/v1/embeddings", content=b'{"input": "x", "\\udfff": 1}',
                          headers={"content-type": "application/json"})
    assert response.status_code == 422  # pydantic cannot read the name: no param, but no 500 either
    assert "unable to parse raw data as a unicode string" in response.json()["error"]["message"]
