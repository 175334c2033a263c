"""Fixtures of the fine-tuning abc tests."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def bert_tokenizer(tiny_bert):
    """The tiny BERT's tokenizer."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_bert)
