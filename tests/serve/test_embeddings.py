"""/v1/embeddings through the official ``openai`` client equals the library's encode paths."""
from __future__ import annotations

import base64

import numpy as np
import openai
import pytest

from FlagEmbedding import BGEM3FlagModel, FlagModel
from tests.serve.conftest import API_KEY, MAX_LENGTH, QUERY_INSTRUCTION
from tests.helpers.server import ServerProcess

TEXTS = ["The quick brown fox jumps over the lazy dog.", "What is the capital of France?",
         "Deep learning models embed text into dense vectors for retrieval.", "Hi!"]


def client(server: ServerProcess, api_key: str = "unused") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key=server.api_key or api_key, max_retries=0, timeout=60)


def vectors(response) -> np.ndarray:
    return np.array([item.embedding for item in sorted(response.data, key=lambda item: item.index)])


@pytest.fixture(scope="module")
def tiny_model(tiny_bert):
    return FlagModel(tiny_bert, devices="cpu", query_instruction_for_retrieval=QUERY_INSTRUCTION,
                     query_max_length=MAX_LENGTH, passage_max_length=MAX_LENGTH)


def test_openai_client_equals_encode_and_encode_queries(dense_server, tiny_model):
    api = client(dense_server)
    # the client asks for base64 by default and decodes it; float lists are checked explicitly below
    plain = vectors(api.embeddings.create(model="bge-base-en-v1.5", input=TEXTS))
    np.testing.assert_allclose(plain, tiny_model.encode(TEXTS), atol=1e-6)
    floats = vectors(api.embeddings.create(model="bge-base-en-v1.5", input=TEXTS, encoding_format="float"))
    np.testing.assert_allclose(floats, tiny_model.encode(TEXTS), atol=1e-6)
    queries = vectors(api.embeddings.create(model="bge-base-en-v1.5", input=TEXTS, extra_body={"input_type": "query"}))
    np.testing.assert_allclose(queries, tiny_model.encode_queries(TEXTS), atol=1e-6)
    assert np.abs(queries - plain).max() > 1e-3  # the instruction changed the vectors
    passages = vectors(api.embeddings.create(model="bge-base-en-v1.5", input=TEXTS,
                                             extra_body={"input_type": "passage"}))
    np.testing.assert_allclose(passages, tiny_model.encode_corpus(TEXTS), atol=1e-6)
    single = api.embeddings.create(model="bge-base-en-v1.5", input=TEXTS[1])
    np.testing.assert_allclose(single.data[0].embedding, tiny_model.encode(TEXTS[1]), atol=1e-6)


def test_usage_counts_the_tokens_the_model_reads(dense_server, tiny_model):
    api = client(dense_server)
    tokenizer = tiny_model.tokenizer
    plain = api.embeddings.create(model="bge-base-en-v1.5", input=TEXTS)
    expected = sum(len(tokenizer(text)["input_ids"]) for text in TEXTS)
    assert plain.usage.prompt_tokens == plain.usage.total_tokens == expected
    queries = api.embeddings.create(model="bge-base-en-v1.5", input=TEXTS, extra_body={"input_type": "query"})
    expected_queries = sum(len(tokenizer(QUERY_INSTRUCTION + text)["input_ids"]) for text in TEXTS)
    assert queries.usage.total_tokens == expected_queries > expected


def test_dimensions_truncate_then_renormalise(dense_server, tiny_model):
    api = client(dense_server)
    got = vectors(api.embeddings.create(model="bge-base-en-v1.5", input=TEXTS, dimensions=8, encoding_format="float"))
    full = tiny_model.encode(TEXTS)[:, :8]
    np.testing.assert_allclose(got, full / np.linalg.norm(full, axis=1, keepdims=True), atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-6)


def test_base64_is_little_endian_float32(dense_server, tiny_model):
    body = dense_server.post("/v1/embeddings", {"input": TEXTS[:2], "encoding_format": "base64"}).json()
    decoded = np.stack([np.frombuffer(base64.b64decode(item["embedding"]), dtype="<f4") for item in body["data"]])
    np.testing.assert_allclose(decoded, tiny_model.encode(TEXTS[:2]), atol=1e-6)
    assert body["model"] == "bge-base-en-v1.5" and body["object"] == "list"


