"""Encoder-only embedder (``FlagModel``): a transformer encoder plus pooling."""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Union

import torch
from transformers import AutoModel

from FlagEmbedding.abc.inference.batching import restore_order
from FlagEmbedding.abc.inference.embedder import AbsEmbedder
from FlagEmbedding.utils.hub import from_pretrained
from FlagEmbedding.utils.pooling import POOLING_METHODS, check_pooling_method, pool


class BaseEmbedder(AbsEmbedder):
    """Dense embeddings from a Hugging Face encoder (BGE, E5, GTE, ...).

    Args (beyond :class:`~FlagEmbedding.abc.inference.AbsEmbedder`):
        pooling_method: ``"cls"`` (default), ``"mean"`` or ``"last_token"``.
        trust_remote_code: Passed to ``from_pretrained``.
        cache_dir: Hugging Face download cache.

    All three are also kept in :attr:`kwargs`, as in FlagEmbedding 1.4.2.
    """

    DEFAULT_POOLING_METHOD = "cls"
    ALLOWED_POOLING_METHODS = POOLING_METHODS
    onnx_output = "last_hidden_state"

    def __init__(
        self,
        model_name_or_path: str,
        *,
        pooling_method: str = "cls",
        trust_remote_code: bool = False,
        cache_dir: Optional[str] = None,
        **kwargs: Any,
    ):
        super().__init__(
            model_name_or_path,
            pooling_method=pooling_method,
            trust_remote_code=trust_remote_code,
            cache_dir=cache_dir,
            **kwargs,
        )
        self.check_pooling_method(pooling_method)
        self.pooling_method = pooling_method
        self.tokenizer = self.load_tokenizer()
        self.model = self.load_model()
        self.model.eval()

    def check_pooling_method(self, pooling_method: str) -> None:
        """Reject an unsupported ``pooling_method`` at construction."""
        check_pooling_method(pooling_method, self.ALLOWED_POOLING_METHODS)

    def load_model(self) -> torch.nn.Module:
        """Load the backbone in the dtype the target devices compute in."""
        return from_pretrained(
            AutoModel.from_pretrained, self.model_name_or_path,
            dtype=self.get_model_torch_dtype(),
            trust_remote_code=self.trust_remote_code, cache_dir=self.cache_dir,
        )

    @property
    def embedding_dim(self) -> int:
        """Width of the returned vectors (after ``truncate_dim``)."""
        hidden = self.model.config.hidden_size
        return min(hidden, self.truncate_dim) if self.truncate_dim else hidden

    def pooling(self, last_hidden_state: torch.Tensor, attention_mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Pool ``[batch, seq, hidden]`` token states with this model's ``pooling_method``.

        ``attention_mask`` is required for ``mean`` and ``last_token``.
        """
        if attention_mask is None:
            if self.pooling_method != "cls":
                raise ValueError(f"`attention_mask` is required for pooling_method={self.pooling_method!r}.")
            attention_mask = torch.ones(last_hidden_state.shape[:2], device=last_hidden_state.device)
        return pool(last_hidden_state, attention_mask, self.pooling_method)

    def tokenize(self, sentences: List[str], max_length: int, **kwargs: Any) -> Dict[str, List[List[int]]]:
        """Tokenize without padding (the tokenizer's default special tokens included)."""
        return self.tokenizer(sentences, truncation=True, max_length=max_length, **kwargs).data

    def embed_batch(self, model: torch.nn.Module, batch: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Pooled, truncated and normalized vectors for one padded batch."""
        hidden = model(**batch, return_dict=True).last_hidden_state
        return self.finish_embeddings(self.pooling(hidden, batch["attention_mask"]))

    @torch.inference_mode()
    def encode_single_device(
        self,
        sentences: Union[str, List[str]],
        batch_size: int = 256,
        max_length: int = 512,
        convert_to_numpy: bool = True,
        device: Optional[str] = None,
        **kwargs: Any,
    ) -> Any:
        """Encode on one device with length-sorted batches."""
        single = isinstance(sentences, str)
        sentences = [sentences] if single else list(sentences)
        device = device or self.target_devices[0]
        model = self.model_on(device)
        if not sentences:
            empty = torch.empty(0, self.embedding_dim)
            return self.to_output(empty, False, convert_to_numpy)
        features = self.tokenize(sentences, max_length, **kwargs)

        def run_batch(indices: List[int]) -> torch.Tensor:
            return self.embed_batch(model, self.pad_batch(features, indices, device, **kwargs))

        lengths = [len(ids) for ids in features["input_ids"]]
        outputs, index_batches = self.run_batches(model, lengths, batch_size, run_batch, "Inference Embeddings",
                                                  device)
        embeddings = restore_order(torch.cat(outputs, dim=0), index_batches)
        return self.to_output(embeddings, single, convert_to_numpy)
