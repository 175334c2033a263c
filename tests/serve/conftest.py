"""Servers shared by the serve tests (session scope: each starts once)."""
from __future__ import annotations

import pytest

from tests import tiny_models
from tests.helpers.server import ServerProcess

QUERY_INSTRUCTION = "Represent this query: "
API_KEY = "test-key-123"
#: the tiny checkpoints have 128 positions; the server and the in-process references use these limits
MAX_LENGTH = 100


@pytest.fixture(scope="session")
def tiny_reranker(tmp_path_factory) -> str:
    """Random 1-label BERT classifier in a folder named ``bge-reranker-base`` (registry: FlagReranker)."""
    return tiny_models.save_tiny_bert_classifier(str(tmp_path_factory.mktemp("serve") / "bge-reranker-base"))


@pytest.fixture(scope="session")
def dense_server(tiny_bert, tiny_reranker):
    """Tiny BERT embedder (with a query instruction) + tiny reranker; small request limits."""
    server = ServerProcess([
        "--embedder", tiny_bert, "--reranker", tiny_reranker, "--devices", "cpu",
        "--query_instruction_for_retrieval", QUERY_INSTRUCTION, "--embedder_batch_size", "16",
        "--query_max_length", str(MAX_LENGTH), "--passage_max_length", str(MAX_LENGTH), "--max_length", str(MAX_LENGTH),
        "--max_inputs_per_request", "64", "--max_chars_per_input", "2000", "--max_request_bytes", "200000",
    ]).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def m3_server(tiny_xlmr_m3):
    """Tiny BGE-M3 with --api_key."""
    server = ServerProcess(["--embedder", tiny_xlmr_m3, "--devices", "cpu"], api_key=API_KEY).start()
    yield server
    server.stop()
