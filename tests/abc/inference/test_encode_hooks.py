"""AbsEmbedder.encode_single_device is one template: a subclass that only says how a padded batch becomes
vectors (``embed_batch``) gets batching, order restoration and the output types; a FlagEmbedding 1.4.2 subclass
that overrides encode_single_device itself is still the one called."""
import numpy as np
import pytest
import torch
from transformers import AutoModel, AutoTokenizer

from FlagEmbedding import FlagModel
from FlagEmbedding.abc.inference.embedder import AbsEmbedder

TEXTS = ["a short one", "a much longer sentence about foxes and pandas", "mid length text here", "x"]


class MeanEmbedder(AbsEmbedder):
    """Only loading and ``embed_batch``: mean pooling of the last hidden states."""

    def __init__(self, model_name_or_path, **kwargs):
        super().__init__(model_name_or_path, **kwargs)
        self.tokenizer = AutoTokenizer.from_pretrained(model_name_or_path)
        self.model = AutoModel.from_pretrained(model_name_or_path).eval()

    def embed_batch(self, model, batch, options):
        hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        return self.finish_embeddings((hidden * mask).sum(1) / mask.sum(1))


class OwnLoop(AbsEmbedder):
    """A 1.4.2-style subclass: its own encode_single_device, called with the original arguments."""

    def __init__(self, model_name_or_path, **kwargs):
        super().__init__(model_name_or_path, **kwargs)
        self.model = torch.nn.Linear(1, 1)
        self.calls = []

    def encode_single_device(self, sentences, batch_size=256, max_length=512, convert_to_numpy=True, device=None,
                             **kwargs):
        self.calls.append((sentences, batch_size, max_length, convert_to_numpy, device, kwargs))
        return np.zeros((len(sentences), 2), dtype=np.float32)


def test_subclass_with_only_embed_batch_matches_flag_model(tiny_bert):
    ours = MeanEmbedder(tiny_bert, devices="cpu", batch_size=2).encode(TEXTS)
    reference = FlagModel(tiny_bert, devices="cpu", pooling_method="mean", batch_size=2).encode(TEXTS)
    np.testing.assert_allclose(ours, reference, atol=1e-5)
    single = MeanEmbedder(tiny_bert, devices="cpu").encode(TEXTS[1], convert_to_numpy=False)
    assert isinstance(single, torch.Tensor) and single.shape == (reference.shape[1],)
    assert MeanEmbedder(tiny_bert, devices="cpu").encode([]).shape == (0, reference.shape[1])


def test_own_encode_single_device_is_called_with_the_original_arguments(tiny_bert):
    model = OwnLoop(tiny_bert, devices="cpu", batch_size=7)
    assert model.encode(["a", "b"], max_length=9, extra=1).shape == (2, 2)
    assert model.calls == [(["a", "b"], 7, 9, True, "cpu", {"extra": 1})]


def test_missing_embed_batch_is_named(tiny_bert):
    class Bare(MeanEmbedder):
        embed_batch = AbsEmbedder.embed_batch

    with pytest.raises(NotImplementedError, match="embed_batch"):
        Bare(tiny_bert, devices="cpu").encode(TEXTS)
