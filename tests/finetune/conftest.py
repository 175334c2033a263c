"""Fixtures of the fine-tuning tests."""
from __future__ import annotations

import pytest

from tests import tiny_models


@pytest.fixture(scope="session")
def tiny_reranker(tmp_path_factory) -> str:
    """Random 1-label XLM-R classifier in a folder named ``bge-reranker-base`` (registered reranker name)."""
    return tiny_models.save_tiny_xlmr(str(tmp_path_factory.mktemp("models") / "bge-reranker-base"), classifier=True)
