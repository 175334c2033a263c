"""The app served by uvicorn in a thread (127.0.0.1): readiness while loading and a failing batch (OOM)."""
from __future__ import annotations

import contextlib
import concurrent.futures
import threading
import time

import httpx
import numpy as np
import pytest
import torch
import uvicorn

from FlagEmbedding import FlagModel
from FlagEmbedding.serve import EmbedderService, ServeSettings, Services, create_app
from tests.helpers.server import free_port


@contextlib.contextmanager
def serve_in_thread(app):
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


class OutOfMemoryOnBoom(EmbedderService):
    """Raises the CUDA out-of-memory error when a batch holds a text containing BOOM."""

    def run(self, key, texts):
        if any("BOOM" in text for text in texts):
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return super().run(key, texts)


@pytest.fixture(scope="module")
def model(tiny_bert):
    return FlagModel(tiny_bert, devices="cpu", passage_max_length=100, query_max_length=100)


def test_health_is_503_until_models_are_loaded(model):
    release = threading.Event()

    def slow_load():
        release.wait(timeout=30)
        return Services(embedder=EmbedderService(model))

    with serve_in_thread(create_app(ServeSettings(), slow_load)) as url:
        loading = httpx.get(f"{url}/health")
        assert loading.status_code == 503 and loading.json()["status"] == "loading"
        early = httpx.post(f"{url}/v1/embeddings", json={"input": "x"})
        assert early.status_code == 503 and early.headers["retry-after"] == "1"
        assert early.json()["error"]["code"] == "loading"
        release.set()
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/health").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert httpx.get(f"{url}/health").json() == {"status": "ready", "models": ["bge-base-en-v1.5"]}
        assert httpx.post(f"{url}/v1/embeddings", json={"input": "x"}).status_code == 200


def test_load_failure_is_reported(model):
    errors = []

    def broken_load():
        raise ValueError("no such model")

    with serve_in_thread(create_app(ServeSettings(), broken_load, on_load_error=errors.append)) as url:
        deadline = time.monotonic() + 30
        while not errors and time.monotonic() < deadline:
            time.sleep(0.05)
        health = httpx.get(f"{url}/health")
        assert health.status_code == 503
        assert health.json() == {"status": "failed", "error": "ValueError: no such model"}
    assert [str(e) for e in errors] == ["no such model"]


def test_out_of_memory_fails_only_that_batch(model):
    settings = ServeSettings(max_wait_ms=0)
    app = create_app(settings, lambda: Services(embedder=OutOfMemoryOnBoom(model)))
    with serve_in_thread(app) as url:
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/health").status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            # BOOM as a query never shares a batch with the passages (different batch keys)
            boom = pool.submit(httpx.post, f"{url}/v1/embeddings", json={"input": ["BOOM"], "input_type": "query"},
                               timeout=30)
            fine = [pool.submit(httpx.post, f"{url}/v1/embeddings", json={"input": [f"text {i}"]}, timeout=30)
                    for i in range(6)]
            failed = boom.result()
            ok = [future.result() for future in fine]
        assert failed.status_code == 503 and failed.headers["retry-after"] == "1"
        error = failed.json()["error"]
        assert error["code"] == "batch_failed" and "out of memory" in error["message"]
        for i, response in enumerate(ok):
            assert response.status_code == 200
            np.testing.assert_allclose(response.json()["data"][0]["embedding"], model.encode(f"text {i}"), atol=1e-6)
        after = httpx.post(f"{url}/v1/embeddings", json={"input": ["after"]})  # the server stays up
        assert after.status_code == 200
        metrics = httpx.get(f"{url}/metrics").text
        assert 'flagembedding_batch_failures_total{model="bge-base-en-v1.5"} 1.0' in metrics
