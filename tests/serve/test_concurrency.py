"""32 concurrent clients x 25 requests of mixed sizes: no errors, each response equals its sequential result."""
from __future__ import annotations

import asyncio
import random
import re

import httpx
import numpy as np

from FlagEmbedding import FlagModel
from tests.serve.conftest import MAX_LENGTH, QUERY_INSTRUCTION
from tests.tiny_models import CORPUS

CLIENTS, REQUESTS_PER_CLIENT = 32, 25


def make_requests(seed: int = 0):
    """Per client, 25 requests of 1-24 texts (mixed lengths, unique per request) and mixed input types."""
    rng = random.Random(seed)
    plans = []
    for client in range(CLIENTS):
        plan = []
        for number in range(REQUESTS_PER_CLIENT):
            size = rng.choice([1, 1, 2, 3, 5, 8, 13, 24])
            texts = [f"{client} {number} {k} " + " ".join(rng.choices(CORPUS, k=rng.randint(1, 4)))
                     for k in range(size)]
            plan.append({"input": texts, "input_type": rng.choice([None, "query"])})
        plans.append(plan)
    return plans


async def run_clients(url: str, plans):
    async def client(plan):
        results = []
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            for body in plan:
                payload = {key: value for key, value in body.items() if value is not None}
                response = await http.post("/v1/embeddings", json=payload)
                results.append((response.status_code, response.json()))
        return results

    return await asyncio.wait_for(asyncio.gather(*(client(plan) for plan in plans)), timeout=240)


def test_concurrent_clients_get_their_own_results(dense_server, tiny_bert):
    plans = make_requests()
    responses = asyncio.run(run_clients(dense_server.url, plans))
    model = FlagModel(tiny_bert, devices="cpu", query_instruction_for_retrieval=QUERY_INSTRUCTION, batch_size=16,
                      query_max_length=MAX_LENGTH, passage_max_length=MAX_LENGTH)
    errors, checked = [], 0
    for plan, client_responses in zip(plans, responses):
        for body, (status, result) in zip(plan, client_responses):
            if status != 200:
                errors.append((status, result))
                continue
            encode = model.encode_queries if body["input_type"] == "query" else model.encode
            expected = encode(body["input"])  # the sequential, in-process result of this request alone
            got = np.array([item["embedding"] for item in result["data"]])
            assert [item["index"] for item in result["data"]] == list(range(len(body["input"])))
            np.testing.assert_allclose(got, expected, atol=1e-5)
            checked += 1
    assert errors == [] and checked == CLIENTS * REQUESTS_PER_CLIENT
    metrics = httpx.get(f"{dense_server.url}/metrics").text
    batches = float(re.search(r'flagembedding_batch_inputs_count\{model="bge-base-en-v1.5"\} (\S+)', metrics).group(1))
    assert batches < CLIENTS * REQUESTS_PER_CLIENT  # requests were merged into shared batches


def test_concurrent_rerank_requests(dense_server, tiny_reranker):
    """64 concurrent rerank requests of mixed sizes: all succeed with their own scores."""
    from FlagEmbedding import FlagReranker

    rng = random.Random(1)
    bodies = [{"query": f"query {i} " + rng.choice(CORPUS), "documents": rng.sample(CORPUS, k=rng.randint(1, 6))}
              for i in range(64)]

    async def send_all():
        async with httpx.AsyncClient(base_url=dense_server.url, timeout=60) as http:
            return await asyncio.gather(*(http.post("/v1/rerank", json=body) for body in bodies))

    responses = asyncio.run(asyncio.wait_for(send_all(), timeout=120))
    reranker = FlagReranker(tiny_reranker, devices="cpu", max_length=MAX_LENGTH, query_max_length=MAX_LENGTH)
    for body, response in zip(bodies, responses):
        assert response.status_code == 200, response.text
        expected = reranker.compute_score([[body["query"], d] for d in body["documents"]], normalize=True)
        got = {r["index"]: r["relevance_score"] for r in response.json()["results"]}
        np.testing.assert_allclose([got[i] for i in range(len(expected))], expected, atol=1e-6)