def test_m3_dense_sparse_colbert_with_auth(m3_server, tiny_xlmr_m3):
    reference = BGEM3FlagModel(tiny_xlmr_m3, devices="cpu")
    expected = reference.encode(TEXTS, return_dense=True, return_sparse=True, return_colbert_vecs=True)
    body = m3_server.post("/v1/embeddings", {"input": TEXTS, "return_sparse": True, "return_colbert": True}).json()
    np.testing.assert_allclose([item["embedding"] for item in body["data"]], expected["dense_vecs"], atol=1e-6)
    for item, weights, colbert in zip(body["data"], expected["lexical_weights"], expected["colbert_vecs"]):
        sparse = item["sparse"]
        assert [str(i) for i in sparse["token_ids"]] == list(weights)
        np.testing.assert_allclose(sparse["weights"], [float(w) for w in weights.values()], atol=1e-6)
        assert sparse["tokens"] == reference.tokenizer.convert_ids_to_tokens(sparse["token_ids"])
        np.testing.assert_allclose(np.array(item["colbert"]), colbert, atol=1e-6)
    # the openai client (base64) still gets the dense vectors, queries through encode_queries
    api = client(m3_server)
    got = vectors(api.embeddings.create(model="bge-m3", input=TEXTS, extra_body={"input_type": "query"}))
    np.testing.assert_allclose(got, reference.encode_queries(TEXTS)["dense_vecs"], atol=1e-6)
    b64 = m3_server.post("/v1/embeddings", {"input": TEXTS[:1], "return_colbert": True,
                                            "encoding_format": "base64"}).json()["data"][0]
    decoded = np.stack([np.frombuffer(base64.b64decode(v), dtype="<f4") for v in b64["colbert"]])
    np.testing.assert_allclose(decoded, expected["colbert_vecs"][0], atol=1e-6)
    assert "sparse" not in b64


def test_auth_on_and_off(m3_server, dense_server):
    import httpx

    for path in ("/v1/models", "/metrics", "/docs", "/openapi.json"):
        response = httpx.get(f"{m3_server.url}{path}", timeout=10)
        assert response.status_code == 401, path
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "invalid_api_key"
        assert httpx.get(f"{m3_server.url}{path}", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert httpx.get(f"{m3_server.url}{path}", headers={"Authorization": f"Bearer {API_KEY}"}).status_code == 200
    assert httpx.post(f"{m3_server.url}/v1/embeddings", json={"input": "x"}).status_code == 401
    assert httpx.get(f"{m3_server.url}/health").json()["status"] == "ready"  # open without the key
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{m3_server.url}/v1", api_key="wrong", max_retries=0).embeddings.create(
            model="bge-m3", input="x")
    # without --api_key nothing is required
    assert httpx.get(f"{dense_server.url}/v1/models").status_code == 200


def test_minilm_matches_flagmodel(minilm):
    server = ServerProcess(["--embedder", minilm, "--embedder_model_class", "encoder-only-base",
                            "--pooling_method", "mean", "--devices", "cpu"]).start()
    try:
        model = FlagModel(minilm, pooling_method="mean", devices="cpu")
        api = client(server)
        got = vectors(api.embeddings.create(model="model", input=TEXTS))
        np.testing.assert_allclose(got, model.encode(TEXTS), atol=1e-6)
        models = api.models.list()
        assert [m.id for m in models.data] == ["model"]  # the folder name of the packaged checkpoint
    finally:
        server.stop()


def test_embedding_types_follow_cohere_and_keep_the_openai_shape(dense_server, tiny_model):
    import httpx

    from FlagEmbedding.utils.quantization import quantize_embeddings

    reference = tiny_model.encode(TEXTS)
    api = client(dense_server)
    types = ["float", "int8", "uint8", "binary", "ubinary"]
    response = api.embeddings.create(model="bge-base-en-v1.5", input=TEXTS, encoding_format="float",
                                     extra_body={"embedding_types": types})
    np.testing.assert_allclose(vectors(response), reference, atol=1e-6)  # data[] as before
    typed = response.model_extra["embeddings"]
    assert sorted(typed) == sorted(types)
    np.testing.assert_allclose(typed["float"], reference, atol=1e-6)
    # independent reference of the codes: 255 equal buckets of [-1, 1]; sign bits packed 8 per byte
    buckets = np.clip(np.floor((reference + 1) / (2 / 255)), 0, 255).astype(int)
    assert np.abs(np.array(typed["uint8"]) - buckets).max() <= 1  # float rounding on a bucket edge
    assert np.array_equal(np.array(typed["int8"]), np.array(typed["uint8"]) - 128)
    bits = np.packbits(reference > 0, axis=-1).astype(int)
    assert np.array_equal(np.array(typed["ubinary"]), bits)
    assert np.array_equal(np.array(typed["binary"]), bits - 128)
    ranges = np.array([[-1.0] * reference.shape[1], [1.0] * reference.shape[1]], np.float32)
    assert np.array_equal(np.array(typed["int8"]), quantize_embeddings(reference, "int8", ranges=ranges))
    headers = {"Authorization": f"Bearer {dense_server.api_key}"} if dense_server.api_key else {}
    plain = httpx.post(f"{dense_server.url}/v1/embeddings", json={"input": TEXTS[:1]}, headers=headers).json()
    assert "embeddings" not in plain  # unchanged without embedding_types
    bad = httpx.post(f"{dense_server.url}/v1/embeddings", json={"input": "x", "embedding_types": ["int4"]},
                     headers=headers)
    assert bad.status_code in (400, 422) and "embedding_types" in bad.text
